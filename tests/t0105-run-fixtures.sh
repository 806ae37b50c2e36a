#!/bin/bash
# runpack run over the sample manifests and policies in fixtures/: the good
# ones run, each bad one is rejected (exit 3) with its stable error code and
# still leaves a verifiable package.
. "$(dirname "$0")/lib.sh"

new_workspace ws
export RUNNER_API_TOKEN=fixture-token-0123456789
render() {
	"$FIXTURES/render-manifest.sh" "$FIXTURES/manifests/$1" "$SCRATCH/ws" >"$1"
}

test_expect_success 'succeed.json runs under the built-in policy' '
	render succeed.json &&
	expect_exit 0 "$RUNPACK" run --manifest succeed.json --out s.tar.zst
'

test_expect_success 'full.json (the design example) runs under permissive.json' '
	render full.json &&
	expect_exit 0 "$RUNPACK" run --manifest full.json --policy "$FIXTURES/policies/permissive.json" \
		--out full.tar.zst &&
	entry full.tar.zst result.json >r.json &&
	assert_eq "$(json_get r.json .workspace.orchestratorWorkspace.writeback)" external &&
	assert_eq "$(json_get r.json .policy.source)" "$FIXTURES/policies/permissive.json" &&
	assert_eq "$(json_get r.json .enforcement.network.applied)" false
'

test_expect_success 'full.json is rejected by the built-in policy (egress allowlist)' '
	expect_exit 3 "$RUNPACK" run --manifest full.json --out full-default.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" policy_exceeded &&
	assert_eq "$(json_get out ".errors[0].path")" "\$.egress.mode"
'

test_expect_success 'strict.json requires filesystem enforcement: rejected here' '
	expect_exit 3 "$RUNPACK" run --manifest succeed.json --policy "$FIXTURES/policies/strict.json" \
		--out strict.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" enforcement_unavailable
'

while read -r file code; do
	test_expect_success "$file is rejected with $code" '
		render '"$file"' &&
		expect_exit 3 "$RUNPACK" run --manifest '"$file"' --out bad.tar.zst &&
		assert_eq "$(json_get out ".errors[0].code")" '"$code"' &&
		assert_eq "$(json_get out .status)" rejected &&
		test "$(json_get out ".errors[0].line")" -ge 1 &&
		expect_exit 0 "$RUNPACK" verify bad.tar.zst --pubkey "$(host_pub)"
	'
done <<'LIST'
bad-unknown-field.json manifest_unknown_field
bad-wrong-type.json manifest_invalid_field
bad-missing-basedir.json manifest_missing_field
bad-run-id.json manifest_invalid_field
bad-writeback.json manifest_writeback_unsupported
bad-timeout.json policy_exceeded
LIST

test_expect_success 'a policy with an unknown field is rejected, naming it' '
	expect_exit 3 "$RUNPACK" run --manifest succeed.json \
		--policy "$FIXTURES/policies/bad-unknown-field.json" --out badpol.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" policy_unknown_field &&
	assert_contains err "bad-unknown-field.json:"
'

test_done
