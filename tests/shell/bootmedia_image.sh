#!/usr/bin/env bash
# The built boot media, inspected without booting (seconds): the stick
# image's FAT32 passes `fsck.fat -n` with no difference between the boot
# sector and its backup (syslinux writes only the first; build.sh copies it),
# its serial is not mkfs.fat --invariant's 1234-ABCD (every stick had that
# one) and is also the MBR disk ID; the stick and the ISO's EFI image have
# \EFI\debian, so Debian's signed GRUB does not search for /.disk/info (it
# printed "error: no such device: /.disk/info." on every UEFI boot).
# Media: $LB_BOOT_MEDIA, else $LB_BUILD/bootmedia, else the boot tests' copy;
# skipped when none is built (bootmedia/build.sh).
. "$(dirname "$0")/lib.bash"

M=
for d in "${LB_BOOT_MEDIA:-}" "$LB_BUILD/bootmedia" "$LB_BUILD/tests-work/boot/media"; do
	[ -n "$d" ] && [ -f "$d/loopbreaker-usb.img" ] && { M=$d; break; }
done
[ -n "$M" ] || skip_test "no boot media built (bootmedia/build.sh OUTDIR, then LB_BOOT_MEDIA=OUTDIR)"
for t in fsck.fat minfo mdir sfdisk xorriso; do
	command -v $t > /dev/null || skip_test "$t not installed (scripts/packages/bootmedia.txt)"
done
export MTOOLS_SKIP_CHECK=1
echo "media: $M"

# the FAT32 partition of the stick (from 1 MiB, as build.sh makes it)
dd if="$M/loopbreaker-usb.img" of=stick.part bs=1M skip=1 conv=sparse status=none
rc=0; fsck.fat -n stick.part > fsck.out 2>&1 || rc=$?
eq "stick: fsck.fat -n exit" "$rc" 0
# fsck.fat -n exits 0 even when the backup boot sector differs: read what it says
check "stick: boot sector and its backup agree (fsck.fat -n)" bash -c "! grep -qi 'differ' fsck.out"
check "stick: fsck.fat -n found nothing to fix" bash -c "! grep -qiE 'fix|error|dirty|wrong' fsck.out"
serial=$(minfo -i stick.part :: | sed -n 's/.*serial number: *\([0-9A-Fa-f]*\).*/\1/p' | tr a-f A-F)
check "stick: FAT serial read ($serial)" test -n "$serial"
check "stick: FAT serial is not mkfs.fat --invariant's 1234-ABCD" test "$serial" != 1234ABCD
eq "stick: MBR disk ID is the FAT serial" "$(sfdisk --disk-id "$M/loopbreaker-usb.img" | tr a-f A-F | sed s/^0X/0x/)" "0x$serial"
check "stick: \\EFI\\debian present (no /.disk/info search)" mdir -i stick.part ::EFI/debian
check "stick: boot menu next to GRUB" mdir -i stick.part ::EFI/BOOT/grub.cfg
# why the folder matters: the signed GRUB's built-in config searches for
# /.disk/info only when its prefix, /EFI/debian, does not exist
mcopy -n -i stick.part ::EFI/BOOT/grubx64.efi grubx64.efi
check "GRUB's built-in config: prefix /EFI/debian" grep -qa '/EFI/debian' grubx64.efi
check "GRUB's built-in config: /.disk/info searched only without the prefix" \
	grep -qa 'if \[ -z "$prefix" -o ! -e "$prefix" \]; then' grubx64.efi

# the ISO's El Torito EFI image: the same folder, its own serial, clean
xorriso -osirrox on -indev "$M/loopbreaker.iso" -extract /efiboot.img efi.img > /dev/null 2>&1
chmod u+w efi.img
rc=0; fsck.fat -n efi.img > fsck-efi.out 2>&1 || rc=$?
eq "iso efi image: fsck.fat -n exit" "$rc" 0
check "iso efi image: fsck.fat -n clean" bash -c "! grep -qi 'differ' fsck-efi.out"
eserial=$(minfo -i efi.img :: | sed -n 's/.*serial number: *\([0-9A-Fa-f]*\).*/\1/p' | tr a-f A-F)
check "iso efi image: serial is not 1234-ABCD ($eserial)" test -n "$eserial" -a "$eserial" != 1234ABCD
check "iso efi image: serial differs from the stick's" test "$eserial" != "$serial"
check "iso efi image: \\EFI\\debian present" mdir -i efi.img ::EFI/debian

rm -f stick.part efi.img grubx64.efi
done_tests
