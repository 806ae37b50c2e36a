#!/bin/bash
# runpack run: every exit code of DESIGN.md, and the package each one leaves.
. "$(dirname "$0")/lib.sh"

new_workspace ws

test_expect_success 'exit 0: agent succeeds, package verifies' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent succeed.sh)\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out ok.tar.zst &&
	assert_eq "$(json_get out .status)" succeeded &&
	assert_eq "$(json_get out .exitCode)" 0 &&
	assert_eq "$(json_get out .package)" "$SCRATCH/ok.tar.zst" &&
	test -f ok.tar.zst &&
	entry ok.tar.zst result.json >result.json &&
	assert_eq "$(json_get result.json .status)" succeeded &&
	expect_exit 0 "$RUNPACK" verify ok.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'stdout holds exactly one JSON object' '
	expect_exit 0 "$RUNPACK" run --manifest m.json --out ok2.tar.zst &&
	assert_eq "$(jq -s length out)" 1 &&
	assert_eq "$(wc -l <out)" 1
'

test_expect_success 'default output is ./<runId>.tar.zst' '
	jq ".runId = \"named-run\"" m.json >named.json &&
	expect_exit 0 "$RUNPACK" run --manifest named.json &&
	test -f named-run.tar.zst &&
	assert_eq "$(json_get out .runId)" named-run
'

test_expect_success 'exit 1: agent exits non-zero' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent fail.sh)\"]" &&
	expect_exit 1 "$RUNPACK" run --manifest m.json --out fail.tar.zst &&
	assert_eq "$(json_get out .status)" failed &&
	assert_eq "$(json_get out .exitCode)" 3 &&
	expect_exit 0 "$RUNPACK" verify fail.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'exit 1: agent killed by a signal' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent killself.sh)\"]" &&
	expect_exit 1 "$RUNPACK" run --manifest m.json --out sig.tar.zst &&
	assert_eq "$(json_get out .status)" killed &&
	assert_eq "$(json_get out .exitCode)" null &&
	assert_eq "$(json_get out .signal)" SIGSEGV
'

test_expect_success 'exit 1: wall timeout' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent hang.sh)\"]" ".agent.timeoutSeconds = 1" &&
	expect_exit 1 "$RUNPACK" run --manifest m.json --out slow.tar.zst &&
	assert_eq "$(json_get out .status)" timed_out &&
	entry slow.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .timedOut)" true &&
	entry slow.tar.zst events.jsonl >ev.jsonl &&
	assert_contains ev.jsonl "\"type\":\"timeout\""
'

test_expect_success 'exit 1: the agent cannot be executed' '
	manifest m.json "$SCRATCH/ws" "[\"/nonexistent/agent\"]" &&
	expect_exit 1 "$RUNPACK" run --manifest m.json --out noexec.tar.zst &&
	assert_eq "$(json_get out .status)" failed &&
	assert_eq "$(json_get out ".errors[0].code")" agent_exec_failed
'

test_expect_success 'exit 2: usage errors write no package' '
	expect_exit 2 "$RUNPACK" run &&
	assert_contains err "manifest is required" &&
	expect_exit 2 "$RUNPACK" run --manifest m.json --bogus &&
	assert_contains err "unknown option" &&
	expect_exit 2 "$RUNPACK" run --manifest missing.json --out none.tar.zst &&
	assert_contains err "missing.json" &&
	test ! -e none.tar.zst &&
	expect_exit 2 "$RUNPACK" run --manifest m.json --policy missing-policy.json --out none.tar.zst &&
	assert_contains err "missing-policy.json" &&
	expect_exit 2 "$RUNPACK" run --manifest m.json --key missing.key --out none.tar.zst &&
	assert_contains err "missing.key" &&
	expect_exit 2 "$RUNPACK" run --manifest m.json --out /nonexistent-dir/x.tar.zst &&
	assert_contains err "nonexistent-dir" &&
	test ! -e none.tar.zst
'

test_expect_success 'exit 2 still prints a JSON summary' '
	expect_exit 2 "$RUNPACK" run --manifest missing.json &&
	assert_eq "$(json_get out .package)" null &&
	assert_eq "$(json_get out .exit)" 2
'

test_expect_success 'exit 3: unknown manifest field, named with line and column' '
	printf "{\n  \"baseDir\": \"%s\",\n  \"agent\": {\"argv\": [\"true\"], \"timeoutSecs\": 5}\n}\n" \
		"$SCRATCH/ws" >typo.json &&
	expect_exit 3 "$RUNPACK" run --manifest typo.json --out typo.tar.zst &&
	assert_eq "$(json_get out .status)" rejected &&
	assert_eq "$(json_get out ".errors[0].code")" manifest_unknown_field &&
	assert_eq "$(json_get out ".errors[0].path")" "\$.agent.timeoutSecs" &&
	assert_eq "$(json_get out ".errors[0].line")" 3 &&
	assert_contains err "typo.json:3:" &&
	expect_exit 0 "$RUNPACK" verify typo.tar.zst --pubkey "$(host_pub)" &&
	entry typo.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .status)" rejected &&
	entry typo.tar.zst manifest.json >mf.json &&
	assert_contains mf.json timeoutSecs
'

test_expect_success 'exit 3: invalid JSON is rejected with a package' '
	printf "{\"baseDir\": \n" >broken.json &&
	expect_exit 3 "$RUNPACK" run --manifest broken.json --out broken.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" manifest_parse_error &&
	expect_exit 0 "$RUNPACK" verify broken.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'exit 3: request beyond the policy ceiling' '
	manifest m.json "$SCRATCH/ws" "[\"true\"]" ".agent.timeoutSeconds = 999999" &&
	expect_exit 3 "$RUNPACK" run --manifest m.json --out big.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" policy_exceeded &&
	assert_eq "$(json_get out ".errors[0].path")" "\$.agent.timeoutSeconds"
'

test_expect_success 'exit 3: egress beyond the built-in policy' '
	manifest m.json "$SCRATCH/ws" "[\"true\"]" ".egress = {mode: \"open\"}" &&
	expect_exit 3 "$RUNPACK" run --manifest m.json --out egress.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" policy_exceeded
'

test_expect_success 'exit 3: invalid policy file' '
	printf "{\"limits\": {\"wallSecond\": 5}}\n" >bad-policy.json &&
	manifest m.json "$SCRATCH/ws" "[\"true\"]" &&
	expect_exit 3 "$RUNPACK" run --manifest m.json --policy bad-policy.json --out pol.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" policy_unknown_field &&
	test -f pol.tar.zst
'

test_expect_success 'exit 3: unresolvable secret' '
	manifest m.json "$SCRATCH/ws" "[\"true\"]" ".agent.secretEnv = {TOKEN: \"env:RUNPACK_TEST_UNSET_VAR\"}" &&
	expect_exit 3 "$RUNPACK" run --manifest m.json --out sec.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" secret_unresolved &&
	assert_contains err RUNPACK_TEST_UNSET_VAR
'

test_expect_success 'exit 3: missing workspace' '
	manifest m.json "$SCRATCH/nope" "[\"true\"]" &&
	expect_exit 3 "$RUNPACK" run --manifest m.json --out nows.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" workspace_missing
'

test_expect_success 'exit 5: the package cannot be written after the run' '
	mkdir outdir &&
	manifest m.json "$SCRATCH/ws" "[\"rm\", \"-rf\", \"$SCRATCH/outdir\"]" &&
	expect_exit 5 "$RUNPACK" run --manifest m.json --out outdir/x.tar.zst &&
	assert_eq "$(json_get out .status)" error &&
	assert_eq "$(json_get out .package)" null
'

test_done
