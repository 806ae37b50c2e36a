#include "rp_sign.h"
#include "rp_error.h"
#include "rp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* minisign's binary layouts (src/minisign.h there), as byte offsets. */
#define KEYNUM_LEN 8
#define PK_LEN crypto_sign_PUBLICKEYBYTES
#define SK_LEN crypto_sign_SECRETKEYBYTES
#define SIG_LEN crypto_sign_BYTES
#define CHK_LEN crypto_generichash_BYTES

#define PUB_KEYNUM 2
#define PUB_PK (PUB_KEYNUM + KEYNUM_LEN)
#define PUB_LEN (PUB_PK + PK_LEN)

#define SEC_KDF 2
#define SEC_CHKALG 4
#define SEC_KEYNUM 54 /* after salt[32], opslimit[8], memlimit[8] */
#define SEC_SK (SEC_KEYNUM + KEYNUM_LEN)
#define SEC_CHK (SEC_SK + SK_LEN)
#define SEC_LEN (SEC_CHK + CHK_LEN)

#define MSIG_KEYNUM 2
#define MSIG_SIG (MSIG_KEYNUM + KEYNUM_LEN)
#define MSIG_LEN (MSIG_SIG + SIG_LEN)

#define COMMENT_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
/* minisign reads the trusted comment line into 8192 bytes, prefix included. */
#define TRUSTED_COMMENT_MAX (8192 - sizeof(TRUSTED_PREFIX) - 1)
/* Key files are two short lines; minisign allows a 1 KiB comment. */
#define KEY_FILE_MAX 4096

#define B64 sodium_base64_VARIANT_ORIGINAL

static uint64_t le64_load(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* minisign prints the key number as a little-endian integer in hex. */
static void key_set_id(struct rp_key *k)
{
	snprintf(k->keyid, sizeof(k->keyid), "%016" PRIX64, le64_load(k->keynum));
}

static bool keyid_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return i == RP_KEYID_HEX_LEN;
}

/* Decode strict, padded base64 that must yield exactly want bytes. */
static bool b64_decode_exact(unsigned char *out, size_t want, const char *s, size_t n)
{
	size_t got = 0;

	return sodium_base642bin(out, want, s, n, NULL, &got, NULL, B64) == 0 && got == want;
}

static char *b64_encode(const void *p, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n, B64);
	char *s = malloc(len);

	if (s)
		sodium_bin2base64(s, len, p, n, B64);
	return s;
}

static struct rp_key *key_new(bool secret)
{
	struct rp_key *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (secret) {
		k->sk = sodium_malloc(SK_LEN);
		if (!k->sk) {
			free(k);
			return NULL;
		}
	}
	return k;
}

void rp_key_free(struct rp_key *k)
{
	if (!k)
		return;
	sodium_free(k->sk);
	free(k);
}

int rp_key_generate(struct rp_key **out)
{
	struct rp_key *k = key_new(true);

	*out = NULL;
	if (!k)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	randombytes_buf(k->keynum, sizeof(k->keynum));
	if (crypto_sign_keypair(k->pk, k->sk) != 0) {
		rp_key_free(k);
		return rp_error_set(RP_E_CRYPTO, "key_generate_failed", "cannot generate a key pair");
	}
	key_set_id(k);
	*out = k;
	return RP_OK;
}

/* Read a key file into text (a buffer of cap bytes), NUL-terminated. */
static int key_file_read(char *text, size_t *len, size_t cap, const char *path, const char *what,
			 bool nofollow)
{
	int fd, rc = RP_OK;
	ssize_t r;
	struct stat st;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ELOOP && nofollow)
			return rp_error_set(RP_E_IO, "key_unreadable",
					    "%s '%s' is a symbolic link; give the key file itself",
					    what, path);
		return rp_error_set_errno(errno == ENOENT ? RP_E_NOTFOUND : RP_E_IO,
					  "key_unreadable", errno, "cannot open %s '%s'", what, path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = rp_error_set(RP_E_IO, "key_unreadable", "%s '%s' is not a regular file", what,
				  path);
		goto done;
	}
	while (*len < cap && (r = rp_read_some(fd, text + *len, cap - *len)) != 0) {
		if (r < 0) {
			rc = rp_error_set_errno(RP_E_IO, "key_unreadable", errno,
						"cannot read %s '%s'", what, path);
			goto done;
		}
		*len += (size_t)r;
	}
	if (*len == cap) {
		rc = rp_error_set(RP_E_PARSE, "key_invalid",
				  "%s '%s' is larger than %zu bytes: not a minisign key file", what,
				  path, cap - 1);
		goto done;
	}
	text[*len] = '\0';
done:
	close(fd);
	return rc;
}

/* Next line at *p, without its "\n" or "\r\n"; false when none is left. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	return true;
}

/* The base64 line of a key file: the one after the untrusted comment. */
static int key_file_b64(const char **b64, size_t *b64_len, const char *text, size_t len,
			const char *path, const char *what)
{
	const char *p = text, *end = text + len, *line;
	size_t n;

	if (!next_line(&p, end, &line, &n) || n < strlen(COMMENT_PREFIX) ||
	    memcmp(line, COMMENT_PREFIX, strlen(COMMENT_PREFIX)) != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "%s '%s' is not a minisign key file: it does not start with "
				    "\"" COMMENT_PREFIX "\"", what, path);
	if (!next_line(&p, end, b64, b64_len) || !*b64_len)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "%s '%s' is not a minisign key file: the key line is missing",
				    what, path);
	return RP_OK;
}

static void secret_checksum(unsigned char out[CHK_LEN], const unsigned char *raw)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CHK_LEN);
	crypto_generichash_update(&st, raw, 2);
	crypto_generichash_update(&st, raw + SEC_KEYNUM, KEYNUM_LEN);
	crypto_generichash_update(&st, raw + SEC_SK, SK_LEN);
	crypto_generichash_final(&st, out, CHK_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* Decode and check the binary secret key in scratch[0..SEC_LEN); the rest of
 * scratch is room for secret temporaries. */
static int secret_parse(struct rp_key *k, unsigned char *scratch, const char *b64, size_t b64_len,
			const char *path)
{
	static const unsigned char zero[CHK_LEN];
	unsigned char *raw = scratch, *chk = scratch + SEC_LEN;
	unsigned char *seed = chk + CHK_LEN, *sk2 = seed + crypto_sign_SEEDBYTES;
	unsigned char pk2[PK_LEN];

	if (!b64_decode_exact(raw, SEC_LEN, b64, b64_len) || memcmp(raw, "Ed", 2) != 0 ||
	    memcmp(raw + SEC_CHKALG, "B2", 2) != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "'%s' is not a minisign Ed25519 secret key", path);
	if (memcmp(raw + SEC_KDF, "Sc", 2) == 0)
		return rp_error_set(RP_E_UNSUPPORTED, "key_encrypted",
				    "secret key '%s' is protected by a password; runpack needs an "
				    "unencrypted key: create one with 'runpack keygen' or "
				    "'minisign -G -W', or remove the password with "
				    "'minisign -C -W -s %s'", path, path);
	if (raw[SEC_KDF] != 0 || raw[SEC_KDF + 1] != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "secret key '%s' uses an unknown key derivation function", path);
	secret_checksum(chk, raw);
	if (sodium_memcmp(raw + SEC_CHK, zero, CHK_LEN) != 0 &&
	    sodium_memcmp(raw + SEC_CHK, chk, CHK_LEN) != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "secret key '%s' is corrupt: its checksum does not match", path);
	/* With no checksum to go by, rebuild the key pair from its seed. */
	crypto_sign_ed25519_sk_to_seed(seed, raw + SEC_SK);
	if (crypto_sign_seed_keypair(pk2, sk2, seed) != 0 ||
	    sodium_memcmp(sk2, raw + SEC_SK, SK_LEN) != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "secret key '%s' is corrupt: its halves do not match", path);
	memcpy(k->keynum, raw + SEC_KEYNUM, KEYNUM_LEN);
	memcpy(k->sk, raw + SEC_SK, SK_LEN);
	memcpy(k->pk, pk2, PK_LEN);
	key_set_id(k);
	return RP_OK;
}

int rp_key_load_secret(struct rp_key **out, const char *path)
{
	char text[KEY_FILE_MAX + 1];
	const size_t scratch_len = SEC_LEN + CHK_LEN + crypto_sign_SEEDBYTES + SK_LEN;
	unsigned char *scratch = sodium_malloc(scratch_len);
	struct rp_key *k = key_new(true);
	const char *b64;
	size_t len, b64_len;
	int rc;

	*out = NULL;
	if (!scratch || !k) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	rc = key_file_read(text, &len, sizeof(text), path, "secret key", true);
	if (!rc)
		rc = key_file_b64(&b64, &b64_len, text, len, path, "secret key");
	if (!rc)
		rc = secret_parse(k, scratch, b64, b64_len, path);
	if (!rc) {
		*out = k;
		k = NULL;
	}
done:
	sodium_memzero(text, sizeof(text));
	sodium_free(scratch);
	rp_key_free(k);
	return rc;
}

static int public_parse(struct rp_key **out, const char *b64, size_t n)
{
	unsigned char raw[PUB_LEN];
	struct rp_key *k;

	*out = NULL;
	if (!b64_decode_exact(raw, sizeof(raw), b64, n) || memcmp(raw, "Ed", 2) != 0)
		return rp_error_set(RP_E_PARSE, "key_invalid",
				    "not a minisign public key (expected the base64 of %d bytes "
				    "starting with \"Ed\")", PUB_LEN);
	k = key_new(false);
	if (!k)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	memcpy(k->keynum, raw + PUB_KEYNUM, KEYNUM_LEN);
	memcpy(k->pk, raw + PUB_PK, PK_LEN);
	key_set_id(k);
	*out = k;
	return RP_OK;
}

int rp_key_parse_public(struct rp_key **out, const char *base64)
{
	return public_parse(out, base64, strlen(base64));
}

int rp_key_load_public(struct rp_key **out, const char *path)
{
	char text[KEY_FILE_MAX + 1];
	const char *b64;
	size_t len, b64_len;
	int rc;

	*out = NULL;
	rc = key_file_read(text, &len, sizeof(text), path, "public key", false);
	if (!rc)
		rc = key_file_b64(&b64, &b64_len, text, len, path, "public key");
	if (!rc && public_parse(out, b64, b64_len))
		rc = rp_error_prefix("public key '%s'", path);
	return rc;
}

int rp_key_public_text(const struct rp_key *k, struct rp_buf *out)
{
	unsigned char raw[PUB_LEN];
	char *b64;
	int rc;

	memcpy(raw, "Ed", 2);
	memcpy(raw + PUB_KEYNUM, k->keynum, KEYNUM_LEN);
	memcpy(raw + PUB_PK, k->pk, PK_LEN);
	b64 = b64_encode(raw, sizeof(raw));
	if (!b64)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = rp_buf_printf(out, COMMENT_PREFIX "minisign public key %s\n%s\n", k->keyid, b64);
	free(b64);
	return rc;
}

/* The secret key file text, in sodium_malloc'd memory (sodium_free wipes it). */
static int secret_text(char **out, size_t *len, const struct rp_key *k)
{
	const size_t b64_len = sodium_base64_ENCODED_LEN(SEC_LEN, B64);
	const size_t cap = sizeof(COMMENT_PREFIX) + 64 + b64_len;
	unsigned char *raw = sodium_malloc(SEC_LEN);
	char *b64 = sodium_malloc(b64_len), *text = sodium_malloc(cap);
	int rc = RP_OK, n;

	*out = NULL;
	if (!raw || !b64 || !text) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	/* kdf "\0\0", salt and limits zero: an unencrypted key, as minisign -W. */
	memset(raw, 0, SEC_LEN);
	memcpy(raw, "Ed", 2);
	memcpy(raw + SEC_CHKALG, "B2", 2);
	memcpy(raw + SEC_KEYNUM, k->keynum, KEYNUM_LEN);
	memcpy(raw + SEC_SK, k->sk, SK_LEN);
	secret_checksum(raw + SEC_CHK, raw);
	sodium_bin2base64(b64, b64_len, raw, SEC_LEN, B64);
	n = snprintf(text, cap, COMMENT_PREFIX "runpack secret key %s\n%s\n", k->keyid, b64);
	if (n < 0 || (size_t)n >= cap) {
		rc = rp_error_set(RP_E_INTERNAL, NULL, "secret key text does not fit");
		goto done;
	}
	*len = (size_t)n;
	*out = text;
	text = NULL;
done:
	sodium_free(raw);
	sodium_free(b64);
	sodium_free(text);
	return rc;
}

static int key_create_excl(int *fd, const char *path, mode_t mode)
{
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (*fd < 0) {
		if (errno == EEXIST)
			return rp_error_set(RP_E_IO, "key_exists", "'%s' already exists", path);
		return rp_error_set_errno(RP_E_IO, "key_unwritable", errno, "cannot create '%s'",
					  path);
	}
	/* The umask must not decide the public key's mode. */
	if (fchmod(*fd, mode) < 0)
		return rp_error_set_errno(RP_E_IO, "key_unwritable", errno,
					  "cannot set the mode of '%s'", path);
	return RP_OK;
}

/* Write, sync and close *fd (which becomes -1). */
static int key_file_finish(int *fd, const char *path, const void *text, size_t n)
{
	int rc = RP_OK;

	if (rp_write_all(*fd, text, n) < 0 || fsync(*fd) < 0)
		rc = rp_error_set_errno(RP_E_IO, "key_unwritable", errno, "cannot write '%s'", path);
	if (close(*fd) < 0 && !rc)
		rc = rp_error_set_errno(RP_E_IO, "key_unwritable", errno, "cannot close '%s'", path);
	*fd = -1;
	return rc;
}

static int key_write_new(const char *secret_path, const char *sec, size_t sec_len,
			 const char *public_path, const struct rp_buf *pub)
{
	int sfd = -1, pfd = -1, rc;
	bool made_secret = false, made_public = false;

	/* Claim both names before writing either, so a refusal leaves nothing. */
	rc = key_create_excl(&sfd, secret_path, 0600);
	made_secret = sfd >= 0;
	if (!rc) {
		rc = key_create_excl(&pfd, public_path, 0644);
		made_public = pfd >= 0;
	}
	if (!rc)
		rc = key_file_finish(&sfd, secret_path, sec, sec_len);
	if (!rc)
		rc = key_file_finish(&pfd, public_path, pub->data, pub->len);
	if (sfd >= 0)
		close(sfd);
	if (pfd >= 0)
		close(pfd);
	if (rc && made_secret)
		unlink(secret_path);
	if (rc && made_public)
		unlink(public_path);
	return rc;
}

static int key_write_replace(const char *secret_path, const char *sec, size_t sec_len,
			     const char *public_path, const struct rp_buf *pub)
{
	struct rp_atomic s = { .fd = -1 }, p = { .fd = -1 };
	int rc;

	rc = rp_atomic_open(&s, secret_path, 0600);
	if (!rc)
		rc = rp_atomic_open(&p, public_path, 0644);
	if (!rc && rp_write_all(s.fd, sec, sec_len) < 0)
		rc = rp_error_set_errno(RP_E_IO, "key_unwritable", errno, "cannot write '%s'",
					s.tmp_path);
	if (!rc && rp_write_all(p.fd, pub->data, pub->len) < 0)
		rc = rp_error_set_errno(RP_E_IO, "key_unwritable", errno, "cannot write '%s'",
					p.tmp_path);
	if (!rc)
		rc = rp_atomic_commit(&s);
	if (!rc)
		rc = rp_atomic_commit(&p);
	rp_atomic_abort(&s);
	rp_atomic_abort(&p);
	return rc;
}

int rp_key_write(const struct rp_key *k, const char *secret_path, const char *public_path,
		 bool force)
{
	struct rp_buf pub = RP_BUF_INIT;
	char *sec = NULL;
	size_t sec_len = 0;
	int rc;

	if (!k->sk)
		return rp_error_set(RP_E_INVALID, "key_no_secret",
				    "key %s has no secret half to write", k->keyid);
	if (strcmp(secret_path, public_path) == 0)
		return rp_error_set(RP_E_USAGE, "usage",
				    "the secret and public key paths are both '%s'", secret_path);
	rc = secret_text(&sec, &sec_len, k);
	if (!rc)
		rc = rp_key_public_text(k, &pub);
	if (!rc)
		rc = force ? key_write_replace(secret_path, sec, sec_len, public_path, &pub)
			   : key_write_new(secret_path, sec, sec_len, public_path, &pub);
	sodium_free(sec);
	rp_buf_release(&pub);
	return rc;
}

/* ---- DSSE ---- */

static int dsse_pae(struct rp_buf *out, const char *type, size_t type_len, const void *body,
		    size_t n)
{
	int rc = rp_buf_printf(out, "DSSEv1 %zu ", type_len);

	if (!rc)
		rc = rp_buf_append(out, type, type_len);
	if (!rc)
		rc = rp_buf_printf(out, " %zu ", n);
	if (!rc)
		rc = rp_buf_append(out, body, n);
	return rc;
}

int rp_dsse_sign(struct rp_buf *out, const struct rp_key *k, const char *payload_type,
		 const void *payload, size_t n)
{
	struct rp_buf pae = RP_BUF_INIT;
	unsigned char sig[SIG_LEN];
	char *payload_b64 = NULL, *sig_b64 = NULL, *text = NULL;
	json_t *env = NULL;
	int rc;

	if (!k->sk)
		return rp_error_set(RP_E_CRYPTO, "key_no_secret",
				    "key %s has no secret half to sign with", k->keyid);
	rc = dsse_pae(&pae, payload_type, strlen(payload_type), payload, n);
	if (rc)
		goto done;
	crypto_sign_detached(sig, NULL, pae.data, pae.len, k->sk);
	payload_b64 = b64_encode(payload, n);
	sig_b64 = b64_encode(sig, sizeof(sig));
	if (payload_b64 && sig_b64)
		env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", payload_type,
				"payload", payload_b64, "signatures", "keyid", k->keyid,
				"sig", sig_b64);
	text = env ? json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "cannot build the DSSE envelope");
		goto done;
	}
	rc = rp_buf_printf(out, "%s\n", text);
done:
	rp_buf_release(&pae);
	free(payload_b64);
	free(sig_b64);
	free(text);
	json_decref(env);
	return rc;
}

static int dsse_malformed(const char *what)
{
	return rp_error_set(RP_E_PARSE, "dsse_malformed", "DSSE envelope is malformed: %s", what);
}

static const char *json_str_field(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Decode the envelope's base64 payload into a new buffer. */
static int dsse_payload(unsigned char **out, size_t *out_len, const json_t *env)
{
	const json_t *p = json_object_get(env, "payload");
	size_t n = json_string_length(p), cap = n / 4 * 3 + 1;

	*out = NULL;
	if (!json_is_string(p))
		return dsse_malformed("no \"payload\" string");
	*out = malloc(cap);
	if (!*out)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if (sodium_base642bin(*out, cap, json_string_value(p), n, NULL, out_len, NULL, B64) != 0)
		return dsse_malformed("\"payload\" is not base64");
	return RP_OK;
}

int rp_dsse_verify(struct rp_buf *payload_out, char claimed_keyid[RP_KEYID_HEX_LEN + 1],
		   const struct rp_key *pub, const char *payload_type,
		   const void *envelope, size_t n)
{
	struct rp_buf pae = RP_BUF_INIT;
	json_error_t jerr;
	json_t *env, *sigs, *s;
	unsigned char *payload = NULL, sig[SIG_LEN];
	const char *type, *keyid, *sig_b64;
	char claimed[RP_KEYID_HEX_LEN + 1] = "";
	size_t payload_len = 0, i, candidates = 0;
	bool verified = false;
	int rc = RP_OK;

	env = json_loadb(envelope, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!env) {
		rc = rp_error_set(RP_E_PARSE, "dsse_malformed",
				  "DSSE envelope is not valid JSON (line %d, column %d): %s",
				  jerr.line, jerr.column, jerr.text);
		goto done;
	}
	type = json_str_field(env, "payloadType");
	sigs = json_object_get(env, "signatures");
	if (!json_is_object(env) || !type) {
		rc = dsse_malformed("no \"payloadType\" string");
		goto done;
	}
	if (!json_is_array(sigs) || json_array_size(sigs) == 0) {
		rc = dsse_malformed("no \"signatures\"");
		goto done;
	}
	rc = dsse_payload(&payload, &payload_len, env);
	if (!rc)
		rc = dsse_pae(&pae, type, json_string_length(json_object_get(env, "payloadType")),
			      payload, payload_len);
	if (rc)
		goto done;
	json_array_foreach(sigs, i, s) {
		keyid = json_str_field(s, "keyid");
		sig_b64 = json_str_field(s, "sig");
		if (!sig_b64) {
			rc = dsse_malformed("a signature has no \"sig\" string");
			goto done;
		}
		if (keyid && keyid_valid(keyid) && !claimed[0])
			memcpy(claimed, keyid, sizeof(claimed));
		/* DSSE makes keyid optional: an unnamed signature is tried too. */
		if (keyid && *keyid && strcmp(keyid, pub->keyid) != 0)
			continue;
		candidates++;
		if (b64_decode_exact(sig, sizeof(sig), sig_b64, strlen(sig_b64)) &&
		    crypto_sign_verify_detached(sig, pae.data, pae.len, pub->pk) == 0) {
			verified = true;
			break;
		}
	}
	if (verified)
		memcpy(claimed, pub->keyid, sizeof(claimed));
	if (!candidates)
		rc = rp_error_set(RP_E_VERIFY, "dsse_wrong_key", "signed by %s%s, not by key %s",
				  claimed[0] ? "key " : "an unknown key", claimed, pub->keyid);
	else if (!verified)
		rc = rp_error_set(RP_E_VERIFY, "dsse_bad_signature",
				  "signature does not verify with key %s", pub->keyid);
	else if (strcmp(type, payload_type) != 0)
		rc = rp_error_set(RP_E_PARSE, "dsse_malformed",
				  "DSSE payloadType is \"%.100s\", expected \"%s\"", type,
				  payload_type);
	else
		rc = rp_buf_append(payload_out, payload, payload_len);
done:
	if (claimed_keyid)
		memcpy(claimed_keyid, claimed, sizeof(claimed));
	rp_buf_release(&pae);
	free(payload);
	json_decref(env);
	return rc;
}

/* ---- minisign detached signatures ---- */

/* BLAKE2b-512 of the whole file at fd, as minisign's prehashed "ED" mode. */
static int file_blake2b(unsigned char out[crypto_generichash_BYTES_MAX], int fd)
{
	crypto_generichash_state st;
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t r;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES_MAX);
	for (;;) {
		r = pread(fd, buf, sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return rp_error_set_errno(RP_E_IO, "file_unreadable", errno,
						  "cannot read the signed file");
		if (r == 0)
			break;
		crypto_generichash_update(&st, buf, (size_t)r);
		off += r;
	}
	crypto_generichash_final(&st, out, crypto_generichash_BYTES_MAX);
	return RP_OK;
}

int rp_minisig_sign_fd(struct rp_buf *out, const struct rp_key *k, int fd,
		       const char *trusted_comment)
{
	unsigned char hash[crypto_generichash_BYTES_MAX], sig[MSIG_LEN], global[SIG_LEN];
	unsigned char *signed_comment = NULL;
	char *sig_b64 = NULL, *global_b64 = NULL;
	const char *tc = trusted_comment ? trusted_comment : "";
	size_t tc_len = strlen(tc);
	int rc;

	if (!k->sk)
		return rp_error_set(RP_E_CRYPTO, "key_no_secret",
				    "key %s has no secret half to sign with", k->keyid);
	if (strpbrk(tc, "\r\n") || tc_len > TRUSTED_COMMENT_MAX)
		return rp_error_set(RP_E_INVALID, "minisig_bad_comment",
				    "a trusted comment must be one line of at most %zu bytes",
				    TRUSTED_COMMENT_MAX);
	rc = file_blake2b(hash, fd);
	if (rc)
		return rc;
	memcpy(sig, "ED", 2);
	memcpy(sig + MSIG_KEYNUM, k->keynum, KEYNUM_LEN);
	crypto_sign_detached(sig + MSIG_SIG, NULL, hash, sizeof(hash), k->sk);
	/* The global signature binds the trusted comment to the file signature. */
	signed_comment = malloc(SIG_LEN + tc_len);
	if (!signed_comment) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	memcpy(signed_comment, sig + MSIG_SIG, SIG_LEN);
	memcpy(signed_comment + SIG_LEN, tc, tc_len);
	crypto_sign_detached(global, NULL, signed_comment, SIG_LEN + tc_len, k->sk);
	sig_b64 = b64_encode(sig, sizeof(sig));
	global_b64 = b64_encode(global, sizeof(global));
	if (!sig_b64 || !global_b64) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	rc = rp_buf_printf(out, COMMENT_PREFIX "signature from runpack key %s\n%s\n"
			   TRUSTED_PREFIX "%s\n%s\n", k->keyid, sig_b64, tc, global_b64);
done:
	free(signed_comment);
	free(sig_b64);
	free(global_b64);
	return rc;
}

static int minisig_malformed(const char *what)
{
	return rp_error_set(RP_E_PARSE, "minisig_malformed",
			    "not a minisign signature: %s", what);
}

int rp_minisig_verify_fd(const struct rp_key *pub, int fd, const void *sig_text, size_t n)
{
	const char *p = sig_text, *end = p + n, *line, *tc = NULL;
	unsigned char sig[MSIG_LEN], global[SIG_LEN], hash[crypto_generichash_BYTES_MAX];
	unsigned char *signed_comment = NULL;
	size_t len, tc_len = 0;
	int rc;

	if (!next_line(&p, end, &line, &len) || len < strlen(COMMENT_PREFIX) ||
	    memcmp(line, COMMENT_PREFIX, strlen(COMMENT_PREFIX)) != 0)
		return minisig_malformed("no \"" COMMENT_PREFIX "\" line");
	if (!next_line(&p, end, &line, &len) || !b64_decode_exact(sig, sizeof(sig), line, len))
		return minisig_malformed("bad signature line");
	if (!next_line(&p, end, &tc, &tc_len) || tc_len < strlen(TRUSTED_PREFIX) ||
	    memcmp(tc, TRUSTED_PREFIX, strlen(TRUSTED_PREFIX)) != 0)
		return minisig_malformed("no \"" TRUSTED_PREFIX "\" line");
	tc += strlen(TRUSTED_PREFIX);
	tc_len -= strlen(TRUSTED_PREFIX);
	if (!next_line(&p, end, &line, &len) ||
	    !b64_decode_exact(global, sizeof(global), line, len))
		return minisig_malformed("bad trusted comment signature line");
	if (memcmp(sig, "Ed", 2) == 0)
		return rp_error_set(RP_E_UNSUPPORTED, "minisig_legacy",
				    "legacy (not prehashed) minisign signatures are not supported");
	if (memcmp(sig, "ED", 2) != 0)
		return minisig_malformed("unknown signature algorithm");
	if (memcmp(sig + MSIG_KEYNUM, pub->keynum, KEYNUM_LEN) != 0)
		return rp_error_set(RP_E_VERIFY, "minisig_wrong_key",
				    "signed by key %016" PRIX64 ", not by key %s",
				    le64_load(sig + MSIG_KEYNUM), pub->keyid);
	rc = file_blake2b(hash, fd);
	if (rc)
		return rc;
	if (crypto_sign_verify_detached(sig + MSIG_SIG, hash, sizeof(hash), pub->pk) != 0)
		return rp_error_set(RP_E_VERIFY, "minisig_bad_signature",
				    "signature does not verify with key %s", pub->keyid);
	signed_comment = malloc(SIG_LEN + tc_len);
	if (!signed_comment)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	memcpy(signed_comment, sig + MSIG_SIG, SIG_LEN);
	memcpy(signed_comment + SIG_LEN, tc, tc_len);
	if (crypto_sign_verify_detached(global, signed_comment, SIG_LEN + tc_len, pub->pk) != 0)
		rc = rp_error_set(RP_E_VERIFY, "minisig_bad_signature",
				  "trusted comment signature does not verify with key %s",
				  pub->keyid);
	free(signed_comment);
	return rc;
}
