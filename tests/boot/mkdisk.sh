#!/usr/bin/env bash
# mkdisk.sh OUT.img: a broken Windows disk for the boot tests.
# With scripts/mkimage.py and $LB_BUILD/lb-mkhive: tests/boot/windows.spec (ESP,
# MSR, Windows; hostname WKS-BOOT-01).  Otherwise (or LB_BOOT_SIMPLE_DISK=1) a
# minimal one made here: GPT, one NTFS partition (mkntfs on a partition file,
# filled through an ntfs-3g FUSE mount, then copied into place) holding a real
# SYSTEM hive (hostname WKS-WIN732BITA) and the bad channel file of 2024-07-19.
set -euo pipefail
out=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
LB_BUILD=${LB_BUILD:-$src/build}
if [ "${LB_BOOT_SIMPLE_DISK:-0}" != 1 ] && [ -f "$src/scripts/mkimage.py" ] && [ -x "$LB_BUILD/lb-mkhive" ]; then
	rm -f "$out"
	LB_BUILD=$LB_BUILD python3 "$src/scripts/mkimage.py" "$src/tests/boot/windows.spec" "$out" >/dev/null
	exit 0
fi
data=${LB_SHARED_DATA:-$src/../shared/data}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lb-mkdisk.XXXXXX")
trap 'mountpoint -q "$tmp/mnt" && umount "$tmp/mnt"; rm -rf "$tmp"' EXIT
size_mib=64
rm -f "$out"
truncate -s ${size_mib}M "$out"
start=2048
end=$(( (size_mib - 1) * 2048 - 1 ))
sgdisk -o -n 1:$start:$end -t 1:0700 -c 1:"Basic data partition" "$out" >/dev/null 2>&1
truncate -s $(( (end - start + 1) * 512 )) "$tmp/part"
mkntfs -F -Q -q -L Windows -s 512 -p "$start" -H 255 -S 63 "$tmp/part" 2>/dev/null
mkdir "$tmp/mnt"
ntfs-3g "$tmp/part" "$tmp/mnt"
mkdir -p "$tmp/mnt/Windows/System32/config" "$tmp/mnt/Windows/System32/drivers/CrowdStrike"
xz -dc "$data/hives/SYSTEM.xz" > "$tmp/mnt/Windows/System32/config/SYSTEM"
f=$tmp/mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 40952 /dev/urandom; } > "$f"
touch -d '2024-07-19 04:30 UTC' "$f"
umount "$tmp/mnt"
dd if="$tmp/part" of="$out" bs=512 seek="$start" conv=notrunc,sparse status=none
