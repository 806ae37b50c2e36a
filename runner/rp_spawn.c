/*
 * rp_spawn: fork/clone, namespaces, supervision.
 *
 * Everything a child process needs (argv and envp copies, the exec candidate
 * paths, map lines, file descriptors) is prepared before cloning: the
 * children run only system calls until exec, because the parent may have
 * other threads and a copied lock could be held forever.
 *
 * Children are created with the raw clone system call rather than fork():
 * the namespace path needs its flags, and the init must itself clone the
 * agent without going through glibc's fork locks.
 *
 * Pipes between runpack (R), the namespace init (I) and the agent (A):
 *   out, err   A -> R   the agent's stdout and stderr
 *   exec       A -> R   close-on-exec: EOF means exec succeeded, an
 *                       exec_msg means a setup step failed before it
 *   status     I -> R   init_msg: READY once the namespace is set up, then
 *                       EXITED with the agent's raw wait status
 */
#include "rp_spawn.h"
#include "rp_error.h"
#include "rp_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64u << 10)
#define DEFAULT_GRACE_MS 5000
/* After the tree is gone, output can stay open only if the agent handed a
 * pipe to something outside it; stop waiting for EOF after this long. */
#define DRAIN_MS 2000
#define PIPE_SIZE (1 << 20)

enum stage {
	STAGE_USERNS = 1,
	STAGE_FORK,
	STAGE_RLIMIT,
	STAGE_CHDIR,
	STAGE_FDS,
	STAGE_EXEC,
};

static const char *const stage_names[] = {
	[STAGE_USERNS] = "user-namespace", [STAGE_FORK] = "fork",
	[STAGE_RLIMIT] = "rlimit",         [STAGE_CHDIR] = "chdir",
	[STAGE_FDS] = "fds",               [STAGE_EXEC] = "exec",
};

struct exec_msg {
	int32_t stage;
	int32_t err;
};

enum { MSG_READY = 1, MSG_SETUP_FAILED, MSG_EXITED };

struct init_msg {
	int32_t kind;
	int32_t a; /* SETUP_FAILED: stage; EXITED: wait status */
	int32_t b; /* SETUP_FAILED: errno; EXITED: leftover processes killed */
};

/* What the children need, prepared before cloning. */
struct plan {
	char **argv;
	char **envp;
	char **paths;    /* where to look for argv[0], in order */
	char **sh_argv;  /* "/bin/sh", <path>, argv[1]...: scripts without #! */
	const char *cwd;
	struct rlimit data, nproc;
	bool limit_data, limit_nproc;
	bool userns, netns, fallback;
	pid_t parent;
	char uid_map[32], gid_map[32];
	int null_fd, out_w, err_w, exec_w, status_w;
	int parent_fds[5]; /* runpack's ends, closed by the init */
};

struct run {
	const struct rp_spawn_opts *o;
	struct rp_spawn_result *res;
	struct plan plan;
	unsigned char *chunk;
	int out_r, err_r, exec_r, status_r, sfd;
	pid_t pid;           /* the init (namespace) or the agent (fallback) */
	bool ns;
	bool exec_failed, agent_done, tree_done, stopping, old_subreaper_set;
	int old_subreaper;
	int64_t deadline, kill_at, drain_until; /* monotonic ms, 0 = none */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void sig_name(char out[24], int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(out, 24, "SIG%s", abbrev);
	else
		snprintf(out, 24, "SIG%d", sig);
}

static pid_t clone_process(unsigned long flags)
{
	struct clone_args args = { .flags = flags, .exit_signal = SIGCHLD };
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	/* Container seccomp profiles often answer clone3 with ENOSYS. */
	if (pid < 0 && errno == ENOSYS)
#if defined(__s390__) || defined(__s390x__)
		pid = syscall(SYS_clone, 0, flags | SIGCHLD, 0, 0, 0);
#else
		pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
#endif
	return (pid_t)pid;
}

/* ---- in the children: system calls only, until exec ---- */

/* Tell runpack which step before exec failed; the agent never ran. */
static _Noreturn void fail_exec(int fd, int stage, int err)
{
	struct exec_msg m = { stage, err };

	if (write(fd, &m, sizeof(m)) < 0)
		_exit(126);
	_exit(127);
}

static int write_proc(const char *path, const char *text)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, text, n);
	err = errno;
	close(fd);
	errno = err;
	return w == (ssize_t)n ? 0 : -1;
}

/* Identity maps of runpack's own ids; setgroups must be denied first or an
 * unprivileged process may not write gid_map. */
static int write_id_maps(const char *uid_map, const char *gid_map)
{
	if (write_proc("/proc/self/setgroups", "deny") < 0 ||
	    write_proc("/proc/self/uid_map", uid_map) < 0 ||
	    write_proc("/proc/self/gid_map", gid_map) < 0)
		return -1;
	return 0;
}

/* A new network namespace starts with lo down; agents expect 127.0.0.1 to
 * work, and failing to bring it up only loses loopback, not isolation. */
static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* close_range(2) arrived in Linux 5.9; older kernels get the loop. */
static void close_fds(unsigned int first, unsigned int last)
{
	struct rlimit rl;

	if (first > last || close_range(first, last, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 65536;
	for (unsigned int fd = first; fd <= last && fd < rl.rlim_cur; fd++)
		close((int)fd);
}

static bool path_miss(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV ||
	       err == ETIMEDOUT;
}

static _Noreturn void agent_main(struct plan *p)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int fds[4] = { p->null_fd, p->out_w, p->err_w, p->exec_w }, ew = p->exec_w, err = 0;
	bool eacces = false;

	/* Signals stay blocked (inherited) until the handlers are default, so
	 * a stop forwarded during setup is delivered, not lost or caught. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	setsid();
	if (p->fallback) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p->parent)
			_exit(127);
	}
	if ((p->limit_data && setrlimit(RLIMIT_DATA, &p->data) < 0) ||
	    (p->limit_nproc && setrlimit(RLIMIT_NPROC, &p->nproc) < 0))
		fail_exec(ew, STAGE_RLIMIT, errno);
	if (chdir(p->cwd) < 0)
		fail_exec(ew, STAGE_CHDIR, errno);
	/* Move everything above the target numbers first so no dup2 clobbers
	 * a descriptor that is still to be moved. */
	for (int i = 0; i < 4; i++) {
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
		if (fds[i] < 0)
			fail_exec(ew, STAGE_FDS, errno);
	}
	for (int i = 0; i < 4; i++)
		if (dup2(fds[i], i) < 0)
			fail_exec(ew, STAGE_FDS, errno);
	ew = 3;
	if (fcntl(ew, F_SETFD, FD_CLOEXEC) < 0)
		fail_exec(ew, STAGE_FDS, errno);
	close_fds(4, ~0U);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (char **c = p->paths; *c && !err; c++) {
		execve(*c, p->argv, p->envp);
		if (errno == ENOEXEC) {
			p->sh_argv[1] = *c;
			execve(p->sh_argv[0], p->sh_argv, p->envp);
			err = errno;
		} else if (errno == EACCES) {
			eacces = true;
		} else if (!path_miss(errno)) {
			err = errno;
		}
	}
	fail_exec(ew, STAGE_EXEC, err ? err : eacces ? EACCES : ENOENT);
}

static void forward_signal(int sig)
{
	int saved = errno;

	/* From a namespace init, -1 means every other process in the namespace. */
	kill(-1, sig);
	errno = saved;
}

static void send_init_msg(int fd, int kind, int a, int b)
{
	struct init_msg m = { kind, a, b };

	if (write(fd, &m, sizeof(m)) < 0)
		_exit(127);
}

/* After the agent: reap what already exited, then kill and count the rest. */
static int kill_namespace_leftovers(void)
{
	int n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (kill(-1, SIGKILL) < 0)
		return 0;
	for (;;) {
		if (waitpid(-1, NULL, 0) > 0)
			n++;
		else if (errno != EINTR)
			return n;
	}
}

static _Noreturn void init_main(struct plan *p)
{
	struct sigaction fwd = { .sa_handler = forward_signal };
	struct pollfd alive = { .fd = p->status_w, .events = POLLOUT };
	sigset_t all, none;
	pid_t agent, pid;
	int st = 0;

	/* A namespace init drops signals it has no handler for: install the
	 * forwarders before anything else. They run once unblocked below. */
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGINT, &fwd, NULL);
	for (int i = 0; i < 5; i++)
		close(p->parent_fds[i]);
	/* getppid() is 0 across the namespace boundary, so "is runpack still
	 * there" is asked of the status pipe: no reader left means POLLERR. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&alive, 1, 0) < 0 ||
	    (alive.revents & POLLERR))
		_exit(127);
	if (p->userns && write_id_maps(p->uid_map, p->gid_map) < 0) {
		send_init_msg(p->status_w, MSG_SETUP_FAILED, STAGE_USERNS, errno);
		_exit(127);
	}
	if (p->netns)
		loopback_up();
	send_init_msg(p->status_w, MSG_READY, 0, 0);

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	agent = clone_process(0);
	if (agent == 0)
		agent_main(p);
	if (agent < 0)
		fail_exec(p->exec_w, STAGE_FORK, errno);
	/* The agent's pipe ends (and runpack's stdio) must not stay open here:
	 * EOF on them is how runpack sees the agent's side close. */
	if (p->status_w > 0)
		close_fds(0, (unsigned int)p->status_w - 1);
	close_fds((unsigned int)p->status_w + 1, ~0U);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	do
		pid = waitpid(-1, &st, 0);
	while (pid != agent && (pid > 0 || errno == EINTR));
	if (pid != agent)
		_exit(127);
	send_init_msg(p->status_w, MSG_EXITED, st, kill_namespace_leftovers());
	_exit(0);
}

/* ---- in runpack ---- */

static int emit(struct run *run, const char *type, json_t *fields)
{
	if (!run->o->events) {
		json_decref(fields);
		return RP_OK;
	}
	return rp_events_emit(run->o->events, type, fields);
}

static char **strv_copy(const char *const *v, size_t *n_out)
{
	size_t n = 0;
	char **out;

	while (v[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			free_strv(out);
			return NULL;
		}
	}
	*n_out = n;
	return out;
}

/* Like execvp, but with the agent's PATH (glibc's uses runpack's own). */
static int exec_paths(struct plan *p)
{
	const char *name = p->argv[0], *path = "/bin:/usr/bin";
	size_t n = 1, i = 0;

	if (strchr(name, '/') || !*name) {
		/* An empty name finds nothing: the children report ENOENT. */
		p->paths = calloc(2, sizeof(char *));
		if (!p->paths || (*name && !(p->paths[0] = strdup(name))))
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		return RP_OK;
	}
	for (char **e = p->envp; *e; e++) {
		if (strncmp(*e, "PATH=", 5) == 0) {
			path = *e + 5;
			break;
		}
	}
	for (const char *c = path; *c; c++)
		n += *c == ':';
	p->paths = calloc(n + 1, sizeof(char *));
	if (!p->paths)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (const char *dir = path;; i++) {
		size_t len = strcspn(dir, ":");

		/* An empty PATH element means the working directory. */
		if (asprintf(&p->paths[i], "%.*s%s%s", (int)len, dir, len ? "/" : "", name) < 0) {
			p->paths[i] = NULL;
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		}
		if (!dir[len])
			break;
		dir += len + 1;
	}
	return RP_OK;
}

static int plan_prepare(struct plan *p, const struct rp_spawn_opts *o)
{
	static char sh[] = "/bin/sh";
	size_t argc = 0, envc;

	p->argv = strv_copy(o->argv, &argc);
	p->envp = strv_copy(o->envp, &envc);
	/* Borrows argv's strings; the children fill in slot 1. */
	p->sh_argv = p->argv ? calloc(argc + 2, sizeof(char *)) : NULL;
	if (!p->argv || !p->envp || !p->sh_argv)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	p->sh_argv[0] = sh;
	memcpy(p->sh_argv + 2, p->argv + 1, (argc - 1) * sizeof(char *));
	p->cwd = o->cwd;
	p->limit_data = o->memory_bytes > 0;
	p->data.rlim_cur = p->data.rlim_max = (rlim_t)o->memory_bytes;
	/* Real root bypasses RLIMIT_NPROC, so it would only pretend to limit. */
	p->limit_nproc = o->max_processes > 0 && getuid() != 0;
	p->nproc.rlim_cur = p->nproc.rlim_max = (rlim_t)o->max_processes;
	snprintf(p->uid_map, sizeof(p->uid_map), "%u %u 1\n", (unsigned)geteuid(),
		 (unsigned)geteuid());
	snprintf(p->gid_map, sizeof(p->gid_map), "%u %u 1\n", (unsigned)getegid(),
		 (unsigned)getegid());
	return exec_paths(p);
}

static void plan_release(struct plan *p)
{
	free_strv(p->argv);
	free_strv(p->envp);
	free_strv(p->paths);
	free(p->sh_argv);
	close_fd(&p->null_fd);
	close_fd(&p->out_w);
	close_fd(&p->err_w);
	close_fd(&p->exec_w);
	close_fd(&p->status_w);
}

static int make_pipe(int *r, int *w, bool nonblock_read)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return rp_error_set_errno(RP_E_IO, "spawn_failed", errno, "cannot create a pipe");
	*r = fds[0];
	*w = fds[1];
	if (nonblock_read) {
		/* Fewer, larger reads under a flood; the default size also works. */
		fcntl(*r, F_SETPIPE_SZ, PIPE_SIZE);
		if (fcntl(*r, F_SETFL, O_NONBLOCK) < 0)
			return rp_error_set_errno(RP_E_IO, "spawn_failed", errno,
						  "cannot configure a pipe");
	}
	return RP_OK;
}

static int open_channels(struct run *run)
{
	sigset_t set;
	int rc;

	rc = make_pipe(&run->out_r, &run->plan.out_w, true);
	if (!rc)
		rc = make_pipe(&run->err_r, &run->plan.err_w, true);
	if (!rc)
		rc = make_pipe(&run->exec_r, &run->plan.exec_w, false);
	if (rc)
		return rc;
	run->plan.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (run->plan.null_fd < 0)
		return rp_error_set_errno(RP_E_IO, "spawn_failed", errno, "cannot open /dev/null");
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	run->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (run->sfd < 0)
		return rp_error_set_errno(RP_E_IO, "spawn_failed", errno, "cannot create a signalfd");
	run->chunk = malloc(CHUNK);
	if (!run->chunk)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return RP_OK;
}

static bool ns_unavailable(int err)
{
	return err == EPERM || err == EINVAL || err == ENOSPC || err == EUSERS || err == EACCES;
}

/* Returns RP_OK when the tree runs, 1 when this kind of namespace is not
 * available here, or a negative code. */
static int start_ns(struct run *run, unsigned long flags)
{
	struct init_msg m = { 0 };
	int status_r, rc;
	ssize_t n;
	pid_t pid;

	rc = make_pipe(&status_r, &run->plan.status_w, false);
	if (rc)
		return rc;
	run->plan.userns = flags & CLONE_NEWUSER;
	run->plan.netns = flags & CLONE_NEWNET;
	run->plan.fallback = false;
	run->plan.parent_fds[0] = run->out_r;
	run->plan.parent_fds[1] = run->err_r;
	run->plan.parent_fds[2] = run->exec_r;
	run->plan.parent_fds[3] = status_r;
	run->plan.parent_fds[4] = run->sfd;
	pid = clone_process(flags);
	if (pid == 0)
		init_main(&run->plan);
	close_fd(&run->plan.status_w);
	if (pid < 0) {
		int err = errno;

		close(status_r);
		if (ns_unavailable(err))
			return 1;
		return rp_error_set_errno(RP_E_IO, "spawn_failed", err,
					  "cannot start the agent's process tree");
	}
	do
		n = read(status_r, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(m) && m.kind == MSG_READY) {
		run->pid = pid;
		run->ns = true;
		run->status_r = status_r;
		run->res->network_isolated = run->plan.netns;
		return RP_OK;
	}
	/* The kernel made the namespaces but would not let us use them (id
	 * maps refused, as under some LSM policies): try the next way. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(status_r);
	return 1;
}

static int start_fallback(struct run *run)
{
	pid_t pid;

	if (prctl(PR_GET_CHILD_SUBREAPER, &run->old_subreaper) < 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return rp_error_set_errno(RP_E_UNSUPPORTED, "spawn_failed", errno,
					  "cannot become a child subreaper");
	run->old_subreaper_set = true;
	run->plan.fallback = true;
	run->plan.parent = getpid();
	pid = clone_process(0);
	if (pid == 0)
		agent_main(&run->plan);
	if (pid < 0)
		return rp_error_set_errno(RP_E_IO, "spawn_failed", errno, "cannot fork the agent");
	run->pid = pid;
	run->ns = false;
	return RP_OK;
}

static int start_tree(struct run *run)
{
	const char *off = getenv("RUNPACK_NO_NAMESPACES");
	unsigned long tries[4];
	size_t n = 0;
	int rc = 1;

	/* Network isolation first if asked for. Root tries without a user
	 * namespace first; with one, an unprivileged runpack (or a root one
	 * lacking CAP_SYS_ADMIN, as in many containers) can still make the
	 * others. */
	if (!off || strcmp(off, "1") != 0) {
		for (int net = run->o->isolate_network; net >= 0; net--) {
			unsigned long base = CLONE_NEWPID | (net ? CLONE_NEWNET : 0);

			if (geteuid() == 0)
				tries[n++] = base;
			tries[n++] = base | CLONE_NEWUSER;
		}
	}
	for (size_t i = 0; i < n && rc == 1; i++)
		rc = start_ns(run, tries[i]);
	if (rc == 1)
		rc = start_fallback(run);
	if (rc)
		return rc;
	run->res->process_tree = run->ns ? "pid-namespace" : "process-group";
	run->res->memory_limited = run->plan.limit_data;
	run->res->processes_limited = run->plan.limit_nproc;
	close_fd(&run->plan.out_w);
	close_fd(&run->plan.err_w);
	close_fd(&run->plan.exec_w);
	close_fd(&run->plan.null_fd);
	return RP_OK;
}

/* Children of runpack, from every thread's list (in fallback mode the
 * agent's orphans are re-parented here). Calls fn(pid, sig) for each. */
static void for_each_child(void (*fn)(pid_t, int), int sig)
{
	struct rp_buf list = RP_BUF_INIT;
	char path[sizeof(((struct dirent *)0)->d_name) + 32], buf[4096];
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while ((n = rp_read_some(fd, buf, sizeof(buf))) > 0 &&
		       rp_buf_append(&list, buf, (size_t)n) == RP_OK)
			;
		close(fd);
		if (rp_buf_append(&list, " ", 1))
			break;
	}
	closedir(d);
	for (char *p = (char *)list.data, *end; p && *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0)
			fn((pid_t)pid, sig);
	}
	rp_buf_release(&list);
}

static void kill_child_and_group(pid_t pid, int sig)
{
	kill(-pid, sig);
	kill(pid, sig);
}

/*
 * Only ids of unreaped children are signalled: such a pid (and a group it
 * leads) cannot have been reused. Once the agent is reaped its group id
 * could be, so from then on the group is reached through the members, which
 * all end up as runpack's children (subreaper) as their parents die.
 */
static void signal_tree(struct run *run, int sig)
{
	if (run->tree_done)
		return;
	if (run->ns) {
		/* The init forwards SIGTERM inside; SIGKILL ends the namespace. */
		kill(run->pid, sig);
		return;
	}
	if (!run->agent_done)
		kill(-run->pid, sig);
	for_each_child(kill_child_and_group, sig);
}

/* Fallback mode, after the agent: kill every child of runpack (the agent's
 * re-parented descendants) until none is left. Returns how many. */
static int kill_fallback_leftovers(void)
{
	int n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (;;) {
		for_each_child(kill_child_and_group, SIGKILL);
		if (waitpid(-1, NULL, 0) > 0)
			n++;
		else if (errno != EINTR)
			return n;
	}
}

static int send_stop(struct run *run, int sig)
{
	char name[24];

	signal_tree(run, sig);
	sig_name(name, sig);
	if (sig == SIGKILL)
		run->res->escalated_kill = true;
	return emit(run, "signal_sent", json_pack("{s:s, s:s}", "signal", name, "target", "tree"));
}

static int stop_tree(struct run *run)
{
	int64_t grace = run->o->grace_ms > 0 ? run->o->grace_ms : DEFAULT_GRACE_MS;

	if (run->stopping)
		return run->res->escalated_kill ? RP_OK : send_stop(run, SIGKILL);
	run->stopping = true;
	run->kill_at = rp_mono_ms() + grace;
	return send_stop(run, SIGTERM);
}

static int handle_exec(struct run *run)
{
	struct exec_msg m;
	ssize_t n = rp_read_some(run->exec_r, &m, sizeof(m));

	if (n == sizeof(m) && !run->exec_failed) {
		run->exec_failed = true;
		run->res->exec_errno = m.err;
		return emit(run, "agent_start_failed",
			    json_pack("{s:s, s:s}", "stage",
				      m.stage > 0 && m.stage <= STAGE_EXEC ? stage_names[m.stage] : "?",
				      "error", strerror(m.err)));
	}
	if (n > 0)
		return RP_OK;
	close_fd(&run->exec_r);
	if (run->exec_failed)
		return RP_OK;
	run->res->started = true;
	return emit(run, "agent_started", json_pack("{s:i, s:s}", "pid", (int)run->pid,
						    "processTree", run->res->process_tree));
}

/* Everything has been said on the exec pipe once the agent is gone. */
static int drain_exec(struct run *run)
{
	int rc = RP_OK;

	while (run->exec_r >= 0 && !rc)
		rc = handle_exec(run);
	return rc;
}

static int agent_finished(struct run *run, int status, bool known, int leftovers)
{
	struct rp_spawn_result *res = run->res;
	char name[24];
	int rc = drain_exec(run);

	run->agent_done = true;
	if (rc || !res->started)
		goto done;
	if (!known) {
		/* Only a SIGKILL stops the init before it reports: the kernel then
		 * killed the agent with the whole namespace. */
		res->signal = SIGKILL;
	} else if (WIFEXITED(status)) {
		res->exited = true;
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
	}
	sig_name(name, res->signal);
	rc = emit(run, "agent_exited", res->exited ? json_pack("{s:i}", "exitCode", res->exit_code)
						   : json_pack("{s:s}", "signal", name));
done:
	if (!rc && leftovers > 0)
		rc = emit(run, "leftovers_killed", json_pack("{s:i}", "count", leftovers));
	return rc;
}

static int handle_status(struct run *run)
{
	struct init_msg m;
	ssize_t n = rp_read_some(run->status_r, &m, sizeof(m));

	if (n == sizeof(m) && m.kind == MSG_EXITED)
		return agent_finished(run, m.a, true, m.b);
	if (n <= 0)
		close_fd(&run->status_r);
	return RP_OK;
}

static void tree_gone(struct run *run)
{
	run->tree_done = true;
	run->drain_until = rp_mono_ms() + DRAIN_MS;
}

static int reap(struct run *run)
{
	pid_t pid;
	int st, rc = RP_OK;

	if (run->ns) {
		if (run->tree_done || waitpid(run->pid, &st, WNOHANG) != run->pid)
			return RP_OK;
		/* The init wrote its report before exiting: read it first. */
		while (run->status_r >= 0 && !run->agent_done && !rc)
			rc = handle_status(run);
		if (!rc && !run->agent_done)
			rc = agent_finished(run, 0, false, 0);
		tree_gone(run);
		return rc;
	}
	while (!run->agent_done && (pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == run->pid)
			rc = agent_finished(run, st, true, kill_fallback_leftovers());
	if (run->agent_done && !run->tree_done)
		tree_gone(run);
	return rc;
}

static int handle_signals(struct run *run)
{
	struct signalfd_siginfo si;
	char name[24];
	int rc = RP_OK;

	while (!rc && rp_read_some(run->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			rc = reap(run);
			continue;
		}
		if (!run->res->cancelled) {
			run->res->cancelled = true;
			run->res->cancel_signal = (int)si.ssi_signo;
			sig_name(name, (int)si.ssi_signo);
			rc = emit(run, "cancel_requested", json_pack("{s:s}", "signal", name));
		}
		/* A second stop request does not wait out the grace period. */
		if (!rc && !run->tree_done)
			rc = stop_tree(run);
	}
	return rc;
}

static int pump(struct run *run, int *fd, rp_spawn_sink sink, void *ctx)
{
	ssize_t n = rp_read_some(*fd, run->chunk, CHUNK);

	if (n > 0)
		return sink(ctx, run->chunk, (size_t)n);
	if (n == 0)
		close_fd(fd);
	else if (errno != EAGAIN)
		return rp_error_set_errno(RP_E_IO, "spawn_failed", errno,
					  "cannot read the agent's output");
	return RP_OK;
}

static int poll_timeout(const struct run *run, int64_t now)
{
	int64_t next = -1;

	if (!run->stopping && run->deadline)
		next = run->deadline;
	if (run->stopping && !run->res->escalated_kill && !run->tree_done &&
	    (next < 0 || run->kill_at < next))
		next = run->kill_at;
	if (run->tree_done && (next < 0 || run->drain_until < next))
		next = run->drain_until;
	/* Wake up at least every second: a SIGCHLD taken by some thread that
	 * does not block it would otherwise leave the tree unreaped forever. */
	if (next < 0 || next - now > 1000)
		return 1000;
	return next <= now ? 0 : (int)(next - now);
}

static int check_clocks(struct run *run)
{
	int64_t now = rp_mono_ms();
	int rc = RP_OK;

	if (!run->stopping && !run->tree_done && run->deadline && now >= run->deadline) {
		run->res->timed_out = true;
		rc = emit(run, "timeout", json_pack("{s:I}", "afterMs", (json_int_t)run->o->wall_ms));
		if (!rc)
			rc = stop_tree(run);
	} else if (run->stopping && !run->res->escalated_kill && !run->tree_done &&
		   now >= run->kill_at) {
		rc = send_stop(run, SIGKILL);
	}
	return rc;
}

static int supervise(struct run *run)
{
	const struct rp_spawn_opts *o = run->o;
	struct pollfd pfd[5];
	int rc = RP_OK, ready;

	if (o->wall_ms > 0)
		run->deadline = rp_mono_ms() + o->wall_ms;
	while (!rc) {
		if (run->tree_done && ((run->out_r < 0 && run->err_r < 0) ||
				       rp_mono_ms() >= run->drain_until))
			break;
		rc = check_clocks(run);
		if (rc)
			break;
		pfd[0] = (struct pollfd){ .fd = run->exec_r, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = run->status_r, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = run->sfd, .events = POLLIN };
		pfd[3] = (struct pollfd){ .fd = run->out_r, .events = POLLIN };
		pfd[4] = (struct pollfd){ .fd = run->err_r, .events = POLLIN };
		ready = poll(pfd, 5, poll_timeout(run, rp_mono_ms()));
		if (ready < 0 && errno != EINTR) {
			rc = rp_error_set_errno(RP_E_IO, "spawn_failed", errno, "poll failed");
			break;
		}
		if (ready <= 0) {
			rc = reap(run);
			continue;
		}
		if (pfd[0].revents)
			rc = handle_exec(run);
		if (!rc && pfd[1].revents)
			rc = handle_status(run);
		if (!rc && pfd[2].revents)
			rc = handle_signals(run);
		if (!rc && pfd[3].revents)
			rc = pump(run, &run->out_r, o->out_sink, o->out_ctx);
		if (!rc && pfd[4].revents)
			rc = pump(run, &run->err_r, o->err_sink, o->err_ctx);
	}
	return rc;
}

/* An internal failure mid-run: take the whole tree down, leave no zombie. */
static void abort_tree(struct run *run)
{
	if (run->pid <= 0 || run->tree_done)
		return;
	if (run->ns) {
		kill(run->pid, SIGKILL);
		while (waitpid(run->pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		kill_fallback_leftovers();
	}
	run->tree_done = true;
}

int rp_spawn_run(struct rp_spawn_result *res, const struct rp_spawn_opts *opts)
{
	struct run run = {
		.o = opts, .res = res,
		.out_r = -1, .err_r = -1, .exec_r = -1, .status_r = -1, .sfd = -1,
		.plan = { .null_fd = -1, .out_w = -1, .err_w = -1, .exec_w = -1, .status_w = -1 },
	};
	sigset_t mask;
	int rc, sig;

	*res = (struct rp_spawn_result){ 0 };
	res->started_ms = rp_now_ms();
	if (!opts->argv || !opts->argv[0] || !opts->envp || !opts->cwd || !opts->out_sink ||
	    !opts->err_sink) {
		rc = rp_error_set(RP_E_INTERNAL, NULL, "incomplete spawn options");
		goto done;
	}
	/* Unblocked, a stop signal would kill runpack instead of the tree. */
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	if (!sigismember(&mask, SIGINT) || !sigismember(&mask, SIGTERM) ||
	    !sigismember(&mask, SIGCHLD)) {
		rc = rp_error_set(RP_E_INTERNAL, NULL,
				  "SIGINT, SIGTERM and SIGCHLD must be blocked before spawning");
		goto done;
	}
	if (rp_spawn_cancel_pending(&sig)) {
		sigset_t set;
		char name[24];

		sigemptyset(&set);
		sigaddset(&set, sig);
		sigtimedwait(&set, NULL, &(struct timespec){ 0 });
		res->cancelled = true;
		res->cancel_signal = sig;
		sig_name(name, sig);
		rc = emit(&run, "cancel_requested", json_pack("{s:s}", "signal", name));
		goto done;
	}
	rc = plan_prepare(&run.plan, opts);
	if (!rc)
		rc = open_channels(&run);
	if (!rc)
		rc = start_tree(&run);
	if (!rc)
		rc = supervise(&run);
	if (rc)
		abort_tree(&run);
done:
	res->ended_ms = rp_now_ms();
	if (run.old_subreaper_set)
		prctl(PR_SET_CHILD_SUBREAPER, run.old_subreaper);
	close_fd(&run.out_r);
	close_fd(&run.err_r);
	close_fd(&run.exec_r);
	close_fd(&run.status_r);
	close_fd(&run.sfd);
	plan_release(&run.plan);
	free(run.chunk);
	return rc;
}

int rp_spawn_block_signals(void)
{
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (err)
		return rp_error_set_errno(RP_E_INTERNAL, NULL, err, "cannot block signals");
	return RP_OK;
}

bool rp_spawn_cancel_pending(int *signo)
{
	sigset_t set;

	if (sigpending(&set) < 0)
		return false;
	if (sigismember(&set, SIGTERM))
		*signo = SIGTERM;
	else if (sigismember(&set, SIGINT))
		*signo = SIGINT;
	else
		return false;
	return true;
}

enum { CAP_PID = 1, CAP_NET = 2, CAP_USER = 4 };

/* In a throwaway child: each unshare affects only that child. */
static _Noreturn void probe_main(const char *uid_map, const char *gid_map)
{
	int bits = 0;

	if (geteuid() == 0) {
		bits |= unshare(CLONE_NEWPID) == 0 ? CAP_PID : 0;
		bits |= unshare(CLONE_NEWNET) == 0 ? CAP_NET : 0;
	}
	if (unshare(CLONE_NEWUSER) == 0 && write_id_maps(uid_map, gid_map) == 0) {
		bits |= CAP_USER;
		if (!(bits & CAP_PID) && unshare(CLONE_NEWPID) == 0)
			bits |= CAP_PID;
		if (!(bits & CAP_NET) && unshare(CLONE_NEWNET) == 0)
			bits |= CAP_NET;
	}
	_exit(bits);
}

void rp_spawn_probe(struct rp_spawn_caps *caps)
{
	char uid_map[32], gid_map[32];
	pid_t pid, w;
	int st = 0;

	*caps = (struct rp_spawn_caps){ 0 };
	snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
	snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
	pid = clone_process(0);
	if (pid == 0)
		probe_main(uid_map, gid_map);
	if (pid < 0)
		return;
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	if (w != pid || !WIFEXITED(st))
		return;
	caps->pid_namespace = WEXITSTATUS(st) & CAP_PID;
	caps->net_namespace = WEXITSTATUS(st) & CAP_NET;
	caps->user_namespace = WEXITSTATUS(st) & CAP_USER;
}
