#!/usr/bin/env python3
"""Write a synthetic agent/CI log of SIZE bytes with sparse credentials.

    bench/gen-log.py SIZE_MB OUT [EVERY_KB]

Lines mix build output, HTTP access logs, JSON structured logs, test
results, git output, stack traces and prose that uses words such as key,
token, auth, access and secret (so keyword prefilters see realistic hit
rates). Every EVERY_KB kilobytes (default 512) one line carries a
credential. Deterministic: the same arguments give the same bytes."""
import random
import sys

rnd = random.Random(20260515)
HEX = "0123456789abcdef"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def h(n):
    return "".join(rnd.choice(HEX) for _ in range(n))


def a(n):
    return "".join(rnd.choice(ALNUM) for _ in range(n))


def uuid():
    return "%s-%s-%s-%s-%s" % (h(8), h(4), h(4), h(4), h(12))


def ts():
    return "2026-05-%02dT%02d:%02d:%02d.%03dZ" % (rnd.randint(1, 28), rnd.randint(0, 23),
                                                  rnd.randint(0, 59), rnd.randint(0, 59),
                                                  rnd.randint(0, 999))


WORDS = ("the build cache key for module was missing so the step ran again; the access "
         "log rotated; auth service answered in time; token refresh scheduled; secret "
         "store unchanged; retrying request after backoff; compiling sources; linking "
         "objects; running tests; uploading artifacts; waiting for lock").split()
USERS = ["alice", "bob", "carol", "dave", "erin", "ci-bot"]


def line():
    k = rnd.randrange(12)
    if k == 0:
        m = rnd.randint(1, 999)
        return "[%s] INFO  cc -O2 -Wall -c src/module_%d.c -o build/module_%d.o" % (ts(), m, m)
    if k == 1:
        return '10.%d.%d.%d - - [01/May/2026:12:%02d:%02d +0000] "GET /api/v1/items/%d?page=%d HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64)"' % (
            rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 59),
            rnd.randint(0, 59), rnd.randint(1, 99999), rnd.randint(1, 9),
            rnd.choice([200, 200, 200, 304, 404, 500]), rnd.randint(100, 99999))
    if k == 2:
        return '{"ts":"%s","level":"%s","msg":"request completed","request_id":"%s","duration_ms":%d,"user":"%s"}' % (
            ts(), rnd.choice(["info", "debug", "warn"]), uuid(), rnd.randint(1, 900), rnd.choice(USERS))
    if k == 3:
        return "%s test_%s_%d (%.2fs)" % (rnd.choice(["PASS", "PASS", "PASS", "SKIP", "FAIL"]),
                                          rnd.choice(WORDS), rnd.randint(1, 500), rnd.random())
    if k == 4:
        return "commit %s\nAuthor: %s <%s@example.com>\nDate:   %s" % (h(40), rnd.choice(USERS).title(),
                                                                      rnd.choice(USERS), ts())
    if k == 5:
        return "    at com.example.service.%sService.%s(%sService.java:%d)" % (
            rnd.choice(["User", "Auth", "Order", "Cache"]), rnd.choice(["authenticate", "load", "put", "refresh"]),
            rnd.choice(["User", "Auth", "Order", "Cache"]), rnd.randint(10, 999))
    if k == 6:
        return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 18))).capitalize() + "."
    if k == 7:
        return "npm WARN deprecated %s@%d.%d.%d: this package is no longer supported" % (
            rnd.choice(["request", "uuid", "glob", "inflight"]), rnd.randint(0, 9), rnd.randint(0, 20), rnd.randint(0, 9))
    if k == 8:
        return "%s DEBUG cache key=users:%d hit=%s size=%d etag=%s" % (ts(), rnd.randint(1, 9999),
                                                                     rnd.choice(["true", "false"]), rnd.randint(1, 9999), h(16))
    if k == 9:
        return "Downloading https://registry.example.com/pkg/%s-%d.%d.tgz (%d kB) sha256:%s" % (
            rnd.choice(WORDS), rnd.randint(0, 9), rnd.randint(0, 9), rnd.randint(1, 999), h(64))
    if k == 10:
        return "%s WARN  auth: token for client web-%d expires in %ds, refreshing" % (ts(), rnd.randint(1, 99), rnd.randint(1, 3600))
    return "step %d/%d: %s" % (rnd.randint(1, 40), 40, " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 8))))


def secret():
    k = rnd.randrange(6)
    if k == 0:
        return "export GITHUB_TOKEN=ghp_" + a(36)
    if k == 1:
        return "aws_access_key_id = AKIA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    if k == 2:
        return 'db: connecting to postgres://app:%s@db.internal:5432/app' % a(20)
    if k == 3:
        return '{"password": "%s"}' % a(24)
    if k == 4:
        return "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ%s.%s" % (a(30), a(43))
    return "STRIPE_KEY=sk_live_" + a(32)


def main():
    size = int(float(sys.argv[1]) * 1000 * 1000)
    every = int(sys.argv[3]) * 1000 if len(sys.argv) > 3 else 512000
    pool = [line() for _ in range(60000)]
    out = open(sys.argv[2], "w")
    written = 0
    next_secret = every // 2
    secrets = 0
    while written < size:
        block = "\n".join(rnd.choice(pool) for _ in range(200)) + "\n"
        if written >= next_secret:
            block += secret() + "\n"
            next_secret += every
            secrets += 1
        out.write(block)
        written += len(block)
    out.close()
    sys.stderr.write("wrote %d bytes, %d credentials\n" % (written, secrets))


main()
