#!/usr/bin/env bash
# The case harness (tests/run-case.sh) does not pass what it did not check:
# a script with a syntax error half-way, a `return` or `exit` half-way, or
# no check at all fails; a complete script with checks passes; a failed
# check fails.
source "$(dirname "$0")/lib.bash"

mkcase() { # mkcase NAME SCRIPT-TEXT
	mkdir -p "cases/$1"
	printf '%s\n' "$2" > "cases/$1/script"
}
mkcase good $'ok\nok\nnote "two checks"'
mkcase syntax $'ok\nif then fi (\nok'
mkcase return-halfway $'ok\nreturn 0\nok'
mkcase exit-halfway $'ok\nexit 0\nok'
mkcase no-checks $'note "nothing checked"'
mkcase failed-check $'ok\nfail "deliberate"'

runcase() { # runcase NAME -> exit status
	local rc=0
	LB_BUILD=$LB_BUILD LB_SOURCE=$LB_SOURCE bash "$LB_SOURCE/tests/run-case.sh" "cases/$1" \
		> "$1.out" 2>&1 || rc=$?
	echo "$rc"
}
eq "a complete script passes" "$(runcase good)" 0
check "... and says how many checks" grep -q "PASS: 2 checks" good.out
for c in syntax return-halfway exit-halfway no-checks failed-check; do
	eq "case '$c' fails" "$(runcase "$c")" 1
	check "case '$c' does not say PASS" bash -c "! grep -q PASS $c.out"
done
check "the syntax error is blamed on the script stopping early" grep -q "stopped before its end" syntax.out
check "a return half-way is caught" grep -q "stopped before its end" return-halfway.out
check "an exit half-way is caught" grep -q "called exit before its end" exit-halfway.out
check "no checks is caught" grep -q "ran no check" no-checks.out
rm -rf "$LB_BUILD/tests-work/case-"{good,syntax,return-halfway,exit-halfway,no-checks,failed-check}
done_tests
