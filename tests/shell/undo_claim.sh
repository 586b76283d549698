#!/usr/bin/env bash
# undo owns its targets like fix does (issue 11): while another process
# holds a flock on the image (exclusive: a fix; shared: a scan), undo is
# refused naming that process, exits 1 and writes nothing, whether the
# target is given or taken from the bundle; once the lock is gone the same
# undo restores the file.
. "$(dirname "$0")/lib.bash"

bad='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
HOLDPIDS=()
trap 'for p in "${HOLDPIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
lockpy='import fcntl, sys, time; f = open(sys.argv[2]); fcntl.flock(f, getattr(fcntl, sys.argv[1])); open(sys.argv[2] + ".locked", "w"); time.sleep(60)'
hold_flock() { # LOCK_SH|LOCK_EX FILE: sets FPID
	rm -f "$2.locked"
	python3 -c "$lockpy" "$1" "$2" & FPID=$!; HOLDPIDS+=($FPID)
	for _ in $(seq 100); do [ -e "$2.locked" ] && break; sleep 0.05; done
	check "flock taken" test -e "$2.locked"
}
drop_flock() { kill "$FPID"; wait "$FPID" 2>/dev/null || true; unset 'HOLDPIDS[-1]'; }

small_windows_volume vol.img
orig_sha=$(ntfscat vol.img "$bad" | sha256sum | cut -d' ' -f1)
run 0 fix --evidence ev.tar.zst vol.img
check "fixed: bad file moved" bash -c "! ntfscat vol.img '$bad' >/dev/null 2>&1"
fixed=$(sha256sum < vol.img)

for lock in LOCK_EX LOCK_SH; do
	for how in given recorded; do
		hold_flock $lock vol.img
		if [ $how = given ]; then run 1 undo ev.tar.zst vol.img; else run 1 undo ev.tar.zst; fi
		eq "$lock, $how: entry refused" "$(jget last.json 'r["undo"][0]["status"]')" refused
		msg=$(jget last.json 'r["undo"][0]["reason"]')
		T_CHECKS=$((T_CHECKS + 1))
		[[ $msg == *"pid $FPID (python3) holds a lock on it"* ]] ||
			fail "$lock, $how: reason '$msg' does not name pid $FPID (python3)"
		check "$lock, $how: in the run's reasons" grep -q "pid $FPID (python3)" <(jget last.json 'r["reasons"]')
		eq "$lock, $how: nothing written" "$(sha256sum < vol.img)" "$fixed"
		drop_flock
	done
done

# the lock gone, the same undo restores
run 0 undo ev.tar.zst vol.img
eq "after the lock: restored" "$(jget last.json 'r["undo"][0]["status"]')" restored
eq "after the lock: bytes back" "$(ntfscat vol.img "$bad" | sha256sum | cut -d' ' -f1)" "$orig_sha"

done_tests
