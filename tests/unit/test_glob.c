#include "harness.h"
#include "rp_glob.h"

#include <sodium.h>
#include <time.h>

struct glob_case {
	const char *pattern, *path;
	bool match;
};

static const struct glob_case cases[] = {
	/* literal */
	{ "a.txt", "a.txt", true },
	{ "a.txt", "b.txt", false },
	{ "a.txt", "dir/a.txt", false },
	{ "dir/a.txt", "dir/a.txt", true },
	/* '*' stays within a component */
	{ "*", "a", true },
	{ "*", "a/b", false },
	{ "*.txt", "a.txt", true },
	{ "*.txt", "dir/a.txt", false },
	{ "dir/*", "dir/a", true },
	{ "dir/*", "dir/a/b", false },
	{ "*.tmp", ".hidden.tmp", true },
	{ "a*b", "ab", true },
	{ "a*b", "axxb", true },
	{ "a*b", "axx/b", false },
	{ "*a*", "bab", true },
	{ "x*", "", false },
	/* '?' */
	{ "?.txt", "a.txt", true },
	{ "?.txt", "ab.txt", false },
	{ "a?b", "a/b", false },
	{ "caf?", "caf\xc3\xa9", true },
	/* classes */
	{ "[abc].c", "b.c", true },
	{ "[abc].c", "d.c", false },
	{ "[a-c]x", "bx", true },
	{ "[!a-c]x", "bx", false },
	{ "[^a-c]x", "dx", true },
	{ "[]]", "]", true },
	{ "[!]]", "a", true },
	{ "[*]", "*", true },
	{ "[*]", "a", false },
	{ "[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", true },
	/* '**' at the start, middle and end */
	{ "**", "a", true },
	{ "**", "a/b/c", true },
	{ "**/*.tmp", "x.tmp", true },
	{ "**/*.tmp", "a/b/x.tmp", true },
	{ "**/*.tmp", "a/b/x.tmpl", false },
	{ "a/**/b", "a/b", true },
	{ "a/**/b", "a/x/b", true },
	{ "a/**/b", "a/x/y/b", true },
	{ "a/**/b", "a/x/y/c", false },
	{ "a/**/b", "b/x/b", false },
	{ "out/**", "out/a", true },
	{ "out/**", "out/a/b/c", true },
	{ "out/**", "out", true },
	{ "out/**", "output/a", false },
	{ "out/**", "x/out/a", false },
	{ "**/out/**", "x/y/out/z", true },
	{ "**/b/**/d", "a/b/c/b/x/d", true },
	{ "**/b/**/d", "a/b/c/b/x/e", false },
	{ "a/**/**/b", "a/b", true },
	{ "x**y", "xay", true },
	{ "x**y", "xa/y", false },
	/* malformed patterns never match */
	{ "[abc", "[abc", false },
	{ "", "", false },
	{ "/abs", "/abs", false },
	{ "a/../b", "a/../b", false },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = rp_glob_match(cases[i].pattern, cases[i].path);

		if (got != cases[i].match) {
			snprintf(harness_why, sizeof(harness_why),
				 "rp_glob_match(\"%s\", \"%s\") == %d, expected %d",
				 cases[i].pattern, cases[i].path, got, cases[i].match);
			longjmp(harness_jmp, 1);
		}
	}
}

static void test_valid(void)
{
	CHECK(rp_glob_valid("out/**"));
	CHECK(rp_glob_valid("**/*.tmp"));
	CHECK(rp_glob_valid("[]]x"));
	CHECK(rp_glob_valid("a[!b]c"));
	CHECK(!rp_glob_valid(""));
	CHECK(!rp_glob_valid("/etc/passwd"));
	CHECK(!rp_glob_valid("a//b"));
	CHECK(!rp_glob_valid("a/"));
	CHECK(!rp_glob_valid("./a"));
	CHECK(!rp_glob_valid("a/.."));
	CHECK(!rp_glob_valid("[abc"));
	CHECK(!rp_glob_valid("[a/b]"));
	CHECK(!rp_glob_valid("[!]"));
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Naive recursive matchers take exponential time on these. */
static void test_pathological(void)
{
	static char path[20001], pattern[400];
	struct timespec t0;

	memset(path, 'a', sizeof(path) - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!rp_glob_match("a*a*a*a*a*a*b", path));
	CHECK(rp_glob_match("a*a*a*a*a*a*", path));

	/* Component level: many '**' against a deep path that does not end right. */
	for (size_t i = 0; i < sizeof(path) - 1; i++)
		path[i] = i % 2 ? '/' : 'a';
	path[sizeof(path) - 2] = 'a';
	strcpy(pattern, "");
	for (int i = 0; i < 30; i++)
		strcat(pattern, "**/a/");
	strcat(pattern, "b");
	CHECK(!rp_glob_match(pattern, path));
	CHECK(seconds_since(&t0) < 1.0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN(test_table);
	RUN(test_valid);
	RUN(test_pathological);
	return harness_done();
}
