#!/usr/bin/env bash
# BitLocker end to end on Windows-made volumes (../shared/data/bitlocker):
# unlock one with its recovery password, write a small NTFS with a fake
# Windows tree through the decrypting layer (test set-up), then
#   scan without keys      -> needs_attention, protectors listed, no key
#   fix --keys export.csv  -> the bad file is quarantined inside the
#                             encrypted volume; the protector is reported
#   fix --keys sealed      -> same with a sealed bundle
#   wrong key              -> needs_attention, image untouched
#   bundle not opened      -> the BitLocker volume needs attention with the
#                             reason, the unencrypted disk beside it is fixed
# and re-open with the key to verify (decrypted dump + ntfsfix + ntfscat).
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
check "ciphertext on disk" bash -c '! grep -q "BLWIN\|CrowdStrike" enc.img'
cp enc.img pristine.img

# escrow exports as organisations make them
printf '%s\r\n' 'ComputerName,KeyID,RecoveryKey,Date' "WKS-0001,{$RPID},$RP,2024-07-19" > crowdstrike.csv
printf '%s\n' 'DistinguishedName,msFVE-RecoveryPassword' \
	"\"CN=2024-06-01T10:00:00-00:00{$RPID},CN=WKS-0001,OU=PCs,DC=corp,DC=example\",$RP" > ad.csv
echo 'a passphrase for the fleet' > pass

# no key: locked, protectors listed, nothing leaked
run 1 scan enc.img
eq "locked status" "$(jget last.json 'r["status"]')" needs_attention
eq "locked filesystem" "$(jget last.json 'r["targets"][0]["volumes"][0]["filesystem"]')" BitLocker
eq "protector ids" "$(jget last.json '" ".join(p["id"] for p in r["targets"][0]["volumes"][0]["bitlocker"]["protectors"])')" "{$PWID} {$RPID}"
eq "protector types" "$(jget last.json '" ".join(p["type"] for p in r["targets"][0]["volumes"][0]["bitlocker"]["protectors"])')" "password recovery_password"
check "reason names the protector" grep -q "$RPID" last.json

# scan with the CSV: bad file seen inside
run 1 scan --keys crowdstrike.csv enc.img
eq "unlocked scan verdict" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
eq "hostname inside" "$(jget last.json 'r["hostname"]')" WKS-WIN732BITA
check "no key in report" bash -c "! grep -q '$RP' last.json"
eq "scan wrote nothing" "$(sha256sum < enc.img)" "$(sha256sum < pristine.img)"

# the screen names the protector whose key was used (to rotate it)
"$LB" scan --keys crowdstrike.csv enc.img > scan-screen.txt 2>&1 || true
check "the screen names the protector to rotate" grep -q "BitLocker: unlocked with protector {$RPID}" scan-screen.txt

# wrong key: refused, untouched
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},042647-302313-590458-071500-554323-116567-412181-516978" > wrong.csv
run 1 fix --keys wrong.csv --evidence wrong.tar.zst enc.img
check "wrong key reported" grep -q 'wrong recovery password' last.json
eq "wrong key: untouched" "$(sha256sum < enc.img)" "$(sha256sum < pristine.img)"

for keys in crowdstrike.csv ad.csv sealed; do
	cp pristine.img e2e.img
	rm -f ev-$keys.tar.zst dec.img
	if [ $keys = sealed ]; then
		"$LB" keys seal --passphrase-file pass -o fleet.sealed crowdstrike.csv ad.csv > /dev/null ||
			fail "keys seal"
		check "sealed bundle hides keys" bash -c "! grep -q '$RP\|$RPID' fleet.sealed"
		run 0 fix --keys fleet.sealed --keys-passphrase-file pass --evidence ev-$keys.tar.zst e2e.img
	else
		run 0 fix --keys $keys --evidence ev-$keys.tar.zst e2e.img
	fi
	eq "$keys: fixed" "$(jget last.json 'r["status"]')" fixed
	eq "$keys: protector used" "$(jget last.json 'r["bitlocker_protectors_used"][0]["protector"]')" "{$RPID}"
	eq "$keys: protector used on which machine and disk" \
		"$(jget last.json 'r["bitlocker_protectors_used"][0]["hostname"], r["bitlocker_protectors_used"][0]["target"]')" \
		"('WKS-WIN732BITA', 'e2e.img')"
	q=$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["quarantine_path"]')
	# re-open with the key and look
	"$LB_BUILD/lb-blwrite" dump e2e.img "$RP" dec.img || fail "$keys: dump"
	truncate -s 32M dec.img
	check "$keys: ntfsfix on decrypted volume" ntfsfix -n dec.img
	check "$keys: gone from drivers" bash -c "! ntfscat dec.img Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys >/dev/null 2>&1"
	eq "$keys: quarantined bytes" "$(ntfscat dec.img "$(echo "$q" | tr '\\' /)" | sha256sum)" "$(sha256sum < bad.sys)"
	run 0 scan --keys crowdstrike.csv e2e.img
	eq "$keys: clean after" "$(jget last.json 'r["status"]')" clean
done

# undo inside BitLocker: without a key it says what is missing; with one the
# file goes back, byte for byte, and the volume is as it was to a scan
run 1 undo ev-ad.csv.tar.zst e2e.img
check "undo without a key names the key options" grep -q 'needs its key' last.json
run 0 undo --keys ad.csv ev-ad.csv.tar.zst e2e.img
eq "undo: restored" "$(jget last.json 'r["restored"]')" 1
rm -f dec.img && "$LB_BUILD/lb-blwrite" dump e2e.img "$RP" dec.img && truncate -s 32M dec.img
check "undo: ntfsfix on decrypted volume" ntfsfix -n dec.img
eq "undo: the file is back" \
	"$(ntfscat dec.img Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys | sha256sum)" \
	"$(sha256sum < bad.sys)"
run 1 scan --keys ad.csv e2e.img
eq "undo: scan finds it again" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" would_quarantine

# a sealed bundle that cannot be opened stops nothing but the BitLocker
# volume: in one run with an unencrypted broken disk, that disk is fixed,
# the BitLocker one needs attention with the reason, exit 1, report written
echo 'not it' > badpass
small_windows_volume plain.img
cp pristine.img locked.img
rm -f mixed.json
run 1 fix --no-prompt --keys fleet.sealed --keys-passphrase-file badpass --evidence ev-mixed.tar.zst \
	--report mixed.json plain.img locked.img
check "wrong passphrase: report written" test -s mixed.json
eq "wrong passphrase: run status" "$(jget mixed.json 'r["status"]')" needs_attention
eq "wrong passphrase: plain disk fixed" "$(jget mixed.json 'r["targets"][0]["volumes"][0]["status"]')" fixed
eq "wrong passphrase: BitLocker volume" "$(jget mixed.json 'r["targets"][1]["volumes"][0]["status"]')" needs_attention
REASON='keys from fleet.sealed could not be opened: wrong passphrase or damaged file'
check "wrong passphrase: the reason on the locked volume" \
	grep -qF "$REASON" <(jget mixed.json '"\n".join(r["targets"][1]["volumes"][0]["reasons"])')
check "wrong passphrase: not on the plain disk" \
	bash -c "! grep -qF 'fleet.sealed' <(python3 -c 'import json; print(json.load(open(\"mixed.json\"))[\"targets\"][0])')"
check "wrong passphrase: said on stderr" grep -qF "$REASON" last.err
eq "wrong passphrase: BitLocker image untouched" "$(sha256sum < locked.img)" "$(sha256sum < pristine.img)"
run 0 scan plain.img
eq "wrong passphrase: plain disk clean afterwards" "$(jget last.json 'r["status"]')" clean
# without any passphrase (unattended), and with an empty or missing
# passphrase file: the same, each with its own reason
run 1 scan --no-prompt --keys fleet.sealed locked.img
check "no passphrase: reason" grep -q 'fleet.sealed could not be opened: no passphrase was given' last.json
: > emptypass
run 1 scan --no-prompt --keys fleet.sealed --keys-passphrase-file emptypass locked.img
check "empty passphrase file: named as such" grep -q 'emptypass: empty passphrase file' last.err
check "empty passphrase file: in the reason" grep -q 'emptypass: empty passphrase file' last.json
check "empty passphrase file: not ENOENT" bash -c '! grep -q "No such file" last.err'
run 1 scan --no-prompt --keys fleet.sealed --keys-passphrase-file nosuchpass locked.img
check "missing passphrase file: names the path" grep -q 'passphrase file nosuchpass: No such file or directory' last.err
# a damaged bundle (one byte of the ciphertext flipped): the same reason
cp fleet.sealed damaged.sealed
printf '\x5a' | dd of=damaged.sealed bs=1 seek=100 conv=notrunc status=none
run 1 scan --no-prompt --keys damaged.sealed --keys-passphrase-file pass locked.img
check "damaged bundle: reason" grep -q 'keys from damaged.sealed could not be opened: wrong passphrase or damaged file' last.json
# a plain key file that cannot be read is treated the same way
run 1 fix --no-prompt --keys nosuch.csv --evidence ev-nosuch.tar.zst locked.img
check "missing key file: reason" grep -q 'keys from nosuch.csv could not be read: No such file or directory' last.json
# and the bundle still works next to a bad one, with the right passphrase
run 1 scan --no-prompt --keys nosuch.csv --keys fleet.sealed --keys-passphrase-file pass locked.img
eq "good bundle next to a missing file" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad

done_tests
