/*
 * Minimal unit-test harness. A test file defines test functions and lists
 * them in main() with RUN(fn). Each prints "PASS name" or "FAIL name: why";
 * the binary exits 1 when any test failed. tests/run.sh counts the lines.
 *
 *   static void test_thing(void) { CHECK(1 + 1 == 2); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(test_thing); return harness_done(); }
 *
 * A failing CHECK ends the current test (longjmp), so later checks in it do
 * not run on broken state. Scratch files go under harness_tmpdir().
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int harness_failed_n, harness_passed_n;
static jmp_buf harness_jmp;
static char harness_why[1024];
static char harness_dir[256];

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			snprintf(harness_why, sizeof(harness_why),            \
				 "%s:%d: CHECK(%s)", __FILE__, __LINE__, #cond); \
			longjmp(harness_jmp, 1);                              \
		}                                                             \
	} while (0)

#define CHECK_INT(a, b)                                                       \
	do {                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);           \
		if (_a != _b) {                                               \
			snprintf(harness_why, sizeof(harness_why),            \
				 "%s:%d: %s == %lld, expected %lld", __FILE__,  \
				 __LINE__, #a, _a, _b);                       \
			longjmp(harness_jmp, 1);                              \
		}                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *_a = (a), *_b = (b);                              \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                      \
			snprintf(harness_why, sizeof(harness_why),            \
				 "%s:%d: %s == \"%.300s\", expected \"%.300s\"", \
				 __FILE__, __LINE__, #a, _a ? _a : "(null)",  \
				 _b ? _b : "(null)");                         \
			longjmp(harness_jmp, 1);                              \
		}                                                             \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		if (setjmp(harness_jmp) == 0) {                               \
			fn();                                                 \
			printf("PASS %s\n", #fn);                             \
			harness_passed_n++;                                   \
		} else {                                                      \
			printf("FAIL %s: %s\n", #fn, harness_why);            \
			harness_failed_n++;                                   \
		}                                                             \
		fflush(stdout);                                               \
	} while (0)

/* A scratch directory for this test binary, created on first use. */
static inline const char *harness_tmpdir(void)
{
	if (!harness_dir[0]) {
		const char *base = getenv("RP_TEST_TMP");

		snprintf(harness_dir, sizeof(harness_dir), "%s/unit.XXXXXX",
			 base ? base : "/tmp");
		if (!mkdtemp(harness_dir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return harness_dir;
}

/* name inside harness_tmpdir(); the result stays valid for 16 more calls. */
static inline char *harness_path(const char *name)
{
	static char paths[16][512];
	static int next;
	char *p = paths[next++ % 16];

	snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
	return p;
}

static inline void harness_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f);
	CHECK(fwrite(data, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

/* Run a shell command; its exit status, or 128 when it did not exit. */
static inline __attribute__((format(printf, 1, 2))) int harness_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline int harness_done(void)
{
	return harness_failed_n ? 1 : 0;
}

#endif
