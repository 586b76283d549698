#!/usr/bin/env bash
# hive-memory.sh - peak RSS and wall time of `loopbreaker scan` on disks
# with big and ordinary registry hives, two builds side by side in one
# session (issue 14: the identity's lazy hive reader against whole-hive
# reads + hivex).
#
# usage: bench/hive-memory.sh OLD_BUILD_DIR [BUILD_DIR] [WORK_DIR] [RUNS]
#        (defaults: build, BUILD_DIR/bench-hive-memory, 10)
#
# OLD_BUILD_DIR: another build (e.g. the commit before the change, built
# from `git archive`) holding loopbreaker.  Images:
#   big.img     the disk of tests/shell/hive_rss.sh (run here with
#               LB_KEEP_WORK=1): a 151 MiB SOFTWARE hive made by lb-mkhive
#   small.img   mkimage.py's default install (hives of a few KiB)
#   real.img    the same with the real 11.8 MB Windows 7 SYSTEM hive of the
#               shared data (hives/SYSTEM.xz) as SYSTEM
# For each image and binary: peak RSS (GNU time -v, "Maximum resident set
# size", one run after a warm-up), then one hyperfine session (-N, warm-up 2,
# RUNS runs) with both binaries.  Results: WORK_DIR/results.md; the numbers
# are in docs/performance.md, "Memory".
#
# Needs root (FUSE), hyperfine, GNU time, ntfs-3g, mkntfs, python3, xz.
# Not part of ctest or CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
old=$(cd "${1:?usage: bench/hive-memory.sh OLD_BUILD_DIR [BUILD_DIR] [WORK_DIR] [RUNS]}" && pwd)
build=$(cd "${2:-$src/build}" && pwd)
work=${3:-$build/bench-hive-memory}
runs=${4:-10}
data=${LB_SHARED_DATA:-$src/../shared/data}

die() { echo "hive-memory: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (FUSE mount of the images)"
for c in hyperfine ntfs-3g mkntfs python3 xz; do command -v "$c" >/dev/null || die "$c missing"; done
[ -x /usr/bin/time ] || die "GNU time missing (Debian package time)"
[ -x "$old/loopbreaker" ] || die "no $old/loopbreaker"
rm -rf "$work" && mkdir -p "$work"

echo "== images"
LB_KEEP_WORK=1 LB_BUILD=$build LB_SOURCE=$src bash "$src/tests/shell/hive_rss.sh" > "$work/hive_rss.out" 2>&1 ||
	die "tests/shell/hive_rss.sh failed with the new build (see $work/hive_rss.out)"
mv "$build/tests-work/shell-hive_rss/disk.img" "$work/big.img"
mv "$build/tests-work/shell-hive_rss/disk.img.json" "$work/big.img.json"
rm -rf "$build/tests-work/shell-hive_rss"
xz -dc "$data/hives/SYSTEM.xz" > "$work/SYSTEM.real"
for img in small real; do
	{
		echo "table gpt"
		echo "ntfs size=64M label=Windows"
		echo 'install \Windows hostname=BENCH-01'
		echo "channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:09:00Z"
		[ "$img" = real ] && echo "file \\Windows\\System32\\config\\SYSTEM from=$work/SYSTEM.real"
	} > "$work/$img.spec"
	LB_BUILD=$build python3 "$src/scripts/mkimage.py" "$work/$img.spec" "$work/$img.img" > /dev/null
done

out=$work/results.md
{
	echo "# hive-memory: $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "old: $old/loopbreaker; new: $build/loopbreaker"
	echo
	echo "| image | SOFTWARE | SYSTEM | old peak RSS | new peak RSS |"
	echo "|---|---|---|---|---|"
} > "$out"
hive_size() { python3 - "$1.json" "$2" <<'PY'
import json, sys
for part in json.load(open(sys.argv[1]))["partitions"]:
    for f in part.get("files", []):
        if f["path"].upper().endswith("\\CONFIG\\" + sys.argv[2]):
            s = f["size"]
            print("%.1f MB" % (s / 1e6) if s >= 1e6 else "%.0f kB" % (s / 1e3))
PY
}
rss() { # BINARY IMAGE -> KiB
	"$1" scan "$2" > /dev/null 2>&1 || true   # warm the page cache
	/usr/bin/time -v -o "$work/time.txt" "$1" scan "$2" > /dev/null 2>&1 || true
	sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt"
}
for img in big small real; do
	echo "== $img.img"
	echo "| $img.img | $(hive_size "$work/$img.img" SOFTWARE) | $(hive_size "$work/$img.img" SYSTEM) |" \
	     "$(rss "$old/loopbreaker" "$work/$img.img") KiB | $(rss "$build/loopbreaker" "$work/$img.img") KiB |" >> "$out"
	# scan exits 1 (the bad channel file is there): -i
	hyperfine -N -i --warmup 2 --runs "$runs" --export-markdown "$work/$img-times.md" \
		-n old "$old/loopbreaker scan $work/$img.img" \
		-n new "$build/loopbreaker scan $work/$img.img" > "$work/$img-hyperfine.out" 2>&1
done
for img in big small real; do
	printf '\n## scan %s.img (hyperfine -N, %s runs)\n\n' "$img" "$runs" >> "$out"
	cat "$work/$img-times.md" >> "$out"
done
rm -f "$work"/*.img "$work"/*.img.json "$work"/SYSTEM.real "$work"/time.txt
cat "$out"
