#!/bin/bash
# Time `runpack run` with "diff": true (enumeration + SHA-256 of every file +
# git state + diff.patch against the base) on a 10,000-file, 200 MB git
# workspace with 150 changed files, side by side with what stock tools need
# for less: `git status --porcelain` plus `sha256sum` over every file. Runs
# alternate; the median of each is printed. The machine may be shared and
# noisy: read the ratio.
#   bench/diff.sh [build/runpack] [runs]
set -eu
runpack=$(realpath "${1:-build/runpack}")
runs=${2:-5}
work=$(mktemp -d /tmp/runpack-bench-diff.XXXXXX)
trap 'rm -rf "$work"' EXIT
export RUNPACK_STATE_DIR=$work/state GIT_CONFIG_NOSYSTEM=1 HOME=$work \
	GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@invalid \
	GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@invalid

ms() { date +%s%N | cut -c1-13; }

# 10,000 text files of 20,000 bytes (base64 lines) in 100 directories.
ws=$work/ws
mkdir -p "$ws/flat"
head -c 150000000 /dev/urandom | base64 -w 76 | head -c 200000000 |
	(cd "$ws/flat" && split -b 20000 -a 4 -d - f)
for d in $(seq -w 0 99); do
	mkdir "$ws/d$d"
	mv "$ws/flat/f$d"?? "$ws/d$d/"
done
rmdir "$ws/flat"
printf '*.log\n' >"$ws/.gitignore"
# No background auto-gc racing the timings: the objects stay loose.
(cd "$ws" && git init -q -b main . && git config gc.auto 0 && git add -A && git commit -q -m base)
base=$(git -C "$ws" rev-parse HEAD)

# 150 changes: 100 files modified, 30 added, 20 deleted.
for i in $(seq 0 99); do
	printf 'a line added by the agent\n' >>"$ws/d$(printf %02d "$i")/f$(printf %02d "$i")17"
done
for i in $(seq 0 29); do
	head -c 15000 /dev/urandom | base64 -w 76 >"$ws/d$(printf %02d "$i")/new$i.txt"
done
for i in $(seq 0 19); do
	rm "$ws/d$(printf %02d "$((i + 50))")/f$(printf %02d "$((i + 50))")42"
done
files=$(find "$ws" -path "$ws/.git" -prune -o -type f -print | wc -l)
bytes=$(du -sb --exclude=.git "$ws" | cut -f1)
changed=$(git -C "$ws" status --porcelain | wc -l)

jq -n --arg ws "$ws" --arg base "$base" \
	'{baseDir: $ws, agent: {argv: ["true"]}, diff: true, artifacts: {include: []},
	  orchestratorWorkspace: {baseRevision: $base, writeback: "external"}}' >"$work/m.json"
jq 'del(.artifacts)' "$work/m.json" >"$work/m-default.json"

run_runpack() { "$runpack" run --manifest "$1" --out "$work/o.tar.zst" >/dev/null 2>&1; }
baseline() {
	(cd "$ws" && git status --porcelain >/dev/null &&
		find . -path ./.git -prune -o -type f -print0 | xargs -0 sha256sum >/dev/null)
}

# Warm the page cache and check the run once.
run_runpack "$work/m.json"
baseline
tar --zstd -xOf "$work/o.tar.zst" result.json >"$work/r.json"
patch_files=$(jq .git.diff.files "$work/r.json")
patch_bytes=$(jq .git.diff.bytes "$work/r.json")

declare -a t_rp t_rpd t_base
for ((i = 0; i < runs; i++)); do
	t0=$(ms); run_runpack "$work/m.json"; t1=$(ms)
	baseline; t2=$(ms)
	run_runpack "$work/m-default.json"; t3=$(ms)
	t_rp+=($((t1 - t0))); t_base+=($((t2 - t1))); t_rpd+=($((t3 - t2)))
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

echo "workspace: $files files, $((bytes / 1000000)) MB, $changed changed (git status lines);" \
	"diff.patch: $patch_files files, $patch_bytes bytes"
echo "median of $runs alternating runs (ms):"
printf '  %-62s %6s\n' "runpack run, diff true, include []" "$(median "${t_rp[@]}")"
printf '  %-62s %6s\n' "git status --porcelain + sha256sum of every file" "$(median "${t_base[@]}")"
printf '  %-62s %6s\n' "runpack run, diff true, default selection (copies changed)" \
	"$(median "${t_rpd[@]}")"
