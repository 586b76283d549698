#!/usr/bin/env python3
"""mkimage.py SPEC OUT.img - make a broken-Windows disk image from a spec.

Test set-up only.  The partition table (GPT or MBR, 512- or 4096-byte
sectors) is written here; every partition is built as its own sparse file
(mkntfs / mkfs.vfat), NTFS ones filled through an ntfs-3g FUSE mount, then
copied into the disk image at its offset with dd conv=notrunc,sparse.  No
loop devices.  Registry hives come from lb-mkhive ($LB_BUILD/lb-mkhive).

The spec format is described in docs/fixtures.md.  Besides OUT.img it writes
OUT.img.json: the layout and every file written (path, size, mtime, sha256),
for test assertions.

Environment: LB_BUILD (directory holding lb-mkhive; default ./build or .),
LB_SHARED_DATA (Windows-made samples; default <repo>/../shared/data),
LB_MKIMAGE_CACHE (where to keep pieces extracted from the samples).
"""
import binascii
import datetime
import gzip
import hashlib
import json
import lzma
import os
import random
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid

MiB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)

GPT_TYPES = {
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "msr": "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
    "ntfs": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
    "recovery": "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC",
    "raw": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
}
GPT_NAMES = {
    "esp": "EFI system partition",
    "msr": "Microsoft reserved partition",
    "ntfs": "Basic data partition",
    "recovery": "Basic data partition",
    "raw": "Basic data partition",
}
MBR_TYPES = {"esp": 0xEF, "ntfs": 0x07, "recovery": 0x27, "raw": 0x07}
DEFAULT_SIZE = {"esp": 100 * MiB, "msr": 16 * MiB, "ntfs": 192 * MiB,
                "recovery": 64 * MiB, "raw": 16 * MiB}


class SpecError(Exception):
    pass


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMGkmg]?)(i?B?)?", s)
    if not m:
        raise SpecError("bad size %r" % s)
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": MiB, "g": 1 << 30}[m.group(2).lower()]


def parse_time(s):
    """UTC ISO 8601 (2024-07-19T04:09:00Z, fractions allowed) -> ns since 1970."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d{1,9})?Z?", s)
    if not m:
        raise SpecError("bad time %r (want 2024-07-19T04:09:00Z)" % s)
    dt = datetime.datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
    secs = int(dt.replace(tzinfo=datetime.timezone.utc).timestamp())
    frac = m.group(3) or ".0"
    return secs * 10**9 + int((frac[1:] + "000000000")[:9])


def split_line(line):
    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.escape = ""          # backslashes are path separators here
    lex.commenters = "#"
    return list(lex)


def kv(words, allowed, where):
    """Splits key=value words from positional ones."""
    pos, opts = [], {}
    for w in words:
        if "=" in w and not w.startswith("\\"):
            k, v = w.split("=", 1)
            if k not in allowed:
                raise SpecError("%s: unknown option %r (known: %s)" % (where, k, ", ".join(sorted(allowed))))
            opts[k] = v
        else:
            pos.append(w)
    return pos, opts


# ---------------------------------------------------------------- the spec

class Install:
    def __init__(self, root, o):
        self.root = root
        self.hostname = o.get("hostname", "WKS-0001")
        self.product = o.get("product", "Windows 10 Pro")
        self.edition = o.get("edition", "Professional")
        self.build = o.get("build", "19045")
        self.ubr = int(o.get("ubr", "4651"), 0)
        self.display = o.get("display", "22H2")
        # MachineGuid (SOFTWARE\Microsoft\Cryptography): per hostname unless given
        self.machine_guid = o.get("machine_guid", str(guid("machine", self.hostname)))
        self.controlset = int(o.get("controlset", "1"))
        self.hives = [h.upper() for h in o.get("hives", "SYSTEM,SOFTWARE").split(",") if h]
        self.dirty = [h.upper() for h in o.get("dirty", "").split(",") if h]
        self.crowdstrike = o.get("crowdstrike", "yes") != "no"
        self.reg = {"SYSTEM": [], "SOFTWARE": []}
        self.corrupt = {}      # hive name -> garbage|sample|truncate|zero


class FileSpec:
    def __init__(self, path, o, default_content="random", default_size=4096):
        self.path = path
        self.mtime = parse_time(o["mtime"]) if "mtime" in o else None
        self.mtime_text = o.get("mtime")
        self.content = o.get("content", default_content)
        self.size = parse_size(o.get("size", str(default_size)))
        self.source = o.get("from")


class Partition:
    def __init__(self, kind, o, number):
        self.kind = kind
        self.number = number
        self.size = parse_size(o["size"]) if "size" in o else None
        self.label = o.get("label", {"ntfs": "Windows", "recovery": "Recovery", "esp": "SYSTEM"}.get(kind, ""))
        self.bcd = o.get("bcd", "sample")
        self.installs = []
        self.files = []
        self.dirs = []
        self.hiberfil = None
        self.journal = None          # None (mkntfs default, empty) | (state, version)
        self.corrupt_bootsector = None
        self.start = 0               # bytes
        self.uuid = None


class Disk:
    def __init__(self):
        self.table = "gpt"
        self.sector = 512
        self.size = None
        self.vhd = False
        self.truncate = None
        self.partitions = []
        self.seed = "loopbreaker"


def parse_spec(text):
    d = Disk()
    part = None
    inst = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        where = "line %d" % lineno
        try:
            words = split_line(raw)
        except ValueError as e:
            raise SpecError("%s: %s" % (where, e))
        if not words:
            continue
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "table":
                if args[0] not in ("gpt", "mbr", "none"):
                    raise SpecError("table gpt|mbr|none")
                d.table = args[0]
            elif cmd == "sector":
                d.sector = int(args[0])
                if d.sector not in (512, 4096):
                    raise SpecError("sector 512|4096")
            elif cmd == "disk-size":
                d.size = parse_size(args[0])
            elif cmd == "seed":
                d.seed = args[0]
            elif cmd == "vhd":
                d.vhd = True
            elif cmd == "truncate":
                d.truncate = args[0]
            elif cmd in ("esp", "msr", "ntfs", "recovery", "raw"):
                _, o = kv(args, {"size", "label", "bcd"}, where)
                part = Partition(cmd, o, len(d.partitions) + 1)
                d.partitions.append(part)
                inst = None
            elif cmd == "install":
                need_ntfs(part, cmd)
                pos, o = kv(args, {"hostname", "product", "edition", "build", "ubr", "display",
                                   "controlset", "hives", "dirty", "crowdstrike", "machine_guid"}, where)
                inst = Install(pos[0] if pos else "\\Windows", o)
                if not inst.root.startswith("\\"):
                    raise SpecError("SystemRoot must start with a backslash: %r" % inst.root)
                part.installs.append(inst)
            elif cmd == "reg":
                if inst is None:
                    raise SpecError("reg before install")
                hive = args[0].upper()
                if hive not in inst.reg:
                    raise SpecError("reg SYSTEM|SOFTWARE ...")
                # the rest of the raw line, verbatim (lb-mkhive syntax)
                rest = raw.split(None, 2)[2] if len(raw.split(None, 2)) > 2 else ""
                inst.reg[hive].append(rest.strip())
            elif cmd == "channel":
                if inst is None:
                    raise SpecError("channel before install")
                pos, o = kv(args, {"mtime", "content", "size", "from"}, where)
                if len(pos) != 1:
                    raise SpecError("channel NAME [mtime=] [content=] [size=]")
                path = inst.root + "\\System32\\drivers\\CrowdStrike\\" + pos[0]
                part.files.append(FileSpec(path, o, "channel:291", 40960))
            elif cmd == "file":
                need_ntfs(part, cmd)
                pos, o = kv(args, {"mtime", "content", "size", "from"}, where)
                if len(pos) != 1 or not pos[0].startswith("\\"):
                    raise SpecError("file \\PATH [mtime=] [content=] [size=]")
                part.files.append(FileSpec(pos[0], o))
            elif cmd == "dir":
                need_ntfs(part, cmd)
                pos, o = kv(args, {"mtime"}, where)
                part.dirs.append((pos[0], parse_time(o["mtime"]) if "mtime" in o else None))
            elif cmd == "hiberfil":
                need_ntfs(part, cmd)
                pos, o = kv(args, {"size"}, where)
                kind = pos[0] if pos else "hibr"
                if kind not in ("hibr", "HIBR", "wake", "zero"):
                    raise SpecError("hiberfil hibr|HIBR|wake|zero")
                part.hiberfil = (kind, parse_size(o.get("size", "64K")))
            elif cmd == "journal":
                need_ntfs(part, cmd)
                state = args[0] if args else "unclean"
                ver = args[1] if len(args) > 1 else "v1.1"
                if state not in ("clean", "unclean", "empty") or ver not in ("v1.1", "v2", "v2.0"):
                    raise SpecError("journal clean|unclean|empty [v1.1|v2]")
                part.journal = (state, "2.0" if ver.startswith("v2") else "1.1")
            elif cmd == "corrupt":
                if args[0] == "bootsector":
                    need_ntfs(part, cmd)
                    part.corrupt_bootsector = args[1] if len(args) > 1 else "random"
                    if part.corrupt_bootsector not in ("random", "zero", "both"):
                        raise SpecError("corrupt bootsector [random|zero|both]")
                elif args[0] == "hive":
                    if inst is None:
                        raise SpecError("corrupt hive before install")
                    how = args[2] if len(args) > 2 else "sample"
                    if args[1].upper() not in ("SYSTEM", "SOFTWARE") or how not in HIVE_DAMAGE:
                        raise SpecError("corrupt hive SYSTEM|SOFTWARE [%s]" % "|".join(HIVE_DAMAGE))
                    inst.corrupt[args[1].upper()] = how
                else:
                    raise SpecError("corrupt bootsector|hive")
            else:
                raise SpecError("unknown statement %r" % cmd)
        except IndexError:
            raise SpecError("%s: missing argument for %r" % (where, cmd))
        except SpecError as e:
            if str(e).startswith("line "):
                raise
            raise SpecError("%s: %s" % (where, e))
    if not d.partitions:
        raise SpecError("no partitions")
    if d.table == "none" and len(d.partitions) != 1:
        raise SpecError("table none takes exactly one partition")
    if d.table == "mbr" and (len(d.partitions) > 4 or any(p.kind == "msr" for p in d.partitions)):
        raise SpecError("mbr: at most 4 primary partitions, no msr")
    return d


def need_ntfs(part, cmd):
    if part is None or part.kind not in ("ntfs", "recovery"):
        raise SpecError("%s must follow an ntfs or recovery partition" % cmd)


# ---------------------------------------------------------------- helpers

def run(*argv, **kw):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def seeded_rng(*parts):
    return random.Random(hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest())


def content_bytes(spec, seed):
    c, n = spec.content, spec.size
    rng = seeded_rng(seed, spec.path, c, n)
    if spec.source:
        data = open(spec.source, "rb").read()
        return data
    if c == "zero":
        return bytes(n)
    if c.startswith("channel:"):
        head = b"\xaa\xaa\xaa\xaa\x01\x00" + struct.pack("<H", int(c[8:], 0))
    elif c.startswith("bytes:"):
        head = bytes.fromhex(c[6:].replace(",", "").replace(" ", ""))
    elif c == "random":
        head = b""
    elif c.startswith("text:"):
        return c[5:].encode()
    else:
        raise SpecError("unknown content %r (channel:N|zero|bytes:HEX|random|text:...)" % c)
    head = head[:n]
    return head + rng.randbytes(n - len(head))


def win_to_posix(mnt, path):
    return os.path.join(mnt, *[p for p in path.split("\\") if p])


def shared_data():
    return os.environ.get("LB_SHARED_DATA") or os.path.join(SOURCE, "..", "shared", "data")


def find_mkhive():
    cands = []
    if os.environ.get("LB_BUILD"):
        cands.append(os.path.join(os.environ["LB_BUILD"], "lb-mkhive"))
    cands += [os.path.join(SOURCE, "build", "lb-mkhive"), os.path.abspath("lb-mkhive")]
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    raise RuntimeError("lb-mkhive not found (set LB_BUILD to the build directory)")


class FuseMount:
    """ntfs-3g in the foreground (no_detach), so that when it exits after
    the unmount every byte is on the partition file."""

    def __init__(self, image, mnt):
        self.mnt = mnt
        os.makedirs(mnt, exist_ok=True)
        self.log = open(mnt + ".log", "w")
        self.p = subprocess.Popen(["ntfs-3g", "-o", "no_detach", image, mnt],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(500):
            if os.path.ismount(mnt):
                return
            if self.p.poll() is not None:
                raise RuntimeError("ntfs-3g mount of %s failed: %s" % (image, open(mnt + ".log").read()))
            time.sleep(0.01)
        raise RuntimeError("ntfs-3g mount of %s timed out" % image)

    def close(self):
        subprocess.run(["umount", self.mnt], check=True)
        self.p.wait(timeout=60)
        self.log.close()


# ---------------------------------------------------------------- hives

def system_spec(inst):
    cs = inst.controlset
    lines = [
        "[Select]",
        '"Current"=dword:%d' % cs,
        '"Default"=dword:%d' % cs,
        '"Failed"=dword:0',
        '"LastKnownGood"=dword:%d' % cs,
        "[ControlSet%03d\\Control\\ComputerName\\ComputerName]" % cs,
        '"ComputerName"=sz:%s' % inst.hostname,
        "[ControlSet%03d\\Control\\ComputerName\\ActiveComputerName]" % cs,
        '"ComputerName"=sz:%s' % inst.hostname,
        "[ControlSet%03d\\Services\\Tcpip\\Parameters]" % cs,
        '"Hostname"=sz:%s' % inst.hostname.lower(),
        "[ControlSet%03d\\Services\\CSAgent]" % cs,
        '"Start"=dword:1',
        '"Type"=dword:2',
        '"ImagePath"=expand_sz:\\??\\C:\\Windows\\system32\\drivers\\CrowdStrike\\csagent.sys',
    ]
    if cs != 1:  # a stale control set, as Windows keeps after a last-known-good boot
        lines += ["[ControlSet001\\Control\\ComputerName\\ComputerName]",
                  '"ComputerName"=sz:STALE-NAME']
    return "\n".join(lines + inst.reg["SYSTEM"]) + "\n"


def software_spec(inst):
    lines = [
        "[Microsoft\\Windows NT\\CurrentVersion]",
        '"ProductName"=sz:%s' % inst.product,
        '"EditionID"=sz:%s' % inst.edition,
        '"CurrentBuild"=sz:%s' % inst.build,
        '"CurrentBuildNumber"=sz:%s' % inst.build,
        '"DisplayVersion"=sz:%s' % inst.display,
        '"UBR"=dword:%d' % inst.ubr,
        '"CurrentVersion"=sz:6.3',
        '"SystemRoot"=sz:C:%s' % inst.root,
        '"InstallationType"=sz:Client',
        "[Microsoft\\Cryptography]",
        '"MachineGuid"=sz:%s' % inst.machine_guid,
    ]
    return "\n".join(lines + inst.reg["SOFTWARE"]) + "\n"


def make_hive(mkhive, spec_text, out, dirty):
    argv = [mkhive] + (["--dirty"] if dirty else []) + [out, "-"]
    r = subprocess.run(argv, input=spec_text, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("lb-mkhive failed: %s" % r.stderr)


HIVE_DAMAGE = ("sample", "garbage", "truncate", "zero", "cut", "cell")


def hive_bins(good):
    """(file offset, size) of each hive bin of a hive lb-mkhive made."""
    end = 4096 + struct.unpack_from("<I", good, 40)[0]
    bins, off = [], 4096
    while off < end:
        if good[off:off + 4] != b"hbin":
            raise RuntimeError("hive made by lb-mkhive has no hive bin at 0x%x" % off)
        size = struct.unpack_from("<I", good, off + 8)[0]
        bins.append((off, size))
        off += size
    return bins


def corrupt_hive_bytes(how, good, seed):
    if how == "sample":
        p = os.path.join(shared_data(), "hives", "corrupted_system_hive.xz")
        if os.path.exists(p):
            return lzma.open(p).read()
        how = "garbage"
    if how == "garbage":
        return seeded_rng(seed, "garbage-hive").randbytes(len(good))
    if how == "zero":
        return bytes(len(good))
    if how == "truncate":     # a valid base block whose hive bins are missing
        return good[:4096 + 512]
    bins = hive_bins(good)
    if len(bins) < 2:
        raise RuntimeError("corrupt hive %s needs a hive with two hive bins or more" % how)
    if how == "cut":          # the file ends where its last hive bin starts (hivex opens it)
        return good[:bins[-1][0]]
    if how == "cell":         # full length; the first cell of the last bin gets size -12
        data = bytearray(good)
        struct.pack_into("<i", data, bins[-1][0] + 32, -12)
        return bytes(data)
    raise SpecError(how)


# ---------------------------------------------------------------- NTFS details

def read_boot(f, off=0):
    f.seek(off)
    bs = f.read(512)
    if bs[3:11] != b"NTFS    ":
        raise RuntimeError("not an NTFS boot sector")
    bps = struct.unpack_from("<H", bs, 0x0B)[0]
    spc = bs[0x0D]
    if spc > 0x80:
        spc = 1 << (256 - spc)
    cluster = bps * spc
    mft_lcn = struct.unpack_from("<Q", bs, 0x30)[0]
    cpr = struct.unpack_from("<b", bs, 0x40)[0]
    rec = cpr * cluster if cpr > 0 else 1 << (-cpr)
    return {"bps": bps, "cluster": cluster, "mft_lcn": mft_lcn, "record": rec,
            "sectors": struct.unpack_from("<Q", bs, 0x28)[0],
            "hidden": struct.unpack_from("<I", bs, 0x1C)[0]}


def apply_fixups(rec):
    rec = bytearray(rec)
    usa_ofs, usa_cnt = struct.unpack_from("<HH", rec, 4)
    usn = rec[usa_ofs:usa_ofs + 2]
    for i in range(1, usa_cnt):
        pos = i * 512 - 2
        if pos + 2 > len(rec):
            break
        if rec[pos:pos + 2] != usn:
            raise RuntimeError("MFT record fixup mismatch")
        rec[pos:pos + 2] = rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2]
    return bytes(rec)


def data_runs(f, vol_off, mft_record_no):
    """[(lcn, clusters)] of the unnamed $DATA of a low MFT record (from the
    start of $MFT, which is contiguous for the first records), and the
    data size."""
    b = read_boot(f, vol_off)
    f.seek(vol_off + b["mft_lcn"] * b["cluster"] + mft_record_no * b["record"])
    rec = apply_fixups(f.read(b["record"]))
    if rec[:4] != b"FILE":
        raise RuntimeError("MFT record %d is not a FILE record" % mft_record_no)
    a = struct.unpack_from("<H", rec, 0x14)[0]
    while a + 8 <= len(rec):
        atype, alen = struct.unpack_from("<II", rec, a)
        if atype == 0xFFFFFFFF or alen == 0:
            break
        nonres, name_len = rec[a + 8], rec[a + 9]
        if atype == 0x80 and name_len == 0 and nonres:
            run_off = struct.unpack_from("<H", rec, a + 0x20)[0]
            size = struct.unpack_from("<Q", rec, a + 0x30)[0]
            p, lcn, runs = a + run_off, 0, []
            while rec[p]:
                h = rec[p]
                ln, lo = h & 15, h >> 4
                count = int.from_bytes(rec[p + 1:p + 1 + ln], "little")
                delta = int.from_bytes(rec[p + 1 + ln:p + 1 + ln + lo], "little", signed=True)
                lcn += delta
                runs.append((lcn, count))
                p += 1 + ln + lo
            return b, runs, size
        a += alen
    raise RuntimeError("no non-resident $DATA in MFT record %d" % mft_record_no)


def restart_pages(cache_dir):
    """The two restart pages (8 KiB) of the Windows-made clean v1.1 $LogFile
    of ntfs-lastaccess.raw.gz (NTFS at byte 65536), cached."""
    cached = os.path.join(cache_dir, "rstr-ntfs-lastaccess.bin")
    if os.path.exists(cached):
        return open(cached, "rb").read()
    src = os.path.join(shared_data(), "ntfs", "ntfs-lastaccess.raw.gz")
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir) as tmp:
        with gzip.open(src) as g:       # sparse: zero runs become holes
            zero = bytes(MiB)
            while True:
                chunk = g.read(MiB)
                if not chunk:
                    break
                if chunk == zero[:len(chunk)]:
                    tmp.seek(len(chunk), os.SEEK_CUR)
                else:
                    tmp.write(chunk)
            tmp.truncate(tmp.tell())
        tmp.flush()
        with open(tmp.name, "rb") as f:
            b, runs, _ = data_runs(f, 65536, 2)
            f.seek(65536 + runs[0][0] * b["cluster"])
            pages = f.read(8192)
    if pages[:4] != b"RSTR" or pages[4096:4100] != b"RSTR":
        raise RuntimeError("sample $LogFile does not start with two RSTR pages")
    with open(cached + ".tmp", "wb") as o:
        o.write(pages)
    os.rename(cached + ".tmp", cached)
    return pages


def write_journal(part_img, state, version, cache_dir):
    pages = bytearray(restart_pages(cache_dir))
    with open(part_img, "r+b") as f:
        b, runs, size = data_runs(f, 0, 2)
        lcn, count = runs[0]
        if count * b["cluster"] < 8192:
            raise RuntimeError("$LogFile first run too short")
        for base in (0, 4096):
            p = memoryview(pages)[base:base + 4096]
            ra = struct.unpack_from("<H", p, 0x18)[0]
            flags = struct.unpack_from("<H", p, ra + 0x0E)[0]
            flags = flags | 0x0002 if state == "clean" else flags & ~0x0002
            struct.pack_into("<H", p, ra + 0x0E, flags)
            maj, mnr = (2, 0) if version == "2.0" else (1, 1)
            struct.pack_into("<hh", p, 0x1A, mnr, maj)
            # keep the multi-sector fixups right: bytes 510-511 of every
            # 512-byte block hold the update sequence number
            usa_ofs, usa_cnt = struct.unpack_from("<HH", p, 4)
            usn = bytes(p[usa_ofs:usa_ofs + 2])
            for i in range(1, usa_cnt):
                pos = i * 512 - 2
                if bytes(p[pos:pos + 2]) != usn:
                    # a patched byte landed on a fixup slot: move it to the array
                    p[usa_ofs + 2 * i:usa_ofs + 2 * i + 2] = p[pos:pos + 2]
                    p[pos:pos + 2] = usn
        f.seek(lcn * b["cluster"])
        f.write(pages)
        # the rest of $LogFile stays 0xFF (no log records): Windows' own
        # check treats the volume as needing recovery all the same
    return size


# ---------------------------------------------------------------- partitions

def build_ntfs(d, part, workdir, mkhive, manifest, cache_dir):
    img = os.path.join(workdir, "p%d.img" % part.number)
    with open(img, "wb") as f:
        f.truncate(part.size)
    ss = d.sector
    hidden = part.start // ss
    run("mkntfs", "-F", "-Q", "-q", "-L", part.label, "-s", str(ss), "-p", str(hidden),
        "-H", "255", "-S", "63", img)
    files = []
    mnt = os.path.join(workdir, "mnt%d" % part.number)
    m = FuseMount(img, mnt)
    try:
        hives_dir = os.path.join(workdir, "hives%d" % part.number)
        os.makedirs(hives_dir, exist_ok=True)
        for n, inst in enumerate(part.installs):
            root = win_to_posix(mnt, inst.root)
            for sub in ("System32\\config", "System32\\drivers", "Temp", "Logs"):
                os.makedirs(win_to_posix(root, sub), exist_ok=True)
            if inst.crowdstrike:
                os.makedirs(win_to_posix(root, "System32\\drivers\\CrowdStrike"), exist_ok=True)
            for hive, spec in (("SYSTEM", system_spec(inst)), ("SOFTWARE", software_spec(inst))):
                if hive not in inst.hives:
                    continue
                hp = os.path.join(hives_dir, "%d-%s" % (n, hive))
                make_hive(mkhive, spec, hp, hive in inst.dirty)
                data = open(hp, "rb").read()
                if hive in inst.corrupt:
                    data = corrupt_hive_bytes(inst.corrupt[hive], data, d.seed + inst.root)
                path = inst.root + "\\System32\\config\\" + hive
                with open(win_to_posix(mnt, path), "wb") as o:
                    o.write(data)
                files.append({"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                              "mtime": None})
        for dpath, _ in part.dirs:
            os.makedirs(win_to_posix(mnt, dpath), exist_ok=True)
        if part.hiberfil:
            kind, size = part.hiberfil
            data = {"hibr": b"hibr", "HIBR": b"HIBR", "wake": b"wake", "zero": b"\0\0\0\0"}[kind]
            data += bytes(size - 4)
            with open(os.path.join(mnt, "hiberfil.sys"), "wb") as o:
                o.write(data)
            files.append({"path": "\\hiberfil.sys", "size": size, "mtime": None,
                          "sha256": hashlib.sha256(data).hexdigest()})
        for fs in part.files:
            data = content_bytes(fs, d.seed)
            p = win_to_posix(mnt, fs.path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as o:
                o.write(data)
            # a file written over an install's hive replaces its entry
            files = [f for f in files if f["path"].lower() != fs.path.lower()]
            files.append({"path": fs.path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                          "header": data[:8].hex(), "mtime": fs.mtime_text, "content": fs.content})
        # times last: writing into a directory changes only the directory
        for fs in part.files:
            if fs.mtime is not None:
                os.utime(win_to_posix(mnt, fs.path), ns=(fs.mtime, fs.mtime))
        for dpath, t in part.dirs:
            if t is not None:
                os.utime(win_to_posix(mnt, dpath), ns=(t, t))
    finally:
        m.close()
    if part.journal:
        state, version = part.journal
        if state != "empty":
            write_journal(img, state, version, cache_dir)
    if part.corrupt_bootsector:
        with open(img, "r+b") as f:
            how = part.corrupt_bootsector
            junk = seeded_rng(d.seed, "bootsector", part.number).randbytes(512) if how != "zero" else bytes(512)
            f.write(junk)             # the backup at the end stays intact...
            if how == "both":         # ...unless asked
                f.seek(part.size - ss)
                f.write(junk)
    manifest["files"] = files
    return img


def build_esp(d, part, workdir, manifest):
    img = os.path.join(workdir, "p%d.img" % part.number)
    with open(img, "wb") as f:
        f.truncate(part.size)
    run("mkfs.vfat", "-F", "32", "-S", str(d.sector), "-h", str(part.start // d.sector),
        "-n", part.label[:11] or "SYSTEM", img)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for dd in ("::/EFI", "::/EFI/Microsoft", "::/EFI/Microsoft/Boot", "::/EFI/Boot"):
        run("mmd", "-i", img, dd, env=env)
    bcd = os.path.join(workdir, "BCD")
    sample = os.path.join(shared_data(), "hives", "BCD.xz")
    if part.bcd == "sample" and os.path.exists(sample):
        data = lzma.open(sample).read()
    else:
        data = b"BCD placeholder\n"
    if part.bcd != "none":
        open(bcd, "wb").write(data)
        run("mcopy", "-i", img, bcd, "::/EFI/Microsoft/Boot/BCD", env=env)
        manifest["files"] = [{"path": "\\EFI\\Microsoft\\Boot\\BCD", "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest(), "mtime": None}]
    boot = os.path.join(workdir, "bootmgfw.efi")
    open(boot, "wb").write(b"MZ" + bytes(1022))
    run("mcopy", "-i", img, boot, "::/EFI/Microsoft/Boot/bootmgfw.efi", env=env)
    run("mcopy", "-i", img, boot, "::/EFI/Boot/bootx64.efi", env=env)
    return img


# ---------------------------------------------------------------- tables

def guid(seed, *what):
    return uuid.UUID(bytes=hashlib.sha256(("%s/%s" % (seed, what)).encode()).digest()[:16], version=4)


def write_gpt(f, d, total):
    ss = d.sector
    nsect = total // ss
    entries_sectors = 128 * 128 // ss
    disk_guid = guid(d.seed, "disk")
    ents = bytearray(128 * 128)
    for i, p in enumerate(d.partitions):
        attrs = 0x8000000000000001 if p.kind == "recovery" else 0
        name = GPT_NAMES[p.kind].encode("utf-16-le")[:72]
        struct.pack_into("<16s16sQQQ72s", ents, i * 128, uuid.UUID(GPT_TYPES[p.kind]).bytes_le,
                         p.uuid.bytes_le, p.start // ss, (p.start + p.size) // ss - 1, attrs, name)
    ents_crc = binascii.crc32(ents) & 0xFFFFFFFF

    def header(my_lba, alt_lba, ents_lba):
        h = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0,
                                  my_lba, alt_lba, 2 + entries_sectors,
                                  nsect - 2 - entries_sectors, disk_guid.bytes_le,
                                  ents_lba, 128, 128, ents_crc))
        struct.pack_into("<I", h, 16, binascii.crc32(h) & 0xFFFFFFFF)
        return bytes(h) + bytes(ss - len(h))

    pmbr = bytearray(ss)
    struct.pack_into("<BBBBBBBBII", pmbr, 446, 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                     min(nsect - 1, 0xFFFFFFFF))
    pmbr[510:512] = b"\x55\xaa"
    f.seek(0)
    f.write(pmbr)
    f.write(header(1, nsect - 1, 2))
    f.write(ents)
    f.seek((nsect - 1 - entries_sectors) * ss)
    f.write(ents)
    f.write(header(nsect - 1, 1, nsect - 1 - entries_sectors))


def write_mbr(f, d):
    ss = d.sector
    mbr = bytearray(ss)
    mbr[440:444] = guid(d.seed, "mbr").bytes[:4]
    boot_done = False
    for i, p in enumerate(d.partitions):
        boot = 0
        if not boot_done and p.kind == "ntfs":
            boot, boot_done = 0x80, True
        struct.pack_into("<BBBBBBBBII", mbr, 446 + 16 * i, boot, 0xFE, 0xFF, 0xFF, MBR_TYPES[p.kind],
                         0xFE, 0xFF, 0xFF, p.start // ss, p.size // ss)
    mbr[510:512] = b"\x55\xaa"
    f.seek(0)
    f.write(mbr)


def vhd_footer(size, seed):
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max(4, (cth + 1023) // 1024)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    cyl = cth // heads
    ts = 0x2E0B_0000 & 0xFFFFFFFF  # fixed: reproducible images
    foot = bytearray(struct.pack(">8sIIQI4sI4sQQHBBII16sB", b"conectix", 2, 0x00010000,
                                 0xFFFFFFFFFFFFFFFF, ts, b"lbmk", 0x00010000, b"Wi2k",
                                 size, size, cyl, heads, spt, 2, 0,
                                 guid(seed, "vhd").bytes, 0))
    foot += bytes(512 - len(foot))
    csum = (~sum(foot)) & 0xFFFFFFFF
    struct.pack_into(">I", foot, 64, csum)
    return bytes(foot)


# ---------------------------------------------------------------- main

def build(spec_path, out):
    t0 = time.time()
    if os.path.exists(out) and not os.path.isfile(out) or out.startswith("/dev/"):
        raise SpecError("%s exists and is not a regular file; refusing to replace it" % out)
    text = sys.stdin.read() if spec_path == "-" else open(spec_path).read()
    d = parse_spec(text)
    if d.seed == "loopbreaker":
        d.seed = os.path.basename(out)
    mkhive = find_mkhive() if any(p.installs for p in d.partitions) else None
    cache_dir = os.environ.get("LB_MKIMAGE_CACHE") or os.path.join(
        os.environ.get("LB_BUILD") or tempfile.gettempdir(), "mkimage-cache")
    ss = d.sector
    align = MiB
    # layout
    off = 0 if d.table == "none" else align
    for p in d.partitions:
        if p.size is None:
            p.size = DEFAULT_SIZE[p.kind]
            if p.kind == "esp" and ss == 4096:
                p.size = 260 * MiB       # FAT32 with 4 KiB sectors needs >= 65525 clusters
        p.size = (p.size + ss - 1) // ss * ss
        p.start = off
        p.uuid = guid(d.seed, "part", p.number)
        off = (off + p.size + align - 1) // align * align if d.table != "none" else off + p.size
    total = d.size or (off + (align if d.table != "none" else 0))
    if total < off:
        raise SpecError("disk-size smaller than the partitions")
    total = (total + ss - 1) // ss * ss

    workdir = tempfile.mkdtemp(prefix="lb-mkimage.", dir=os.path.dirname(os.path.abspath(out)))
    layout = {"spec": os.path.abspath(spec_path) if spec_path != "-" else None, "image": out,
              "table": d.table, "sector": ss, "vhd": d.vhd, "partitions": []}
    try:
        tmp_out = out + ".part"
        with open(tmp_out, "wb") as f:
            f.truncate(total)
        for p in d.partitions:
            pm = {"number": p.number if d.table != "none" else 0, "kind": p.kind, "offset": p.start,
                  "size": p.size, "label": p.label, "files": [],
                  "installs": [{"system_root": i.root, "hostname": i.hostname, "product_name": i.product,
                                "edition": i.edition, "build": i.build, "ubr": i.ubr,
                                "display_version": i.display} for i in p.installs]}
            img = None
            if p.kind in ("ntfs", "recovery"):
                img = build_ntfs(d, p, workdir, mkhive, pm, cache_dir)
            elif p.kind == "esp":
                img = build_esp(d, p, workdir, pm)
            if img:
                run("dd", "if=" + img, "of=" + tmp_out, "bs=1M", "seek=%d" % p.start,
                    "oflag=seek_bytes", "conv=notrunc,sparse", "status=none")
                os.unlink(img)
            layout["partitions"].append(pm)
        with open(tmp_out, "r+b") as f:
            if d.table == "gpt":
                write_gpt(f, d, total)
            elif d.table == "mbr":
                write_mbr(f, d)
            if d.truncate:
                t = d.truncate
                cut = total * int(t[:-1]) // 100 if t.endswith("%") else parse_size(t)
                if cut >= total:
                    raise SpecError("truncate %s does not cut the image (%d bytes)" % (t, total))
                f.truncate(cut)
                total = cut
                layout["truncated_to"] = cut
            if d.vhd:
                f.seek(total)
                f.write(vhd_footer(total, d.seed))
        os.rename(tmp_out, out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    layout["size"] = os.path.getsize(out)
    layout["seconds"] = round(time.time() - t0, 2)
    with open(out + ".json", "w") as j:
        json.dump(layout, j, indent=1)
    return layout


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    try:
        build(sys.argv[1], sys.argv[2])
    except SpecError as e:
        print("mkimage: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(2)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print("mkimage: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
