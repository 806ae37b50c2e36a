/*
 * rp_pack: writes one result package: a deterministic, zstd-compressed pax tar
 * whose last entry is the signed attestation.
 *
 * Owns: the libarchive writer and the atomic output file. Every entry is a
 * regular file built by hand (never from disk metadata): mode 0644, uid/gid 0,
 * no user or group names, mtime fixed by the caller, no atime/ctime/xattrs.
 * The caller adds entries in the package's fixed order; rp_pack refuses unsafe
 * or duplicate names. rp_pack_commit() appends attestation.dsse.json (an
 * in-toto Statement v1 listing every earlier entry with its sha256, signed as
 * DSSE), then fsyncs and renames the file into place. Same entries, mtime and
 * key give byte-identical packages.
 */
#ifndef RP_PACK_H
#define RP_PACK_H

#include "rp_sha256.h"
#include "rp_sign.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_PACK_ATTESTATION "attestation.dsse.json"
#define RP_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define RP_PREDICATE_TYPE "urn:runpack:result:v1"
#define RP_PACK_ZSTD_LEVEL 3

struct rp_pack;

/* mtime (seconds since the epoch, >= 0) is every entry's mtime. Entry names
 * are written the same way whatever the caller's locale. */
int rp_pack_open(struct rp_pack **out, const char *final_path, int64_t mtime);
int rp_pack_add_buf(struct rp_pack *p, const char *name, const void *data, size_t n);
/* Add size bytes read from fd starting at offset (pread; the file position
 * is not used), so several entries can share one staging file. Fails when
 * the file is shorter than offset + size. After any failed add the package can only be
 * aborted. Error ids: package_bad_name, package_duplicate_entry,
 * package_read_failed, package_short_read, package_write_failed. */
int rp_pack_add_fd(struct rp_pack *p, const char *name, int fd, uint64_t offset,
		   uint64_t size);

/* predicate (borrowed, may be NULL, else a JSON object) goes into the
 * statement. On success p is freed and the package's own sha256 is written to
 * pkg_sha256 when it is not NULL; on failure p is left for rp_pack_abort(). */
int rp_pack_commit(struct rp_pack *p, const struct rp_key *key, const json_t *predicate,
		   unsigned char pkg_sha256[RP_SHA256_LEN]);
/* Discard an uncommitted package (removes the temporary file). NULL-safe. */
void rp_pack_abort(struct rp_pack *p);

/* true when name is acceptable as an entry: relative, no "..", "." or empty
 * components, no doubled or trailing '/', no NUL, at most 4096 bytes, valid
 * UTF-8 (the statement is JSON, which cannot carry other bytes). */
bool rp_pack_name_safe(const char *name);

#endif
