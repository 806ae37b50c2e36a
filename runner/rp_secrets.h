/*
 * rp_secrets: resolve agent.secretEnv references to values.
 *
 * Owns: the resolved values, kept in sodium_malloc'd memory that is wiped and
 * freed by rp_secrets_free(). Values never appear in error messages: errors
 * name the variable and the reference (env var name or file path) only.
 */
#ifndef RP_SECRETS_H
#define RP_SECRETS_H

#include "rp_manifest.h"

#include <stddef.h>

#define RP_SECRET_FILE_MAX (1u << 20)

struct rp_secret {
	const char *name;       /* borrowed from the manifest */
	unsigned char *value;   /* sodium_malloc'd, NUL-terminated */
	size_t len;
};

struct rp_secrets {
	struct rp_secret *v;
	size_t n;
};

/* Resolve every reference: env:NAME from runpack's environment, file:PATH
 * (one trailing newline is stripped). Error ids: secret_unresolved,
 * secret_invalid (NUL byte in a value). */
int rp_secrets_resolve(struct rp_secrets *out, const struct rp_manifest *m);
void rp_secrets_free(struct rp_secrets *s);

#endif
