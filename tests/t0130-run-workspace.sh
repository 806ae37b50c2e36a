#!/bin/bash
# runpack run changes nothing in the workspace's .git and writes nothing
# outside the output path and its state dir; the agent sees only the
# environment it is given.
. "$(dirname "$0")/lib.sh"

new_workspace ws
tree_hash() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		xargs -0 stat -c '%n %f %s %Y %u %g' | sha256sum && \
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)
}

test_expect_success '.git is byte-for-byte and stat-for-stat unchanged' '
	before=$(tree_hash ws/.git) &&
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent succeed.sh)\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out pkg.tar.zst &&
	assert_eq "$(tree_hash ws/.git)" "$before"
'

test_expect_success 'an agent that does nothing leaves the workspace untouched' '
	before=$(tree_hash ws) &&
	manifest n.json "$SCRATCH/ws" "[\"true\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest n.json --out none.tar.zst &&
	assert_eq "$(tree_hash ws)" "$before"
'

test_expect_success 'nothing is written outside the output path and state dir' '
	mkdir home tmp outd &&
	touch stamp && sleep 1 &&
	before=$(tree_hash ws) &&
	HOME=$SCRATCH/home TMPDIR=$SCRATCH/tmp expect_exit 0 "$RUNPACK" run \
		--manifest n.json --out outd/p.tar.zst &&
	assert_eq "$(find home tmp -mindepth 1)" "" &&
	assert_eq "$(ls -A outd)" "p.tar.zst" &&
	assert_eq "$(tree_hash ws)" "$before" &&
	assert_eq "$(ls -A "$RUNPACK_STATE_DIR/runs")" ""
'

test_expect_success 'the agent gets an explicit environment, not runpack'"'"'s' '
	manifest e.json "$SCRATCH/ws" "[\"sh\", \"-c\", \"env | LC_ALL=C sort\"]" \
		".agent.env = {FOO: \"bar\"}" &&
	RUNPACK_LEAK_CHECK=visible expect_exit 0 "$RUNPACK" run --manifest e.json --out e.tar.zst &&
	entry e.tar.zst logs/stdout.log >env.txt &&
	assert_contains env.txt "^FOO=bar$" &&
	assert_contains env.txt "^HOME=$RUNPACK_STATE_DIR/runs/" &&
	assert_contains env.txt "^TMPDIR=$RUNPACK_STATE_DIR/runs/" &&
	assert_contains env.txt "^PATH=" &&
	assert_contains env.txt "^LANG=" &&
	assert_not_contains env.txt RUNPACK_LEAK_CHECK &&
	assert_not_contains env.txt RUNPACK_STATE_DIR=
'

test_expect_success 'egress none: the agent has no network but loopback' '
	manifest net.json "$SCRATCH/ws" "[\"cat\", \"/proc/net/dev\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest net.json --out net.tar.zst &&
	entry net.tar.zst logs/stdout.log >dev.txt &&
	assert_contains dev.txt "lo:" &&
	assert_eq "$(grep -c : dev.txt)" 1 &&
	entry net.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .enforcement.network.mechanism)" network-namespace
'

test_done
