#include "rp_plan.h"
#include "rp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Record a request beyond the ceiling; path names the manifest field. */
static __attribute__((format(printf, 2, 3))) int exceeded(const char *path, const char *fmt, ...)
{
	struct rp_error_where w;
	char detail[768];
	va_list ap;

	memset(&w, 0, sizeof(w));
	snprintf(w.file, sizeof(w.file), "manifest");
	snprintf(w.json_path, sizeof(w.json_path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return rp_error_set_at(RP_E_POLICY, "policy_exceeded", &w, "%s: %s", path, detail);
}

/* true when every address of inner lies in outer (same family). */
static bool cidr_contains(const struct rp_egress_entry *outer, const struct rp_egress_entry *inner)
{
	unsigned bits = outer->prefix;

	if (outer->kind != inner->kind || outer->kind == RP_HOST_NAME || inner->prefix < bits)
		return false;
	for (unsigned i = 0; bits; i++) {
		unsigned take = bits < 8 ? bits : 8;
		unsigned char mask = (unsigned char)(0xff00u >> take);

		if ((outer->addr[i] ^ inner->addr[i]) & mask)
			return false;
		bits -= take;
	}
	return true;
}

static bool entry_covers(const struct rp_egress_entry *ceiling, const struct rp_egress_entry *e)
{
	if (ceiling->port != e->port)
		return false;
	if (e->kind == RP_HOST_NAME)
		return ceiling->kind == RP_HOST_NAME && strcasecmp(ceiling->name, e->name) == 0;
	return cidr_contains(ceiling, e);
}

/* Loopback, RFC 1918, link-local, and their IPv6 counterparts (ULA). */
static bool entry_private(const struct rp_egress_entry *e)
{
	static const char *const ranges[] = {
		"127.0.0.0/8:1", "10.0.0.0/8:1", "172.16.0.0/12:1", "192.168.0.0/16:1",
		"169.254.0.0/16:1", "[::1]:1", "[fc00::]/7:1", "[fe80::]/10:1",
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		struct rp_egress_entry r;

		if (rp_egress_entry_parse(&r, ranges[i], NULL) && cidr_contains(&r, e))
			return true;
	}
	return false;
}

static bool strv_has(const struct rp_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

static int check_allow(const struct rp_policy *p, const struct rp_manifest *m, bool private_only)
{
	char path[64];

	for (size_t i = 0; i < m->egress.allow.n; i++) {
		const char *want = m->egress.allow.v[i];
		struct rp_egress_entry e, c;
		bool covered = false;

		snprintf(path, sizeof(path), "$.egress.allow[%zu]", i);
		if (!rp_egress_entry_parse(&e, want, NULL))
			return rp_error_set(RP_E_INTERNAL, NULL, "%s: unvalidated entry", path);
		if (private_only && !entry_private(&e))
			return exceeded(path, "'%s' is not a loopback, private or link-local "
					      "address, and the provider is listed in the "
					      "policy's egress.privateOnlyProviders", want);
		for (size_t j = 0; j < p->egress.allow.n && !covered; j++)
			covered = rp_egress_entry_parse(&c, p->egress.allow.v[j], NULL) &&
				  entry_covers(&c, &e);
		if (!covered)
			return exceeded(path, "'%s' is not covered by the policy's egress.allow",
					want);
	}
	return RP_OK;
}

int rp_plan_build(struct rp_plan *out, const struct rp_policy *p, const struct rp_manifest *m)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (m->timeout_seconds > p->limits.wall_seconds)
		return exceeded("$.agent.timeoutSeconds",
				"%lld exceeds the policy's limits.wallSeconds %lld",
				(long long)m->timeout_seconds, (long long)p->limits.wall_seconds);
	if (m->egress.mode > p->egress.max_mode)
		return exceeded("$.egress.mode", "'%s' exceeds the policy's egress.maxMode '%s'",
				rp_egress_mode_name(m->egress.mode),
				rp_egress_mode_name(p->egress.max_mode));
	out->private_only = m->provider && strv_has(&p->egress.private_only_providers, m->provider);
	if (out->private_only && m->egress.mode == RP_EGRESS_OPEN)
		return exceeded("$.egress.mode", "'open' is not allowed: the provider is listed "
						 "in the policy's egress.privateOnlyProviders");
	if ((rc = check_allow(p, m, out->private_only)))
		return rc;
	if (m->scope_write.n && !p->filesystem.workspace_write)
		return exceeded("$.scope.write", "writing to the workspace exceeds the policy's "
						 "filesystem.workspaceWrite false");

	out->wall_seconds = m->timeout_seconds ? m->timeout_seconds : p->limits.wall_seconds;
	out->memory_bytes = p->limits.memory_bytes;
	out->max_processes = p->limits.max_processes;
	out->output_bytes = p->limits.output_bytes;
	out->egress_mode = m->egress.mode;
	out->egress_allow = m->egress.allow;
	out->scope_write = m->scope_write;
	out->fs_read = p->filesystem.read;
	out->artifact_max_file_bytes = p->artifacts.max_file_bytes;
	out->artifact_max_total_bytes = p->artifacts.max_total_bytes;
	out->artifact_max_diff_bytes = p->artifacts.max_diff_bytes;
	out->artifact_redaction = p->redaction.artifacts;
	out->require_enforcement = p->require_enforcement;
	return RP_OK;
}

json_t *rp_plan_to_json(const struct rp_plan *plan)
{
	json_t *enforce = rp_enforcement_to_json(plan->require_enforcement);

	return json_pack("{s:I, s:I, s:I, s:I,"
			 " s:{s:s, s:o, s:b},"
			 " s:{s:o, s:o},"
			 " s:{s:I, s:I, s:I, s:s},"
			 " s:o}",
			 "wallSeconds", (json_int_t)plan->wall_seconds,
			 "memoryBytes", (json_int_t)plan->memory_bytes,
			 "maxProcesses", (json_int_t)plan->max_processes,
			 "outputBytes", (json_int_t)plan->output_bytes,
			 "egress",
			 "mode", rp_egress_mode_name(plan->egress_mode),
			 "allow", rp_strv_to_json(&plan->egress_allow),
			 "privateOnly", (int)plan->private_only,
			 "filesystem",
			 "read", rp_strv_to_json(&plan->fs_read),
			 "write", rp_strv_to_json(&plan->scope_write),
			 "artifacts",
			 "maxFileBytes", (json_int_t)plan->artifact_max_file_bytes,
			 "maxTotalBytes", (json_int_t)plan->artifact_max_total_bytes,
			 "maxDiffBytes", (json_int_t)plan->artifact_max_diff_bytes,
			 "redaction",
			 plan->artifact_redaction == RP_ARTIFACTS_REPORT ? "report" : "redact",
			 "requireEnforcement", enforce);
}
