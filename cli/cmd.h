/*
 * cmd: the command layer. Owns argument parsing, everything printed, and the
 * exit codes. Each command lives in cmd_<name>.c and is listed in main.c's
 * table; the modules below never print or exit.
 */
#ifndef RP_CMD_H
#define RP_CMD_H

#include <stdio.h>

/* Exit codes of `run` (DESIGN.md); verify uses 0, 1 and 2. */
enum rp_exit {
	RP_EXIT_OK = 0,
	RP_EXIT_FAILED = 1,    /* run: agent did not succeed; verify: invalid */
	RP_EXIT_USAGE = 2,
	RP_EXIT_REJECTED = 3,
	RP_EXIT_CANCELLED = 4,
	RP_EXIT_INTERNAL = 5,
};

struct rp_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	void (*usage)(FILE *f);
};

int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_redact(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
void cmd_run_usage(FILE *f);
void cmd_verify_usage(FILE *f);
void cmd_inspect_usage(FILE *f);
void cmd_keygen_usage(FILE *f);
void cmd_redact_usage(FILE *f);
void cmd_doctor_usage(FILE *f);

/* "runpack: CMD: <message>" plus a pointer to CMD's --help on stderr;
 * returns RP_EXIT_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "runpack: <message>" on stderr, from the last rp_error. */
void cmd_print_error(const char *context);
/* Print a JSON value on stdout as one line plus newline; checks the write and
 * the flush. Returns 0 or -1. */
int cmd_print_json(const void *json);

/* State dir resolution: flag, RUNPACK_STATE_DIR, policy stateDir, default
 * (/var/lib/runpack for root, else $XDG_STATE_HOME/runpack or
 * ~/.local/state/runpack). Returns malloc'd path. */
char *cmd_state_dir(const char *flag, const char *policy_dir);
/* Path of the per-host key in a state dir (malloc'd); public = ".pub". */
char *cmd_host_key_path(const char *state_dir, int public_half);

#endif
