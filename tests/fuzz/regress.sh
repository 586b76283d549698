#!/usr/bin/env bash
# Replays every committed fuzz regression input once: each target in
# BUILD/fuzz/ (plain replay drivers in a normal or ASan build, or libFuzzer
# binaries in build-fuzz) over tests/fuzz/regressions/<target>/.
#   tests/fuzz/regress.sh [BUILD_DIR]      default: build
# Exit 0 when every input ran to completion (no crash, no sanitizer report).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp}
status=0 ran=0
for dir in "$here"/regressions/fuzz_*/; do
	[ -d "$dir" ] || continue
	t=$(basename "$dir")
	n=$(find "$dir" -maxdepth 1 -type f | wc -l)
	[ "$n" -gt 0 ] || continue
	bin=$build/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "regress: $t: $bin not built"
		status=1
		continue
	fi
	# -runs=0 is what libFuzzer binaries want; the plain driver ignores it
	if out=$("$bin" -runs=0 "$dir"/* 2>&1); then
		echo "regress: $t: $n inputs ok"
	else
		echo "regress: $t: FAIL"
		echo "$out" | grep -v '^running ' | tail -n 40
		status=1
	fi
	ran=$((ran + n))
done
echo "regress: $ran inputs, $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
