/*
 * rp_util: small file, time and text helpers shared by every module.
 *
 * Owns nothing beyond what each function documents. All functions set the
 * rp_error record on failure and return a negative enum rp_code.
 */
#ifndef RP_UTIL_H
#define RP_UTIL_H

#include "rp_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RP_UTIL_NOFOLLOW 1 /* refuse a symlink as the final path component */

/* Read a whole file into out (appending), failing with RP_E_TOOLARGE when it
 * is larger than max bytes. flags: RP_UTIL_NOFOLLOW. Errors name the path. */
int rp_read_file(struct rp_buf *out, const char *path, size_t max, int flags);

/* write(2) all n bytes, retrying on EINTR and short writes. Sets errno. */
int rp_write_all(int fd, const void *p, size_t n);

/* read(2) retrying on EINTR; returns bytes read, 0 at EOF, -1 on error. */
ssize_t rp_read_some(int fd, void *p, size_t n);

/* mkdir -p with mode for each created component. */
int rp_mkdir_p(const char *path, mode_t mode);

/* Remove a directory tree without following symlinks (for run scratch dirs). */
int rp_remove_tree(const char *path);

/*
 * Atomic file creation: rp_atomic_open() creates a temporary file next to
 * final_path (same directory, mode bits given); rp_atomic_commit() fsyncs it,
 * renames it over final_path and fsyncs the directory; rp_atomic_abort()
 * unlinks the temporary. The final path never holds a partial file.
 */
struct rp_atomic {
	int fd;
	char *tmp_path;
	char *final_path;
};
int rp_atomic_open(struct rp_atomic *a, const char *final_path, mode_t mode);
int rp_atomic_commit(struct rp_atomic *a);
void rp_atomic_abort(struct rp_atomic *a);

/* Wall-clock now in milliseconds since the epoch, and a monotonic clock. */
int64_t rp_now_ms(void);
int64_t rp_mono_ms(void);
/* "2026-11-21T13:33:24.123Z" (UTC). out must hold 32 bytes. */
void rp_format_time_ms(char out[32], int64_t epoch_ms);

bool rp_utf8_valid(const void *p, size_t n);

/* The directory part of path (malloc'd), "." when it has none. */
char *rp_dirname(const char *path);
/* path joined with name by '/', malloc'd. */
char *rp_path_join(const char *dir, const char *name);

#endif
