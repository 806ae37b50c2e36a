/*
 * rp_verify: read and check result packages offline, with bounded memory.
 *
 * Owns: the libarchive reader. A package is read in one streaming pass: each
 * entry is hashed as it goes by, the attestation (the last entry, capped in
 * size) is kept. Only a zstd-compressed tar is accepted. A package that cannot
 * be read as such, has no attestation, has it anywhere but last, or whose
 * attestation or statement is not the expected shape is RP_VF_MALFORMED.
 * The outcome is then decided in the documented order, the first failure
 * found being the one reported:
 *   1. the DSSE signature over the pre-authentication encoding (by this key),
 *   2. each entry's sha256 against its subject in the statement,
 *   3. exactly the subjects' set of entries, none missing, none extra,
 *   4. entry safety: regular files only, safe relative names, no duplicates,
 *      bounded sizes and entry count.
 * Going over the entry count or the total name bytes stops the pass at once
 * (nothing after it could be checked in bounded memory): RP_VF_UNSAFE.
 */
#ifndef RP_VERIFY_H
#define RP_VERIFY_H

#include "rp_buf.h"
#include "rp_sign.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_VERIFY_MAX_ENTRIES 1000000
#define RP_VERIFY_MAX_ATTESTATION (64u << 20)
#define RP_VERIFY_MAX_ENTRY_BYTES (UINT64_C(16) << 30)
/* Entry names are kept for the whole pass; their total is bounded too. */
#define RP_VERIFY_MAX_NAME_BYTES (256u << 20)

enum rp_verify_failure {
	RP_VF_NONE = 0,
	RP_VF_MALFORMED,  /* not a readable package / no attestation last */
	RP_VF_SIGNATURE,  /* bad signature or not signed by this key */
	RP_VF_DIGEST,     /* an entry's content does not match its subject */
	RP_VF_MISSING,    /* a subject has no entry */
	RP_VF_EXTRA,      /* an entry is not a subject */
	RP_VF_UNSAFE,     /* unsafe name, type, duplicate or size */
};

struct rp_verify_report {
	bool valid;
	enum rp_verify_failure failure;
	char entry[4097];     /* the entry at fault, when there is one */
	char message[1024];   /* one line, names the entry or the key */
	char keyid[RP_KEYID_HEX_LEN + 1]; /* key id the envelope claims */
	uint64_t entries;     /* entries read, attestation included */
	json_t *statement;    /* the verified statement when valid; caller decrefs */
};

/* "malformed", "bad_signature", "digest_mismatch", "missing_entry",
 * "extra_entry", "unsafe_entry"; "none" for RP_VF_NONE (stable; used in
 * --json output) */
const char *rp_verify_failure_id(enum rp_verify_failure f);

/* Returns RP_OK when the package was checked (see rep->valid), or a negative
 * code when the file cannot be opened at all (RP_E_IO / RP_E_NOTFOUND). */
int rp_verify_package(struct rp_verify_report *rep, const char *path,
		      const struct rp_key *pub);
void rp_verify_report_release(struct rp_verify_report *rep);

/* Unverified reading, for inspect. */
struct rp_package_entry {
	char *name;
	uint64_t size;
	char sha256[65];
};
/* List entries in package order (malloc'd array; free with _entries_free).
 * Errors: RP_E_IO / RP_E_NOTFOUND (cannot open), RP_E_PARSE with id
 * package_malformed (not a readable tar.zst). Where a name appears twice,
 * read_entry and cat use the first. */
int rp_package_list(struct rp_package_entry **out, size_t *n, const char *path);
void rp_package_entries_free(struct rp_package_entry *v, size_t n);
/* Append one entry's content to out, failing with RP_E_TOOLARGE past max and
 * RP_E_NOTFOUND when absent. */
int rp_package_read_entry(struct rp_buf *out, const char *path, const char *name, size_t max);
/* Stream one entry's content to fd. */
int rp_package_cat(const char *path, const char *name, int fd);

#endif
