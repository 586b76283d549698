#!/usr/bin/env bash
# VM disk images fixed in place through a private qemu-nbd (libnbd): one
# broken GPT disk (scripts/mkimage.py) converted to qcow2, qcow2 over a
# backing file, vhdx, vmdk, vdi, dynamic vpc, qed and parallels.  Each: fix
# in place (report format = QEMU's name), converted back to raw the bad file
# is gone and the other channel file byte-identical, qemu-img check clean
# where the format has a check, undo restores the bad file.  The backing
# base keeps its bytes and mtime; a qcow2 internal snapshot survives; an
# image a QEMU holds is refused; an nbd:// export (qemu-nbd on 127.0.0.1)
# and an nbd+unix:// one are fixed and undone.
. "$(dirname "$0")/lib.bash"

for t in qemu-img qemu-nbd; do
	command -v $t > /dev/null || skip_test "$t not installed (Debian package qemu-utils)"
done
serve_helpers

bad='\Windows\System32\drivers\CrowdStrike\C-00000291-00000000-00000032.sys'
other='Windows/System32/drivers/CrowdStrike/C-00000290-00000000-00000032.sys'
cat > vm.spec <<'EOF'
table gpt
ntfs size=40M label=Windows
install \Windows hostname=WKS-VM-01
channel C-00000291-00000000-00000032.sys mtime=2024-07-19T04:09:00Z
channel C-00000290-00000000-00000032.sys mtime=2024-07-19T04:09:00Z content=channel:290
EOF
LB_BUILD=$LB_BUILD python3 "$LB_SOURCE/scripts/mkimage.py" vm.spec vm.img > /dev/null
P='r["partitions"][0]'
other_sha=$(jget vm.img.json "[f['sha256'] for f in $P['files'] if f['path'].endswith('C-00000290-00000000-00000032.sys')][0]")
part_off=$(jget vm.img.json "$P['offset']")
part_size=$(jget vm.img.json "$P['size']")

# has IMAGE (raw or a URI) the bad file?  (loopbreaker ls of the directory)
has_bad() { "$LB" ls "$1" '\Windows\System32\drivers\CrowdStrike' 2>/dev/null | grep -q 'C-00000291'; }
no_bad() { ! has_bad "$1"; }
# sha256 of the 290 channel file of raw IMAGE (ntfs-3g's ntfscat on the partition)
other_of() {
	dd if="$1" of="$1.part" bs=1M iflag=skip_bytes,count_bytes skip="$part_off" \
		count="$part_size" conv=sparse status=none
	ntfscat "$1.part" "$other" | sha256sum | cut -d' ' -f1
	rm -f "$1.part"
}
# fixed FMT IMAGE: checks after a fix of IMAGE (format FMT)
fixed() {
	local fmt=$1 img=$2 rc=0
	eq "$img: format in the report" "$(jget last.json 'r["targets"][0]["format"]')" "$fmt"
	eq "$img: status" "$(jget last.json 'r["status"]')" fixed
	qemu-img convert -O raw "$img" back.raw
	check "$img: bad file gone (raw copy)" no_bad back.raw
	eq "$img: other file byte-identical" "$(other_of back.raw)" "$other_sha"
	qemu-img check "$img" > check.out 2>&1 || rc=$?
	if grep -q 'does not support checks' check.out; then :; else eq "$img: qemu-img check" "$rc" 0; fi
	rm -f back.raw
}

for fmt in qcow2 vhdx vmdk vdi vpc qed parallels; do
	img=vm.$fmt
	qemu-img convert -O "$fmt" vm.img "$img" || { fail "qemu-img convert -O $fmt"; continue; }
	run 1 scan "$img"
	eq "$img: scan finds it" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["action"]')" would_quarantine
	run 0 fix --evidence "ev-$fmt.tar.zst" "$img"
	fixed "$fmt" "$img"
	run 0 undo "ev-$fmt.tar.zst" "$img"
	qemu-img convert -O raw "$img" back.raw
	check "$img: undo restores the bad file" has_bad back.raw
	rm -f back.raw
	[ "$fmt" = qcow2 ] || rm -f "$img"
done

# qcow2 over a backing file: only the overlay is written
qemu-img convert -O qcow2 vm.img base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
base_before=$(sha256sum < base.qcow2; stat -c %Y.%y base.qcow2)
run 0 fix --evidence ev-top.tar.zst top.qcow2
fixed qcow2 top.qcow2
eq "backing base unchanged (bytes, mtime)" "$(sha256sum < base.qcow2; stat -c %Y.%y base.qcow2)" "$base_before"
run 1 scan base.qcow2
run 0 undo ev-top.tar.zst top.qcow2

# an internal snapshot is left as it is
qemu-img convert -O qcow2 vm.img snap.qcow2
qemu-img snapshot -c before-fix snap.qcow2
run 0 fix --evidence ev-snap.tar.zst snap.qcow2
check "snapshot kept" bash -c "qemu-img snapshot -l snap.qcow2 | grep -q before-fix"
eq "snapshot listed in the report" "$(jget last.json '[s["name"] for s in r["targets"][0]["snapshots"]]')" "['before-fix']"
qemu-img convert -l snapshot.name=before-fix -O raw snap.qcow2 snap.raw
check "snapshot still holds the bad file" has_bad snap.raw
rm -f snap.raw

# an image a QEMU has open for writing is refused (its fcntl lock), our
# flock does not stop QEMU (the fixes above ran with it held)
qemu-nbd -t -f qcow2 -k "$WORK/held.sock" vm.qcow2 & PIDS+=($!)
for _ in $(seq 50); do [ -S held.sock ] && break; sleep 0.1; done
run 1 fix --evidence ev-held.tar.zst vm.qcow2
check "held image: refusal names the holder" grep -q 'in use' last.json
check "held image: no bundle" test ! -e ev-held.tar.zst
stop_servers

# nbd:// served by qemu-nbd on 127.0.0.1 (persistent: one connection per phase)
cp --sparse=always vm.img served.img
port=$(freeport)
qemu-nbd -t -f raw -b 127.0.0.1 -p "$port" served.img & PIDS+=($!)
if wait_port "$port"; then
	run 0 fix --evidence ev-nbd.tar.zst "nbd://127.0.0.1:$port/"
	eq "nbd: type" "$(jget last.json 'r["targets"][0]["type"]')" nbd
	eq "nbd: format" "$(jget last.json 'r["targets"][0]["format"]')" nbd
	check "nbd: bad file gone" no_bad "nbd://127.0.0.1:$port/"
	run 0 undo ev-nbd.tar.zst "nbd://127.0.0.1:$port/"
	check "nbd: undo restores" has_bad "nbd://127.0.0.1:$port/"
fi
stop_servers
# nbd+unix:// with a socket
qemu-nbd -t -f raw -k "$WORK/u.sock" served.img & PIDS+=($!)
for _ in $(seq 50); do [ -S u.sock ] && break; sleep 0.1; done
run 0 fix --evidence ev-unix.tar.zst "nbd+unix:///?socket=$WORK/u.sock"
eq "nbd+unix: status" "$(jget last.json 'r["status"]')" fixed
stop_servers
check "served image: bad file gone" no_bad served.img
eq "served image: other file byte-identical" "$(other_of served.img)" "$other_sha"

done_tests
