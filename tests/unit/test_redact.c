#include "harness.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_redact.h"
#include "rp_secrets.h"
#include "rp_util.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#define SECRET "s3cr3t/\"tok\"+en value\tx\xc3\xbc"
/* SECRET as it appears inside a JSON string literal. */
#define SECRET_JSON "s3cr3t/\\\"tok\\\"+en value\\tx\xc3\xbc"
#define MARK "[REDACTED:secret:API_TOKEN]"

static struct rp_redactor *new_redactor(const char *const *names, const char *const *values,
					size_t n)
{
	struct rp_redactor *r = NULL;

	CHECK_INT(rp_redactor_new(&r), RP_OK);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(rp_redactor_add_secret(r, names[i], (const unsigned char *)values[i],
						 strlen(values[i])), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	return r;
}

static struct rp_redactor *token_redactor(void)
{
	static const char *const names[] = { "API_TOKEN" };
	static const char *const values[] = { SECRET };

	return new_redactor(names, values, 1);
}

static void append(struct rp_buf *b, const char *s)
{
	CHECK_INT(rp_buf_puts(b, s), RP_OK);
}

/* The encoders below are written independently of the redactor (sodium,
 * jansson, a plain loop), so the test does not check the code against itself. */
static void add_base64(struct rp_buf *forms, const char *prefix, int variant)
{
	char in[256], out[512];
	size_t n = (size_t)snprintf(in, sizeof(in), "%s%s", prefix, SECRET);

	sodium_bin2base64(out, sizeof(out), (const unsigned char *)in, n, variant);
	append(forms, out);
	append(forms, "\n");
}

static void add_percent(struct rp_buf *forms, const char *hex, bool plus)
{
	for (const unsigned char *p = (const unsigned char *)SECRET; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			CHECK_INT(rp_buf_append(forms, p, 1), RP_OK);
		} else if (*p == ' ' && plus) {
			append(forms, "+");
		} else {
			CHECK_INT(rp_buf_printf(forms, "%%%c%c", hex[*p >> 4], hex[*p & 15]), RP_OK);
		}
	}
	append(forms, "\n");
}

static void add_json(struct rp_buf *forms, size_t flags)
{
	json_t *s = json_string(SECRET);
	char *text = json_dumps(s, JSON_ENCODE_ANY | flags);

	CHECK(text);
	append(forms, text);
	append(forms, "\n");
	free(text);
	json_decref(s);
}

/* One line per encoded form of SECRET. */
static void all_forms(struct rp_buf *forms)
{
	static const char *const prefixes[] = { "", "a", "ab", "\xff", "\x01\x02" };

	append(forms, SECRET "\n");
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		add_base64(forms, prefixes[i], sodium_base64_VARIANT_ORIGINAL);
		add_base64(forms, prefixes[i], sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	}
	add_percent(forms, "0123456789ABCDEF", false);
	add_percent(forms, "0123456789abcdef", false);
	add_percent(forms, "0123456789ABCDEF", true);
	add_json(forms, 0);
	add_json(forms, JSON_ESCAPE_SLASH);
	add_json(forms, JSON_ENSURE_ASCII);
	add_json(forms, JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH);
}

/*
 * No form may survive: at most 3 leading characters (those mixed with a
 * prefix) and 3 trailing ones (mixed with what follows, or padding) of an
 * encoding can legitimately remain, so the middle must be gone.
 */
static void check_no_form(const struct rp_buf *out, const struct rp_buf *forms)
{
	const char *line = (const char *)forms->data;

	while (*line) {
		size_t len = strcspn(line, "\n");
		char mid[512];

		CHECK(len > 10 && len - 8 < sizeof(mid));
		memcpy(mid, line + 4, len - 8);
		mid[len - 8] = '\0';
		if (memmem(out->data, out->len, mid, len - 8)) {
			snprintf(harness_why, sizeof(harness_why), "form leaked: %.200s", mid);
			longjmp(harness_jmp, 1);
		}
		line += len + (line[len] == '\n');
	}
}

static size_t count_marks(const struct rp_buf *out, const char *mark)
{
	size_t n = 0;

	for (const char *p = (const char *)out->data; (p = strstr(p, mark)); p += strlen(mark))
		n++;
	return n;
}

static void test_every_form_masked(void)
{
	struct rp_redactor *r = token_redactor();
	struct rp_buf forms = RP_BUF_INIT, out = RP_BUF_INIT;
	uint64_t count = 0;
	size_t lines = 0;

	all_forms(&forms);
	for (size_t i = 0; i < forms.len; i++)
		lines += forms.data[i] == '\n';
	CHECK_INT(rp_redact_buf(r, forms.data, forms.len, &out, &count), RP_OK);
	check_no_form(&out, &forms);
	CHECK_INT(count, lines);
	CHECK_INT(count_marks(&out, MARK), lines);
	rp_buf_release(&forms);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_hex_forms_masked(void)
{
	struct rp_redactor *r = token_redactor();
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)SECRET; *p; p++)
		CHECK_INT(rp_buf_printf(&in, "%02x", *p), RP_OK);
	append(&in, " ");
	for (const unsigned char *p = (const unsigned char *)SECRET; *p; p++)
		CHECK_INT(rp_buf_printf(&in, "%02X", *p), RP_OK);
	CHECK_INT(rp_redact_buf(r, in.data, in.len, &out, NULL), RP_OK);
	CHECK_STR((const char *)out.data, MARK " " MARK);
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static int collect(void *ctx, const unsigned char *p, size_t n)
{
	return rp_buf_append(ctx, p, n);
}

/* Feed text through a stream in pieces given by next_piece. */
static void stream_through(const struct rp_redactor *r, const struct rp_buf *in,
			   size_t (*next_piece)(size_t left), struct rp_buf *out)
{
	struct rp_redact_stream *s = NULL;

	CHECK_INT(rp_redact_stream_new(&s, r, collect, out), RP_OK);
	for (size_t off = 0; off < in->len;) {
		size_t k = next_piece(in->len - off);

		CHECK_INT(rp_redact_stream_write(s, in->data + off, k), RP_OK);
		off += k;
	}
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	rp_redact_stream_free(s);
}

static size_t one_byte(size_t left)
{
	(void)left;
	return 1;
}

static size_t random_piece(size_t left)
{
	size_t k = (size_t)(rand() % 3 == 0 ? rand() % 4 + 1 : rand() % 200 + 1);

	return k < left ? k : left;
}

static void noisy_text(struct rp_buf *text, const struct rp_buf *forms)
{
	srand(7);
	for (int round = 0; round < 20; round++) {
		for (int i = rand() % 50; i > 0; i--)
			CHECK_INT(rp_buf_printf(text, "%c", "s3cr ab+/%\"\\=x\n"[rand() % 15]), RP_OK);
		/* Prefixes of the secret that stop short must pass through. */
		CHECK_INT(rp_buf_append(text, SECRET, (size_t)(rand() % 10)), RP_OK);
		CHECK_INT(rp_buf_append(text, forms->data, forms->len), RP_OK);
	}
}

static void test_splits_identical(void)
{
	struct rp_redactor *r = token_redactor();
	struct rp_buf forms = RP_BUF_INIT, text = RP_BUF_INIT, whole = RP_BUF_INIT;
	struct rp_buf pieces = RP_BUF_INIT;

	all_forms(&forms);
	noisy_text(&text, &forms);
	CHECK_INT(rp_redact_buf(r, text.data, text.len, &whole, NULL), RP_OK);
	check_no_form(&whole, &forms);

	stream_through(r, &text, one_byte, &pieces);
	CHECK_INT(pieces.len, whole.len);
	CHECK(memcmp(pieces.data, whole.data, whole.len) == 0);
	for (unsigned seed = 1; seed <= 200; seed++) {
		rp_buf_reset(&pieces);
		srand(seed);
		stream_through(r, &text, random_piece, &pieces);
		CHECK_INT(pieces.len, whole.len);
		CHECK(memcmp(pieces.data, whole.data, whole.len) == 0);
	}
	rp_buf_release(&forms);
	rp_buf_release(&text);
	rp_buf_release(&whole);
	rp_buf_release(&pieces);
	rp_redactor_free(r);
}

static size_t read_64k(size_t left)
{
	return left < 65536 ? left : 65536;
}

static void test_straddles_64k_reads(void)
{
	struct rp_redactor *r = token_redactor();
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;
	size_t at = 65536 - 7;

	CHECK_INT(rp_buf_reserve(&in, 3 * 65536), RP_OK);
	memset(in.data, 'a', 3 * 65536);
	in.len = 3 * 65536;
	memcpy(in.data + at, SECRET, strlen(SECRET));
	stream_through(r, &in, read_64k, &out);
	CHECK_INT(out.len, in.len - strlen(SECRET) + strlen(MARK));
	CHECK(memcmp(out.data + at, MARK, strlen(MARK)) == 0);
	CHECK(!memmem(out.data, out.len, "s3cr3t", 6));
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void redact_str(const struct rp_redactor *r, const char *in, struct rp_buf *out)
{
	rp_buf_reset(out);
	CHECK_INT(rp_redact_buf(r, in, strlen(in), out, NULL), RP_OK);
}

static void test_leftmost_longest(void)
{
	static const char *const names[] = { "SHORT", "LONG", "LEFT", "RIGHT" };
	static const char *const values[] = { "password123", "password123456",
					      "zzzz1234abcd", "1234abcdXYZW" };
	struct rp_redactor *r = new_redactor(names, values, 4);
	struct rp_buf out = RP_BUF_INIT;

	/* Same start: the longer secret wins. */
	redact_str(r, "<password123456>", &out);
	CHECK_STR((const char *)out.data, "<[REDACTED:secret:LONG]>");
	redact_str(r, "<password12345>", &out);
	CHECK_STR((const char *)out.data, "<[REDACTED:secret:SHORT]45>");
	/* Overlapping: the leftmost wins, the scan resumes after it. */
	redact_str(r, "-zzzz1234abcdXYZW-", &out);
	CHECK_STR((const char *)out.data, "-[REDACTED:secret:LEFT]XYZW-");
	redact_str(r, "-zzz1234abcdXYZW-", &out);
	CHECK_STR((const char *)out.data, "-zzz[REDACTED:secret:RIGHT]-");
	/* Back to back. */
	redact_str(r, "zzzz1234abcd1234abcdXYZW", &out);
	CHECK_STR((const char *)out.data, "[REDACTED:secret:LEFT][REDACTED:secret:RIGHT]");
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_overlapping_secrets(void)
{
	static const char *const names[] = { "OUTER", "INNER" };
	static const char *const values[] = { "abcdefghijklmnop", "efghijkl" };
	struct rp_redactor *r = new_redactor(names, values, 2);
	struct rp_buf out = RP_BUF_INIT;

	redact_str(r, "abcdefghijklmnop efghijkl abcdefghijklmno", &out);
	CHECK_STR((const char *)out.data,
		  "[REDACTED:secret:OUTER] [REDACTED:secret:INNER] abcd[REDACTED:secret:INNER]mno");
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_findings(void)
{
	static const char *const names[] = { "ONE", "TWO", "NEVER" };
	static const char *const values[] = { "first-secret-1", "second-secret-2",
					      "absent-secret-3" };
	struct rp_redactor *r = new_redactor(names, values, 3);
	struct rp_buf out = RP_BUF_INIT;
	struct rp_redact_stream *s = NULL;
	struct rp_redact_finding f[4];
	const char *text = "first-secret-1 Zmlyc3Qtc2VjcmV0LTE= second-secret-2 "
			   "66697273742d7365637265742d31 first-secret-1";

	CHECK_INT(rp_redact_stream_new(&s, r, collect, &out), RP_OK);
	CHECK_INT(rp_redact_stream_write(s, text, strlen(text)), RP_OK);
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	CHECK_INT(rp_redact_stream_findings(s, f, 4), 2);
	CHECK_STR(f[0].rule, "secret:ONE");
	CHECK_INT(f[0].count, 4);
	CHECK_STR(f[1].rule, "secret:TWO");
	CHECK_INT(f[1].count, 1);
	CHECK_INT(rp_redact_stream_findings(s, f, 1), 1);
	CHECK_STR(f[0].rule, "secret:ONE");
	rp_redact_stream_free(s);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_empty_passthrough(void)
{
	struct rp_redactor *r = new_redactor(NULL, NULL, 0);
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;
	struct rp_redact_finding f[1];
	struct rp_redact_stream *s = NULL;
	uint64_t count = 0;

	for (int i = 0; i < 1000; i++)
		CHECK_INT(rp_buf_printf(&in, "%c", (char)(i * 7)), RP_OK);
	CHECK_INT(rp_redact_buf(r, in.data, in.len, &out, &count), RP_OK);
	CHECK_INT(out.len, in.len);
	CHECK(memcmp(out.data, in.data, in.len) == 0);
	CHECK_INT(count, 0);
	rp_buf_reset(&out);
	CHECK_INT(rp_redact_stream_new(&s, r, collect, &out), RP_OK);
	CHECK_INT(rp_redact_stream_write(s, in.data, 10), RP_OK);
	/* Nothing is held back: the bytes are out before finish. */
	CHECK_INT(out.len, 10);
	CHECK_INT(rp_redact_stream_write(s, in.data + 10, in.len - 10), RP_OK);
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	CHECK_INT(rp_redact_stream_findings(s, f, 1), 0);
	CHECK(memcmp(out.data, in.data, in.len) == 0);
	rp_redact_stream_free(s);
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_hold_back_bounded(void)
{
	static const char *const names[] = { "T" };
	static const char *const values[] = { "abcdefghij" };
	struct rp_redactor *r = new_redactor(names, values, 1);
	struct rp_buf out = RP_BUF_INIT;
	struct rp_redact_stream *s = NULL;

	CHECK_INT(rp_redact_stream_new(&s, r, collect, &out), RP_OK);
	CHECK_INT(rp_redact_stream_write(s, "xyz abcdefghi", 13), RP_OK);
	/* "abcdefghi" may still become the secret: only "xyz " is out. */
	CHECK_INT(out.len, 4);
	CHECK_INT(rp_redact_stream_write(s, "!", 1), RP_OK);
	CHECK_STR((const char *)out.data, "xyz abcdefghi!");
	CHECK_INT(rp_redact_stream_write(s, "abcdefghij", 10), RP_OK);
	CHECK_STR((const char *)out.data, "xyz abcdefghi![REDACTED:secret:T]");
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	CHECK(rp_redact_stream_write(s, "x", 1) < 0);
	rp_redact_stream_free(s);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_json(void)
{
	struct rp_redactor *r = token_redactor();
	json_error_t err;
	json_t *doc = json_loads("{\"first\": 1, \"key " SECRET_JSON "\": \"v " SECRET_JSON "\","
				 " \"arr\": [\"" SECRET_JSON "\", 2, {\"x\": \"czNjcjN0LyJ0b2siK2VuIHZhbHVlCXjDvA==\"}],"
				 " \"last\": \"plain\"}", 0, &err);
	char *text;
	uint64_t count = 0;

	CHECK(doc);
	CHECK_INT(rp_redact_json(r, doc, &count), RP_OK);
	CHECK_INT(count, 4);
	text = json_dumps(doc, JSON_COMPACT);
	CHECK_STR(text, "{\"first\":1,\"key " MARK "\":\"v " MARK "\",\"arr\":[\"" MARK
		  "\",2,{\"x\":\"" MARK "A==\"}],\"last\":\"plain\"}");
	free(text);
	json_decref(doc);
	rp_redactor_free(r);
}

/*
 * rp_redact_json reuses one stream for all of a document's strings: nothing
 * may carry over from one string to the next. Each string must come out as
 * it does from a fresh rp_redact_buf, including halves of a secret in two
 * neighbouring strings (which must stay unmasked) and rule matches.
 */
static void test_json_strings_independent(void)
{
	static const char *const names[] = { "API_TOKEN" };
	static const char *const values[] = { SECRET };
	static const char *const pieces[] = {
		"s3cr3t/\"tok\"+en", " value\tx\xc3\xbc", SECRET, "plain text",
		"AKIAIOSFODNN7EXAMPLQ", "before " SECRET " after", "-----BEGIN RSA PRIVATE",
		"ghp_0123456789abcdefghijABCDEFGHIJ012345", "s3cr3t/", "\"tok\"+en value\tx\xc3\xbc",
	};
	struct rp_redactor *r = NULL;
	struct rp_buf want = RP_BUF_INIT;
	uint64_t count = 0, want_count = 0;
	json_t *doc = json_array();
	size_t i, n = sizeof(pieces) / sizeof(pieces[0]);

	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, names[0], (const unsigned char *)values[0],
					 strlen(values[0])), RP_OK);
	CHECK_INT(rp_redactor_add_builtin_rules(r), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	for (i = 0; i < 3 * n; i++)
		CHECK(json_array_append_new(doc, json_string(pieces[i % n])) == 0);
	CHECK_INT(rp_redact_json(r, doc, &count), RP_OK);
	for (i = 0; i < 3 * n; i++) {
		rp_buf_reset(&want);
		CHECK_INT(rp_redact_buf(r, pieces[i % n], strlen(pieces[i % n]), &want,
					&want_count), RP_OK);
		CHECK_STR(json_string_value(json_array_get(doc, i)), (const char *)want.data);
	}
	CHECK_INT(count, want_count);
	CHECK(count >= 3 * 4);
	CHECK_STR(json_string_value(json_array_get(doc, 0)), pieces[0]);
	CHECK_STR(json_string_value(json_array_get(doc, 1)), pieces[1]);
	rp_buf_release(&want);
	json_decref(doc);
	rp_redactor_free(r);
}

static void test_json_colliding_keys(void)
{
	struct rp_redactor *r = token_redactor();
	/* The raw value and its base64 (without the last, padding-bound char). */
	json_t *doc = json_pack("{s:i, s:i}", SECRET, 1, "czNjcjN0LyJ0b2siK2VuIHZhbHVlCXjDv", 2);
	char *text;

	CHECK(doc);
	CHECK_INT(rp_redact_json(r, doc, NULL), RP_OK);
	text = json_dumps(doc, JSON_COMPACT);
	CHECK_STR(text, "{\"" MARK "\":1,\"" MARK "#2\":2}");
	free(text);
	json_decref(doc);
	rp_redactor_free(r);
}

/* Large enough that most states are sparse (the dense-row budget is spent). */
static void test_long_secret(void)
{
	static const char *const names[] = { "BIG" };
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT, pieces = RP_BUF_INIT;
	unsigned char value[16384], prefixed[sizeof(value) + 2];
	char b64[sizeof(value) * 2];
	const char *vals[1];
	struct rp_redactor *r;
	const char *tail;

	randombytes_buf(value, sizeof(value));
	/* No NUL (C string) and no line break (which would split the marker). */
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = value[i] && value[i] != '\n' ? value[i] : 1;
	value[sizeof(value) - 1] = '\0';
	vals[0] = (const char *)value;
	r = new_redactor(names, vals, 1);
	memcpy(prefixed, "ab", 2);
	memcpy(prefixed + 2, value, sizeof(value));
	sodium_bin2base64(b64, sizeof(b64), prefixed, sizeof(prefixed) - 1,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	/* A long near-miss (a prefix of the value), the value, its base64. */
	append(&in, "<");
	CHECK_INT(rp_buf_append(&in, value, 5000), RP_OK);
	append(&in, "|");
	append(&in, (const char *)value);
	append(&in, "|");
	append(&in, b64);
	append(&in, ">");
	CHECK_INT(rp_redact_buf(r, in.data, in.len, &out, NULL), RP_OK);
	CHECK(memcmp(out.data, in.data, 5002) == 0);
	tail = (const char *)out.data + 5002;
	CHECK(strncmp(tail, "[REDACTED:secret:BIG]|", 22) == 0);
	CHECK(strncmp(tail + 22, b64, 3) == 0);
	CHECK(strncmp(tail + 25, "[REDACTED:secret:BIG]", 21) == 0);
	CHECK(strlen(tail + 46) <= 4);
	for (unsigned seed = 1; seed <= 5; seed++) {
		rp_buf_reset(&pieces);
		srand(seed);
		stream_through(r, &in, random_piece, &pieces);
		CHECK_INT(pieces.len, out.len);
		CHECK(memcmp(pieces.data, out.data, out.len) == 0);
	}
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_buf_release(&pieces);
	rp_redactor_free(r);
}

/* Every byte value occurs in a pattern: no byte class is left for "other". */
static void test_all_byte_values(void)
{
	struct rp_redactor *r = NULL;
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;
	unsigned char value[256];

	for (int i = 0; i < 256; i++)
		value[i] = (unsigned char)(255 - i);
	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, "ALL", value, sizeof(value)), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	append(&in, "x");
	CHECK_INT(rp_buf_append(&in, value, sizeof(value)), RP_OK);
	CHECK_INT(rp_buf_append(&in, value, 100), RP_OK);
	append(&in, "y");
	CHECK_INT(rp_redact_buf(r, in.data, in.len, &out, NULL), RP_OK);
	/* The line break inside the value is kept, with a marker on each side. */
	CHECK_INT(out.len, 1 + 2 * strlen("[REDACTED:secret:ALL]") + 1 + 100 + 1);
	CHECK(memcmp(out.data, "x[REDACTED:secret:ALL]\n[REDACTED:secret:ALL]", 44) == 0);
	CHECK(memcmp(out.data + 44, value, 100) == 0);
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static void test_too_short_refused(void)
{
	struct rp_redactor *r = NULL;
	const struct rp_error *e;

	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK(rp_redactor_add_secret(r, "SHORTY", (const unsigned char *)"hunter2", 7) < 0);
	e = rp_error_last();
	CHECK_STR(e->id, "secret_too_short");
	CHECK(strstr(e->msg, "SHORTY"));
	CHECK(!strstr(e->msg, "hunter2"));
	CHECK_INT(rp_redactor_add_secret(r, "EIGHT", (const unsigned char *)"hunter22", 8), RP_OK);
	rp_redactor_free(r);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f);
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static void test_secrets_resolve(void)
{
	static char env_name[] = "FROM_ENV", file_name[] = "FROM_FILE", missing[] = "MISSING";
	static char env_var[] = "RP_TEST_SECRET_VALUE", unset_var[] = "RP_TEST_SECRET_UNSET";
	static char no_file[] = "/nonexistent/secret";
	char *file = rp_path_join(harness_tmpdir(), "token"), *nul = rp_path_join(harness_tmpdir(), "nul");
	struct rp_secret_ref refs[3] = {
		{ env_name, RP_SECRET_ENV, env_var },
		{ file_name, RP_SECRET_FILE, file },
		{ missing, RP_SECRET_ENV, unset_var },
	};
	struct rp_manifest m = { 0 };
	struct rp_secrets sec = { 0 };
	const struct rp_error *e;

	CHECK(file && nul);
	setenv("RP_TEST_SECRET_VALUE", "env-value-123", 1);
	unsetenv("RP_TEST_SECRET_UNSET");
	write_file(file, "file-value-456\n\n", 16);
	m.secrets = refs;
	m.secrets_n = 2;
	CHECK_INT(rp_secrets_resolve(&sec, &m), RP_OK);
	CHECK_INT(sec.n, 2);
	CHECK_STR(sec.v[0].name, "FROM_ENV");
	CHECK_STR((const char *)sec.v[0].value, "env-value-123");
	CHECK_INT(sec.v[0].len, 13);
	/* Exactly one trailing newline is stripped. */
	CHECK_STR((const char *)sec.v[1].value, "file-value-456\n");
	rp_secrets_free(&sec);
	CHECK(sec.v == NULL && sec.n == 0);

	m.secrets_n = 3;
	CHECK(rp_secrets_resolve(&sec, &m) < 0);
	CHECK(sec.v == NULL && sec.n == 0);
	e = rp_error_last();
	CHECK_STR(e->id, "secret_unresolved");
	CHECK(strstr(e->msg, "MISSING") && strstr(e->msg, "RP_TEST_SECRET_UNSET"));

	write_file(nul, "abc\0defghij", 11);
	refs[1].ref = nul;
	m.secrets_n = 2;
	CHECK(rp_secrets_resolve(&sec, &m) < 0);
	e = rp_error_last();
	CHECK_STR(e->id, "secret_invalid");
	CHECK(strstr(e->msg, "FROM_FILE") && strstr(e->msg, nul) && !strstr(e->msg, "abc"));

	refs[1].ref = no_file;
	CHECK(rp_secrets_resolve(&sec, &m) < 0);
	CHECK_STR(rp_error_last()->id, "secret_unresolved");
	unsetenv("RP_TEST_SECRET_VALUE");
	free(file);
	free(nul);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_every_form_masked);
	RUN(test_hex_forms_masked);
	RUN(test_splits_identical);
	RUN(test_straddles_64k_reads);
	RUN(test_leftmost_longest);
	RUN(test_overlapping_secrets);
	RUN(test_findings);
	RUN(test_empty_passthrough);
	RUN(test_hold_back_bounded);
	RUN(test_json);
	RUN(test_json_strings_independent);
	RUN(test_json_colliding_keys);
	RUN(test_long_secret);
	RUN(test_all_byte_values);
	RUN(test_too_short_refused);
	RUN(test_secrets_resolve);
	return harness_done();
}
