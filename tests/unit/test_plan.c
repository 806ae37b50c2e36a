#include "harness.h"
#include "rp_error.h"
#include "rp_plan.h"
#include "rp_util.h"

#include <sodium.h>

static const char permissive[] =
	"{\"egress\": {\"maxMode\": \"open\",\n"
	"  \"allow\": [\"api.example.com:443\", \"10.0.0.0/8:11434\", \"[fd00::]/8:443\",\n"
	"            \"[::1]:11434\", \"8.8.8.8:53\", \"127.0.0.1:8080\"],\n"
	"  \"privateOnlyProviders\": [\"ollama\"]},\n"
	" \"limits\": {\"memoryBytes\": 1000, \"maxProcesses\": 7, \"outputBytes\": 99},\n"
	" \"artifacts\": {\"maxFileBytes\": 5, \"maxTotalBytes\": 6, \"maxDiffBytes\": 7},\n"
	" \"redaction\": {\"artifacts\": \"report\"},\n"
	" \"requireEnforcement\": [\"filesystem\", \"limits\"]}";

static struct rp_policy *policy(const char *text)
{
	struct rp_policy *p = NULL;

	if (!text)
		CHECK_INT(rp_policy_default(&p), RP_OK);
	else
		CHECK_INT(rp_policy_parse(&p, "policy.json", text, strlen(text)), RP_OK);
	return p;
}

/* A manifest with the given members added after baseDir/agent. */
static struct rp_manifest *manifest(const char *agent_extra, const char *extra)
{
	char text[2048];
	struct rp_manifest *m = NULL;

	snprintf(text, sizeof(text),
		 "{\"baseDir\": \"/w\", \"agent\": {\"argv\": [\"sh\"]%s%s}%s%s}",
		 agent_extra ? ", " : "", agent_extra ? agent_extra : "", extra ? ", " : "",
		 extra ? extra : "");
	CHECK_INT(rp_manifest_parse(&m, "manifest.json", text, strlen(text)), RP_OK);
	return m;
}

/* Build a plan that must be rejected at path; returns the message. */
static const char *rejected(const char *policy_text, const char *agent_extra, const char *extra,
			    const char *path)
{
	struct rp_policy *p = policy(policy_text);
	struct rp_manifest *m = manifest(agent_extra, extra);
	struct rp_plan plan;
	int rc = rp_plan_build(&plan, p, m);

	rp_manifest_free(m);
	rp_policy_free(p);
	CHECK_INT(rc, RP_E_POLICY);
	CHECK_INT(rp_error_last()->code, RP_E_POLICY);
	CHECK_STR(rp_error_last()->id, "policy_exceeded");
	CHECK_STR(rp_error_last()->where.file, "manifest");
	CHECK_STR(rp_error_last()->where.json_path, path);
	return rp_error_last()->msg;
}

static void accepted(const char *policy_text, const char *agent_extra, const char *extra,
		     bool private_only)
{
	struct rp_policy *p = policy(policy_text);
	struct rp_manifest *m = manifest(agent_extra, extra);
	struct rp_plan plan;
	int rc = rp_plan_build(&plan, p, m);

	if (rc) {
		snprintf(harness_why, sizeof(harness_why), "rejected: %.900s",
			 rp_error_last()->msg);
		rp_manifest_free(m);
		rp_policy_free(p);
		longjmp(harness_jmp, 1);
	}
	CHECK_INT(plan.private_only, private_only);
	rp_manifest_free(m);
	rp_policy_free(p);
}

static void test_defaults(void)
{
	struct rp_policy *p = policy(NULL);
	struct rp_manifest *m = manifest(NULL, NULL);
	struct rp_plan plan;
	json_t *j, *want;

	CHECK_INT(rp_plan_build(&plan, p, m), RP_OK);
	CHECK_INT(plan.wall_seconds, 3600);
	CHECK_INT(plan.memory_bytes, 4294967296LL);
	CHECK_INT(plan.max_processes, 512);
	CHECK_INT(plan.output_bytes, 67108864);
	CHECK_INT(plan.egress_mode, RP_EGRESS_NONE);
	CHECK_INT(plan.egress_allow.n, 0);
	CHECK(!plan.private_only);
	CHECK_INT(plan.scope_write.n, 1);
	CHECK_INT(plan.fs_read.n, 6);
	CHECK_INT(plan.artifact_max_file_bytes, 33554432);
	CHECK_INT(plan.artifact_max_total_bytes, 268435456);
	CHECK_INT(plan.artifact_max_diff_bytes, 67108864);
	CHECK_INT(plan.artifact_redaction, RP_ARTIFACTS_REDACT);
	CHECK_INT(plan.require_enforcement, RP_ENFORCE_NETWORK);

	j = rp_plan_to_json(&plan);
	want = json_loads("{\"wallSeconds\": 3600, \"memoryBytes\": 4294967296,"
			  " \"maxProcesses\": 512, \"outputBytes\": 67108864,"
			  " \"egress\": {\"mode\": \"none\", \"allow\": [], \"privateOnly\": false},"
			  " \"filesystem\": {\"read\": [\"/usr\", \"/etc\", \"/bin\", \"/lib\","
			  " \"/lib64\", \"/opt\"], \"write\": [\".\"]},"
			  " \"artifacts\": {\"maxFileBytes\": 33554432,"
			  " \"maxTotalBytes\": 268435456, \"maxDiffBytes\": 67108864,"
			  " \"redaction\": \"redact\"},"
			  " \"requireEnforcement\": [\"network\"]}", 0, NULL);
	CHECK(j && want);
	CHECK(json_equal(j, want));
	json_decref(j);
	json_decref(want);
	rp_manifest_free(m);
	rp_policy_free(p);
}

static void test_copies(void)
{
	struct rp_policy *p = policy(permissive);
	struct rp_manifest *m = manifest("\"timeoutSeconds\": 60",
					 "\"egress\": {\"mode\": \"allowlist\","
					 " \"allow\": [\"api.example.com:443\"]}");
	struct rp_plan plan;
	json_t *j;

	CHECK_INT(rp_plan_build(&plan, p, m), RP_OK);
	CHECK_INT(plan.wall_seconds, 60);
	CHECK_INT(plan.memory_bytes, 1000);
	CHECK_INT(plan.max_processes, 7);
	CHECK_INT(plan.output_bytes, 99);
	CHECK_INT(plan.egress_mode, RP_EGRESS_ALLOWLIST);
	CHECK_INT(plan.egress_allow.n, 1);
	CHECK_INT(plan.artifact_max_file_bytes, 5);
	CHECK_INT(plan.artifact_max_total_bytes, 6);
	CHECK_INT(plan.artifact_max_diff_bytes, 7);
	CHECK_INT(plan.artifact_redaction, RP_ARTIFACTS_REPORT);
	CHECK_INT(plan.require_enforcement, RP_ENFORCE_FILESYSTEM | RP_ENFORCE_LIMITS);
	j = rp_plan_to_json(&plan);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "egress"), "mode")),
		  "allowlist");
	CHECK_STR(json_string_value(json_array_get(
			  json_object_get(json_object_get(j, "egress"), "allow"), 0)),
		  "api.example.com:443");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "artifacts"),
						    "redaction")), "report");
	CHECK_INT(json_array_size(json_object_get(j, "requireEnforcement")), 2);
	json_decref(j);
	rp_manifest_free(m);
	rp_policy_free(p);
}

static void test_timeout(void)
{
	CHECK_STR(rejected(NULL, "\"timeoutSeconds\": 7200", NULL, "$.agent.timeoutSeconds"),
		  "$.agent.timeoutSeconds: 7200 exceeds the policy's limits.wallSeconds 3600");
	accepted(NULL, "\"timeoutSeconds\": 3600", NULL, false);
}

static void test_egress_mode(void)
{
	const char *msg;

	msg = rejected(NULL, NULL, "\"egress\": {\"mode\": \"open\"}", "$.egress.mode");
	CHECK(strstr(msg, "'open' exceeds the policy's egress.maxMode 'none'") != NULL);
	rejected("{\"egress\": {\"maxMode\": \"allowlist\", \"allow\": [\"a.example:1\"]}}",
		 NULL, "\"egress\": {\"mode\": \"open\"}", "$.egress.mode");
	rejected(NULL, NULL, "\"egress\": {\"mode\": \"allowlist\"}", "$.egress.mode");
	accepted("{\"egress\": {\"maxMode\": \"allowlist\"}}", NULL,
		 "\"egress\": {\"mode\": \"allowlist\"}", false);
	accepted(permissive, NULL, "\"egress\": {\"mode\": \"open\"}", false);
}

static void test_allow_cover(void)
{
	const char *msg;

	/* Exact, case-insensitive host; same port. */
	accepted(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"API.Example.COM:443\"]}",
		 false);
	msg = rejected(permissive, NULL,
		       "\"egress\": {\"mode\": \"allowlist\","
		       " \"allow\": [\"api.example.com:443\", \"api.example.com:80\"]}",
		       "$.egress.allow[1]");
	CHECK_STR(msg, "$.egress.allow[1]: 'api.example.com:80' is not covered by the "
		       "policy's egress.allow");
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"evil.example.com:443\"]}",
		 "$.egress.allow[0]");
	/* A name is never covered by an address range, nor an address by a name. */
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"ten.internal:11434\"]}",
		 "$.egress.allow[0]");
	/* CIDR containment. */
	accepted(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"10.1.2.3:11434\","
		 " \"10.1.0.0/16:11434\", \"10.0.0.0/8:11434\"]}", false);
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"10.0.0.0/7:11434\"]}",
		 "$.egress.allow[0]");
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"11.0.0.1:11434\"]}",
		 "$.egress.allow[0]");
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"10.1.2.3:443\"]}",
		 "$.egress.allow[0]");
	accepted(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"[fd12::1]:443\","
		 " \"[fdff::]/16:443\"]}", false);
	rejected(permissive, NULL,
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"[fe80::1]:443\"]}",
		 "$.egress.allow[0]");
	/* Same bits, other family. */
	rejected("{\"egress\": {\"maxMode\": \"allowlist\", \"allow\": [\"[::]/0:443\"]}}",
		 NULL, "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"1.2.3.4:443\"]}",
		 "$.egress.allow[0]");
	accepted("{\"egress\": {\"maxMode\": \"allowlist\", \"allow\": [\"0.0.0.0/0:443\"]}}",
		 NULL, "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"1.2.3.4:443\"]}",
		 false);
}

static void test_private_only(void)
{
	const char *msg;

	msg = rejected(permissive, "\"provider\": \"ollama\"", "\"egress\": {\"mode\": \"open\"}",
		       "$.egress.mode");
	CHECK(strstr(msg, "privateOnlyProviders") != NULL);
	msg = rejected(permissive, "\"provider\": \"ollama\"",
		       "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"api.example.com:443\"]}",
		       "$.egress.allow[0]");
	CHECK(strstr(msg, "privateOnlyProviders") != NULL);
	/* Covered by the policy, but public. */
	rejected(permissive, "\"provider\": \"ollama\"",
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"8.8.8.8:53\"]}",
		 "$.egress.allow[0]");
	accepted(permissive, "\"provider\": \"ollama\"",
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"10.1.2.3:11434\","
		 " \"[::1]:11434\", \"127.0.0.1:8080\", \"[fd12::1]:443\"]}", true);
	accepted(permissive, "\"provider\": \"ollama\"", NULL, true);
	/* Not listed: public addresses are fine. */
	accepted(permissive, "\"provider\": \"anthropic\"",
		 "\"egress\": {\"mode\": \"allowlist\", \"allow\": [\"8.8.8.8:53\"]}", false);
}

static void test_workspace_write(void)
{
	static const char no_write[] = "{\"filesystem\": {\"workspaceWrite\": false}}";

	CHECK(strstr(rejected(no_write, NULL, NULL, "$.scope.write"), "workspaceWrite") != NULL);
	rejected(no_write, NULL, "\"scope\": {\"write\": [\"out\"]}", "$.scope.write");
	accepted(no_write, NULL, "\"scope\": {\"write\": []}", false);
}

static int fixture(struct rp_manifest **m, struct rp_policy **p, const char *mname,
		   const char *pname)
{
	struct rp_buf b = RP_BUF_INIT;
	char path[256];
	int rc;

	*m = NULL;
	*p = NULL;
	snprintf(path, sizeof(path), "fixtures/manifests/%s", mname);
	rc = rp_read_file(&b, path, 1 << 20, 0);
	if (!rc) {
		/* Only the placeholder's absoluteness matters here. */
		char *at = strstr((char *)b.data, "\"@WORKSPACE@\"");

		if (at)
			at[1] = '/';
		rc = rp_manifest_parse(m, path, (const char *)b.data, b.len);
	}
	rp_buf_reset(&b);
	if (!rc && pname) {
		snprintf(path, sizeof(path), "fixtures/policies/%s", pname);
		rc = rp_read_file(&b, path, 1 << 20, 0);
		if (!rc)
			rc = rp_policy_parse(p, path, (const char *)b.data, b.len);
	} else if (!rc) {
		rc = rp_policy_default(p);
	}
	rp_buf_release(&b);
	return rc;
}

static void test_fixtures(void)
{
	struct rp_manifest *m;
	struct rp_policy *p;
	struct rp_plan plan;

	CHECK_INT(fixture(&m, &p, "full.json", "permissive.json"), RP_OK);
	CHECK_INT(rp_plan_build(&plan, p, m), RP_OK);
	CHECK_INT(plan.wall_seconds, 900);
	rp_manifest_free(m);
	rp_policy_free(p);

	CHECK_INT(fixture(&m, &p, "full.json", NULL), RP_OK);
	CHECK_INT(rp_plan_build(&plan, p, m), RP_E_POLICY);
	CHECK_STR(rp_error_last()->where.json_path, "$.egress.mode");
	rp_manifest_free(m);
	rp_policy_free(p);

	CHECK_INT(fixture(&m, &p, "bad-timeout.json", NULL), RP_OK);
	CHECK_INT(rp_plan_build(&plan, p, m), RP_E_POLICY);
	CHECK_STR(rp_error_last()->where.json_path, "$.agent.timeoutSeconds");
	rp_manifest_free(m);
	rp_policy_free(p);

	CHECK_INT(fixture(&m, &p, "succeed.json", "strict.json"), RP_OK);
	CHECK_INT(rp_plan_build(&plan, p, m), RP_OK);
	rp_manifest_free(m);
	rp_policy_free(p);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_defaults);
	RUN(test_copies);
	RUN(test_timeout);
	RUN(test_egress_mode);
	RUN(test_allow_cover);
	RUN(test_private_only);
	RUN(test_workspace_write);
	RUN(test_fixtures);
	return harness_done();
}
