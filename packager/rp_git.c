#include "rp_git.h"
#include "rp_error.h"
#include "rp_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODE_BLOB 0100644u
#define MODE_EXEC 0100755u
#define MODE_LINK 0120000u
#define MODE_GITLINK 0160000u
#define SAFE_DEPTH 16

/* One blob, symlink or gitlink of the base tree. */
struct base_entry {
	char *path;
	uint32_t mode;
	git_oid id;
};

/* One difference from the base: the entry to put at path in the workspace's
 * tree, or (mode 0) to take out. */
struct change {
	char *path;
	uint32_t mode;
	git_oid id;
	uint64_t size;  /* a blob's size */
	char *link;     /* a symlink's target: the blob's content */
};

struct submodule {
	char *path;
	bool in_base, in_workdir;
	git_oid base, workdir;
};

/* A directory that is a submodule (or a nested repository): its files
 * belong to it. */
struct root {
	const char *path;
	const struct base_entry *base;  /* the base's entry at path, if any */
	bool gitlink;                   /* base is a gitlink */
	bool ignored;                   /* an untracked one the rules ignore */
};

struct rp_git {
	git_repository *repo;
	char *base_dir;
	bool lib;

	bool worktree, shallow, detached, unborn, has_head;
	char *branch;
	git_oid head;
	const char *operation;
	git_index *index;       /* NULL when not read or unreadable */
	char **unmerged;
	size_t unmerged_n;

	bool has_base, base_is_commit, base_has_tree;
	char *base_rev;
	bool base_from_manifest;
	git_oid base_commit, base_tree;
	bool ahead_behind;
	size_t ahead, behind;

	bool compared;
	struct rp_git_counts counts;
	struct change *changes;
	size_t changes_n, changes_cap;
	struct submodule *subs;
	size_t subs_n, subs_cap;
	char *unreadable;       /* a changed file that could not be read */
};

/* ---- errors ---- */

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

static int nomem(void)
{
	return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
}

static int corrupt(const struct rp_git *g, const char *what)
{
	return rp_error_set(RP_E_IO, "git_repository_corrupt",
			    "the git repository of '%s' cannot be read (%s): %s", g->base_dir, what,
			    git_msg());
}

/* ---- library set-up ---- */

static int lib_init(struct rp_git *g)
{
	static const int levels[] = {
		GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM,
		GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
	};

	if (git_libgit2_init() < 0)
		return rp_error_set(RP_E_INTERNAL, NULL, "libgit2 initialisation failed: %s",
				    git_msg());
	g->lib = true;
	/* Only the repository's own configuration: the package must not depend
	 * on who runs runpack, and the workspace's owner is not the reader's. */
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "") < 0)
			return rp_error_set(RP_E_INTERNAL, NULL, "libgit2 set-up failed: %s",
					    git_msg());
	if (git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0)
		return rp_error_set(RP_E_INTERNAL, NULL, "libgit2 set-up failed: %s", git_msg());
	/* The only objects created are the diff's in-memory trees, whose entries
	 * come from the base tree or from verified workspace files: checking
	 * that each entry's object exists would read every blob header of every
	 * rewritten directory (an inflate per loose object). */
	if (git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0) < 0)
		return rp_error_set(RP_E_INTERNAL, NULL, "libgit2 set-up failed: %s", git_msg());
	return RP_OK;
}

/* ---- open ---- */

static const char *operation_name(int state)
{
	switch (state) {
	case GIT_REPOSITORY_STATE_MERGE: return "merge";
	case GIT_REPOSITORY_STATE_REVERT:
	case GIT_REPOSITORY_STATE_REVERT_SEQUENCE: return "revert";
	case GIT_REPOSITORY_STATE_CHERRYPICK:
	case GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE: return "cherry-pick";
	case GIT_REPOSITORY_STATE_BISECT: return "bisect";
	case GIT_REPOSITORY_STATE_REBASE:
	case GIT_REPOSITORY_STATE_REBASE_INTERACTIVE:
	case GIT_REPOSITORY_STATE_REBASE_MERGE:
	case GIT_REPOSITORY_STATE_APPLY_MAILBOX_OR_REBASE: return "rebase";
	case GIT_REPOSITORY_STATE_APPLY_MAILBOX: return "am";
	default: return NULL;
	}
}

static int read_head(struct rp_git *g)
{
	git_reference *ref = NULL, *head = NULL;
	const char *target;
	int err, rc = RP_OK;

	err = git_repository_head(&ref, g->repo);
	if (err == GIT_EUNBORNBRANCH) {
		g->unborn = true;
		if (git_reference_lookup(&head, g->repo, "HEAD") < 0) {
			rc = corrupt(g, "HEAD");
			goto done;
		}
		target = git_reference_symbolic_target(head);
		if (target && strncmp(target, "refs/heads/", 11) == 0)
			target += 11;
		if (target && !(g->branch = strdup(target)))
			rc = nomem();
		goto done;
	}
	if (err < 0 || !git_reference_target(ref)) {
		rc = corrupt(g, "HEAD");
		goto done;
	}
	g->has_head = true;
	git_oid_cpy(&g->head, git_reference_target(ref));
	g->detached = git_repository_head_detached(g->repo) == 1;
	if (!g->detached && git_reference_is_branch(ref) &&
	    !(g->branch = strdup(git_reference_shorthand(ref))))
		rc = nomem();
done:
	git_reference_free(ref);
	git_reference_free(head);
	return rc;
}

/* The repository's work tree must be base_dir itself: a core.worktree
 * pointing elsewhere would have ignore rules read from another tree. */
static int check_workdir(struct rp_git *g)
{
	const char *wd = git_repository_workdir(g->repo);
	char *want = realpath(g->base_dir, NULL), *have = wd ? realpath(wd, NULL) : NULL;
	int rc = RP_OK;

	if (!want || !have || strcmp(want, have) != 0)
		rc = rp_error_set(RP_E_NOTFOUND, "not_a_git_repository",
				  "'%s' is not the work tree of its git repository (that is '%s')",
				  g->base_dir, wd ? wd : "none");
	free(want);
	free(have);
	return rc;
}

/* ---- files libgit2 opens ---- */

/*
 * libgit2 opens repository and ignore files with a plain open(2): a FIFO
 * the agent planted where it expects a file (.git/HEAD, an index, a
 * .gitignore, or a symlink to one) would block runpack forever after the
 * agent is gone. So every entry under a git dir, and every ignore file, is
 * checked first: anything but a regular file or a directory (symlinks
 * followed) makes the repository "git_repository_unsafe".
 */
static int unsafe(const char *path)
{
	return rp_error_set(RP_E_INVALID, "git_repository_unsafe",
			    "'%s' is not a regular file or directory where git reads one (a FIFO "
			    "could block forever): the repository is not read", path);
}

static bool plain(const char *path, struct stat *st)
{
	if (lstat(path, st) < 0)
		return errno == ENOENT;
	if (S_ISLNK(st->st_mode) && stat(path, st) < 0)
		return true; /* dangling: libgit2 fails to open it, never blocks */
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
}

static int check_tree(const char *dir, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = RP_OK;

	if (depth > SAFE_DEPTH || !(d = opendir(dir)))
		return RP_OK; /* unreadable: libgit2 will say so without blocking */
	while (!rc && (de = readdir(d))) {
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || de->d_type == DT_REG)
			continue; /* the common case costs no stat: loose objects */
		if (!(path = rp_path_join(dir, de->d_name))) {
			rc = nomem();
			break;
		}
		if (de->d_type == DT_DIR)
			rc = check_tree(path, depth + 1);
		else if (!plain(path, &st))
			rc = unsafe(path);
		else if (S_ISDIR(st.st_mode) && de->d_type == DT_UNKNOWN)
			rc = check_tree(path, depth + 1);
		free(path);
	}
	closedir(d);
	return rc;
}

/* The first line of a small regular file (a .git file, commondir). */
static char *first_line(const char *path)
{
	struct rp_buf b = RP_BUF_INIT;
	char *line;

	if (rp_read_file(&b, path, 4096, 0)) {
		rp_error_clear();
		rp_buf_release(&b);
		return NULL;
	}
	b.data[strcspn((char *)b.data, "\r\n")] = '\0';
	line = (char *)rp_buf_steal(&b, NULL);
	return line;
}

static char *resolve_from(const char *base, const char *rel)
{
	return rel[0] == '/' ? strdup(rel) : rp_path_join(base, rel);
}

/* The repository files behind work tree dir: its .git (a directory, or a
 * file naming one), and the common dir of a worktree. */
static int check_repo_files(const char *dir)
{
	char *dotgit = rp_path_join(dir, ".git"), *line = NULL, *gitdir = NULL;
	char *common_file = NULL, *common = NULL;
	struct stat st;
	int rc = RP_OK;

	if (!dotgit)
		return nomem();
	if (!plain(dotgit, &st)) {
		rc = unsafe(dotgit);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		gitdir = dotgit;
		dotgit = NULL;
	} else if (S_ISREG(st.st_mode) && (line = first_line(dotgit)) &&
		   !strncmp(line, "gitdir: ", 8)) {
		gitdir = resolve_from(dir, line + 8);
	}
	if (!gitdir)
		goto done;
	if ((rc = check_tree(gitdir, 0)))
		goto done;
	common_file = rp_path_join(gitdir, "commondir");
	free(line);
	line = common_file ? first_line(common_file) : NULL;
	if (line && *line && (common = resolve_from(gitdir, line)))
		rc = check_tree(common, 0);
done:
	free(dotgit);
	free(line);
	free(gitdir);
	free(common_file);
	free(common);
	return rc;
}

/* The workspace's .gitignore files (symlinks followed), and the
 * core.excludesFile the repository's configuration names. */
static int check_ignore_files(struct rp_git *g, const struct rp_artifact_list *l)
{
	git_config *cfg = NULL;
	git_buf excludes = { 0 };
	struct stat st;
	int rc = RP_OK;

	for (size_t i = 0; !rc && i < l->n; i++) {
		const char *p = l->v[i].path, *slash = strrchr(p, '/');
		char *full;

		if (strcmp(slash ? slash + 1 : p, ".gitignore") != 0)
			continue;
		if (!(full = rp_path_join(g->base_dir, p)))
			return nomem();
		if (!plain(full, &st))
			rc = unsafe(full);
		free(full);
	}
	if (rc)
		return rc;
	if (git_repository_config_snapshot(&cfg, g->repo) < 0)
		return corrupt(g, "reading its configuration");
	if (git_config_get_path(&excludes, cfg, "core.excludesFile") == 0 &&
	    !plain(excludes.ptr, &st))
		rc = unsafe(excludes.ptr);
	git_error_clear();
	git_buf_dispose(&excludes);
	git_config_free(cfg);
	return rc;
}

int rp_git_open(struct rp_git **out, const char *base_dir)
{
	struct rp_git *g = calloc(1, sizeof(*g));
	char *dotgit = NULL;
	struct stat st;
	int err, rc;

	*out = NULL;
	if (!g || !(g->base_dir = strdup(base_dir))) {
		rc = nomem();
		goto done;
	}
	if ((rc = lib_init(g)) || (rc = check_repo_files(base_dir)))
		goto done;
	err = git_repository_open_ext(&g->repo, base_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (err == GIT_ENOTFOUND) {
		dotgit = rp_path_join(base_dir, ".git");
		if (!dotgit)
			rc = nomem();
		else if (lstat(dotgit, &st) == 0)
			rc = corrupt(g, "'.git' is there but is not a repository");
		else
			rc = rp_error_set(RP_E_NOTFOUND, "not_a_git_repository",
					  "'%s' is not a git repository", base_dir);
		goto done;
	}
	if (err < 0) {
		rc = corrupt(g, "opening it");
		goto done;
	}
	if (git_repository_is_bare(g->repo)) {
		rc = rp_error_set(RP_E_NOTFOUND, "not_a_git_repository",
				  "'%s' is a bare git repository, not a work tree", base_dir);
		goto done;
	}
	if ((rc = check_workdir(g)) || (rc = read_head(g)))
		goto done;
	g->worktree = git_repository_is_worktree(g->repo) == 1;
	g->shallow = git_repository_is_shallow(g->repo) == 1;
	g->operation = operation_name(git_repository_state(g->repo));
	*out = g;
	g = NULL;
done:
	free(dotgit);
	rp_git_free(g);
	return rc;
}

/* ---- index ---- */

static int push_str(char ***v, size_t *n, const char *s)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (!grown)
		return nomem();
	*v = grown;
	if (!(grown[*n] = strdup(s)))
		return nomem();
	(*n)++;
	return RP_OK;
}

int rp_git_read_index(struct rp_git *g)
{
	git_index_conflict_iterator *it = NULL;
	const git_index_entry *anc, *ours, *theirs;
	git_index *idx = NULL;
	int err, rc = RP_OK;

	/* Reading refreshes nothing on disk: libgit2 writes an index only when
	 * asked to (git_index_write, or a diff or status told to update it). */
	if (git_repository_index(&idx, g->repo) < 0 || git_index_read(idx, false) < 0) {
		rc = rp_error_set(RP_E_IO, "git_index_unreadable",
				  "the git index of '%s' cannot be read: %s", g->base_dir, git_msg());
		goto done;
	}
	if (git_index_conflict_iterator_new(&it, idx) < 0) {
		rc = rp_error_set(RP_E_IO, "git_index_unreadable",
				  "the git index of '%s' cannot be read: %s", g->base_dir, git_msg());
		goto done;
	}
	while ((err = git_index_conflict_next(&anc, &ours, &theirs, it)) == 0) {
		const git_index_entry *e = ours ? ours : theirs ? theirs : anc;

		if (e && (rc = push_str(&g->unmerged, &g->unmerged_n, e->path)))
			goto done;
	}
	if (err != GIT_ITEROVER) {
		rc = rp_error_set(RP_E_IO, "git_index_unreadable",
				  "the git index of '%s' cannot be read: %s", g->base_dir, git_msg());
		goto done;
	}
	g->index = idx;
	idx = NULL;
done:
	git_index_conflict_iterator_free(it);
	git_index_free(idx);
	return rc;
}

/* ---- base ---- */

static void compute_ahead_behind(struct rp_git *g)
{
	git_oid mb;

	if (!g->has_head || !g->base_is_commit)
		return;
	if (git_oid_equal(&g->head, &g->base_commit)) {
		g->ahead_behind = true;
		return;
	}
	/* Unrelated histories have no meaningful count; a shallow clone may not
	 * have the commits to count: both leave it unknown. */
	if (git_merge_base(&mb, g->repo, &g->head, &g->base_commit) < 0 ||
	    git_graph_ahead_behind(&g->ahead, &g->behind, g->repo, &g->head, &g->base_commit) < 0) {
		git_error_clear();
		return;
	}
	g->ahead_behind = true;
}

/* HEAD and full object ids are looked up directly: libgit2 1.5's revparse
 * leaks a reference when the object it names is corrupt. */
static int lookup_revision(git_object **out, struct rp_git *g, const char *revision)
{
	git_oid id;
	int err;

	if (!revision) {
		err = git_reference_name_to_id(&id, g->repo, "HEAD");
		return err ? err : git_object_lookup(out, g->repo, &id, GIT_OBJECT_ANY);
	}
	if (strlen(revision) == GIT_OID_HEXSZ && git_oid_fromstr(&id, revision) == 0)
		return git_object_lookup(out, g->repo, &id, GIT_OBJECT_ANY);
	return git_revparse_single(out, g->repo, revision);
}

int rp_git_set_base(struct rp_git *g, const char *revision)
{
	const char *spec = revision ? revision : "HEAD";
	git_object *obj = NULL, *tree = NULL, *commit = NULL;
	int err, rc = RP_OK;

	g->has_base = g->base_is_commit = g->base_has_tree = g->ahead_behind = false;
	g->ahead = g->behind = 0;
	free(g->base_rev);
	if (!(g->base_rev = strdup(spec)))
		return nomem();
	g->base_from_manifest = revision != NULL;
	if (!revision && g->unborn) {
		/* Nothing committed yet: every file is new. */
		g->has_base = true;
		return RP_OK;
	}
	err = lookup_revision(&obj, g, revision);
	if (revision && (err == GIT_ENOTFOUND || err == GIT_EAMBIGUOUS || err == GIT_EINVALIDSPEC)) {
		rc = rp_error_set(RP_E_NOTFOUND, "diff_base_missing",
				  "base revision '%s' is not in the repository of '%s'%s: %s", spec,
				  g->base_dir, g->shallow ? " (a shallow clone)" : "", git_msg());
		goto done;
	}
	if (err < 0) {
		rc = corrupt(g, "resolving the base revision");
		goto done;
	}
	err = git_object_peel(&tree, obj, GIT_OBJECT_TREE);
	if (err == GIT_EPEEL || err == GIT_EINVALIDSPEC) {
		rc = rp_error_set(RP_E_NOTFOUND, "diff_base_missing",
				  "base revision '%s' names a %s, not a commit or a tree", spec,
				  git_object_type2string(git_object_type(obj)));
		goto done;
	}
	if (err < 0) {
		rc = corrupt(g, "reading the base tree");
		goto done;
	}
	git_oid_cpy(&g->base_tree, git_object_id(tree));
	g->base_has_tree = true;
	if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) == 0) {
		git_oid_cpy(&g->base_commit, git_object_id(commit));
		g->base_is_commit = true;
	}
	git_error_clear();
	g->has_base = true;
	compute_ahead_behind(g);
done:
	git_object_free(commit);
	git_object_free(tree);
	git_object_free(obj);
	return rc;
}

bool rp_git_has_base(const struct rp_git *g)
{
	return g && g->has_base;
}

/* ---- comparison ---- */

struct base_list {
	struct base_entry *v;
	size_t n, cap;
	int rc;
};

static int collect_entry(const char *root, const git_tree_entry *e, void *payload)
{
	struct base_list *b = payload;
	struct base_entry *x;
	git_filemode_t mode = git_tree_entry_filemode(e);

	if (mode == GIT_FILEMODE_TREE)
		return 0;
	if (rp_array_grow(&b->v, &b->cap, b->n, sizeof(*b->v))) {
		b->rc = RP_E_NOMEM;
		return -1;
	}
	x = &b->v[b->n];
	if (asprintf(&x->path, "%s%s", root, git_tree_entry_name(e)) < 0) {
		b->rc = nomem();
		return -1;
	}
	x->mode = (uint32_t)mode;
	git_oid_cpy(&x->id, git_tree_entry_id(e));
	b->n++;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct base_entry *)a)->path, ((const struct base_entry *)b)->path);
}

static int read_base(struct base_list *b, struct rp_git *g)
{
	git_tree *tree = NULL;
	int rc = RP_OK;

	if (!g->base_has_tree)
		return RP_OK;
	if (git_tree_lookup(&tree, g->repo, &g->base_tree) < 0 ||
	    git_tree_walk(tree, GIT_TREEWALK_PRE, collect_entry, b) < 0)
		rc = b->rc ? b->rc : corrupt(g, "reading the base tree");
	git_tree_free(tree);
	if (!rc && b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), entry_cmp);
	return rc;
}

static void base_release(struct base_list *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].path);
	free(b->v);
}

static const struct base_entry *base_find(const struct base_list *b, const char *path)
{
	struct base_entry key = { .path = (char *)(uintptr_t)path };

	return b->n ? bsearch(&key, b->v, b->n, sizeof(*b->v), entry_cmp) : NULL;
}

/* true when some base entry lies under directory dir. */
static bool base_has_under(const struct base_list *b, const char *dir)
{
	size_t len = strlen(dir), lo = 0, hi = b->n;

	/* The first entry not before "dir/"; every "dir/..." path sorts together. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(b->v[mid].path, dir, len);

		if (c < 0 || (c == 0 && (unsigned char)b->v[mid].path[len] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->n && strncmp(b->v[lo].path, dir, len) == 0 && b->v[lo].path[len] == '/';
}

static int add_change(struct rp_git *g, const char *path, uint32_t mode, const git_oid *id,
		      uint64_t size, const char *link)
{
	struct change *c;

	if (rp_array_grow(&g->changes, &g->changes_cap, g->changes_n, sizeof(*g->changes)))
		return RP_E_NOMEM;
	c = &g->changes[g->changes_n];
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->size = size;
	if (id)
		git_oid_cpy(&c->id, id);
	if (!(c->path = strdup(path)) || (link && !(c->link = strdup(link)))) {
		free(c->path);
		return nomem();
	}
	g->changes_n++;
	return RP_OK;
}

static int add_submodule(struct rp_git *g, const char *path, const git_oid *base,
			 const git_oid *workdir)
{
	struct submodule *s;

	if (rp_array_grow(&g->subs, &g->subs_cap, g->subs_n, sizeof(*g->subs)))
		return RP_E_NOMEM;
	s = &g->subs[g->subs_n];
	memset(s, 0, sizeof(*s));
	if (!(s->path = strdup(path)))
		return nomem();
	if ((s->in_base = base != NULL))
		git_oid_cpy(&s->base, base);
	if ((s->in_workdir = workdir != NULL))
		git_oid_cpy(&s->workdir, workdir);
	g->subs_n++;
	return RP_OK;
}

static bool in_index(const struct rp_git *g, const char *path)
{
	return g->index && git_index_find(NULL, g->index, path) == 0;
}

static int is_ignored(bool *out, struct rp_git *g, const char *path)
{
	int ignored = 0;

	if (git_ignore_path_is_ignored(&ignored, g->repo, path) < 0)
		return corrupt(g, "reading its ignore rules");
	*out = ignored != 0;
	return RP_OK;
}

/* Whether base_dir/path is a repository, and the commit checked out in it
 * (out may be NULL). */
static bool nested_repo(git_oid *out, bool *has_commit, const struct rp_git *g,
			const char *path)
{
	git_repository *sub = NULL;
	char *dir = rp_path_join(g->base_dir, path);
	git_oid id;
	bool ok;

	ok = dir && check_repo_files(dir) == RP_OK &&
	     git_repository_open_ext(&sub, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0;
	*has_commit = ok && git_reference_name_to_id(out ? out : &id, sub, "HEAD") == 0;
	git_error_clear();
	rp_error_clear();
	git_repository_free(sub);
	free(dir);
	return ok;
}

static int root_cmp(const void *a, const void *b)
{
	return strcmp(((const struct root *)a)->path, ((const struct root *)b)->path);
}

/* The submodule roots: the base's gitlinks, and the workspace's nested
 * repositories the base tracks no files under (a repository inside a
 * tracked directory is not git's business: its files are compared, and so
 * are those of a directory whose .git is no repository, as git does). */
static int find_roots(struct root **out, size_t *out_n, struct rp_git *g,
		      const struct base_list *b, const struct rp_artifact_list *l)
{
	struct root *v = calloc(b->n + l->repos_n + 1, sizeof(*v));
	size_t n = 0, kept = 0;
	int rc = RP_OK;

	if (!v)
		return nomem();
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].mode == MODE_GITLINK)
			v[n++] = (struct root){ .path = b->v[i].path, .base = &b->v[i], .gitlink = true };
	for (size_t i = 0; i < l->repos_n; i++) {
		const struct base_entry *e = base_find(b, l->repos[i]);
		bool has_commit;

		if (e && e->mode == MODE_GITLINK)
			continue;
		if (!base_has_under(b, l->repos[i]) && nested_repo(NULL, &has_commit, g, l->repos[i]))
			v[n++] = (struct root){ .path = l->repos[i], .base = e };
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), root_cmp);
	/* A repository inside another submodule belongs to that one. */
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (kept) {
			len = strlen(v[kept - 1].path);
			if (strncmp(v[i].path, v[kept - 1].path, len) == 0 && v[i].path[len] == '/')
				continue;
		}
		v[kept++] = v[i];
	}
	for (size_t i = 0; !rc && i < kept; i++)
		if (!v[i].gitlink && !in_index(g, v[i].path))
			rc = is_ignored(&v[i].ignored, g, v[i].path);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*out_n = kept;
	return RP_OK;
}

/* The root path lies in, or NULL. */
static const struct root *root_of(const struct root *roots, size_t n, const char *path)
{
	char prefix[PATH_MAX];
	const char *slash;

	for (slash = strchr(path, '/'); n && slash; slash = strchr(slash + 1, '/')) {
		size_t len = (size_t)(slash - path);
		struct root key = { .path = prefix };
		const struct root *r;

		if (len >= sizeof(prefix))
			break;
		memcpy(prefix, path, len);
		prefix[len] = '\0';
		r = bsearch(&key, roots, n, sizeof(*roots), root_cmp);
		if (r)
			return r;
	}
	return NULL;
}

static uint32_t artifact_mode(const struct rp_artifact *a)
{
	if (a->type == RP_ART_SYMLINK)
		return MODE_LINK;
	return (a->mode & 0100) ? MODE_EXEC : MODE_BLOB;
}

/* A file whose size changed while it was hashed: its id now. */
static int blob_id_now(uint64_t *size, struct rp_git *g, struct rp_artifact *a)
{
	struct rp_buf b = RP_BUF_INIT;
	unsigned char chunk[1 << 16];
	ssize_t n = 0;
	int fd = rp_enum_open(g->base_dir, a->path), rc = RP_OK;

	if (fd < 0)
		return fd;
	while ((n = rp_read_some(fd, chunk, sizeof(chunk))) > 0)
		if ((rc = rp_buf_append(&b, chunk, (size_t)n)))
			break;
	if (!rc && n < 0)
		rc = rp_error_set_errno(RP_E_IO, "artifact_unreadable", errno, "cannot read '%s'",
					a->path);
	if (!rc && (rc = rp_enum_blob_id(a->git_id, b.data, b.len)) == RP_OK) {
		a->git_id_valid = true;
		*size = b.len;
	}
	close(fd);
	rp_buf_release(&b);
	return rc;
}

static bool unreadable(const struct rp_artifact *a)
{
	return a->reason && strcmp(a->reason, "unreadable") == 0;
}

/* The artifact's blob id, computed again if the enumeration could not. */
static bool artifact_id(uint64_t *size, struct rp_git *g, struct rp_artifact *a)
{
	*size = a->size;
	if (unreadable(a))
		return false;
	if (!a->git_id_valid && (a->type != RP_ART_FILE || blob_id_now(size, g, a))) {
		rp_error_clear();
		return false;
	}
	return true;
}

/* A workspace file or symlink that goes into the new tree. The diff will
 * refuse to run when one cannot be read: it would not be exact. */
static int add_artifact(struct rp_git *g, struct rp_artifact *a)
{
	uint64_t size;
	git_oid id;

	a->changed = true;
	if (!artifact_id(&size, g, a)) {
		if (!g->unreadable && !(g->unreadable = strdup(a->path)))
			return nomem();
		return RP_OK;
	}
	git_oid_fromraw(&id, a->git_id);
	return add_change(g, a->path, artifact_mode(a), &id, size, a->link_target);
}

/* A path the base does not have. */
static int compare_new(struct rp_git *g, struct rp_artifact *a)
{
	bool ignored = false;
	int rc;

	if (in_index(g, a->path)) {
		g->counts.added++;
		return add_artifact(g, a);
	}
	if ((rc = is_ignored(&ignored, g, a->path)))
		return rc;
	if (ignored) {
		a->ignored = true;
		g->counts.ignored++;
		return RP_OK;
	}
	g->counts.untracked++;
	return add_artifact(g, a);
}

static int compare_both(struct rp_git *g, const struct base_entry *e, struct rp_artifact *a)
{
	uint32_t mode = artifact_mode(a);
	uint64_t size;
	git_oid id;
	int rc;

	if (e->mode == MODE_GITLINK) {
		/* A submodule replaced by a file or a symlink. */
		g->counts.typechanged++;
		if ((rc = add_submodule(g, e->path, &e->id, NULL)))
			return rc;
		return add_artifact(g, a);
	}
	if (artifact_id(&size, g, a)) {
		git_oid_fromraw(&id, a->git_id);
		if (mode == e->mode && git_oid_equal(&id, &e->id))
			return RP_OK;
	}
	if ((mode == MODE_LINK) != (e->mode == MODE_LINK))
		g->counts.typechanged++;
	else
		g->counts.modified++;
	return add_artifact(g, a);
}

static int artifact_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_artifact *)a)->path, ((const struct rp_artifact *)b)->path);
}

static int compare_root(struct rp_git *g, const struct root *r, const struct rp_artifact_list *l)
{
	struct rp_artifact key = { .path = (char *)(uintptr_t)r->path };
	const struct rp_artifact *a;
	git_oid wd;
	bool have_wd, exists;
	struct stat st;
	char *dir;
	int rc;

	/* A file or symlink now where the submodule was: compared as such. */
	a = l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), artifact_cmp) : NULL;
	if (a && a->type != RP_ART_OTHER)
		return RP_OK;
	if (r->ignored)
		return RP_OK;
	nested_repo(&wd, &have_wd, g, r->path);
	if (!(dir = rp_path_join(g->base_dir, r->path)))
		return nomem();
	exists = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	free(dir);
	if (r->gitlink) {
		if ((rc = add_submodule(g, r->path, &r->base->id, have_wd ? &wd : NULL)))
			return rc;
		if (!exists) {
			g->counts.deleted++;
			return add_change(g, r->path, 0, NULL, 0, NULL);
		}
		/* An uninitialised submodule (no repository there) is unchanged,
		 * as git sees it. */
		if (!have_wd || git_oid_equal(&wd, &r->base->id))
			return RP_OK;
		g->counts.modified++;
		return add_change(g, r->path, MODE_GITLINK, &wd, 0, NULL);
	}
	if ((rc = add_submodule(g, r->path, NULL, have_wd ? &wd : NULL)))
		return rc;
	/* A repository without a commit cannot be recorded as a gitlink. */
	if (!have_wd)
		return RP_OK;
	if (in_index(g, r->path))
		g->counts.added++;
	else
		g->counts.untracked++;
	return add_change(g, r->path, MODE_GITLINK, &wd, 0, NULL);
}

static void reset_comparison(struct rp_git *g)
{
	for (size_t i = 0; i < g->changes_n; i++) {
		free(g->changes[i].path);
		free(g->changes[i].link);
	}
	for (size_t i = 0; i < g->subs_n; i++)
		free(g->subs[i].path);
	g->changes_n = 0;
	g->subs_n = 0;
	free(g->unreadable);
	g->unreadable = NULL;
	memset(&g->counts, 0, sizeof(g->counts));
	g->compared = false;
}

int rp_git_compare(struct rp_git *g, struct rp_artifact_list *l)
{
	struct base_list b = { NULL, 0, 0, RP_OK };
	struct root *roots = NULL;
	size_t roots_n = 0, i = 0, j = 0;
	int rc;

	if (!g->has_base)
		return rp_error_set(RP_E_INTERNAL, NULL, "no git base to compare with");
	reset_comparison(g);
	for (size_t k = 0; k < l->n; k++) {
		l->v[k].changed = false;
		l->v[k].ignored = false;
	}
	if ((rc = check_ignore_files(g, l)) || (rc = read_base(&b, g)) ||
	    (rc = find_roots(&roots, &roots_n, g, &b, l)))
		goto done;
	/* Both lists are sorted by path bytes: one merge pass. */
	while (!rc && (i < b.n || j < l->n)) {
		struct rp_artifact *a = j < l->n ? &l->v[j] : NULL;
		const struct base_entry *e = i < b.n ? &b.v[i] : NULL;
		int c = !a ? -1 : !e ? 1 : strcmp(e->path, a->path);

		if (a && c >= 0) {
			const struct root *r = root_of(roots, roots_n, a->path);

			j++;
			if (r || a->type == RP_ART_OTHER) {
				/* Inside a submodule, or a FIFO, socket or device:
				 * not this repository's to track (a base entry at
				 * the same path is then deleted, next round). */
				if (r && r->ignored) {
					a->ignored = true;
					g->counts.ignored++;
				}
				continue;
			}
			if (c == 0) {
				i++;
				rc = compare_both(g, e, a);
			} else {
				rc = compare_new(g, a);
			}
			continue;
		}
		i++;
		if (!e || e->mode == MODE_GITLINK)
			continue; /* compare_root() decides */
		g->counts.deleted++;
		rc = add_change(g, e->path, 0, NULL, 0, NULL);
	}
	for (size_t k = 0; !rc && k < roots_n; k++)
		rc = compare_root(g, &roots[k], l);
	if (!rc)
		g->compared = true;
done:
	free(roots);
	base_release(&b);
	return rc;
}

/* ---- the diff ---- */

/*
 * The object database the diff reads: an in-memory one (mempack) for the
 * trees written here, over this backend, which serves the changed workspace
 * files as blobs and everything else from the repository's own database. It
 * has no write and no freshen callbacks, so nothing reaches the disk: a
 * plain git_odb_write() of an object that already exists on disk would
 * touch that object file's mtime.
 */
struct ws_backend {
	git_odb_backend parent;
	git_odb *repo_odb;
	const char *base_dir;
	const struct change **blobs;  /* sorted by id */
	size_t n;
	int failed;  /* rp_code of a file that no longer matches (rp_error set) */
};

static int change_id_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&(*(const struct change *const *)a)->id,
			   &(*(const struct change *const *)b)->id);
}

static const struct change *ws_find(const struct ws_backend *wb, const git_oid *id)
{
	struct change key, *kp = &key;
	const struct change *const *hit;

	if (!wb->n)
		return NULL;
	git_oid_cpy(&key.id, id);
	hit = bsearch(&kp, wb->blobs, wb->n, sizeof(*wb->blobs), change_id_cmp);
	return hit ? *hit : NULL;
}

/* A changed file's content, checked against the id the comparison used:
 * the patch must say what the package's other entries say. */
static int ws_read_file(struct ws_backend *wb, const struct change *c, unsigned char *data)
{
	unsigned char id[RP_GIT_ID_LEN], extra;
	uint64_t got = 0;
	ssize_t n = 1;
	int fd, rc = RP_OK;

	fd = rp_enum_open(wb->base_dir, c->path);
	if (fd < 0)
		return rp_error_set(RP_E_IO, "diff_failed",
				    "'%s' changed while the diff was made: %s", c->path,
				    rp_error_last()->msg);
	while (got < c->size && (n = rp_read_some(fd, data + got, (size_t)(c->size - got))) > 0)
		got += (uint64_t)n;
	if (n < 0 || rp_read_some(fd, &extra, 1) != 0 || got != c->size)
		rc = rp_error_set(RP_E_IO, "diff_failed", "'%s' changed while the diff was made",
				  c->path);
	else if ((rc = rp_enum_blob_id(id, data, got)) == RP_OK &&
		 memcmp(id, c->id.id, RP_GIT_ID_LEN) != 0)
		rc = rp_error_set(RP_E_IO, "diff_failed", "'%s' changed while the diff was made",
				  c->path);
	close(fd);
	return rc;
}

static int ws_read(void **data, size_t *len, git_object_t *type, git_odb_backend *b,
		   const git_oid *id)
{
	struct ws_backend *wb = (struct ws_backend *)b;
	const struct change *c = ws_find(wb, id);
	git_odb_object *obj = NULL;
	unsigned char *buf;
	int err;

	if (!c) {
		if ((err = git_odb_read(&obj, wb->repo_odb, id)) < 0)
			return err;
		*len = git_odb_object_size(obj);
		*type = git_odb_object_type(obj);
		buf = git_odb_backend_data_alloc(b, *len ? *len : 1);
		if (buf)
			memcpy(buf, git_odb_object_data(obj), *len);
		git_odb_object_free(obj);
		if (!buf)
			return -1;
		*data = buf;
		return 0;
	}
	if (c->size > SIZE_MAX - 1 || !(buf = git_odb_backend_data_alloc(b, (size_t)c->size + 1)))
		return -1;
	if (c->link) {
		memcpy(buf, c->link, (size_t)c->size);
	} else if ((err = ws_read_file(wb, c, buf)) < 0) {
		git_odb_backend_data_free(b, buf);
		wb->failed = err;
		git_error_set_str(GIT_ERROR_ODB, rp_error_last()->msg);
		return -1;
	}
	*data = buf;
	*len = (size_t)c->size;
	*type = GIT_OBJECT_BLOB;
	return 0;
}

static int ws_read_header(size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *id)
{
	struct ws_backend *wb = (struct ws_backend *)b;
	const struct change *c = ws_find(wb, id);

	if (!c)
		return git_odb_read_header(len, type, wb->repo_odb, id);
	*len = (size_t)c->size;
	*type = GIT_OBJECT_BLOB;
	return 0;
}

static int ws_exists(git_odb_backend *b, const git_oid *id)
{
	struct ws_backend *wb = (struct ws_backend *)b;

	/* A miss is the normal case (a new tree): no rescan of the pack dir. */
	return ws_find(wb, id) != NULL ||
	       git_odb_exists_ext(wb->repo_odb, id, GIT_ODB_LOOKUP_NO_REFRESH);
}

static void ws_free(git_odb_backend *b)
{
	struct ws_backend *wb = (struct ws_backend *)b;

	git_odb_free(wb->repo_odb);
	free(wb->blobs);
	free(wb);
}

static int ws_backend_new(struct ws_backend **out, struct rp_git *g)
{
	struct ws_backend *wb = calloc(1, sizeof(*wb));

	*out = NULL;
	if (!wb)
		return nomem();
	if (git_odb_init_backend(&wb->parent, GIT_ODB_BACKEND_VERSION) < 0) {
		free(wb);
		return rp_error_set(RP_E_INTERNAL, NULL, "libgit2: %s", git_msg());
	}
	wb->parent.read = ws_read;
	wb->parent.read_header = ws_read_header;
	wb->parent.exists = ws_exists;
	wb->parent.free = ws_free;
	wb->base_dir = g->base_dir;
	wb->blobs = calloc(g->changes_n + 1, sizeof(*wb->blobs));
	if (!wb->blobs) {
		free(wb);
		return nomem();
	}
	for (size_t i = 0; i < g->changes_n; i++)
		if (g->changes[i].mode && g->changes[i].mode != MODE_GITLINK)
			wb->blobs[wb->n++] = &g->changes[i];
	if (wb->n > 1)
		qsort(wb->blobs, wb->n, sizeof(*wb->blobs), change_id_cmp);
	if (git_repository_odb(&wb->repo_odb, g->repo) < 0) {
		ws_free(&wb->parent);
		return corrupt(g, "opening its object database");
	}
	*out = wb;
	return RP_OK;
}

/* The workspace's tree: the base tree with the changes applied, in an
 * in-memory index written to the in-memory object database. */
static int build_tree(git_tree **base, git_tree **tree, struct rp_git *g, git_repository *mem)
{
	git_index *idx = NULL;
	git_oid id;
	int rc = RP_OK;

	*base = *tree = NULL;
	if (g->base_has_tree && git_tree_lookup(base, mem, &g->base_tree) < 0)
		return corrupt(g, "reading the base tree");
	if (git_index_new(&idx) < 0 || (*base && git_index_read_tree(idx, *base) < 0)) {
		rc = corrupt(g, "reading the base tree");
		goto done;
	}
	/* Removals first: a file may give way to a directory of the same name. */
	for (size_t i = 0; i < g->changes_n; i++) {
		if (!g->changes[i].mode && git_index_remove(idx, g->changes[i].path, 0) < 0 &&
		    git_error_last() && git_error_last()->klass != GIT_ERROR_INDEX) {
			rc = rp_error_set(RP_E_INTERNAL, "diff_failed", "building the tree: %s",
					  git_msg());
			goto done;
		}
	}
	for (size_t i = 0; i < g->changes_n; i++) {
		const struct change *c = &g->changes[i];
		git_index_entry e;

		if (!c->mode)
			continue;
		memset(&e, 0, sizeof(e));
		e.path = c->path;
		e.mode = c->mode;
		e.file_size = c->size > UINT32_MAX ? UINT32_MAX : (uint32_t)c->size;
		git_oid_cpy(&e.id, &c->id);
		if (git_index_add(idx, &e) < 0) {
			rc = rp_error_set(RP_E_INVALID, "diff_failed", "'%s' cannot be in a git tree: %s",
					  c->path, git_msg());
			goto done;
		}
	}
	if (git_index_write_tree_to(&id, idx, mem) < 0 || git_tree_lookup(tree, mem, &id) < 0)
		rc = rp_error_set(RP_E_INTERNAL, "diff_failed", "building the tree: %s", git_msg());
done:
	git_index_free(idx);
	if (rc) {
		git_tree_free(*base);
		*base = NULL;
	}
	return rc;
}

#define PRINT_BUF (64u * 1024u)

/* Lines are gathered into PRINT_BUF-sized writes: a sink call per line
 * would cost a syscall per line of the patch. */
struct printer {
	rp_git_sink sink;
	void *ctx;
	uint64_t max, bytes;
	int rc;           /* the sink's failure */
	bool too_large;
	size_t held;
	char buf[PRINT_BUF];
};

static int print_flush(struct printer *p)
{
	if (p->held && !p->rc)
		p->rc = p->sink(p->ctx, p->buf, p->held);
	p->held = 0;
	return p->rc;
}

static int print_put(struct printer *p, const char *s, size_t n)
{
	while (n) {
		size_t take = PRINT_BUF - p->held < n ? PRINT_BUF - p->held : n;

		memcpy(p->buf + p->held, s, take);
		p->held += take;
		s += take;
		n -= take;
		if (p->held == PRINT_BUF && print_flush(p))
			return p->rc;
	}
	return RP_OK;
}

static int print_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
		      const git_diff_line *line, void *payload)
{
	struct printer *p = payload;
	char origin = line->origin;
	bool prefix = origin == GIT_DIFF_LINE_CONTEXT || origin == GIT_DIFF_LINE_ADDITION ||
		      origin == GIT_DIFF_LINE_DELETION;
	uint64_t n = (uint64_t)line->content_len + prefix;

	(void)delta;
	(void)hunk;
	if (n > p->max - p->bytes) {
		p->too_large = true;
		return 1;
	}
	if ((prefix && print_put(p, &origin, 1)) || print_put(p, line->content, line->content_len))
		return 1;
	p->bytes += n;
	return 0;
}

static int print_one(git_diff *diff, size_t i, struct printer *p)
{
	git_patch *patch = NULL;
	int err = git_patch_from_diff(&patch, diff, i);

	if (!err)
		err = git_patch_print(patch, print_line, p);
	git_patch_free(patch);
	return err;
}

/* A typechange is split into an addition and a deletion of one path, which
 * libgit2 sorts addition first; git apply needs the deletion first (else
 * "already exists"), as git diff prints it. Each file's patch is made and
 * printed on its own, so memory holds one file's at a time. */
static int print_patches(git_diff *diff, struct printer *p)
{
	size_t n = git_diff_num_deltas(diff);
	int err = 0;

	for (size_t i = 0; !err && i < n; i++) {
		const git_diff_delta *a = git_diff_get_delta(diff, i);
		const git_diff_delta *b = i + 1 < n ? git_diff_get_delta(diff, i + 1) : NULL;

		if (b && a->status == GIT_DELTA_ADDED && b->status == GIT_DELTA_DELETED &&
		    strcmp(a->new_file.path, b->old_file.path) == 0) {
			err = print_one(diff, i + 1, p);
			if (!err)
				err = print_one(diff, i, p);
			i++;
			continue;
		}
		err = print_one(diff, i, p);
	}
	return err;
}

int rp_git_diff(struct rp_git_diff_stats *out, struct rp_git *g, uint64_t max_bytes,
		rp_git_sink sink, void *ctx)
{
	git_diff_options opts;
	git_diff_find_options find;
	struct printer *p = NULL;
	struct ws_backend *wb = NULL, *ws; /* ws: borrowed once the odb owns it */
	git_odb_backend *mempack = NULL;
	git_odb *odb = NULL;
	git_repository *mem = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_diff *diff = NULL;
	int err, rc;

	memset(out, 0, sizeof(*out));
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION);
	if (!g->compared)
		return rp_error_set(RP_E_INTERNAL, NULL, "the workspace was not compared with a base");
	if (g->unreadable)
		return rp_error_set(RP_E_IO, "diff_failed",
				    "'%s' changed but cannot be read: the diff would not be exact",
				    g->unreadable);
	if (!(p = calloc(1, sizeof(*p))))
		return nomem();
	p->sink = sink;
	p->ctx = ctx;
	p->max = max_bytes;
	if ((rc = ws_backend_new(&wb, g)))
		goto done;
	ws = wb;
	if (git_odb_new(&odb) < 0 || git_mempack_new(&mempack) < 0 ||
	    git_odb_add_backend(odb, mempack, 2) < 0) {
		rc = rp_error_set(RP_E_INTERNAL, "diff_failed", "libgit2: %s", git_msg());
		goto done;
	}
	/* The odb owns a backend once added; until then this function does. */
	mempack = NULL;
	if (git_odb_add_backend(odb, &wb->parent, 1) < 0) {
		rc = rp_error_set(RP_E_INTERNAL, "diff_failed", "libgit2: %s", git_msg());
		goto done;
	}
	wb = NULL;
	if (git_repository_wrap_odb(&mem, odb) < 0) {
		rc = rp_error_set(RP_E_INTERNAL, "diff_failed", "libgit2: %s", git_msg());
		goto done;
	}
	if ((rc = build_tree(&base, &tree, g, mem)))
		goto done;
	/* Typechanges stay a deletion plus an addition (git apply cannot turn a
	 * file into a symlink in one patch); exact renames are cheap to find
	 * and keep a moved binary file from being spelled out twice. */
	opts.flags = GIT_DIFF_SHOW_BINARY;
	find.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_EXACT_MATCH_ONLY;
	if (git_diff_tree_to_tree(&diff, mem, base, tree, &opts) < 0 ||
	    git_diff_find_similar(diff, &find) < 0) {
		rc = corrupt(g, "comparing the trees");
		goto done;
	}
	err = print_patches(diff, p);
	if (!err && !p->too_large)
		print_flush(p);
	if (p->too_large) {
		rc = rp_error_set(RP_E_TOOLARGE, "diff_too_large",
				  "the diff is larger than the policy's artifacts.maxDiffBytes "
				  "(%llu bytes); it is left out", (unsigned long long)max_bytes);
	} else if (p->rc) {
		rc = p->rc;
	} else if (ws->failed) {
		rc = ws->failed; /* its rp_error is still the last one */
	} else if (err < 0) {
		rc = corrupt(g, "making the diff");
	}
	if (!rc) {
		out->files = git_diff_num_deltas(diff);
		out->bytes = p->bytes;
	}
done:
	free(p);
	git_diff_free(diff);
	git_tree_free(tree);
	git_tree_free(base);
	git_repository_free(mem);
	git_odb_free(odb);
	if (mempack)
		mempack->free(mempack);
	if (wb)
		ws_free(&wb->parent);
	return rc;
}

/* ---- result.json ---- */

static json_t *oid_json(const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	return json_string(hex);
}

static json_t *path_object(const char *path)
{
	json_t *o = json_object();

	if (o && rp_enum_json_set_path(o, "path", path) < 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *base_json(const struct rp_git *g)
{
	json_t *o;

	if (!g->has_base)
		return json_null();
	o = json_pack("{s:s, s:s}", "source", g->base_from_manifest ? "baseRevision" : "HEAD",
		      "revision", "");
	if (!o)
		return NULL;
	rp_enum_json_set_path(o, "revision", g->base_rev ? g->base_rev : "HEAD");
	json_object_set_new(o, "commit", g->base_is_commit ? oid_json(&g->base_commit) : json_null());
	json_object_set_new(o, "tree", g->base_has_tree ? oid_json(&g->base_tree) : json_null());
	return o;
}

json_t *rp_git_to_json(const struct rp_git *g)
{
	json_t *o, *unmerged, *subs;

	o = json_pack("{s:b, s:b, s:b}", "repository", 1, "worktree", g->worktree,
		      "shallow", g->shallow);
	if (!o)
		return NULL;
	if (g->branch)
		rp_enum_json_set_path(o, "branch", g->branch);
	else
		json_object_set_new(o, "branch", json_null());
	json_object_set_new(o, "detached", json_boolean(g->detached));
	json_object_set_new(o, "unborn", json_boolean(g->unborn));
	json_object_set_new(o, "head", g->has_head ? oid_json(&g->head) : json_null());
	json_object_set_new(o, "base", base_json(g));
	json_object_set_new(o, "aheadBehind", g->ahead_behind
		? json_pack("{s:I, s:I}", "ahead", (json_int_t)g->ahead, "behind", (json_int_t)g->behind)
		: json_null());
	json_object_set_new(o, "operation", g->operation ? json_string(g->operation) : json_null());
	unmerged = g->index ? json_array() : json_null();
	for (size_t i = 0; g->index && i < g->unmerged_n; i++)
		json_array_append_new(unmerged, path_object(g->unmerged[i]));
	json_object_set_new(o, "unmerged", unmerged);
	json_object_set_new(o, "counts", g->compared
		? json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			    "modified", (json_int_t)g->counts.modified,
			    "added", (json_int_t)g->counts.added,
			    "deleted", (json_int_t)g->counts.deleted,
			    "untracked", (json_int_t)g->counts.untracked,
			    "ignored", (json_int_t)g->counts.ignored,
			    "typechanged", (json_int_t)g->counts.typechanged)
		: json_null());
	subs = json_array();
	for (size_t i = 0; i < g->subs_n; i++) {
		const struct submodule *s = &g->subs[i];
		json_t *so = path_object(s->path);

		if (!so)
			continue;
		json_object_set_new(so, "baseCommit", s->in_base ? oid_json(&s->base) : json_null());
		json_object_set_new(so, "workdirCommit",
				    s->in_workdir ? oid_json(&s->workdir) : json_null());
		json_object_set_new(so, "changed", json_boolean(
			s->in_base != s->in_workdir ||
			(s->in_base && !git_oid_equal(&s->base, &s->workdir))));
		json_array_append_new(subs, so);
	}
	json_object_set_new(o, "submodules", subs);
	return o;
}

void rp_git_free(struct rp_git *g)
{
	if (!g)
		return;
	reset_comparison(g);
	free(g->changes);
	free(g->subs);
	for (size_t i = 0; i < g->unmerged_n; i++)
		free(g->unmerged[i]);
	free(g->unmerged);
	git_index_free(g->index);
	git_repository_free(g->repo);
	free(g->branch);
	free(g->base_rev);
	free(g->base_dir);
	if (g->lib)
		git_libgit2_shutdown();
	free(g);
}
