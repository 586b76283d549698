#!/usr/bin/env bash
# Start-up: the optional libraries are dlopen()ed when a run needs them,
# never linked (docs/performance.md, "Start-up"; recover/util/lb_dlopen.h):
#   * the binary's ELF .note.dlopen names them all (libdislocker, libarchive,
#     libcurl, libnbd, libvirt, libxml2) and neither DT_NEEDED nor ldd lists
#     them;
#   * `version` and a scan of a plain disk load none of them; fix --evidence
#     and undo load libarchive, upload libcurl, a qcow2 image libnbd
#     (LD_DEBUG=files);
#   * without one of them (loopbreaker-test, LB_TEST_DLOPEN_MISSING) the run
#     that needs it fails with one line naming the soname and the Debian
#     package, before anything is written.
# No timings here (tests never time): bench/startup.sh measures.
. "$(dirname "$0")/lib.bash"

command -v qemu-img > /dev/null || fail "qemu-img missing (qemu-utils, scripts/packages/core.txt)"
DIS=$(sed -n 's/^LB_DISLOCKER_SONAME:[A-Z]*=//p' "$LB_BUILD/CMakeCache.txt")
[ -n "$DIS" ] || DIS=libdislocker.so.0.7
MISSING="libloopbreaker-test-missing.so.0: cannot open shared object file: No such file or directory"

# ---- the note, and not linked ----
notes=$(python3 "$LB_SOURCE/tests/support/dlopen_notes.py" "$LB") || fail "parsing .note.dlopen"
eq "ELF .note.dlopen" "$notes" "FDO 0x407c0c0a bitlocker recommended $DIS
FDO 0x407c0c0a evidence recommended libarchive.so.13
FDO 0x407c0c0a libvirt suggested libvirt.so.0
FDO 0x407c0c0a libvirt-xml suggested libxml2.so.2
FDO 0x407c0c0a upload recommended libcurl.so.4
FDO 0x407c0c0a vm-images recommended libnbd.so.0"
ldd "$LB" > ldd.out || fail "ldd $LB"
for lib in libdislocker libarchive libcurl libnbd libvirt libxml2; do
	check "ldd does not list $lib" bash -c "! grep -q '$lib' ldd.out"
	check "no DT_NEEDED $lib" bash -c "! readelf -d '$LB' | grep NEEDED | grep -q '$lib'"
done

# ---- what each run loads ----
# loaded LOG SONAME: how many times SONAME was dlopen()ed ("file=libcurl.so.4 [0];
# dynamically loaded by ...")
loaded() { grep -c "file=[^ ]*$2 \[[0-9]*\];  dynamically loaded by" "$1" || true; }
rc=0; LD_DEBUG=files "$LB" version > /dev/null 2> ld-version.log || rc=$?
eq "version: exit" "$rc" 0
eq "version: nothing dlopen()ed" "$(grep -c 'dynamically loaded by' ld-version.log || true)" 0

small_windows_volume plain.img
cp --sparse=always plain.img fix.img
rc=0; LD_DEBUG=files "$LB" scan --json plain.img > scan.json 2> ld-scan.log || rc=$?
eq "scan: exit (a bad file)" "$rc" 1
for so in "$DIS" libarchive.so.13 libcurl.so.4 libnbd.so.0; do
	eq "scan of a plain disk: $so not loaded" "$(loaded ld-scan.log "$so")" 0
done
rc=0; LD_DEBUG=files "$LB" fix --evidence ev.tar.zst --json fix.img > fix.json 2> ld-fix.log || rc=$?
eq "fix --evidence: exit" "$rc" 0
eq "fix --evidence: libarchive loaded once" "$(loaded ld-fix.log libarchive.so.13)" 1
eq "fix --evidence: libcurl not loaded" "$(loaded ld-fix.log libcurl.so.4)" 0
rc=0; LD_DEBUG=files "$LB" undo --json ev.tar.zst fix.img > undo.json 2> ld-undo.log || rc=$?
eq "undo: exit" "$rc" 0
eq "undo: libarchive loaded once" "$(loaded ld-undo.log libarchive.so.13)" 1
eq "undo: restored" "$(jget undo.json 'r["restored"]')" 1
PORT=$(freeport)
rc=0; LD_DEBUG=files timeout 60 "$LB" upload -q --url "http://127.0.0.1:$PORT/{file}" --retries 1 \
	fix.json 2> ld-upload.log || rc=$?
eq "upload to a closed port: exit" "$rc" 3
eq "upload: libcurl loaded once" "$(loaded ld-upload.log libcurl.so.4)" 1
qemu-img create -q -f qcow2 blank.qcow2 64M
rc=0; LD_DEBUG=files "$LB" scan --json blank.qcow2 > qcow.json 2> ld-qcow.log || rc=$?
eq "scan of a blank qcow2: exit (nothing found)" "$rc" 1
eq "scan of a qcow2: libnbd loaded once" "$(loaded ld-qcow.log libnbd.so.0)" 1

# ---- without the library: one line, nothing written ----
cp --sparse=always plain.img m.img
before=$(sha256sum < m.img)
rc=0; LB_TEST_DLOPEN_MISSING=libarchive.so.13 "$LBT" fix --evidence m.tar.zst m.img > m.out 2>&1 || rc=$?
eq "no libarchive: fix --evidence exit" "$rc" 3
eq "no libarchive: the line" "$(grep -o '! evidence bundle could not be written.*' m.out)" \
	"! evidence bundle could not be written, nothing was changed: an evidence bundle needs libarchive.so.13 (Debian package libarchive13): $MISSING"
eq "no libarchive: target untouched" "$(sha256sum < m.img)" "$before"
check "no libarchive: no bundle, no partial file" bash -c "! ls m.tar.zst* 2>/dev/null | grep -q ."
rc=0; LB_TEST_DLOPEN_MISSING=libarchive.so.13 "$LBT" undo ev.tar.zst fix.img > mu.out 2>&1 || rc=$?
eq "no libarchive: undo exit" "$rc" 3
eq "no libarchive: undo line" "$(grep -o '! ev.tar.zst: .*' mu.out)" \
	"! ev.tar.zst: an evidence bundle needs libarchive.so.13 (Debian package libarchive13): $MISSING"
rc=0; LB_TEST_DLOPEN_MISSING=libcurl.so.4 "$LBT" upload --url "http://127.0.0.1:$PORT/{file}" \
	fix.json > mc.out 2> mc.err || rc=$?
eq "no libcurl: upload exit" "$rc" 3
eq "no libcurl: the line" "$(cat mc.err)" \
	"loopbreaker upload: uploading needs libcurl.so.4 (Debian package libcurl4): $MISSING"
rc=0; LB_TEST_DLOPEN_MISSING=libnbd.so.0 "$LBT" scan blank.qcow2 > mn.out 2>&1 || rc=$?
eq "no libnbd: scan of a qcow2 exit" "$rc" 3
eq "no libnbd: the line" "$(grep -o 'blank.qcow2: ERROR: .*' mn.out)" \
	"blank.qcow2: ERROR: opening VM disk images and NBD exports needs libnbd.so.0 (Debian package libnbd0): $MISSING"
rc=0; LB_TEST_DLOPEN_MISSING=libarchive.so.13 "$LB" fix --evidence s.tar.zst m.img > /dev/null 2>&1 || rc=$?
eq "the shipped binary has no such hook" "$rc" 0

done_tests
