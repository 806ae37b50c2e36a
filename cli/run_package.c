/*
 * runpack run: the package. Every entry passes through the run's redactor;
 * files/ and diff.patch are staged first (the tar header needs the final
 * size), then the entries are written in the documented order and signed.
 */
#include "cmd.h"
#include "run.h"
#include "rp_error.h"
#include "rp_pack.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One files/ entry, redacted into the run's staging file first because the
 * tar header needs the final size before the data. All entries share one
 * staging file: a temporary file each would cost an inode allocation per
 * artifact, which dominates packaging time for many small files. */
struct staged_file {
	char *name;
	uint64_t offset;
	uint64_t size;
};

struct stage {
	int fd;
	uint64_t end;
};

static int stage_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct stage *st = ctx;

	if (rp_write_all(st->fd, p, n) < 0)
		return rp_error_set_errno(RP_E_IO, "scratch_write_failed", errno,
					  "cannot write a staged artifact");
	st->end += n;
	return RP_OK;
}

/* Drop a partial copy so the next entry starts where this one did. */
static int stage_rewind(struct stage *st, uint64_t offset)
{
	int rc = RP_OK;

	if (st->end != offset &&
	    (ftruncate(st->fd, (off_t)offset) < 0 || lseek(st->fd, (off_t)offset, SEEK_SET) < 0))
		rc = rp_error_set_errno(RP_E_IO, "scratch_write_failed", errno,
					"cannot rewind the staging file");
	st->end = offset;
	return rc;
}

/* files/ and diff.patch follow the policy's redaction.artifacts: "report"
 * counts rule matches without masking them; injected secrets are masked in
 * either mode. */
static unsigned artifact_redact_flags(const struct run *r)
{
	return r->planned && r->plan.artifact_redaction == RP_ARTIFACTS_REPORT ? RP_REDACT_REPORT : 0;
}

static int stage_artifact(struct run *r, struct stage *st, struct staged_file *f,
			  const struct rp_artifact *a)
{
	struct rp_buf name = RP_BUF_INIT, raw = RP_BUF_INIT;
	struct rp_redact_stream *rs = NULL;
	unsigned char chunk[1 << 16];
	ssize_t n;
	int in = -1, rc;

	f->offset = st->end;
	f->size = 0;
	f->name = NULL;
	rc = rp_buf_printf(&raw, "files/%s", a->path);
	if (!rc)
		rc = rp_redact_buf(r->redactor, raw.data, raw.len, &name, NULL);
	if (rc)
		goto done;
	in = rp_enum_open(r->manifest->base_dir, a->path);
	if (in < 0) {
		rc = in;
		goto done;
	}
	rc = rp_redact_stream_new_flags(&rs, r->redactor, artifact_redact_flags(r), stage_sink, st);
	while (!rc && (n = rp_read_some(in, chunk, sizeof(chunk))) > 0)
		rc = rp_redact_stream_write(rs, chunk, (size_t)n);
	if (!rc && n < 0)
		rc = rp_error_set_errno(RP_E_IO, "artifact_unreadable", errno,
					"cannot read '%s'", a->path);
	if (!rc)
		rc = rp_redact_stream_finish(rs);
	if (rc)
		goto done;
	f->name = (char *)rp_buf_steal(&name, NULL);
	f->size = st->end - f->offset;
	run_add_stream_findings(r, f->name, rs);
done:
	if (rc && stage_rewind(st, f->offset))
		rc = RP_E_IO;
	if (in >= 0)
		close(in);
	rp_redact_stream_free(rs);
	rp_buf_release(&name);
	rp_buf_release(&raw);
	return rc;
}

/* diff.patch goes redacted into the staging file, hashed on the way. */
struct diff_stage {
	struct stage *st;
	struct rp_sha256 h;
};

static int diff_stage_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct diff_stage *ds = ctx;
	int rc = stage_sink(ds->st, p, n);

	return rc ? rc : rp_sha256_update(&ds->h, p, n);
}

static int diff_redact_sink(void *ctx, const void *p, size_t n)
{
	return rp_redact_stream_write(ctx, p, n);
}

/* Stage diff.patch. A failure (diff_too_large, diff_failed) leaves nothing
 * staged and is for the caller to record: a partial patch would not apply. */
static int stage_diff(struct run *r, struct stage *st)
{
	struct diff_stage ds = { .st = st };
	struct rp_redact_stream *rs = NULL;
	uint64_t start = st->end;
	int rc;

	rc = rp_sha256_init(&ds.h);
	if (!rc)
		rc = rp_redact_stream_new_flags(&rs, r->redactor, artifact_redact_flags(r),
						diff_stage_sink, &ds);
	if (!rc)
		rc = rp_git_diff(&r->diff_stats, r->git, (uint64_t)r->plan.artifact_max_diff_bytes,
				 diff_redact_sink, rs);
	if (!rc)
		rc = rp_redact_stream_finish(rs);
	if (!rc)
		rc = rp_sha256_final(&ds.h, r->diff_sha);
	if (!rc) {
		r->diff_offset = start;
		r->diff_size = st->end - start;
		r->diff_staged = true;
		run_add_stream_findings(r, "diff.patch", rs);
	} else if (stage_rewind(st, start)) {
		rc = RP_E_IO;
	}
	rp_sha256_release(&ds.h);
	rp_redact_stream_free(rs);
	return rc;
}

static int dump_json_entry(struct run *r, struct rp_buf *out, json_t *doc, const char *entry)
{
	uint64_t count = 0;
	char *text;
	int rc = rp_redact_json(r->redactor, doc, &count);

	if (rc)
		return rc;
	run_add_finding(r, entry, "secret", count);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (!text)
		return rp_error_set(RP_E_NOMEM, NULL, "cannot serialise %s", entry);
	rc = rp_buf_puts(out, text);
	if (!rc)
		rc = rp_buf_puts(out, "\n");
	free(text);
	return rc;
}

static int64_t package_mtime(const struct run *r)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (sde && *sde) {
		errno = 0;
		v = strtoll(sde, &end, 10);
		if (!errno && !*end && v >= 0)
			return v;
	}
	return r->ended_ms / 1000;
}

int run_write_package(struct run *r)
{
	struct rp_buf manifest = RP_BUF_INIT, artifacts = RP_BUF_INIT, result = RP_BUF_INIT;
	struct staged_file *staged = NULL;
	struct stage st = { .fd = -1 };
	size_t staged_n = 0, i;
	struct rp_pack *pack = NULL;
	json_t *doc = NULL, *predicate = NULL;
	int rc = RP_OK;

	if (r->manifest) {
		doc = json_deep_copy(r->manifest->doc);
		rc = doc ? dump_json_entry(r, &manifest, doc, "manifest.json")
			 : rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		json_decref(doc);
		doc = NULL;
	} else if (r->manifest_read) {
		uint64_t count = 0;

		rc = rp_redact_buf(r->redactor, r->manifest_text.data, r->manifest_text.len,
				   &manifest, &count);
		run_add_finding(r, "manifest.json", "secret", count);
	}
	if (!rc && r->enumerated) {
		bool want_diff = r->git_compared && r->manifest->diff;

		staged = calloc(r->artifacts.included_n + 1, sizeof(*staged));
		if (!staged)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		if (!rc && (r->artifacts.included_n || want_diff)) {
			st.fd = open(r->scratch, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			if (st.fd < 0)
				rc = rp_error_set_errno(RP_E_IO, "scratch_write_failed", errno,
							"cannot create a staging file in '%s'",
							r->scratch);
		}
		for (i = 0; !rc && i < r->artifacts.n; i++) {
			if (!r->artifacts.v[i].included)
				continue;
			if (stage_artifact(r, &st, &staged[staged_n], &r->artifacts.v[i])) {
				/* A file that vanished or cannot be read is recorded,
				 * not fatal: the rest of the package is still worth having. */
				r->artifacts.v[i].included = false;
				r->artifacts.v[i].reason = "unreadable";
				run_add_error(r);
				continue;
			}
			staged_n++;
		}
		if (!rc && want_diff && stage_diff(r, &st)) {
			/* Recorded, never fatal: the run's outcome stands. */
			if (rp_error_last()->code == RP_E_NOMEM ||
			    (rp_error_last()->id && !strcmp(rp_error_last()->id, "scratch_write_failed")))
				rc = rp_error_last()->code;
			else
				run_note(r, "diff");
		}
		if (!rc) {
			doc = rp_artifacts_to_json(&r->artifacts);
			rc = doc ? dump_json_entry(r, &artifacts, doc, "artifacts.json")
				 : rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		}
	}
	if (rc)
		goto done;
	if (r->captures) {
		run_add_stream_findings(r, "logs/stdout.log", r->out.redact);
		run_add_stream_findings(r, "logs/stderr.log", r->err.redact);
	}
	rp_events_emit(r->events, "run_finished", json_pack("{s:s}", "status", r->status));
	r->ended_ms = rp_now_ms();
	json_decref(doc);
	doc = run_result_json(r);
	rc = doc ? dump_json_entry(r, &result, doc, "result.json")
		 : rp_error_set(RP_E_NOMEM, NULL, "cannot build result.json");
	if (rc)
		goto done;

	rc = rp_pack_open(&pack, r->out_path, package_mtime(r));
	if (!rc)
		rc = rp_pack_add_buf(pack, "result.json", result.data, result.len);
	if (!rc && (r->manifest || r->manifest_read))
		rc = rp_pack_add_buf(pack, "manifest.json", manifest.data, manifest.len);
	if (!rc)
		rc = rp_pack_add_buf(pack, "events.jsonl", rp_events_text(r->events)->data,
				     rp_events_text(r->events)->len);
	if (!rc && r->captures) {
		rc = rp_pack_add_fd(pack, "logs/stdout.log", r->out.fd, 0, r->out.kept_bytes);
		if (!rc)
			rc = rp_pack_add_fd(pack, "logs/stderr.log", r->err.fd, 0, r->err.kept_bytes);
	}
	if (!rc && r->enumerated)
		rc = rp_pack_add_buf(pack, "artifacts.json", artifacts.data, artifacts.len);
	if (!rc && r->diff_staged)
		rc = rp_pack_add_fd(pack, "diff.patch", st.fd, r->diff_offset, r->diff_size);
	for (i = 0; !rc && i < staged_n; i++)
		rc = rp_pack_add_fd(pack, staged[i].name, st.fd, staged[i].offset, staged[i].size);
	predicate = json_pack("{s:s, s:s, s:o}", "runId", r->run_id, "status", r->status,
			      "exitCode", r->spawned && r->res.exited ? json_integer(r->res.exit_code)
								       : json_null());
	if (!rc)
		rc = rp_pack_commit(pack, r->key, predicate, r->pkg_sha);
	if (!rc) {
		pack = NULL;
		r->packaged = true;
	}
done:
	rp_pack_abort(pack);
	for (i = 0; i < staged_n; i++)
		free(staged[i].name);
	if (st.fd >= 0)
		close(st.fd);
	free(staged);
	json_decref(doc);
	json_decref(predicate);
	rp_buf_release(&manifest);
	rp_buf_release(&artifacts);
	rp_buf_release(&result);
	return rc;
}

int run_write_minisig(struct run *r)
{
	struct rp_buf sig = RP_BUF_INIT;
	struct rp_atomic a = { .fd = -1 };
	char comment[512];
	const char *base = strrchr(r->out_path, '/');
	int fd = -1, rc;

	if (asprintf(&r->minisig_path, "%s.minisig", r->out_path) < 0) {
		r->minisig_path = NULL;
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	snprintf(comment, sizeof(comment), "runpack %s run %s file:%s", RP_VERSION, r->run_id,
		 base ? base + 1 : r->out_path);
	fd = open(r->out_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = rp_error_set_errno(RP_E_IO, "minisig_failed", errno, "cannot reopen '%s'",
					r->out_path);
		goto done;
	}
	rc = rp_minisig_sign_fd(&sig, r->key, fd, comment);
	if (!rc)
		rc = rp_atomic_open(&a, r->minisig_path, 0644);
	if (!rc && rp_write_all(a.fd, sig.data, sig.len) < 0)
		rc = rp_error_set_errno(RP_E_IO, "minisig_failed", errno, "cannot write '%s'",
					r->minisig_path);
	if (!rc)
		rc = rp_atomic_commit(&a);
done:
	if (rc) {
		rp_atomic_abort(&a);
		free(r->minisig_path);
		r->minisig_path = NULL;
	}
	if (fd >= 0)
		close(fd);
	rp_buf_release(&sig);
	return rc;
}
