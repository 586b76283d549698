#!/usr/bin/env python3
"""marks.py SERIAL OUT: while a test VM runs, timestamps boot milestones as
they appear in its serial log (polled every 0.1 s), in seconds of wall clock
since this script started (tests/boot/run.sh starts it right before QEMU).
OUT gets one "name=seconds" per line as each is seen; run.sh kills the
script when QEMU exits (SIGTERM: one last look, whose marks read
"name<=seconds").  For docs/performance.md; never asserted (timings
depend on the machine's load)."""
import signal
import sys
import time

serial, out = sys.argv[1], sys.argv[2]
t0 = time.time()
MARKS = [(b'BdsDxe: loading', 'firmware'),      # OVMF picked the boot device
         (b'Welcome to GRUB', 'grub'),
         (b'Booting `', 'menu_done'),           # GRUB loads kernel + initrd
         (b'EFI stub:', 'kernel'),              # kernel running (UEFI)
         (b'/init started', 'init'),
         (b'drivers loaded', 'drivers'),
         (b'disks ready', 'disks'),
         (b'running: loopbreaker', 'run'),
         (b'RESULT status=', 'report')]         # report synced, screen drawn
seen = set()
f = open(out, 'w')


def scan(last=False):
    """Records the marks now in the log; on the last look (QEMU has exited:
    the guest wrote them within the final 0.1 s) as "name<=seconds"."""
    try:
        with open(serial, 'rb') as s:
            data = s.read()
    except OSError:
        data = b''
    for pat, name in MARKS:
        if name not in seen and pat in data:
            seen.add(name)
            f.write('%s%s%.1f\n' % (name, '<=' if last else '=', time.time() - t0))
            f.flush()


def last_look(signum, frame):
    scan(last=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, last_look)
while len(seen) < len(MARKS):
    scan()
    time.sleep(0.1)
