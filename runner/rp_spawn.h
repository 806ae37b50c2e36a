/*
 * rp_spawn: run the agent command and supervise its whole process tree.
 *
 * Owns: the child processes, the capture pipes, the timers and the signal
 * handling of one run. The agent gets an explicit environment, stdin from
 * /dev/null, and its own process tree:
 *   - preferred: a new PID namespace (plus a user namespace when runpack is
 *     not root) whose init is a small runpack-forked reaper with
 *     PR_SET_PDEATHSIG=SIGKILL. Killing that init kills every process in the
 *     namespace, double-forked grandchildren included, and if runpack dies
 *     the init dies and takes the tree with it. When the agent exits, any
 *     processes it left behind are killed with the namespace.
 *   - fallback (no namespaces): a new session and process group, runpack as
 *     child subreaper, and a kill loop over the group and every re-parented
 *     descendant until none is left. In this mode a run reaps and kills
 *     every child runpack has (waitpid(-1)), so run it with no other child
 *     processes alive. RUNPACK_NO_NAMESPACES=1 in runpack's environment
 *     forces this mode (tests, or hosts where namespaces misbehave).
 * With isolate_network the tree also gets a new, empty network namespace
 * (loopback up).
 *
 * Stops: wall timeout, or SIGINT/SIGTERM delivered to runpack (the caller must
 * block SIGINT, SIGTERM and SIGCHLD with rp_spawn_block_signals() before any
 * setup and before creating any thread, so a signal that arrives early is
 * seen, not lost). A stop sends SIGTERM to the tree, waits grace_ms, then
 * sends SIGKILL; a second SIGINT/SIGTERM sends SIGKILL at once. The signal
 * that cancels a run is consumed.
 *
 * Never prints; reports through rp_events and the result struct. Events:
 * agent_started {pid, processTree}, agent_start_failed {stage, error},
 * timeout {afterMs}, cancel_requested {signal}, signal_sent {signal, target},
 * agent_exited {exitCode | signal}, leftovers_killed {count}.
 */
#ifndef RP_SPAWN_H
#define RP_SPAWN_H

#include "rp_events.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives raw agent output; returns RP_OK or a negative rp_code (which
 * aborts the run as an internal error). */
typedef int (*rp_spawn_sink)(void *ctx, const unsigned char *p, size_t n);

struct rp_spawn_opts {
	const char *const *argv;     /* argv[0] is looked up in the envp PATH */
	const char *const *envp;     /* the complete environment of the agent */
	const char *cwd;             /* absolute directory */
	int64_t wall_ms;             /* 0 = no timeout */
	int64_t grace_ms;            /* SIGTERM to SIGKILL; 0 = 5000 */
	int64_t memory_bytes;        /* RLIMIT_DATA; 0 = none */
	int64_t max_processes;       /* RLIMIT_NPROC; 0 = none */
	bool isolate_network;        /* new empty network namespace */
	rp_spawn_sink out_sink, err_sink;
	void *out_ctx, *err_ctx;
	struct rp_events *events;    /* may be NULL */
};

struct rp_spawn_result {
	bool started;          /* the agent was exec'd */
	int exec_errno;        /* when !started and not cancelled: why exec failed */
	bool exited;           /* exited normally: exit_code is valid */
	int exit_code;
	int signal;            /* terminating signal, 0 when none */
	bool timed_out;
	bool cancelled;        /* SIGINT/SIGTERM reached runpack */
	int cancel_signal;
	bool escalated_kill;   /* grace ran out: SIGKILL was sent */
	int64_t started_ms, ended_ms; /* wall clock, epoch ms */
	const char *process_tree;     /* "pid-namespace" or "process-group" */
	bool network_isolated;
	bool memory_limited;
	bool processes_limited;
};

/* What the kernel lets this process do; used for planning and by doctor. */
struct rp_spawn_caps {
	bool pid_namespace;
	bool net_namespace;
	bool user_namespace;
};

void rp_spawn_probe(struct rp_spawn_caps *caps);

/* Block SIGINT, SIGTERM and SIGCHLD for the calling thread. */
int rp_spawn_block_signals(void);
/* true when SIGINT or SIGTERM is pending (blocked, not yet consumed). */
bool rp_spawn_cancel_pending(int *signo);

/*
 * Run the agent to completion. Returns RP_OK whenever the outcome is known
 * (including failure to exec, timeout and cancellation: see *res), and a
 * negative code only for internal failures (pipes, fork; or SIGINT, SIGTERM
 * and SIGCHLD not blocked), in which case any started tree has been killed.
 */
int rp_spawn_run(struct rp_spawn_result *res, const struct rp_spawn_opts *opts);

#endif
