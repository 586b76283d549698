#!/usr/bin/env bash
# What a copy of a file's bytes does not capture (issue 11).  Four bad
# channel files: one with an alternate data stream, one with a second hard
# link elsewhere, one sparse, one with an 8.3 short name (set through an
# ntfs-3g mount, as Windows would have made it).
#
# fix --delete refuses the first three, each with its reason (action
# skipped, volume needs_attention, bytes and stream untouched, no bundle
# entry), deletes the fourth; undo recreates it with its 8.3 name; a second
# undo has nothing to do.  A bundle without short names (older loopbreaker)
# still undoes; an 8.3 name another file took meanwhile is said, not taken.  fix (quarantine) then moves all four: the other hard link
# keeps reaching the file, the stream and the sparse layout move with it;
# undo puts all four back with their 8.3 name, stream and link; a second
# undo has nothing to do.
. "$(dirname "$0")/lib.bash"

[ "$(id -u)" = 0 ] || skip_test "needs root (ntfs-3g FUSE mount for the fixture)"
D='Windows/System32/drivers/CrowdStrike'
F1=$D/C-00000291-00000000-00000001.sys   # alternate data stream
F2=$D/C-00000291-00000000-00000002.sys   # second hard link: Windows/other-name.sys
F3=$D/C-00000291-00000000-00000003.sys   # sparse
F4=$D/C-00000291-00000000-00000004.sys   # 8.3 name C-0000~1.SYS
setx() { python3 -c 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"; }
getx() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$@" 2>/dev/null || echo none; }
bad() { { printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 8184 /dev/urandom; } > "$1"; }
trap 'umount mnt 2>/dev/null || true' EXIT

truncate -s 48M vol.img
mkntfs -F -Q -q -L Windows vol.img 2>/dev/null
mkdir -p mnt
ntfs-3g -o streams_interface=xattr vol.img mnt
mkdir -p "mnt/$D" mnt/Windows/System32/config
xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > mnt/Windows/System32/config/SYSTEM
bad "mnt/$F1"; setx "mnt/$F1" user.Zone.Identifier '[ZoneTransfer] ZoneId=3'
bad "mnt/$F2"; ln "mnt/$F2" mnt/Windows/other-name.sys
printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01' > "mnt/$F3"
dd if=/dev/urandom of="mnt/$F3" bs=4096 seek=256 count=1 conv=notrunc status=none
bad "mnt/$F4"; setx "mnt/$F4" system.ntfs_dos_name 'C-0000~1.SYS'
touch -d '2024-07-19 04:30 UTC' "mnt/$D"/*.sys
umount mnt
for f in 1 2 3 4; do
	eval "sha$f=\$(ntfscat vol.img \"\$F$f\" | sha256sum | cut -d' ' -f1)"
done
# look IMG: the stream, the other link's inode = F2's, the 8.3 name, F3's
# blocks on disk (small: sparse) - through a read-only ntfs-3g mount
look() {
	ntfs-3g -o ro,streams_interface=xattr "$1" mnt
	STREAM=$(getx "mnt/$F1" user.Zone.Identifier)
	LINKED=$([ -e "mnt/$F2" ] && [ "$(stat -c %i "mnt/$F2")" = "$(stat -c %i mnt/Windows/other-name.sys)" ] && echo yes || echo no)
	SHORT=$(getx "mnt/$F4" system.ntfs_dos_name)
	SPARSE=$([ -e "mnt/$F3" ] && [ "$(stat -c %b "mnt/$F3")" -lt 100 ] && echo yes || echo no)
	umount mnt
}
look vol.img
eq "fixture: stream" "$STREAM" '[ZoneTransfer] ZoneId=3'
eq "fixture: linked" "$LINKED" yes
eq "fixture: 8.3 name" "$SHORT" 'C-0000~1.SYS'
eq "fixture: sparse" "$SPARSE" yes
finding() { jget last.json "[f for f in r['targets'][0]['volumes'][0]['installs'][0]['findings'] if f['path'].endswith('$1')][0]['$2']"; }

# ---- fix --delete: three refused with their reason, one deleted
cp --sparse=always vol.img del.img
run 1 fix --delete --evidence del.tar.zst del.img
eq "delete: status" "$(jget last.json 'r["status"]')" needs_attention
eq "delete: stream file skipped" "$(finding 01.sys action)" skipped
check "delete: stream reason" grep -q 'has alternate data streams (1: "Zone.Identifier"); not deleted' <(finding 01.sys reason)
eq "delete: linked file skipped" "$(finding 02.sys action)" skipped
check "delete: link reason" grep -q 'has 2 hard links (names); not deleted' <(finding 02.sys reason)
eq "delete: sparse file skipped" "$(finding 03.sys action)" skipped
check "delete: sparse reason" grep -q 'is sparse; not deleted' <(finding 03.sys reason)
check "delete: reason says what to do" grep -q 'quarantine it instead, with fix without --delete' <(finding 03.sys reason)
eq "delete: plain file deleted" "$(finding 04.sys action)" deleted
for f in 1 2 3; do
	eval "want=\$sha$f; path=\$F$f"
	eq "delete: file $f untouched" "$(ntfscat del.img "$path" | sha256sum | cut -d' ' -f1)" "$want"
done
check "delete: file 4 gone" bash -c "! ntfscat del.img '$F4' >/dev/null 2>&1"
mkdir -p d && tar --zstd -xf del.tar.zst -C d
eq "delete: one bundle entry" "$(jget d/manifest.json 'len(r["entries"])')" 1
eq "delete: 8.3 name in the bundle" "$(jget d/manifest.json 'r["entries"][0]["short_name"]')" 'C-0000~1.SYS'
look del.img
eq "delete: stream kept" "$STREAM" '[ZoneTransfer] ZoneId=3'
eq "delete: link kept" "$LINKED" yes
check "delete: ntfsfix" ntfsfix -n del.img

# undo recreates it with its 8.3 name; a second undo has nothing to do
run 0 undo del.tar.zst del.img
eq "undo of delete: restored" "$(jget last.json 'r["undo"][0]["status"]')" restored
eq "undo of delete: bytes" "$(ntfscat del.img "$F4" | sha256sum | cut -d' ' -f1)" "$sha4"
look del.img
eq "undo of delete: 8.3 name back" "$SHORT" 'C-0000~1.SYS'
check "undo of delete: ntfsfix" ntfsfix -n del.img
undone=$(sha256sum < del.img)
run 0 undo del.tar.zst del.img
eq "second undo of delete" "$(jget last.json 'r["undo"][0]["status"]')" already_restored
eq "second undo of delete wrote nothing" "$(sha256sum < del.img)" "$undone"

# a bundle from before short names were kept still undoes (without one)
cp --sparse=always vol.img old.img
run 1 fix --delete --evidence new.tar.zst old.img
mkdir -p o && tar --zstd -xf new.tar.zst -C o
python3 - o/manifest.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for e in m["entries"]:
    del e["short_name"], e["links"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
(cd o && tar --zstd -cf ../old.tar.zst manifest.json files)
run 0 undo old.tar.zst old.img
eq "old bundle: restored" "$(jget last.json 'r["undo"][0]["status"]')" restored
eq "old bundle: bytes" "$(ntfscat old.img "$F4" | sha256sum | cut -d' ' -f1)" "$sha4"

# another file took the 8.3 name meanwhile: the file is restored without
# it, and the entry says so
cp --sparse=always vol.img taken.img
run 1 fix --delete --evidence taken.tar.zst taken.img
ntfs-3g taken.img mnt
printf 'other' > "mnt/$D/C-00000291-other.sys"
setx "mnt/$D/C-00000291-other.sys" system.ntfs_dos_name 'C-0000~1.SYS'
umount mnt
run 0 undo taken.tar.zst taken.img
eq "8.3 name taken: restored" "$(jget last.json 'r["undo"][0]["status"]')" restored
check "8.3 name taken: said" grep -q 'restored without its 8.3 name C-0000~1.SYS: another file has that name now' <(jget last.json 'r["undo"][0]["reason"]')
eq "8.3 name taken: bytes" "$(ntfscat taken.img "$F4" | sha256sum | cut -d' ' -f1)" "$sha4"
check "8.3 name taken: ntfsfix" ntfsfix -n taken.img
undone=$(sha256sum < taken.img)
run 0 undo taken.tar.zst taken.img
eq "8.3 name taken: second undo" "$(jget last.json 'r["undo"][0]["status"]')" already_restored
eq "8.3 name taken: second undo wrote nothing" "$(sha256sum < taken.img)" "$undone"

# ---- quarantine (a rename) keeps everything; undo puts it all back
cp --sparse=always vol.img q.img
run 0 fix --evidence q.tar.zst q.img
for f in 01 02 03 04; do eq "quarantine: file $f" "$(finding $f.sys action)" quarantined; done
eq "quarantine: other link still reaches the file" \
	"$(ntfscat q.img Windows/other-name.sys | sha256sum | cut -d' ' -f1)" "$sha2"
mkdir -p q && tar --zstd -xf q.tar.zst -C q
eq "quarantine: links in the bundle" "$(jget q/manifest.json '[e["links"] for e in r["entries"]]')" '[1, 2, 1, 1]'
check "quarantine: ntfsfix" ntfsfix -n q.img
run 0 undo q.tar.zst q.img
eq "undo of quarantine: all restored" "$(jget last.json 'r["restored"]')" 4
for f in 1 2 3 4; do
	eval "want=\$sha$f; path=\$F$f"
	eq "undo of quarantine: file $f bytes" "$(ntfscat q.img "$path" | sha256sum | cut -d' ' -f1)" "$want"
done
look q.img
eq "undo of quarantine: stream" "$STREAM" '[ZoneTransfer] ZoneId=3'
eq "undo of quarantine: hard link" "$LINKED" yes
eq "undo of quarantine: 8.3 name" "$SHORT" 'C-0000~1.SYS'
eq "undo of quarantine: sparse" "$SPARSE" yes
check "undo of quarantine: ntfsfix" ntfsfix -n q.img
undone=$(sha256sum < q.img)
run 0 undo q.tar.zst q.img
eq "second undo of quarantine" "$(jget last.json 'r["already_restored"]')" 4
eq "second undo of quarantine wrote nothing" "$(sha256sum < q.img)" "$undone"

done_tests
