# Shell test library, sourced by tests/tNNNN-*.sh.
#
# Each script runs in its own scratch directory ($SCRATCH), kept when a test
# fails. Use:
#   test_expect_success "what it checks" '
#       expect_exit 0 "$RUNPACK" verify pkg.tar.zst -P "$PUB" &&
#       assert_contains out "\"valid\":true"
#   '
#   test_skip "what" "why"
#   test_done
# expect_exit runs a command with stdout in ./out and stderr in ./err and
# checks its exact exit status; a death by signal is always a failure, so a
# crash never passes as an expected non-zero exit. Never pipe the tool's
# output: that hides its exit status.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$TOP/$BUILD_DIR ;; esac
RUNPACK=${RUNPACK:-$BUILD_DIR/runpack}
FIXTURES=$TOP/fixtures
TEST_NAME=$(basename "$0" .sh)
SCRATCH=$(mktemp -d "${RP_TEST_TMP:-/tmp}/$TEST_NAME.XXXXXX")
TEST_PUB=$FIXTURES/keys/test-only.pub
TEST_KEY=$FIXTURES/keys/test-only.key
export RUNPACK_STATE_DIR=$SCRATCH/state
unset RUNPACK_POLICY RUNPACK_KEY
cd "$SCRATCH" || exit 2

_passed=0
_failed=0
_skipped=0

say() { printf '%s\n' "$*" >&2; }

test_expect_success() {
	_desc=$1
	_body=$2
	if (eval "$_body") >"$SCRATCH/.log" 2>&1; then
		echo "PASS $TEST_NAME: $_desc"
		_passed=$((_passed + 1))
	else
		echo "FAIL $TEST_NAME: $_desc"
		sed 's/^/    /' "$SCRATCH/.log"
		_failed=$((_failed + 1))
	fi
}

test_skip() {
	echo "SKIP $TEST_NAME: $1 ($2)"
	_skipped=$((_skipped + 1))
}

# expect_exit CODE CMD... : run CMD, stdout -> ./out, stderr -> ./err, stdin
# from $STDIN (default /dev/null).
expect_exit() {
	_want=$1
	shift
	"$@" >out 2>err <"${STDIN:-/dev/null}"
	_got=$?
	if [ "$_got" -ne "$_want" ]; then
		say "expected exit $_want, got $_got: $*"
		say "--- stdout"; head -c 4000 out >&2
		say "--- stderr"; head -c 4000 err >&2
		return 1
	fi
	if [ "$_want" -lt 128 ] && grep -q 'AddressSanitizer\|runtime error:\|LeakSanitizer' err; then
		say "sanitizer report in stderr: $*"
		head -c 4000 err >&2
		return 1
	fi
	return 0
}

assert_contains() {
	grep -q -e "$2" "$1" || { say "'$1' does not contain '$2':"; head -c 2000 "$1" >&2; return 1; }
}

assert_not_contains() {
	if grep -q -F -e "$2" "$1"; then
		say "'$1' contains '$2'"
		return 1
	fi
}

assert_eq() {
	[ "$1" = "$2" ] || { say "expected '$2', got '$1'"; return 1; }
}

# json_get FILE JQ-FILTER: one raw value from a JSON file.
json_get() {
	jq -r "$2" "$1"
}

test_done() {
	if [ "$_failed" -eq 0 ]; then
		cd / && rm -rf "$SCRATCH"
	else
		echo "    (scratch kept: $SCRATCH)"
	fi
	[ "$_failed" -eq 0 ]
}

# new_workspace DIR: a fresh sample git workspace (fixtures/make-workspace.sh).
new_workspace() {
	"$FIXTURES/make-workspace.sh" "$1" >/dev/null
}

# manifest FILE WORKSPACE ARGV-JSON [JQ-FILTER]: write a job manifest running
# ARGV in WORKSPACE, optionally transformed by a jq filter.
manifest() {
	jq -n --arg ws "$2" --argjson argv "$3" \
		'{baseDir: $ws, agent: {argv: $argv, timeoutSeconds: 60},
		  artifacts: {include: ["out/**"]}}' | jq "${4:-.}" >"$1"
}

# agent NAME: the path of a mock agent in fixtures/agents.
agent() {
	printf '%s/agents/%s' "$FIXTURES" "$1"
}

# host_pub: the per-host public key runpack created in this test's state dir.
host_pub() {
	printf '%s/keys/host.pub' "$RUNPACK_STATE_DIR"
}

# entry PACKAGE NAME: print one entry of a package (without runpack).
entry() {
	tar --zstd -xOf "$1" "$2"
}
