#include "rp_events.h"
#include "rp_error.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rp_events {
	struct rp_buf text;
	uint64_t seq;
	int live_fd;         /* -1 when none, or after a failed write */
	char *live_path;
	const struct rp_redactor *redactor;
};

int rp_events_open(struct rp_events **out, const char *live_path)
{
	struct rp_events *ev = calloc(1, sizeof(*ev));
	int rc = RP_OK;

	*out = NULL;
	if (!ev)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	ev->live_fd = -1;
	if (live_path) {
		ev->live_path = strdup(live_path);
		if (!ev->live_path) {
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
			goto done;
		}
		ev->live_fd = open(live_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (ev->live_fd < 0) {
			rc = rp_error_set_errno(RP_E_IO, "event_log_unwritable", errno,
						"cannot open event log '%s'", live_path);
			goto done;
		}
	}
	*out = ev;
	ev = NULL;
done:
	rp_events_free(ev);
	return rc;
}

void rp_events_set_redactor(struct rp_events *ev, const struct rp_redactor *r)
{
	ev->redactor = r;
}

/* The live copy is a convenience for tailers: its failure is itself logged
 * (in memory, so it reaches the package) and the run goes on. */
static int live_failed(struct rp_events *ev, int err)
{
	json_t *fields = json_pack("{s:s, s:s}", "path", ev->live_path, "error", strerror(err));

	close(ev->live_fd);
	ev->live_fd = -1;
	if (!fields)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return rp_events_emit(ev, "event_log_failed", fields);
}

int rp_events_emit(struct rp_events *ev, const char *type, json_t *fields)
{
	char ts[32];
	char *line = NULL;
	json_t *obj;
	size_t start = ev->text.len;
	int rc = RP_OK;

	rp_format_time_ms(ts, rp_now_ms());
	obj = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)(ev->seq + 1), "ts", ts,
			"type", type);
	if (!obj || (fields && json_object_update_missing(obj, fields) < 0)) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	if (ev->redactor) {
		rc = rp_redact_json(ev->redactor, obj, NULL);
		if (rc)
			goto done;
	}
	line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line || rp_buf_puts(&ev->text, line) || rp_buf_puts(&ev->text, "\n")) {
		ev->text.len = start;
		if (ev->text.data)
			ev->text.data[start] = '\0';
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	ev->seq++;
	if (ev->live_fd >= 0 &&
	    rp_write_all(ev->live_fd, ev->text.data + start, ev->text.len - start) < 0)
		rc = live_failed(ev, errno);
done:
	free(line);
	json_decref(obj);
	json_decref(fields);
	return rc;
}

const struct rp_buf *rp_events_text(const struct rp_events *ev)
{
	return &ev->text;
}

uint64_t rp_events_count(const struct rp_events *ev)
{
	return ev->seq;
}

void rp_events_free(struct rp_events *ev)
{
	if (!ev)
		return;
	if (ev->live_fd >= 0)
		close(ev->live_fd);
	free(ev->live_path);
	rp_buf_release(&ev->text);
	free(ev);
}
