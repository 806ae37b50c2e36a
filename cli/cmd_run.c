/*
 * runpack run: admit a job, run its agent under the plan, write the package.
 *
 * The flow is linear and every step past flag parsing ends in a package (or,
 * when even that is impossible, a JSON summary saying why): a failing step
 * records an error, sets the terminal status and skips to packaging.
 */
#include "cmd.h"
#include "run.h"
#include "rp_error.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RP_POLICY_MAX_BYTES (1u << 20)
#define RP_GRACE_MS 5000

void cmd_run_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack run --manifest FILE [--policy FILE] [--key FILE] [--out FILE]\n"
		"                   [--minisig] [--event-log FILE] [--state-dir DIR]\n\n"
		"Runs the job's agent in its workspace under the operator policy and writes\n"
		"one signed result package. Prints one JSON summary on stdout. Credentials\n"
		"(the built-in rules, the policy's redaction.rules) and the injected\n"
		"secrets are masked in every entry as [REDACTED:<rule-id>].\n\n"
		"  --manifest FILE   the job manifest (JSON)\n"
		"  --policy FILE     operator policy (default: $RUNPACK_POLICY, else built-in)\n"
		"  --key FILE        minisign-format secret key (default: $RUNPACK_KEY, else a\n"
		"                    per-host key created in the state dir on first use)\n"
		"  --out FILE        package path (default: ./<runId>.tar.zst)\n"
		"  --minisig         also write FILE.minisig (checked by minisign -Vm)\n"
		"  --event-log FILE  append events live, one JSON object a line\n"
		"  --state-dir DIR   state dir (default: $RUNPACK_STATE_DIR, the policy's\n"
		"                    capacity.stateDir, /var/lib/runpack for root, else\n"
		"                    ~/.local/state/runpack)\n\n"
		"With \"diff\": true in the manifest the package also holds diff.patch, the\n"
		"workspace against orchestratorWorkspace.baseRevision (else HEAD), for\n"
		"`git apply`. Without artifacts.include, the files changed against that base\n"
		"are copied into files/ (none when the workspace is not a git repository).\n\n"
		"exit codes: 0 agent succeeded; 1 agent failed, timed out or was killed;\n"
		"2 usage error; 3 rejected before the agent started; 4 cancelled by\n"
		"SIGINT/SIGTERM; 5 internal error.\n\n"
		"The built-in policy (used when no policy is given):\n%s\n",
		rp_policy_default_text());
}

static int parse_flags(struct run_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "policy", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "minisig", no_argument, NULL, 's' },
		{ "event-log", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:p:k:o:se:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->manifest_path = optarg; break;
		case 'p': o->policy_path = optarg; break;
		case 'k': o->key_path = optarg; break;
		case 'o': o->out_path = optarg; break;
		case 's': o->minisig = true; break;
		case 'e': o->event_log = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'h': return 1;
		case ':':
			return rp_error_set(RP_E_USAGE, "usage", "option '%s' needs a value",
					    argv[optind - 1]);
		default:
			return rp_error_set(RP_E_USAGE, "usage", "unknown option '%s'",
					    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return rp_error_set(RP_E_USAGE, "usage", "unexpected argument '%s'", argv[optind]);
	if (!o->manifest_path)
		return rp_error_set(RP_E_USAGE, "usage", "--manifest is required");
	if (!o->policy_path && getenv("RUNPACK_POLICY") && *getenv("RUNPACK_POLICY"))
		o->policy_path = getenv("RUNPACK_POLICY");
	if (!o->key_path && getenv("RUNPACK_KEY") && *getenv("RUNPACK_KEY"))
		o->key_path = getenv("RUNPACK_KEY");
	return RP_OK;
}

/* Record a failure that decides the run's outcome, and say it on stderr. */
static void fail(struct run *r, const char *status, int exit_code)
{
	run_add_error(r);
	cmd_print_error(NULL);
	if (!r->status) {
		r->status = status;
		r->exit_code = exit_code;
	}
}

static int read_inputs(struct run *r)
{
	struct rp_buf policy_text = RP_BUF_INIT;
	int rc;

	rc = rp_read_file(&r->manifest_text, r->o.manifest_path, RP_MANIFEST_MAX_BYTES, 0);
	if (rc == RP_E_TOOLARGE) {
		rp_buf_release(&r->manifest_text);
		rp_error_set(RP_E_TOOLARGE, "manifest_too_large", "manifest '%s' is larger than %u bytes",
			     r->o.manifest_path, RP_MANIFEST_MAX_BYTES);
		fail(r, "rejected", RP_EXIT_REJECTED);
	} else if (rc) {
		return rc;
	} else {
		r->manifest_read = true;
	}
	if (r->o.policy_path) {
		rc = rp_read_file(&policy_text, r->o.policy_path, RP_POLICY_MAX_BYTES, 0);
		if (rc && rc != RP_E_TOOLARGE)
			goto done;
		r->policy_source = r->o.policy_path;
		if (rc == RP_E_TOOLARGE) {
			rc = RP_OK;
			fail(r, "rejected", RP_EXIT_REJECTED);
		} else if (rp_policy_parse(&r->policy, r->o.policy_path, (const char *)policy_text.data,
					   policy_text.len)) {
			fail(r, "rejected", RP_EXIT_REJECTED);
		}
	} else {
		r->policy_source = "built-in";
		rc = rp_policy_default(&r->policy);
	}
done:
	rp_buf_release(&policy_text);
	return rc;
}

static int load_key(struct run *r)
{
	char *sk_path = NULL;
	struct stat st;
	int rc;

	if (r->o.key_path)
		return rp_key_load_secret(&r->key, r->o.key_path);
	sk_path = cmd_host_key_path(r->state_dir, 0);
	r->key_pub_path = cmd_host_key_path(r->state_dir, 1);
	if (!sk_path || !r->key_pub_path) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	if (lstat(sk_path, &st) == 0) {
		rc = rp_key_load_secret(&r->key, sk_path);
		goto done;
	}
	rc = rp_mkdir_p(r->state_dir, 0700);
	if (!rc) {
		char *dir = rp_dirname(sk_path);

		rc = dir ? rp_mkdir_p(dir, 0700) : rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		free(dir);
	}
	if (!rc)
		rc = rp_key_generate(&r->key);
	if (!rc)
		rc = rp_key_write(r->key, sk_path, r->key_pub_path, false);
	if (!rc)
		fprintf(stderr, "runpack: created this host's signing key %s (key id %s);\n"
				"runpack: verify packages with its public key %s\n",
			sk_path, r->key->keyid, r->key_pub_path);
done:
	free(sk_path);
	return rc;
}

/* The output location must be writable before the agent runs for an hour. */
static int probe_output(struct run *r)
{
	struct rp_atomic a;
	int rc;

	if (r->o.out_path)
		r->out_path = strdup(r->o.out_path);
	else if (asprintf(&r->out_path, "%s.tar.zst", r->run_id) < 0)
		r->out_path = NULL;
	if (!r->out_path)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = rp_atomic_open(&a, r->out_path, 0644);
	if (!rc)
		rp_atomic_abort(&a);
	return rc;
}

static int check_workspace(const struct rp_manifest *m)
{
	struct rp_error_where where = { .file = "manifest" };
	struct stat st;
	char *cwd;
	int rc = RP_OK;

	snprintf(where.json_path, sizeof(where.json_path), "$.baseDir");
	if (stat(m->base_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return rp_error_set_at(RP_E_INVALID, "workspace_missing", &where,
				       "$.baseDir: '%s' is not a directory", m->base_dir);
	cwd = rp_path_join(m->base_dir, m->cwd);
	if (!cwd)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	snprintf(where.json_path, sizeof(where.json_path), "$.agent.cwd");
	if (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = rp_error_set_at(RP_E_INVALID, "workspace_missing", &where,
				     "$.agent.cwd: '%s' is not a directory", cwd);
	free(cwd);
	return rc;
}

static json_t *applied(bool ok, const char *mechanism, const char *reason)
{
	json_t *o = json_pack("{s:b}", "applied", ok);

	if (mechanism)
		json_object_set_new(o, "mechanism", json_string(mechanism));
	if (!ok && reason)
		json_object_set_new(o, "reason", json_string(reason));
	return o;
}

/*
 * Decide what the kernel can enforce here, record it, and reject when the
 * policy requires enforcement that cannot be provided. The record is
 * corrected after the spawn with what was actually applied.
 */
static int plan_enforcement(struct run *r)
{
	bool net = r->plan.egress_mode == RP_EGRESS_NONE && r->caps.net_namespace;
	const char *net_reason;
	bool root = geteuid() == 0;
	json_t *limits;

	if (r->plan.egress_mode == RP_EGRESS_NONE)
		net_reason = "network namespaces are not available to this process";
	else
		net_reason = "egress allowlists are not enforced by this version; the "
			     "agent has the host's network";
	limits = json_pack("{s:o, s:o, s:o, s:o}",
			   "wallSeconds", applied(true, "timer", NULL),
			   "outputBytes", applied(true, "capture-cap", NULL),
			   "memoryBytes", r->plan.memory_bytes > 0 ? applied(true, "rlimit-data", NULL)
				: applied(false, NULL, "no memory limit in the plan"),
			   "maxProcesses", r->plan.max_processes <= 0
				? applied(false, NULL, "no process limit in the plan")
				: root ? applied(false, NULL, "RLIMIT_NPROC does not bind root and "
							      "cgroup v2 pids is not used")
				       : applied(true, "rlimit-nproc", NULL));
	r->enforcement = json_pack("{s:o, s:o, s:o, s:o}",
		"processTree", applied(true, r->caps.pid_namespace ? "pid-namespace" : "process-group", NULL),
		"filesystem", applied(false, NULL, "filesystem scope is not enforced by this version; "
						   "the agent has its user's file access"),
		"network", applied(net, net ? "network-namespace" : NULL, net_reason),
		"limits", limits);
	if (!r->enforcement)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if ((r->plan.require_enforcement & RP_ENFORCE_FILESYSTEM))
		return rp_error_set(RP_E_UNSUPPORTED, "enforcement_unavailable",
				    "the policy requires filesystem enforcement, which this host "
				    "or version cannot provide");
	if ((r->plan.require_enforcement & RP_ENFORCE_NETWORK) && !net)
		return rp_error_set(RP_E_UNSUPPORTED, "enforcement_unavailable",
				    "the policy requires network enforcement: %s", net_reason);
	if ((r->plan.require_enforcement & RP_ENFORCE_LIMITS) && root && r->plan.max_processes > 0)
		return rp_error_set(RP_E_UNSUPPORTED, "enforcement_unavailable",
				    "the policy requires limits enforcement, but maxProcesses "
				    "cannot be enforced for root");
	return RP_OK;
}

/* Replace the rules-only redactor used so far with one that also knows the
 * secrets and the policy's custom rules. */
static int build_redactor(struct run *r)
{
	struct rp_redactor *red = NULL;
	size_t i;
	int rc;

	rc = rp_secrets_resolve(&r->secrets, r->manifest);
	if (!rc)
		rc = rp_redactor_new(&red);
	for (i = 0; !rc && i < r->secrets.n; i++)
		rc = rp_redactor_add_secret(red, r->secrets.v[i].name, r->secrets.v[i].value,
					    r->secrets.v[i].len);
	if (!rc)
		rc = rp_redactor_add_builtin_rules(red);
	if (!rc && json_array_size(r->policy->redaction.rules))
		rc = rp_redactor_add_rules(red, r->policy->redaction.rules, r->policy_source);
	if (!rc)
		rc = rp_redactor_compile(red);
	if (rc) {
		rp_redactor_free(red);
		return rc;
	}
	rp_redactor_free(r->redactor);
	r->redactor = red;
	return RP_OK;
}

static int make_scratch(struct run *r)
{
	char *runs = rp_path_join(r->state_dir, "runs"), *home = NULL, *tmp = NULL;
	int rc;

	if (!runs)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = rp_mkdir_p(runs, 0700);
	if (rc)
		goto done;
	if (asprintf(&r->scratch, "%s/%s.XXXXXX", runs, r->run_id) < 0) {
		r->scratch = NULL;
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	if (!mkdtemp(r->scratch)) {
		rc = rp_error_set_errno(RP_E_IO, "state_dir_unwritable", errno,
					"cannot create a run directory in '%s'", runs);
		free(r->scratch);
		r->scratch = NULL;
		goto done;
	}
	home = rp_path_join(r->scratch, "home");
	tmp = rp_path_join(r->scratch, "tmp");
	if (!home || !tmp) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	if (mkdir(home, 0700) < 0 || mkdir(tmp, 0700) < 0)
		rc = rp_error_set_errno(RP_E_IO, "state_dir_unwritable", errno,
					"cannot create the run's HOME and TMPDIR in '%s'", r->scratch);
done:
	free(runs);
	free(home);
	free(tmp);
	return rc;
}

/* Append NAME=VALUE, replacing an earlier entry of the same name (later
 * sources override earlier ones). */
static int env_set(char ***envp, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name), i;
	char *entry = NULL, **grown;

	if (asprintf(&entry, "%s=%s", name, value) < 0)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (i = 0; i < *n; i++) {
		if (!strncmp((*envp)[i], name, len) && (*envp)[i][len] == '=') {
			explicit_bzero((*envp)[i], strlen((*envp)[i]));
			free((*envp)[i]);
			(*envp)[i] = entry;
			return RP_OK;
		}
	}
	grown = realloc(*envp, (*n + 2) * sizeof(*grown));
	if (!grown) {
		free(entry);
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	grown[(*n)++] = entry;
	grown[*n] = NULL;
	*envp = grown;
	return RP_OK;
}

/* The environment holds secret values: wipe it before freeing. */
static void env_free(char **envp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		explicit_bzero(envp[i], strlen(envp[i]));
		free(envp[i]);
	}
	free(envp);
}

/* PATH, a private HOME and TMPDIR, LANG, then the manifest's env, then the
 * secrets: nothing else of runpack's own environment reaches the agent. */
static int build_env(struct run *r, char ***out, size_t *n)
{
	const char *path = getenv("PATH"), *lang = getenv("LANG");
	char *home = rp_path_join(r->scratch, "home"), *tmp = rp_path_join(r->scratch, "tmp");
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	if (!home || !tmp) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	rc = env_set(out, n, "PATH", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!rc)
		rc = env_set(out, n, "HOME", home);
	if (!rc)
		rc = env_set(out, n, "TMPDIR", tmp);
	if (!rc)
		rc = env_set(out, n, "LANG", lang && *lang ? lang : "C.UTF-8");
	for (i = 0; !rc && i < r->manifest->env_n; i++)
		rc = env_set(out, n, r->manifest->env[i].key, r->manifest->env[i].value);
	for (i = 0; !rc && i < r->secrets.n; i++)
		rc = env_set(out, n, r->secrets.v[i].name, (const char *)r->secrets.v[i].value);
done:
	free(home);
	free(tmp);
	return rc;
}

static int run_agent(struct run *r)
{
	struct rp_spawn_opts so;
	char **envp = NULL, *cwd = NULL;
	size_t envn = 0;
	int rc;

	rc = rp_capture_init(&r->out, r->scratch, (uint64_t)r->plan.output_bytes, r->redactor);
	if (!rc) {
		rc = rp_capture_init(&r->err, r->scratch, (uint64_t)r->plan.output_bytes, r->redactor);
		if (rc)
			rp_capture_release(&r->out);
	}
	if (rc)
		return rc;
	r->captures = true;
	rc = build_env(r, &envp, &envn);
	if (rc)
		goto done;
	cwd = rp_path_join(r->manifest->base_dir, r->manifest->cwd);
	if (!cwd) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	memset(&so, 0, sizeof(so));
	so.argv = (const char *const *)r->manifest->argv.v;
	so.envp = (const char *const *)envp;
	so.cwd = cwd;
	so.wall_ms = r->plan.wall_seconds * 1000;
	so.grace_ms = RP_GRACE_MS;
	so.memory_bytes = r->plan.memory_bytes;
	so.max_processes = r->plan.max_processes;
	so.isolate_network = r->plan.egress_mode == RP_EGRESS_NONE && r->caps.net_namespace;
	so.out_sink = so.err_sink = rp_capture_sink;
	so.out_ctx = &r->out;
	so.err_ctx = &r->err;
	so.events = r->events;
	rc = rp_spawn_run(&r->res, &so);
	if (rc)
		goto done;
	r->spawned = true;
	rc = rp_capture_finish(&r->out);
	if (!rc)
		rc = rp_capture_finish(&r->err);
done:
	env_free(envp, envn);
	free(cwd);
	return rc;
}

/* Map the spawn outcome to the terminal status and exit code. */
static void decide_outcome(struct run *r)
{
	const struct rp_spawn_result *s = &r->res;

	if (r->status)
		return;
	if (s->cancelled) {
		r->status = "cancelled";
		r->exit_code = RP_EXIT_CANCELLED;
	} else if (s->timed_out) {
		r->status = "timed_out";
		r->exit_code = RP_EXIT_FAILED;
	} else if (!s->started) {
		rp_error_set(RP_E_IO, "agent_exec_failed", "cannot execute '%s': %s",
			     r->manifest->argv.v[0], strerror(s->exec_errno));
		run_add_error(r);
		cmd_print_error(NULL);
		r->status = "failed";
		r->exit_code = RP_EXIT_FAILED;
	} else if (s->signal) {
		r->status = "killed";
		r->exit_code = RP_EXIT_FAILED;
	} else {
		r->status = s->exit_code == 0 ? "succeeded" : "failed";
		r->exit_code = s->exit_code == 0 ? RP_EXIT_OK : RP_EXIT_FAILED;
	}
}

/* What the spawn actually applied replaces the planned record. */
static void record_applied(struct run *r)
{
	json_t *limits = json_object_get(r->enforcement, "limits");
	const struct rp_spawn_result *s = &r->res;

	if (!r->spawned)
		return;
	json_object_set_new(r->enforcement, "processTree",
			    applied(true, s->process_tree, NULL));
	if (r->plan.egress_mode == RP_EGRESS_NONE)
		json_object_set_new(r->enforcement, "network",
				    applied(s->network_isolated, s->network_isolated ?
					    "network-namespace" : NULL,
					    "network namespaces are not available to this process"));
	if (r->plan.memory_bytes > 0 && !s->memory_limited)
		json_object_set_new(limits, "memoryBytes",
				    applied(false, NULL, "setrlimit(RLIMIT_DATA) failed"));
	if (r->plan.max_processes > 0 && geteuid() != 0 && !s->processes_limited)
		json_object_set_new(limits, "maxProcesses",
				    applied(false, NULL, "setrlimit(RLIMIT_NPROC) failed"));
}

static void run_release(struct run *r)
{
	if (r->captures) {
		rp_capture_release(&r->out);
		rp_capture_release(&r->err);
	}
	if (r->scratch && rp_remove_tree(r->scratch))
		cmd_print_error("cleaning up the run directory");
	free(r->scratch);
	rp_artifact_list_release(&r->artifacts);
	rp_git_free(r->git);
	rp_events_free(r->events);
	rp_redactor_free(r->redactor);
	rp_secrets_free(&r->secrets);
	rp_key_free(r->key);
	rp_manifest_free(r->manifest);
	rp_policy_free(r->policy);
	rp_buf_release(&r->manifest_text);
	json_decref(r->errors);
	json_decref(r->findings);
	json_decref(r->enforcement);
	free(r->run_id);
	free(r->state_dir);
	free(r->key_pub_path);
	free(r->out_path);
	free(r->minisig_path);
}

static const char *base_revision(const struct rp_manifest *m)
{
	json_t *v = json_object_get(m->orchestrator_workspace, "baseRevision");

	return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

/* The workspace's repository and the base: orchestratorWorkspace.baseRevision,
 * else HEAD. Every failure here is recorded and leaves the run's outcome
 * alone; a plain folder is only worth an error when git was asked for. */
static void open_git(struct run *r)
{
	const char *rev = base_revision(r->manifest);
	const char *id;

	if (rp_git_open(&r->git, r->manifest->base_dir)) {
		id = rp_error_last()->id;
		if (r->manifest->diff || rev || !id || strcmp(id, "not_a_git_repository") != 0)
			run_note(r, "git");
		return;
	}
	if (rp_git_read_index(r->git))
		run_note(r, "git");
	if (rp_git_set_base(r->git, rev))
		run_note(r, "git");
}

static void enumerate(struct run *r)
{
	struct rp_enum_opts eo = {
		.include = r->manifest->include_set ? &r->manifest->include : NULL,
		.exclude = &r->manifest->exclude,
		.max_file_bytes = (uint64_t)r->plan.artifact_max_file_bytes,
		.max_total_bytes = (uint64_t)r->plan.artifact_max_total_bytes,
	};

	open_git(r);
	eo.git_ids = rp_git_has_base(r->git);
	if (rp_enum_workspace(&r->artifacts, r->manifest->base_dir, &eo)) {
		rp_error_prefix("enumerating the workspace");
		run_add_error(r);
		cmd_print_error(NULL);
		return;
	}
	r->enumerated = true;
	if (eo.git_ids) {
		if (rp_git_compare(r->git, &r->artifacts)) {
			run_note(r, "git");
		} else {
			r->git_compared = true;
			eo.select_changed = true;
			rp_enum_select(&r->artifacts, &eo);
		}
	}
	rp_events_emit(r->events, "artifacts_enumerated",
		       json_pack("{s:I, s:I, s:I}", "files", (json_int_t)r->artifacts.n,
				 "included", (json_int_t)r->artifacts.included_n,
				 "includedBytes", (json_int_t)r->artifacts.included_bytes));
}

static void note_truncation(struct run *r, const char *stream, const struct rp_capture *c)
{
	if (c->truncated)
		rp_events_emit(r->events, "output_truncated",
			       json_pack("{s:s, s:I, s:I}", "stream", stream,
					 "bytes", (json_int_t)c->raw_bytes,
					 "keptBytes", (json_int_t)c->kept_bytes));
}

/* Steps before the agent starts; any failure here is a rejection. */
static void admit(struct run *r)
{
	json_t *req;

	if (check_workspace(r->manifest) || rp_plan_build(&r->plan, r->policy, r->manifest)) {
		rp_manifest_locate_error(r->o.manifest_path, (const char *)r->manifest_text.data,
					 r->manifest_text.len);
		fail(r, "rejected", RP_EXIT_REJECTED);
		return;
	}
	r->planned = true;
	if (build_redactor(r)) {
		fail(r, "rejected", RP_EXIT_REJECTED);
		return;
	}
	rp_events_set_redactor(r->events, r->redactor);
	rp_spawn_probe(&r->caps);
	if (plan_enforcement(r)) {
		fail(r, "rejected", RP_EXIT_REJECTED);
		return;
	}
	if (make_scratch(r)) {
		fail(r, "error", RP_EXIT_INTERNAL);
		return;
	}
	req = json_pack("{s:o, s:o, s:I}",
			"tenant", r->manifest->capacity.tenant ?
				json_string(r->manifest->capacity.tenant) : json_null(),
			"workspace", r->manifest->capacity.workspace ?
				json_string(r->manifest->capacity.workspace) : json_null(),
			"units", (json_int_t)r->manifest->capacity.units);
	rp_events_emit(r->events, "admitted", json_pack("{s:s, s:o}", "decision", "admitted",
							"request", req));
}

static void print_outcome(const struct run *r)
{
	fprintf(stderr, "runpack: run %s: %s", r->run_id, r->status);
	if (r->spawned && r->res.exited)
		fprintf(stderr, " (exit %d)", r->res.exit_code);
	else if (r->spawned && r->res.signal)
		fprintf(stderr, " (%s)", run_signal_name(r->res.signal));
	if (r->packaged)
		fprintf(stderr, "; package %s", r->out_path);
	fputc('\n', stderr);
}

int cmd_run(int argc, char **argv)
{
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = parse_flags(&r.o, argc, argv);
	if (rc > 0) {
		cmd_run_usage(stdout);
		return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
	}
	if (rc < 0) {
		cmd_print_error(NULL);
		fprintf(stderr, "runpack: see 'runpack run --help'\n");
		return RP_EXIT_USAGE;
	}
	/* Blocked before anything else, so an early SIGTERM cancels the run
	 * instead of killing runpack without a package. */
	if (rp_spawn_block_signals()) {
		cmd_print_error(NULL);
		return RP_EXIT_INTERNAL;
	}
	r.started_ms = rp_now_ms();
	r.errors = json_array();
	r.findings = json_array();
	/* Rules from the start: a rejected run's manifest copy and errors are
	 * redacted too. */
	if (!r.errors || !r.findings || rp_redactor_new(&r.redactor) ||
	    rp_redactor_add_builtin_rules(r.redactor) || rp_redactor_compile(r.redactor)) {
		cmd_print_error(NULL);
		rc = RP_EXIT_INTERNAL;
		goto done;
	}

	if (read_inputs(&r)) {
		fail(&r, "error", RP_EXIT_USAGE);
		goto summary;
	}
	if (r.manifest_read && !r.status &&
	    rp_manifest_parse(&r.manifest, r.o.manifest_path, (const char *)r.manifest_text.data,
			      r.manifest_text.len))
		fail(&r, "rejected", RP_EXIT_REJECTED);
	r.run_id = r.manifest ? strdup(r.manifest->run_id) : rp_run_id_generate();
	r.state_dir = cmd_state_dir(r.o.state_dir, r.policy ? r.policy->capacity.state_dir : NULL);
	if (!r.run_id || !r.state_dir) {
		rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		fail(&r, "error", RP_EXIT_INTERNAL);
		goto summary;
	}
	if (load_key(&r) || probe_output(&r) || rp_events_open(&r.events, r.o.event_log)) {
		r.status = NULL;
		fail(&r, "error", RP_EXIT_USAGE);
		goto summary;
	}
	rp_events_emit(r.events, "run_started",
		       json_pack("{s:s, s:s, s:s}", "runId", r.run_id, "runner", "runpack " RP_VERSION,
				 "policy", r.policy_source ? r.policy_source : "none"));
	if (!r.status)
		admit(&r);
	if (!r.status) {
		if (run_agent(&r))
			fail(&r, "error", RP_EXIT_INTERNAL);
		decide_outcome(&r);
		record_applied(&r);
		if (r.spawned) {
			note_truncation(&r, "stdout", &r.out);
			note_truncation(&r, "stderr", &r.err);
			enumerate(&r);
		}
	}
	r.ended_ms = rp_now_ms();
	if (run_write_package(&r)) {
		run_add_error(&r);
		cmd_print_error("writing the package");
		r.status = "error";
		r.exit_code = RP_EXIT_INTERNAL;
	} else if (r.o.minisig && run_write_minisig(&r)) {
		run_add_error(&r);
		cmd_print_error("writing the minisign signature");
		r.exit_code = RP_EXIT_INTERNAL;
	}
	print_outcome(&r);
summary:
	if (!r.ended_ms)
		r.ended_ms = rp_now_ms();
	if (run_print_summary(&r) < 0) {
		fprintf(stderr, "runpack: cannot write the summary to stdout\n");
		if (r.exit_code == RP_EXIT_OK)
			r.exit_code = RP_EXIT_INTERNAL;
	}
	rc = r.exit_code;
done:
	run_release(&r);
	return rc;
}
