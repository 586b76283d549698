#!/usr/bin/env bash
# The demo, on a fresh Debian 12 machine (as root: image set-up uses an
# ntfs-3g FUSE mount; loopbreaker itself never mounts anything):
# install dependencies, build, make a broken Windows disk image, scan it,
# fix it, show the report and the evidence bundle, scan again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing dependencies (Debian packages)"
scripts/install-deps.sh
say "Building"
scripts/build.sh build
LB=$root/build/loopbreaker

work=$root/build/demo
rm -rf "$work" && mkdir -p "$work" && cd "$work"
say "Making a broken Windows disk image (scripts/demo.spec)"
LB_BUILD=$root/build python3 "$root/scripts/mkimage.py" "$root/scripts/demo.spec" broken-windows.img
ls -lhs broken-windows.img

say "loopbreaker scan broken-windows.img   (read-only)"
"$LB" scan broken-windows.img || true

say "loopbreaker fix broken-windows.img"
"$LB" fix --evidence evidence.tar.zst --report report.json broken-windows.img

say "The report (report.json, abridged)"
python3 - report.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("status:", r["status"], " exit:", r["exit_code"], " host:", r["hostname"])
for t in r["targets"]:
    for v in t["volumes"]:
        for i in v.get("installs", []):
            print("volume p%d %s: %s build %s, %s" % (v["partition"], i["system_root"],
                  i["product_name"], i["build"], v["status"]))
            for f in i["findings"]:
                print("  %-8s %s %s\n           %s -> %s" % (f["verdict"], f["mtime"], f["sha256"][:16],
                      f["path"], f["quarantine_path"] or f["action"]))
print("evidence:", r["evidence"])
PY

say "The evidence bundle"
tar --zstd -tvf evidence.tar.zst

say "loopbreaker scan broken-windows.img   (after the fix)"
"$LB" scan broken-windows.img

say "loopbreaker fix again: nothing to do, nothing written"
before=$(sha256sum < broken-windows.img)
"$LB" fix --evidence evidence2.tar.zst broken-windows.img > /dev/null
[ "$before" = "$(sha256sum < broken-windows.img)" ] && echo "image unchanged by the second fix"
echo
echo "Files are in $work"
