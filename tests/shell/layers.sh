#!/usr/bin/env bash
# The layer rule holds on this build, and the checker catches a reach-past:
# the same list with one dependency taken away (engine without ntfs, cli
# without engine) must fail, naming the layer and the symbol.
source "$(dirname "$0")/lib.bash"

list=$LB_BUILD/layers.txt
check "layers.txt written by the build" test -s "$list"
check "the build's layers keep the rule" bash "$LB_SOURCE/tests/layers.sh" "$list"

# Every layer of recover/ is in the list (a new folder must be a layer).
for d in "$LB_SOURCE"/recover/*/; do
	l=$(basename "$d")
	check "recover/$l is a layer in layers.txt" grep -q "^$l " "$list"
done

for cut in "engine ntfs" "cli engine" "playbook registry"; do
	set -- $cut
	sed -E "/^$1 /s/ $2( |\$)/\\1/" "$list" > cut.txt
	got=0
	bash "$LB_SOURCE/tests/layers.sh" cut.txt > cut.out 2> cut.err || got=$?
	eq "layers.sh with $1 not naming $2 exits" "$got" 1
	check "the refusal names '$1' reaching '$2'" grep -q "layer '$1' uses .* from layer '$2'" cut.err
done

# A deliberate upward call: an object in dev/ that calls the engine.  The
# header route is closed (dev's include path has no engine/), so declare it
# by hand, as a careless contributor might; the build-time check must fail.
printf '%s\n' 'int lb_engine_run();' 'int lb_upward(void) { return lb_engine_run(); }' > upward.c
cc -c upward.c -o upward.o
sed -E "s|^dev ([^ ]+)|dev \1 $PWD/upward.o|" "$list" > upward.txt
got=0
bash "$LB_SOURCE/tests/layers.sh" upward.txt > upward.out 2> upward.err || got=$?
eq "dev/ calling lb_engine_run is rejected" "$got" 1
check "the refusal names dev, the symbol and engine" grep -q "layer 'dev' uses lb_engine_run from layer 'engine'" upward.err
# and through the header: dev's include path does not reach engine/
printf '%s\n' '#include "lb_engine.h"' > upward-h.c
check "dev cannot include an engine header" bash -c "! cc -fsyntax-only -I'$LB_SOURCE/recover/util' -I'$LB_SOURCE/recover/dev' upward-h.c 2>/dev/null"

# The shipped binary has no test hooks; the test binary has them.
check "loopbreaker has no --fault-inject" bash -c "! '$LB' fix --fault-inject cut:1 /nonexistent 2>&1 | grep -q 'takes cut:N'; ! strings '$LB' | grep -q 'lb_io_faulty\|fault-inject'"
check "loopbreaker-test takes --fault-inject" bash -c "'$LBT' fix --help 2>&1 | grep -q fault-inject"
done_tests
