#!/usr/bin/env bash
# Batch throughput: N generated VM disk images (GPT, ESP, MSR, Windows,
# Recovery, like scripts/demo.spec) fixed with `fix --jobs 1` and
# `--jobs 2` side by side, each on fresh copies.  Not run in CI.
#   bench/batch.sh [BUILD] [WORK] [N]    (as root: image set-up uses FUSE)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$src/build}")
work=$(realpath -m "${2:-/tmp/lb-batch-bench}")
n=${3:-32}
mkdir -p "$work" && cd "$work"
[ -f master.img ] || LB_BUILD=$build python3 "$src/scripts/mkimage.py" "$src/scripts/demo.spec" master.img > /dev/null
fresh() { rm -rf disks reports-*; mkdir disks; for i in $(seq -w 1 "$n"); do cp --sparse=always master.img disks/vm$i.img; done; sync; }
for jobs in 1 2 1 2; do
	fresh
	t0=$(date +%s.%N)
	"$build/loopbreaker" fix --jobs "$jobs" --report-dir reports-$jobs --report summary-$jobs.json disks/*.img > /dev/null
	t1=$(date +%s.%N)
	fixed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["fixed"])' summary-$jobs.json)
	python3 -c "import sys; t=$t1-$t0; print('jobs=%s images=%s fixed=%s wall=%.2fs  %.1f images/s' % ($jobs, $n, $fixed, t, $n/t))"
done
