#!/bin/bash
# `runpack redact` with the full rule set against coreutils sha256sum on the
# same 200 MB log with sparse credentials, side by side in one run (the
# median of RUNS alternating runs of each), then the engine measurements
# behind the design (bench/redact-engines.c; see bench/REDACT.md).
#   bench/redact.sh [build/runpack] [runs] [log-MB]
set -eu
runpack=$(realpath "${1:-build/runpack}")
runs=${2:-5}
mb=${3:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
obj=$(dirname "$runpack")/obj
work=$(mktemp -d /tmp/runpack-redact-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 "$top/bench/gen-log.py" "$mb" "$work/log" 512 2>"$work/gen.txt"
bytes=$(stat -c %s "$work/log")
creds=$(sed -n 's/.*, \([0-9]*\) credentials/\1/p' "$work/gen.txt")
export BENCH_SECRET=Xq7-secret-value-0a9b8c7d6e5f

seconds() { # CMD...: wall seconds, output discarded
	local t0 t1
	t0=$(date +%s%N)
	"$@" <"$work/log" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | sed -n "$(((runs + 1) / 2))p"; }

: >"$work/sha" ; : >"$work/red" ; : >"$work/sec"
for ((i = 0; i < runs; i++)); do
	seconds sha256sum >>"$work/sha"
	seconds "$runpack" redact >>"$work/red"
	seconds "$runpack" redact --secret-env BENCH_SECRET >>"$work/sec"
done
sha=$(median <"$work/sha")
red=$(median <"$work/red")
sec=$(median <"$work/sec")
rate() { awk -v b="$bytes" -v ms="$1" 'BEGIN { printf "%7.0f MB/s", b / 1e6 / (ms / 1000) }'; }

"$runpack" redact <"$work/log" >"$work/out"
masked=$(grep -c 'REDACTED:' "$work/out" || true)
echo "log: $((bytes / 1000000)) MB, $creds lines with a credential (bench/gen-log.py), median of $runs runs"
printf '  %-44s %6s ms %s\n' "sha256sum" "$sha" "$(rate "$sha")"
printf '  %-44s %6s ms %s\n' "runpack redact (all built-in rules)" "$red" "$(rate "$red")"
printf '  %-44s %6s ms %s\n' "runpack redact --secret-env (rules + 1 secret)" "$sec" "$(rate "$sec")"
echo "  lines masked: $masked (of $creds with a credential)"
if [ "$red" -le "$sha" ]; then
	echo "  runpack redact is at least as fast as sha256sum"
else
	echo "  runpack redact is SLOWER than sha256sum on this run"
fi

if [ -d "$obj/runner" ]; then
	echo
	echo "engines (bench/redact-engines.c, 20 MB of the same log; PCRE2-only on 1 MB):"
	head -c 20000000 "$work/log" >"$work/log20"
	# shellcheck disable=SC2046
	cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$top/common" -I"$top/runner" -I"$top/policy" \
		$(pkg-config --cflags libhs libpcre2-8 jansson) -o "$work/engines" \
		"$top/bench/redact-engines.c" $(find "$obj/common" "$obj/policy" "$obj/runner" \
		"$obj/packager" "$obj/gen" -name '*.o') \
		$(pkg-config --libs libarchive jansson libgit2 libsodium libcrypto libhs libpcre2-8) -lm -pthread
	"$work/engines" "$work/log20" 1000000 "$top/runner/rules/gitleaks.json" \
		"$top/runner/rules/runpack.json" 2>/dev/null
fi
