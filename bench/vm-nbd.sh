#!/usr/bin/env bash
# fix through NBD (qcow2, a private qemu-nbd) vs the same disk raw, in one
# hyperfine session; with LB_BENCH_GUESTFS=1 also libguestfs on the same
# qcow2 (virt-customize --delete and guestfish glob rm-f, 3 runs each: its
# appliance boots under TCG here).  Every timed run starts from a fresh
# copy (--prepare).  Results: docs/performance.md "VM images over NBD".
#   bench/vm-nbd.sh [BUILD_DIR]       (default build/)
# Needs hyperfine, qemu-img, python3, ntfs-3g (mkimage); for libguestfs:
# scripts/install-deps.sh guestfs.  Not run in CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
lb=$build/loopbreaker
runs=${LB_BENCH_RUNS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/lb-vm-nbd.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > vm.spec <<'SPEC'
table gpt
ntfs size=200M label=Windows
install \Windows hostname=WKS-BENCH-01
channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:09:00Z
channel C-00000290-00000000-00000032.sys mtime=2024-07-19T04:09:00Z content=channel:290
SPEC
LB_BUILD=$build python3 "$src/scripts/mkimage.py" vm.spec vm.raw > /dev/null
qemu-img convert -O qcow2 vm.raw vm.qcow2
echo "disk: $(du -h --apparent-size vm.raw | cut -f1) raw, $(du -h vm.qcow2 | cut -f1) qcow2" \
     "($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
# each way does its job before it is timed
cp --sparse=always vm.qcow2 w.qcow2
"$lb" fix --evidence ev.tar.zst w.qcow2 > /dev/null
"$lb" scan w.qcow2 > /dev/null   # exit 0: clean
rm -f ev.tar.zst
hyperfine -N --runs "$runs" --export-markdown nbd.md \
	--prepare "sh -c 'rm -f ev.tar.zst; cp --sparse=always vm.raw w.raw'" \
	-n 'fix raw' "$lb fix --evidence ev.tar.zst w.raw" \
	--prepare "sh -c 'rm -f ev.tar.zst; cp --sparse=always vm.qcow2 w.qcow2'" \
	-n 'fix qcow2 (NBD)' "$lb fix --evidence ev.tar.zst w.qcow2"
cat nbd.md
[ "${LB_BENCH_GUESTFS:-0}" = 1 ] || exit 0
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
glob='/Windows/System32/drivers/CrowdStrike/C-00000291*.sys'
cp --sparse=always vm.qcow2 g.qcow2
if virt-customize -q -a g.qcow2 --delete "$glob" > vc.log 2>&1; then vc=1; else
	vc=0; echo "virt-customize cannot run on this disk: $(tail -1 vc.log)"; fi
gf=(--prepare "cp --sparse=always vm.qcow2 g.qcow2" -n 'guestfish glob rm-f (qcow2)'
    "guestfish -a g.qcow2 -m /dev/sda1 glob rm-f $glob")
[ $vc = 0 ] || gf+=(--prepare "cp --sparse=always vm.qcow2 g.qcow2"
                    -n 'virt-customize --delete (qcow2)' "virt-customize -q -a g.qcow2 --delete $glob")
hyperfine -N --runs 3 --export-markdown guestfs.md "${gf[@]}"
cat guestfs.md
