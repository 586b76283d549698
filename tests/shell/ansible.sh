#!/usr/bin/env bash
# The Ansible role (ansible/): ansible-playbook against localhost with a
# local connection and two broken raw images in the work directory.  The
# role copies the binary, runs `loopbreaker fix --jobs 2`, and fetches the
# batch summary and each disk's report back: both disks fixed (and clean
# when scanned after), the summary and two reports on the "controller".
# A second run finds both clean and its fix task reports no change.
. "$(dirname "$0")/lib.bash"

command -v ansible-playbook > /dev/null || skip_test "ansible-playbook not installed (Debian package ansible-core)"

mkdir -p images
broken_disk images/a.raw WKS-ANS-01
broken_disk images/b.raw WKS-ANS-02

export ANSIBLE_LOCAL_TEMP=$WORK/.ansible-local ANSIBLE_REMOTE_TEMP=$WORK/.ansible-remote
export ANSIBLE_HOME=$WORK/.ansible ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
cat > vars.json <<JSON
{"loopbreaker_binary": "$LB", "loopbreaker_images": ["$WORK/images/a.raw", "$WORK/images/b.raw"],
 "loopbreaker_workdir": "$WORK/host", "loopbreaker_fetch_dir": "$WORK/controller",
 "loopbreaker_jobs": 2}
JSON
play() {
	T_CHECKS=$((T_CHECKS + 1))
	ansible-playbook -i localhost, -c local "$LB_SOURCE/ansible/fix.yml" -e @vars.json > play.out 2>&1 ||
		{ fail "ansible-playbook exited $?"; cat play.out >&2; }
}
play
check "the binary was copied" test -x host/loopbreaker
S=controller/localhost/summary.json
check "summary fetched" test -s "$S"
eq "summary: both fixed" "$(jget "$S" 'r["totals"]["fixed"]')" 2
eq "two reports fetched" "$(ls controller/localhost/reports/*.json | wc -l)" 2
eq "fetched reports: hostnames" "$(cat controller/localhost/reports/*.json | python3 -c '
import json, sys
d = json.JSONDecoder(); s = sys.stdin.read().strip(); out = []
while s:
    r, i = d.raw_decode(s); out.append(r["hostname"]); s = s[i:].strip()
print(sorted(out))')" "['WKS-ANS-01', 'WKS-ANS-02']"
check "task reported a change" grep -q 'changed=[1-9]' play.out
for img in images/a.raw images/b.raw; do
	run 0 scan "$img"
	eq "$img: clean after the play" "$(jget last.json 'r["status"]')" clean
done
play
fixtask() { grep -A1 'TASK \[loopbreaker_fix : loopbreaker fix\]' play.out | grep -q '^ok: \[localhost\]'; }
check "second play: the fix task changed nothing" fixtask
eq "second play: both clean" "$(jget "$S" 'r["totals"]["clean"]')" 2
done_tests
