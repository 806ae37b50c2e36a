/*
 * rp_plan: the immutable run plan, effective = operator ceiling ∩ request.
 *
 * Owns: struct rp_plan. Pure: builds the plan from a policy and a manifest
 * without touching processes, files or the network, so it can be printed and
 * unit-tested. A request beyond the ceiling is rejected (RP_E_POLICY with id
 * "policy_exceeded" and the manifest JSON path in where.json_path), never
 * clipped.
 */
#ifndef RP_PLAN_H
#define RP_PLAN_H

#include "rp_manifest.h"
#include "rp_policy.h"

#include <jansson.h>
#include <stdint.h>

struct rp_plan {
	int64_t wall_seconds;     /* manifest timeout, or the policy's wallSeconds */
	int64_t memory_bytes;     /* 0 = no limit */
	int64_t max_processes;    /* 0 = no limit */
	int64_t output_bytes;     /* per stream cap */
	enum rp_egress_mode egress_mode;
	struct rp_strv egress_allow;   /* borrowed from the manifest */
	bool private_only;             /* provider listed in privateOnlyProviders */
	struct rp_strv scope_write;    /* borrowed from the manifest */
	struct rp_strv fs_read;        /* borrowed from the policy */
	int64_t artifact_max_file_bytes;
	int64_t artifact_max_total_bytes;
	int64_t artifact_max_diff_bytes; /* cap on diff.patch */
	enum rp_artifact_policy artifact_redaction;
	unsigned require_enforcement;  /* RP_ENFORCE_* */
};

int rp_plan_build(struct rp_plan *out, const struct rp_policy *p, const struct rp_manifest *m);

/* The effective plan as JSON (new reference), recorded in result.json. */
json_t *rp_plan_to_json(const struct rp_plan *plan);

#endif
