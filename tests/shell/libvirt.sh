#!/usr/bin/env bash
# --domain through a real libvirtd that this test starts: a private session
# daemon (as nobody when run as root, with its own runtime, config and
# cache directories and socket, so it never meets a system libvirtd), and
# stopped at the end.  A domain that is defined, not started, with a qcow2
# disk (a broken fixture converted with qemu-img), a raw one, and a cdrom,
# a read-only and a shareable disk (skipped, and said): fix --domain
# quarantines both bad files, the report names the domain on each target,
# in its "domains" and in each machine's report; a scan of each image after
# finds nothing; undo restores them.  Refused: a running domain (a tiny one
# started under TCG), a domain whose driver type is not what the disk is
# (both named), a domain that does not exist, a libvirt that cannot be
# reached.
. "$(dirname "$0")/lib.bash"

for t in libvirtd virsh qemu-img; do
	command -v $t > /dev/null || skip_test "$t not installed (Debian packages libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients, qemu-utils)"
done
emu=$(command -v qemu-system-x86_64) || skip_test "qemu-system-x86_64 not installed (qemu-system-x86)"

# ---- a private libvirtd ----
LVD=$(mktemp -d /tmp/lb-libvirt.XXXXXX)
mkdir -p "$LVD"/{run,cfg,cache,home}
as=()
if [ "$(id -u)" = 0 ]; then
	chown -R nobody:nogroup "$LVD"
	as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
chmod 755 "$LVD"
lvd_pid=
stop_libvirtd() {
	virsh -q -c "$URI" destroy lbrun > /dev/null 2>&1 || true
	if [ -n "$lvd_pid" ]; then
		kill "$lvd_pid" 2> /dev/null || true
		for _ in $(seq 50); do kill -0 "$lvd_pid" 2> /dev/null || break; sleep 0.1; done
	fi
	rm -rf "$LVD"
}
trap stop_libvirtd EXIT
URI="qemu+unix:///session?socket=$LVD/run/libvirt/libvirt-sock"
"${as[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$LVD/home" \
	XDG_RUNTIME_DIR="$LVD/run" XDG_CONFIG_HOME="$LVD/cfg" XDG_CACHE_HOME="$LVD/cache" \
	libvirtd --daemon --pid-file="$LVD/run/libvirtd.pid" > libvirtd.out 2>&1 ||
	skip_test "libvirtd cannot start here: $(tail -1 libvirtd.out)"
for _ in $(seq 100); do
	[ -S "$LVD/run/libvirt/libvirt-sock" ] && [ -s "$LVD/run/libvirtd.pid" ] && break
	sleep 0.1
done
lvd_pid=$(cat "$LVD/run/libvirtd.pid" 2> /dev/null || true)
virsh -q -c "$URI" list --all > /dev/null 2>&1 || skip_test "the private libvirtd does not answer"
vsh() { virsh -q -c "$URI" "$@"; }

# ---- two broken disks ----
broken_disk vm1.img WKS-VIRT-01
broken_disk vm2.raw WKS-VIRT-02
qemu-img convert -O qcow2 vm1.img vm1.qcow2
rm -f vm1.img
truncate -s 1M spare.raw
has_bad() { "$LB" ls "$1" '\Windows\System32\drivers\CrowdStrike' 2> /dev/null | grep -q C-00000291; }
no_bad() { ! has_bad "$1"; }
quarantined() { "$LB" ls "$1" '\loopbreaker.quarantine' 2> /dev/null | grep -q '^d'; }

disk() { # TYPE DEVICE FORMAT SOURCE-ATTR=PATH TARGET [EXTRA]  (vdX: virtio, else sata)
	local bus=sata
	case $5 in vd*) bus=virtio ;; esac
	echo "<disk type='$1' device='$2'><driver name='qemu' type='$3'/><source $4/><target dev='$5' bus='$bus'/>${6:-}</disk>"
}
domain() { # NAME DISKS...
	local name=$1; shift
	cat <<XML
<domain type='qemu'><name>$name</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>$emu</emulator>$*</devices></domain>
XML
}
domain lbvm "$(disk file disk qcow2 "file='$WORK/vm1.qcow2'" sda)" \
	"$(disk file disk raw "file='$WORK/vm2.raw'" sdb)" \
	"<disk type='file' device='cdrom'><target dev='sdc' bus='sata'/><readonly/></disk>" \
	"$(disk file disk raw "file='$WORK/spare.raw'" vdd '<readonly/>')" \
	"$(disk file disk raw "file='$WORK/spare.raw'" sde '<shareable/>')" > lbvm.xml
domain lbwrong "$(disk file disk raw "file='$WORK/vm1.qcow2'" sda)" > lbwrong.xml
cp spare.raw "$LVD/run.raw"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$LVD/run.raw"
domain lbrun "$(disk file disk raw "file='$LVD/run.raw'" sda)" > lbrun.xml
for d in lbvm lbwrong lbrun; do
	vsh define $d.xml > /dev/null || fail "virsh define $d"
done
eq "lbvm is defined, shut off" "$(vsh domstate lbvm)" "shut off"

# ---- refusals: nothing is opened ----
run 2 fix --libvirt "$URI" --domain no-such-vm
check "no such domain: said" grep -q 'domain no-such-vm: no such domain' last.err
run 2 scan --libvirt "qemu+unix:///session?socket=$LVD/none" --domain lbvm
check "no libvirt: said" grep -q "libvirt qemu+unix.*none" last.err
if vsh start lbrun > start.out 2>&1; then
	run 1 fix --libvirt "$URI" --domain lbrun
	check "running domain refused" grep -q 'domain lbrun is running: shut it down first' last.err
	vsh destroy lbrun > /dev/null
else
	fail "a TCG domain could not be started: $(cat start.out)"
fi
run 1 fix --libvirt "$URI" --domain lbwrong --evidence ev-wrong.tar.zst
jget last.json 'r["targets"][0]["error"]' > mismatch.txt
check "driver type disagrees: both named" grep -q 'domain lbwrong disk sda: .*vm1.qcow2: the domain says raw, the content is qcow2: refused' mismatch.txt
eq "mismatch: domain named on the target" "$(jget last.json 'r["targets"][0]["domain"]')" lbwrong
check "mismatch: nothing written (bad file still there)" has_bad vm1.qcow2

# ---- the fix ----
run 0 fix --libvirt "$URI" --domain lbvm --evidence ev.tar.zst --report r.json
eq "status" "$(jget last.json 'r["status"]')" fixed
eq "both disks, domain named" "$(jget last.json '[(t["path"].split("/")[-1], t["domain"], t["libvirt"]["disk"], t["format"]) for t in r["targets"]]')" \
	"[('vm1.qcow2', 'lbvm', 'sda', 'qcow2'), ('vm2.raw', 'lbvm', 'sdb', 'raw')]"
eq "three disks skipped" "$(jget last.json 'len(r["domains"][0]["skipped"])')" 3
check "cdrom skip said on stderr" grep -q 'domain lbvm disk sdc: a cdrom: skipped' last.err
check "read-only skip said" grep -q 'disk vdd: read-only: skipped' last.err
check "shareable skip said" grep -q 'disk sde: shareable' last.err
for m in r.1-WKS-VIRT-01.json r.2-WKS-VIRT-02.json; do
	eq "$m: machine report names the domain" "$(jget "$m" 'r["targets"][0]["domain"]')" lbvm
done
for img in vm1.qcow2 vm2.raw; do
	check "$img: bad file gone" no_bad "$img"
	check "$img: quarantine folder" quarantined "$img"
	run 0 scan "$img"
	eq "$img: scan afterwards" "$(jget last.json 'r["status"]')" clean
done
run 0 fix --libvirt "$URI" --domain lbvm
eq "second fix: nothing to do" "$(jget last.json 'r["status"]')" clean

# ---- batch over a domain ----
run 0 scan --libvirt "$URI" --domain lbvm --jobs 2 --report-dir batch
eq "batch names the domain" "$(jget last.json '[d["domain"] for d in r["disks"]]')" "['lbvm', 'lbvm']"

# ---- undo (targets from the bundle) ----
run 0 undo ev.tar.zst
for img in vm1.qcow2 vm2.raw; do
	check "$img: undo restores the bad file" has_bad "$img"
done
for d in lbvm lbwrong lbrun; do vsh undefine $d > /dev/null || fail "undefine $d"; done
done_tests
