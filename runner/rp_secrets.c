#include "rp_secrets.h"
#include "rp_error.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sodium_malloc'd copy of n bytes plus a NUL; the source is not touched. */
static unsigned char *secure_dup(const void *p, size_t n)
{
	unsigned char *v = sodium_malloc(n + 1);

	if (v) {
		memcpy(v, p, n);
		v[n] = '\0';
	}
	return v;
}

/*
 * Read the file straight into guarded memory, growing by copy so no stray
 * copy of the value is left in ordinary heap memory.
 */
static int read_secret_file(struct rp_secret *s, const struct rp_secret_ref *ref)
{
	unsigned char chunk[4096], *buf = NULL, *grown;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc = RP_OK;

	fd = open(ref->ref, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rp_error_set_errno(RP_E_NOTFOUND, "secret_unresolved", errno,
					  "secret '%s': cannot open file '%s'", ref->name, ref->ref);
	while ((n = rp_read_some(fd, chunk, sizeof(chunk))) > 0) {
		if (len + (size_t)n > RP_SECRET_FILE_MAX) {
			rc = rp_error_set(RP_E_TOOLARGE, "secret_unresolved",
					  "secret '%s': file '%s' is larger than %u bytes",
					  ref->name, ref->ref, RP_SECRET_FILE_MAX);
			goto done;
		}
		if (len + (size_t)n > cap) {
			cap = cap ? cap * 2 : sizeof(chunk);
			grown = sodium_malloc(cap);
			if (!grown) {
				rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
				goto done;
			}
			if (buf)
				memcpy(grown, buf, len);
			sodium_free(buf);
			buf = grown;
		}
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	if (n < 0) {
		rc = rp_error_set_errno(RP_E_IO, "secret_unresolved", errno,
					"secret '%s': cannot read file '%s'", ref->name, ref->ref);
		goto done;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	s->value = secure_dup(buf ? buf : chunk, len);
	s->len = len;
	if (!s->value)
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
done:
	sodium_memzero(chunk, sizeof(chunk));
	sodium_free(buf);
	close(fd);
	return rc;
}

static int resolve_one(struct rp_secret *s, const struct rp_secret_ref *ref)
{
	const char *env;
	int rc;

	s->name = ref->name;
	if (ref->source == RP_SECRET_ENV) {
		env = getenv(ref->ref);
		if (!env)
			return rp_error_set(RP_E_NOTFOUND, "secret_unresolved",
					    "secret '%s': environment variable '%s' is not set",
					    ref->name, ref->ref);
		s->len = strlen(env);
		s->value = secure_dup(env, s->len);
		if (!s->value)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		return RP_OK;
	}
	rc = read_secret_file(s, ref);
	if (rc)
		return rc;
	if (memchr(s->value, '\0', s->len))
		return rp_error_set(RP_E_INVALID, "secret_invalid",
				    "secret '%s': file '%s' contains a NUL byte", ref->name, ref->ref);
	return RP_OK;
}

int rp_secrets_resolve(struct rp_secrets *out, const struct rp_manifest *m)
{
	int rc = RP_OK;

	out->n = 0;
	out->v = NULL;
	if (!m->secrets_n)
		return RP_OK;
	out->v = calloc(m->secrets_n, sizeof(*out->v));
	if (!out->v)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (size_t i = 0; i < m->secrets_n && !rc; i++) {
		rc = resolve_one(&out->v[i], &m->secrets[i]);
		out->n++;
	}
	if (rc)
		rp_secrets_free(out);
	return rc;
}

void rp_secrets_free(struct rp_secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		sodium_free(s->v[i].value);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
