#!/usr/bin/env bash
# Fleet merge: synthetic reports with known counts (scripts/gen-reports.py),
# `loopbreaker fleet` must give one CSV row per machine with the latest
# report winning and exact totals; the dashboard must render those totals in
# headless Chromium (--dump-dom) and produce a non-trivial screenshot.
. "$(dirname "$0")/lib.bash"

if ! command -v chromium >/dev/null; then
	"$LB_SOURCE/scripts/install-deps.sh" >&2
fi
command -v chromium >/dev/null || { echo "chromium missing (scripts/packages/fleet.txt)" >&2; exit 1; }

python3 "$LB_SOURCE/scripts/gen-reports.py" reports --count 500 --dups 60 --junk 4 --anonymous 3 \
	--nasty --seed 42 --expect exp.json
run 0 fleet -o out reports
cp last.json fleet.json
for k in machines reports superseded not_reports unreadable keys; do
	eq "fleet $k" "$(jget fleet.json "r['$k']")" "$(jget exp.json "r['$k']")"
done
for s in fixed needs_attention error clean; do
	eq "total $s" "$(jget fleet.json "r['totals']['$s']")" "$(jget exp.json "r['totals']['$s']")"
done
check "fleet.csv written" test -s out/fleet.csv
check "fleet.html written" test -s out/fleet.html
check "no temporary files left" bash -c "! ls -A out | grep -q tmp"

# every CSV row against what the generator expects
cat > csvcheck.py <<'PY'
import csv, json, sys
exp = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
bad = []
cols = ["hostname", "agent_id", "status", "actions", "keys_used", "finished_at", "report", "mode", "reports", "reason"]
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
    for k in ("status", "finished_at", "agent_id", "actions"):
        if r[k] != e[k]:
            bad.append("%s %s: %r != %r" % (h, k, r[k], e[k]))
    if set(filter(None, r["keys_used"].split(";"))) != set(filter(None, e["keys_used"].split(";"))):
        bad.append("%s keys_used: %r != %r" % (h, r["keys_used"], e["keys_used"]))
    if int(r["reports"]) != e["reports"]:
        bad.append("%s reports %s != %s" % (h, r["reports"], e["reports"]))
    if e["reports"] == 2 and "/retries/" in r["report"]:
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
row=$(python3 -c 'import csv,sys; print([r["status"]+" "+r["finished_at"]+" "+r["reports"] for r in csv.DictReader(open("out2/fleet.csv")) if r["hostname"].upper()==sys.argv[1]][0])' "$h")
eq "later report wins" "$row" "$new_status 2024-07-21T09:00:00Z $(( $(jget exp.json "r['rows']['$h']['reports']") + 1 ))"
eq "same machine count" "$(jget last.json 'r["machines"]')" "$(jget exp.json 'r["machines"]')"
check "old status differs" test "$old_status" != "$new_status"

done_tests
