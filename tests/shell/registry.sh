#!/usr/bin/env bash
# Registry rules end to end on a Windows-made NTFS volume with a real SYSTEM
# hive: disable-driver sets Start=4 in every boot control set (checked with
# hivexget on the hive read back with ntfscat), a second fix changes nothing,
# undo restores the original hive byte for byte; a dirty hive with logs is
# replayed before the edit; a dirty hive without logs and a damaged hive are
# refused with nothing written.
. "$(dirname "$0")/lib.bash"

# SYSTEM with CSAgent Start=1 (boot start) in both control sets
xz -dc "$LB_SHARED_DATA/hives/SYSTEM.xz" > SYSTEM.cs
for cs in ControlSet001 ControlSet002; do
	printf '%s\n' "cd \\$cs\\Services" 'add CSAgent' 'cd CSAgent' 'setval 2' 'Start' 'dword:1' \
		'ImagePath' 'string:\SystemRoot\System32\drivers\CrowdStrike\csagent.sys' 'commit' |
		hivexsh -w SYSTEM.cs
done
registry_volume reg.raw SYSTEM.cs
ntfscat reg.raw Windows/System32/config/SYSTEM > orig.hive
orig_sha=$(sha256sum < orig.hive | cut -d' ' -f1)
eq "set-up Start" "$(hive_get reg.raw '\ControlSet001\Services\CSAgent' Start)" 1

# scan: would set, writes nothing
before=$(sha256sum < reg.raw)
run 1 scan --playbook disable-driver --param service=CSAgent reg.raw
F='r["targets"][0]["volumes"][0]["installs"][0]["findings"]'
eq "scan findings" "$(jget last.json "len($F)")" 2
eq "scan action" "$(jget last.json "$F[0]['action']")" would_set
eq "scan old" "$(jget last.json "$F[0]['old']['data']")" 1
eq "scan new" "$(jget last.json "$F[0]['new']['data']")" 4
eq "scan wrote nothing" "$(sha256sum < reg.raw)" "$before"

# fix
run 0 fix --playbook disable-driver --param service=CSAgent --evidence ev.tar.zst reg.raw
eq "fix status" "$(jget last.json 'r["status"]')" fixed
eq "control sets" "$(jget last.json "sorted(f['control_set'] for f in $F)")" "[1, 2]"
eq "roles" "$(jget last.json "[f['control_set_roles'] for f in $F]")" "['current,default', 'last_known_good']"
eq "actions" "$(jget last.json "[f['action'] for f in $F]")" "['set', 'set']"
eq "summary" "$(jget last.json 'r["summary"]["registry_values_changed"]')" 2
eq "Start cs1" "$(hive_get reg.raw '\ControlSet001\Services\CSAgent' Start)" 4
eq "Start cs2" "$(hive_get reg.raw '\ControlSet002\Services\CSAgent' Start)" 4
eq "other value kept" "$(hive_get reg.raw '\ControlSet001\Services\CSAgent' ImagePath)" \
	'\SystemRoot\System32\drivers\CrowdStrike\csagent.sys'
eq "identity still read" "$(jget last.json 'r["hostname"]')" WKS-WIN732BITA
backup=$(jget last.json "$F[0]['hive_backup']")
check "on-volume backup name" bash -c "[[ '$backup' == '\\Windows\\System32\\config\\SYSTEM.loopbreaker-'* ]]"
eq "on-volume backup bytes" "$(ntfscat reg.raw "$(echo "$backup" | tr '\\' / | cut -c2-)" | sha256sum | cut -d' ' -f1)" "$orig_sha"
check "no .loopbreaker-new left" bash -c "! ntfscat reg.raw Windows/System32/config/SYSTEM.loopbreaker-new >/dev/null 2>&1"
check "ntfsfix after fix" ntfsfix -n reg.raw
mkdir -p x && tar --zstd -xf ev.tar.zst -C x
eq "bundle: action" "$(jget x/manifest.json 'r["entries"][0]["action"]')" registry_hive
eq "bundle: edits" "$(jget x/manifest.json 'len(r["entries"][0]["edits"])')" 2
check "bundle: original hive bytes" cmp -s x/files/001/SYSTEM orig.hive

# fix twice changes nothing
after1=$(sha256sum < reg.raw)
run 0 fix --playbook disable-driver --param service=CSAgent --evidence ev2.tar.zst reg.raw
eq "second fix: clean" "$(jget last.json 'r["status"]')" clean
eq "second fix: none" "$(jget last.json "[f['action'] for f in $F]")" "['none', 'none']"
eq "second fix wrote nothing" "$(sha256sum < reg.raw)" "$after1"
check "second fix: no bundle" test ! -e ev2.tar.zst

# undo: the original hive file comes back byte for byte (onto a copy of the
# disk: --any-target)
cp reg.raw undo.raw
"$LB" undo --any-target --json ev.tar.zst undo.raw > last.json || fail "undo exited $?"
eq "undo status" "$(jget last.json 'r["status"]')" restored
eq "undo mode" "$(jget last.json 'r["undo"][0]["mode"]')" whole_file
eq "undone hive bytes" "$(ntfscat undo.raw Windows/System32/config/SYSTEM | sha256sum | cut -d' ' -f1)" "$orig_sha"
eq "undone Start" "$(hive_get undo.raw '\ControlSet001\Services\CSAgent' Start)" 1
check "ntfsfix after undo" ntfsfix -n undo.raw
rc=0; "$LB" undo --any-target --json ev.tar.zst undo.raw > last.json || rc=$?
eq "second undo: nothing to do" "$rc/$(jget last.json 'r["undo"][0]["status"]')" 0/already_restored
rm -f undo.raw

# undo value by value when the hive changed since the fix (Windows booted)
cp reg.raw changed.raw
ntfscat changed.raw Windows/System32/config/SYSTEM > changed.hive
printf '%s\n' 'cd \ControlSet001\Services' 'add LaterDriver' 'cd LaterDriver' 'setval 1' 'Start' 'dword:3' 'commit' | hivexsh -w changed.hive
mkdir -p mnt && ntfs-3g changed.raw mnt && cp changed.hive mnt/Windows/System32/config/SYSTEM && umount mnt
"$LB" undo --any-target --json ev.tar.zst changed.raw > last.json || fail "value undo exited $?"
eq "value undo mode" "$(jget last.json 'r["undo"][0]["mode"]')" values
eq "value undo: Start cs1" "$(hive_get changed.raw '\ControlSet001\Services\CSAgent' Start)" 1
eq "value undo: Start cs2" "$(hive_get changed.raw '\ControlSet002\Services\CSAgent' Start)" 1
eq "value undo: later change kept" "$(hive_get changed.raw '\ControlSet001\Services\LaterDriver' Start)" 3
rm -f changed.raw changed.hive
# ... and refuses when the value is no longer the one fix wrote
cp reg.raw moved.raw
ntfscat moved.raw Windows/System32/config/SYSTEM > moved.hive
printf '%s\n' 'cd \ControlSet001\Services\CSAgent' 'setval 1' 'Start' 'dword:3' 'commit' | hivexsh -w moved.hive
mkdir -p mnt && ntfs-3g moved.raw mnt && cp moved.hive mnt/Windows/System32/config/SYSTEM && umount mnt
before=$(sha256sum < moved.raw)
rc=0; "$LB" undo --any-target --json ev.tar.zst moved.raw > last.json || rc=$?
eq "undo refused: value changed" "$rc" 1
eq "undo refused: nothing written" "$(sha256sum < moved.raw)" "$before"
rm -f moved.raw moved.hive

# a service that does not exist: nothing to do
run 0 fix --playbook disable-driver --param service=NoSuchDriver --evidence ev3.tar.zst reg.raw
eq "absent service: clean" "$(jget last.json 'r["status"]')" clean
eq "absent service: reason" "$(jget last.json "$F[0]['reason']")" "key not present"

# dirty SYSTEM_B with its logs: replayed, then edited
xz -dc "$LB_SHARED_DATA/hives/SYSTEM_B.xz" > SYSTEM_B
xz -dc "$LB_SHARED_DATA/hives/SYSTEM_B.LOG1.xz" > SYSTEM_B.LOG1
xz -dc "$LB_SHARED_DATA/hives/SYSTEM_B.LOG2.xz" > SYSTEM_B.LOG2
registry_volume dirty.raw SYSTEM_B
run 0 fix --playbook disable-driver --param service=Beep --evidence evd.tar.zst dirty.raw
eq "dirty: fixed" "$(jget last.json 'r["status"]')" fixed
eq "dirty: replayed" "$(jget last.json "$F[0]['replayed']")" True
eq "dirty: Start" "$(hive_get dirty.raw '\ControlSet001\Services\Beep' Start)" 4
eq "dirty: replayed-only key present" \
	"$(hive_get dirty.raw '\ControlSet001\Control\Class\{4d36e96c-e325-11ce-bfc1-08002be10318}\0013' DriverDesc)" \
	"NVIDIA High Definition Audio"
check "dirty: logs set aside" bash -c "! ntfscat dirty.raw Windows/System32/config/SYSTEM.LOG1 >/dev/null 2>&1"
check "dirty: logs kept under a new name" bash -c "$LB ls dirty.raw '\\Windows\\System32\\config' | grep -q 'SYSTEM.LOG1.loopbreaker-'"
check "dirty: logs in bundle" bash -c "tar --zstd -tf evd.tar.zst | grep -q SYSTEM.LOG2"
check "ntfsfix after dirty fix" ntfsfix -n dirty.raw

# dirty without logs: refused, nothing written
cp SYSTEM_B SYSTEM_NL
registry_volume nolog.raw SYSTEM_NL
before=$(sha256sum < nolog.raw)
run 1 fix --playbook disable-driver --param service=Beep --evidence evn.tar.zst nolog.raw
eq "no logs: refused" "$(jget last.json "$F[-1]['action']")" refused
check "no logs: reason" grep -q 'LOG2 are missing' last.json
eq "no logs: nothing written" "$(sha256sum < nolog.raw)" "$before"
check "no logs: no bundle" test ! -e evn.tar.zst

# damaged hive: input error, nothing written
xz -dc "$LB_SHARED_DATA/hives/corrupted_system_hive.xz" > SYSTEM_BAD
registry_volume bad.raw SYSTEM_BAD
before=$(sha256sum < bad.raw)
run 2 fix --playbook disable-driver --param service=CSAgent --evidence evb.tar.zst bad.raw
check "damaged: reason" grep -q 'is damaged' last.json
eq "damaged: nothing written" "$(sha256sum < bad.raw)" "$before"
check "damaged: no bundle" test ! -e evb.tar.zst

# interrupted swap: SYSTEM missing, SYSTEM.loopbreaker-new complete
cp reg.raw cut.raw
mkdir -p mnt && ntfs-3g cut.raw mnt
mv mnt/Windows/System32/config/SYSTEM mnt/Windows/System32/config/SYSTEM.loopbreaker-new
umount mnt
run 1 scan cut.raw
check "interrupted: scan reports" grep -q 'interrupted hive replacement' last.json
run 1 fix --evidence evc.tar.zst cut.raw
eq "interrupted: completed" "$(hive_get cut.raw '\ControlSet001\Services\CSAgent' Start)" 4
check "interrupted: -new gone" bash -c "! ntfscat cut.raw Windows/System32/config/SYSTEM.loopbreaker-new >/dev/null 2>&1"
run 0 scan --playbook disable-driver --param service=CSAgent cut.raw
eq "interrupted: then clean" "$(jget last.json 'r["status"]')" clean

done_tests
