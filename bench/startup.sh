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
# Then one hyperfine session over two 48 MiB NTFS partition images with a
# small Windows tree and one bad channel file 291: small.img with small
# generated hives (lb-mkhive), real.img with the real 11 MiB SYSTEM hive from
# the shared data (as tests/shell/lib.bash's small_windows_volume):
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

# ---- the images: 48 MiB NTFS, a small Windows tree, one bad channel file;
# real.img with the real SYSTEM hive (11 MiB) from the shared data, small.img
# with a SYSTEM and a SOFTWARE hive made by lb-mkhive (a few KiB, as
# scripts/mkimage.py makes them)
bad=Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
make_img() { # OUT SYSTEM [SOFTWARE]
	[ -s "$1" ] && return 0
	truncate -s 48M "$1.tmp"
	mkntfs -F -Q -q -L Windows "$1.tmp" 2>/dev/null
	ntfs-3g "$1.tmp" "$mnt"
	mkdir -p "$mnt/Windows/System32/config" "$mnt/Windows/System32/drivers/CrowdStrike"
	cp "$2" "$mnt/Windows/System32/config/SYSTEM"
	[ -z "${3:-}" ] || cp "$3" "$mnt/Windows/System32/config/SOFTWARE"
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 8184 /dev/urandom; } > "$mnt/$bad"
	touch -d '2024-07-19 04:30 UTC' "$mnt/$bad"
	umount "$mnt"
	mv "$1.tmp" "$1"
}
xz -dc "${LB_SHARED_DATA:-$src/../shared/data}/hives/SYSTEM.xz" > "$work/SYSTEM.real"
printf '%s\n' '[Select]' '"Current"=dword:1' '"Default"=dword:1' '"LastKnownGood"=dword:1' \
	'[ControlSet001\Control\ComputerName\ComputerName]' '"ComputerName"=sz:WKS-BENCH-01' \
	'[ControlSet001\Services\CSAgent]' '"Start"=dword:1' |
	"$build/lb-mkhive" "$work/SYSTEM.small" - || die "lb-mkhive failed"
printf '%s\n' '[Microsoft\Windows NT\CurrentVersion]' '"ProductName"=sz:Windows 10 Enterprise' \
	'"CurrentBuild"=sz:19045' '"UBR"=dword:4651' |
	"$build/lb-mkhive" "$work/SOFTWARE.small" - || die "lb-mkhive failed"
make_img "$work/real.img" "$work/SYSTEM.real"
make_img "$work/small.img" "$work/SYSTEM.small" "$work/SOFTWARE.small"
imgs=(small "$work/small.img" real "$work/real.img")
cat > "$work/by-hand.sh" <<EOF
#!/bin/bash
# the look a technician takes over FUSE: mount read-only, find, unmount
set -e
ntfs-3g -o ro,no_detach "\$1" "$mnt" >/dev/null 2>&1 &
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
for ((j = 0; j < ${#imgs[@]}; j += 2)); do
	img=${imgs[j + 1]}
	"$work/by-hand.sh" "$img" || die "the by-hand look did not find the bad file in $img"
	for ((i = 0; i < ${#bins[@]}; i += 2)); do
		rc=0; "${bins[i + 1]}" scan "$img" > /dev/null 2>&1 || rc=$?
		[ "$rc" = 1 ] || die "${bins[i]}: scan $img exited $rc, expected 1 (the bad file)"
	done
done

# ---- counts (independent of load)
count() { # NAME BINARY
	local n=$1 b=$2 st
	st=$(LD_DEBUG=statistics "$b" version 2>&1 >/dev/null)
	echo "$n objects $(ldd "$b" | wc -l)"
	echo "$n relocations $(sed -n 's/^[[:space:]]*[0-9]*:[[:space:]]*number of relocations: //p' <<< "$st" | head -1)"
	echo "$n relative $(sed -n 's/^[[:space:]]*[0-9]*:[[:space:]]*number of relative relocations: //p' <<< "$st" | head -1)"
	for what in version scan-small scan-real; do
		local args=(version)
		[ $what = scan-small ] && args=(scan "$work/small.img")
		[ $what = scan-real ] && args=(scan "$work/real.img")
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
done
for ((j = 0; j < ${#imgs[@]}; j += 2)); do
	for ((i = 0; i < ${#bins[@]}; i += 2)); do
		hs+=(-n "${bins[i]}: scan ${imgs[j]}.img" "${bins[i + 1]} scan ${imgs[j + 1]}")
	done
	hs+=(-n "by hand: ntfs-3g -o ro + find + umount, ${imgs[j]}.img" "$work/by-hand.sh ${imgs[j + 1]}")
done
hyperfine -N --style basic --warmup 20 --runs "$runs" --export-json "$work/version.json" "${hv[@]}"
hyperfine -N -i --style basic --warmup 5 --runs "$((runs / 3 > 10 ? runs / 3 : 10))" \
	--export-json "$work/scan.json" "${hs[@]}"
load1=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$work" "$load0" "$load1" "$(nproc)" <<'EOF' | tee "$work/results.md"
import json, sys
work, l0, l1, ncpu = sys.argv[1:]
counts = {}
for line in open(work + '/counts.txt'):
    n, k, *v = line.split()
    v = v[0] if v else ''

    counts.setdefault(n, {})[k] = v
names = list(counts)
print('load average %s before, %s after; %s cores' % (l0, l1, ncpu))
print()
print('| measure | ' + ' | '.join(names) + ' |')
print('|---|' + '---:|' * len(names))
for k, label in [('objects', 'shared objects (ldd)'), ('relocations', 'relocations (symbol)'),
                 ('relative', 'relative relocations'), ('instr-version', 'instructions, version'),
                 ('instr-scan-small', 'instructions, scan small.img'),
                 ('instr-scan-real', 'instructions, scan real.img')]:
    print('| %s | %s |' % (label, ' | '.join(format(int(counts[n].get(k) or 0), ',')
                                           for n in names)))
for f in ('version', 'scan'):
    res = json.load(open('%s/%s.json' % (work, f)))['results']
    print()
    print('| %s | mean ms | sd | median | min | user ms | system ms |' % f)
    print('|---|---:|---:|---:|---:|---:|---:|')
    for r in res:
        print('| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |' % (
            r['command'], r['mean'] * 1e3, r['stddev'] * 1e3, r['median'] * 1e3,
            r['min'] * 1e3, r['user'] * 1e3, r['system'] * 1e3))
    # ratios within one image (or all of version): each row over "new: ..."
    groups = {}
    for r in res:
        groups.setdefault(r['command'].split()[-1], []).append(r)
    print()
    for g in groups.values():
        base = [r for r in g if r['command'].startswith('new:')][0]
        for r in g:
            if r is not base:
                print('- %s / %s: %.2fx by mean, %.2fx by median' % (
                    r['command'], base['command'], r['mean'] / base['mean'],
                    r['median'] / base['median']))
EOF
