/*
 * rp_policy: the operator policy (the ceilings), parsed and validated, and the
 * built-in conservative default used when no policy file is given.
 *
 * Owns: struct rp_policy and its strings. A policy file is applied over the
 * built-in defaults field by field: a field present in the file replaces the
 * default (an array replaces the whole array); a field absent from the file,
 * whether its section is absent or present, keeps the default. Unknown fields
 * are errors (a typo fails closed). Errors carry file, JSON path, line and
 * column like rp_manifest.
 *
 * Shape (rp_policy_to_json() emits every field; see rp_policy_default_text()):
 *   capacity.stateDir              absolute path, or null (not set)
 *   capacity.limits[]              {"scope": platform|tenant|workspace|provider|
 *                                  runtime, "name" (required for provider and
 *                                  runtime, refused otherwise), "maxActive" >= 0,
 *                                  "maxQueued" >= 0 (absent = unlimited)}; at
 *                                  most one entry per scope (and name)
 *   capacity.onFull                "queue" | "reject" | "defer"
 *   capacity.queueTimeoutSeconds   >= 0
 *   egress.maxMode                 "none" | "allowlist" | "open"
 *   egress.allow[]                 "host:port" entries a manifest may request
 *                                  (rp_egress_entry_parse; a CIDR covers the
 *                                  addresses and CIDRs inside it, same port)
 *   egress.privateOnlyProviders[]  providers limited to loopback, RFC 1918 and
 *                                  link-local addresses
 *   filesystem.read[]              absolute paths; filesystem.workspaceWrite bool
 *   limits.wallSeconds             >= 1
 *   limits.memoryBytes, .maxProcesses  >= 0 (0 = no limit)
 *   limits.outputBytes             >= 0, per stream
 *   artifacts.maxFileBytes, .maxTotalBytes  >= 0
 *   artifacts.maxDiffBytes         >= 0; diff.patch larger than this is left
 *                                  out (error diff_too_large)
 *   redaction.artifacts            "redact" | "report"
 *   redaction.rules                an array, kept as JSON for the redactor
 *   requireEnforcement[]           subset of "filesystem", "network", "limits"
 */
#ifndef RP_POLICY_H
#define RP_POLICY_H

#include "rp_manifest.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum rp_capacity_scope {
	RP_SCOPE_PLATFORM, RP_SCOPE_TENANT, RP_SCOPE_WORKSPACE,
	RP_SCOPE_PROVIDER, RP_SCOPE_RUNTIME,
};

struct rp_capacity_limit {
	enum rp_capacity_scope scope;
	char *name;          /* provider/runtime name; NULL for other scopes */
	int64_t max_active;  /* -1 = unlimited */
	int64_t max_queued;  /* -1 = unlimited */
};

enum rp_on_full { RP_ON_FULL_QUEUE, RP_ON_FULL_REJECT, RP_ON_FULL_DEFER };

/* Enforcement kinds that requireEnforcement may name. */
#define RP_ENFORCE_FILESYSTEM 0x1u
#define RP_ENFORCE_NETWORK 0x2u
#define RP_ENFORCE_LIMITS 0x4u

enum rp_artifact_policy { RP_ARTIFACTS_REDACT, RP_ARTIFACTS_REPORT };

struct rp_policy {
	struct {
		char *state_dir;  /* NULL = not set by the policy */
		struct rp_capacity_limit *limits;
		size_t limits_n;
		enum rp_on_full on_full;
		int64_t queue_timeout_seconds;
	} capacity;
	struct {
		enum rp_egress_mode max_mode;
		struct rp_strv allow;
		struct rp_strv private_only_providers;
	} egress;
	struct {
		struct rp_strv read;
		bool workspace_write;
	} filesystem;
	struct {
		int64_t wall_seconds;
		int64_t memory_bytes;
		int64_t max_processes;
		int64_t output_bytes;  /* per stream */
	} limits;
	struct {
		int64_t max_file_bytes;
		int64_t max_total_bytes;
		int64_t max_diff_bytes;
	} artifacts;
	struct {
		enum rp_artifact_policy artifacts;
		json_t *rules;          /* validated later by the redaction engine */
	} redaction;
	unsigned require_enforcement; /* RP_ENFORCE_* bits */
};

/* The built-in policy as JSON text (printed by doctor and run --help). */
const char *rp_policy_default_text(void);

/* The built-in policy, parsed. */
int rp_policy_default(struct rp_policy **out);

/* Parse a policy file's text over the built-in defaults. Error ids:
 * policy_parse_error, policy_unknown_field, policy_invalid_field (also for a
 * missing required field inside a capacity.limits entry). */
int rp_policy_parse(struct rp_policy **out, const char *file, const char *text, size_t len);

/* The policy as a JSON object in the documented shape (new reference). */
json_t *rp_policy_to_json(const struct rp_policy *p);

/* RP_ENFORCE_* bits as a JSON array of their names (new reference). */
json_t *rp_enforcement_to_json(unsigned bits);

void rp_policy_free(struct rp_policy *p);

#endif
