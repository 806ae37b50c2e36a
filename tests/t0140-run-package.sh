#!/bin/bash
# The package a run writes: its entries and their shapes, artifact digests,
# tamper detection through the CLI, and stock minisign interop.
. "$(dirname "$0")/lib.sh"

new_workspace ws

test_expect_success 'a run writes the documented entries, attestation last' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent succeed.sh)\"]" ".diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out p.tar.zst --minisig &&
	tar --zstd -tf p.tar.zst >list &&
	assert_eq "$(head -n 7 list | tr "\n" " ")" "result.json manifest.json events.jsonl logs/stdout.log logs/stderr.log artifacts.json diff.patch " &&
	assert_eq "$(sed -n 8p list)" files/out/result.txt &&
	assert_eq "$(tail -n 1 list)" attestation.dsse.json &&
	assert_contains list "^files/out/result.txt$"
'

test_expect_success 'entries are normalised: root-owned, 0644, one mtime' '
	tar --zstd -tvf p.tar.zst >long &&
	assert_eq "$(awk "{print \$1, \$2}" long | sort -u)" "-rw-r--r-- 0/0" &&
	assert_eq "$(awk "{print \$4, \$5}" long | sort -u | wc -l)" 1
'

test_expect_success 'SOURCE_DATE_EPOCH fixes the mtime' '
	SOURCE_DATE_EPOCH=1700000000 expect_exit 0 "$RUNPACK" run --manifest m.json --out sde.tar.zst &&
	tar --zstd --full-time -tvf sde.tar.zst >long &&
	assert_eq "$(awk "{print \$4, \$5}" long | sort -u)" "2023-11-14 22:13:20"
'

test_expect_success 'artifacts.json digests match sha256sum of the files' '
	entry p.tar.zst artifacts.json >a.json &&
	jq -r ".files[] | select(.type == \"file\") | \"\(.sha256)  \(.path)\"" a.json >sums &&
	test -s sums &&
	(cd ws && sha256sum -c --quiet ../sums) &&
	assert_eq "$(jq -r ".files[] | select(.path == \"out/result.txt\") | .included" a.json)" true &&
	assert_eq "$(jq -r ".files[] | select(.path == \"README.md\") | .reason" a.json)" not_selected &&
	assert_eq "$(jq "[.files[].path | select(. == \".git\" or startswith(\".git/\") or contains(\"/.git/\"))] | length" a.json)" 0
'

test_expect_success 'result.json and events.jsonl have the documented fields' '
	entry p.tar.zst result.json >r.json &&
	jq -e ".schema == \"runpack.result/v1\" and .runner.name == \"runpack\" and
	       (.policy.sha256 | length) == 64 and .policy.effective.wallSeconds == 60 and
	       .output.stdout.truncated == false and .workspace.baseDir != null and
	       (.timings.durationMs | type) == \"number\"" r.json &&
	entry p.tar.zst events.jsonl >ev &&
	jq -s -e "map(.seq) == [range(1; length + 1)] and
	          (map(.type) | index(\"agent_started\") != null and index(\"agent_exited\") != null)" ev
'

test_expect_success 'stock minisign accepts the detached signature' '
	minisign -Vm p.tar.zst -p "$(host_pub)" >ms.out 2>&1 &&
	assert_contains ms.out "Signature and comment signature verified"
'

test_expect_success 'verify: a changed byte in an entry is named' '
	mkdir t && tar --zstd -xf p.tar.zst -C t &&
	printf X >>t/logs/stdout.log &&
	(cd t && tar --zstd --format=pax -cf ../tampered.tar.zst $(cat ../list)) &&
	expect_exit 1 "$RUNPACK" verify tampered.tar.zst --pubkey "$(host_pub)" &&
	assert_contains err "logs/stdout.log"
'

test_expect_success 'verify: a removed or added entry is named' '
	(cd t && tar --zstd -xf ../p.tar.zst logs/stdout.log &&
	 tar --zstd --format=pax -cf ../removed.tar.zst $(grep -v "^events.jsonl$" ../list)) &&
	expect_exit 1 "$RUNPACK" verify removed.tar.zst --pubkey "$(host_pub)" &&
	assert_contains err "events.jsonl" &&
	printf extra >t/extra.txt &&
	(cd t && tar --zstd --format=pax -cf ../added.tar.zst extra.txt $(cat ../list)) &&
	expect_exit 1 "$RUNPACK" verify added.tar.zst --pubkey "$(host_pub)" &&
	assert_contains err "extra.txt"
'

test_expect_success 'verify: another key is refused, naming the key' '
	expect_exit 0 "$RUNPACK" keygen --secret-key other.key --public-key other.pub &&
	other=$(json_get out .keyId) &&
	expect_exit 1 "$RUNPACK" verify p.tar.zst --pubkey other.pub &&
	assert_contains err "$other"
'

test_expect_success 'run --key signs with the given minisign key' '
	expect_exit 0 "$RUNPACK" run --manifest m.json --key "$TEST_KEY" --out k.tar.zst &&
	expect_exit 0 "$RUNPACK" verify k.tar.zst --pubkey "$TEST_PUB" &&
	expect_exit 1 "$RUNPACK" verify k.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'inspect shows the run and can print one entry' '
	expect_exit 0 "$RUNPACK" inspect p.tar.zst &&
	assert_contains out succeeded &&
	expect_exit 0 "$RUNPACK" inspect p.tar.zst --json &&
	assert_eq "$(json_get out .result.status)" succeeded &&
	expect_exit 0 "$RUNPACK" inspect p.tar.zst --cat files/out/result.txt &&
	cmp out ws/out/result.txt
'

test_done
