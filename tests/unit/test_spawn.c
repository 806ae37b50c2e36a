#include "harness.h"
#include "rp_buf.h"
#include "rp_capture.h"
#include "rp_error.h"
#include "rp_events.h"
#include "rp_redact.h"
#include "rp_spawn.h"
#include "rp_util.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const default_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

struct output {
	struct rp_buf buf;
	uint64_t bytes;
	bool keep;
};

static int collect(void *ctx, const unsigned char *p, size_t n)
{
	struct output *o = ctx;

	o->bytes += n;
	return o->keep ? rp_buf_append(&o->buf, p, n) : RP_OK;
}

struct job {
	struct rp_spawn_opts opts;
	struct rp_spawn_result res;
	struct output out, err;
	struct rp_events *events;
	bool fallback; /* force the no-namespace path */
	int64_t elapsed_ms;
};

static char agent_path[PATH_MAX];

/* Fixtures are found from the repository root (the cwd), or RP_TOP. */
static const char *agent(const char *name)
{
	const char *top = getenv("RP_TOP");
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/fixtures/agents/%s", top ? top : ".", name);
	CHECK(realpath(rel, agent_path));
	return agent_path;
}

static void job_init(struct job *j, const char *const *argv)
{
	memset(j, 0, sizeof(*j));
	j->out.keep = j->err.keep = true;
	j->opts.argv = argv;
	j->opts.envp = default_env;
	j->opts.cwd = harness_tmpdir();
	j->opts.out_sink = j->opts.err_sink = collect;
	j->opts.out_ctx = &j->out;
	j->opts.err_ctx = &j->err;
	j->opts.grace_ms = 1000;
	CHECK_INT(rp_events_open(&j->events, NULL), RP_OK);
	j->opts.events = j->events;
}

static void job_run(struct job *j)
{
	int64_t t0 = rp_mono_ms();
	int rc;

	if (j->fallback)
		setenv("RUNPACK_NO_NAMESPACES", "1", 1);
	rc = rp_spawn_run(&j->res, &j->opts);
	unsetenv("RUNPACK_NO_NAMESPACES");
	CHECK_INT(rc, RP_OK);
	j->elapsed_ms = rp_mono_ms() - t0;
	if (getenv("RP_TEST_VERBOSE"))
		fprintf(stderr, "# %s: %lld ms, tree %s\n", j->opts.argv[0],
			(long long)j->elapsed_ms, j->res.process_tree ? j->res.process_tree : "-");
}

static void job_release(struct job *j)
{
	rp_buf_release(&j->out.buf);
	rp_buf_release(&j->err.buf);
	rp_events_free(j->events);
}

static bool has_event(const struct job *j, const char *needle)
{
	return strstr((const char *)rp_events_text(j->events)->data, needle) != NULL;
}

/* No zombie and no child of ours may outlive a run. */
static void check_no_children(void)
{
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

static void test_exit_codes(void)
{
	const char *argv[] = { NULL, NULL };
	struct job j;
	char *result;
	struct stat st;

	argv[0] = agent("succeed.sh");
	job_init(&j, argv);
	job_run(&j);
	CHECK(j.res.started && j.res.exited);
	CHECK_INT(j.res.exit_code, 0);
	CHECK_INT(j.res.signal, 0);
	CHECK(!j.res.timed_out && !j.res.cancelled);
	CHECK(strstr((const char *)j.out.buf.data, "succeed: working in"));
	CHECK_STR((const char *)j.err.buf.data, "succeed: a line on stderr\n");
	result = rp_path_join(harness_tmpdir(), "out/result.txt");
	CHECK(result && stat(result, &st) == 0);
	free(result);
	CHECK(has_event(&j, "\"type\":\"agent_started\",\"pid\":"));
	CHECK(has_event(&j, "\"type\":\"agent_exited\",\"exitCode\":0}"));
	job_release(&j);

	argv[0] = agent("fail.sh");
	job_init(&j, argv);
	job_run(&j);
	CHECK(j.res.started && j.res.exited);
	CHECK_INT(j.res.exit_code, 3);
	CHECK(strstr((const char *)j.err.buf.data, "fail:"));
	job_release(&j);
	check_no_children();
}

static void test_death_by_signal(void)
{
	const char *argv[] = { NULL, NULL };
	struct job j;

	argv[0] = agent("killself.sh");
	job_init(&j, argv);
	job_run(&j);
	CHECK(j.res.started);
	CHECK(!j.res.exited);
	CHECK_INT(j.res.signal, SIGSEGV);
	CHECK(has_event(&j, "\"type\":\"agent_exited\",\"signal\":\"SIGSEGV\"}"));
	job_release(&j);
	check_no_children();
}

static void test_exec_failure(void)
{
	const char *by_path[] = { "no-such-agent-rp-test", "--flag", NULL };
	const char *absolute[] = { "/nonexistent/agent", NULL };
	const char *not_exec[] = { "/etc/passwd", NULL };
	struct job j;

	job_init(&j, by_path);
	job_run(&j);
	CHECK(!j.res.started && !j.res.exited && !j.res.cancelled);
	CHECK_INT(j.res.exec_errno, ENOENT);
	CHECK(has_event(&j, "\"type\":\"agent_start_failed\",\"stage\":\"exec\""));
	CHECK(!has_event(&j, "agent_started"));
	CHECK(!has_event(&j, "agent_exited"));
	job_release(&j);

	job_init(&j, absolute);
	job_run(&j);
	CHECK(!j.res.started);
	CHECK_INT(j.res.exec_errno, ENOENT);
	job_release(&j);

	job_init(&j, not_exec);
	job_run(&j);
	CHECK(!j.res.started);
	CHECK_INT(j.res.exec_errno, EACCES);
	job_release(&j);

	job_init(&j, absolute);
	j.opts.cwd = "/nonexistent-cwd";
	job_run(&j);
	CHECK(!j.res.started);
	CHECK_INT(j.res.exec_errno, ENOENT);
	CHECK(has_event(&j, "\"stage\":\"chdir\""));
	job_release(&j);
	check_no_children();
}

static void test_flood_both_streams(void)
{
	const char *argv[] = { NULL, "100", NULL };
	struct job j;

	argv[0] = agent("flood.sh");
	job_init(&j, argv);
	j.out.keep = j.err.keep = false;
	j.opts.wall_ms = 120000;
	job_run(&j);
	CHECK(j.res.exited);
	CHECK_INT(j.res.exit_code, 0);
	CHECK(!j.res.timed_out);
	CHECK_INT(j.out.bytes, 100ull << 20);
	CHECK_INT(j.err.bytes, 100ull << 20);
	job_release(&j);
	check_no_children();
}

static void test_timeout_kills_tree(void)
{
	const char *argv[] = { NULL, NULL };
	struct job j;

	argv[0] = agent("hang.sh");
	job_init(&j, argv);
	j.opts.wall_ms = 500;
	job_run(&j);
	CHECK(j.res.started && j.res.timed_out);
	CHECK(!j.res.cancelled && !j.res.exited);
	CHECK_INT(j.res.signal, SIGTERM);
	CHECK(!j.res.escalated_kill);
	CHECK(j.elapsed_ms >= 500 && j.elapsed_ms < 500 + 1000 + 1500);
	CHECK(has_event(&j, "\"type\":\"timeout\",\"afterMs\":500}"));
	CHECK(has_event(&j, "\"type\":\"signal_sent\",\"signal\":\"SIGTERM\",\"target\":\"tree\"}"));
	job_release(&j);
	check_no_children();
}

static void test_escalation(void)
{
	/* Ignores SIGTERM: only the grace period's SIGKILL ends it. */
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done", NULL };
	struct job j;

	job_init(&j, argv);
	j.opts.wall_ms = 300;
	j.opts.grace_ms = 300;
	job_run(&j);
	CHECK(j.res.timed_out && j.res.escalated_kill);
	CHECK_INT(j.res.signal, SIGKILL);
	CHECK(has_event(&j, "\"signal\":\"SIGKILL\",\"target\":\"tree\""));
	CHECK(j.elapsed_ms < 3000);
	job_release(&j);
	check_no_children();
}

/* The stop's SIGTERM must reach the whole tree, not just the agent: a
 * grandchild that traps it leaves a flag file behind. */
static void check_term_reaches_tree(bool fallback)
{
	char *flag = rp_path_join(harness_tmpdir(), "got-term"), *script = NULL;
	const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	struct stat st;
	struct job j;

	CHECK(flag);
	unlink(flag);
	CHECK(asprintf(&script, "trap 'wait; exit 0' TERM; sh -c 'trap \"echo x >%s; exit 0\" TERM; "
			       "while :; do sleep 0.1; done' & wait", flag) > 0);
	argv[2] = script;
	job_init(&j, argv);
	j.fallback = fallback;
	j.opts.wall_ms = 300;
	j.opts.grace_ms = 5000;
	job_run(&j);
	CHECK_STR(j.res.process_tree, fallback ? "process-group" : "pid-namespace");
	CHECK(j.res.timed_out && j.res.exited && !j.res.escalated_kill);
	CHECK(stat(flag, &st) == 0);
	job_release(&j);
	free(script);
	free(flag);
	check_no_children();
}

static void test_term_reaches_tree(void)
{
	check_term_reaches_tree(false);
}

static void test_term_reaches_tree_fallback(void)
{
	check_term_reaches_tree(true);
}

static void *term_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000000L };

	(void)arg;
	nanosleep(&ts, NULL);
	kill(getpid(), SIGTERM);
	return NULL;
}

static void test_cancel(void)
{
	const char *argv[] = { NULL, NULL };
	pthread_t timer;
	struct job j;
	int sig;

	argv[0] = agent("hang.sh");
	job_init(&j, argv);
	j.opts.wall_ms = 30000;
	CHECK(pthread_create(&timer, NULL, term_later, NULL) == 0);
	job_run(&j);
	pthread_join(timer, NULL);
	CHECK(j.res.started && j.res.cancelled);
	CHECK_INT(j.res.cancel_signal, SIGTERM);
	CHECK(!j.res.timed_out);
	CHECK(j.elapsed_ms >= 250 && j.elapsed_ms < 5000);
	CHECK(has_event(&j, "\"type\":\"cancel_requested\",\"signal\":\"SIGTERM\"}"));
	CHECK(!rp_spawn_cancel_pending(&sig));
	job_release(&j);
	check_no_children();
}

static void test_cancel_before_start(void)
{
	const char *argv[] = { NULL, NULL };
	struct job j;
	int sig = 0;
	char *marker;
	struct stat st;

	argv[0] = agent("succeed.sh");
	marker = rp_path_join(harness_tmpdir(), "out/result.txt");
	CHECK(marker);
	unlink(marker);
	kill(getpid(), SIGINT);
	CHECK(rp_spawn_cancel_pending(&sig));
	CHECK_INT(sig, SIGINT);
	job_init(&j, argv);
	job_run(&j);
	CHECK(j.res.cancelled && !j.res.started);
	CHECK_INT(j.res.cancel_signal, SIGINT);
	CHECK(stat(marker, &st) < 0);
	CHECK(!has_event(&j, "agent_started"));
	/* Consumed: a later run is not cancelled by the same signal. */
	CHECK(!rp_spawn_cancel_pending(&sig));
	free(marker);
	job_release(&j);
}

static void check_double_fork(bool fallback)
{
	const char *argv[] = { NULL, NULL, NULL };
	struct rp_buf text = RP_BUF_INIT;
	char *pidfile = rp_path_join(harness_tmpdir(), "grandchild.pid");
	struct job j;
	long pid;

	CHECK(pidfile);
	unlink(pidfile);
	argv[0] = agent("doublefork.sh");
	argv[1] = pidfile;
	job_init(&j, argv);
	j.fallback = fallback;
	j.opts.wall_ms = 1500;
	job_run(&j);
	CHECK_STR(j.res.process_tree, fallback ? "process-group" : "pid-namespace");
	CHECK(j.res.timed_out);
	CHECK_INT(rp_read_file(&text, pidfile, 64, 0), RP_OK);
	pid = strtol((const char *)text.data, NULL, 10);
	CHECK(pid > 1);
	errno = 0;
	CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
	CHECK(has_event(&j, "\"type\":\"leftovers_killed\",\"count\":"));
	check_no_children();
	rp_buf_release(&text);
	job_release(&j);
	free(pidfile);
}

static void test_double_fork_namespace(void)
{
	check_double_fork(false);
}

static void test_double_fork_fallback(void)
{
	check_double_fork(true);
}

static void test_fallback_basics(void)
{
	const char *argv[] = { NULL, NULL };
	struct job j;

	argv[0] = agent("fail.sh");
	job_init(&j, argv);
	j.fallback = true;
	job_run(&j);
	CHECK_STR(j.res.process_tree, "process-group");
	CHECK(j.res.exited);
	CHECK_INT(j.res.exit_code, 3);
	CHECK(!j.res.network_isolated);
	job_release(&j);
	check_no_children();
}

/* Interface names from /proc/net/dev output, space-separated. */
static void interfaces(const char *dev, char *out, size_t n)
{
	const char *line = strchr(dev, '\n');

	out[0] = '\0';
	for (line = line ? strchr(line + 1, '\n') : NULL; line && line[1]; line = strchr(line + 1, '\n')) {
		const char *name = line + 1 + strspn(line + 1, " ");
		size_t len = strcspn(name, ":");

		snprintf(out + strlen(out), n - strlen(out), "%s%.*s", *out ? " " : "", (int)len, name);
	}
}

static void test_isolate_network(void)
{
	const char *argv[] = { "/bin/sh", "-c", "cat /proc/net/dev", NULL };
	char names[256];
	struct job j;

	job_init(&j, argv);
	j.opts.isolate_network = true;
	job_run(&j);
	CHECK(j.res.exited);
	CHECK_INT(j.res.exit_code, 0);
	CHECK(j.res.network_isolated);
	interfaces((const char *)j.out.buf.data, names, sizeof(names));
	CHECK_STR(names, "lo");
	job_release(&j);
}

static void test_explicit_env(void)
{
	const char *env[] = { "PATH=/usr/bin:/bin", "FOO=bar baz", "EMPTY=", NULL };
	const char *argv[] = { "env", NULL };
	struct job j;

	job_init(&j, argv);
	j.opts.envp = env;
	job_run(&j);
	CHECK(j.res.exited);
	CHECK_STR((const char *)j.out.buf.data, "PATH=/usr/bin:/bin\nFOO=bar baz\nEMPTY=\n");
	job_release(&j);
}

/* argv[0] is looked up in the agent's PATH, not runpack's. */
static void test_agent_path_lookup(void)
{
	const char *argv[] = { "rp-test-tool", "arg one", NULL };
	char *dir = rp_path_join(harness_tmpdir(), "bin"), *tool, *path_var = NULL;
	const char *env[] = { NULL, NULL };
	struct job j;
	FILE *f;

	CHECK(dir);
	mkdir(dir, 0755);
	tool = rp_path_join(dir, "rp-test-tool");
	CHECK(tool && (f = fopen(tool, "w")));
	/* No "#!": run through /bin/sh, as execvp does. */
	fputs("echo \"tool:$1\"\n", f);
	fclose(f);
	chmod(tool, 0755);
	CHECK(asprintf(&path_var, "PATH=/nonexistent:%s:/bin", dir) > 0);
	env[0] = path_var;
	job_init(&j, argv);
	j.opts.envp = env;
	job_run(&j);
	CHECK(j.res.exited);
	CHECK_STR((const char *)j.out.buf.data, "tool:arg one\n");
	job_release(&j);
	free(path_var);
	free(tool);
	free(dir);
}

static void test_secrets_masked_in_capture(void)
{
	const char *value = "s3cr3t/\"tok\"+en value~x";
	const char *argv[] = { NULL, "API_TOKEN", NULL };
	char *env_token = NULL;
	const char *env[] = { "PATH=/usr/bin:/bin", NULL, NULL };
	struct rp_redactor *r = NULL;
	struct rp_capture out, err;
	struct rp_buf text = RP_BUF_INIT;
	struct rp_redact_finding f[2];
	struct job j;
	ssize_t n;
	char chunk[4096];

	CHECK(asprintf(&env_token, "API_TOKEN=%s", value) > 0);
	env[1] = env_token;
	argv[0] = agent("secrets.sh");
	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, "API_TOKEN", (const unsigned char *)value,
					 strlen(value)), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	CHECK_INT(rp_capture_init(&out, harness_tmpdir(), 1 << 20, r), RP_OK);
	CHECK_INT(rp_capture_init(&err, harness_tmpdir(), 10, r), RP_OK);
	job_init(&j, argv);
	j.opts.envp = env;
	j.opts.out_sink = j.opts.err_sink = rp_capture_sink;
	j.opts.out_ctx = &out;
	j.opts.err_ctx = &err;
	job_run(&j);
	CHECK(j.res.exited);
	CHECK_INT(j.res.exit_code, 0);
	CHECK_INT(rp_capture_finish(&out), RP_OK);
	CHECK_INT(rp_capture_finish(&err), RP_OK);
	while ((n = read(out.fd, chunk, sizeof(chunk))) > 0)
		CHECK_INT(rp_buf_append(&text, chunk, (size_t)n), RP_OK);
	CHECK_INT(text.len, out.kept_bytes);
	CHECK(!out.truncated);
	/* raw, 3 x (base64 + base64url), url, json, split */
	CHECK_INT(rp_redact_stream_findings(out.redact, f, 2), 1);
	CHECK_INT(f[0].count, 10);
	CHECK(!strstr((const char *)text.data, "s3cr3t"));
	CHECK(!strstr((const char *)text.data, "czNjcjN0Ly"));
	CHECK(strstr((const char *)text.data, "split: [REDACTED:secret:API_TOKEN]\n"));
	/* stderr: capped at 10 bytes, the rest only counted. */
	CHECK(err.truncated);
	CHECK_INT(err.kept_bytes, 10);
	CHECK_INT(err.raw_bytes, strlen("stderr: ") + strlen(value) + 1);
	rp_capture_release(&out);
	rp_capture_release(&err);
	rp_redactor_free(r);
	rp_buf_release(&text);
	job_release(&j);
	free(env_token);
}

/*
 * As an unprivileged user the tree needs a user namespace: run one spawn in a
 * child that dropped to nobody, and report back through the exit status.
 */
static int nobody_spawn(void)
{
	const char *argv[] = { "/bin/sh", "-c", "id -u; cat /proc/net/dev", NULL };
	char names[256];
	struct job j;

	job_init(&j, argv);
	j.opts.cwd = "/";
	j.opts.isolate_network = true;
	j.opts.max_processes = 64;
	if (rp_spawn_run(&j.res, &j.opts) != RP_OK)
		return 10;
	if (!j.res.process_tree || strcmp(j.res.process_tree, "pid-namespace") != 0)
		return 77;
	if (!j.res.exited || j.res.exit_code != 0)
		return 11;
	if (strncmp((const char *)j.out.buf.data, "65534\n", 6) != 0)
		return 12;
	interfaces(strchr((const char *)j.out.buf.data, '\n') + 1, names, sizeof(names));
	if (strcmp(names, "lo") != 0 || !j.res.network_isolated)
		return 13;
	if (!j.res.processes_limited)
		return 14;
	return 0;
}

/* Exit status of nobody_spawn() in a child that dropped to nobody; 76 when
 * it could not drop. */
static int nobody_status = -1;

static void run_as_nobody(void)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		nobody_status = nobody_spawn();
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* Dropping from root leaves the process non-dumpable, which makes
		 * its /proc files root's: the id maps could not be written. */
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
		    prctl(PR_SET_DUMPABLE, 1) < 0)
			_exit(76);
		_exit(nobody_spawn());
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		nobody_status = WEXITSTATUS(st);
}

static void test_unprivileged_user_namespace(void)
{
	CHECK_INT(nobody_status, 0);
}

static void test_requires_blocked_signals(void)
{
	const char *argv[] = { "/bin/true", NULL };
	struct rp_spawn_result res;
	struct job j;
	sigset_t chld;
	int rc;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	job_init(&j, argv);
	pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
	rc = rp_spawn_run(&res, &j.opts);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	CHECK(rc < 0);
	CHECK(!res.started);
	job_release(&j);
}

static void test_probe_matches_spawn(void)
{
	const char *argv[] = { "/bin/true", NULL };
	struct rp_spawn_caps caps;
	struct job j;

	rp_spawn_probe(&caps);
	job_init(&j, argv);
	job_run(&j);
	CHECK_STR(j.res.process_tree, caps.pid_namespace ? "pid-namespace" : "process-group");
	job_release(&j);
}

int main(void)
{
	struct rp_spawn_caps caps;

	if (sodium_init() < 0)
		return 2;
	/* Before any thread exists, so every thread inherits the mask. */
	if (rp_spawn_block_signals() != RP_OK)
		return 2;
	rp_spawn_probe(&caps);
	RUN(test_exit_codes);
	RUN(test_death_by_signal);
	RUN(test_exec_failure);
	RUN(test_flood_both_streams);
	RUN(test_timeout_kills_tree);
	RUN(test_escalation);
	if (caps.pid_namespace)
		RUN(test_term_reaches_tree);
	else
		printf("SKIP test_term_reaches_tree: no PID namespaces here\n");
	RUN(test_term_reaches_tree_fallback);
	RUN(test_cancel);
	RUN(test_cancel_before_start);
	if (caps.pid_namespace)
		RUN(test_double_fork_namespace);
	else
		printf("SKIP test_double_fork_namespace: no PID namespaces here\n");
	RUN(test_double_fork_fallback);
	RUN(test_fallback_basics);
	if (caps.net_namespace)
		RUN(test_isolate_network);
	else
		printf("SKIP test_isolate_network: no network namespaces here\n");
	RUN(test_explicit_env);
	RUN(test_agent_path_lookup);
	RUN(test_secrets_masked_in_capture);
	run_as_nobody();
	if (nobody_status == 76 || nobody_status == 77)
		printf("SKIP test_unprivileged_user_namespace: %s\n", nobody_status == 76
		       ? "cannot switch to nobody" : "no user namespaces for nobody");
	else
		RUN(test_unprivileged_user_namespace);
	RUN(test_requires_blocked_signals);
	RUN(test_probe_matches_spawn);
	return harness_done();
}
