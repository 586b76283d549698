#!/usr/bin/env bash
# Generates the seed corpora of the fuzz targets at run time (nothing large
# is committed):  tests/fuzz/make-seeds.sh OUTDIR [PACK]
#   OUTDIR/<target>/...   one folder per fuzz target
#   PACK                  lb-fuzz-pack (default: build-fuzz/fuzz/lb-fuzz-pack)
# Sources: /work/shared/data-style test data ($LB_SHARED_DATA: hives,
# bitlk-images.tar.xz, ntfs samples), small NTFS images made with mkntfs and
# populated through an ntfs-3g FUSE mount (skipped, with a warning, where
# FUSE is unavailable), key exports written here, and the committed
# regression inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
out=${1:?usage: make-seeds.sh OUTDIR [PACK]}
pack=${2:-$src/build-fuzz/fuzz/lb-fuzz-pack}
data=${LB_SHARED_DATA:-$src/../shared/data}
[ -x "$pack" ] || { echo "make-seeds: $pack not built" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/.work
rm -rf "$work" && mkdir -p "$work"
mnt=""
cleanup() {
	if [ -n "$mnt" ] && mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
for t in partition engine hive hivedit regf regf_read bitlocker keys playbook mftmirr; do
	rm -rf "$out/fuzz_$t" && mkdir -p "$out/fuzz_$t"
done
S_PART=$out/fuzz_partition S_ENG=$out/fuzz_engine S_HIVE=$out/fuzz_hive
S_REGF=$out/fuzz_regf S_BL=$out/fuzz_bitlocker S_KEYS=$out/fuzz_keys

# ---- hives: BCD as is, small SYSTEM and SOFTWARE hives built on it -----------
xz -dc "$data/hives/BCD.xz" > "$work/BCD"
cp "$work/BCD" "$S_HIVE/bcd"
# hivexsh commands creating KEY (backslash path from the root) and cd'ing into it
# (keys made earlier in the same hivexsh session are only cd'ed into)
declare -A made=()
mkkey() {
	# shellcheck disable=SC2141  # split on backslashes, on purpose
	local IFS='\' p path=""
	echo 'cd \'
	for p in $1; do
		path="$path\\$p"
		[ -n "${made[$path]:-}" ] || printf 'add %s\n' "$p"
		made[$path]=1
		printf 'cd %s\n' "$p"
	done
}
cp "$work/BCD" "$work/SYSTEM"
made=()
{
	mkkey 'Select'
	printf '%s\n' 'setval 3' Current dword:0x00000001 Default dword:0x00000001 LastKnownGood dword:0x00000001
	mkkey 'ControlSet001\Control\ComputerName\ComputerName'
	printf '%s\n' 'setval 1' ComputerName 'string:FUZZ-WKS01'
	mkkey 'ControlSet001\Services\Tcpip\Parameters'
	printf '%s\n' 'setval 1' Domain 'string:corp.example'
	mkkey 'ControlSet001\Services\CSAgent\Sim'
	printf '%s\n' 'setval 2' AG 'hex:3:00,11,22,33,44,55,66,77,88,99,aa,bb,cc,dd,ee,ff' \
		CU 'hex:3:0f,0e,0d,0c,0b,0a,09,08,07,06,05,04,03,02,01,00'
	echo commit
} | hivexsh -w "$work/SYSTEM"
cp "$work/BCD" "$work/SOFTWARE"
made=()
{
	mkkey 'Microsoft\Windows NT\CurrentVersion'
	printf '%s\n' 'setval 6' ProductName 'string:Windows 10 Enterprise' EditionID 'string:Enterprise' \
		CurrentBuild 'string:19045' DisplayVersion 'string:22H2' UBR dword:0x00000e9a \
		InstallDate dword:0x5f5e1000
	mkkey 'Microsoft\Windows\CurrentVersion\Uninstall\{FUZZ-0000-CROWDSTRIKE}'
	printf '%s\n' 'setval 2' DisplayName 'string:CrowdStrike Windows Sensor' DisplayVersion 'string:7.16.18605.0'
	echo commit
} | hivexsh -w "$work/SOFTWARE"
cp "$work/SYSTEM" "$S_HIVE/system-small"
cp "$work/SOFTWARE" "$S_HIVE/software-small"
cp "$work/BCD" "$work/SYSTEM" "$work/SOFTWARE" "$out/fuzz_hivedit/"
# Windows-made hives are MiBs: only their first 64 KiB (base block + first
# bins), which hivex refuses but our checks parse.
for h in SYSTEM SYSTEM_2 corrupted_system_hive; do
	[ -f "$data/hives/$h.xz" ] && { xz -dc "$data/hives/$h.xz" | head -c 65536 > "$S_HIVE/$h-64k" || true; }
done
# the lazy reader reads the same hives
cp "$S_HIVE"/* "$out/fuzz_regf_read/"

# ---- regf replay: clean hive, synthetic dirty hive + logs ---------------------
"$pack" regf "$work/BCD" - - "$S_REGF/bcd-clean"
"$pack" regf "$work/SYSTEM" - - "$S_REGF/system-clean"
"$pack" regf-synth "$work/BCD" "$S_REGF"

# ---- BitLocker: Windows-made volumes, sparse-packed (~40 KiB each) ------------
if [ -f "$data/bitlocker/bitlk-images.tar.xz" ]; then
	mkdir -p "$work/bl"
	tar -C "$work/bl" -xJf "$data/bitlocker/bitlk-images.tar.xz"
	for img in "$work"/bl/*/*.img; do
		b=$(basename "$img" .img)
		"$pack" pack "$img" "$S_BL/$b"
		head -c 65536 "$img" > "$S_BL/$b-raw64k"
		rm -f "$img"
	done
	cp "$S_BL/bitlk-aes-xts-128" "$S_BL/bitlk-aes-cbc-128-4k" \
	   "$S_BL/bitlk-aes-xts-128-clearkey-only" "$S_BL/bitlk-aes-xts-128-eow" "$S_ENG/"
	cp "$S_BL/bitlk-aes-xts-128" "$S_BL/bitlk-aes-xts-128-clearkey-only" "$S_PART/"
	rm -rf "$work/bl"
else
	echo "make-seeds: no bitlk-images.tar.xz: BitLocker seeds skipped" >&2
fi

# ---- key escrow exports -------------------------------------------------------
G1=64311dea-4587-4029-924a-ba299647998e
K1=235818-357951-253979-013365-241120-245575-342914-591910
G2=3E55195C-8811-4D9B-97B4-2B9E5F8F5384
K2=000000-000011-000022-000033-000044-000055-000066-000077
printf '#TYPE Selected.Microsoft.ActiveDirectory.Management.ADObject\r\n"DistinguishedName","msFVE-RecoveryPassword","Name"\r\n"CN=2024-07-19T04:10:00-08:00{%s},CN=WKS01,OU=PCs,DC=corp,DC=example","%s","WKS01"\r\n' "$G1" "$K1" > "$S_KEYS/ad.csv"
printf '\xef\xbb\xbfcomputer;MSFVE-RECOVERYPASSWORD;msfve-recoveryguid\n"WKS;02";%s;{%s}\n' "$K2" "$G2" > "$S_KEYS/ad-semicolon.csv"
printf 'id,createdDateTime,volumeType,deviceId,key\n%s,2024-07-19T04:00:00Z,1,0b6e1c2a-0000-4000-8000-000000000001,%s\n' "$G1" "$K1" > "$S_KEYS/entra.csv"
printf 'KeyId\tRecoveryKeyPassword\tComputerName\r\n%s\t%s\tKIOSK-3\r\n' "$G2" "$K2" > "$S_KEYS/mbam.tsv"
printf 'Hostname,AID,Key ID,Recovery Key,Drive\nWKS01,0123456789abcdef0123456789abcdef,%s,%s,C:\n' "$G1" "$K1" > "$S_KEYS/crowdstrike.csv"
printf '{"@odata.context":"x","value":[{"id":"%s","createdDateTime":"2024-07-19T04:00:00Z","volumeType":"1","deviceId":"d","key":"%s"},{"id":"%s","key":"%s"}]}' "$G1" "$K1" "$G2" "$K2" > "$S_KEYS/graph.json"
printf '  [ {"KeyId":"{%s}","RecoveryKey":"%s","hostname":"WKS9"} ]' "$G2" "$K2" > "$S_KEYS/array.json"
printf '"KeyID","RecoveryKey","hostname"\r\n"%s","%s","H\xc3\xb6st"\r\n' "$G1" "$K1" |
	iconv -f UTF-8 -t UTF-16LE | { printf '\xff\xfe'; cat; } > "$S_KEYS/utf16le.csv"
printf 'KeyID,RecoveryKey\n%s,"%s"\n%s,%s\n' "$G1" "$K1" "$G1" "$K2" > "$S_KEYS/two-keys.csv"
printf '%s' "$K1" > "$S_KEYS/password-only"

# ---- playbooks: the built-ins and one using every rule kind ------------------
cp "$src"/playbooks/*.json "$out/fuzz_playbook/"
cat > "$out/fuzz_playbook/every-rule.json" <<'JSON'
{ "schema": "loopbreaker-playbook/1", "name": "fuzz-every-rule",
  "description": "file, registry and BCD rules with parameters",
  "params": { "service": { "description": "service", "required": true },
              "mode": { "description": "mode", "default": "minimal" } },
  "files": [
    { "id": "channel-291",
      "path": "%SystemRoot%\\System32\\drivers\\CrowdStrike\\C-00000291*.sys",
      "modified": { "from": "2024-07-19T04:09:00Z", "to": "2024-07-19T05:27:00Z" },
      "size": { "min": 1, "max": 1048576 },
      "sha256": [ "0000000000000000000000000000000000000000000000000000000000000000" ],
      "headers": [ { "kind": "channel", "hex": "aaaaaaaa01002301" }, { "kind": "zero", "hex": "0000000000000000" } ],
      "header_length": 8, "action": "quarantine" },
    { "id": "root-file", "path": "\\hiberfil.sys", "action": "delete" } ],
  "registry": [
    { "id": "disable-${service}", "hive": "SYSTEM", "action": "disable_service", "service": "${service}" },
    { "id": "policy", "hive": "SOFTWARE", "key": "Policies\\Vendor", "value": "Mode", "action": "set",
      "type": "REG_DWORD", "data": 0, "create_key": true },
    { "id": "multi", "hive": "SYSTEM", "key": "CurrentControlSet\\Control", "value": "M", "action": "set",
      "type": "REG_MULTI_SZ", "data": [ "a", "b\u00e9" ] },
    { "id": "del", "hive": "SYSTEM", "key": "CurrentControlSet\\Control", "value": "X", "action": "delete_value",
      "when": { "value_equals": { "type": "REG_SZ", "data": "bad" } } } ],
  "bcd": { "id": "safeboot-${mode}", "safeboot": "${mode}" } }
JSON

# ---- NTFS volumes with a Windows tree --------------------------------------
# ntfs_volume OUT SIZE [mkntfs options]: SYSTEM + SOFTWARE hives, a channel
# file 291 written in the bad window, hiberfil.sys in the state given by
# $HIBER ("" none, "hibr" hibernated).
ntfs_volume() {
	local img=$1 size=$2; shift 2
	truncate -s "$size" "$img"
	mkntfs -F -Q -q -L Windows "$@" "$img" >/dev/null 2>&1
	[ "$have_fuse" = 1 ] || return 0
	ntfs-3g "$img" "$mnt"
	mkdir -p "$mnt/Windows/System32/config" "$mnt/Windows/System32/drivers/CrowdStrike"
	cp "$work/SYSTEM" "$work/SOFTWARE" "$mnt/Windows/System32/config/"
	local cf=$mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	{ printf '\xaa\xaa\xaa\xaa\x01\x00\x23\x01'; head -c 2040 /dev/zero | tr '\0' '\125'; } > "$cf"
	touch -d '2024-07-19 04:30 UTC' "$cf"
	head -c 1024 /dev/zero > "$mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000031.sys"
	touch -d '2024-07-19 05:00 UTC' "$mnt/Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000031.sys"
	if [ -n "${HIBER:-}" ]; then
		{ printf '%s' "$HIBER"; head -c 4092 /dev/zero; } > "$mnt/hiberfil.sys"
	fi
	umount "$mnt"
}
have_fuse=0
mnt=$work/mnt
mkdir -p "$mnt"
truncate -s 1M "$work/probe.img" && mkntfs -F -Q -q "$work/probe.img" >/dev/null 2>&1 || true
truncate -s 2M "$work/probe.img" && mkntfs -F -Q -q "$work/probe.img" >/dev/null 2>&1
if ntfs-3g "$work/probe.img" "$mnt" 2>/dev/null; then
	umount "$mnt"
	have_fuse=1
else
	echo "make-seeds: ntfs-3g FUSE mount unavailable: NTFS seeds hold no Windows tree" >&2
fi
HIBER="" ntfs_volume "$work/vol.img" 2M
"$pack" pack "$work/vol.img" "$S_ENG/ntfs-2m-windows"
HIBER=hibr ntfs_volume "$work/volh.img" 2M
"$pack" pack "$work/volh.img" "$S_ENG/ntfs-2m-hibernated"
HIBER="" ntfs_volume "$work/vol4k.img" 4M -s 4096 -c 4096
"$pack" pack "$work/vol4k.img" "$S_ENG/ntfs-4m-4k"
# $MFTMirr: the volumes as they are, and with mirror record 0 older than $MFT
# (one byte of its first attribute changed, as if written before $MFT's)
S_MIRR=$out/fuzz_mftmirr
cp "$S_ENG/ntfs-2m-windows" "$S_ENG/ntfs-4m-4k" "$S_MIRR/"
for v in vol vol4k; do
	python3 - "$work/$v.img" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
bs = f.read(512)
cl = struct.unpack_from("<H", bs, 11)[0] * bs[13]
c = struct.unpack_from("<b", bs, 0x40)[0]
rs = c * cl if c > 0 else 1 << -c
mirr = struct.unpack_from("<Q", bs, 0x38)[0] * cl
f.seek(mirr); rec = bytearray(f.read(rs))
a = struct.unpack_from("<H", rec, 0x14)[0]
rec[a + 0x18] ^= 0x01            # inside the first attribute, not a sector end
f.seek(mirr); f.write(rec)
PY
	"$pack" pack "$work/$v.img" "$S_MIRR/$v-stale-mirror"
done
# the same volume inside an MBR and a GPT disk (1 MiB before, 1 MiB after)
for lbl in dos gpt; do
	truncate -s 4M "$work/disk-$lbl.img"
	printf 'label: %s\nstart=2048, size=4096, type=%s\n' "$lbl" \
		"$([ $lbl = dos ] && echo 7 || echo EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)" |
		sfdisk -q "$work/disk-$lbl.img" >/dev/null
	dd if="$work/vol.img" of="$work/disk-$lbl.img" bs=1M seek=1 conv=notrunc status=none
	"$pack" pack "$work/disk-$lbl.img" "$S_ENG/disk-$lbl-ntfs"
	cp "$S_ENG/disk-$lbl-ntfs" "$S_PART/"
done

# a GPT disk with an EFI system partition holding the BCD store (FAT, via
# mtools) and the Windows volume: the BCD rules' path
truncate -s 6M "$work/disk-esp.img"
printf 'label: gpt\nstart=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=6144, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' |
	sfdisk -q "$work/disk-esp.img" >/dev/null
truncate -s 2M "$work/esp.img"
if mkfs.vfat -n ESP "$work/esp.img" >/dev/null 2>&1 &&
   MTOOLS_SKIP_CHECK=1 mmd -i "$work/esp.img" ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot &&
   MTOOLS_SKIP_CHECK=1 mcopy -i "$work/esp.img" "$work/BCD" ::/EFI/Microsoft/Boot/BCD; then
	dd if="$work/esp.img" of="$work/disk-esp.img" bs=1M seek=1 conv=notrunc status=none
	dd if="$work/vol.img" of="$work/disk-esp.img" bs=1M seek=3 conv=notrunc status=none
	"$pack" pack "$work/disk-esp.img" "$S_ENG/disk-gpt-esp-ntfs"
else
	echo "make-seeds: mkfs.vfat/mtools unavailable: no ESP seed" >&2
fi

# ---- partition tables: small raw disks ---------------------------------------
truncate -s 64K "$work/p.img"
printf 'label: dos\nstart=8, size=16, type=7\nstart=24, size=64, type=5\nstart=32, size=8, type=83\nstart=48, size=8, type=c\n' |
	sfdisk -q "$work/p.img" >/dev/null 2>&1 && cp "$work/p.img" "$S_PART/mbr-logical-raw"
rm -f "$work/p.img" && truncate -s 64K "$work/p.img"
printf 'label: gpt\nfirst-lba: 34\nstart=34, size=16, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nstart=50, size=16, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' |
	sfdisk -q "$work/p.img" >/dev/null 2>&1 && cp "$work/p.img" "$S_PART/gpt-raw"
# a fixed VHD: raw disk + 512-byte "conectix" footer (type 2, checksum)
python3 - "$work/disk-dos.img" "$work/disk.vhd" <<'PY' && "$pack" pack "$work/disk.vhd" "$S_PART/disk-vhd"
import struct, sys
d = open(sys.argv[1], 'rb').read()
f = bytearray(512)
f[0:8] = b'conectix'
struct.pack_into('>IIQI4s', f, 8, 2, 0x10000, 0xFFFFFFFFFFFFFFFF, 0, b'lbfz')
struct.pack_into('>QQ', f, 40, len(d), len(d))
struct.pack_into('>I', f, 60, 2)
struct.pack_into('>I', f, 64, (~sum(f)) & 0xFFFFFFFF)
open(sys.argv[2], 'wb').write(d + bytes(f))
PY
cp "$S_ENG/ntfs-2m-windows" "$S_PART/"

# ---- Windows-made NTFS (256 MiB MBR disk), sparse-packed ---------------------
if [ -f "$data/ntfs/ntfs-lastaccess.raw.gz" ]; then
	gzip -dc "$data/ntfs/ntfs-lastaccess.raw.gz" > "$work/win.img"
	"$pack" pack "$work/win.img" "$work/win.seed"
	# only if it stays small (the fuzzer slows down on MiB-sized inputs)
	if [ "$(stat -c %s "$work/win.seed")" -lt 1500000 ]; then
		cp "$work/win.seed" "$S_ENG/windows-made-ntfs-disk"
	fi
	rm -f "$work/win.img" "$work/win.seed"
fi

# ---- committed regression inputs join the corpora ------------------------------
for d in "$here"/regressions/*/; do
	[ -d "$d" ] || continue
	t=$(basename "$d")
	[ -d "$out/$t" ] && find "$d" -maxdepth 1 -type f -exec cp {} "$out/$t/" \;
done

for t in "$out"/fuzz_*; do
	printf 'make-seeds: %-16s %3d seeds, %s\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)" \
		"$(du -sh "$t" | cut -f1)"
done
