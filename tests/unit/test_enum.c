#include "harness.h"
#include "rp_enum.h"
#include "rp_error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define BAD_NAME "bad\xff\xfe.txt"

static char ws[512];

static void write_file(const char *rel, const void *data, size_t n, mode_t mode)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ws, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, n) == (ssize_t)n);
	CHECK(close(fd) == 0);
	CHECK(chmod(path, mode) == 0);
}

static void make_dir(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", ws, rel);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void make_workspace(void)
{
	static unsigned char blob[500000];
	char path[1024];

	snprintf(ws, sizeof(ws), "%s/ws", harness_tmpdir());
	CHECK(mkdir(ws, 0755) == 0);
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7 + i / 251);
	make_dir("out");
	make_dir("out/sub");
	make_dir("sub");
	make_dir(".git");
	make_dir(".git/objects");
	make_dir("sub/deeper");
	write_file("a.txt", "hello\n", 6, 0644);
	write_file(BAD_NAME, "x", 1, 0600);
	write_file("out/r1.txt", "result one\n", 11, 0640);
	write_file("out/empty", "", 0, 0644);
	write_file("out/skip.tmp", "temporary", 9, 0644);
	write_file("out/big.bin", blob, sizeof(blob), 0644);
	write_file("out/sub/r2.bin", blob, 300000, 0755);
	write_file("out/z.txt", "zzzz\n", 5, 0644);
	write_file(".git/HEAD", "ref: refs/heads/main\n", 21, 0644);
	write_file(".git/objects/ab", "obj", 3, 0644);
	write_file("sub/.git", "gitdir: /elsewhere\n", 19, 0644);
	write_file("sub/deeper/.git", "x", 1, 0644);
	write_file("sub/deeper/keep.c", "int x;\n", 7, 0644);
	snprintf(path, sizeof(path), "%s/out/link", ws);
	CHECK(symlink("/etc/passwd", path) == 0);
	snprintf(path, sizeof(path), "%s/dirlink", ws);
	CHECK(symlink("out", path) == 0);
	snprintf(path, sizeof(path), "%s/out/pipe", ws);
	CHECK(mkfifo(path, 0600) == 0);
}

static const struct rp_artifact *find(const struct rp_artifact_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return &l->v[i];
	return NULL;
}

/* sha256sum's opinion of a workspace file. */
static void sha256sum(char out[RP_SHA256_HEX_LEN + 1], const char *rel)
{
	char cmd[1200];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sha256sum < '%s/%s'", ws, rel);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	CHECK(fread(out, 1, RP_SHA256_HEX_LEN, p) == RP_SHA256_HEX_LEN);
	out[RP_SHA256_HEX_LEN] = '\0';
	CHECK(pclose(p) == 0);
}

static void check_digest(const struct rp_artifact_list *l, const char *rel)
{
	const struct rp_artifact *a = find(l, rel);
	char want[RP_SHA256_HEX_LEN + 1], got[RP_SHA256_HEX_LEN + 1];

	CHECK(a != NULL);
	sha256sum(want, rel);
	rp_sha256_hex(got, a->sha256);
	CHECK_STR(got, want);
}

static void enumerate(struct rp_artifact_list *l)
{
	static char inc0[] = "out/**", exc0[] = "**/*.tmp";
	static char *inc[] = { inc0 }, *exc[] = { exc0 };
	static const struct rp_strv include = { inc, 1 }, exclude = { exc, 1 };
	const struct rp_enum_opts opts = {
		.include = &include, .exclude = &exclude,
		.max_file_bytes = 400000,
		/* empty + r1.txt + r2.bin passes it; z.txt after them fits. */
		.max_total_bytes = 300010,
	};

	CHECK_INT(rp_enum_workspace(l, ws, &opts), RP_OK);
}

static void test_list(void)
{
	static const char *const want[] = {
		"a.txt", BAD_NAME, "dirlink", "out/big.bin", "out/empty", "out/link", "out/pipe",
		"out/r1.txt", "out/skip.tmp", "out/sub/r2.bin", "out/z.txt", "sub/deeper/keep.c",
	};
	struct rp_artifact_list l;
	const struct rp_artifact *a;

	enumerate(&l);
	CHECK_INT(l.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < l.n; i++)
		CHECK_STR(l.v[i].path, want[i]);

	a = find(&l, "a.txt");
	CHECK_INT(a->type, RP_ART_FILE);
	CHECK_STR(a->kind, "file");
	CHECK_INT(a->mode, 0644);
	CHECK_INT(a->size, 6);
	CHECK(!a->included);
	CHECK_STR(a->reason, "not_selected");
	a = find(&l, "out/sub/r2.bin");
	CHECK_INT(a->mode, 0755);
	a = find(&l, "out/link");
	CHECK_INT(a->type, RP_ART_SYMLINK);
	CHECK_STR(a->kind, "symlink");
	CHECK_STR(a->link_target, "/etc/passwd");
	CHECK_INT(a->size, 11);
	a = find(&l, "dirlink");
	CHECK_INT(a->type, RP_ART_SYMLINK);
	CHECK_STR(a->link_target, "out");
	a = find(&l, "out/pipe");
	CHECK_INT(a->type, RP_ART_OTHER);
	CHECK_STR(a->kind, "fifo");
	CHECK_STR(a->reason, "special_file");
	CHECK_INT(l.total_bytes, 6 + 1 + 500000 + 0 + 11 + 9 + 300000 + 5 + 7);
	rp_artifact_list_release(&l);
	CHECK(l.v == NULL && l.n == 0);
}

static void test_digests(void)
{
	struct rp_artifact_list l;
	unsigned char d[RP_SHA256_LEN];
	const struct rp_artifact *a;

	enumerate(&l);
	check_digest(&l, "a.txt");
	check_digest(&l, BAD_NAME);
	check_digest(&l, "out/empty");
	check_digest(&l, "out/big.bin");
	check_digest(&l, "out/sub/r2.bin");
	check_digest(&l, "sub/deeper/keep.c");
	/* A symlink's digest is its target's bytes, not the file it names. */
	a = find(&l, "out/link");
	CHECK_INT(rp_sha256_buf(d, "/etc/passwd", 11), RP_OK);
	CHECK(memcmp(d, a->sha256, sizeof(d)) == 0);
	rp_artifact_list_release(&l);
}

static void test_selection(void)
{
	static const struct {
		const char *path, *reason;
	} want[] = {
		{ "a.txt", "not_selected" },
		{ BAD_NAME, "not_selected" },
		{ "dirlink", "not_selected" },
		{ "out/big.bin", "file_too_large" },
		{ "out/empty", NULL },
		{ "out/link", "symlink" },
		{ "out/pipe", "special_file" },
		{ "out/r1.txt", NULL },
		{ "out/skip.tmp", "excluded" },
		{ "out/sub/r2.bin", "total_too_large" },
		{ "out/z.txt", NULL },
		{ "sub/deeper/keep.c", "not_selected" },
	};
	struct rp_artifact_list l;

	enumerate(&l);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct rp_artifact *a = find(&l, want[i].path);

		CHECK(a != NULL);
		if (want[i].reason) {
			CHECK(!a->included);
			CHECK_STR(a->reason, want[i].reason);
		} else {
			CHECK(a->included);
			CHECK(a->reason == NULL);
		}
	}
	CHECK_INT(l.included_n, 3);
	CHECK_INT(l.included_bytes, 0 + 11 + 5);
	rp_artifact_list_release(&l);
}

static void test_json(void)
{
	struct rp_artifact_list l;
	json_t *doc, *files, *f, *totals;
	char hex[RP_SHA256_HEX_LEN + 1];
	size_t i;

	enumerate(&l);
	doc = rp_artifacts_to_json(&l);
	CHECK(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "schema")), "runpack.artifacts/v1");
	files = json_object_get(doc, "files");
	CHECK_INT(json_array_size(files), l.n);

	f = json_array_get(files, 0);
	CHECK_STR(json_string_value(json_object_get(f, "path")), "a.txt");
	CHECK_STR(json_string_value(json_object_get(f, "type")), "file");
	CHECK_STR(json_string_value(json_object_get(f, "mode")), "0644");
	CHECK_INT(json_integer_value(json_object_get(f, "size")), 6);
	sha256sum(hex, "a.txt");
	CHECK_STR(json_string_value(json_object_get(f, "sha256")), hex);
	CHECK(json_is_false(json_object_get(f, "included")));
	CHECK_STR(json_string_value(json_object_get(f, "reason")), "not_selected");
	CHECK(json_object_get(f, "pathBase64") == NULL);

	/* Non-UTF-8 name: replacement characters, plus the exact bytes. */
	f = json_array_get(files, 1);
	CHECK_STR(json_string_value(json_object_get(f, "path")),
		  "bad\xef\xbf\xbd\xef\xbf\xbd.txt");
	CHECK_STR(json_string_value(json_object_get(f, "pathBase64")), "YmFk//4udHh0");

	for (i = 0; i < l.n && strcmp(l.v[i].path, "out/link") != 0; i++)
		;
	f = json_array_get(files, i);
	CHECK_STR(json_string_value(json_object_get(f, "linkTarget")), "/etc/passwd");
	CHECK_STR(json_string_value(json_object_get(f, "mode")), "0777");
	CHECK(json_object_get(f, "sha256") != NULL);
	f = json_array_get(files, i + 1);
	CHECK_STR(json_string_value(json_object_get(f, "path")), "out/pipe");
	CHECK(json_object_get(f, "sha256") == NULL);
	f = json_array_get(files, i + 2);
	CHECK_STR(json_string_value(json_object_get(f, "path")), "out/r1.txt");
	CHECK_STR(json_string_value(json_object_get(f, "mode")), "0640");
	CHECK(json_is_true(json_object_get(f, "included")));
	CHECK(json_object_get(f, "reason") == NULL);

	totals = json_object_get(doc, "totals");
	CHECK_INT(json_integer_value(json_object_get(totals, "files")), l.n);
	CHECK_INT(json_integer_value(json_object_get(totals, "bytes")), l.total_bytes);
	CHECK_INT(json_integer_value(json_object_get(totals, "included")), 3);
	CHECK_INT(json_integer_value(json_object_get(totals, "includedBytes")), 16);
	json_decref(doc);
	rp_artifact_list_release(&l);
}

static void test_unreadable(void)
{
	struct rp_artifact_list l;
	const struct rp_artifact *a;
	char path[1024];
	json_t *doc, *f;

	write_file("out/secret.txt", "nope", 4, 0000);
	enumerate(&l);
	snprintf(path, sizeof(path), "%s/out/secret.txt", ws);
	chmod(path, 0644);
	unlink(path);
	a = find(&l, "out/secret.txt");
	CHECK(a != NULL);
	CHECK(!a->included);
	CHECK_STR(a->reason, "unreadable");
	CHECK_INT(a->size, 4);
	CHECK_INT(a->mode, 0);
	CHECK(find(&l, "out/z.txt") != NULL); /* the walk went on */
	doc = rp_artifacts_to_json(&l);
	for (size_t i = 0; i < l.n; i++) {
		f = json_array_get(json_object_get(doc, "files"), i);
		if (strcmp(l.v[i].path, "out/secret.txt") == 0)
			CHECK(json_object_get(f, "sha256") == NULL);
	}
	json_decref(doc);
	rp_artifact_list_release(&l);
}

static void test_open(void)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = rp_enum_open(ws, "out/r1.txt");
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	CHECK_INT(n, 11);
	CHECK(memcmp(buf, "result one\n", 11) == 0);
	close(fd);

	CHECK_INT(rp_enum_open(ws, "out/link"), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "artifact_path_unsafe");
	CHECK_INT(rp_enum_open(ws, "dirlink/r1.txt"), RP_E_INVALID);
	CHECK_INT(rp_enum_open(ws, "../ws/a.txt"), RP_E_INVALID);
	CHECK_INT(rp_enum_open(ws, "out/../../ws/a.txt"), RP_E_INVALID);
	CHECK_INT(rp_enum_open(ws, "/etc/passwd"), RP_E_INVALID);
	CHECK_INT(rp_enum_open(ws, "out/pipe"), RP_E_INVALID); /* and does not block */
	CHECK_INT(rp_enum_open(ws, "out"), RP_E_INVALID);
	CHECK_INT(rp_enum_open(ws, "out/missing"), RP_E_NOTFOUND);
}

/* Enough files for the hashing threads; each digest checked by sha256sum. */
static void test_many(void)
{
	static char inc0[] = "**";
	static char *inc[] = { inc0 };
	static const struct rp_strv include = { inc, 1 };
	const struct rp_enum_opts opts = {
		.include = &include, .max_file_bytes = 1 << 20, .max_total_bytes = 1 << 30,
	};
	struct rp_artifact_list l;
	char dir[1024], cmd[1200], line[256], name[64];
	unsigned char data[3000];
	size_t checked = 0;
	FILE *p;

	snprintf(dir, sizeof(dir), "%s/many", harness_tmpdir());
	CHECK(mkdir(dir, 0755) == 0);
	for (int i = 0; i < 300; i++) {
		char path[1200];
		int fd;

		snprintf(path, sizeof(path), "%s/f%03d", dir, i);
		for (size_t j = 0; j < sizeof(data); j++)
			data[j] = (unsigned char)(i * 31 + j);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0);
		CHECK(write(fd, data, (size_t)(i * 10)) == i * 10);
		close(fd);
	}
	CHECK_INT(rp_enum_workspace(&l, dir, &opts), RP_OK);
	CHECK_INT(l.n, 300);
	CHECK_INT(l.included_n, 300);
	snprintf(cmd, sizeof(cmd), "cd '%s' && sha256sum f*", dir);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while (fgets(line, sizeof(line), p)) {
		char got[RP_SHA256_HEX_LEN + 1];
		const struct rp_artifact *a;

		CHECK(sscanf(line, "%*64s %63s", name) == 1);
		a = find(&l, name);
		CHECK(a != NULL);
		rp_sha256_hex(got, a->sha256);
		CHECK(strncmp(got, line, RP_SHA256_HEX_LEN) == 0);
		checked++;
	}
	CHECK(pclose(p) == 0);
	CHECK_INT(checked, 300);
	rp_artifact_list_release(&l);
}

static void test_too_deep(void)
{
	struct rp_artifact_list l;
	const struct rp_enum_opts opts = { .include = NULL };
	char deep[1024];
	int fd;

	snprintf(deep, sizeof(deep), "%s/deep", harness_tmpdir());
	CHECK(mkdir(deep, 0755) == 0);
	fd = open(deep, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	for (int i = 0; i <= RP_ENUM_MAX_DEPTH; i++) {
		int next;

		CHECK(mkdirat(fd, "d", 0755) == 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		CHECK(next >= 0);
		close(fd);
		fd = next;
	}
	close(fd);
	CHECK_INT(rp_enum_workspace(&l, deep, &opts), RP_E_TOOLARGE);
	CHECK_STR(rp_error_last()->id, "workspace_too_deep");
	CHECK(l.n == 0 && l.v == NULL);
	CHECK_INT(rp_enum_workspace(&l, "/nonexistent/ws", &opts), RP_E_NOTFOUND);
}

/* git's opinion of a blob id: what a `git hash-object` command prints. */
static void git_hash(char out[41], const char *command)
{
	char cmd[1200];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", ws, command);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	CHECK(fread(out, 1, 40, p) == 40);
	out[40] = '\0';
	CHECK(pclose(p) == 0);
}

static void id_hex(char out[41], const unsigned char id[RP_GIT_ID_LEN])
{
	for (size_t i = 0; i < RP_GIT_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* With git_ids every file and symlink gets git's blob id, in the same read;
 * directories holding .git are listed. */
static void test_git_ids(void)
{
	const struct rp_enum_opts opts = {
		.max_file_bytes = 1 << 20, .max_total_bytes = 1 << 30, .git_ids = true,
	};
	static const char *const files[] = { "a.txt", "out/empty", "out/big.bin", "out/sub/r2.bin" };
	char want[41], got[41];
	unsigned char id[RP_GIT_ID_LEN];
	struct rp_artifact_list l;
	const struct rp_artifact *a;

	if (system("git --version >/dev/null 2>&1") != 0) {
		printf("SKIP test_git_ids: git is not installed\n");
		return;
	}
	CHECK_INT(rp_enum_workspace(&l, ws, &opts), RP_OK);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char tail[256];

		a = find(&l, files[i]);
		CHECK(a && a->git_id_valid);
		snprintf(tail, sizeof(tail), "git hash-object '%s'", files[i]);
		git_hash(want, tail);
		id_hex(got, a->git_id);
		CHECK_STR(got, want);
	}
	a = find(&l, "out/link");
	CHECK(a->git_id_valid);
	git_hash(want, "printf /etc/passwd | git hash-object --stdin");
	id_hex(got, a->git_id);
	CHECK_STR(got, want);
	CHECK(!find(&l, "out/pipe")->git_id_valid);
	CHECK_INT(rp_enum_blob_id(id, "", 0), RP_OK);
	id_hex(got, id);
	CHECK_STR(got, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	/* ".git" entries below the root: nested repositories. */
	CHECK_INT(l.repos_n, 2);
	CHECK_STR(l.repos[0], "sub");
	CHECK_STR(l.repos[1], "sub/deeper");
	rp_artifact_list_release(&l);
	CHECK(l.repos == NULL && l.repos_n == 0);
	/* Without git_ids nothing is computed. */
	enumerate(&l);
	CHECK(!find(&l, "a.txt")->git_id_valid);
	rp_artifact_list_release(&l);
}

/* Without include globs: the changed files, or nothing; selection redone
 * from scratch each time, walk reasons kept. */
static void test_select_changed(void)
{
	static char exc0[] = "**/*.tmp";
	static char *exc[] = { exc0 };
	static const struct rp_strv exclude = { exc, 1 };
	struct rp_enum_opts opts = {
		.exclude = &exclude, .max_file_bytes = 1 << 20, .max_total_bytes = 1 << 30,
	};
	struct rp_artifact_list l;
	struct rp_artifact *a;
	json_t *doc, *f;

	CHECK_INT(rp_enum_workspace(&l, ws, &opts), RP_OK);
	CHECK_STR(l.selection, "none");
	CHECK_INT(l.included_n, 0);
	for (size_t i = 0; i < l.n; i++) {
		a = &l.v[i];
		a->changed = !strcmp(a->path, "a.txt") || !strcmp(a->path, "out/skip.tmp") ||
			     !strcmp(a->path, "out/link") || !strcmp(a->path, "out/pipe") ||
			     !strcmp(a->path, BAD_NAME);
		a->ignored = !strcmp(a->path, "out/z.txt");
	}
	rp_enum_select(&l, &opts);
	CHECK_STR(l.selection, "none");
	CHECK_INT(l.included_n, 0);
	opts.select_changed = true;
	rp_enum_select(&l, &opts);
	CHECK_STR(l.selection, "changed");
	CHECK_INT(l.included_n, 1);
	CHECK(find(&l, "a.txt")->included);
	CHECK_STR(find(&l, "out/skip.tmp")->reason, "excluded");
	CHECK_STR(find(&l, "out/link")->reason, "symlink");
	CHECK_STR(find(&l, "out/pipe")->reason, "special_file");
	CHECK_STR(find(&l, BAD_NAME)->reason, "unsafe_name");
	CHECK_STR(find(&l, "out/r1.txt")->reason, "not_selected");
	CHECK_INT(l.included_bytes, 6);
	CHECK_INT(l.total_bytes, 6 + 1 + 500000 + 0 + 11 + 9 + 300000 + 5 + 7);

	doc = rp_artifacts_to_json(&l);
	CHECK_STR(json_string_value(json_object_get(doc, "selection")), "changed");
	f = json_array_get(json_object_get(doc, "files"), 0);
	CHECK(json_is_true(json_object_get(f, "changed")));
	CHECK(json_object_get(f, "ignored") == NULL);
	for (size_t i = 0; i < l.n; i++) {
		f = json_array_get(json_object_get(doc, "files"), i);
		if (!strcmp(l.v[i].path, "out/z.txt")) {
			CHECK(json_is_true(json_object_get(f, "ignored")));
			CHECK(json_object_get(f, "changed") == NULL);
		}
	}
	json_decref(doc);
	rp_artifact_list_release(&l);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(make_workspace);
	RUN(test_list);
	RUN(test_digests);
	RUN(test_selection);
	RUN(test_json);
	if (geteuid() == 0) {
		printf("SKIP test_unreadable: root reads mode 0000 files\n");
	} else {
		RUN(test_unreadable);
	}
	RUN(test_open);
	RUN(test_many);
	RUN(test_too_deep);
	RUN(test_git_ids);
	RUN(test_select_changed);
	return harness_done();
}
