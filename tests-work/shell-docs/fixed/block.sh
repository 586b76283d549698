# 1. the bundle is the one the report names
sha256sum ev.tar.zst                        # = report .evidence.sha256

# 2. list and extract
tar --zstd -tvf ev.tar.zst
#   -rw------- 0/0   1161 2026-11-29 01:43 manifest.json
#   -rw------- 0/0  40960 2024-07-19 04:09 files/001/C-00000291-00000000-00000032.sys
mkdir x && tar --zstd -xf ev.tar.zst -C x

# 3. every member matches its manifest entry
python3 - x <<'EOF'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for e in m["entries"]:
    data = open(os.path.join(d, e["archive_path"]), "rb").read()
    want = e.get("sha256")
    got = hashlib.sha256(data).hexdigest()
    print("ok " if got == want or e["action"] == "complete_hive_swap" else "BAD", e["archive_path"])
EOF
sha256sum x/files/001/*                     # = entry .sha256 = report finding .sha256
