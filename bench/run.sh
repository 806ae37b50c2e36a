#!/bin/bash
# Time `runpack run` on a tiny workspace and on a generated 10,000-file one,
# side by side with a baseline doing comparable work with stock tools
# (sha256sum over every file + tar --zstd of the included files). The machine
# is shared and noisy: read the ratios, not the absolute numbers.
#   bench/run.sh [build/runpack] [runs]
set -eu
runpack=$(realpath "${1:-build/runpack}")
runs=${2:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/runpack-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export RUNPACK_STATE_DIR=$work/state

ms() { date +%s%N | cut -c1-13; }

# median of the runs of a command, in ms
timeit() {
	local times=() t0 t1 i
	for ((i = 0; i < runs; i++)); do
		t0=$(ms)
		"$@" >/dev/null 2>&1
		t1=$(ms)
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

mkman() { # FILE WORKSPACE INCLUDE-JSON
	jq -n --arg ws "$2" --argjson inc "$3" \
		'{baseDir: $ws, agent: {argv: ["true"]}, artifacts: {include: $inc}}' >"$1"
}

baseline() { # WORKSPACE INCLUDE-DIR
	(cd "$1" && find . -path ./.git -prune -o -type f -print0 | xargs -0 sha256sum >/dev/null &&
		if [ -n "$2" ]; then tar --zstd -cf "$work/baseline.tar.zst" "$2"; fi)
}

"$top/fixtures/make-workspace.sh" "$work/tiny" >/dev/null
"$top/fixtures/make-workspace.sh" "$work/big" 10000 >/dev/null
files=$(find "$work/big" -path "$work/big/.git" -prune -o -type f -print | wc -l)
bytes=$(du -sb --exclude=.git "$work/big" | cut -f1)
mkman "$work/tiny.json" "$work/tiny" '["src/**"]'
mkman "$work/big-none.json" "$work/big" '[]'
mkman "$work/big-all.json" "$work/big" '["data/**"]'
"$runpack" run --manifest "$work/tiny.json" --out "$work/warm.tar.zst" >/dev/null 2>&1

echo "runpack run, median of $runs runs (ms); baseline = sha256sum of every file + tar --zstd of the included ones"
printf '%-44s %8s %10s\n' workload runpack baseline
printf '%-44s %8s %10s\n' "tiny workspace (5 files)" \
	"$(timeit "$runpack" run --manifest "$work/tiny.json" --out "$work/o.tar.zst")" \
	"$(timeit baseline "$work/tiny" src)"
printf '%-44s %8s %10s\n' "$files files, $((bytes / 1024)) KiB, none included" \
	"$(timeit "$runpack" run --manifest "$work/big-none.json" --out "$work/o.tar.zst")" \
	"$(timeit baseline "$work/big" "")"
printf '%-44s %8s %10s\n' "$files files, $((bytes / 1024)) KiB, all included" \
	"$(timeit "$runpack" run --manifest "$work/big-all.json" --out "$work/o.tar.zst")" \
	"$(timeit baseline "$work/big" data)"
