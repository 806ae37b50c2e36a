#include "harness.h"
#include "rp_error.h"
#include "rp_manifest.h"

#include <sodium.h>

/* Parse text that must fail, and check the error's id, path and position. */
#define EXPECT_ERR(text, want_id, want_path, want_line, want_col)              \
	do {                                                                  \
		struct rp_manifest *_m = (struct rp_manifest *)1;             \
		const struct rp_error *_e;                                    \
		int _rc = rp_manifest_parse(&_m, "manifest.json", (text), strlen(text)); \
		_e = rp_error_last();                                         \
		CHECK(_rc < 0);                                               \
		CHECK(_m == NULL);                                            \
		CHECK_STR(_e->id, (want_id));                                 \
		CHECK_STR(_e->where.json_path, (want_path));                  \
		CHECK_STR(_e->where.file, "manifest.json");                   \
		CHECK_INT(_e->where.line, (want_line));                       \
		CHECK_INT(_e->where.column, (want_col));                      \
	} while (0)

static const char full_text[] =
	"{\n"
	"  \"runId\": \"job-42.a_b\",\n"
	"  \"baseDir\": \"/abs/path/to/scratch/workspace\",\n"
	"  \"importedFrom\": \"folder\",\n"
	"  \"orchestratorWorkspace\": {\n"
	"    \"kind\": \"scratch\", \"sourceLabel\": \"checkout:main\",\n"
	"    \"sourceRef\": \"main@abc123\", \"baseRevision\": \"abc123\",\n"
	"    \"writeback\": \"external\"\n"
	"  },\n"
	"  \"agent\": {\n"
	"    \"argv\": [\"agent-cli\", \"--task\", \"task.md\"],\n"
	"    \"cwd\": \"sub/dir\", \"env\": {\"ZED\": \"last\", \"K\": \"V\"},\n"
	"    \"secretEnv\": {\"API_TOKEN\": \"env:RUNNER_API_TOKEN\",\n"
	"                  \"A_FILE\": \"file:/run/secrets/a\"},\n"
	"    \"provider\": \"anthropic\", \"runtime\": \"claude-cli\",\n"
	"    \"timeoutSeconds\": 900\n"
	"  },\n"
	"  \"capacity\": {\"tenant\": \"t1\", \"workspace\": \"w1\", \"units\": 2},\n"
	"  \"egress\": {\"mode\": \"allowlist\", \"allow\": [\"api.example.com:443\", "
	"\"10.1.0.0/16:11434\", \"[fd00::1]:8080\"]},\n"
	"  \"scope\": {\"write\": [\".\", \"out\"]},\n"
	"  \"artifacts\": {\"include\": [\"out/**\"], \"exclude\": [\"**/*.tmp\"]},\n"
	"  \"diff\": true\n"
	"}\n";

static void test_full(void)
{
	struct rp_manifest *m = NULL;

	CHECK_INT(rp_manifest_parse(&m, "full.json", full_text, strlen(full_text)), RP_OK);
	CHECK_STR(m->run_id, "job-42.a_b");
	CHECK(!m->run_id_generated);
	CHECK_STR(m->base_dir, "/abs/path/to/scratch/workspace");
	CHECK_STR(m->imported_from, "folder");
	CHECK(json_is_object(m->orchestrator_workspace));
	CHECK_INT(json_object_size(m->orchestrator_workspace), 5);
	CHECK_STR(json_string_value(json_object_get(m->orchestrator_workspace, "sourceRef")),
		  "main@abc123");
	CHECK_INT(m->argv.n, 3);
	CHECK_STR(m->argv.v[0], "agent-cli");
	CHECK_STR(m->argv.v[2], "task.md");
	CHECK(m->argv.v[3] == NULL); /* exec-ready */
	CHECK(m->egress.allow.v[3] == NULL);
	CHECK(m->scope_write.v[2] == NULL);
	CHECK(m->include.v[1] == NULL && m->exclude.v[1] == NULL);
	CHECK_STR(m->cwd, "sub/dir");
	CHECK_INT(m->env_n, 2);
	CHECK_STR(m->env[0].key, "K"); /* sorted */
	CHECK_STR(m->env[0].value, "V");
	CHECK_STR(m->env[1].key, "ZED");
	CHECK_INT(m->secrets_n, 2);
	CHECK_STR(m->secrets[0].name, "API_TOKEN");
	CHECK_INT(m->secrets[0].source, RP_SECRET_ENV);
	CHECK_STR(m->secrets[0].ref, "RUNNER_API_TOKEN");
	CHECK_STR(m->secrets[1].name, "A_FILE");
	CHECK_INT(m->secrets[1].source, RP_SECRET_FILE);
	CHECK_STR(m->secrets[1].ref, "/run/secrets/a");
	CHECK_STR(m->provider, "anthropic");
	CHECK_STR(m->runtime, "claude-cli");
	CHECK_INT(m->timeout_seconds, 900);
	CHECK_STR(m->capacity.tenant, "t1");
	CHECK_STR(m->capacity.workspace, "w1");
	CHECK_INT(m->capacity.units, 2);
	CHECK_INT(m->egress.mode, RP_EGRESS_ALLOWLIST);
	CHECK_INT(m->egress.allow.n, 3);
	CHECK_STR(m->egress.allow.v[1], "10.1.0.0/16:11434");
	CHECK_INT(m->scope_write.n, 2);
	CHECK_STR(m->scope_write.v[1], "out");
	CHECK_INT(m->include.n, 1);
	CHECK(m->include_set);
	CHECK_STR(m->include.v[0], "out/**");
	CHECK_INT(m->exclude.n, 1);
	CHECK_STR(m->exclude.v[0], "**/*.tmp");
	CHECK(m->diff);
	CHECK(json_is_object(m->doc));
	CHECK(json_object_get(m->doc, "agent") != NULL);
	rp_manifest_free(m);
}

static void test_defaults(void)
{
	static const char text[] = "{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"true\"]}}";
	struct rp_manifest *m = NULL;

	CHECK_INT(rp_manifest_parse(&m, "m.json", text, strlen(text)), RP_OK);
	CHECK(m->run_id_generated);
	CHECK(rp_run_id_valid(m->run_id));
	CHECK(m->imported_from == NULL);
	CHECK(m->orchestrator_workspace == NULL);
	CHECK_STR(m->cwd, ".");
	CHECK_INT(m->env_n, 0);
	CHECK_INT(m->secrets_n, 0);
	CHECK(m->provider == NULL && m->runtime == NULL);
	CHECK_INT(m->timeout_seconds, 0);
	CHECK(m->capacity.tenant == NULL && m->capacity.workspace == NULL);
	CHECK_INT(m->capacity.units, 1);
	CHECK_INT(m->egress.mode, RP_EGRESS_NONE);
	CHECK_INT(m->egress.allow.n, 0);
	CHECK_INT(m->scope_write.n, 1);
	CHECK_STR(m->scope_write.v[0], ".");
	CHECK(m->scope_write.v[1] == NULL);
	CHECK(m->argv.v[1] == NULL);
	CHECK_INT(m->include.n, 0);
	CHECK(!m->include_set);
	CHECK_INT(m->exclude.n, 0);
	CHECK(!m->diff);
	rp_manifest_free(m);
}

/* An absent include (default selection) is not an empty one (nothing). */
static void test_include_absent_or_empty(void)
{
	static const char empty[] = "{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"true\"]},"
				    " \"artifacts\": {\"include\": []}}";
	static const char only_exclude[] = "{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"true\"]},"
					   " \"artifacts\": {\"exclude\": [\"*.o\"]}}";
	struct rp_manifest *m = NULL;

	CHECK_INT(rp_manifest_parse(&m, "m.json", empty, strlen(empty)), RP_OK);
	CHECK(m->include_set);
	CHECK_INT(m->include.n, 0);
	rp_manifest_free(m);
	m = NULL;
	CHECK_INT(rp_manifest_parse(&m, "m.json", only_exclude, strlen(only_exclude)), RP_OK);
	CHECK(!m->include_set);
	CHECK_INT(m->exclude.n, 1);
	rp_manifest_free(m);
}

static void test_run_id(void)
{
	char *a = rp_run_id_generate(), *b = rp_run_id_generate();

	CHECK(a && b);
	CHECK_INT(strlen(a), 29);
	CHECK(strncmp(a, "rp-", 3) == 0);
	CHECK(strspn(a + 3, "abcdefghijklmnopqrstuvwxyz234567") == 26);
	CHECK(rp_run_id_valid(a));
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);

	char longest[RP_RUN_ID_MAX + 2];

	memset(longest, 'x', sizeof(longest));
	longest[RP_RUN_ID_MAX] = '\0';
	CHECK(rp_run_id_valid(longest));
	longest[RP_RUN_ID_MAX] = 'x';
	longest[RP_RUN_ID_MAX + 1] = '\0';
	CHECK(!rp_run_id_valid(longest));
	CHECK(rp_run_id_valid("A-z_0.9"));
	CHECK(!rp_run_id_valid(""));
	CHECK(!rp_run_id_valid(".x"));
	CHECK(!rp_run_id_valid("a/b"));
	CHECK(!rp_run_id_valid("a b"));
	CHECK(!rp_run_id_valid("caf\xc3\xa9"));
}

/* The unknown-field errors point at the key, and suggest a near name. */
static void test_unknown_fields(void)
{
	static const char nested[] =
		"{\n"
		"  \"baseDir\": \"/w\",\n"
		"  \"agent\": {\n"
		"    \"argv\": [\"sh\"],\n"
		"    \"timeoutSecnds\": 10\n"
		"  }\n"
		"}\n";
	static const char top[] =
		"{\"agent\": {\"argv\": [\"bogus\"]},\n"
		" \"bogus\": {\"bogus\": 1}}";
	static const char near[] = "{\"baseDri\": \"/w\"}";
	static const char weird[] = "{\"baseDir\": \"/w\",\n\t\"we\\\"ird key\": 1}";

	EXPECT_ERR(nested, "manifest_unknown_field", "$.agent.timeoutSecnds", 5, 5);
	CHECK_STR(rp_error_last()->msg, "manifest.json:5:5: $.agent.timeoutSecnds: "
					"unknown field; did you mean 'timeoutSeconds'?");
	EXPECT_ERR(top, "manifest_unknown_field", "$.bogus", 2, 2);
	CHECK(strstr(rp_error_last()->msg, "did you mean") == NULL);
	EXPECT_ERR(near, "manifest_unknown_field", "$.baseDri", 1, 2);
	CHECK(strstr(rp_error_last()->msg, "did you mean 'baseDir'?") != NULL);
	EXPECT_ERR(weird, "manifest_unknown_field", "$[\"we\\\"ird key\"]", 2, 2);
}

static void test_types(void)
{
	static const char timeout_str[] =
		"{\n"
		"  \"baseDir\": \"/w\",\n"
		"  \"agent\": {\n"
		"    \"argv\": [\"sh\"],\n"
		"    \"timeoutSeconds\": \"900\"\n"
		"  }\n"
		"}\n";
	static const char argv_elem[] =
		"{\n"
		"  \"baseDir\": \"/w\",\n"
		"  \"agent\": {\n"
		"    \"argv\": [\"sh\", \"-c\", 5]\n"
		"  }\n"
		"}\n";
	static const char real[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"], \"timeoutSeconds\": 9.5}}";
	static const char zero[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"], \"timeoutSeconds\": 0}}";
	static const char diff[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}, \"diff\": \"yes\"}";
	static const char root[] = "  [1, 2]";
	static const char ws_type[] =
		"{\"baseDir\": \"/w\",\n"
		" \"orchestratorWorkspace\": {\"kind\": \"scratch\", \"sourceRef\": 7},\n"
		" \"agent\": {\"argv\": [\"sh\"]}}";

	EXPECT_ERR(timeout_str, "manifest_invalid_field", "$.agent.timeoutSeconds", 5, 23);
	CHECK_STR(rp_error_last()->msg, "manifest.json:5:23: $.agent.timeoutSeconds: "
					"expected a positive integer, got string");
	EXPECT_ERR(argv_elem, "manifest_invalid_field", "$.agent.argv[2]", 4, 26);
	CHECK(strstr(rp_error_last()->msg, "expected a string, got integer") != NULL);
	EXPECT_ERR(real, "manifest_invalid_field", "$.agent.timeoutSeconds", 1, 63);
	CHECK(strstr(rp_error_last()->msg, "got real") != NULL);
	EXPECT_ERR(zero, "manifest_invalid_field", "$.agent.timeoutSeconds", 1, 63);
	CHECK(strstr(rp_error_last()->msg, "expected a positive integer, got 0") != NULL);
	EXPECT_ERR(diff, "manifest_invalid_field", "$.diff", 1, 54);
	EXPECT_ERR(root, "manifest_invalid_field", "$", 1, 3);
	EXPECT_ERR(ws_type, "manifest_invalid_field", "$.orchestratorWorkspace.sourceRef", 2, 60);
}

static void test_missing(void)
{
	static const char no_base[] = "\n {\"agent\": {\"argv\": [\"sh\"]}}";
	static const char no_agent[] = "{\"baseDir\": \"/w\"}";
	static const char no_argv[] =
		"{\"baseDir\": \"/w\",\n"
		" \"agent\": {\"cwd\": \".\"}}";

	EXPECT_ERR(no_base, "manifest_missing_field", "$.baseDir", 2, 2);
	CHECK_STR(rp_error_last()->msg,
		  "manifest.json:2:2: $.baseDir: required field is missing");
	EXPECT_ERR(no_agent, "manifest_missing_field", "$.agent", 1, 1);
	EXPECT_ERR(no_argv, "manifest_missing_field", "$.agent.argv", 2, 11);
}

static void test_values(void)
{
	static const char base_rel[] = "{\"baseDir\": \"w\", \"agent\": {\"argv\": [\"sh\"]}}";
	static const char bad_id[] =
		"{\"runId\": \".hidden\", \"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}}";
	static const char slash_id[] =
		"{\"runId\": \"a/b\", \"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}}";
	static const char empty_argv[] = "{\"baseDir\": \"/w\", \"agent\": {\"argv\": []}}";
	static const char empty_argv0[] = "{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"\"]}}";
	static const char cwd_up[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"], \"cwd\": \"a/../..\"}}";
	static const char cwd_abs[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"], \"cwd\": \"/tmp\"}}";
	static const char env_name[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"],\n"
		"  \"env\": {\"OK\": \"1\", \"1BAD\": \"2\"}}}";
	static const char env_value[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"],\n"
		"  \"env\": {\"OK\": 1}}}";
	static const char secret_ref[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"],\n"
		"  \"secretEnv\": {\"TOKEN\": \"plain-value\"}}}";
	static const char secret_rel[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"],\n"
		"  \"secretEnv\": {\"TOKEN\": \"file:relative\"}}}";
	static const char secret_dup[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"], \"env\": {\"TOKEN\": \"x\"},\n"
		"  \"secretEnv\": {\"TOKEN\": \"env:T\"}}}";
	static const char writeback[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]},\n"
		"  \"orchestratorWorkspace\": {\"kind\": \"scratch\", \"writeback\": \"in-place\"}}";
	static const char mode[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}, \"egress\": {\"mode\": \"full\"}}";
	static const char allow_none[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]},\n"
		" \"egress\": {\"allow\": [\"a.example:443\"]}}";
	static const char allow_bad[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]},\n"
		" \"egress\": {\"mode\": \"allowlist\", \"allow\": [\"a.example:443\", \"b:0\"]}}";
	static const char write_abs[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}, \"scope\": {\"write\": [\"/etc\"]}}";
	static const char glob[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]},\n"
		" \"artifacts\": {\"include\": [\"ok/**\"], \"exclude\": [\"[abc\"]}}";
	static const char units[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]}, \"capacity\": {\"units\": -1}}";

	EXPECT_ERR(base_rel, "manifest_invalid_field", "$.baseDir", 1, 13);
	CHECK(strstr(rp_error_last()->msg, "absolute path") != NULL);
	EXPECT_ERR(bad_id, "manifest_invalid_field", "$.runId", 1, 11);
	EXPECT_ERR(slash_id, "manifest_invalid_field", "$.runId", 1, 11);
	EXPECT_ERR(empty_argv, "manifest_invalid_field", "$.agent.argv", 1, 37);
	EXPECT_ERR(empty_argv0, "manifest_invalid_field", "$.agent.argv[0]", 1, 38);
	EXPECT_ERR(cwd_up, "manifest_invalid_field", "$.agent.cwd", 1, 52);
	EXPECT_ERR(cwd_abs, "manifest_invalid_field", "$.agent.cwd", 1, 52);
	EXPECT_ERR(env_name, "manifest_invalid_field", "$.agent.env[\"1BAD\"]", 2, 22);
	EXPECT_ERR(env_value, "manifest_invalid_field", "$.agent.env.OK", 2, 17);
	EXPECT_ERR(secret_ref, "manifest_invalid_field", "$.agent.secretEnv.TOKEN", 2, 26);
	EXPECT_ERR(secret_rel, "manifest_invalid_field", "$.agent.secretEnv.TOKEN", 2, 26);
	EXPECT_ERR(secret_dup, "manifest_invalid_field", "$.agent.secretEnv.TOKEN", 2, 17);
	EXPECT_ERR(writeback, "manifest_writeback_unsupported",
		   "$.orchestratorWorkspace.writeback", 2, 61);
	EXPECT_ERR(mode, "manifest_invalid_field", "$.egress.mode", 1, 65);
	CHECK(strstr(rp_error_last()->msg, "'none', 'allowlist', 'open'") != NULL);
	EXPECT_ERR(allow_none, "manifest_invalid_field", "$.egress.allow", 2, 22);
	EXPECT_ERR(allow_bad, "manifest_invalid_field", "$.egress.allow[1]", 2, 61);
	CHECK(strstr(rp_error_last()->msg, "port") != NULL);
	EXPECT_ERR(write_abs, "manifest_invalid_field", "$.scope.write[0]", 1, 66);
	EXPECT_ERR(glob, "manifest_invalid_field", "$.artifacts.exclude[0]", 2, 50);
	EXPECT_ERR(units, "manifest_invalid_field", "$.capacity.units", 1, 68);
}

static void test_syntax(void)
{
	static const char missing_colon[] = "{\n  \"baseDir\" \"/w\"\n}";
	static const char dup[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]},\n"
		" \"baseDir\": \"/x\"}";
	static const char nul[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\", \"a\\u0000b\"]}}";
	static const char trailing[] = "{\"baseDir\": \"/w\"} x";

	EXPECT_ERR(missing_colon, "manifest_parse_error", "", 2, 16);
	CHECK(strncmp(rp_error_last()->msg, "manifest.json:2:16: invalid JSON: ", 34) == 0);
	CHECK_INT(rp_error_last()->code, RP_E_PARSE);
	EXPECT_ERR(dup, "manifest_parse_error", "", 2, 10);
	CHECK(strstr(rp_error_last()->msg, "duplicate") != NULL);
	EXPECT_ERR(nul, "manifest_parse_error", "", 1, 53);
	CHECK(strstr(rp_error_last()->msg, "NUL") != NULL);
	CHECK(strstr(rp_error_last()->msg, "JSON_ALLOW_NUL") == NULL);
	EXPECT_ERR(trailing, "manifest_parse_error", "", 1, 19);
}

/* Positions count characters, not bytes, and keys are matched after
 * unescaping, so "\u0065nv" is the env member. */
static void test_positions_unicode(void)
{
	static const char text[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"\xc3\xa9\xc3\xa9\", 1]}}";
	static const char escaped[] =
		"{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"],\n"
		" \"\\u0065nv\": {\"A\": \"1\", \"B-\": \"2\"}}}";

	EXPECT_ERR(text, "manifest_invalid_field", "$.agent.argv[1]", 1, 44);
	EXPECT_ERR(escaped, "manifest_invalid_field", "$.agent.env[\"B-\"]", 2, 25);
}

static void test_egress_entries(void)
{
	struct rp_egress_entry e;
	const char *why = NULL;

	CHECK(rp_egress_entry_parse(&e, "API.Example.com:443", NULL));
	CHECK_INT(e.kind, RP_HOST_NAME);
	CHECK_STR(e.name, "api.example.com");
	CHECK_INT(e.port, 443);
	CHECK(rp_egress_entry_parse(&e, "10.0.0.0/8:11434", NULL));
	CHECK_INT(e.kind, RP_HOST_IPV4);
	CHECK_INT(e.prefix, 8);
	CHECK_INT(e.addr[0], 10);
	CHECK(rp_egress_entry_parse(&e, "192.168.1.7:80", NULL));
	CHECK_INT(e.prefix, 32);
	CHECK(rp_egress_entry_parse(&e, "[::1]:8080", NULL));
	CHECK_INT(e.kind, RP_HOST_IPV6);
	CHECK_INT(e.prefix, 128);
	CHECK_INT(e.addr[15], 1);
	CHECK(rp_egress_entry_parse(&e, "[fd00::]/8:443", NULL));
	CHECK_INT(e.prefix, 8);
	CHECK(rp_egress_entry_parse(&e, "localhost:65535", NULL));

	CHECK(!rp_egress_entry_parse(&e, "host", &why));
	CHECK(!rp_egress_entry_parse(&e, "host:0", &why));
	CHECK(strstr(why, "port") != NULL);
	CHECK(!rp_egress_entry_parse(&e, "host:65536", NULL));
	CHECK(!rp_egress_entry_parse(&e, "host:080", NULL));
	CHECK(!rp_egress_entry_parse(&e, "host:", NULL));
	CHECK(!rp_egress_entry_parse(&e, ":80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "::1:80", &why));
	CHECK(strstr(why, "brackets") != NULL);
	CHECK(!rp_egress_entry_parse(&e, "10.0.0.1/8:80", &why));
	CHECK(strstr(why, "prefix") != NULL);
	CHECK(!rp_egress_entry_parse(&e, "10.0.0.0/33:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "10.0.0.256:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "1.2.3.4.5:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "under_score.com:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "-lead.com:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "a..b:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "[fd00::1]/8:443", NULL));
	CHECK(!rp_egress_entry_parse(&e, "[::1:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "[::1]x:80", NULL));
	CHECK(!rp_egress_entry_parse(&e, "[1.2.3.4]:80", NULL));
}

/* Reads a fixture, substitutes the placeholders, parses it. */
static int parse_fixture(struct rp_manifest **m, const char *name)
{
	char path[256], *text = NULL, *out;
	size_t len = 0, n = 0;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "fixtures/manifests/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -100;
	if (getdelim(&text, &len, '\0', f) < 0) {
		fclose(f);
		free(text);
		return -100;
	}
	fclose(f);
	out = malloc(strlen(text) * 4 + 1);
	for (const char *p = text; *p;) {
		if (strncmp(p, "@WORKSPACE@", 11) == 0) {
			n += (size_t)sprintf(out + n, "/tmp/ws");
			p += 11;
		} else if (strncmp(p, "@FIXTURES@", 10) == 0) {
			n += (size_t)sprintf(out + n, "/src/fixtures");
			p += 10;
		} else {
			out[n++] = *p++;
		}
	}
	rc = rp_manifest_parse(m, name, out, n);
	free(out);
	free(text);
	return rc;
}

static void test_fixtures(void)
{
	static const struct {
		const char *file, *id, *path;
	} bad[] = {
		{ "bad-unknown-field.json", "manifest_unknown_field", "$.agent.timeoutSecond" },
		{ "bad-wrong-type.json", "manifest_invalid_field", "$.agent.argv" },
		{ "bad-missing-basedir.json", "manifest_missing_field", "$.baseDir" },
		{ "bad-run-id.json", "manifest_invalid_field", "$.runId" },
		{ "bad-writeback.json", "manifest_writeback_unsupported",
		  "$.orchestratorWorkspace.writeback" },
	};
	struct rp_manifest *m = NULL;

	CHECK_INT(parse_fixture(&m, "succeed.json"), RP_OK);
	CHECK_STR(m->argv.v[1], "/src/fixtures/agents/succeed.sh");
	CHECK_STR(m->base_dir, "/tmp/ws");
	rp_manifest_free(m);
	CHECK_INT(parse_fixture(&m, "full.json"), RP_OK);
	CHECK(m->orchestrator_workspace != NULL);
	CHECK(m->diff);
	rp_manifest_free(m);
	/* Valid as a manifest: the default policy rejects it (test_plan). */
	CHECK_INT(parse_fixture(&m, "bad-timeout.json"), RP_OK);
	rp_manifest_free(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = NULL;
		CHECK(parse_fixture(&m, bad[i].file) < 0);
		CHECK(m == NULL);
		CHECK_STR(rp_error_last()->id, bad[i].id);
		CHECK_STR(rp_error_last()->where.json_path, bad[i].path);
		CHECK(rp_error_last()->where.line > 0);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_full);
	RUN(test_defaults);
	RUN(test_include_absent_or_empty);
	RUN(test_run_id);
	RUN(test_unknown_fields);
	RUN(test_types);
	RUN(test_missing);
	RUN(test_values);
	RUN(test_syntax);
	RUN(test_positions_unicode);
	RUN(test_egress_entries);
	RUN(test_fixtures);
	return harness_done();
}
