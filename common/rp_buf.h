/*
 * rp_buf: a growable byte buffer, and the growth step of any dynamic array.
 *
 * Owns: its data pointer. A zero-initialised struct is an empty buffer;
 * rp_buf_release() frees the data and leaves an empty buffer behind. The data
 * is always NUL-terminated past len, so text can be used as a C string.
 */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stddef.h>

struct rp_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

#define RP_BUF_INIT { NULL, 0, 0 }

int rp_buf_reserve(struct rp_buf *b, size_t extra);
int rp_buf_append(struct rp_buf *b, const void *p, size_t n);
int rp_buf_puts(struct rp_buf *b, const char *s);
int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (who frees it); the buffer becomes empty. */
unsigned char *rp_buf_steal(struct rp_buf *b, size_t *len);
void rp_buf_reset(struct rp_buf *b); /* len = 0, keeps capacity */
void rp_buf_release(struct rp_buf *b);

/* Make room in a dynamic array (*pp, *cap elements of size sz, n in use) for
 * one more element, doubling the capacity when it is full. */
int rp_array_grow(void *pp, size_t *cap, size_t n, size_t sz);

#endif
