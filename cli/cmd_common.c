/* Helpers shared by the commands: error and JSON printing, state dir. */
#include "cmd.h"
#include "rp_error.h"
#include "rp_util.h"

#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "runpack: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'runpack %s --help'.\n", cmd);
	return RP_EXIT_USAGE;
}

void cmd_print_error(const char *context)
{
	const struct rp_error *e = rp_error_last();

	if (context && *context)
		fprintf(stderr, "runpack: %s: %s\n", context, e->msg);
	else
		fprintf(stderr, "runpack: %s\n", e->msg);
}

int cmd_print_json(const void *json)
{
	char *text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);
	int rc = 0;

	if (!text)
		return -1;
	if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
		rc = -1;
	free(text);
	return rc;
}

char *cmd_state_dir(const char *flag, const char *policy_dir)
{
	const char *env = getenv("RUNPACK_STATE_DIR"), *xdg, *home;
	struct passwd *pw;
	char *out = NULL;

	if (flag && *flag)
		return strdup(flag);
	if (env && *env)
		return strdup(env);
	if (policy_dir && *policy_dir)
		return strdup(policy_dir);
	if (geteuid() == 0)
		return strdup("/var/lib/runpack");
	xdg = getenv("XDG_STATE_HOME");
	if (xdg && *xdg == '/')
		return rp_path_join(xdg, "runpack");
	home = getenv("HOME");
	if (!home || *home != '/') {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/tmp";
	}
	if (asprintf(&out, "%s/.local/state/runpack", home) < 0)
		return NULL;
	return out;
}

char *cmd_host_key_path(const char *state_dir, int public_half)
{
	char *out = NULL;

	if (asprintf(&out, "%s/keys/host.%s", state_dir, public_half ? "pub" : "key") < 0)
		return NULL;
	return out;
}
