#!/usr/bin/env bash
# startup.sh - what `loopbreaker` costs before it does anything, and a scan
# of a small plain disk against the same look done by hand over FUSE.
#
# usage: bench/startup.sh [BUILD_DIR] [OLD_BINARY] [WORK_DIR] [RUNS]
#        (defaults: build, none, BUILD_DIR/bench-startup, 300)
#
# OLD_BINARY is another build to compare with side by side in the same
# session (e.g. the commit before a change, built from `git archive`).
# For each binary:
#   shared objects       ldd BINARY | wc -l
#   relocations          LD_DEBUG=statistics BINARY version ("number of
#                        relocations", symbol lookups; and relative ones)
#   instructions         valgrind --tool=callgrind, "Collected" (version; scan)
#   wall, user, system   hyperfine -N (no shell) BINARY version
# Then one hyperfine session over a 48 MiB NTFS partition image with a small
# Windows tree (the real SYSTEM hive from the shared data, one bad channel
# file 291, as tests/shell/lib.bash's small_windows_volume):
#   loopbreaker scan IMG (exit 1: the bad file is there), each binary
#   by hand: ntfs-3g -o ro IMG MNT; find the bad file; umount; wait for
#            ntfs-3g to exit (a bash script: its own start-up is counted)
# Instruction and relocation counts do not depend on the machine's load;
# wall times do: the load average is recorded with the results.
# Results: WORK_DIR/results.md; docs/performance.md has the numbers.
#
# Needs root (FUSE), hyperfine, valgrind, ntfs-3g, python3, xz
# (scripts/packages/bench.txt).  Not part of ctest or CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
old=${2:-}
work=${3:-$build/bench-startup}
runs=${4:-300}
new=$build/loopbreaker

die() { echo "startup: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (FUSE mount of the image)"
for c in hyperfine valgrind ntfs-3g mkntfs python3 xz; do
	command -v "$c" >/dev/null || die "$c missing: apt-get install \$(grep -v '^#' $src/scripts/packages/bench.txt)"
done
[ -x "$new" ] || die "build first: cmake -S $src -B $build && cmake --build $build"
[ -z "$old" ] || [ -x "$old" ] || die "$old is not an executable"
mkdir -p "$work/mnt"
work=$(cd "$work" && pwd)
mnt=$work/mnt
bins=(new "$new")
[ -n "$old" ] && bins=(old "$old" new "$new")

# ---- the image: 48 MiB NTFS, a small Windows tree, one bad channel file
img=$work/small.img
bad=Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
if [ ! -s "$img" ]; then
	truncate -s 48M "$img.tmp"
	mkntfs -F -Q -q -L Windows "$img.tmp" 2>/dev/null
	ntfs-3g "$img.tmp" "$mnt"
	mkdir -p "$mnt/Windows/System32/config" "$mnt/Windows/System32/drivers/CrowdStrike"
	xz -dc "${LB_SHARED_DATA:-$src/../shared/data}/hives/SYSTEM.xz" > "$mnt/Windows/System32/config/SYSTEM"
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 8184 /dev/urandom; } > "$mnt/$bad"
	touch -d '2024-07-19 04:30 UTC' "$mnt/$bad"
	umount "$mnt"
	mv "$img.tmp" "$img"
fi
cat > "$work/by-hand.sh" <<EOF
#!/bin/bash
# the look a technician takes over FUSE: mount read-only, find, unmount
set -e
ntfs-3g -o ro,no_detach "$img" "$mnt" >/dev/null 2>&1 &
pid=\$!
until mountpoint -q "$mnt"; do
	kill -0 \$pid 2>/dev/null || { echo "ntfs-3g failed" >&2; exit 1; }
	sleep 0.001
done
found=\$(find "$mnt" -ipath '*/windows/system32/drivers/crowdstrike/c-00000291*.sys' \\
        -newermt '2024-07-19 04:08:59.999999999 UTC' ! -newermt '2024-07-19 05:26:59.999999999 UTC')
umount "$mnt"
wait \$pid
[ -n "\$found" ]
EOF
chmod +x "$work/by-hand.sh"
trap 'mountpoint -q "$mnt" && umount "$mnt" || true' EXIT

# ---- correctness first: every way finds the bad file
"$work/by-hand.sh" || die "the by-hand look did not find the bad file"
for ((i = 0; i < ${#bins[@]}; i += 2)); do
	rc=0; "${bins[i + 1]}" scan "$img" > /dev/null 2>&1 || rc=$?
	[ "$rc" = 1 ] || die "${bins[i]}: scan exited $rc, expected 1 (the bad file)"
done

# ---- counts (independent of load)
count() { # NAME BINARY
	local n=$1 b=$2 st
	st=$(LD_DEBUG=statistics "$b" version 2>&1 >/dev/null)
	echo "$n objects $(ldd "$b" | wc -l)"
	echo "$n relocations $(sed -n 's/^ *[0-9]*: *number of relocations: //p' <<< "$st" | head -1)"
	echo "$n relative $(sed -n 's/^ *[0-9]*: *number of relative relocations: //p' <<< "$st" | head -1)"
	for what in version scan; do
		local args=(version)
		[ $what = scan ] && args=(scan "$img")
		valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n.$what" "$b" "${args[@]}" \
			> /dev/null 2> "$work/cg.$n.$what.log" || true
		echo "$n instr-$what $(sed -n 's/.*Collected : //p' "$work/cg.$n.$what.log" | tr -d ' ')"
	done
}
: > "$work/counts.txt"
for ((i = 0; i < ${#bins[@]}; i += 2)); do count "${bins[i]}" "${bins[i + 1]}" >> "$work/counts.txt"; done

# ---- timings, side by side in one session
load0=$(cut -d' ' -f1 /proc/loadavg)
hv=(); hs=()
for ((i = 0; i < ${#bins[@]}; i += 2)); do
	hv+=(-n "${bins[i]}: version" "${bins[i + 1]} version")
	hs+=(-n "${bins[i]}: scan" "${bins[i + 1]} scan $img")
done
hyperfine -N --style basic --warmup 20 --runs "$runs" --export-json "$work/version.json" "${hv[@]}"
hyperfine -N -i --style basic --warmup 5 --runs "$((runs / 3 > 10 ? runs / 3 : 10))" \
	--export-json "$work/scan.json" "${hs[@]}" -n "by hand: ntfs-3g -o ro + find + umount" "$work/by-hand.sh"
load1=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$work" "$load0" "$load1" "$(nproc)" <<'EOF' | tee "$work/results.md"
import json, sys
work, l0, l1, ncpu = sys.argv[1:]
counts = {}
for line in open(work + '/counts.txt'):
    n, k, v = line.split()
    counts.setdefault(n, {})[k] = v
names = list(counts)
print('load average %s before, %s after; %s cores' % (l0, l1, ncpu))
print()
print('| measure | ' + ' | '.join(names) + ' |')
print('|---|' + '---:|' * len(names))
for k, label in [('objects', 'shared objects (ldd)'), ('relocations', 'relocations (symbol)'),
                 ('relative', 'relative relocations'), ('instr-version', 'instructions, version'),
                 ('instr-scan', 'instructions, scan')]:
    print('| %s | %s |' % (label, ' | '.join(format(int(counts[n][k]), ',') for n in names)))
for f in ('version', 'scan'):
    res = json.load(open('%s/%s.json' % (work, f)))['results']
    print()
    print('| %s | mean ms | sd | median | min | user ms | system ms |' % f)
    print('|---|---:|---:|---:|---:|---:|---:|')
    for r in res:
        print('| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |' % (
            r['command'], r['mean'] * 1e3, r['stddev'] * 1e3, r['median'] * 1e3,
            r['min'] * 1e3, r['user'] * 1e3, r['system'] * 1e3))
    print()
    for i, a in enumerate(res):
        for b in res[i + 1:]:
            print('- %s / %s: %.2fx by mean, %.2fx by median' % (
                b['command'], a['command'], b['mean'] / a['mean'], b['median'] / a['median']))
EOF
