/*
 * rp_git: the workspace's git state, and its diff against a base revision,
 * read without writing one byte under .git.
 *
 * Owns: struct rp_git (the open repository, the resolved base, the result of
 * comparing the enumerated workspace with the base tree) and libgit2's
 * global state: git_libgit2_init() and git_libgit2_shutdown() are balanced
 * per object. libgit2 reads only the repository's own configuration: the
 * global, XDG and system search paths are emptied, so a host's ~/.gitconfig
 * or global excludes file cannot change a package. Repository ownership is
 * not checked (git's safe.directory): runpack only reads, and libgit2 runs no
 * hooks, filters or other programs from a repository's configuration.
 *
 * Read-only by construction. libgit2 reads refs, objects, the index and the
 * ignore rules; it never walks the work tree, because a work-tree diff or
 * status consults the index's stat cache, and would hash every file whose
 * cached stat data is stale. The workspace side comes from rp_enum instead,
 * which has read every file and computed its git blob id in the same pass
 * (opts.git_ids). rp_git_compare() merges that with the base tree:
 *
 *   - a path in the base and in the workspace is modified when its blob id
 *     or its mode differs (mode 100755 when the owner may execute, 100644
 *     otherwise, 120000 for a symlink), typechanged when the kind differs;
 *   - a path only in the base is deleted (a FIFO, socket or device counts as
 *     absent: git cannot track it);
 *   - a path only in the workspace is added when the index has it, else
 *     ignored when the ignore rules (.gitignore files, .git/info/exclude,
 *     core.excludesFile) match it, else untracked. Ignored files are marked
 *     on the artifact and left out of the diff; added and untracked files
 *     are in it, whatever their ignore rules say otherwise about tracked ones;
 *   - a directory holding a .git entry that is a gitlink in the base, or
 *     that the base has no files under, is a submodule: its HEAD commit is
 *     compared with the base's gitlink (an uninitialised submodule, a
 *     directory without a repository, is unchanged; a missing one deleted),
 *     and the files inside belong to it, not to this repository.
 *
 * The comparison trusts nothing the agent could have written: not the
 * index's object ids or stat cache, not core.filemode or core.trustctime,
 * not clean/smudge filters (core.autocrlf, eol, ident): contents are
 * compared as raw bytes, which is what makes the patch exact.
 *
 * rp_git_diff() builds the workspace's tree in memory (an in-memory index
 * over the base tree, written to an in-memory object database) and prints a
 * tree-to-tree diff between the base tree and it, streamed to a sink. The
 * object database reads the repository's objects through a read-only layer
 * (libgit2 would otherwise "freshen" an existing object file's mtime when a
 * tree it writes already exists on disk) and reads a workspace blob from its
 * file only when the patch needs it, checking it against the id recorded by
 * the enumeration. The patch is git's: binary files as "GIT binary patch"
 * (full index lines), mode changes, symlinks, "\ No newline at end of file",
 * typechanges as a deletion plus an addition, exact renames detected, paths
 * with unusual bytes quoted with octal escapes (core.quotePath's default),
 * submodules as "Subproject commit" lines. `git apply` on a checkout of the
 * base reproduces the workspace's tracked and untracked files byte for byte.
 *
 * libgit2 opens files with a plain open(2), so a FIFO where it expects a
 * file would block it forever: the git dirs and the ignore files are checked
 * for anything but regular files and directories before libgit2 reads them.
 *
 * Error ids (rp_error): not_a_git_repository, git_repository_corrupt,
 * git_repository_unsafe, git_index_unreadable, diff_base_missing,
 * diff_too_large, diff_failed. None of them is a reason to fail a run: the
 * caller records them.
 */
#ifndef RP_GIT_H
#define RP_GIT_H

#include "rp_enum.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_git;

/* Against the base; see the comparison rules above. */
struct rp_git_counts {
	size_t modified;    /* content or mode changed, submodule commit moved */
	size_t added;       /* new, and in the index */
	size_t deleted;
	size_t untracked;   /* new, not in the index, not ignored */
	size_t ignored;     /* new files the ignore rules match */
	size_t typechanged; /* file, symlink and submodule swapped for another */
};

struct rp_git_diff_stats {
	size_t files;       /* file entries in the patch */
	uint64_t bytes;     /* bytes handed to the sink */
};

/* Receives the patch; returns RP_OK or a negative rp_code (which stops it). */
typedef int (*rp_git_sink)(void *ctx, const void *p, size_t n);

/*
 * Open the repository whose work tree is base_dir itself (no search upwards;
 * a ".git" file, as in worktrees and submodules, is followed). Reads HEAD
 * (branch, detached, unborn), the operation in progress, whether it is a
 * worktree or a shallow clone. Errors: RP_E_NOTFOUND "not_a_git_repository"
 * (no .git, a bare repository, or a work tree elsewhere); RP_E_IO
 * "git_repository_corrupt" (.git exists but cannot be read, HEAD unreadable);
 * RP_E_INVALID "git_repository_unsafe" (a FIFO, socket or device in the git
 * dir). On error *out is NULL.
 */
int rp_git_open(struct rp_git **out, const char *base_dir);

/* Read the index (never written) for unmerged paths and added files.
 * RP_E_IO "git_index_unreadable"; the rest works without it. */
int rp_git_read_index(struct rp_git *g);

/*
 * Resolve the base: revision (NULL = "HEAD") peeled to a tree, and to a
 * commit when it is one; with an unborn HEAD and no revision the base is the
 * empty tree. Computes ahead/behind of HEAD against a base commit when the
 * two are related. Errors: RP_E_NOTFOUND "diff_base_missing" (not in the
 * repository, or not a commit or tree); RP_E_IO "git_repository_corrupt".
 */
int rp_git_set_base(struct rp_git *g, const char *revision);
bool rp_git_has_base(const struct rp_git *g);

/*
 * Compare the enumerated workspace l (enumerated with opts.git_ids) with the
 * base: sets changed and ignored on l's artifacts, fills the counts and
 * remembers the changes for rp_git_diff(). Needs a base. Errors:
 * RP_E_IO "git_repository_corrupt" (a base tree cannot be read);
 * RP_E_INVALID "git_repository_unsafe" (a .gitignore or core.excludesFile
 * that is not a regular file).
 */
int rp_git_compare(struct rp_git *g, struct rp_artifact_list *l);

/*
 * Stream the patch of the last comparison to sink. Stops, without a partial
 * patch being worth anything, at max_bytes: RP_E_TOOLARGE "diff_too_large"
 * (the caller discards what the sink got). Other errors: "diff_failed" (a
 * changed file could not be read, or changed while the patch was made),
 * "git_repository_corrupt" (a base object cannot be read), or the sink's.
 */
int rp_git_diff(struct rp_git_diff_stats *out, struct rp_git *g, uint64_t max_bytes,
		rp_git_sink sink, void *ctx);

/*
 * The git section of result.json (new reference):
 *   {"repository": true, "worktree", "shallow", "branch" (null when
 *    detached), "detached", "unborn", "head" (null when unborn),
 *    "base": null | {"revision", "source": "baseRevision"|"HEAD",
 *                    "commit" (null for a tree or the empty tree), "tree"},
 *    "aheadBehind": null | {"ahead", "behind"},
 *    "operation": null | "merge" | "rebase" | "cherry-pick" | "revert" |
 *                  "bisect" | "am",
 *    "unmerged": null (index unreadable) | [{"path"}],
 *    "counts": null (not compared) | {modified, added, deleted, untracked,
 *              ignored, typechanged},
 *    "submodules": [{"path", "baseCommit", "workdirCommit", "changed"}]}
 * Paths that are not UTF-8 get "pathBase64" as in artifacts.json.
 */
json_t *rp_git_to_json(const struct rp_git *g);

void rp_git_free(struct rp_git *g);

#endif
