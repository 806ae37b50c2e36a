/*
 * rp_sha256: SHA-256 through OpenSSL's libcrypto, which uses the CPU's
 * SHA extensions (several times faster than libsodium's portable code).
 *
 * Owns: the digest context. rp_sha256_init() must be paired with
 * rp_sha256_final() or rp_sha256_release().
 */
#ifndef RP_SHA256_H
#define RP_SHA256_H

#include <stddef.h>

#define RP_SHA256_LEN 32
#define RP_SHA256_HEX_LEN 64

struct rp_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int rp_sha256_init(struct rp_sha256 *h);
int rp_sha256_update(struct rp_sha256 *h, const void *p, size_t n);
/* Writes 32 bytes to out and releases the context. */
int rp_sha256_final(struct rp_sha256 *h, unsigned char out[RP_SHA256_LEN]);
void rp_sha256_release(struct rp_sha256 *h);

int rp_sha256_buf(unsigned char out[RP_SHA256_LEN], const void *p, size_t n);
/* Lowercase hex, NUL-terminated (65 bytes). */
void rp_sha256_hex(char out[RP_SHA256_HEX_LEN + 1], const unsigned char d[RP_SHA256_LEN]);

#endif
