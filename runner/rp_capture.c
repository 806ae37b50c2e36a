#include "rp_capture.h"
#include "rp_error.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Unlinked from the start, so nothing is left behind whatever happens. */
static int open_unlinked(const char *dir)
{
	char *path;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if (asprintf(&path, "%s/.capture.XXXXXX", dir) < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

/* Receives redacted bytes: keeps them up to the cap, then only counts. */
static int keep(void *ctx, const unsigned char *p, size_t n)
{
	struct rp_capture *c = ctx;
	uint64_t room = c->cap - c->kept_bytes;

	if (n > room) {
		c->truncated = true;
		n = (size_t)room;
	}
	if (n && rp_write_all(c->fd, p, n) < 0)
		return rp_error_set_errno(RP_E_IO, "capture_failed", errno,
					  "cannot write the captured output");
	c->kept_bytes += n;
	return RP_OK;
}

int rp_capture_init(struct rp_capture *c, const char *dir, uint64_t cap,
		    const struct rp_redactor *r)
{
	int rc;

	*c = (struct rp_capture){ .fd = -1, .cap = cap };
	c->fd = open_unlinked(dir);
	if (c->fd < 0)
		return rp_error_set_errno(RP_E_IO, "capture_failed", errno,
					  "cannot create a capture file in '%s'", dir);
	rc = rp_redact_stream_new(&c->redact, r, keep, c);
	if (rc)
		rp_capture_release(c);
	return rc;
}

int rp_capture_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct rp_capture *c = ctx;

	c->raw_bytes += n;
	return rp_redact_stream_write(c->redact, p, n);
}

int rp_capture_finish(struct rp_capture *c)
{
	int rc = rp_redact_stream_finish(c->redact);

	if (rc)
		return rc;
	if (lseek(c->fd, 0, SEEK_SET) < 0)
		return rp_error_set_errno(RP_E_IO, "capture_failed", errno,
					  "cannot rewind the captured output");
	return RP_OK;
}

void rp_capture_release(struct rp_capture *c)
{
	rp_redact_stream_free(c->redact);
	c->redact = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
