#include "rp_pack.h"
#include "rp_error.h"
#include "rp_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_MAX_BYTES 4096
#define COPY_CHUNK 65536

struct rp_pack {
	struct archive *a;
	struct rp_atomic out;
	struct rp_sha256 hash; /* of the package bytes, as they are written */
	locale_t utf8;
	int64_t mtime;
	json_t *subjects; /* the statement's subjects, in entry order */
	json_t *names;    /* every name added, to refuse duplicates */
	bool failed;      /* the archive is unusable after an earlier error */
};

bool rp_pack_name_safe(const char *name)
{
	size_t len = strnlen(name, NAME_MAX_BYTES + 1), n;
	const char *c, *slash;

	if (len == 0 || len > NAME_MAX_BYTES || !rp_utf8_valid(name, len))
		return false;
	for (c = name;; c = slash + 1) {
		slash = strchr(c, '/');
		n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!slash)
			return true;
	}
}

/* Translate libarchive's error once, keeping its detail. */
static int pack_archive_error(struct rp_pack *p, const char *name)
{
	const char *detail = archive_error_string(p->a);

	p->failed = true;
	if (!detail)
		detail = "unknown libarchive error";
	if (name)
		return rp_error_set(RP_E_IO, "package_write_failed",
				    "cannot write entry '%s' to '%s': %s", name, p->out.final_path,
				    detail);
	return rp_error_set(RP_E_IO, "package_write_failed", "cannot write '%s': %s",
			    p->out.final_path, detail);
}

/* libarchive's output goes through here so the package is hashed as written,
 * without reading it back. */
static la_ssize_t pack_write_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct rp_pack *p = ctx;
	int e;

	if (rp_write_all(p->out.fd, buf, n) < 0) {
		e = errno;
		archive_set_error(a, e, "cannot write '%s': %s", p->out.tmp_path, strerror(e));
		return -1;
	}
	if (rp_sha256_update(&p->hash, buf, n)) {
		archive_set_error(a, EIO, "%s", rp_error_last()->msg);
		return -1;
	}
	return (la_ssize_t)n;
}

void rp_pack_abort(struct rp_pack *p)
{
	if (!p)
		return;
	/* Freeing closes the archive first, into the temporary file that is
	 * removed next: libarchive frees its output buffer only on close. */
	if (p->a)
		archive_write_free(p->a);
	rp_atomic_abort(&p->out);
	rp_sha256_release(&p->hash);
	if (p->utf8)
		freelocale(p->utf8);
	json_decref(p->subjects);
	json_decref(p->names);
	free(p);
}

int rp_pack_open(struct rp_pack **out, const char *final_path, int64_t mtime)
{
	struct rp_pack *p;
	char level[16];
	int rc = RP_OK;

	*out = NULL;
	if (mtime < 0)
		return rp_error_set(RP_E_INVALID, "package_bad_mtime",
				    "package mtime %" PRId64 " is before 1970", mtime);
	p = calloc(1, sizeof(*p));
	if (!p)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	p->out.fd = -1;
	p->mtime = mtime;
	p->subjects = json_array();
	p->names = json_object();
	if (!p->subjects || !p->names) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	p->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!p->utf8) {
		rc = rp_error_set_errno(RP_E_UNSUPPORTED, "locale_unavailable", errno,
					"cannot load the C.UTF-8 locale, needed to write entry "
					"names independently of the caller's locale");
		goto done;
	}
	rc = rp_sha256_init(&p->hash);
	if (!rc)
		rc = rp_atomic_open(&p->out, final_path, 0644);
	if (rc)
		goto done;
	p->a = archive_write_new();
	if (!p->a) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	snprintf(level, sizeof(level), "%d", RP_PACK_ZSTD_LEVEL);
	/* Restricted pax adds an extended header only when a name needs one, and
	 * names it "<dir>/PaxHeader/<base>": nothing depends on pid or time. A
	 * multi-threaded zstd frame would differ from a single-threaded one, so
	 * the thread count is pinned rather than left to the library default.
	 * Through callbacks libarchive would zero-pad the compressed stream to
	 * a whole 10 KiB block, which zstd readers reject as a bad frame. */
	if (archive_write_set_format_pax_restricted(p->a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(p->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(p->a, "zstd", "compression-level", level) !=
		    ARCHIVE_OK ||
	    archive_write_set_filter_option(p->a, "zstd", "threads", "0") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p->a, 1) != ARCHIVE_OK ||
	    archive_write_open(p->a, p, NULL, pack_write_cb, NULL) != ARCHIVE_OK) {
		rc = pack_archive_error(p, NULL);
		goto done;
	}
	*out = p;
	p = NULL;
done:
	rp_pack_abort(p);
	return rc;
}

static int pack_check_name(struct rp_pack *p, const char *name)
{
	if (p->failed)
		return rp_error_set(RP_E_INVALID, "package_write_failed",
				    "package '%s' takes no more entries after an earlier error",
				    p->out.final_path);
	if (!rp_pack_name_safe(name))
		return rp_error_set(RP_E_INVALID, "package_bad_name",
				    "'%.200s' is not a safe package entry name", name);
	if (strcmp(name, RP_PACK_ATTESTATION) == 0)
		return rp_error_set(RP_E_INVALID, "package_bad_name",
				    "entry name '%s' is reserved for the attestation", name);
	if (json_object_get(p->names, name))
		return rp_error_set(RP_E_INVALID, "package_duplicate_entry",
				    "entry '%s' is already in the package", name);
	return RP_OK;
}

static int pack_header(struct rp_pack *p, const char *name, uint64_t size)
{
	struct archive_entry *e;
	locale_t old;
	int r;

	if (size > INT64_MAX)
		return rp_error_set(RP_E_TOOLARGE, "package_write_failed",
				    "entry '%s' is too large for tar", name);
	e = archive_entry_new();
	if (!e)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	/* Everything is set by hand; nothing comes from disk metadata. */
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, p->mtime, 0);
	/* libarchive converts names through the thread's LC_CTYPE: in the C
	 * locale a non-ASCII name falls back to "hdrcharset=BINARY", in a UTF-8
	 * one it does not. Pinning UTF-8 makes the bytes locale-independent. */
	old = uselocale(p->utf8);
	r = archive_write_header(p->a, e);
	uselocale(old);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? RP_OK : pack_archive_error(p, name);
}

static int pack_data(struct rp_pack *p, const char *name, struct rp_sha256 *h, const void *data,
		     size_t n)
{
	la_ssize_t w = archive_write_data(p->a, data, n);

	if (w < 0 || (size_t)w != n)
		return pack_archive_error(p, name);
	return rp_sha256_update(h, data, n);
}

/* An entry's content: data when fd < 0, else size bytes of fd from offset. */
struct pack_src {
	const void *data;
	int fd;
	uint64_t offset;
	uint64_t size;
};

static int pack_copy_fd(struct rp_pack *p, const char *name, struct rp_sha256 *h,
			const struct pack_src *src)
{
	unsigned char buf[COPY_CHUNK];
	uint64_t off = 0, size = src->size;
	ssize_t r;
	int rc = RP_OK;

	while (!rc && off < size) {
		r = pread(src->fd, buf, size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf),
			  (off_t)(src->offset + off));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = rp_error_set_errno(RP_E_IO, "package_read_failed", errno,
						"cannot read the data of entry '%s'", name);
		} else if (r == 0) {
			rc = rp_error_set(RP_E_IO, "package_short_read",
					  "the data of entry '%s' ended after %" PRIu64 " of %"
					  PRIu64 " bytes", name, off, size);
		} else {
			rc = pack_data(p, name, h, buf, (size_t)r);
			off += (uint64_t)r;
		}
	}
	return rc;
}

static int pack_subject(struct rp_pack *p, const char *name, const unsigned char d[RP_SHA256_LEN])
{
	char hex[RP_SHA256_HEX_LEN + 1];
	json_t *s;

	rp_sha256_hex(hex, d);
	s = json_pack("{s:s, s:{s:s}}", "name", name, "digest", "sha256", hex);
	if (!s || json_array_append_new(p->subjects, s) != 0 ||
	    json_object_set_new(p->names, name, json_true()) != 0)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return RP_OK;
}

static int pack_entry(struct rp_pack *p, const char *name, bool subject,
		      const struct pack_src *src)
{
	struct rp_sha256 h = { NULL };
	unsigned char d[RP_SHA256_LEN];
	int rc;

	rc = rp_sha256_init(&h);
	if (!rc)
		rc = pack_header(p, name, src->size);
	if (!rc)
		rc = src->fd < 0 ? pack_data(p, name, &h, src->data, (size_t)src->size)
				 : pack_copy_fd(p, name, &h, src);
	if (!rc && archive_write_finish_entry(p->a) != ARCHIVE_OK)
		rc = pack_archive_error(p, name);
	if (!rc)
		rc = rp_sha256_final(&h, d);
	if (!rc && subject)
		rc = pack_subject(p, name, d);
	rp_sha256_release(&h);
	if (rc)
		p->failed = true;
	return rc;
}

int rp_pack_add_buf(struct rp_pack *p, const char *name, const void *data, size_t n)
{
	const struct pack_src src = { .data = data, .fd = -1, .size = n };
	int rc = pack_check_name(p, name);

	return rc ? rc : pack_entry(p, name, true, &src);
}

int rp_pack_add_fd(struct rp_pack *p, const char *name, int fd, uint64_t offset, uint64_t size)
{
	const struct pack_src src = { .fd = fd, .offset = offset, .size = size };
	int rc = pack_check_name(p, name);

	if (!rc && fd < 0)
		rc = rp_error_set(RP_E_INVALID, "package_read_failed",
				  "no file descriptor for entry '%s'", name);
	return rc ? rc : pack_entry(p, name, true, &src);
}

int rp_pack_commit(struct rp_pack *p, const struct rp_key *key, const json_t *predicate,
		   unsigned char pkg_sha256[RP_SHA256_LEN])
{
	struct rp_buf env = RP_BUF_INIT;
	struct pack_src att = { .fd = -1 };
	json_t *pred, *statement = NULL;
	unsigned char digest[RP_SHA256_LEN];
	char *text = NULL;
	int rc;

	if (p->failed)
		return rp_error_set(RP_E_INVALID, "package_write_failed",
				    "package '%s' cannot be committed after an earlier error",
				    p->out.final_path);
	if (predicate && !json_is_object(predicate))
		return rp_error_set(RP_E_INVALID, "package_bad_predicate",
				    "the statement predicate must be a JSON object");
	pred = predicate ? json_deep_copy(predicate) : json_object();
	if (pred)
		statement = json_pack("{s:s, s:O, s:s, s:O}", "_type", RP_STATEMENT_TYPE,
				      "subject", p->subjects, "predicateType", RP_PREDICATE_TYPE,
				      "predicate", pred);
	/* Sorted keys and no whitespace: the same run gives the same bytes. */
	text = statement ? json_dumps(statement, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	rc = text ? rp_dsse_sign(&env, key, RP_DSSE_PAYLOAD_TYPE, text, strlen(text))
		  : rp_error_set(RP_E_NOMEM, NULL, "cannot build the in-toto statement");
	if (!rc) {
		att.data = env.data;
		att.size = env.len;
		rc = pack_entry(p, RP_PACK_ATTESTATION, false, &att);
	}
	if (!rc && archive_write_close(p->a) != ARCHIVE_OK)
		rc = pack_archive_error(p, NULL);
	if (!rc)
		rc = rp_sha256_final(&p->hash, digest);
	if (!rc)
		rc = rp_atomic_commit(&p->out);
	if (rc) {
		p->failed = true;
		goto done;
	}
	if (pkg_sha256)
		memcpy(pkg_sha256, digest, RP_SHA256_LEN);
	/* The file is in place; this only frees. */
	rp_pack_abort(p);
done:
	free(text);
	json_decref(statement);
	json_decref(pred);
	rp_buf_release(&env);
	return rc;
}
