#!/usr/bin/env bash
# Fleet merge: synthetic reports with known counts (scripts/gen-reports.py),
# `loopbreaker fleet` must give one CSV row per machine (latest report, a
# clean run after a fixed one confirming the fix) and exact totals; the
# dashboard must render those totals in headless Chromium (--dump-dom) and
# produce a non-trivial screenshot.  Then the war-room part: real locked
# BitLocker reports grouped by cause and named from the BitLocker
# description, a wrong clock left out of the timeline, an --expect list with
# machines that never reported, per-site progress, a machine's history.
. "$(dirname "$0")/lib.bash"

if ! command -v chromium >/dev/null; then
	"$LB_SOURCE/scripts/install-deps.sh" >&2
fi
command -v chromium >/dev/null || { echo "chromium missing (scripts/packages/fleet.txt)" >&2; exit 1; }

python3 "$LB_SOURCE/scripts/gen-reports.py" reports --count 500 --dups 60 --junk 4 --anonymous 3 \
	--nasty --seed 42 --expect exp.json
run 0 fleet -o out reports
cp last.json fleet.json
# the expected outcome per machine, from the reports themselves: the latest
# report; a clean one after a fixed one (nothing else in between) keeps the fix
cat > outcome.py <<'PY'
import json, os, sys
exp = json.load(open(sys.argv[1]))
by = {}
for d, _, fs in os.walk(sys.argv[2]):
    for f in fs:
        if not f.endswith(".json"):
            continue
        try:
            r = json.load(open(os.path.join(d, f)))
        except ValueError:
            continue
        if not str(r.get("schema", "")).startswith("loopbreaker-report/") or not r.get("hostname"):
            continue
        by.setdefault(r["hostname"].upper(), []).append(r)
for h, e in exp["rows"].items():
    if h.startswith("(anonymous"):
        continue
    reps = sorted(by[h.upper()], key=lambda r: r["finished_at"])
    last, attn = reps[-1], [r for r in reps if r["status"] != "clean"]
    e["confirmed_at"] = ""
    if last["status"] == "clean" and attn and attn[-1]["status"] == "fixed":
        e["status"], e["finished_at"], e["confirmed_at"] = "fixed", attn[-1]["finished_at"], last["finished_at"]
        exp["totals"]["fixed"] += 1
        exp["totals"]["clean"] -= 1
        exp["confirmed"] = exp.get("confirmed", 0) + 1
json.dump(exp, open(sys.argv[1], "w"))
PY
python3 outcome.py exp.json reports
for k in machines reports superseded not_reports unreadable keys confirmed; do
	eq "fleet $k" "$(jget fleet.json "r['$k']")" "$(jget exp.json "r.get('$k', 0)")"
done
for s in fixed needs_attention error clean; do
	eq "total $s" "$(jget fleet.json "r['totals']['$s']")" "$(jget exp.json "r['totals']['$s']")"
done
check "some fixes confirmed by a later clean run" test "$(jget exp.json 'r.get("confirmed", 0)')" -gt 0
check "fleet.csv written" test -s out/fleet.csv
check "fleet.html written" test -s out/fleet.html
check "no temporary files left" bash -c "! ls -A out | grep -q tmp"

# every CSV row against what the generator expects
cat > csvcheck.py <<'PY'
import csv, json, sys
exp = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
bad = []
cols = ["hostname", "agent_id", "status", "actions", "keys_used", "finished_at", "report", "mode", "reports", "reason",
        "site", "confirmed_at", "cause", "bitlocker_locked", "name_from", "machine_id", "clock", "history"]
if list(rows[0].keys()) != cols:
    bad.append("columns %s" % list(rows[0].keys()))
named = {r["hostname"]: r for r in rows if r["hostname"]}
anon = [r for r in rows if not r["hostname"]]
if len(rows) != exp["machines"]:
    bad.append("rows %d != %d" % (len(rows), exp["machines"]))
n_anon = sum(1 for h in exp["rows"] if h.startswith("(anonymous"))
if len(anon) != n_anon:
    bad.append("anonymous rows %d != %d" % (len(anon), n_anon))
for h, e in exp["rows"].items():
    if h.startswith("(anonymous"):
        continue
    r = named.get(h)
    if r is None:
        bad.append("missing %r" % h); continue
    if len(r["history"].split("; ")) != e["reports"]:
        bad.append("%s history %r" % (h, r["history"]))
    for k in ("status", "finished_at", "agent_id", "confirmed_at") + (("actions",) if not e["confirmed_at"] else ()):
        if r[k] != e[k]:
            bad.append("%s %s: %r != %r" % (h, k, r[k], e[k]))
    if set(filter(None, r["keys_used"].split(";"))) != set(filter(None, e["keys_used"].split(";"))):
        bad.append("%s keys_used: %r != %r" % (h, r["keys_used"], e["keys_used"]))
    if int(r["reports"]) != e["reports"]:
        bad.append("%s reports %s != %s" % (h, r["reports"], e["reports"]))
    if e["reports"] == 2 and "/retries/" in r["report"] and not e["confirmed_at"]:
        bad.append("%s: the older report won: %s" % (h, r["report"]))
    if r["status"] in ("needs_attention", "error") and not r["reason"]:
        bad.append("%s: no reason" % h)
for b in bad[:20]:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
check "CSV rows match the generated reports" python3 csvcheck.py exp.json out/fleet.csv
eq "CSV line count" "$(wc -l < out/fleet.csv)" "$(( $(jget exp.json 'r["machines"]') + 1 ))"

# the page: data only inside JSON script elements, no raw markup from reports
eq "script elements" "$(grep -o '<script' out/fleet.html | wc -l)" 3
check "hostile hostname escaped in the page" bash -c "! grep -q '</script><script>alert' out/fleet.html"
check "no external assets" bash -c "! grep -Eiq '(src|href)=\"(https?:)?//' out/fleet.html"

# render it: headless Chromium runs the page's JS
chrome() {
	local prof; prof=$(mktemp -d)
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$prof" "$@" 2>chrome.err || true
	rm -rf "$prof"
}
chrome --dump-dom "file://$WORK/out/fleet.html" > dom.html
check "page rendered" grep -q 'data-rendered="yes"' dom.html
num() { sed -n "s/.*id=\"$1\">\([0-9]*\)<.*/\1/p" dom.html | head -1; }
eq "rendered total" "$(num n-total)" "$(jget exp.json 'r["machines"]')"
for s in fixed needs_attention error clean; do
	eq "rendered $s" "$(num n-$s)" "$(jget exp.json "r['totals']['$s']")"
done
eq "rendered key count" "$(sed -n 's/.*id="keys-count">(\([0-9]*\))<.*/\1/p' dom.html)" "$(jget exp.json 'r["keys"]')"
eq "table rows shown (first page)" "$(grep -o '<tr><td' dom.html | wc -l)" $(( 500 + $(jget exp.json 'r["keys"]') ))
check "timeline drawn" grep -q '<rect[^>]*class="bar-fixed"' dom.html
check "hostile hostname is text" grep -q 'EVIL&lt;/script&gt;&lt;script&gt;alert(1)' dom.html
check "hostile hostname not markup" bash -c "! grep -q '<script>alert(1)' dom.html"

chrome --screenshot="$WORK/shot.png" --window-size=1400,1800 "file://$WORK/out/fleet.html"
check "screenshot written" test -s shot.png
cat > pngcheck.py <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", d[16:24])
idat, i = b"", 8
while i < len(d):
    n, t = struct.unpack(">I4s", d[i:i + 8])
    if t == b"IDAT":
        idat += d[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw))
print("png %dx%d, %d bytes, %d distinct byte values" % (w, h, len(d), distinct))
sys.exit(0 if w >= 1000 and h >= 1000 and len(d) > 50000 and distinct > 100 else 1)
PY
check "screenshot is not blank" python3 pngcheck.py shot.png

# an empty tree is not an error; a missing one is
mkdir -p empty
run 0 fleet -o out-empty empty
eq "empty fleet" "$(jget last.json 'r["machines"]')" 0
check "empty csv has a header" grep -q '^hostname,agent_id,status' out-empty/fleet.csv
check "empty fleet-summary.json" grep -q '"machines": 0' out-empty/fleet-summary.json
run 2 fleet -o out-missing does-not-exist
run 2 fleet -o out-none
touch not-a-dir
run 3 fleet -o not-a-dir/out empty
check "no temporary files left (empty fleet)" bash -c "! ls -A out-empty | grep -q tmp"

# a newer report arriving later replaces the row (hostname case differs)
h=WKS-00010
old_status=$(python3 -c 'import csv,sys; print([r["status"] for r in csv.DictReader(open("out/fleet.csv")) if r["hostname"]==sys.argv[1]][0])' "$h")
f=$(ls reports/site3/$h-*/report.json)
python3 - "$f" later/report.json <<'PY'
import json, sys, os
r = json.load(open(sys.argv[1]))
r["finished_at"] = "2024-07-21T09:00:00Z"; r["started_at"] = "2024-07-21T08:59:00Z"
r["status"] = "clean" if r["status"] != "clean" else "fixed"
r["hostname"] = r["hostname"].lower()
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
json.dump(r, open(sys.argv[2], "w"))
PY
new_status=$(jget later/report.json 'r["status"]')
run 0 fleet -o out2 reports later
row=$(python3 -c 'import csv,sys; r=[r for r in csv.DictReader(open("out2/fleet.csv")) if r["hostname"].upper()==sys.argv[1]][0]; print(r["status"]+" "+r["finished_at"]+" "+r["reports"]+" "+r["confirmed_at"])' "$h")
if [ "$old_status" = fixed ] && [ "$new_status" = clean ]; then
	want="fixed $(jget exp.json "r['rows']['$h']['finished_at']") $(( $(jget exp.json "r['rows']['$h']['reports']") + 1 )) 2024-07-21T09:00:00Z"
else
	want="$new_status 2024-07-21T09:00:00Z $(( $(jget exp.json "r['rows']['$h']['reports']") + 1 )) "
fi
eq "later report wins (or confirms the fix)" "$row" "$want"
eq "same machine count" "$(jget last.json 'r["machines"]')" "$(jget exp.json 'r["machines"]')"
check "old status differs" test "$old_status" != "$new_status"

# ---- history: fixed, then a clean run (e.g. the PXE image again) confirms it
mkdir -p hist
for t in 06 09; do
	python3 - "$t" <<'PY'
import json, sys
t = sys.argv[1]
r = {"schema": "loopbreaker-report/1", "mode": "fix" if t == "06" else "scan",
     "status": "fixed" if t == "06" else "clean", "started_at": "2024-07-19T%s:00:00Z" % t,
     "finished_at": "2024-07-19T%s:01:00Z" % t, "hostname": "WKS-HIST", "site": "berlin",
     "reasons": [], "bitlocker_protectors_used": [], "targets": []}
if t == "09":
    r["confirmed"] = True
json.dump(r, open("hist/r%s.json" % t, "w"), indent=2)
PY
done

# ---- real locked BitLocker reports: one cause, named from the description
mkdir -p locked
if [ -f "$LB_SHARED_DATA/bitlocker/bitlk-images.tar.xz" ]; then
	tar -xJf "$LB_SHARED_DATA/bitlocker/bitlk-images.tar.xz" bitlk-images/bitlk-aes-xts-128.img
	"$LB" scan --report locked/real.json bitlk-images/bitlk-aes-xts-128.img > /dev/null 2>&1 || true
	rm -rf bitlk-images
else
	echo "note: $LB_SHARED_DATA/bitlocker missing: locked report made from the documented shape"
	python3 - <<'PY'
import json
v = {"status": "needs_attention", "reasons": ["BitLocker volume is locked and no key was found for recovery protector {64311DEA-4587-4029-924A-BA299647998E} (give --keys with the escrow export, or run attended)"],
     "bitlocker": {"description": "DESKTOP-NPM7RCA H: 7/4/2019", "unlocked": False}}
json.dump({"schema": "loopbreaker-report/1", "mode": "scan", "status": "needs_attention",
           "started_at": "2024-07-19T07:00:00Z", "finished_at": "2024-07-19T07:00:01Z", "hostname": None,
           "reasons": [], "bitlocker_protectors_used": [], "targets": [{"volumes": [v]}]}, open("locked/real.json", "w"), indent=2)
PY
fi
eq "the real locked report has no hostname" "$(jget locked/real.json 'r["hostname"]')" None
check "the real locked report has the BitLocker description" grep -q '"description": "DESKTOP-' locked/real.json
python3 - <<'PY'
import json, uuid
r = json.load(open("locked/real.json"))
for i in range(3):
    v = r["targets"][0]["volumes"][0]
    g = str(uuid.UUID(int=i + 7)).upper()
    v["reasons"] = [v["reasons"][0].split("{")[0] + "{" + g + "}" + v["reasons"][0].split("}", 1)[1]]
    v["bitlocker"]["description"] = "LAPTOP-%d C: 7/19/2024" % i
    r["finished_at"] = "2024-07-19T07:0%d:00Z" % i
    json.dump(r, open("locked/l%d.json" % i, "w"), indent=2)
# a wrong clock: must not stretch the timeline
r = json.load(open("hist/r06.json"))
r["hostname"], r["finished_at"], r["site"] = "WKS-CLOCK", "2031-05-05T05:05:05Z", "berlin"
json.dump(r, open("hist/clock.json", "w"))
PY
rm locked/real.json
# expected machines: the generated ones (site from their folder), 4 that never reported
python3 - <<'PY'
import json
exp = json.load(open("exp.json"))
with open("expect.csv", "w") as f:
    f.write("Device name,Site\n")
    for h in exp["rows"]:
        if not h.startswith("(anonymous") and "<" not in h:
            f.write("%s,site%d\n" % (h, int(h.split("-")[1]) % 7))
    for i in range(4):
        f.write("WKS-GONE-%d.corp.example,site9\n" % i)
    f.write("wks-hist,berlin\n")
PY
run 0 fleet --expect expect.csv -o out3 reports hist locked
S=out3/fleet-summary.json
eq "not reported" "$(jget $S 'r["not_reported"]')" 4
eq "BitLocker-locked" "$(jget $S 'r["bitlocker_locked"]')" 3
eq "wrong clocks counted" "$(jget $S 'r["clock_off"]')" 1
eq "locked machines: one cause" "$(jget $S '[c["machines"] for c in r["causes"] if "BitLocker volume is locked" in c["cause"]]')" "[3]"
eq "site9: never reported" "$(jget $S '[(s["not_reported"], s["done_percent"]) for s in r["sites"] if s["site"]=="site9"]')" "[(4, 0.0)]"
eq "the site furthest behind first" "$(jget $S 'r["sites"][0]["done_percent"] == min(s["done_percent"] for s in r["sites"])')" True
eq "berlin: the confirmed machine and the clock one" "$(jget $S '[s["fixed"] for s in r["sites"] if s["site"]=="berlin"]')" "[2]"
eq "sites add up" "$(jget $S 'sum(s["machines"] for s in r["sites"])')" "$(jget $S 'r["machines"]')"
hist_row() { python3 -c 'import csv,sys; r=[r for r in csv.DictReader(open("out3/fleet.csv")) if r["hostname"]==sys.argv[1]][0]; print(" | ".join(r[k] for k in sys.argv[2:]))' "$@"; }
eq "confirmed fix" "$(hist_row WKS-HIST status finished_at confirmed_at site reports)" "fixed | 2024-07-19T06:01:00Z | 2024-07-19T09:01:00Z | berlin | 2"
eq "history column" "$(hist_row WKS-HIST history)" "2024-07-19T06:01:00Z fixed berlin; 2024-07-19T09:01:00Z clean (confirmed) berlin"
eq "locked named from BitLocker" "$(hist_row LAPTOP-1 status name_from bitlocker_locked)" "needs_attention | bitlocker | yes"
eq "never reported" "$(hist_row WKS-GONE-2 status site reports)" "not_reported | site9 | 0"
eq "clock flagged" "$(hist_row WKS-CLOCK clock)" "off"
eq "CSV: one row per machine" "$(( $(wc -l < out3/fleet.csv) - 1 ))" "$(jget $S 'r["machines"]')"

chrome --dump-dom "file://$WORK/out3/fleet.html?machine=WKS-HIST" > dom3.html
check "page 3 rendered" grep -q 'data-rendered="yes"' dom3.html
eq "tile: BitLocker-blocked" "$(sed -n 's/.*id="n-locked">\([0-9]*\)<.*/\1/p' dom3.html | head -1)" 3
eq "tile: never reported" "$(sed -n 's/.*id="n-not_reported">\([0-9]*\)<.*/\1/p' dom3.html | head -1)" 4
check "fixed (confirmed) shown" grep -q '>fixed (confirmed)<' dom3.html
check "history row open with both reports" grep -q 'clean (confirmed)</span></td><td>berlin</td>' dom3.html
check "one cause line for the locked machines" grep -Eq '<li[^>]*><b>3 </b><span>BitLocker volume is locked and no key was found for recovery protector \{…\}' dom3.html
check "sites table" grep -q '<td>site9</td>' dom3.html
check "wrong clock said on the page" grep -q 'id="tl-off">1 machine left out' dom3.html
chrome --dump-dom "file://$WORK/out3/fleet.html?machine=LAPTOP-0" > dom4.html
check "PC name from BitLocker shown" grep -q 'LAPTOP-0<span class="muted"> (BitLocker description)' dom4.html
run 2 fleet --expect does-not-exist.csv -o out4 hist

done_tests
