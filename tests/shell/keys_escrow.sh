#!/usr/bin/env bash
# Escrow matching as admins really have their keys (issue 11), on the
# Windows-made bitlk-aes-xts-128 volume (its recovery protector {64311DEA-…}
# is the second protector, after a password one) and on
# bitlk-aes-xts-128-two-recovery (two recovery protectors):
#   headerless "KeyID,Password" CSV, braces or not      -> unlocks
#   concatenated Graph JSON ({...}{...}, az rest pages)  -> unlocks
#   a bare list, --recovery-password (no key ID)         -> unlocks
#   a row failing its block checksum                     -> reported against
#                                                           its key ID, no digits
#   the key of the second recovery protector             -> unlocks (own VMK)
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
cp enc.img pristine.img

vol() { jget last.json "r['targets'][0]['volumes'][0]$1"; }
unlocked() { # unlocked NAME SOURCE: the last run opened the volume with the key from SOURCE
	eq "$1: verdict inside" "$(vol "['installs'][0]['findings'][0]['verdict']")" bad
	eq "$1: protector used" "$(vol "['bitlocker']['unlocked_with']['protector']")" "{$RPID}"
	eq "$1: key source" "$(vol "['bitlocker']['unlocked_with']['source']")" "$2"
}

# the volume's recovery protector is not its first protector
eq "fixture: password protector first" "$(jget <("$LB" scan --no-prompt --json enc.img) \
	'r["targets"][0]["volumes"][0]["bitlocker"]["protectors"][0]["type"]')" password

printf '%s\n' "{$RPID},$RP" > headerless.csv
run 1 scan --no-prompt --keys headerless.csv enc.img
unlocked "headerless, braces" escrow:csv
check "headerless: said so" grep -q 'no header row' last.err

printf '%s\r\n' "${RPID,,},$WRONG" "${RPID,,},${RP//-/}" > headerless-nobrace.csv
run 1 scan --no-prompt --keys headerless-nobrace.csv enc.img
unlocked "headerless, no braces, a stale key first" escrow:csv

printf '{"value":[{"id":"%s","key":"%s"}],"@odata.nextLink":"https://graph.microsoft.com/x"}{"value":[{"id":"%s","key":"%s","deviceId":"d-1"}]}\n' \
	"${RPID,,}" "$WRONG" "${RPID,,}" "$RP" > graph.json
run 1 scan --no-prompt --keys graph.json enc.img
unlocked "concatenated Graph JSON" escrow:entra

printf '%s\n' "$WRONG" "$RP" > bare.txt
run 1 scan --no-prompt --keys bare.txt enc.img
unlocked "bare list without IDs" escrow:csv

run 1 scan --no-prompt --recovery-password "$RP" enc.img
unlocked "--recovery-password" recovery_password

# fix through an ID-less key, then it scans clean
cp pristine.img fixme.img
run 0 fix --no-prompt --recovery-password "${RP//-/ }" --evidence ev.tar.zst fixme.img
eq "fix with --recovery-password" "$(jget last.json 'r["status"]')" fixed

# a row that fails its checksum: against its key ID, without its digits
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$BADSUM" "{00000000-1111-2222-3333-444444444444},$WRONG" > badsum.csv
run 1 scan --no-prompt --keys badsum.csv --report badsum.json enc.img
MSG="escrow entry for {$RPID} in badsum.csv: recovery password block 3 fails its checksum"
check "bad checksum: on the volume" grep -qF "$MSG" <(vol "['reasons'][0]")
check "bad checksum: said at load" grep -qF "$MSG" last.err
"$LB" keys list badsum.csv > list.out 2>&1 || true
check "bad checksum: keys list" grep -qF "skipped: $MSG" list.out
check "bad checksum: no digits anywhere" bash -c "! grep -q '${BADSUM:0:13}\|${BADSUM//-/}\|253978' last.json last.err badsum.json list.out"
# a malformed --recovery-password: the same, never fatal
run 1 scan --no-prompt --recovery-password "$BADSUM" enc.img
check "bad --recovery-password: reason" grep -q 'recovery password block 3 fails its checksum' last.json
check "bad --recovery-password: no digits" bash -c "! grep -q '253978' last.json last.err"

# a headerless file that is neither: the message names no cell
printf '%s\n' "{$RPID},2358-1835-7951" > junk.csv
"$LB" keys list junk.csv > junk.out 2>&1 && fail "junk.csv accepted"
check "junk: names no cell" bash -c "! grep -q '2358\|64311' junk.out"
check "junk: says what it looked for" grep -q 'none of them a header name' junk.out

# two recovery protectors: libdislocker 0.7.3 checks a recovery password
# against the first only, so loopbreaker derives the VMK itself from
# whichever protector the key opens (lb_bitlocker_vmk.c): the first's key
# and the second's both unlock, with and without an ID, and the protector
# reported used is the one the key belongs to
TWO=bitlk-images/bitlk-aes-xts-128-two-recovery.img
conf() { sed -n "/^\[bitlk-aes-xts-128-two-recovery\]/,/^\$/s/^$1=//p" bitlk-images/images.conf; }
RP1=$(conf RP); RP2=$(conf RP2); ID1=$(conf RP_VMK_GUID); ID2=$(conf RP2_VMK_GUID)
used() { jget last.json 'r["bitlocker_protectors_used"][0]["protector"] if r["bitlocker_protectors_used"] else ""'; }
printf '%s\n' "$RP1" > two-first.txt
# (the raw test volume's own NTFS does not mount: only the unlock counts)
"$LB" scan --no-prompt --keys two-first.txt --json "$TWO" > last.json 2> last.err || true
eq "two recovery: the first's key without ID" "$(vol "['bitlocker']['unlocked']")" True
eq "two recovery: the first protector used" "$(used)" "{${ID1^^}}"
printf '%s\n' 'KeyID,RecoveryKey' "{$ID2},$RP2" > two-second.csv
"$LB" scan --no-prompt --keys two-second.csv --json "$TWO" > last.json 2> last.err || true
eq "two recovery: the second's key by its ID" "$(vol "['bitlocker']['unlocked']")" True
eq "two recovery: the second protector used" "$(used)" "{${ID2^^}}"
"$LB" scan --no-prompt --recovery-password "$RP2" --json "$TWO" > last.json 2> last.err || true
eq "two recovery: the second's key without ID" "$(vol "['bitlocker']['unlocked']")" True
eq "two recovery: without ID, the protector it opened" "$(used)" "{${ID2^^}}"
printf '%s\n' 'KeyID,RecoveryKey' "{$ID2},$WRONG" > two-wrong.csv
run 1 scan --no-prompt --keys two-wrong.csv "$TWO"
eq "two recovery: a wrong key stays locked" "$(vol "['bitlocker']['unlocked']")" False
check "two recovery: says every protector was tried" \
	grep -q "wrong recovery password for protectors .*${ID1^^}.*${ID2^^}" <(vol "['reasons'][0]")
check "two recovery: no key in the reasons" bash -c "! grep -q '${RP2:0:13}\|${RP1:0:13}\|${WRONG:0:13}' last.json last.err"
check "two recovery: no VMK file left behind" bash -c "! ls /dev/shm/lb-key-* /tmp/lb-key-* 2>/dev/null | grep -q ."

done_tests
