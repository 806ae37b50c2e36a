/*
 * rp_redact: the redaction engine every byte of a package passes through.
 *
 * Owns: struct rp_redactor (an immutable, compiled set of things to mask) and
 * struct rp_redact_stream (per-stream state: a bounded hold-back window and
 * per-rule finding counts).
 *
 * Three detectors feed one stream, all over the raw input bytes:
 *   - exact values (the injected secrets) in every common encoding: raw,
 *     standard and URL-safe base64 at all three alignments, percent-encoding
 *     (upper and lower hex, '+' for space), JSON string escaping, and hex;
 *     multi-pattern Aho-Corasick. Rule id "secret:<NAME>".
 *   - credential rules (rp_rules.h): the built-in set and the policy's custom
 *     rules; Vectorscan reports match ends, PCRE2 confirms the exact span on
 *     a bounded window, post-filters drop placeholders and look-alikes.
 *   - private key blocks (PEM, OpenSSH, PGP armor): a streaming BEGIN...END
 *     machine that masks the body line by line and keeps the BEGIN and END
 *     lines. Rule id "private-key".
 * Each confirmed span is replaced by "[REDACTED:<rule-id>]"; overlapping
 * spans merge into one marker (named after the leftmost, then longest, then
 * the earliest rule: secrets before rules). Line breaks inside a span are
 * kept, one marker per line, so the lines around a secret survive.
 *
 * Streaming: memory is bounded (a hold-back of about RP_RULES_WINDOW_MAX +
 * RP_RULES_LOOKAHEAD bytes, longer only while a private key block or a
 * long injected secret is being decided), and the output is the same for any
 * split of the input into writes.
 *
 * Usage: rp_redactor_new, rp_redactor_add_secret..., optionally
 * rp_redactor_add_builtin_rules and rp_redactor_add_rules, then
 * rp_redactor_compile; then any number of streams (or rp_redact_buf for whole
 * buffers). A compiled redactor is read-only and may be shared by streams,
 * also across threads.
 */
#ifndef RP_REDACT_H
#define RP_REDACT_H

#include "rp_buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values shorter than this are refused: masking them would shred the output
 * and could never be complete (they occur in ordinary text). */
#define RP_SECRET_MIN_LEN 8
/* Longer values are refused: their encoded forms would make the automaton
 * and the hold-back window needlessly large. */
#define RP_SECRET_MAX_LEN (64u << 10)

struct rp_redactor;
struct rp_redact_stream;

/* Receives redacted output; returns RP_OK or a negative rp_code. */
typedef int (*rp_redact_sink)(void *ctx, const unsigned char *p, size_t n);

struct rp_redact_finding {
	const char *rule;  /* "secret:NAME" or a rule id; owned by the redactor */
	uint64_t count;
};

/* Stream flags. REPORT: rule and private-key matches are counted but left in
 * place (the policy's "report" mode for artifacts and diffs); injected
 * secrets are masked whatever the flags. */
#define RP_REDACT_REPORT 1u

int rp_redactor_new(struct rp_redactor **out);
/* Error ids "secret_too_short" (len < RP_SECRET_MIN_LEN) and
 * "secret_too_long" (len > RP_SECRET_MAX_LEN); messages name the secret,
 * never its value. */
int rp_redactor_add_secret(struct rp_redactor *r, const char *name,
			   const unsigned char *value, size_t len);
/* The built-in credential rules and the private key block machine. */
int rp_redactor_add_builtin_rules(struct rp_redactor *r);
/* Custom rules (a JSON array in the documented rule shape), after the
 * built-in ones. Error id "rule_invalid"; origin names the source. */
int rp_redactor_add_rules(struct rp_redactor *r, const json_t *rules, const char *origin);
int rp_redactor_compile(struct rp_redactor *r);
/* Whether the redactor masks nothing at all (no secrets, no rules). */
bool rp_redactor_empty(const struct rp_redactor *r);
void rp_redactor_free(struct rp_redactor *r);

int rp_redact_stream_new(struct rp_redact_stream **out, const struct rp_redactor *r,
			 rp_redact_sink sink, void *ctx);
/* As rp_redact_stream_new, with RP_REDACT_* flags. */
int rp_redact_stream_new_flags(struct rp_redact_stream **out, const struct rp_redactor *r,
			       unsigned flags, rp_redact_sink sink, void *ctx);
int rp_redact_stream_write(struct rp_redact_stream *s, const void *p, size_t n);
/* Flush the hold-back window; no write may follow. */
int rp_redact_stream_finish(struct rp_redact_stream *s);
/* Findings with count > 0, in rule order (secrets, rules, private-key);
 * valid until the redactor is freed. A count is how many times the rule
 * matched (overlapping matches of one rule count once). Returns how many
 * were stored in out (at most max). */
size_t rp_redact_stream_findings(const struct rp_redact_stream *s,
				 struct rp_redact_finding *out, size_t max);
void rp_redact_stream_free(struct rp_redact_stream *s);

/* Redact a whole buffer into out (appended); adds to *count the number of
 * replacements when count is not NULL. */
int rp_redact_buf(const struct rp_redactor *r, const void *in, size_t n,
		  struct rp_buf *out, uint64_t *count);

/* Redact every string (keys and values) of a JSON tree in place. A string
 * member is also seen with its key as "key": "value", so assignment rules
 * catch {"password": "..."}; only the value's part of a match is masked. */
int rp_redact_json(const struct rp_redactor *r, json_t *doc, uint64_t *count);

#endif
