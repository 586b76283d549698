#!/usr/bin/env bash
# Crash-cut sweep over the hive-edit path (disable-driver): for every write
# N of the fix, a power cut after write N, and separately an EIO on write N.
# Afterwards: the volume passes `ntfsfix -n`; SYSTEM is the old hive or the
# new one and opens with hivex — or, inside the rename window, SYSTEM is
# absent while SYSTEM.loopbreaker-new (new) and the kept original both open;
# a second uninterrupted fix completes the job (Start=4 in both boot
# control sets) and a scan is then clean.
. "$(dirname "$0")/lib.bash"

xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > SYSTEM.cs
for cs in ControlSet001 ControlSet002; do
	printf '%s\n' "cd \\$cs\\Services" 'add CSAgent' 'cd CSAgent' 'setval 1' 'Start' 'dword:1' 'commit' |
		hivexsh -w SYSTEM.cs
done
registry_volume vol.raw SYSTEM.cs
PB=(--playbook disable-driver --param service=CSAgent)

cp vol.raw probe.raw
run 0 fix "${PB[@]}" --evidence probe.tar.zst probe.raw
writes=$(jget last.json 'r["targets"][0]["writes"]')
check "a hive edit writes something" test "$writes" -gt 0

start_of() { # IMAGE NAME -> Start in ControlSet001 of that file in config, or "unreadable"/"absent"
	if ! ntfscat "$1" "Windows/System32/config/$2" > h.tmp 2>/dev/null || [ ! -s h.tmp ]; then echo absent; return; fi
	hivexget h.tmp '\ControlSet001\Services\CSAgent' Start 2>/dev/null || echo unreadable
}
config_names() { "$LB" ls "$1" '\Windows\System32\config' 2>/dev/null | awk '{print $4}'; }

tried=0 window=0
for mode in cut eio; do
	for n in $(seq 1 "$writes"); do
		tried=$((tried + 1))
		rm -f c.raw c-*.tar.zst c2-*.tar.zst
		cp --sparse=always vol.raw c.raw
		"$LBT" fix "${PB[@]}" --fault-inject "$mode:$n" --evidence "c-$n.tar.zst" --json c.raw > cut.json 2>&1 || true
		T_CHECKS=$((T_CHECKS + 1))
		ntfsfix -n c.raw > /dev/null 2>&1 || fail "$mode:$n: ntfsfix -n fails"
		s=$(start_of c.raw SYSTEM)
		T_CHECKS=$((T_CHECKS + 1))
		case "$s" in
		1|4) ;;
		absent)
			window=$((window + 1))
			new=$(start_of c.raw SYSTEM.loopbreaker-new)
			old=$(config_names c.raw | grep -m1 '^SYSTEM\.loopbreaker-2' || true)
			[ "$new" = 4 ] || fail "$mode:$n: SYSTEM absent and SYSTEM.loopbreaker-new is '$new'"
			[ -n "$old" ] && [ "$(start_of c.raw "$old")" = 1 ] || fail "$mode:$n: SYSTEM absent and no intact original kept"
			;;
		*) fail "$mode:$n: SYSTEM is '$s' (neither the old nor the new hive)" ;;
		esac
		# a second fix completes the job (a third if the second had to finish an interrupted swap)
		"$LB" fix "${PB[@]}" --evidence "c2-$n.tar.zst" --json c.raw > second.json 2>&1 || true
		if [ "$(start_of c.raw SYSTEM)" != 4 ]; then
			"$LB" fix "${PB[@]}" --evidence "c3-$n.tar.zst" --json c.raw > third.json 2>&1 || true
		fi
		eq "$mode:$n: Start after the next fix" "$(start_of c.raw SYSTEM)" 4
		eq "$mode:$n: ControlSet002 too" "$(ntfscat c.raw Windows/System32/config/SYSTEM > h2.tmp && hivexget h2.tmp '\ControlSet002\Services\CSAgent' Start)" 4
		rc=0; "$LB" scan "${PB[@]}" --json c.raw > scan.json 2>&1 || rc=$?
		eq "$mode:$n: scan after" "$rc" 0
		check "$mode:$n: ntfsfix -n at the end" ntfsfix -n c.raw
		rm -f c3-$n.tar.zst
	done
done
echo "hive crash-cut sweep: $tried cut points tried ($writes writes per fix, power cut and EIO; $window inside the rename window)"
# docs/reliability.md: 36 cut points, 7 of them inside the rename window
# (the case the completion logic exists for) -- both must really happen.
eq "cut points tried (docs/reliability.md says 36)" "$tried" 36
eq "cut points inside the rename window (docs say 7)" "$window" 7
done_tests
