#!/usr/bin/env bash
# The memory promise of issue 14: on a disk whose SOFTWARE hive is over
# 150 MiB, `scan` and `fix` stay at or below 64 MiB peak RSS, and the report
# still has the right hostname, MachineGuid, product name and hive status.
# The identity reads SYSTEM and SOFTWARE straight off NTFS with the lazy
# reader (recover/registry/lb_regf_read.h) after a streamed bin/cell check:
# no copy of a whole hive (hivex would map and walk all of it).
#
# The SOFTWARE hive is made by lb-mkhive (hivex underneath) from a spec
# piped to it: the identity values, then LB_RSS_VALUES (176) keys under
# a throwaway key, each with one REG_BINARY value of 900000 bytes (hivex
# allocates at most 1 MB a cell), about 151 MiB in all.  Peak RSS from GNU
# time (-v, "Maximum resident set size").  Skipped (77) under ASan (its
# shadow memory is not the program's) and without GNU time, FUSE or root.
. "$(dirname "$0")/lib.bash"

limit_kb=${LB_RSS_LIMIT_KB:-65536}  # 64 MiB
min_hive=$((150 * 1024 * 1024))
values=${LB_RSS_VALUES:-176}

[ -x /usr/bin/time ] || skip_test "GNU time not installed (Debian package time)"
[ -x "$LB_BUILD/lb-mkhive" ] || skip_test "no $LB_BUILD/lb-mkhive"
[ "$(id -u)" = 0 ] || skip_test "needs root (the image is filled through an ntfs-3g FUSE mount)"
if [[ "$(ldd "$LB")" == *libasan* ]]; then
	skip_test "an AddressSanitizer build: its RSS is not the program's (the normal build runs this test)"
fi

# ---- the big SOFTWARE hive
guid=0b0e5a8e-4f1e-4b8c-9d2a-150150150150
python3 - "$values" <<'PY' | "$LB_BUILD/lb-mkhive" SOFTWARE.big - || fail "lb-mkhive could not make the big hive"
import sys
n = int(sys.argv[1])
w = sys.stdout.write
w('[Microsoft\\Windows NT\\CurrentVersion]\n"ProductName"=sz:Windows 11 Enterprise\n'
  '"EditionID"=sz:Enterprise\n"CurrentBuild"=sz:22631\n"DisplayVersion"=sz:23H2\n'
  '"UBR"=dword:3880\n')
w('[Microsoft\\Cryptography]\n"MachineGuid"=sz:0b0e5a8e-4f1e-4b8c-9d2a-150150150150\n')
w('[Microsoft\\Windows\\CurrentVersion\\Uninstall\\{5c2a55c4-1111-2222-3333-444455556666}]\n'
  '"DisplayName"=sz:CrowdStrike Windows Sensor\n"DisplayVersion"=sz:7.16.18605.0\n')
blob = ",".join(["5a"] * 900000)
for i in range(n):
    w('[Bloat\\K%03d]\n"Blob"=hex:%s\n' % (i, blob))
PY
size=$(stat -c %s SOFTWARE.big)
check "the SOFTWARE hive is over 150 MiB ($size bytes)" test "$size" -ge "$min_hive"

# ---- the disk: one install with the bad channel file, SOFTWARE replaced
cat > disk.spec <<SPEC
table gpt
ntfs size=420M label=Windows
install \\Windows hostname=RSS-0150
channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:09:00Z
file \\Windows\\System32\\config\\SOFTWARE from=$WORK/SOFTWARE.big
SPEC
LB_BUILD=$LB_BUILD python3 "$LB_SOURCE/scripts/mkimage.py" disk.spec disk.img > /dev/null
rm -f SOFTWARE.big

rss_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
inst='r["targets"][0]["volumes"][0]["installs"][0]'
# measured MODE EXPECTED_EXIT ARGS...: runs loopbreaker under GNU time
measured() {
	local mode=$1 want=$2 got=0; shift 2
	/usr/bin/time -v -o "$mode.time" "$LB" "$mode" "$@" --json > "$mode.json" 2> "$mode.err" || got=$?
	eq "$mode: exit" "$got" "$want"
	[ "$got" = "$want" ] || cat "$mode.err" >&2
	local kb; kb=$(rss_kb "$mode.time")
	echo "$mode: peak RSS $kb KiB (limit $limit_kb), $(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$mode.time") wall"
	check "$mode: peak RSS $kb KiB <= $limit_kb KiB" test "${kb:-999999999}" -le "$limit_kb"
	eq "$mode: hostname" "$(jget "$mode.json" "$inst[\"hostname\"]")" RSS-0150
	eq "$mode: MachineGuid" "$(jget "$mode.json" "$inst[\"machine_guid\"]")" "$guid"
	eq "$mode: product" "$(jget "$mode.json" "$inst[\"product_name\"]")" "Windows 11 Enterprise"
	eq "$mode: build" "$(jget "$mode.json" "$inst[\"build\"]")" 22631
	eq "$mode: sensor version" "$(jget "$mode.json" "$inst[\"sensor\"][\"version\"]")" 7.16.18605.0
	eq "$mode: SOFTWARE ok" "$(jget "$mode.json" "$inst[\"hives\"][\"software\"][\"ok\"]")" True
	eq "$mode: SYSTEM ok" "$(jget "$mode.json" "$inst[\"hives\"][\"system\"][\"ok\"]")" True
}
measured scan 1 disk.img
measured fix 0 --evidence ev.tar.zst disk.img
eq "fix: fixed" "$(jget fix.json 'r["status"]')" fixed
done_tests
