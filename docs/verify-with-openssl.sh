#!/bin/sh
# Verify a runpack package with jq, openssl, tar and sha256sum alone.
#   docs/verify-with-openssl.sh PACKAGE PUBLIC-KEY
# PUBLIC-KEY is the minisign-format public key file. Exit 0 when valid.
set -eu
pkg=$(realpath "$1")
pub=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# 1. The attestation is the last entry.
[ "$(tar --zstd -tf "$pkg" | tail -n 1)" = attestation.dsse.json ] ||
	{ echo "attestation.dsse.json is not the last entry" >&2; exit 1; }
tar --zstd -xOf "$pkg" attestation.dsse.json >envelope.json

# 2. The public key: minisign's base64 line is "Ed" || key id (8) || key (32).
#    Wrap the 32 key bytes in an Ed25519 SubjectPublicKeyInfo for openssl.
tail -n 1 "$pub" | openssl base64 -d -A >pub.raw
{ printf '\060\052\060\005\006\003\053\145\160\003\041\000'; tail -c 32 pub.raw; } >pub.der
openssl pkey -pubin -inform DER -in pub.der -out pub.pem

# 3. The DSSE pre-authentication encoding and the signature over it.
type=$(jq -r .payloadType envelope.json)
jq -r .payload envelope.json | openssl base64 -d -A >statement.json
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(wc -c <statement.json)" >pae.bin
cat statement.json >>pae.bin
jq -r '.signatures[0].sig' envelope.json | openssl base64 -d -A >sig.bin
openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in pae.bin -sigfile sig.bin

# 4. Every entry's digest, and exactly the subjects' entries, no more.
jq -r '.subject[] | "\(.digest.sha256)  \(.name)"' statement.json >sums
mkdir entries
tar --zstd -xf "$pkg" -C entries
(cd entries && sha256sum --quiet -c ../sums)
jq -r '.subject[].name' statement.json | sort >want
tar --zstd -tf "$pkg" | grep -vx attestation.dsse.json | sort >have
cmp want have
echo "package verified: signature, digests and entry set"
