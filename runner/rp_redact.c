/*
 * rp_redact: Aho-Corasick over every encoded form of every secret.
 *
 * The automaton is a hybrid: states up to some depth get full transition rows
 * (a DFA: one table load per input byte), deeper states keep only their trie
 * children and a failure link. Text that does not look like a secret never
 * leaves the shallow states, so the hot loop stays a single load and compare,
 * while a long secret cannot blow the table up to gigabytes.
 *
 * State keys are premultiplied row offsets (id * stride) and ids are ordered
 * [dense without a match | dense with a match | sparse], so the hot loop only
 * tests "key < hot_limit" to know it may keep going.
 *
 * Leftmost-longest with bounded memory: after each byte, hold[state] is the
 * length of the longest text suffix that could still grow into a match, so
 * every byte before pos - hold is settled. A candidate match is confirmed once
 * its start is settled (no earlier or longer match can appear any more); the
 * scan then restarts from the root just after it. Secret-derived memory
 * (patterns, tables, held bytes) is wiped before it is freed.
 */
#include "rp_redact.h"
#include "rp_error.h"
#include "rp_util.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Derived forms shorter than this would mask ordinary text. */
#define DERIVED_MIN_LEN 4
/* Memory for full transition rows; deeper states go sparse. */
#define DENSE_BUDGET (8u << 20)

struct rule {
	char *id;   /* "secret:NAME" */
	char *mark; /* "[REDACTED:secret:NAME]" */
	size_t mark_len;
};

struct pattern {
	unsigned char *p;
	size_t len;
	uint32_t rule;
};

struct state_info {
	uint32_t fail;     /* key of the failure state (sparse walk only) */
	uint32_t out_len;  /* longest pattern ending here, 0 = none */
	uint32_t out_rule;
	uint32_t hold;     /* bytes that may still start a match */
};

struct rp_redactor {
	struct rule *rules;
	size_t rules_n;
	struct pattern *pats;
	size_t pats_n, pats_cap;
	size_t max_len;
	bool compiled;

	uint8_t cls[256];
	uint32_t stride;      /* byte classes: 0 = a byte no pattern uses */
	uint32_t states_n;
	uint32_t hot_limit;   /* keys below: dense, no match */
	uint32_t dense_limit; /* keys below: dense (full row) */
	uint32_t *dense;
	struct state_info *info; /* by state id */
	uint32_t *kid_start;     /* by state id, states_n + 1 entries */
	uint8_t *kid_cls;
	uint32_t *kid_key;
};

struct rp_redact_stream {
	const struct rp_redactor *r;
	rp_redact_sink sink;
	void *ctx;
	uint32_t key;
	uint32_t cand_rule;
	bool cand;
	bool finished;
	int err;
	uint64_t pos;    /* absolute offset of the next byte to scan */
	uint64_t out;    /* bytes before this are emitted (or replaced) */
	uint64_t cs, ce; /* candidate match [cs, ce) */
	unsigned char *held; /* bytes [out, pos) between writes */
	uint64_t *counts;    /* by rule */
};

/* The bytes a scan may look at: the held-back tail, then the new input. */
struct view {
	const unsigned char *held;
	uint64_t held_at;
	const unsigned char *in;
	uint64_t in_at;
};

static void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	sodium_memzero(p, n);
	free(p);
}

int rp_redactor_new(struct rp_redactor **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return RP_OK;
}

static void free_automaton(struct rp_redactor *r)
{
	wipe_free(r->dense, (size_t)r->dense_limit * sizeof(*r->dense));
	wipe_free(r->info, (size_t)r->states_n * sizeof(*r->info));
	wipe_free(r->kid_start, ((size_t)r->states_n + 1) * sizeof(*r->kid_start));
	wipe_free(r->kid_cls, (size_t)r->states_n * sizeof(*r->kid_cls));
	wipe_free(r->kid_key, (size_t)r->states_n * sizeof(*r->kid_key));
	r->dense = NULL;
	r->info = NULL;
	r->kid_start = NULL;
	r->kid_cls = NULL;
	r->kid_key = NULL;
}

void rp_redactor_free(struct rp_redactor *r)
{
	if (!r)
		return;
	free_automaton(r);
	for (size_t i = 0; i < r->pats_n; i++)
		wipe_free(r->pats[i].p, r->pats[i].len);
	free(r->pats);
	for (size_t i = 0; i < r->rules_n; i++) {
		free(r->rules[i].id);
		free(r->rules[i].mark);
	}
	free(r->rules);
	free(r);
}

/* Identical patterns keep the first rule, so findings stay deterministic. */
static int add_pattern(struct rp_redactor *r, const unsigned char *p, size_t n,
		       uint32_t rule, bool derived)
{
	struct pattern *pat;

	if (derived && n < DERIVED_MIN_LEN)
		return RP_OK;
	for (size_t i = 0; i < r->pats_n; i++)
		if (r->pats[i].len == n && memcmp(r->pats[i].p, p, n) == 0)
			return RP_OK;
	if (r->pats_n == r->pats_cap) {
		size_t cap = r->pats_cap ? r->pats_cap * 2 : 32;

		pat = reallocarray(r->pats, cap, sizeof(*pat));
		if (!pat)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		r->pats = pat;
		r->pats_cap = cap;
	}
	pat = &r->pats[r->pats_n];
	pat->p = malloc(n);
	if (!pat->p)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	memcpy(pat->p, p, n);
	pat->len = n;
	pat->rule = rule;
	r->pats_n++;
	if (n > r->max_len)
		r->max_len = n;
	return RP_OK;
}

/* Byte i of (k zero bytes, then v): the prefix only shifts the alignment. */
static unsigned bit_src(const unsigned char *v, size_t i, size_t k)
{
	return i < k ? 0 : v[i - k];
}

/*
 * The characters of base64(prefix + value) that depend on value bytes only:
 * drop those that mix in prefix bits and the last partial one, which depends
 * on whatever follows (more data or padding).
 */
static size_t base64_core(unsigned char *out, const unsigned char *v, size_t len,
			  size_t k, const char *alphabet)
{
	size_t first = (8 * k + 5) / 6, last = 8 * (k + len) / 6, n = 0;

	for (size_t j = first; j < last; j++) {
		size_t bit = 6 * j, byte = bit / 8, shift = bit % 8;
		unsigned w = bit_src(v, byte, k) << 8 |
			     (byte + 1 < k + len ? bit_src(v, byte + 1, k) : 0);

		out[n++] = (unsigned char)alphabet[(w >> (10 - shift)) & 0x3f];
	}
	return n;
}

enum {
	PCT_LOWER = 1,
	PCT_PLUS = 2,    /* space as '+' (form encoding) */
	PCT_SLASH = 4,   /* '/' kept (Python's quote) */
	PCT_JS = 8,      /* !'()* kept (encodeURIComponent) */
	PCT_FORM = 16,   /* WHATWG form set: alnum *-._ kept, '~' encoded */
	PCT_ALL = 32,
};

static bool pct_keeps(unsigned char c, unsigned flags)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	if (flags & PCT_FORM)
		return c == '*' || c == '-' || c == '.' || c == '_';
	if (c == '-' || c == '.' || c == '_' || c == '~')
		return true;
	if ((flags & PCT_SLASH) && c == '/')
		return true;
	return (flags & PCT_JS) && c && strchr("!'()*", c);
}

static size_t pct_encode(unsigned char *out, const unsigned char *v, size_t len,
			 unsigned flags)
{
	const char *hex = flags & PCT_LOWER ? "0123456789abcdef" : "0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (pct_keeps(v[i], flags)) {
			out[n++] = v[i];
		} else if (v[i] == ' ' && (flags & PCT_PLUS)) {
			out[n++] = '+';
		} else {
			out[n++] = '%';
			out[n++] = (unsigned char)hex[v[i] >> 4];
			out[n++] = (unsigned char)hex[v[i] & 15];
		}
	}
	return n;
}

static size_t hex_encode(unsigned char *out, const unsigned char *v, size_t len,
			 const char *hex)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = (unsigned char)hex[v[i] >> 4];
		out[2 * i + 1] = (unsigned char)hex[v[i] & 15];
	}
	return 2 * len;
}

enum {
	JS_UPPER = 1, /* \u00AB rather than \u00ab */
	JS_SLASH = 2, /* "\/" */
	JS_LONG = 4,  /* \u000a rather than \n */
	JS_ASCII = 8, /* non-ASCII as \uXXXX (Python's ensure_ascii) */
	JS_HTML = 16, /* <>& as \u003c... (Go's encoder) */
	JS_ALL = 32,
};

static size_t json_u(unsigned char *out, unsigned cp, unsigned flags)
{
	const char *hex = flags & JS_UPPER ? "0123456789ABCDEF" : "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'u';
	for (int i = 0; i < 4; i++)
		out[2 + i] = (unsigned char)hex[(cp >> (12 - 4 * i)) & 15];
	return 6;
}

/* Decode one UTF-8 sequence of a valid string; returns its length. */
static size_t utf8_decode(const unsigned char *s, unsigned *cp)
{
	size_t len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;

	*cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++)
		*cp = (*cp << 6) | (s[i] & 0x3f);
	return len;
}

static size_t json_escape(unsigned char *out, const unsigned char *v, size_t len,
			  unsigned flags)
{
	static const char shortc[] = "btn\0fr"; /* for 0x08..0x0d */
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		unsigned cp;

		if (c == '"' || c == '\\' || (c == '/' && (flags & JS_SLASH))) {
			out[n++] = '\\';
			out[n++] = c;
		} else if (c >= 0x08 && c <= 0x0d && c != 0x0b && !(flags & JS_LONG)) {
			out[n++] = '\\';
			out[n++] = (unsigned char)shortc[c - 0x08];
		} else if (c < 0x20 || ((flags & JS_HTML) && (c == '<' || c == '>' || c == '&'))) {
			n += json_u(out + n, c, flags);
		} else if (c >= 0x80 && (flags & JS_ASCII)) {
			i += utf8_decode(v + i, &cp) - 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				n += json_u(out + n, 0xd800 | (cp >> 10), flags);
				cp = 0xdc00 | (cp & 0x3ff);
			}
			n += json_u(out + n, cp, flags);
		} else {
			out[n++] = c;
		}
	}
	return n;
}

static int add_rule(struct rp_redactor *r, const char *name, uint32_t *rule)
{
	struct rule *rules = reallocarray(r->rules, r->rules_n + 1, sizeof(*rules));
	struct rule *ru;

	if (!rules)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	r->rules = rules;
	ru = &rules[r->rules_n];
	if (asprintf(&ru->id, "secret:%s", name) < 0) {
		ru->id = NULL;
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	if (asprintf(&ru->mark, "[REDACTED:%s]", ru->id) < 0) {
		free(ru->id);
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	ru->mark_len = strlen(ru->mark);
	*rule = (uint32_t)r->rules_n++;
	return RP_OK;
}

int rp_redactor_add_secret(struct rp_redactor *r, const char *name,
			   const unsigned char *value, size_t len)
{
	static const char b64std[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char *tmp = NULL;
	size_t tmp_len = 6 * (size_t)len + 16, n; /* \u00XX is the widest form */
	bool utf8 = rp_utf8_valid(value, len);
	uint32_t rule = 0;
	int rc;

	if (r->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "secret '%s' added after compile", name);
	if (len < RP_SECRET_MIN_LEN)
		return rp_error_set(RP_E_INVALID, "secret_too_short",
				    "secret '%s' is shorter than %d bytes and cannot be masked reliably",
				    name, RP_SECRET_MIN_LEN);
	if (len > RP_SECRET_MAX_LEN)
		return rp_error_set(RP_E_TOOLARGE, "secret_too_long",
				    "secret '%s' is longer than %u bytes", name, RP_SECRET_MAX_LEN);
	rc = add_rule(r, name, &rule);
	if (rc)
		return rc;
	tmp = malloc(tmp_len);
	if (!tmp)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = add_pattern(r, value, len, rule, false);
	for (size_t k = 0; k < 3 && !rc; k++) {
		n = base64_core(tmp, value, len, k, b64std);
		rc = add_pattern(r, tmp, n, rule, true);
		n = base64_core(tmp, value, len, k, b64url);
		rc = rc ? rc : add_pattern(r, tmp, n, rule, true);
	}
	for (unsigned f = 0; f < PCT_ALL && !rc; f++) {
		if ((f & PCT_FORM) && (f & (PCT_SLASH | PCT_JS)))
			continue;
		if ((f & PCT_PLUS) && !memchr(value, ' ', len))
			continue;
		n = pct_encode(tmp, value, len, f);
		rc = add_pattern(r, tmp, n, rule, true);
	}
	for (unsigned f = 0; f < JS_ALL && !rc; f++) {
		if ((f & JS_ASCII) && !utf8)
			continue;
		n = json_escape(tmp, value, len, f);
		rc = add_pattern(r, tmp, n, rule, true);
	}
	if (!rc) {
		n = hex_encode(tmp, value, len, "0123456789abcdef");
		rc = add_pattern(r, tmp, n, rule, true);
	}
	if (!rc) {
		n = hex_encode(tmp, value, len, "0123456789ABCDEF");
		rc = add_pattern(r, tmp, n, rule, true);
	}
	wipe_free(tmp, tmp_len);
	return rc;
}

/* The trie while it is being built: children as sibling lists. */
struct tnode {
	uint32_t kid, sib; /* 0 = none (the root is never anyone's child) */
	uint32_t depth;
	uint32_t term_len, term_rule;
	uint8_t cls;
};

struct build {
	struct tnode *t;
	uint32_t n;
	uint32_t *fail;  /* by node */
	uint32_t *order; /* nodes in BFS order (depth nondecreasing) */
	uint32_t *id;    /* node -> final state id */
};

static uint32_t trie_kid(const struct build *b, uint32_t s, uint8_t c)
{
	for (uint32_t k = b->t[s].kid; k; k = b->t[k].sib)
		if (b->t[k].cls == c)
			return k;
	return 0;
}

static void build_trie(struct build *b, const struct rp_redactor *r)
{
	b->n = 1;
	for (size_t i = 0; i < r->pats_n; i++) {
		const struct pattern *p = &r->pats[i];
		uint32_t s = 0;

		for (size_t j = 0; j < p->len; j++) {
			uint8_t c = r->cls[p->p[j]];
			uint32_t k = trie_kid(b, s, c);

			if (!k) {
				k = b->n++;
				b->t[k] = (struct tnode){ .sib = b->t[s].kid, .cls = c,
							  .depth = b->t[s].depth + 1 };
				b->t[s].kid = k;
			}
			s = k;
		}
		b->t[s].term_len = (uint32_t)p->len;
		b->t[s].term_rule = p->rule;
	}
}

/* Breadth-first order, failure links, and the per-state summaries. */
static void link_trie(struct build *b, struct state_info *info_by_node)
{
	uint32_t head = 0, tail = 0;

	b->order[tail++] = 0;
	b->fail[0] = 0;
	info_by_node[0] = (struct state_info){ 0 };
	while (head < tail) {
		uint32_t s = b->order[head++];

		for (uint32_t k = b->t[s].kid; k; k = b->t[k].sib) {
			uint32_t f = b->fail[s], g = 0;
			struct state_info *ik = &info_by_node[k];

			while (s && !(g = trie_kid(b, f, b->t[k].cls)) && f)
				f = b->fail[f];
			b->fail[k] = g;
			b->order[tail++] = k;
			/* An own pattern is longer than any on the failure chain. */
			ik->out_len = b->t[k].term_len ? b->t[k].term_len : info_by_node[g].out_len;
			ik->out_rule = b->t[k].term_len ? b->t[k].term_rule : info_by_node[g].out_rule;
			ik->hold = b->t[k].kid ? b->t[k].depth : info_by_node[g].hold;
		}
	}
}

static int alloc_automaton(struct rp_redactor *r, uint32_t dense_n)
{
	size_t n = r->states_n;

	r->dense_limit = dense_n * r->stride;
	r->dense = calloc((size_t)r->dense_limit, sizeof(*r->dense));
	r->info = calloc(n, sizeof(*r->info));
	r->kid_start = calloc(n + 1, sizeof(*r->kid_start));
	r->kid_cls = calloc(n, 1);
	r->kid_key = calloc(n, sizeof(*r->kid_key));
	if (!r->dense || !r->info || !r->kid_start || !r->kid_cls || !r->kid_key)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory for the redaction automaton");
	return RP_OK;
}

int rp_redactor_compile(struct rp_redactor *r)
{
	struct build b = { 0 };
	struct state_info *by_node = NULL;
	size_t total = 1, budget;
	uint32_t dense_n, next_id = 0, classes = 0;
	bool used[256];
	int rc = RP_OK;

	if (r->compiled)
		return RP_OK;
	r->compiled = true;
	if (!r->pats_n)
		goto done;
	/* Class 0 stands for every byte no pattern uses, unless there is none. */
	memset(used, 0, sizeof(used));
	for (size_t i = 0; i < r->pats_n; i++) {
		total += r->pats[i].len;
		for (size_t j = 0; j < r->pats[i].len; j++)
			used[r->pats[i].p[j]] = true;
	}
	for (unsigned c = 0; c < 256; c++)
		classes += used[c];
	classes = classes == 256 ? 0 : 1;
	for (unsigned c = 0; c < 256; c++)
		r->cls[c] = used[c] ? (uint8_t)classes++ : 0;
	r->stride = classes;
	if (total > UINT32_MAX / 256) {
		rc = rp_error_set(RP_E_TOOLARGE, "redaction_too_large",
				  "the secrets to mask are too large in total");
		goto done;
	}
	b.t = calloc(total, sizeof(*b.t));
	b.fail = calloc(total, sizeof(*b.fail));
	b.order = calloc(total, sizeof(*b.order));
	b.id = calloc(total, sizeof(*b.id));
	by_node = calloc(total, sizeof(*by_node));
	if (!b.t || !b.fail || !b.order || !b.id || !by_node) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the redaction automaton");
		goto done;
	}
	build_trie(&b, r);
	link_trie(&b, by_node);
	r->states_n = b.n;

	/* Dense rows for the shallowest states the budget allows, cut at a depth
	 * boundary: BFS order then makes the dense set closed under failure
	 * links, so every dense row can be filled from its failure state's row. */
	budget = DENSE_BUDGET / (sizeof(uint32_t) * r->stride);
	dense_n = b.n;
	if (b.n > budget)
		for (dense_n = (uint32_t)budget; dense_n > 1; dense_n--)
			if (b.t[b.order[dense_n]].depth != b.t[b.order[dense_n - 1]].depth)
				break;
	for (uint32_t i = 0; i < dense_n; i++)
		if (!by_node[b.order[i]].out_len)
			b.id[b.order[i]] = next_id++;
	r->hot_limit = next_id * r->stride;
	for (uint32_t i = 0; i < dense_n; i++)
		if (by_node[b.order[i]].out_len)
			b.id[b.order[i]] = next_id++;
	for (uint32_t i = dense_n; i < b.n; i++)
		b.id[b.order[i]] = next_id++;

	rc = alloc_automaton(r, dense_n);
	if (rc)
		goto done;
	for (uint32_t s = 0; s < b.n; s++) {
		r->info[b.id[s]] = by_node[s];
		r->info[b.id[s]].fail = b.id[b.fail[s]] * r->stride;
		for (uint32_t k = b.t[s].kid; k; k = b.t[k].sib)
			r->kid_start[b.id[s] + 1]++;
	}
	for (uint32_t id = 0; id < b.n; id++)
		r->kid_start[id + 1] += r->kid_start[id];
	for (uint32_t s = 0; s < b.n; s++) {
		uint32_t j = r->kid_start[b.id[s]];

		for (uint32_t k = b.t[s].kid; k; k = b.t[k].sib, j++) {
			r->kid_cls[j] = b.t[k].cls;
			r->kid_key[j] = b.id[k] * r->stride;
		}
	}
	for (uint32_t i = 0; i < dense_n; i++) {
		uint32_t s = b.order[i];
		uint32_t *row = r->dense + (size_t)b.id[s] * r->stride;
		const uint32_t *frow = r->dense + (size_t)b.id[b.fail[s]] * r->stride;

		for (uint32_t c = 0; c < r->stride; c++) {
			uint32_t k = trie_kid(&b, s, (uint8_t)c);

			row[c] = k ? b.id[k] * r->stride : s ? frow[c] : 0;
		}
	}
done:
	if (b.t)
		sodium_memzero(b.t, total * sizeof(*b.t));
	free(b.t);
	free(b.fail);
	free(b.order);
	free(b.id);
	free(by_node);
	if (rc)
		free_automaton(r);
	return rc;
}

int rp_redact_stream_new(struct rp_redact_stream **out, const struct rp_redactor *r,
			 rp_redact_sink sink, void *ctx)
{
	struct rp_redact_stream *s;

	*out = NULL;
	if (!r->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "redactor used before compile");
	s = calloc(1, sizeof(*s));
	if (!s)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	s->r = r;
	s->sink = sink;
	s->ctx = ctx;
	s->counts = calloc(r->rules_n ? r->rules_n : 1, sizeof(*s->counts));
	s->held = malloc(r->max_len ? r->max_len : 1);
	if (!s->counts || !s->held) {
		rp_redact_stream_free(s);
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	*out = s;
	return RP_OK;
}

void rp_redact_stream_free(struct rp_redact_stream *s)
{
	if (!s)
		return;
	wipe_free(s->held, s->r->max_len ? s->r->max_len : 1);
	free(s->counts);
	free(s);
}

static unsigned char byte_at(const struct view *v, uint64_t a)
{
	return a < v->in_at ? v->held[a - v->held_at] : v->in[a - v->in_at];
}

static int emit(struct rp_redact_stream *s, const struct view *v, uint64_t a, uint64_t b)
{
	int rc = RP_OK;

	if (a < b && a < v->in_at) {
		uint64_t e = b < v->in_at ? b : v->in_at;

		rc = s->sink(s->ctx, v->held + (a - v->held_at), (size_t)(e - a));
		a = e;
	}
	if (!rc && a < b)
		rc = s->sink(s->ctx, v->in + (a - v->in_at), (size_t)(b - a));
	return rc;
}

static uint32_t step(const struct rp_redactor *r, uint32_t key, uint8_t c)
{
	while (key >= r->dense_limit) {
		uint32_t id = key / r->stride;

		for (uint32_t j = r->kid_start[id]; j < r->kid_start[id + 1]; j++)
			if (r->kid_cls[j] == c)
				return r->kid_key[j];
		key = r->info[id].fail;
	}
	return r->dense[key + c];
}

static int confirm(struct rp_redact_stream *s, const struct view *v)
{
	const struct rule *ru = &s->r->rules[s->cand_rule];
	int rc = emit(s, v, s->out, s->cs);

	if (!rc)
		rc = s->sink(s->ctx, (const unsigned char *)ru->mark, ru->mark_len);
	s->counts[s->cand_rule]++;
	s->out = s->pos = s->ce;
	s->key = 0;
	s->cand = false;
	return rc;
}

/* After a byte that left the hot states, or while a candidate is open. */
static int settle(struct rp_redact_stream *s, const struct view *v)
{
	const struct state_info *st = &s->r->info[s->key / s->r->stride];

	if (st->out_len) {
		uint64_t start = s->pos - st->out_len;

		if (!s->cand || start < s->cs) {
			s->cand = true;
			s->cs = start;
			s->ce = s->pos;
			s->cand_rule = st->out_rule;
		} else if (start == s->cs) {
			s->ce = s->pos;
			s->cand_rule = st->out_rule;
		}
	}
	if (s->cand && s->cs < s->pos - st->hold)
		return confirm(s, v);
	return RP_OK;
}

static int scan(struct rp_redact_stream *s, const unsigned char *in, size_t n, bool final)
{
	const struct rp_redactor *r = s->r;
	const uint32_t *dense = r->dense;
	const uint8_t *cls = r->cls;
	const uint32_t hot = r->hot_limit;
	struct view v = { s->held, s->out, in, s->pos };
	uint64_t end = s->pos + n, settled;
	int rc = RP_OK;

	for (;;) {
		while (s->pos < end) {
			if (!s->cand && s->key < hot && s->pos >= v.in_at) {
				const unsigned char *p = in + (s->pos - v.in_at), *e = in + n;
				uint32_t key = s->key;

				while (p < e) {
					key = dense[key + cls[*p++]];
					if (key >= hot)
						break;
				}
				s->key = key;
				s->pos = v.in_at + (uint64_t)(p - in);
				if (key < hot)
					break;
			} else {
				s->key = step(r, s->key, cls[byte_at(&v, s->pos)]);
				s->pos++;
			}
			if (s->key >= hot || s->cand) {
				rc = settle(s, &v);
				if (rc)
					return rc;
			}
		}
		if (!final || !s->cand)
			break;
		rc = confirm(s, &v);
		if (rc)
			return rc;
	}
	settled = final ? end : end - r->info[s->key / r->stride].hold;
	if (settled > s->out) {
		rc = emit(s, &v, s->out, settled);
		s->out = settled;
	}
	if (!final && !rc && s->out < end) {
		if (s->out < v.in_at) {
			size_t old = (size_t)(v.in_at - s->out);

			memmove(s->held, s->held + (s->out - v.held_at), old);
			memcpy(s->held + old, in, n);
		} else {
			memcpy(s->held, in + (s->out - v.in_at), (size_t)(end - s->out));
		}
	}
	return rc;
}

int rp_redact_stream_write(struct rp_redact_stream *s, const void *p, size_t n)
{
	if (s->finished)
		return rp_error_set(RP_E_INTERNAL, NULL, "write after the redaction stream was finished");
	if (s->err || !n)
		return s->err;
	if (!s->r->pats_n)
		s->err = s->sink(s->ctx, p, n);
	else
		s->err = scan(s, p, n, false);
	return s->err;
}

int rp_redact_stream_finish(struct rp_redact_stream *s)
{
	if (s->finished || s->err)
		return s->err;
	s->finished = true;
	if (s->r->pats_n)
		s->err = scan(s, NULL, 0, true);
	return s->err;
}

size_t rp_redact_stream_findings(const struct rp_redact_stream *s,
				 struct rp_redact_finding *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->r->rules_n && n < max; i++)
		if (s->counts[i])
			out[n++] = (struct rp_redact_finding){ s->r->rules[i].id, s->counts[i] };
	return n;
}

static int buf_sink(void *ctx, const unsigned char *p, size_t n)
{
	return rp_buf_append(ctx, p, n);
}

static uint64_t stream_total(const struct rp_redact_stream *s)
{
	uint64_t total = 0;

	for (size_t i = 0; i < s->r->rules_n; i++)
		total += s->counts[i];
	return total;
}

int rp_redact_buf(const struct rp_redactor *r, const void *in, size_t n,
		  struct rp_buf *out, uint64_t *count)
{
	struct rp_redact_stream *s = NULL;
	int rc;

	if (!r->pats_n)
		return rp_buf_append(out, in, n);
	rc = rp_redact_stream_new(&s, r, buf_sink, out);
	if (!rc)
		rc = rp_redact_stream_write(s, in, n);
	if (!rc)
		rc = rp_redact_stream_finish(s);
	if (!rc && count)
		*count += stream_total(s);
	rp_redact_stream_free(s);
	return rc;
}

/*
 * A mask can split a multibyte character when a raw secret is not valid
 * UTF-8 at its edges; jansson only holds valid UTF-8, so such bytes become
 * U+FFFD.
 */
static int utf8_repair(struct rp_buf *out, const unsigned char *p, size_t n)
{
	int rc = RP_OK;

	for (size_t i = 0; i < n && !rc;) {
		size_t len = p[i] < 0x80 ? 1 : p[i] < 0xe0 ? 2 : p[i] < 0xf0 ? 3 : 4;

		if (len <= n - i && rp_utf8_valid(p + i, len)) {
			rc = rp_buf_append(out, p + i, len);
			i += len;
		} else {
			rc = rp_buf_append(out, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	return rc;
}

/* Redact text into out; *changed tells whether anything was masked. */
static int redact_text(const struct rp_redactor *r, const char *text, size_t n,
		       struct rp_buf *out, uint64_t *count, bool *changed)
{
	struct rp_buf tmp = RP_BUF_INIT;
	uint64_t found = 0;
	int rc;

	rp_buf_reset(out);
	rc = rp_redact_buf(r, text, n, &tmp, &found);
	*changed = found > 0;
	if (!rc && found) {
		*count += found;
		if (rp_utf8_valid(tmp.data, tmp.len))
			rc = rp_buf_append(out, tmp.data, tmp.len);
		else
			rc = utf8_repair(out, tmp.data, tmp.len);
	}
	if (tmp.data)
		sodium_memzero(tmp.data, tmp.cap);
	rp_buf_release(&tmp);
	return rc;
}

static int redact_node(const struct rp_redactor *r, json_t *j, struct rp_buf *scratch,
		       uint64_t *count);

/* Rebuilt in order: deleting and re-adding a key would move it to the end. */
static int redact_object(const struct rp_redactor *r, json_t *obj, struct rp_buf *scratch,
			 uint64_t *count)
{
	json_t *rebuilt = NULL, *value;
	const char *key;
	size_t key_len, masked_len;
	uint64_t probe = 0;
	bool any = false, changed;
	int rc = RP_OK;

	json_object_keylen_foreach(obj, key, key_len, value) {
		rc = redact_node(r, value, scratch, count);
		if (!rc)
			rc = redact_text(r, key, key_len, scratch, &probe, &changed);
		if (rc)
			goto done;
		any = any || changed;
	}
	if (!any)
		goto done;
	rebuilt = json_object();
	if (!rebuilt) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	json_object_keylen_foreach(obj, key, key_len, value) {
		rc = redact_text(r, key, key_len, scratch, count, &changed);
		if (!rc && !changed)
			rc = rp_buf_append(scratch, key, key_len);
		masked_len = scratch->len;
		/* Two keys that mask to the same text must not overwrite each other. */
		for (unsigned i = 2; !rc && json_object_getn(rebuilt, (const char *)scratch->data,
							     scratch->len); i++) {
			scratch->len = masked_len;
			rc = rp_buf_printf(scratch, "#%u", i);
		}
		if (!rc && json_object_setn(rebuilt, (const char *)scratch->data, scratch->len,
					    value) < 0)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		if (rc)
			goto done;
	}
	if (json_object_clear(obj) < 0 || json_object_update(obj, rebuilt) < 0)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
done:
	json_decref(rebuilt);
	return rc;
}

static int redact_node(const struct rp_redactor *r, json_t *j, struct rp_buf *scratch,
		       uint64_t *count)
{
	json_t *item;
	size_t i;
	bool changed;
	int rc = RP_OK;

	switch (json_typeof(j)) {
	case JSON_STRING:
		rc = redact_text(r, json_string_value(j), json_string_length(j), scratch,
				 count, &changed);
		if (!rc && changed &&
		    json_string_setn(j, (const char *)scratch->data, scratch->len) < 0)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, item) {
			rc = redact_node(r, item, scratch, count);
			if (rc)
				break;
		}
		break;
	case JSON_OBJECT:
		rc = redact_object(r, j, scratch, count);
		break;
	default:
		break;
	}
	return rc;
}

int rp_redact_json(const struct rp_redactor *r, json_t *doc, uint64_t *count)
{
	struct rp_buf scratch = RP_BUF_INIT;
	uint64_t found = 0;
	int rc;

	if (!r->pats_n || !doc)
		return RP_OK;
	rc = redact_node(r, doc, &scratch, &found);
	if (count)
		*count += found;
	if (scratch.data)
		sodium_memzero(scratch.data, scratch.cap);
	rp_buf_release(&scratch);
	return rc;
}
