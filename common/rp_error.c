#include "rp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread struct rp_error last;

static void vset(int code, const char *id, const char *fmt, va_list ap)
{
	last.code = code;
	last.id = id ? id : rp_code_id(code);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	memset(&last.where, 0, sizeof(last.where));
}

int rp_error_set(int code, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(code, id, fmt, ap);
	va_end(ap);
	return code;
}

int rp_error_set_errno(int code, const char *id, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vset(code, id, fmt, ap);
	va_end(ap);
	n = strlen(last.msg);
	snprintf(last.msg + n, sizeof(last.msg) - n, ": %s", strerror(errnum));
	return code;
}

int rp_error_set_at(int code, const char *id, const struct rp_error_where *where,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(code, id, fmt, ap);
	va_end(ap);
	if (where)
		last.where = *where;
	return code;
}

int rp_error_prefix(const char *fmt, ...)
{
	char old[sizeof(last.msg)];
	va_list ap;
	size_t n;

	memcpy(old, last.msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	va_end(ap);
	n = strlen(last.msg);
	snprintf(last.msg + n, sizeof(last.msg) - n, ": %s", old);
	return last.code;
}

const struct rp_error *rp_error_last(void)
{
	return &last;
}

void rp_error_clear(void)
{
	memset(&last, 0, sizeof(last));
}

const char *rp_code_id(int code)
{
	switch (code) {
	case RP_OK: return "ok";
	case RP_E_USAGE: return "usage";
	case RP_E_IO: return "io_error";
	case RP_E_NOMEM: return "out_of_memory";
	case RP_E_PARSE: return "parse_error";
	case RP_E_INVALID: return "invalid_input";
	case RP_E_POLICY: return "policy_exceeded";
	case RP_E_CRYPTO: return "crypto_error";
	case RP_E_VERIFY: return "verification_failed";
	case RP_E_UNSUPPORTED: return "unsupported";
	case RP_E_TOOLARGE: return "too_large";
	case RP_E_NOTFOUND: return "not_found";
	default: return "internal_error";
	}
}
