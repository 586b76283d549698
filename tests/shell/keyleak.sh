#!/usr/bin/env bash
# No key material in anything a run writes (issue 11): every command that
# handles BitLocker keys -- in the forms operators really have, right,
# wrong and malformed -- is run, and every file it leaves (reports, stdout,
# stderr, evidence bundles unpacked, the dashboard) is searched for any 12
# consecutive digits of any test key, with or without its dashes.
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
KEYS=("$RP" "$WRONG" "$BADSUM")
mkdir -p in out
echo 'a passphrase for the fleet' > in/pass
echo 'not it' > in/badpass
: > in/emptypass

# key files as people make them, and as they get mangled
printf '%s\n' "{$RPID},$RP" > in/headerless.csv
printf '%s\n' "{$RPID},${RP//-/}" > in/headerless-nodash.csv
printf '%s\n' "${RPID,,},$RP" "${RPID,,},$WRONG" > in/headerless-nobrace.csv
printf '%s\n' "$RP" > in/bare.txt
printf '%s\n' 'Foo,Bar' "{$RPID},$RP" > in/badheader.csv
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$BADSUM" > in/badsum.csv
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$WRONG" > in/wrong.csv
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$RP" > in/good.csv
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$RP,extra,\"unterminated" > in/broken.csv
printf '{"value":[{"id":"%s","key":"%s"}]}{"value":[{"id":"%s","key":"%s"}]}\n' \
	"${RPID,,}" "$RP" "${RPID,,}" "$WRONG" > in/graph.json
printf '{"value":[{"id":"%s","key":"%s"' "${RPID,,}" "$RP" > in/graph-truncated.json
# the forms issue 11 added: headerless and bare files with a bad row, a
# first row that is neither header nor key row, Graph pages one per line
printf '%s\n' "{$RPID},$BADSUM" "${RPID,,},$RP" > in/headerless-badsum.csv
printf '%s\n' "$BADSUM" "$WRONG" > in/bare-badsum.txt
printf '%s\n' "{$RPID},${RP:0:20}" > in/junk.csv
printf '{"value":[{"id":"%s","key":"%s"}]}\n{"value":[{"id":"%s","key":"%s"}]}\n' \
	"${RPID,,}" "$BADSUM" "${RPID,,}" "$RP" > in/graph-lines.json
"$LB" keys seal --passphrase-file in/pass -o in/fleet.sealed in/good.csv > out/seal.out 2> out/seal.err ||
	fail "keys seal: $(cat out/seal.err)"

n=0
lbrun() { # lbrun ARGS...: loopbreaker ARGS, all output kept under out/
	n=$((n + 1))
	"$LB" "$@" > "out/$n.out" 2> "out/$n.err" < /dev/null || true
	printf '%s\n' "$*" > "out/$n.cmd"
}
lbrun keys list in/bare.txt
for f in headerless headerless-nodash headerless-nobrace badheader badsum wrong good broken; do
	lbrun keys list "in/$f.csv"
	lbrun scan --no-prompt --keys "in/$f.csv" --report "out/scan-$f.json" enc.img
done
for f in headerless-badsum.csv bare-badsum.txt junk.csv graph-lines.json; do
	lbrun keys list "in/$f"
	lbrun scan --no-prompt --keys "in/$f" --report "out/scan-$f.json" enc.img
done
lbrun scan --no-prompt --recovery-password "$BADSUM" --report out/scan-rpbadsum-dashed.json enc.img
lbrun scan --no-prompt --keys in/fleet.sealed --keys-passphrase-file in/nosuchpass --report out/scan-nopass.json enc.img
lbrun scan --no-prompt --password-file in/nosuchpw --report out/scan-nopw.json enc.img
lbrun keys list in/graph.json
lbrun keys list in/graph-truncated.json
lbrun scan --no-prompt --keys in/graph.json --report out/scan-graph.json enc.img
lbrun scan --no-prompt --recovery-password "$WRONG" --report out/scan-rpwrong.json enc.img
lbrun scan --no-prompt --recovery-password "${BADSUM//-/}" --report out/scan-rpbadsum.json enc.img
lbrun scan --no-prompt --keys in/fleet.sealed --keys-passphrase-file in/badpass --report out/scan-badpass.json enc.img
lbrun scan --no-prompt --keys in/fleet.sealed --keys-passphrase-file in/emptypass --report out/scan-emptypass.json enc.img
lbrun keys list --passphrase-file in/badpass in/fleet.sealed
cp enc.img fix.img
# a bundle that does not open, in a fix that goes on (report written)
cp enc.img locked.img
lbrun fix --no-prompt --keys in/fleet.sealed --keys-passphrase-file in/badpass --evidence out/ev-locked.tar.zst \
	--report out/fix-badpass.json locked.img
check "a bundle that does not open: report written" test -s out/fix-badpass.json
lbrun fix --no-prompt --keys in/fleet.sealed --keys-passphrase-file in/pass --evidence out/ev.tar.zst \
	--report out/fix.json fix.img
eq "the sealed bundle fixed the volume" "$(jget out/fix.json 'r["status"]')" fixed
lbrun undo --no-prompt --recovery-password "$RP" --report out/undo.json out/ev.tar.zst fix.img
eq "undo with the key restored the file" "$(jget out/undo.json 'r["restored"]')" 1
lbrun fix --no-prompt --recovery-password "$RP" --jobs 1 --report-dir out/batch --report out/batch.json fix.img
lbrun fleet out -o out/dash
mkdir -p out/ev && tar -xf out/ev.tar.zst -C out/ev 2> out/ev.err || fail "evidence bundle unreadable"

check "the runs wrote reports" test -s out/fix.json -a -s out/undo.json -a -s out/scan-good.json
check "the dashboard was written" test -s out/dash/fleet.csv
# the search: any 12 consecutive key digits, dashes removed from both sides
python3 - "${KEYS[@]}" > leaks.txt <<'PY'
import os, sys
keys = [k.replace("-", "") for k in sys.argv[1:]]
windows = {k[i:i + 12] for k in keys for i in range(len(k) - 11)}
for root, _, files in os.walk("out"):
    for f in files:
        p = os.path.join(root, f)
        if p.endswith(".cmd"):
            continue  # our own record of the command line
        data = open(p, "rb").read().replace(b"-", b"")
        for w in windows:
            if w.encode() in data:
                print("%s: holds key digits %s..." % (p, w[:4]))
                break
PY
T_CHECKS=$((T_CHECKS + 1))
if [ -s leaks.txt ]; then
	fail "key material in what loopbreaker wrote:"
	while read -r l; do
		f=${l%%:*}; c=${f%.*}.cmd
		echo "    $l${c:+ ($(cat "$c" 2>/dev/null | sed "s/$RP/<RP>/g; s/$WRONG/<WRONG>/g; s/$BADSUM/<BADSUM>/g"))}" >&2
	done < leaks.txt
fi
echo "keyleak: searched $(find out -type f ! -name '*.cmd' | wc -l) files from $n runs"
done_tests
