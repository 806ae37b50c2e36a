#!/bin/bash
# runpack run captures both streams concurrently: an agent flooding stdout
# and stderr at once neither deadlocks nor loses count, and the per-stream
# cap is applied and recorded.
. "$(dirname "$0")/lib.sh"

new_workspace ws
printf '{"limits": {"outputBytes": 1048576}}\n' >cap.json

test_expect_success '100 MiB on each stream, capped at 1 MiB: truncation recorded' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent flood.sh)\", \"100\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --policy cap.json --out f.tar.zst &&
	entry f.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .output.stdout.bytes)" 104857600 &&
	assert_eq "$(json_get r.json .output.stderr.bytes)" 104857600 &&
	assert_eq "$(json_get r.json .output.stdout.keptBytes)" 1048576 &&
	assert_eq "$(json_get r.json .output.stdout.truncated)" true &&
	assert_eq "$(json_get r.json .output.stderr.truncated)" true &&
	assert_eq "$(entry f.tar.zst logs/stderr.log | wc -c)" 1048576 &&
	entry f.tar.zst events.jsonl >ev &&
	assert_eq "$(grep -c "\"type\":\"output_truncated\"" ev)" 2
'

test_expect_success '20 MiB on each stream under the default cap: kept whole' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent flood.sh)\", \"20\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out g.tar.zst &&
	entry g.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .output.stdout.keptBytes)" 20971520 &&
	assert_eq "$(json_get r.json .output.stdout.truncated)" false &&
	assert_eq "$(entry g.tar.zst logs/stdout.log | tr -d o | wc -c)" 0
'

test_done
