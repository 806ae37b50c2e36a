#include "rp_jsonin.h"
#include "rp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys longer than this are shortened in printed paths: a path must fit in
 * rp_error_where.json_path and a hostile document can have megabyte keys. */
#define PATH_KEY_MAX 64
/* Longest allowed field name that "did you mean" compares against. */
#define SUGGEST_NAME_MAX 63

/* ---- a minimal lexer over text already accepted by jansson ---- */

static size_t skip_ws(const char *t, size_t len, size_t i)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	return i;
}

/* i is at the opening quote; returns the index just past the closing one. */
static size_t skip_string(const char *t, size_t len, size_t i)
{
	for (i++; i < len && t[i] != '"'; i++)
		if (t[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

static size_t skip_value(const char *t, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return len;
	if (t[i] == '"')
		return skip_string(t, len, i);
	if (t[i] != '{' && t[i] != '[') {
		while (i < len && !strchr(",]} \t\r\n", t[i]))
			i++;
		return i;
	}
	while (i < len) {
		char c = t[i];

		if (c == '"') {
			i = skip_string(t, len, i);
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return len;
}

static unsigned hex4(const char *t, size_t len, size_t i)
{
	unsigned v = 0;

	for (size_t k = 0; k < 4 && i + k < len; k++) {
		char c = t[i + k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
	}
	return v;
}

static size_t utf8_encode(unsigned char out[4], unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Compare the JSON string at t[i] (escapes decoded) with key. *end gets the
 * index past the closing quote whatever the outcome.
 */
static bool string_equals(const char *t, size_t len, size_t i, const char *key, size_t *end)
{
	const unsigned char *k = (const unsigned char *)key;
	bool same = true;

	for (i++; i < len && t[i] != '"';) {
		unsigned char dec[4];
		size_t n = 1;

		if (t[i] != '\\') {
			dec[0] = (unsigned char)t[i++];
		} else if (i + 1 < len && t[i + 1] == 'u') {
			unsigned cp = hex4(t, len, i + 2);

			i += 6;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 5 < len && t[i] == '\\' &&
			    t[i + 1] == 'u') {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(t, len, i + 2) - 0xdc00);
				i += 6;
			}
			n = utf8_encode(dec, cp);
		} else {
			const char *from = "bfnrt", *to = "\b\f\n\r\t";
			const char *e = i + 1 < len ? strchr(from, t[i + 1]) : NULL;

			dec[0] = (unsigned char)(e && *e ? to[e - from] : t[i + 1]);
			i += 2;
		}
		for (size_t m = 0; m < n && same; m++) {
			if (*k != dec[m])
				same = false;
			else
				k++;
		}
	}
	*end = i < len ? i + 1 : len;
	return same && *k == '\0';
}

/* Offset of the node's value (or member name) in the text; false if lost. */
static bool find_offset(size_t *off, const struct rp_jsonin *in,
			const struct rp_jsonin_node *n, bool want_key)
{
	const char *t = in->text;
	size_t len = in->len, i, index = 0;

	if (!n->parent) {
		*off = skip_ws(t, len, 0);
		return *off < len;
	}
	if (!find_offset(&i, in, n->parent, false))
		return false;
	if (t[i] != (n->key ? '{' : '['))
		return false;
	i = skip_ws(t, len, i + 1);
	while (i < len && t[i] != '}' && t[i] != ']') {
		size_t key_at = i;
		bool hit;

		if (n->key) {
			size_t after;

			hit = string_equals(t, len, i, n->key, &after);
			i = skip_ws(t, len, after);
			if (i >= len || t[i] != ':')
				return false;
			i = skip_ws(t, len, i + 1);
		} else {
			hit = index++ == n->index;
		}
		if (hit) {
			*off = want_key && n->key ? key_at : i;
			return true;
		}
		i = skip_ws(t, len, skip_value(t, len, i));
		if (i < len && t[i] == ',')
			i = skip_ws(t, len, i + 1);
	}
	return false;
}

/* 1-based line and character column of a byte offset, as jansson counts. */
static void offset_position(int *line, int *column, const char *t, size_t off)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (t[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)t[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c;
}

/* ---- paths ---- */

struct text_out {
	char *p;
	size_t cap, len;
};

static void out_putc(struct text_out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->p[o->len++] = c;
		o->p[o->len] = '\0';
	}
}

static void out_puts(struct text_out *o, const char *s)
{
	while (*s)
		out_putc(o, *s++);
}

bool rp_jsonin_identifier(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* s JSON-escaped, cut after max bytes on a character boundary with "...". */
static void out_escaped(struct text_out *o, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n >= max && (c & 0xc0) != 0x80) {
			out_puts(o, "...");
			return;
		}
		if (c == '"' || c == '\\') {
			out_putc(o, '\\');
			out_putc(o, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", c);
			out_puts(o, esc);
		} else {
			out_putc(o, (char)c);
		}
	}
}

static void path_append(struct text_out *o, const struct rp_jsonin_node *n)
{
	if (!n->parent) {
		out_putc(o, '$');
		return;
	}
	path_append(o, n->parent);
	if (!n->key) {
		char idx[32];

		snprintf(idx, sizeof(idx), "[%zu]", n->index);
		out_puts(o, idx);
	} else if (rp_jsonin_identifier(n->key) && strlen(n->key) <= PATH_KEY_MAX) {
		out_putc(o, '.');
		out_puts(o, n->key);
	} else {
		out_puts(o, "[\"");
		out_escaped(o, n->key, PATH_KEY_MAX);
		out_puts(o, "\"]");
	}
}

void rp_jsonin_path(char *out, size_t cap, const struct rp_jsonin_node *n)
{
	struct text_out o = { out, cap, 0 };

	if (cap)
		out[0] = '\0';
	path_append(&o, n);
}

void rp_jsonin_member(struct rp_jsonin_node *out, const struct rp_jsonin_node *parent,
		      const char *key)
{
	out->parent = parent;
	out->key = key;
	out->index = 0;
	out->v = json_is_object(parent->v) ? json_object_get(parent->v, key) : NULL;
}

void rp_jsonin_elem(struct rp_jsonin_node *out, const struct rp_jsonin_node *parent,
		    size_t index)
{
	out->parent = parent;
	out->key = NULL;
	out->index = index;
	out->v = json_is_array(parent->v) ? json_array_get(parent->v, index) : NULL;
}

/* ---- errors ---- */

static __attribute__((format(printf, 6, 0))) int
verror(const struct rp_jsonin *in, const struct rp_jsonin_node *n, bool at_key, int code,
       const char *id, const char *fmt, va_list ap)
{
	struct rp_error_where w;
	char detail[768];
	size_t off;

	memset(&w, 0, sizeof(w));
	vsnprintf(detail, sizeof(detail), fmt, ap);
	snprintf(w.file, sizeof(w.file), "%s", in->file);
	rp_jsonin_path(w.json_path, sizeof(w.json_path), n);
	if (find_offset(&off, in, n, at_key))
		offset_position(&w.line, &w.column, in->text, off);
	if (!w.line)
		return rp_error_set_at(code, id, &w, "%s: %s: %s", in->file, w.json_path, detail);
	return rp_error_set_at(code, id, &w, "%s:%d:%d: %s: %s", in->file, w.line, w.column,
			       w.json_path, detail);
}

int rp_jsonin_error(const struct rp_jsonin *in, const struct rp_jsonin_node *n, int code,
		    const char *id, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror(in, n, false, code, id, fmt, ap);
	va_end(ap);
	return rc;
}

int rp_jsonin_error_key(const struct rp_jsonin *in, const struct rp_jsonin_node *n, int code,
			const char *id, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror(in, n, true, code, id, fmt, ap);
	va_end(ap);
	return rc;
}

const char *rp_jsonin_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static int type_error(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		      const char *expected)
{
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "expected %s, got %s",
			       expected, rp_jsonin_type_name(n->v));
}

/* ---- loading ---- */

int rp_jsonin_load(json_t **doc, struct rp_jsonin_node *root, const struct rp_jsonin *in)
{
	struct rp_error_where w;
	json_error_t err;
	json_t *v;
	const char *why;

	*doc = NULL;
	memset(root, 0, sizeof(*root));
	v = json_loadb(in->text, in->len, JSON_REJECT_DUPLICATES, &err);
	if (!v) {
		memset(&w, 0, sizeof(w));
		snprintf(w.file, sizeof(w.file), "%s", in->file);
		w.line = err.line > 0 ? err.line : 0;
		w.column = err.column > 0 ? err.column : 0;
		/* jansson names its own flag here, which means nothing to a user. */
		why = strstr(err.text, "JSON_ALLOW_NUL") ? "\\u0000 (NUL) is not allowed in strings"
							 : err.text;
		return rp_error_set_at(RP_E_PARSE, in->id_parse, &w, "%s:%d:%d: invalid JSON: %s",
				       in->file, w.line, w.column, why);
	}
	root->v = v;
	if (!json_is_object(v)) {
		int rc = type_error(in, root, "an object");

		json_decref(v);
		root->v = NULL;
		return rc;
	}
	*doc = v;
	return RP_OK;
}

/* ---- objects ---- */

/* Optimal string alignment distance (edits and adjacent swaps), or a large
 * number when it is obviously more than 2. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[3][SUGGEST_NAME_MAX + 2];

	if (lb > SUGGEST_NAME_MAX || la > lb + 2 || lb > la + 2)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = prev[j - 1] + cost;

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return d[la % 3][lb];
}

int rp_jsonin_object(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		     const char *const *allowed)
{
	const char *key;
	json_t *v;

	if (!n->v)
		return RP_OK;
	if (!json_is_object(n->v))
		return type_error(in, n, "an object");
	json_object_foreach(n->v, key, v) {
		struct rp_jsonin_node m;
		const char *best = NULL;
		size_t i, best_d = 3;

		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i]; i++) {
			size_t d = edit_distance(key, allowed[i]);

			if (d < best_d) {
				best_d = d;
				best = allowed[i];
			}
		}
		rp_jsonin_member(&m, n, key);
		if (best)
			return rp_jsonin_error_key(in, &m, RP_E_INVALID, in->id_unknown,
						   "unknown field; did you mean '%s'?", best);
		return rp_jsonin_error_key(in, &m, RP_E_INVALID, in->id_unknown, "unknown field");
	}
	return RP_OK;
}

int rp_jsonin_require(const struct rp_jsonin *in, const struct rp_jsonin_node *n)
{
	struct rp_error_where w;
	size_t off;

	if (n->v)
		return RP_OK;
	memset(&w, 0, sizeof(w));
	snprintf(w.file, sizeof(w.file), "%s", in->file);
	rp_jsonin_path(w.json_path, sizeof(w.json_path), n);
	if (n->parent && find_offset(&off, in, n->parent, false))
		offset_position(&w.line, &w.column, in->text, off);
	return rp_error_set_at(RP_E_INVALID, in->id_missing, &w,
			       "%s:%d:%d: %s: required field is missing", in->file, w.line,
			       w.column, w.json_path);
}

/* ---- typed getters ---- */

int rp_jsonin_string(char **out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		     rp_jsonin_check check)
{
	char *s;
	int rc;

	if (!n->v)
		return RP_OK;
	if (!json_is_string(n->v))
		return type_error(in, n, "a string");
	if (check && (rc = check(in, n, json_string_value(n->v))))
		return rc;
	s = strdup(json_string_value(n->v));
	if (!s)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	free(*out);
	*out = s;
	return RP_OK;
}

static const char *integer_kind(int64_t min)
{
	if (min == 1)
		return "a positive integer";
	if (min == 0)
		return "a non-negative integer";
	return "an integer";
}

int rp_jsonin_int(int64_t *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		  int64_t min, int64_t max)
{
	json_int_t v;

	if (!n->v)
		return RP_OK;
	if (!json_is_integer(n->v))
		return type_error(in, n, integer_kind(min));
	v = json_integer_value(n->v);
	if (v < min && (min == 0 || min == 1))
		return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "expected %s, got %lld",
				       integer_kind(min), (long long)v);
	if (v < min)
		return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid,
				       "expected at least %lld, got %lld", (long long)min,
				       (long long)v);
	if (v > max)
		return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid,
				       "expected at most %lld, got %lld", (long long)max,
				       (long long)v);
	*out = (int64_t)v;
	return RP_OK;
}

int rp_jsonin_bool(bool *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n)
{
	if (!n->v)
		return RP_OK;
	if (!json_is_boolean(n->v))
		return type_error(in, n, "a boolean");
	*out = json_is_true(n->v);
	return RP_OK;
}

int rp_jsonin_enum(int *out, const struct rp_jsonin *in, const struct rp_jsonin_node *n,
		   const char *const *names)
{
	char list[256] = "";
	struct text_out o = { list, sizeof(list), 0 };
	const char *s;

	if (!n->v)
		return RP_OK;
	for (int i = 0; names[i]; i++) {
		if (i)
			out_puts(&o, ", ");
		out_putc(&o, '\'');
		out_puts(&o, names[i]);
		out_putc(&o, '\'');
	}
	if (!json_is_string(n->v))
		return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid,
				       "expected one of %s, got %s", list,
				       rp_jsonin_type_name(n->v));
	s = json_string_value(n->v);
	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return RP_OK;
		}
	}
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "expected one of %s", list);
}

int rp_jsonin_check_nonempty(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			     const char *s)
{
	if (s[0])
		return RP_OK;
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid,
			       "expected a non-empty string");
}

int rp_jsonin_check_absolute(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			     const char *s)
{
	if (s[0] == '/')
		return RP_OK;
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "expected an absolute path");
}

int rp_jsonin_check_egress(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			   const char *s)
{
	struct rp_egress_entry e;
	const char *why;

	if (rp_egress_entry_parse(&e, s, &why))
		return RP_OK;
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "%s", why);
}

void rp_jsonin_strv_release(struct rp_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int rp_jsonin_strv(struct rp_strv *out, const struct rp_jsonin *in,
		   const struct rp_jsonin_node *n, rp_jsonin_check check)
{
	struct rp_strv got = { NULL, 0 };
	size_t count;
	int rc = RP_OK;

	if (!n->v)
		return RP_OK;
	if (!json_is_array(n->v))
		return type_error(in, n, "an array of strings");
	count = json_array_size(n->v);
	if (count) {
		/* One more slot: v[n] == NULL, so an argv goes to exec as is. */
		got.v = calloc(count + 1, sizeof(*got.v));
		if (!got.v)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	for (size_t i = 0; i < count; i++) {
		struct rp_jsonin_node e;

		rp_jsonin_elem(&e, n, i);
		rc = rp_jsonin_string(&got.v[i], in, &e, check);
		if (rc)
			goto done;
		got.n++;
	}
	rp_jsonin_strv_release(out);
	*out = got;
	got.v = NULL;
	got.n = 0;
done:
	rp_jsonin_strv_release(&got);
	return rc;
}

void rp_jsonin_kv_free(struct rp_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_kv *)a)->key, ((const struct rp_kv *)b)->key);
}

int rp_jsonin_strmap(struct rp_kv **out, size_t *out_n, const struct rp_jsonin *in,
		     const struct rp_jsonin_node *n, rp_jsonin_check check_key,
		     rp_jsonin_check check_value)
{
	struct rp_kv *kv = NULL;
	size_t count, got = 0;
	const char *key;
	json_t *v;
	int rc = RP_OK;

	if (!n->v)
		return RP_OK;
	if (!json_is_object(n->v))
		return type_error(in, n, "an object of strings");
	count = json_object_size(n->v);
	if (count) {
		kv = calloc(count, sizeof(*kv));
		if (!kv)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	json_object_foreach(n->v, key, v) {
		struct rp_jsonin_node m;

		rp_jsonin_member(&m, n, key);
		if (check_key && (rc = check_key(in, &m, key)))
			goto done;
		rc = rp_jsonin_string(&kv[got].value, in, &m, check_value);
		if (rc)
			goto done;
		kv[got].key = strdup(key);
		got++;
		if (!kv[got - 1].key) {
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
			goto done;
		}
	}
	if (got > 1)
		qsort(kv, got, sizeof(*kv), kv_cmp);
	rp_jsonin_kv_free(*out, *out_n);
	*out = kv;
	*out_n = got;
	kv = NULL;
	got = 0;
done:
	rp_jsonin_kv_free(kv, got);
	return rc;
}

int rp_jsonin_locate_last(const struct rp_jsonin *in)
{
	const struct rp_error *e = rp_error_last();
	struct rp_jsonin_node nodes[32];
	struct rp_error_where w = e->where;
	const char *p = w.json_path;
	char keys[32][128], msg[sizeof(e->msg)];
	size_t depth = 0, off;

	if (p[0] != '$' || w.line > 0)
		return e->code;
	memset(nodes, 0, sizeof(nodes));
	for (p++; *p && depth + 1 < 32; depth++) {
		struct rp_jsonin_node *n = &nodes[depth + 1];
		size_t k = 0;

		n->parent = &nodes[depth];
		if (*p == '.') {
			for (p++; *p && *p != '.' && *p != '[' && k + 1 < sizeof(keys[0]); p++)
				keys[depth][k++] = *p;
			keys[depth][k] = '\0';
			n->key = keys[depth];
		} else if (*p == '[' && p[1] >= '0' && p[1] <= '9') {
			char *end;

			n->index = (size_t)strtoul(p + 1, &end, 10);
			if (*end != ']')
				return e->code;
			p = end + 1;
		} else {
			return e->code; /* quoted keys never come from the plan */
		}
	}
	if (*p || !find_offset(&off, in, &nodes[depth], false))
		return e->code;
	offset_position(&w.line, &w.column, in->text, off);
	snprintf(w.file, sizeof(w.file), "%s", in->file);
	memcpy(msg, e->msg, sizeof(msg));
	rp_error_set_at(e->code, e->id, &w, "%s", msg);
	return rp_error_prefix("%s:%d:%d", in->file, w.line, w.column);
}
