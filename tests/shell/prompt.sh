#!/usr/bin/env bash
# The attended BitLocker prompt: on a terminal, with no key file, scan asks
# for the recovery key of the volume's recovery protector, shows its ID as
# Windows does, rejects a wrong 6-digit block the moment it is typed, then
# accepts the 48 digits typed without dashes and unlocks.  Enter on a
# short key says how many digits are missing, a letter gets "digits only",
# Ctrl-U clears the line.  Without a terminal (or with --no-prompt) it never
# asks, and the reason says "or run attended"; a key skipped at the prompt
# gets a reason that says so instead (it was attended).  No digit typed
# reaches the report.
. "$(dirname "$0")/lib.bash"

bitlocker_volume enc.img
run 1 scan --no-prompt enc.img
eq "no prompt: locked" "$(jget last.json 'r["targets"][0]["volumes"][0]["bitlocker"]["unlocked"]')" False
check "unattended: the reason says run attended" grep -q 'give --keys with the escrow export, or run attended' last.json

# ptylib.py: loopbreaker on a pseudo-terminal, and expect(TEXT) on what it shows
cat > ptylib.py <<'PY'
import os, pty, select, time

def spawn(lb, args):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(lb, [lb] + args)
    state = {"buf": b""}

    def expect(what, timeout=60):
        end = time.time() + timeout
        while what.encode() not in state["buf"]:
            r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
            if not r:
                raise SystemExit("timeout waiting for %r; got %r" % (what, state["buf"][-400:]))
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                raise SystemExit("EOF waiting for %r; got %r" % (what, state["buf"][-400:]))
            state["buf"] += chunk
        print("saw:", what)
    return pid, fd, expect, state
PY

python3 - "$LB" enc.img <<'PY' > pty.log 2>&1 || fail "attended prompt (see $WORK/pty.log)"
import os, select, sys, time
sys.path.insert(0, ".")
from ptylib import spawn
pid, fd, expect, st = spawn(sys.argv[1], ["scan", "--report", "prompt.json", sys.argv[2]])
expect("Recovery key ID: 64311DEA")
expect("Type the 48 digits")
os.write(fd, b"123456")              # 123456 is not a multiple of 11
expect("block 1")
os.write(fd, b"23581835795125397901336524112024557534291459191\r")   # 47 digits
expect("47 of 48 digits: 1 missing")
os.write(fd, b"l")                   # a letter for a 1: said, not dropped silently
expect("digits only: 'l' ignored (type 1)")
os.write(fd, b"0\r")                 # the 48th digit: the line was kept
_, status = os.waitpid(pid, 0)
buf = st["buf"]
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

# Ctrl-U clears what was typed; Enter on the then empty line skips the key
python3 - "$LB" enc.img <<'PY' > pty-skip.log 2>&1 || fail "skipping at the prompt (see $WORK/pty-skip.log)"
import os, select, sys, time
sys.path.insert(0, ".")
from ptylib import spawn
pid, fd, expect, st = spawn(sys.argv[1], ["scan", "--report", "skip.json", sys.argv[2]])
expect("Type the 48 digits")
os.write(fd, b"235818357")
expect("235818-357")
os.write(fd, b"\x15\r")            # Ctrl-U, then Enter on an empty line: skip
end, done = time.time() + 60, 0
buf = st["buf"]
while not done and time.time() < end:
    r, _, _ = select.select([fd], [], [], 1)
    if r:
        try:
            c = os.read(fd, 4096)
        except OSError:
            c = b""
        buf += c
    done, status = os.waitpid(pid, os.WNOHANG)
if not done:
    os.kill(pid, 9)
    raise SystemExit("still running 60 s after Ctrl-U + Enter (not skipped?); got %r" % buf[-400:])
print(buf.decode(errors="replace"))
if b"of 48 digits" in buf:
    raise SystemExit("Ctrl-U did not clear the line")
code = os.WEXITSTATUS(status)
print("exit", code)
sys.exit(0 if code == 1 else 1)      # 1: the volume stays locked
PY
eq "skipped: locked" "$(jget skip.json 'r["targets"][0]["volumes"][0]["bitlocker"]["unlocked"]')" False
check "skipped: the reason says it was skipped at the prompt" grep -q 'no key was found for recovery protector {64311DEA-4587-4029-924A-BA299647998E} (skipped at the prompt: give --keys with the escrow export, or type the key when asked)' skip.json
check "skipped: the reason does not say run attended" bash -c "! grep -q 'run attended' skip.json"
check "skipped: no typed digit in the report" bash -c "! grep -q 235818 skip.json"
done_tests
