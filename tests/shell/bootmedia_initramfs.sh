#!/usr/bin/env bash
# loopbreaker run INSIDE the built initramfs (chroot into its unpacked
# tree), where several libraries are stubs (bootmedia/stubs: libruby behind
# libdislocker, librtmp/libldap/Kerberos/libssh2/libpsl/libidn2 behind
# libcurl, libxml2 behind libarchive) and libvirt and libnbd are absent:
#   BitLocker  a Windows-made volume unlocked with its recovery password
#              (libdislocker with the Ruby stub): the NTFS inside is found,
#              its hostname read, the bad file seen; a wrong password is
#              refused (dislocker's error paths, which call ruby_snprintf)
#   upload     over http and over https (OpenSSL, a CA given with --ca-file)
#              to local servers: byte-identical at the collector
#   evidence   fix writes a bundle (libarchive; its libxml2 is a stub), undo
#              reads it back
#   refusals   a non-ASCII collector name (libidn2 stub), nbd:// (no
#              libnbd) and --domain (no libvirt) fail with a
#              message, no crash
# Media: $LB_BOOT_MEDIA, else $LB_BUILD/bootmedia, else the boot tests' copy;
# skipped when none is built (bootmedia/build.sh) or without root (chroot).
. "$(dirname "$0")/lib.bash"

M=
for d in "${LB_BOOT_MEDIA:-}" "$LB_BUILD/bootmedia" "$LB_BUILD/tests-work/boot/media"; do
	[ -n "$d" ] && [ -f "$d/initrd.img" ] && { M=$d; break; }
done
[ -n "$M" ] || skip_test "no boot media built (bootmedia/build.sh OUTDIR, then LB_BOOT_MEDIA=OUTDIR)"
[ "$(id -u)" = 0 ] || skip_test "chroot needs root"
for t in zstd cpio chroot openssl mkntfs ntfs-3g cc; do
	command -v $t > /dev/null || skip_test "$t not installed"
done
[ -f "$LB_SHARED_DATA/bitlocker/bitlk-images.tar.xz" ] || skip_test "no BitLocker images in $LB_SHARED_DATA"
[ -e /dev/fuse ] || skip_test "no /dev/fuse (the BitLocker fixture is written through ntfs-3g)"
echo "media: $M"

# the initramfs as the kernel unpacks it (build.sh pads the zstd frame to 4
# bytes with zeros, which zstd -d reports as a bad header after the data)
mkdir ir
{ zstd -dc < "$M/initrd.img" 2> zstd.err || true; } | (cd ir && cpio -id --quiet)
check "initramfs unpacked" test -x ir/usr/bin/loopbreaker
[ -x ir/usr/bin/loopbreaker ] || { cat zstd.err >&2; done_tests; exit 1; }
echo "stubs: $(grep -c '^stub ' "$M/SOURCES.txt" 2>/dev/null || echo '?') (SOURCES.txt)"
inir() { chroot ir /usr/bin/loopbreaker "$@"; } # runs loopbreaker inside the image
mkdir -p ir/work
# /proc as /init mounts it (hivex reads the hive through it); unmounted on
# any exit, with the servers stopped
PIDS=()
cleanup() { stop_servers; if mountpoint -q ir/proc; then umount ir/proc; fi; }
trap cleanup EXIT
mount -t proc proc ir/proc

# --- BitLocker: unlock with the recovery password, find the NTFS ---
bitlocker_volume ir/work/enc.img
# the key goes to a file only, never onto a command line or into output
printf '%s\r\n' 'ComputerName,KeyID,RecoveryKey' "WKS-0001,{$RPID},$RP" > ir/work/keys.csv
rc=0; inir scan --keys /work/keys.csv --json /work/enc.img > scan.json 2> scan.err || rc=$?
eq "scan in the initramfs: exit (bad file found)" "$rc" 1
eq "unlocked: with the recovery password" \
	"$(jget scan.json 'r["targets"][0]["volumes"][0]["bitlocker"]["unlocked_with"]["protector"]')" "{$RPID}"
eq "unlocked: the NTFS inside" "$(jget scan.json 'r["targets"][0]["volumes"][0]["ntfs_version"], r["targets"][0]["volumes"][0]["label"]')" "('3.1', 'BLWIN')"
eq "unlocked: hostname from the registry inside" "$(jget scan.json 'r["hostname"]')" WKS-WIN732BITA
eq "unlocked: the bad file seen" \
	"$(jget scan.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
inir scan --keys /work/keys.csv /work/enc.img > scan-screen.txt 2>&1 || true
check "the screen names the protector used" grep -q "BitLocker: unlocked with protector {$RPID}" scan-screen.txt
printf '%s\n' 'KeyID,RecoveryKey' "{$RPID},$WRONG" > ir/work/wrong.csv
rc=0; inir scan --keys /work/wrong.csv --json /work/enc.img > wrong.json 2> wrong.err || rc=$?
eq "wrong password in the initramfs: needs attention" "$rc" 1
check "wrong password reported" grep -q 'wrong recovery password' wrong.json
# evidence bundles through libarchive, whose libxml2 (XAR only) is a stub
# in the image: written by fix, read back by undo
rc=0; inir fix --keys /work/keys.csv --evidence /work/ev.tar.zst --json /work/enc.img > fix.json 2> fix.err || rc=$?
eq "fix in the initramfs: exit" "$rc" 0
eq "fix in the initramfs: status" "$(jget fix.json 'r["status"]')" fixed
check "its evidence bundle holds the bad file" bash -c "tar --zstd -tf ir/work/ev.tar.zst | grep -q 'C-00000291'"
rc=0; inir undo --keys /work/keys.csv --json /work/ev.tar.zst /work/enc.img > undo.json 2> undo.err || rc=$?
eq "undo in the initramfs (reads the bundle): exit" "$rc" 0
rc=0; inir scan --keys /work/keys.csv --json /work/enc.img > rescan.json 2> /dev/null || rc=$?
eq "after undo the bad file is back (scan exit)" "$rc" 1
check "no key in any output" bash -c "! grep -q '$RP\|$WRONG' scan.json scan.err scan-screen.txt wrong.json wrong.err fix.json fix.err undo.json undo.err"
rm -f ir/work/enc.img ir/work/keys.csv ir/work/wrong.csv
# dislocker's C code calls snprintf/vsnprintf as ruby_snprintf/ruby_vsnprintf
# (ruby.h redirects them), mostly for messages a quiet unlock does not show:
# the stub's must format as libc does, checked through libdislocker itself
cat > rbsn.c <<'C'
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
static int (*sn)(char *, size_t, const char *, ...);
static int (*vsn)(char *, size_t, const char *, va_list);
static int viaV(char *b, size_t n, const char *f, ...)
{ va_list ap; va_start(ap, f); int r = vsn(b, n, f, ap); va_end(ap); return r; }
int main(void)
{
	void *h = dlopen("libdislocker.so.0.7", RTLD_NOW);
	char b[64], t[4];
	if (!h || !(sn = dlsym(h, "ruby_snprintf")) || !(vsn = dlsym(h, "ruby_vsnprintf")))
		return 2;
	int r1 = sn(b, sizeof b, "%s %02hhx %d %lu", "vmk", 0xab, -3, 7ul);
	int r2 = sn(t, sizeof t, "%s", "abcdef");
	printf("%d [%s] %d [%s]", r1, b, r2, t);
	int r3 = viaV(b, sizeof b, "%c%5.2f", 'x', 1.5);
	printf(" %d [%s]\n", r3, b);
	return 0;
}
C
if cc -o ir/work/rbsn rbsn.c 2> rbsn.err; then
	eq "ruby_snprintf/ruby_vsnprintf in the initramfs format as libc" \
		"$(chroot ir /work/rbsn 2>&1)" "11 [vmk ab -3 7] 6 [abc] 6 [x 1.50]"
else
	fail "cannot build the snprintf check: $(cat rbsn.err)"
fi

# --- upload over http and https from inside the image ---
cat > put.py <<'PY'
import http.server, os, ssl, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out, os.path.basename(self.path)), "wb") as f:
            f.write(body)
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 3:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[3], sys.argv[4])
    s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt 2> /dev/null
cp tls.crt ir/work/ca.pem
head -c 200000 /dev/urandom > ir/work/evidence.bin
mkdir -p got-http got-https
HP=$(freeport); python3 put.py "$HP" got-http & PIDS+=($!)
SP=$(freeport); python3 put.py "$SP" got-https tls.crt tls.key & PIDS+=($!)
wait_port "$HP"; wait_port "$SP"
rc=0; timeout 60 chroot ir /usr/bin/loopbreaker upload --url "http://127.0.0.1:$HP/{file}" \
	--json /work/evidence.bin > up-http.json 2> up-http.err || rc=$?
eq "upload over http: exit" "$rc" 0
check "http: arrived byte-identical" cmp ir/work/evidence.bin got-http/evidence.bin
rc=0; timeout 60 chroot ir /usr/bin/loopbreaker upload --url "https://127.0.0.1:$SP/{file}" \
	--ca-file /work/ca.pem --json /work/evidence.bin > up-https.json 2> up-https.err || rc=$?
eq "upload over https: exit" "$rc" 0
eq "https: status" "$(jget up-https.json 'r["status"]' 2>/dev/null)" sent
check "https: arrived byte-identical" cmp ir/work/evidence.bin got-https/evidence.bin
# certificate checking is real: without the CA the same upload is refused
rc=0; timeout 60 chroot ir /usr/bin/loopbreaker upload -q --url "https://127.0.0.1:$SP/x-{file}" \
	--retries 1 /work/evidence.bin > /dev/null 2> up-noca.err || rc=$?
eq "https without the CA: not sent (exit 3)" "$rc" 3
check "https without the CA: nothing arrived" test ! -e got-https/x-evidence.bin
stop_servers

# --- what the stubs refuse, they refuse cleanly (an exit code, a message) ---
rc=0; timeout 60 chroot ir /usr/bin/loopbreaker upload -q --url "http://b$(printf '\xc3\xbc')cher.invalid/{file}" \
	--retries 1 /work/evidence.bin > /dev/null 2> up-idn.err || rc=$?
eq "non-ASCII collector name: not sent (exit 3)" "$rc" 3
# curl's URL error, where the real libidn2 would have converted the name and
# the lookup of xn--bcher-kva.invalid would have failed instead
check "non-ASCII collector name: says why" grep -q 'bad/illegal format' up-idn.err
# VM images and NBD exports (libnbd) are left out of the image
# (build.sh LB_BOOT_SKIP): an nbd:// target names the missing package
rc=0; inir scan "nbd://127.0.0.1:1/" > nbd.out 2>&1 || rc=$?
eq "nbd:// in the boot image: refused (exit 3)" "$rc" 3
check "nbd:// refusal names libnbd" grep -q 'libnbd.so.0 (Debian package libnbd0)' nbd.out
stop_servers
rc=0; inir scan --domain win > domain.out 2>&1 || rc=$?
check "--domain without libvirt: refused, exit 3 (a missing optional library) ($rc)" test "$rc" = 3
check "--domain says libvirt is missing" grep -q 'libvirt' domain.out

cleanup
done_tests
