#!/usr/bin/env python3
"""sync-check.py - checks a replicated swarmfs cluster after the fact.

Input: the history of acknowledged writes (files of `sync-poke write` output,
one "ack OP deployments/NS/NAME HLC NODE IMAGE" line per write the store
acknowledged) and the store.db of every node, read with sqlite3 after the
nodes have converged.  Asserts:

  1. all nodes are byte-identical: the same live resources (every column),
     the same namespaces (stamp and state; "default" is per node) and the
     same conflicts (the losing versions);
  2. every acknowledged put is the final value of its resource, or was
     superseded by a newer stamp (hlc, node) that is visible as the current
     row (a newer put or a tombstone, or no row at all when a newer
     acknowledged delete's tombstone was purged), or is itself kept under
     conflicts;
  3. no deleted resource came back: after an acknowledged delete, the
     resource is absent, or a tombstone at least as new, or live with a newer
     stamp that is an acknowledged put;
  4. every live resource is an acknowledged put (nothing invented).

--tries FILE takes lines of the same form for writes that were attempted but
not acknowledged (a crash hit them) and that committed all the same: they may
be current, supersede others or come back after a delete, but they need not
survive.  The summary counts the problems by class: lost (2), phantom (3 and
4), diverged (1) and torn (a live body that is not a JSON object).

usage: sync-check.py --acks FILE [--acks FILE...] [--tries FILE...] DB [DB...]
Prints one line per problem (at most --max of them) and a summary; exits 0
when everything holds, 1 otherwise, 2 on bad input.
"""
import argparse
import json
import sqlite3
import sys

KIND = {"deployments": 0, "services": 1, "pods": 2, "ingresses": 3}


def stamp_key(hlc, node):
    # Last writer wins by hlc, then node name compared bytewise (strcmp).
    return (int(hlc), node.encode())


def read_acks(paths):
    acks = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts or parts[0] != "ack":
                    continue
                if len(parts) != 6 or parts[1] not in ("put", "del"):
                    sys.exit(f"sync-check: {path}:{lineno}: malformed ack line")
                kind_dir, ns, name = parts[2].split("/")
                acks.append({
                    "op": parts[1], "key": (KIND[kind_dir], ns, name),
                    "hlc": int(parts[3]), "node": parts[4], "image": parts[5],
                    "where": f"{path}:{lineno}",
                })
    return acks


def read_node(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    live = db.execute(
        "SELECT kind, namespace, name, body, version, created, updated, node, hlc, size "
        "FROM resources WHERE deleted = 0 ORDER BY kind, namespace, name").fetchall()
    rows = {}
    for kind, ns, name, hlc, node, deleted in db.execute(
            "SELECT kind, namespace, name, hlc, node, deleted FROM resources"):
        rows[(kind, ns, name)] = (hlc, node, deleted)
    namespaces = db.execute(
        "SELECT kind, name, hlc, node, deleted FROM namespaces WHERE name != 'default' "
        "ORDER BY kind, name").fetchall()
    conflicts = db.execute(
        "SELECT kind, namespace, name, hlc, node, body FROM conflicts "
        "ORDER BY kind, namespace, name, hlc, node").fetchall()
    db.close()
    return {"live": live, "rows": rows, "namespaces": namespaces, "conflicts": conflicts}


def main():
    ap = argparse.ArgumentParser(description="check a converged swarmfs cluster")
    ap.add_argument("--acks", action="append", default=[], help="sync-poke write output")
    ap.add_argument("--tries", action="append", default=[],
                    help="attempted writes that committed without an acknowledgement")
    ap.add_argument("--max", type=int, default=20, help="problems printed at most")
    ap.add_argument("dbs", nargs="+", help="store.db of each node")
    args = ap.parse_args()

    problems = []
    classes = {"lost": 0, "phantom": 0, "diverged": 0, "torn": 0}

    def problem(msg, cls="diverged"):
        problems.append(msg)
        classes[cls] += 1

    nodes = [read_node(p) for p in args.dbs]
    first = nodes[0]
    for path, n in zip(args.dbs[1:], nodes[1:]):
        for what in ("live", "namespaces", "conflicts"):
            if n[what] != first[what]:
                a, b = set(first[what]), set(n[what])
                only_a = sorted(a - b)[:3]
                only_b = sorted(b - a)[:3]
                problem(f"{path} differs from {args.dbs[0]} in {what}: "
                        f"only in the first {only_a!r:.300}, only here {only_b!r:.300}")

    acks = read_acks(args.acks)
    tries = read_acks(args.tries)
    rows = first["rows"]
    lost = {(c[0], c[1], c[2], c[3], c[4]) for c in first["conflicts"]}
    puts = {}
    deletes = {}
    for a in acks:
        (puts if a["op"] == "put" else deletes).setdefault(a["key"], []).append(a)
    tried_puts = {}
    for a in tries:
        if a["op"] == "put":
            tried_puts.setdefault(a["key"], []).append(a)

    def newest_delete_after(key, s):
        return any(stamp_key(d["hlc"], d["node"]) > s for d in deletes.get(key, []))

    for a in acks:
        key = a["key"]
        s = stamp_key(a["hlc"], a["node"])
        row = rows.get(key)
        path = "deployments/%s/%s" % key[1:]
        if a["op"] == "put":
            if row and stamp_key(row[0], row[1]) == s:
                if row[2]:
                    problem(f"{a['where']}: put of {path} is current but a tombstone")
                continue
            if row and stamp_key(row[0], row[1]) > s:
                continue
            if (key[0], key[1], key[2], a["hlc"], a["node"]) in lost:
                continue
            if not row and newest_delete_after(key, s):
                continue
            problem(f"{a['where']}: acknowledged put of {path} ({a['node']} {a['hlc']}) "
                    f"is lost: current row {row!r}", "lost")
        else:
            if not row:
                continue
            if stamp_key(row[0], row[1]) >= s:
                if not row[2] and stamp_key(row[0], row[1]) != s:
                    # Live again: only by a newer acknowledged put.
                    if not any(stamp_key(p["hlc"], p["node"]) == stamp_key(row[0], row[1])
                               for p in puts.get(key, []) + tried_puts.get(key, [])):
                        problem(f"{a['where']}: {path} came back after its delete "
                                f"with a stamp nobody acknowledged: {row!r}", "phantom")
                continue
            problem(f"{a['where']}: deleted {path} came back: current row {row!r} is older "
                    f"than the delete ({a['node']} {a['hlc']})", "phantom")

    acked = {(a["key"], a["hlc"], a["node"]) for a in acks + tries if a["op"] == "put"}
    if acks:
        for r in first["live"]:
            key = (r[0], r[1], r[2])
            if (key, r[8], r[7]) not in acked:
                problem(f"live deployments/{r[1]}/{r[2]} ({r[7]} {r[8]}) was never acknowledged",
                        "phantom")
    for r in first["live"]:
        try:
            whole = isinstance(json.loads(r[3]), dict)
        except (TypeError, ValueError):
            whole = False
        if not whole:
            problem(f"live {r[0]}/{r[1]}/{r[2]} has a body that is not a JSON object: "
                    f"{r[3]!r:.120}", "torn")

    for p in problems[:args.max]:
        print("sync-check: " + p)
    if len(problems) > args.max:
        print(f"sync-check: ... and {len(problems) - args.max} more")
    print(f"sync-check: {len(args.dbs)} nodes, {len(first['live'])} live resources, "
          f"{len(first['conflicts'])} conflicts, {len(acks)} acknowledged writes "
          f"({sum(len(v) for v in puts.values())} puts, "
          f"{sum(len(v) for v in deletes.values())} deletes): "
          f"{len(problems)} problem(s)")
    print("sync-check: " + " ".join(f"{k}={v}" for k, v in classes.items()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
