#!/usr/bin/env bash
# A $MFTMirr older than $MFT: the state a power cut leaves between the two
# writes of an MFT extension (record 0, then its mirror copy), which
# libntfs-3g refuses to mount.  Made here the way it happens: the MFT of a
# copy is grown through ntfs-3g, then the mirror's record 0 is put back to
# what it was before.  scan reports it without writing; fix rewrites the
# mirror from $MFT (old records into the evidence) before anything else and
# completes the job; a second fix changes nothing; undo keeps the repair.
# A $MFT record that is itself unsound is not "repaired" from: clear error,
# nothing written.
. "$(dirname "$0")/lib.bash"

# mirr.py get|put IMG N FILE / breakfix IMG N: raw MFT/mirror records
cat > mirr.py <<'PY'
import struct, sys
op, img = sys.argv[1], sys.argv[2]
f = open(img, "r+b")
bs = f.read(512)
cl = struct.unpack_from("<H", bs, 11)[0] * bs[13]
c = struct.unpack_from("<b", bs, 0x40)[0]
rs = c * cl if c > 0 else 1 << -c
mft, mirr = struct.unpack_from("<QQ", bs, 0x30)
n = int(sys.argv[3])
if op == "get":
    f.seek(mirr * cl + n * rs); open(sys.argv[4], "wb").write(f.read(rs))
elif op == "getmft":
    f.seek(mft * cl + n * rs); open(sys.argv[4], "wb").write(f.read(rs))
elif op == "put":
    f.seek(mirr * cl + n * rs); f.write(open(sys.argv[4], "rb").read())
elif op == "breakfix":   # $MFT record N: a sector that fails its update sequence
    f.seek(mft * cl + n * rs + 510); b = f.read(2)
    f.seek(mft * cl + n * rs + 510); f.write(bytes([b[0] ^ 0xFF, b[1]]))
PY

small_windows_volume vol.raw
python3 mirr.py get vol.raw 0 mirror0.before
# grow the MFT through ntfs-3g (it writes record 0 and the mirror)
mkdir -p mnt && ntfs-3g vol.raw mnt
mkdir mnt/many && for i in $(seq 1 400); do : > "mnt/many/f$i"; done
umount mnt
python3 mirr.py getmft vol.raw 0 mft0.after
check "set-up: the MFT grew (record 0 changed)" bash -c "! cmp -s mirror0.before mft0.after"
cp vol.raw clean.raw
python3 mirr.py put vol.raw 0 mirror0.before
check "set-up: ntfsfix -n sees the mismatch" bash -c "ntfsfix -n vol.raw 2>&1 | grep -q 'MFTMirr does not match'"
python3 mirr.py get vol.raw 0 mirror0.stale
python3 mirr.py get vol.raw 1 mirror1.stale
python3 mirr.py get vol.raw 2 mirror2.stale
python3 mirr.py get vol.raw 3 mirror3.stale
stale_sha=$(cat mirror0.stale mirror1.stale mirror2.stale mirror3.stale | sha256sum | cut -d' ' -f1)
v='r["targets"][0]["volumes"][0]'

# scan: reports, writes nothing, still sees the bad file
before=$(sha256sum < vol.raw)
run 1 scan vol.raw
eq "scan: mirror state" "$(jget last.json "$v[\"mft_mirror\"][\"state\"]")" stale
eq "scan: records" "$(jget last.json "$v[\"mft_mirror\"][\"records\"]")" "[0]"
eq "scan: action" "$(jget last.json "$v[\"mft_mirror\"][\"action\"]")" would_repair
eq "scan: volume state" "$(jget last.json "$v[\"state\"][\"mft_mirror\"]")" stale
eq "scan: bad file still found" "$(jget last.json "$v[\"installs\"][0][\"findings\"][0][\"action\"]")" would_quarantine
check "scan: reason names the mirror" grep -q 'MFTMirr record 0 older than' last.json
eq "scan wrote nothing" "$(sha256sum < vol.raw)" "$before"
check "ls lists the volume as if repaired" bash -c "'$LB' ls vol.raw '\\Windows' 2> ls.err | grep -q System32"
check "ls says why" grep -q 'fix repairs it' ls.err
eq "ls wrote nothing" "$(sha256sum < vol.raw)" "$before"

# fix: mirror first, then the file
cp vol.raw fix.raw
run 0 fix --evidence ev.tar.zst fix.raw
eq "fix: status" "$(jget last.json 'r["status"]')" fixed
eq "fix: mirror action" "$(jget last.json "$v[\"mft_mirror\"][\"action\"]")" repaired
eq "fix: volume state" "$(jget last.json "$v[\"state\"][\"mft_mirror\"]")" repaired
eq "fix: file quarantined" "$(jget last.json "$v[\"installs\"][0][\"findings\"][0][\"action\"]")" quarantined
check "fix: ntfsfix -n passes" ntfsfix -n fix.raw
python3 mirr.py get fix.raw 0 mirror0.fixed
python3 mirr.py getmft fix.raw 0 mft0.fixed
check "fix: mirror record 0 = \$MFT record 0" cmp -s mirror0.fixed mft0.fixed
mkdir -p ev && tar --zstd -xf ev.tar.zst -C ev
eq "evidence: the old mirror records" \
	"$(python3 -c 'import json,sys; m=json.load(open("ev/manifest.json")); print([e["sha256"] for e in m["entries"] if e["action"]=="repair_mftmirr"][0])')" \
	"$stale_sha"
after=$(sha256sum < fix.raw)
run 0 fix --evidence ev2.tar.zst fix.raw
eq "second fix: clean" "$(jget last.json 'r["status"]')" clean
eq "second fix: mirror ok" "$(jget last.json "$v[\"state\"][\"mft_mirror\"]")" ok
eq "second fix wrote nothing" "$(sha256sum < fix.raw)" "$after"
check "second fix: no bundle" test ! -e ev2.tar.zst

# undo puts the file back, keeps the mirror repaired
run 0 undo ev.tar.zst fix.raw
eq "undo: mirror entry kept" \
	"$(jget last.json '[u["status"] for u in r["undo"] if u["action"]=="repair_mftmirr"][0]')" kept
check "undo: ntfsfix -n passes" ntfsfix -n fix.raw
run 1 scan fix.raw
eq "after undo: the file is back (scan finds it)" "$(jget last.json "$v[\"installs\"][0][\"findings\"][0][\"action\"]")" would_quarantine
rm -f fix.raw

# only the mirror is wrong (nothing else to do): fix repairs it and says so
cp clean.raw only.raw
mkdir -p mnt && ntfs-3g only.raw mnt && rm -f mnt/Windows/System32/drivers/CrowdStrike/*.sys && umount mnt
python3 mirr.py put only.raw 0 mirror0.before
run 1 scan only.raw
eq "mirror only: scan needs attention" "$(jget last.json 'r["status"]')" needs_attention
run 0 fix --evidence ev3.tar.zst only.raw
eq "mirror only: fixed" "$(jget last.json 'r["status"]')" fixed
check "mirror only: ntfsfix -n passes" ntfsfix -n only.raw
rm -f only.raw

# a $MFT record that fails its own check is never copied over the mirror
cp vol.raw bad.raw
python3 mirr.py breakfix bad.raw 1
before=$(sha256sum < bad.raw)
run 2 scan bad.raw
check "damaged: says so and names chkdsk" grep -q 'MFT record 1 fails its update-sequence check.*chkdsk' last.json
run 2 fix --evidence ev4.tar.zst bad.raw
eq "damaged: nothing written" "$(sha256sum < bad.raw)" "$before"
check "damaged: no bundle" test ! -e ev4.tar.zst
done_tests
