#!/bin/bash
# runpack run and runpack redact: credentials of every family the rules know
# (printed by the agent and written into workspace files) appear in no byte
# of the package nor of runpack's own output; the lines around them survive
# with [REDACTED:<rule-id>]; findings name entry, rule and count; the
# policy's "report" mode leaves artifacts as they are but still lists
# findings and still masks injected secrets; custom rules apply and a bad one
# is rejected with its place in the policy.
. "$(dirname "$0")/lib.sh"

new_workspace ws
alnum() { # N SEED: N deterministic alphanumeric characters
	awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); s = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
		for (i = 0; i < n; i++) printf "%s", substr(s, int(rand() * 62) + 1, 1) }'
}
b64lines() { # LINES SEED: base64 body lines of a key
	head -c $(($1 * 48)) /dev/urandom | base64 -w 64
}
{
	echo "AWS_KEY=AKIAZ7QZ2WXYV3LMNPRT"
	echo "GH_TOKEN=ghp_$(alnum 36 1)"
	echo "SLACK_TOKEN=xoxb-123456789012-1234567890123-$(alnum 24 2)"
	echo "STRIPE_KEY=sk_live_$(alnum 32 3)"
	echo "JWT=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.$(alnum 43 4)"
	echo "CARD_SPACES='4111 1111 1111 1111'"
	echo "CARD_DASHES=5500-0000-0000-0004"
	echo "DB_PASSWORD=$(alnum 20 5)"
	echo "CODE_PASSWORD=$(alnum 18 6)x!"
	echo "ENV_API_KEY=$(alnum 32 7)"
	echo "JSON_TOKEN=$(alnum 30 8)"
	echo "INJECTED=\$RP_INJECTED"
	echo "PEM_FILE=$SCRATCH/key.pem"
	echo "SSH_FILE=$SCRATCH/key.ssh"
} >creds.env
export RP_INJECTED="inj-$(alnum 24 9)"
{ echo "-----BEGIN RSA PRIVATE KEY-----"; b64lines 20; echo "-----END RSA PRIVATE KEY-----"; } >key.pem
{ echo "-----BEGIN OPENSSH PRIVATE KEY-----"; b64lines 8; echo "-----END OPENSSH PRIVATE KEY-----"; } >key.ssh

# values: every credential (and every key body line) the package must not hold.
( . ./creds.env; INJECTED=$RP_INJECTED
  printf '%s\n' "$AWS_KEY" "$GH_TOKEN" "$SLACK_TOKEN" "$STRIPE_KEY" "$JWT" "$CARD_SPACES" \
	"$CARD_DASHES" "$DB_PASSWORD" "$CODE_PASSWORD" "$ENV_API_KEY" "$JSON_TOKEN" "$INJECTED"
  grep -v -e '-----' key.pem key.ssh | cut -d: -f2 ) >values.txt

no_value_in() { # FILE...: none of values.txt in any of them
	while read -r v; do
		[ -n "$v" ] || continue
		for f in "$@"; do
			if grep -q -F -e "$v" "$f"; then say "'$v' leaked into $f"; return 1; fi
		done
	done <values.txt
}

run_job() { # NAME [POLICY]
	manifest "$1.json" "$SCRATCH/ws" "[\"sh\", \"$(agent credentials.sh)\", \"$SCRATCH/creds.env\"]" \
		'.agent.secretEnv = {RP_INJECTED: "env:RP_INJECTED"}' &&
	expect_exit 0 "$RUNPACK" run --manifest "$1.json" --out "$1.tar.zst" ${2:+--policy "$2"} &&
	cp out "$1.out" && cp err "$1.err" &&
	mkdir "$1.x" && tar --zstd -xf "$1.tar.zst" -C "$1.x" && zstd -q -dc "$1.tar.zst" >"$1.tar"
}

test_expect_success 'no credential survives in any entry or in runpack output' '
	run_job r &&
	no_value_in r.tar r.out r.err $(find r.x -type f)
'

test_expect_success 'the lines around each credential survive, with the rule named' '
	for want in "aws_access_key_id = \\[REDACTED:aws-access-token\\]" \
		"export GITHUB_TOKEN=\\[REDACTED:github-pat\\]" \
		"stripe key \\[REDACTED:stripe-access-token\\] in use" \
		"Authorization: Bearer \\[REDACTED:jwt\\]" \
		"paid with \\[REDACTED:credit-card\\] (visa)" \
		"db: connecting to postgres://app:\\[REDACTED:url-password\\]@db.internal:5432/app" \
		"password = \"\\[REDACTED:[a-z-]*\\]\"" "API_KEY=\\[REDACTED:[a-z-]*\\]" \
		"{\"token\": \"\\[REDACTED:[a-z-]*\\]\"}" "injected: \\[REDACTED:secret:RP_INJECTED\\]" \
		"^starting the task$" "^done$"; do
		assert_contains r.x/logs/stdout.log "$want" || exit 1
	done &&
	assert_contains r.x/logs/stderr.log "slack bot: \\[REDACTED:slack-bot-token\\]" &&
	assert_contains r.x/logs/stderr.log "refund to \\[REDACTED:credit-card\\]" &&
	test "$(grep -c "^\\[REDACTED:private-key\\]$" r.x/logs/stdout.log)" -eq "$(grep -c -v -e ----- "$SCRATCH/key.pem")" &&
	assert_contains r.x/logs/stdout.log "^-----BEGIN RSA PRIVATE KEY-----$" &&
	assert_contains r.x/logs/stderr.log "^-----END OPENSSH PRIVATE KEY-----$" &&
	assert_contains r.x/files/out/creds.env "^GITHUB_TOKEN=\\[REDACTED:github-pat\\]$" &&
	assert_contains r.x/files/out/creds.env "^# end$" &&
	assert_contains r.x/files/out/id_ed25519 "^\\[REDACTED:private-key\\]$"
'

test_expect_success 'findings list entry, rule and count, never a value' '
	jq -e ".redaction.findings | map(select(.entry == \"logs/stdout.log\" and .rule == \"github-pat\" and .count == 1)) | length == 1" r.x/result.json &&
	jq -e ".redaction.findings | map(select(.entry == \"logs/stderr.log\" and .rule == \"private-key\")) | length == 1" r.x/result.json &&
	jq -e ".redaction.findings | map(select(.entry == \"files/out/creds.env\" and .rule == \"secret:RP_INJECTED\")) | length == 1" r.x/result.json &&
	jq -e ".redaction.findings | all(keys == [\"count\", \"entry\", \"rule\"])" r.x/result.json
'

test_expect_success 'report mode: artifacts keep rule matches, findings still listed, secrets masked' '
	jq -n "{redaction: {artifacts: \"report\"}}" >report.json &&
	run_job p report.json &&
	( . ./creds.env; assert_contains p.x/files/out/creds.env "^GITHUB_TOKEN=$GH_TOKEN$" ) &&
	assert_contains p.x/files/out/creds.env "^INJECTED=\\[REDACTED:secret:RP_INJECTED\\]$" &&
	assert_not_contains p.tar "$RP_INJECTED" &&
	jq -e ".redaction.findings | map(select(.entry == \"files/out/creds.env\" and .rule == \"github-pat\")) | length == 1" p.x/result.json &&
	no_value_in p.x/logs/stdout.log p.x/logs/stderr.log p.x/events.jsonl p.out p.err
'

test_expect_success 'a custom policy rule masks its own credential family' '
	jq -n "{redaction: {rules: [{id: \"acme-token\", regex: \"acme_[a-z0-9]{24}\", keywords: [\"acme_\"]}]}}" >custom.json &&
	printf "%s\n" "echo \"deploying with acme_0123456789abcdefghijklmn\"" >ws/acme.sh &&
	manifest c.json "$SCRATCH/ws" "[\"sh\", \"acme.sh\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest c.json --out c.tar.zst --policy custom.json &&
	test "$("$RUNPACK" inspect c.tar.zst --cat logs/stdout.log)" = "deploying with [REDACTED:acme-token]"
'

test_expect_success 'a bad custom rule is rejected, naming the rule and its place' '
	jq -n "{redaction: {rules: [{id: \"broken\", regex: \"acme_(\"}]}}" >bad.json &&
	expect_exit 3 "$RUNPACK" run --manifest c.json --out bad.tar.zst --policy bad.json &&
	assert_eq "$(json_get out ".errors[0].code")" policy_invalid_field &&
	assert_eq "$(json_get out ".errors[0].path")" "\$.redaction.rules[0].regex" &&
	assert_contains err "rule .broken." &&
	expect_exit 2 "$RUNPACK" redact --policy bad.json &&
	assert_contains err "redaction.rules\\[0\\].regex"
'

test_expect_success 'runpack redact filters a stream with the same rules' '
	mkdir stream && (cd stream && sh "$(agent credentials.sh)" ../creds.env) >stream.txt 2>&1 &&
	STDIN=stream.txt expect_exit 0 "$RUNPACK" redact --secret-env RP_INJECTED --report &&
	no_value_in out &&
	assert_contains out "export GITHUB_TOKEN=\\[REDACTED:github-pat\\]" &&
	test "$(wc -l <out)" -eq "$(wc -l <stream.txt)" &&
	jq -e ".findings | map(select(.entry == \"stdin\" and .rule == \"credit-card\" and .count == 2)) | length == 1" err
'

test_done
