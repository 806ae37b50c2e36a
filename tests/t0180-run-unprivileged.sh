#!/bin/bash
# runpack run as an ordinary user: the agent tree still gets its own PID and
# network namespaces (through a user namespace), the default state dir is
# under the user's home, and keys are created owner-only.
. "$(dirname "$0")/lib.sh"

user=runpack-test
if [ "$(id -u)" -ne 0 ]; then
	test_skip 'unprivileged run' 'needs root to create and drop to a test user'
	test_done
	exit
fi
if ! id "$user" >/dev/null 2>&1 &&
	! useradd --system --create-home --home-dir "/var/tmp/$user" --shell /bin/sh "$user" 2>/dev/null; then
	test_skip 'unprivileged run' 'cannot create a test user'
	test_done
	exit
fi
home=$(getent passwd "$user" | cut -d: -f6)
uid=$(id -u "$user")
# The scratch dir is private to root; the user works in a dir of its own.
work=$(mktemp -d /var/tmp/runpack-unpriv.XXXXXX)
chmod 755 "$work"
new_workspace "$work/ws"
chown -R "$user" "$work"
as_user() {
	setpriv --reuid="$uid" --regid="$(id -g "$user")" --clear-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" "$@"
}

test_expect_success 'an ordinary user runs a job in namespaces, keys go to ~/.local/state' '
	rm -rf "$home/.local/state/runpack" &&
	manifest "$work/m.json" "$work/ws" "[\"sh\", \"-c\", \"id -u; cat /proc/net/dev\"]" &&
	chown "$user" "$work/m.json" &&
	expect_exit 0 as_user "$RUNPACK" run --manifest "$work/m.json" --out "$work/p.tar.zst" &&
	assert_eq "$(json_get out .publicKey)" "$home/.local/state/runpack/keys/host.pub" &&
	assert_eq "$(stat -c %a "$home/.local/state/runpack/keys/host.key")" 600 &&
	assert_eq "$(stat -c %U "$work/p.tar.zst")" "$user" &&
	tar --zstd -xOf "$work/p.tar.zst" result.json >r.json &&
	assert_eq "$(json_get r.json .enforcement.processTree.mechanism)" pid-namespace &&
	assert_eq "$(json_get r.json .enforcement.network.mechanism)" network-namespace &&
	tar --zstd -xOf "$work/p.tar.zst" logs/stdout.log >log &&
	assert_eq "$(head -n 1 log)" "$uid" &&
	assert_eq "$(grep -c : log)" 1 &&
	expect_exit 0 "$RUNPACK" verify "$work/p.tar.zst" --pubkey "$home/.local/state/runpack/keys/host.pub"
'

test_expect_success 'an ordinary user cannot read a root-only secret file: rejected, not leaked' '
	printf "root-only-secret-value\n" >"$work/secret" && chmod 600 "$work/secret" && chown root "$work/secret" &&
	manifest "$work/s.json" "$work/ws" "[\"true\"]" ".agent.secretEnv = {T: \"file:$work/secret\"}" &&
	expect_exit 3 as_user "$RUNPACK" run --manifest "$work/s.json" --out "$work/s.tar.zst" &&
	assert_eq "$(json_get out ".errors[0].code")" secret_unresolved &&
	assert_not_contains err root-only-secret-value
'

[ "$_failed" -ne 0 ] || rm -rf "$work"
test_done
