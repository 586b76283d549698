#!/usr/bin/env python3
"""Fenced code blocks of README.md and docs/*.md, for tests/shell/docs.sh.

Every fenced block must be marked by the line right before its opening
fence (see docs/doc-tests.md):

    <!-- doc-test: KIND [ARG...] -->

  doc-blocks.py [--root DIR] check          unmarked blocks / unknown kinds: exit 1
  doc-blocks.py [--root DIR] list           one line per block: FILE:LINE KIND ARGS
  doc-blocks.py [--root DIR] get FILE:LINE  the block's text (indent removed)
  doc-blocks.py [--root DIR] transcript FILE:LINE
        run the "$ command" lines of a transcript block with bash in the
        current directory and compare what they print (stdout and stderr)
        with the lines that follow them; exit 1 on a difference
  doc-blocks.py [--root DIR] cmdopts        every "loopbreaker SUB ... --opt" in
        any block (illustrations too): FILE:LINE SUB --opt
Standard library only.
"""
import glob
import os
import re
import subprocess
import sys

KINDS = {
    "illustration": "not run: a diagram, sample output, a syntax summary, or "
                    "commands for other systems (the text after the kind says why)",
    "sh": "a shell recipe run in a scratch directory (ARG: the set-up, see docs.sh)",
    "transcript": "'$ command' lines and their output, run and compared (ARG: the set-up)",
    "nginx": "nginx configuration: nginx -t, then a real PUT through it",
    "dnsmasq": "dnsmasq configuration: dnsmasq --test",
    "systemd": "systemd units ('# /etc/systemd/system/NAME' starts each): systemd-analyze verify",
    "json": "one JSON document: must parse",
    "mkimage": "a scripts/mkimage.py spec: the image is built",
}
MARK = re.compile(r"^\s*<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def doc_files(root):
    files = [os.path.join(root, "README.md")]
    files += sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    return [f for f in files if os.path.exists(f)]


class Block:
    def __init__(self, path, line, lang, kind, args, text):
        self.path, self.line, self.lang = path, line, lang
        self.kind, self.args, self.text = kind, args, text

    def where(self):
        return "%s:%d" % (self.path, self.line)


def blocks(root):
    out = []
    for f in doc_files(root):
        rel = os.path.relpath(f, root)
        lines = open(f, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            indent, fence, lang = m.group(1), m.group(2), m.group(3).strip()
            start = i
            body = []
            i += 1
            while i < len(lines):
                c = FENCE.match(lines[i])
                if c and c.group(2)[0] == fence[0] and len(c.group(2)) >= len(fence) \
                        and c.group(3).strip() == "":
                    break
                ln = lines[i]
                body.append(ln[len(indent):] if ln.startswith(indent) else ln.lstrip())
                i += 1
            i += 1
            kind, args = None, ""
            if start > 0:
                mk = MARK.match(lines[start - 1])
                if mk:
                    kind, args = mk.group(1), mk.group(2)
            out.append(Block(rel, start + 1, lang, kind, args,
                             "\n".join(body) + "\n"))
    return out


def find(root, where):
    for b in blocks(root):
        if b.where() == where:
            return b
    sys.exit("doc-blocks: no block at %s" % where)


def check(root):
    bad = 0
    for b in blocks(root):
        if b.kind is None:
            print("%s: fenced block (%s) has no <!-- doc-test: KIND --> line before it"
                  % (b.where(), b.lang or "no language"), file=sys.stderr)
            bad += 1
        elif b.kind not in KINDS:
            print("%s: unknown doc-test kind '%s' (known: %s)"
                  % (b.where(), b.kind, ", ".join(sorted(KINDS))), file=sys.stderr)
            bad += 1
        elif b.kind == "illustration" and not b.args:
            print("%s: an illustration says why it is not run" % b.where(), file=sys.stderr)
            bad += 1
    return 1 if bad else 0


# --- transcripts -----------------------------------------------------------
# Normalised on both sides: quarantine stamps (20261129T014317Z) and
# fractional-second NTFS times of directories made by the run.  A line "…"
# (or "...") in the expected output matches any number of lines.
NORM = [
    (re.compile(r"\b\d{8}T\d{6}Z\b"), "<STAMP>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"), "<NOW>"),
]


def norm(s):
    for r, t in NORM:
        s = r.sub(t, s)
    return s.rstrip()


def match(expected, got):
    """expected lines may hold '…' (any lines)."""
    if not expected:
        return not got
    if expected[0] in ("…", "..."):
        return any(match(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and match(expected[1:], got[1:])


def transcript(root, where):
    b = find(root, where)
    steps = []  # (command, [expected lines])
    for ln in b.text.rstrip("\n").split("\n"):
        if ln.startswith("$ "):
            steps.append((ln[2:], []))
        elif steps:
            steps[-1][1].append(ln)
        else:
            sys.exit("doc-blocks: %s: transcript does not start with '$ '" % where)
    rc, bad = 0, 0
    for cmd, want in steps:
        p = subprocess.run(["bash", "-c", "(exit %d); %s" % (rc, cmd)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        rc = p.returncode
        got = [norm(x) for x in p.stdout.decode("utf-8", "replace").rstrip("\n").split("\n")]
        if got == [""]:
            got = []
        want_n = [norm(x) for x in want]
        if not match(want_n, got):
            bad += 1
            print("%s: $ %s\n--- the docs say\n%s\n--- it printed (exit %d)\n%s\n---"
                  % (where, cmd, "\n".join(want_n), rc, "\n".join(got)), file=sys.stderr)
    return 1 if bad else 0


# --- options named next to "loopbreaker SUB" ---------------------------------
SUBS = ("scan", "fix", "undo", "ls", "keys", "upload", "fleet", "playbooks")
CMD = re.compile(r"(?:^|[\s/('\"`$])loopbreaker(?:-test)?\s+(" + "|".join(SUBS) + r")\b(.*)")


def cmdopts(root):
    for b in blocks(root):
        lines = b.text.split("\n")
        for n, ln in enumerate(lines):
            m = CMD.search(ln)
            if not m:
                continue
            sub, rest = m.group(1), m.group(2)
            k = n
            while rest.rstrip().endswith("\\") and k + 1 < len(lines):  # continuation lines
                k += 1
                rest += " " + lines[k]
            rest = re.split(r"\s#\s|[|;]|&&|\$\(", rest)[0]  # up to a comment, pipe or next command
            for o in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest))):
                print("%s:%d %s %s" % (b.path, b.line + 1 + n, sub, o))
    return 0


def main(argv):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if len(argv) > 2 and argv[1] == "--root":
        root, argv = argv[2], [argv[0]] + argv[3:]
    root = os.path.normpath(root)
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "check":
        return check(root)
    if cmd == "list":
        for b in blocks(root):
            print(("%s %s %s" % (b.where(), b.kind or "-", b.args)).rstrip())
        return 0
    if cmd == "get" and len(argv) == 3:
        sys.stdout.write(find(root, argv[2]).text)
        return 0
    if cmd == "transcript" and len(argv) == 3:
        return transcript(root, argv[2])
    if cmd == "cmdopts":
        return cmdopts(root)
    if cmd == "kinds":
        for k in sorted(KINDS):
            print("%-13s %s" % (k, KINDS[k]))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
