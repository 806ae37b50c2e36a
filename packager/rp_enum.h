/*
 * rp_enum: enumerate and digest the workspace, and select artifacts.
 *
 * Owns: struct rp_artifact_list. Walks base_dir with directory file
 * descriptors, never following a symlink: every regular file and symlink
 * except anything named ".git" is recorded with path, type, mode, size and
 * sha256 (of the content, or of the link target for a symlink). Other file
 * types are recorded as skipped, and so is a file or directory that cannot be
 * read (enumeration goes on). Regular files that match an include glob and no
 * exclude glob are selected for files/, within the per-file and total caps,
 * deciding in sorted order: a file that would pass the total cap is skipped,
 * and a later, smaller one may still fit. Every omission carries its reason.
 *
 * The walk lists entries first; regular files are then opened again by path
 * with openat2 beneath base_dir (Linux 5.6+) and hashed on two threads when
 * the machine has two CPUs (the helper thread blocks every signal). A file
 * that changed type or vanished in between is recorded as unreadable. Each
 * directory level holds one descriptor while it is walked, so nesting deeper
 * than RP_ENUM_MAX_DEPTH fails (RP_E_TOOLARGE, "workspace_too_deep").
 */
#ifndef RP_ENUM_H
#define RP_ENUM_H

#include "rp_manifest.h"
#include "rp_sha256.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RP_ENUM_MAX_DEPTH 256

enum rp_artifact_type { RP_ART_FILE, RP_ART_SYMLINK, RP_ART_OTHER };

struct rp_artifact {
	char *path;            /* relative, '/'-separated, raw bytes */
	enum rp_artifact_type type;
	/* "file", "symlink", "fifo", "socket", "char-device", "block-device";
	 * "directory" or "unknown" only for an unreadable entry */
	const char *kind;
	uint32_t mode;         /* permission bits (07777) */
	uint64_t size;
	unsigned char sha256[RP_SHA256_LEN]; /* valid for readable files and symlinks */
	char *link_target;     /* symlinks only */
	bool included;         /* copy into files/ */
	/* NULL when included; else "not_selected", "excluded", "file_too_large",
	 * "total_too_large", "symlink", "special_file", "unreadable" */
	const char *reason;
};

struct rp_artifact_list {
	struct rp_artifact *v;  /* sorted by path (byte order) */
	size_t n;
	uint64_t total_bytes;   /* sum of regular file sizes */
	uint64_t included_bytes;
	size_t included_n;
};

struct rp_enum_opts {
	const struct rp_strv *include;
	const struct rp_strv *exclude;
	uint64_t max_file_bytes;
	uint64_t max_total_bytes;
};

int rp_enum_workspace(struct rp_artifact_list *out, const char *base_dir,
		      const struct rp_enum_opts *opts);
/* Open a workspace file for reading without following any symlink and
 * without leaving base_dir (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS).
 * Returns the descriptor, or a negative rp_code: RP_E_INVALID with id
 * "artifact_path_unsafe" for an escaping path, a symlink or anything but a
 * regular file; RP_E_NOTFOUND; RP_E_UNSUPPORTED without openat2. */
int rp_enum_open(const char *base_dir, const char *rel_path);
/*
 * artifacts.json document (new reference):
 *   {"schema": "runpack.artifacts/v1",
 *    "files": [{"path", "type" (kind), "mode": "0644", "size", "sha256"
 *               (readable files and symlinks), "linkTarget" (symlinks),
 *               "included", "reason" (when not included)}],
 *    "totals": {"files", "bytes", "included", "includedBytes"}}
 * A non-UTF-8 path is written with U+FFFD replacement in "path" plus the
 * exact bytes in "pathBase64"; likewise "linkTarget" / "linkTargetBase64".
 */
json_t *rp_artifacts_to_json(const struct rp_artifact_list *l);
void rp_artifact_list_release(struct rp_artifact_list *l);

#endif
