#include "harness.h"
#include "rp_buf.h"
#include "rp_enum.h"
#include "rp_error.h"
#include "rp_git.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char ws[512];

/* Run a shell command in the test's scratch dir; it must succeed. */
static __attribute__((format(printf, 1, 2))) void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", harness_tmpdir());
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		snprintf(harness_why, sizeof(harness_why), "command failed: %.900s", cmd);
		longjmp(harness_jmp, 1);
	}
}

/* The first line a command prints. */
static void sh_out(char *out, size_t cap, const char *cmd)
{
	char full[2048];
	FILE *p;

	snprintf(full, sizeof(full), "cd '%s' && %s", harness_tmpdir(), cmd);
	p = popen(full, "r");
	CHECK(p != NULL);
	CHECK(fgets(out, (int)cap, p) != NULL);
	out[strcspn(out, "\n")] = '\0';
	CHECK(pclose(p) == 0);
}

/* A fresh repository "name" with the sample files committed on main. */
static void make_repo(const char *name)
{
	snprintf(ws, sizeof(ws), "%s/%s", harness_tmpdir(), name);
	sh("rm -rf %s && git init -q -b main %s && cd %s && mkdir -p src docs && "
	   "printf 'hello\\n' >README.md && printf 'int x;\\n' >src/a.c && "
	   "printf 'task\\n' >docs/task.md && printf 'bin\\0ary\\1' >blob.bin && "
	   "printf '*.tmp\\nbuild/\\n' >.gitignore && git add -A && git commit -q -m base",
	   name, name, name);
}

struct sink {
	struct rp_buf b;
	int fail_after;  /* calls before failing; 0 = never */
	int calls;
};

static int sink_cb(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (s->fail_after && ++s->calls >= s->fail_after)
		return rp_error_set(RP_E_IO, "sink_failed", "sink failed on purpose");
	return rp_buf_append(&s->b, p, n);
}

static void enumerate(struct rp_artifact_list *l)
{
	const struct rp_enum_opts eo = {
		.max_file_bytes = 1 << 20, .max_total_bytes = 1 << 24, .git_ids = true,
	};

	CHECK_INT(rp_enum_workspace(l, ws, &eo), RP_OK);
}

static struct rp_git *open_ok(const char *base)
{
	struct rp_git *g = NULL;

	CHECK_INT(rp_git_open(&g, ws), RP_OK);
	CHECK_INT(rp_git_read_index(g), RP_OK);
	CHECK_INT(rp_git_set_base(g, base), RP_OK);
	return g;
}

static const struct rp_artifact *find(const struct rp_artifact_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return &l->v[i];
	return NULL;
}

static json_t *counts(const json_t *git)
{
	return json_object_get(git, "counts");
}

static long long count(const json_t *git, const char *what)
{
	return json_integer_value(json_object_get(counts(git), what));
}

static void write_text(const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", ws, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

static void test_not_a_repository(void)
{
	struct rp_git *g = (struct rp_git *)1;

	snprintf(ws, sizeof(ws), "%s/plain", harness_tmpdir());
	CHECK(mkdir(ws, 0755) == 0);
	CHECK_INT(rp_git_open(&g, ws), RP_E_NOTFOUND);
	CHECK(g == NULL);
	CHECK_STR(rp_error_last()->id, "not_a_git_repository");
	/* A bare repository has no work tree to compare. */
	sh("git init -q --bare bare.git");
	snprintf(ws, sizeof(ws), "%s/bare.git", harness_tmpdir());
	CHECK_INT(rp_git_open(&g, ws), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "not_a_git_repository");
}

static void test_state(void)
{
	char head[64];
	struct rp_git *g;
	json_t *j;

	make_repo("state");
	sh("cd state && printf 'more\\n' >>README.md && git commit -q -am second");
	sh_out(head, sizeof(head), "git -C state rev-parse HEAD");
	g = open_ok("HEAD~1");
	j = rp_git_to_json(g);
	CHECK(json_is_true(json_object_get(j, "repository")));
	CHECK_STR(json_string_value(json_object_get(j, "branch")), "main");
	CHECK(json_is_false(json_object_get(j, "detached")));
	CHECK(json_is_false(json_object_get(j, "worktree")));
	CHECK(json_is_false(json_object_get(j, "shallow")));
	CHECK_STR(json_string_value(json_object_get(j, "head")), head);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "base"), "revision")),
		  "HEAD~1");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "base"), "source")),
		  "baseRevision");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "aheadBehind"), "ahead")), 1);
	CHECK(json_is_null(json_object_get(j, "operation")));
	CHECK(json_is_null(counts(j))); /* not compared yet */
	CHECK_INT(json_array_size(json_object_get(j, "unmerged")), 0);
	json_decref(j);
	rp_git_free(g);

	/* Detached HEAD, base defaulting to HEAD. */
	sh("git -C state checkout -q --detach HEAD~1");
	g = open_ok(NULL);
	j = rp_git_to_json(g);
	CHECK(json_is_true(json_object_get(j, "detached")));
	CHECK(json_is_null(json_object_get(j, "branch")));
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "base"), "source")),
		  "HEAD");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "aheadBehind"), "behind")),
		  0);
	json_decref(j);
	rp_git_free(g);
}

static void test_base_errors(void)
{
	struct rp_git *g = NULL;
	char blob[64];

	make_repo("base");
	CHECK_INT(rp_git_open(&g, ws), RP_OK);
	CHECK_INT(rp_git_set_base(g, "0123456789012345678901234567890123456789"), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "diff_base_missing");
	CHECK(!rp_git_has_base(g));
	CHECK_INT(rp_git_set_base(g, "no-such-branch"), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "diff_base_missing");
	sh_out(blob, sizeof(blob), "git -C base rev-parse HEAD:README.md");
	CHECK_INT(rp_git_set_base(g, blob), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "diff_base_missing");
	CHECK(strstr(rp_error_last()->msg, "blob") != NULL);
	/* A tree is a base too. */
	CHECK_INT(rp_git_set_base(g, "HEAD^{tree}"), RP_OK);
	CHECK(rp_git_has_base(g));
	rp_git_free(g);
}

static void test_corrupt(void)
{
	struct rp_git *g = NULL;
	char obj[64];

	make_repo("corrupt");
	sh("cp -a corrupt corrupt2 && : >corrupt/.git/HEAD");
	CHECK_INT(rp_git_open(&g, ws), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "git_repository_corrupt");
	/* A damaged commit object: open works, the base does not. */
	snprintf(ws, sizeof(ws), "%s/corrupt2", harness_tmpdir());
	sh_out(obj, sizeof(obj), "git -C corrupt2 rev-parse HEAD");
	sh("f=corrupt2/.git/objects/%.2s/%s && chmod u+w $f && printf garbage >$f", obj, obj + 2);
	CHECK_INT(rp_git_open(&g, ws), RP_OK);
	CHECK_INT(rp_git_set_base(g, NULL), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "git_repository_corrupt");
	rp_git_free(g);
}

/* Everything an agent may do, then: counts, flags, and a patch that
 * `git apply` turns a clone of the base into the workspace with. */
static void test_compare_and_diff(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;
	json_t *j;

	make_repo("agent");
	sh("cd agent && printf 'hello\\nworld\\n' >README.md && rm docs/task.md && "
	   "printf 'bin\\0ary\\2\\3' >blob.bin && chmod +x src/a.c && "
	   "ln -s ../README.md src/link && printf 'tail' >src/nonl.txt && "
	   "printf 'x' >'sp ace.txt' && printf 'y' >\"$(printf 'caf\\303\\251')\" && "
	   "printf 'z' >\"$(printf 'raw\\377')\" && mkdir -p new/deep && "
	   "printf 'deep\\n' >new/deep/f.txt && printf 'junk' >junk.tmp && "
	   "mkdir build && printf 'o' >build/out.o && printf 'staged\\n' >staged.txt && "
	   "git add staged.txt");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	j = rp_git_to_json(g);
	CHECK_INT(count(j, "modified"), 3);   /* README.md, blob.bin, src/a.c (mode) */
	CHECK_INT(count(j, "deleted"), 1);
	CHECK_INT(count(j, "added"), 1);      /* staged.txt, in the index */
	CHECK_INT(count(j, "untracked"), 6);
	CHECK_INT(count(j, "ignored"), 2);
	CHECK_INT(count(j, "typechanged"), 0);
	CHECK(find(&l, "junk.tmp")->ignored && !find(&l, "junk.tmp")->changed);
	CHECK(find(&l, "build/out.o")->ignored);
	CHECK(find(&l, "README.md")->changed && !find(&l, "README.md")->ignored);
	CHECK(find(&l, "src/a.c")->changed);
	CHECK(!find(&l, ".gitignore")->changed);
	CHECK(find(&l, "src/link")->changed);
	json_decref(j);

	CHECK_INT(rp_git_diff(&st, g, 1 << 20, sink_cb, &s), RP_OK);
	CHECK_INT(st.files, 11);
	CHECK_INT(st.bytes, s.b.len);
	CHECK(strstr((char *)s.b.data, "GIT binary patch") != NULL);
	CHECK(strstr((char *)s.b.data, "\"b/raw\\377\"") != NULL);
	CHECK(strstr((char *)s.b.data, "\"b/caf\\303\\251\"") != NULL);
	CHECK(strstr((char *)s.b.data, "new mode 100755") != NULL);
	CHECK(strstr((char *)s.b.data, "junk.tmp") == NULL);
	CHECK(strstr((char *)s.b.data, "out.o") == NULL);
	harness_write_file(harness_path("agent.patch"), s.b.data, s.b.len);
	sh("git clone -q agent clone && cd clone && git apply ../agent.patch && cd .. && "
	   "diff -r -x .git -x junk.tmp -x build -x docs agent clone && "
	   "test \"$(stat -c %%a clone/src/a.c)\" = 755 && "
	   "test \"$(readlink clone/src/link)\" = ../README.md");
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

/* Typechanges, a file becoming a directory and back, exact renames. */
static void test_shapes(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;
	json_t *j;

	make_repo("shapes");
	sh("cd shapes && printf 'big\\n%%.0s' $(seq 300) >moved.txt && ln -s README.md lnk && "
	   "git add -A && git commit -q -m more && rm lnk && printf 'now a file' >lnk && "
	   "rm README.md && ln -s src/a.c README.md && rm -r docs && printf 'f' >docs && "
	   "rm src/a.c && mkdir src/a.c && printf 'in' >src/a.c/inner && "
	   "mkdir m && git mv moved.txt m/moved.txt");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	j = rp_git_to_json(g);
	CHECK_INT(count(j, "typechanged"), 2);
	json_decref(j);
	CHECK_INT(rp_git_diff(&st, g, 1 << 20, sink_cb, &s), RP_OK);
	CHECK(strstr((char *)s.b.data, "rename from moved.txt") != NULL);
	harness_write_file(harness_path("shapes.patch"), s.b.data, s.b.len);
	sh("git clone -q shapes shapes-clone && cd shapes-clone && git apply ../shapes.patch && "
	   "cd .. && diff -r -x .git shapes shapes-clone && "
	   "test \"$(readlink shapes-clone/README.md)\" = src/a.c");
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

static void test_cap_and_sink(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;

	make_repo("cap");
	sh("cd cap && seq 1 5000 >numbers.txt");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	CHECK_INT(rp_git_diff(&st, g, 1000, sink_cb, &s), RP_E_TOOLARGE);
	CHECK_STR(rp_error_last()->id, "diff_too_large");
	CHECK(s.b.len <= 1000);
	rp_buf_reset(&s.b);
	/* Exactly the size fits. */
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_OK);
	rp_buf_reset(&s.b);
	{
		uint64_t exact = st.bytes;

		CHECK_INT(rp_git_diff(&st, g, exact, sink_cb, &s), RP_OK);
		rp_buf_reset(&s.b);
		CHECK_INT(rp_git_diff(&st, g, exact - 1, sink_cb, &s), RP_E_TOOLARGE);
	}
	/* A failing sink stops the diff with its own error. */
	rp_buf_reset(&s.b);
	s.fail_after = 1;
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "sink_failed");
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

/* A file that changes after the comparison is not diffed as it was. */
static void test_changed_during_diff(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;

	make_repo("race");
	write_text("README.md", "one\n");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	write_text("README.md", "two\n");
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "diff_failed");
	CHECK(strstr(rp_error_last()->msg, "README.md") != NULL);
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

static void test_unborn(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;
	json_t *j;

	sh("git init -q -b trunk unborn && printf 'a\\n' >unborn/a.txt");
	snprintf(ws, sizeof(ws), "%s/unborn", harness_tmpdir());
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	j = rp_git_to_json(g);
	CHECK(json_is_true(json_object_get(j, "unborn")));
	CHECK_STR(json_string_value(json_object_get(j, "branch")), "trunk");
	CHECK(json_is_null(json_object_get(j, "head")));
	CHECK(json_is_null(json_object_get(json_object_get(j, "base"), "tree")));
	CHECK_INT(count(j, "untracked"), 1);
	json_decref(j);
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_OK);
	CHECK(strstr((char *)s.b.data, "+++ b/a.txt") != NULL);
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

static void test_merge_conflict(void)
{
	struct rp_git *g;
	json_t *j, *u;

	make_repo("merge");
	sh("cd merge && git checkout -q -b other && printf 'theirs\\n' >README.md && "
	   "git commit -q -am theirs && git checkout -q main && printf 'ours\\n' >README.md && "
	   "git commit -q -am ours && ! git merge -q other >/dev/null 2>&1");
	g = open_ok(NULL);
	j = rp_git_to_json(g);
	CHECK_STR(json_string_value(json_object_get(j, "operation")), "merge");
	u = json_object_get(j, "unmerged");
	CHECK_INT(json_array_size(u), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(u, 0), "path")), "README.md");
	json_decref(j);
	rp_git_free(g);
}

/* A submodule whose checked-out commit moved, and a new nested repository. */
static void test_submodules(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;
	char before[64], after[64];
	json_t *j, *subs;

	make_repo("lib");
	make_repo("super");
	sh("cd super && git -c protocol.file.allow=always submodule -q add ../lib lib && "
	   "git commit -q -m sub && cd lib && printf 'x\\n' >>README.md && "
	   "git commit -q -am move");
	sh_out(before, sizeof(before), "git -C lib rev-parse HEAD");
	sh_out(after, sizeof(after), "git -C super/lib rev-parse HEAD");
	sh("cd super && git init -q nested && cd nested && printf 'n' >n.txt && git add n.txt && "
	   "git commit -q -m n");
	/* A .git that is no repository makes no submodule: its files count. */
	sh("cd super && mkdir fake && printf 'gitdir: /nowhere\\n' >fake/.git && printf f >fake/f.txt");
	snprintf(ws, sizeof(ws), "%s/super", harness_tmpdir());
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(l.repos_n, 3);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	j = rp_git_to_json(g);
	subs = json_object_get(j, "submodules");
	CHECK_INT(json_array_size(subs), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(subs, 0), "path")), "lib");
	CHECK_STR(json_string_value(json_object_get(json_array_get(subs, 0), "baseCommit")), before);
	CHECK_STR(json_string_value(json_object_get(json_array_get(subs, 0), "workdirCommit")),
		  after);
	CHECK(json_is_true(json_object_get(json_array_get(subs, 0), "changed")));
	CHECK(json_is_null(json_object_get(json_array_get(subs, 1), "baseCommit")));
	CHECK_INT(count(j, "modified"), 1);
	CHECK_INT(count(j, "untracked"), 2);
	/* Files inside the submodules are theirs, not this repository's. */
	CHECK(!find(&l, "lib/README.md")->changed);
	CHECK(!find(&l, "nested/n.txt")->changed);
	CHECK(find(&l, "fake/f.txt")->changed);
	json_decref(j);
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_OK);
	CHECK(strstr((char *)s.b.data, "+Subproject commit ") != NULL);
	CHECK(strstr((char *)s.b.data, after) != NULL);
	CHECK(strstr((char *)s.b.data, "new file mode 160000") != NULL);
	CHECK(strstr((char *)s.b.data, "+++ b/fake/f.txt") != NULL);
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

/* Nothing under .git changes, even with a stale index that a status would
 * refresh, and with every step run. */
static void test_read_only(void)
{
	struct rp_artifact_list l;
	struct sink s = { RP_BUF_INIT, 0, 0 };
	struct rp_git_diff_stats st;
	struct rp_git *g;
	char before[128], after[128];
	static const char hash[] =
		"cd ro && { find .git -print0 | LC_ALL=C sort -z | "
		"xargs -0 stat -c '%n %s %Y %y %a' && "
		"find .git -type f -print0 | LC_ALL=C sort -z | xargs -0 cat; } | sha256sum";

	make_repo("ro");
	sh("cd ro && printf 'changed\\n' >README.md && git add README.md && sleep 1 && "
	   "touch README.md src/a.c blob.bin && printf 'u' >untracked.txt && "
	   "printf 'renamed' >moved && git add moved && rm moved");
	sh_out(before, sizeof(before), hash);
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	CHECK_INT(rp_git_diff(&st, g, UINT64_MAX, sink_cb, &s), RP_OK);
	json_decref(rp_git_to_json(g));
	rp_git_free(g);
	sh_out(after, sizeof(after), hash);
	CHECK_STR(after, before);
	CHECK(access("ro/.git/index.lock", F_OK) != 0);
	rp_buf_release(&s.b);
	rp_artifact_list_release(&l);
}

/* Ignore rules: the repository's own (.gitignore, info/exclude), never the
 * host user's global excludes; a file the index has is never ignored. */
static void test_ignore_rules(void)
{
	struct rp_artifact_list l;
	struct rp_git *g;
	json_t *j;

	make_repo("ign");
	sh("printf '[core]\\n\\texcludesFile = %s/global-ignore\\n' \"$PWD\" >.gitconfig && "
	   "printf '*.glob\\n' >global-ignore && git -C ign check-ignore -q x.glob",
	   harness_tmpdir());
	sh("cd ign && printf '*.local\\n' >>.git/info/exclude && printf g >x.glob && "
	   "printf l >x.local && printf f >forced.tmp && git add -f forced.tmp && "
	   "printf t >plain.tmp");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_OK);
	j = rp_git_to_json(g);
	CHECK(!find(&l, "x.glob")->ignored && find(&l, "x.glob")->changed);
	CHECK(find(&l, "x.local")->ignored);
	CHECK(find(&l, "plain.tmp")->ignored);
	CHECK(!find(&l, "forced.tmp")->ignored && find(&l, "forced.tmp")->changed);
	CHECK_INT(count(j, "added"), 1);
	CHECK_INT(count(j, "untracked"), 1);
	CHECK_INT(count(j, "ignored"), 2);
	json_decref(j);
	rp_artifact_list_release(&l);
	rp_git_free(g);
	sh("rm .gitconfig");
}

/* A FIFO where libgit2 reads a file would block it forever: refused. */
static void test_fifos(void)
{
	struct rp_artifact_list l;
	struct rp_git *g = NULL;

	make_repo("fifo1");
	sh("rm fifo1/.git/info/exclude && mkfifo fifo1/.git/info/exclude");
	CHECK_INT(rp_git_open(&g, ws), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "git_repository_unsafe");
	CHECK(strstr(rp_error_last()->msg, "info/exclude") != NULL);
	make_repo("fifo2");
	sh("mkfifo /tmp/rp-test-git-fifo.$$ && ln -s /tmp/rp-test-git-fifo.$$ fifo2/.git/HEAD.lnk && "
	   "rm /tmp/rp-test-git-fifo.$$ && mkfifo fifo2/src/.gitignore");
	g = open_ok(NULL);
	enumerate(&l);
	CHECK_INT(rp_git_compare(g, &l), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "git_repository_unsafe");
	CHECK(strstr(rp_error_last()->msg, "src/.gitignore") != NULL);
	rp_artifact_list_release(&l);
	rp_git_free(g);
}

int main(void)
{
	char home[600];

	/* git commands in the tests: no user or system configuration. */
	snprintf(home, sizeof(home), "%s", harness_tmpdir());
	setenv("HOME", home, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@invalid", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@invalid", 1);
	/* A test that blocks (a FIFO read) dies instead of hanging the suite. */
	alarm(300);
	if (system("git --version >/dev/null 2>&1") != 0) {
		printf("SKIP test_git: git is not installed\n");
		return 0;
	}
	RUN(test_not_a_repository);
	RUN(test_state);
	RUN(test_base_errors);
	RUN(test_corrupt);
	RUN(test_compare_and_diff);
	RUN(test_shapes);
	RUN(test_cap_and_sink);
	RUN(test_changed_during_diff);
	RUN(test_unborn);
	RUN(test_merge_conflict);
	RUN(test_submodules);
	RUN(test_read_only);
	RUN(test_ignore_rules);
	RUN(test_fifos);
	return harness_done();
}
