#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds a normal and an
# ASan+UBSan build, runs every test on both, then the boot tests.
#   scripts/test.sh            everything
#   LB_SKIP_ASAN=1 scripts/test.sh   skip the sanitizer pass
#   LB_SKIP_BOOT=1 scripts/test.sh   skip the QEMU boot tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh
start=$(date +%s)
status=0

echo "== build"
scripts/build.sh build
echo "== tests (build)"
(cd build && ctest --output-on-failure -j2) || status=1

if [ "${LB_SKIP_ASAN:-0}" != 1 ]; then
	echo "== build (ASan+UBSan)"
	scripts/build.sh build-asan -DLB_SANITIZE=ON
	echo "== tests (ASan+UBSan)"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	(cd build-asan && ctest --output-on-failure -j2) || status=1
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "${LB_SKIP_BOOT:-0}" != 1 ] && [ -x tests/boot/run.sh ]; then
	echo "== boot tests"
	LB_BUILD="$root/build" bash tests/boot/run.sh || status=1
fi

echo "== test suite finished in $(( $(date +%s) - start ))s: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
