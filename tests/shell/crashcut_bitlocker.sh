#!/usr/bin/env bash
# Crash-cut sweep inside a BitLocker volume: the fault layer sits above the
# decrypting layer, so write N is the N-th write of NTFS through BitLocker.
# For every N (power cut and EIO): the decrypted volume passes `ntfsfix -n`,
# or its only flaw is a $MFTMirr older than $MFT (this 32 MiB volume's MFT is
# full, so the fix grows it: record 0 is written, then its mirror copy; a cut
# between the two leaves that state), which scan must report; the bad file is
# in place or in quarantine with its bytes; and a second fix with the key
# completes the job (repairing the mirror first).
. "$(dirname "$0")/lib.bash"

bitlocker_volume vol.img
printf '%s\n' 'KeyID,RecoveryKey' "{64311DEA-4587-4029-924A-BA299647998E},$RP" > keys.csv
sha=$(sha256sum < bad.sys | cut -d' ' -f1)

cp vol.img probe.img
run 0 fix --keys keys.csv --evidence probe.tar.zst probe.img
writes=$(jget last.json 'r["targets"][0]["writes"]')
check "a fix writes something" test "$writes" -gt 0

decrypted() { # IMAGE -> dec.img (the 32 MiB NTFS inside)
	rm -f dec.img
	"$LB_BUILD/lb-blwrite" dump "$1" "$RP" dec.img && truncate -s 32M dec.img
}
where() { bad_file_where dec.img "$sha" Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys; }

tried=0 stale=0
for mode in cut eio; do
	for n in $(seq 1 "$writes"); do
		tried=$((tried + 1))
		cp vol.img c.img
		rm -f c-*.tar.zst
		"$LBT" fix --keys keys.csv --fault-inject "$mode:$n" --evidence c-1.tar.zst --json c.img > cut.json 2>&1 || true
		decrypted c.img || { fail "$mode:$n: cannot unlock after the cut"; continue; }
		look=dec.img
		if ! ntfsfix -n dec.img > /dev/null 2>&1; then
			# allowed: the mirror is behind $MFT, and nothing else
			"$LB" scan --keys keys.csv --json c.img > st.json 2> /dev/null || true
			eq "$mode:$n: ntfsfix -n fails: only \$MFTMirr behind" \
				"$(jget st.json 'r["targets"][0]["volumes"][0].get("mft_mirror", {}).get("state")')" stale
			eq "$mode:$n: scan says fix will repair the mirror" \
				"$(jget st.json 'r["targets"][0]["volumes"][0].get("mft_mirror", {}).get("action")')" would_repair
			cp dec.img look.img && ntfsfix look.img > /dev/null 2>&1 && ntfsfix -d look.img > /dev/null 2>&1 || true
			check "$mode:$n: sound once the mirror is repaired" ntfsfix -n look.img
			look=look.img
			stale=$((stale + 1))
		fi
		w=$(bad_file_where "$look" "$sha" Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys)
		T_CHECKS=$((T_CHECKS + 1))
		[ "$w" = lost ] && fail "$mode:$n: file lost"
		"$LB" fix --keys keys.csv --evidence c-2.tar.zst --json c.img > second.json 2> second.err || fail "$mode:$n: second fix exited $?"
		decrypted c.img
		eq "$mode:$n: after the second fix" "$(where)" quarantine
		[ "$look" = dec.img ] || eq "$mode:$n: second fix repaired the mirror" \
			"$(jget second.json 'r["targets"][0]["volumes"][0]["mft_mirror"]["action"]')" repaired
		check "$mode:$n: ntfsfix -n after" ntfsfix -n dec.img
	done
done
echo "BitLocker crash-cut sweep: $tried cut points tried ($writes writes per fix, power cut and EIO); $stale left a stale \$MFTMirr"
check "some cut point leaves a stale mirror (the case this sweep exists for)" test "$stale" -gt 0
eq "cut points tried (docs/reliability.md says 36)" "$tried" 36
eq "cut points leaving a stale mirror (docs: cut:3 and cut:9)" "$stale" 2
done_tests
