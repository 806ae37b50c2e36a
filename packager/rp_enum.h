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
 * With opts.git_ids each regular file's and symlink's git blob id is computed
 * in the same read (rp_git compares the workspace with a base tree by it, so
 * no file is read twice). Directories below base_dir that hold a ".git" entry
 * (nested repositories, submodules) are listed in repos.
 *
 * Selection runs after the walk and again whenever rp_enum_select() is
 * called (rp_git marks changed and ignored files between the two): without
 * include globs it selects the files marked changed when opts.select_changed
 * is set, and nothing otherwise.
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
#define RP_GIT_ID_LEN 20 /* a SHA-1 git object id */

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
	/* git blob id: SHA-1 over "blob <size>\0" and the content (the target
	 * for a symlink); git_id_valid when computed and the file did not change
	 * size while it was read */
	unsigned char git_id[RP_GIT_ID_LEN];
	bool git_id_valid;
	bool changed;          /* differs from the git base (set by rp_git) */
	bool ignored;          /* untracked and matched by .gitignore (rp_git) */
	bool included;         /* copy into files/ */
	/* NULL when included; else "not_selected", "excluded", "file_too_large",
	 * "total_too_large", "symlink", "unsafe_name" (files/<path> cannot be a
	 * package entry: not UTF-8, or too long), "special_file", "unreadable" */
	const char *reason;
};

struct rp_artifact_list {
	struct rp_artifact *v;  /* sorted by path (byte order) */
	size_t n;
	uint64_t total_bytes;   /* sum of regular file sizes */
	uint64_t included_bytes;
	size_t included_n;
	/* directories (relative, sorted) below base_dir holding a .git entry */
	char **repos;
	size_t repos_n;
	/* how files were selected: "include" (globs), "changed" (the files
	 * changed against the git base), "none" */
	const char *selection;
};

struct rp_enum_opts {
	const struct rp_strv *include; /* NULL: no globs (see select_changed) */
	const struct rp_strv *exclude;
	uint64_t max_file_bytes;
	uint64_t max_total_bytes;
	bool select_changed;           /* without include: select changed files */
	bool git_ids;                  /* compute git blob ids */
};

int rp_enum_workspace(struct rp_artifact_list *out, const char *base_dir,
		      const struct rp_enum_opts *opts);
/* Decide inclusion again from scratch (after changed/ignored were set).
 * Reasons found by the walk (unreadable, special_file) are kept. */
void rp_enum_select(struct rp_artifact_list *l, const struct rp_enum_opts *opts);
/* The git blob id of n bytes of content. */
int rp_enum_blob_id(unsigned char out[RP_GIT_ID_LEN], const void *p, size_t n);
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
 *               "changed" and "ignored" (only when true), "included",
 *               "reason" (when not included)}],
 *    "selection": "include" | "changed" | "none",
 *    "totals": {"files", "bytes", "included", "includedBytes"}}
 * A non-UTF-8 path is written with U+FFFD replacement in "path" plus the
 * exact bytes in "pathBase64"; likewise "linkTarget" / "linkTargetBase64".
 */
json_t *rp_artifacts_to_json(const struct rp_artifact_list *l);
/* Set o[key] to the string s the same way (key"Base64" when s is not
 * UTF-8); for other modules' paths. Returns 0 or -1. */
int rp_enum_json_set_path(json_t *o, const char *key, const char *s);
void rp_artifact_list_release(struct rp_artifact_list *l);

#endif
