#!/bin/bash
# runpack run: an injected secret never appears, raw or encoded, in any byte
# of the package or of runpack's own stdout and stderr.
. "$(dirname "$0")/lib.sh"

new_workspace ws
export RP_SECRET_VALUE='s3cr3t/Value+with"quotes&amp;=x'
printf '%s\n' "file-secret-0123456789" >secret.txt

# forms VALUE: the encodings the package must not contain.
forms() {
	v=$1
	printf '%s\n' "$v"
	for pad in "" "a" "ab"; do
		# the stable middle of base64(pad + value) at each alignment
		b=$(printf '%s%s' "$pad" "$v" | base64 -w0)
		skip=$(( (${#pad} * 4 + 2) / 3 ))
		printf '%s\n' "$b" | cut -c$((skip + 1))-$(( ${#b} - 4 ))
		printf '%s\n' "$b" | tr '+/' '-_' | cut -c$((skip + 1))-$(( ${#b} - 4 ))
	done
	printf '%s' "$v" | jq -sRr @uri
	printf '%s' "$v" | jq -sR . | sed 's/^"//; s/"$//'
}

test_expect_success 'secrets are masked in logs, files, events and summary' '
	manifest m.json "$SCRATCH/ws" "[\"sh\", \"$(agent secrets.sh)\", \"API_TOKEN\"]" \
		".agent.secretEnv = {API_TOKEN: \"env:RP_SECRET_VALUE\", FILE_TOKEN: \"file:$SCRATCH/secret.txt\"}" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out s.tar.zst --event-log events.live &&
	mkdir x && tar --zstd -xf s.tar.zst -C x &&
	zstd -dc s.tar.zst >s.tar &&
	forms "$RP_SECRET_VALUE" >forms.txt &&
	forms file-secret-0123456789 >>forms.txt &&
	while read -r f; do
		[ -n "$f" ] || continue
		for file in s.tar out err events.live; do
			assert_not_contains "$file" "$f" || exit 1
		done
		if grep -r -l -F -e "$f" x; then say "form $f leaked"; exit 1; fi
	done <forms.txt &&
	assert_contains x/logs/stdout.log "REDACTED:secret:API_TOKEN" &&
	assert_contains x/files/out/leak.txt "REDACTED:secret:API_TOKEN" &&
	test "$(jq "[.redaction.findings[].count] | add" x/result.json)" -ge 5
'

test_expect_success 'the lines around a masked secret survive' '
	assert_contains x/logs/stdout.log "^raw: \\[REDACTED:secret:API_TOKEN\\]$"
'

test_expect_success 'a secret shorter than 8 bytes is refused' '
	RP_SHORT=abc &&
	export RP_SHORT &&
	manifest short.json "$SCRATCH/ws" "[\"true\"]" ".agent.secretEnv = {T: \"env:RP_SHORT\"}" &&
	expect_exit 3 "$RUNPACK" run --manifest short.json --out short.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" secret_too_short &&
	assert_not_contains err abc
'

test_expect_success 'runpack redact masks --secret-env values on a stream' '
	printf "a %s b\n" "$RP_SECRET_VALUE" >in.txt &&
	STDIN=in.txt expect_exit 0 "$RUNPACK" redact --secret-env RP_SECRET_VALUE --report &&
	assert_eq "$(cat out)" "a [REDACTED:secret:RP_SECRET_VALUE] b" &&
	assert_contains err "\"count\":1"
'

test_done
