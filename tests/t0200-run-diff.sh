#!/bin/bash
# runpack run with "diff": true: diff.patch against the base revision applies
# with stock `git apply` to a fresh checkout of the base and reproduces the
# workspace; .git is never written; git state in result.json; default
# artifact selection; failures recorded without changing the run's outcome.
. "$(dirname "$0")/lib.sh"

export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@invalid GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@invalid GIT_CONFIG_NOSYSTEM=1 HOME=$SCRATCH

# An agent that does everything the diff must survive.
cat >agent.sh <<'EOF'
set -e
printf '\nA line added by the agent.\n' >>README.md
rm -r docs
mkdir -p out/deep && printf 'report\n' >out/report.md && printf 'x\n' >out/deep/y.txt
head -c 3000 /dev/urandom >blob.bin
printf 'no newline at the end' >src/nonl.txt
chmod +x src/greet.c
ln -s ../README.md src/readme-link
mkdir moved && mv big.txt moved/big.txt
printf 'spaces\n' >'name with spaces.txt'
printf 'utf8\n' >"$(printf 'caf\303\251.txt')"
printf 'latin1\n' >"$(printf 'bad\377name.txt')"
printf 'ignored\n' >out/scratch.tmp
rm link-to-file && printf 'now a regular file\n' >link-to-file
rm to-link.txt && ln -s README.md to-link.txt
mkdir -p new/dir && printf 'untracked dir\n' >new/dir/file.txt
EOF

# new_repo DIR: the sample workspace plus a few files the agent changes.
new_repo() {
	new_workspace "$1" &&
	(cd "$1" && head -c 200000 /dev/urandom | base64 >big.txt &&
	 head -c 2000 /dev/urandom >blob.bin && ln -s README.md link-to-file &&
	 printf 'becomes a link\n' >to-link.txt &&
	 git add -A && git commit -q -m more && git rev-parse HEAD)
}

# tree_hash DIR: names, types, sizes, modes, mtimes and contents under DIR.
tree_hash() {
	(cd "$1" && { find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %F %s %a %y' &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 cat; } | sha256sum)
}

# modes DIR: path, type and mode of everything but .git and ignored files.
modes() {
	(cd "$1" && find . -path ./.git -prune -o ! -name '*.tmp' -printf '%p %y %m %l\n' |
		LC_ALL=C sort)
}

diff_manifest() { # FILE WORKSPACE BASE [JQ]
	manifest "$1" "$2" "[\"sh\", \"$SCRATCH/agent.sh\"]" \
		"del(.artifacts) | .diff = true |
		 .orchestratorWorkspace = {kind: \"scratch\", baseRevision: \"$3\", writeback: \"external\"} |
		 ${4:-.}"
}

base=$(new_repo ws)

test_expect_success 'diff.patch applies to a fresh clone of the base and reproduces the workspace' '
	git clone -q ws clone && git -C clone checkout -q --detach "$base" &&
	before=$(tree_hash ws/.git) &&
	diff_manifest m.json "$SCRATCH/ws" "$base" &&
	expect_exit 0 "$RUNPACK" run --manifest m.json --out p.tar.zst &&
	expect_exit 0 "$RUNPACK" verify p.tar.zst --pubkey "$(host_pub)" &&
	assert_eq "$(tree_hash ws/.git)" "$before" &&
	entry p.tar.zst diff.patch >d.patch &&
	(cd clone && git apply ../d.patch) &&
	diff -r -x .git -x "*.tmp" ws clone &&
	assert_eq "$(modes clone)" "$(modes ws)"
'

test_expect_success 'the patch has git binary patches, quoted names, modes, and no ignored file' '
	assert_contains d.patch "^GIT binary patch$" &&
	assert_contains d.patch "^diff --git \"a/bad\\\\377name.txt\" \"b/bad\\\\377name.txt\"$" &&
	assert_contains d.patch "^+++ \"b/caf\\\\303\\\\251.txt\"$" &&
	assert_contains d.patch "^+++ b/name with spaces.txt" &&
	assert_contains d.patch "^new mode 100755$" &&
	assert_contains d.patch "^new file mode 120000$" &&
	assert_contains d.patch "^rename to moved/big.txt$" &&
	assert_contains d.patch "^\\\\ No newline at end of file$" &&
	assert_not_contains d.patch scratch.tmp
'

test_expect_success 'entries: diff.patch after artifacts.json, before files/' '
	tar --zstd -tf p.tar.zst >list &&
	assert_eq "$(grep -n -x -e artifacts.json -e diff.patch list | tr "\n" " ")" "6:artifacts.json 7:diff.patch " &&
	assert_contains list "^files/README.md$"
'

test_expect_success 'result.json records the git state and the diff' '
	entry p.tar.zst result.json >r.json &&
	assert_eq "$(jq -c .errors r.json)" "[]" &&
	jq -e --arg base "$base" --arg sha "$(sha256sum <d.patch | cut -d" " -f1)" --argjson size "$(stat -c %s d.patch)" "
		.git.repository and .git.branch == \"main\" and .git.detached == false and
		.git.head == \$base and .git.base.commit == \$base and .git.base.source == \"baseRevision\" and
		.git.aheadBehind == {ahead: 0, behind: 0} and .git.operation == null and
		.git.unmerged == [] and .git.shallow == false and .git.worktree == false and
		.git.counts == {modified: 3, added: 0, deleted: 2, untracked: 9, ignored: 1, typechanged: 2} and
		.git.diff.included and .git.diff.sha256 == \$sha and .git.diff.bytes == \$size and
		.git.diff.files == 17" r.json
'

test_expect_success 'artifacts.json: digests match sha256sum, ignored marked, changed files selected' '
	entry p.tar.zst artifacts.json >a.json &&
	jq -r ".files[] | select(.type == \"file\" and .pathBase64 == null) | \"\(.sha256)  \(.path)\"" a.json >sums &&
	test "$(wc -l <sums)" -gt 10 &&
	(cd ws && sha256sum -c --quiet ../sums) &&
	assert_eq "$(jq -r .selection a.json)" changed &&
	jq -e "(.files[] | select(.path == \"out/scratch.tmp\")) as \$f |
	       \$f.ignored == true and \$f.included == false and \$f.reason == \"not_selected\"" a.json &&
	jq -e "(.files[] | select(.path == \"README.md\")) | .changed and .included" a.json &&
	jq -e "(.files[] | select(.path == \"src/greet.c\")) | .changed and .included" a.json &&
	jq -e "(.files[] | select(.path == \".gitignore\")) | (.changed | not) and .reason == \"not_selected\"" a.json &&
	jq -e "(.files[] | select(.path == \"src/readme-link\")) | .changed and .reason == \"symlink\"" a.json &&
	jq -e "(.files[] | select(.pathBase64 != null)) | .changed and .reason == \"unsafe_name\"" a.json &&
	entry p.tar.zst files/out/deep/y.txt >y && cmp y ws/out/deep/y.txt
'

test_expect_success '.git is untouched even when its index is stale' '
	new_repo stale >/dev/null &&
	(cd stale && printf "staged\n" >>README.md && git add README.md && sleep 1 &&
	 touch README.md src/greet.c docs/task.md) &&
	before=$(tree_hash stale/.git) &&
	manifest st.json "$SCRATCH/stale" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest st.json --out st.tar.zst &&
	assert_eq "$(tree_hash stale/.git)" "$before" &&
	test ! -e stale/.git/index.lock &&
	entry st.tar.zst result.json >st.json &&
	jq -e ".git.counts.modified == 1 and .git.base.source == \"HEAD\" and .git.diff.files == 1" st.json
'

test_expect_success 'a missing base: package verifies, diff_base_missing, outcome unchanged' '
	new_repo mb >/dev/null &&
	diff_manifest mb.json "$SCRATCH/mb" 0123456789abcdef0123456789abcdef01234567 ".agent.argv = [\"true\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest mb.json --out mb.tar.zst &&
	assert_eq "$(json_get out .status)" succeeded &&
	assert_eq "$(json_get out ".errors[0].code")" diff_base_missing &&
	expect_exit 0 "$RUNPACK" verify mb.tar.zst --pubkey "$(host_pub)" &&
	tar --zstd -tf mb.tar.zst >mb.list && assert_not_contains mb.list diff.patch &&
	entry mb.tar.zst result.json >mb.r &&
	jq -e ".errors[0].code == \"diff_base_missing\" and .git.base == null and
	       .git.diff.included == false and .git.counts == null" mb.r &&
	assert_eq "$(entry mb.tar.zst artifacts.json | jq -r .selection)" none
'

test_expect_success 'a workspace that is not a repository: not_a_git_repository' '
	mkdir plain && printf "x\n" >plain/a.txt &&
	manifest np.json "$SCRATCH/plain" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest np.json --out np.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" not_a_git_repository &&
	expect_exit 0 "$RUNPACK" verify np.tar.zst --pubkey "$(host_pub)" &&
	entry np.tar.zst result.json >np.r &&
	jq -e ".git == null and .status == \"succeeded\"" np.r &&
	assert_eq "$(entry np.tar.zst artifacts.json | jq -c "[.selection, .totals.included]")" "[\"none\",0]"
'

test_expect_success 'a plain folder without diff or baseRevision is not an error' '
	manifest pf.json "$SCRATCH/plain" "[\"true\"]" "del(.artifacts)" &&
	expect_exit 0 "$RUNPACK" run --manifest pf.json --out pf.tar.zst &&
	assert_eq "$(json_get out .errors)" "[]"
'

test_expect_success 'a corrupt repository: git_repository_corrupt, package verifies' '
	new_repo c1 >/dev/null && : >c1/.git/HEAD &&
	manifest c1.json "$SCRATCH/c1" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest c1.json --out c1.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" git_repository_corrupt &&
	expect_exit 0 "$RUNPACK" verify c1.tar.zst --pubkey "$(host_pub)" &&
	new_repo c2 >/dev/null &&
	tree=$(git -C c2 rev-parse "HEAD^{tree}") &&
	obj=c2/.git/objects/$(printf %s "$tree" | cut -c1-2)/$(printf %s "$tree" | cut -c3-) &&
	chmod u+w "$obj" && printf "not zlib" >"$obj" &&
	manifest c2.json "$SCRATCH/c2" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest c2.json --out c2.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" git_repository_corrupt &&
	expect_exit 0 "$RUNPACK" verify c2.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'a FIFO planted where git reads a file: git_repository_unsafe, no hang' '
	new_repo ff >/dev/null &&
	manifest ff.json "$SCRATCH/ff" "[\"mkfifo\", \"src/.gitignore\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 timeout 120 "$RUNPACK" run --manifest ff.json --out ff.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" git_repository_unsafe &&
	expect_exit 0 "$RUNPACK" verify ff.tar.zst --pubkey "$(host_pub)"
'

test_expect_success 'detached HEAD' '
	new_repo det >/dev/null && git -C det checkout -q --detach HEAD~1 &&
	manifest det.json "$SCRATCH/det" "[\"sh\", \"-c\", \"echo more >>README.md\"]" \
		"del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest det.json --out det.tar.zst &&
	entry det.tar.zst result.json >det.r &&
	jq -e ".git.detached and .git.branch == null and .git.diff.files == 1" det.r
'

test_expect_success 'a worktree (.git is a file)' '
	new_repo main >/dev/null && git -C main worktree add -q --detach "$SCRATCH/wt" HEAD 2>/dev/null &&
	wtbase=$(git -C wt rev-parse HEAD) &&
	before=$(tree_hash main/.git) &&
	git clone -q main wtclone && git -C wtclone checkout -q --detach "$wtbase" &&
	diff_manifest wt.json "$SCRATCH/wt" "$wtbase" &&
	expect_exit 0 "$RUNPACK" run --manifest wt.json --out wt.tar.zst &&
	assert_eq "$(tree_hash main/.git)" "$before" &&
	entry wt.tar.zst result.json >wt.r &&
	jq -e ".git.worktree and .errors == []" wt.r &&
	entry wt.tar.zst diff.patch >wt.patch &&
	(cd wtclone && git apply ../wt.patch) &&
	diff -r -x .git -x "*.tmp" wt wtclone
'

test_expect_success 'a shallow clone: the base present diffs, an older one is missing' '
	new_repo deep >/dev/null &&
	git clone -q --depth 1 "file://$SCRATCH/deep" shallow &&
	manifest sh.json "$SCRATCH/shallow" "[\"sh\", \"-c\", \"echo more >>README.md\"]" \
		"del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest sh.json --out sh.tar.zst &&
	entry sh.tar.zst result.json >sh.r &&
	jq -e ".git.shallow and .git.diff.files == 1 and .errors == []" sh.r &&
	old=$(git -C deep rev-parse HEAD~1) &&
	diff_manifest sh2.json "$SCRATCH/shallow" "$old" ".agent.argv = [\"true\"]" &&
	expect_exit 0 "$RUNPACK" run --manifest sh2.json --out sh2.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" diff_base_missing
'

test_expect_success 'a submodule whose commit changed is recorded and diffed' '
	new_repo lib >/dev/null && new_repo super >/dev/null &&
	(cd super && git -c protocol.file.allow=always submodule -q add "$SCRATCH/lib" lib &&
	 git commit -q -m "add lib") &&
	old=$(git -C super/lib rev-parse HEAD) &&
	(cd super/lib && echo x >>README.md && git commit -q -am move) &&
	manifest sub.json "$SCRATCH/super" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest sub.json --out sub.tar.zst &&
	new=$(git -C super/lib rev-parse HEAD) &&
	entry sub.tar.zst result.json >sub.r &&
	jq -e --arg old "$old" --arg new "$new" \
		".git.submodules == [{path: \"lib\", baseCommit: \$old, workdirCommit: \$new, changed: true}] and
		 .git.counts.modified == 1" sub.r &&
	entry sub.tar.zst diff.patch >sub.patch &&
	assert_contains sub.patch "^+Subproject commit $new$"
'

test_expect_success 'a merge in progress: unmerged paths and operation merge' '
	new_repo mg >/dev/null &&
	(cd mg && git checkout -q -b other && echo theirs >README.md && git commit -q -am theirs &&
	 git checkout -q main && echo ours >README.md && git commit -q -am ours &&
	 ! git merge -q other >/dev/null 2>&1) &&
	manifest mg.json "$SCRATCH/mg" "[\"true\"]" "del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest mg.json --out mg.tar.zst &&
	entry mg.tar.zst result.json >mg.r &&
	jq -e ".git.operation == \"merge\" and .git.unmerged == [{path: \"README.md\"}]" mg.r
'

test_expect_success 'a diff over artifacts.maxDiffBytes: diff_too_large, left out' '
	new_repo big >/dev/null &&
	printf "{\"artifacts\": {\"maxDiffBytes\": 1000}}" >small.json &&
	manifest big.json "$SCRATCH/big" "[\"sh\", \"-c\", \"seq 1 5000 >numbers.txt\"]" \
		"del(.artifacts) | .diff = true" &&
	expect_exit 0 "$RUNPACK" run --manifest big.json --policy small.json --out big.tar.zst &&
	assert_eq "$(json_get out ".errors[0].code")" diff_too_large &&
	expect_exit 0 "$RUNPACK" verify big.tar.zst --pubkey "$(host_pub)" &&
	tar --zstd -tf big.tar.zst >big.list && assert_not_contains big.list diff.patch &&
	entry big.tar.zst result.json >big.r &&
	jq -e ".git.diff.included == false and .policy.effective.artifacts.maxDiffBytes == 1000" big.r &&
	assert_contains big.list "^files/numbers.txt$"
'

test_expect_success 'without diff: git state and the default selection, no diff.patch' '
	new_repo nd >/dev/null &&
	manifest nd.json "$SCRATCH/nd" "[\"sh\", \"-c\", \"echo new >new.txt\"]" "del(.artifacts)" &&
	expect_exit 0 "$RUNPACK" run --manifest nd.json --out nd.tar.zst &&
	tar --zstd -tf nd.tar.zst >nd.list && assert_not_contains nd.list diff.patch &&
	assert_eq "$(grep "^files/" nd.list)" files/new.txt &&
	entry nd.tar.zst result.json >nd.r &&
	jq -e ".git.diff == null and .git.counts.untracked == 1" nd.r
'

test_expect_success 'no change: an empty diff.patch' '
	manifest nc.json "$SCRATCH/nd" "[\"true\"]" ".diff = true" &&
	git -C nd clean -q -f &&
	expect_exit 0 "$RUNPACK" run --manifest nc.json --out nc.tar.zst &&
	assert_eq "$(entry nc.tar.zst diff.patch | wc -c)" 0 &&
	assert_eq "$(entry nc.tar.zst result.json | jq -c "[.git.diff.included, .git.diff.files]")" "[true,0]"
'

test_expect_success 'an explicit empty include selects nothing' '
	manifest ne.json "$SCRATCH/nd" "[\"true\"]" ".artifacts.include = []" &&
	expect_exit 0 "$RUNPACK" run --manifest ne.json --out ne.tar.zst &&
	assert_eq "$(entry ne.tar.zst artifacts.json | jq -c "[.selection, .totals.included]")" "[\"include\",0]"
'

test_expect_success 'a secret written into the workspace is masked in diff.patch' '
	new_repo sec >/dev/null &&
	export RP_DIFF_SECRET=diff-secret-value-0123 &&
	manifest sec.json "$SCRATCH/sec" "[\"sh\", \"-c\", \"echo \$TOKEN >leak.txt\"]" \
		"del(.artifacts) | .diff = true | .agent.secretEnv = {TOKEN: \"env:RP_DIFF_SECRET\"}" &&
	expect_exit 0 "$RUNPACK" run --manifest sec.json --out sec.tar.zst &&
	entry sec.tar.zst diff.patch >sec.patch &&
	assert_not_contains sec.patch "$RP_DIFF_SECRET" &&
	assert_contains sec.patch "REDACTED:secret:TOKEN" &&
	entry sec.tar.zst result.json >sec.r &&
	jq -e "[.redaction.findings[] | select(.entry == \"diff.patch\")] | length == 1" sec.r
'

test_done
