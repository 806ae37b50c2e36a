/*
 * rp_sign: signing keys, DSSE envelopes and minisign signatures.
 *
 * Owns: struct rp_key. Secret key bytes live in sodium_malloc'd memory,
 * wiped on free. Key files use minisign's format, so keys made by
 * `minisign -G -W` load here and keys written here work with minisign:
 *   public:  "untrusted comment: ..." line, then base64("Ed" || keynum[8] || pk[32])
 *   secret:  "untrusted comment: ..." line, then base64("Ed" || kdf[2] || "B2" ||
 *            salt[32] || opslimit[8] || memlimit[8] || keynum[8] || sk[64] ||
 *            blake2b-256 checksum[32]); only unencrypted keys (kdf 0,0) are read.
 *            The checksum covers "Ed" || keynum || sk. minisign 0.11 leaves it
 *            all-zero in keys made with -W, so a zero checksum is accepted; the
 *            secret half is then checked against its own public half instead.
 * Key files are created owner-only with O_EXCL|O_NOFOLLOW (0600 secret, 0644
 * public); with force each is written to a temporary file and renamed over.
 *
 * DSSE: envelope {"payloadType", "payload" (base64), "signatures":[{"keyid",
 * "sig"}]}, the signature is Ed25519 over the pre-authentication encoding
 * "DSSEv1 <len(type)> <type> <len(body)> <body>"; keyid is the key number in
 * uppercase hex, as minisign prints it.
 *
 * minisign: prehashed ("ED", BLAKE2b-512 of the file) detached signatures with
 * a trusted comment and the global signature over (signature || comment).
 */
#ifndef RP_SIGN_H
#define RP_SIGN_H

#include "rp_buf.h"

#include <stdbool.h>
#include <stddef.h>

#define RP_KEYID_HEX_LEN 16

struct rp_key {
	unsigned char keynum[8];
	unsigned char pk[32];
	unsigned char *sk;      /* 64 bytes, sodium_malloc'd; NULL for a public key */
	char keyid[RP_KEYID_HEX_LEN + 1];
};

int rp_key_generate(struct rp_key **out);
/* Error ids: key_unreadable, key_invalid, key_encrypted (with a hint to use
 * an unencrypted key: minisign -G -W). The secret key file is opened with
 * O_NOFOLLOW. */
int rp_key_load_secret(struct rp_key **out, const char *path);
int rp_key_load_public(struct rp_key **out, const char *path);
/* The base64 line of a public key file (minisign -P). */
int rp_key_parse_public(struct rp_key **out, const char *base64);
/* Write both halves; refuses to replace existing files unless force (error id
 * key_exists, and neither file is written). */
int rp_key_write(const struct rp_key *k, const char *secret_path, const char *public_path,
		 bool force);
/* The public key file text (comment line + base64 line), appended to out. */
int rp_key_public_text(const struct rp_key *k, struct rp_buf *out);
void rp_key_free(struct rp_key *k);

#define RP_DSSE_PAYLOAD_TYPE "application/vnd.in-toto+json"

/* Sign payload; appends the envelope JSON (one line, with its newline) to out. */
int rp_dsse_sign(struct rp_buf *out, const struct rp_key *k, const char *payload_type,
		 const void *payload, size_t n);
/* Check the envelope against pub: a signature by pub's key id must verify
 * over the pre-authentication encoding, then payloadType must equal
 * payload_type. On success the decoded payload is appended to payload_out.
 * claimed_keyid (may be NULL) receives the key id the envelope names (the
 * first well-formed one, or pub's when it verified), "" when none; it is set
 * on failure too, so a report can name the signer. Error ids: dsse_malformed
 * (also a wrong payloadType), dsse_wrong_key (no signature by this key id),
 * dsse_bad_signature. */
int rp_dsse_verify(struct rp_buf *payload_out, char claimed_keyid[RP_KEYID_HEX_LEN + 1],
		   const struct rp_key *pub, const char *payload_type,
		   const void *envelope, size_t n);

/* Sign the file open at fd (read from offset 0) as minisign would; appends the
 * .minisig text to out. trusted_comment (NULL: empty) is one line of at most
 * 8173 bytes, as minisign reads it (else error id minisig_bad_comment). */
int rp_minisig_sign_fd(struct rp_buf *out, const struct rp_key *k, int fd,
		       const char *trusted_comment);
/* Verify a .minisig text for the file at fd (used by tests and verify). Error
 * ids: minisig_malformed, minisig_legacy (not prehashed: unsupported),
 * minisig_wrong_key, minisig_bad_signature. */
int rp_minisig_verify_fd(const struct rp_key *pub, int fd, const void *sig, size_t n);

#endif
