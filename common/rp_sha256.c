#include "rp_sha256.h"
#include "rp_error.h"

#include <openssl/evp.h>

int rp_sha256_init(struct rp_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (!ctx)
		return rp_error_set(RP_E_NOMEM, NULL, "cannot allocate a SHA-256 context");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return rp_error_set(RP_E_CRYPTO, NULL, "SHA-256 initialisation failed");
	}
	h->ctx = ctx;
	return RP_OK;
}

int rp_sha256_update(struct rp_sha256 *h, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(h->ctx, p, n) != 1)
		return rp_error_set(RP_E_CRYPTO, NULL, "SHA-256 update failed");
	return RP_OK;
}

int rp_sha256_final(struct rp_sha256 *h, unsigned char out[RP_SHA256_LEN])
{
	unsigned int len = 0;
	int ok = EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == RP_SHA256_LEN;

	rp_sha256_release(h);
	return ok ? RP_OK : rp_error_set(RP_E_CRYPTO, NULL, "SHA-256 finalisation failed");
}

void rp_sha256_release(struct rp_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int rp_sha256_buf(unsigned char out[RP_SHA256_LEN], const void *p, size_t n)
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != RP_SHA256_LEN)
		return rp_error_set(RP_E_CRYPTO, NULL, "SHA-256 failed");
	return RP_OK;
}

void rp_sha256_hex(char out[RP_SHA256_HEX_LEN + 1], const unsigned char d[RP_SHA256_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < RP_SHA256_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[RP_SHA256_HEX_LEN] = '\0';
}
