#!/usr/bin/env python3
"""Synthetic loopbreaker reports (schema loopbreaker-report/1) for the fleet
tests and bench: N machines with a known status mix, some machines with
several reports (an older and a newer one), BitLocker protectors, Falcon agent
IDs, and files that are not reports.  --expect writes what `loopbreaker fleet`
must find (latest report per machine by finished_at; every protector any
report of a machine used).

usage: gen-reports.py OUTDIR --count N [--dups D] [--junk J] [--anonymous K]
                      [--seed S] [--nasty] [--expect FILE] [--flat]
"""
import argparse
import datetime
import json
import os
import random
import uuid

STATUSES = [("fixed", 70), ("needs_attention", 12), ("error", 6), ("clean", 12)]
EPOCH = datetime.datetime(2024, 7, 19, 6, 0, 0, tzinfo=datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pick_status(rng):
    x = rng.randrange(100)
    for s, w in STATUSES:
        if x < w:
            return s
        x -= w
    return "fixed"


def finding(status, stamp, rng):
    sha = "%064x" % rng.getrandbits(256)
    f = {
        "playbook": "crowdstrike-2024-07-19", "rule": "channel-291",
        "path": "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys",
        "size": 40960, "mtime": "2024-07-19T04:30:00Z", "sha256": sha,
        "header": "aaaaaaaa01002301", "header_kind": "channel", "verdict": "bad",
        "action": "none", "quarantine_path": None, "reason": None,
    }
    if status == "fixed":
        f["action"] = "quarantined"
        f["quarantine_path"] = "\\loopbreaker.quarantine\\%s\\C-00000291-00000000-00000032.sys" % stamp
    elif status == "needs_attention":
        f["action"] = "would_quarantine"
    elif status == "clean":
        f["verdict"] = "good"
        f["header"] = "0000000000000000"
    return f


def report(host, agent, status, finished, rng, keys=(), mode="fix", registry=0):
    started = finished - datetime.timedelta(seconds=rng.randrange(2, 90))
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    reasons = []
    if status == "needs_attention":
        reasons = [rng.choice([
            "volume 3 is BitLocker-encrypted and locked: no recovery key matched",
            "hibernated volume: Windows was not shut down (use --discard-hibernation)",
            "NTFS journal not replayed (use --discard-journal)"])]
    elif status == "error":
        reasons = ["write error on /dev/nvme0n1 at offset 290455552: Input/output error"]
    findings = [finding(status, stamp, rng)]
    for k in range(registry):
        findings.append({"kind": "registry", "playbook": "crowdstrike-2024-07-19",
                         "rule": "csagent-start-%d" % k, "hive": "SYSTEM",
                         "path": "\\ControlSet001\\Services\\CSAgent\\Start",
                         "verdict": "bad", "action": "set" if status == "fixed" else "none"})
    install = {
        "system_root": "\\Windows", "hostname": host, "domain": "corp.example",
        "product_name": "Windows 11 Enterprise", "edition": "Enterprise", "build": "22631",
        "ubr": 3880, "display_version": "23H2", "install_date": "2023-11-02T10:00:00Z",
        "sensor": {"present": True, "version": "7.15.18513.0", "agent_id": agent,
                   "customer_id": "0f0e0d0c0b0a09080706050403020100"},
        "current_controlset": 1,
        "hives": {"system": {"present": True, "ok": True, "dirty": False, "error": None},
                  "software": {"present": True, "ok": True, "dirty": False, "error": None}},
        "findings": findings,
    }
    vol = {
        "device": "/dev/nvme0n1", "partition": 3, "offset": 290455552, "size": 254000000000,
        "filesystem": "ntfs", "partition_type": "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
        "label": "Windows", "status": status, "reasons": list(reasons), "error": None,
        "installs": [install] if host else [],
        "serial": "%016X" % rng.getrandbits(64), "ntfs_version": "3.1", "cluster_size": 4096,
        "state": {"hibernated": False, "hiberfil_magic": None, "journal": "clean",
                  "journal_version": None, "dirty": False},
        "timings": {"open_ms": 9.4, "scan_ms": 163.6, "fix_ms": 53.7},
    }
    r = {
        "schema": "loopbreaker-report/1", "tool": {"name": "loopbreaker", "version": "0.1.0"},
        "mode": mode, "playbooks": ["crowdstrike-2024-07-19"],
        "options": {"force": False, "delete": False, "discard_hibernation": False,
                    "discard_journal": False},
        "started_at": iso(started), "finished_at": iso(finished),
        "duration_ms": int((finished - started).total_seconds() * 1000),
        "status": status, "exit_code": {"fixed": 0, "clean": 0, "needs_attention": 1, "error": 3}[status],
        "reasons": reasons, "hostname": host,
        "evidence": None, "bitlocker_protectors_used": [
            {"protector": k, "source": "keys.lbk", "volume_guid": "{%s}" % uuid.UUID(int=rng.getrandbits(128)),
             "partition": 3} for k in keys],
        "targets": [{"path": "/dev/nvme0n1", "volumes": [vol], "error": None, "type": "block",
                     "format": "raw", "size": 256060514304, "sector_size": 512,
                     "partition_table": "gpt", "writes": 18 if status == "fixed" else 0,
                     "status": status}],
        "summary": {"installs": 1 if host else 0,
                    "bad_files": 0 if status == "clean" else 1,
                    "files_fixed": 1 if status == "fixed" else 0,
                    "registry_values_changed": registry if status == "fixed" else 0,
                    "bcd_changes": 0},
    }
    if status == "fixed":
        r["evidence"] = {"path": "/stick/loopbreaker/reports/run-%s/evidence.tar.zst" % stamp,
                         "sha256": "%064x" % rng.getrandbits(256), "files": 1}
    return r


def guid(rng):
    return "{%s}" % str(uuid.UUID(int=rng.getrandbits(128))).upper()


def actions_of(status, registry):
    acts = []
    if status == "fixed":
        acts.append("quarantined 1")
    elif status == "needs_attention":
        acts.append("would_quarantine 1")
    if registry and status == "fixed":
        acts.append("registry_set %d" % registry)
    return "; ".join(acts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, required=True, help="machines")
    ap.add_argument("--dups", type=int, default=0, help="machines with an extra, older report")
    ap.add_argument("--junk", type=int, default=0, help="non-report files of each kind")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--anonymous", type=int, default=0, help="error reports without a hostname")
    ap.add_argument("--nasty", action="store_true", help="a hostname with HTML/CSV specials")
    ap.add_argument("--flat", action="store_true", help="all reports in OUTDIR itself")
    ap.add_argument("--expect", help="write the expected fleet result here (JSON)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    rows, nfiles = {}, 0

    def write(host, r, sub):
        nonlocal nfiles
        stamp = r["started_at"].replace("-", "").replace(":", "")
        d = a.outdir if a.flat else os.path.join(a.outdir, sub, "%s-%s" % (host.replace("/", "_")[:40], stamp))
        os.makedirs(d, exist_ok=True)
        name = "%s-%s.report.json" % (host.replace("/", "_")[:40], stamp) if a.flat else "report.json"
        with open(os.path.join(d, name), "w") as f:
            json.dump(r, f, indent=1)
        nfiles += 1

    dup_idx = set(rng.sample(range(a.count), min(a.dups, a.count)))
    superseded = 0
    for i in range(a.count):
        host = "WKS-%05d" % i
        if a.nasty and i == 0:
            host = 'EVIL</script><script>alert(1)</script>,"=cmd'
        agent = "%032x" % rng.getrandbits(128)
        status = pick_status(rng)
        registry = 2 if i % 10 == 3 else 0
        finished = EPOCH + datetime.timedelta(seconds=rng.randrange(0, 12 * 3600))
        keys = [guid(rng)] if status == "fixed" and i % 4 == 0 else []
        r = report(host, agent, status, finished, rng, keys, registry=registry)
        write(host, r, "site%d" % (i % 7))
        row_keys = list(keys)
        reports = 1
        if i in dup_idx:
            # an earlier attempt of the same machine (lower-case hostname: same machine)
            old_status = rng.choice(["needs_attention", "error", "fixed"])
            old_keys = [guid(rng)] if old_status == "fixed" else []
            old_finished = finished - datetime.timedelta(minutes=rng.randrange(5, 120))
            old = report(host.lower(), agent, old_status, old_finished, rng, old_keys)
            write(host.lower() + "-first", old, "retries")
            row_keys += [k for k in old_keys if k not in row_keys]
            superseded += 1
            reports = 2
        rows[host] = {"status": status, "finished_at": iso(finished), "agent_id": agent,
                      "keys_used": ";".join(row_keys), "actions": actions_of(status, registry),
                      "reports": reports}
    # disks that could not be read at all: no hostname, no agent ID, each its own row
    for j in range(a.anonymous):
        finished = EPOCH + datetime.timedelta(seconds=rng.randrange(0, 12 * 3600))
        r = report(None, None, "error", finished, rng)
        r["reasons"] = ["/dev/sda: no partition table and no file system found"]
        write("unknown-%d" % j, r, "unreadable")
        rows["(anonymous %d)" % j] = {"status": "error", "hostname": "", "agent_id": "",
                                      "keys_used": "", "actions": "", "reports": 1}
    # not reports: batch summaries, evidence manifests, broken JSON, other files
    for j in range(a.junk):
        d = os.path.join(a.outdir, "misc")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "summary-%d.json" % j), "w") as f:
            json.dump({"schema": "loopbreaker-batch/1", "mode": "fix", "disks": []}, f)
        with open(os.path.join(d, "broken-%d.json" % j), "w") as f:
            f.write('{"schema": "loopbreaker-report/1", "status": "fix')
        with open(os.path.join(d, "notes-%d.txt" % j), "w") as f:
            f.write("not json\n")
        with open(os.path.join(d, ".hidden-%d.json" % j), "w") as f:
            json.dump({"schema": "loopbreaker-report/1", "hostname": "HIDDEN"}, f)
    if a.expect:
        totals = {s: 0 for s, _ in STATUSES}
        for r in rows.values():
            totals[r["status"]] += 1
        exp = {"machines": len(rows), "reports": nfiles, "superseded": superseded,
               "not_reports": a.junk, "unreadable": a.junk, "totals": totals,
               "keys": sum(len(r["keys_used"].split(";")) for r in rows.values() if r["keys_used"]),
               "rows": rows}
        with open(a.expect, "w") as f:
            json.dump(exp, f, indent=1)


if __name__ == "__main__":
    main()
