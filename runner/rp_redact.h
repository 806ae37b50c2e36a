/*
 * rp_redact: the redaction engine every byte of a package passes through.
 *
 * Owns: struct rp_redactor (an immutable, compiled set of things to mask) and
 * struct rp_redact_stream (per-stream state: a bounded hold-back window and
 * per-rule finding counts).
 *
 * Today the engine masks exact values (the injected secrets) in every common
 * encoding: raw, standard and URL-safe base64 at all three alignments,
 * percent-encoding (upper and lower hex, '+' for space) and JSON string
 * escaping, and hex (upper and lower). Matching is multi-pattern
 * (Aho-Corasick) and streaming: memory is bounded by the longest pattern, and
 * a value split across any number of writes is still caught. Each match is
 * replaced by "[REDACTED:<rule-id>]"; for an injected secret the rule id is
 * "secret:<NAME>". Pattern rules plug in behind the same stream interface.
 *
 * Usage: rp_redactor_new, rp_redactor_add_secret..., rp_redactor_compile;
 * then any number of streams (or rp_redact_buf for whole buffers). A compiled
 * redactor is read-only and may be shared by streams.
 */
#ifndef RP_REDACT_H
#define RP_REDACT_H

#include "rp_buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Values shorter than this are refused: masking them would shred the output
 * and could never be complete (they occur in ordinary text). */
#define RP_SECRET_MIN_LEN 8
/* Longer values are refused: their encoded forms would make the automaton
 * and the hold-back window needlessly large. */
#define RP_SECRET_MAX_LEN (64u << 10)

struct rp_redactor;
struct rp_redact_stream;

/* Receives redacted output; returns RP_OK or a negative rp_code. */
typedef int (*rp_redact_sink)(void *ctx, const unsigned char *p, size_t n);

struct rp_redact_finding {
	const char *rule;  /* "secret:NAME"; owned by the redactor */
	uint64_t count;
};

int rp_redactor_new(struct rp_redactor **out);
/* Error ids "secret_too_short" (len < RP_SECRET_MIN_LEN) and
 * "secret_too_long" (len > RP_SECRET_MAX_LEN); messages name the secret,
 * never its value. */
int rp_redactor_add_secret(struct rp_redactor *r, const char *name,
			   const unsigned char *value, size_t len);
int rp_redactor_compile(struct rp_redactor *r);
void rp_redactor_free(struct rp_redactor *r);

int rp_redact_stream_new(struct rp_redact_stream **out, const struct rp_redactor *r,
			 rp_redact_sink sink, void *ctx);
int rp_redact_stream_write(struct rp_redact_stream *s, const void *p, size_t n);
/* Flush the hold-back window; no write may follow. */
int rp_redact_stream_finish(struct rp_redact_stream *s);
/* Findings with count > 0, in rule order; valid until the stream is freed.
 * Returns how many were stored in out (at most max). */
size_t rp_redact_stream_findings(const struct rp_redact_stream *s,
				 struct rp_redact_finding *out, size_t max);
void rp_redact_stream_free(struct rp_redact_stream *s);

/* Redact a whole buffer into out (appended); adds to *count the number of
 * replacements when count is not NULL. */
int rp_redact_buf(const struct rp_redactor *r, const void *in, size_t n,
		  struct rp_buf *out, uint64_t *count);

/* Redact every string (keys and values) of a JSON tree in place. */
int rp_redact_json(const struct rp_redactor *r, json_t *doc, uint64_t *count);

#endif
