#!/usr/bin/env bash
# Crash-cut sweep over the quarantine path: for every write N that a fix
# performs, simulate a power cut after write N (and, separately, an EIO on
# write N).  Afterwards the volume must open and pass `ntfsfix -n`, the bad
# file must be in its place or in quarantine with its exact bytes (never
# lost), and a second, uninterrupted fix must finish the job.
. "$(dirname "$0")/lib.bash"

windows_made_volume vol.raw
bad='\Windows\System32\drivers\CrowdStrike\C-00000291-00000000-00000032.sys'
sha=$(ntfscat vol.raw "$(echo "$bad" | tr '\\' /)" | sha256sum | cut -d' ' -f1)

cp vol.raw probe.raw
run 0 fix --evidence probe.tar.zst probe.raw
writes=$(jget last.json 'r["targets"][0]["writes"]')
check "a fix writes something" test "$writes" -gt 0

locate() { bad_file_where "$1" "$sha" "$(echo "$bad" | tr '\\' /)"; }

tried=0
for mode in cut eio; do
	for n in $(seq 1 "$writes"); do
		tried=$((tried + 1))
		rm -f c.raw c-*.tar.zst
		cp vol.raw c.raw
		"$LBT" fix --fault-inject "$mode:$n" --evidence "c-$n.tar.zst" --json c.raw > cut.json 2>&1 || true
		T_CHECKS=$((T_CHECKS + 1))
		if ! ntfsfix -n c.raw > /dev/null 2>&1; then fail "$mode:$n: ntfsfix -n fails"; continue; fi
		where=$(locate c.raw)
		T_CHECKS=$((T_CHECKS + 1))
		[ "$where" = lost ] && fail "$mode:$n: file lost"
		# a second fix completes the job
		"$LB" fix --evidence "c2-$n.tar.zst" --json c.raw > second.json 2>&1 || fail "$mode:$n: second fix exited $?"
		"$LB" scan --json c.raw > third.json 2>&1 || fail "$mode:$n: scan after second fix not clean"
		eq "$mode:$n: after second fix" "$(locate c.raw)" quarantine
		check "$mode:$n: ntfsfix -n after second fix" ntfsfix -n c.raw
		rm -f "c2-$n.tar.zst"
	done
done
echo "crash-cut sweep: $tried cut points tried ($writes writes per fix, power cut and EIO)"
# docs/reliability.md states the count: a change that makes the sweep
# shorter (or empty) must show up here, not pass quietly.
eq "cut points tried (docs/reliability.md says 24)" "$tried" 24
done_tests
