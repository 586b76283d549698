#!/usr/bin/env bash
# BCD rules on a generated MBR disk: a FAT32 ESP holding the real BCD store
# and a Windows-made NTFS volume.  safe-mode-on sets element 25000080 of the
# default entry, a second run changes nothing, safe-mode-off clears it, undo
# puts back the previous mode and a second undo has nothing to do
# (already_restored); fsck.vfat -n stays clean; scan never writes.
. "$(dirname "$0")/lib.bash"
export MTOOLS_SKIP_CHECK=1
GUID='{733b62e5-f608-11eb-825c-c112f60133ab}'
EL="\\Objects\\$GUID\\Elements\\25000080"

bcd_disk disk.img
safeboot() { bcd_safeboot disk.img; }
esp_bcd() { rm -f cur.bcd; mcopy -n -i disk.img@@1048576 ::/EFI/Microsoft/Boot/BCD cur.bcd; }
esp_fsck() { dd if=disk.img of=esp.chk bs=1M skip=1 count=40 conv=sparse status=none; fsck.vfat -n esp.chk >/dev/null; }

run 1 scan --playbook safe-mode-on disk.img
before=$(sha256sum < disk.img)
eq "scan action" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["action"]')" would_set
eq "scan entry" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["entry"]')" "$GUID"
eq "scan wrote nothing" "$(sha256sum < disk.img)" "$before"
eq "no safeboot before" "$(safeboot)" ""

run 0 fix --playbook safe-mode-on --evidence on.tar.zst disk.img
eq "on: status" "$(jget last.json 'r["status"]')" fixed
eq "on: action" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["action"]')" set
eq "on: old" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["old"]')" none
eq "on: element 25000080 = minimal (u64 0)" "$(safeboot)" 0000000000000000
check "on: fsck.vfat" esp_fsck
check "on: original kept on the ESP" bash -c "mcopy -n -i disk.img@@1048576 ::/EFI/Microsoft/Boot/BCD.LB1 lb1.bcd && cmp -s lb1.bcd BCD"
mkdir -p x && tar --zstd -xf on.tar.zst -C x
check "on: original BCD in bundle" cmp -s x/files/001/BCD BCD
eq "on: manifest" "$(jget x/manifest.json 'r["entries"][0]["action"]')" bcd_safeboot

after=$(sha256sum < disk.img)
run 0 fix --playbook safe-mode-on --evidence on2.tar.zst disk.img
eq "on twice: clean" "$(jget last.json 'r["status"]')" clean
eq "on twice: nothing written" "$(sha256sum < disk.img)" "$after"

run 0 fix --playbook safe-mode-on --param mode=network --evidence net.tar.zst disk.img
eq "network: element = 1" "$(safeboot)" 0100000000000000

run 0 fix --playbook safe-mode-off --evidence off.tar.zst disk.img
eq "off: action" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["action"]')" cleared
eq "off: old" "$(jget last.json 'r["targets"][0]["volumes"][0]["bcd"][0]["old"]')" network
esp_bcd
check "off: element key gone" bash -c "! hivexget cur.bcd '$EL' Element >/dev/null 2>&1"
check "off: fsck.vfat" esp_fsck

# undo of an older fix refuses (the mode changed since: network -> none, not
# minimal -> network) and writes nothing; undo of the first one finds the
# mode it had before (none): already_restored; undo of the last one restores
before=$(sha256sum < disk.img)
rc=0; "$LB" undo --json net.tar.zst disk.img > last.json || rc=$?
eq "stale undo refused" "$rc" 1
eq "stale undo: entry" "$(jget last.json 'r["undo"][0]["status"]')" refused
rc=0; "$LB" undo --json on.tar.zst disk.img > last.json || rc=$?
eq "undo of the first fix: as before it" "$rc/$(jget last.json 'r["undo"][0]["status"]')" 0/already_restored
eq "refused and no-op undos wrote nothing" "$(sha256sum < disk.img)" "$before"
"$LB" undo --json off.tar.zst disk.img > last.json || fail "undo exited $?"
eq "undo: status" "$(jget last.json 'r["status"]')" restored
eq "undo: network again" "$(safeboot)" 0100000000000000
check "undo: fsck.vfat" esp_fsck
# a second undo finds the old mode in place: nothing to do, nothing written
undone=$(sha256sum < disk.img)
rc=0; "$LB" undo --json off.tar.zst disk.img > last.json || rc=$?
eq "second undo: exit" "$rc" 0
eq "second undo: entry" "$(jget last.json 'r["undo"][0]["status"]')" already_restored
eq "second undo: status" "$(jget last.json 'r["status"]')" already_restored
eq "second undo: nothing written" "$(sha256sum < disk.img)" "$undone"

# a partition image has no ESP: the BCD rule needs attention, nothing written
dd if=disk.img of=part.img bs=1M skip=41 conv=sparse status=none
before=$(sha256sum < part.img)
run 1 fix --playbook safe-mode-on --evidence p.tar.zst part.img
check "no ESP: reason" grep -q 'no EFI System Partition' last.json
eq "no ESP: nothing written" "$(sha256sum < part.img)" "$before"

done_tests
