#!/usr/bin/env bash
# Evidence bundles in every format, on a plain and on a BitLocker volume,
# and libdislocker loaded only when a volume is unlocked:
#   * fix --evidence x.tar.gz / .tgz / .zip / .tar.xz / .tar on a plain
#     partition and (with --keys) inside a BitLocker volume: exit 0, the
#     bundle lists with bsdtar, undo from it puts the file back.  The gzip
#     and zip writers call zlib's crc32(); libdislocker exports a crc32() of
#     its own, and while it was linked it took zlib's place (exit 139).
#   * the binary carries the ELF .note.dlopen for libdislocker
#     (https://systemd.io/ELF_DLOPEN_METADATA/), and does not link it
#     (the other dlopen()ed libraries: tests/shell/startup.sh);
#   * scan of a plain disk (even with --keys) does not load libdislocker,
#     unlocking a BitLocker volume does (LD_DEBUG=files);
#   * a machine without libdislocker (loopbreaker-test with
#     LB_TEST_DLOPEN_MISSING) still scans plain disks, and gets a one-line
#     error naming the soname and the Debian package for a BitLocker volume;
#   * a name with any other suffix (ev.rar, ev) is a one-line usage error,
#     exit 2, before anything is written.
# The ASan build loads libdislocker in a link-map namespace of its own
# (dlmopen) instead of RTLD_DEEPBIND, which the sanitizer runtime refuses;
# the same checks run there and test that path.
. "$(dirname "$0")/lib.bash"

command -v bsdtar > /dev/null || skip_test "bsdtar not installed (libarchive-tools)"
SONAME=$(sed -n 's/^LB_DISLOCKER_SONAME:[A-Z]*=//p' "$LB_BUILD/CMakeCache.txt")
[ -n "$SONAME" ] || SONAME=libdislocker.so.0.7
BAD='Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys'
RP=235818-357951-253979-013365-241120-245575-342914-591910
RPID=64311DEA-4587-4029-924A-BA299647998E
FORMATS="tar.gz tgz zip tar.xz tar"

# ---- the ELF note, and no DT_NEEDED ----
note=$(python3 "$LB_SOURCE/tests/support/dlopen_notes.py" "$LB" | grep ' bitlocker ') ||
	fail "parsing .note.dlopen"
eq "ELF .note.dlopen" "$note" "FDO 0x407c0c0a bitlocker recommended $SONAME"
check "readelf -n shows the note" bash -c "readelf -n '$LB' | grep -A3 'FDO' | grep -q '0x407c0c0a\|Unknown note type'"
check "loopbreaker does not link libdislocker" bash -c "! readelf -d '$LB' | grep NEEDED | grep -q dislocker"

# ---- the volumes ----
bitlocker_volume enc.img
small_windows_volume plain.img
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$RP" > keys.csv
orig_sha=$(ntfscat plain.img "$BAD" | sha256sum | cut -d' ' -f1)
bl_sha=$(sha256sum < bad.sys | cut -d' ' -f1)

# the bytes of the bad file inside a BitLocker image, or "gone"
bl_file_sha() {
	rm -f dec.img
	"$LB_BUILD/lb-blwrite" dump "$1" "$RP" dec.img || { echo dump-failed; return; }
	truncate -s 32M dec.img
	{ ntfscat dec.img "$BAD" 2>/dev/null || echo gone; } | sha256sum | cut -d' ' -f1
}
gone_sha=$(echo gone | sha256sum | cut -d' ' -f1)

# ---- a name whose suffix is no format we write: one usage line, exit 2,
# nothing written (it used to write a tar.zst under any other name)
cp --sparse=always plain.img u.img
u_before=$(sha256sum < u.img)
for bad in ev.rar ev.7z ev ev.tar.bz2 ev.zst; do
	run 2 fix --evidence $bad u.img
	eq "--evidence $bad: the usage line" "$(cat last.err)" \
		"loopbreaker fix: --evidence $bad: unknown bundle type; the name must end in .tar.zst, .tar.xz, .tar.gz, .tgz, .tar or .zip"
	check "--evidence $bad: no bundle, no partial file" bash -c "! ls $bad $bad.partial-* 2>/dev/null | grep -q ."
	check "--evidence $bad: no report" bash -c "[ ! -s last.json ]"
done
eq "unknown suffix: target untouched" "$(sha256sum < u.img)" "$u_before"
run 0 fix --evidence EV.TAR.ZST u.img
check "suffix case-insensitive: EV.TAR.ZST is a zstd tar" bash -c "zstd -dc EV.TAR.ZST | tar -t | grep -qx manifest.json"
rm -f u.img

for f in $FORMATS; do
	# plain partition
	cp --sparse=always plain.img p-$f.img
	run 0 fix --evidence ev-plain.$f p-$f.img
	eq "plain $f: fixed" "$(jget last.json 'r["status"]')" fixed
	check "plain $f: bsdtar lists the manifest" bash -c "bsdtar -tf ev-plain.$f | grep -qx manifest.json"
	check "plain $f: bsdtar lists the file" bash -c "bsdtar -tf ev-plain.$f | grep -q '^files/001/'"
	check "plain $f: file moved" bash -c "! ntfscat p-$f.img '$BAD' >/dev/null 2>&1"
	run 0 undo ev-plain.$f p-$f.img
	eq "plain $f: undo restored" "$(jget last.json 'r["restored"]')" 1
	eq "plain $f: bytes back" "$(ntfscat p-$f.img "$BAD" | sha256sum | cut -d' ' -f1)" "$orig_sha"

	# inside BitLocker
	cp --sparse=always enc.img b-$f.img
	run 0 fix --keys keys.csv --evidence ev-bl.$f b-$f.img
	eq "bitlocker $f: fixed" "$(jget last.json 'r["status"]')" fixed
	check "bitlocker $f: bsdtar lists the manifest" bash -c "bsdtar -tf ev-bl.$f | grep -qx manifest.json"
	check "bitlocker $f: bsdtar lists the file" bash -c "bsdtar -tf ev-bl.$f | grep -q '^files/001/'"
	eq "bitlocker $f: file moved" "$(bl_file_sha b-$f.img)" "$gone_sha"
	run 0 undo --keys keys.csv ev-bl.$f b-$f.img
	eq "bitlocker $f: undo restored" "$(jget last.json 'r["restored"]')" 1
	eq "bitlocker $f: bytes back" "$(bl_file_sha b-$f.img)" "$bl_sha"
	rm -f p-$f.img b-$f.img dec.img
done

# ---- libdislocker is loaded only to unlock ----
# LD_DEBUG=files: "file=libdislocker.so.0.7 [0];  dynamically loaded by …"
# ([1] for the ASan build's own namespace)
loaded() { grep -c "file=[^ ]*$SONAME \[[0-9]*\];  dynamically loaded by" "$1" || true; }
rc=0; LD_DEBUG=files "$LB" scan --json plain.img > last.json 2> ld-plain.log || rc=$?
eq "scan of a plain disk: exit" "$rc" 1
eq "scan of a plain disk: libdislocker not loaded" "$(loaded ld-plain.log)" 0
rc=0; LD_DEBUG=files "$LB" scan --keys keys.csv --json plain.img > last.json 2> ld-plainkeys.log || rc=$?
eq "scan --keys of a plain disk: libdislocker not loaded" "$(loaded ld-plainkeys.log)" 0
rc=0; LD_DEBUG=files "$LB" scan --json enc.img > last.json 2> ld-locked.log || rc=$?
eq "scan of a BitLocker disk without keys: not loaded" "$(loaded ld-locked.log)" 0
rc=0; LD_DEBUG=files "$LB" scan --keys keys.csv --json enc.img > last.json 2> ld-bl.log || rc=$?
eq "scan --keys of a BitLocker disk: exit" "$rc" 1
eq "scan --keys of a BitLocker disk: libdislocker loaded once" "$(loaded ld-bl.log)" 1
eq "scan --keys of a BitLocker disk: bad file seen" \
	"$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad

# ---- without libdislocker ----
rc=0; LB_TEST_DLOPEN_MISSING=$SONAME "$LBT" scan --json plain.img > last.json 2> last.err || rc=$?
eq "no libdislocker: plain scan exit" "$rc" 1
eq "no libdislocker: plain scan verdict" \
	"$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
rc=0; LB_TEST_DLOPEN_MISSING=$SONAME "$LBT" scan --keys keys.csv --json enc.img > last.json 2> last.err || rc=$?
eq "no libdislocker: BitLocker scan exit" "$rc" 3
want="BitLocker unlocking needs $SONAME (Debian package libdislocker0.7): libloopbreaker-test-missing.so.0: cannot open shared object file: No such file or directory"
check "no libdislocker: the report says what is missing" grep -qF "$want" last.json
rc=0; LB_TEST_DLOPEN_MISSING=$SONAME "$LBT" scan --keys keys.csv enc.img > human.out 2>&1 || rc=$?
eq "no libdislocker: one line on the screen" "$(grep -c 'libdislocker' human.out)" 1
eq "no libdislocker: the line" "$(grep -o 'BitLocker unlocking needs.*' human.out)" "$want"
rc=0; LB_TEST_DLOPEN_MISSING=$SONAME "$LB" scan --keys keys.csv --json enc.img > last.json 2> last.err || rc=$?
eq "the shipped binary has no such hook" "$rc" 1

done_tests
