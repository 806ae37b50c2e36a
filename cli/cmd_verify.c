/* runpack verify: check a result package offline against a public key. */
#include "cmd.h"
#include "rp_error.h"
#include "rp_sign.h"
#include "rp_util.h"
#include "rp_verify.h"

#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmd_verify_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack verify PACKAGE (--pubkey FILE | -P BASE64) [--json]\n"
		"\n"
		"Check a result package offline, in this order: the signature over its\n"
		"attestation, every entry's sha256, exactly the entries listed (none\n"
		"missing, none extra), and entry safety. The first failure is reported.\n"
		"Exit status: 0 valid, 1 invalid, 2 usage error or unreadable input.\n"
		"\n"
		"  -p, --pubkey FILE   the signer's public key file (minisign format)\n"
		"  -P BASE64           the public key as its base64 line (as minisign -P)\n"
		"      --json          also print the outcome as one JSON object on stdout:\n"
		"                      {\"package\", \"valid\", \"failure\", \"entry\",\n"
		"                       \"message\", \"keyId\", \"entries\"}\n"
		"  -h, --help          show this help\n");
}

/* Package paths and entry names are bytes; JSON wants UTF-8. */
static json_t *json_name(const char *s)
{
	json_t *j;
	char *copy;

	if (rp_utf8_valid(s, strlen(s)))
		return json_string(s);
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static int print_report(const char *pkg, const struct rp_verify_report *rep)
{
	json_t *out;
	int rc;

	out = json_pack("{s:o, s:b, s:o, s:o, s:o, s:o, s:I}",
			"package", json_name(pkg),
			"valid", rep->valid,
			"failure", rep->valid ? json_null()
					      : json_string(rp_verify_failure_id(rep->failure)),
			"entry", rep->entry[0] ? json_name(rep->entry) : json_null(),
			"message", json_name(rep->message),
			"keyId", rep->keyid[0] ? json_string(rep->keyid) : json_null(),
			"entries", (json_int_t)rep->entries);
	rc = out ? cmd_print_json(out) : -1;
	json_decref(out);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = NULL, *key_b64 = NULL, *pkg;
	struct rp_verify_report rep;
	struct rp_key *pub = NULL;
	bool json = false;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			key_file = optarg;
			break;
		case 'P':
			key_b64 = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			cmd_verify_usage(stdout);
			return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
		case ':':
			return cmd_usage_error("verify", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error("verify", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error("verify", "which package? give PACKAGE");
	if (optind + 1 < argc)
		return cmd_usage_error("verify", "unexpected argument '%s' (one package at a time)",
				   argv[optind + 1]);
	pkg = argv[optind];
	if (key_file && key_b64)
		return cmd_usage_error("verify", "give the public key once: --pubkey FILE or -P BASE64");
	if (!key_file && !key_b64)
		return cmd_usage_error("verify", "a public key is needed: --pubkey FILE or -P BASE64");

	if (key_file ? rp_key_load_public(&pub, key_file) : rp_key_parse_public(&pub, key_b64)) {
		cmd_print_error(key_file ? NULL : "-P");
		return RP_EXIT_USAGE;
	}
	if (rp_verify_package(&rep, pkg, pub)) {
		cmd_print_error(NULL);
		rc = RP_EXIT_USAGE;
		goto done;
	}
	if (rep.valid)
		fprintf(stderr, "runpack: %s: %s\n", pkg, rep.message);
	else
		fprintf(stderr, "runpack: %s: INVALID: %s\n", pkg, rep.message);
	rc = rep.valid ? RP_EXIT_OK : RP_EXIT_FAILED;
	if (json && print_report(pkg, &rep) != 0) {
		fputs("runpack: verify: cannot print the result on stdout\n", stderr);
		rc = RP_EXIT_USAGE;
	}
	rp_verify_report_release(&rep);
done:
	rp_key_free(pub);
	return rc;
}
