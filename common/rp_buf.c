#include "rp_buf.h"
#include "rp_error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_buf_reserve(struct rp_buf *b, size_t extra)
{
	size_t need, cap;
	unsigned char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return rp_error_set(RP_E_NOMEM, NULL, "buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return RP_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	return RP_OK;
}

int rp_buf_append(struct rp_buf *b, const void *p, size_t n)
{
	int rc = rp_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return RP_OK;
}

int rp_buf_puts(struct rp_buf *b, const char *s)
{
	return rp_buf_append(b, s, strlen(s));
}

int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return rp_error_set(RP_E_INTERNAL, NULL, "bad format string");
	rc = rp_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return RP_OK;
}

unsigned char *rp_buf_steal(struct rp_buf *b, size_t *len)
{
	unsigned char *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void rp_buf_reset(struct rp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int rp_array_grow(void *pp, size_t *cap, size_t n, size_t sz)
{
	void **p = pp;
	size_t c = *cap ? *cap * 2 : 16;
	void *q;

	if (n < *cap)
		return RP_OK;
	q = reallocarray(*p, c, sz);
	if (!q)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	*p = q;
	*cap = c;
	return RP_OK;
}

void rp_buf_release(struct rp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
