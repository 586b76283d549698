#!/usr/bin/env bash
# SIGTERM during fix (issue 11), at deterministic points: loopbreaker-test
# pauses where LB_TEST_PAUSE_AT says (a hook the shipped binary does not
# have) and the test sends the signal there.  Interrupted with the bundle
# complete but not yet named: no bundle and no temporary file are left,
# nothing is written.  Interrupted after the first of two changes: that one
# is made, the second not started, the bundle is whole under its name, the
# report says "interrupted" (exit 3); undo and a second fix both work
# afterwards.  In batch mode the signal reaches the running disk and no new
# disk is started.
. "$(dirname "$0")/lib.bash"

bad='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
small_windows_volume base.img
orig_sha=$(ntfscat base.img "$bad" | sha256sum | cut -d' ' -f1)

check "shipped binary has no pause hook" bash -c "! grep -q LB_TEST_PAUSE_AT '$LB'"
check "test binary has it" grep -q LB_TEST_PAUSE_AT "$LBT"

# interrupted FIX-ARGS...: runs loopbreaker-test fix paused at $POINT,
# sends SIGTERM once it is there; exit status in $rc, stdout in int.json
interrupted() {
	rm -f paused
	LB_TEST_PAUSE_AT=$POINT LB_TEST_PAUSE_FILE=$WORK/paused "$LBT" fix "$@" > int.json 2> int.err &
	local pid=$! i
	for i in $(seq 600); do [ -e paused ] && break; sleep 0.1; done
	T_CHECKS=$((T_CHECKS + 1))
	[ -e paused ] || fail "fix never reached $POINT: $(cat int.err)"
	kill -TERM $pid
	rc=0; wait $pid || rc=$?
}

# ---- with the bundle complete under its temporary name
cp --sparse=always base.img a.img; cp --sparse=always base.img b.img
a_before=$(sha256sum < a.img); b_before=$(sha256sum < b.img)
POINT=evidence-written
rm -f paused
LB_TEST_PAUSE_AT=$POINT LB_TEST_PAUSE_FILE=$WORK/paused "$LBT" fix --json --evidence ev1.tar.zst \
	--report r1.json a.img b.img > int.json 2> int.err &
pid=$!
for i in $(seq 600); do [ -e paused ] && break; sleep 0.1; done
check "paused at evidence-written" test -e paused
check "no bundle under its name yet" test ! -e ev1.tar.zst
eq "the bundle is being kept under a temporary name" "$(ls ev1.tar.zst.partial-* 2>/dev/null | wc -l)" 1
kill -TERM $pid
rc=0; wait $pid || rc=$?
eq "before naming: exit" "$rc" 3
eq "before naming: status" "$(jget r1.json 'r["status"]')" interrupted
check "before naming: no bundle" test ! -e ev1.tar.zst
eq "before naming: no temporary file" "$(ls | grep -c partial || true)" 0
eq "before naming: evidence" "$(jget r1.json 'r["evidence"]')" None
check "before naming: reason" grep -q 'interrupted (SIGTERM) before the evidence bundle was complete and named' r1.json
eq "before naming: actions" "$(jget r1.json '" ".join(t["volumes"][0]["installs"][0]["findings"][0]["action"] for t in r["targets"])')" "skipped skipped"
eq "before naming: a untouched" "$(sha256sum < a.img)" "$a_before"
eq "before naming: b untouched" "$(sha256sum < b.img)" "$b_before"

# ---- after the first of two changes
POINT=applied:1
interrupted --evidence ev2.tar.zst --report r2.json a.img b.img
eq "mid-way: exit" "$rc" 3
eq "mid-way: status" "$(jget r2.json 'r["status"]')" interrupted
eq "mid-way: exit_code in report" "$(jget r2.json 'r["exit_code"]')" 3
check "mid-way: run reason" grep -q 'interrupted by SIGTERM: the change in progress was finished' r2.json
eq "mid-way: a quarantined" "$(jget r2.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" quarantined
eq "mid-way: b skipped" "$(jget r2.json 'r["targets"][1]["volumes"][0]["installs"][0]["findings"][0]["action"]')" skipped
eq "mid-way: b reason" "$(jget r2.json 'r["targets"][1]["volumes"][0]["installs"][0]["findings"][0]["reason"]')" 'interrupted (SIGTERM) before this change'
eq "mid-way: bundle named and whole" "$(sha256sum < ev2.tar.zst | cut -d' ' -f1)" "$(jget r2.json 'r["evidence"]["sha256"]')"
eq "mid-way: bundle entries" "$(tar --zstd -xOf ev2.tar.zst manifest.json | jget /dev/stdin 'len(r["entries"])')" 2
eq "mid-way: no temporary file" "$(ls | grep -c partial || true)" 0
check "mid-way: a's file gone" bash -c "! ntfscat a.img '$bad' >/dev/null 2>&1"
check "mid-way: a consistent" ntfsfix -n a.img
eq "mid-way: b untouched" "$(sha256sum < b.img)" "$b_before"
# undo: a's file back, b's entry already as it was
run 0 undo ev2.tar.zst a.img b.img
eq "undo after interruption" "$(jget last.json '" ".join(u["status"] for u in r["undo"])')" "restored already_restored"
eq "undo: a's file back" "$(ntfscat a.img "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
# a new fix does the whole job
run 0 fix --evidence ev3.tar.zst a.img b.img
eq "fix after interruption" "$(jget last.json 'r["status"]')" fixed

# ---- batch: the running disk finishes its change, no new disk starts
for n in c d e; do cp --sparse=always base.img $n.img; done
e_before=$(sha256sum < e.img)
interrupted --jobs 1 --report-dir rep --report sum.json c.img d.img e.img
eq "batch: exit" "$rc" 3
eq "batch: status" "$(jget sum.json 'r["status"]')" interrupted
eq "batch: first disk" "$(jget sum.json 'r["disks"][0]["status"]')" fixed
eq "batch: later disks" "$(jget sum.json '" ".join(d["status"] for d in r["disks"][1:])')" "interrupted interrupted"
eq "batch: last disk untouched" "$(sha256sum < e.img)" "$e_before"

done_tests
