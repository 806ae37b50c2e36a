#include "rp_policy.h"
#include "rp_error.h"
#include "rp_jsonin.h"
#include "rp_rules.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SECONDS INT32_MAX

static const char default_text[] =
	"{\n"
	"  \"capacity\": {\n"
	"    \"stateDir\": null,\n"
	"    \"limits\": [\n"
	"      {\"scope\": \"platform\", \"maxActive\": 4}\n"
	"    ],\n"
	"    \"onFull\": \"reject\",\n"
	"    \"queueTimeoutSeconds\": 0\n"
	"  },\n"
	"  \"egress\": {\n"
	"    \"maxMode\": \"none\",\n"
	"    \"allow\": [],\n"
	"    \"privateOnlyProviders\": []\n"
	"  },\n"
	"  \"filesystem\": {\n"
	"    \"read\": [\"/usr\", \"/etc\", \"/bin\", \"/lib\", \"/lib64\", \"/opt\"],\n"
	"    \"workspaceWrite\": true\n"
	"  },\n"
	"  \"limits\": {\n"
	"    \"wallSeconds\": 3600,\n"
	"    \"memoryBytes\": 4294967296,\n"
	"    \"maxProcesses\": 512,\n"
	"    \"outputBytes\": 67108864\n"
	"  },\n"
	"  \"artifacts\": {\n"
	"    \"maxFileBytes\": 33554432,\n"
	"    \"maxTotalBytes\": 268435456,\n"
	"    \"maxDiffBytes\": 67108864\n"
	"  },\n"
	"  \"redaction\": {\n"
	"    \"artifacts\": \"redact\",\n"
	"    \"rules\": []\n"
	"  },\n"
	"  \"requireEnforcement\": [\"network\"]\n"
	"}\n";

static const char *const top_keys[] = {
	"capacity", "egress", "filesystem", "limits", "artifacts", "redaction",
	"requireEnforcement", NULL,
};
static const char *const capacity_keys[] = {
	"stateDir", "limits", "onFull", "queueTimeoutSeconds", NULL,
};
static const char *const limit_keys[] = { "scope", "name", "maxActive", "maxQueued", NULL };
static const char *const egress_keys[] = { "maxMode", "allow", "privateOnlyProviders", NULL };
static const char *const filesystem_keys[] = { "read", "workspaceWrite", NULL };
static const char *const limits_keys[] = {
	"wallSeconds", "memoryBytes", "maxProcesses", "outputBytes", NULL,
};
static const char *const artifacts_keys[] = {
	"maxFileBytes", "maxTotalBytes", "maxDiffBytes", NULL,
};
static const char *const redaction_keys[] = { "artifacts", "rules", NULL };

/* Indexed by the enums of rp_policy.h and rp_manifest.h. */
static const char *const scope_names[] = {
	"platform", "tenant", "workspace", "provider", "runtime", NULL,
};
static const char *const on_full_names[] = { "queue", "reject", "defer", NULL };
static const char *const mode_names[] = { "none", "allowlist", "open", NULL };
static const char *const redaction_names[] = { "redact", "report", NULL };
/* Bit i is RP_ENFORCE_* value 1 << i. */
static const char *const enforce_names[] = { "filesystem", "network", "limits", NULL };

const char *rp_policy_default_text(void)
{
	return default_text;
}

/* ---- sections ---- */

static void limits_free(struct rp_capacity_limit *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int parse_limit(struct rp_capacity_limit *out, const struct rp_jsonin *in,
		       const struct rp_jsonin_node *n)
{
	struct rp_jsonin_node f;
	int scope = RP_SCOPE_PLATFORM, rc;
	bool named;

	if ((rc = rp_jsonin_object(in, n, limit_keys)))
		return rc;
	rp_jsonin_member(&f, n, "scope");
	if ((rc = rp_jsonin_require(in, &f)) || (rc = rp_jsonin_enum(&scope, in, &f, scope_names)))
		return rc;
	out->scope = (enum rp_capacity_scope)scope;
	named = out->scope == RP_SCOPE_PROVIDER || out->scope == RP_SCOPE_RUNTIME;
	rp_jsonin_member(&f, n, "name");
	if (named && (rc = rp_jsonin_require(in, &f)))
		return rc;
	if (!named && f.v)
		return rp_jsonin_error_key(in, &f, RP_E_INVALID, in->id_invalid,
					   "only provider and runtime limits take a name");
	if ((rc = rp_jsonin_string(&out->name, in, &f, rp_jsonin_check_nonempty)))
		return rc;
	rp_jsonin_member(&f, n, "maxActive");
	if ((rc = rp_jsonin_require(in, &f)) ||
	    (rc = rp_jsonin_int(&out->max_active, in, &f, 0, INT64_MAX)))
		return rc;
	rp_jsonin_member(&f, n, "maxQueued");
	return rp_jsonin_int(&out->max_queued, in, &f, 0, INT64_MAX);
}

static int parse_limits_array(struct rp_policy *p, const struct rp_jsonin *in,
			      const struct rp_jsonin_node *n)
{
	struct rp_capacity_limit *v = NULL;
	size_t count, got = 0;
	int rc = RP_OK;

	if (!n->v)
		return RP_OK;
	if (!json_is_array(n->v))
		return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid,
				       "expected an array of objects, got %s",
				       rp_jsonin_type_name(n->v));
	count = json_array_size(n->v);
	if (count && !(v = calloc(count, sizeof(*v))))
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		struct rp_jsonin_node e;

		rp_jsonin_elem(&e, n, i);
		v[i].max_queued = -1;
		got++;
		if ((rc = parse_limit(&v[i], in, &e)))
			goto done;
		/* Two ceilings for one thing would leave capacity ambiguous. */
		for (size_t j = 0; j < i; j++) {
			if (v[j].scope == v[i].scope &&
			    (!v[i].name || strcmp(v[j].name, v[i].name) == 0)) {
				rc = rp_jsonin_error(in, &e, RP_E_INVALID, in->id_invalid,
						     "duplicate limit (same as [%zu])", j);
				goto done;
			}
		}
	}
	limits_free(p->capacity.limits, p->capacity.limits_n);
	p->capacity.limits = v;
	p->capacity.limits_n = got;
	v = NULL;
	got = 0;
done:
	limits_free(v, got);
	return rc;
}

static int parse_capacity(struct rp_policy *p, const struct rp_jsonin *in,
			  const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int on_full = (int)p->capacity.on_full, rc;

	rp_jsonin_member(&sec, root, "capacity");
	if ((rc = rp_jsonin_object(in, &sec, capacity_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "stateDir");
	if (json_is_null(f.v)) {
		free(p->capacity.state_dir);
		p->capacity.state_dir = NULL;
	} else if ((rc = rp_jsonin_string(&p->capacity.state_dir, in, &f,
					  rp_jsonin_check_absolute))) {
		return rc;
	}
	rp_jsonin_member(&f, &sec, "limits");
	if ((rc = parse_limits_array(p, in, &f)))
		return rc;
	rp_jsonin_member(&f, &sec, "onFull");
	if ((rc = rp_jsonin_enum(&on_full, in, &f, on_full_names)))
		return rc;
	p->capacity.on_full = (enum rp_on_full)on_full;
	rp_jsonin_member(&f, &sec, "queueTimeoutSeconds");
	return rp_jsonin_int(&p->capacity.queue_timeout_seconds, in, &f, 0, MAX_SECONDS);
}

static int parse_egress(struct rp_policy *p, const struct rp_jsonin *in,
			const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int mode = (int)p->egress.max_mode, rc;

	rp_jsonin_member(&sec, root, "egress");
	if ((rc = rp_jsonin_object(in, &sec, egress_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "maxMode");
	if ((rc = rp_jsonin_enum(&mode, in, &f, mode_names)))
		return rc;
	p->egress.max_mode = (enum rp_egress_mode)mode;
	rp_jsonin_member(&f, &sec, "allow");
	if ((rc = rp_jsonin_strv(&p->egress.allow, in, &f, rp_jsonin_check_egress)))
		return rc;
	rp_jsonin_member(&f, &sec, "privateOnlyProviders");
	return rp_jsonin_strv(&p->egress.private_only_providers, in, &f,
			      rp_jsonin_check_nonempty);
}

static int parse_filesystem(struct rp_policy *p, const struct rp_jsonin *in,
			    const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int rc;

	rp_jsonin_member(&sec, root, "filesystem");
	if ((rc = rp_jsonin_object(in, &sec, filesystem_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "read");
	if ((rc = rp_jsonin_strv(&p->filesystem.read, in, &f, rp_jsonin_check_absolute)))
		return rc;
	rp_jsonin_member(&f, &sec, "workspaceWrite");
	return rp_jsonin_bool(&p->filesystem.workspace_write, in, &f);
}

static int parse_numbers(struct rp_policy *p, const struct rp_jsonin *in,
			 const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int rc;

	rp_jsonin_member(&sec, root, "limits");
	if ((rc = rp_jsonin_object(in, &sec, limits_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "wallSeconds");
	if ((rc = rp_jsonin_int(&p->limits.wall_seconds, in, &f, 1, MAX_SECONDS)))
		return rc;
	rp_jsonin_member(&f, &sec, "memoryBytes");
	if ((rc = rp_jsonin_int(&p->limits.memory_bytes, in, &f, 0, INT64_MAX)))
		return rc;
	rp_jsonin_member(&f, &sec, "maxProcesses");
	if ((rc = rp_jsonin_int(&p->limits.max_processes, in, &f, 0, INT64_MAX)))
		return rc;
	rp_jsonin_member(&f, &sec, "outputBytes");
	if ((rc = rp_jsonin_int(&p->limits.output_bytes, in, &f, 0, INT64_MAX)))
		return rc;

	rp_jsonin_member(&sec, root, "artifacts");
	if ((rc = rp_jsonin_object(in, &sec, artifacts_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "maxFileBytes");
	if ((rc = rp_jsonin_int(&p->artifacts.max_file_bytes, in, &f, 0, INT64_MAX)))
		return rc;
	rp_jsonin_member(&f, &sec, "maxTotalBytes");
	if ((rc = rp_jsonin_int(&p->artifacts.max_total_bytes, in, &f, 0, INT64_MAX)))
		return rc;
	rp_jsonin_member(&f, &sec, "maxDiffBytes");
	return rp_jsonin_int(&p->artifacts.max_diff_bytes, in, &f, 0, INT64_MAX);
}

/*
 * Custom redaction rules are compiled here (PCRE2 and Vectorscan, no side
 * effects) so a bad one is rejected with its place in the file: the rule
 * engine says which field of the rule is wrong (".allowlists[0].regexes[1]"),
 * and that path is walked down from the rule's node.
 */
static int check_rules(const struct rp_jsonin *in, const struct rp_jsonin_node *arr)
{
	struct rp_jsonin_node nodes[8];
	char where[160], msg[sizeof(rp_error_last()->msg)], keys[8][64];

	for (size_t i = 0; i < json_array_size(arr->v); i++) {
		const char *w = where, *id;
		size_t depth = 0;

		rp_jsonin_elem(&nodes[0], arr, i);
		id = json_string_value(json_object_get(nodes[0].v, "id"));
		for (size_t j = 0; id && j < i; j++) {
			if (!strcmp(id, json_string_value(json_object_get(json_array_get(arr->v, j), "id")) ?
					 json_string_value(json_object_get(json_array_get(arr->v, j), "id")) : "")) {
				rp_jsonin_member(&nodes[1], &nodes[0], "id");
				return rp_jsonin_error(in, &nodes[1], RP_E_INVALID, in->id_invalid,
						       "rule id '%s' is used twice", id);
			}
		}
		if (!rp_rules_validate(nodes[0].v, where, sizeof(where)))
			continue;
		snprintf(msg, sizeof(msg), "%s", rp_error_last()->msg);
		while (*w && depth + 1 < sizeof(nodes) / sizeof(nodes[0])) {
			if (*w == '.') {
				size_t n = strcspn(w + 1, ".[");

				/* Nodes keep a pointer to their key: one buffer each. */
				snprintf(keys[depth], sizeof(keys[depth]), "%.*s", (int)n, w + 1);
				rp_jsonin_member(&nodes[depth + 1], &nodes[depth], keys[depth]);
				w += 1 + n;
			} else if (*w == '[') {
				rp_jsonin_elem(&nodes[depth + 1], &nodes[depth], strtoul(w + 1, NULL, 10));
				w += strcspn(w, "]") + (w[strcspn(w, "]")] ? 1 : 0);
			} else {
				break;
			}
			if (!nodes[depth + 1].v)
				break;
			depth++;
		}
		return rp_jsonin_error(in, &nodes[depth], RP_E_INVALID, in->id_invalid, "%s", msg);
	}
	return RP_OK;
}

static int parse_redaction(struct rp_policy *p, const struct rp_jsonin *in,
			   const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int mode = (int)p->redaction.artifacts, rc;
	json_t *rules;

	rp_jsonin_member(&sec, root, "redaction");
	if ((rc = rp_jsonin_object(in, &sec, redaction_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "artifacts");
	if ((rc = rp_jsonin_enum(&mode, in, &f, redaction_names)))
		return rc;
	p->redaction.artifacts = (enum rp_artifact_policy)mode;
	rp_jsonin_member(&f, &sec, "rules");
	if (!f.v)
		return RP_OK;
	if (!json_is_array(f.v))
		return rp_jsonin_error(in, &f, RP_E_INVALID, in->id_invalid,
				       "expected an array, got %s", rp_jsonin_type_name(f.v));
	if ((rc = check_rules(in, &f)))
		return rc;
	rules = json_deep_copy(f.v);
	if (!rules)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	json_decref(p->redaction.rules);
	p->redaction.rules = rules;
	return RP_OK;
}

static int parse_enforcement(struct rp_policy *p, const struct rp_jsonin *in,
			     const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node f, e;
	unsigned bits = 0;
	int rc;

	rp_jsonin_member(&f, root, "requireEnforcement");
	if (!f.v)
		return RP_OK;
	if (!json_is_array(f.v))
		return rp_jsonin_error(in, &f, RP_E_INVALID, in->id_invalid,
				       "expected an array of strings, got %s",
				       rp_jsonin_type_name(f.v));
	for (size_t i = 0; i < json_array_size(f.v); i++) {
		int kind = 0;

		rp_jsonin_elem(&e, &f, i);
		if ((rc = rp_jsonin_enum(&kind, in, &e, enforce_names)))
			return rc;
		bits |= 1u << kind;
	}
	p->require_enforcement = bits;
	return RP_OK;
}

/* Apply one policy document over *p, field by field. */
static int apply(struct rp_policy *p, const char *file, const char *text, size_t len)
{
	const struct rp_jsonin in = {
		.file = file, .text = text, .len = len,
		.id_parse = "policy_parse_error",
		.id_unknown = "policy_unknown_field",
		.id_invalid = "policy_invalid_field",
		.id_missing = "policy_invalid_field",
	};
	struct rp_jsonin_node root;
	json_t *doc = NULL;
	int rc;

	if ((rc = rp_jsonin_load(&doc, &root, &in)) ||
	    (rc = rp_jsonin_object(&in, &root, top_keys)) || (rc = parse_capacity(p, &in, &root)) ||
	    (rc = parse_egress(p, &in, &root)) || (rc = parse_filesystem(p, &in, &root)) ||
	    (rc = parse_numbers(p, &in, &root)) || (rc = parse_redaction(p, &in, &root)))
		goto done;
	rc = parse_enforcement(p, &in, &root);
done:
	json_decref(doc);
	return rc;
}

int rp_policy_default(struct rp_policy **out)
{
	struct rp_policy *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = apply(p, "built-in policy", default_text, sizeof(default_text) - 1);
	if (rc) {
		rp_policy_free(p);
		return rc;
	}
	*out = p;
	return RP_OK;
}

int rp_policy_parse(struct rp_policy **out, const char *file, const char *text, size_t len)
{
	struct rp_policy *p = NULL;
	int rc;

	*out = NULL;
	if ((rc = rp_policy_default(&p)) || (rc = apply(p, file, text, len))) {
		rp_policy_free(p);
		return rc;
	}
	*out = p;
	return RP_OK;
}

static json_t *limits_json(const struct rp_policy *p)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < p->capacity.limits_n; i++) {
		const struct rp_capacity_limit *l = &p->capacity.limits[i];
		json_t *o = json_pack("{s:s, s:I}", "scope", scope_names[l->scope], "maxActive",
				      (json_int_t)l->max_active);

		if (o && l->name && json_object_set_new(o, "name", json_string(l->name)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (o && l->max_queued >= 0 &&
		    json_object_set_new(o, "maxQueued", json_integer(l->max_queued)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

json_t *rp_enforcement_to_json(unsigned bits)
{
	json_t *a = json_array();

	for (size_t i = 0; a && enforce_names[i]; i++) {
		if ((bits & (1u << i)) && json_array_append_new(a, json_string(enforce_names[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

json_t *rp_policy_to_json(const struct rp_policy *p)
{
	json_t *enforce = rp_enforcement_to_json(p->require_enforcement);

	return json_pack("{s:{s:o, s:o, s:s, s:I},"
			 " s:{s:s, s:o, s:o},"
			 " s:{s:o, s:b},"
			 " s:{s:I, s:I, s:I, s:I},"
			 " s:{s:I, s:I, s:I},"
			 " s:{s:s, s:O},"
			 " s:o}",
			 "capacity",
			 "stateDir", p->capacity.state_dir ? json_string(p->capacity.state_dir)
							   : json_null(),
			 "limits", limits_json(p),
			 "onFull", on_full_names[p->capacity.on_full],
			 "queueTimeoutSeconds", (json_int_t)p->capacity.queue_timeout_seconds,
			 "egress",
			 "maxMode", mode_names[p->egress.max_mode],
			 "allow", rp_strv_to_json(&p->egress.allow),
			 "privateOnlyProviders", rp_strv_to_json(&p->egress.private_only_providers),
			 "filesystem",
			 "read", rp_strv_to_json(&p->filesystem.read),
			 "workspaceWrite", (int)p->filesystem.workspace_write,
			 "limits",
			 "wallSeconds", (json_int_t)p->limits.wall_seconds,
			 "memoryBytes", (json_int_t)p->limits.memory_bytes,
			 "maxProcesses", (json_int_t)p->limits.max_processes,
			 "outputBytes", (json_int_t)p->limits.output_bytes,
			 "artifacts",
			 "maxFileBytes", (json_int_t)p->artifacts.max_file_bytes,
			 "maxTotalBytes", (json_int_t)p->artifacts.max_total_bytes,
			 "maxDiffBytes", (json_int_t)p->artifacts.max_diff_bytes,
			 "redaction",
			 "artifacts", redaction_names[p->redaction.artifacts],
			 "rules", p->redaction.rules,
			 "requireEnforcement", enforce);
}

void rp_policy_free(struct rp_policy *p)
{
	if (!p)
		return;
	free(p->capacity.state_dir);
	limits_free(p->capacity.limits, p->capacity.limits_n);
	rp_jsonin_strv_release(&p->egress.allow);
	rp_jsonin_strv_release(&p->egress.private_only_providers);
	rp_jsonin_strv_release(&p->filesystem.read);
	json_decref(p->redaction.rules);
	free(p);
}
