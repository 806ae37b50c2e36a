#include "harness.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_events.h"
#include "rp_redact.h"
#include "rp_util.h"

#include <regex.h>
#include <sodium.h>

static void check_line(const char *line, size_t len, int seq, const char *type,
		       const char *rest)
{
	char want[512], ts[32];
	regex_t re;
	int ok;

	/* "ts" is checked by shape; everything else byte for byte. */
	CHECK(regcomp(&re, "^\\{\"seq\":[0-9]+,\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T"
			   "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\",", REG_EXTENDED) == 0);
	ok = regexec(&re, line, 0, NULL, 0) == 0;
	regfree(&re);
	CHECK(ok);
	CHECK(len > 40);
	memcpy(ts, line + strcspn(line, "T") - 10, 24);
	ts[24] = '\0';
	snprintf(want, sizeof(want), "{\"seq\":%d,\"ts\":\"%s\",\"type\":\"%s\"%s}", seq, ts, type,
		 rest);
	CHECK_INT(len, strlen(want));
	CHECK(memcmp(line, want, len) == 0);
}

static void test_lines(void)
{
	struct rp_events *ev = NULL;
	const struct rp_buf *text;
	const char *p, *nl;

	CHECK_INT(rp_events_open(&ev, NULL), RP_OK);
	CHECK_INT(rp_events_emit(ev, "run_started", NULL), RP_OK);
	CHECK_INT(rp_events_emit(ev, "agent_exited",
				 json_pack("{s:i, s:s, s:{s:b}}", "zeta", 1, "alpha", "two",
					   "nested", "x", 1)), RP_OK);
	CHECK_INT(rp_events_count(ev), 2);
	text = rp_events_text(ev);
	p = (const char *)text->data;
	nl = strchr(p, '\n');
	CHECK(nl);
	check_line(p, (size_t)(nl - p), 1, "run_started", "");
	p = nl + 1;
	nl = strchr(p, '\n');
	CHECK(nl && nl[1] == '\0');
	/* Fields keep insertion order, after the fixed three. */
	check_line(p, (size_t)(nl - p), 2, "agent_exited",
		   ",\"zeta\":1,\"alpha\":\"two\",\"nested\":{\"x\":true}");
	rp_events_free(ev);
}

static void test_live_file_and_redaction(void)
{
	struct rp_redactor *r = NULL;
	struct rp_events *ev = NULL;
	struct rp_buf live = RP_BUF_INIT;
	char *path = rp_path_join(harness_tmpdir(), "events.jsonl");
	const struct rp_buf *text;

	CHECK(path);
	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, "TOKEN", (const unsigned char *)"hunter2-secret", 14),
		  RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	CHECK_INT(rp_events_open(&ev, path), RP_OK);
	CHECK_INT(rp_events_emit(ev, "before", json_pack("{s:s}", "v", "hunter2-secret")), RP_OK);
	rp_events_set_redactor(ev, r);
	CHECK_INT(rp_events_emit(ev, "after", json_pack("{s:s, s:s}", "v", "x hunter2-secret y",
							 "hunter2-secret", "key")), RP_OK);
	text = rp_events_text(ev);
	/* The live copy is written per event, without waiting for free. */
	CHECK_INT(rp_read_file(&live, path, 1 << 20, 0), RP_OK);
	CHECK_INT(live.len, text->len);
	CHECK(memcmp(live.data, text->data, live.len) == 0);
	CHECK(strstr((const char *)text->data, "\"type\":\"before\",\"v\":\"hunter2-secret\"}\n"));
	CHECK(strstr((const char *)text->data,
		     "\"type\":\"after\",\"v\":\"x [REDACTED:secret:TOKEN] y\","
		     "\"[REDACTED:secret:TOKEN]\":\"key\"}\n"));
	rp_events_free(ev);
	rp_redactor_free(r);
	rp_buf_release(&live);
	free(path);
}

static void test_live_failure_recorded_once(void)
{
	struct rp_events *ev = NULL;
	const char *text;

	/* Every write to /dev/full fails with ENOSPC. */
	CHECK_INT(rp_events_open(&ev, "/dev/full"), RP_OK);
	CHECK_INT(rp_events_emit(ev, "one", NULL), RP_OK);
	CHECK_INT(rp_events_emit(ev, "two", NULL), RP_OK);
	CHECK_INT(rp_events_count(ev), 3);
	text = (const char *)rp_events_text(ev)->data;
	CHECK(strstr(text, "\"type\":\"one\"}\n"));
	CHECK(strstr(text, "\"seq\":2,"));
	CHECK(strstr(text, "\"type\":\"event_log_failed\",\"path\":\"/dev/full\",\"error\":"));
	CHECK(strstr(text, "\"seq\":3,") && strstr(text, "\"type\":\"two\"}\n"));
	CHECK(!strstr(strstr(text, "event_log_failed") + 1, "event_log_failed"));
	rp_events_free(ev);
}

static void test_open_failure(void)
{
	struct rp_events *ev = (struct rp_events *)1;

	CHECK(rp_events_open(&ev, "/nonexistent-dir/events.jsonl") < 0);
	CHECK(ev == NULL);
	CHECK_STR(rp_error_last()->id, "event_log_unwritable");
	CHECK(strstr(rp_error_last()->msg, "/nonexistent-dir/events.jsonl"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_lines);
	RUN(test_live_file_and_redaction);
	RUN(test_live_failure_recorded_once);
	RUN(test_open_failure);
	return harness_done();
}
