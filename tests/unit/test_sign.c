/* Keys (minisign format, both directions), DSSE and minisign signatures. */
#include "harness.h"
#include "rp_error.h"
#include "rp_sign.h"
#include "rp_util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURE_KEY "fixtures/keys/test-only.key"
#define FIXTURE_PUB "fixtures/keys/test-only.pub"
#define FIXTURE_KEYID "60024C4BE8D1B653"
#define FIXTURE_PUB_B64 "RWRTttHoS0wCYDtmwOx38SaSthxlcdtEY5M2BQOwLGiIK7AqrqoR2Nc4"

static mode_t file_mode(const char *path)
{
	struct stat st;

	CHECK(lstat(path, &st) == 0);
	return st.st_mode & 07777;
}

static void test_key_roundtrip(void)
{
	struct rp_key *k = NULL, *sk = NULL, *pk = NULL;
	const char *s = harness_path("rt.key"), *p = harness_path("rt.pub");

	CHECK_INT(rp_key_generate(&k), RP_OK);
	CHECK_INT(strlen(k->keyid), RP_KEYID_HEX_LEN);
	CHECK_INT(rp_key_write(k, s, p, false), RP_OK);
	CHECK_INT(file_mode(s), 0600);
	CHECK_INT(file_mode(p), 0644);
	CHECK_INT(rp_key_load_secret(&sk, s), RP_OK);
	CHECK_INT(rp_key_load_public(&pk, p), RP_OK);
	CHECK(sk->sk && !pk->sk);
	CHECK_STR(sk->keyid, k->keyid);
	CHECK_STR(pk->keyid, k->keyid);
	CHECK(memcmp(sk->keynum, k->keynum, 8) == 0);
	CHECK(memcmp(sk->pk, k->pk, 32) == 0);
	CHECK(memcmp(pk->pk, k->pk, 32) == 0);
	CHECK(memcmp(sk->sk, k->sk, 64) == 0);
	rp_key_free(k);
	rp_key_free(sk);
	rp_key_free(pk);
}

static void test_key_write_refuses_existing(void)
{
	struct rp_key *a = NULL, *b = NULL, *loaded = NULL;
	const char *s = harness_path("ex.key"), *p = harness_path("ex.pub"), *s2 = harness_path("ex2.key");

	CHECK_INT(rp_key_generate(&a), RP_OK);
	CHECK_INT(rp_key_generate(&b), RP_OK);
	CHECK_INT(rp_key_write(a, s, p, false), RP_OK);
	CHECK_INT(rp_key_write(b, s, p, false), RP_E_IO);
	CHECK_STR(rp_error_last()->id, "key_exists");
	/* Public half taken: the new secret half must not be left behind. */
	CHECK_INT(rp_key_write(b, s2, p, false), RP_E_IO);
	CHECK(access(s2, F_OK) != 0);
	CHECK_INT(rp_key_load_secret(&loaded, s), RP_OK);
	CHECK_STR(loaded->keyid, a->keyid);
	rp_key_free(loaded);
	CHECK_INT(rp_key_write(b, s, p, true), RP_OK);
	CHECK_INT(file_mode(s), 0600);
	CHECK_INT(file_mode(p), 0644);
	CHECK_INT(rp_key_load_secret(&loaded, s), RP_OK);
	CHECK_STR(loaded->keyid, b->keyid);
	rp_key_free(loaded);
	CHECK_INT(rp_key_write(b, s, s, true), RP_E_USAGE);
	rp_key_free(a);
	rp_key_free(b);
}

static void test_secret_key_symlink_refused(void)
{
	struct rp_key *k = NULL;
	const char *link = harness_path("link.key");

	unlink(link);
	CHECK(symlink(FIXTURE_KEY, link) == 0);
	CHECK(rp_key_load_secret(&k, link) != RP_OK);
	CHECK_STR(rp_error_last()->id, "key_unreadable");
	CHECK(strstr(rp_error_last()->msg, "symbolic link"));
	CHECK(!k);
}

static void test_fixture_key_from_minisign(void)
{
	struct rp_key *sk = NULL, *pk = NULL, *pb = NULL;

	CHECK_INT(rp_key_load_secret(&sk, FIXTURE_KEY), RP_OK);
	CHECK_INT(rp_key_load_public(&pk, FIXTURE_PUB), RP_OK);
	CHECK_INT(rp_key_parse_public(&pb, FIXTURE_PUB_B64), RP_OK);
	CHECK_STR(sk->keyid, FIXTURE_KEYID);
	CHECK_STR(pk->keyid, FIXTURE_KEYID);
	CHECK_STR(pb->keyid, FIXTURE_KEYID);
	CHECK(memcmp(sk->pk, pk->pk, 32) == 0);
	CHECK(memcmp(pb->pk, pk->pk, 32) == 0);
	rp_key_free(sk);
	rp_key_free(pk);
	rp_key_free(pb);
}

static void test_public_text_matches_minisign(void)
{
	struct rp_buf want = RP_BUF_INIT, got = RP_BUF_INIT;
	struct rp_key *pk = NULL;

	CHECK_INT(rp_read_file(&want, FIXTURE_PUB, 4096, 0), RP_OK);
	CHECK_INT(rp_key_load_public(&pk, FIXTURE_PUB), RP_OK);
	CHECK_INT(rp_key_public_text(pk, &got), RP_OK);
	CHECK_STR((char *)got.data, (char *)want.data);
	rp_buf_release(&want);
	rp_buf_release(&got);
	rp_key_free(pk);
}

static void test_bad_public_keys(void)
{
	static const char *bad[] = {
		"", "not base64!", "RWRTttHoS0wCYDtmwOx38SaSthxlcdtEY5M2BQOwLGiIK7AqrqoR2Nc",
		"RWRTttHoS0wCYDtmwOx38SaSthxlcdtEY5M2BQOwLGiIK7AqrqoR2Nc4AAAA",
		/* the right length, but "ED" instead of "Ed" */
		"RURTttHoS0wCYDtmwOx38SaSthxlcdtEY5M2BQOwLGiIK7AqrqoR2Nc4",
	};
	struct rp_key *k = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(rp_key_parse_public(&k, bad[i]), RP_E_PARSE);
		CHECK_STR(rp_error_last()->id, "key_invalid");
		CHECK(!k);
	}
	harness_write_file(harness_path("nocomment.pub"), FIXTURE_PUB_B64 "\n", strlen(FIXTURE_PUB_B64) + 1);
	CHECK_INT(rp_key_load_public(&k, harness_path("nocomment.pub")), RP_E_PARSE);
	CHECK_INT(rp_key_load_public(&k, harness_path("does-not-exist.pub")), RP_E_NOTFOUND);
	CHECK_STR(rp_error_last()->id, "key_unreadable");
}

/* Rewrite the binary secret key of src through edit() into dst. */
static void edit_secret_key(const char *src, const char *dst, void (*edit)(unsigned char *))
{
	struct rp_buf text = RP_BUF_INIT;
	unsigned char raw[158];
	char b64[sodium_base64_ENCODED_LEN(158, sodium_base64_VARIANT_ORIGINAL)], out[512];
	char *line, *nl;
	size_t n = 0;

	CHECK_INT(rp_read_file(&text, src, 4096, 0), RP_OK);
	line = strchr((char *)text.data, '\n') + 1;
	nl = strchr(line, '\n');
	CHECK(sodium_base642bin(raw, sizeof(raw), line, (size_t)(nl - line), NULL, &n, NULL,
				sodium_base64_VARIANT_ORIGINAL) == 0 && n == sizeof(raw));
	edit(raw);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, sizeof(out), "untrusted comment: edited\n%s\n", b64);
	harness_write_file(dst, out, strlen(out));
	rp_buf_release(&text);
}

static void make_encrypted(unsigned char *raw) { memcpy(raw + 2, "Sc", 2); }
static void break_checksum(unsigned char *raw) { raw[126 + 5] ^= 1; }
static void break_secret(unsigned char *raw) { raw[62 + 3] ^= 1; }

static void test_secret_key_checks(void)
{
	struct rp_key *k = NULL, *gen = NULL;
	const char *ours = harness_path("ours.key");

	edit_secret_key(FIXTURE_KEY, harness_path("enc.key"), make_encrypted);
	CHECK_INT(rp_key_load_secret(&k, harness_path("enc.key")), RP_E_UNSUPPORTED);
	CHECK_STR(rp_error_last()->id, "key_encrypted");
	CHECK(strstr(rp_error_last()->msg, "minisign -G -W"));
	/* minisign 0.11 writes no checksum for -W keys: the halves are compared. */
	edit_secret_key(FIXTURE_KEY, harness_path("halves.key"), break_secret);
	CHECK_INT(rp_key_load_secret(&k, harness_path("halves.key")), RP_E_PARSE);
	CHECK_STR(rp_error_last()->id, "key_invalid");
	/* Keys runpack writes carry a real checksum, and it is checked. */
	CHECK_INT(rp_key_generate(&gen), RP_OK);
	CHECK_INT(rp_key_write(gen, ours, harness_path("ours.pub"), false), RP_OK);
	edit_secret_key(ours, harness_path("chk.key"), break_checksum);
	CHECK_INT(rp_key_load_secret(&k, harness_path("chk.key")), RP_E_PARSE);
	CHECK(strstr(rp_error_last()->msg, "checksum"));
	CHECK(!k);
	rp_key_free(gen);
}

static void test_dsse_roundtrip(void)
{
	struct rp_buf env = RP_BUF_INIT, payload = RP_BUF_INIT;
	struct rp_key *sk = NULL, *pk = NULL;
	char claimed[RP_KEYID_HEX_LEN + 1];

	CHECK_INT(rp_key_load_secret(&sk, FIXTURE_KEY), RP_OK);
	CHECK_INT(rp_key_load_public(&pk, FIXTURE_PUB), RP_OK);
	CHECK_INT(rp_dsse_sign(&env, sk, RP_DSSE_PAYLOAD_TYPE, "{\"a\":1}", 7), RP_OK);
	CHECK(env.len > 0 && env.data[env.len - 1] == '\n');
	CHECK(memchr(env.data, '\n', env.len) == env.data + env.len - 1);
	CHECK_INT(rp_dsse_verify(&payload, claimed, pk, RP_DSSE_PAYLOAD_TYPE, env.data, env.len),
		  RP_OK);
	CHECK_STR((char *)payload.data, "{\"a\":1}");
	CHECK_STR(claimed, FIXTURE_KEYID);
	/* Ed25519 is deterministic: the same payload gives the same envelope. */
	rp_buf_reset(&payload);
	CHECK_INT(rp_dsse_sign(&payload, sk, RP_DSSE_PAYLOAD_TYPE, "{\"a\":1}", 7), RP_OK);
	CHECK_STR((char *)payload.data, (char *)env.data);
	rp_buf_release(&env);
	rp_buf_release(&payload);
	rp_key_free(sk);
	rp_key_free(pk);
}

/* Replace one string field of the envelope's JSON, keeping the signature. */
static void envelope_set(struct rp_buf *env, const char *key, const char *value)
{
	json_t *j = json_loadb((const char *)env->data, env->len, 0, NULL);
	char *text;

	CHECK(j);
	CHECK(json_object_set_new(j, key, json_string(value)) == 0);
	text = json_dumps(j, JSON_COMPACT);
	CHECK(text);
	rp_buf_reset(env);
	CHECK_INT(rp_buf_puts(env, text), RP_OK);
	free(text);
	json_decref(j);
}

static void envelope_claim_keyid(struct rp_buf *env, const char *keyid)
{
	json_t *j = json_loadb((const char *)env->data, env->len, 0, NULL);
	json_t *sig = json_array_get(json_object_get(j, "signatures"), 0);
	char *text;

	CHECK(sig);
	CHECK(json_object_set_new(sig, "keyid", json_string(keyid)) == 0);
	text = json_dumps(j, JSON_COMPACT);
	CHECK(text);
	rp_buf_reset(env);
	CHECK_INT(rp_buf_puts(env, text), RP_OK);
	free(text);
	json_decref(j);
}

static void test_dsse_tampered(void)
{
	struct rp_buf env = RP_BUF_INIT, payload = RP_BUF_INIT;
	struct rp_key *sk = NULL;
	char b64[64];

	CHECK_INT(rp_key_load_secret(&sk, FIXTURE_KEY), RP_OK);
	CHECK_INT(rp_dsse_sign(&env, sk, RP_DSSE_PAYLOAD_TYPE, "{\"a\":1}", 7), RP_OK);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)"{\"a\":2}", 7,
			  sodium_base64_VARIANT_ORIGINAL);
	envelope_set(&env, "payload", b64);
	CHECK_INT(rp_dsse_verify(&payload, NULL, sk, RP_DSSE_PAYLOAD_TYPE, env.data, env.len),
		  RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "dsse_bad_signature");
	CHECK(strstr(rp_error_last()->msg, FIXTURE_KEYID));
	CHECK_INT(payload.len, 0);

	/* The type is inside the signed encoding as well. */
	rp_buf_reset(&env);
	CHECK_INT(rp_dsse_sign(&env, sk, RP_DSSE_PAYLOAD_TYPE, "{\"a\":1}", 7), RP_OK);
	envelope_set(&env, "payloadType", "application/vnd.in-toto+jsoN");
	CHECK_INT(rp_dsse_verify(&payload, NULL, sk, "application/vnd.in-toto+jsoN", env.data,
				 env.len), RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "dsse_bad_signature");

	/* Well signed, but not the type asked for. */
	rp_buf_reset(&env);
	CHECK_INT(rp_dsse_sign(&env, sk, "text/plain", "hi", 2), RP_OK);
	CHECK_INT(rp_dsse_verify(&payload, NULL, sk, RP_DSSE_PAYLOAD_TYPE, env.data, env.len),
		  RP_E_PARSE);
	CHECK_STR(rp_error_last()->id, "dsse_malformed");
	rp_buf_release(&env);
	rp_buf_release(&payload);
	rp_key_free(sk);
}

static void test_dsse_wrong_key(void)
{
	struct rp_buf env = RP_BUF_INIT, payload = RP_BUF_INIT;
	struct rp_key *sk = NULL, *other = NULL;
	char claimed[RP_KEYID_HEX_LEN + 1];

	CHECK_INT(rp_key_load_secret(&sk, FIXTURE_KEY), RP_OK);
	CHECK_INT(rp_key_generate(&other), RP_OK);
	CHECK_INT(rp_dsse_sign(&env, sk, RP_DSSE_PAYLOAD_TYPE, "x", 1), RP_OK);
	CHECK_INT(rp_dsse_verify(&payload, claimed, other, RP_DSSE_PAYLOAD_TYPE, env.data,
				 env.len), RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "dsse_wrong_key");
	CHECK(strstr(rp_error_last()->msg, FIXTURE_KEYID));
	CHECK(strstr(rp_error_last()->msg, other->keyid));
	CHECK_STR(claimed, FIXTURE_KEYID);
	/* A signature that claims the right key id but is someone else's. */
	rp_buf_reset(&env);
	CHECK_INT(rp_dsse_sign(&env, other, RP_DSSE_PAYLOAD_TYPE, "x", 1), RP_OK);
	envelope_claim_keyid(&env, FIXTURE_KEYID);
	CHECK_INT(rp_dsse_verify(&payload, NULL, sk, RP_DSSE_PAYLOAD_TYPE, env.data, env.len),
		  RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "dsse_bad_signature");
	rp_buf_release(&env);
	rp_buf_release(&payload);
	rp_key_free(sk);
	rp_key_free(other);
}

/* The pre-authentication encoding, computed by hand (DSSE spec's example). */
static void test_dsse_pae_vector(void)
{
	static const char pae[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	struct rp_buf env = RP_BUF_INIT, payload = RP_BUF_INIT;
	struct rp_key *sk = NULL;
	unsigned char sig[64];
	char sig_b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	char want[512];
	json_t *j;
	char *text;

	CHECK_INT(rp_key_load_secret(&sk, FIXTURE_KEY), RP_OK);
	crypto_sign_detached(sig, NULL, (const unsigned char *)pae, strlen(pae), sk->sk);
	sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig),
			  sodium_base64_VARIANT_ORIGINAL);
	CHECK_INT(rp_dsse_sign(&env, sk, "http://example.com/HelloWorld", "hello world", 11),
		  RP_OK);
	snprintf(want, sizeof(want),
		 "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"http://example.com/"
		 "HelloWorld\",\"signatures\":[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}\n",
		 FIXTURE_KEYID, sig_b64);
	CHECK_STR((char *)env.data, want);
	/* And an envelope made by hand, without keyid, verifies. */
	j = json_pack("{s:s, s:s, s:[{s:s}]}", "payload", "aGVsbG8gd29ybGQ=", "payloadType",
		      "http://example.com/HelloWorld", "signatures", "sig", sig_b64);
	text = json_dumps(j, 0);
	CHECK_INT(rp_dsse_verify(&payload, NULL, sk, "http://example.com/HelloWorld", text,
				 strlen(text)), RP_OK);
	CHECK_STR((char *)payload.data, "hello world");
	free(text);
	json_decref(j);
	rp_buf_release(&env);
	rp_buf_release(&payload);
	rp_key_free(sk);
}

static void test_dsse_malformed(void)
{
	static const char *bad[] = {
		"", "not json", "[]", "{}",
		"{\"payloadType\":\"t\",\"payload\":\"eA==\"}",
		"{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"not base64\",\"signatures\":[{\"sig\":\"\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"keyid\":\"x\"}]}",
		"{\"payloadType\":\"t\",\"payloadType\":\"t\",\"payload\":\"eA==\","
		"\"signatures\":[{\"sig\":\"\"}]}",
	};
	struct rp_buf payload = RP_BUF_INIT;
	struct rp_key *pk = NULL;

	CHECK_INT(rp_key_load_public(&pk, FIXTURE_PUB), RP_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(rp_dsse_verify(&payload, NULL, pk, "t", bad[i], strlen(bad[i])),
			  RP_E_PARSE);
		CHECK_STR(rp_error_last()->id, "dsse_malformed");
	}
	rp_key_free(pk);
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

/* Signatures we make are accepted by stock minisign, and only for the file. */
static void test_minisig_accepted_by_minisign(void)
{
	struct rp_buf sig = RP_BUF_INIT, pub = RP_BUF_INIT;
	struct rp_key *k = NULL;
	const char *file = harness_path("signed.bin"), *sigf = harness_path("signed.bin.minisig");
	const char *pubf = harness_path("signer.pub");
	int fd;

	CHECK_INT(rp_key_generate(&k), RP_OK);
	CHECK_INT(rp_key_public_text(k, &pub), RP_OK);
	harness_write_file(pubf, pub.data, pub.len);
	harness_write_file(file, "some bytes\0with a NUL\n", 22);
	fd = open_ro(file);
	CHECK_INT(rp_minisig_sign_fd(&sig, k, fd, "runpack test\tfile:signed.bin"), RP_OK);
	close(fd);
	harness_write_file(sigf, sig.data, sig.len);
	CHECK_INT(harness_sh("minisign -Vm %s -x %s -p %s -q", file, sigf, pubf), 0);
	fd = open_ro(file);
	CHECK_INT(rp_minisig_verify_fd(k, fd, sig.data, sig.len), RP_OK);
	close(fd);

	harness_write_file(file, "some bytes\0with a NUL\r", 22);
	CHECK_INT(harness_sh("minisign -Vm %s -x %s -p %s -q", file, sigf, pubf), 1);
	fd = open_ro(file);
	CHECK_INT(rp_minisig_verify_fd(k, fd, sig.data, sig.len), RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "minisig_bad_signature");
	close(fd);
	rp_buf_release(&sig);
	rp_buf_release(&pub);
	rp_key_free(k);
}

static void test_minisig_trusted_comment_bound(void)
{
	struct rp_buf sig = RP_BUF_INIT;
	struct rp_key *k = NULL;
	const char *file = harness_path("tc.bin"), *sigf = harness_path("tc.bin.minisig");
	char *p;
	int fd;

	CHECK_INT(rp_key_load_secret(&k, FIXTURE_KEY), RP_OK);
	harness_write_file(file, "x", 1);
	fd = open_ro(file);
	CHECK_INT(rp_minisig_sign_fd(&sig, k, fd, "two\nlines"), RP_E_INVALID);
	CHECK_INT(rp_minisig_sign_fd(&sig, k, fd, "status:succeeded"), RP_OK);
	p = strstr((char *)sig.data, "status:succeeded");
	CHECK(p);
	memcpy(p, "status:SUCCEEDED", 16);
	CHECK_INT(rp_minisig_verify_fd(k, fd, sig.data, sig.len), RP_E_VERIFY);
	close(fd);
	harness_write_file(sigf, sig.data, sig.len);
	CHECK_INT(harness_sh("minisign -Vm %s -x %s -P %s -q", file, sigf, FIXTURE_PUB_B64), 1);
	rp_buf_release(&sig);
	rp_key_free(k);
}

/* A key runpack wrote is usable by stock minisign to sign, and what minisign
 * signs verifies here. */
static void test_minisign_signs_with_our_key(void)
{
	struct rp_buf sig = RP_BUF_INIT;
	struct rp_key *k = NULL, *other = NULL;
	const char *s = harness_path("ms.key"), *p = harness_path("ms.pub"), *file = harness_path("ms.txt");
	const char *sigf = harness_path("ms.txt.minisig");
	int fd;

	CHECK_INT(rp_key_generate(&k), RP_OK);
	CHECK_INT(rp_key_write(k, s, p, false), RP_OK);
	harness_write_file(file, "hello\n", 6);
	CHECK_INT(harness_sh("minisign -S -s %s -m %s -x %s -t 'made by minisign' >/dev/null "
			    "</dev/null", s, file, sigf), 0);
	CHECK_INT(harness_sh("minisign -Vm %s -x %s -p %s -q", file, sigf, p), 0);
	CHECK_INT(rp_read_file(&sig, sigf, 65536, 0), RP_OK);
	fd = open_ro(file);
	CHECK_INT(rp_minisig_verify_fd(k, fd, sig.data, sig.len), RP_OK);
	CHECK_INT(rp_key_generate(&other), RP_OK);
	CHECK_INT(rp_minisig_verify_fd(other, fd, sig.data, sig.len), RP_E_VERIFY);
	CHECK_STR(rp_error_last()->id, "minisig_wrong_key");
	CHECK(strstr(rp_error_last()->msg, k->keyid));
	close(fd);
	rp_buf_release(&sig);
	rp_key_free(k);
	rp_key_free(other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_key_roundtrip);
	RUN(test_key_write_refuses_existing);
	RUN(test_secret_key_symlink_refused);
	RUN(test_fixture_key_from_minisign);
	RUN(test_public_text_matches_minisign);
	RUN(test_bad_public_keys);
	RUN(test_secret_key_checks);
	RUN(test_dsse_roundtrip);
	RUN(test_dsse_tampered);
	RUN(test_dsse_wrong_key);
	RUN(test_dsse_pae_vector);
	RUN(test_dsse_malformed);
	RUN(test_minisig_accepted_by_minisign);
	RUN(test_minisig_trusted_comment_bound);
	RUN(test_minisign_signs_with_our_key);
	return harness_done();
}
