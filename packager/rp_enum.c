#include "rp_enum.h"
#include "rp_buf.h"
#include "rp_error.h"
#include "rp_glob.h"
#include "rp_pack.h"
#include "rp_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024u)
/* Hashing runs on this many threads when the machine has the CPUs for it:
 * a large workspace is bound by SHA-256, a small one by syscalls, and both
 * halve on two cores. */
#define HASH_THREADS 2
#define HASH_THREAD_MIN_FILES 64

/* A sub-walk's status when the entry changed type under us: look again. */
#define CHANGED 1

struct walker {
	struct rp_artifact_list *list;
	size_t cap;
	size_t repos_cap;
	bool git_ids;
	struct rp_buf path;  /* relative path of the current entry */
	char link[PATH_MAX]; /* a symlink's target */
};

static const char *kind_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFLNK: return "symlink";
	case S_IFDIR: return "directory";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char-device";
	case S_IFBLK: return "block-device";
	default: return "unknown";
	}
}

/* openat2 confined to base_fd: no symlink anywhere, no way out. */
static int open_beneath(int base_fd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, base_fd, rel, &how, sizeof(how));
}

/* Append an entry for the current path; returns it zeroed but for the path. */
static int push(struct rp_artifact **out, struct walker *w)
{
	struct rp_artifact_list *l = w->list;
	struct rp_artifact *a;

	if (rp_array_grow(&l->v, &w->cap, l->n, sizeof(*l->v)))
		return RP_E_NOMEM;
	a = &l->v[l->n];
	memset(a, 0, sizeof(*a));
	a->path = strdup((const char *)w->path.data);
	if (!a->path)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	l->n++;
	*out = a;
	return RP_OK;
}

/* An entry whose content cannot be read: recorded, never fatal. */
static void set_unreadable(struct rp_artifact *a, const struct stat *known)
{
	a->type = known && S_ISREG(known->st_mode) ? RP_ART_FILE : RP_ART_OTHER;
	a->kind = known ? kind_of(known->st_mode) : "unknown";
	a->mode = known ? (uint32_t)(known->st_mode & 07777) : 0;
	a->size = known && S_ISREG(known->st_mode) ? (uint64_t)known->st_size : 0;
	a->reason = "unreadable";
}

static int add_unreadable(struct walker *w, int dfd, const char *name)
{
	struct rp_artifact *a;
	struct stat st;
	bool known = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	int rc;

	if ((rc = push(&a, w)))
		return rc;
	set_unreadable(a, known ? &st : NULL);
	return RP_OK;
}

/* Regular files are only listed here; hash_files() reads them later. */
static int add_file(struct walker *w)
{
	struct rp_artifact *a;
	int rc;

	if ((rc = push(&a, w)))
		return rc;
	a->type = RP_ART_FILE;
	a->kind = "file";
	return RP_OK;
}

static int add_symlink(struct walker *w, int dfd, const char *name)
{
	struct rp_artifact *a;
	ssize_t n;
	int rc;

	n = readlinkat(dfd, name, w->link, sizeof(w->link));
	if (n < 0) {
		if (errno == ENOENT)
			return RP_OK;
		if (errno == EINVAL)
			return CHANGED;
		return add_unreadable(w, dfd, name);
	}
	if ((rc = push(&a, w)))
		return rc;
	a->type = RP_ART_SYMLINK;
	a->kind = "symlink";
	a->mode = 0777; /* Linux symlinks carry no permissions of their own. */
	a->size = (uint64_t)n;
	a->link_target = strndup(w->link, (size_t)n);
	if (!a->link_target)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if (w->git_ids) {
		if ((rc = rp_enum_blob_id(a->git_id, w->link, (size_t)n)))
			return rc;
		a->git_id_valid = true;
	}
	return rp_sha256_buf(a->sha256, w->link, (size_t)n);
}

static int add_special(struct walker *w, const struct stat *st)
{
	struct rp_artifact *a;
	int rc;

	if ((rc = push(&a, w)))
		return rc;
	a->type = RP_ART_OTHER;
	a->kind = kind_of(st->st_mode);
	a->mode = (uint32_t)(st->st_mode & 07777);
	a->reason = "special_file";
	return RP_OK;
}

static int walk_dir(struct walker *w, int fd, size_t depth);

/* The current directory holds a .git entry: a nested repository or a
 * submodule, which rp_git treats as one gitlink rather than as files. */
static int add_repo(struct walker *w)
{
	struct rp_artifact_list *l = w->list;
	char *dir;

	if (rp_array_grow(&l->repos, &w->repos_cap, l->repos_n, sizeof(*l->repos)))
		return RP_E_NOMEM;
	dir = strdup((const char *)w->path.data);
	if (!dir)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	l->repos[l->repos_n++] = dir;
	return RP_OK;
}

static int enter_dir(struct walker *w, int dfd, const char *name, size_t depth)
{
	int fd;

	if (depth >= RP_ENUM_MAX_DEPTH)
		return rp_error_set(RP_E_TOOLARGE, "workspace_too_deep",
				    "workspace directory '%s' is nested deeper than %d levels",
				    (const char *)w->path.data, RP_ENUM_MAX_DEPTH);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return RP_OK;
		if (errno == ENOTDIR || errno == ELOOP)
			return CHANGED;
		return add_unreadable(w, dfd, name);
	}
	return walk_dir(w, fd, depth + 1);
}

/* One directory entry, dispatched on d_type when the file system gives it,
 * else on fstatat(); an entry that changes type while we look is looked at
 * again a few times, then recorded as unreadable. */
static int visit(struct walker *w, int dfd, const char *name, unsigned char dtype, size_t depth)
{
	struct stat st;
	int rc = CHANGED;

	for (int attempt = 0; attempt < 3 && rc == CHANGED; attempt++) {
		if (dtype == DT_UNKNOWN || attempt > 0 ||
		    (dtype != DT_REG && dtype != DT_DIR && dtype != DT_LNK)) {
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return errno == ENOENT ? RP_OK : add_unreadable(w, dfd, name);
			dtype = IFTODT(st.st_mode);
		}
		switch (dtype) {
		case DT_REG:
			rc = add_file(w);
			break;
		case DT_DIR:
			rc = enter_dir(w, dfd, name, depth);
			break;
		case DT_LNK:
			rc = add_symlink(w, dfd, name);
			break;
		default:
			rc = add_special(w, &st);
			break;
		}
	}
	return rc == CHANGED ? add_unreadable(w, dfd, name) : rc;
}

/* Walks the directory open on fd (taking ownership of fd). */
static int walk_dir(struct walker *w, int fd, size_t depth)
{
	size_t base_len = w->path.len;
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int rc = RP_OK;

	if (!d) {
		rc = rp_error_set_errno(RP_E_IO, "workspace_unreadable", errno,
					"cannot read directory '%s'", (const char *)w->path.data);
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = rp_error_set_errno(RP_E_IO, "workspace_unreadable", errno,
							"cannot read directory '%s'",
							(const char *)w->path.data);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, ".git") == 0) {
			if (base_len && (rc = add_repo(w)))
				break;
			continue;
		}
		if ((base_len && (rc = rp_buf_append(&w->path, "/", 1))) ||
		    (rc = rp_buf_puts(&w->path, de->d_name)))
			break;
		rc = visit(w, dirfd(d), de->d_name, de->d_type, depth);
		w->path.len = base_len;
		w->path.data[base_len] = '\0';
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

/* ---- hashing: every listed regular file, on up to HASH_THREADS threads ---- */

struct hash_job {
	struct rp_artifact_list *list;
	int base_fd;
	bool git_ids;
	atomic_size_t next;    /* the next entry to claim */
	atomic_bool failed;
};

struct hash_thread {
	struct hash_job *job;
	int rc;
	struct rp_error err;   /* the thread's error, copied out of its TLS */
};

/* SHA-1 context for a git blob id over size bytes of content. */
static EVP_MD_CTX *blob_id_begin(uint64_t size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "blob %llu", (unsigned long long)size);

	/* The header's NUL terminator is part of what git hashes. */
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, hdr, (size_t)n + 1) == 1)
		return ctx;
	EVP_MD_CTX_free(ctx);
	return NULL;
}

int rp_enum_blob_id(unsigned char out[RP_GIT_ID_LEN], const void *p, size_t n)
{
	EVP_MD_CTX *ctx = blob_id_begin(n);
	unsigned int len = 0;
	int ok = ctx && (!n || EVP_DigestUpdate(ctx, p, n) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == RP_GIT_ID_LEN;

	EVP_MD_CTX_free(ctx);
	return ok ? RP_OK : rp_error_set(RP_E_CRYPTO, NULL, "SHA-1 failed");
}

/* Read one listed file again by its path, confined to the workspace; what
 * is there now is what gets recorded. */
static int hash_one(struct rp_artifact *a, int base_fd, unsigned char *buf, bool git_ids)
{
	struct rp_sha256 h = { NULL };
	EVP_MD_CTX *git = NULL;
	struct stat st;
	uint64_t total = 0;
	ssize_t n;
	int fd, rc = RP_OK;

	/* O_NONBLOCK: a file swapped for a FIFO must not hang the walk. */
	fd = open_beneath(base_fd, a->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOSYS)
			return rp_error_set(RP_E_UNSUPPORTED, "openat2_unavailable",
					    "reading workspace files needs openat2 (Linux 5.6)");
		fd = open_beneath(base_fd, a->path, O_PATH);
		set_unreadable(a, fd >= 0 && fstat(fd, &st) == 0 ? &st : NULL);
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		set_unreadable(a, NULL);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		set_unreadable(a, &st);
		goto done;
	}
	if ((rc = rp_sha256_init(&h)))
		goto done;
	/* The blob header needs the size up front: the stat size, checked
	 * against what was read at the end. */
	if (git_ids && !(git = blob_id_begin((uint64_t)st.st_size))) {
		rc = rp_error_set(RP_E_CRYPTO, NULL, "SHA-1 initialisation failed");
		goto done;
	}
	while ((n = rp_read_some(fd, buf, READ_CHUNK)) > 0) {
		if ((rc = rp_sha256_update(&h, buf, (size_t)n)))
			goto done;
		if (git && EVP_DigestUpdate(git, buf, (size_t)n) != 1) {
			rc = rp_error_set(RP_E_CRYPTO, NULL, "SHA-1 update failed");
			goto done;
		}
		total += (uint64_t)n;
		/* A short read that reaches the stat size is the end: saves a
		 * read(2) per small file. The digest and size stay consistent
		 * even if the file is growing. */
		if ((size_t)n < READ_CHUNK && total >= (uint64_t)st.st_size)
			break;
	}
	if (n < 0) {
		set_unreadable(a, &st);
		goto done;
	}
	a->mode = (uint32_t)(st.st_mode & 07777);
	a->size = total;
	if (git && total == (uint64_t)st.st_size) {
		unsigned int len = 0;

		a->git_id_valid = EVP_DigestFinal_ex(git, a->git_id, &len) == 1 &&
				  len == RP_GIT_ID_LEN;
	}
	rc = rp_sha256_final(&h, a->sha256);
done:
	EVP_MD_CTX_free(git);
	rp_sha256_release(&h);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void *hash_worker(void *arg)
{
	struct hash_thread *t = arg;
	struct hash_job *job = t->job;
	unsigned char *buf = malloc(READ_CHUNK);

	t->rc = buf ? RP_OK : rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	while (!t->rc && !atomic_load(&job->failed)) {
		size_t i = atomic_fetch_add(&job->next, 1);
		struct rp_artifact *a;

		if (i >= job->list->n)
			break;
		a = &job->list->v[i];
		if (a->type == RP_ART_FILE && !a->reason)
			t->rc = hash_one(a, job->base_fd, buf, job->git_ids);
	}
	if (t->rc) {
		atomic_store(&job->failed, true);
		t->err = *rp_error_last();
	}
	free(buf);
	return NULL;
}

static int hash_files(struct rp_artifact_list *l, int base_fd, bool git_ids)
{
	struct hash_job job = { .list = l, .base_fd = base_fd, .git_ids = git_ids };
	struct hash_thread t[HASH_THREADS];
	pthread_t tid[HASH_THREADS];
	size_t files = 0, started = 1;
	sigset_t all, old;

	for (size_t i = 0; i < l->n; i++)
		files += l->v[i].type == RP_ART_FILE;
	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < HASH_THREADS; i++)
		t[i].job = &job;
	if (files >= HASH_THREAD_MIN_FILES && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		/* Helpers take no signals: those stay with the caller's thread. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (; started < HASH_THREADS; started++)
			if (pthread_create(&tid[started], NULL, hash_worker, &t[started]) != 0)
				break;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	hash_worker(&t[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(tid[i], NULL);
	for (size_t i = 0; i < started; i++)
		if (t[i].rc)
			return rp_error_set_at(t[i].rc, t[i].err.id, &t[i].err.where, "%s",
					       t[i].err.msg);
	return RP_OK;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_artifact *)a)->path, ((const struct rp_artifact *)b)->path);
}

static bool any_match(const struct rp_strv *globs, const char *path)
{
	for (size_t i = 0; globs && i < globs->n; i++)
		if (rp_glob_match(globs->v[i], path))
			return true;
	return false;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* files/<path> must be a package entry name: UTF-8 (the attestation is
 * JSON) and not too long. The walk never yields ".", ".." or empty parts. */
static bool entry_name_ok(const char *path)
{
	char name[4200];
	int n = snprintf(name, sizeof(name), "files/%s", path);

	return n > 0 && (size_t)n < sizeof(name) && rp_pack_name_safe(name);
}

/* Reasons the walk found stay; the selection's own are decided again. */
static bool walk_reason(const char *reason)
{
	return reason && (strcmp(reason, "unreadable") == 0 || strcmp(reason, "special_file") == 0);
}

/* Decide inclusion in sorted order, so the total cap cuts deterministically. */
void rp_enum_select(struct rp_artifact_list *l, const struct rp_enum_opts *opts)
{
	l->total_bytes = 0;
	l->included_bytes = 0;
	l->included_n = 0;
	l->selection = opts->include ? "include" : opts->select_changed ? "changed" : "none";
	for (size_t i = 0; i < l->n; i++) {
		struct rp_artifact *a = &l->v[i];
		bool selected = opts->include ? any_match(opts->include, a->path)
					      : opts->select_changed && a->changed;

		if (a->type == RP_ART_FILE)
			l->total_bytes += a->size;
		a->included = false;
		if (!walk_reason(a->reason))
			a->reason = NULL;
		if (a->reason)
			continue;
		if (!selected)
			a->reason = "not_selected";
		else if (any_match(opts->exclude, a->path))
			a->reason = "excluded";
		else if (a->type == RP_ART_SYMLINK)
			a->reason = "symlink";
		else if (!entry_name_ok(a->path))
			a->reason = "unsafe_name";
		else if (a->size > opts->max_file_bytes)
			a->reason = "file_too_large";
		else if (a->size > opts->max_total_bytes - l->included_bytes)
			a->reason = "total_too_large";
		if (a->reason)
			continue;
		a->included = true;
		l->included_n++;
		l->included_bytes += a->size;
	}
}

int rp_enum_workspace(struct rp_artifact_list *out, const char *base_dir,
		      const struct rp_enum_opts *opts)
{
	struct walker *w;
	int fd = -1, dfd, rc;

	memset(out, 0, sizeof(*out));
	w = calloc(1, sizeof(*w));
	if (!w || (rc = rp_buf_reserve(&w->path, 256))) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	w->list = out;
	w->git_ids = opts->git_ids;
	w->path.data[0] = '\0';
	fd = open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = rp_error_set_errno(errno == ENOENT ? RP_E_NOTFOUND : RP_E_IO,
					"workspace_unreadable", errno,
					"cannot open workspace '%s'", base_dir);
		goto done;
	}
	dfd = dup(fd);
	if (dfd < 0) {
		rc = rp_error_set_errno(RP_E_IO, "workspace_unreadable", errno,
					"cannot open workspace '%s'", base_dir);
		goto done;
	}
	/* walk_dir() owns and closes dfd; fd stays for hash_files(). */
	if ((rc = walk_dir(w, dfd, 0)) || (rc = hash_files(out, fd, opts->git_ids))) {
		rp_error_prefix("enumerating workspace '%s'", base_dir);
		goto done;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), path_cmp);
	if (out->repos_n > 1)
		qsort(out->repos, out->repos_n, sizeof(*out->repos), str_cmp);
	rp_enum_select(out, opts);
done:
	if (fd >= 0)
		close(fd);
	if (w)
		rp_buf_release(&w->path);
	free(w);
	if (rc)
		rp_artifact_list_release(out);
	return rc;
}

int rp_enum_open(const char *base_dir, const char *rel_path)
{
	struct stat st;
	int bfd, fd, err, code;

	bfd = open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return rp_error_set_errno(errno == ENOENT ? RP_E_NOTFOUND : RP_E_IO,
					  "workspace_unreadable", errno,
					  "cannot open workspace '%s'", base_dir);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open_beneath(bfd, rel_path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	err = errno;
	close(bfd);
	if (fd < 0) {
		if (err == ELOOP || err == EXDEV)
			return rp_error_set(RP_E_INVALID, "artifact_path_unsafe",
					    "'%s' leaves the workspace or goes through a symlink",
					    rel_path);
		code = err == ENOENT ? RP_E_NOTFOUND : err == ENOSYS ? RP_E_UNSUPPORTED : RP_E_IO;
		return rp_error_set_errno(code, "artifact_unreadable", err,
					  "cannot open '%s' in the workspace", rel_path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rp_error_set(RP_E_INVALID, "artifact_path_unsafe",
				    "'%s' is not a regular file", rel_path);
	}
	return fd;
}

/* The text with each byte of an invalid UTF-8 sequence as U+FFFD. */
static char *utf8_lossy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct rp_buf b = RP_BUF_INIT;
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;

		if (len <= n - i && rp_utf8_valid(p + i, len)) {
			if (rp_buf_append(&b, p + i, len))
				goto fail;
			i += len;
		} else {
			if (rp_buf_append(&b, "\xef\xbf\xbd", 3))
				goto fail;
			i++;
		}
	}
	if (rp_buf_reserve(&b, 0))
		goto fail;
	return (char *)rp_buf_steal(&b, NULL);
fail:
	rp_buf_release(&b);
	return NULL;
}

/* Set key to s, or to its lossy form plus key"Base64" with the exact bytes. */
int rp_enum_json_set_path(json_t *o, const char *key, const char *s)
{
	size_t n = strlen(s), b64_len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char b64_key[64], *lossy, *b64;
	int rc;

	if (rp_utf8_valid(s, n))
		return json_object_set_new(o, key, json_string(s));
	lossy = utf8_lossy(s);
	b64 = malloc(b64_len);
	snprintf(b64_key, sizeof(b64_key), "%sBase64", key);
	rc = -1;
	if (lossy && b64) {
		sodium_bin2base64(b64, b64_len, (const unsigned char *)s, n,
				  sodium_base64_VARIANT_ORIGINAL);
		rc = json_object_set_new(o, key, json_string(lossy)) |
		     json_object_set_new(o, b64_key, json_string(b64));
	}
	free(lossy);
	free(b64);
	return rc;
}

static json_t *artifact_json(const struct rp_artifact *a)
{
	char mode[8], hex[RP_SHA256_HEX_LEN + 1];
	json_t *o = json_object();
	int bad;

	if (!o)
		return NULL;
	snprintf(mode, sizeof(mode), "%04o", (unsigned)a->mode);
	bad = rp_enum_json_set_path(o, "path", a->path) |
	      json_object_set_new(o, "type", json_string(a->kind)) |
	      json_object_set_new(o, "mode", json_string(mode)) |
	      json_object_set_new(o, "size", json_integer((json_int_t)a->size));
	if (a->type != RP_ART_OTHER && !(a->reason && strcmp(a->reason, "unreadable") == 0)) {
		rp_sha256_hex(hex, a->sha256);
		bad |= json_object_set_new(o, "sha256", json_string(hex));
	}
	if (a->link_target)
		bad |= rp_enum_json_set_path(o, "linkTarget", a->link_target);
	if (a->changed)
		bad |= json_object_set_new(o, "changed", json_true());
	if (a->ignored)
		bad |= json_object_set_new(o, "ignored", json_true());
	bad |= json_object_set_new(o, "included", json_boolean(a->included));
	if (a->reason)
		bad |= json_object_set_new(o, "reason", json_string(a->reason));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *rp_artifacts_to_json(const struct rp_artifact_list *l)
{
	json_t *files = json_array();

	for (size_t i = 0; files && i < l->n; i++) {
		if (json_array_append_new(files, artifact_json(&l->v[i])) < 0) {
			json_decref(files);
			files = NULL;
		}
	}
	return json_pack("{s:s, s:o, s:s, s:{s:I, s:I, s:I, s:I}}",
			 "schema", "runpack.artifacts/v1",
			 "files", files,
			 "selection", l->selection ? l->selection : "none",
			 "totals",
			 "files", (json_int_t)l->n,
			 "bytes", (json_int_t)l->total_bytes,
			 "included", (json_int_t)l->included_n,
			 "includedBytes", (json_int_t)l->included_bytes);
}

void rp_artifact_list_release(struct rp_artifact_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].link_target);
	}
	free(l->v);
	for (size_t i = 0; i < l->repos_n; i++)
		free(l->repos[i]);
	free(l->repos);
	memset(l, 0, sizeof(*l));
}
