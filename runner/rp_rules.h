/*
 * rp_rules: credential rules for the redaction engine.
 *
 * Owns: struct rp_rules (the rule set: each rule's regex, keywords, secret
 * group, entropy threshold, allow-lists and checks, compiled once with PCRE2
 * for exact spans and with Vectorscan for multi-pattern streaming), and
 * struct rp_rules_scratch (per-stream PCRE2 match state).
 *
 * Rule sources, in precedence order for naming a masked span: the built-in
 * set (runner/rules/gitleaks.json, converted from gitleaks' default
 * configuration, then runner/rules/runpack.json), then custom rules from the
 * operator policy (redaction.rules). All share one JSON shape, documented in
 * docs/FORMATS.md ("Rule shape"); rp_rules_validate() checks one rule
 * object and says which field is wrong.
 *
 * Matching is split in two (see rp_redact.c for the streaming side):
 *   1. Vectorscan databases report the END offset of every match of every
 *      rule in one pass (no start offsets: those cost 2-6x). Rules whose
 *      keywords are all distinctive (4+ bytes, none of a short list common
 *      in logs) are "gated": their database only runs on regions around
 *      one of their keywords, found by literal patterns in the main
 *      database, so most bytes never meet their regex.
 *      Rules with check "luhn" (card numbers) are in no database: a byte
 *      loop reports the ends of long digit runs instead.
 *   2. rp_rules_confirm() takes one reported end and finds the exact match
 *      ending there with PCRE2 on a bounded window behind it (the rule's
 *      maximum match length, at most RP_RULES_WINDOW_MAX bytes), then
 *      applies the post-filters: keyword nearby, secret group, entropy,
 *      checks (Luhn), the rule's allow-lists and its file's global one.
 *
 * The built-in Vectorscan databases are compiled at build time
 * (tools/rules-compile.c) and embedded; they are recompiled at run time only
 * when the CPU differs from the build host's.
 */
#ifndef RP_RULES_H
#define RP_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The window behind a reported end in which a match is searched: rules whose
 * regex is unbounded (x+, x*, x{n,}) match at most this many bytes. */
#define RP_RULES_WINDOW_MAX 4096u
/* Bytes after a reported end given to PCRE2 as context (for \b, $ and the
 * "line" allow-list target): a line is seen up to this far past a match. */
#define RP_RULES_LOOKAHEAD 256u
/* Keywords are at most this long. */
#define RP_RULES_KEYWORD_MAX 64u
/* Rule ids: [A-Za-z0-9._:-], at most this long. */
#define RP_RULES_ID_MAX 64u

/* Vectorscan report ids beyond the rules. */
#define RP_RULES_ID_KEYWORD 0x40000000u /* + keyword index (gated rules) */
#define RP_RULES_ID_PEM 0x7ffffff0u     /* "-----BEGIN" of a private key block */

/* The database a rule's regex is compiled into (RP_RULES_DB_N: none, for
 * rules triggered by digit runs). Custom rules all go into their own
 * database, compiled at run time. */
enum rp_rules_db { RP_RULES_DB_MAIN, RP_RULES_DB_GATED, RP_RULES_DB_CUSTOM, RP_RULES_DB_N };

struct rp_rules;
struct rp_rules_scratch;
struct hs_database;

/* A confirmed secret: [start, end) in stream offsets. */
struct rp_rules_hit {
	uint64_t start, end;
};

/* The rule id of the private key block machine (rp_redact.c). */
#define RP_RULES_PRIVATE_KEY "private-key"

int rp_rules_new(struct rp_rules **out);
/* The built-in set (embedded JSON). */
int rp_rules_add_builtin(struct rp_rules *rs);
/*
 * Custom rules: a JSON array of rule objects. Errors name the rule and the
 * field (error id "rule_invalid"); origin prefixes the message ("policy.json").
 * Custom ids may not repeat a built-in one.
 */
int rp_rules_add_custom(struct rp_rules *rs, const json_t *rules, const char *origin);
/* Compile the Vectorscan databases (or load the embedded built-in ones). */
int rp_rules_compile(struct rp_rules *rs);
void rp_rules_free(struct rp_rules *rs);

/*
 * Check one rule object. On error, where receives the JSON path of the bad
 * field relative to the rule (".regex", ".allowlists[0].regexes[2]", or ""
 * for the object itself) and the error message names the rule.
 */
int rp_rules_validate(const json_t *rule, char *where, size_t where_cap);

size_t rp_rules_count(const struct rp_rules *rs);
const char *rp_rules_id(const struct rp_rules *rs, uint32_t rule);
/* "[REDACTED:<id>]" */
const char *rp_rules_mark(const struct rp_rules *rs, uint32_t rule, size_t *len);
/* The window searched behind a reported end of this rule. */
uint32_t rp_rules_rule_window(const struct rp_rules *rs, uint32_t rule);
/* Index of a rule id, or -1. */
int64_t rp_rules_find(const struct rp_rules *rs, const char *id);
/* The compiled database of one kind, or NULL when it holds nothing. */
const struct hs_database *rp_rules_db(const struct rp_rules *rs, enum rp_rules_db which);
/* Longest window any rule searches behind a reported end. */
uint32_t rp_rules_window(const struct rp_rules *rs);
/* The widest keyword region half-width: a region is final once the input
 * is this far past its end. */
uint32_t rp_rules_gated_window(const struct rp_rules *rs);
/* Half-width of the region a hit of gated keyword kw opens. */
uint32_t rp_rules_keyword_window(const struct rp_rules *rs, uint32_t kw);
/* Rules with check "luhn": in no database, their ends are the ends of digit
 * groups in runs of 13 or more digits (single spaces or dashes between). */
size_t rp_rules_digit_rules(const struct rp_rules *rs, const uint32_t **ids);

int rp_rules_scratch_new(struct rp_rules_scratch **out, const struct rp_rules *rs);
void rp_rules_scratch_free(struct rp_rules_scratch *sc);

/*
 * Confirm a reported end. text holds stream bytes [base, base + len); the
 * caller keeps at least rp_rules_window() + 1 bytes before end (or all since
 * the stream began) and RP_RULES_LOOKAHEAD bytes after it unless the stream
 * ends first (eos: base + len is the end of the stream). Returns 1 with *hit
 * set when the rule's secret is there and passes every filter, 0 when not,
 * or a negative rp_code.
 */
int rp_rules_confirm(struct rp_rules_hit *hit, struct rp_rules_scratch *sc,
		     const struct rp_rules *rs, uint32_t rule, const unsigned char *text,
		     uint64_t base, size_t len, uint64_t end, bool eos);

/* Build-time support (tools/rules-compile.c): load the built-in rule files
 * from texts instead of the embedded data, then serialize the compiled
 * databases for embedding. */
int rp_rules_add_builtin_texts(struct rp_rules *rs, const char *const *texts, size_t n);
int rp_rules_serialize(const struct rp_rules *rs, enum rp_rules_db which, char **bytes,
		       size_t *len);

/* The embedded built-in data, defined by the generated build/gen/rp_rules_data.c
 * (or as empty stubs by the build-time tool). */
struct rp_rules_builtin {
	const char *const *json;       /* rule files, in load order */
	size_t json_n;
	const unsigned char *db[2];    /* serialized MAIN and GATED databases */
	size_t db_len[2];
	const uint32_t *windows;       /* per built-in rule */
	size_t rules_n;
	uint64_t cpu_features;         /* of the build host (hs_platform_info) */
	uint32_t tune;
};
extern const struct rp_rules_builtin rp_rules_builtin_data;

#endif
