#!/usr/bin/env python3
"""Checks that the fleet dashboard page (this folder) is well-formed.

  check-page.py html PAGE_DIR LOOPBREAKER   the HTML of fleet.html and of the
                                            page `loopbreaker fleet` writes
  check-page.py js PAGE_DIR                 node --check fleet.js

Run by ctest (recover/CMakeLists.txt: fleet/page-html, fleet/page-js).
Exit 0 pass, 1 fail, 77 skip (node not installed): a check that cannot run
says SKIP, never PASS.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}
SKIP = 77


class Page(html.parser.HTMLParser):
    """Elements nest and close (no optional end tags are left out in this
    page), ids are unique; collects what the checks below look at."""

    def __init__(self, name):
        super().__init__(convert_charrefs=True)
        self.name, self.errors = name, []
        self.stack, self.ids = [], {}
        self.scripts, self.styles, self.links, self.comments, self.refs = [], 0, [], [], []
        self.doctype, self.csp, self._text = False, False, None

    def err(self, msg):
        line, col = self.getpos()
        self.errors.append("%s:%d:%d: %s" % (self.name, line, col + 1, msg))

    def handle_decl(self, decl):
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            if a["id"] in self.ids:
                self.err("duplicate id %r (first on line %d)" % (a["id"], self.ids[a["id"]]))
            self.ids.setdefault(a["id"], self.getpos()[0])
        for k in ("src", "href"):
            if k in a:
                self.refs.append(a[k])
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = "default-src 'none'" in (a.get("content") or "")
        if tag == "link":
            self.links.append(a)
        if tag == "style":
            self.styles += 1
        if tag == "script":
            self.scripts.append([a, ""])
            self._text = self.scripts[-1]
        if tag not in VOID:
            self.stack.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.err("<%s/>: not a void element" % tag)
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.err("</%s>: void element" % tag)
            return
        if not self.stack:
            self.err("</%s> closes nothing" % tag)
            return
        top, line = self.stack.pop()
        if top != tag:
            self.err("</%s> closes <%s> of line %d" % (tag, top, line))
        if tag == "script":
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text[1] += data

    def handle_comment(self, data):
        self.comments.append(data)

    def finish(self):
        self.close()
        for tag, line in self.stack:
            self.err("<%s> of line %d is never closed" % (tag, line))
        if not self.doctype:
            self.err("no <!DOCTYPE html>")
        if not self.csp:
            self.err("no Content-Security-Policy with default-src 'none'")
        return self


def parse(name, text):
    p = Page(name)
    p.feed(text)
    return p.finish()


def check_source(d):
    """page/fleet.html as edited, with fleet.css and fleet.js beside it."""
    src = open(os.path.join(d, "fleet.html"), encoding="utf-8").read()
    js = open(os.path.join(d, "fleet.js"), encoding="utf-8").read()
    css = open(os.path.join(d, "fleet.css"), encoding="utf-8").read()
    p = parse("fleet.html", src)
    errs = p.errors
    if [l.get("href") for l in p.links] != ["fleet.css"]:
        errs.append("fleet.html: want one <link rel=\"stylesheet\" href=\"fleet.css\">")
    if [s[0].get("src") for s in p.scripts] != ["fleet.js"]:
        errs.append("fleet.html: want one <script src=\"fleet.js\"></script> and no other script")
    if p.styles:
        errs.append("fleet.html: CSS goes in fleet.css, not in a <style> element")
    if sum("@fleet-data@" in c for c in p.comments) != 1:
        errs.append("fleet.html: want one <!-- @fleet-data@ --> comment (where the data goes)")
    for r in p.refs:
        if r not in ("fleet.css", "fleet.js", "fleet.csv", "fleet-summary.json"):
            errs.append("fleet.html: reference to %r (the page must be self-contained)" % r)
    # every element the script looks up by a literal id is in the page
    for i in sorted(set(re.findall(r"\$\('([^']+)'\)", js))):
        if i not in p.ids:
            errs.append("fleet.js: $('%s'): no element with that id in fleet.html" % i)
    for s in re.findall(r"'(needs_attention|fixed|error|clean)'", js):
        for pre in ("n-", "p-"):
            if pre + s not in p.ids:
                errs.append("fleet.html: no #%s%s for the totals" % (pre, s))
    # CSS: comments closed, braces balanced
    bare = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    if "/*" in bare or "*/" in bare:
        errs.append("fleet.css: unterminated comment")
    depth = 0
    for n, line in enumerate(bare.split("\n"), 1):
        depth += line.count("{") - line.count("}")
        if depth < 0:
            errs.append("fleet.css:%d: '}' closes nothing" % n)
            depth = 0
    if depth:
        errs.append("fleet.css: %d '{' never closed" % depth)
    for name, text in (("fleet.js", js), ("fleet.css", css)):
        if "</" in text:
            errs.append("%s: '</' would end the inline element early" % name)
    return errs


REPORT = {
    "schema": "loopbreaker-report/1", "mode": "fix", "status": "needs_attention",
    "started_at": "2024-07-19T06:00:00Z", "finished_at": "2024-07-19T06:01:00Z",
    "hostname": "EVIL</script><script>alert(1)</script><!--",
    "reasons": ["a reason with <b>markup</b> & an ampersand"],
    "bitlocker_protectors_used": [{"protector": "{AAAA}"}], "targets": [],
}


def check_output(lb):
    """The page `loopbreaker fleet` writes: page/ put together, data inside."""
    errs = []
    with tempfile.TemporaryDirectory() as t:
        os.mkdir(os.path.join(t, "r"))
        with open(os.path.join(t, "r", "report.json"), "w") as f:
            json.dump(REPORT, f)
        title = "fleet </script> & <title>"
        r = subprocess.run([lb, "fleet", "-q", "--title", title, "-o", os.path.join(t, "out"),
                            os.path.join(t, "r")], capture_output=True, text=True)
        if r.returncode != 0:
            return ["loopbreaker fleet exited %d: %s" % (r.returncode, r.stderr.strip())]
        text = open(os.path.join(t, "out", "fleet.html"), encoding="utf-8").read()
    p = parse("out/fleet.html", text)
    errs += p.errors
    if p.styles != 1 or p.links:
        errs.append("out/fleet.html: want the CSS inline, in one <style>")
    kinds = [(s[0].get("id"), s[0].get("type"), s[0].get("src")) for s in p.scripts]
    want = [("fleet-meta", "application/json", None), ("fleet-rows", "application/json", None),
            (None, None, None)]
    if kinds != want:
        errs.append("out/fleet.html: script elements %r, want %r" % (kinds, want))
        return errs
    meta, rows = (json.loads(s[1]) for s in p.scripts[:2])
    if meta.get("title") != title or meta.get("schema") != "loopbreaker-fleet/1":
        errs.append("out/fleet.html: fleet-meta %r" % meta)
    if len(rows) != 1 or rows[0][0] != REPORT["hostname"] or rows[0][2] != "needs_attention":
        errs.append("out/fleet.html: fleet-rows %r" % rows)
    if "@fleet-data@" in text or 'src="fleet.js"' in text:
        errs.append("out/fleet.html: page/ not put together (marker or script src left)")
    if p.refs != ["fleet.csv", "fleet-summary.json"]:
        errs.append("out/fleet.html: references %r (only fleet.csv, fleet-summary.json)" % p.refs)
    return errs


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "js":
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            print("SKIP: node not installed: fleet.js not syntax-checked")
            return SKIP
        r = subprocess.run([node, "--check", os.path.join(d, "fleet.js")],
                           capture_output=True, text=True)
        sys.stderr.write(r.stderr)
        print("%s: node --check fleet.js" % ("PASS" if r.returncode == 0 else "FAIL"))
        return 0 if r.returncode == 0 else 1
    errs = check_source(d) + check_output(sys.argv[3])
    for e in errs:
        print("FAIL: " + e)
    if not errs:
        print("PASS: fleet.html, fleet.css and the page loopbreaker writes are well-formed")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
