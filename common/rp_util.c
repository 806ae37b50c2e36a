#include "rp_util.h"
#include "rp_error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int rp_read_file(struct rp_buf *out, const char *path, size_t max, int flags)
{
	int fd, rc = RP_OK, oflags = O_RDONLY | O_CLOEXEC;
	struct stat st;
	unsigned char chunk[65536];
	size_t total = 0;
	ssize_t n;

	if (flags & RP_UTIL_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	fd = open(path, oflags);
	if (fd < 0)
		return rp_error_set_errno(errno == ENOENT ? RP_E_NOTFOUND : RP_E_IO,
					  "file_unreadable", errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		rc = rp_error_set_errno(RP_E_IO, "file_unreadable", errno, "cannot stat '%s'", path);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = rp_error_set(RP_E_IO, "file_unreadable", "'%s' is a directory", path);
		goto done;
	}
	while ((n = rp_read_some(fd, chunk, sizeof(chunk))) > 0) {
		total += (size_t)n;
		if (total > max) {
			rc = rp_error_set(RP_E_TOOLARGE, "file_too_large",
					  "'%s' is larger than %zu bytes", path, max);
			goto done;
		}
		rc = rp_buf_append(out, chunk, (size_t)n);
		if (rc)
			goto done;
	}
	if (n < 0)
		rc = rp_error_set_errno(RP_E_IO, "file_unreadable", errno, "cannot read '%s'", path);
	else if (!out->data)
		rc = rp_buf_reserve(out, 0);
done:
	close(fd);
	return rc;
}

int rp_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t rp_read_some(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int rp_mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path), *p;
	int rc = RP_OK;

	if (!copy)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			rc = rp_error_set_errno(RP_E_IO, "mkdir_failed", errno,
						"cannot create directory '%s'", copy);
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(copy);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int rp_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return RP_OK;
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return rp_error_set_errno(RP_E_IO, "remove_failed", errno,
					  "cannot remove '%s'", path);
	return RP_OK;
}

int rp_atomic_open(struct rp_atomic *a, const char *final_path, mode_t mode)
{
	char *dir = NULL;
	const char *base = strrchr(final_path, '/');
	int rc = RP_OK;

	a->fd = -1;
	a->tmp_path = NULL;
	a->final_path = strdup(final_path);
	dir = rp_dirname(final_path);
	base = base ? base + 1 : final_path;
	if (!a->final_path || !dir ||
	    asprintf(&a->tmp_path, "%s/.%s.tmp.XXXXXX", dir, base) < 0) {
		a->tmp_path = NULL;
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	a->fd = mkostemp(a->tmp_path, O_CLOEXEC);
	if (a->fd < 0) {
		rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
					"cannot create a temporary file in '%s'", dir);
		goto done;
	}
	if (fchmod(a->fd, mode) < 0) {
		rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
					"cannot set mode of '%s'", a->tmp_path);
		goto done;
	}
done:
	free(dir);
	if (rc)
		rp_atomic_abort(a);
	return rc;
}

int rp_atomic_commit(struct rp_atomic *a)
{
	char *dir = NULL;
	int dfd, rc = RP_OK;

	if (fsync(a->fd) < 0) {
		rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
					"cannot fsync '%s'", a->tmp_path);
		goto done;
	}
	if (close(a->fd) < 0) {
		a->fd = -1;
		rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
					"cannot close '%s'", a->tmp_path);
		goto done;
	}
	a->fd = -1;
	if (rename(a->tmp_path, a->final_path) < 0) {
		rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
					"cannot rename '%s' to '%s'", a->tmp_path, a->final_path);
		goto done;
	}
	free(a->tmp_path);
	a->tmp_path = NULL;
	dir = rp_dirname(a->final_path);
	dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		/* The rename is durable only once the directory is synced. */
		if (fsync(dfd) < 0 && errno != EINVAL)
			rc = rp_error_set_errno(RP_E_IO, "output_unwritable", errno,
						"cannot fsync directory '%s'", dir);
		close(dfd);
	}
done:
	free(dir);
	rp_atomic_abort(a);
	return rc;
}

void rp_atomic_abort(struct rp_atomic *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmp_path)
		unlink(a->tmp_path);
	free(a->tmp_path);
	free(a->final_path);
	a->tmp_path = NULL;
	a->final_path = NULL;
}

int64_t rp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rp_format_time_ms(char out[32], int64_t epoch_ms)
{
	time_t secs = (time_t)(epoch_ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(epoch_ms % 1000));
}

bool rp_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p, *end = s + n;

	while (s < end) {
		unsigned char c = *s;
		size_t len;
		unsigned int cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - s) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += len;
	}
	return true;
}

char *rp_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

char *rp_path_join(const char *dir, const char *name)
{
	char *out;
	size_t dl = strlen(dir);

	if (asprintf(&out, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return out;
}
