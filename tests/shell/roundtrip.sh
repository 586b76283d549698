#!/usr/bin/env bash
# fix on a Windows-made NTFS volume: scan never writes; the evidence bundle
# restores the file byte for byte; the quarantined copy is intact; a second
# fix changes nothing; undo refuses a copy unless --any-target, and a second
# undo has nothing to do; --delete; hibernated volume refused, then
# discarded; undo twice after each.
. "$(dirname "$0")/lib.bash"

windows_made_volume vol.raw
bad='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
ntfscat vol.raw "$bad" > original.sys
orig_sha=$(sha256sum < original.sys | cut -d' ' -f1)

# scan never writes
before=$(sha256sum < vol.raw)
run 1 scan vol.raw
eq "scan status" "$(jget last.json 'r["status"]')" needs_attention
eq "scan action" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" would_quarantine
eq "scan sha256" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["sha256"]')" "$orig_sha"
eq "scan header" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["header"]')" aaaaaaaa01002301
eq "scan mtime" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["mtime"]')" 2024-07-19T04:30:00Z
eq "hostname" "$(jget last.json 'r["hostname"]')" WKS-WIN732BITA
eq "sensor present" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["sensor"]["present"]')" True
eq "agent id" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["sensor"]["agent_id"]')" 00112233445566778899aabbccddeeff
eq "customer id" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["sensor"]["customer_id"]')" 0f0e0d0c0b0a09080706050403020100
eq "scan wrote nothing" "$(sha256sum < vol.raw)" "$before"
check "scan made no bundle" test -z "$(ls *.tar.zst 2>/dev/null)"

# fix
cp vol.raw fix.raw
run 0 fix --evidence ev.tar.zst --report report.json fix.raw
eq "fix status" "$(jget last.json 'r["status"]')" fixed
eq "report file = stdout" "$(jget report.json 'r["status"]')" fixed
qpath=$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["quarantine_path"]')
check "quarantine path" bash -c "[[ '$qpath' == '\\loopbreaker.quarantine\\'*'\\C-00000291-00000000-00000032.sys' ]]"
eq "bundle sha in report" "$(jget last.json 'r["evidence"]["sha256"]')" "$(sha256sum < ev.tar.zst | cut -d' ' -f1)"
check "ntfsfix after fix" ntfsfix -n fix.raw
check "bad file gone" bash -c "! ntfscat fix.raw '$bad' >/dev/null 2>&1"
ntfscat fix.raw "$(echo "$qpath" | tr '\\' /)" > quarantined.sys
eq "quarantined bytes" "$(sha256sum < quarantined.sys | cut -d' ' -f1)" "$orig_sha"

# the bundle restores the file byte for byte
mkdir -p x && tar --zstd -xf ev.tar.zst -C x
eq "bundle manifest path" "$(jget x/manifest.json 'r["entries"][0]["path"]')" '\Windows\System32\drivers\CrowdStrike\C-00000291-00000000-00000032.sys'
eq "bundle manifest sha" "$(jget x/manifest.json 'r["entries"][0]["sha256"]')" "$orig_sha"
check "bundle bytes" cmp -s x/files/001/C-00000291-00000000-00000032.sys original.sys
eq "bundle keeps mtime" "$(TZ=UTC stat -c %y x/files/001/C-00000291-00000000-00000032.sys | cut -c1-19)" "2024-07-19 04:30:00"

# fix twice changes nothing
after1=$(sha256sum < fix.raw)
run 0 fix --evidence ev2.tar.zst fix.raw
eq "second fix status" "$(jget last.json 'r["status"]')" clean
eq "second fix wrote nothing" "$(sha256sum < fix.raw)" "$after1"
check "second fix made no bundle" test ! -e ev2.tar.zst
eq "second fix evidence" "$(jget last.json 'r["evidence"]')" None

# an existing bundle path is never overwritten, and then nothing is changed
cp vol.raw again.raw
before=$(sha256sum < again.raw)
run 2 fix --evidence ev.tar.zst again.raw
eq "existing bundle: untouched" "$(sha256sum < again.raw)" "$before"

# undo onto a copy of the fixed disk is refused (not the disk the bundle
# was made from) and writes nothing; --any-target (the NTFS serial must
# still match) puts the quarantined file back, byte for byte; a second undo
# has nothing to do (exit 0)
cp fix.raw undo.raw
before=$(sha256sum < undo.raw)
rc=0; "$LB" undo --json ev.tar.zst undo.raw > last.json || rc=$?
eq "undo onto a copy: exit" "$rc" 1
check "undo onto a copy: named" grep -q 'undo.raw: not the disk this bundle was made from: inode differs' last.json
eq "undo onto a copy: untouched" "$(sha256sum < undo.raw)" "$before"
"$LB" undo --any-target --json ev.tar.zst undo.raw > last.json || fail "undo exited $?"
eq "undo status" "$(jget last.json 'r["status"]')" restored
eq "undo restored" "$(jget last.json 'r["restored"]')" 1
eq "undo identity note" "$(jget last.json 'r["undo"][0]["identity"]')" 'not checked (--any-target): volume serial only'
eq "undone bytes" "$(ntfscat undo.raw "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
check "ntfsfix after undo" ntfsfix -n undo.raw
after_undo=$(sha256sum < undo.raw)
rc=0; "$LB" undo --any-target --json ev.tar.zst undo.raw > last.json || rc=$?
eq "second undo: nothing to do (exit)" "$rc" 0
eq "second undo: entry" "$(jget last.json 'r["undo"][0]["status"]')" already_restored
eq "second undo: status" "$(jget last.json 'r["status"]')" already_restored
eq "second undo wrote nothing" "$(sha256sum < undo.raw)" "$after_undo"

# --delete
cp vol.raw del.raw
run 0 fix --delete --evidence del.tar.zst del.raw
eq "delete action" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" deleted
check "deleted" bash -c "! ntfscat del.raw '$bad' >/dev/null 2>&1"
check "no quarantine dir" bash -c "! $LB ls del.raw '\\loopbreaker.quarantine' >/dev/null 2>&1"
check "ntfsfix after delete" ntfsfix -n del.raw
"$LB" undo --json del.tar.zst del.raw > last.json || fail "undo of delete exited $?"
eq "undo of delete: bytes" "$(ntfscat del.raw "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
eq "undo of delete: mtime" "$("$LB" ls del.raw '\Windows\System32\drivers\CrowdStrike' | awk '{print $3}')" 2024-07-19T04:30:00Z
check "ntfsfix after undo of delete" ntfsfix -n del.raw
rc=0; "$LB" undo --json del.tar.zst del.raw > last.json || rc=$?
eq "second undo of delete: nothing to do" "$rc/$(jget last.json 'r["undo"][0]["status"]')" 0/already_restored

# hibernated (Fast Startup) volume
cp vol.raw hib.raw
mkdir -p mnt && ntfs-3g hib.raw mnt && { printf 'HIBR'; head -c 65532 /dev/zero; } > mnt/hiberfil.sys && umount mnt
run 1 scan hib.raw
eq "hib scan state" "$(jget last.json 'r["targets"][0]["volumes"][0]["state"]["hibernated"]')" True
before=$(sha256sum < hib.raw)
run 1 fix --evidence hib1.tar.zst hib.raw
eq "hib refused" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" refused
check "hib reason" grep -q -- '--discard-hibernation' last.json
eq "hib untouched" "$(sha256sum < hib.raw)" "$before"
check "hib refused: no bundle" test ! -e hib1.tar.zst
run 0 fix --discard-hibernation --evidence hib2.tar.zst hib.raw
eq "hib discarded: fixed" "$(jget last.json 'r["status"]')" fixed
eq "hiberfil signature cleared" "$(ntfscat hib.raw hiberfil.sys | head -c 4 | od -An -tx1 | tr -d ' ')" 00000000
check "hiberfil header in bundle" bash -c "tar --zstd -tf hib2.tar.zst | grep -q hiberfil.sys.header"
run 0 scan hib.raw
eq "hib after" "$(jget last.json 'r["status"]')" clean
"$LB" undo --json hib2.tar.zst hib.raw > last.json || fail "undo of a --discard-hibernation fix exited $?"
eq "undo: hibernation signature back" "$(ntfscat hib.raw hiberfil.sys | head -c 4)" HIBR
eq "undo: bad file back" "$(ntfscat hib.raw "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
hib_undone=$(sha256sum < hib.raw)
rc=0; "$LB" undo --json hib2.tar.zst hib.raw > last.json || rc=$?
eq "second undo of the hibernation fix: exit" "$rc" 0
eq "second undo of the hibernation fix: entries" "$(jget last.json '" ".join(u["status"] for u in r["undo"])')" "already_restored already_restored"
eq "second undo of the hibernation fix wrote nothing" "$(sha256sum < hib.raw)" "$hib_undone"

done_tests
