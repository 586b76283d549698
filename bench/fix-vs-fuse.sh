#!/usr/bin/env bash
# fix-vs-fuse.sh - loopbreaker against the same job done by hand over FUSE.
#
# usage: bench/fix-vs-fuse.sh [BUILD_DIR] [WORK_DIR] [RUNS]
#        (defaults: build, BUILD_DIR/bench-fuse, 10)
#
# One realistic disk image (bench/winlike-spec.py through scripts/mkimage.py:
# a 1.7 GiB sparse GPT disk, ESP + MSR + 1.5 GiB Windows NTFS + Recovery,
# about 8000 files in a Windows-like tree, 190 MiB of data, the real SYSTEM
# hive from the shared data, 13 CrowdStrike channel files of which one is
# bad) is copied afresh before every timed run, flushed to disk (so no run
# pays for the previous copy's dirty pages), and then, side by side in one
# hyperfine session:
#
#   fix:  loopbreaker fix --evidence E.tar.zst IMG
#         vs  ntfs-3g /dev/loopN MNT; find MNT -ipath '*/windows/system32/
#             drivers/crowdstrike/c-00000291*.sys' in the bad time window;
#             mkdir MNT/quarantine; mv FILE MNT/quarantine/; umount MNT
#             (and wait for ntfs-3g to exit: it flushes after umount returns)
#   scan: loopbreaker scan IMG (exit 1: a bad file is there)  vs  ntfs-3g -o ro + the same find + umount
#   floor: ntfs-3g mount + umount alone (what any FUSE job pays)
#
# The hand-made job gets the Windows partition as a loop device set up in
# the untimed preparation (on real hardware /dev/sda3 exists already);
# loopbreaker gets the whole disk image and finds the partition itself.
# Then peak RSS (/usr/bin/time -v) of loopbreaker scan, loopbreaker fix and
# of the ntfs-3g daemon during the hand-made fix.  Results: WORK_DIR/
# results.md and .json; docs/performance.md has the numbers.
#
# The large-volume variant (issue: 200,000+ files, and libguestfs too):
#   LB_BENCH_FILES=210000 LB_BENCH_SMALL=1 LB_BENCH_GUESTFS=1 bench/fix-vs-fuse.sh build W 5
# LB_BENCH_FILES/LB_BENCH_SMALL go to winlike-spec.py (file count; sizes
# around 700 bytes so they fit the volume). LB_BENCH_GUESTFS=1 adds what
# cloud admins ran on VM disks, in the same hyperfine session:
#   fix:  virt-customize -a IMG --delete '/Windows/System32/drivers/
#         CrowdStrike/C-00000291*.sys' (inspects the guest first; deletes
#         every version of channel file 291, as the published guidance did)
#         and guestfish -a IMG -m /dev/sda3 glob rm ... (no inspection)
#   scan: guestfish --ro -a IMG -m /dev/sda3:/:ro glob stat ...
# libguestfs boots its appliance under QEMU; without usable KVM (here) it
# runs under TCG (LIBGUESTFS_BACKEND_SETTINGS=force_tcg), which is what it
# costs on such a host.  Needs libguestfs-tools: scripts/install-deps.sh
# guestfs (not in the default set: about 400 MB).
#
# Needs root (loop devices, FUSE), hyperfine, ntfs-3g, python3, GNU time
# (scripts/packages/bench.txt).  Not part of ctest or CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=${2:-$build/bench-fuse}
runs=${3:-10}
lb=$build/loopbreaker

die() { echo "fix-vs-fuse: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (loop devices and FUSE mounts)"
for c in hyperfine ntfs-3g losetup python3 /usr/bin/time xz; do
	command -v "$c" >/dev/null || die "$c missing: apt-get install \$(grep -v '^#' $src/scripts/packages/bench.txt)"
done
[ -x "$lb" ] && [ -x "$build/lb-mkhive" ] || die "build first: cmake -S $src -B $build && cmake --build $build"
mkdir -p "$work"
work=$(cd "$work" && pwd)
mnt=$work/mnt
mkdir -p "$mnt"

# ---- the image (kept between runs of this script while its spec is unchanged)
xz -dc "${LB_SHARED_DATA:-$src/../shared/data}/hives/SYSTEM.xz" > "$work/SYSTEM.real"
nfiles_arg=${LB_BENCH_FILES:-8000}
small_arg=; [ "${LB_BENCH_SMALL:-0}" = 1 ] && small_arg=small
guestfs=${LB_BENCH_GUESTFS:-0}
if [ "$guestfs" = 1 ]; then
	command -v virt-customize >/dev/null && command -v guestfish >/dev/null ||
		die "LB_BENCH_GUESTFS=1 needs libguestfs: scripts/install-deps.sh guestfs"
	export LIBGUESTFS_BACKEND=direct
	[ -w /dev/kvm ] && [ "${LB_BENCH_KVM:-0}" = 1 ] || export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi
python3 "$src/bench/winlike-spec.py" "$work/SYSTEM.real" "$nfiles_arg" $small_arg > "$work/bench.spec.new" 2>/dev/null
if ! cmp -s "$work/bench.spec.new" "$work/bench.spec" || [ ! -s "$work/master.img" ]; then
	mv "$work/bench.spec.new" "$work/bench.spec"
	echo "making the image (about 15 s for 8000 files, minutes for 200,000)..."
	rm -f "$work/master.img" "$work/master.img.json"
	LB_BUILD=$build python3 "$src/scripts/mkimage.py" "$work/bench.spec" "$work/master.img" >/dev/null
fi
rm -f "$work/bench.spec.new"
read -r poff psize < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = [p for p in d["partitions"] if p["label"] == "Windows"][0]
print(p["offset"], p["size"])' "$work/master.img.json")
nfiles=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(len(p["files"]) for p in d["partitions"]))' "$work/master.img.json")

# ---- helpers run by hyperfine
cat > "$work/prepare.sh" <<EOF
#!/bin/bash
# fresh copy of the image, on disk, with the Windows partition as a loop device
set -e
mountpoint -q "$mnt" && umount "$mnt"
[ -s "$work/loopdev" ] && losetup -d "\$(cat "$work/loopdev")" 2>/dev/null || true
: > "$work/loopdev"
rm -f "$work/work.img" "$work/ev.tar.zst"
cp --sparse=always "$work/master.img" "$work/work.img"
sync -f "$work/work.img"
losetup --find --show -o $poff --sizelimit $psize "$work/work.img" > "$work/loopdev"
EOF
cat > "$work/by-hand.sh" <<EOF
#!/bin/bash
# by-hand.sh fix|scan|floor: the job as a technician does it over FUSE
set -e
dev=\$(cat "$work/loopdev")
opts=no_detach
[ "\$1" = fix ] || opts=ro,no_detach
ntfs-3g -o "\$opts" "\$dev" "$mnt" >/dev/null 2>&1 &
pid=\$!
until mountpoint -q "$mnt"; do
	kill -0 \$pid 2>/dev/null || { echo "ntfs-3g failed" >&2; exit 1; }
	sleep 0.002
done
if [ "\$1" != floor ]; then
	# C-00000291*.sys, any case, last written 04:09 <= t < 05:27 UTC on 2024-07-19
	bad=\$(find "$mnt" -ipath '*/windows/system32/drivers/crowdstrike/c-00000291*.sys' \\
	      -newermt '2024-07-19 04:08:59.999999999 UTC' ! -newermt '2024-07-19 05:26:59.999999999 UTC')
	[ -n "\$bad" ] || { echo "bad file not found" >&2; umount "$mnt"; exit 1; }
	if [ "\$1" = fix ]; then
		mkdir -p "$mnt/quarantine"
		mv \$bad "$mnt/quarantine/"
	fi
fi
umount "$mnt"
wait \$pid   # ntfs-3g writes its last changes after umount returns
EOF
chmod +x "$work/prepare.sh" "$work/by-hand.sh"
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt" || true
	if [ -s "$work/loopdev" ]; then losetup -d "$(cat "$work/loopdev")" 2>/dev/null || true; fi
	: > "$work/loopdev" 2>/dev/null || true
}
trap cleanup EXIT

# ---- correctness first: each way really does the job on its copy
"$work/prepare.sh"
"$lb" fix --evidence "$work/ev.tar.zst" --report "$work/check-fix.json" "$work/work.img" >/dev/null ||
	die "loopbreaker fix failed on the benchmark image"
python3 - "$work/check-fix.json" <<'EOF' || die "loopbreaker fix did not quarantine exactly the bad file"
import json, sys
r = json.load(open(sys.argv[1]))
acts = [f["action"] for t in r["targets"] for v in t["volumes"] for i in v.get("installs", [])
        for f in i["findings"]]
assert r["status"] == "fixed" and acts.count("quarantined") == 1, acts
EOF
"$work/prepare.sh"
"$work/by-hand.sh" fix
"$lb" scan --json "$work/work.img" > "$work/check-hand.json" 2>/dev/null || true
python3 - "$work/check-hand.json" <<'EOF' || die "the hand-made fix did not remove exactly the bad file"
import json, sys
r = json.load(open(sys.argv[1]))
v = [f["verdict"] for t in r["targets"] for v in t["volumes"] for i in v.get("installs", [])
     for f in i["findings"]]
assert r["status"] == "clean" and "bad" not in v and v.count("older") == 2, v
EOF

gf_glob=/Windows/System32/drivers/CrowdStrike/C-00000291*.sys
gf=()
if [ "$guestfs" = 1 ]; then
	# the Windows partition as libguestfs names it
	gpart=/dev/sda$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print([p for p in d["partitions"] if p["label"] == "Windows"][0]["number"])' "$work/master.img.json")
	for how in virt-customize guestfish; do
		"$work/prepare.sh"
		if [ $how = virt-customize ]; then
			virt-customize -q -a "$work/work.img" --delete "$gf_glob" > "$work/gf.log" 2>&1 ||
				{ cat "$work/gf.log"; die "virt-customize failed on the benchmark image"; }
		else
			guestfish -a "$work/work.img" -m "$gpart" -- glob rm "$gf_glob" > "$work/gf.log" 2>&1 ||
				{ cat "$work/gf.log"; die "guestfish failed on the benchmark image"; }
		fi
		"$lb" scan --json "$work/work.img" > "$work/check-gf.json" 2>/dev/null || true
		python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = [f["verdict"] for t in r["targets"] for v in t["volumes"] for i in v.get("installs", [])
     for f in i["findings"]]
assert r["status"] == "clean" and v == [], v' "$work/check-gf.json" || die "$how did not remove the 291 channel files"
	done
	gf=(-n "libguestfs: virt-customize --delete" "virt-customize -q -a $work/work.img --delete '$gf_glob'"
	    -n "libguestfs: guestfish glob rm" "guestfish -a $work/work.img -m $gpart -- glob rm '$gf_glob'"
	    -n "libguestfs: guestfish --ro glob stat" "guestfish --ro -a $work/work.img -m $gpart:/:ro -- glob stat '$gf_glob' > /dev/null")
fi

# ---- timings
load0=$(cut -d' ' -f1 /proc/loadavg)
hyperfine --style basic --runs "$runs" --warmup 1 \
	--export-json "$work/hyperfine.json" --export-markdown "$work/hyperfine.md" \
	--prepare "$work/prepare.sh" \
	-n "loopbreaker fix" "$lb fix --evidence $work/ev.tar.zst $work/work.img" \
	-n "by hand: ntfs-3g + find + mv + umount" "$work/by-hand.sh fix" \
	-n "loopbreaker scan" "$lb scan $work/work.img; test \$? -eq 1" \
	-n "by hand: ntfs-3g -o ro + find + umount" "$work/by-hand.sh scan" \
	-n "ntfs-3g mount + umount only" "$work/by-hand.sh floor" \
	"${gf[@]}" \
	> "$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; die "hyperfine failed"; }

# ---- peak RSS (kbytes, GNU time -v)
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
"$work/prepare.sh"
/usr/bin/time -v "$lb" scan "$work/work.img" > /dev/null 2> "$work/time-scan.txt" || true
/usr/bin/time -v "$lb" fix --evidence "$work/ev.tar.zst" "$work/work.img" > /dev/null 2> "$work/time-fix.txt"
"$work/prepare.sh"
dev=$(cat "$work/loopdev")
/usr/bin/time -v ntfs-3g -o no_detach "$dev" "$mnt" > /dev/null 2> "$work/time-ntfs3g.txt" &
tpid=$!
until mountpoint -q "$mnt"; do sleep 0.01; done
bad=$(find "$mnt" -ipath '*/windows/system32/drivers/crowdstrike/c-00000291*.sys' \
      -newermt '2024-07-19 04:08:59.999999999 UTC' ! -newermt '2024-07-19 05:26:59.999999999 UTC')
mkdir -p "$mnt/quarantine" && mv $bad "$mnt/quarantine/"
umount "$mnt"
wait $tpid || true
rss_scan=$(rss "$work/time-scan.txt")
rss_fix=$(rss "$work/time-fix.txt")
rss_fuse=$(rss "$work/time-ntfs3g.txt")

# ---- summary
python3 - "$work/hyperfine.json" "$runs" "$nfiles" "$rss_scan" "$rss_fix" "$rss_fuse" \
	"$(nproc)" "$(ls -l "$work/master.img" | awk '{print $5}')" \
	"$(du -k "$work/master.img" | cut -f1)" "$load0" > "$work/results.md" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))["results"]
runs, nfiles, rs, rf, rfuse, cpus, size, alloc, load0 = sys.argv[2:]
ms = {r["command"]: (r["mean"] * 1000, r["stddev"] * 1000 if r["stddev"] is not None else 0.0,
                     r["min"] * 1000, r["max"] * 1000, (r["user"] + r["system"]) * 1000)
      for r in h}
print("image: %.2f GiB sparse GPT disk, %.0f MiB allocated, %s files; %s runs each, %s CPUs"
      % (int(size) / 2**30, int(alloc) / 1024, nfiles, runs, cpus))
print()
print("| job | wall mean ± sd (ms) | min–max (ms) | CPU user+sys mean (ms) |")
print("|---|---|---|---|")
for name, (m, s, lo, hi, cpu) in ms.items():
    print("| %s | %.1f ± %.1f | %.1f–%.1f | %.1f |" % (name, m, s, lo, hi, cpu))
print()
fx, hf = ms["loopbreaker fix"][0], ms["by hand: ntfs-3g + find + mv + umount"][0]
sc, hs = ms["loopbreaker scan"][0], ms["by hand: ntfs-3g -o ro + find + umount"][0]
print("fix: by hand / loopbreaker = %.1fx (wall, mean), %.1fx (wall, min)"
      % (hf / fx, ms["by hand: ntfs-3g + find + mv + umount"][2] / ms["loopbreaker fix"][2]))
print("scan: by hand / loopbreaker = %.1fx (wall, mean), %.1fx (wall, min)"
      % (hs / sc, ms["by hand: ntfs-3g -o ro + find + umount"][2] / ms["loopbreaker scan"][2]))
for name, base in (("libguestfs: virt-customize --delete", fx), ("libguestfs: guestfish glob rm", fx),
                   ("libguestfs: guestfish --ro glob stat", sc)):
    if name in ms:
        print("%s / loopbreaker %s = %.0fx (wall, mean); CPU %.0fx" % (
            name, "fix" if base == fx else "scan", ms[name][0] / base,
            ms[name][4] / ms["loopbreaker fix" if base == fx else "loopbreaker scan"][4]))
print("load average before / after: %s / %s" % (load0, open("/proc/loadavg").read().split()[0]))
print()
print("peak RSS: loopbreaker scan %s KiB, loopbreaker fix %s KiB, ntfs-3g daemon during the "
      "hand-made fix %s KiB" % (rs, rf, rfuse))
EOF
cat "$work/results.md"
