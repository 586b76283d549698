#!/usr/bin/env bash
# One report per machine: one run over three machines' disks (two laptops'
# Windows disks and a third left BitLocker-locked for want of its key) gives
# the run summary plus three machine reports, each with its own name and
# status; --upload sends each machine's report (the bundle once); the fleet
# has three rows, the locked one named from its BitLocker description.
. "$(dirname "$0")/lib.bash"
serve_helpers

for h in LAP-0001 LAP-0002; do
	cat > $h.spec <<EOF
table gpt
esp
ntfs label=Windows
install \Windows hostname=$h
channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:30:00Z
EOF
	LB_BUILD=$LB_BUILD python3 "$LB_SOURCE/scripts/mkimage.py" $h.spec $h.img > /dev/null 2> mk.err ||
		{ cat mk.err >&2; fail "image $h"; done_tests; exit 1; }
done
bitlocker_volume locked.img

# --- a collector: HTTP PUT into ./collected ---
PORT=$(freeport)
mkdir -p collected
python3 - "$PORT" > collector.log 2>&1 <<'PY' &
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        with open(os.path.join("collected", os.path.basename(self.path)), "wb") as f:
            f.write(data)
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=($!)
wait_port "$PORT" || { done_tests; exit 1; }

rc=0; "$LB" fix --no-prompt --evidence ev.tar.zst --report r.json \
	--upload "http://127.0.0.1:$PORT/up/{hostname}-{file}" \
	LAP-0001.img LAP-0002.img locked.img > out.txt 2> err.txt || rc=$?
eq "fix over three machines: exit (one locked)" "$rc" 1
eq "run summary kind" "$(jget r.json 'r["kind"]')" run
eq "run summary machines" "$(jget r.json 'len(r["machines"])')" 3
eq "machine 1 report" "$(jget r.json 'r["machines"][0]["report"]')" r.1-LAP-0001.json
eq "machine 2 report" "$(jget r.json 'r["machines"][1]["report"]')" r.2-LAP-0002.json
eq "machine 3 report" "$(jget r.json 'r["machines"][2]["report"]')" r.3-unknown.json
eq "LAP-0001 fixed" "$(jget r.1-LAP-0001.json 'r["status"], r["hostname"], len(r["targets"])')" \
	"('fixed', 'LAP-0001', 1)"
eq "LAP-0002 fixed" "$(jget r.2-LAP-0002.json 'r["status"], r["hostname"], r["targets"][0]["path"]')" \
	"('fixed', 'LAP-0002', 'LAP-0002.img')"
eq "locked machine needs attention" "$(jget r.3-unknown.json 'r["status"], r["exit_code"]')" \
	"('needs_attention', 1)"
check "locked machine keeps its BitLocker description" \
	test -n "$(jget r.3-unknown.json 'r["machine"]["bitlocker_description"] or ""')"
eq "one run" "$(jget r.1-LAP-0001.json 'r["machine"]["run_id"]')" "$(jget r.json 'r["run_id"]')"
eq "machine guid from the install" "$(jget r.1-LAP-0001.json 'r["machine"]["machine_guid"]')" \
	"$(jget r.1-LAP-0001.json 'r["targets"][0]["volumes"][1]["installs"][0]["machine_guid"]')"
check "screen names every machine" grep -q "machine 2/3: LAP-0002 FIXED" out.txt
check "RESULT line counts machines" grep -q "RESULT: NEEDS ATTENTION - 3 machines" out.txt

# uploads: each machine's own report; the bundle once; the summary is not sent
check "LAP-0001 report uploaded" cmp r.1-LAP-0001.json collected/LAP-0001-r.1-LAP-0001.json
check "LAP-0002 report uploaded" cmp r.2-LAP-0002.json collected/LAP-0002-r.2-LAP-0002.json
eq "reports uploaded" "$(ls collected/*.json | wc -l)" 3
eq "bundles uploaded" "$(ls collected/*.tar.zst | wc -l)" 1

# the fleet: three machines, the summary skipped
"$LB" fleet -o dash . > fleet.out 2>&1 || fail "fleet"
eq "fleet rows" "$(($(wc -l < dash/fleet.csv) - 1))" 3
check "fleet LAP-0001 fixed" grep -q '^LAP-0001,.*,fixed,' dash/fleet.csv
check "fleet LAP-0002 fixed" grep -q '^LAP-0002,.*,fixed,' dash/fleet.csv
eq "fleet locked row" "$(python3 -c 'import csv,sys; r=[x for x in csv.DictReader(open("dash/fleet.csv")) if x["status"]=="needs_attention"]; print(len(r), r[0]["bitlocker_locked"], r[0]["name_from"])')" \
	"1 yes bitlocker"

# a report written before machine reports (no "kind", three machines in
# one) is split by the fleet too
mkdir old && python3 - r.json old/r.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("kind", "machines", "run_id", "machine"):
    r.pop(k, None)
json.dump(r, open(sys.argv[2], "w"))
PY
"$LB" fleet -o dash-old old > /dev/null 2>&1 || fail "fleet old"
eq "old multi-machine report: fleet rows" "$(($(wc -l < dash-old/fleet.csv) - 1))" 3

stop_servers
done_tests
