#!/usr/bin/env bash
# One owner per target (issue 11): a fix holds every target from plan to
# the end of apply, and a second writer is refused with who holds it.
#
# Image files: two really concurrent fixes (the first, loopbreaker-test with
# LB_TEST_HOLD, pauses after it has claimed the image, planned and written
# its bundle, when it opens the volume for writing), a scan during the fix,
# flock holders other than loopbreaker, an image mounted by ntfs-3g (fcntl
# lock).  Block devices (loop devices, root): a disk whose partition is
# mounted (ntfs-3g, fuseblk: the kernel holds the partition) refuses fix on
# the image file, on /dev/loopN and on the partition, naming the mount; a fix
# in progress on /dev/loopN refuses the image and the partition, naming its
# pid; a bare NTFS partition on a block device (/dev/loopNpM, and a loop
# device over the partition's byte range) is fixed like the same bytes in a
# file; a block device cut short says "truncated".  Containers: VDI, QED and
# Parallels images are refused by name; a partition image cut short says
# "truncated" with both sizes.
#
# Without loop devices the image-file checks still run, then the test is
# skipped (77) with the reason.  Every loop device and mount made here is
# removed on exit, failing or not.
. "$(dirname "$0")/lib.bash"

[ "$(id -u)" = 0 ] || skip_test "needs root (ntfs-3g set-up, loop devices)"
LOOPS=()
MOUNTS=()
HOLDPIDS=()
cleanup() {
	local m l p
	for p in "${HOLDPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -f "$WORK"/hold*
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT

BAD='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
HOLD_FI=(--fault-inject cut:1000000000)   # a fault layer that never faults
# start_held NAME ARGS...: loopbreaker-test fix ARGS in the background,
# paused once it owns its targets and opens a volume for writing; sets HELD
# (its pid, as written by the process itself)
start_held() {
	local name=$1; shift
	rm -f "hold-$name"
	LB_TEST_HOLD="$WORK/hold-$name" "$LBT" fix "${HOLD_FI[@]}" "$@" > "held-$name.out" 2>&1 &
	HOLDPIDS+=($!)
	for _ in $(seq 300); do [ -s "hold-$name" ] && break; sleep 0.1; done
	HELD=$(cat "hold-$name" 2>/dev/null || echo none)
	eq "$name: held fix is the background process" "$HELD" "${HOLDPIDS[-1]}"
}
# release NAME: let the held fix go on, wait for it; sets HELD_RC
release() {
	rm -f "hold-$1"
	HELD_RC=0
	wait "${HOLDPIDS[-1]}" || HELD_RC=$?
	unset 'HOLDPIDS[-1]'
}
# refused NAME WANT-REGEX ARGS...: loopbreaker ARGS must be refused (exit 1,
# target needs_attention, no bundle) with a message matching WANT-REGEX
refused() {
	local name=$1 want=$2; shift 2
	rm -f ev-refused.tar.zst
	run 1 "$@"
	eq "$name: target status" "$(jget last.json 'r["targets"][0]["status"]')" needs_attention
	local msg
	msg=$(jget last.json 'r["targets"][0]["error"]')
	T_CHECKS=$((T_CHECKS + 1))
	[[ $msg =~ $want ]] || fail "$name: message '$msg' does not match /$want/"
	check "$name: no bundle" test ! -e ev-refused.tar.zst
	# the summary says NEEDS ATTENTION and the reason
	"$LB" "$@" > sum.out 2>&1 || true
	check "$name: summary" grep -q "NEEDS ATTENTION: in use\|NEEDS ATTENTION: being written" sum.out
}
where() { # where IMAGE-OR-DEVICE: orig or quarantine (the bad file)
	if ntfscat "$1" "$BAD" > /dev/null 2>&1; then echo orig; else echo gone; fi
}

# ---- image files ---------------------------------------------------------
small_windows_volume vol.img
cp --sparse=always vol.img vol-pristine.img

# two concurrent fixes on one image
start_held img vol.img --evidence ev-held.tar.zst
before=$(sha256sum < vol.img)
refused "second fix" "pid $HELD \\(loopbreaker-tes[a-z]*\\) holds a lock on it" \
	fix --evidence ev-refused.tar.zst vol.img
refused "scan during fix" "being written: pid $HELD .*not scanned" scan vol.img
# the other targets of the run go on
cp --sparse=always vol-pristine.img other.img
"$LB" fix --json --evidence ev-other.tar.zst vol.img other.img > two.json 2>/dev/null || true
eq "two targets: the held one refused" "$(jget two.json 'r["targets"][0]["status"]')" needs_attention
eq "two targets: the other fixed" "$(jget two.json 'r["targets"][1]["status"]')" fixed
eq "two targets: exit" "$(jget two.json 'r["exit_code"]')" 1
eq "refused fixes wrote nothing" "$(sha256sum < vol.img)" "$before"
release img
eq "held fix finished" "$HELD_RC" 0
check "held fix fixed" grep -q "RESULT: FIXED" held-img.out
eq "bad file moved by the held fix" "$(where vol.img)" gone
run 0 fix --evidence ev-again.tar.zst vol.img
check "second fix afterwards: nothing to do" test ! -e ev-again.tar.zst

# any flock holder (here python3): a shared one (a scan) refuses fix, not scan
cp --sparse=always vol-pristine.img fl.img
lockpy='import fcntl, sys, time; f = open(sys.argv[2]); fcntl.flock(f, getattr(fcntl, sys.argv[1])); open(sys.argv[2] + ".locked", "w"); time.sleep(60)'
hold_flock() { # LOCK_SH|LOCK_EX FILE: sets FPID
	rm -f "$2.locked"
	python3 -c "$lockpy" "$1" "$2" & FPID=$!; HOLDPIDS+=($FPID)
	for _ in $(seq 100); do [ -e "$2.locked" ] && break; sleep 0.05; done
}
drop_flock() { kill "$FPID"; wait "$FPID" 2>/dev/null || true; unset 'HOLDPIDS[-1]'; }
hold_flock LOCK_SH fl.img
refused "fix under a shared flock" "pid $FPID \\(python3\\) holds a lock on it" \
	fix --evidence ev-refused.tar.zst fl.img
run 1 scan fl.img
eq "scan under a shared flock runs" "$(jget last.json 'r["targets"][0]["status"]')" needs_attention
eq "scan under a shared flock: no error" "$(jget last.json 'r["targets"][0]["error"]')" None
drop_flock
hold_flock LOCK_EX fl.img
refused "scan under an exclusive flock" "being written: pid $FPID \\(python3\\)" scan fl.img
drop_flock

# an image mounted by ntfs-3g (no flock, and its fcntl lock is lost when it
# daemonises: it is the process that has the image open for writing)
mkdir -p m-img
if ntfs-3g fl.img m-img 2>/dev/null; then
	MOUNTS+=("$WORK/m-img")
	pid=$(pgrep -f -n "ntfs-3g fl.img" || echo none)
	refused "fix of an ntfs-3g-mounted image" "pid $pid \\(ntfs-3g\\) has it open for writing" \
		fix --evidence ev-refused.tar.zst fl.img
	umount m-img
else
	fail "ntfs-3g mount of an image"
fi

# containers, by content: served by a private qemu-nbd under their format
# name (tests/shell/vmformats.sh fixes them); one QEMU cannot open is refused
# naming the format, and nothing is written
if command -v qemu-img > /dev/null; then
	for f in vdi:VDI qed:QED parallels:Parallels; do
		fmt=${f%%:*}
		qemu-img convert -O "$fmt" vol-pristine.img "c.$fmt" 2>/dev/null || fail "qemu-img -O $fmt"
		"$LB" scan --json "c.$fmt" > last.json 2> last.err || true
		eq "$fmt: opened as $fmt" "$(jget last.json 'r["targets"][0]["format"]')" "$fmt"
		rm -f "c.$fmt"
	done
	qemu-img convert -O qcow2 vol-pristine.img c.qcow2
	printf '\x00\x00\x00\x63' | dd of=c.qcow2 bs=1 seek=4 conv=notrunc status=none # version 99
	before=$(sha256sum < c.qcow2)
	run 2 fix --evidence ev-refused.tar.zst c.qcow2
	msg=$(jget last.json 'r["targets"][0]["error"]')
	T_CHECKS=$((T_CHECKS + 1))
	[[ $msg == *"QEMU cannot open this qcow2 image"* ]] || fail "damaged qcow2: message '$msg'"
	check "damaged qcow2: no bundle" test ! -e ev-refused.tar.zst
	eq "damaged qcow2: unchanged" "$(sha256sum < c.qcow2)" "$before"
else
	fail "qemu-img not installed (qemu-utils, scripts/packages/fixtures.txt)"
fi

# a partition image cut short
head -c 30M vol-pristine.img > cut.img
run 2 scan cut.img
msg=$(jget last.json 'r["targets"][0]["volumes"][0]["error"]')
T_CHECKS=$((T_CHECKS + 1))
[[ $msg == *"50331136 bytes"*"31457280 bytes"*truncated* ]] || fail "cut partition image: '$msg'"
before=$(sha256sum < cut.img)
run 2 fix --evidence ev-refused.tar.zst cut.img
eq "cut image not written" "$(sha256sum < cut.img)" "$before"

# ---- block devices ---------------------------------------------------------
if ! command -v losetup > /dev/null || ! losetup -f > /dev/null 2>&1; then
	done_tests || exit 1
	skip_test "image-file checks passed; no loop devices here (losetup -f failed), block-device checks not run"
fi
# disk.img: GPT, p1 a FAT ESP (8 MiB), p2 the Windows volume (48 MiB)
mkfs.vfat -C esp.part 8192 > /dev/null
mkdisk() { # OUT
	truncate -s 60M "$1"
	printf 'label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=18432, size=98304, type=EBD0A0A2-B9E5-4433-87C0-68B6B97DC7C7\n' |
		sfdisk -q "$1"
	dd if=esp.part of="$1" bs=512 seek=2048 conv=notrunc,sparse status=none
	dd if=vol-pristine.img of="$1" bs=512 seek=18432 conv=notrunc,sparse status=none
}
# attach FILE [losetup options]: sets DEV; with -P makes sure the partition
# nodes exist (no udev here: partx, then mknod from sysfs)
attach() {
	local f=$1; shift
	DEV=$(losetup -f --show "$@" "$f") || { fail "losetup $* $f"; return 1; }
	LOOPS+=("$DEV")
	if [[ " $* " == *" -P "* ]]; then
		local n=${DEV#/dev/} p
		[ -e "/sys/block/$n/${n}p2" ] || partx -a "$DEV" 2>/dev/null || true
		for p in 1 2; do
			[ -e "/sys/block/$n/${n}p$p" ] || { fail "no partition $p on $DEV"; return 1; }
			[ -b "${DEV}p$p" ] || mknod "${DEV}p$p" b $(tr ':' ' ' < "/sys/block/$n/${n}p$p/dev")
		done
	fi
}
detach() { losetup -d "$1"; LOOPS=("${LOOPS[@]/$1}"); }

mkdisk disk.img
attach disk.img -P || { done_tests; exit 1; }
D=$DEV

# a mounted partition: fix on the image, the disk and the partition refused
mkdir -p m-part
ntfs-3g "${D}p2" m-part && MOUNTS+=("$WORK/m-part") || fail "ntfs-3g mount of ${D}p2"
mp="$WORK/m-part"
refused "image of a disk with a mounted partition" \
	"attached as $D, and ${D}p2 is mounted on $mp" fix --evidence ev-refused.tar.zst disk.img
refused "disk with a mounted partition" "${D}p2 is mounted on $mp" \
	fix --evidence ev-refused.tar.zst "$D"
refused "mounted partition" "${D}p2 is mounted on $mp" fix --evidence ev-refused.tar.zst "${D}p2"
umount m-part
eq "mounted: bad file left in place" "$(where "${D}p2")" orig

# a fix in progress on the disk device: the image, the device and its
# partition are refused, naming its pid
start_held dev "$D" --evidence ev-dev.tar.zst
refused "image of a disk being fixed" "pid $HELD \\(loopbreaker-tes[a-z]*\\) holds a lock on it" \
	fix --evidence ev-refused.tar.zst disk.img
refused "disk being fixed" "pid $HELD .*its backing file" fix --evidence ev-refused.tar.zst "$D"
refused "partition of a disk being fixed" "pid $HELD \\(loopbreaker-tes[a-z]*\\)" \
	fix --evidence ev-refused.tar.zst "${D}p2"
release dev
eq "held device fix finished" "$HELD_RC" 0
eq "device fix moved the bad file" "$(where "${D}p2")" gone
detach "$D"

# a bare NTFS partition on a block device: the partition node...
mkdisk disk2.img
attach disk2.img -P || { done_tests; exit 1; }
run 0 fix --evidence ev-part.tar.zst "${DEV}p2"
eq "partition node: one bare volume" "$(jget last.json 'r["targets"][0]["partition_table"]')" None
eq "partition node: type" "$(jget last.json 'r["targets"][0]["type"]')" block
eq "partition node: fixed" "$(jget last.json 'r["status"]')" fixed
eq "partition node: bad file moved" "$(where "${DEV}p2")" gone
check "partition node: ntfsfix -n" ntfsfix -n "${DEV}p2"
detach "$DEV"
# ...and a loop device over the partition's bytes (no partition table seen)
mkdisk disk3.img
attach disk3.img -o $((18432 * 512)) --sizelimit $((98304 * 512)) || { done_tests; exit 1; }
run 1 scan "$DEV"
eq "offset loop: scan" "$(jget last.json 'r["targets"][0]["volumes"][0]["filesystem"]')" ntfs
run 0 fix --evidence ev-off.tar.zst "$DEV"
eq "offset loop: fixed" "$(jget last.json 'r["status"]')" fixed
eq "offset loop: bad file moved" "$(where "$DEV")" gone
detach "$DEV"

# a block device cut short: a loop over the first 20 MiB of the partition
attach disk3.img -o $((18432 * 512)) --sizelimit 20971520 || { done_tests; exit 1; }
run 2 scan "$DEV"
msg=$(jget last.json 'r["targets"][0]["volumes"][0]["error"]')
T_CHECKS=$((T_CHECKS + 1))
[[ $msg == *"50331136 bytes"*"20971520 bytes"*truncated* ]] || fail "cut block device: '$msg'"
detach "$DEV"

done_tests
