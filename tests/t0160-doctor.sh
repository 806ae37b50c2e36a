#!/bin/bash
# runpack doctor: the host report, as JSON and for people.
. "$(dirname "$0")/lib.sh"

test_expect_success 'doctor --json reports kernel features, libraries, key and policy' '
	expect_exit 0 "$RUNPACK" doctor --json &&
	jq -e "(.kernel.landlockAbi | type) == \"number\" and
	       (.kernel.namespaces.user | type) == \"boolean\" and
	       (.kernel.seccomp.available | type) == \"boolean\" and
	       (.kernel.cgroup2.controllers | type) == \"array\" and
	       (.libraries.libarchive | test(\"libarchive\")) and
	       .libraries.libsodium != null and .libraries.libgit2 != null and
	       .stateDir == \"$RUNPACK_STATE_DIR\" and
	       .signingKey.path == \"$RUNPACK_STATE_DIR/keys/host.key\" and
	       .policy.source == \"built-in\" and
	       .policy.policy.limits.wallSeconds == 3600" out
'

test_expect_success 'doctor shows the policy a run would use, and its errors' '
	printf "{\"limits\": {\"wallSeconds\": 10}}\n" >p.json &&
	RUNPACK_POLICY=$SCRATCH/p.json expect_exit 0 "$RUNPACK" doctor --json &&
	assert_eq "$(json_get out .policy.policy.limits.wallSeconds)" 10 &&
	printf "{\"limits\": {\"wallSecs\": 10}}\n" >bad.json &&
	expect_exit 1 "$RUNPACK" doctor --json --policy bad.json &&
	assert_eq "$(json_get out .policy.error.code)" policy_unknown_field
'

test_expect_success 'doctor prints a human summary by default' '
	expect_exit 0 "$RUNPACK" doctor &&
	assert_contains out "landlock ABI" &&
	assert_contains out "state dir"
'

test_expect_success 'run --help prints the built-in policy' '
	expect_exit 0 "$RUNPACK" run --help &&
	assert_contains out "wallSeconds" &&
	assert_contains out "requireEnforcement"
'

test_expect_success 'unknown commands and flags are usage errors' '
	expect_exit 2 "$RUNPACK" frobnicate &&
	assert_contains err "unknown command" &&
	expect_exit 2 "$RUNPACK" doctor --frob &&
	expect_exit 0 "$RUNPACK" --version &&
	assert_contains out "runpack 0.1.0"
'

test_done
