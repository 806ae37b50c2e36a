#!/bin/bash
# The documented offline recipes keep working: docs/verify-with-openssl.sh
# (jq + openssl alone) accepts a good package and refuses a tampered one.
. "$(dirname "$0")/lib.sh"

new_workspace ws
manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent succeed.sh)\"]"

test_expect_success 'jq + openssl recipe verifies a fresh package' '
	expect_exit 0 "$RUNPACK" run --manifest m.json --out p.tar.zst &&
	expect_exit 0 "$TOP/docs/verify-with-openssl.sh" p.tar.zst "$(host_pub)" &&
	assert_contains out "package verified"
'

test_expect_success 'jq + openssl recipe refuses another key' '
	expect_exit 1 "$TOP/docs/verify-with-openssl.sh" p.tar.zst "$TEST_PUB"
'

test_expect_success 'jq + openssl recipe refuses a changed entry' '
	mkdir t && tar --zstd -xf p.tar.zst -C t &&
	printf X >>t/result.json &&
	(cd t && tar --zstd --format=pax -cf ../bad.tar.zst $(tar --zstd -tf ../p.tar.zst)) &&
	expect_exit 1 "$TOP/docs/verify-with-openssl.sh" bad.tar.zst "$(host_pub)"
'

test_done
