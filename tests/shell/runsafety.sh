#!/usr/bin/env bash
# Fleet conditions around a fix (issue 11): the default evidence name is
# unique per run (two fixes in one second both succeed; a name taken is
# never overwritten; no temporary bundle is left); a --report FILE that
# cannot be written stops the run with exit 2 before anything is touched;
# the same image given twice (or through a symlink) is one target, in
# single and batch mode; a read-only target marks its actions failed.
. "$(dirname "$0")/lib.bash"

# immutable files (chattr +i) stop even root from writing; undone on exit
cleanup_immutable() { chattr -i "$WORK"/ro.img "$WORK"/frozen 2>/dev/null || true; }
trap cleanup_immutable EXIT

bad='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
small_windows_volume base.img
for n in a b c d e ro; do cp --sparse=always base.img $n.img; done

# ---- default evidence names: taken names are skipped, never overwritten
mkdir -p ev && cd ev
# every name the next seconds would get is taken already (empty files),
# counted from one reading of the clock: a second that ticks during the
# loop must not leave a gap
t0=$(date -u +%s)
for s in $(seq 0 30); do : > "loopbreaker-evidence-$(date -u -d "@$((t0 + s))" +%Y%m%dT%H%M%SZ).tar.zst"; done
run 0 fix ../a.img
ev_a=$(jget last.json 'r["evidence"]["path"]')
run 0 fix ../b.img
ev_b=$(jget last.json 'r["evidence"]["path"]')
check "first bundle: a free name" bash -c "[[ '$ev_a' =~ ^loopbreaker-evidence-[0-9]{8}T[0-9]{6}Z-[0-9]+\\.tar\\.zst\$ ]]"
check "second bundle: another free name" bash -c "[[ '$ev_b' != '$ev_a' && '$ev_b' =~ -[0-9]+\\.tar\\.zst\$ ]]"
check "first bundle whole" tar --zstd -tf "$ev_a"
check "second bundle whole" tar --zstd -tf "$ev_b"
eq "bundle digest = report" "$(sha256sum < "$ev_b" | cut -d' ' -f1)" "$(jget last.json 'r["evidence"]["sha256"]')"
eq "taken names untouched" "$(find . -name 'loopbreaker-evidence-*Z.tar.zst' -size +0 | wc -l)" 0
eq "no temporary bundle left" "$(ls | grep -c partial || true)" 0
# a --evidence FILE that exists is still refused, nothing changed
before=$(sha256sum < ../c.img)
run 2 fix --evidence "$ev_a" ../c.img
eq "given bundle name taken: target untouched" "$(sha256sum < ../c.img)" "$before"
cd "$WORK"

# ---- --report FILE that cannot be written: exit 2 before anything
before=$(sha256sum < c.img)
for rp in no-such-dir/r.json . ; do
	rc=0; "$LB" fix --evidence c-ev.tar.zst --report "$rp" c.img > out.txt 2> err.txt || rc=$?
	eq "report $rp: exit" "$rc" 2
	check "report $rp: says why" grep -q "report .*nothing was done" err.txt
	eq "report $rp: target untouched" "$(sha256sum < c.img)" "$before"
	check "report $rp: no bundle" test ! -e c-ev.tar.zst
done
mkdir -p frozen
if chattr +i frozen 2>/dev/null; then
	rc=0; "$LB" fix --evidence c-ev.tar.zst --report frozen/r.json c.img > out.txt 2> err.txt || rc=$?
	eq "report in a read-only dir: exit" "$rc" 2
	check "report in a read-only dir: says why" grep -q "report frozen/r.json cannot be written" err.txt
	eq "report in a read-only dir: untouched" "$(sha256sum < c.img)" "$before"
	chattr -i frozen
fi
rc=0; "$LB" undo --report no-such-dir/u.json "ev/$ev_a" a.img > out.txt 2> err.txt || rc=$?
eq "undo report unwritable: exit" "$rc" 2
check "undo report unwritable: a still fixed" bash -c "! ntfscat a.img '$bad' >/dev/null 2>&1"

# ---- the same image twice is one target
rc=0; "$LB" fix --json --evidence d-ev.tar.zst d.img d.img > last.json 2> err.txt || rc=$?
eq "same path twice: exit" "$rc" 0
eq "same path twice: one target" "$(jget last.json 'len(r["targets"])')" 1
check "same path twice: said on stderr" grep -q 'd.img is the same disk as d.img: handled once' err.txt
check "same path twice: in the report" grep -q 'd.img is the same disk as d.img: handled once' last.json
eq "same path twice: one entry" "$(tar --zstd -xOf d-ev.tar.zst manifest.json | jget /dev/stdin 'len(r["entries"])')" 1
ln -s e.img link.img
rc=0; "$LB" fix --json --evidence e-ev.tar.zst link.img e.img > last.json 2> err.txt || rc=$?
eq "via a symlink: exit" "$rc" 0
eq "via a symlink: one target" "$(jget last.json 'len(r["targets"])')" 1
check "via a symlink: said" grep -q 'e.img is the same disk as link.img: handled once' err.txt
# batch mode: one process for one disk
cp --sparse=always base.img f.img && ln -s f.img link-f.img
rc=0; "$LB" fix --jobs 2 --report-dir rep --report sum.json f.img link-f.img f.img > /dev/null 2> err.txt || rc=$?
eq "batch, one disk thrice: exit" "$rc" 0
eq "batch: one disk" "$(jget sum.json 'len(r["disks"])')" 1
eq "batch: fixed" "$(jget sum.json 'r["totals"]["fixed"]')" 1
eq "batch: said twice" "$(jget sum.json 'len(r["reasons"])')" 2
check "batch: on stderr" grep -q 'link-f.img is the same disk as f.img: handled once' err.txt
eq "batch: one report" "$(ls rep/*.report.json | wc -l)" 1

# ---- a read-only target: its actions are failed
if chattr +i ro.img 2>/dev/null; then
	before=$(sha256sum < ro.img)
	rc=0; "$LB" fix --json --evidence ro-ev.tar.zst ro.img > last.json 2> err.txt || rc=$?
	eq "read-only target: exit" "$rc" 3
	eq "read-only target: action" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" failed
	check "read-only target: reason" grep -q 'Operation not permitted' last.json
	eq "read-only target: status" "$(jget last.json 'r["status"]')" error
	eq "read-only target: untouched" "$(sha256sum < ro.img)" "$before"
	chattr -i ro.img
else
	echo "note: chattr +i not available here: read-only target not tested"
fi

done_tests
