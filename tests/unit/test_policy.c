#include "harness.h"
#include "rp_error.h"
#include "rp_policy.h"
#include "rp_util.h"

#include <sodium.h>

#define EXPECT_ERR(text, want_id, want_path, want_line, want_col)              \
	do {                                                                  \
		struct rp_policy *_p = (struct rp_policy *)1;                 \
		const struct rp_error *_e;                                    \
		int _rc = rp_policy_parse(&_p, "policy.json", (text), strlen(text)); \
		_e = rp_error_last();                                         \
		CHECK(_rc < 0);                                               \
		CHECK(_p == NULL);                                            \
		CHECK_STR(_e->id, (want_id));                                 \
		CHECK_STR(_e->where.json_path, (want_path));                  \
		CHECK_STR(_e->where.file, "policy.json");                     \
		CHECK_INT(_e->where.line, (want_line));                       \
		CHECK_INT(_e->where.column, (want_col));                      \
	} while (0)

static struct rp_policy *parse_ok(const char *text)
{
	struct rp_policy *p = NULL;
	int rc = rp_policy_parse(&p, "policy.json", text, strlen(text));

	if (rc) {
		snprintf(harness_why, sizeof(harness_why), "parse failed: %.900s",
			 rp_error_last()->msg);
		longjmp(harness_jmp, 1);
	}
	return p;
}

static void check_defaults(const struct rp_policy *p)
{
	CHECK(p->capacity.state_dir == NULL);
	CHECK_INT(p->capacity.limits_n, 1);
	CHECK_INT(p->capacity.limits[0].scope, RP_SCOPE_PLATFORM);
	CHECK(p->capacity.limits[0].name == NULL);
	CHECK_INT(p->capacity.limits[0].max_active, 4);
	CHECK_INT(p->capacity.limits[0].max_queued, -1);
	CHECK_INT(p->capacity.on_full, RP_ON_FULL_REJECT);
	CHECK_INT(p->capacity.queue_timeout_seconds, 0);
	CHECK_INT(p->egress.max_mode, RP_EGRESS_NONE);
	CHECK_INT(p->egress.allow.n, 0);
	CHECK_INT(p->egress.private_only_providers.n, 0);
	CHECK_INT(p->filesystem.read.n, 6);
	CHECK_STR(p->filesystem.read.v[0], "/usr");
	CHECK_STR(p->filesystem.read.v[5], "/opt");
	CHECK(p->filesystem.read.v[6] == NULL);
	CHECK(p->filesystem.workspace_write);
	CHECK_INT(p->limits.wall_seconds, 3600);
	CHECK_INT(p->limits.memory_bytes, 4294967296LL);
	CHECK_INT(p->limits.max_processes, 512);
	CHECK_INT(p->limits.output_bytes, 67108864);
	CHECK_INT(p->artifacts.max_file_bytes, 33554432);
	CHECK_INT(p->artifacts.max_total_bytes, 268435456);
	CHECK_INT(p->artifacts.max_diff_bytes, 67108864);
	CHECK_INT(p->redaction.artifacts, RP_ARTIFACTS_REDACT);
	CHECK(json_is_array(p->redaction.rules));
	CHECK_INT(json_array_size(p->redaction.rules), 0);
	CHECK_INT(p->require_enforcement, RP_ENFORCE_NETWORK);
}

static void test_default(void)
{
	struct rp_policy *p = NULL;

	CHECK_INT(rp_policy_default(&p), RP_OK);
	check_defaults(p);
	rp_policy_free(p);
	/* An empty policy file is the default. */
	p = parse_ok("{}");
	check_defaults(p);
	rp_policy_free(p);
}

/* to_json emits the documented shape: the default text's, every field. */
static void test_round_trip(void)
{
	struct rp_policy *p = NULL, *again = NULL;
	json_t *doc = NULL, *text_doc, *doc2 = NULL;
	char *dumped = NULL;

	CHECK_INT(rp_policy_default(&p), RP_OK);
	doc = rp_policy_to_json(p);
	CHECK(doc != NULL);
	text_doc = json_loads(rp_policy_default_text(), 0, NULL);
	CHECK(text_doc != NULL);
	CHECK(json_equal(doc, text_doc));
	json_decref(text_doc);

	dumped = json_dumps(doc, JSON_COMPACT);
	CHECK(dumped != NULL);
	again = parse_ok(dumped);
	doc2 = rp_policy_to_json(again);
	CHECK(json_equal(doc, doc2));

	free(dumped);
	json_decref(doc);
	json_decref(doc2);
	rp_policy_free(p);
	rp_policy_free(again);
}

static void test_round_trip_full(void)
{
	static const char text[] =
		"{\"capacity\": {\"stateDir\": \"/var/lib/runpack\", \"limits\": [\n"
		"  {\"scope\": \"platform\", \"maxActive\": 8, \"maxQueued\": 64},\n"
		"  {\"scope\": \"tenant\", \"maxActive\": 2, \"maxQueued\": 10},\n"
		"  {\"scope\": \"workspace\", \"maxActive\": 1},\n"
		"  {\"scope\": \"provider\", \"name\": \"anthropic\", \"maxActive\": 4},\n"
		"  {\"scope\": \"runtime\", \"name\": \"claude-cli\", \"maxActive\": 4},\n"
		"  {\"scope\": \"provider\", \"name\": \"ollama\", \"maxActive\": 0}],\n"
		" \"onFull\": \"queue\", \"queueTimeoutSeconds\": 600},\n"
		" \"egress\": {\"maxMode\": \"allowlist\",\n"
		"  \"allow\": [\"api.example.com:443\", \"10.0.0.0/8:11434\"],\n"
		"  \"privateOnlyProviders\": [\"ollama\"]},\n"
		" \"filesystem\": {\"read\": [\"/usr\", \"/etc\"], \"workspaceWrite\": false},\n"
		" \"limits\": {\"wallSeconds\": 60, \"memoryBytes\": 0, \"maxProcesses\": 0,\n"
		"  \"outputBytes\": 1024},\n"
		" \"artifacts\": {\"maxFileBytes\": 10, \"maxTotalBytes\": 20, \"maxDiffBytes\": 30},\n"
		" \"redaction\": {\"artifacts\": \"report\", \"rules\": [{\"id\": \"x\", \"regex\": \"x_[0-9]{8}\"}]},\n"
		" \"requireEnforcement\": [\"filesystem\", \"network\", \"limits\"]}";
	struct rp_policy *p = parse_ok(text), *again = NULL;
	json_t *doc = rp_policy_to_json(p), *orig = json_loads(text, 0, NULL), *doc2;
	char *dumped;

	CHECK_STR(p->capacity.state_dir, "/var/lib/runpack");
	CHECK_INT(p->capacity.limits_n, 6);
	CHECK_STR(p->capacity.limits[3].name, "anthropic");
	CHECK_INT(p->capacity.limits[1].max_queued, 10);
	CHECK_INT(p->capacity.limits[2].max_queued, -1);
	CHECK_INT(p->capacity.on_full, RP_ON_FULL_QUEUE);
	CHECK_INT(p->egress.max_mode, RP_EGRESS_ALLOWLIST);
	CHECK(!p->filesystem.workspace_write);
	CHECK_INT(p->redaction.artifacts, RP_ARTIFACTS_REPORT);
	CHECK_INT(p->artifacts.max_diff_bytes, 30);
	CHECK_INT(p->require_enforcement,
		  RP_ENFORCE_FILESYSTEM | RP_ENFORCE_NETWORK | RP_ENFORCE_LIMITS);
	CHECK(doc && orig);
	CHECK(json_equal(doc, orig));
	dumped = json_dumps(doc, 0);
	again = parse_ok(dumped);
	doc2 = rp_policy_to_json(again);
	CHECK(json_equal(doc, doc2));
	free(dumped);
	json_decref(doc);
	json_decref(doc2);
	json_decref(orig);
	rp_policy_free(p);
	rp_policy_free(again);
}

/* Present fields override; absent fields, in absent or present sections,
 * keep the default; arrays replace. */
static void test_partial(void)
{
	struct rp_policy *p;

	p = parse_ok("{\"limits\": {\"wallSeconds\": 60}, \"egress\": {\"maxMode\": \"open\"},\n"
		     " \"filesystem\": {\"read\": [\"/srv\"]}, \"requireEnforcement\": []}");
	CHECK_INT(p->limits.wall_seconds, 60);
	CHECK_INT(p->limits.memory_bytes, 4294967296LL);
	CHECK_INT(p->limits.max_processes, 512);
	CHECK_INT(p->egress.max_mode, RP_EGRESS_OPEN);
	CHECK_INT(p->egress.allow.n, 0);
	CHECK_INT(p->filesystem.read.n, 1);
	CHECK_STR(p->filesystem.read.v[0], "/srv");
	CHECK(p->filesystem.workspace_write);
	CHECK_INT(p->require_enforcement, 0);
	CHECK_INT(p->capacity.limits_n, 1);
	CHECK_INT(p->artifacts.max_total_bytes, 268435456);
	CHECK_INT(p->artifacts.max_diff_bytes, 67108864);
	rp_policy_free(p);

	/* One artifacts field leaves its neighbours at the default. */
	p = parse_ok("{\"artifacts\": {\"maxDiffBytes\": 0}}");
	CHECK_INT(p->artifacts.max_diff_bytes, 0);
	CHECK_INT(p->artifacts.max_file_bytes, 33554432);
	rp_policy_free(p);

	p = parse_ok("{\"capacity\": {\"limits\": []}, \"redaction\": {\"rules\": "
		     "[{\"id\": \"y\", \"regex\": \"y_[0-9]{8}\"}]}}");
	CHECK_INT(p->capacity.limits_n, 0);
	CHECK_INT(p->capacity.on_full, RP_ON_FULL_REJECT);
	CHECK_INT(json_array_size(p->redaction.rules), 1);
	CHECK_INT(p->redaction.artifacts, RP_ARTIFACTS_REDACT);
	rp_policy_free(p);

	p = parse_ok("{\"capacity\": {\"stateDir\": null}}");
	CHECK(p->capacity.state_dir == NULL);
	rp_policy_free(p);
}

static void test_errors(void)
{
	static const char unknown[] = "{\"egress\": {\"maxMode\": \"none\",\n  \"alow\": []}}";
	static const char top[] = "{\"limit\": {}}";
	static const char type[] = "{\"limits\": {\"wallSeconds\": \"60\"}}";
	static const char zero_wall[] = "{\"limits\": {\"wallSeconds\": 0}}";
	static const char neg[] = "{\"limits\": {\"memoryBytes\": -1}}";
	static const char named_platform[] =
		"{\"capacity\": {\"limits\": [\n"
		"  {\"scope\": \"platform\", \"name\": \"x\", \"maxActive\": 1}]}}";
	static const char unnamed_provider[] =
		"{\"capacity\": {\"limits\": [\n"
		"  {\"scope\": \"platform\", \"maxActive\": 1},\n"
		"  {\"scope\": \"provider\", \"maxActive\": 1}]}}";
	static const char no_max[] = "{\"capacity\": {\"limits\": [{\"scope\": \"tenant\"}]}}";
	static const char dup[] =
		"{\"capacity\": {\"limits\": [\n"
		"  {\"scope\": \"runtime\", \"name\": \"a\", \"maxActive\": 1},\n"
		"  {\"scope\": \"runtime\", \"name\": \"b\", \"maxActive\": 1},\n"
		"  {\"scope\": \"runtime\", \"name\": \"a\", \"maxActive\": 2}]}}";
	static const char scope[] =
		"{\"capacity\": {\"limits\": [{\"scope\": \"galaxy\", \"maxActive\": 1}]}}";
	static const char on_full[] = "{\"capacity\": {\"onFull\": \"wait\"}}";
	static const char enforce[] = "{\"requireEnforcement\": [\"network\", \"magic\"]}";
	static const char rules[] = "{\"redaction\": {\"rules\": {}}}";
	static const char rule_re[] =
		"{\"redaction\": {\"rules\": [{\"id\": \"r1\", \"regex\": \"a(\"}]}}";
	static const char rule_allow[] = "{\"redaction\": {\"rules\": [{\"id\": \"r1\", \"regex\": \"ab\",\n"
					 "  \"allowlists\": [{\"stopwords\": [\"x\", 2]}]}]}}";
	static const char allow[] = "{\"egress\": {\"allow\": [\"10.0.0.1/8:443\"]}}";
	static const char read_rel[] = "{\"filesystem\": {\"read\": [\"/usr\", \"etc\"]}}";
	static const char state_rel[] = "{\"capacity\": {\"stateDir\": \"state\"}}";
	static const char syntax[] = "{\"limits\": {\"wallSeconds\": 60,}}";
	static const char diff_neg[] = "{\"artifacts\": {\"maxDiffBytes\": -1}}";
	static const char diff_type[] = "{\"artifacts\": {\"maxDiffBytes\": 1.5}}";

	EXPECT_ERR(unknown, "policy_unknown_field", "$.egress.alow", 2, 3);
	CHECK_STR(rp_error_last()->msg,
		  "policy.json:2:3: $.egress.alow: unknown field; did you mean 'allow'?");
	EXPECT_ERR(top, "policy_unknown_field", "$.limit", 1, 2);
	CHECK(strstr(rp_error_last()->msg, "did you mean 'limits'?") != NULL);
	EXPECT_ERR(type, "policy_invalid_field", "$.limits.wallSeconds", 1, 28);
	CHECK(strstr(rp_error_last()->msg, "expected a positive integer, got string") != NULL);
	EXPECT_ERR(zero_wall, "policy_invalid_field", "$.limits.wallSeconds", 1, 28);
	EXPECT_ERR(neg, "policy_invalid_field", "$.limits.memoryBytes", 1, 28);
	CHECK(strstr(rp_error_last()->msg, "non-negative") != NULL);
	EXPECT_ERR(named_platform, "policy_invalid_field", "$.capacity.limits[0].name", 2, 25);
	EXPECT_ERR(unnamed_provider, "policy_invalid_field", "$.capacity.limits[1].name", 3, 3);
	CHECK(strstr(rp_error_last()->msg, "required field is missing") != NULL);
	EXPECT_ERR(no_max, "policy_invalid_field", "$.capacity.limits[0].maxActive", 1, 26);
	EXPECT_ERR(dup, "policy_invalid_field", "$.capacity.limits[2]", 4, 3);
	CHECK(strstr(rp_error_last()->msg, "duplicate") != NULL);
	EXPECT_ERR(scope, "policy_invalid_field", "$.capacity.limits[0].scope", 1, 36);
	EXPECT_ERR(on_full, "policy_invalid_field", "$.capacity.onFull", 1, 25);
	EXPECT_ERR(enforce, "policy_invalid_field", "$.requireEnforcement[1]", 1, 36);
	EXPECT_ERR(rules, "policy_invalid_field", "$.redaction.rules", 1, 25);
	EXPECT_ERR(rule_re, "policy_invalid_field", "$.redaction.rules[0].regex", 1, 48);
	CHECK(strstr(rp_error_last()->msg, "rule 'r1'") != NULL);
	EXPECT_ERR(rule_allow, "policy_invalid_field",
		   "$.redaction.rules[0].allowlists[0].stopwords[1]", 2, 38);
	EXPECT_ERR(allow, "policy_invalid_field", "$.egress.allow[0]", 1, 23);
	EXPECT_ERR(read_rel, "policy_invalid_field", "$.filesystem.read[1]", 1, 34);
	EXPECT_ERR(state_rel, "policy_invalid_field", "$.capacity.stateDir", 1, 27);
	EXPECT_ERR(syntax, "policy_parse_error", "", 1, 31);
	EXPECT_ERR(diff_neg, "policy_invalid_field", "$.artifacts.maxDiffBytes", 1, 32);
	EXPECT_ERR(diff_type, "policy_invalid_field", "$.artifacts.maxDiffBytes", 1, 32);
}

static struct rp_policy *parse_file(const char *path)
{
	struct rp_buf b = RP_BUF_INIT;
	struct rp_policy *p = NULL;
	int rc = rp_read_file(&b, path, 1 << 20, 0);

	if (!rc)
		rc = rp_policy_parse(&p, path, (const char *)b.data, b.len);
	rp_buf_release(&b);
	return rc ? NULL : p;
}

static void test_fixtures(void)
{
	struct rp_policy *p;

	p = parse_file("fixtures/policies/permissive.json");
	CHECK(p != NULL);
	CHECK_INT(p->egress.max_mode, RP_EGRESS_ALLOWLIST);
	CHECK_INT(p->egress.allow.n, 2);
	CHECK_STR(p->egress.private_only_providers.v[0], "ollama");
	rp_policy_free(p);
	p = parse_file("fixtures/policies/strict.json");
	CHECK(p != NULL);
	CHECK_INT(p->egress.max_mode, RP_EGRESS_NONE);
	CHECK_INT(p->require_enforcement,
		  RP_ENFORCE_FILESYSTEM | RP_ENFORCE_NETWORK | RP_ENFORCE_LIMITS);
	rp_policy_free(p);
	CHECK(parse_file("fixtures/policies/bad-unknown-field.json") == NULL);
	CHECK_STR(rp_error_last()->id, "policy_unknown_field");
	CHECK_STR(rp_error_last()->where.json_path, "$.egress.maxmode");
	CHECK_INT(rp_error_last()->where.line, 3);
	CHECK_INT(rp_error_last()->where.column, 5);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_default);
	RUN(test_round_trip);
	RUN(test_round_trip_full);
	RUN(test_partial);
	RUN(test_errors);
	RUN(test_fixtures);
	return harness_done();
}
