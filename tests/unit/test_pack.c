/* Package writing: determinism, entry metadata, names, failure paths. */
#include "harness.h"
#include "rp_error.h"
#include "rp_pack.h"
#include "rp_sha256.h"
#include "rp_sign.h"
#include "rp_util.h"
#include "rp_verify.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURE_KEY "fixtures/keys/test-only.key"
#define MTIME 1700000000

static struct rp_key *fixture_key(void)
{
	struct rp_key *k = NULL;

	CHECK_INT(rp_key_load_secret(&k, FIXTURE_KEY), RP_OK);
	return k;
}

/* A file holding size bytes of a pattern, open for reading. */
static int pattern_fd(const char *name, size_t size)
{
	const char *path = harness_path(name);
	unsigned char buf[4096];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done, n;

	CHECK(fd >= 0);
	for (done = 0; done < size; done += n) {
		n = size - done < sizeof(buf) ? size - done : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)((done + i) * 7 + 3);
		CHECK(rp_write_all(fd, buf, n) == 0);
	}
	return fd;
}

/* The same package every time, from buffers and from files. */
static void write_sample(const char *path, int64_t mtime, unsigned char sha[RP_SHA256_LEN])
{
	struct rp_pack *p = NULL;
	struct rp_key *k = fixture_key();
	json_t *pred = json_pack("{s:s, s:i}", "runId", "r1", "exitCode", 0);
	int fd = pattern_fd("big.bin", 300000);

	CHECK_INT(rp_pack_open(&p, path, mtime), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "result.json", "{\"status\":\"succeeded\"}", 22), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "events.jsonl", "", 0), RP_OK);
	CHECK_INT(rp_pack_add_fd(p, "logs/stdout.log", fd, 0, 300000), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "files/h\xc3\xa9llo w\xc3\xb6rld.txt", "hi\n", 3), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "files/a/very/long/path/that/does/not/fit/in/the/one/"
				     "hundred/byte/ustar/name/field/so/it/needs/a/prefix/or/a/"
				     "pax/header/to/carry/it/whole/file.txt", "long\n", 5), RP_OK);
	CHECK_INT(rp_pack_commit(p, k, pred, sha), RP_OK);
	close(fd);
	json_decref(pred);
	rp_key_free(k);
}

static void read_all(struct rp_buf *out, const char *path)
{
	rp_buf_reset(out);
	CHECK_INT(rp_read_file(out, path, 64u << 20, 0), RP_OK);
}

/* Packaged twice, by two processes in different locales a second apart:
 * the bytes must be identical. */
static void test_deterministic(void)
{
	const char *a = harness_path("a.tar.zst"), *b = harness_path("b.tar.zst"), *c = harness_path("c.tar.zst");
	struct rp_buf ba = RP_BUF_INIT, bb = RP_BUF_INIT;
	unsigned char sha[RP_SHA256_LEN], file_sha[RP_SHA256_LEN];
	pid_t pid;
	int st;

	write_sample(a, MTIME, sha);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned char child_sha[RP_SHA256_LEN];

		/* A failed CHECK must end the child, not resume the parent's run. */
		if (setjmp(harness_jmp) != 0)
			_exit(1);
		setlocale(LC_ALL, "C.UTF-8");
		sleep(1);
		write_sample(b, MTIME, child_sha);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	read_all(&ba, a);
	read_all(&bb, b);
	CHECK_INT(ba.len, bb.len);
	CHECK(memcmp(ba.data, bb.data, ba.len) == 0);
	/* The digest reported is the file's. */
	CHECK_INT(rp_sha256_buf(file_sha, ba.data, ba.len), RP_OK);
	CHECK(memcmp(sha, file_sha, RP_SHA256_LEN) == 0);
	/* And the comparison can tell packages apart. */
	write_sample(c, MTIME + 1, sha);
	read_all(&bb, c);
	CHECK(ba.len != bb.len || memcmp(ba.data, bb.data, ba.len) != 0);
	rp_buf_release(&ba);
	rp_buf_release(&bb);
}

static void test_entry_metadata(void)
{
	const char *path = harness_path("meta.tar.zst");
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	unsigned char sha[RP_SHA256_LEN];
	const char *last = NULL;
	static char last_name[4096];
	int r, n = 0;

	write_sample(path, MTIME, sha);
	CHECK(ar);
	archive_read_support_filter_zstd(ar);
	archive_read_support_format_tar(ar);
	CHECK(archive_read_open_filename(ar, path, 65536) == ARCHIVE_OK);
	/* ARCHIVE_WARN: the C locale cannot show the non-ASCII name. */
	while ((r = archive_read_next_header(ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		n++;
		CHECK(archive_filter_code(ar, 0) == ARCHIVE_FILTER_ZSTD);
		CHECK(archive_entry_filetype(e) == AE_IFREG);
		CHECK_INT(archive_entry_perm(e), 0644);
		CHECK_INT(archive_entry_uid(e), 0);
		CHECK_INT(archive_entry_gid(e), 0);
		CHECK(!archive_entry_uname(e) || !*archive_entry_uname(e));
		CHECK(!archive_entry_gname(e) || !*archive_entry_gname(e));
		CHECK_INT(archive_entry_mtime(e), MTIME);
		CHECK_INT(archive_entry_mtime_nsec(e), 0);
		CHECK(!archive_entry_atime_is_set(e));
		CHECK(!archive_entry_ctime_is_set(e));
		CHECK(!archive_entry_birthtime_is_set(e));
		CHECK_INT(archive_entry_xattr_count(e), 0);
		CHECK(archive_entry_hardlink(e) == NULL);
		snprintf(last_name, sizeof(last_name), "%s", archive_entry_pathname(e));
		last = last_name;
	}
	CHECK_INT(r, ARCHIVE_EOF);
	CHECK_INT(n, 6);
	CHECK_STR(last, RP_PACK_ATTESTATION);
	archive_read_free(ar);
}

static void test_name_safety(void)
{
	static const char *good[] = {
		"a", "result.json", "logs/stdout.log", "files/h\xc3\xa9llo", "files/.hidden",
		"files/..dots", "files/a b/c", "files/...",
	};
	static const char *bad[] = {
		"", "/abs", "../x", "a/../b", "a/..", "..", ".", "./a", "a/./b", "a//b", "a/",
		"/", "files/\xff", "files/\xc3", "files/\xed\xa0\x80",
	};
	char long_name[4098];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(rp_pack_name_safe(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!rp_pack_name_safe(bad[i]));
	memset(long_name, 'a', sizeof(long_name));
	long_name[4096] = '\0';
	CHECK(rp_pack_name_safe(long_name));
	long_name[4096] = 'a';
	long_name[4097] = '\0';
	CHECK(!rp_pack_name_safe(long_name));
}

/* Nothing but the final path may appear in the output directory. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	CHECK(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_add_refusals(void)
{
	char dir[512];
	char path[600];
	struct rp_pack *p = NULL;

	snprintf(dir, sizeof(dir), "%s/refusals", harness_tmpdir());
	CHECK(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/out.tar.zst", dir);
	CHECK_INT(rp_pack_open(&p, path, MTIME), RP_OK);
	CHECK_INT(dir_entries(dir), 1); /* the temporary */
	CHECK_INT(rp_pack_add_buf(p, "../escape", "x", 1), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "package_bad_name");
	CHECK_INT(rp_pack_add_buf(p, "/abs", "x", 1), RP_E_INVALID);
	CHECK_INT(rp_pack_add_buf(p, RP_PACK_ATTESTATION, "x", 1), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "package_bad_name");
	CHECK_INT(rp_pack_add_buf(p, "a.txt", "x", 1), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "a.txt", "y", 1), RP_E_INVALID);
	CHECK_STR(rp_error_last()->id, "package_duplicate_entry");
	CHECK(access(path, F_OK) != 0);
	rp_pack_abort(p);
	CHECK_INT(dir_entries(dir), 0);
	CHECK_INT(rp_pack_open(&p, path, -1), RP_E_INVALID);
	CHECK(!p);
}

static void test_short_fd_fails(void)
{
	char dir[512], path[600];
	struct rp_pack *p = NULL;
	struct rp_key *k = fixture_key();
	int fd = pattern_fd("short.bin", 1000);

	snprintf(dir, sizeof(dir), "%s/short", harness_tmpdir());
	CHECK(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/out.tar.zst", dir);
	CHECK_INT(rp_pack_open(&p, path, MTIME), RP_OK);
	CHECK_INT(rp_pack_add_fd(p, "logs/stdout.log", fd, 0, 1001), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "package_short_read");
	CHECK(strstr(rp_error_last()->msg, "logs/stdout.log"));
	/* The archive is unusable now; it says so instead of writing junk. */
	CHECK_INT(rp_pack_add_buf(p, "b.txt", "x", 1), RP_E_INVALID);
	CHECK(rp_pack_commit(p, k, NULL, NULL) != RP_OK);
	rp_pack_abort(p);
	CHECK_INT(dir_entries(dir), 0);
	close(fd);
	rp_key_free(k);
}

/* A failed commit leaves p to the caller, who aborts it. */
static void test_commit_failure_leaves_pack(void)
{
	char dir[512], path[600];
	struct rp_pack *p = NULL;
	struct rp_key *pub = NULL;
	json_t *arr = json_array();

	CHECK_INT(rp_key_parse_public(&pub, "RWRTttHoS0wCYDtmwOx38SaSthxlcdtEY5M2BQOwLGiIK7AqrqoR2Nc4"),
		  RP_OK);
	snprintf(dir, sizeof(dir), "%s/commitfail", harness_tmpdir());
	CHECK(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/out.tar.zst", dir);
	CHECK_INT(rp_pack_open(&p, path, MTIME), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "a.txt", "x", 1), RP_OK);
	CHECK_INT(rp_pack_commit(p, pub, NULL, NULL), RP_E_CRYPTO);
	CHECK_INT(rp_pack_commit(p, pub, arr, NULL), RP_E_INVALID);
	rp_pack_abort(p);
	CHECK_INT(dir_entries(dir), 0);
	json_decref(arr);
	rp_key_free(pub);
}

static void test_statement(void)
{
	const char *path = harness_path("stmt.tar.zst");
	struct rp_buf att = RP_BUF_INIT, payload = RP_BUF_INIT;
	struct rp_key *k = fixture_key();
	struct rp_package_entry *v = NULL;
	unsigned char sha[RP_SHA256_LEN];
	size_t n = 0, i;
	json_t *st, *subj;

	write_sample(path, MTIME, sha);
	CHECK_INT(rp_package_list(&v, &n, path), RP_OK);
	CHECK_INT(n, 6);
	CHECK_STR(v[0].name, "result.json");
	CHECK_INT(v[0].size, 22);
	CHECK_STR(v[3].name, "files/h\xc3\xa9llo w\xc3\xb6rld.txt");
	CHECK_INT(v[2].size, 300000);
	CHECK_INT(rp_package_read_entry(&att, path, RP_PACK_ATTESTATION, 1u << 20), RP_OK);
	CHECK_INT(rp_dsse_verify(&payload, NULL, k, RP_DSSE_PAYLOAD_TYPE, att.data, att.len),
		  RP_OK);
	st = json_loadb((const char *)payload.data, payload.len, 0, NULL);
	CHECK(st);
	CHECK_STR(json_string_value(json_object_get(st, "_type")), RP_STATEMENT_TYPE);
	CHECK_STR(json_string_value(json_object_get(st, "predicateType")), RP_PREDICATE_TYPE);
	CHECK_STR(json_string_value(json_object_get(json_object_get(st, "predicate"), "runId")),
		  "r1");
	subj = json_object_get(st, "subject");
	CHECK_INT(json_array_size(subj), n - 1);
	for (i = 0; i + 1 < n; i++) {
		json_t *s = json_array_get(subj, i);

		CHECK_STR(json_string_value(json_object_get(s, "name")), v[i].name);
		CHECK_STR(json_string_value(json_object_get(json_object_get(s, "digest"),
							    "sha256")), v[i].sha256);
	}
	/* Compact, sorted keys: the canonical form is what was signed. */
	{
		char *again = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);

		CHECK(again && strlen(again) == payload.len &&
		      memcmp(again, payload.data, payload.len) == 0);
		free(again);
	}
	json_decref(st);
	/* Non-ASCII and long names survive the round trip through verify. */
	{
		struct rp_verify_report rep;

		CHECK_INT(rp_verify_package(&rep, path, k), RP_OK);
		CHECK(rep.valid);
		rp_verify_report_release(&rep);
	}
	rp_package_entries_free(v, n);
	rp_buf_release(&att);
	rp_buf_release(&payload);
	rp_key_free(k);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_deterministic);
	RUN(test_entry_metadata);
	RUN(test_name_safety);
	RUN(test_add_refusals);
	RUN(test_short_fd_fails);
	RUN(test_commit_failure_leaves_pack);
	RUN(test_statement);
	return harness_done();
}
