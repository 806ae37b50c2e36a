/*
 * runpack entry point: the command table. Each command parses its own flags,
 * calls the modules, prints, and returns its exit code.
 */
#include "cmd.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const struct rp_cmd commands[] = {
	{ "run", "run a job manifest and write a signed result package", cmd_run, cmd_run_usage },
	{ "verify", "verify a result package offline", cmd_verify, cmd_verify_usage },
	{ "inspect", "show what a result package holds", cmd_inspect, cmd_inspect_usage },
	{ "keygen", "create a signing key pair (minisign format)", cmd_keygen, cmd_keygen_usage },
	{ "redact", "mask secrets in a stream (stdin to stdout)", cmd_redact, cmd_redact_usage },
	{ "doctor", "report what this host can enforce", cmd_doctor, cmd_doctor_usage },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: runpack COMMAND [OPTIONS]\n\n"
		   "runpack runs one agent job in a prepared workspace under policy and\n"
		   "writes one signed, deterministic result package.\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'runpack COMMAND --help' shows a command's options.\n"
		   "Environment: RUNPACK_POLICY, RUNPACK_KEY, RUNPACK_STATE_DIR.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (sodium_init() < 0) {
		fprintf(stderr, "runpack: cannot initialise libsodium\n");
		return RP_EXIT_INTERNAL;
	}
	if (argc < 2) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("runpack %s\n", RP_VERSION);
		return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "runpack: unknown command '%s' (see 'runpack --help')\n", argv[1]);
	return RP_EXIT_USAGE;
}
