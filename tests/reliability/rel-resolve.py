#!/usr/bin/env python3
"""rel-resolve.py - turns rel-load writer logs into sync-check.py input.

A write through a mount learns no stamp; the store that took it has one in its
change log.  Every put carries an image unique in the cluster (NODE.WID.SEQ)
and every name is deleted at most once, by its owner, so each logged write
maps to at most one change of its node's own log (origin = that node):

  - an acknowledged write (an "ack" line) that its node's log does not hold
    is lost: close() or unlink() returned 0 and the change is gone;
  - an acknowledged write that is there becomes an "ack OP PATH HLC NODE
    IMAGE" line for sync-check.py --acks;
  - a write that was tried but not acknowledged (a crash hit it) and is there
    all the same becomes such a line for --tries.

usage: rel-resolve.py --db NODE=STORE.DB... --acks OUT --tries OUT LOG...
Prints "acked=N lost=N committed_unacked=N" (and one line per loss, at most
20); exits 1 if anything was lost.
"""
import argparse
import sqlite3
import sys

OP_PUT, OP_DELETE = 0, 1


def load(node, path):
    puts, dels = {}, {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for op, name, hlc, image in db.execute(
            "SELECT op, name, hlc, json_extract(body, '$.spec.image') FROM changes "
            "WHERE kind = 0 AND namespace = 'default' AND origin = ?", (node,)):
        if op == OP_PUT and image:
            puts[image] = (name, hlc)
        elif op == OP_DELETE:
            dels[name] = hlc
    db.close()
    return puts, dels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", action="append", required=True)
    ap.add_argument("--acks", required=True)
    ap.add_argument("--tries", required=True)
    ap.add_argument("logs", nargs="+")
    args = ap.parse_args()
    stores = {}
    for spec in args.db:
        node, path = spec.split("=", 1)
        stores[node] = load(node, path)

    # (op, path, image) -> "ack" or "try", in order of first appearance.
    writes = {}
    for log in args.logs:
        with open(log, encoding="utf-8") as f:
            for line in f:
                p = line.split()
                if len(p) < 4 or p[0] not in ("try", "ack") or p[1] not in ("put", "del"):
                    continue
                k = (p[1], p[2], p[3])
                if p[0] == "ack" or k not in writes:
                    writes[k] = p[0]

    acked = lost = extra = 0
    losses = []
    with open(args.acks, "w") as fa, open(args.tries, "w") as ft:
        for (op, path, image), state in writes.items():
            name = path.rsplit("/", 1)[1]
            node = image.split(".", 1)[0] if op == "put" else name.split("-w", 1)[0]
            puts, dels = stores[node]
            if op == "put":
                hit = puts.get(image)
                hlc = hit[1] if hit and hit[0] == name else None
            else:
                hlc = dels.get(name)
            if state == "ack":
                acked += 1
                if hlc is None:
                    lost += 1
                    losses.append(f"lost: acknowledged {op} of {path} ({image}) "
                                  f"is not in {node}'s change log")
                    continue
                fa.write(f"ack {op} {path} {hlc} {node} {image}\n")
            elif hlc is not None:
                extra += 1
                ft.write(f"ack {op} {path} {hlc} {node} {image}\n")
    for line in losses[:20]:
        print("rel-resolve: " + line)
    print(f"acked={acked} lost={lost} committed_unacked={extra}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
