#include "rp_verify.h"
#include "rp_error.h"
#include "rp_pack.h"
#include "rp_sha256.h"
#include "rp_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK 65536
#define NAME_MAX_BYTES 4096
#define NO_SUBJECT SIZE_MAX

const char *rp_verify_failure_id(enum rp_verify_failure f)
{
	switch (f) {
	case RP_VF_NONE: return "none";
	case RP_VF_MALFORMED: return "malformed";
	case RP_VF_SIGNATURE: return "bad_signature";
	case RP_VF_DIGEST: return "digest_mismatch";
	case RP_VF_MISSING: return "missing_entry";
	case RP_VF_EXTRA: return "extra_entry";
	case RP_VF_UNSAFE: return "unsafe_entry";
	}
	return "unknown";
}

/* ---- one streaming pass over a package, shared by every reader here ---- */

struct pkg_reader {
	struct archive *a;
	int fd;
	const char *path;
	locale_t utf8, old;
	uint64_t n; /* entries read so far */
};

/* Where an entry's data goes: any of a digest, a buffer (appending at most
 * keep_max bytes of this entry), a file. */
struct entry_sink {
	struct rp_sha256 *hash;
	struct rp_buf *keep;
	size_t keep_max;
	int fd;
};

static int reader_error(struct pkg_reader *r)
{
	const char *detail = archive_error_string(r->a);

	return rp_error_set(RP_E_PARSE, "package_malformed", "not a readable tar.zst: %s",
			    detail ? detail : "unknown libarchive error");
}

static void reader_close(struct pkg_reader *r)
{
	if (r->a)
		archive_read_free(r->a);
	if (r->fd >= 0)
		close(r->fd);
	if (r->utf8) {
		uselocale(r->old);
		freelocale(r->utf8);
	}
	r->a = NULL;
	r->fd = -1;
	r->utf8 = (locale_t)0;
}

static int reader_open(struct pkg_reader *r, const char *path)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return rp_error_set_errno(errno == ENOENT ? RP_E_NOTFOUND : RP_E_IO,
					  "package_unreadable", errno, "cannot open package '%s'",
					  path);
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return rp_error_set(RP_E_IO, "package_unreadable",
				    "package '%s' is not a regular file", path);
	/* rp_pack writes names as UTF-8; libarchive hands them back through the
	 * thread's LC_CTYPE, so read them as UTF-8 too when that is possible. */
	r->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (r->utf8)
		r->old = uselocale(r->utf8);
	r->a = archive_read_new();
	if (!r->a)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if (archive_read_support_filter_zstd(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
	    archive_read_open_fd(r->a, r->fd, READ_BLOCK) != ARCHIVE_OK)
		return reader_error(r);
	return RP_OK;
}

/* 1 with *e set, 0 at the end, or a negative code. */
static int reader_next(struct pkg_reader *r, struct archive_entry **e)
{
	int ar = archive_read_next_header(r->a, e);

	if (ar == ARCHIVE_EOF)
		return 0;
	if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
		return reader_error(r);
	/* Bidding also accepts plain or doubly compressed tar; a package is
	 * exactly zstd over tar. */
	if (r->n == 0 && (archive_filter_count(r->a) != 2 ||
			  archive_filter_code(r->a, 0) != ARCHIVE_FILTER_ZSTD ||
			  (archive_format(r->a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR))
		return rp_error_set(RP_E_PARSE, "package_malformed",
				    "not a zstd-compressed tar archive");
	if (!archive_entry_pathname(*e))
		return rp_error_set(RP_E_PARSE, "package_malformed",
				    "entry %" PRIu64 " has no name", r->n + 1);
	r->n++;
	return 1;
}

static int reader_consume(struct pkg_reader *r, const char *name, const struct entry_sink *s)
{
	unsigned char buf[READ_BLOCK];
	la_ssize_t got;
	size_t kept = 0;
	int rc = RP_OK;

	while (!rc && (got = archive_read_data(r->a, buf, sizeof(buf))) != 0) {
		if (got < 0)
			return reader_error(r);
		if (s->hash)
			rc = rp_sha256_update(s->hash, buf, (size_t)got);
		if (!rc && s->keep && (size_t)got > s->keep_max - kept)
			rc = rp_error_set(RP_E_TOOLARGE, "entry_too_large",
					  "entry '%s' is larger than %zu bytes", name, s->keep_max);
		kept += (size_t)got;
		if (!rc && s->keep)
			rc = rp_buf_append(s->keep, buf, (size_t)got);
		if (!rc && s->fd >= 0 && rp_write_all(s->fd, buf, (size_t)got) < 0)
			rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
						"cannot write entry '%s'", name);
	}
	return rc;
}

/* ---- verification ---- */

struct vf_entry {
	char *name;           /* truncated past NAME_MAX_BYTES */
	unsigned char sha256[RP_SHA256_LEN];
	bool hashed;          /* false when skipped for its size */
	const char *unsafe;   /* why the entry is unsafe, NULL when it is not */
	size_t subject;       /* index in the statement, or NO_SUBJECT */
};

struct vf_state {
	struct vf_entry *v;
	size_t n, cap;
	size_t name_bytes;
	bool att_seen;
	struct rp_buf att;    /* the last attestation entry's bytes */
	json_t *statement;
	json_t *subjects;     /* the statement's subject array (borrowed) */
	json_t *index;        /* subject name -> index */
};

static void vf_state_release(struct vf_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->v[i].name);
	free(st->v);
	rp_buf_release(&st->att);
	json_decref(st->statement);
	json_decref(st->index);
}

/* A name as it may be shown in a one-line message: control bytes become '?'
 * and long names are cut. */
static const char *shown(char *out, size_t cap, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 4 < cap; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	if (name[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static void report(struct rp_verify_report *rep, enum rp_verify_failure f, const char *entry,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct rp_verify_report *rep, enum rp_verify_failure f, const char *entry,
		   const char *fmt, ...)
{
	va_list ap;

	rep->valid = false;
	rep->failure = f;
	snprintf(rep->entry, sizeof(rep->entry), "%s", entry ? entry : "");
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

/* Malformed input becomes the report; anything else stays an error. */
static int report_malformed(struct rp_verify_report *rep, int rc)
{
	if (rc != RP_E_PARSE && rc != RP_E_TOOLARGE)
		return rc;
	report(rep, RP_VF_MALFORMED, NULL, "%s", rp_error_last()->msg);
	return RP_OK;
}

/* The type comes first: tar gives every directory a trailing '/', and "is a
 * directory" says more than "unsafe name". */
static const char *entry_unsafe(struct archive_entry *e, const char *name)
{
	if (archive_entry_hardlink(e))
		return "is a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		break;
	case AE_IFLNK:
		return "is a symbolic link";
	case AE_IFDIR:
		return "is a directory";
	default:
		return "is a device or other special file";
	}
	if (!rp_pack_name_safe(name))
		return "has an unsafe name (absolute, with '..' or empty parts, or not UTF-8)";
	return NULL;
}

static int vf_entry(struct vf_state *st, struct rp_verify_report *rep, struct pkg_reader *r,
		    struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	size_t len = strnlen(name, NAME_MAX_BYTES + 1);
	struct rp_sha256 h = { NULL };
	struct entry_sink sink = { .hash = &h, .fd = -1 };
	struct vf_entry *v;
	char buf[256];
	int rc;

	if (rp_array_grow(&st->v, &st->cap, st->n, sizeof(*st->v)))
		return RP_E_NOMEM;
	v = &st->v[st->n];
	memset(v, 0, sizeof(*v));
	v->subject = NO_SUBJECT;
	v->name = strndup(name, NAME_MAX_BYTES);
	if (!v->name)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	st->n++;
	st->name_bytes += len;
	if (st->name_bytes > RP_VERIFY_MAX_NAME_BYTES) {
		report(rep, RP_VF_UNSAFE, v->name, "entry names exceed %u bytes in total at '%s'",
		       RP_VERIFY_MAX_NAME_BYTES, shown(buf, sizeof(buf), name));
		return RP_OK;
	}
	v->unsafe = entry_unsafe(e, name);
	if (archive_entry_size(e) < 0 ||
	    (uint64_t)archive_entry_size(e) > RP_VERIFY_MAX_ENTRY_BYTES) {
		/* Left unread: the safety step reports it. */
		v->unsafe = "is larger than the entry size limit";
		return RP_OK;
	}
	if (strcmp(name, RP_PACK_ATTESTATION) == 0) {
		st->att_seen = true;
		rp_buf_reset(&st->att);
		sink.keep = &st->att;
		sink.keep_max = RP_VERIFY_MAX_ATTESTATION;
	}
	rc = rp_sha256_init(&h);
	if (!rc)
		rc = reader_consume(r, name, &sink);
	if (!rc)
		rc = rp_sha256_final(&h, v->sha256);
	rp_sha256_release(&h);
	v->hashed = !rc;
	return rc ? report_malformed(rep, rc) : RP_OK;
}

static int vf_read(struct vf_state *st, struct rp_verify_report *rep, struct pkg_reader *r)
{
	struct archive_entry *e;
	int more, rc = RP_OK;

	while (!rc && !rep->failure && (more = reader_next(r, &e)) != 0) {
		if (more < 0)
			rc = report_malformed(rep, more);
		else if (r->n > RP_VERIFY_MAX_ENTRIES)
			report(rep, RP_VF_UNSAFE, NULL, "package has more than %d entries",
			       RP_VERIFY_MAX_ENTRIES);
		else
			rc = vf_entry(st, rep, r, e);
	}
	rep->entries = r->n;
	return rc;
}

static bool hex_digest_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == RP_SHA256_HEX_LEN;
}

/* The statement, already authenticated, must still make sense. */
static int vf_statement(struct vf_state *st, struct rp_verify_report *rep,
			const struct rp_buf *payload)
{
	json_error_t jerr;
	const char *type, *ptype, *name, *hex;
	json_t *s;
	size_t i;
	char buf[256];

	st->statement = json_loadb((const char *)payload->data, payload->len,
				   JSON_REJECT_DUPLICATES, &jerr);
	if (!st->statement) {
		report(rep, RP_VF_MALFORMED, NULL,
		       "the signed statement is not valid JSON (line %d, column %d): %s",
		       jerr.line, jerr.column, jerr.text);
		return RP_OK;
	}
	type = json_string_value(json_object_get(st->statement, "_type"));
	ptype = json_string_value(json_object_get(st->statement, "predicateType"));
	st->subjects = json_object_get(st->statement, "subject");
	if (!type || strcmp(type, RP_STATEMENT_TYPE) != 0 || !ptype ||
	    strcmp(ptype, RP_PREDICATE_TYPE) != 0) {
		report(rep, RP_VF_MALFORMED, NULL,
		       "the signed statement is not a %s with predicate %s", RP_STATEMENT_TYPE,
		       RP_PREDICATE_TYPE);
		return RP_OK;
	}
	if (!json_is_array(st->subjects) || json_array_size(st->subjects) > RP_VERIFY_MAX_ENTRIES) {
		report(rep, RP_VF_MALFORMED, NULL,
		       "the signed statement has no usable \"subject\" list");
		return RP_OK;
	}
	st->index = json_object();
	if (!st->index)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	json_array_foreach(st->subjects, i, s) {
		name = json_string_value(json_object_get(s, "name"));
		hex = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
		if (!name || !*name || !hex || !hex_digest_valid(hex)) {
			report(rep, RP_VF_MALFORMED, NULL,
			       "subject %zu of the signed statement has no name or no valid "
			       "sha256", i);
			return RP_OK;
		}
		if (strcmp(name, RP_PACK_ATTESTATION) == 0) {
			report(rep, RP_VF_MALFORMED, name,
			       "the signed statement lists '%s' itself as a subject", name);
			return RP_OK;
		}
		if (json_object_get(st->index, name)) {
			report(rep, RP_VF_MALFORMED, name, "the signed statement lists '%s' twice",
			       shown(buf, sizeof(buf), name));
			return RP_OK;
		}
		if (json_object_set_new(st->index, name, json_integer((json_int_t)i)) != 0)
			return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	}
	return RP_OK;
}

static int vf_signature(struct vf_state *st, struct rp_verify_report *rep,
			const struct rp_key *pub)
{
	struct rp_buf payload = RP_BUF_INIT;
	const struct vf_entry *last = st->n ? &st->v[st->n - 1] : NULL;
	int rc;

	if (!last || strcmp(last->name, RP_PACK_ATTESTATION) != 0) {
		if (st->att_seen)
			report(rep, RP_VF_MALFORMED, RP_PACK_ATTESTATION,
			       "'%s' is not the last entry", RP_PACK_ATTESTATION);
		else
			report(rep, RP_VF_MALFORMED, NULL, "package has no '%s' entry",
			       RP_PACK_ATTESTATION);
		return RP_OK;
	}
	if (last->unsafe) {
		report(rep, RP_VF_MALFORMED, RP_PACK_ATTESTATION, "'%s' %s", RP_PACK_ATTESTATION,
		       last->unsafe);
		return RP_OK;
	}
	rc = rp_dsse_verify(&payload, rep->keyid, pub, RP_DSSE_PAYLOAD_TYPE, st->att.data,
			    st->att.len);
	if (rc == RP_E_VERIFY && strcmp(rp_error_last()->id, "dsse_wrong_key") == 0)
		report(rep, RP_VF_SIGNATURE, NULL, "package is %s", rp_error_last()->msg);
	else if (rc == RP_E_VERIFY)
		report(rep, RP_VF_SIGNATURE, NULL, "%s", rp_error_last()->msg);
	else if (rc == RP_E_PARSE)
		report(rep, RP_VF_MALFORMED, RP_PACK_ATTESTATION, "%s", rp_error_last()->msg);
	else if (!rc)
		rc = vf_statement(st, rep, &payload);
	rp_buf_release(&payload);
	return rc == RP_E_VERIFY || rc == RP_E_PARSE ? RP_OK : rc;
}

static const char *subject_hex(const struct vf_state *st, size_t j)
{
	const json_t *s = json_array_get(st->subjects, j);

	return json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
}

/* Steps 2 to 4, over entries and subjects that are already in memory. */
static int vf_contents(struct vf_state *st, struct rp_verify_report *rep)
{
	size_t nsubj = json_array_size(st->subjects), i, j;
	size_t body = st->n - 1; /* every entry but the attestation */
	char hex[RP_SHA256_HEX_LEN + 1], buf[256];
	bool *seen = calloc(nsubj ? nsubj : 1, sizeof(*seen));
	const json_t *found;
	const char *name;
	struct vf_entry *v;

	if (!seen)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (i = 0; i < body; i++) {
		v = &st->v[i];
		found = json_object_get(st->index, v->name);
		if (!found)
			continue;
		j = (size_t)json_integer_value(found);
		v->subject = j;
		if (seen[j] && !v->unsafe)
			v->unsafe = "appears more than once";
		seen[j] = true;
		if (!v->hashed)
			continue;
		rp_sha256_hex(hex, v->sha256);
		if (strcmp(hex, subject_hex(st, j)) != 0) {
			report(rep, RP_VF_DIGEST, v->name, "entry '%s' does not match its digest",
			       shown(buf, sizeof(buf), v->name));
			goto done;
		}
	}
	for (j = 0; j < nsubj; j++) {
		if (seen[j])
			continue;
		name = json_string_value(json_object_get(json_array_get(st->subjects, j), "name"));
		report(rep, RP_VF_MISSING, name, "entry '%s' is missing: the statement lists it",
		       shown(buf, sizeof(buf), name));
		goto done;
	}
	for (i = 0; i < body; i++) {
		if (st->v[i].subject != NO_SUBJECT)
			continue;
		report(rep, RP_VF_EXTRA, st->v[i].name,
		       "entry '%s' is extra: the statement does not list it",
		       shown(buf, sizeof(buf), st->v[i].name));
		goto done;
	}
	for (i = 0; i < body; i++) {
		if (!st->v[i].unsafe)
			continue;
		report(rep, RP_VF_UNSAFE, st->v[i].name, "entry '%s' %s",
		       shown(buf, sizeof(buf), st->v[i].name), st->v[i].unsafe);
		goto done;
	}
done:
	free(seen);
	return RP_OK;
}

int rp_verify_package(struct rp_verify_report *rep, const char *path, const struct rp_key *pub)
{
	struct pkg_reader r;
	struct vf_state st;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&st, 0, sizeof(st));
	rc = reader_open(&r, path);
	if (rc == RP_E_PARSE)
		rc = report_malformed(rep, rc);
	else if (!rc)
		rc = vf_read(&st, rep, &r);
	/* Everything needed is in memory now; the rest runs in the caller's
	 * locale again. */
	reader_close(&r);
	if (!rc && !rep->failure)
		rc = vf_signature(&st, rep, pub);
	if (!rc && !rep->failure)
		rc = vf_contents(&st, rep);
	if (!rc && !rep->failure) {
		rep->valid = true;
		snprintf(rep->keyid, sizeof(rep->keyid), "%s", pub->keyid);
		snprintf(rep->message, sizeof(rep->message), "valid, signed by key %s, %" PRIu64
			 " entries", pub->keyid, rep->entries);
		rep->statement = st.statement;
		st.statement = NULL;
	}
	vf_state_release(&st);
	return rc;
}

void rp_verify_report_release(struct rp_verify_report *rep)
{
	json_decref(rep->statement);
	rep->statement = NULL;
}

/* ---- unverified reading, for inspect ---- */

/* A verify report is about the package the caller named; these errors are
 * not, so they say which package. */
static int reader_context(int rc, const char *path)
{
	return rc == RP_E_PARSE ? rp_error_prefix("package '%s'", path) : rc;
}

void rp_package_entries_free(struct rp_package_entry *v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		free(v[i].name);
	free(v);
}

static int list_one(struct rp_package_entry *out, struct pkg_reader *r, struct archive_entry *e)
{
	struct rp_sha256 h = { NULL };
	struct entry_sink sink = { .hash = &h, .fd = -1 };
	unsigned char d[RP_SHA256_LEN];
	int rc;

	out->name = strdup(archive_entry_pathname(e));
	out->size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
	if (!out->name)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	rc = rp_sha256_init(&h);
	if (!rc)
		rc = reader_consume(r, out->name, &sink);
	if (!rc)
		rc = rp_sha256_final(&h, d);
	rp_sha256_release(&h);
	if (!rc)
		rp_sha256_hex(out->sha256, d);
	return rc;
}

int rp_package_list(struct rp_package_entry **out, size_t *n, const char *path)
{
	struct rp_package_entry *v = NULL, *grown;
	struct archive_entry *e;
	struct pkg_reader r;
	size_t len = 0, cap = 0;
	int rc, more;

	*out = NULL;
	*n = 0;
	rc = reader_open(&r, path);
	while (!rc && (more = reader_next(&r, &e)) != 0) {
		if (more < 0) {
			rc = more;
			break;
		}
		if (len == RP_VERIFY_MAX_ENTRIES) {
			rc = rp_error_set(RP_E_TOOLARGE, "package_too_large",
					  "package '%s' has more than %d entries", path,
					  RP_VERIFY_MAX_ENTRIES);
			break;
		}
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
				break;
			}
			v = grown;
		}
		memset(&v[len], 0, sizeof(v[len]));
		rc = list_one(&v[len++], &r, e);
	}
	reader_close(&r);
	if (rc) {
		rp_package_entries_free(v, len);
		return reader_context(rc, path);
	}
	*out = v;
	*n = len;
	return RP_OK;
}

/* Position r at the first entry called name. */
static int find_entry(struct pkg_reader *r, const char *name)
{
	struct archive_entry *e;
	int more;

	while ((more = reader_next(r, &e)) > 0)
		if (strcmp(archive_entry_pathname(e), name) == 0)
			return RP_OK;
	return more < 0 ? more
			: rp_error_set(RP_E_NOTFOUND, "entry_not_found",
				       "package '%s' has no entry '%s'", r->path, name);
}

static int read_one_entry(const char *path, const char *name, struct entry_sink *sink)
{
	struct pkg_reader r;
	int rc;

	rc = reader_open(&r, path);
	if (!rc)
		rc = find_entry(&r, name);
	if (!rc)
		rc = reader_consume(&r, name, sink);
	reader_close(&r);
	return reader_context(rc, path);
}

int rp_package_read_entry(struct rp_buf *out, const char *path, const char *name, size_t max)
{
	struct entry_sink sink = { .keep = out, .keep_max = max, .fd = -1 };

	return read_one_entry(path, name, &sink);
}

int rp_package_cat(const char *path, const char *name, int fd)
{
	struct entry_sink sink = { .fd = fd };

	return read_one_entry(path, name, &sink);
}
