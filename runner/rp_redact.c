/*
 * rp_redact: the stream that ties three detectors to one output.
 *
 * Every write is appended to one buffer of raw bytes [base, base + len) and
 * scanned by each detector, which turns what it finds into spans [start,
 * end) of stream offsets. Each detector also has a frontier: an offset before
 * which it will never add a span. Bytes before the lowest frontier are
 * settled and go out, spans replaced by markers; a span is only emitted once
 * every byte it covers is settled, so a later overlapping span still merges
 * into it, whatever the split of the input into writes.
 *
 * Exact values: Aho-Corasick over every encoded form of every secret. The
 * automaton is a hybrid: states up to some depth get full transition rows
 * (a DFA: one table load per input byte), deeper states keep only their trie
 * children and a failure link. Text that does not look like a secret never
 * leaves the shallow states, so the hot loop stays a single load and compare,
 * while a long secret cannot blow the table up to gigabytes. State keys are
 * premultiplied row offsets (id * stride) and ids are ordered [dense without
 * a match | dense with a match | sparse], so the hot loop only tests "key <
 * hot_limit" to know it may keep going. Leftmost-longest with bounded memory:
 * after each byte, hold[state] is the length of the longest text suffix that
 * could still grow into a match; a candidate is confirmed once its start is
 * settled, and the scan restarts just after it.
 *
 * Rules: Vectorscan streams report rule ends; an end is confirmed (PCRE2, see
 * rp_rules.c) once RP_RULES_LOOKAHEAD bytes past it are in, so its frontier
 * trails the input by the longest window plus the lookahead. Gated rules run
 * on keyword regions only: each keyword hit opens [hit - W, hit + W); a
 * region closes once no later keyword could still extend it, so regions do
 * not depend on the split either.
 *
 * Private key blocks: a byte-level machine started at each "-----BEGIN"
 * that Vectorscan reports. It holds the block back until its END line (at
 * most PEM_HOLD_MAX bytes, then it commits and masks as it goes).
 *
 * Secret-derived memory (patterns, tables, buffered bytes) is wiped before
 * it is freed.
 */
#include "rp_redact.h"
#include "rp_error.h"
#include "rp_rules.h"
#include "rp_util.h"

#include <ctype.h>
#include <hs.h>
#include <malloc.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Derived forms shorter than this would mask ordinary text. */
#define DERIVED_MIN_LEN 4
/* Memory for full transition rows; deeper states go sparse. */
#define DENSE_BUDGET (8u << 20)
/* Input is processed in pieces of at most this much. */
#define CHUNK (64u << 10)
/* A private key block is held back at most this long before the machine
 * commits to masking it (RSA-16384 PEM is about 13 KB). */
#define PEM_HOLD_MAX (64u << 10)
#define PEM_LABEL_MAX 100u
/* A body needs this many base64 characters to be a key (gitleaks: 64). */
#define PEM_MIN_BODY 64u
/* Scratch sets kept for reuse by later streams. */
#define POOL_MAX 8

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

/* Per-stream matcher state that is costly to allocate: pooled. */
struct scratch_set {
	hs_scratch_t *hs;
	struct rp_rules_scratch *rules;
};

struct rp_redactor {
	struct rule *rules;   /* the secrets' rules */
	size_t rules_n;
	struct pattern *pats;
	size_t pats_n, pats_cap;
	size_t max_len;
	bool compiled;

	/* Credential rules; finding index secrets_n + i, then private-key. */
	struct rp_rules *rs;
	bool want_rules;
	size_t findings_n;    /* rules_n + rules in rs + 1 */
	hs_database_t *lit_db; /* the secrets' forms as literals: where to run the automaton */
	hs_scratch_t *proto;  /* sized for every database, cloned per stream */
	pthread_mutex_t pool_lock;
	bool pool_init;
	struct scratch_set pool[POOL_MAX];
	size_t pool_n;
	uint32_t hold;        /* the rules' hold-back */

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

static const char pem_id[] = RP_RULES_PRIVATE_KEY;
static const char pem_mark[] = "[REDACTED:" RP_RULES_PRIVATE_KEY "]";


static size_t pattern_rules(const struct rp_redactor *r);

static void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	sodium_memzero(p, n);
	free(p);
}

/* Vectorscan's literal database and stream state hold secret bytes: its
 * allocations are wiped when freed, like ours. */
static void *hs_wiping_alloc(size_t n)
{
	return malloc(n);
}

static void hs_wiping_free(void *p)
{
	if (!p)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

static void hs_allocator_init(void)
{
	hs_set_allocator(hs_wiping_alloc, hs_wiping_free);
}

int rp_redactor_new(struct rp_redactor **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, hs_allocator_init);
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
	for (size_t i = 0; i < r->pool_n; i++) {
		hs_free_scratch(r->pool[i].hs);
		rp_rules_scratch_free(r->pool[i].rules);
	}
	if (r->pool_init)
		pthread_mutex_destroy(&r->pool_lock);
	hs_free_scratch(r->proto);
	hs_free_database(r->lit_db);
	rp_rules_free(r->rs);
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
	if (rp_array_grow(&r->pats, &r->pats_cap, r->pats_n, sizeof(*r->pats)))
		return RP_E_NOMEM;
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

static int compile_automaton(struct rp_redactor *r)
{
	struct build b = { 0 };
	struct state_info *by_node = NULL;
	size_t total = 1, budget;
	uint32_t dense_n, next_id = 0, classes = 0;
	bool used[256];
	int rc = RP_OK;

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
/* ---- streams ---- */

struct span {
	uint64_t start, end;
	uint32_t rule; /* finding index */
};

struct event {
	uint64_t end;
	uint32_t rule; /* rp_rules index */
};

struct region {
	uint64_t start, end;
};

enum pem_state { PEM_IDLE, PEM_LABEL, PEM_BODY, PEM_END, PEM_ENDLABEL };

/* The private key block machine (see the top of the file). */
struct pem {
	enum pem_state st;
	uint64_t pos;       /* next byte to look at */
	uint64_t body;      /* first byte after the BEGIN line's dashes */
	uint64_t seg;       /* start of the current body segment */
	uint64_t esc_at;    /* where a backslash escape began */
	uint64_t b64_first, b64_last; /* base64 run of the current segment */
	uint32_t label_n, dashes, endm, count, seg_b64;
	char tail[20];      /* the label's last characters, upper case */
	bool esc, header_done, seg_colon, seg_other, seg_gap, committed;
	uint64_t *trig;     /* pending "-----BEGIN" ends */
	size_t trig_n, trig_cap, trig_head;
	struct span *segs;  /* completed base64 segments, held until decided */
	size_t segs_n, segs_cap;
};

struct rp_redact_stream {
	const struct rp_redactor *r;
	rp_redact_sink sink;
	void *ctx;
	unsigned flags;
	bool finished;
	int err;

	unsigned char *buf;  /* raw bytes [base, base + len) */
	size_t len, cap;
	uint64_t base;
	uint64_t pos;        /* end of the input so far */
	uint64_t out;        /* bytes before this are emitted */
	uint64_t emit_from, emit_to; /* only this part is emitted (JSON members) */

	/* exact values */
	hs_stream_t *lit;    /* literal prefilter over the same bytes */
	uint64_t *hits;      /* ends of literal hits not yet passed */
	size_t hits_n, hits_cap, hits_head;
	uint64_t ac_pos;
	uint32_t key, cand_rule;
	bool cand;
	uint64_t cs, ce;     /* candidate match [cs, ce) */

	/* rules */
	struct scratch_set sc;
	hs_stream_t *hs[RP_RULES_DB_N];
	uint64_t cb_origin;  /* stream offset of the database's byte 0 */
	int cb_err;
	struct event *ev;
	size_t ev_n, ev_cap;
	bool gopen;          /* a gated region is open */
	struct region g;     /* the open region, scanned up to g_pos */
	uint64_t g_pos;
	struct region *gq;   /* regions waiting */
	size_t gq_n, gq_cap, gq_head;
	uint64_t d_pos;      /* digit runs: next byte to look at */
	uint32_t d_flags;    /* digits and separators in a row before d_pos */
	uint32_t d_count;    /* digits since the run's first group at a word boundary */
	bool d_exact;        /* in a stretch long enough for the exact machine */
	bool d_run, d_ok, d_sep; /* in a digit run; counting; the last byte was a separator */
	uint64_t *last_end;  /* per finding: end of the last counted match */
	uint64_t *prev_ev;   /* per rule: 1 + the last reported end confirmed or skipped */

	struct pem pem;
	struct span *spans;
	size_t spans_n, spans_cap;
	bool spans_sorted;
	uint64_t *counts;    /* per finding */
};

static size_t pattern_rules(const struct rp_redactor *r)
{
	return r->rs ? rp_rules_count(r->rs) : 0;
}

static uint32_t pem_index(const struct rp_redactor *r)
{
	return (uint32_t)(r->rules_n + pattern_rules(r));
}

static const char *finding_id(const struct rp_redactor *r, uint32_t f)
{
	if (f < r->rules_n)
		return r->rules[f].id;
	if (f < pem_index(r))
		return rp_rules_id(r->rs, f - (uint32_t)r->rules_n);
	return pem_id;
}

static const char *finding_mark(const struct rp_redactor *r, uint32_t f, size_t *len)
{
	if (f < r->rules_n) {
		*len = r->rules[f].mark_len;
		return r->rules[f].mark;
	}
	if (f < pem_index(r))
		return rp_rules_mark(r->rs, f - (uint32_t)r->rules_n, len);
	*len = sizeof(pem_mark) - 1;
	return pem_mark;
}

static void scratch_put(const struct rp_redactor *cr, struct scratch_set *set)
{
	/* The pool is the one mutable part of a compiled redactor. */
	struct rp_redactor *r = (struct rp_redactor *)(uintptr_t)cr;

	if (!set->hs && !set->rules)
		return;
	pthread_mutex_lock(&r->pool_lock);
	if (r->pool_n < POOL_MAX) {
		r->pool[r->pool_n++] = *set;
		set->hs = NULL;
		set->rules = NULL;
	}
	pthread_mutex_unlock(&r->pool_lock);
	hs_free_scratch(set->hs);
	rp_rules_scratch_free(set->rules);
	set->hs = NULL;
	set->rules = NULL;
}

static int scratch_get(const struct rp_redactor *cr, struct scratch_set *set)
{
	struct rp_redactor *r = (struct rp_redactor *)(uintptr_t)cr;
	int rc = RP_OK;

	pthread_mutex_lock(&r->pool_lock);
	if (r->pool_n)
		*set = r->pool[--r->pool_n];
	pthread_mutex_unlock(&r->pool_lock);
	if (set->hs)
		return RP_OK;
	if (hs_clone_scratch(r->proto, &set->hs) != HS_SUCCESS)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the rule matcher");
	if (!rc && r->rs)
		rc = rp_rules_scratch_new(&set->rules, r->rs);
	return rc;
}

int rp_redact_stream_new_flags(struct rp_redact_stream **out, const struct rp_redactor *r,
			       unsigned flags, rp_redact_sink sink, void *ctx)
{
	struct rp_redact_stream *s;
	int rc = RP_OK;

	*out = NULL;
	if (!r->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "redactor used before compile");
	s = calloc(1, sizeof(*s));
	if (!s)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	s->r = r;
	s->sink = sink;
	s->ctx = ctx;
	s->flags = flags;
	s->emit_to = UINT64_MAX;
	s->counts = calloc(r->findings_n, sizeof(*s->counts));
	s->last_end = calloc(r->findings_n, sizeof(*s->last_end));
	s->prev_ev = calloc(r->findings_n, sizeof(*s->prev_ev));
	if (!s->counts || !s->last_end || !s->prev_ev)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if (!rc && (r->rs || r->lit_db))
		rc = scratch_get(r, &s->sc);
	if (!rc && r->lit_db && hs_open_stream(r->lit_db, 0, &s->lit) != HS_SUCCESS)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the secret matcher");
	for (int i = 0; !rc && r->rs && i < RP_RULES_DB_N; i++) {
		const hs_database_t *db = (const hs_database_t *)rp_rules_db(r->rs, (enum rp_rules_db)i);

		if (db && i != RP_RULES_DB_GATED && hs_open_stream(db, 0, &s->hs[i]) != HS_SUCCESS)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the rule matcher");
	}
	if (rc) {
		rp_redact_stream_free(s);
		return rc;
	}
	*out = s;
	return RP_OK;
}

int rp_redact_stream_new(struct rp_redact_stream **out, const struct rp_redactor *r,
			 rp_redact_sink sink, void *ctx)
{
	return rp_redact_stream_new_flags(out, r, 0, sink, ctx);
}

void rp_redact_stream_free(struct rp_redact_stream *s)
{
	if (!s)
		return;
	for (int i = 0; i < RP_RULES_DB_N; i++)
		if (s->hs[i])
			hs_close_stream(s->hs[i], NULL, NULL, NULL);
	if (s->lit)
		hs_close_stream(s->lit, NULL, NULL, NULL);
	free(s->hits);
	scratch_put(s->r, &s->sc);
	wipe_free(s->buf, s->cap);
	free(s->ev);
	free(s->gq);
	free(s->last_end);
	free(s->prev_ev);
	free(s->pem.trig);
	free(s->pem.segs);
	free(s->spans);
	free(s->counts);
	free(s);
}

/*
 * Make s as rp_redact_stream_new_flags left it, keeping its allocations and
 * Vectorscan streams: a JSON document is redacted one string at a time, and
 * opening fresh streams for each of a large document's strings cost more
 * than scanning them.
 */
static void stream_reset(struct rp_redact_stream *s, rp_redact_sink sink, void *ctx)
{
	struct rp_redact_stream keep = *s;
	size_t n = keep.r->findings_n;

	memset(s, 0, sizeof(*s));
	s->r = keep.r;
	s->flags = keep.flags;
	s->sink = sink;
	s->ctx = ctx;
	s->emit_to = UINT64_MAX;
	s->buf = keep.buf;
	s->cap = keep.cap;
	s->hits = keep.hits;
	s->hits_cap = keep.hits_cap;
	s->sc = keep.sc;
	s->lit = keep.lit;
	memcpy(s->hs, keep.hs, sizeof(s->hs));
	s->ev = keep.ev;
	s->ev_cap = keep.ev_cap;
	s->gq = keep.gq;
	s->gq_cap = keep.gq_cap;
	s->pem.trig = keep.pem.trig;
	s->pem.trig_cap = keep.pem.trig_cap;
	s->pem.segs = keep.pem.segs;
	s->pem.segs_cap = keep.pem.segs_cap;
	s->spans = keep.spans;
	s->spans_cap = keep.spans_cap;
	s->counts = keep.counts;
	s->last_end = keep.last_end;
	s->prev_ev = keep.prev_ev;
	memset(s->counts, 0, n * sizeof(*s->counts));
	memset(s->last_end, 0, n * sizeof(*s->last_end));
	memset(s->prev_ev, 0, n * sizeof(*s->prev_ev));
	/* No callback, so no scratch is needed and nothing is reported. */
	if (s->lit)
		hs_reset_stream(s->lit, 0, NULL, NULL, NULL);
	for (int i = 0; i < RP_RULES_DB_N; i++)
		if (s->hs[i])
			hs_reset_stream(s->hs[i], 0, NULL, NULL, NULL);
}

/* ---- spans and output ---- */

static bool in_emit_window(const struct rp_redact_stream *s, uint64_t a, uint64_t b)
{
	return a < s->emit_to && b > s->emit_from;
}

static int add_span(struct rp_redact_stream *s, uint32_t f, uint64_t a, uint64_t b, bool count)
{
	int rc;

	if (a >= b || !in_emit_window(s, a, b))
		return RP_OK;
	if (count) {
		if (a >= s->last_end[f])
			s->counts[f]++;
		if (b > s->last_end[f])
			s->last_end[f] = b;
	}
	/* Report mode leaves rule matches in place; secrets are always masked. */
	if ((s->flags & RP_REDACT_REPORT) && f >= s->r->rules_n)
		return RP_OK;
	rc = rp_array_grow(&s->spans, &s->spans_cap, s->spans_n, sizeof(*s->spans));
	if (rc)
		return rc;
	s->spans[s->spans_n++] = (struct span){ a, b, f };
	s->spans_sorted = false;
	return RP_OK;
}

static int emit_raw(struct rp_redact_stream *s, uint64_t a, uint64_t b)
{
	if (a < s->emit_from)
		a = s->emit_from;
	if (b > s->emit_to)
		b = s->emit_to;
	if (a >= b)
		return RP_OK;
	return s->sink(s->ctx, s->buf + (a - s->base), (size_t)(b - a));
}

/* One marker per line of [a, b); line breaks ("\n", "\r\n") are kept. */
static int emit_mark(struct rp_redact_stream *s, uint32_t f, uint64_t a, uint64_t b)
{
	size_t mlen;
	const char *mark = finding_mark(s->r, f, &mlen);
	bool in_line = false;
	int rc = RP_OK;

	if (a < s->emit_from)
		a = s->emit_from;
	if (b > s->emit_to)
		b = s->emit_to;
	for (uint64_t i = a; i < b && !rc; i++) {
		const unsigned char *c = s->buf + (i - s->base);

		if (*c == '\n' || (*c == '\r' && i + 1 < b && c[1] == '\n')) {
			rc = s->sink(s->ctx, c, 1);
			in_line = false;
		} else if (!in_line) {
			rc = s->sink(s->ctx, (const unsigned char *)mark, mlen);
			in_line = true;
		}
	}
	return rc;
}

static int cmp_span(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* Emit settled bytes up to f; a merged span goes out only once it ends at or
 * before f, so nothing later can still join it. */
static int emit_upto(struct rp_redact_stream *s, uint64_t f)
{
	size_t i = 0, n = s->spans_n;
	int rc = RP_OK;

	if (n > 1 && !s->spans_sorted)
		qsort(s->spans, n, sizeof(*s->spans), cmp_span);
	s->spans_sorted = true;
	while (!rc && s->out < f) {
		uint64_t a, b;
		size_t j;

		while (i < n && s->spans[i].end <= s->out)
			i++;
		if (i == n || s->spans[i].start >= f) {
			rc = emit_raw(s, s->out, f);
			s->out = f;
			break;
		}
		a = s->spans[i].start > s->out ? s->spans[i].start : s->out;
		b = s->spans[i].end;
		for (j = i + 1; j < n && s->spans[j].start < b; j++)
			if (s->spans[j].end > b)
				b = s->spans[j].end;
		rc = emit_raw(s, s->out, a);
		s->out = a;
		if (rc || b > f)
			break;
		rc = emit_mark(s, s->spans[i].rule, a, b);
		s->out = b;
		i = j;
	}
	if (i)
		memmove(s->spans, s->spans + i, (n - i) * sizeof(*s->spans));
	s->spans_n = n - i;
	return rc;
}

/* ---- exact values ---- */

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

static int ac_confirm(struct rp_redact_stream *s)
{
	int rc = add_span(s, s->cand_rule, s->cs, s->ce, true);

	s->ac_pos = s->ce;
	s->key = 0;
	s->cand = false;
	return rc;
}

/* After a byte that left the hot states, or while a candidate is open. */
static int settle(struct rp_redact_stream *s)
{
	const struct state_info *st = &s->r->info[s->key / s->r->stride];

	if (st->out_len) {
		uint64_t start = s->ac_pos - st->out_len;

		if (!s->cand || start < s->cs) {
			s->cand = true;
			s->cs = start;
			s->ce = s->ac_pos;
			s->cand_rule = st->out_rule;
		} else if (start == s->cs) {
			s->ce = s->ac_pos;
			s->cand_rule = st->out_rule;
		}
	}
	if (s->cand && s->cs < s->ac_pos - st->hold)
		return ac_confirm(s);
	return RP_OK;
}

static int on_literal(unsigned int id, unsigned long long from, unsigned long long to,
		      unsigned int flags, void *ctx)
{
	struct rp_redact_stream *s = ctx;
	int rc;

	(void)id;
	(void)from;
	(void)flags;
	if (s->hits_n > s->hits_head && s->hits[s->hits_n - 1] == to)
		return 0;
	if (s->hits_head && s->hits_head == s->hits_n)
		s->hits_head = s->hits_n = 0;
	rc = rp_array_grow(&s->hits, &s->hits_cap, s->hits_n, sizeof(*s->hits));
	if (rc) {
		s->cb_err = rc;
		return 1;
	}
	s->hits[s->hits_n++] = to;
	return 0;
}

/*
 * Every match of the automaton ends where the literal pass saw one of the
 * patterns end. With no candidate open, the automaton may jump to max_len
 * bytes before the next such end (or before the input's end), restarting
 * from the root: its state there only depends on the last max_len bytes,
 * and no match ends in between. The dense loop is a chain of dependent
 * loads (about 600 MB/s); the literal pass runs at several GB/s.
 */
static void ac_skip(struct rp_redact_stream *s, uint64_t end)
{
	uint64_t next = end, target;

	while (s->hits_head < s->hits_n && s->hits[s->hits_head] <= s->ac_pos)
		s->hits_head++;
	if (s->hits_head < s->hits_n && s->hits[s->hits_head] < end)
		next = s->hits[s->hits_head];
	target = next > s->r->max_len ? next - s->r->max_len : 0;
	if (target > s->ac_pos) {
		s->ac_pos = target;
		s->key = 0;
	}
}

static int ac_scan(struct rp_redact_stream *s, bool final)
{
	const struct rp_redactor *r = s->r;
	const uint32_t *dense = r->dense;
	const uint8_t *cls = r->cls;
	const uint32_t hot = r->hot_limit;
	const unsigned char *b = s->buf;
	uint64_t base = s->base, end = s->pos;
	int rc = RP_OK;

	for (;;) {
		while (s->ac_pos < end) {
			if (!s->cand && s->key < hot) {
				const unsigned char *p, *e = b + (end - base);
				uint32_t key;

				if (s->lit)
					ac_skip(s, end);
				p = b + (s->ac_pos - base);
				key = s->key;

				while (p < e) {
					key = dense[key + cls[*p++]];
					if (key >= hot)
						break;
				}
				s->key = key;
				s->ac_pos = base + (uint64_t)(p - b);
				if (key < hot)
					break;
			} else {
				s->key = step(r, s->key, cls[b[s->ac_pos - base]]);
				s->ac_pos++;
			}
			if (s->key >= hot || s->cand) {
				rc = settle(s);
				if (rc)
					return rc;
			}
		}
		if (!final || !s->cand)
			break;
		rc = ac_confirm(s);
		if (rc)
			return rc;
	}
	return RP_OK;
}

/* ---- rules ---- */

static int add_region(struct rp_redact_stream *s, uint64_t hit, uint32_t w)
{
	uint64_t a = hit > w ? hit - w : 0, b = hit + w;
	struct region *last = s->gq_n > s->gq_head ? &s->gq[s->gq_n - 1] : s->gopen ? &s->g : NULL;
	int rc;

	if (last && a <= last->end) {
		if (b > last->end)
			last->end = b;
		return RP_OK;
	}
	if (s->gq_head && s->gq_head == s->gq_n)
		s->gq_head = s->gq_n = 0;
	rc = rp_array_grow(&s->gq, &s->gq_cap, s->gq_n, sizeof(*s->gq));
	if (!rc)
		s->gq[s->gq_n++] = (struct region){ a, b };
	return rc;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct rp_redact_stream *s = ctx;
	uint64_t end = s->cb_origin + to;
	int rc = RP_OK;

	(void)from;
	(void)flags;
	if (id < RP_RULES_ID_KEYWORD) {
		struct event *last = s->ev_n ? &s->ev[s->ev_n - 1] : NULL;

		if (last && last->end == end && last->rule == id)
			return 0;
		rc = rp_array_grow(&s->ev, &s->ev_cap, s->ev_n, sizeof(*s->ev));
		if (!rc)
			s->ev[s->ev_n++] = (struct event){ end, id };
	} else if (id == RP_RULES_ID_PEM) {
		rc = rp_array_grow(&s->pem.trig, &s->pem.trig_cap, s->pem.trig_n, sizeof(*s->pem.trig));
		if (!rc)
			s->pem.trig[s->pem.trig_n++] = end;
	} else {
		rc = add_region(s, end, rp_rules_keyword_window(s->r->rs, id - RP_RULES_ID_KEYWORD));
	}
	if (rc) {
		s->cb_err = rc;
		return 1;
	}
	return 0;
}

static int hs_fail(struct rp_redact_stream *s, hs_error_t e)
{
	if (s->cb_err)
		return s->cb_err;
	return rp_error_set(RP_E_INTERNAL, NULL, "rule matcher failed (vectorscan error %d)", e);
}

/* Scan the gated database over the keyword regions the input reached. */
static int gated_run(struct rp_redact_stream *s, bool final)
{
	const hs_database_t *db = (const hs_database_t *)rp_rules_db(s->r->rs, RP_RULES_DB_GATED);
	uint32_t w = rp_rules_gated_window(s->r->rs);
	hs_error_t e;

	if (!db)
		return RP_OK;
	for (;;) {
		uint64_t to;

		if (!s->gopen) {
			if (s->gq_head == s->gq_n)
				return RP_OK;
			s->g = s->gq[s->gq_head++];
			if (s->g.start < s->base)
				s->g.start = s->base;
			s->g_pos = s->g.start;
			s->gopen = true;
			if (!s->hs[RP_RULES_DB_GATED] &&
			    hs_open_stream(db, 0, &s->hs[RP_RULES_DB_GATED]) != HS_SUCCESS)
				return rp_error_set(RP_E_NOMEM, NULL, "out of memory for the rule matcher");
		}
		to = s->g.end < s->pos ? s->g.end : s->pos;
		if (s->g_pos < to) {
			s->cb_origin = s->g.start;
			e = hs_scan_stream(s->hs[RP_RULES_DB_GATED], (const char *)s->buf + (s->g_pos - s->base),
					   (unsigned)(to - s->g_pos), 0, s->sc.hs, on_match, s);
			if (e != HS_SUCCESS)
				return hs_fail(s, e);
			s->g_pos = to;
		}
		/* Closed once no later keyword could still extend it. */
		if (!final && (s->g_pos < s->g.end || s->pos < s->g.end + w))
			return RP_OK;
		s->cb_origin = s->g.start;
		e = hs_reset_stream(s->hs[RP_RULES_DB_GATED], 0, s->sc.hs, on_match, s);
		if (e != HS_SUCCESS)
			return hs_fail(s, e);
		s->gopen = false;
	}
}

static int push_event(struct rp_redact_stream *s, uint64_t end, uint32_t rule)
{
	int rc = rp_array_grow(&s->ev, &s->ev_cap, s->ev_n, sizeof(*s->ev));

	if (!rc)
		s->ev[s->ev_n++] = (struct event){ end, rule };
	return rc;
}

/* Bytes that can be part of a card number: digits and the separators. */
static const unsigned char digit_flag[256] = { ['0' ... '9'] = 1, [' '] = 1, ['-'] = 1 };

/* Bit i set when p[i] is a digit, a space or a dash. */
static inline uint32_t flag_mask16(const unsigned char *p)
{
#if defined(__SSE2__)
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i sep = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
				   _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));

	return (uint32_t)_mm_movemask_epi8(_mm_or_si128(digit, sep));
#else
	uint32_t m = 0;

	for (int i = 0; i < 16; i++)
		m |= (uint32_t)digit_flag[p[i]] << i;
	return m;
#endif
}

static bool is_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* A digit group ended at `at` (\b after it) with 13 or more digits in. */
static int digit_group_end(struct rp_redact_stream *s, uint64_t at, const uint32_t *ids, size_t n)
{
	int rc = RP_OK;

	for (size_t i = 0; i < n && !rc; i++)
		rc = push_event(s, at, ids[i]);
	return rc;
}

/* One byte of a long stretch of digits and separators: digit groups split
 * by single separators, counted from a group that starts at a boundary. */
static int digit_exact(struct rp_redact_stream *s, const unsigned char *p, const uint32_t *ids,
		       size_t n)
{
	uint64_t at = s->base + (uint64_t)(p - s->buf);
	int rc = RP_OK;

	if (*p >= '0' && *p <= '9') {
		if (!s->d_run) {
			s->d_run = true;
			s->d_ok = at == 0 || at == s->base || !is_word(p[-1]);
			s->d_count = 0;
		}
		s->d_count++;
		s->d_sep = false;
	} else if (!s->d_run) {
		/* a separator between runs */
	} else if (!s->d_sep) {
		if (s->d_ok && s->d_count >= 13)
			rc = digit_group_end(s, at, ids, n);
		s->d_sep = true;
		/* The next group starts at a boundary even if this one did not. */
		if (!s->d_ok) {
			s->d_ok = true;
			s->d_count = 0;
		}
	} else {
		s->d_run = false; /* two separators */
	}
	return rc;
}

/*
 * The ends a card-number regex can have: runs of digit groups split by
 * single spaces or dashes, at least 13 digits from a group that starts at a
 * word boundary, reported at each group end followed by a non-word byte.
 * A card needs 13 bytes in a row of digits and separators: a branch-free
 * filter counts such bytes 8 at a time, and only stretches that long go
 * through the exact byte machine. Several times faster than an automaton
 * following every digit of a log.
 */
static int digit_scan(struct rp_redact_stream *s, bool final)
{
	const uint32_t *ids;
	size_t n = rp_rules_digit_rules(s->r->rs, &ids);
	const unsigned char *b = s->buf, *p = b + (s->d_pos - s->base), *e = b + (s->pos - s->base);
	uint32_t run = s->d_flags;
	int rc = RP_OK;

	if (!n)
		return RP_OK;
	while (!rc && p < e) {
		if (s->d_exact) {
			if (digit_flag[*p]) {
				rc = digit_exact(s, p, ids, n);
			} else {
				if (s->d_run && !s->d_sep && !is_word(*p) && s->d_ok && s->d_count >= 13)
					rc = digit_group_end(s, s->base + (uint64_t)(p - b), ids, n);
				s->d_run = s->d_exact = false;
				run = 0;
			}
			p++;
			continue;
		}
		if (e - p >= 16) {
			uint32_t m = flag_mask16(p);
			unsigned lead = m == 0xffff ? 16 : (unsigned)__builtin_ctz(~m);

			if (run + lead >= 13) {
				/* Back to where the stretch began, byte by byte from there. */
				p -= run;
				s->d_exact = true;
				s->d_run = false;
				continue;
			}
			/* Runs inside the block are shorter than 13: only the tail carries. */
			run = m == 0xffff ? run + 16 : (unsigned)__builtin_clz(~m << 16 | 0xffffu);
			p += 16;
			continue;
		}
		if (!digit_flag[*p]) {
			run = 0;
		} else if (++run >= 13) {
			p -= run - 1;
			s->d_exact = true;
			s->d_run = false;
			continue;
		}
		p++;
	}
	if (!rc && final && s->d_exact && s->d_run && !s->d_sep && s->d_ok && s->d_count >= 13)
		rc = digit_group_end(s, s->pos, ids, n);
	s->d_pos = s->base + (uint64_t)(p - b);
	s->d_flags = run;
	return rc;
}

static int cmp_event(const void *pa, const void *pb)
{
	const struct event *a = pa, *b = pb;

	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	return a->end < b->end ? -1 : a->end > b->end;
}

/*
 * Confirm the reported ends that have their lookahead (all of them at the
 * end of the stream). In a run of consecutive ends of one rule (a greedy
 * tail, x+ or x{n,}, ends at every byte) only the first and the last are
 * confirmed: their matches cover the run, and confirming each end would
 * cost the run's length squared.
 */
static int confirm_events(struct rp_redact_stream *s, bool final)
{
	uint64_t limit = final ? UINT64_MAX : s->pos > RP_RULES_LOOKAHEAD ? s->pos - RP_RULES_LOOKAHEAD : 0;
	size_t kept = 0;
	int rc = RP_OK;

	if (s->ev_n > 1)
		qsort(s->ev, s->ev_n, sizeof(*s->ev), cmp_event);
	for (size_t i = 0; i < s->ev_n; i++) {
		const struct event *e = &s->ev[i];
		struct rp_rules_hit hit;

		if (e->end > limit) {
			s->ev[kept++] = *e;
			continue;
		}
		if (rc || (i && s->ev[i - 1].rule == e->rule && s->ev[i - 1].end == e->end))
			continue;
		if (s->prev_ev[e->rule] == e->end && i + 1 < s->ev_n && s->ev[i + 1].rule == e->rule &&
		    s->ev[i + 1].end == e->end + 1) {
			s->prev_ev[e->rule] = e->end + 1;
			continue;
		}
		s->prev_ev[e->rule] = e->end + 1;
		rc = rp_rules_confirm(&hit, s->sc.rules, s->r->rs, e->rule, s->buf, s->base, s->len,
				      e->end, final);
		if (rc == 1)
			rc = add_span(s, (uint32_t)s->r->rules_n + e->rule, hit.start, hit.end, true);
	}
	s->ev_n = kept;
	return rc < 0 ? rc : RP_OK;
}

/* ---- private key blocks ---- */

static bool label_char(unsigned char c)
{
	return isalnum(c) || c == ' ' || c == '_' || c == '-';
}

/* tail is right-aligned: its last byte is a NUL. */
static bool label_is_key(const struct pem *m)
{
	const char *end = m->tail + sizeof(m->tail) - 1;

	return !memcmp(end - 11, "PRIVATE KEY", 11) || !memcmp(end - 17, "PRIVATE KEY BLOCK", 17);
}

static bool b64_char(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '=';
}

static void pem_new_segment(struct pem *m, uint64_t at)
{
	m->seg = at;
	m->seg_b64 = 0;
	m->seg_colon = m->seg_other = m->seg_gap = false;
	m->esc = false;
}

static int pem_push_segs(struct rp_redact_stream *s)
{
	struct pem *m = &s->pem;
	int rc = RP_OK;

	for (size_t i = 0; i < m->segs_n && !rc; i++)
		rc = add_span(s, pem_index(s->r), m->segs[i].start, m->segs[i].end, false);
	m->segs_n = 0;
	return rc;
}

/* The block ends (END line, a line that is not PEM, or the stream end):
 * mask it when it held a key's worth of base64. */
static int pem_decide(struct rp_redact_stream *s, bool with_current)
{
	struct pem *m = &s->pem;
	int rc = RP_OK;

	if (with_current && m->seg_b64 && !m->seg_colon && !m->seg_other && !m->seg_gap) {
		m->count += m->seg_b64;
		rc = rp_array_grow(&m->segs, &m->segs_cap, m->segs_n, sizeof(*m->segs));
		if (!rc)
			m->segs[m->segs_n++] = (struct span){ m->b64_first, m->b64_last + 1, 0 };
	}
	if (!rc && (m->committed || m->count >= PEM_MIN_BODY)) {
		if (!m->committed && in_emit_window(s, m->body, s->pos))
			s->counts[pem_index(s->r)]++;
		rc = pem_push_segs(s);
	}
	m->segs_n = 0;
	m->st = PEM_IDLE;
	return rc;
}

/* A body segment ended at `at`: keep it when it is base64 or a header. */
static int pem_segment_end(struct rp_redact_stream *s, uint64_t at, bool *abort)
{
	struct pem *m = &s->pem;
	int rc = RP_OK;

	(void)at;
	*abort = false;
	if (!m->seg_b64 && !m->seg_colon && !m->seg_other) {
		if (m->seg != at)
			m->header_done = m->header_done || m->count > 0;
		return RP_OK; /* blank */
	}
	if (m->seg_colon && !m->header_done && !m->count)
		return RP_OK; /* Proc-Type:, DEK-Info:, Version:, Comment: */
	if (m->seg_colon || m->seg_other || m->seg_gap) {
		*abort = true;
		return RP_OK;
	}
	m->count += m->seg_b64;
	m->header_done = true;
	rc = rp_array_grow(&m->segs, &m->segs_cap, m->segs_n, sizeof(*m->segs));
	if (!rc)
		m->segs[m->segs_n++] = (struct span){ m->b64_first, m->b64_last + 1, 0 };
	if (!rc && m->committed)
		rc = pem_push_segs(s);
	return rc;
}

static int pem_body_byte(struct rp_redact_stream *s, unsigned char c, uint64_t at)
{
	static const char end_marker[] = "-----END";
	struct pem *m = &s->pem;
	bool abort = false;
	int rc = RP_OK;

	if (m->st == PEM_END) {
		if (toupper(c) == end_marker[m->endm]) {
			if (++m->endm == 8) {
				m->st = PEM_ENDLABEL;
				m->label_n = 0;
				m->dashes = 0;
			}
			return RP_OK;
		}
		return pem_decide(s, false);
	}
	if (m->esc) {
		m->esc = false;
		if (c == 'n' || c == 'r') {
			rc = pem_segment_end(s, m->esc_at, &abort);
			pem_new_segment(m, at + 1);
			return rc ? rc : abort ? pem_decide(s, false) : RP_OK;
		}
		if (c == '\\') {
			m->esc = true;
			return RP_OK;
		}
		if (c != '/')
			return pem_decide(s, true);
	} else if (c == '\\') {
		m->esc = true;
		m->esc_at = at;
		return RP_OK;
	}
	if (c == '\n' || c == '\r') {
		rc = pem_segment_end(s, at, &abort);
		pem_new_segment(m, at + 1);
		return rc ? rc : abort ? pem_decide(s, false) : RP_OK;
	}
	if (c == '-' && !m->seg_b64 && !m->seg_colon && !m->seg_other) {
		m->st = PEM_END;
		m->endm = 1;
		return RP_OK;
	}
	if (b64_char(c)) {
		if (m->seg_b64 && m->b64_last + 1 != at && !m->seg_colon)
			m->seg_gap = true;
		if (!m->seg_b64)
			m->b64_first = at;
		m->b64_last = at;
		m->seg_b64++;
	} else if (c == ':') {
		m->seg_colon = true;
	} else if (c == ' ' || c == '\t') {
		/* indentation, or a gap noticed at the next base64 byte */
	} else if (strchr(",.()_@-", c)) {
		m->seg_other = true;
	} else {
		return pem_decide(s, true);
	}
	/* Too long to hold: commit (a key's worth of base64 is already there). */
	if (!m->committed && at - m->body > PEM_HOLD_MAX) {
		if (m->count < PEM_MIN_BODY)
			return pem_decide(s, false);
		if (in_emit_window(s, m->body, at))
			s->counts[pem_index(s->r)]++;
		m->committed = true;
		rc = pem_push_segs(s);
	}
	return rc;
}

static int pem_run(struct rp_redact_stream *s, bool final)
{
	struct pem *m = &s->pem;
	int rc = RP_OK;

	while (!rc) {
		unsigned char c;

		if (m->st == PEM_IDLE) {
			while (m->trig_head < m->trig_n && m->trig[m->trig_head] < m->pos)
				m->trig_head++;
			if (m->trig_head == m->trig_n) {
				m->trig_head = m->trig_n = 0;
				m->pos = s->pos;
				return RP_OK;
			}
			m->pos = m->trig[m->trig_head++];
			m->st = PEM_LABEL;
			m->label_n = m->dashes = 0;
			memset(m->tail, 0, sizeof(m->tail));
		}
		if (m->pos >= s->pos) {
			if (final && m->st != PEM_LABEL)
				rc = pem_decide(s, true);
			else if (final)
				m->st = PEM_IDLE;
			if (!final || m->trig_head == m->trig_n)
				return rc;
			continue;
		}
		c = s->buf[m->pos - s->base];
		switch (m->st) {
		case PEM_LABEL:
			if (c == '-') {
				if (++m->dashes == 5) {
					if (label_is_key(m)) {
						m->st = PEM_BODY;
						m->body = m->pos + 1;
						m->count = 0;
						m->segs_n = 0;
						m->header_done = m->committed = false;
						pem_new_segment(m, m->body);
					} else {
						m->st = PEM_IDLE;
					}
				}
				break;
			}
			for (; m->dashes; m->dashes--)
				m->label_n++;
			if (!label_char(c) || ++m->label_n > PEM_LABEL_MAX) {
				m->st = PEM_IDLE;
				break;
			}
			memmove(m->tail, m->tail + 1, sizeof(m->tail) - 2);
			m->tail[sizeof(m->tail) - 2] = (char)toupper(c);
			break;
		case PEM_ENDLABEL:
			if (c == '-') {
				if (++m->dashes == 5)
					rc = pem_decide(s, false);
			} else if (m->dashes || !label_char(c) || ++m->label_n > PEM_LABEL_MAX) {
				rc = pem_decide(s, false);
			}
			break;
		default:
			rc = pem_body_byte(s, c, m->pos);
			break;
		}
		m->pos++;
	}
	return rc;
}

/* ---- driving ---- */

/* Offset before which every detector is done. */
static uint64_t frontier(const struct rp_redact_stream *s)
{
	const struct rp_redactor *r = s->r;
	uint64_t f = s->pos;

	if (r->pats_n) {
		uint64_t a = s->cand ? s->cs : s->ac_pos - r->info[s->key / r->stride].hold;

		if (a < f)
			f = a;
	}
	if (r->rs) {
		uint64_t a = s->pos > r->hold ? s->pos - r->hold : 0;

		if (a < f)
			f = a;
		if (s->pem.st == PEM_LABEL && s->pem.pos < f)
			f = s->pem.pos;
		else if (s->pem.st != PEM_IDLE && s->pem.st != PEM_LABEL) {
			a = s->pem.committed ? s->pem.seg : s->pem.body;
			if (a < f)
				f = a;
		}
	}
	return f;
}

/* Make room for n more bytes: drop what nothing needs any more, then grow.
 * Old copies are wiped: the buffer holds secrets. */
static int reserve(struct rp_redact_stream *s, size_t n)
{
	uint64_t keep = s->out;
	unsigned char *nb;
	size_t cap;

	if (s->len + n <= s->cap)
		return RP_OK;
	if (s->r->rs && s->pos > s->r->hold + 2 && s->pos - s->r->hold - 2 < keep)
		keep = s->pos - s->r->hold - 2;
	if (keep > s->base) {
		size_t drop = (size_t)(keep - s->base);

		memmove(s->buf, s->buf + drop, s->len - drop);
		sodium_memzero(s->buf + s->len - drop, drop);
		s->len -= drop;
		s->base = keep;
	}
	if (s->len + n <= s->cap)
		return RP_OK;
	cap = s->cap ? s->cap : 4096;
	while (cap < s->len + n)
		cap *= 2;
	nb = malloc(cap);
	if (!nb)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if (s->len)
		memcpy(nb, s->buf, s->len);
	wipe_free(s->buf, s->cap);
	s->buf = nb;
	s->cap = cap;
	return RP_OK;
}

static int process(struct rp_redact_stream *s, const unsigned char *p, size_t n, bool final)
{
	const struct rp_redactor *r = s->r;
	int rc;

	if (n) {
		rc = reserve(s, n);
		if (rc)
			return rc;
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		s->pos += n;
	}
	if (s->lit) {
		hs_error_t e = HS_SUCCESS;

		if (n)
			e = hs_scan_stream(s->lit, (const char *)p, (unsigned)n, 0, s->sc.hs, on_literal, s);
		/* Resetting reports the end-of-data matches as closing would, and
		 * keeps the stream for stream_reset(). */
		if (e == HS_SUCCESS && final)
			e = hs_reset_stream(s->lit, 0, s->sc.hs, on_literal, s);
		if (e != HS_SUCCESS)
			return hs_fail(s, e);
	}
	if (r->pats_n) {
		rc = ac_scan(s, final);
		if (rc)
			return rc;
	}
	if (r->rs) {
		for (int i = 0; i < RP_RULES_DB_N; i++) {
			hs_error_t e = HS_SUCCESS;

			if (!s->hs[i] || i == RP_RULES_DB_GATED)
				continue;
			s->cb_origin = 0;
			if (n)
				e = hs_scan_stream(s->hs[i], (const char *)p, (unsigned)n, 0, s->sc.hs, on_match, s);
			if (e == HS_SUCCESS && final)
				e = hs_reset_stream(s->hs[i], 0, s->sc.hs, on_match, s);
			if (e != HS_SUCCESS)
				return hs_fail(s, e);
		}
		rc = gated_run(s, final);
		if (!rc)
			rc = digit_scan(s, final);
		if (!rc)
			rc = pem_run(s, final);
		if (!rc)
			rc = confirm_events(s, final);
		if (rc)
			return rc;
	}
	return emit_upto(s, final ? s->pos : frontier(s));
}

int rp_redact_stream_write(struct rp_redact_stream *s, const void *p, size_t n)
{
	const unsigned char *in = p;

	if (s->finished)
		return rp_error_set(RP_E_INTERNAL, NULL, "write after the redaction stream was finished");
	if (s->err || !n)
		return s->err;
	if (rp_redactor_empty(s->r)) {
		s->err = s->sink(s->ctx, p, n);
		return s->err;
	}
	while (n && !s->err) {
		size_t k = n < CHUNK ? n : CHUNK;

		s->err = process(s, in, k, false);
		in += k;
		n -= k;
	}
	return s->err;
}

int rp_redact_stream_finish(struct rp_redact_stream *s)
{
	if (s->finished || s->err)
		return s->err;
	s->finished = true;
	if (!rp_redactor_empty(s->r))
		s->err = process(s, NULL, 0, true);
	return s->err;
}

size_t rp_redact_stream_findings(const struct rp_redact_stream *s,
				 struct rp_redact_finding *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->r->findings_n && n < max; i++)
		if (s->counts[i])
			out[n++] = (struct rp_redact_finding){ finding_id(s->r, (uint32_t)i), s->counts[i] };
	return n;
}

static int buf_sink(void *ctx, const unsigned char *p, size_t n)
{
	return rp_buf_append(ctx, p, n);
}

static uint64_t stream_total(const struct rp_redact_stream *s)
{
	uint64_t total = 0;

	for (size_t i = 0; i < s->r->findings_n; i++)
		total += s->counts[i];
	return total;
}

int rp_redact_buf(const struct rp_redactor *r, const void *in, size_t n,
		  struct rp_buf *out, uint64_t *count)
{
	struct rp_redact_stream *s = NULL;
	int rc;

	if (rp_redactor_empty(r))
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

/* Redact text, seen after prefix and before suffix (context for the rules;
 * both may be empty); only text's part goes to out. s is reset and reused. */
static int redact_in_context(struct rp_redact_stream *s, const char *prefix, size_t plen,
			     const char *text, size_t n, const char *suffix, size_t slen,
			     struct rp_buf *out, uint64_t *count)
{
	int rc = RP_OK;

	stream_reset(s, buf_sink, out);
	s->emit_from = plen;
	s->emit_to = plen + n;
	if (plen)
		rc = rp_redact_stream_write(s, prefix, plen);
	if (!rc)
		rc = rp_redact_stream_write(s, text, n);
	if (!rc && slen)
		rc = rp_redact_stream_write(s, suffix, slen);
	if (!rc)
		rc = rp_redact_stream_finish(s);
	if (!rc && count)
		*count += stream_total(s);
	return rc;
}


int rp_redactor_add_builtin_rules(struct rp_redactor *r)
{
	int rc;

	if (r->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "rules added after compile");
	if (!r->rs && (rc = rp_rules_new(&r->rs)))
		return rc;
	return rp_rules_add_builtin(r->rs);
}

int rp_redactor_add_rules(struct rp_redactor *r, const json_t *rules, const char *origin)
{
	int rc;

	if (r->compiled)
		return rp_error_set(RP_E_INTERNAL, NULL, "rules added after compile");
	if (!r->rs && (rc = rp_rules_new(&r->rs)))
		return rc;
	return rp_rules_add_custom(r->rs, rules, origin);
}

bool rp_redactor_empty(const struct rp_redactor *r)
{
	return !r->pats_n && !r->rs;
}

/* One scratch sized for every rule database, cloned by each stream. */
static int compile_rules(struct rp_redactor *r)
{
	int rc = rp_rules_compile(r->rs);

	for (int i = 0; !rc && i < RP_RULES_DB_N; i++) {
		const hs_database_t *db = (const hs_database_t *)rp_rules_db(r->rs, (enum rp_rules_db)i);

		if (db && hs_alloc_scratch(db, &r->proto) != HS_SUCCESS)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the rule matcher");
	}
	/* Bytes held back: the longest window, the lookahead after an end, and
	 * the byte before a window (for \b and ^). */
	r->hold = rp_rules_window(r->rs) + RP_RULES_LOOKAHEAD + 2;
	if (rp_rules_gated_window(r->rs) + 2 > r->hold)
		r->hold = rp_rules_gated_window(r->rs) + 2;
	return rc;
}

/* The patterns as one Vectorscan literal database (see ac_skip). */
static int compile_literals(struct rp_redactor *r)
{
	const char **ex = calloc(r->pats_n, sizeof(*ex));
	unsigned *flags = calloc(r->pats_n, sizeof(*flags)), *ids = calloc(r->pats_n, sizeof(*ids));
	size_t *lens = calloc(r->pats_n, sizeof(*lens));
	hs_compile_error_t *ce = NULL;
	int rc = RP_OK;

	if (!ex || !flags || !ids || !lens) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < r->pats_n; i++) {
		ex[i] = (const char *)r->pats[i].p;
		lens[i] = r->pats[i].len;
	}
	if (hs_compile_lit_multi(ex, flags, ids, lens, (unsigned)r->pats_n, HS_MODE_STREAM, NULL,
				 &r->lit_db, &ce) != HS_SUCCESS) {
		/* Not fatal: the automaton alone finds every match, only slower. */
		r->lit_db = NULL;
		goto done;
	}
	if (hs_alloc_scratch(r->lit_db, &r->proto) != HS_SUCCESS)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory for the secret matcher");
done:
	hs_free_compile_error(ce);
	free(ex);
	free(flags);
	free(ids);
	free(lens);
	return rc;
}

int rp_redactor_compile(struct rp_redactor *r)
{
	int rc;

	if (r->compiled)
		return RP_OK;
	rc = compile_automaton(r);
	if (!rc && r->pats_n)
		rc = compile_literals(r);
	if (!rc && r->rs)
		rc = compile_rules(r);
	if (!rc && pthread_mutex_init(&r->pool_lock, NULL))
		rc = rp_error_set(RP_E_NOMEM, NULL, "cannot create a lock");
	if (rc)
		return rc;
	r->pool_init = true;
	r->findings_n = r->rules_n + pattern_rules(r) + 1;
	r->compiled = true;
	return RP_OK;
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

/* Redact text into out; *changed tells whether anything was masked. With a
 * key, the text is seen as the value of "key": "text" (its own bytes only
 * are masked), so assignment rules see the name of what they guard. */
static int redact_text_as(struct rp_redact_stream *s, const char *key, size_t key_len,
			  const char *text, size_t n, struct rp_buf *out, uint64_t *count,
			  bool *changed)
{
	struct rp_buf tmp = RP_BUF_INIT, prefix = RP_BUF_INIT;
	uint64_t found = 0;
	int rc;

	rp_buf_reset(out);
	if (key && s->r->rs) {
		rc = rp_buf_puts(&prefix, "\"");
		if (!rc)
			rc = rp_buf_append(&prefix, key, key_len);
		if (!rc)
			rc = rp_buf_puts(&prefix, "\": \"");
		if (!rc)
			rc = redact_in_context(s, (const char *)prefix.data, prefix.len, text, n,
					       "\"", 1, &tmp, &found);
		rp_buf_release(&prefix);
	} else {
		rc = redact_in_context(s, "", 0, text, n, "", 0, &tmp, &found);
	}
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

static int redact_text(struct rp_redact_stream *s, const char *text, size_t n,
		       struct rp_buf *out, uint64_t *count, bool *changed)
{
	return redact_text_as(s, NULL, 0, text, n, out, count, changed);
}

static int redact_node(struct rp_redact_stream *s, json_t *j, struct rp_buf *scratch,
		       uint64_t *count);

/* Rebuilt in order: deleting and re-adding a key would move it to the end. */
static int redact_object(struct rp_redact_stream *s, json_t *obj, struct rp_buf *scratch,
			 uint64_t *count)
{
	json_t *rebuilt = NULL, *value;
	const char *key;
	size_t key_len, masked_len;
	uint64_t probe = 0;
	bool any = false, changed;
	int rc = RP_OK;

	json_object_keylen_foreach(obj, key, key_len, value) {
		if (json_is_string(value)) {
			rc = redact_text_as(s, key, key_len, json_string_value(value),
					    json_string_length(value), scratch, count, &changed);
			if (!rc && changed &&
			    json_string_setn(value, (const char *)scratch->data, scratch->len) < 0)
				rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		} else {
			rc = redact_node(s, value, scratch, count);
		}
		if (!rc)
			rc = redact_text(s, key, key_len, scratch, &probe, &changed);
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
		rc = redact_text(s, key, key_len, scratch, count, &changed);
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

static int redact_node(struct rp_redact_stream *s, json_t *j, struct rp_buf *scratch,
		       uint64_t *count)
{
	json_t *item;
	size_t i;
	bool changed;
	int rc = RP_OK;

	switch (json_typeof(j)) {
	case JSON_STRING:
		rc = redact_text(s, json_string_value(j), json_string_length(j), scratch,
				 count, &changed);
		if (!rc && changed &&
		    json_string_setn(j, (const char *)scratch->data, scratch->len) < 0)
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, item) {
			rc = redact_node(s, item, scratch, count);
			if (rc)
				break;
		}
		break;
	case JSON_OBJECT:
		rc = redact_object(s, j, scratch, count);
		break;
	default:
		break;
	}
	return rc;
}

int rp_redact_json(const struct rp_redactor *r, json_t *doc, uint64_t *count)
{
	struct rp_buf scratch = RP_BUF_INIT;
	struct rp_redact_stream *s = NULL;
	uint64_t found = 0;
	int rc;

	if (rp_redactor_empty(r) || !doc)
		return RP_OK;
	rc = rp_redact_stream_new(&s, r, buf_sink, NULL);
	if (!rc)
		rc = redact_node(s, doc, &scratch, &found);
	if (count)
		*count += found;
	rp_redact_stream_free(s);
	if (scratch.data)
		sodium_memzero(scratch.data, scratch.cap);
	rp_buf_release(&scratch);
	return rc;
}

