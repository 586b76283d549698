#!/usr/bin/env bash
# run-case.sh CASEDIR - runs one image-driven test case (e2fsprogs tests/ style).
#
# CASEDIR holds:
#   *.spec   disk image specs (scripts/mkimage.py); X.spec is built as X.img
#   script   bash, sourced here; it drives loopbreaker with the helpers below
#            and states the expected outcome (exit codes, report assertions)
# Work happens in $LB_BUILD/tests-work/<case>/ (wiped first; removed after a
# pass unless LB_KEEP_WORK=1, kept after a failure for inspection).  Exits
# non-zero if any check failed.
#
# Env: LB_BUILD (build dir, holds loopbreaker and lb-mkhive), LB_SOURCE,
# LB_SHARED_DATA.  ctest sets all three and runs us from the build dir.
# See docs/fixtures.md for the helpers and the assertion language.
set -uo pipefail

case_dir=$(cd "${1:?usage: run-case.sh CASEDIR}" && pwd)
CASE=$(basename "$case_dir")
LB_BUILD=$(cd "${LB_BUILD:-$(pwd)}" && pwd)
LB_SOURCE=${LB_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
LB_SHARED_DATA=${LB_SHARED_DATA:-$LB_SOURCE/../shared/data}
export LB_BUILD LB_SOURCE LB_SHARED_DATA
LB=${LB:-$LB_BUILD/loopbreaker}
MKIMAGE="$LB_SOURCE/scripts/mkimage.py"
WORK=$LB_BUILD/tests-work/case-$CASE
# Debian's python3 (stdlib only); a pyenv shim in PATH costs 0.2 s a call
PY=${LB_PYTHON:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
export LB_MKIMAGE_CACHE=${LB_MKIMAGE_CACHE:-$LB_BUILD/tests-work/mkimage-cache}

C_FAILS=0
C_CHECKS=0
C_MOUNTS=()
C_IN_SCRIPT=0
cleanup() {
	local m
	for m in "${C_MOUNTS[@]}"; do mountpoint -q "$m" && umount "$m"; done
}
on_exit() {
	cleanup
	# `exit` inside the sourced script: never a pass
	if [ "$C_IN_SCRIPT" = 1 ]; then
		echo "FAIL [$CASE]: the script called exit before its end" >&2
		exit 1
	fi
}
trap on_exit EXIT

fail() { echo "FAIL [$CASE]: $*" >&2; C_FAILS=$((C_FAILS + 1)); }
ok() { C_CHECKS=$((C_CHECKS + 1)); }
note() { echo "[$CASE] $*"; }

# ---------------------------------------------------------------- helpers

# mkimage SPEC [OUT]: build an image (default: X.spec -> X.img)
mkimage() {
	local spec=$1 out=${2:-$(basename "${1%.spec}").img}
	[ -f "$spec" ] || spec=$case_dir/$spec
	if ! "$PY" "$MKIMAGE" "$spec" "$out" 2> mkimage.err; then
		fail "mkimage $spec failed: $(cat mkimage.err)"
		return 1
	fi
}

# sha FILE: content digest of an image: sha256 over (offset, bytes) of every
# non-zero 1 MiB cell, plus the size.  Same equality as sha256sum (equal
# contents <=> equal digests) but it skips holes, so sparse images hash fast.
sha() {
	"$PY" - "$1" <<'PY'
import hashlib, os, sys
CELL = 1 << 20
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
h = hashlib.sha256(b"size %d\n" % size)
zero = bytes(CELL)
off, done = 0, -1
while off < size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    e = os.lseek(fd, d, os.SEEK_HOLE)
    for cell in range(d // CELL, (e + CELL - 1) // CELL):
        if cell <= done:
            continue
        b = os.pread(fd, CELL, cell * CELL)
        if b != zero[:len(b)]:
            h.update(b"cell %d\n" % cell)
            h.update(b)
        done = cell
    off = e
print(h.hexdigest())
PY
}

# lb WANT_EXIT STEP ARGS...: runs `loopbreaker ARGS --report STEP.json`,
# stdout/stderr to STEP.out/STEP.err, checks the exit status.  For fix, an
# --evidence STEP.tar.zst is added unless ARGS has one.  The image sha256
# before/after is kept in STEP.before/STEP.after for every *.img named in ARGS.
lb() {
	local want=$1 step=$2; shift 2
	local args=("$@") a got=0 extra=()
	if [ "${args[0]}" = fix ] && [[ " ${args[*]} " != *" --evidence "* ]]; then
		extra=(--evidence "$PWD/$step.tar.zst")
	fi
	: > "$step.before"
	for a in "${args[@]}"; do [ -f "$a" ] && echo "$a $(sha "$a")" >> "$step.before"; done
	"$LB" "${args[0]}" --report "$step.json" "${extra[@]}" "${args[@]:1}" > "$step.out" 2> "$step.err" || got=$?
	: > "$step.after"
	for a in "${args[@]}"; do [ -f "$a" ] && echo "$a $(sha "$a")" >> "$step.after"; done
	ok
	if [ "$got" != "$want" ]; then
		fail "$step: loopbreaker ${args[*]}: exit $got, expected $want"
		sed 's/^/    stderr: /' "$step.err" | head -20 >&2
	fi
	if [ "$got" -gt 1 ] && [ "$got" -ne 2 ] || grep -qE 'AddressSanitizer|runtime error:|Segmentation' "$step.err"; then
		fail "$step: crash or internal error (exit $got)"; sed 's/^/    stderr: /' "$step.err" | head -20 >&2
	fi
	if [ ! -s "$step.json" ]; then
		fail "$step: no report written to $step.json"
		echo '{}' > "$step.json"
	fi
}

# unchanged STEP: the images named in STEP's command did not change
unchanged() {
	ok
	if ! diff -u "$1.before" "$1.after" > "$1.shadiff"; then
		fail "$1: image changed (sha256 before/after):"; sed 's/^/    /' "$1.shadiff" >&2
	fi
}
# changed STEP: they did change
changed() {
	ok
	if diff -q "$1.before" "$1.after" > /dev/null; then fail "$1: image did not change"; fi
}

# expect STEP [FILE]: JSON assertions on STEP.json, one per line, from FILE
# or stdin.  See docs/fixtures.md:  path = value | != | ~ regex | !~ |
# exists | absent | len path = N.  Paths: a.b[0].c[key=value][*]...
expect() {
	local step=$1 src=${2:-/dev/stdin} out
	ok
	if ! out=$("$PY" - "$step.json" "$src" 3<&0 <<'PY'
import json, re, sys

report = json.load(open(sys.argv[1]))
src = sys.argv[2]
lines = (open("/dev/fd/3") if src == "/dev/stdin" else open(src)).read().splitlines()

def tokens(path):
    toks, i = [], 0
    while i < len(path):
        c = path[i]
        if c == ".":
            i += 1
        elif c == "[":
            depth, j = 0, i
            while j < len(path):
                if path[j] == "[": depth += 1
                elif path[j] == "]":
                    depth -= 1
                    if depth == 0: break
                j += 1
            toks.append(("sel", path[i + 1:j]))
            i = j + 1
        else:
            m = re.match(r"[^.\[]+", path[i:])
            toks.append(("key", m.group(0)))
            i += len(m.group(0))
    return toks

def parse_value(s):
    try:
        return json.loads(s)
    except ValueError:
        return s

MISSING = object()

def walk(nodes, tok):
    kind, t = tok
    out = []
    for n in nodes:
        if kind == "key":
            out.append(n.get(t, MISSING) if isinstance(n, dict) else MISSING)
        elif not isinstance(n, list):
            out.append(MISSING)
        elif t == "*":
            out.extend(n)
        elif re.fullmatch(r"-?\d+", t):
            k = int(t)
            out.append(n[k] if -len(n) <= k < len(n) else MISSING)
        elif t.startswith("~"):
            out.extend(e for e in n if isinstance(e, str) and re.search(t[1:], e))
        else:
            m = re.fullmatch(r"([^=~!]+)(!=|=|~)(.*)", t)
            if not m:
                raise SyntaxError("bad selector [%s]" % t)
            key, op, val = m.groups()
            for e in n:
                v = e.get(key, MISSING) if isinstance(e, dict) else MISSING
                if v is MISSING:
                    continue
                if op == "~":
                    hit = isinstance(v, str) and re.search(val, v)
                elif op == "=":
                    hit = v == parse_value(val)
                else:
                    hit = v != parse_value(val)
                if hit:
                    out.append(e)
    return out

def resolve(path):
    nodes = [report]
    for tok in tokens(path):
        nodes = walk(nodes, tok)
    return nodes

def show(v):
    return "<missing>" if v is MISSING else json.dumps(v)

fails = 0
for no, line in enumerate(lines, 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    try:
        m = re.fullmatch(r"len\s+(\S+)\s*=\s*(\d+)", line)
        if m:
            got = [n for n in resolve(m.group(1)) if n is not MISSING]
            if len(got) != 1 or not isinstance(got[0], list) or len(got[0]) != int(m.group(2)):
                fails += 1
                print("  %s\n  - expected: %s items\n  + got:      %s" % (line, m.group(2),
                      " | ".join("%d items: %s" % (len(g), show(g)[:300]) if isinstance(g, list) else show(g) for g in got) or "<missing>"))
            continue
        m = re.fullmatch(r"(\S+)\s+(exists|absent)", line)
        if m:
            got = [n for n in resolve(m.group(1)) if n is not MISSING]
            if (m.group(2) == "exists") != bool(got):
                fails += 1
                print("  %s\n  + got: %s" % (line, " | ".join(show(g)[:300] for g in got) or "<missing>"))
            continue
        vacuous = line.startswith("all ")   # "all PATH OP V": zero matches is fine
        m = re.fullmatch(r"(?:all\s+)?(\S+)\s*(!=|=|!~|~)\s*(.*)", line)
        if not m:
            raise SyntaxError("cannot parse")
        path, op, val = m.groups()
        got = resolve(path)
        bad = []
        if not got and not vacuous:
            bad = [MISSING]
        for g in got:
            if op == "=":
                good = g is not MISSING and g == parse_value(val)
            elif op == "!=":
                good = g is not MISSING and g != parse_value(val)
            else:
                good = isinstance(g, str) and bool(re.search(val, g))
                if op == "!~":
                    good = isinstance(g, str) and not good
            if not good:
                bad.append(g)
        if bad:
            fails += 1
            print("  %s\n  - expected: %s %s\n  + got:      %s" % (line, op, val, " | ".join(show(b) for b in bad)))
    except (SyntaxError, re.error) as e:
        fails += 1
        print("  %s\n  ! bad assertion (line %d): %s" % (line, no, e))
sys.exit(1 if fails else 0)
PY
	); then
		fail "$step: report $step.json does not match:"
		echo "$out" >&2
	fi
}

# jget STEP PYEXPR: evaluate a python expression on r (the report)
jget() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$1.json" "$2"; }

# outside IMG STEP: checks the image from outside the engine (ntfs-3g FUSE,
# read-only) against mkimage's manifest IMG.json and STEP's report: every
# file the report says was quarantined is gone from its place and present,
# same bytes, at its quarantine_path; deleted ones are gone; every other
# file mkimage wrote is there with the same sha256 and mtime.
outside() {
	local img=$1 step=$2 out
	ok
	if ! out=$("$PY" - "$img" "$step.json" <<'PY'
import hashlib, json, os, subprocess, sys, time
img, rep = sys.argv[1], sys.argv[2]
man = json.load(open(img + ".json"))
report = json.load(open(rep))
acted = {}
for t in report.get("targets", []):
    for v in t.get("volumes", []):
        for i in v.get("installs", []) or []:
            for f in i.get("findings", []):
                acted[(v.get("offset"), f["path"])] = f
fails = []
def posix(mnt, p):
    return os.path.join(mnt, *[x for x in p.split("\\") if x])
def digest(p):
    with open(p, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
for part in man["partitions"]:
    if part["kind"] not in ("ntfs", "recovery") or not part["files"]:
        continue
    pimg = "outside-p%d.img" % part["number"]
    mnt = os.path.abspath("outside-mnt%d" % part["number"])
    subprocess.run(["dd", "if=" + img, "of=" + pimg, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % part["offset"], "count=%d" % part["size"], "conv=sparse", "status=none"], check=True)
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["ntfs-3g", "-o", "ro", pimg, mnt], capture_output=True, text=True)
    if r.returncode != 0:
        fails.append("partition %d: read-only ntfs-3g mount failed: %s" % (part["number"], r.stderr.strip()))
        continue
    try:
        for f in part["files"]:
            p = posix(mnt, f["path"])
            fnd = acted.get((part["offset"], f["path"]))
            act = fnd["action"] if fnd else None
            if act == "quarantined":
                if os.path.exists(p):
                    fails.append("%s still present after quarantine" % f["path"])
                q = fnd.get("quarantine_path")
                if not q or not os.path.isfile(posix(mnt, q)):
                    fails.append("%s: quarantine copy %s missing" % (f["path"], q))
                elif digest(posix(mnt, q)) != f["sha256"]:
                    fails.append("%s: quarantine copy %s differs (sha256)" % (f["path"], q))
            elif act == "deleted":
                if os.path.exists(p):
                    fails.append("%s still present after delete" % f["path"])
            else:
                if not os.path.isfile(p):
                    fails.append("%s missing (action %s)" % (f["path"], act))
                    continue
                if digest(p) != f["sha256"]:
                    fails.append("%s changed (sha256)" % f["path"])
                if f.get("mtime"):
                    want = f["mtime"].replace("Z", "")
                    got = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(os.stat(p).st_mtime))
                    if not want.startswith(got):
                        fails.append("%s mtime %s, expected %s" % (f["path"], got, f["mtime"]))
    finally:
        subprocess.run(["umount", mnt])
        os.unlink(pimg)
for f in fails:
    print("  " + f)
sys.exit(1 if fails else 0)
PY
	); then
		fail "$step: outside check of $img:"; echo "$out" >&2
	fi
}

# evidence STEP: STEP's bundle exists, matches the report's sha256, holds a
# manifest.json and, byte for byte, every file the report quarantined/deleted
evidence() {
	local step=$1 out
	ok
	if ! out=$("$PY" - "$step.json" "$step" <<'PY'
import hashlib, json, os, subprocess, sys
r = json.load(open(sys.argv[1]))
d = sys.argv[2] + ".evidence"
ev = r.get("evidence")
fails = []
if not ev or not ev.get("path") or not os.path.isfile(ev["path"]):
    print("  no evidence bundle (evidence = %s)" % json.dumps(ev)); sys.exit(1)
data = open(ev["path"], "rb").read()
if hashlib.sha256(data).hexdigest() != ev.get("sha256"):
    fails.append("bundle sha256 differs from the report's evidence.sha256")
subprocess.run(["rm", "-rf", d]); os.makedirs(d)
x = subprocess.run(["tar", "--zstd", "-xf", os.path.abspath(ev["path"]), "-C", d], capture_output=True, text=True)
if x.returncode:
    fails.append("tar --zstd -xf failed: " + x.stderr.strip())
if not os.path.isfile(os.path.join(d, "manifest.json")):
    fails.append("no manifest.json in the bundle")
else:
    try:
        json.load(open(os.path.join(d, "manifest.json")))
    except ValueError as e:
        fails.append("manifest.json is not JSON: %s" % e)
shas = set()
for root, _, files in os.walk(d):
    for f in files:
        shas.add(hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest())
for t in r.get("targets", []):
    for v in t.get("volumes", []):
        for i in v.get("installs", []) or []:
            for f in i.get("findings", []):
                if f.get("action") in ("quarantined", "deleted") and f.get("sha256") not in shas:
                    fails.append("bundle lacks the bytes of %s (sha256 %s)" % (f["path"], f.get("sha256")))
for f in fails:
    print("  " + f)
sys.exit(1 if fails else 0)
PY
	); then
		fail "$step: evidence bundle:"; echo "$out" >&2
	fi
}

# manifest_sha IMG WINPATH: the sha256 mkimage recorded for a file
manifest_sha() {
	"$PY" -c 'import json,sys
m=json.load(open(sys.argv[1]+".json"))
print([f["sha256"] for p in m["partitions"] for f in p["files"] if f["path"]==sys.argv[2]][0])' "$1" "$2"
}

# fix_roundtrip IMG [FIX-ARGS...]: the checks every fix case shares.
#   scan (exit 1, image unchanged) -> fix (exit 0, fixed; outside check;
#   evidence) -> fix again (exit 0, clean, evidence null, image unchanged)
#   -> scan (exit 0, clean, unchanged).  Steps: rt-scan, rt-fix, rt-fix2,
#   rt-scan2 (reports rt-*.json), so a case can add its own assertions.
fix_roundtrip() {
	local img=$1; shift
	lb 1 rt-scan scan "$img"
	unchanged rt-scan
	expect rt-scan <<-'EOF'
		status = needs_attention
		exit_code = 1
		mode = scan
		evidence = null
		targets[*].volumes[*].installs[*].findings[verdict=bad].action = would_quarantine
		targets[*].volumes[*].installs[*].findings[verdict=bad].quarantine_path = null
	EOF
	lb 0 rt-fix fix "$@" "$img"
	changed rt-fix
	expect rt-fix <<-'EOF'
		status = fixed
		exit_code = 0
		mode = fix
		targets[*].volumes[*].installs[*].findings[verdict=bad].action = quarantined
		targets[*].volumes[*].installs[*].findings[verdict=bad].quarantine_path ~ ^\\loopbreaker\.quarantine\\[0-9]{8}T[0-9]{6}Z\\(?i:C-00000291)
		all targets[*].volumes[*].installs[*].findings[verdict=good].action = none
		all targets[*].volumes[*].installs[*].findings[verdict=older].action = none
		evidence.path exists
		evidence.sha256 ~ ^[0-9a-f]{64}$
	EOF
	outside "$img" rt-fix
	evidence rt-fix
	lb 0 rt-fix2 fix "$@" "$img"
	unchanged rt-fix2
	expect rt-fix2 <<-'EOF'
		status = clean
		exit_code = 0
		evidence = null
		targets[*].volumes[*].installs[*].findings[verdict=bad] absent
	EOF
	[ ! -e rt-fix2.tar.zst ] || fail "rt-fix2: a bundle was written although nothing was fixed"
	lb 0 rt-scan2 scan "$img"
	unchanged rt-scan2
	expect rt-scan2 <<-'EOF'
		status = clean
		exit_code = 0
		targets[*].volumes[*].installs[*].findings[verdict=bad] absent
	EOF
}

# ---------------------------------------------------------------- run

[ -x "$LB" ] || { echo "run-case: $LB not built" >&2; exit 2; }
[ -f "$case_dir/script" ] || { echo "run-case: $case_dir/script missing" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 2
start=$(date +%s.%N)
for spec in "$case_dir"/*.spec; do
	[ -e "$spec" ] || continue
	mkimage "$spec" || { echo "[$CASE] FAIL (image)"; exit 1; }
done
gen=$(date +%s.%N)
# The script must run to its last line: a syntax error or a `return` half-way
# would otherwise end the source early and the case pass on fewer checks.
# A copy with a sentinel as its last command tells the two apart.
C_SCRIPT_END=0
{ cat "$case_dir/script"; printf '\nC_SCRIPT_END=1\n'; } > "$WORK/.script"
C_IN_SCRIPT=1
# shellcheck source=/dev/null
. "$WORK/.script"
C_IN_SCRIPT=0
end=$(date +%s.%N)
if [ "$C_SCRIPT_END" != 1 ]; then
	fail "the script stopped before its end (a syntax error, 'return' or 'exit' half-way)"
fi
if [ "$C_CHECKS" = 0 ]; then
	fail "the script ran no check"
fi
times=$("$PY" -c "import sys; a,b,c=map(float,sys.argv[1:]); print('images %.1fs, checks %.1fs' % (b-a, c-b))" "$start" "$gen" "$end")
if [ "$C_FAILS" = 0 ]; then
	echo "[$CASE] PASS: $C_CHECKS checks ($times)"
	# CI disks are small: a passing case leaves nothing behind
	cleanup
	cd "$LB_BUILD"
	if [ "${LB_KEEP_WORK:-0}" != 1 ] && ! grep -qF " $WORK/" /proc/mounts; then
		rm -rf --one-file-system "$WORK"
	fi
else
	echo "[$CASE] FAIL: $C_FAILS of $C_CHECKS checks failed ($times); work dir $WORK"
	exit 1
fi
