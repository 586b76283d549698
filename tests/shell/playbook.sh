#!/usr/bin/env bash
# Playbook files: the built-ins are the shipped files byte for byte; a
# playbook given as a file works like a built-in; bad files and parameters
# stop everything with one file:line:column line, exit 2, nothing written.
. "$(dirname "$0")/lib.bash"

for f in "$LB_SOURCE"/playbooks/*.json; do
	n=$(basename "$f" .json)
	check "built-in $n = playbooks/$n.json" cmp -s <("$LB" playbooks --show "$n") "$f"
done
"$LB" playbooks > list.txt
for n in crowdstrike-2024-07-19 disable-driver safe-mode-on safe-mode-off; do
	check "listed: $n" grep -q "^$n " list.txt
done

small_windows_volume vol.raw
before=$(sha256sum < vol.raw)

# the crowdstrike playbook as a file behaves like the built-in
cp "$LB_SOURCE/playbooks/crowdstrike-2024-07-19.json" ./cs.json
run 1 scan --playbook ./cs.json vol.raw
eq "file playbook finds the channel file" \
	"$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
"$LB" playbooks --playbook ./cs.json > list2.txt
check "playbooks lists a given file" grep -q 'file: ./cs.json' list2.txt

bad() { # DESCRIPTION EXPECTED-REGEX FILE-CONTENT [extra args]
	local d=$1 want=$2; shift 2
	printf '%s' "$1" > bad.json; shift
	local rc=0
	"$LB" fix --playbook ./bad.json --evidence bad.tar.zst "$@" vol.raw > out.txt 2> err.txt || rc=$?
	eq "$d: exit" "$rc" 2
	eq "$d: one line" "$(wc -l < err.txt)" 1
	check "$d: message ($(cat err.txt))" grep -Eq "$want" err.txt
	check "$d: no bundle" test ! -e bad.tar.zst
}
bad "syntax" '^loopbreaker: \./bad\.json:3:1: ' $'{\n "schema": "loopbreaker-playbook/1",\n}'
bad "schema" 'bad\.json:1:12: schema: must be "loopbreaker-playbook/1"' '{"schema": "x/2", "name": "a", "files": []}'
bad "unknown field" 'bad\.json:4:15: registry\[0\]\.colour: unknown field' $'{"schema": "loopbreaker-playbook/1", "name": "a",\n "registry": [\n  {"hive": "SYSTEM", "key": "A", "value": "B", "action": "delete_value",\n    "colour": 1}]}'
bad "bad type" 'bad\.json:2:72: registry\[0\]\.type: unknown type "REG_WORD"' $'{"schema": "loopbreaker-playbook/1", "name": "a", "registry": [\n {"hive": "SYSTEM", "key": "A", "value": "B", "action": "set", "type": "REG_WORD", "data": 1}]}'
bad "dword range" 'registry\[0\]\.data: REG_DWORD data must be' '{"schema": "loopbreaker-playbook/1", "name": "a", "registry": [{"hive": "SYSTEM", "key": "A", "value": "B", "action": "set", "type": "REG_DWORD", "data": 4294967296}]}'
bad "path" 'files\[0\]\.path: must start with' '{"schema": "loopbreaker-playbook/1", "name": "a", "files": [{"path": "C:\\x\\*.sys"}]}'
bad "time" 'files\[0\]\.modified\.from: time must be UTC' '{"schema": "loopbreaker-playbook/1", "name": "a", "files": [{"path": "\\x\\*.sys", "modified": {"from": "yesterday"}}]}'
bad "undeclared param" 'registry\[0\]\.service: ' '{"schema": "loopbreaker-playbook/1", "name": "a", "registry": [{"action": "disable_service", "service": "${svc}"}]}'
bad "bcd mode" 'bcd\.safeboot: must be' '{"schema": "loopbreaker-playbook/1", "name": "a", "bcd": {"safeboot": "maximal"}}'
bad "no rules" 'no rules' '{"schema": "loopbreaker-playbook/1", "name": "a"}'
rc=0; "$LB" scan --playbook ./nothere.json vol.raw 2> err.txt || rc=$?
eq "missing file: exit" "$rc" 2
check "missing file: message" grep -q 'nothere.json: No such file' err.txt
eq "bad playbooks wrote nothing" "$(sha256sum < vol.raw)" "$before"

# parameters
rc=0; "$LB" fix --playbook disable-driver --evidence p.tar.zst vol.raw 2> err.txt || rc=$?
eq "missing required param: exit" "$rc" 2
check "missing required param: message" grep -q 'required parameter has no value (--param service=VALUE)' err.txt
rc=0; "$LB" fix --playbook disable-driver --param service='..\Control' --evidence p.tar.zst vol.raw 2> err.txt || rc=$?
eq "param with backslash: exit" "$rc" 2
rc=0; "$LB" scan --playbook disable-driver --param service=CSAgent --param colour=red vol.raw 2> err.txt || rc=$?
eq "unknown param: exit" "$rc" 2
check "unknown param: message" grep -q 'no selected playbook has this parameter' err.txt
rc=0; "$LB" scan --playbook no-such-playbook vol.raw 2> err.txt || rc=$?
eq "unknown built-in: exit" "$rc" 2
eq "params wrote nothing" "$(sha256sum < vol.raw)" "$before"

# a custom registry playbook: set a REG_SZ and a REG_MULTI_SZ, then delete one
cat > custom.json <<'JSON'
{
  "schema": "loopbreaker-playbook/1",
  "name": "custom",
  "registry": [
    { "hive": "SYSTEM", "key": "CurrentControlSet\\Control", "value": "LbNote",
      "action": "set", "type": "REG_SZ", "data": "héllo" },
    { "hive": "SYSTEM", "key": "CurrentControlSet\\Control", "value": "LbList",
      "action": "set", "type": "REG_MULTI_SZ", "data": ["a", "b"] },
    { "hive": "SYSTEM", "key": "Select", "value": "Failed", "action": "set",
      "type": "REG_DWORD", "data": 9, "when": { "value_equals": { "type": "REG_DWORD", "data": 0 } } }
  ]
}
JSON
run 0 fix --playbook ./custom.json --evidence c.tar.zst vol.raw
eq "custom: status" "$(jget last.json 'r["status"]')" fixed
eq "custom: REG_SZ" "$(hive_get vol.raw '\ControlSet001\Control' LbNote)" "héllo"
eq "custom: report data" "$(jget last.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][1]["new"]["data"]')" "héllo"
eq "custom: conditional (Failed was 0)" "$(hive_get vol.raw '\Select' Failed)" 9
run 0 fix --playbook ./custom.json --evidence c2.tar.zst vol.raw
eq "custom twice: clean" "$(jget last.json 'r["status"]')" clean
"$LB" undo --json c.tar.zst vol.raw > last.json || fail "custom undo exited $?"
check "custom undo: value gone" bash -c "! hive_get() { :; }; ntfscat vol.raw Windows/System32/config/SYSTEM > u.hive && ! hivexget u.hive '\\ControlSet001\\Control' LbNote >/dev/null 2>&1"
eq "custom undo: Failed back" "$(hive_get vol.raw '\Select' Failed)" 0

done_tests
