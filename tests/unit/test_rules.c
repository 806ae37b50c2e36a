/*
 * The credential rules and the private key machine through the redaction
 * stream: every family masked with its lines kept, the same output for any
 * split of the input, report mode, custom rules and their validation, and
 * bounded memory on a long stream.
 */
#include "harness.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_redact.h"
#include "rp_rules.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

static struct rp_redactor *builtin;

static void append(struct rp_buf *b, const char *s)
{
	CHECK_INT(rp_buf_puts(b, s), RP_OK);
}

static int collect(void *ctx, const unsigned char *p, size_t n)
{
	return rp_buf_append(ctx, p, n);
}

static void redact(const struct rp_redactor *r, const char *in, struct rp_buf *out)
{
	rp_buf_reset(out);
	CHECK_INT(rp_redact_buf(r, in, strlen(in), out, NULL), RP_OK);
}

/* Deterministic pseudo-random text from an alphabet. */
static void fill(char *out, size_t n, const char *alphabet, unsigned seed)
{
	size_t k = strlen(alphabet);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		out[i] = alphabet[(seed >> 16) % k];
	}
	out[n] = '\0';
}

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct family {
	const char *line_fmt; /* "%s" stands for the value */
	char value[1200];
	const char *rule;     /* expected marker's rule, NULL: any */
};

static struct family fam[16];
static size_t fam_n;

static void add_family(const char *fmt, const char *value, const char *rule)
{
	fam[fam_n].line_fmt = fmt;
	snprintf(fam[fam_n].value, sizeof(fam[fam_n].value), "%s", value);
	fam[fam_n].rule = rule;
	fam_n++;
}

static void families(void)
{
	char v[1200], part[600];

	if (fam_n)
		return;
	fill(part, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 1);
	snprintf(v, sizeof(v), "AKIA%s", part);
	add_family("aws_access_key_id = %s", v, "aws-access-token");
	fill(part, 36, ALNUM, 2);
	snprintf(v, sizeof(v), "ghp_%s", part);
	add_family("export GITHUB_TOKEN=%s", v, "github-pat");
	fill(part, 24, ALNUM, 3);
	snprintf(v, sizeof(v), "xoxb-123456789012-1234567890123-%s", part);
	add_family("slack: %s", v, "slack-bot-token");
	fill(part, 32, ALNUM, 4);
	snprintf(v, sizeof(v), "sk_live_%s", part);
	add_family("stripe key %s in use", v, "stripe-access-token");
	add_family("Authorization: Bearer %s",
		   "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
		   "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
		   "jwt");
	add_family("card: %s (spaces)", "4111 1111 1111 1111", "credit-card");
	add_family("card: %s (dashes)", "5500-0000-0000-0004", "credit-card");
	add_family("db=postgres://app:%s@db.internal:5432/app", "S3cr3tPassw0rd", "url-password");
	add_family("password = \"%s\"", "hunter2hunter2!x", NULL);
	add_family("API_KEY=%s", "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB", NULL);
	add_family("{\"token\": \"%s\"}", "c2VjcmV0LXRva2VuLXZhbHVlLTEyMw", NULL);
}

/* fmt with its "%s" replaced by value (formats here are data, not literals). */
static void subst(char *out, size_t cap, const char *fmt, const char *value)
{
	const char *at = strstr(fmt, "%s");

	CHECK(at);
	snprintf(out, cap, "%.*s%s%s", (int)(at - fmt), fmt, value, at + 2);
}

/* A PEM-style block: header, lines of base64, footer. */
static void pem_block(struct rp_buf *b, const char *label, size_t lines, const char *nl,
		      unsigned seed)
{
	char line[65];

	CHECK_INT(rp_buf_printf(b, "-----BEGIN %s-----%s", label, nl), RP_OK);
	for (size_t i = 0; i < lines; i++) {
		fill(line, i + 1 == lines ? 24 : 64, B64, seed + (unsigned)i);
		CHECK_INT(rp_buf_printf(b, "%s%s", line, nl), RP_OK);
	}
	CHECK_INT(rp_buf_printf(b, "-----END %s-----", label), RP_OK);
}

/* Text with every family, two key blocks, and noise between them. */
static void sample_text(struct rp_buf *b)
{
	char line[1400];

	families();
	for (size_t i = 0; i < fam_n; i++) {
		CHECK_INT(rp_buf_printf(b, "line %zu before\n", i), RP_OK);
		subst(line, sizeof(line), fam[i].line_fmt, fam[i].value);
		append(b, line);
		append(b, "\nafter\n");
	}
	append(b, "key follows\n");
	pem_block(b, "RSA PRIVATE KEY", 6, "\n", 100);
	append(b, "\nand an ssh one\n");
	pem_block(b, "OPENSSH PRIVATE KEY", 5, "\r\n", 200);
	append(b, "\nthe end\n");
}

static void check_no_values(const struct rp_buf *out)
{
	families();
	for (size_t i = 0; i < fam_n; i++) {
		if (memmem(out->data, out->len, fam[i].value, strlen(fam[i].value))) {
			snprintf(harness_why, sizeof(harness_why), "value leaked: %s", fam[i].value);
			longjmp(harness_jmp, 1);
		}
	}
}

static void test_every_family_masked(void)
{
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;
	char line[256];

	sample_text(&in);
	CHECK_INT(rp_redact_buf(builtin, in.data, in.len, &out, NULL), RP_OK);
	check_no_values(&out);
	for (size_t i = 0; i < fam_n; i++) {
		char mark[96];

		snprintf(line, sizeof(line), "line %zu before\n", i);
		CHECK(strstr((const char *)out.data, line));
		snprintf(mark, sizeof(mark), "[REDACTED:%s]", fam[i].rule ? fam[i].rule : "");
		subst(line, sizeof(line), fam[i].line_fmt, mark);
		/* Generic families: any rule's marker, so compare up to its name. */
		if (!fam[i].rule)
			*strstr(line, "[REDACTED:]") = '\0';
		if (!strstr((const char *)out.data, line)) {
			snprintf(harness_why, sizeof(harness_why), "no line '%.100s' in:\n%.700s", line,
				 (const char *)out.data);
			longjmp(harness_jmp, 1);
		}
	}
	/* Key blocks: header and footer kept, one marker per body line. */
	CHECK(strstr((const char *)out.data,
		     "key follows\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private-key]\n"
		     "[REDACTED:private-key]\n[REDACTED:private-key]\n[REDACTED:private-key]\n"
		     "[REDACTED:private-key]\n[REDACTED:private-key]\n-----END RSA PRIVATE KEY-----\n"));
	CHECK(strstr((const char *)out.data,
		     "-----BEGIN OPENSSH PRIVATE KEY-----\r\n[REDACTED:private-key]\r\n"));
	CHECK(strstr((const char *)out.data, "[REDACTED:private-key]\r\n-----END OPENSSH PRIVATE KEY-----\nthe end\n"));
	rp_buf_release(&in);
	rp_buf_release(&out);
}

static void stream_pieces(const struct rp_redactor *r, const struct rp_buf *in, unsigned seed,
			  struct rp_buf *out)
{
	struct rp_redact_stream *s = NULL;

	rp_buf_reset(out);
	srand(seed);
	CHECK_INT(rp_redact_stream_new(&s, r, collect, out), RP_OK);
	for (size_t off = 0; off < in->len;) {
		size_t k = seed == 0 ? 1 : (size_t)(rand() % 3 ? rand() % 9 + 1 : rand() % 3000 + 1);

		if (k > in->len - off)
			k = in->len - off;
		CHECK_INT(rp_redact_stream_write(s, in->data + off, k), RP_OK);
		off += k;
	}
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	rp_redact_stream_free(s);
}

static void check_same(const struct rp_buf *a, const struct rp_buf *b, unsigned seed)
{
	size_t d = 0;

	if (a->len == b->len && !memcmp(a->data, b->data, a->len))
		return;
	while (d < a->len && d < b->len && a->data[d] == b->data[d])
		d++;
	snprintf(harness_why, sizeof(harness_why), "split %u differs at %zu: '%.80s' vs '%.80s'",
		 seed, d, (const char *)a->data + d, (const char *)b->data + d);
	longjmp(harness_jmp, 1);
}

/* 1-byte writes and random splits: no leak at a boundary, identical output. */
static void test_splits_identical(void)
{
	struct rp_redactor *r = NULL;
	struct rp_buf in = RP_BUF_INIT, whole = RP_BUF_INIT, pieces = RP_BUF_INIT;
	const char *secret = "inj3cted-s3cret-value";

	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, "INJ", (const unsigned char *)secret, strlen(secret)),
		  RP_OK);
	CHECK_INT(rp_redactor_add_builtin_rules(r), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	for (int round = 0; round < 3; round++) {
		sample_text(&in);
		/* noise that almost matches, then an injected secret inside a rule match */
		append(&in, "\nsk_live_short ghp_tooshort -----BEGIN nothing\n");
		CHECK_INT(rp_buf_printf(&in, "token=ghp_%s%s\n", secret, "0123456789abcd"), RP_OK);
		for (int i = 0; i < 200 * round; i++)
			append(&in, "filler text with key and token words, 0123456789\n");
	}
	CHECK_INT(rp_redact_buf(r, in.data, in.len, &whole, NULL), RP_OK);
	check_no_values(&whole);
	CHECK(!memmem(whole.data, whole.len, secret, strlen(secret)));
	for (unsigned seed = 0; seed < 40; seed++) {
		stream_pieces(r, &in, seed, &pieces);
		check_same(&whole, &pieces, seed);
	}
	rp_buf_release(&in);
	rp_buf_release(&whole);
	rp_buf_release(&pieces);
	rp_redactor_free(r);
}

static void test_private_key_blocks(void)
{
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT;
	char body[80];

	/* Too short to be a key, and an empty one: left alone (gitleaks' samples). */
	redact(builtin, "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----", &out);
	CHECK_STR((const char *)out.data, "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----");
	redact(builtin, "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----", &out);
	CHECK_STR((const char *)out.data,
		  "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----");
	/* A mention followed by ordinary lines is no key. */
	redact(builtin, "grep -e '-----BEGIN RSA PRIVATE KEY-----' file\nINFO nothing found here at all\n",
	       &out);
	CHECK_STR((const char *)out.data,
		  "grep -e '-----BEGIN RSA PRIVATE KEY-----' file\nINFO nothing found here at all\n");
	/* JSON-escaped (a service account file printed raw): segments between \n escapes. */
	fill(body, 64, B64, 9);
	CHECK_INT(rp_buf_printf(&in, "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n%s\\n%s\\n"
				     "-----END PRIVATE KEY-----\\n\", \"x\": 1}", body, body), RP_OK);
	redact(builtin, (const char *)in.data, &out);
	CHECK_STR((const char *)out.data,
		  "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n[REDACTED:private-key]\\n"
		  "[REDACTED:private-key]\\n-----END PRIVATE KEY-----\\n\", \"x\": 1}");
	/* Indented (YAML), with PEM headers, and cut off before its END line. */
	rp_buf_reset(&in);
	CHECK_INT(rp_buf_printf(&in, "key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  Proc-Type: 4,ENCRYPTED\n"
				     "  DEK-Info: AES-128-CBC,0011\n\n  %s\n  %s", body, body), RP_OK);
	redact(builtin, (const char *)in.data, &out);
	CHECK_STR((const char *)out.data,
		  "key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  Proc-Type: 4,ENCRYPTED\n"
		  "  DEK-Info: AES-128-CBC,0011\n\n  [REDACTED:private-key]\n  [REDACTED:private-key]");
	/* PGP armor with a checksum line. */
	rp_buf_reset(&in);
	CHECK_INT(rp_buf_printf(&in, "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: x\n\n%s\n=8xQN\n"
				     "-----END PGP PRIVATE KEY BLOCK-----\n", body), RP_OK);
	redact(builtin, (const char *)in.data, &out);
	CHECK_STR((const char *)out.data,
		  "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: x\n\n[REDACTED:private-key]\n"
		  "[REDACTED:private-key]\n-----END PGP PRIVATE KEY BLOCK-----\n");
	rp_buf_release(&in);
	rp_buf_release(&out);
}

/* A key longer than the hold-back still goes out masked, line by line. */
static void test_private_key_beyond_hold(void)
{
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT, pieces = RP_BUF_INIT;
	char line[65];
	size_t marks = 0;

	append(&in, "-----BEGIN RSA PRIVATE KEY-----\n");
	for (unsigned i = 0; i < 2000; i++) {
		fill(line, 64, B64, i);
		CHECK_INT(rp_buf_printf(&in, "%s\n", line), RP_OK);
	}
	append(&in, "-----END RSA PRIVATE KEY-----\ntail\n");
	CHECK_INT(rp_redact_buf(builtin, in.data, in.len, &out, NULL), RP_OK);
	for (const char *p = (const char *)out.data; (p = strstr(p, "[REDACTED:private-key]\n")); p++)
		marks++;
	CHECK_INT(marks, 2000);
	CHECK(strstr((const char *)out.data, "-----END RSA PRIVATE KEY-----\ntail\n"));
	stream_pieces(builtin, &in, 3, &pieces);
	check_same(&out, &pieces, 3);
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_buf_release(&pieces);
}

static void test_report_mode(void)
{
	struct rp_redactor *r = NULL;
	struct rp_redact_stream *s = NULL;
	struct rp_buf out = RP_BUF_INIT;
	struct rp_redact_finding f[8];
	const char *secret = "inj3cted-s3cret-value", *text;
	char in[256], gh[64];
	size_t n;

	fill(gh, 36, ALNUM, 2);
	snprintf(in, sizeof(in), "a ghp_%s b %s c\n", gh, secret);
	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_secret(r, "INJ", (const unsigned char *)secret, strlen(secret)),
		  RP_OK);
	CHECK_INT(rp_redactor_add_builtin_rules(r), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	CHECK_INT(rp_redact_stream_new_flags(&s, r, RP_REDACT_REPORT, collect, &out), RP_OK);
	CHECK_INT(rp_redact_stream_write(s, in, strlen(in)), RP_OK);
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	text = (const char *)out.data;
	/* The rule match stays, the injected secret never does. */
	CHECK(strstr(text, gh));
	CHECK(strstr(text, "[REDACTED:secret:INJ]"));
	CHECK(!strstr(text, secret));
	n = rp_redact_stream_findings(s, f, 8);
	CHECK_INT(n, 2);
	CHECK_STR(f[0].rule, "secret:INJ");
	CHECK_STR(f[1].rule, "github-pat");
	CHECK_INT(f[1].count, 1);
	rp_redact_stream_free(s);
	rp_buf_release(&out);
	rp_redactor_free(r);
}

static json_t *rules_json(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	CHECK(j);
	return j;
}

static void test_custom_rules(void)
{
	struct rp_redactor *r = NULL;
	struct rp_buf out = RP_BUF_INIT;
	json_t *rules = rules_json(
		"[{\"id\": \"acme-key\", \"regex\": \"(?i)acme[_-]?key\\\\s*=\\\\s*([a-z0-9]{16,})\","
		"  \"keywords\": [\"acme\"], \"entropy\": 3,"
		"  \"allowlists\": [{\"stopwords\": [\"example\"]},"
		"                   {\"regexTarget\": \"line\", \"regexes\": [\"#\\\\s*nosecret\"]}]},"
		" {\"id\": \"order-id\", \"regex\": \"ORD-(\\\\d{4})-(\\\\d{6})\", \"secretGroup\": 2,"
		"  \"keywords\": [\"ord-\"]}]");

	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_rules(r, rules, "policy.json"), RP_OK);
	CHECK_INT(rp_redactor_compile(r), RP_OK);
	redact(r, "ACME_KEY = q8wz3n5k2m7p4r6t9v1x\n", &out);
	CHECK_STR((const char *)out.data, "ACME_KEY = [REDACTED:acme-key]\n");
	/* entropy too low; a stopword; the line allow-list */
	redact(r, "acme_key=aaaaaaaaaaaaaaaaaaaa\nacme_key=example0123456789ab\n"
		  "acme_key=q8wz3n5k2m7p4r6t9v1x # nosecret\n", &out);
	CHECK_STR((const char *)out.data, "acme_key=aaaaaaaaaaaaaaaaaaaa\nacme_key=example0123456789ab\n"
		  "acme_key=q8wz3n5k2m7p4r6t9v1x # nosecret\n");
	/* secretGroup picks the second group; the keyword must be near. */
	redact(r, "order ORD-2026-123456 shipped", &out);
	CHECK_STR((const char *)out.data, "order ORD-2026-[REDACTED:order-id] shipped");
	rp_redactor_free(r);
	json_decref(rules);
	rp_buf_release(&out);
}

static void expect_invalid(const char *rule, const char *where, const char *msg_part)
{
	json_t *j = rules_json(rule);
	char got[128];

	CHECK(rp_rules_validate(j, got, sizeof(got)) < 0);
	CHECK_STR(got, where);
	CHECK_STR(rp_error_last()->id, "rule_invalid");
	if (!strstr(rp_error_last()->msg, msg_part)) {
		snprintf(harness_why, sizeof(harness_why), "message '%.300s' lacks '%.100s'",
			 rp_error_last()->msg, msg_part);
		longjmp(harness_jmp, 1);
	}
	json_decref(j);
}

static void test_custom_rule_validation(void)
{
	struct rp_redactor *r = NULL;
	json_t *dup;

	expect_invalid("{\"regex\": \"x\"}", "", "'id'");
	expect_invalid("{\"id\": \"a b\", \"regex\": \"x\"}", ".id", "A-Za-z0-9");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"ab(c\"}", ".regex", "offset 4");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"abc\", \"colour\": 1}", ".colour", "rule 'r1'");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"a(b)c\", \"secretGroup\": 2}", ".secretGroup",
		       "0 to 1");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"abc\", \"keywords\": [\"\"]}", ".keywords[0]",
		       "non-empty");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"abc\", \"allowlists\": [{\"regexes\": [\"(\"]}]}",
		       ".allowlists[0].regexes[0]", "does not compile");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"abc\", \"allowlists\": [{\"regexTarget\": \"all\","
		       " \"regexes\": [\"x\"]}]}", ".allowlists[0].regexTarget", "\"line\"");
	expect_invalid("{\"id\": \"r1\", \"regex\": \"abc\", \"check\": \"crc\"}", ".check", "luhn");
	/* Matches the empty string: it would mask nothing, everywhere. */
	expect_invalid("{\"id\": \"r1\", \"regex\": \"x*\"}", ".regex", "multi-pattern");
	/* A custom id may not take a built-in one. */
	dup = rules_json("[{\"id\": \"github-pat\", \"regex\": \"abc\"}]");
	CHECK_INT(rp_redactor_new(&r), RP_OK);
	CHECK_INT(rp_redactor_add_builtin_rules(r), RP_OK);
	CHECK(rp_redactor_add_rules(r, dup, "policy.json") < 0);
	CHECK(strstr(rp_error_last()->msg, "policy.json: rules[0]: rule 'github-pat'"));
	rp_redactor_free(r);
	json_decref(dup);
}

/* Rules whose keywords are rare only run near one: 40 hex digits are a
 * Sourcegraph token only next to "sourcegraph" or "sgp_". */
static void test_keyword_gate(void)
{
	struct rp_buf out = RP_BUF_INIT;
	const char *hex = "0123456789abcdef0123456789abcdef01234567";
	char in[256];

	snprintf(in, sizeof(in), "commit %s\n", hex);
	redact(builtin, in, &out);
	CHECK_STR((const char *)out.data, in);
	snprintf(in, sizeof(in), "SOURCEGRAPH_TOKEN %s\n", "8d2b7e3f9c1a4d6e0b5f2a8c7e1d3f9b4a6c2e8d");
	redact(builtin, in, &out);
	CHECK_STR((const char *)out.data, "SOURCEGRAPH_TOKEN [REDACTED:sourcegraph-access-token]\n");
	rp_buf_release(&out);
}

/* A gated rule whose match runs far past its keyword: the region around the
 * keyword must span the rule's whole window ("ops_" then 600 bytes). */
static void test_keyword_gate_long_match(void)
{
	struct rp_buf in = RP_BUF_INIT, out = RP_BUF_INIT, pieces = RP_BUF_INIT;
	char body[601];

	fill(body, 600, B64, 11);
	for (int i = 0; i < 3; i++)
		CHECK_INT(rp_buf_printf(&in, "noise %d\nOP_TOKEN=ops_eyJ%s\nafter\n", i, body), RP_OK);
	CHECK_INT(rp_redact_buf(builtin, in.data, in.len, &out, NULL), RP_OK);
	CHECK(!memmem(out.data, out.len, body + 300, 40));
	CHECK(strstr((const char *)out.data, "noise 2\nOP_TOKEN=[REDACTED:1password-service-account-token]\nafter\n"));
	for (unsigned seed = 0; seed < 8; seed++) {
		stream_pieces(builtin, &in, seed, &pieces);
		check_same(&out, &pieces, seed);
	}
	rp_buf_release(&in);
	rp_buf_release(&out);
	rp_buf_release(&pieces);
}

static void test_cards(void)
{
	struct rp_buf out = RP_BUF_INIT;

	/* Luhn fails; grouped oddly; no issuer; a timestamp; a version. */
	redact(builtin, "4111 1111 1111 1112 / 4111 11111 111 1111 / 9111111111111111 / "
			"1700000000123456789 / 2026-05-15 12:00:01.123456\n", &out);
	CHECK_STR((const char *)out.data, "4111 1111 1111 1112 / 4111 11111 111 1111 / 9111111111111111 / "
		  "1700000000123456789 / 2026-05-15 12:00:01.123456\n");
	redact(builtin, "amex 3782 822463 10005, plain 4012888888881881.\n", &out);
	CHECK_STR((const char *)out.data, "amex [REDACTED:credit-card], plain [REDACTED:credit-card].\n");
	rp_buf_release(&out);
}

static void test_placeholders_left(void)
{
	struct rp_buf out = RP_BUF_INIT;
	const char *in = "password = \"changeme\"\nAPI_KEY=${API_KEY}\n"
			 "url=postgres://user:password@localhost/db\ntoken: <your-token-here>\n"
			 "secret_name = \"prod-db-credentials\"\npassword_length = 32\n";

	redact(builtin, in, &out);
	CHECK_STR((const char *)out.data, in);
	rp_buf_release(&out);
}

static void test_json_members(void)
{
	json_t *doc = rules_json("{\"env\": {\"DB_PASSWORD\": \"hunter2hunter2!x\", \"HOME\": \"/home/a\"},"
				 " \"list\": [\"plain\"]}");
	uint64_t count = 0;
	char *text;

	CHECK_INT(rp_redact_json(builtin, doc, &count), RP_OK);
	text = json_dumps(doc, JSON_COMPACT);
	CHECK_STR(text, "{\"env\":{\"DB_PASSWORD\":\"[REDACTED:credential-assignment]\","
		  "\"HOME\":\"/home/a\"},\"list\":[\"plain\"]}");
	CHECK_INT(count, 1);
	free(text);
	json_decref(doc);
}

static int discard(void *ctx, const unsigned char *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
	return RP_OK;
}

/* 64 MB of log in 64 KiB writes: the peak RSS barely moves, and the output
 * trails the input by no more than the hold-back. */
static void test_memory_bounded(void)
{
	struct rp_redact_stream *s = NULL;
	struct rp_redact_finding f[4];
	struct rusage before, after;
	char block[1 << 16], gh[40];
	uint64_t written = 0, in = 0;
	size_t len = 0;

	fill(gh, 36, ALNUM, 7);
	while (len + 200 < sizeof(block))
		len += (size_t)snprintf(block + len, sizeof(block) - len,
					"2026-05-15T12:00:00Z INFO request %zu done, cache key=users:%zu auth ok\n",
					len, len * 7);
	len += (size_t)snprintf(block + len, sizeof(block) - len, "t=ghp_%s\n", gh);
	getrusage(RUSAGE_SELF, &before);
	CHECK_INT(rp_redact_stream_new(&s, builtin, discard, &written), RP_OK);
	for (int i = 0; i < 1024; i++) {
		CHECK_INT(rp_redact_stream_write(s, block, len), RP_OK);
		in += len;
		CHECK(in - written <= 64 << 10);
	}
	CHECK_INT(rp_redact_stream_finish(s), RP_OK);
	getrusage(RUSAGE_SELF, &after);
	CHECK_INT(rp_redact_stream_findings(s, f, 4), 1);
	CHECK_INT(f[0].count, 1024);
	rp_redact_stream_free(s);
	printf("memory: peak RSS grew by %ld KiB over %llu MB streamed\n",
	       after.ru_maxrss - before.ru_maxrss, (unsigned long long)(in >> 20));
	CHECK(after.ru_maxrss - before.ru_maxrss < 16 * 1024);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	if (rp_redactor_new(&builtin) || rp_redactor_add_builtin_rules(builtin) ||
	    rp_redactor_compile(builtin)) {
		printf("FAIL test_rules: %s\n", rp_error_last()->msg);
		return 1;
	}
	RUN(test_memory_bounded);
	RUN(test_every_family_masked);
	RUN(test_splits_identical);
	RUN(test_private_key_blocks);
	RUN(test_private_key_beyond_hold);
	RUN(test_report_mode);
	RUN(test_custom_rules);
	RUN(test_custom_rule_validation);
	RUN(test_keyword_gate);
	RUN(test_keyword_gate_long_match);
	RUN(test_cards);
	RUN(test_placeholders_left);
	RUN(test_json_members);
	rp_redactor_free(builtin);
	return harness_done();
}
