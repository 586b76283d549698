#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds a normal and an
# ASan+UBSan build and runs every test (unit, image cases, shell scenarios,
# fuzz regressions) on both, then a bounded libFuzzer smoke run and the QEMU
# boot tests.
#   scripts/test.sh                    everything
#   LB_SKIP_ASAN=1 scripts/test.sh     skip the sanitizer pass
#   LB_SKIP_FUZZ=1 scripts/test.sh     skip the libFuzzer smoke run
#   LB_SKIP_BOOT=1 scripts/test.sh     skip the QEMU boot tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh
start=$(date +%s)
status=0
# Disk: tests remove their images when they pass (LB_KEEP_WORK=1 keeps them);
# a run needs about LB_DISK_NEED_MB free (measured peak: docs/performance.md).
need=${LB_DISK_NEED_MB:-800}
free=$(df -Pm . | awk 'NR==2 {print $4}')
echo "disk: ${free} MiB free here, the suite needs about ${need} MiB"
if [ "$free" -lt "$need" ]; then
	echo "warning: only ${free} MiB free; tests may fail with 'No space left on device'" >&2
fi
failed=()
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

# The binary that ships is a Release (-O3) build; warnings are errors here
# and in CI, not in a plain cmake build (LB_WERROR).
step "build (Release, -Werror)"
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DLB_WERROR=ON
step "tests (build)"
(cd build && ctest --output-on-failure -j2) || { status=1; failed+=(tests); }

if [ "${LB_SKIP_ASAN:-0}" != 1 ]; then
	step "build (ASan+UBSan)"
	scripts/build.sh build-asan -DLB_SANITIZE=ON -DLB_WERROR=ON
	step "tests (ASan+UBSan)"
	(
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		cd build-asan && ctest --output-on-failure -j2
	) || { status=1; failed+=(asan); }
fi

if [ "${LB_SKIP_FUZZ:-0}" != 1 ] && [ -f tests/fuzz/smoke.sh ]; then
	step "fuzz smoke (libFuzzer, bounded)"
	bash tests/fuzz/smoke.sh || { status=1; failed+=(fuzz); }
fi

if [ "${LB_SKIP_BOOT:-0}" != 1 ] && [ -f tests/boot/run.sh ]; then
	step "boot tests (QEMU)"
	LB_BUILD="$root/build" bash tests/boot/run.sh || { status=1; failed+=(boot); }
fi

step "done"
echo "disk: $(df -Pm . | awk 'NR==2 {print $4}') MiB free at the end"
if [ $status = 0 ]; then
	echo "test suite: PASS"
else
	echo "test suite: FAIL (${failed[*]})"
fi
exit $status
