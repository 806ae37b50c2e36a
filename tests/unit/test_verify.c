/* Package verification: a good package, then every way of breaking one.
 * Tampered packages are rebuilt here with libarchive from the good one's
 * entries; where a test needs the signature to hold (so that a later check is
 * the one that fails) the statement is re-signed with the real key. */
#include "harness.h"
#include "rp_error.h"
#include "rp_pack.h"
#include "rp_sha256.h"
#include "rp_sign.h"
#include "rp_util.h"
#include "rp_verify.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURE_KEY "fixtures/keys/test-only.key"
#define FIXTURE_PUB "fixtures/keys/test-only.pub"
#define FIXTURE_KEYID "60024C4BE8D1B653"
#define MTIME 1700000000
#define MAX_ENTRIES 32
#define HARDLINK 1 /* a tar hard link to files/a.txt */

struct tentry {
	char name[256];
	unsigned char *data;
	size_t len;
	unsigned int type; /* AE_IFREG, AE_IFLNK, AE_IFDIR, or HARDLINK */
};

struct tpkg {
	struct tentry v[MAX_ENTRIES];
	size_t n;
};

static struct rp_key *secret_key, *public_key;

/* The good package, built once with rp_pack and the fixture key. */
static const char *good_package(void)
{
	static char path[512];
	static const char *texts[][2] = {
		{ "result.json", "{\"runId\":\"r-42\",\"status\":\"failed\",\"exitCode\":3,"
				 "\"signal\":null,\"timings\":{\"durationMs\":1200}}\n" },
		{ "manifest.json", "{\"runId\":\"r-42\"}\n" },
		{ "events.jsonl", "{\"seq\":1,\"type\":\"run_started\"}\n" },
		{ "logs/stdout.log", "hello from the agent\n" },
		{ "logs/stderr.log", "" },
		{ "artifacts.json", "[]\n" },
		{ "files/a.txt", "artifact a\n" },
	};
	unsigned char big[100000];
	struct rp_pack *p = NULL;
	json_t *pred;

	if (path[0])
		return path;
	snprintf(path, sizeof(path), "%s/good.tar.zst", harness_tmpdir());
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 31 + 7);
	pred = json_pack("{s:s}", "runId", "r-42");
	CHECK_INT(rp_pack_open(&p, path, MTIME), RP_OK);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		CHECK_INT(rp_pack_add_buf(p, texts[i][0], texts[i][1], strlen(texts[i][1])), RP_OK);
	CHECK_INT(rp_pack_add_buf(p, "files/dir/b.bin", big, sizeof(big)), RP_OK);
	CHECK_INT(rp_pack_commit(p, secret_key, pred, NULL), RP_OK);
	json_decref(pred);
	return path;
}

static void tpkg_free(struct tpkg *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].data);
	t->n = 0;
}

static void tpkg_insert(struct tpkg *t, size_t at, const char *name, const void *data, size_t n,
			unsigned int type)
{
	struct tentry *e;

	CHECK(t->n < MAX_ENTRIES && at <= t->n);
	memmove(&t->v[at + 1], &t->v[at], (t->n - at) * sizeof(t->v[0]));
	t->n++;
	e = &t->v[at];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->data = malloc(n ? n : 1);
	CHECK(e->data);
	memcpy(e->data, data, n);
	e->len = n;
	e->type = type;
}

static void tpkg_remove(struct tpkg *t, size_t at)
{
	free(t->v[at].data);
	memmove(&t->v[at], &t->v[at + 1], (t->n - at - 1) * sizeof(t->v[0]));
	t->n--;
}

static void tpkg_load(struct tpkg *t, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct rp_buf data = RP_BUF_INIT;
	char buf[65536];
	la_ssize_t got;

	t->n = 0;
	CHECK(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	CHECK(archive_read_open_filename(a, path, 65536) == ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		rp_buf_reset(&data);
		while ((got = archive_read_data(a, buf, sizeof(buf))) > 0)
			CHECK_INT(rp_buf_append(&data, buf, (size_t)got), RP_OK);
		CHECK(got == 0);
		tpkg_insert(t, t->n, archive_entry_pathname(e), data.data, data.len,
			    archive_entry_filetype(e));
	}
	archive_read_free(a);
	rp_buf_release(&data);
}

static void tpkg_write(const struct tpkg *t, const char *path, bool zstd)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	CHECK(a);
	CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
	if (zstd)
		CHECK(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
	CHECK(archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK);
	CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
	for (size_t i = 0; i < t->n; i++) {
		const struct tentry *te = &t->v[i];

		e = archive_entry_new();
		archive_entry_set_pathname(e, te->name);
		archive_entry_set_filetype(e, te->type == HARDLINK ? AE_IFREG : te->type);
		if (te->type == HARDLINK)
			archive_entry_set_hardlink(e, "files/a.txt");
		archive_entry_set_perm(e, te->type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_size(e, te->type == AE_IFREG ? (la_int64_t)te->len : 0);
		archive_entry_set_mtime(e, MTIME, 0);
		if (te->type == AE_IFLNK)
			archive_entry_set_symlink(e, "/etc/passwd");
		CHECK(archive_write_header(a, e) == ARCHIVE_OK);
		if (te->type == AE_IFREG)
			CHECK(archive_write_data(a, te->data, te->len) == (la_ssize_t)te->len);
		archive_entry_free(e);
	}
	CHECK(archive_write_close(a) == ARCHIVE_OK);
	archive_write_free(a);
}

static void tpkg_set_attestation(struct tpkg *t, const struct rp_key *k, const json_t *statement)
{
	struct rp_buf env = RP_BUF_INIT;
	char *text = json_dumps(statement, JSON_COMPACT | JSON_SORT_KEYS);

	CHECK(text);
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->v[i].name, RP_PACK_ATTESTATION) == 0)
			tpkg_remove(t, i);
	CHECK_INT(rp_dsse_sign(&env, k, RP_DSSE_PAYLOAD_TYPE, text, strlen(text)), RP_OK);
	tpkg_insert(t, t->n, RP_PACK_ATTESTATION, env.data, env.len, AE_IFREG);
	free(text);
	rp_buf_release(&env);
}

/* A statement listing every entry (each name once) with its content digest. */
static json_t *statement_for(const struct tpkg *t)
{
	json_t *subjects = json_array(), *seen = json_object();
	unsigned char d[RP_SHA256_LEN];
	char hex[RP_SHA256_HEX_LEN + 1];

	for (size_t i = 0; i < t->n; i++) {
		const struct tentry *e = &t->v[i];

		if (!strcmp(e->name, RP_PACK_ATTESTATION) || json_object_get(seen, e->name))
			continue;
		json_object_set_new(seen, e->name, json_true());
		CHECK_INT(rp_sha256_buf(d, e->data, e->len), RP_OK);
		rp_sha256_hex(hex, d);
		json_array_append_new(subjects, json_pack("{s:s, s:{s:s}}", "name", e->name,
							  "digest", "sha256", hex));
	}
	json_decref(seen);
	return json_pack("{s:s, s:o, s:s, s:{}}", "_type", RP_STATEMENT_TYPE, "subject", subjects,
			 "predicateType", RP_PREDICATE_TYPE, "predicate");
}

static void tpkg_resign(struct tpkg *t, const struct rp_key *k)
{
	json_t *st = statement_for(t);

	CHECK(st);
	tpkg_set_attestation(t, k, st);
	json_decref(st);
}

static void expect_report(const char *path, const struct rp_key *pub, enum rp_verify_failure f,
			  const char *entry, const char *in_message)
{
	struct rp_verify_report rep;

	CHECK_INT(rp_verify_package(&rep, path, pub), RP_OK);
	if (rep.failure != f || (entry && strcmp(rep.entry, entry) != 0))
		printf("    %s: got %s, entry '%s': %s\n", path, rp_verify_failure_id(rep.failure),
		       rep.entry, rep.message);
	CHECK_STR(rp_verify_failure_id(rep.failure), rp_verify_failure_id(f));
	CHECK_INT(rep.valid, f == RP_VF_NONE);
	CHECK(strchr(rep.message, '\n') == NULL);
	if (entry) {
		CHECK_STR(rep.entry, entry);
		CHECK(strstr(rep.message, entry));
	}
	if (in_message)
		CHECK(strstr(rep.message, in_message));
	CHECK(f != RP_VF_NONE || rep.statement);
	rp_verify_report_release(&rep);
}

static void test_good_package_verifies(void)
{
	struct rp_verify_report rep;
	const json_t *pred;

	CHECK_INT(rp_verify_package(&rep, good_package(), public_key), RP_OK);
	CHECK(rep.valid);
	CHECK_INT(rep.failure, RP_VF_NONE);
	CHECK_STR(rep.keyid, FIXTURE_KEYID);
	CHECK_INT(rep.entries, 9);
	pred = json_object_get(rep.statement, "predicate");
	CHECK_STR(json_string_value(json_object_get(pred, "runId")), "r-42");
	rp_verify_report_release(&rep);
	CHECK(rep.statement == NULL);
	/* Rewriting it unchanged keeps it valid: the tampering below is what
	 * breaks the copies, not the rewriting. */
	{
		struct tpkg t;

		tpkg_load(&t, good_package());
		CHECK_INT(t.n, 9);
		tpkg_write(&t, harness_path("rewritten.tar.zst"), true);
		expect_report(harness_path("rewritten.tar.zst"), public_key, RP_VF_NONE, NULL, NULL);
		tpkg_free(&t);
	}
}

static void test_every_entry_flipped(void)
{
	struct tpkg t;
	size_t n;

	tpkg_load(&t, good_package());
	n = t.n - 1;
	tpkg_free(&t);
	for (size_t i = 0; i < n; i++) {
		struct tentry *e;

		tpkg_load(&t, good_package());
		e = &t.v[i];
		if (e->len)
			e->data[e->len / 2] ^= 0x01;
		else
			e->len = 1; /* an empty entry gains a byte */
		tpkg_write(&t, harness_path("flipped.tar.zst"), true);
		expect_report(harness_path("flipped.tar.zst"), public_key, RP_VF_DIGEST, e->name,
			      "does not match its digest");
		tpkg_free(&t);
	}
}

static void test_every_entry_removed(void)
{
	struct tpkg t;
	char name[256];
	size_t n;

	tpkg_load(&t, good_package());
	n = t.n - 1;
	tpkg_free(&t);
	for (size_t i = 0; i < n; i++) {
		tpkg_load(&t, good_package());
		snprintf(name, sizeof(name), "%s", t.v[i].name);
		tpkg_remove(&t, i);
		tpkg_write(&t, harness_path("removed.tar.zst"), true);
		expect_report(harness_path("removed.tar.zst"), public_key, RP_VF_MISSING, name,
			      "missing");
		tpkg_free(&t);
	}
}

static void test_extra_entry(void)
{
	struct tpkg t;

	tpkg_load(&t, good_package());
	tpkg_insert(&t, 3, "files/smuggled.sh", "rm -rf /\n", 9, AE_IFREG);
	tpkg_write(&t, harness_path("extra.tar.zst"), true);
	expect_report(harness_path("extra.tar.zst"), public_key, RP_VF_EXTRA, "files/smuggled.sh",
		      "extra");
	tpkg_free(&t);
	/* After the attestation, it is the attestation that is out of place. */
	tpkg_load(&t, good_package());
	tpkg_insert(&t, t.n, "files/smuggled.sh", "x", 1, AE_IFREG);
	tpkg_write(&t, harness_path("after.tar.zst"), true);
	expect_report(harness_path("after.tar.zst"), public_key, RP_VF_MALFORMED, RP_PACK_ATTESTATION,
		      "not the last entry");
	tpkg_free(&t);
}

static void test_wrong_key(void)
{
	struct rp_verify_report rep;
	struct rp_key *other = NULL;
	struct tpkg t;

	CHECK_INT(rp_key_generate(&other), RP_OK);
	CHECK_INT(rp_verify_package(&rep, good_package(), other), RP_OK);
	CHECK(!rep.valid);
	CHECK_INT(rep.failure, RP_VF_SIGNATURE);
	CHECK_STR(rep.keyid, FIXTURE_KEYID);
	CHECK(strstr(rep.message, FIXTURE_KEYID));
	CHECK(strstr(rep.message, other->keyid));
	rp_verify_report_release(&rep);

	/* Content changed and re-signed by someone else: refused for the key,
	 * before any digest is looked at; fine for the forger's own key. */
	tpkg_load(&t, good_package());
	t.v[0].data[0] ^= 1;
	tpkg_resign(&t, other);
	tpkg_write(&t, harness_path("forged.tar.zst"), true);
	expect_report(harness_path("forged.tar.zst"), public_key, RP_VF_SIGNATURE, NULL, other->keyid);
	expect_report(harness_path("forged.tar.zst"), other, RP_VF_NONE, NULL, NULL);
	tpkg_free(&t);
	rp_key_free(other);
}

static void test_attestation_tampered(void)
{
	struct tpkg t;
	struct tentry *att;
	char *sig;

	tpkg_load(&t, good_package());
	att = &t.v[t.n - 1];
	CHECK_STR(att->name, RP_PACK_ATTESTATION);
	sig = strstr((char *)att->data, "\"sig\":\"");
	CHECK(sig);
	sig[7] = sig[7] == 'A' ? 'B' : 'A';
	tpkg_write(&t, harness_path("badsig.tar.zst"), true);
	expect_report(harness_path("badsig.tar.zst"), public_key, RP_VF_SIGNATURE, NULL,
		      "does not verify with key " FIXTURE_KEYID);
	att->data[0] = '[';
	tpkg_write(&t, harness_path("badjson.tar.zst"), true);
	expect_report(harness_path("badjson.tar.zst"), public_key, RP_VF_MALFORMED, NULL, NULL);
	tpkg_free(&t);
}

/* Properly signed, so the safety check is the one that must catch these. */
static void test_unsafe_entries(void)
{
	static const char *names[] = { "../x", "/abs", "files//b", "files/./c", "files/.." };
	struct tpkg t;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tpkg_load(&t, good_package());
		tpkg_insert(&t, 2, names[i], "x", 1, AE_IFREG);
		tpkg_resign(&t, secret_key);
		tpkg_write(&t, harness_path("unsafe.tar.zst"), true);
		expect_report(harness_path("unsafe.tar.zst"), public_key, RP_VF_UNSAFE, names[i],
			      "unsafe name");
		tpkg_free(&t);
	}
	tpkg_load(&t, good_package());
	tpkg_insert(&t, 2, "files/link", "", 0, AE_IFLNK);
	tpkg_resign(&t, secret_key);
	tpkg_write(&t, harness_path("symlink.tar.zst"), true);
	expect_report(harness_path("symlink.tar.zst"), public_key, RP_VF_UNSAFE, "files/link",
		      "symbolic link");
	tpkg_free(&t);

	tpkg_load(&t, good_package());
	tpkg_insert(&t, 2, "files/subdir/", "", 0, AE_IFDIR);
	tpkg_resign(&t, secret_key);
	tpkg_write(&t, harness_path("dir.tar.zst"), true);
	expect_report(harness_path("dir.tar.zst"), public_key, RP_VF_UNSAFE, "files/subdir/",
		      "directory");
	tpkg_free(&t);

	tpkg_load(&t, good_package());
	tpkg_insert(&t, 2, "files/hardlink", "", 0, HARDLINK);
	tpkg_resign(&t, secret_key);
	tpkg_write(&t, harness_path("hardlink.tar.zst"), true);
	expect_report(harness_path("hardlink.tar.zst"), public_key, RP_VF_UNSAFE, "files/hardlink",
		      "hard link");
	tpkg_free(&t);

	/* Listed once, present twice with the same bytes. */
	tpkg_load(&t, good_package());
	tpkg_insert(&t, t.n - 1, "files/a.txt", "artifact a\n", 11, AE_IFREG);
	tpkg_resign(&t, secret_key);
	tpkg_write(&t, harness_path("dup.tar.zst"), true);
	expect_report(harness_path("dup.tar.zst"), public_key, RP_VF_UNSAFE, "files/a.txt",
		      "more than once");
	tpkg_free(&t);
}

/* When several things are wrong, the documented order decides. */
static void test_failure_order(void)
{
	struct rp_key *other = NULL;
	struct tpkg t;

	CHECK_INT(rp_key_generate(&other), RP_OK);
	tpkg_load(&t, good_package());
	t.v[1].data[0] ^= 1;                 /* digest */
	tpkg_remove(&t, 0);                  /* missing */
	tpkg_insert(&t, 0, "zz", "z", 1, AE_IFREG); /* extra */
	tpkg_write(&t, harness_path("order.tar.zst"), true);
	expect_report(harness_path("order.tar.zst"), other, RP_VF_SIGNATURE, NULL, NULL);
	expect_report(harness_path("order.tar.zst"), public_key, RP_VF_DIGEST, t.v[1].name, NULL);
	t.v[1].data[0] ^= 1;
	tpkg_write(&t, harness_path("order.tar.zst"), true);
	expect_report(harness_path("order.tar.zst"), public_key, RP_VF_MISSING, "result.json", NULL);
	tpkg_free(&t);
	/* extra before unsafe: an unlisted symlink is reported as extra */
	tpkg_load(&t, good_package());
	tpkg_insert(&t, 0, "files/link", "", 0, AE_IFLNK);
	tpkg_write(&t, harness_path("order2.tar.zst"), true);
	expect_report(harness_path("order2.tar.zst"), public_key, RP_VF_EXTRA, "files/link", NULL);
	tpkg_free(&t);
	rp_key_free(other);
}

static void test_malformed_packages(void)
{
	struct rp_buf good = RP_BUF_INIT;
	struct tentry att;
	struct tpkg t;

	tpkg_load(&t, good_package());
	tpkg_remove(&t, t.n - 1);
	tpkg_write(&t, harness_path("noatt.tar.zst"), true);
	expect_report(harness_path("noatt.tar.zst"), public_key, RP_VF_MALFORMED, NULL,
		      "no '" RP_PACK_ATTESTATION "'");
	tpkg_free(&t);

	tpkg_load(&t, good_package());
	tpkg_insert(&t, t.n, "files/moved.txt", "m", 1, AE_IFREG);
	att = t.v[t.n - 2];
	memmove(&t.v[1], &t.v[0], (t.n - 2) * sizeof(t.v[0]));
	t.v[0] = att;
	tpkg_write(&t, harness_path("attfirst.tar.zst"), true);
	expect_report(harness_path("attfirst.tar.zst"), public_key, RP_VF_MALFORMED,
		      RP_PACK_ATTESTATION, "not the last entry");
	tpkg_free(&t);

	/* The same entries, but a plain tar: not a package. */
	tpkg_load(&t, good_package());
	tpkg_write(&t, harness_path("plain.tar"), false);
	expect_report(harness_path("plain.tar"), public_key, RP_VF_MALFORMED, NULL, "zstd");
	tpkg_free(&t);

	CHECK_INT(rp_read_file(&good, good_package(), 1u << 20, 0), RP_OK);
	harness_write_file(harness_path("truncated.tar.zst"), good.data, good.len / 2);
	expect_report(harness_path("truncated.tar.zst"), public_key, RP_VF_MALFORMED, NULL, NULL);
	harness_write_file(harness_path("empty.tar.zst"), "", 0);
	expect_report(harness_path("empty.tar.zst"), public_key, RP_VF_MALFORMED, NULL, NULL);
	harness_write_file(harness_path("garbage.tar.zst"), "this is not a package\n", 22);
	expect_report(harness_path("garbage.tar.zst"), public_key, RP_VF_MALFORMED, NULL, NULL);
	rp_buf_release(&good);
}

static void expect_statement_malformed(json_t *st, const char *in_message)
{
	struct tpkg t;

	CHECK(st);
	tpkg_load(&t, good_package());
	tpkg_set_attestation(&t, secret_key, st);
	tpkg_write(&t, harness_path("stmt.tar.zst"), true);
	expect_report(harness_path("stmt.tar.zst"), public_key, RP_VF_MALFORMED, NULL, in_message);
	tpkg_free(&t);
	json_decref(st);
}

static void test_statement_shape(void)
{
	struct tpkg t;
	json_t *st, *subj;

	tpkg_load(&t, good_package());
	st = statement_for(&t);
	json_object_set_new(st, "_type", json_string("https://in-toto.io/Statement/v0.1"));
	expect_statement_malformed(st, "Statement");

	st = statement_for(&t);
	subj = json_object_get(st, "subject");
	json_array_append(subj, json_array_get(subj, 0));
	expect_statement_malformed(st, "twice");

	st = statement_for(&t);
	json_object_set_new(json_object_get(json_array_get(json_object_get(st, "subject"), 1),
					    "digest"), "sha256", json_string("ABCDEF"));
	expect_statement_malformed(st, "sha256");

	st = statement_for(&t);
	json_array_append_new(json_object_get(st, "subject"),
			      json_pack("{s:s, s:{s:s}}", "name", RP_PACK_ATTESTATION, "digest",
					"sha256", "00000000000000000000000000000000"
						  "00000000000000000000000000000000"));
	expect_statement_malformed(st, RP_PACK_ATTESTATION);

	st = statement_for(&t);
	json_object_del(st, "subject");
	expect_statement_malformed(st, "subject");
	tpkg_free(&t);
}

static void test_unreadable(void)
{
	struct rp_verify_report rep;

	CHECK_INT(rp_verify_package(&rep, harness_path("no-such.tar.zst"), public_key), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "package_unreadable");
	CHECK_INT(rp_verify_package(&rep, harness_tmpdir(), public_key), RP_E_IO);
	CHECK(!rep.valid);
}

/* The package's detached .minisig is stock minisign's business too. */
static void test_minisig_of_package(void)
{
	struct rp_buf sig = RP_BUF_INIT, pkg = RP_BUF_INIT;
	const char *copy = harness_path("signed.tar.zst"), *sigf = harness_path("signed.tar.zst.minisig");
	int fd;

	CHECK_INT(rp_read_file(&pkg, good_package(), 1u << 20, 0), RP_OK);
	harness_write_file(copy, pkg.data, pkg.len);
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(rp_minisig_sign_fd(&sig, secret_key, fd, "runpack run r-42"), RP_OK);
	harness_write_file(sigf, sig.data, sig.len);
	CHECK_INT(harness_sh("minisign -Vm %s -p %s -q", copy, FIXTURE_PUB), 0);
	CHECK_INT(rp_minisig_verify_fd(public_key, fd, sig.data, sig.len), RP_OK);
	close(fd);

	pkg.data[pkg.len / 3] ^= 0x40;
	harness_write_file(copy, pkg.data, pkg.len);
	CHECK_INT(harness_sh("minisign -Vm %s -p %s -q 2>/dev/null", copy, FIXTURE_PUB), 1);
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(rp_minisig_verify_fd(public_key, fd, sig.data, sig.len), RP_E_VERIFY);
	close(fd);
	rp_buf_release(&sig);
	rp_buf_release(&pkg);
}

static void test_unverified_reading(void)
{
	struct rp_package_entry *v = NULL;
	struct rp_buf out = RP_BUF_INIT, catted = RP_BUF_INIT;
	const char *catf = harness_path("cat.out");
	size_t n = 0;
	int fd;

	CHECK_INT(rp_package_list(&v, &n, good_package()), RP_OK);
	CHECK_INT(n, 9);
	CHECK_STR(v[7].name, "files/dir/b.bin");
	CHECK_INT(v[7].size, 100000);
	CHECK_STR(v[8].name, RP_PACK_ATTESTATION);
	CHECK_STR(v[4].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	rp_package_entries_free(v, n);

	CHECK_INT(rp_package_read_entry(&out, good_package(), "logs/stdout.log", 1024), RP_OK);
	CHECK_STR((char *)out.data, "hello from the agent\n");
	CHECK_INT(rp_package_read_entry(&out, good_package(), "files/dir/b.bin", 1000),
		  RP_E_TOOLARGE);
	CHECK_INT(rp_package_read_entry(&out, good_package(), "nope", 1000), RP_E_NOTFOUND);
	CHECK(strstr(rp_error_last()->msg, "'nope'"));

	fd = open(catf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(rp_package_cat(good_package(), "files/a.txt", fd), RP_OK);
	CHECK(close(fd) == 0);
	CHECK_INT(rp_read_file(&catted, catf, 1024, 0), RP_OK);
	CHECK_STR((char *)catted.data, "artifact a\n");
	CHECK_INT(rp_package_cat(good_package(), "files/b.txt", 1), RP_E_NOTFOUND);
	harness_write_file(harness_path("junk.tar.zst"), "this is not a package\n", 22);
	CHECK_INT(rp_package_list(&v, &n, harness_path("junk.tar.zst")), RP_E_PARSE);
	rp_buf_release(&out);
	rp_buf_release(&catted);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	if (rp_key_load_secret(&secret_key, FIXTURE_KEY) ||
	    rp_key_load_public(&public_key, FIXTURE_PUB)) {
		printf("FAIL test_verify: cannot load the fixture key: %s\n", rp_error_last()->msg);
		return 1;
	}
	RUN(test_good_package_verifies);
	RUN(test_every_entry_flipped);
	RUN(test_every_entry_removed);
	RUN(test_extra_entry);
	RUN(test_wrong_key);
	RUN(test_attestation_tampered);
	RUN(test_unsafe_entries);
	RUN(test_failure_order);
	RUN(test_malformed_packages);
	RUN(test_statement_shape);
	RUN(test_unreadable);
	RUN(test_minisig_of_package);
	RUN(test_unverified_reading);
	rp_key_free(secret_key);
	rp_key_free(public_key);
	return harness_done();
}
