#!/usr/bin/env bash
# Report upload: a real nginx with WebDAV PUT on 127.0.0.1 (temporary prefix
# and config, not the system one) receives a report and its evidence
# byte-identical; a bearer token; retries after 503 (a tiny python3 server
# that fails first); the spool when the collector is unreachable, flushed
# when it is back; bounded time; usage errors.
. "$(dirname "$0")/lib.bash"

if ! command -v nginx >/dev/null; then
	"$LB_SOURCE/scripts/install-deps.sh" >&2
fi
command -v nginx >/dev/null || { echo "nginx missing (scripts/packages/fleet.txt)" >&2; exit 1; }

# local test servers: PIDS, freeport, wait_port (lib.bash)
serve_helpers
up() { timeout 120 "$LB" upload "$@"; } # every upload is bounded

# --- the collector: nginx, WebDAV PUT ---
NP=$(freeport)
NG=$WORK/nginx
mkdir -p "$NG/www/reports" "$NG/www/secure" "$NG/tmp"
user=""; [ "$(id -u)" = 0 ] && user="user root root;"
cat > "$NG/nginx.conf" <<CONF
$user
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/error.log;
events { worker_connections 64; }
http {
	access_log $NG/access.log;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	client_max_body_size 64m;
	server {
		listen 127.0.0.1:$NP;
		root $NG/www;
		location /reports/ {
			dav_methods PUT;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
		}
		location /secure/ {
			if (\$http_authorization != "Bearer s3cr3t-T0ken") { return 401; }
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
CONF
start_nginx() {
	nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" -g 'daemon off;' &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	wait_port "$NP"
}
stop_nginx() { kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; }

# a report and an evidence bundle
python3 "$LB_SOURCE/scripts/gen-reports.py" gen --count 1 --flat --seed 7
REPORT=$(ls gen/*.report.json)
cp "$REPORT" report.json
HOST=$(jget report.json 'r["hostname"]')
STAMP=$(jget report.json 'r["finished_at"].replace("-","").replace(":","")')
head -c 300000 /dev/urandom > evidence.tar.zst

start_nginx

# 1. PUT both, names from the template
rc=0; up --url "http://127.0.0.1:$NP/reports/{hostname}-{time}-{file}" --json report.json evidence.tar.zst > up1.json 2> up1.err || rc=$?
eq "upload exit" "$rc" 0
check "report arrived byte-identical" cmp report.json "$NG/www/reports/$HOST-$STAMP-report.json"
check "evidence arrived byte-identical" cmp evidence.tar.zst "$NG/www/reports/$HOST-$STAMP-evidence.tar.zst"
eq "json status" "$(jget up1.json 'r["status"]')" sent
eq "json files" "$(jget up1.json '[f["status"] for f in r["files"]]')" "['sent', 'sent']"
eq "http status" "$(jget up1.json 'r["files"][0]["http_status"]')" 201

# 2. a URL ending in / gets {hostname}-{time}-{file}
rc=0; up -q --url "http://127.0.0.1:$NP/reports/site-a/" report.json || rc=$?
eq "dir url exit" "$rc" 0
check "dir url name" cmp report.json "$NG/www/reports/site-a/$HOST-$STAMP-report.json"

# 3. bearer token from a file; a wrong token is refused at once, not retried, not spooled
printf 's3cr3t-T0ken\n' > token; chmod 600 token
rc=0; up -q --url "http://127.0.0.1:$NP/secure/{file}" --token-file token report.json || rc=$?
eq "token upload" "$rc" 0
check "token upload arrived" cmp report.json "$NG/www/secure/report.json"
printf 'wrong\n' > badtoken
rc=0; up -q --url "http://127.0.0.1:$NP/secure/x-{file}" --token-file badtoken --spool spool-401 --json report.json > up401.json 2>/dev/null || rc=$?
eq "401 is spooled (exit 1)" "$rc" 1
eq "401 not retried" "$(jget up401.json 'r["files"][0]["attempts"]')" 1
eq "401 http status" "$(jget up401.json 'r["files"][0]["http_status"]')" 401
rc=0; up -q --url "http://collector.invalid/{file}" --token-file token report.json 2>tok.err || rc=$?
eq "token over plain http refused" "$rc" 2
check "token refusal says why" grep -q 'bearer token over plain http' tok.err
check "token never in output" bash -c "! grep -rq s3cr3t-T0ken up1.err up401.json tok.err"

# 4. two files to one URL without {file}: usage error, nothing sent
rc=0; up -q --url "http://127.0.0.1:$NP/reports/same.json" --spool spool-usage report.json evidence.tar.zst 2>/dev/null || rc=$?
eq "same url usage error" "$rc" 2
check "nothing written for usage error" test ! -e "$NG/www/reports/same.json"
check "nothing spooled for usage error" test ! -e spool-usage
rc=0; up -q --url "http://127.0.0.1:$NP/reports/{host}.json" report.json 2>/dev/null || rc=$?
eq "unknown placeholder" "$rc" 2
# unreadable input is 2 too (docs/usage.md "Exit status", lb_exit_for), not 3
rc=0; up -q --url "http://127.0.0.1:$NP/reports/{file}" does-not-exist.json 2> missing.err || rc=$?
eq "missing FILE is an input error" "$rc" 2
check "missing FILE named" grep -q 'does-not-exist.json' missing.err
rc=0; up -q --url "http://127.0.0.1:$NP/secure/{file}" --token-file no-such-token report.json 2>/dev/null || rc=$?
eq "missing token file is an input error" "$rc" 2
printf ' \n' > emptytoken
rc=0; up -q --url "http://127.0.0.1:$NP/secure/{file}" --token-file emptytoken report.json 2>/dev/null || rc=$?
eq "empty token file is an input error" "$rc" 2
# a refusal by the collector with no spool: not sent, not spooled (3, not 1)
rc=0; up -q --url "http://127.0.0.1:$NP/secure/y-{file}" --token-file badtoken report.json 2>/dev/null || rc=$?
eq "401 without a spool" "$rc" 3

# 5. retries: a server that answers 503 twice, then stores the body
cat > flaky.py <<'PY'
import http.server, sys, os
port, fails, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
state = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        state["n"] += 1
        with open(os.path.join(out, "requests.log"), "a") as f:
            f.write("%s %s %s blob=%s ctype=%s\n" % (state["n"], self.command, self.path,
                    self.headers.get("x-ms-blob-type"), self.headers.get("Content-Type")))
        if state["n"] <= fails:
            self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
        with open(os.path.join(out, os.path.basename(self.path)), "wb") as f:
            f.write(body)
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    do_PUT = handle_one
    do_POST = handle_one
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
FP=$(freeport); mkdir -p flaky
python3 flaky.py "$FP" 2 flaky & PIDS+=($!)
wait_port "$FP"
t0=$(date +%s)
rc=0; up --url "http://127.0.0.1:$FP/{file}" --azure --retry-delay 100 --json evidence.tar.zst > up503.json 2> up503.err || rc=$?
eq "503 then success" "$rc" 0
eq "503 attempts" "$(jget up503.json 'r["files"][0]["attempts"]')" 3
check "503 body byte-identical" cmp evidence.tar.zst flaky/evidence.tar.zst
check "retry logged" grep -q 'HTTP 503 (attempt 1 of 5); retrying' up503.err
check "azure blob header" grep -q '3 PUT /evidence.tar.zst blob=BlockBlob ctype=application/zstd' flaky/requests.log
rc=0; up -q --post --url "http://127.0.0.1:$FP/post-{file}" report.json || rc=$?
eq "POST" "$rc" 0
check "POST logged" grep -q 'POST /post-report.json blob=None ctype=application/json' flaky/requests.log
check "POST body" cmp report.json flaky/post-report.json

# a server that always fails: bounded attempts, then spooled
FP2=$(freeport); mkdir -p flaky2
python3 flaky.py "$FP2" 1000 flaky2 & PIDS+=($!)
wait_port "$FP2"
rc=0; up -q --url "http://127.0.0.1:$FP2/{file}" --retries 3 --retry-delay 50 --spool spool-5xx --json report.json > up5xx.json || rc=$?
eq "5xx forever: spooled" "$rc" 1
eq "5xx attempts bounded" "$(jget up5xx.json 'r["files"][0]["attempts"]')" 3
eq "5xx requests seen" "$(wc -l < flaky2/requests.log)" 3

# 6. collector down: spooled, within the time bound
stop_nginx
t0=$(date +%s.%N)
rc=0; up -q --url "http://127.0.0.1:$NP/reports/{hostname}-{time}-{file}" --spool spool --retries 50 --retry-delay 200 --max-time 3 --json report.json evidence.tar.zst > updown.json || rc=$?
t1=$(date +%s.%N)
eq "unreachable: spooled" "$rc" 1
check "unreachable bounded by --max-time" python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 10 else 1)"
entry=$(jget updown.json 'r["spooled"]')
check "spool entry exists" test -d "$entry"
check "spooled report identical" cmp report.json "$entry/files/report.json"
check "spooled evidence identical" cmp evidence.tar.zst "$entry/files/evidence.tar.zst"
eq "spool meta hostname" "$(jget "$entry/meta.json" 'r["hostname"]')" "$HOST"
eq "spool entries" "$(ls spool | wc -l)" 1
eq "second file not waited for" "$(jget updown.json '[f["status"] + " " + str(f["attempts"]) for f in r["files"]][1]')" "spooled 0"
# flushing while still down keeps the entry
rc=0; up -q --url "http://127.0.0.1:$NP/reports/{hostname}-{time}-{file}" --spool spool --flush-spool --retries 2 --retry-delay 50 || rc=$?
eq "flush while down" "$rc" 1
eq "entry kept" "$(ls spool | wc -l)" 1

# 7. collector back: --flush-spool sends with the original hostname and time
rm -f "$NG/www/reports/$HOST-$STAMP-"*
start_nginx
rc=0; up --url "http://127.0.0.1:$NP/reports/{hostname}-{time}-{file}" --spool spool --flush-spool --json > flush.json 2> flush.err || rc=$?
eq "flush exit" "$rc" 0
eq "flush sent" "$(jget flush.json 'r["spool_sent"]')" 1
check "flushed report identical" cmp report.json "$NG/www/reports/$HOST-$STAMP-report.json"
check "flushed evidence identical" cmp evidence.tar.zst "$NG/www/reports/$HOST-$STAMP-evidence.tar.zst"
eq "spool empty" "$(ls -A spool | wc -l)" 0
rc=0; up -q --url "http://127.0.0.1:$NP/reports/" --spool spool --flush-spool || rc=$?
eq "flush of an empty spool" "$rc" 0
rc=0; up -q --url "http://127.0.0.1:$NP/reports/" --spool does-not-exist --flush-spool || rc=$?
eq "flush of a missing spool" "$rc" 0

# 8. fix --upload: the report and the bundle of a real fix reach the collector
small_windows_volume fixme.img
rm -rf "$NG/www/reports/fixed"
rc=0; "$LB" fix --evidence fixme.tar.zst --report fixme.json \
	--upload "http://127.0.0.1:$NP/reports/fixed/{hostname}-{file}" fixme.img > /dev/null 2> fixup.err || rc=$?
eq "fix --upload exit" "$rc" 0
check "uploaded report identical" cmp fixme.json "$NG/www/reports/fixed/WKS-WIN732BITA-fixme.json"
check "uploaded bundle identical" cmp fixme.tar.zst "$NG/www/reports/fixed/WKS-WIN732BITA-fixme.tar.zst"
# a dead collector never fails the fix
small_windows_volume fixme2.img
rc=0; "$LB" fix --evidence fixme2.tar.zst --upload "http://127.0.0.1:9/x/{file}" --upload-spool spool2 \
	fixme2.img > /dev/null 2> fixup2.err || rc=$?
eq "fix with dead collector still fixed" "$rc" 0
check "spooled for later" test -n "$(ls -A spool2)"

stop_servers
done_tests
