/* runpack keygen: create a minisign-format signing key pair. */
#include "cmd.h"
#include "rp_error.h"
#include "rp_sign.h"

#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void cmd_keygen_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack keygen --secret-key FILE --public-key FILE [--force]\n"
		"\n"
		"Create an Ed25519 key pair in minisign's format. The secret key (written\n"
		"unencrypted, mode 0600) signs result packages; the public key (0644)\n"
		"verifies them, with runpack verify or with stock minisign. Existing key\n"
		"files are left alone unless --force is given. Prints\n"
		"{\"secretKey\", \"publicKey\", \"keyId\"} on stdout.\n"
		"\n"
		"  -s, --secret-key FILE   where to write the secret key\n"
		"  -p, --public-key FILE   where to write the public key\n"
		"  -f, --force             replace existing key files\n"
		"  -h, --help              show this help\n");
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret-key", required_argument, NULL, 's' },
		{ "public-key", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *secret_path = NULL, *public_path = NULL;
	struct rp_key *k = NULL;
	json_t *out = NULL;
	bool force = false;
	int c, rc = RP_EXIT_OK;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:p:fh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret_path = optarg;
			break;
		case 'p':
			public_path = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			cmd_keygen_usage(stdout);
			return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
		case ':':
			return cmd_usage_error("keygen", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error("keygen", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (!secret_path || !*secret_path)
		return cmd_usage_error("keygen", "--secret-key FILE is required");
	if (!public_path || !*public_path)
		return cmd_usage_error("keygen", "--public-key FILE is required");

	if (rp_key_generate(&k) || rp_key_write(k, secret_path, public_path, force)) {
		cmd_print_error("keygen");
		if (strcmp(rp_error_last()->id, "key_exists") == 0)
			fputs("runpack: keygen: nothing was written; use --force to replace the "
			      "existing key pair\n", stderr);
		rc = RP_EXIT_USAGE;
		goto done;
	}
	fprintf(stderr, "runpack: created key %s: secret key '%s', public key '%s'\n", k->keyid,
		secret_path, public_path);
	out = json_pack("{s:s, s:s, s:s}", "secretKey", secret_path, "publicKey", public_path,
			"keyId", k->keyid);
	if (!out || cmd_print_json(out) != 0) {
		fputs("runpack: keygen: cannot print the summary on stdout\n", stderr);
		rc = RP_EXIT_USAGE;
	}
done:
	json_decref(out);
	rp_key_free(k);
	return rc;
}
