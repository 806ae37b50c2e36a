#!/bin/bash
# runpack keygen: minisign-format keys, owner-only modes, no silent overwrite,
# interop with stock minisign; verify and inspect usage errors (exit 2).
. "$(dirname "$0")/lib.sh"

mode_of() { stat -c %a "$1"; }

test_expect_success 'keygen writes a 0600 secret key and a 0644 public key' '
	(umask 077 && expect_exit 0 "$RUNPACK" keygen --secret-key k.key --public-key k.pub) &&
	assert_eq "$(mode_of k.key)" 600 &&
	assert_eq "$(mode_of k.pub)" 644 &&
	assert_eq "$(json_get out .secretKey)" k.key &&
	assert_eq "$(json_get out .publicKey)" k.pub &&
	keyid=$(json_get out .keyId) &&
	assert_eq "$(head -n 1 k.pub)" "untrusted comment: minisign public key $keyid" &&
	assert_contains err "$keyid"
'

test_expect_success 'keygen refuses to replace an existing key pair' '
	sum=$(sha256sum k.key k.pub) &&
	expect_exit 2 "$RUNPACK" keygen --secret-key k.key --public-key k.pub &&
	assert_contains err "k.key" &&
	assert_contains err "already exists" &&
	assert_contains err "--force" &&
	assert_eq "$(sha256sum k.key k.pub)" "$sum" &&
	expect_exit 2 "$RUNPACK" keygen --secret-key new.key --public-key k.pub &&
	test ! -e new.key &&
	assert_eq "$(sha256sum k.key k.pub)" "$sum"
'

test_expect_success 'keygen --force replaces the pair, keeping the modes' '
	old=$(head -n 1 k.pub) &&
	expect_exit 0 "$RUNPACK" keygen --secret-key k.key --public-key k.pub --force &&
	assert_eq "$(mode_of k.key)" 600 &&
	assert_eq "$(mode_of k.pub)" 644 &&
	test "$(head -n 1 k.pub)" != "$old" &&
	assert_eq "$(head -n 1 k.pub)" "untrusted comment: minisign public key $(json_get out .keyId)" &&
	ls -a >listing &&
	assert_not_contains listing ".tmp."
'

test_expect_success 'keygen never writes through a symbolic link' '
	ln -s victim.key link.key &&
	expect_exit 2 "$RUNPACK" keygen --secret-key link.key --public-key l.pub &&
	test ! -e victim.key && test ! -e l.pub &&
	echo precious >victim.key &&
	expect_exit 0 "$RUNPACK" keygen --secret-key link.key --public-key l.pub --force &&
	assert_eq "$(cat victim.key)" precious &&
	test -f link.key && test ! -L link.key &&
	assert_eq "$(mode_of link.key)" 600
'

test_expect_success 'stock minisign signs with a runpack key and verifies it' '
	printf "some payload\n" >payload.txt &&
	expect_exit 0 minisign -S -s k.key -m payload.txt -t "signed by minisign" &&
	expect_exit 0 minisign -V -p k.pub -m payload.txt &&
	assert_contains out "signed by minisign" &&
	expect_exit 0 minisign -V -P "$(sed -n 2p k.pub)" -m payload.txt &&
	printf "some payload!\n" >payload.txt &&
	expect_exit 1 minisign -V -p k.pub -m payload.txt
'

test_expect_success 'a key pair made by stock minisign is the test fixture' '
	assert_contains "$TEST_PUB" "^untrusted comment: minisign public key " &&
	printf "x\n" >x.txt &&
	expect_exit 0 minisign -S -s "$TEST_KEY" -m x.txt &&
	expect_exit 0 minisign -V -p "$TEST_PUB" -m x.txt
'

test_expect_success 'keygen usage errors exit 2' '
	expect_exit 2 "$RUNPACK" keygen --public-key p.pub &&
	assert_contains err "secret-key" &&
	expect_exit 2 "$RUNPACK" keygen --secret-key s.key &&
	assert_contains err "public-key" &&
	expect_exit 2 "$RUNPACK" keygen --secret-key s.key --public-key p.pub --bogus &&
	assert_contains err "bogus" &&
	expect_exit 2 "$RUNPACK" keygen --secret-key same --public-key same &&
	expect_exit 2 "$RUNPACK" keygen --secret-key nodir/s.key --public-key nodir/p.pub &&
	assert_contains err "nodir/s.key" &&
	test ! -e s.key && test ! -e p.pub && test ! -e same
'

test_expect_success 'keygen --help prints usage on stdout' '
	expect_exit 0 "$RUNPACK" keygen --help &&
	assert_contains out "usage: runpack keygen"
'

test_expect_success 'verify usage errors exit 2' '
	expect_exit 2 "$RUNPACK" verify missing.tar.zst --pubkey "$TEST_PUB" &&
	assert_contains err "missing.tar.zst" &&
	expect_exit 2 "$RUNPACK" verify missing.tar.zst &&
	assert_contains err "public key" &&
	expect_exit 2 "$RUNPACK" verify missing.tar.zst -P not-a-key &&
	assert_contains err "not a minisign public key" &&
	expect_exit 2 "$RUNPACK" verify missing.tar.zst -P "$(sed -n 2p k.key)" &&
	expect_exit 2 "$RUNPACK" verify missing.tar.zst --pubkey no-such.pub &&
	assert_contains err "no-such.pub" &&
	expect_exit 2 "$RUNPACK" verify missing.tar.zst --pubkey k.pub -P "$(sed -n 2p k.pub)" &&
	expect_exit 2 "$RUNPACK" verify --pubkey k.pub &&
	expect_exit 2 "$RUNPACK" verify a.tar.zst b.tar.zst --pubkey k.pub &&
	expect_exit 2 "$RUNPACK" verify . --pubkey k.pub &&
	expect_exit 2 "$RUNPACK" verify --json &&
	test ! -s out
'

test_expect_success 'verify --help prints usage on stdout' '
	expect_exit 0 "$RUNPACK" verify --help &&
	assert_contains out "usage: runpack verify"
'

test_expect_success 'inspect usage errors exit 2' '
	expect_exit 2 "$RUNPACK" inspect missing.tar.zst &&
	assert_contains err "missing.tar.zst" &&
	expect_exit 2 "$RUNPACK" inspect &&
	expect_exit 2 "$RUNPACK" inspect missing.tar.zst --json --cat result.json &&
	expect_exit 2 "$RUNPACK" inspect k.pub &&
	assert_contains err "k.pub" &&
	expect_exit 0 "$RUNPACK" inspect --help &&
	assert_contains out "usage: runpack inspect"
'

test_done
