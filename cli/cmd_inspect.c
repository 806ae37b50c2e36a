/* runpack inspect: show what a result package holds, without verifying it. */
#include "cmd.h"
#include "rp_error.h"
#include "rp_pack.h"
#include "rp_util.h"
#include "rp_verify.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* result.json is small; a bigger one is shown as absent, not read whole. */
#define RESULT_MAX (16u << 20)

void cmd_inspect_usage(FILE *f)
{
	fprintf(f,
		"usage: runpack inspect PACKAGE [--json] [--cat ENTRY]\n"
		"\n"
		"Show what a result package holds: its entries with their sizes, and the\n"
		"run's identity and outcome from result.json. Nothing is verified here;\n"
		"use runpack verify for that.\n"
		"\n"
		"      --json        print {\"package\", \"entries\": [{\"name\", \"size\",\n"
		"                    \"sha256\"}], \"result\"} as one JSON object on stdout\n"
		"      --cat ENTRY   write ENTRY's bytes to stdout\n"
		"  -h, --help        show this help\n");
}

/* Everything shown comes from an unverified file: no control bytes reach the
 * terminal. */
static void print_safe(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
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

/* result.json parsed, or NULL when it is absent or unusable (said on stderr). */
static json_t *load_result(const char *pkg)
{
	struct rp_buf text = RP_BUF_INIT;
	json_error_t jerr;
	json_t *result = NULL;
	int rc;

	rc = rp_package_read_entry(&text, pkg, "result.json", RESULT_MAX);
	if (rc == RP_OK) {
		result = json_loadb((const char *)text.data, text.len, 0, &jerr);
		if (!result)
			fprintf(stderr, "runpack: inspect: result.json is not valid JSON "
					"(line %d, column %d): %s\n", jerr.line, jerr.column,
				jerr.text);
	} else if (rc != RP_E_NOTFOUND) {
		cmd_print_error("inspect");
	}
	rp_buf_release(&text);
	return result;
}

static void print_scalar(const json_t *v)
{
	if (json_is_string(v))
		print_safe(json_string_value(v));
	else if (json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		printf("%g", json_real_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "true" : "false", stdout);
	else
		fputs("(...)", stdout);
}

/* One "label: value" line; nothing when the field is absent or null. */
static void print_field(const json_t *result, const char *key)
{
	const json_t *v = json_object_get(result, key);

	if (!v || json_is_null(v))
		return;
	printf("  %-10s ", key);
	print_scalar(v);
	putchar('\n');
}

static void print_timings(const json_t *result)
{
	json_t *t = json_object_get(result, "timings"), *v;
	const char *key, *sep = "";

	if (!json_is_object(t))
		return;
	printf("  %-10s ", "timings");
	json_object_foreach(t, key, v) {
		if (json_is_null(v))
			continue;
		fputs(sep, stdout);
		print_safe(key);
		putchar('=');
		print_scalar(v);
		sep = ", ";
	}
	putchar('\n');
}

static void print_human(const char *pkg, const struct rp_package_entry *v, size_t n,
			const json_t *result)
{
	fputs("package ", stdout);
	print_safe(pkg);
	fputs(" (not verified; use runpack verify)\n", stdout);
	if (result) {
		print_field(result, "runId");
		print_field(result, "status");
		print_field(result, "exitCode");
		print_field(result, "signal");
		print_timings(result);
	} else {
		fputs("  (no readable result.json)\n", stdout);
	}
	printf("entries (%zu):\n", n);
	for (size_t i = 0; i < n; i++) {
		printf("  %12" PRIu64 "  ", v[i].size);
		print_safe(v[i].name);
		putchar('\n');
	}
}

static int print_json(const char *pkg, const struct rp_package_entry *v, size_t n,
		      json_t *result)
{
	json_t *out, *entries = json_array();
	size_t i;
	int rc;

	for (i = 0; entries && i < n; i++)
		if (json_array_append_new(entries, json_pack("{s:o, s:I, s:s}", "name",
							     json_name(v[i].name), "size",
							     (json_int_t)v[i].size, "sha256",
							     v[i].sha256)) != 0)
			break;
	if (!entries || i < n) {
		json_decref(entries);
		return -1;
	}
	out = json_pack("{s:o, s:o, s:O}", "package", json_name(pkg), "entries", entries,
			"result", result ? result : json_null());
	rc = out ? cmd_print_json(out) : -1;
	json_decref(out);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_CAT };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "cat", required_argument, NULL, OPT_CAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pkg, *cat = NULL;
	struct rp_package_entry *v = NULL;
	json_t *result = NULL;
	size_t n = 0;
	bool json = false;
	int c, rc = RP_EXIT_OK;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_CAT:
			cat = optarg;
			break;
		case 'h':
			cmd_inspect_usage(stdout);
			return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
		case ':':
			return cmd_usage_error("inspect", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error("inspect", "which package? give PACKAGE");
	if (optind + 1 < argc)
		return cmd_usage_error("inspect", "unexpected argument '%s' (one package at a time)",
				   argv[optind + 1]);
	if (json && cat)
		return cmd_usage_error("inspect", "--cat writes raw bytes; it does not combine with --json");
	pkg = argv[optind];

	if (cat) {
		if (rp_package_cat(pkg, cat, STDOUT_FILENO)) {
			cmd_print_error(NULL);
			return RP_EXIT_USAGE;
		}
		return RP_EXIT_OK;
	}
	if (rp_package_list(&v, &n, pkg)) {
		cmd_print_error(NULL);
		return RP_EXIT_USAGE;
	}
	result = load_result(pkg);
	if (json) {
		if (print_json(pkg, v, n, result) != 0) {
			fputs("runpack: inspect: cannot print the listing on stdout\n", stderr);
			rc = RP_EXIT_USAGE;
		}
	} else {
		print_human(pkg, v, n, result);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fputs("runpack: inspect: cannot write to stdout\n", stderr);
			rc = RP_EXIT_USAGE;
		}
	}
	json_decref(result);
	rp_package_entries_free(v, n);
	return rc;
}
