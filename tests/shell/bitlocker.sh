#!/usr/bin/env bash
# BitLocker end to end on Windows-made volumes (../shared/data/bitlocker):
# unlock one with its recovery password, write a small NTFS with a fake
# Windows tree through the decrypting layer (test set-up), then
#   scan without keys      -> needs_attention, protectors listed, no key
#   fix --keys export.csv  -> the bad file is quarantined inside the
#                             encrypted volume; the protector is reported
#   fix --keys sealed      -> same with a sealed bundle
#   wrong key              -> needs_attention, image untouched
# and re-open with the key to verify (decrypted dump + ntfsfix + ntfscat).
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
RP=235818-357951-253979-013365-241120-245575-342914-591910
RPID=64311DEA-4587-4029-924A-BA299647998E
PWID=3E55195C-8811-4D9B-97B4-2B9E5F8F5384
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

# wrong passphrase for the sealed bundle
echo 'not it' > badpass
rc=0; "$LB" scan --keys fleet.sealed --keys-passphrase-file badpass enc.img > /dev/null 2>&1 || rc=$?
eq "wrong passphrase exit" "$rc" 1

done_tests
