#!/usr/bin/env bash
# Peak memory of `loopbreaker fleet` over 1k, 5k and 20k generated reports
# (scripts/gen-reports.py; 5% of the machines with a second, older report).
# Not part of ctest.  usage: bench/fleet-memory.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=${2:-$build/bench-fleet}
command -v /usr/bin/time >/dev/null || "$src/scripts/install-deps.sh"
mkdir -p "$work"
printf '%-8s %-8s %-10s %-12s %-10s %-10s\n' machines reports report_MB peak_RSS_KiB wall_s html_MB
for n in 1000 5000 20000; do
	d=$work/reports-$n
	if [ ! -d "$d" ]; then
		python3 "$src/scripts/gen-reports.py" "$d" --count "$n" --dups $((n / 20)) --junk 5 --seed 1
	fi
	reports=$(find "$d" -name '*.json' | wc -l)
	mb=$(du -sm "$d" | cut -f1)
	/usr/bin/time -v "$build/loopbreaker" fleet -q -o "$work/out-$n" "$d" 2> "$work/time-$n.txt"
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$n.txt")
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time-$n.txt")
	html=$(du -m "$work/out-$n/fleet.html" | cut -f1)
	printf '%-8s %-8s %-10s %-12s %-10s %-10s\n' "$n" "$reports" "$mb" "$rss" "$wall" "$html"
done
