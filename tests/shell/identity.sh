#!/usr/bin/env bash
# The right disk every time (issue 11): every evidence entry records its
# target's identity (path, device/inode, partition offset, NTFS serial,
# volume GUID, disk GUID or MBR signature) and undo writes only to the disk
# it was made from.  Two clones of one VM image (cp): `undo BUNDLE vm2.img
# vm1.img` restores vm1 only, names vm2 ("inode differs") and leaves it
# byte-identical; a disk whose GPT disk GUID changed is refused by name;
# --any-target restores onto a copy (the NTFS serial must still match); a
# second undo has nothing to do (exit 0); an old bundle without identity is
# still undone, and the report says how it was matched.  A bare partition
# image is partition 1 in report, bundle and summary; a bundle that numbered
# it 0 (before) still undoes.
. "$(dirname "$0")/lib.bash"

bad='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
small_windows_volume base.img
orig_sha=$(ntfscat base.img "$bad" | sha256sum | cut -d' ' -f1)

# ---- the identity in the bundle (a bare partition image)
cp --sparse=always base.img vm1.img
run 0 fix --evidence ev.tar.zst vm1.img
mkdir -p x && tar --zstd -xf ev.tar.zst -C x
id='r["entries"][0]["identity"]'
eq "identity: path as given" "$(jget x/manifest.json "$id[\"path\"]")" vm1.img
eq "identity: resolved" "$(jget x/manifest.json "$id[\"resolved\"]")" "$(realpath vm1.img)"
eq "identity: type" "$(jget x/manifest.json "$id[\"type\"]")" file
eq "identity: device" "$(jget x/manifest.json "$id[\"device\"]")" "$(stat -c '%Hd:%Ld' vm1.img)"
eq "identity: inode" "$(jget x/manifest.json "$id[\"inode\"]")" "$(stat -c %i vm1.img)"
eq "identity: offset" "$(jget x/manifest.json "$id[\"partition_offset\"]")" 0
eq "identity: serial" "$(jget x/manifest.json "$id[\"volume_serial\"]")" "$(jget x/manifest.json 'r["entries"][0]["volume_serial"]')"
eq "identity: no table, no disk GUID" "$(jget x/manifest.json "$id[\"disk_guid\"]")/$(jget x/manifest.json "$id[\"mbr_signature\"]")" None/None
# a bare partition image is partition 1 (docs/report-format.md), not 0
eq "bare image: report partition" "$(jget last.json 'r["targets"][0]["volumes"][0]["partition"]')" 1
eq "bare image: bundle partition" "$(jget x/manifest.json 'r["entries"][0]["partition"]')" 1
"$LB" scan vm1.img > bare-scan.out 2>&1 || true
check "bare image: the summary says p1" grep -q '^vm1.img p1 ntfs' bare-scan.out
check "bare image: ls TARGET@1" "$LB" ls vm1.img@1 '\Windows'

# ---- two clones: undo names the wrong one and writes only the right one
cp --sparse=always vm1.img vm2.img          # a healthy clone of the fixed VM
vm2_before=$(sha256sum < vm2.img)
rc=0; "$LB" undo --json ev.tar.zst vm2.img vm1.img > last.json || rc=$?
eq "clones: exit" "$rc" 1
eq "clones: vm2 named" "$(jget last.json 'r["reasons"][0]')" \
	"vm2.img: not the disk this bundle was made from: inode differs (bundle: $(stat -c %i vm1.img), here: $(stat -c %i vm2.img))"
eq "clones: one restored" "$(jget last.json 'r["restored"]')" 1
eq "clones: onto vm1" "$(jget last.json 'r["undo"][0]["target"]')" vm1.img
eq "clones: identity matched" "$(jget last.json 'r["undo"][0]["identity"]')" matched
eq "clones: vm1 has its file back" "$(ntfscat vm1.img "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
eq "clones: vm2 byte-identical" "$(sha256sum < vm2.img)" "$vm2_before"

# undo twice: nothing to do, exit 0, and it says so
vm1_undone=$(sha256sum < vm1.img)
rc=0; "$LB" undo ev.tar.zst vm1.img > undo2.out || rc=$?
eq "second undo: exit" "$rc" 0
check "second undo: says so" grep -q '^already_restored .*C-00000291-00000000-00000032.sys: already as before the fix' undo2.out
check "second undo: result" grep -qx 'RESULT: already_restored (0 restored, 1 already restored: nothing to do, exit 0)' undo2.out
eq "second undo wrote nothing" "$(sha256sum < vm1.img)" "$vm1_undone"

# vm2 alone, as text: named, exit 1, untouched
rc=0; "$LB" undo ev.tar.zst vm2.img > undo3.out || rc=$?
eq "wrong clone alone: exit" "$rc" 1
check "wrong clone alone: named" grep -q '^! vm2.img: not the disk this bundle was made from: inode differs' undo3.out
check "wrong clone alone: entry refused" grep -q '^refused .*vm2.img: not the disk this bundle was made from' undo3.out
eq "wrong clone alone: untouched" "$(sha256sum < vm2.img)" "$vm2_before"

# --any-target: onto the copy, because its NTFS serial matches
run 0 undo --any-target ev.tar.zst vm2.img
eq "any-target: restored" "$(jget last.json 'r["restored"]')" 1
eq "any-target: noted" "$(jget last.json 'r["undo"][0]["identity"]')" 'not checked (--any-target): volume serial only'
eq "any-target: vm2 has the file" "$(ntfscat vm2.img "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"
# ... but never onto a volume with another serial
truncate -s 48M other.img && mkntfs -F -Q -q other.img 2>/dev/null
other_before=$(sha256sum < other.img)
run 1 undo --any-target ev.tar.zst other.img
check "any-target: other serial refused" grep -q 'no NTFS volume with serial' last.json
eq "any-target: other volume untouched" "$(sha256sum < other.img)" "$other_before"

# ---- a GPT disk: disk and volume GUID recorded; a changed disk GUID is refused
truncate -s 52M gpt.img
printf 'label: gpt\nstart=2048, size=98304, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' | sfdisk -q gpt.img
dd if=base.img of=gpt.img bs=1M seek=1 conv=notrunc,sparse status=none
run 0 fix --evidence gpt.tar.zst gpt.img
mkdir -p g && tar --zstd -xf gpt.tar.zst -C g
eq "gpt: disk guid" "$(jget g/manifest.json "$id[\"disk_guid\"]")" "$(sfdisk --disk-id gpt.img | tr A-F a-f)"
eq "gpt: volume guid" "$(jget g/manifest.json "$id[\"volume_guid\"]")" "$(sfdisk --part-uuid gpt.img 1 | tr A-F a-f)"
eq "gpt: offset" "$(jget g/manifest.json "$id[\"partition_offset\"]")" 1048576
old_guid=$(sfdisk --disk-id gpt.img)
sfdisk -q --disk-id gpt.img abcdef01-2345-6789-abcd-ef0123456789
gpt_before=$(sha256sum < gpt.img)
run 1 undo gpt.tar.zst gpt.img
check "gpt: changed disk GUID named" grep -q "gpt.img: not the disk this bundle was made from: disk guid differs (bundle: $(echo "$old_guid" | tr A-F a-f), here: abcdef01-2345-6789-abcd-ef0123456789)" last.json
eq "gpt: untouched" "$(sha256sum < gpt.img)" "$gpt_before"
sfdisk -q --disk-id gpt.img "$old_guid"
run 0 undo gpt.tar.zst gpt.img
eq "gpt: restored once the GUID is back" "$(jget last.json 'r["restored"]')" 1

# ---- an MBR disk: its signature is recorded
truncate -s 52M mbr.img
printf 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, type=7\n' | sfdisk -q mbr.img
dd if=base.img of=mbr.img bs=1M seek=1 conv=notrunc,sparse status=none
run 0 fix --evidence mbr.tar.zst mbr.img
mkdir -p m && tar --zstd -xf mbr.tar.zst -C m
eq "mbr: signature" "$(jget m/manifest.json "$id[\"mbr_signature\"]")" 1234abcd

# ---- a bundle from before identities: undone as before, and said so
cp --sparse=always base.img old.img
run 0 fix --evidence new.tar.zst old.img
mkdir -p o && tar --zstd -xf new.tar.zst -C o
python3 - o/manifest.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for e in m["entries"]:
    del e["identity"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
(cd o && tar --zstd -cf ../old.tar.zst manifest.json files)
run 0 undo old.tar.zst old.img
eq "old bundle: restored" "$(jget last.json 'r["restored"]')" 1
eq "old bundle: entry note" "$(jget last.json 'r["undo"][0]["identity"]')" 'not recorded in the bundle: volume serial only'
check "old bundle: run note" grep -q 'the bundle records no target identity' last.json

# ---- a bundle of a bare image from when it was numbered partition 0
cp --sparse=always base.img p0.img
run 0 fix --evidence p0new.tar.zst p0.img
mkdir -p z && tar --zstd -xf p0new.tar.zst -C z
python3 - z/manifest.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for e in m["entries"]:
    e["partition"] = 0
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
(cd z && tar --zstd -cf ../p0.tar.zst manifest.json files)
run 0 undo p0.tar.zst p0.img
eq "partition-0 bundle: restored" "$(jget last.json 'r["restored"]')" 1
eq "partition-0 bundle: identity matched" "$(jget last.json 'r["undo"][0]["identity"]')" matched
eq "partition-0 bundle: bytes back" "$(ntfscat p0.img "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"

done_tests
