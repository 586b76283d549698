#!/usr/bin/env bash
# valgrind (memcheck) is clean on the scan, fix and undo paths: no invalid
# reads/writes, no uninitialised use, no definite leaks.
. "$(dirname "$0")/lib.bash"
command -v valgrind >/dev/null || skip_test "valgrind is not installed"

# valgrind cannot run an AddressSanitizer binary; the normal build runs this
if [[ "$(ldd "$LB")" == *libasan* ]]; then
	skip_test "valgrind cannot run an AddressSanitizer binary (the normal build runs this test)"
fi
small_windows_volume vol.img
vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "$LB" "$@"; }
rc=0; vg scan vol.img > scan.out 2> scan.err || rc=$?
eq "scan under valgrind (exit 1 = bad file found)" "$rc" 1
rc=0; vg fix --evidence ev.tar.zst vol.img > fix.out 2> fix.err || rc=$?
eq "fix under valgrind" "$rc" 0
rc=0; vg undo ev.tar.zst vol.img > undo.out 2> undo.err || rc=$?
eq "undo under valgrind" "$rc" 0
for f in scan fix undo; do
	check "$f: no valgrind report" bash -c "! grep -q '==[0-9]*==' $f.err"
done
done_tests
