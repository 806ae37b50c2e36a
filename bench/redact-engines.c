/*
 * redact-engines: the measurements behind the redaction engine's design
 * (bench/REDACT.md). Built and run by bench/redact.sh:
 *
 *   redact-engines LOG PCRE_SAMPLE_BYTES RULES.json...
 *
 * Each line is one engine over the same log, in MB/s (1 MB = 10^6 bytes):
 *   pcre2-each        every rule's PCRE2-JIT regex, one rule at a time,
 *                     find-all (what a regex-per-rule scanner does);
 *                     on the first PCRE_SAMPLE_BYTES only: it is slow
 *   pcre2-keywords    the same, but a rule runs on a 64 KiB block only when
 *                     one of its keywords occurs in it (gitleaks' prefilter)
 *   hs-all            Vectorscan, every rule in one streaming database
 *   hs-main           runpack's main database: rules with short, weak or no
 *                     keywords, plus the literal keywords of the others
 *   gated regions     the share of the log within a gated rule's window of
 *                     one of its keywords: what the gated database scans
 *   .../4+            the same without the weak-keyword list: every rule
 *                     whose keywords are 4+ bytes long is gated
 *   exact-memmem      40 literals (a secret's encoded forms), memmem each
 *   exact-hs-literal  the same 40 literals, Vectorscan literal mode
 *   exact-runpack     runpack's Aho-Corasick over a real secret's forms
 * Vectorscan runs report matches only (no confirmation): the end-to-end
 * number is bench/redact.sh's `runpack redact` line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rp_buf.h"
#include "rp_redact.h"
#include "rp_rules.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <hs.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64u << 10)

struct rule {
	const char *id, *regex;
	const char *kw[16];
	size_t kw_n;
	pcre2_code *re;
	int gated;
};

static struct rule rules[512];
static size_t rules_n;
static unsigned char *text;
static size_t text_n;
static unsigned long long hits;
static int gate_level = 1; /* rules with gated >= this are gated */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *name, size_t bytes, double secs, const char *note)
{
	printf("%-18s %9.1f MB/s  %s\n", name, (double)bytes / secs / 1e6, note);
	fflush(stdout);
}

/* rp_rules.c's weak_keywords: 4+ bytes, yet common in logs. */
static bool is_weak(const char *kw)
{
	static const char *const weak[] = {
		"test_", "live_", "_pub", "curl", "api-", "pat.", "sat.", "v1.0-", "intra", "linear",
		"ico-", "hvb.", NULL,
	};

	for (size_t i = 0; weak[i]; i++)
		if (!strcmp(kw, weak[i]))
			return true;
	return false;
}

static void load_rules(const char *path)
{
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err), *r;
	size_t i;

	if (!doc) {
		fprintf(stderr, "%s: %s\n", path, err.text);
		exit(2);
	}
	json_array_foreach(json_object_get(doc, "rules"), i, r) {
		struct rule *x = &rules[rules_n++];
		json_t *k;
		size_t j;
		int code;
		PCRE2_SIZE off;

		x->id = strdup(json_string_value(json_object_get(r, "id")));
		x->regex = strdup(json_string_value(json_object_get(r, "regex")));
		x->gated = json_array_size(json_object_get(r, "keywords")) > 0 ? 2 : 0;
		json_array_foreach(json_object_get(r, "keywords"), j, k) {
			if (x->kw_n < 16)
				x->kw[x->kw_n++] = strdup(json_string_value(k));
			if (strlen(json_string_value(k)) < 4)
				x->gated = 0;
			else if (x->gated && is_weak(json_string_value(k)))
				x->gated = 1; /* gated only without runpack's weak-keyword list */
		}
		if (json_object_get(r, "check"))
			x->gated = -1; /* digit runs, not in a database */
		x->re = pcre2_compile((PCRE2_SPTR)x->regex, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
		if (x->re)
			pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE);
	}
	/* The rule strings are copied; the document can go. */
	json_decref(doc);
}

static void pcre_find_all(const struct rule *x, pcre2_match_data *md, const unsigned char *p,
			  size_t n)
{
	PCRE2_SIZE start = 0;

	while (start <= n) {
		int rc = pcre2_match(x->re, p, n, start, 0, md, NULL);
		PCRE2_SIZE *ov;

		if (rc < 0)
			break;
		hits++;
		ov = pcre2_get_ovector_pointer(md);
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
}

static bool has_keyword(const struct rule *x, const unsigned char *p, size_t n)
{
	if (!x->kw_n)
		return true;
	for (size_t k = 0; k < x->kw_n; k++) {
		size_t len = strlen(x->kw[k]);

		for (size_t i = 0; i + len <= n; i++)
			if (tolower(p[i]) == x->kw[k][0] && !strncasecmp((const char *)p + i, x->kw[k], len))
				return true;
	}
	return false;
}

static void bench_pcre(size_t sample, bool keywords)
{
	pcre2_match_data *md = pcre2_match_data_create(64, NULL);
	double t0 = now();

	for (size_t off = 0; off < sample; off += BLOCK) {
		size_t n = sample - off < BLOCK ? sample - off : BLOCK;

		for (size_t i = 0; i < rules_n; i++) {
			if (!rules[i].re || (keywords && !has_keyword(&rules[i], text + off, n)))
				continue;
			pcre_find_all(&rules[i], md, text + off, n);
		}
	}
	report(keywords ? "pcre2-keywords" : "pcre2-each", sample, now() - t0,
	       keywords ? "every rule, PCRE2-JIT, only on 64 KiB blocks holding a keyword"
			: "every rule, PCRE2-JIT, one rule at a time");
	pcre2_match_data_free(md);
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
		  void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)fl;
	(void)ctx;
	hits++;
	return 0;
}

static hs_database_t *compile(const char **ex, unsigned *flags, unsigned *ids, size_t n,
			      unsigned mode)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	if (hs_compile_multi(ex, flags, ids, (unsigned)n, mode, NULL, &db, &ce) != HS_SUCCESS) {
		fprintf(stderr, "vectorscan: %s\n", ce->message);
		exit(2);
	}
	return db;
}

static void scan_stream(hs_database_t *db, const unsigned char *p, size_t n)
{
	hs_scratch_t *sc = NULL;
	hs_stream_t *st = NULL;

	hs_alloc_scratch(db, &sc);
	hs_open_stream(db, 0, &st);
	for (size_t off = 0; off < n; off += BLOCK)
		hs_scan_stream(st, (const char *)p + off, (unsigned)(n - off < BLOCK ? n - off : BLOCK), 0,
			       sc, on_hit, NULL);
	hs_close_stream(st, sc, on_hit, NULL);
	hs_free_scratch(sc);
}

static char *hex_lit(const char *s)
{
	char *out = malloc(4 * strlen(s) + 1), *o = out;

	for (; *s; s++)
		o += sprintf(o, "\\x%02x", (unsigned char)*s);
	*o = '\0';
	return out;
}

/* A rule's search window: its maximum match length, capped at 4096. */
static unsigned window_of(const char *regex)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *ce = NULL;
	unsigned w = 4096;

	if (hs_expression_info(regex, 0, &info, &ce) == HS_SUCCESS) {
		if (info->max_width < w)
			w = info->max_width;
		free(info);
	} else {
		hs_free_compile_error(ce);
	}
	return w;
}

struct region_ctx {
	uint64_t start, end;
	const unsigned *win;  /* by keyword id */
	hs_database_t *gated;
	hs_scratch_t *sc;
	size_t covered;
};

static void flush_region(struct region_ctx *c)
{
	if (c->end > c->start) {
		hs_scan(c->gated, (const char *)text + c->start, (unsigned)(c->end - c->start), 0, c->sc,
			on_hit, NULL);
		c->covered += (size_t)(c->end - c->start);
	}
	c->start = c->end = 0;
}

static int on_keyword(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
		      void *ctx)
{
	struct region_ctx *c = ctx;
	uint64_t w = c->win[id], a = to > w ? to - w : 0, b = to + w < text_n ? to + w : text_n;

	(void)from;
	(void)fl;
	if (a <= c->end) {
		if (b > c->end)
			c->end = b;
		return 0;
	}
	flush_region(c);
	c->start = a;
	c->end = b;
	return 0;
}

/* runpack's gating: each keyword hit opens [hit - w, hit + w), w the
 * longest window of the rules with that keyword; merged regions go through
 * the gated rules (block mode here, streaming in runpack). */
static void gated_regions(hs_database_t *gated)
{
	static const char *kx[2048];
	static unsigned kf[2048], ki[2048], win[2048];
	size_t kn = 0;
	hs_database_t *kdb;
	hs_scratch_t *ksc = NULL;
	struct region_ctx c = { .win = win, .gated = gated };

	for (size_t i = 0; i < rules_n; i++) {
		unsigned w = rules[i].gated >= gate_level ? window_of(rules[i].regex) + 64 : 0;

		for (size_t k = 0; rules[i].gated >= gate_level && k < rules[i].kw_n; k++) {
			kx[kn] = hex_lit(rules[i].kw[k]);
			kf[kn] = HS_FLAG_CASELESS;
			win[kn] = w;
			ki[kn] = (unsigned)kn;
			kn++;
		}
	}
	kdb = compile(kx, kf, ki, kn, HS_MODE_BLOCK);
	hs_alloc_scratch(kdb, &ksc);
	hs_alloc_scratch(gated, &c.sc);
	hs_scan(kdb, (const char *)text, (unsigned)text_n, 0, ksc, on_keyword, &c);
	flush_region(&c);
	printf("%-18s %9.1f %%      of the bytes went through the gated rules\n", "  gated regions",
	       100.0 * (double)c.covered / (double)text_n);
	for (size_t i = 0; i < kn; i++)
		free((void *)(uintptr_t)kx[i]);
	hs_free_scratch(ksc);
	hs_free_scratch(c.sc);
	hs_free_database(kdb);
}

static void bench_hs_all(void)
{
	const char *ex[2048];
	unsigned flags[2048], ids[2048];
	size_t n = 0;
	hs_database_t *all;
	double t0;

	for (size_t i = 0; i < rules_n; i++) {
		ex[n] = rules[i].regex;
		flags[n] = 0;
		ids[n++] = (unsigned)i;
	}
	all = compile(ex, flags, ids, n, HS_MODE_STREAM);
	t0 = now();
	scan_stream(all, text, text_n);
	report("hs-all", text_n, now() - t0, "Vectorscan, every rule in one streaming database");
	hs_free_database(all);
}

/* The main database when the rules whose level reaches gate_level are gated
 * (1: all their keywords are 4+ bytes; 2: and none of them is weak), and the
 * share of the log their keyword regions cover. */
static void bench_hs_split(const char *label)
{
	static const char *ex[2048];
	static unsigned flags[2048], ids[2048];
	size_t n = 0, g = 0;
	hs_database_t *main_db, *gated;
	char name[32];
	double t0;

	for (size_t i = 0; i < rules_n; i++) {
		if (rules[i].gated < 0)
			continue;
		if (rules[i].gated < gate_level) {
			ex[n] = rules[i].regex;
			flags[n] = 0;
			ids[n++] = (unsigned)i;
			continue;
		}
		for (size_t k = 0; k < rules[i].kw_n; k++) {
			ex[n] = hex_lit(rules[i].kw[k]);
			flags[n] = HS_FLAG_CASELESS;
			ids[n++] = 100000u + (unsigned)i;
		}
	}
	main_db = compile(ex, flags, ids, n, HS_MODE_STREAM);
	t0 = now();
	scan_stream(main_db, text, text_n);
	snprintf(name, sizeof(name), "hs-main%s", label);
	report(name, text_n, now() - t0,
	       "ungated rules + the gated rules' keywords as literals, one streaming pass");
	for (size_t i = 0; i < rules_n; i++) {
		if (rules[i].gated >= gate_level) {
			ex[g] = rules[i].regex;
			flags[g] = 0;
			ids[g++] = (unsigned)i;
		}
	}
	gated = compile(ex, flags, ids, g, HS_MODE_BLOCK);
	gated_regions(gated);
	hs_free_database(main_db);
	hs_free_database(gated);
}

static int count_sink(void *ctx, const unsigned char *p, size_t n)
{
	(void)p;
	*(size_t *)ctx += n;
	return 0;
}

static void bench_exact(void)
{
	char lits[40][25];
	const char *ex[40];
	unsigned flags[40], ids[40];
	size_t lens[40];
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	struct rp_redactor *r = NULL;
	struct rp_redact_stream *s = NULL;
	const char *secret = "Xq7-secret-value-0a9b8c7d6e5f";
	size_t out = 0;
	double t0;

	for (int i = 0; i < 40; i++) {
		for (int j = 0; j < 24; j++)
			lits[i][j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + j * 13 + i * j) % 64];
		lits[i][24] = '\0';
		ex[i] = lits[i];
		lens[i] = 24;
		flags[i] = 0;
		ids[i] = (unsigned)i;
	}
	t0 = now();
	for (int i = 0; i < 40; i++)
		for (const unsigned char *p = text; (p = memmem(p, text_n - (size_t)(p - text), lits[i], 24)); p++)
			hits++;
	report("exact-memmem", text_n, now() - t0, "40 literals of 24 bytes, a memmem loop each");
	if (hs_compile_lit_multi(ex, flags, ids, lens, 40, HS_MODE_STREAM, NULL, &db, &ce) == HS_SUCCESS) {
		t0 = now();
		scan_stream(db, text, text_n);
		report("exact-hs-literal", text_n, now() - t0, "the same 40 literals, Vectorscan literal mode");
		hs_free_database(db);
	}
	rp_redactor_new(&r);
	rp_redactor_add_secret(r, "S", (const unsigned char *)secret, strlen(secret));
	rp_redactor_compile(r);
	rp_redact_stream_new(&s, r, count_sink, &out);
	t0 = now();
	for (size_t off = 0; off < text_n; off += BLOCK)
		rp_redact_stream_write(s, text + off, text_n - off < BLOCK ? text_n - off : BLOCK);
	rp_redact_stream_finish(s);
	report("exact-runpack", text_n, now() - t0,
	       "runpack's Aho-Corasick, one secret in all its encodings, through the stream");
	rp_redact_stream_free(s);
	rp_redactor_free(r);
}

int main(int argc, char **argv)
{
	struct rp_buf b = RP_BUF_INIT;
	unsigned char chunk[1 << 16];
	ssize_t n;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: redact-engines LOG PCRE_SAMPLE_BYTES RULES.json...\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		rp_buf_append(&b, chunk, (size_t)n);
	if (fd < 0 || !b.len) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 2;
	}
	close(fd);
	text = b.data;
	text_n = b.len;
	for (int i = 3; i < argc; i++)
		load_rules(argv[i]);
	printf("%zu rules, %.1f MB of log\n", rules_n, (double)text_n / 1e6);
	bench_pcre(strtoull(argv[2], NULL, 10) < text_n ? strtoull(argv[2], NULL, 10) : text_n, false);
	bench_pcre(text_n < (size_t)20e6 ? text_n : (size_t)20e6, true);
	bench_hs_all();
	gate_level = 1;
	bench_hs_split("/4+");
	gate_level = 2;
	bench_hs_split("");
	bench_exact();
	fprintf(stderr, "(%llu matches seen)\n", hits);
	rp_buf_release(&b);
	return 0;
}
