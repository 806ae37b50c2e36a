/*
 * rp_manifest: the job manifest, parsed and validated (pure: no I/O beyond
 * what the caller hands in).
 *
 * Owns: struct rp_manifest and every string in it. The parse is strict: an
 * unknown field, a wrong type or an out-of-range value is an error whose
 * rp_error_where names the file, the JSON path, and the line and column.
 * Defaults for absent optional fields are filled in here; the operator
 * ceiling is applied later by rp_plan.
 */
#ifndef RP_MANIFEST_H
#define RP_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_MANIFEST_MAX_BYTES (4u << 20)
#define RP_RUN_ID_MAX 128

enum rp_secret_source { RP_SECRET_ENV, RP_SECRET_FILE };

struct rp_kv {
	char *key;
	char *value;
};

struct rp_secret_ref {
	char *name;                   /* variable name injected into the agent */
	enum rp_secret_source source;
	char *ref;                    /* env var name or file path */
};

enum rp_egress_mode { RP_EGRESS_NONE = 0, RP_EGRESS_ALLOWLIST = 1, RP_EGRESS_OPEN = 2 };

/* A string list; v is NULL-terminated (v[n] == NULL) whenever n > 0, so an
 * argv can be handed to exec as it is. */
struct rp_strv {
	char **v;
	size_t n;
};

struct rp_manifest {
	char *run_id;          /* validated, or generated when absent */
	bool run_id_generated;
	char *base_dir;        /* absolute, as given */
	char *imported_from;   /* NULL when absent */
	json_t *orchestrator_workspace; /* verbatim copy (provenance), NULL when absent */

	struct rp_strv argv;   /* agent.argv, at least one element */
	char *cwd;             /* relative to base_dir; default "." */
	struct rp_kv *env;     /* agent.env, sorted by key */
	size_t env_n;
	struct rp_secret_ref *secrets; /* agent.secretEnv, sorted by name */
	size_t secrets_n;
	char *provider;        /* NULL when absent */
	char *runtime;         /* NULL when absent */
	int64_t timeout_seconds; /* 0 = not requested (policy wallSeconds applies) */

	struct {
		char *tenant;      /* NULL when absent */
		char *workspace;
		int64_t units;     /* default 1 */
	} capacity;

	struct {
		enum rp_egress_mode mode; /* default none */
		struct rp_strv allow;     /* "host:port" or "cidr:port" */
	} egress;

	struct rp_strv scope_write; /* relative paths inside the workspace; default ["."] */

	/* Artifact globs. include_set tells an absent include (the default
	 * selection: the files changed against the git base, if any) from an
	 * explicit empty one (nothing). */
	struct rp_strv include;
	bool include_set;
	struct rp_strv exclude;

	bool diff;

	json_t *doc;           /* the whole parsed document, for the package copy */
};

/*
 * Parse and validate manifest text. file names the source in errors. On error
 * returns a negative code with rp_error_last()->where filled in; *out is NULL.
 * Stable error ids: manifest_parse_error, manifest_unknown_field,
 * manifest_invalid_field, manifest_missing_field, manifest_writeback_unsupported.
 * Strings containing \u0000 and duplicate keys are parse errors.
 */
int rp_manifest_parse(struct rp_manifest **out, const char *file, const char *text, size_t len);
void rp_manifest_free(struct rp_manifest *m);

/* Add the manifest file's name, line and column to the last error when it
 * names a manifest JSON path but no position (rp_plan's rejections: the plan
 * is built without the text). Returns the last error's code. */
int rp_manifest_locate_error(const char *file, const char *text, size_t len);

/* A new random run id ("rp-" + 26 lowercase base32 chars), malloc'd. */
char *rp_run_id_generate(void);
bool rp_run_id_valid(const char *id);

const char *rp_egress_mode_name(enum rp_egress_mode m);

/* A JSON array of the list's strings (new reference; NULL on failure). */
json_t *rp_strv_to_json(const struct rp_strv *v);

/*
 * One egress allow entry, "host:port": a DNS name, an IPv4 address or CIDR
 * ("10.0.0.0/8:11434"), or a bracketed IPv6 address or CIDR ("[::1]:8080",
 * "[fd00::]/8:443"). A CIDR with bits set past its prefix is malformed.
 */
enum rp_host_kind { RP_HOST_NAME, RP_HOST_IPV4, RP_HOST_IPV6 };

struct rp_egress_entry {
	enum rp_host_kind kind;
	char name[254];         /* RP_HOST_NAME: the name, lowercased */
	unsigned char addr[16]; /* network order; IPv4 uses the first 4 bytes */
	unsigned prefix;        /* CIDR prefix; 32 or 128 for a single address */
	unsigned port;          /* 1-65535 */
};

/* false when s is malformed; *why (when why is not NULL) then names the
 * problem in a few static words. */
bool rp_egress_entry_parse(struct rp_egress_entry *out, const char *s, const char **why);

#endif
