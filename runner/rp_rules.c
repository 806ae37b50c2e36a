/*
 * rp_rules: rule loading and validation, Vectorscan databases, and the exact
 * PCRE2 confirmation of a reported end with its post-filters.
 *
 * Confirming a reported end E: the rule's PCRE2 code is the rule's regex
 * followed by a callout, "(?:REGEX)(?C1)". The callout fails every path
 * that does not end exactly at E, so PCRE2 backtracks until it finds the
 * leftmost start whose match ends at E, with the groups that path set. The
 * subject runs past E (RP_RULES_LOOKAHEAD bytes) so \b and $ see the real
 * next byte, and starts one byte before the window so \b and ^ see the real
 * previous one. Auto-possessification is off: it assumes no backtracking
 * into a quantifier can help, which the callout makes untrue.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rp_rules.h"
#include "rp_error.h"

#include <ctype.h>
#include <hs.h>
#include <stdarg.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KW_MIN_GATED 4          /* keywords this long are rare enough to gate on... */

/* ...except these, which ordinary logs are full of (test names, versions,
 * URLs, curl commands): a rule with one of them runs everywhere, as a gate
 * that opens every few hundred bytes costs more than it saves (measured in
 * bench/REDACT.md). */
static const char *const weak_keywords[] = {
	"test_", "live_", "_pub", "curl", "api-", "pat.", "sat.", "v1.0-", "intra", "linear",
	"ico-", "hvb.", NULL,
};
#define MATCH_LIMIT 1000000u    /* PCRE2 backtracking budget per confirmation */
#define RE_OPTS (PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_POSSESS | PCRE2_NO_DOTSTAR_ANCHOR)

enum target { TARGET_SECRET, TARGET_MATCH, TARGET_LINE };
enum check { CHECK_NONE, CHECK_LUHN };

struct stopwords {
	char **w;          /* lower case, sorted */
	size_t n;
	uint32_t first[257]; /* words starting with byte c: [first[c], first[c+1]) */
};

struct allow {
	enum target target;
	bool all;          /* condition AND */
	pcre2_code **re;
	size_t re_n;
	struct stopwords sw;
};

struct rule {
	char *id;
	char *mark;
	size_t mark_len;
	char *regex;
	pcre2_code *re;
	int secret_group;  /* -1: the first non-empty group, else the whole match */
	double entropy;    /* 0: no threshold */
	enum check check;
	char **kw;         /* lower case */
	size_t kw_n;
	struct allow *allow;
	size_t allow_n;
	size_t file;       /* index of the rule file (global allow-list) */
	enum rp_rules_db db;
	unsigned hs_flags;
	uint32_t window;
	uint32_t lazy_prefix; /* leading [\w.-]{0,N}? left out of re (see strip_prefix) */
};

struct keyword {
	char *text;
	size_t len;
	uint32_t window; /* region half-width around a hit */
};

struct rp_rules {
	struct rule *rules;
	size_t n, builtin_n;
	struct allow *globals; /* per rule file; all-empty for custom rules */
	size_t files_n;
	struct keyword *kw;    /* distinct keywords of gated rules */
	size_t kw_n;
	uint32_t *digit;       /* rules triggered by digit runs (check "luhn") */
	size_t digit_n;
	bool pem;
	bool compiled;
	uint32_t window, gated_window;
	uint32_t max_groups;
	hs_database_t *db[RP_RULES_DB_N];
};

struct rp_rules_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	size_t target;     /* subject offset the match must end at */
	unsigned char *low;
	size_t low_cap;
};

static const char *const rule_keys[] = {
	"id", "description", "regex", "secretGroup", "entropy", "keywords", "allowlists",
	"check", NULL,
};
static const char *const allow_keys[] = {
	"description", "condition", "regexTarget", "regexes", "stopwords", NULL,
};
static const char *const file_keys[] = {
	"source", "license", "notCarried", "allowlist", "rules", NULL,
};

/* ---- small helpers ---- */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return p;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool key_known(const char *key, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* Where an error was found, relative to the rule object. */
struct where {
	char *buf;
	size_t cap;
};

static int fail_at(struct where *w, const char *rid, int code, const char *path,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct where *w, const char *rid, int code, const char *path,
		   const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w && w->cap)
		snprintf(w->buf, w->cap, "%s", path);
	if (rid)
		return rp_error_set(code, "rule_invalid", "rule '%s': %s%s%s", rid,
				    *path ? path + (*path == '.') : "", *path ? ": " : "", msg);
	return rp_error_set(code, "rule_invalid", "rule%s%s: %s", *path ? " " : "",
			    *path ? path + (*path == '.') : "", msg);
}

/* ---- regex compilation ---- */

static pcre2_code *pcre_compile(const char *pattern, uint32_t opts, char *err, size_t cap)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off = 0;
	pcre2_code *re;
	int code = 0;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!re) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, cap, "does not compile at offset %zu: %s", (size_t)off, (char *)msg);
		return NULL;
	}
	/* JIT is an optimisation: without it (no JIT on this CPU) matching still works. */
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* Vectorscan flags for a regex: exact when it can, else prefilter mode (a
 * superset; PCRE2 removes the extra hits). */
static int hs_flags_for(const char *regex, unsigned *flags, uint32_t *window, char *err,
			size_t cap)
{
	static const unsigned tries[] = { 0, HS_FLAG_PREFILTER };
	hs_compile_error_t *ce = NULL;
	hs_database_t *db = NULL;
	hs_expr_info_t *info = NULL;

	for (size_t i = 0; i < 2; i++) {
		if (ce)
			hs_free_compile_error(ce);
		ce = NULL;
		if (hs_compile(regex, tries[i], HS_MODE_STREAM, NULL, &db, &ce) != HS_SUCCESS)
			continue;
		hs_free_database(db);
		*flags = tries[i];
		*window = RP_RULES_WINDOW_MAX;
		if (!tries[i] && hs_expression_info(regex, 0, &info, &ce) == HS_SUCCESS) {
			if (info->max_width < RP_RULES_WINDOW_MAX)
				*window = info->max_width;
			free(info);
		}
		if (ce)
			hs_free_compile_error(ce);
		return RP_OK;
	}
	snprintf(err, cap, "cannot be compiled for multi-pattern matching: %s",
		 ce ? ce->message : "unknown error");
	hs_free_compile_error(ce);
	return RP_E_INVALID;
}

/* ---- parsing ---- */

static void stopwords_release(struct stopwords *sw)
{
	for (size_t i = 0; i < sw->n; i++)
		free(sw->w[i]);
	free(sw->w);
	memset(sw, 0, sizeof(*sw));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void stopwords_index(struct stopwords *sw)
{
	size_t i = 0;

	if (sw->n)
		qsort(sw->w, sw->n, sizeof(*sw->w), cmp_str);
	for (unsigned c = 0; c < 256; c++) {
		sw->first[c] = (uint32_t)i;
		while (i < sw->n && (unsigned char)sw->w[i][0] == c)
			i++;
	}
	sw->first[256] = (uint32_t)sw->n;
}

static void allow_release(struct allow *a)
{
	for (size_t i = 0; i < a->re_n; i++)
		pcre2_code_free(a->re[i]);
	free(a->re);
	stopwords_release(&a->sw);
	memset(a, 0, sizeof(*a));
}

static void rule_release(struct rule *r)
{
	free(r->id);
	free(r->mark);
	free(r->regex);
	pcre2_code_free(r->re);
	for (size_t i = 0; i < r->kw_n; i++)
		free(r->kw[i]);
	free(r->kw);
	for (size_t i = 0; i < r->allow_n; i++)
		allow_release(&r->allow[i]);
	free(r->allow);
	memset(r, 0, sizeof(*r));
}

/* An array of non-empty strings at path; *out gets copies (lower-cased when
 * low), NULL-free. */
static int strings(char ***out, size_t *n, const json_t *v, const char *rid, const char *path,
		   struct where *w, bool low, size_t max_len)
{
	char sub[160];
	size_t i;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (!v)
		return RP_OK;
	if (!json_is_array(v))
		return fail_at(w, rid, RP_E_INVALID, path, "expected an array of strings");
	*out = xcalloc(json_array_size(v), sizeof(**out));
	if (!*out)
		return RP_E_NOMEM;
	json_array_foreach(v, i, e) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_string(e) || !json_string_length(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return fail_at(w, rid, RP_E_INVALID, sub, "expected a non-empty string");
		if (max_len && json_string_length(e) > max_len)
			return fail_at(w, rid, RP_E_INVALID, sub, "longer than %zu bytes", max_len);
		(*out)[i] = xstrdup(json_string_value(e));
		if (!(*out)[i])
			return RP_E_NOMEM;
		(*n)++;
		if (low)
			lower((*out)[i]);
	}
	return RP_OK;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int parse_allow(struct allow *a, const json_t *o, const char *rid, const char *path,
		       struct where *w)
{
	char sub[160], err[400];
	char **res = NULL;
	size_t res_n = 0;
	const char *key, *s;
	json_t *v;
	int rc;

	if (!json_is_object(o))
		return fail_at(w, rid, RP_E_INVALID, path, "expected an object");
	json_object_foreach((json_t *)(uintptr_t)o, key, v) {
		if (!key_known(key, allow_keys)) {
			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			return fail_at(w, rid, RP_E_INVALID, sub, "unknown field");
		}
	}
	if ((v = json_object_get(o, "condition"))) {
		s = json_string_value(v);
		snprintf(sub, sizeof(sub), "%s.condition", path);
		if (!s || (strcasecmp(s, "AND") && strcasecmp(s, "OR")))
			return fail_at(w, rid, RP_E_INVALID, sub, "expected \"OR\" or \"AND\"");
		a->all = !strcasecmp(s, "AND");
	}
	if ((v = json_object_get(o, "regexTarget"))) {
		s = json_string_value(v);
		snprintf(sub, sizeof(sub), "%s.regexTarget", path);
		if (s && !strcmp(s, "secret"))
			a->target = TARGET_SECRET;
		else if (s && !strcmp(s, "match"))
			a->target = TARGET_MATCH;
		else if (s && !strcmp(s, "line"))
			a->target = TARGET_LINE;
		else
			return fail_at(w, rid, RP_E_INVALID, sub,
				       "expected \"secret\", \"match\" or \"line\"");
	}
	snprintf(sub, sizeof(sub), "%s.regexes", path);
	rc = strings(&res, &res_n, json_object_get(o, "regexes"), rid, sub, w, false, 0);
	if (!rc && res_n) {
		a->re = xcalloc(res_n, sizeof(*a->re));
		rc = a->re ? RP_OK : RP_E_NOMEM;
	}
	for (size_t i = 0; !rc && i < res_n; i++) {
		a->re[i] = pcre_compile(res[i], PCRE2_DOLLAR_ENDONLY, err, sizeof(err));
		if (!a->re[i]) {
			snprintf(sub, sizeof(sub), "%s.regexes[%zu]", path, i);
			rc = fail_at(w, rid, RP_E_INVALID, sub, "%s", err);
			break;
		}
		a->re_n++;
	}
	strings_free(res, res_n);
	if (rc)
		return rc;
	snprintf(sub, sizeof(sub), "%s.stopwords", path);
	rc = strings(&a->sw.w, &a->sw.n, json_object_get(o, "stopwords"), rid, sub, w, true, 0);
	if (rc)
		return rc;
	stopwords_index(&a->sw);
	if (!a->re_n && !a->sw.n)
		return fail_at(w, rid, RP_E_INVALID, path, "an allow-list needs regexes or stopwords");
	return RP_OK;
}

static bool id_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > RP_RULES_ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
			return false;
	return true;
}

/*
 * Many gitleaks rules open with a lazy "[\w.-]{0,50}?" that only widens the
 * match to the left: it never changes where a match ends or what its groups
 * hold, but it makes PCRE2 try a dozen prefixes at every start position of
 * the window. The confirming regex leaves it out (also "(?i)" before it and
 * a second one inside "(?i:"); the match is then widened over [\w.-] by up
 * to the same length, so the "match" allow-list target sees the same text.
 * Writes the stripped regex into out; returns the prefix length removed.
 */
static uint32_t strip_prefix(char *out, size_t cap, const char *regex)
{
	static const char lazy[] = "[\\w.-]{0,50}?";
	const char *p = regex;
	uint32_t n = 0;

	snprintf(out, cap, "%s", regex);
	if (!strncmp(p, "(?i)", 4) && !strncmp(p + 4, lazy, sizeof(lazy) - 1)) {
		snprintf(out, cap, "(?i)%s", p + 4 + sizeof(lazy) - 1);
		return 50;
	}
	while (!strncmp(p, lazy, sizeof(lazy) - 1)) {
		p += sizeof(lazy) - 1;
		n += 50;
	}
	if (n && !strncmp(p, "(?i:", 4) && !strncmp(p + 4, lazy, sizeof(lazy) - 1)) {
		snprintf(out, cap, "(?i:%s", p + 4 + sizeof(lazy) - 1);
		return n + 50;
	}
	snprintf(out, cap, "%s", p);
	return n;
}

/* Parse and check one rule object into r (released by the caller). The
 * Vectorscan check (a compile per rule) is left to rp_rules_compile() for
 * built-in rules, whose databases are usually embedded. */
static int parse_rule(struct rule *r, const json_t *o, struct where *w, bool hs_check)
{
	char err[400], sub[64], *wrapped = NULL;
	const char *key, *rid = NULL;
	uint32_t groups = 0;
	json_t *v, *al;
	size_t i;
	int rc = RP_OK;

	r->secret_group = -1;
	if (!json_is_object(o))
		return fail_at(w, NULL, RP_E_INVALID, "", "expected an object");
	v = json_object_get(o, "id");
	if (!v)
		return fail_at(w, NULL, RP_E_INVALID, "", "missing required field 'id'");
	if (!json_is_string(v) || !id_valid(json_string_value(v)))
		return fail_at(w, NULL, RP_E_INVALID, ".id",
			       "expected 1 to %u characters of [A-Za-z0-9._:-]", RP_RULES_ID_MAX);
	rid = json_string_value(v);
	r->id = xstrdup(rid);
	if (!r->id || asprintf(&r->mark, "[REDACTED:%s]", rid) < 0) {
		r->mark = NULL;
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	r->mark_len = strlen(r->mark);
	json_object_foreach((json_t *)(uintptr_t)o, key, v) {
		if (!key_known(key, rule_keys)) {
			snprintf(sub, sizeof(sub), ".%.40s", key);
			return fail_at(w, rid, RP_E_INVALID, sub, "unknown field");
		}
	}
	if ((v = json_object_get(o, "description")) && !json_is_string(v))
		return fail_at(w, rid, RP_E_INVALID, ".description", "expected a string");
	v = json_object_get(o, "regex");
	if (!v)
		return fail_at(w, rid, RP_E_INVALID, "", "missing required field 'regex'");
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail_at(w, rid, RP_E_INVALID, ".regex", "expected a non-empty string");
	r->regex = xstrdup(json_string_value(v));
	if (!r->regex)
		return RP_E_NOMEM;
	/* Compiled alone first, so an error's offset is in the rule's own text. */
	r->re = pcre_compile(r->regex, RE_OPTS, err, sizeof(err));
	if (!r->re)
		return fail_at(w, rid, RP_E_INVALID, ".regex", "%s", err);
	pcre2_code_free(r->re);
	r->re = NULL;
	wrapped = malloc(strlen(r->regex) + 16);
	if (!wrapped)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	memcpy(wrapped, "(?:", 3);
	r->lazy_prefix = strip_prefix(wrapped + 3, strlen(r->regex) + 1, r->regex);
	strcat(wrapped, ")(?C1)");
	r->re = pcre_compile(wrapped, RE_OPTS, err, sizeof(err));
	free(wrapped);
	if (!r->re)
		return fail_at(w, rid, RP_E_INVALID, ".regex", "%s", err);
	pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &groups);
	if ((v = json_object_get(o, "secretGroup"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (json_int_t)groups)
			return fail_at(w, rid, RP_E_INVALID, ".secretGroup",
				       "expected a group number from 0 to %u", groups);
		r->secret_group = (int)json_integer_value(v);
	}
	if ((v = json_object_get(o, "entropy"))) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 8)
			return fail_at(w, rid, RP_E_INVALID, ".entropy",
				       "expected a number from 0 to 8 (bits per byte)");
		r->entropy = json_number_value(v);
	}
	if ((v = json_object_get(o, "check"))) {
		if (!json_is_string(v) || strcmp(json_string_value(v), "luhn"))
			return fail_at(w, rid, RP_E_INVALID, ".check", "expected \"luhn\"");
		r->check = CHECK_LUHN;
	}
	rc = strings(&r->kw, &r->kw_n, json_object_get(o, "keywords"), rid, ".keywords", w, true,
		     RP_RULES_KEYWORD_MAX);
	if (rc)
		return rc;
	al = json_object_get(o, "allowlists");
	if (al && !json_is_array(al))
		return fail_at(w, rid, RP_E_INVALID, ".allowlists", "expected an array of objects");
	if (al && json_array_size(al)) {
		r->allow = xcalloc(json_array_size(al), sizeof(*r->allow));
		if (!r->allow)
			return RP_E_NOMEM;
	}
	json_array_foreach(al, i, v) {
		snprintf(sub, sizeof(sub), ".allowlists[%zu]", i);
		r->allow_n++;
		rc = parse_allow(&r->allow[i], v, rid, sub, w);
		if (rc)
			return rc;
	}
	if (!hs_check)
		return RP_OK;
	rc = hs_flags_for(r->regex, &r->hs_flags, &r->window, err, sizeof(err));
	if (rc)
		return fail_at(w, rid, rc, ".regex", "%s", err);
	return RP_OK;
}

int rp_rules_validate(const json_t *rule, char *where, size_t where_cap)
{
	struct where w = { where, where_cap };
	struct rule r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (where_cap)
		where[0] = '\0';
	rc = parse_rule(&r, rule, &w, true);
	rule_release(&r);
	return rc;
}

/* ---- the rule set ---- */

int rp_rules_new(struct rp_rules **out)
{
	*out = xcalloc(1, sizeof(**out));
	return *out ? RP_OK : RP_E_NOMEM;
}

void rp_rules_free(struct rp_rules *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_release(&rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->files_n; i++)
		allow_release(&rs->globals[i]);
	free(rs->globals);
	for (size_t i = 0; i < rs->kw_n; i++)
		free(rs->kw[i].text);
	free(rs->kw);
	free(rs->digit);
	for (int i = 0; i < RP_RULES_DB_N; i++)
		hs_free_database(rs->db[i]);
	free(rs);
}

int64_t rp_rules_find(const struct rp_rules *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strcmp(rs->rules[i].id, id))
			return (int64_t)i;
	return -1;
}

/* Add the rules of one JSON array; file is the rule file index. */
static int add_array(struct rp_rules *rs, const json_t *arr, size_t file, bool custom,
		     const char *origin)
{
	struct rule *grown;
	char where[200];
	struct where w = { where, sizeof(where) };
	size_t i;
	json_t *o;
	int rc;

	if (rs->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "rules added after compile");
	if (!json_is_array(arr))
		return rp_error_set(RP_E_INVALID, "rule_invalid", "%s: rules must be an array",
				    origin);
	grown = reallocarray(rs->rules, rs->n + json_array_size(arr) + 1, sizeof(*grown));
	if (!grown)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rs->rules = grown;
	json_array_foreach(arr, i, o) {
		struct rule *r = &rs->rules[rs->n];

		memset(r, 0, sizeof(*r));
		rc = parse_rule(r, o, &w, custom);
		if (!rc && rp_rules_find(rs, r->id) >= 0)
			rc = fail_at(&w, r->id, RP_E_INVALID, ".id",
				     "the id is already used by another rule");
		if (rc) {
			rule_release(r);
			rp_error_prefix("%s: rules[%zu]", origin, i);
			return rc;
		}
		r->file = file;
		r->db = RP_RULES_DB_MAIN;
		if (r->check == CHECK_LUHN) {
			/* Card-like digit runs are found by a byte loop far faster than
			 * by an automaton tracking every digit of a log. */
			r->db = RP_RULES_DB_N;
		} else if (custom) {
			r->db = RP_RULES_DB_CUSTOM;
		} else if (r->kw_n) {
			r->db = RP_RULES_DB_GATED;
			for (size_t k = 0; k < r->kw_n; k++)
				if (strlen(r->kw[k]) < KW_MIN_GATED || key_known(r->kw[k], weak_keywords))
					r->db = RP_RULES_DB_MAIN;
		}
		rs->n++;
	}
	return RP_OK;
}

static int add_file(struct rp_rules *rs, const char *text, const char *name)
{
	struct allow *grown, *g;
	json_error_t jerr;
	json_t *doc, *al, *v;
	const char *key;
	int rc = RP_OK;

	doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return rp_error_set(RP_E_PARSE, "rule_invalid", "%s:%d:%d: %s", name, jerr.line,
				    jerr.column, jerr.text);
	json_object_foreach(doc, key, v) {
		if (!key_known(key, file_keys)) {
			rc = rp_error_set(RP_E_INVALID, "rule_invalid", "%s: unknown field '%s'", name,
					  key);
			goto done;
		}
	}
	grown = reallocarray(rs->globals, rs->files_n + 1, sizeof(*grown));
	if (!grown) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	rs->globals = grown;
	g = &rs->globals[rs->files_n++];
	memset(g, 0, sizeof(*g));
	al = json_object_get(doc, "allowlist");
	if (al && (json_object_get(al, "regexes") || json_object_get(al, "stopwords")))
		rc = parse_allow(g, al, NULL, "allowlist", NULL);
	if (!rc)
		rc = add_array(rs, json_object_get(doc, "rules"), rs->files_n - 1, false, name);
done:
	json_decref(doc);
	return rc;
}

int rp_rules_add_builtin_texts(struct rp_rules *rs, const char *const *texts, size_t n)
{
	int rc = RP_OK;

	if (rs->builtin_n || rs->n)
		return rp_error_set(RP_E_INTERNAL, NULL, "built-in rules must be added first");
	if (!n)
		return rp_error_set(RP_E_INTERNAL, NULL, "this build has no built-in rules");
	for (size_t i = 0; !rc && i < n; i++)
		rc = add_file(rs, texts[i], "built-in rules");
	if (!rc) {
		rs->builtin_n = rs->n;
		rs->pem = true;
	}
	return rc;
}

int rp_rules_add_builtin(struct rp_rules *rs)
{
	return rp_rules_add_builtin_texts(rs, rp_rules_builtin_data.json,
					  rp_rules_builtin_data.json_n);
}

int rp_rules_add_custom(struct rp_rules *rs, const json_t *rules, const char *origin)
{
	struct allow *grown = reallocarray(rs->globals, rs->files_n + 1, sizeof(*grown));

	if (!grown)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rs->globals = grown;
	memset(&rs->globals[rs->files_n++], 0, sizeof(*grown));
	return add_array(rs, rules, rs->files_n - 1, true, origin);
}

/* A literal for Vectorscan: every byte as \xHH. */
static char *hex_literal(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++)
		o += sprintf(o, "\\x%02x", (unsigned char)*s);
	*o = '\0';
	return out;
}

static int collect_keywords(struct rp_rules *rs)
{
	size_t max = 0;

	rs->digit = xcalloc(rs->n, sizeof(*rs->digit));
	if (!rs->digit)
		return RP_E_NOMEM;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rules[i].check == CHECK_LUHN)
			rs->digit[rs->digit_n++] = (uint32_t)i;

	for (size_t i = 0; i < rs->n; i++)
		if (rs->rules[i].db == RP_RULES_DB_GATED)
			max += rs->rules[i].kw_n;
	rs->kw = xcalloc(max, sizeof(*rs->kw));
	if (!rs->kw)
		return RP_E_NOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];

		if (r->db != RP_RULES_DB_GATED)
			continue;
		if (r->window > rs->gated_window)
			rs->gated_window = r->window;
		for (size_t k = 0; k < r->kw_n; k++) {
			size_t j = 0;

			while (j < rs->kw_n && strcmp(rs->kw[j].text, r->kw[k]))
				j++;
			if (j == rs->kw_n) {
				rs->kw[j].text = xstrdup(r->kw[k]);
				if (!rs->kw[j].text)
					return RP_E_NOMEM;
				rs->kw[j].len = strlen(r->kw[k]);
				rs->kw_n++;
			}
			if (r->window + RP_RULES_KEYWORD_MAX > rs->kw[j].window)
				rs->kw[j].window = r->window + RP_RULES_KEYWORD_MAX;
		}
	}
	rs->gated_window += RP_RULES_KEYWORD_MAX;
	return RP_OK;
}

static int compile_db(struct rp_rules *rs, enum rp_rules_db which)
{
	size_t cap = rs->n + rs->kw_n + 1, n = 0;
	const char **ex = xcalloc(cap, sizeof(*ex));
	unsigned *flags = xcalloc(cap, sizeof(*flags)), *ids = xcalloc(cap, sizeof(*ids));
	char **owned = xcalloc(cap, sizeof(*owned));
	hs_compile_error_t *ce = NULL;
	int rc = RP_OK;

	if (!ex || !flags || !ids || !owned) {
		rc = RP_E_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < rs->n; i++) {
		if (rs->rules[i].db != which)
			continue;
		ex[n] = rs->rules[i].regex;
		flags[n] = rs->rules[i].hs_flags;
		ids[n++] = (unsigned)i;
	}
	if (which == RP_RULES_DB_MAIN) {
		for (size_t k = 0; k < rs->kw_n; k++) {
			owned[n] = hex_literal(rs->kw[k].text);
			if (!owned[n]) {
				rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
				goto done;
			}
			ex[n] = owned[n];
			flags[n] = HS_FLAG_CASELESS;
			ids[n++] = RP_RULES_ID_KEYWORD + (unsigned)k;
		}
		if (rs->pem) {
			ex[n] = "-----BEGIN";
			flags[n] = HS_FLAG_CASELESS;
			ids[n++] = RP_RULES_ID_PEM;
		}
	}
	if (!n)
		goto done;
	if (hs_compile_multi(ex, flags, ids, (unsigned)n, HS_MODE_STREAM, NULL, &rs->db[which],
			     &ce) != HS_SUCCESS) {
		rc = rp_error_set(RP_E_INVALID, "rule_invalid", "cannot compile the rules%s%s: %s",
				  ce && ce->expression >= 0 && ids[ce->expression] < rs->n ? " at rule " : "",
				  ce && ce->expression >= 0 && ids[ce->expression] < rs->n
					  ? rs->rules[ids[ce->expression]].id : "",
				  ce ? ce->message : "unknown error");
		rs->db[which] = NULL;
	}
done:
	hs_free_compile_error(ce);
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(ex);
	free(flags);
	free(ids);
	return rc;
}

/* The embedded data fits when it was built from these very rules on a CPU
 * like this one. */
static bool embedded_fits(const struct rp_rules *rs)
{
	const struct rp_rules_builtin *b = &rp_rules_builtin_data;
	hs_platform_info_t plat;

	return b->db_len[0] && b->rules_n == rs->builtin_n &&
	       hs_populate_platform(&plat) == HS_SUCCESS && plat.cpu_features == b->cpu_features &&
	       plat.tune == b->tune;
}

static bool load_embedded(struct rp_rules *rs)
{
	const struct rp_rules_builtin *b = &rp_rules_builtin_data;
	hs_database_t *db[2] = { NULL, NULL };

	for (int i = 0; i < 2; i++) {
		if (b->db_len[i] && hs_deserialize_database((const char *)b->db[i], b->db_len[i],
							    &db[i]) != HS_SUCCESS) {
			hs_free_database(db[0]);
			return false;
		}
	}
	rs->db[RP_RULES_DB_MAIN] = db[0];
	rs->db[RP_RULES_DB_GATED] = db[1];
	return true;
}

/* Each built-in rule's Vectorscan flags and window, by compiling it alone. */
static int builtin_flags(struct rp_rules *rs)
{
	char err[400];
	int rc = RP_OK;

	for (size_t i = 0; !rc && i < rs->builtin_n; i++) {
		rc = hs_flags_for(rs->rules[i].regex, &rs->rules[i].hs_flags, &rs->rules[i].window,
				  err, sizeof(err));
		if (rc)
			rc = rp_error_set(rc, "rule_invalid", "built-in rule '%s': regex %s",
					  rs->rules[i].id, err);
	}
	return rc;
}

int rp_rules_compile(struct rp_rules *rs)
{
	bool embedded = rs->builtin_n && embedded_fits(rs);
	size_t groups = 0;
	int rc = RP_OK;

	if (rs->compiled)
		return RP_OK;
	/* Windows first: keyword regions are sized from them. */
	if (embedded)
		for (size_t i = 0; i < rs->builtin_n; i++)
			rs->rules[i].window = rp_rules_builtin_data.windows[i];
	else
		rc = builtin_flags(rs);
	if (!rc)
		rc = collect_keywords(rs);
	if (!rc && rs->builtin_n && (!embedded || !load_embedded(rs))) {
		if (embedded)
			rc = builtin_flags(rs);
		if (!rc)
			rc = compile_db(rs, RP_RULES_DB_MAIN);
		if (!rc)
			rc = compile_db(rs, RP_RULES_DB_GATED);
	}
	if (!rc)
		rc = compile_db(rs, RP_RULES_DB_CUSTOM);
	if (rc)
		return rc;
	for (size_t i = 0; i < rs->n; i++) {
		uint32_t g = 0;

		pcre2_pattern_info(rs->rules[i].re, PCRE2_INFO_CAPTURECOUNT, &g);
		if (g > groups)
			groups = g;
		if (rs->rules[i].window > rs->window)
			rs->window = rs->rules[i].window;
	}
	rs->max_groups = (uint32_t)groups;
	rs->compiled = true;
	return RP_OK;
}

int rp_rules_serialize(const struct rp_rules *rs, enum rp_rules_db which, char **bytes,
		       size_t *len)
{
	*bytes = NULL;
	*len = 0;
	if (!rs->db[which])
		return RP_OK;
	if (hs_serialize_database(rs->db[which], bytes, len) != HS_SUCCESS)
		return rp_error_set(RP_E_NOMEM, NULL, "cannot serialize the rule database");
	return RP_OK;
}

size_t rp_rules_count(const struct rp_rules *rs)
{
	return rs->n;
}

const char *rp_rules_id(const struct rp_rules *rs, uint32_t rule)
{
	return rs->rules[rule].id;
}

const char *rp_rules_mark(const struct rp_rules *rs, uint32_t rule, size_t *len)
{
	*len = rs->rules[rule].mark_len;
	return rs->rules[rule].mark;
}

uint32_t rp_rules_rule_window(const struct rp_rules *rs, uint32_t rule)
{
	return rs->rules[rule].window;
}

const struct hs_database *rp_rules_db(const struct rp_rules *rs, enum rp_rules_db which)
{
	return rs->db[which];
}

uint32_t rp_rules_window(const struct rp_rules *rs)
{
	return rs->window;
}

uint32_t rp_rules_gated_window(const struct rp_rules *rs)
{
	return rs->gated_window;
}

uint32_t rp_rules_keyword_window(const struct rp_rules *rs, uint32_t kw)
{
	return rs->kw[kw].window;
}

size_t rp_rules_digit_rules(const struct rp_rules *rs, const uint32_t **ids)
{
	*ids = rs->digit;
	return rs->digit_n;
}


/* ---- confirmation ---- */

static int on_callout(pcre2_callout_block *cb, void *ctx)
{
	const struct rp_rules_scratch *sc = ctx;

	return cb->current_position == sc->target ? 0 : 1;
}

int rp_rules_scratch_new(struct rp_rules_scratch **out, const struct rp_rules *rs)
{
	struct rp_rules_scratch *sc = xcalloc(1, sizeof(*sc));

	*out = NULL;
	if (!sc)
		return RP_E_NOMEM;
	sc->md = pcre2_match_data_create(rs->max_groups + 1, NULL);
	sc->mctx = pcre2_match_context_create(NULL);
	sc->jit = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL);
	if (!sc->md || !sc->mctx || !sc->jit) {
		rp_rules_scratch_free(sc);
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
	pcre2_set_callout(sc->mctx, on_callout, sc);
	pcre2_set_match_limit(sc->mctx, MATCH_LIMIT);
	*out = sc;
	return RP_OK;
}

void rp_rules_scratch_free(struct rp_rules_scratch *sc)
{
	if (!sc)
		return;
	pcre2_match_data_free(sc->md);
	pcre2_match_context_free(sc->mctx);
	pcre2_jit_stack_free(sc->jit);
	if (sc->low)
		explicit_bzero(sc->low, sc->low_cap);
	free(sc->low);
	free(sc);
}

static bool contains_ci(const unsigned char *p, size_t n, const char *word)
{
	size_t len = strlen(word);

	for (size_t i = 0; len && i + len <= n; i++) {
		if (tolower(p[i]) != (unsigned char)word[0])
			continue;
		size_t j = 1;

		while (j < len && tolower(p[i + j]) == (unsigned char)word[j])
			j++;
		if (j == len)
			return true;
	}
	return false;
}

/* Any stopword inside s (already lower case). */
static bool has_stopword(const struct stopwords *sw, const unsigned char *s, size_t n)
{
	for (size_t i = 0; sw->n && i < n; i++) {
		for (uint32_t k = sw->first[s[i]]; k < sw->first[s[i] + 1]; k++) {
			size_t len = strlen(sw->w[k]);

			if (len <= n - i && !memcmp(s + i, sw->w[k], len))
				return true;
		}
	}
	return false;
}

static double entropy(const unsigned char *p, size_t n)
{
	unsigned counts[256] = { 0 };
	double e = 0;

	for (size_t i = 0; i < n; i++)
		counts[p[i]]++;
	for (unsigned c = 0; c < 256; c++) {
		if (counts[c]) {
			double f = (double)counts[c] / (double)n;

			e -= f * log2(f);
		}
	}
	return e;
}

/*
 * A payment card number: 13 to 19 digits passing the Luhn check, with an
 * issuer prefix, written plain or grouped with one kind of separator in
 * 4-digit groups (Amex and Diners: 4-6-5 and 4-6-4).
 */
static bool luhn_card(const unsigned char *p, size_t n)
{
	char digits[32];
	size_t nd = 0, groups[8], ng = 0, run = 0;
	unsigned char sep = 0;
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		if (isdigit(p[i])) {
			if (nd == sizeof(digits) - 1)
				return false;
			digits[nd++] = (char)p[i];
			run++;
		} else if ((p[i] == ' ' || p[i] == '-') && (!sep || sep == p[i]) && run) {
			sep = p[i];
			if (ng == 8)
				return false;
			groups[ng++] = run;
			run = 0;
		} else {
			return false;
		}
	}
	digits[nd] = '\0';
	if (nd < 13 || nd > 19)
		return false;
	if (sep) {
		groups[ng++] = run;
		if (ng == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4)) {
			/* Amex 4-6-5, Diners 4-6-4 */
		} else {
			for (size_t g = 0; g + 1 < ng; g++)
				if (groups[g] != 4)
					return false;
			if (groups[ng - 1] < 1 || groups[ng - 1] > 4)
				return false;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		unsigned d = (unsigned)(digits[nd - 1 - i] - '0');

		if (i % 2) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	if (sum % 10)
		return false;
	/* Issuer prefixes: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay. */
	if (digits[0] == '4')
		return true;
	int two = (digits[0] - '0') * 10 + (digits[1] - '0');
	int four = two * 100 + (digits[2] - '0') * 10 + (digits[3] - '0');

	return (two >= 51 && two <= 55) || (four >= 2221 && four <= 2720) || two == 34 ||
	       two == 37 || four == 6011 || two == 65 || (four >= 6440 && four <= 6499) ||
	       (four >= 3528 && four <= 3589) || (four >= 3000 && four <= 3059) || two == 36 ||
	       two == 38 || two == 39 || two == 62;
}

static int regex_hit(struct rp_rules_scratch *sc, pcre2_code *re, const unsigned char *p,
		     size_t n)
{
	int rc = pcre2_match(re, p, n, 0, 0, sc->md, NULL);

	/* A budget overrun counts as a hit: an allow-list must not let a secret
	 * through because it was slow to evaluate. */
	return rc >= 0 || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	       rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

/* Secret, match and line of a candidate; lower-case secret for stopwords. */
struct cand {
	const unsigned char *secret, *match, *line;
	size_t secret_n, match_n, line_n;
	const unsigned char *low;
};

/* Whether allow-list a lets the candidate through. */
static bool allowed_by(struct rp_rules_scratch *sc, const struct allow *a, const struct cand *c)
{
	const unsigned char *t = a->target == TARGET_MATCH ? c->match :
				 a->target == TARGET_LINE ? c->line : c->secret;
	size_t tn = a->target == TARGET_MATCH ? c->match_n :
		    a->target == TARGET_LINE ? c->line_n : c->secret_n;
	bool re_hit = false, sw_hit;

	for (size_t i = 0; i < a->re_n && !re_hit; i++)
		re_hit = regex_hit(sc, a->re[i], t, tn);
	sw_hit = a->sw.n && has_stopword(&a->sw, c->low, c->secret_n);
	if (a->all)
		return (!a->re_n || re_hit) && (!a->sw.n || sw_hit);
	return re_hit || sw_hit;
}

static int lower_secret(struct rp_rules_scratch *sc, struct cand *c)
{
	/* A lower-case copy of a secret: wiped, never left in freed memory. */
	if (c->secret_n > sc->low_cap) {
		unsigned char *p = malloc(c->secret_n);

		if (!p)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		if (sc->low)
			explicit_bzero(sc->low, sc->low_cap);
		free(sc->low);
		sc->low = p;
		sc->low_cap = c->secret_n;
	}
	for (size_t i = 0; i < c->secret_n; i++)
		sc->low[i] = (unsigned char)tolower(c->secret[i]);
	c->low = sc->low;
	return RP_OK;
}

int rp_rules_confirm(struct rp_rules_hit *hit, struct rp_rules_scratch *sc,
		     const struct rp_rules *rs, uint32_t rule, const unsigned char *text,
		     uint64_t base, size_t len, uint64_t end, bool eos)
{
	const struct rule *r = &rs->rules[rule];
	uint64_t ws = end > r->window ? end - r->window : 0, ctx, sub_end;
	const unsigned char *sub;
	PCRE2_SIZE *ov;
	struct cand c;
	size_t s0, s1;
	int rc;

	(void)eos;
	if (ws < base)
		ws = base;
	if (end > base + len || end < ws)
		return rp_error_set(RP_E_INTERNAL, NULL, "rule end outside the window");
	if (r->kw_n) {
		bool near = false;

		for (size_t k = 0; k < r->kw_n && !near; k++)
			near = contains_ci(text + (ws - base), (size_t)(end - ws), r->kw[k]);
		if (!near)
			return 0;
	}
	ctx = ws > base ? ws - 1 : ws;
	sub_end = end + RP_RULES_LOOKAHEAD < base + len ? end + RP_RULES_LOOKAHEAD : base + len;
	sub = text + (ctx - base);
	sc->target = (size_t)(end - ctx);
	rc = pcre2_match(r->re, sub, (size_t)(sub_end - ctx), (size_t)(ws - ctx), 0, sc->md, sc->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		/* Out of backtracking budget: mask the whole window rather than
		 * let a crafted input through. */
		hit->start = ws;
		hit->end = end;
		return 1;
	}
	ov = pcre2_get_ovector_pointer(sc->md);
	s0 = ov[0];
	s1 = ov[1];
	if (r->secret_group > 0 && (uint32_t)r->secret_group < (uint32_t)rc &&
	    ov[2 * r->secret_group] != PCRE2_UNSET) {
		s0 = ov[2 * r->secret_group];
		s1 = ov[2 * r->secret_group + 1];
	} else if (r->secret_group < 0) {
		for (int g = 1; g < rc; g++) {
			if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
				s0 = ov[2 * g];
				s1 = ov[2 * g + 1];
				break;
			}
		}
	}
	if (s1 <= s0)
		return 0;
	c.secret = sub + s0;
	c.secret_n = s1 - s0;
	{
		size_t ms = ov[0], lim = (size_t)(ws - ctx);

		for (uint32_t k = 0; k < r->lazy_prefix && ms > lim &&
				     (isalnum(sub[ms - 1]) || (sub[ms - 1] && strchr("_.-", sub[ms - 1]))); k++)
			ms--;
		c.match = sub + ms;
		c.match_n = ov[1] - ms;
	}
	{
		size_t ls = ov[0], le = ov[1];

		while (ls > 0 && sub[ls - 1] != '\n')
			ls--;
		while (le < (size_t)(sub_end - ctx) && sub[le] != '\n')
			le++;
		c.line = sub + ls;
		c.line_n = le - ls;
	}
	if (r->check == CHECK_LUHN && !luhn_card(c.secret, c.secret_n))
		return 0;
	if (r->entropy > 0 && entropy(c.secret, c.secret_n) <= r->entropy)
		return 0;
	rc = lower_secret(sc, &c);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->allow_n; i++)
		if (allowed_by(sc, &r->allow[i], &c))
			return 0;
	if (r->file < rs->files_n && allowed_by(sc, &rs->globals[r->file], &c))
		return 0;
	hit->start = ctx + s0;
	hit->end = ctx + s1;
	return 1;
}
