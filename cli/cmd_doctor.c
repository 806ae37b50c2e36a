/*
 * runpack doctor: what this host can enforce, the library versions, where the
 * state and the signing key live, and the policy a run would use.
 */
#include "cmd.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_policy.h"
#include "rp_spawn.h"
#include "rp_util.h"

#include <archive.h>
#include <getopt.h>
#include <git2.h>
#include <jansson.h>
#include <linux/landlock.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

void cmd_doctor_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack doctor [--json] [--policy FILE] [--state-dir DIR]\n\n"
		"Reports Landlock, namespaces, seccomp and cgroup v2 support, library\n"
		"versions, the state dir and signing key, and the policy runs would use\n"
		"(the built-in one unless --policy or $RUNPACK_POLICY names a file).\n"
		"Human-readable by default; --json prints one JSON object.\n\n"
		"exit codes: 0 done; 1 the policy is invalid; 2 usage error.\n");
}

static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static json_t *seccomp_json(void)
{
	struct rp_buf actions = RP_BUF_INIT;
	json_t *o = json_object();
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);

	json_object_set_new(o, "available", json_boolean(mode >= 0));
	if (rp_read_file(&actions, "/proc/sys/kernel/seccomp/actions_avail", 4096, 0) == RP_OK) {
		while (actions.len && actions.data[actions.len - 1] == '\n')
			actions.data[--actions.len] = '\0';
		json_object_set_new(o, "actions", json_string((char *)actions.data));
	}
	rp_error_clear();
	rp_buf_release(&actions);
	return o;
}

/* The cgroup v2 mount point from mountinfo (hybrid hosts mount it aside). */
static char *cgroup2_mount(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], *found = NULL;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");
		char mnt[2048];

		if (sep && sscanf(line, "%*s %*s %*s %*s %2047s", mnt) == 1)
			found = strdup(mnt);
	}
	fclose(f);
	return found;
}

static json_t *cgroup_json(void)
{
	struct rp_buf ctl = RP_BUF_INIT;
	char *mnt = cgroup2_mount(), *path = NULL;
	json_t *o = json_object(), *list = json_array();
	char *tok, *save = NULL;

	json_object_set_new(o, "mounted", json_boolean(mnt != NULL));
	json_object_set_new(o, "mountPoint", mnt ? json_string(mnt) : json_null());
	if (mnt && (path = rp_path_join(mnt, "cgroup.controllers")) &&
	    rp_read_file(&ctl, path, 4096, 0) == RP_OK && ctl.data) {
		for (tok = strtok_r((char *)ctl.data, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save))
			json_array_append_new(list, json_string(tok));
	}
	rp_error_clear();
	json_object_set_new(o, "controllers", list);
	free(mnt);
	free(path);
	rp_buf_release(&ctl);
	return o;
}

static json_t *versions_json(void)
{
	char git[32];
	int major = 0, minor = 0, rev = 0;

	git_libgit2_version(&major, &minor, &rev);
	snprintf(git, sizeof(git), "%d.%d.%d", major, minor, rev);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
			 "runpack", RP_VERSION,
			 "libarchive", archive_version_details(),
			 "jansson", jansson_version_str(),
			 "libgit2", git,
			 "libsodium", sodium_version_string(),
			 "libcrypto", OpenSSL_version(OPENSSL_VERSION));
}

static json_t *policy_json(const char *path)
{
	struct rp_buf text = RP_BUF_INIT;
	struct rp_policy *p = NULL;
	json_t *o;
	int rc;

	if (path) {
		rc = rp_read_file(&text, path, 1u << 20, 0);
		if (!rc)
			rc = rp_policy_parse(&p, path, (const char *)text.data, text.len);
	} else {
		rc = rp_policy_default(&p);
	}
	o = json_pack("{s:s}", "source", path ? path : "built-in");
	if (rc)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", rp_error_last()->id,
							   "message", rp_error_last()->msg));
	else
		json_object_set_new(o, "policy", rp_policy_to_json(p));
	rp_policy_free(p);
	rp_buf_release(&text);
	return o;
}

static void print_human(const json_t *d)
{
	const json_t *k = json_object_get(d, "kernel"), *ns = json_object_get(k, "namespaces");
	const json_t *cg = json_object_get(k, "cgroup2");
	json_t *v = json_object_get(d, "libraries");
	const json_t *key = json_object_get(d, "signingKey"), *c, *pol = json_object_get(d, "policy");
	const char *name;
	size_t i;

	printf("landlock ABI:        %lld\n",
	       (long long)json_integer_value(json_object_get(k, "landlockAbi")));
	printf("namespaces:          user %s, pid %s, network %s\n",
	       json_is_true(json_object_get(ns, "user")) ? "yes" : "no",
	       json_is_true(json_object_get(ns, "pid")) ? "yes" : "no",
	       json_is_true(json_object_get(ns, "network")) ? "yes" : "no");
	printf("seccomp:             %s\n",
	       json_is_true(json_object_get(json_object_get(k, "seccomp"), "available")) ? "yes" : "no");
	printf("cgroup v2:           %s (", json_is_true(json_object_get(cg, "mounted")) ?
	       json_string_value(json_object_get(cg, "mountPoint")) : "not mounted");
	json_array_foreach(json_object_get(cg, "controllers"), i, c)
		printf("%s%s", i ? " " : "", json_string_value(c));
	printf(")\n");
	json_object_foreach(v, name, c)
		printf("%-20s %s\n", name, json_string_value(c));
	printf("state dir:           %s\n", json_string_value(json_object_get(d, "stateDir")));
	printf("signing key:         %s (%s)\n", json_string_value(json_object_get(key, "path")),
	       json_is_true(json_object_get(key, "exists")) ? "exists" : "created on first run");
	printf("policy:              %s%s\n", json_string_value(json_object_get(pol, "source")),
	       json_object_get(pol, "error") ? " (INVALID)" : "");
	if (json_object_get(pol, "error"))
		printf("  %s\n", json_string_value(json_object_get(json_object_get(pol, "error"), "message")));
	printf("\nrunpack doctor --json shows everything, the effective policy included.\n");
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "policy", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = getenv("RUNPACK_POLICY"), *state_flag = NULL, *key_env = getenv("RUNPACK_KEY");
	struct rp_spawn_caps caps;
	char *state = NULL, *key = NULL;
	bool as_json = false;
	struct stat st;
	json_t *doc = NULL, *pol;
	int c, rc = RP_EXIT_USAGE;

	if (policy && !*policy)
		policy = NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jp:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'p': policy = optarg; break;
		case 'd': state_flag = optarg; break;
		case 'h':
			cmd_doctor_usage(stdout);
			return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
		default:
			return cmd_usage_error("doctor", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
	git_libgit2_init();
	rp_spawn_probe(&caps);
	pol = policy_json(policy);
	state = cmd_state_dir(state_flag, NULL);
	key = key_env && *key_env ? strdup(key_env) : state ? cmd_host_key_path(state, 0) : NULL;
	if (!state || !key || !pol) {
		fprintf(stderr, "runpack: out of memory\n");
		rc = RP_EXIT_INTERNAL;
		goto done;
	}
	doc = json_pack("{s:{s:i, s:{s:b, s:b, s:b}, s:o, s:o}, s:o, s:s, s:{s:s, s:b, s:s}, s:o}",
			"kernel", "landlockAbi", landlock_abi(),
			"namespaces", "user", caps.user_namespace, "pid", caps.pid_namespace,
			"network", caps.net_namespace,
			"seccomp", seccomp_json(), "cgroup2", cgroup_json(),
			"libraries", versions_json(),
			"stateDir", state,
			"signingKey", "path", key, "exists", lstat(key, &st) == 0,
			"source", key_env && *key_env ? "RUNPACK_KEY" : "per-host",
			"policy", pol);
	pol = NULL;
	if (!doc) {
		fprintf(stderr, "runpack: cannot build the report\n");
		rc = RP_EXIT_INTERNAL;
		goto done;
	}
	if (as_json) {
		rc = cmd_print_json(doc) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
	} else {
		print_human(doc);
		rc = fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
	}
	/* A policy that would reject every run is worth a non-zero exit. */
	if (rc == RP_EXIT_OK && json_object_get(json_object_get(doc, "policy"), "error"))
		rc = RP_EXIT_FAILED;
done:
	json_decref(pol);
	json_decref(doc);
	free(state);
	free(key);
	git_libgit2_shutdown();
	return rc;
}
