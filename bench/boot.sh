#!/usr/bin/env bash
# boot.sh - power-on to report on the USB path (OVMF with Secure Boot ->
# shim -> GRUB -> kernel -> /init -> loopbreaker fix), for two builds of the
# boot media side by side: the usb-uefi boot test, run alternately on each
# (A B A B ...), so both see the same load on the machine.
#
# usage: bench/boot.sh MEDIA_A MEDIA_B [RUNS] [OUT]
#        (MEDIA_*: bootmedia/build.sh output folders; RUNS default 3;
#         OUT default build/bench-boot)
#
# Each run is tests/boot/run.sh usb-uefi with LB_BOOT_MEDIA set: its
# python helper timestamps the serial log every 0.1 s from QEMU's start
# (wall clock) at: OVMF's "BdsDxe: loading" (firmware), "Welcome to GRUB",
# GRUB's "Booting" (menu done; the test sets the menu timeout to 0, the
# shipped menu waits 3 s more), the kernel's EFI stub (kernel and initrd
# loaded), /init started, drivers loaded, disks ready, loopbreaker started,
# RESULT (report written and synced, status screen up).  A run counts if
# it reached its report; the number of the boot test's checks that failed
# is kept with it (older media fail the checks written for a newer /init).
#
# Needs what tests/boot/run.sh needs (scripts/install-deps.sh); QEMU runs
# under TCG here.  Not part of ctest or CI: wall times depend on the load.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { sed -n '2,20p' "$0"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
runs=${3:-3}
out=$(realpath -m "${4:-$src/build/bench-boot}")
mkdir -p "$out"
: > "$out/runs.txt"
for m in "$A" "$B"; do
	[ -f "$m/loopbreaker-usb.img" ] || { echo "boot: $m has no loopbreaker-usb.img" >&2; exit 2; }
done
for i in $(seq "$runs"); do
	for m in "$A" "$B"; do
		tag=A; [ "$m" = "$B" ] && tag=B
		# timed even when checks written for a newer /init fail on older
		# media (the count is kept): what counts is that it reached its report
		LB_BOOT_NO_CHROOT=1 LB_BOOT_MEDIA=$m bash "$src/tests/boot/run.sh" usb-uefi > "$out/last.log" 2>&1 || true
		line=$(grep -o 'usb-uefi: power-on to: [^(]*' "${LB_BUILD:-$src/build}/tests-work/boot/timings.txt" || true)
		nf=$(grep -c '^FAIL' "$out/last.log" || true)
		if [[ "$line" == *report=* ]]; then
			echo "$tag ${line#usb-uefi: power-on to: } load=$(cut -d' ' -f1 /proc/loadavg) failed_checks=$nf" | tee -a "$out/runs.txt"
		else
			echo "boot: run $i on $tag did not reach its report (not counted): $out/failed-$tag-$i.log" >&2
			cp "$out/last.log" "$out/failed-$tag-$i.log"
		fi
	done
done
python3 - "$out/runs.txt" "$A" "$B" <<'PY' | tee "$out/results.md"
import statistics, sys
rows = {'A': [], 'B': []}
for line in open(sys.argv[1]):
    tag, *kv = line.split()
    rows[tag].append(dict(x.split('=', 1) for x in kv))
size = {}
for tag, m in (('A', sys.argv[2]), ('B', sys.argv[3])):
    for l in open(m + '/sizes.txt'):
        k, v = l.split()
        if k == 'kernel+initrd':
            size[tag] = int(v) / 1e6
marks = ['firmware', 'grub', 'menu_done', 'kernel', 'init', 'drivers', 'disks', 'run', 'report']
print('| power-on to (s, median of %d / %d runs) | A | B |' % (len(rows['A']), len(rows['B'])))
print('|---|---:|---:|')
for k in marks:
    v = [statistics.median(float(r[k]) for r in rows[t] if k in r) if any(k in r for r in rows[t]) else float('nan')
         for t in 'AB']
    print('| %s | %.1f | %.1f |' % (k, v[0], v[1]))
print('| kernel + initramfs (MB) | %.2f | %.2f |' % (size['A'], size['B']))
print('load averages: A %s; B %s' % (' '.join(r['load'] for r in rows['A']), ' '.join(r['load'] for r in rows['B'])))
print('boot-test checks failed per run: A %s; B %s' % (' '.join(r.get('failed_checks', '?') for r in rows['A']), ' '.join(r.get('failed_checks', '?') for r in rows['B'])))
PY
