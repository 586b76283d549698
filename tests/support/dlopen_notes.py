#!/usr/bin/env python3
"""Prints the ELF .note.dlopen entries of a binary, one line each:
   OWNER TYPE FEATURE PRIORITY SONAME[,SONAME...]
(https://systemd.io/ELF_DLOPEN_METADATA/), sorted by feature.  Checks the
section is SHT_NOTE, allocated and read-only, and each descriptor is
NUL-terminated JSON; exits non-zero (with a message) otherwise."""
import json
import struct
import sys

d = open(sys.argv[1], 'rb').read()
assert d[:4] == b'\x7fELF' and d[4] == 2 and d[5] == 1, 'not a little-endian ELF64 file'
shoff, = struct.unpack_from('<Q', d, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3a)


def sh(i):
    return struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize)


stroff = sh(shstrndx)[4]
out = []
for i in range(shnum):
    name, typ, flags, addr, off, size, *_ = sh(i)
    nm = d[stroff + name:d.index(b'\0', stroff + name)].decode()
    if nm != '.note.dlopen':
        continue
    # SHT_NOTE, allocated (SHF_ALLOC), not writable
    assert typ == 7 and flags & 2 and not flags & 1, 'section type/flags %d/%#x' % (typ, flags)
    p, end = off, off + size
    while p + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from('<III', d, p)
        if namesz == 0:       # zero padding between notes of different objects
            p += 4
            continue
        owner = d[p + 12:p + 12 + namesz].rstrip(b'\0').decode()
        q = p + 12 + (namesz + 3) // 4 * 4
        desc = d[q:q + descsz]
        assert desc.endswith(b'\0'), 'descriptor not NUL-terminated'
        for e in json.loads(desc.rstrip(b'\0')):
            out.append('%s %#x %s %s %s' % (owner, ntype, e['feature'], e['priority'],
                                            ','.join(e['soname'])))
        p = q + (descsz + 3) // 4 * 4
print('\n'.join(sorted(out, key=lambda l: l.split()[2])))
