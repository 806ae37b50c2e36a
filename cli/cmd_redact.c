/*
 * runpack redact: the package's redaction engine as a stdin-to-stdout filter
 * for CI pipelines: the built-in credential rules, the policy's custom rules
 * and the values of --secret-env variables, streamed in constant memory.
 */
#include "cmd.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_policy.h"
#include "rp_redact.h"
#include "rp_util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REDACT_POLICY_MAX (1u << 20)

void cmd_redact_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack redact [--policy FILE] [--secret-env NAME]... [--report]\n\n"
		"Copies stdin to stdout with credentials masked as [REDACTED:<rule-id>]:\n"
		"the built-in rules (tokens and keys of some 200 services, private key\n"
		"blocks, JWTs, card numbers, passwords in URLs and assignments), the\n"
		"policy's redaction.rules, and every value of the named environment\n"
		"variables (raw, base64 at every alignment, URL-encoded, JSON-escaped,\n"
		"hex) as [REDACTED:secret:NAME]. Line breaks are kept.\n\n"
		"  --policy FILE      operator policy whose redaction.rules are added\n"
		"                     (default: $RUNPACK_POLICY, else built-in)\n"
		"  --secret-env NAME  mask the value of environment variable NAME (repeatable;\n"
		"                     values shorter than %d bytes are refused)\n"
		"  --report           print findings as JSON on stderr at the end:\n"
		"                     {\"findings\":[{\"entry\":\"stdin\",\"rule\":ID,\"count\":N}]}\n\n"
		"exit codes: 0 done; 2 usage error or unreadable input.\n",
		RP_SECRET_MIN_LEN);
}

/* The redactor emits many small pieces (text between markers, markers):
 * gathered here into large writes. */
struct out_buf {
	unsigned char data[1 << 16];
	size_t len;
};

static int flush_out(struct out_buf *o)
{
	if (o->len && rp_write_all(STDOUT_FILENO, o->data, o->len) < 0)
		return rp_error_set_errno(RP_E_IO, "stdout_unwritable", errno, "cannot write stdout");
	o->len = 0;
	return RP_OK;
}

static int stdout_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct out_buf *o = ctx;
	int rc;

	if (o->len + n > sizeof(o->data) && (rc = flush_out(o)))
		return rc;
	if (n >= sizeof(o->data)) {
		if (rp_write_all(STDOUT_FILENO, p, n) < 0)
			return rp_error_set_errno(RP_E_IO, "stdout_unwritable", errno,
						  "cannot write stdout");
		return RP_OK;
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
	return RP_OK;
}

/* The built-in rules, then the policy's custom rules. */
static int add_rules(struct rp_redactor *red, const char *path)
{
	struct rp_buf text = RP_BUF_INIT;
	struct rp_policy *p = NULL;
	int rc = rp_redactor_add_builtin_rules(red);

	if (rc || !path)
		return rc;
	rc = rp_read_file(&text, path, REDACT_POLICY_MAX, 0);
	if (!rc)
		rc = rp_policy_parse(&p, path, (const char *)text.data, text.len);
	if (!rc && json_array_size(p->redaction.rules))
		rc = rp_redactor_add_rules(red, p->redaction.rules, path);
	rp_policy_free(p);
	rp_buf_release(&text);
	return rc;
}

static int report(const struct rp_redact_stream *s)
{
	struct rp_redact_finding f[1024];
	size_t n = rp_redact_stream_findings(s, f, 1024), i;
	json_t *arr = json_array(), *doc;
	char *text;
	int rc = 0;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "entry", "stdin",
						     "rule", f[i].rule, "count", (json_int_t)f[i].count));
	doc = json_pack("{s:o}", "findings", arr);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text || fprintf(stderr, "%s\n", text) < 0)
		rc = -1;
	free(text);
	json_decref(doc);
	return rc;
}

int cmd_redact(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "secret-env", required_argument, NULL, 's' },
		{ "report", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = getenv("RUNPACK_POLICY");
	struct rp_redactor *red = NULL;
	struct rp_redact_stream *s = NULL;
	static unsigned char chunk[1 << 16];
	static struct out_buf obuf;
	bool want_report = false;
	int c, rc = RP_EXIT_USAGE;
	ssize_t n;

	if (policy && !*policy)
		policy = NULL;
	if (rp_redactor_new(&red)) {
		cmd_print_error(NULL);
		return RP_EXIT_INTERNAL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:s:rh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy = optarg;
			break;
		case 's': {
			const char *v = getenv(optarg);

			if (!v) {
				fprintf(stderr, "runpack: --secret-env %s: the variable is not set\n", optarg);
				goto done;
			}
			if (rp_redactor_add_secret(red, optarg, (const unsigned char *)v, strlen(v))) {
				cmd_print_error("--secret-env");
				goto done;
			}
			break;
		}
		case 'r':
			want_report = true;
			break;
		case 'h':
			cmd_redact_usage(stdout);
			rc = fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_INTERNAL;
			goto done;
		default:
			fprintf(stderr, "runpack: %s '%s' (see 'runpack redact --help')\n",
				c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			goto done;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "runpack: unexpected argument '%s'\n", argv[optind]);
		goto done;
	}
	if (add_rules(red, policy) || rp_redactor_compile(red) ||
	    rp_redact_stream_new(&s, red, stdout_sink, &obuf)) {
		cmd_print_error(NULL);
		goto done;
	}
	while ((n = rp_read_some(STDIN_FILENO, chunk, sizeof(chunk))) > 0) {
		if (rp_redact_stream_write(s, chunk, (size_t)n)) {
			cmd_print_error(NULL);
			goto done;
		}
	}
	if (n < 0) {
		fprintf(stderr, "runpack: cannot read stdin: %s\n", strerror(errno));
		goto done;
	}
	if (rp_redact_stream_finish(s) || flush_out(&obuf)) {
		cmd_print_error(NULL);
		goto done;
	}
	rc = RP_EXIT_OK;
	if (want_report && report(s) < 0)
		rc = RP_EXIT_INTERNAL;
done:
	rp_redact_stream_free(s);
	rp_redactor_free(red);
	return rc;
}
