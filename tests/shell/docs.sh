#!/usr/bin/env bash
# The docs, tested like code (docs/doc-tests.md).  scripts/doc-blocks.py
# pulls every fenced block out of README.md and docs/*.md; each one is
# marked with <!-- doc-test: KIND ... --> and is either run here or an
# illustration.  An unmarked block fails.  Per kind:
#   transcript  the "$ command" lines run on a copy of the demo disk
#               (scripts/demo.spec), output compared with the docs
#   sh          the recipe runs in a scratch dir (set-up by its ARG, below);
#               loopbreaker is a wrapper that runs the real binary on image
#               files only and records every exit status
#   nginx       fleet.md's collector: the docs' own set-up, certificate and
#               token commands (paths moved under a scratch root), nginx -t,
#               then a real PUT over https on 127.0.0.1 with that token
#   dnsmasq     dnsmasq --test;  systemd  systemd-analyze verify
#   json        must parse;  mkimage  the spec is built by scripts/mkimage.py
# Services run on 127.0.0.1 (a free high port) and are stopped on exit.
. "$(dirname "$0")/lib.bash"

need=(nginx openssl curl dnsmasq systemd-analyze cpio mkntfs)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || { "$LB_SOURCE/scripts/install-deps.sh" >&2 || true; break; }
done
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || fail "$t missing (scripts/packages/doctests.txt)"
done
[ "$T_FAILS" = 0 ] || { done_tests; exit 1; }
[ "$(id -u)" = 0 ] || skip_test "needs root (the demo image is filled through an ntfs-3g FUSE mount)"

DB=("python3" "$LB_SOURCE/scripts/doc-blocks.py" --root "$LB_SOURCE")
# local test servers: PIDS, freeport, wait_port (lib.bash)
serve_helpers

# --- 1. every block is marked; the checker itself catches drift ---
check "every fenced block is marked (doc-blocks.py check)" "${DB[@]}" check
"${DB[@]}" list > blocks.txt
eq "blocks found" "$(awk 'END {print (NR > 40) ? "many" : NR}' blocks.txt)" many
# negative controls on a copy: an unmarked block and a wrong transcript fail
mkdir -p neg/docs && printf '# x\n\n```sh\nls\n```\n' > neg/docs/x.md && : > neg/README.md
check "an unmarked block fails the check" bash -c "! ${DB[*]:0:2} --root neg check 2>/dev/null"
printf '# x\n\n<!-- doc-test: transcript none -->\n```\n$ echo 1\n2\n```\n' > neg/docs/x.md
check "a wrong transcript fails" bash -c "! ${DB[*]:0:2} --root neg transcript docs/x.md:4 2>/dev/null"
printf '# x\n\n<!-- doc-test: transcript none -->\n```\n$ printf "a\\\\nb\\\\nc\\\\n"\na\n…\nc\n```\n' > neg/docs/x.md
check "… matches any lines" "${DB[@]:0:2}" --root neg transcript docs/x.md:4

# --- the demo disk (docs/usage.md's examples were run on it) ---
LB_BUILD=$LB_BUILD python3 "$LB_SOURCE/scripts/mkimage.py" "$LB_SOURCE/scripts/demo.spec" demo.img >/dev/null 2>mkimage.err ||
	{ cat mkimage.err >&2; fail "demo image"; done_tests; exit 1; }
mkdir -p bin
ln -sf "$LB" bin/loopbreaker
# a wrapper for sh recipes: runs loopbreaker only when no argument is a
# device and, for scan/fix, some argument is an existing file (no TARGET
# would mean every local disk of this machine); logs every exit status
cat > wrap-loopbreaker <<WRAP
#!/usr/bin/env bash
sub=\${1:-}; file=0
for a in "\$@"; do
	case \$a in /dev/*) echo "doc-test: not run here (a device): loopbreaker \$*" >&2; echo "skip \$*" >> "$WORK/lb.log"; exit 0;; esac
	[ -f "\$a" ] && file=1
done
if [ "\$sub" = scan ] || [ "\$sub" = fix ]; then
	if [ \$file = 0 ]; then echo "doc-test: not run here (no image: every local disk): loopbreaker \$*" >&2; echo "skip \$*" >> "$WORK/lb.log"; exit 0; fi
fi
rc=0; "$LB" "\$@" || rc=\$?
echo "rc=\$rc \$*" >> "$WORK/lb.log"
exit \$rc
WRAP
chmod +x wrap-loopbreaker
# setup DIR NAME: a scratch dir for a transcript or a recipe
setup() {
	rm -rf "$WORK/$1" && mkdir -p "$WORK/$1" && cd "$WORK/$1"
	case $2 in
	none) ;;
	demo) cp --sparse=always "$WORK/demo.img" demo.img ;;
	fixed)
		cp --sparse=always "$WORK/demo.img" demo.img
		"$LB" fix -q --evidence ev.tar.zst --report report.json demo.img >/dev/null 2>&1 ||
			"$LB" fix --evidence ev.tar.zst --report report.json demo.img >/dev/null || fail "set-up fix"
		;;
	readme) # README's "Using it": the files it names
		mkdir -p build && cp "$WORK/wrap-loopbreaker" build/loopbreaker
		for f in disk.img laptop.img vm-1.img vm-2.img; do cp --sparse=always "$WORK/demo.img" $f; done
		printf 'KeyID,RecoveryKey,Hostname\n{4E1A2B3C-0000-4000-8000-00000000A001},235818-357951-253979-013365-241120-245575-342914-591910,LAPTOP-01\n' > bitlocker-keys.csv
		cp bitlocker-keys.csv ad-export.csv
		printf 'correct horse battery staple\n' > p
		;;
	site-cpio) # bootmedia.md's site settings
		printf 'after = reboot\n' > config && cp "$WORK/readme/bitlocker-keys.csv" keys.csv 2>/dev/null ||
			printf 'KeyID,RecoveryKey\n' > keys.csv
		mkdir -p pxe/loopbreaker
		;;
	*) fail "unknown set-up '$2'" ;;
	esac
}
# run_sh WHERE: the block as a bash script, loopbreaker = the wrapper
run_sh() {
	"${DB[@]}" get "$1" > block.sh
	: > "$WORK/lb.log"
	local rc=0
	mkdir -p .bin && cp "$WORK/wrap-loopbreaker" .bin/loopbreaker
	PATH=$PWD/.bin:$PATH timeout 120 bash block.sh > block.out 2> block.err || rc=$?
	T_CHECKS=$((T_CHECKS + 1))
	if grep -q 'command not found\|No such file or directory\|syntax error' block.err; then
		fail "$1: the recipe does not run as written:"; cat block.err >&2
	fi
	while read -r st rest; do
		T_CHECKS=$((T_CHECKS + 1))
		case $st in
		rc=0|rc=1) ;;
		skip) echo "docs: $1: $rest: not run (would touch this machine's disks)" ;;
		*) fail "$1: loopbreaker $rest exited ${st#rc=}"; cat block.err >&2 ;;
		esac
	done < "$WORK/lb.log"
	return $rc
}

n_ill=0; n_run=0; collector=(); systemd_blocks=()
while read -r where kind args; do
	case $kind in
	illustration) n_ill=$((n_ill + 1)); continue ;;
	transcript)
		setup tr "$args"
		rc=0; PATH=$WORK/bin:$PATH "${DB[@]}" transcript "$where" || rc=$?
		eq "$where: transcript matches" "$rc" 0
		cd "$WORK"
		;;
	sh)
		case $args in
		collector-*) collector+=("$args=$where"); continue ;;
		esac
		setup "$args" "$args"
		rc=0; run_sh "$where" || rc=$?
		eq "$where: recipe exit status" "$rc" 0
		case $args in
		readme)
			check "$where: report written" test -s r.json
			check "$where: dashboard written" test -s dashboard/fleet.html
			check "$where: keys sealed" test -s keys.sealed
			check "$where: undo restored" grep -q 'rc=0 undo' "$WORK/lb.log"
			;;
		fixed)
			check "$where: members match the manifest" grep -q '^ok ' block.out
			check "$where: no BAD member" bash -c '! grep -q BAD block.out'
			eq "$where: bundle digest = report's" "$(sha256sum < ev.tar.zst | cut -d' ' -f1)" "$(jget report.json 'r["evidence"]["sha256"]')"
			;;
		site-cpio)
			check "$where: site.cpio holds the config" bash -c 'cpio -it < pxe/loopbreaker/site.cpio 2>/dev/null | grep -qE "^(\\./)?etc/loopbreaker/config\$"'
			;;
		esac
		cd "$WORK"
		;;
	json)
		check "$where: JSON parses" bash -c "${DB[*]:0:4} get $where | python3 -c 'import json,sys; json.load(sys.stdin)'"
		;;
	mkimage)
		"${DB[@]}" get "$where" > spec.txt
		rc=0; LB_BUILD=$LB_BUILD timeout 120 python3 "$LB_SOURCE/scripts/mkimage.py" spec.txt spec.img >/dev/null 2>spec.err || rc=$?
		eq "$where: mkimage builds the spec" "$rc" 0
		rc=0; "$LB" scan spec.img > spec.out 2>&1 || rc=$?
		eq "$where: the image scans (needs attention)" "$rc" 1
		rm -f spec.img
		;;
	dnsmasq)
		"${DB[@]}" get "$where" > dnsmasq.conf
		check "$where: dnsmasq --test" dnsmasq --test --conf-file=dnsmasq.conf
		;;
	systemd) systemd_blocks+=("$where") ;;
	nginx) collector+=("nginx=$where") ;;
	*) fail "$where: no runner for kind '$kind'" ;;
	esac
	n_run=$((n_run + 1))
done < blocks.txt

# --- systemd units: one block may hold several, each after "# /etc/systemd/system/NAME" ---
for where in "${systemd_blocks[@]}"; do
	rm -rf units && mkdir units
	"${DB[@]}" get "$where" | awk -v d=units '
		/^# \/etc\/systemd\/system\// { n = $2; sub(".*/", "", n); f = d "/" n; next }
		f { print > f }'
	eq "$where: units found" "$(ls units | tr '\n' ' ')" "loopbreaker-fleet.service loopbreaker-fleet.timer "
	# the binary the unit names is installed here as build-h5/loopbreaker
	sed -i "s#/usr/local/bin/loopbreaker#$LB#" units/*.service
	rc=0; (cd units && SYSTEMD_LOG_LEVEL=warning timeout 60 systemd-analyze verify ./*.service ./*.timer) > sa.out 2>&1 || rc=$?
	grep -v 'Failed to .*bus\|Failed to connect\|tmpfiles\|/run/systemd' sa.out > sa.err || true
	eq "$where: systemd-analyze verify" "$rc" 0
	check "$where: systemd-analyze has no complaint" test ! -s sa.err
	if [ -s sa.err ]; then cat sa.err >&2; fi
	FLEET_CMD=$(awk '/^ExecStart=/ { s = $0; while (s ~ /\\$/ && (getline l) > 0) { sub(/\\$/, "", s); s = s l }; sub(/^ExecStart=/, "", s); print s }' units/loopbreaker-fleet.service)
done

# --- the collector (fleet.md): the docs' set-up, certificate, token and nginx config ---
get_named() { local c; for c in "${collector[@]}"; do if [ "${c%%=*}" = "$1" ]; then echo "${c#*=}"; fi; done; }
W_SETUP=$(get_named collector-setup); W_CERT=$(get_named collector-cert); W_NGINX=$(get_named nginx)
check "fleet.md has the collector set-up, certificate and nginx blocks" test -n "$W_SETUP" -a -n "$W_CERT" -a -n "$W_NGINX"
if [ -n "$W_SETUP" ] && [ -n "$W_CERT" ] && [ -n "$W_NGINX" ]; then
	R=$WORK/root
	mkdir -p "$R/etc/nginx/sites-available" "$R/etc/nginx/sites-enabled" "$R/etc/ssl/certs" "$R/etc/ssl/private" "$R/srv" "$R/ca"
	# the docs' absolute paths, moved under $R; apt-get is not run; the
	# recipe's example address becomes 127.0.0.1 (the URL the test uses)
	relocate() { sed -e "s#/srv/#$R/srv/#g; s#/etc/#$R/etc/#g; s#10\.19\.7\.5#127.0.0.1#g"; }
	prelude='apt-get() { echo "(doc-test: apt-get $* not run)"; }; set -e'
	{ echo "$prelude"; "${DB[@]}" get "$W_SETUP" | relocate; } > "$R/setup.sh"
	{ echo "$prelude"; "${DB[@]}" get "$W_CERT" | relocate; } > "$R/cert.sh"
	printf 'dashboard-pw\ndashboard-pw\n' > "$R/pw"
	rc=0; (cd "$R/ca" && setsid -w bash "$R/setup.sh" < "$R/pw") > setup.out 2>&1 || rc=$?
	eq "fleet.md collector set-up runs" "$rc" 0; [ $rc = 0 ] || cat setup.out >&2
	rc=0; (cd "$R/ca" && setsid -w bash "$R/cert.sh" < /dev/null) > cert.out 2>&1 || rc=$?
	eq "fleet.md certificate recipe runs" "$rc" 0; [ $rc = 0 ] || cat cert.out >&2
	TOKEN=$(head -1 "$R/etc/nginx/loopbreaker.token" 2>/dev/null || true)
	eq "the docs' token command makes a long token" "$( [ ${#TOKEN} -ge 40 ] && echo yes || echo "no (${#TOKEN})")" yes
	check "htpasswd made by the docs' command" grep -q '^[a-z]*:\$' "$R/etc/nginx/loopbreaker.htpasswd"
	CA=$(find "$R/ca" -name 'collector-ca.pem' | head -1)
	check "certificate has 127.0.0.1 in its subjectAltName" bash -c "openssl x509 -noout -ext subjectAltName -in '$R/etc/ssl/certs/collector.example.org.pem' | grep -q 'IP Address:127.0.0.1'"

	NP=$(freeport)
	"${DB[@]}" get "$W_NGINX" | relocate |
		sed -e "s#REPLACE-WITH-THE-TOKEN#$TOKEN#; s#listen 443 ssl;#listen 127.0.0.1:$NP ssl;#" \
		> "$R/etc/nginx/sites-available/loopbreaker"
	ln -sf "$R/etc/nginx/sites-available/loopbreaker" "$R/etc/nginx/sites-enabled/loopbreaker"
	# the part of Debian's /etc/nginx/nginx.conf the site file lives in
	cat > "$R/nginx.conf" <<CONF
user root root;
worker_processes 1;
pid $R/nginx.pid;
error_log $R/error.log;
events { worker_connections 64; }
http {
	access_log $R/access.log;
	proxy_temp_path $R/tmp-proxy; fastcgi_temp_path $R/tmp-fcgi; uwsgi_temp_path $R/tmp-uwsgi; scgi_temp_path $R/tmp-scgi;
	include $R/etc/nginx/sites-enabled/*;
}
CONF
	rc=0; nginx -t -p "$R" -c "$R/nginx.conf" -e "$R/error.log" > nginx-t.out 2>&1 || rc=$?
	eq "fleet.md nginx config passes nginx -t" "$rc" 0; [ $rc = 0 ] || cat nginx-t.out >&2
	if [ $rc = 0 ]; then
		nginx -p "$R" -c "$R/nginx.conf" -e "$R/error.log" -g 'daemon off;' &
		PIDS+=($!)
		wait_port "$NP"
		printf '%s\n' "$TOKEN" > upload.token
		setup upload fixed
		rc=0; timeout 60 "$LB" upload -q --json --url "https://127.0.0.1:$NP/reports/" --token-file "$WORK/upload.token" \
			--ca-file "$CA" --max-time 20 report.json ev.tar.zst > "$WORK/up.json" 2> "$WORK/up.err" || rc=$?
		cd "$WORK"
		eq "PUT through the docs' collector with the docs' token" "$rc" 0; [ $rc = 0 ] || cat up.err >&2
		got=$(find "$R/srv/loopbreaker/reports" -name '*-report.json' | head -1)
		check "report landed in /srv/loopbreaker/reports" cmp upload/report.json "$got"
		check "evidence landed" bash -c "cmp upload/ev.tar.zst $R/srv/loopbreaker/reports/*-ev.tar.zst"
		check "token never printed" bash -c "! grep -qF -- '$TOKEN' up.json up.err"
		C=(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA")
		eq "PUT without the token" "$("${C[@]}" -T upload/report.json "https://127.0.0.1:$NP/reports/x.json")" 401
		eq "PUT with a wrong token" "$("${C[@]}" -H 'Authorization: Bearer nope' -T upload/report.json "https://127.0.0.1:$NP/reports/y.json")" 401
		eq "GET of a report with the token" "$("${C[@]}" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$NP/reports/$(basename "$got")")" 403
		eq "the certificate is for 127.0.0.1, not for localhost" "$("${C[@]}" "https://localhost:$NP/dashboard/" || true)" 000
		# the timer's command (fleet.md systemd unit) on what arrived, then the dashboard over https
		if [ -n "${FLEET_CMD:-}" ]; then
			rc=0; eval "${FLEET_CMD//\/srv\//$R/srv/}" > fleet.out 2>&1 || rc=$?
			eq "the timer's loopbreaker fleet command" "$rc" 0; [ $rc = 0 ] || cat fleet.out >&2
		fi
		eq "dashboard needs the password" "$("${C[@]}" "https://127.0.0.1:$NP/dashboard/fleet.html")" 401
		eq "dashboard with the password" "$("${C[@]}" -u incident:dashboard-pw "https://127.0.0.1:$NP/dashboard/fleet.html")" 200
	fi
fi

echo "docs: $n_run blocks run or checked, $n_ill illustrations"
done_tests
