#!/usr/bin/env python3
"""fault-writes.py - writes documents through a swarmfs mount while faults
are injected and records, per write, whether close() acknowledged it; then
checks that no acknowledged write was lost.

  fault-writes.py write DIR FIRST COUNT NAMES RECORD
      writes FIRST..FIRST+COUNT-1 to DIR/wNNN.json (NNN = i % NAMES, so
      names are created and then overwritten), image "img-<i>"; appends
      "i name OK|ERRNAME" per write to RECORD
  fault-writes.py verify DIR RECORD
      reads every name back and prints the figures; exits 1 when an
      acknowledged write is lost or a document is not one that was written
"""
import errno
import json
import os
import sys


def doc(i):
    return ('{"spec":{"image":"img-%d","replicas":%d}}\n' % (i, i % 7)).encode()


def write(d, first, count, names, record):
    with open(record, "a") as rec:
        for i in range(first, first + count):
            name = "w%03d" % (i % names)
            res = "OK"
            step = "open"
            try:
                fd = os.open(os.path.join(d, name + ".json"),
                             os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    step = "write"
                    os.write(fd, doc(i))
                finally:
                    step = "close"
                    os.close(fd)
            except OSError as e:
                res = "%s:%s" % (step, errno.errorcode.get(e.errno, str(e.errno)))
            rec.write("%d %s %s\n" % (i, name, res))
            rec.flush()


def verify(d, record):
    writes = {}      # name -> [(i, ok)]
    failed = {}      # errno name -> count
    attempted = acked = 0
    for line in open(record):
        i, name, res = line.split()
        i = int(i)
        attempted += 1
        ok = res == "OK"
        if ok:
            acked += 1
        else:
            failed[res] = failed.get(res, 0) + 1
        writes.setdefault(name, []).append((i, ok))
    lost = torn = applied_unacked = 0
    problems = []
    for name, ws in sorted(writes.items()):
        last_ack = max([i for i, ok in ws if ok], default=None)
        path = os.path.join(d, name + ".json")
        try:
            with open(path, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            body = None
        if body is None:
            if last_ack is not None:
                lost += 1
                problems.append("%s: missing, last acknowledged write %d" % (name, last_ack))
            continue
        try:
            image = json.loads(body)["spec"]["image"]
            got = int(image[len("img-"):]) if image.startswith("img-") else None
        except (ValueError, KeyError, TypeError):
            got = None
        mine = {i: ok for i, ok in ws}
        if got is None or got not in mine:
            torn += 1
            problems.append("%s: content is no write of it: %r" % (name, body[:80]))
            continue
        if last_ack is not None and got < last_ack:
            lost += 1
            problems.append("%s: holds write %d, write %d was acknowledged" % (name, got, last_ack))
        elif not mine[got]:
            applied_unacked += 1
    print("attempted %d acknowledged %d failed %d (%s) lost %d torn %d "
          "applied-though-failed %d" % (
              attempted, acked, attempted - acked,
              ", ".join("%s %d" % kv for kv in sorted(failed.items())) or "none",
              lost, torn, applied_unacked))
    for p in problems[:20]:
        print("problem: " + p)
    return 1 if lost or torn else 0


def main(argv):
    if len(argv) == 7 and argv[1] == "write":
        write(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
        return 0
    if len(argv) == 4 and argv[1] == "verify":
        return verify(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
