#include "rp_glob.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Both levels use the classic single-backtrack-point wildcard algorithm: when
 * a match fails after a star, retry with the star swallowing one more unit.
 * Characters are the units within a component ('*'), components the units of
 * a path ('**'). Work is bounded by pattern length times path length, so no
 * pattern can make matching explode.
 */

/* Length of the UTF-8 character at s (1 for a stray byte); *cp gets it. */
static size_t char_at(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = 1;
	uint32_t v = s[0];

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
	}
	if (len > n) {
		len = 1;
	} else {
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				len = 1;
				break;
			}
			v = (v << 6) | (s[i] & 0x3f);
		}
	}
	*cp = len == 1 ? s[0] : v;
	return len;
}

/* Length of the class starting at p[0] == '[' (through its ']'), 0 when it is
 * unterminated or would span a '/'. */
static size_t class_len(const unsigned char *p, size_t n)
{
	size_t i = 1;

	if (i < n && (p[i] == '!' || p[i] == '^'))
		i++;
	if (i < n && p[i] == ']')
		i++;
	for (; i < n && p[i] != ']'; i++)
		if (p[i] == '/')
			return 0;
	return i < n ? i + 1 : 0;
}

static bool class_match(const unsigned char *p, size_t len, uint32_t c)
{
	size_t i = 1, end = len - 1;
	bool negate = false, hit = false;

	if (p[i] == '!' || p[i] == '^') {
		negate = true;
		i++;
	}
	/* class_len() found the closing ']' at end, so none occurs before it
	 * except a literal one in first place. */
	while (i < end) {
		uint32_t lo, hi;

		i += char_at(p + i, end - i, &lo);
		hi = lo;
		if (i + 1 < end && p[i] == '-') {
			i++;
			i += char_at(p + i, end - i, &hi);
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	return hit != negate;
}

static bool component_match(const unsigned char *p, size_t pn, const unsigned char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
	uint32_t skipped;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			while (pi < pn && p[pi] == '*')
				pi++;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pi < pn) {
			uint32_t c;
			size_t step = char_at(s + si, sn - si, &c), cl;

			if (p[pi] == '?') {
				pi++;
				si += step;
				continue;
			}
			if (p[pi] == '[' && (cl = class_len(p + pi, pn - pi)) != 0) {
				if (class_match(p + pi, cl, c)) {
					pi += cl;
					si += step;
					continue;
				}
			} else if (p[pi] == s[si]) {
				pi++;
				si++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		star_s += char_at(s + star_s, sn - star_s, &skipped);
		si = star_s;
		pi = star_p;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/* End of the component starting at i. */
static size_t comp_end(const char *s, size_t n, size_t i)
{
	const char *slash = memchr(s + i, '/', n - i);

	return slash ? (size_t)(slash - s) : n;
}

static size_t comp_next(size_t end, size_t n)
{
	return end < n ? end + 1 : n;
}

static bool is_globstar(const char *p, size_t i, size_t end)
{
	return end - i == 2 && p[i] == '*' && p[i + 1] == '*';
}

bool rp_glob_match(const char *pattern, const char *path)
{
	size_t pn = strlen(pattern), sn = strlen(path);
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	if (!rp_glob_valid(pattern))
		return false;
	while (si < sn) {
		size_t pe, se;

		if (pi < pn) {
			pe = comp_end(pattern, pn, pi);
			if (is_globstar(pattern, pi, pe)) {
				pi = star_p = comp_next(pe, pn);
				star_s = si;
				continue;
			}
			se = comp_end(path, sn, si);
			if (component_match((const unsigned char *)pattern + pi, pe - pi,
					    (const unsigned char *)path + si, se - si)) {
				pi = comp_next(pe, pn);
				si = comp_next(se, sn);
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		star_s = comp_next(comp_end(path, sn, star_s), sn);
		si = star_s;
		pi = star_p;
	}
	while (pi < pn) {
		size_t pe = comp_end(pattern, pn, pi);

		if (!is_globstar(pattern, pi, pe))
			return false;
		pi = comp_next(pe, pn);
	}
	return true;
}

bool rp_glob_valid(const char *pattern)
{
	const unsigned char *p = (const unsigned char *)pattern;
	size_t n = strlen(pattern), i = 0, comp = 0;

	if (n == 0 || p[0] == '/' || p[n - 1] == '/')
		return false;
	while (i <= n) {
		if (i == n || p[i] == '/') {
			size_t len = i - comp;

			if (len == 0 || (len == 1 && p[comp] == '.') ||
			    (len == 2 && p[comp] == '.' && p[comp + 1] == '.'))
				return false;
			comp = ++i;
			continue;
		}
		if (p[i] == '[') {
			size_t cl = class_len(p + i, n - i);

			if (!cl)
				return false;
			i += cl;
			continue;
		}
		i++;
	}
	return true;
}
