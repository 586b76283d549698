# Shared helpers for tests/shell/*.sh (sourced).  Env: LB_BUILD, LB_SOURCE,
# LB_SHARED_DATA (set by ctest).
set -euo pipefail
LB_BUILD=${LB_BUILD:-$(pwd)}
LB_SOURCE=${LB_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LB_SHARED_DATA=${LB_SHARED_DATA:-$LB_SOURCE/../shared/data}
LB=$LB_BUILD/loopbreaker
LBT=$LB_BUILD/loopbreaker-test   # the test-only binary: --fault-inject
T_NAME=$(basename "$0" .sh)
WORK=$LB_BUILD/tests-work/shell-$T_NAME
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
T_FAILS=0
T_CHECKS=0

fail() { echo "FAIL: $*" >&2; T_FAILS=$((T_FAILS + 1)); }
# skip_test REASON: this test cannot run here; ctest shows it as skipped
# (SKIP_RETURN_CODE 77), never as passed.
skip_test() { echo "SKIP: $T_NAME: $*"; exit 77; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	T_CHECKS=$((T_CHECKS + 1))
	if ! "$@" >/dev/null; then fail "$d"; fi
}
eq() { # eq DESCRIPTION ACTUAL EXPECTED
	T_CHECKS=$((T_CHECKS + 1))
	if [ "$2" != "$3" ]; then fail "$1: got '$2', expected '$3'"; fi
}
# jget FILE PYTHON-EXPR-ON-r  e.g. jget r.json 'r["status"]'
jget() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# run EXPECTED_EXIT ARGS... : runs loopbreaker, report in last.json
run() {
	local want=$1; shift
	local got=0
	"$LB" "$@" --json > last.json 2> last.err || got=$?
	T_CHECKS=$((T_CHECKS + 1))
	if [ "$got" != "$want" ]; then
		fail "loopbreaker $* exited $got, expected $want"; cat last.err >&2
	fi
}
# done_tests: prints the tally; on success the work dir is removed (CI disks
# are small: the suite must not keep gigabytes of images), unless
# LB_KEEP_WORK=1.  A failing test keeps its work dir for inspection.
done_tests() {
	echo "$T_NAME: $T_CHECKS checks, $T_FAILS failed"
	[ "$T_FAILS" = 0 ] || return 1
	clean_work
}
clean_work() {
	[ "${LB_KEEP_WORK:-0}" = 1 ] && return 0
	cd "$LB_BUILD"
	# never recurse into a FUSE mount left behind: that would delete files
	# inside an image instead of the image
	if grep -qF " $WORK/" /proc/mounts; then
		echo "$T_NAME: a mount under $WORK is still active; work dir kept" >&2
		return 0
	fi
	rm -rf --one-file-system "$WORK"
}
# A partition image of the Windows-made NTFS volume (ntfs-lastaccess), with a
# small Windows tree written through an ntfs-3g FUSE mount (test set-up only).
windows_made_volume() { # OUT
	# the partition alone, free space as holes (5 MiB on disk, not 253)
	python3 "$LB_SOURCE/scripts/sample-sparse.py" --partition \
		"$LB_SHARED_DATA/ntfs/ntfs-lastaccess.raw.gz" "$1" 2>/dev/null
	mkdir -p mnt
	ntfs-3g "$1" mnt
	mkdir -p mnt/Windows/System32/config mnt/Windows/System32/drivers/CrowdStrike
	xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > SYSTEM.hive
	# a Falcon sensor with agent and customer IDs, as the console shows them
	printf '%s\n' 'cd \ControlSet001\Services' 'add CSAgent' 'cd CSAgent' 'add Sim' 'cd Sim' \
		'setval 2' 'AG' 'hex:3:00,11,22,33,44,55,66,77,88,99,aa,bb,cc,dd,ee,ff' \
		'CU' 'hex:3:0f,0e,0d,0c,0b,0a,09,08,07,06,05,04,03,02,01,00' 'commit' | hivexsh -w SYSTEM.hive
	cp SYSTEM.hive mnt/Windows/System32/config/SYSTEM
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 4088 /dev/urandom; } \
		> mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	touch -d '2024-07-19 04:30 UTC' mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	umount mnt
}
# A small mkntfs-made partition image with a Windows tree and one bad
# channel file (fast to copy many times: sparse).
small_windows_volume() { # OUT [HOSTNAME-unused]
	truncate -s 48M "$1"
	mkntfs -F -Q -q -L Windows "$1" 2>/dev/null
	mkdir -p mnt
	ntfs-3g "$1" mnt
	mkdir -p mnt/Windows/System32/config mnt/Windows/System32/drivers/CrowdStrike
	xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > mnt/Windows/System32/config/SYSTEM
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 8184 /dev/urandom; } \
		> mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	touch -d '2024-07-19 04:30 UTC' mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	umount mnt
}
# broken_disk IMAGE HOSTNAME: a small GPT disk (scripts/mkimage.py) whose
# Windows install HOSTNAME has the bad channel file of 2024-07-19.
broken_disk() {
	cat > "$1.spec" <<SPEC
table gpt
ntfs size=40M label=Windows
install \\Windows hostname=$2
channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:09:00Z
SPEC
	LB_BUILD=$LB_BUILD python3 "$LB_SOURCE/scripts/mkimage.py" "$1.spec" "$1" > /dev/null
}
# registry_volume OUT HIVE: a Windows-made volume (windows_made_volume) whose
# SYSTEM hive is replaced by HIVE (a local file), plus optional logs
# HIVE.LOG1/HIVE.LOG2 copied as SYSTEM.LOG1/.LOG2 when present.
registry_volume() { # OUT HIVE
	windows_made_volume "$1"
	mkdir -p mnt
	ntfs-3g "$1" mnt
	rm -f mnt/Windows/System32/config/SYSTEM*
	cp "$2" mnt/Windows/System32/config/SYSTEM
	for l in LOG1 LOG2; do
		if [ -e "$2.$l" ]; then cp "$2.$l" mnt/Windows/System32/config/SYSTEM.$l; fi
	done
	umount mnt
}
# hive_get IMAGE KEY VALUE: a value of SYSTEM on IMAGE, via ntfscat + hivexget
hive_get() {
	ntfscat "$1" Windows/System32/config/SYSTEM > hg.$$ && hivexget hg.$$ "$2" "$3" 2>&1 || true
	rm -f hg.$$
}

# bitlocker_volume OUT: the Windows-made bitlk-aes-xts-128 volume (recovery
# key 235818-…-591910, protector {64311DEA-…}) with a 32 MiB NTFS holding a
# Windows tree and the bad channel file (bad.sys) written through the
# decrypting layer.  The NTFS ends before BitLocker's first metadata block
# (33.6 MB) so nothing has to be written over it.
# The keys of that fixture (bitlk-aes-xts-128, shared/data/bitlocker): its
# recovery password and protector, its password protector, a valid-looking
# wrong password, and the right one with block 3 off by one (bad checksum).
RP=235818-357951-253979-013365-241120-245575-342914-591910
RPID=64311DEA-4587-4029-924A-BA299647998E
PWID=3E55195C-8811-4D9B-97B4-2B9E5F8F5384
WRONG=042647-302313-590458-071500-554323-116567-412181-516978
BADSUM=235818-357951-253978-013365-241120-245575-342914-591910
bitlocker_volume() {
	tar -xJf "$LB_SHARED_DATA/bitlocker/bitlk-images.tar.xz"
	truncate -s 32M ntfs.img
	mkntfs -F -Q -q -L BLWIN ntfs.img 2>/dev/null
	mkdir -p mnt && ntfs-3g ntfs.img mnt
	mkdir -p mnt/Windows/System32/config mnt/Windows/System32/drivers/CrowdStrike
	xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > mnt/Windows/System32/config/SYSTEM
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 40952 /dev/urandom; } > bad.sys
	cp bad.sys mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	touch -d '2024-07-19 04:30 UTC' mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	umount mnt
	cp bitlk-images/bitlk-aes-xts-128.img "$1"
	"$LB_BUILD/lb-blwrite" write "$1" "$RP" \
		ntfs.img 2>/dev/null || fail "writing NTFS through BitLocker"
}

# bcd_disk OUT: an MBR disk with a 40 MiB FAT32 ESP at 1 MiB holding the
# real BCD store (also left here as ./BCD) and, at 41 MiB, the Windows-made
# NTFS volume of windows_made_volume.  Default entry {733b62e5-…}.
bcd_disk() {
	export MTOOLS_SKIP_CHECK=1
	windows_made_volume win.part
	xz -dc "$LB_SHARED_DATA/hives/BCD.xz" > BCD
	mkfs.vfat -F 32 -n ESP -C esp.part 40960 >/dev/null
	mmd -i esp.part ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot
	mcopy -i esp.part BCD ::/EFI/Microsoft/Boot/BCD
	local win_mb=$(( ($(stat -c %s win.part) + 1048575) / 1048576 ))
	truncate -s $((1 + 40 + win_mb + 1))M "$1"
	printf 'label: dos\nstart=2048, size=81920, type=ef\nstart=83968, type=7\n' | sfdisk -q "$1"
	dd if=esp.part of="$1" bs=1M seek=1 conv=notrunc,sparse status=none
	dd if=win.part of="$1" bs=1M seek=41 conv=notrunc,sparse status=none
	rm -f esp.part win.part
}
# bcd_safeboot IMG [NAME]: element 25000080 of the default entry in the
# ESP's NAME (default BCD) as hex ("" when absent, "missing" without a file)
bcd_safeboot() {
	rm -f cur.bcd
	mcopy -n -i "$1@@1048576" "::/EFI/Microsoft/Boot/${2:-BCD}" cur.bcd 2>/dev/null || { echo missing; return; }
	hivexget cur.bcd '\Objects\{733b62e5-f608-11eb-825c-c112f60133ab}\Elements\25000080' Element 2>/dev/null |
		od -An -tx1 | tr -d ' \n' || true
}
# bad_file_where IMAGE SHA256 PATH: where is the file with these bytes?
# Prints orig (at PATH, '/'-separated), quarantine (under
# \loopbreaker.quarantine\<stamp>\ or \loopbreaker.quarantine-<stamp>\), both, or lost.
bad_file_where() {
	local img=$1 sha=$2 orig=$3 found=lost
	if ntfscat "$img" "$orig" 2>/dev/null | sha256sum | grep -q "$sha"; then
		found=orig
	fi
	for q in $("$LB" ls "$img" '\' 2>/dev/null | awk '$4 ~ /^loopbreaker\.quarantine/ {print $4}'); do
		for d in $("$LB" ls "$img" "\\$q" 2>/dev/null | awk '{print ($1 == "d" ? "D" : "F") $4}'); do
			local sub=${d:1} files
			if [ "${d:0:1}" = D ]; then
				files=$("$LB" ls "$img" "\\$q\\$sub" 2>/dev/null | awk '{print $4}' | sed "s|^|$q/$sub/|")
			else
				files="$q/$sub"
			fi
			for f in $files; do
				if ntfscat "$img" "$f" 2>/dev/null | sha256sum | grep -q "$sha"; then
					[ $found = orig ] && found=both || found=quarantine
				fi
			done
		done
	done
	echo $found
}

# serve_helpers: for tests that start local servers (127.0.0.1 only).
# Defines PIDS (background servers, killed and reaped on exit), freeport
# (an unused TCP port), stop_servers and wait_port PORT (up to 10 s; fails the test and
# returns 1 if nothing listens by then).
serve_helpers() {
	PIDS=()
	trap stop_servers EXIT
}
stop_servers() { # kills and reaps what was started (also on exit)
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # PORT: up to 10 s
	for _ in $(seq 100); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	fail "server on port $1 did not come up"; return 1
}
