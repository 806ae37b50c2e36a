/*
 * rp_error: the one error channel of every runpack module.
 *
 * Owns: the error code enum, the stable snake_case identifiers that appear in
 * result.json and summaries, and the thread's "last error" record.
 *
 * Library code (policy/, runner/, packager/) never prints and never exits: a
 * failing function records one line of message with rp_error_set() and
 * returns the (negative) code. Only the command layer (cli/) reads the record
 * back, prints it, and chooses the exit code. A caller that adds context uses
 * rp_error_prefix() so the lower layer's detail is kept, never replaced.
 */
#ifndef RP_ERROR_H
#define RP_ERROR_H

#include <stddef.h>

enum rp_code {
	RP_OK = 0,
	RP_E_USAGE = -1,       /* bad flags or arguments */
	RP_E_IO = -2,          /* a read, write or syscall failed */
	RP_E_NOMEM = -3,       /* allocation failed */
	RP_E_PARSE = -4,       /* malformed input (JSON syntax, key file) */
	RP_E_INVALID = -5,     /* well-formed input that breaks the schema */
	RP_E_POLICY = -6,      /* a request beyond the operator's ceiling */
	RP_E_CRYPTO = -7,      /* key or signature operation failed */
	RP_E_VERIFY = -8,      /* a package or signature does not verify */
	RP_E_UNSUPPORTED = -9, /* the kernel or a key format lacks a feature */
	RP_E_TOOLARGE = -10,   /* input over a size cap */
	RP_E_NOTFOUND = -11,   /* a named thing does not exist */
	RP_E_INTERNAL = -12,   /* a bug or an impossible state */
};

/* Where in an input file an error was found; fields are empty/0 when unknown. */
struct rp_error_where {
	char file[256];
	char json_path[256]; /* "$.agent.argv[0]" */
	int line;            /* 1-based; 0 = unknown */
	int column;          /* 1-based; 0 = unknown */
};

struct rp_error {
	int code;          /* enum rp_code */
	const char *id;    /* stable identifier, e.g. "manifest_unknown_field" */
	char msg[1024];    /* one line, no trailing newline */
	struct rp_error_where where;
};

/* Record an error; returns code so callers can `return rp_error_set(...)`. */
int rp_error_set(int code, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As rp_error_set, appending ": strerror(errnum)". */
int rp_error_set_errno(int code, const char *id, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record an error with an input location (file, JSON path, line, column). */
int rp_error_set_at(int code, const char *id, const struct rp_error_where *where,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prefix the current message with context ("reading 'x': <old message>"). */
int rp_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const struct rp_error *rp_error_last(void);
void rp_error_clear(void);

/* Stable generic identifier for a code when no specific id was given. */
const char *rp_code_id(int code);

#endif
