#!/usr/bin/env bash
# Batch repair of VM disk images: 16 images fixed with --jobs 2, one report
# and one evidence bundle each plus a summary; every image verified.
. "$(dirname "$0")/lib.bash"

small_windows_volume base.img
sha=$(ntfscat base.img Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys | sha256sum | cut -d' ' -f1)
mkdir -p disks
for i in $(seq -w 1 16); do cp --sparse=always base.img disks/vm$i.img; done
# one of them is hibernated: it must come back as needs_attention, untouched
mkdir -p mnt && ntfs-3g disks/vm07.img mnt && printf 'hibr' > mnt/hiberfil.sys && umount mnt
hib_before=$(sha256sum < disks/vm07.img)

rc=0; "$LB" fix --jobs 2 --report-dir reports --report summary.json --json disks/*.img > /dev/null 2> progress.txt || rc=$?
eq "batch exit" "$rc" 1
eq "summary fixed" "$(jget summary.json 'r["totals"]["fixed"]')" 15
eq "summary attention" "$(jget summary.json 'r["totals"]["needs_attention"]')" 1
eq "summary disks" "$(jget summary.json 'len(r["disks"])')" 16
eq "reports written" "$(ls reports/*.report.json | wc -l)" 16
eq "bundles written" "$(ls reports/*.evidence.tar.zst | wc -l)" 15
eq "hibernated untouched" "$(sha256sum < disks/vm07.img)" "$hib_before"
# progress (not a terminal: one plain line per disk) and each failure's reason
eq "progress lines" "$(grep -cE '^\[[0-9]+/16\] disks/vm[0-9]+\.img: ' progress.txt)" 16
check "progress ends at 16/16" grep -qE '^\[16/16\] ' progress.txt
check "progress gives the hibernated disk's reason" grep -qiE '^\[[0-9]+/16\] disks/vm07\.img: needs_attention: .*hibernat' progress.txt
check "summary gives the hibernated disk's reason" bash -c \
	"python3 -c 'import json; d=[d for d in json.load(open(\"summary.json\"))[\"disks\"] if d[\"path\"].endswith(\"vm07.img\")][0]; assert \"hibernat\" in d[\"reason\"].lower()'"
rc=0; "$LB" scan --jobs 2 --report-dir reports-scan disks/vm07.img disks/vm08.img > scan-out.txt 2>/dev/null || rc=$?
check "screen summary gives the reason under the disk" bash -c \
	"grep -A1 -E '^needs_attention +disks/vm07.img' scan-out.txt | grep -qE '^    ! .+'"

for i in $(seq -w 1 16); do
	[ "$i" = 07 ] && continue
	r=$(ls reports/*-vm$i.img.report.json)
	eq "vm$i status" "$(jget "$r" 'r["status"]')" fixed
	q=$(jget "$r" 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["quarantine_path"]')
	eq "vm$i quarantined bytes" "$(ntfscat disks/vm$i.img "$(echo "$q" | tr '\\' /)" | sha256sum | cut -d' ' -f1)" "$sha"
	check "vm$i bundle" bash -c "tar --zstd -xOf reports/*-vm$i.img.evidence.tar.zst files/001/C-00000291-00000000-00000032.sys | sha256sum | grep -q $sha"
done

# on a terminal: one live line with N/M and an ETA, overwritten in place
if command -v script > /dev/null; then
	script -qec "'$LB' scan --jobs 2 --report-dir reports-tty disks/vm01.img disks/vm02.img disks/vm03.img > /dev/null" tty.txt > /dev/null 2>&1 || true
	check "terminal: live ETA line" grep -qE $'\r\033\\[K\\[[12]/3\\] ETA [0-9]+:[0-9]{2}' tty.txt
	check "terminal: done line" grep -qE '\[3/3\] done in [0-9]+:[0-9]{2}' tty.txt
fi

# again: nothing left to do
rc=0; "$LB" fix --jobs 2 --report-dir reports2 --report summary2.json disks/*.img > /dev/null || rc=$?
eq "second batch clean" "$(jget summary2.json 'r["totals"]["clean"]')" 15
done_tests
