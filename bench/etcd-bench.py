#!/usr/bin/env python3
"""etcd-bench.py - the etcd baseline for bench/run: puts, ranges and deletes
through etcd 3.4's gRPC gateway (JSON over HTTP/1.1, base64 keys and values),
each thread keeping one connection open, printing bench-fs's line format;
and the watch latency from a put on one member to its event on another.
Never part of make check."""

import argparse
import base64
import http.client
import json
import random
import sys
import threading
import time
from urllib.parse import urlparse

HEADER = "label\tn\ttotal_s\tus_per_op\tops_per_s\tp50_us\tp99_us\tbytes\terrors"


def b64(data):
    return base64.b64encode(data).decode("ascii")


class Client:
    """One persistent HTTP/1.1 connection to one etcd member's gateway."""

    def __init__(self, endpoint):
        u = urlparse(endpoint)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, path, body):
        payload = json.dumps(body)
        self.conn.request("POST", path, payload, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (path, resp.status, data[:200]))
        return json.loads(data)

    def put(self, key, value):
        return self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def get(self, key):
        r = self.call("/v3/kv/range", {"key": b64(key)})
        kvs = r.get("kvs", [])
        return base64.b64decode(kvs[0]["value"]) if kvs else None

    def delete(self, key):
        return self.call("/v3/kv/deleterange", {"key": b64(key)})


def make_doc(size, i, gen):
    """The same document bench-fs writes: a Deployment padded to size bytes."""
    head = ('{"spec":{"image":"nginx:1.25","replicas":%u,"env":{"DOC":"d%05u","PAD":"'
            % (3 + gen, i)).encode()
    tail = b'"}}}\n'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def order_of(n):
    """A fixed shuffle, so every run visits the keys in the same order."""
    order = list(range(n))
    random.Random(0x9E3779B9).shuffle(order)
    return order


def report(label, n, total_s, lat, nbytes, errors):
    lat.sort()
    p50 = lat[len(lat) // 2] if lat else 0
    p99 = lat[int(len(lat) * 0.99)] if lat else 0
    print("%s\t%d\t%.6f\t%.3f\t%.0f\t%.3f\t%.3f\t%d\t%d" % (
        label, n, total_s, total_s * 1e6 / n if n else 0, n / total_s if total_s else 0,
        p50, p99, nbytes, errors), flush=True)


def run_ops(args):
    order = order_of(args.n)
    clients = [Client(args.endpoint) for _ in range(args.threads)]
    if args.header:
        print(HEADER)
    for spec in args.phases:
        op, _, label = spec.partition(":")
        label = label or op
        if op not in ("create", "overwrite", "read", "unlink"):
            sys.exit("etcd-bench: unknown phase '%s'" % spec)
        lat = [0.0] * args.n
        counts = [[0, 0] for _ in clients]  # bytes, errors per thread

        def work(t):
            c = clients[t]
            prev = time.perf_counter()
            for i in range(t, args.n, args.threads):
                k = order[i]
                key = b"/registry/deployments/default/d%05u" % k
                try:
                    if op in ("create", "overwrite"):
                        doc = make_doc(args.size, k, 1 if op == "overwrite" else 0)
                        c.put(key, doc)
                        counts[t][0] += len(doc)
                    elif op == "read":
                        v = c.get(key)
                        if v is None:
                            raise RuntimeError("no value for %s" % key.decode())
                        counts[t][0] += len(v)
                    else:
                        c.delete(key)
                except Exception as e:  # counted, as bench-fs counts failures
                    if counts[t][1] < 10:
                        print("etcd-bench: %s: %s" % (op, e), file=sys.stderr)
                    counts[t][1] += 1
                    c.conn.close()
                now = time.perf_counter()
                lat[i] = (now - prev) * 1e6
                prev = now

        start = time.perf_counter()
        threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        total = time.perf_counter() - start
        report(label, args.n, total, lat, sum(c[0] for c in counts), sum(c[1] for c in counts))


def run_watch(args):
    """Puts at a paced rate on one member; a watch stream on another member
    notes when each put's event arrives.  Prints key=value pairs."""
    prefix = b"/bench/watch/%d/" % int(time.time())
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    total = int(args.rate * args.duration)
    sent = [0.0] * total
    acked = [0.0] * total
    seen = [0.0] * total
    ready = threading.Event()
    errors = [0]

    u = urlparse(args.watch_endpoint)
    wconn = http.client.HTTPConnection(u.hostname, u.port, timeout=args.duration + 60)

    def watcher():
        wconn.request("POST", "/v3/watch", json.dumps(
            {"create_request": {"key": b64(prefix), "range_end": b64(end)}}),
            {"Content-Type": "application/json"})
        resp = wconn.getresponse()
        count = 0
        while count < total:
            line = resp.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            msg = json.loads(line)
            res = msg.get("result", {})
            if res.get("created"):
                ready.set()
            for ev in res.get("events", []):
                now = time.perf_counter()
                seq = int(base64.b64decode(ev["kv"]["key"])[len(prefix):])
                if 0 <= seq < total and seen[seq] == 0:
                    seen[seq] = now
                    count += 1

    wt = threading.Thread(target=watcher, daemon=True)
    wt.start()
    if not ready.wait(10):
        sys.exit("etcd-bench: the watch was not created within 10 s")

    # several connections share the schedule, so one slow put does not delay
    # the next ones, as bench-write's writers do
    nconn = args.threads
    nxt = [0]
    lock = threading.Lock()
    value = make_doc(args.size, 0, 0)
    t0 = time.perf_counter() + 0.1

    def writer():
        c = Client(args.endpoint)
        while True:
            with lock:
                seq = nxt[0]
                nxt[0] += 1
            if seq >= total:
                return
            due = t0 + seq / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent[seq] = time.perf_counter()
            try:
                c.put(prefix + b"%07d" % seq, value)
                acked[seq] = time.perf_counter()
            except Exception as e:
                errors[0] += 1
                print("etcd-bench: put: %s" % e, file=sys.stderr)
                c.conn.close()

    ws = [threading.Thread(target=writer) for _ in range(nconn)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    w_end = time.perf_counter()
    wt.join(args.settle)

    def pct(v, q):
        return v[min(len(v) - 1, int(len(v) * q))] if v else 0

    from_ack = sorted((seen[i] - acked[i]) * 1e6 for i in range(total) if seen[i] and acked[i])
    from_sent = sorted((seen[i] - sent[i]) * 1e6 for i in range(total) if seen[i] and sent[i])
    put_lat = sorted((acked[i] - sent[i]) * 1e6 for i in range(total) if acked[i])
    print("writes=%d seen=%d seconds=%.3f writes_per_s=%.1f errors=%d "
          "put_p50_us=%.1f put_p99_us=%.1f "
          "repl_p50_us=%.1f repl_p99_us=%.1f repl_max_us=%.1f "
          "sent_p50_us=%.1f sent_p99_us=%.1f sent_max_us=%.1f" % (
              total, len(from_ack), w_end - t0, total / (w_end - t0), errors[0],
              pct(put_lat, 0.5), pct(put_lat, 0.99),
              pct(from_ack, 0.5), pct(from_ack, 0.99), from_ack[-1] if from_ack else 0,
              pct(from_sent, 0.5), pct(from_sent, 0.99), from_sent[-1] if from_sent else 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("ops", help="timed phases, bench-fs's line format")
    o.add_argument("--endpoint", required=True)
    o.add_argument("-n", type=int, default=10000)
    o.add_argument("-j", dest="threads", type=int, default=1)
    o.add_argument("--size", type=int, default=500)
    o.add_argument("--header", action="store_true")
    o.add_argument("phases", nargs="+")
    w = sub.add_parser("watch", help="put on one member, watch on another")
    w.add_argument("--endpoint", required=True)
    w.add_argument("--watch-endpoint", required=True)
    w.add_argument("--rate", type=float, default=1000)
    w.add_argument("--duration", type=float, default=10)
    w.add_argument("--size", type=int, default=500)
    w.add_argument("--threads", type=int, default=8)
    w.add_argument("--settle", type=float, default=10)
    args = ap.parse_args()
    if args.cmd == "ops":
        run_ops(args)
    else:
        run_watch(args)


if __name__ == "__main__":
    main()
