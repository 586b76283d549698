#!/usr/bin/env bash
# The attended BitLocker prompt: on a terminal, with no key file, scan asks
# for the recovery key of the volume's recovery protector, shows its ID as
# Windows does, rejects a wrong 6-digit block the moment it is typed, then
# accepts the 48 digits typed without dashes and unlocks.  Without a
# terminal (or with --no-prompt) it never asks.
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
run 1 scan --no-prompt enc.img
eq "no prompt: locked" "$(jget last.json 'r["targets"][0]["volumes"][0]["bitlocker"]["unlocked"]')" False

python3 - "$LB" enc.img <<'PY' > pty.log 2>&1 || fail "attended prompt (see $WORK/pty.log)"
import os, pty, sys, time, select
lb, img = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(lb, [lb, "scan", "--report", "prompt.json", img])
buf = b""
def expect(what, timeout=60):
    global buf
    end = time.time() + timeout
    while what.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            raise SystemExit("timeout waiting for %r; got %r" % (what, buf[-400:]))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            raise SystemExit("EOF waiting for %r; got %r" % (what, buf[-400:]))
        buf += chunk
    print("saw:", what)
expect("Recovery key ID: 64311DEA")
expect("Type the 48 digits")
os.write(fd, b"123456")              # 123456 is not a multiple of 11
expect("block 1")
os.write(fd, b"235818357951253979013365241120245575342914591910\r")
_, status = os.waitpid(pid, 0)
try:
    while True:
        c = os.read(fd, 4096)
        if not c: break
        buf += c
except OSError:
    pass
print(buf.decode(errors="replace"))
code = os.WEXITSTATUS(status)
print("exit", code)
sys.exit(0 if code == 1 else 1)      # 1: the bad file is there (scan)
PY
eq "prompt: unlocked" "$(jget prompt.json 'r["targets"][0]["volumes"][0]["bitlocker"]["unlocked_with"]["source"]')" prompt
eq "prompt: bad file seen" "$(jget prompt.json 'r["targets"][0]["volumes"][0]["installs"][0]["findings"][0]["verdict"]')" bad
eq "prompt: protector to rotate" "$(jget prompt.json 'r["bitlocker_protectors_used"][0]["protector"]')" "{64311DEA-4587-4029-924A-BA299647998E}"
check "prompt rejected the bad block at once" grep -q "block 1 is not a multiple of 11\|block 1" pty.log
check "the key never reaches the report" bash -c "! grep -q 235818 prompt.json"
done_tests
