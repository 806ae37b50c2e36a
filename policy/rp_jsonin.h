/*
 * rp_jsonin: location-aware reading of JSON input files (internal to policy/).
 *
 * jansson reports line and column only for syntax errors. Every other error
 * (unknown field, wrong type, bad value) must name them too, so this module
 * keeps the original text and, when an error is raised, finds the value (or
 * the key) again with a small lexer over that text. Positions are 1-based;
 * columns count characters, as jansson's do.
 *
 * A node pairs a jansson value with its place in the document: nodes live on
 * the caller's stack and point to their parent, so a path costs nothing until
 * an error prints it ("$.agent.argv[2]", $["weird key"]).
 *
 * Getters share one contract: when node->v is NULL (the field is absent) they
 * return RP_OK and leave the output untouched, so the caller presets defaults;
 * when present they replace the output (freeing any previous value). Errors
 * are recorded with rp_error_set_at() and the context's stable ids.
 */
#ifndef RP_JSONIN_H
#define RP_JSONIN_H

#include "rp_manifest.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_jsonin {
	const char *file;       /* names the source in errors */
	const char *text;       /* the document as received, len bytes */
	size_t len;
	const char *id_parse;   /* stable error ids (string literals) */
	const char *id_unknown;
	const char *id_invalid;
	const char *id_missing;
};

struct rp_jsonin_node {
	const struct rp_jsonin_node *parent; /* NULL for the root */
	const char *key;                     /* member name; NULL for an element */
	size_t index;                        /* element index when key is NULL */
	json_t *v;                           /* borrowed; NULL when absent */
};

/* Checks one string in place; records an error and returns it, or RP_OK. */
typedef int (*rp_jsonin_check)(const struct rp_jsonin *in,
			       const struct rp_jsonin_node *n, const char *s);

/*
 * Parse in->text (strings containing \u0000 and duplicate keys are syntax
 * errors: fail closed). The root must be an object. *doc is a new reference;
 * root is set up as the root node over it.
 */
int rp_jsonin_load(json_t **doc, struct rp_jsonin_node *root, const struct rp_jsonin *in);

void rp_jsonin_member(struct rp_jsonin_node *out, const struct rp_jsonin_node *parent,
		      const char *key);
void rp_jsonin_elem(struct rp_jsonin_node *out, const struct rp_jsonin_node *parent,
		    size_t index);

/* true for [A-Za-z_][A-Za-z0-9_]*: a path key printed bare, an env name. */
bool rp_jsonin_identifier(const char *s);

/* "$.a.b[3]" into out (always NUL-terminated; long keys are shortened). */
void rp_jsonin_path(char *out, size_t cap, const struct rp_jsonin_node *n);

/* Record an error located at the node's value (or, for _key, at its member
 * name). The message reads "file:line:col: $.path: <fmt>". */
int rp_jsonin_error(const struct rp_jsonin *in, const struct rp_jsonin_node *n, int code,
		    const char *id, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int rp_jsonin_error_key(const struct rp_jsonin *in, const struct rp_jsonin_node *n, int code,
			const char *id, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "string", "integer", "real", "boolean", "null", "array", "object". */
const char *rp_jsonin_type_name(const json_t *v);

/* The node must be an object whose keys are all in allowed (NULL-terminated);
 * an unknown key is reported with the closest allowed name when one is near. */
int rp_jsonin_object(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		     const char *const *allowed);
/* Missing-field error for an absent node, located at the enclosing object. */
int rp_jsonin_require(const struct rp_jsonin *in, const struct rp_jsonin_node *n);

int rp_jsonin_string(char **out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		     rp_jsonin_check check);
/* An integer (not a real) in [min, max]. */
int rp_jsonin_int(int64_t *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		  int64_t min, int64_t max);
int rp_jsonin_bool(bool *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n);
/* A string that must equal one of names (NULL-terminated); *out = its index. */
int rp_jsonin_enum(int *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		   const char *const *names);
/* An array of strings, each passed to check when it is not NULL; v[n] is
 * NULL when n > 0 (struct rp_strv's contract). */
int rp_jsonin_strv(struct rp_strv *out, const struct rp_jsonin *in,
		   const struct rp_jsonin_node *n, rp_jsonin_check check);
/* An object of string values, sorted by key. check_key sees the member node
 * (report with rp_jsonin_error_key), check_value the same node and the value. */
int rp_jsonin_strmap(struct rp_kv **out, size_t *out_n, const struct rp_jsonin *in,
		     const struct rp_jsonin_node *n, rp_jsonin_check check_key,
		     rp_jsonin_check check_value);

/* Checks shared by both documents: a non-empty string, an absolute path, an
 * egress "host:port" entry (rp_egress_entry_parse). */
int rp_jsonin_check_nonempty(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			     const char *s);
int rp_jsonin_check_absolute(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			     const char *s);
int rp_jsonin_check_egress(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			   const char *s);

/* Give the last error the line and column of its where.json_path in this
 * text (for errors raised away from the text, such as the plan's), prefixing
 * its message with "file:line:col: ". Simple paths only ($.a.b[2]); returns
 * the last error's code. */
int rp_jsonin_locate_last(const struct rp_jsonin *in);

void rp_jsonin_strv_release(struct rp_strv *v);
void rp_jsonin_kv_free(struct rp_kv *kv, size_t n);

#endif
