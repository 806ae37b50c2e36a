/*
 * rp_glob: path globs for artifacts.include / exclude (pure).
 *
 * Syntax: '*' matches any run of characters within one path component (a
 * leading '.' included), '?' one character other than '/', '[...]' one
 * character of a class ("[a-z]", "[!0-9]" or "[^0-9]" negated, a ']' right
 * after the '[' or '!' is literal), and a component that is exactly "**"
 * matches zero or more whole components; "**" inside a longer component acts
 * as '*'. '?' and classes take a whole UTF-8 character; other bytes match
 * themselves. Examples (a space separates '/' and '*' only because a C
 * comment cannot hold them side by side):
 *
 *   out/ **       every file under out (and a file named out)
 *   ** / *.tmp    any .tmp file, at any depth
 *   a/ ** /b      a/b, a/x/b, a/x/y/b
 *
 * Paths are relative, '/'-separated, without a leading "./". Matching never
 * backtracks exponentially: its work is polynomial in the two lengths.
 */
#ifndef RP_GLOB_H
#define RP_GLOB_H

#include <stdbool.h>

bool rp_glob_match(const char *pattern, const char *path);
/* true when the pattern is well-formed: not empty, relative, balanced classes
 * that do not span a '/', no empty, "." or ".." components. rp_glob_match()
 * is false for a malformed pattern. */
bool rp_glob_valid(const char *pattern);

#endif
