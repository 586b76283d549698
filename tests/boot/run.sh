#!/usr/bin/env bash
# Boot tests: the real boot media under QEMU (TCG), each fixing a broken
# Windows disk unattended and powering the VM off by itself.
#
#   bash tests/boot/run.sh [TEST...]   default: usb-uefi pxe-uefi usb-bios iso-uefi pxe-bios scan-direct
#                                                upload-direct nodisk-direct ipxe-uefi
#
# Env: LB_BUILD (build dir with loopbreaker, default <repo>/build),
#      LB_BOOT_MEDIA (reuse built media instead of running bootmedia/build.sh),
#      LB_BOOT_TIMEOUT (seconds per VM, default 150).
# Results and logs: $LB_BUILD/tests-work/boot/; timings in timings.txt.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
LB_BUILD=$(realpath -m "${LB_BUILD:-$src/build}")
LB=$LB_BUILD/loopbreaker
W=$LB_BUILD/tests-work/boot
TMO=${LB_BOOT_TIMEOUT:-150}
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
OVMF_CODE_PLAIN=/usr/share/OVMF/OVMF_CODE_4M.fd   # no Secure Boot: iPXE is not signed
OVMF_VARS_PLAIN=/usr/share/OVMF/OVMF_VARS_4M.fd
export MTOOLS_SKIP_CHECK=1
tests=${*:-usb-uefi pxe-uefi usb-bios iso-uefi pxe-bios scan-direct upload-direct nodisk-direct ipxe-uefi}
rm -rf "$W" && mkdir -p "$W"
T_CHECKS=0 T_FAILS=0
fail() { echo "FAIL: $*" >&2; T_FAILS=$((T_FAILS + 1)); }
ok() { T_CHECKS=$((T_CHECKS + 1)); echo "  ok: $*"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@" >/dev/null 2>&1; then echo "  ok: $d"; else fail "$d"; fi
}
eq() { T_CHECKS=$((T_CHECKS + 1)); if [ "$2" = "$3" ]; then echo "  ok: $1 = $3"; else fail "$1: got '$2', expected '$3'"; fi; }
jget() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

for t in qemu-system-x86_64 mcopy sgdisk mkntfs ntfs-3g python3; do
	command -v $t >/dev/null || { echo "boot tests: $t missing (scripts/install-deps.sh)"; exit 1; }
done
[ -f "$OVMF_CODE" ] || { echo "boot tests: $OVMF_CODE missing (ovmf)"; exit 1; }
[ -x "$LB" ] || { echo "boot tests: $LB missing"; exit 1; }

# ------------------------------------------------------------- media
start_all=$(date +%s)
if [ -n "${LB_BOOT_MEDIA:-}" ]; then
	M=$(realpath "$LB_BOOT_MEDIA")
else
	M=$W/media
	t0=$(date +%s)
	LB_KEEP_UNPACKED=${LB_KEEP_WORK:-0} LB_BUILD=$LB_BUILD bash "$src/bootmedia/build.sh" "$M"
	echo "build $(( $(date +%s) - t0 )) s" > "$W/timings.txt"
fi
cp "$M/sizes.txt" "$W/sizes.txt"

# the media's initramfs without booting: loopbreaker in a chroot of it, where
# libraries are stubs (BitLocker unlock, upload over http/https, refusals;
# tests/shell/bootmedia_initramfs.sh).  Skipped there without root or data.
# (LB_BOOT_NO_CHROOT=1: only the VMs, for bench/boot.sh's timing runs)
rc=0
if [ "${LB_BOOT_NO_CHROOT:-0}" = 1 ]; then rc=no
else LB_BOOT_MEDIA=$M LB_BUILD=$LB_BUILD bash "$src/tests/shell/bootmedia_initramfs.sh" > "$W/initramfs-chroot.log" 2>&1 || rc=$?
fi
case $rc in
no) echo "  skip: initramfs in a chroot (LB_BOOT_NO_CHROOT=1)" ;;
0) ok "initramfs in a chroot: $(tail -n 1 "$W/initramfs-chroot.log")" ;;
77) echo "  skip: initramfs in a chroot: $(grep -m1 SKIP "$W/initramfs-chroot.log")" ;;
*) fail "initramfs in a chroot (exit $rc, $W/initramfs-chroot.log)"; grep FAIL "$W/initramfs-chroot.log" >&2 || true ;;
esac

# qemu_run NAME ARGS...: runs a VM with serial console to NAME.serial, bounded
# by TMO; returns 0 only if the guest powered itself off in time.
qemu_run() {
	local name=$1; shift
	local t0 rc=0
	rm -f "$W/$name.serial" "$W/$name.marks"
	t0=$(date +%s.%N)
	python3 "$src/tests/boot/marks.py" "$W/$name.serial" "$W/$name.marks" &
	local mpid=$!
	timeout --kill-after=5 "$TMO" qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -nodefaults \
		-display none -monitor "${QEMU_MONITOR:-none}" -no-reboot -serial "file:$W/$name.serial" "$@" \
		> "$W/$name.qemu.log" 2>&1 || rc=$?
	WALL=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || python3 -c "print(round($(date +%s.%N) - $t0, 1))")
	WALL=$(printf '%.1f' "$WALL")
	kill "$mpid" 2>/dev/null || true
	wait "$mpid" 2>/dev/null || true
	MARKS=$(tr '\n' ' ' < "$W/$name.marks" 2>/dev/null)
	return $rc
}
uefi_sb() { # firmware args: OVMF with Secure Boot on and Microsoft keys enrolled
	cp "$OVMF_VARS" "$W/$1.vars.fd"
	echo -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
		-global ICH9-LPC.disable_s3=1 \
		-drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE \
		-drive if=pflash,format=raw,unit=1,file=$W/$1.vars.fd
}
# edit the stick's config (FAT partition at 1 MiB of a .img) for an unattended test
stick_config() { # IMG KEY=VALUE...  (and no boot-menu wait)
	local img=$1; shift
	mcopy -n -i "$img@@1048576" ::EFI/BOOT/grub.cfg "$W/grub.tmp"
	sed -i 's/^set timeout=.*/set timeout=0/' "$W/grub.tmp"
	mcopy -o -i "$img@@1048576" "$W/grub.tmp" ::EFI/BOOT/grub.cfg
	mcopy -n -i "$img@@1048576" ::syslinux/syslinux.cfg "$W/sysl.tmp"
	sed -i 's/^TIMEOUT .*/TIMEOUT 1/' "$W/sysl.tmp"
	mcopy -o -i "$img@@1048576" "$W/sysl.tmp" ::syslinux/syslinux.cfg
	mcopy -n -i "$img@@1048576" ::loopbreaker/config "$W/config.tmp"
	for kv in "$@"; do
		sed -i "/^${kv%%=*} *=/d" "$W/config.tmp"; echo "${kv%%=*} = ${kv#*=}" >> "$W/config.tmp"
	done
	mcopy -o -i "$img@@1048576" "$W/config.tmp" ::loopbreaker/config
}
serial_report() { # the JSON report the guest printed between the markers
	sed -n '/----- BEGIN LOOPBREAKER REPORT -----/,/----- END LOOPBREAKER REPORT -----/p' "$1" |
		sed '1d;$d' | tr -d '\r'
}
# checks common to every boot: powered off (or END), fixed on disk, result on console
after_boot() { # NAME RC DISK [END: "powering off" (default) or "rebooting"]
	local name=$1 rc=$2 disk=$3 s=$W/$1.serial end=${4:-powering off}
	eq "$name: VM ended by itself, ${end} (qemu exit, timeout $TMO s)" "$rc" 0
	[ "$rc" = 0 ] || { echo "--- last lines of $s:"; tail -40 "$s" | tr -d '\r'; }
	check "$name: /init ran loopbreaker" grep -qE 'loopbreaker: \[[0-9.]+\] running: loopbreaker fix' "$s"
	check "$name: console says $end" grep -qE "loopbreaker: \\[[0-9.]+\\] $end\$" <(tr -d '\r' < "$s")
	check "$name: status screen FIXED for $HOST" grep -qE "RESULT status=fixed exit=0 host=([^ ]*,)?$HOST[, ]" "$s"
	"$LB" scan --json "$disk" > "$W/$name.rescan.json" 2>/dev/null || true
	eq "$name: host rescan of the disk" "$(jget "$W/$name.rescan.json" 'r["status"]')" clean
	check "$name: bad file in \\loopbreaker.quarantine" bash -c \
		"'$LB' ls '$disk' '\\loopbreaker.quarantine' | grep -q ." 
	serial_report "$s" > "$W/$name.console-report.json"
	eq "$name: report on the console" "$(jget "$W/$name.console-report.json" 'r["status"]')" fixed
	local up
	local up scr
	up=$(sed -n 's/.*RESULT .*report_uptime=\([0-9.]*\).*/\1/p' "$s" | tr -d '\r' | head -1)
	scr=$(sed -n 's/.*RESULT .*screen_uptime=\([0-9.]*\).*/\1/p' "$s" | tr -d '\r' | head -1)
	echo "$name: wall ${WALL} s (power-on to ${end#* }), kernel uptime at report ${up:-?} s, at screen ${scr:-?} s" | tee -a "$W/timings.txt"
	echo "$name: power-on to: ${MARKS}(s, wall clock)" | tee -a "$W/timings.txt"
}

# make_disk NAME: NAME.win.img, a broken Windows disk; HOST = its hostname
make_disk() {
	bash "$src/tests/boot/mkdisk.sh" "$W/$1.win.img"
	"$LB" scan --json "$W/$1.win.img" > "$W/$1.before.json" 2>/dev/null || true
	HOST=$(jget "$W/$1.before.json" 'r["hostname"]')
	eq "$1: disk is broken before the boot" "$(jget "$W/$1.before.json" 'r["status"]')" needs_attention
}

# ------------------------------------------------------------- tests
# usb-uefi: the .img as a USB stick (xHCI), Windows disk on NVMe, Secure Boot
t_usb_uefi() {
	echo "== usb-uefi: shim -> grub -> kernel with Secure Boot, stick on USB, Windows on NVMe"
	make_disk usb-uefi
	cp "$M/loopbreaker-usb.img" "$W/usb-uefi.stick.img"
	# the technician's wait: a long delay, and the stick is pulled (QEMU
	# monitor: device_del) once /init waits: it must reboot at once, not
	# power off when the delay is over
	stick_config "$W/usb-uefi.stick.img" delay=60 after=poweroff
	local rc=0 mon=$W/usb-uefi.mon s=$W/usb-uefi.serial
	rm -f "$mon" "$s"
	python3 - "$s" "$mon" "$TMO" > "$W/usb-uefi.pull.log" 2>&1 <<'PY' &
import socket, sys, time
serial, mon, tmo = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + tmo
while time.time() < end:
    try:
        if b'watching the stick' in open(serial, 'rb').read():
            break
    except OSError:
        pass
    time.sleep(0.2)
else:
    sys.exit('no "watching the stick" line')
m = socket.socket(socket.AF_UNIX)
m.connect(mon)
m.sendall(b'device_del stickdev\n')
print('device_del stickdev sent', flush=True)
time.sleep(1)
PY
	local ppid=$!
	QEMU_MONITOR="unix:$mon,server,nowait" qemu_run usb-uefi $(uefi_sb usb-uefi) -net none \
		-device qemu-xhci,id=xhci \
		-drive if=none,id=stick,format=raw,file="$W/usb-uefi.stick.img" \
		-device usb-storage,bus=xhci.0,drive=stick,bootindex=0,id=stickdev \
		-drive if=none,id=win,format=raw,file="$W/usb-uefi.win.img" \
		-device nvme,drive=win,serial=LBWIN0001 || rc=$?
	kill "$ppid" 2>/dev/null || true
	wait "$ppid" 2>/dev/null || true
	after_boot usb-uefi $rc "$W/usb-uefi.win.img" rebooting
	check "usb-uefi: the stick was pulled while waiting (monitor device_del)" grep -q 'device_del stickdev sent' "$W/usb-uefi.pull.log"
	check "usb-uefi: /init saw the stick go and rebooted at once" grep -q 'stick removed: rebooting into Windows now' "$s"
	check "usb-uefi: status screen before the wait" awk '/RESULT status=fixed/ { r = NR } /waiting 60 s, watching the stick/ { w = NR }
		END { exit !(r && w && r < w) }' "$s"
	check "usb-uefi: it did not wait the 60 s delay" bash -c "! grep -q 'powering off' '$s'"
	check "usb-uefi: kernel says Secure Boot enabled" grep -q 'kernel: secureboot: Secure boot enabled' "$s"
	# GRUB's built-in config searched for /.disk/info when \EFI\debian was missing
	check "usb-uefi: GRUB printed no error (/.disk/info)" bash -c "! grep -qa 'disk/info' '$s'"
	check "usb-uefi: /init saw Secure Boot enabled" grep -q 'Secure Boot: enabled, lockdown: integrity' "$s"
	check "usb-uefi: stick's disk excluded" grep -q -- '--exclude /dev/sd' "$s"
	# the report and evidence on the stick
	local img="$W/usb-uefi.stick.img@@1048576" d
	d=$(mdir -b -i "$img" ::loopbreaker/reports 2>/dev/null | sed -n "s|.*/\($HOST-[0-9TZ-]*\)/*\$|\1|p" | head -1)
	check "usb-uefi: report folder on the stick ($d)" test -n "$d"
	rm -rf "$W/usb-uefi.reports" && mkdir "$W/usb-uefi.reports"
	mcopy -n -s -i "$img" "::loopbreaker/reports/$d" "$W/usb-uefi.reports/" 2>/dev/null || true
	local r=$W/usb-uefi.reports/$d
	eq "usb-uefi: report.json status on the stick" "$(jget "$r/report.json" 'r["status"]' 2>/dev/null)" fixed
	eq "usb-uefi: report.json hostname" "$(jget "$r/report.json" 'r["hostname"]' 2>/dev/null)" "$HOST"
	check "usb-uefi: evidence bundle on the stick" tar --zstd -tf "$r/evidence.tar.zst"
	check "usb-uefi: boot.txt on the stick" grep -q 'secure boot: enabled' "$r/boot.txt"
	check "usb-uefi: usb-storage did not wait before using the stick (delay_use 0)" grep -qx 'usb_storage.delay_use: 0' "$r/boot.txt"
	check "usb-uefi: console.log on the stick" grep -q 'RESULT status=fixed' "$r/console.log"
	dd if="$W/usb-uefi.stick.img" of="$W/usb-uefi.stick.part" bs=1M skip=1 status=none
	check "usb-uefi: stick's FAT is clean after the run (fsck.fat -n)" fsck.fat -n "$W/usb-uefi.stick.part"
	rm -f "$W/usb-uefi.stick.part"
}

# pxe-uefi: UEFI network boot (shim -> grubnetx64 -> kernel) through QEMU's
# TFTP server, Secure Boot on, Windows on virtio-blk; no stick: report on console
t_pxe_uefi() {
	echo "== pxe-uefi: PXE with Secure Boot through QEMU's TFTP, Windows on virtio-blk"
	make_disk pxe-uefi
	rm -rf "$W/tftp" && cp -a "$M/pxe" "$W/tftp"
	# only the menu timeout and the delay change: the shipped entries must not
	# force after=reboot (the VM would reboot: no "powering off" below)
	sed -i 's/^set timeout=.*/set timeout=0/; s/loopbreaker.media=net"/loopbreaker.media=net loopbreaker.delay=0"/' "$W/tftp/grub/grub.cfg"
	local rc=0
	qemu_run pxe-uefi $(uefi_sb pxe-uefi) \
		-netdev user,id=n0,tftp="$W/tftp",bootfile=bootx64.efi \
		-device virtio-net-pci,netdev=n0,romfile=,bootindex=0 \
		-drive if=none,id=win,format=raw,file="$W/pxe-uefi.win.img" \
		-device virtio-blk-pci,drive=win || rc=$?
	after_boot pxe-uefi $rc "$W/pxe-uefi.win.img"
	check "pxe-uefi: kernel says Secure Boot enabled" grep -q 'kernel: secureboot: Secure boot enabled' "$W/pxe-uefi.serial"
	check "pxe-uefi: booted without a stick" grep -q 'no writable stick' "$W/pxe-uefi.serial"
}

# usb-bios: the same .img on a BIOS machine (SeaBIOS -> SYSLINUX), Windows on AHCI SATA
t_usb_bios() {
	echo "== usb-bios: SeaBIOS -> SYSLINUX, stick on USB (EHCI), Windows on AHCI"
	make_disk usb-bios
	cp "$M/loopbreaker-usb.img" "$W/usb-bios.stick.img"
	stick_config "$W/usb-bios.stick.img" delay=0 after=poweroff
	local rc=0
	qemu_run usb-bios -machine q35 -net none \
		-device usb-ehci,id=ehci \
		-drive if=none,id=stick,format=raw,file="$W/usb-bios.stick.img" \
		-device usb-storage,bus=ehci.0,drive=stick,bootindex=0 \
		-drive if=none,id=win,format=raw,file="$W/usb-bios.win.img" \
		-device ide-hd,drive=win,bus=ide.0 || rc=$?
	after_boot usb-bios $rc "$W/usb-bios.win.img"
	check "usb-bios: /init knows it is a BIOS boot" grep -q 'Secure Boot: not UEFI' "$W/usb-bios.serial"
	local n
	n=$(mdir -b -i "$W/usb-bios.stick.img@@1048576" ::loopbreaker/reports 2>/dev/null | grep -c "$HOST-" || true)
	eq "usb-bios: report folders on the stick" "$n" 1
}

# iso-uefi: the hybrid ISO as a CD (read-only: report only on the console), Secure Boot
t_iso_uefi() {
	echo "== iso-uefi: hybrid ISO on a SATA CD drive, Secure Boot, Windows on VMware PVSCSI"
	make_disk iso-uefi
	local rc=0
	# the ISO is read-only: a copy with delay = 0 in its config (xorriso keeps
	# the boot images as they are)
	xorriso -osirrox on -indev "$M/loopbreaker.iso" -extract /loopbreaker/config "$W/iso.config" >/dev/null 2>&1
	chmod u+w "$W/iso.config"
	sed -i '/^delay *=/d; /^after *=/d' "$W/iso.config"; printf 'delay = 0\nafter = poweroff\n' >> "$W/iso.config"
	rm -f "$W/iso-test.iso"
	xorriso -indev "$M/loopbreaker.iso" -outdev "$W/iso-test.iso" -boot_image any replay \
		-update "$W/iso.config" /loopbreaker/config >/dev/null 2>&1
	qemu_run iso-uefi $(uefi_sb iso-uefi) -net none \
		-drive if=none,id=cd,format=raw,readonly=on,file="$W/iso-test.iso" \
		-device ide-cd,drive=cd,bus=ide.0,bootindex=0 \
		-device pvscsi,id=scsi \
		-drive if=none,id=win,format=raw,file="$W/iso-uefi.win.img" \
		-device scsi-hd,drive=win,bus=scsi.0 || rc=$?
	after_boot iso-uefi $rc "$W/iso-uefi.win.img"
	check "iso-uefi: vmw_pvscsi loaded" grep -qE 'drivers loaded .*vmw_pvscsi' "$W/iso-uefi.serial"
	check "iso-uefi: kernel says Secure Boot enabled" grep -q 'kernel: secureboot: Secure boot enabled' "$W/iso-uefi.serial"
	check "iso-uefi: GRUB printed no error (/.disk/info)" bash -c "! grep -qa 'disk/info' '$W/iso-uefi.serial'"
}

# pxe-bios: BIOS network boot (SeaBIOS + iPXE ROM -> PXELINUX), Windows behind
# an LSI MegaRAID SAS controller (megaraid_sas)
t_pxe_bios() {
	echo "== pxe-bios: BIOS PXE -> PXELINUX through QEMU's TFTP, Windows on MegaRAID SAS"
	make_disk pxe-bios
	rm -rf "$W/tftp-bios" && cp -a "$M/pxe" "$W/tftp-bios"
	sed -i 's/^TIMEOUT .*/TIMEOUT 1/; s/loopbreaker.media=net$/loopbreaker.media=net loopbreaker.delay=0/' \
		"$W/tftp-bios/pxelinux.cfg/default"
	local rc=0
	qemu_run pxe-bios -machine q35 \
		-netdev user,id=n0,tftp="$W/tftp-bios",bootfile=pxelinux.0 \
		-device virtio-net-pci,netdev=n0,bootindex=0 \
		-device megasas-gen2,id=raid \
		-drive if=none,id=win,format=raw,file="$W/pxe-bios.win.img" \
		-device scsi-hd,drive=win,bus=raid.0 || rc=$?
	after_boot pxe-bios $rc "$W/pxe-bios.win.img"
	check "pxe-bios: megaraid_sas loaded" grep -qE 'drivers loaded .*megaraid_sas' "$W/pxe-bios.serial"
}

# scan-direct: kernel + initrd booted directly (no firmware: fast); settings
# from the stick's config (mode = scan, after = poweroff, an unknown key) and
# the kernel command line (after=reboot: the config's after wins); scan must
# not write
t_scan_direct() {
	echo "== scan-direct: -kernel/-initrd, scan mode from the stick's config, cmdline overrides"
	make_disk scan-direct
	local before rc=0 s=$W/scan-direct.serial
	before=$(sha256sum < "$W/scan-direct.win.img")
	cp "$M/loopbreaker-usb.img" "$W/scan-direct.stick.img"
	stick_config "$W/scan-direct.stick.img" mode=scan after=poweroff delay=0 bogus_key=1
	qemu_run scan-direct -machine q35 -net none \
		-kernel "$M/vmlinuz" -initrd "$M/initrd.img" \
		-append "console=ttyS0,115200 loglevel=4 loopbreaker.after=reboot" \
		-drive if=none,id=stick,format=raw,file="$W/scan-direct.stick.img" \
		-device virtio-blk-pci,drive=stick \
		-drive if=none,id=win,format=raw,file="$W/scan-direct.win.img" \
		-device ide-hd,drive=win,bus=ide.0 || rc=$?
	eq "scan-direct: VM powered itself off" "$rc" 0
	check "scan-direct: ran scan (mode from the config)" grep -qE 'running: loopbreaker scan ' "$s"
	check "scan-direct: the config's after = poweroff beat loopbreaker.after=reboot" grep -qE 'loopbreaker: \[[0-9.]+\] powering off' "$s"
	check "scan-direct: says the config replaced the command line's after" grep -q 'after = poweroff (config) replaces loopbreaker.after=reboot' "$s"
	check "scan-direct: unknown config key reported" grep -q "ignoring unknown option 'bogus_key'" "$s"
	check "scan-direct: NEEDS ATTENTION for $HOST" grep -q "RESULT status=needs_attention exit=1 host=$HOST" "$s"
	check "scan-direct: big NEEDS ATTENTION banner" grep -q '#   # ##### ##### ####   ####' "$s"
	check "scan-direct: reason on screen" grep -q 'Reason: .*present (run fix)' "$s"
	eq "scan-direct: scan wrote nothing to the disk" "$(sha256sum < "$W/scan-direct.win.img")" "$before"
	local n
	n=$(mdir -b -i "$W/scan-direct.stick.img@@1048576" ::loopbreaker/reports 2>/dev/null | grep -c "$HOST-" || true)
	eq "scan-direct: report folder on the stick" "$n" 1
	echo "scan-direct: wall ${WALL} s (direct kernel boot to power-off)" | tee -a "$W/timings.txt"
}

# upload-direct: no stick (PXE-like), fix, then "loopbreaker upload" of report
# and evidence to an HTTP collector on the host (10.0.2.2 from the guest)
t_upload_direct() {
	echo "== upload-direct: -kernel/-initrd, no stick, two Windows disks, fix, upload to an HTTP collector"
	make_disk upload-direct
	# a second machine's disk in the same box: its own report and upload
	sed 's/WKS-BOOT-01/WKS-BOOT-02/' "$src/tests/boot/windows.spec" > "$W/upload-direct.spec2"
	LB_BUILD=$LB_BUILD python3 "$src/scripts/mkimage.py" "$W/upload-direct.spec2" \
		"$W/upload-direct.win2.img" > /dev/null || fail "upload-direct: second disk"
	rm -rf "$W/collector" "$W/collector.port" && mkdir -p "$W/collector"
	python3 "$src/tests/boot/collector.py" "$W/collector" "$W/collector.port" 2> "$W/collector.log" &
	local cpid=$! i rc=0 s=$W/upload-direct.serial
	for i in $(seq 50); do [ -s "$W/collector.port" ] && break; sleep 0.1; done
	local port
	port=$(cat "$W/collector.port")
	qemu_run upload-direct -machine q35 \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		-kernel "$M/vmlinuz" -initrd "$M/initrd.img" \
		-append "console=ttyS0,115200 loglevel=4 loopbreaker.media=net loopbreaker.delay=0 loopbreaker.upload=http://10.0.2.2:$port/reports/" \
		-drive if=none,id=win,format=raw,file="$W/upload-direct.win.img" \
		-device virtio-blk-pci,drive=win \
		-drive if=none,id=win2,format=raw,file="$W/upload-direct.win2.img" \
		-device virtio-blk-pci,drive=win2 || rc=$?
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	after_boot upload-direct $rc "$W/upload-direct.win.img"
	check "upload-direct: /init says uploaded" grep -q 'report uploaded' "$s"
	check "upload-direct: the screen says where the report went" grep -q 'Report: *uploaded to http://10.0.2.2:' "$s"
	check "upload-direct: no stick, so no 'remove the stick'" bash -c "! grep -q 'Remove the stick' '$s'"
	local rep ev
	ev=$(ls "$W/collector/"*evidence.tar.zst 2>/dev/null | head -1)
	for h in "$HOST" WKS-BOOT-02; do
		rep=$(ls "$W/collector/$h-"*report.*-"$h".json 2>/dev/null | head -1)
		eq "upload-direct: collector got $h's own report" \
			"$(jget "$rep" '(r["kind"], r["hostname"], r["status"])' 2>/dev/null)" "('machine', '$h', 'fixed')"
	done
	eq "upload-direct: one report per machine, no summary sent" "$(ls "$W/collector/"*.json | wc -l)" 2
	check "upload-direct: screen lists both machines" grep -qE "Machine [12]/2: WKS-BOOT-02 FIXED" "$s"
	check "upload-direct: collector got the evidence" tar --zstd -tf "$ev"
	"$LB" scan --json "$W/upload-direct.win2.img" > "$W/upload-direct.rescan2.json" 2>/dev/null || true
	eq "upload-direct: second disk fixed too" "$(jget "$W/upload-direct.rescan2.json" 'r["status"]')" clean
}

# nodisk-direct: only the stick, no other disk (a missing storage driver
# looks like this): must not say NOTHING TO DO
t_nodisk_direct() {
	echo "== nodisk-direct: -kernel/-initrd, the stick alone: NEEDS ATTENTION, not NOTHING TO DO"
	local rc=0 s=$W/nodisk-direct.serial
	cp "$M/loopbreaker-usb.img" "$W/nodisk-direct.stick.img"
	stick_config "$W/nodisk-direct.stick.img" delay=0 after=poweroff
	qemu_run nodisk-direct -machine q35 -net none \
		-kernel "$M/vmlinuz" -initrd "$M/initrd.img" \
		-append "console=ttyS0,115200 loglevel=4 loopbreaker.wait=4" \
		-drive if=none,id=stick,format=raw,file="$W/nodisk-direct.stick.img" \
		-device virtio-blk-pci,drive=stick || rc=$?
	eq "nodisk-direct: VM powered itself off" "$rc" 0
	check "nodisk-direct: says no local disk" grep -q 'NO LOCAL DISK FOUND' "$s"
	check "nodisk-direct: the screen names the driver fix" grep -q 'Reason: *NO DISK FOUND - a storage driver may be missing (Intel VMD/RST: switch the controller to AHCI' "$s"
	check "nodisk-direct: NEEDS ATTENTION" grep -q 'RESULT status=needs_attention' "$s"
	check "nodisk-direct: the stick was not a target" grep -q -- '--exclude /dev/vda' "$s"
	echo "nodisk-direct: wall ${WALL} s" | tee -a "$W/timings.txt"
}

# ipxe-uefi: a network-first UEFI machine (OVMF without Secure Boot: iPXE is
# not signed) booting iPXE -> boot.ipxe as shipped, with a site.cpio holding
# the site config (upload, after = poweroff, site).  Boot 1 fixes and
# uploads; boot 2 (the network is still first) finds nothing to do (its
# fix changes nothing: the disk's hash is checked), reports clean +
# confirmed and powers off; fleet over the collector: one machine,
# fixed (confirmed), its site.
t_ipxe_uefi() {
	echo "== ipxe-uefi: OVMF -> iPXE -> boot.ipxe + site.cpio, network first: fix + upload, then clean (confirmed)"
	make_disk ipxe-uefi
	local rc=0 s1=$W/ipxe-uefi-1.serial s2=$W/ipxe-uefi-2.serial c=$W/collector-ipxe cpid port i sum
	rm -rf "$c" "$c.port" && mkdir -p "$c"
	python3 "$src/tests/boot/collector.py" "$c" "$c.port" 2> "$W/collector-ipxe.log" &
	cpid=$!
	for i in $(seq 50); do [ -s "$c.port" ] && break; sleep 0.1; done
	port=$(cat "$c.port")
	rm -rf "$W/tftp-ipxe" "$W/site" && cp -a "$M/pxe" "$W/tftp-ipxe"
	mkdir -p "$W/site/etc/loopbreaker"
	printf 'upload = http://10.0.2.2:%s/reports/\ndelay = 0\nafter = poweroff\nsite = lab-7\n' "$port" \
		> "$W/site/etc/loopbreaker/config"
	(cd "$W/site" && find . | cpio -o -H newc -R 0:0 --quiet) > "$W/tftp-ipxe/loopbreaker/site.cpio"
	cp "$OVMF_VARS_PLAIN" "$W/ipxe-uefi.vars.fd"
	ipxe_boot() {
		qemu_run "$1" -machine q35 \
			-drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE_PLAIN" \
			-drive if=pflash,format=raw,unit=1,file="$W/ipxe-uefi.vars.fd" \
			-netdev user,id=n0,tftp="$W/tftp-ipxe",bootfile=boot.ipxe \
			-device virtio-net-pci,netdev=n0,bootindex=0 \
			-drive if=none,id=win,format=raw,file="$W/ipxe-uefi.win.img" \
			-device virtio-blk-pci,drive=win,bootindex=1
	}
	ipxe_boot ipxe-uefi-1 || rc=$?
	after_boot ipxe-uefi-1 $rc "$W/ipxe-uefi.win.img"
	check "ipxe-uefi: iPXE ran boot.ipxe" grep -qa 'site.cpio' "$s1"
	check "ipxe-uefi: site.cpio reached /init" grep -q 'config: /etc/loopbreaker/config' "$s1"
	check "ipxe-uefi: boot 1 uploaded" grep -q 'report uploaded' "$s1"
	check "ipxe-uefi: the screen says Secure Boot off (OVMF without it)" grep -q 'Secure Boot: off' "$s1"
	check "ipxe-uefi: the screen says the report was uploaded" grep -q 'Report: *uploaded to ' "$s1"
	check "ipxe-uefi: network boot: start from the disk" grep -q 'Start the machine from its disk (boot menu, or network boot off)' "$s1"
	sum=$(sha256sum < "$W/ipxe-uefi.win.img")
	rc=0
	ipxe_boot ipxe-uefi-2 || rc=$?
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	echo "ipxe-uefi-2: wall ${WALL} s (the confirming boot)" | tee -a "$W/timings.txt"
	eq "ipxe-uefi: boot 2 powered itself off" "$rc" 0
	check "ipxe-uefi: boot 2 ran a fix" grep -qE 'running: loopbreaker fix ' "$s2"
	check "ipxe-uefi: boot 2's fix found nothing to do" grep -q 'RESULT: CLEAN' "$s2"
	check "ipxe-uefi: boot 2 saw the earlier fix's quarantine" grep -q 'quarantine present: fixed before, confirmed' "$s2"
	check "ipxe-uefi: boot 2 confirmed" grep -q "RESULT status=clean exit=0 host=$HOST .* confirmed=yes" "$s2"
	check "ipxe-uefi: boot 2 powering off (no loop)" grep -qE 'loopbreaker: \[[0-9.]+\] powering off' "$s2"
	check "ipxe-uefi: boot 2 uploaded" grep -q 'report uploaded' "$s2"
	eq "ipxe-uefi: boot 2 wrote nothing to the disk" "$(sha256sum < "$W/ipxe-uefi.win.img")" "$sum"
	eq "ipxe-uefi: two reports at the collector" "$(ls "$c"/*report.json 2>/dev/null | wc -l)" 2
	"$LB" fleet -q -o "$W/ipxe-fleet" "$c" || fail "ipxe-uefi: fleet"
	eq "ipxe-uefi: fleet row" "$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(len(r), r[0]["hostname"], r[0]["status"], bool(r[0]["confirmed_at"]), r[0]["site"], r[0]["reports"])' "$W/ipxe-fleet/fleet.csv")" \
		"1 $HOST fixed True lab-7 2"
}

for t in $tests; do
	fails_before=$T_FAILS
	"t_${t//-/_}"
	# CI disks are small: a passing scenario drops its disk and stick copies
	# (serial logs and reports stay)
	if [ "$T_FAILS" = "$fails_before" ] && [ "${LB_KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$W/$t".*.img "$W/$t".*.part "$W/$t".vars.fd "$W/iso-test.iso" "$W/tftp" "$W/tftp-bios" \
			"$W/tftp-ipxe"
	fi
done
# a passing run keeps logs, reports and timings, not the media it built
if [ "$T_FAILS" = 0 ] && [ -z "${LB_BOOT_MEDIA:-}" ] && [ "${LB_KEEP_WORK:-0}" != 1 ]; then
	rm -rf "$W/media"
fi
total=$(( $(date +%s) - start_all ))
echo "boot tests total ${total} s" | tee -a "$W/timings.txt"
sed 's/^/size: /' "$W/sizes.txt"
echo "boot: $((T_CHECKS - T_FAILS)) passed, $T_FAILS failed"
[ "$T_FAILS" = 0 ]
