#!/usr/bin/env python3
"""sample-sparse.py SAMPLE.raw.gz OUT [--partition]

A sparse copy of a Windows-made NTFS disk sample (../shared/data/ntfs/*.gz,
MBR + one NTFS partition).  The samples are filled with a PTRN test pattern
wherever NTFS has not written, so a plain copy costs its full size on disk
(256 MiB and 1 GiB) for every test that needs one.  Here:

  - 4 KiB blocks of zeros become holes (exact: holes read as zeros);
  - 4 KiB blocks of the PTRN fill that lie in clusters the volume's $Bitmap
    marks free become holes too (free space: NTFS gives it no meaning);
  - every other byte is copied as it is.  A PTRN block outside the
    partition or in an allocated cluster is written back from a second pass
    over the sample, so the result is the sample with free space zeroed.

--partition writes the NTFS partition alone (what mkntfs would make) instead
of the whole disk.  Standard library only.
"""
import gzip
import os
import struct
import sys

BLOCK = 4096
CHUNK = 1 << 20
PTRN = b"PTRN" * (BLOCK // 4)
ZERO = bytes(BLOCK)


def ntfs_partition(head):
    """(offset, size) of the first NTFS (type 7) MBR partition."""
    if head[510:512] != b"\x55\xaa":
        raise SystemExit("sample-sparse: no MBR signature")
    for i in range(4):
        e = 446 + 16 * i
        ptype = head[e + 4]
        start, count = struct.unpack_from("<II", head, e + 8)
        if ptype == 7 and count:
            return start * 512, count * 512
    raise SystemExit("sample-sparse: no NTFS partition in the MBR")


def fixups(rec):
    rec = bytearray(rec)
    usa_ofs, usa_cnt = struct.unpack_from("<HH", rec, 4)
    for i in range(1, usa_cnt):
        pos = i * 512 - 2
        rec[pos:pos + 2] = rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2]
    return bytes(rec)


def bitmap(f, vol):
    """The volume's $Bitmap (bytes) and its cluster size, read from OUT."""
    f.seek(vol)
    bs = f.read(512)
    if bs[3:11] != b"NTFS    ":
        raise SystemExit("sample-sparse: partition is not NTFS")
    spc = bs[0x0D]
    cluster = struct.unpack_from("<H", bs, 0x0B)[0] * spc
    mft_lcn = struct.unpack_from("<Q", bs, 0x30)[0]
    c = struct.unpack_from("<b", bs, 0x40)[0]
    record = c * cluster if c > 0 else 1 << -c
    f.seek(vol + mft_lcn * cluster + 6 * record)
    rec = fixups(f.read(record))
    if rec[:4] != b"FILE":
        raise SystemExit("sample-sparse: $Bitmap record unreadable")
    a = struct.unpack_from("<H", rec, 0x14)[0]
    while a + 8 <= len(rec):
        atype, alen = struct.unpack_from("<II", rec, a)
        if atype == 0xFFFFFFFF or alen == 0:
            break
        if atype == 0x80 and rec[a + 9] == 0 and rec[a + 8]:
            size = struct.unpack_from("<Q", rec, a + 0x30)[0]
            p = a + struct.unpack_from("<H", rec, a + 0x20)[0]
            lcn, out = 0, bytearray()
            while rec[p]:
                ln, lo = rec[p] & 15, rec[p] >> 4
                count = int.from_bytes(rec[p + 1:p + 1 + ln], "little")
                lcn += int.from_bytes(rec[p + 1 + ln:p + 1 + ln + lo], "little", signed=True)
                f.seek(vol + lcn * cluster)
                out += f.read(count * cluster)
                p += 1 + ln + lo
            return bytes(out[:size]), cluster
        a += alen
    raise SystemExit("sample-sparse: no $Bitmap data")


def main():
    args = [a for a in sys.argv[1:] if a != "--partition"]
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    src, out = args
    part_only = "--partition" in sys.argv
    with gzip.open(src) as g:
        head = g.read(512)
    vol, vsize = ntfs_partition(head)
    lo, hi = (vol, vol + vsize) if part_only else (0, None)
    ptrn = []                       # byte offsets (in the sample) of PTRN blocks
    tmp = out + ".tmp"
    with gzip.open(src) as g, open(tmp, "wb") as f:
        off = 0
        while True:
            chunk = g.read(CHUNK)
            if not chunk:
                break
            for i in range(0, len(chunk), BLOCK):
                b = chunk[i:i + BLOCK]
                at = off + i
                if at < lo or (hi is not None and at >= hi) or b == ZERO[:len(b)]:
                    continue
                if b == PTRN:
                    ptrn.append(at)
                    continue
                f.seek(at - lo)
                f.write(b)
            off += len(chunk)
        f.truncate((hi if hi is not None else off) - lo)
    # PTRN blocks that must stay: outside the volume or in allocated clusters
    with open(tmp, "rb") as f:
        bm, cluster = bitmap(f, vol - lo)
    keep = set()
    for at in ptrn:
        if not vol <= at < vol + vsize:
            keep.add(at)
            continue
        first, last = (at - vol) // cluster, (at - vol + BLOCK - 1) // cluster
        for c in range(first, last + 1):
            if c // 8 >= len(bm) or bm[c // 8] >> (c % 8) & 1:
                keep.add(at)
                break
    if keep:
        with open(tmp, "r+b") as f:
            for at in sorted(keep):
                f.seek(at - lo)
                f.write(PTRN)
    os.rename(tmp, out)
    print("sample-sparse: %s -> %s: %d PTRN blocks, %d freed, %d kept" %
          (os.path.basename(src), out, len(ptrn), len(ptrn) - len(keep), len(keep)), file=sys.stderr)


if __name__ == "__main__":
    main()
