#!/bin/sh
# Run the whole suite (unit binaries, then shell tests) against each build
# directory given, and end with one "N passed, N failed, N skipped" line.
set -u
cd "$(dirname "$0")/.." || exit 2
[ $# -gt 0 ] || set -- build
RP_TEST_TMP=$(mktemp -d /tmp/runpack-tests.XXXXXX)
export RP_TEST_TMP
log=$RP_TEST_TMP/all.log
: >"$log"
status=0

for build in "$@"; do
	echo "== suite against $build"
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		"$t" >"$RP_TEST_TMP/unit.out" 2>&1
		rc=$?
		sed "s|^|[$build] |" "$RP_TEST_TMP/unit.out" | tee -a "$log" | grep -v '^\[[^]]*\] PASS'
		if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$RP_TEST_TMP/unit.out"; then
			echo "[$build] FAIL $(basename "$t"): exited $rc" | tee -a "$log"
		fi
	done
	for t in tests/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		BUILD_DIR=$build bash "$t" >"$RP_TEST_TMP/shell.out" 2>&1
		rc=$?
		sed "s|^|[$build] |" "$RP_TEST_TMP/shell.out" | tee -a "$log" | grep -v '^\[[^]]*\] PASS'
		if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$RP_TEST_TMP/shell.out"; then
			echo "[$build] FAIL $(basename "$t"): exited $rc" | tee -a "$log"
		fi
	done
done

passed=$(grep -c '^\[[^]]*\] PASS' "$log")
failed=$(grep -c '^\[[^]]*\] FAIL' "$log")
skipped=$(grep -c '^\[[^]]*\] SKIP' "$log")
[ "$failed" -eq 0 ] || status=1
[ "$passed" -gt 0 ] || status=1
[ $status -eq 0 ] && rm -rf "$RP_TEST_TMP"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
