/*
 * runpack run: admit a job, run its agent under the plan, write the package.
 *
 * The flow is linear and every step past flag parsing ends in a package (or,
 * when even that is impossible, a JSON summary saying why): a failing step
 * records an error, sets the terminal status and skips to packaging.
 */
#include "cmd.h"
#include "rp_capture.h"
#include "rp_enum.h"
#include "rp_error.h"
#include "rp_events.h"
#include "rp_git.h"
#include "rp_manifest.h"
#include "rp_pack.h"
#include "rp_plan.h"
#include "rp_policy.h"
#include "rp_redact.h"
#include "rp_secrets.h"
#include "rp_sha256.h"
#include "rp_sign.h"
#include "rp_spawn.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RP_POLICY_MAX_BYTES (1u << 20)
#define RP_GRACE_MS 5000

struct run_opts {
	const char *manifest_path;
	const char *policy_path;
	const char *key_path;
	const char *out_path;
	const char *event_log;
	const char *state_dir;
	bool minisig;
};

/* Everything one run accumulates; released by run_release(). */
struct run {
	struct run_opts o;
	int64_t started_ms, ended_ms;
	const char *status;   /* terminal status; NULL while undecided */
	int exit_code;        /* runpack's exit code */
	json_t *errors;       /* errors[] of result.json and the summary */

	struct rp_buf manifest_text;
	bool manifest_read;
	struct rp_manifest *manifest;
	char *run_id;
	struct rp_policy *policy;
	const char *policy_source;
	struct rp_plan plan;
	bool planned;

	char *state_dir;
	char *scratch;        /* <state>/runs/<runId>.XXXXXX */
	struct rp_key *key;
	char *key_pub_path;   /* where the per-host public key is, if used */
	char *out_path;

	struct rp_secrets secrets;
	struct rp_redactor *redactor;
	struct rp_events *events;
	struct rp_capture out, err;
	bool captures;
	struct rp_spawn_caps caps;
	struct rp_spawn_result res;
	bool spawned;
	json_t *enforcement;
	struct rp_artifact_list artifacts;
	bool enumerated;
	struct rp_git *git;   /* NULL unless the workspace is a readable repository */
	bool git_compared;    /* the workspace was compared with the git base */
	bool diff_staged;     /* diff.patch is in the staging file */
	uint64_t diff_offset, diff_size;
	struct rp_git_diff_stats diff_stats;
	unsigned char diff_sha[RP_SHA256_LEN];
	json_t *findings;     /* redaction findings per entry */
	unsigned char pkg_sha[RP_SHA256_LEN];
	bool packaged;
	char *minisig_path;
};

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

/* errors[] entry from the last rp_error, with its input location if any. */
static void add_error_last(struct run *r)
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

/* Record a failure that decides the run's outcome, and say it on stderr. */
static void fail(struct run *r, const char *status, int exit_code)
{
	add_error_last(r);
	cmd_print_error(NULL);
	if (!r->status) {
		r->status = status;
		r->exit_code = exit_code;
	}
}

/* Record a failure that leaves the run's outcome alone, and say it. */
static void note(struct run *r, const char *context)
{
	add_error_last(r);
	cmd_print_error(context);
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

static const char *signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static __thread char buf[32];

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "UNKNOWN");
	return buf;
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
		add_error_last(r);
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

static void add_finding(struct run *r, const char *entry, const char *rule, uint64_t count)
{
	if (count)
		json_array_append_new(r->findings, json_pack("{s:s, s:s, s:I}", "entry", entry,
							     "rule", rule, "count", (json_int_t)count));
}

static void add_stream_findings(struct run *r, const char *entry, const struct rp_redact_stream *s)
{
	struct rp_redact_finding f[512];
	size_t i, n = rp_redact_stream_findings(s, f, 512);

	for (i = 0; i < n; i++)
		add_finding(r, entry, f[i].rule, f[i].count);
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

static json_t *build_result(struct run *r)
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
	json_object_set_new(res, "signal", r->spawned && s->signal ? json_string(signal_name(s->signal))
								   : json_null());
	json_object_set_new(res, "timedOut", json_boolean(r->spawned && s->timed_out));
	json_object_set_new(res, "cancellation", r->spawned && s->cancelled
		? json_pack("{s:s, s:b, s:b}", "signal", signal_name(s->cancel_signal),
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
	add_stream_findings(r, f->name, rs);
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
		add_stream_findings(r, "diff.patch", rs);
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
	add_finding(r, entry, "secret", count);
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

static int write_package(struct run *r)
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
		add_finding(r, "manifest.json", "secret", count);
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
				add_error_last(r);
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
				note(r, "diff");
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
		add_stream_findings(r, "logs/stdout.log", r->out.redact);
		add_stream_findings(r, "logs/stderr.log", r->err.redact);
	}
	rp_events_emit(r->events, "run_finished", json_pack("{s:s}", "status", r->status));
	r->ended_ms = rp_now_ms();
	json_decref(doc);
	doc = build_result(r);
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

static int write_minisig(struct run *r)
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

static int print_summary(struct run *r)
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
			    json_string(signal_name(r->res.signal)) : json_null());
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
			note(r, "git");
		return;
	}
	if (rp_git_read_index(r->git))
		note(r, "git");
	if (rp_git_set_base(r->git, rev))
		note(r, "git");
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
		add_error_last(r);
		cmd_print_error(NULL);
		return;
	}
	r->enumerated = true;
	if (eo.git_ids) {
		if (rp_git_compare(r->git, &r->artifacts)) {
			note(r, "git");
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
		fprintf(stderr, " (%s)", signal_name(r->res.signal));
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
	if (write_package(&r)) {
		add_error_last(&r);
		cmd_print_error("writing the package");
		r.status = "error";
		r.exit_code = RP_EXIT_INTERNAL;
	} else if (r.o.minisig && write_minisig(&r)) {
		add_error_last(&r);
		cmd_print_error("writing the minisign signature");
		r.exit_code = RP_EXIT_INTERNAL;
	}
	print_outcome(&r);
summary:
	if (!r.ended_ms)
		r.ended_ms = rp_now_ms();
	if (print_summary(&r) < 0) {
		fprintf(stderr, "runpack: cannot write the summary to stdout\n");
		if (r.exit_code == RP_EXIT_OK)
			r.exit_code = RP_EXIT_INTERNAL;
	}
	rc = r.exit_code;
done:
	run_release(&r);
	return rc;
}
