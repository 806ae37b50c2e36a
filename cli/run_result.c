/* runpack run: errors, redaction findings, result.json and the summary. */
#include "cmd.h"
#include "run.h"
#include "rp_error.h"
#include "rp_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* errors[] entry from the last rp_error, with its input location if any. */
void run_add_error(struct run *r)
{
	const struct rp_error *e = rp_error_last();
	json_t *o = json_pack("{s:s, s:s}", "code", e->id ? e->id : rp_code_id(e->code),
			      "message", e->msg);

	if (!o)
		return;
	if (e->where.file[0])
		json_object_set_new(o, "file", json_string(e->where.file));
	if (e->where.json_path[0])
		json_object_set_new(o, "path", json_string(e->where.json_path));
	if (e->where.line > 0) {
		json_object_set_new(o, "line", json_integer(e->where.line));
		json_object_set_new(o, "column", json_integer(e->where.column));
	}
	json_array_append_new(r->errors, o);
}

/* Record a failure that leaves the run's outcome alone, and say it. */
void run_note(struct run *r, const char *context)
{
	run_add_error(r);
	cmd_print_error(context);
}

const char *run_signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static __thread char buf[32];

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "UNKNOWN");
	return buf;
}

void run_add_finding(struct run *r, const char *entry, const char *rule, uint64_t count)
{
	if (count)
		json_array_append_new(r->findings, json_pack("{s:s, s:s, s:I}", "entry", entry,
							     "rule", rule, "count", (json_int_t)count));
}

void run_add_stream_findings(struct run *r, const char *entry, const struct rp_redact_stream *s)
{
	struct rp_redact_finding f[512];
	size_t i, n = rp_redact_stream_findings(s, f, 512);

	for (i = 0; i < n; i++)
		run_add_finding(r, entry, f[i].rule, f[i].count);
}

static json_t *output_json(const struct rp_capture *c)
{
	return json_pack("{s:I, s:I, s:b}", "bytes", (json_int_t)c->raw_bytes,
			 "keptBytes", (json_int_t)c->kept_bytes, "truncated", c->truncated);
}

static json_t *time_or_null(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	rp_format_time_ms(buf, ms);
	return json_string(buf);
}

static json_t *digest_json(const json_t *doc)
{
	unsigned char d[RP_SHA256_LEN];
	char hex[RP_SHA256_HEX_LEN + 1];
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text || rp_sha256_buf(d, text, strlen(text))) {
		free(text);
		return json_null();
	}
	free(text);
	rp_sha256_hex(hex, d);
	return json_string(hex);
}

/* result.json's git section: rp_git's, plus what became of the diff. */
static json_t *git_json(const struct run *r)
{
	char hex[RP_SHA256_HEX_LEN + 1];
	json_t *o, *diff;

	if (!r->git)
		return json_null();
	o = rp_git_to_json(r->git);
	if (!o)
		return json_null();
	if (!r->manifest->diff) {
		diff = json_null();
	} else if (r->diff_staged) {
		rp_sha256_hex(hex, r->diff_sha);
		diff = json_pack("{s:b, s:I, s:I, s:s}", "included", 1,
				 "files", (json_int_t)r->diff_stats.files,
				 "bytes", (json_int_t)r->diff_size, "sha256", hex);
	} else {
		diff = json_pack("{s:b, s:n, s:n, s:n}", "included", 0, "files", "bytes", "sha256");
	}
	json_object_set_new(o, "diff", diff);
	return o;
}

json_t *run_result_json(struct run *r)
{
	const struct rp_manifest *m = r->manifest;
	const struct rp_spawn_result *s = &r->res;
	json_t *res, *policy, *effective = NULL, *operator_policy = NULL, *workspace, *agent;

	res = json_pack("{s:s, s:s, s:b, s:{s:s, s:s}, s:s}",
			"schema", "runpack.result/v1",
			"runId", r->run_id,
			"runIdGenerated", m ? m->run_id_generated : true,
			"runner", "name", "runpack", "version", RP_VERSION,
			"status", r->status);
	if (!res)
		return NULL;
	json_object_set_new(res, "exitCode", r->spawned && s->exited ? json_integer(s->exit_code)
								     : json_null());
	json_object_set_new(res, "signal", r->spawned && s->signal ? json_string(run_signal_name(s->signal))
								   : json_null());
	json_object_set_new(res, "timedOut", json_boolean(r->spawned && s->timed_out));
	json_object_set_new(res, "cancellation", r->spawned && s->cancelled
		? json_pack("{s:s, s:b, s:b}", "signal", run_signal_name(s->cancel_signal),
			    "agentStarted", s->started, "escalatedToKill", s->escalated_kill)
		: json_null());
	json_object_set(res, "errors", r->errors);
	json_object_set_new(res, "timings", json_pack("{s:o, s:o, s:o, s:o, s:I}",
		"startedAt", time_or_null(r->started_ms),
		"agentStartedAt", time_or_null(r->spawned && s->started ? s->started_ms : 0),
		"agentEndedAt", time_or_null(r->spawned && s->started ? s->ended_ms : 0),
		"endedAt", time_or_null(r->ended_ms),
		"durationMs", (json_int_t)(r->ended_ms - r->started_ms)));
	json_object_set_new(res, "capacity", json_pack("{s:s, s:i, s:b, s:s}",
		"decision", r->status && !strcmp(r->status, "rejected") ? "not_evaluated" : "admitted",
		"waitMs", 0, "leased", false,
		"note", "capacity limits are validated but not leased by this version"));
	if (r->policy)
		operator_policy = rp_policy_to_json(r->policy);
	if (r->planned)
		effective = rp_plan_to_json(&r->plan);
	policy = json_pack("{s:s}", "source", r->policy_source ? r->policy_source : "none");
	json_object_set_new(policy, "sha256", operator_policy ? digest_json(operator_policy) : json_null());
	json_object_set_new(policy, "effectiveSha256", effective ? digest_json(effective) : json_null());
	json_object_set_new(policy, "effective", effective ? effective : json_null());
	json_object_set_new(res, "policy", policy);
	json_decref(operator_policy);
	json_object_set(res, "enforcement", r->enforcement ? r->enforcement : json_null());
	json_object_set_new(res, "output", r->spawned
		? json_pack("{s:o, s:o}", "stdout", output_json(&r->out), "stderr", output_json(&r->err))
		: json_null());
	json_object_set_new(res, "redaction", json_pack("{s:O, s:I}", "findings", r->findings,
		"secretsInjected", (json_int_t)r->secrets.n));
	json_object_set_new(res, "artifacts", r->enumerated
		? json_pack("{s:I, s:I, s:I, s:I}", "files", (json_int_t)r->artifacts.n,
			    "bytes", (json_int_t)r->artifacts.total_bytes,
			    "included", (json_int_t)r->artifacts.included_n,
			    "includedBytes", (json_int_t)r->artifacts.included_bytes)
		: json_null());
	json_object_set_new(res, "git", git_json(r));
	workspace = json_object();
	agent = json_object();
	if (m) {
		json_object_set_new(workspace, "baseDir", json_string(m->base_dir));
		json_object_set_new(workspace, "importedFrom", m->imported_from ?
				    json_string(m->imported_from) : json_null());
		json_object_set(workspace, "orchestratorWorkspace", m->orchestrator_workspace ?
				m->orchestrator_workspace : json_null());
		json_object_set_new(agent, "argv", json_array());
		for (size_t i = 0; i < m->argv.n; i++)
			json_array_append_new(json_object_get(agent, "argv"), json_string(m->argv.v[i]));
		json_object_set_new(agent, "cwd", json_string(m->cwd));
		json_object_set_new(agent, "provider", m->provider ? json_string(m->provider) : json_null());
		json_object_set_new(agent, "runtime", m->runtime ? json_string(m->runtime) : json_null());
	}
	json_object_set_new(res, "workspace", workspace);
	json_object_set_new(res, "agent", agent);
	return res;
}

int run_print_summary(struct run *r)
{
	char hex[RP_SHA256_HEX_LEN + 1];
	char *abs = NULL;
	json_t *s;
	int rc;

	s = json_pack("{s:s, s:s, s:i}", "runId", r->run_id ? r->run_id : "",
		      "status", r->status ? r->status : "error", "exit", r->exit_code);
	if (!s)
		return -1;
	json_object_set_new(s, "exitCode", r->spawned && r->res.exited ?
			    json_integer(r->res.exit_code) : json_null());
	json_object_set_new(s, "signal", r->spawned && r->res.signal ?
			    json_string(run_signal_name(r->res.signal)) : json_null());
	if (r->packaged) {
		abs = realpath(r->out_path, NULL);
		rp_sha256_hex(hex, r->pkg_sha);
		json_object_set_new(s, "package", json_string(abs ? abs : r->out_path));
		json_object_set_new(s, "packageSha256", json_string(hex));
	} else {
		json_object_set_new(s, "package", json_null());
		json_object_set_new(s, "packageSha256", json_null());
	}
	json_object_set_new(s, "minisig", r->minisig_path ? json_string(r->minisig_path) : json_null());
	json_object_set_new(s, "keyId", r->key ? json_string(r->key->keyid) : json_null());
	json_object_set_new(s, "publicKey", r->key_pub_path ? json_string(r->key_pub_path) : json_null());
	json_object_set_new(s, "durationMs", json_integer(r->ended_ms - r->started_ms));
	json_object_set(s, "errors", r->errors);
	rp_redact_json(r->redactor, s, NULL);
	rc = cmd_print_json(s);
	json_decref(s);
	free(abs);
	return rc;
}
