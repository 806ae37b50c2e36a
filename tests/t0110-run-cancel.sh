#!/bin/bash
# runpack run: SIGTERM/SIGINT stop the whole agent tree, double-forked
# grandchildren included, and still write a package with status cancelled.
. "$(dirname "$0")/lib.sh"

new_workspace ws

# start_run NAME: run doublefork.sh in the background; waits until the
# grandchild's pid file exists. Sets $rp_pid.
start_run() {
	manifest "$1.json" "$SCRATCH/ws" "[\"sh\", \"$(agent doublefork.sh)\", \"$SCRATCH/$1.gc\"]"
	"$RUNPACK" run --manifest "$1.json" --out "$1.tar.zst" >"$1.out" 2>"$1.err" </dev/null &
	rp_pid=$!
	for _ in $(seq 100); do
		[ -s "$1.gc" ] && return 0
		sleep 0.1
	done
	say "the agent never started"
	return 1
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

for sig in TERM INT; do
	test_expect_success "SIG$sig gives exit 4, status cancelled, no process left" '
		start_run c'$sig' &&
		gc=$(cat c'$sig'.gc) &&
		kill -0 "$gc" &&
		kill -'$sig' $rp_pid &&
		{ wait $rp_pid; rc=$?; } &&
		assert_eq $rc 4 &&
		assert_eq "$(json_get c'$sig'.out .status)" cancelled &&
		gone "$gc" &&
		entry c'$sig'.tar.zst result.json >r.json &&
		assert_eq "$(json_get r.json .cancellation.signal)" SIG'$sig' &&
		expect_exit 0 "$RUNPACK" verify c'$sig'.tar.zst --pubkey "$(host_pub)"
	'
done

test_expect_success 'without namespaces (fallback) no process is left either' '
	export RUNPACK_NO_NAMESPACES=1 &&
	start_run fb &&
	gc=$(cat fb.gc) &&
	kill -TERM $rp_pid &&
	{ wait $rp_pid; rc=$?; } &&
	assert_eq $rc 4 &&
	gone "$gc" &&
	entry fb.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .enforcement.processTree.mechanism)" process-group
'

test_expect_success 'a grandchild left behind after a normal exit is killed too' '
	printf "#!/bin/sh\nsetsid sh -c \"read -r pid _ </proc/self/stat; echo \\\$pid >%s; exec sleep 1000\" &\nsleep 0.5\n" \
		"$SCRATCH/left.gc" >leave.sh &&
	manifest left.json "$SCRATCH/ws" "[\"sh\", \"$SCRATCH/leave.sh\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest left.json --out left.tar.zst &&
	gc=$(cat left.gc) &&
	gone "$gc"
'

test_expect_success 'when runpack is killed outright, the agent tree dies with it' '
	start_run kill9 &&
	gc=$(cat kill9.gc) &&
	kill -KILL $rp_pid &&
	wait $rp_pid;
	for _ in $(seq 50); do gone "$gc" && break; sleep 0.1; done;
	gone "$gc" &&
	test ! -e kill9.tar.zst
'

test_done
