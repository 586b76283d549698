#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets (clang, ASan+UBSan, own
# build dir), generates the seed corpora, replays the regression inputs,
# then fuzzes each target for a bounded time.  Fails on any crash, leak,
# timeout or out-of-memory; prints one summary line per target.
#   tests/fuzz/smoke.sh                  30 s per target, two at a time (about
#                                        4 minutes in all with a fresh build)
#   LB_FUZZ_SECONDS=45 tests/fuzz/smoke.sh
#   LB_FUZZ_BUILD=build-fuzz             build directory (default)
#   LB_FUZZ_TARGETS="fuzz_keys fuzz_hive" only these
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
build=${LB_FUZZ_BUILD:-build-fuzz}
secs=${LB_FUZZ_SECONDS:-30}
targets=${LB_FUZZ_TARGETS:-$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# known leaks inside third-party libraries (documented in lsan.supp)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp}

echo "== fuzz build ($build, clang, libFuzzer + ASan/UBSan)"
mkdir -p "$build"
if ! CC=clang cmake -S . -B "$build" -DLB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
   ! cmake --build "$build" -j"$(nproc)" --target $targets lb-fuzz-pack >"$build/smoke-build.log" 2>&1; then
	tail -n 30 "$build/smoke-build.log" 2>/dev/null
	echo "fuzz smoke: FAIL (build)"
	exit 1
fi
echo "== seeds"
"$here/make-seeds.sh" "$build/seeds" "$build/fuzz/lb-fuzz-pack" || { echo "fuzz smoke: FAIL (seeds)"; exit 1; }

# one target: regressions once, then bounded fuzzing; result line in $t.result
run_target() {
	local t=$1 bin=$build/fuzz/$1 corpus=$build/smoke-corpus/$1 art=$build/smoke-artifacts/$1
	local log=$build/smoke-logs/$1.log res=$build/smoke-logs/$1.result asan rc
	rm -rf "$corpus" "$art" && mkdir -p "$corpus" "$art"
	: > "$log"
	# 1. the committed regression inputs, once each
	if [ -d "$here/regressions/$t" ] && [ -n "$(ls -A "$here/regressions/$t")" ]; then
		if ! ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 "$bin" -runs=0 \
				"$here/regressions/$t"/* >>"$log" 2>&1; then
			echo "$t: FAIL: a regression input crashes (see $log)" > "$res"
			return
		fi
	fi
	# 2. bounded fuzzing from the seeds.  libntfs-3g and dislocker have no
	# frame pointers: the engine target needs the slow unwinder for its leak
	# stacks to reach the suppressed functions.
	asan=$ASAN_OPTIONS
	[ "$t" = fuzz_engine ] && asan=$asan:fast_unwind_on_malloc=0
	ASAN_OPTIONS=$asan "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 \
		-print_final_stats=1 -artifact_prefix="$art/" "$corpus" "$build/seeds/$t" >>"$log" 2>&1
	rc=$?
	local execs last cov ft corp line
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	line=$(printf '%-15s %3ss %9s execs  cov %5s  ft %5s  corpus %4s' "$t" "$secs" \
		"${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
	if [ $rc != 0 ] || [ -n "$(ls -A "$art")" ]; then
		{
			echo "$line  FAIL (exit $rc)"
			grep -A25 -m1 -E '^==[0-9]+==ERROR|runtime error' "$log" | head -n 30 | sed 's/^/    /'
			for a in "$art"/*; do [ -e "$a" ] && echo "    reproducer: $a"; done
		} > "$res"
	else
		echo "$line  ok" > "$res"
	fi
}

# two at a time (the fuzzers are single-threaded)
mkdir -p "$build/smoke-logs"
jobs_max=$(( $(nproc) < 2 ? 1 : 2 ))
for t in $targets; do
	rm -f "$build/smoke-logs/$t.result"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	echo "== $t: fuzzing ${secs}s"
	run_target "$t" &
done
wait
status=0
summary=()
for t in $targets; do
	r=$build/smoke-logs/$t.result
	[ -f "$r" ] || echo "$t: FAIL: no result" > "$r"
	grep -q 'FAIL' "$r" && status=1
	summary+=("$(cat "$r")")
done
echo "== fuzz smoke summary"
printf '%s\n' "${summary[@]}"
echo "fuzz smoke: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
