/*
 * rp_capture: one captured output stream (stdout or stderr of the agent).
 *
 * Owns: the stream's redaction state and its log file descriptor (an unlinked
 * temporary file in the run's scratch directory). Raw agent bytes go through
 * the redactor first, so every byte the redactor sees decides what it masks;
 * the cap then applies to the redacted bytes written. Bytes past the cap are
 * still read from the agent (it never blocks on a full pipe) and counted.
 */
#ifndef RP_CAPTURE_H
#define RP_CAPTURE_H

#include "rp_redact.h"

#include <stdbool.h>
#include <stdint.h>

struct rp_capture {
	int fd;                  /* the redacted log, readable from offset 0 */
	uint64_t cap;            /* bytes kept at most */
	uint64_t raw_bytes;      /* bytes the agent wrote */
	uint64_t kept_bytes;     /* bytes in the log */
	bool truncated;
	struct rp_redact_stream *redact;
};

/* dir: where to create the unlinked temporary file. */
int rp_capture_init(struct rp_capture *c, const char *dir, uint64_t cap,
		    const struct rp_redactor *r);
/* An rp_spawn_sink: ctx is the struct rp_capture. */
int rp_capture_sink(void *ctx, const unsigned char *p, size_t n);
/* Flush the redactor; after this, fd holds the final log (seeked to 0). */
int rp_capture_finish(struct rp_capture *c);
void rp_capture_release(struct rp_capture *c);

#endif
