#!/usr/bin/env bash
# Unclean NTFS journal on a Windows-made volume whose $LogFile holds real
# log records: scan reads it; fix refuses (exit 1, nothing written);
# --replay-journal replays with ntfsrecover then fixes; --discard-journal
# resets and fixes; a v2.0 (Windows 8+ fast-restart) journal is refused by
# ntfsrecover and reported, not written.
. "$(dirname "$0")/lib.bash"

windows_made_volume vol.raw
# make the journal unclean: clear RESTART_VOLUME_IS_CLEAN in both restart
# pages (the client stays in use), optionally mark them v2.0
python3 - vol.raw <<'PY'
import shutil, struct, subprocess, sys, re
img = sys.argv[1]
info = subprocess.run(["ntfsinfo", "-i", "2", "-v", img], capture_output=True, text=True).stdout
lcn = int(re.search(r"0x0\s+(0x[0-9a-f]+)\s+0x", info).group(1), 16)
off = lcn * 4096
for name, v2 in (("j11.raw", False), ("j20.raw", True)):
    subprocess.run(["cp", "--sparse=always", img, name], check=True)
    with open(name, "r+b") as f:
        for page in (0, 4096):
            f.seek(off + page)
            p = bytearray(f.read(4096))
            assert p[:4] == b"RSTR"
            ra = struct.unpack_from("<H", p, 0x18)[0]
            struct.pack_into("<H", p, ra + 0x0e, 0)
            if v2:
                struct.pack_into("<hh", p, 0x1a, 0, 2)
            f.seek(off + page)
            f.write(p)
PY

for j in j11 j20; do
	before=$(sha256sum < $j.raw)
	run 1 scan $j.raw
	eq "$j scan journal" "$(jget last.json 'r["targets"][0]["volumes"][0]["state"]["journal"]')" unclean
	eq "$j scan verdict" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
	run 1 fix --evidence $j-refused.tar.zst $j.raw
	eq "$j refused status" "$(jget last.json 'r["status"]')" needs_attention
	eq "$j refused action" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" refused
	check "$j refused reason names the options" grep -q -- '--replay-journal' last.json
	eq "$j untouched" "$(sha256sum < $j.raw)" "$before"

	cp $j.raw $j-discard.raw
	run 0 fix --discard-journal --evidence $j-discard.tar.zst $j-discard.raw
	eq "$j discard status" "$(jget last.json 'r["status"]')" fixed
	run 0 scan $j-discard.raw
	eq "$j discard journal now" "$(jget last.json 'r["targets"][0]["volumes"][0]["state"]["journal"]')" clean
	check "$j discard ntfsfix" ntfsfix -n $j-discard.raw
done

cp j11.raw j11-replay.raw
run 0 fix --replay-journal --evidence j11-replay.tar.zst j11-replay.raw
eq "v1.1 replay status" "$(jget last.json 'r["status"]')" fixed
eq "v1.1 replayed" "$(jget last.json 'r["targets"][0]["volumes"][0]["state"].get("journal_replayed")')" True
# A replay, not a no-op or a reset: ntfsrecover run by hand on a copy
# (it redoes 2 actions of this journal) leaves the $LogFile restart pages
# exactly as the fix did, and those differ from both the unclean original
# and what --discard-journal leaves.
logfile_off=$(( $(ntfsinfo -i 2 -v j11.raw | awk '/Runlist:/ {getline; print $2; exit}') * 4096 ))
restart() { dd if="$1" bs=4096 skip=$((logfile_off / 4096)) count=2 status=none | sha256sum; }
cp --sparse=always j11.raw j11-ref.raw
ntfsrecover j11-ref.raw > ntfsrecover.out 2>&1 || fail "ntfsrecover by hand: $(tail -1 ntfsrecover.out)"
check "ntfsrecover by hand redid actions" grep -qE "after playing [1-9][0-9]* actions" ntfsrecover.out
eq "v1.1 replay: restart pages as ntfsrecover leaves them" "$(restart j11-replay.raw)" "$(restart j11-ref.raw)"
check "v1.1 replay: restart pages changed" test "$(restart j11-replay.raw)" != "$(restart j11.raw)"
check "v1.1 replay differs from a journal reset" test "$(restart j11-replay.raw)" != "$(restart j11-discard.raw)"
check "v1.1 replay ntfsfix" ntfsfix -n j11-replay.raw
run 0 scan j11-replay.raw
eq "v1.1 replay then clean" "$(jget last.json 'r["status"]')" clean

cp j20.raw j20-replay.raw
before=$(sha256sum < j20-replay.raw)
run 1 fix --replay-journal --evidence j20-replay.tar.zst j20-replay.raw
eq "v2.0 replay refused" "$(jget last.json 'r["status"]')" needs_attention
check "v2.0 reason from ntfsrecover" grep -q 'ntfsrecover failed' last.json
eq "v2.0 untouched" "$(sha256sum < j20-replay.raw)" "$before"

done_tests
