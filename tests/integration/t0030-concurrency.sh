#!/bin/sh
# t0030-concurrency.sh - several writers on one file and on different files
# while readers loop: every read is one complete written version (never
# empty, torn or mixed), versions count every write, the final state holds.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3

data=$TMP/data
mnt=$TMP/mnt
if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount"
	done_testing
fi
d=$mnt/deployments/default
N=${T0030_ROUNDS:-80}

# Each written value names its writer and round, and carries a padding whose
# length depends on both: a reader can tell a real version from a mix.
cat >"$TMP/conc.py" <<'EOF'
import json, os, sys, time

def pad_len(writer, i):
    return (sum(map(ord, writer)) * 131 + i * 977) % 700

def doc(writer, i):
    return json.dumps({"spec": {"image": "%s:%d" % (writer, i), "replicas": i % 10,
                                "env": {"PAD": "p" * pad_len(writer, i)}}})

def check(text):
    """None if text is one complete written version, else the problem."""
    if not text:
        return "empty read"
    try:
        d = json.loads(text)
    except ValueError as e:
        return "unparsable (%s): %r" % (e, text[:80])
    img = d["spec"]["image"]
    writer, _, i = img.rpartition(":")
    i = int(i)
    if len(d["spec"]["env"]["PAD"]) != pad_len(writer, i):
        return "mixed version: %s with padding %d" % (img, len(d["spec"]["env"]["PAD"]))
    if d["spec"]["replicas"] != i % 10:
        return "mixed version: %s with replicas %d" % (img, d["spec"]["replicas"])
    return None

def writer(name, path, n):
    errors = 0
    for i in range(n):
        try:
            with open(path, "w") as f:
                f.write(doc(name, i))
        except OSError as e:
            errors += 1
            print("%s: write %d failed: %s" % (name, i, e))
    print("%s done errors=%d" % (name, errors))

def reader(name, paths, stop):
    reads = bad = 0
    while not os.path.exists(stop):
        for p in paths:
            try:
                with open(p) as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            reads += 1
            why = check(text)
            if why:
                bad += 1
                if bad <= 5:
                    print("%s: %s: %s" % (name, p, why))
    print("%s reads=%d bad=%d" % (name, reads, bad))

if sys.argv[1] == "write":
    writer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
elif sys.argv[1] == "read":
    reader(sys.argv[2], sys.argv[4:], sys.argv[3])
elif sys.argv[1] == "doc":
    print(doc(sys.argv[2], int(sys.argv[3])))
elif sys.argv[1] == "check":
    why = check(open(sys.argv[2]).read())
    print(why or "ok")
EOF

python3 "$TMP/conc.py" doc seed 0 >"$d/shared.json"
stop=$TMP/stop

# Readers first, so they see the whole run.
for r in 1 2; do
	python3 "$TMP/conc.py" read "reader$r" "$stop" "$d/shared.json" "$d/own-a.json" \
		"$d/own-b.json" >"$TMP/reader$r.out" 2>&1 &
	track_pid $!
	eval "rpid$r=\$!"
done
# A shell reader: jq must parse every read.
(
	reads=0 bad=0
	while [ ! -e "$stop" ]; do
		if ! jq -e .spec.image "$d/shared.json" >/dev/null 2>&1; then
			bad=$((bad + 1))
		fi
		reads=$((reads + 1))
	done
	echo "jqreader reads=$reads bad=$bad"
) >"$TMP/jqreader.out" 2>&1 &
jqpid=$!
track_pid $jqpid

# Writers: three Python and one shell writer on one file, two on their own.
wpids=""
for w in pa pb pc; do
	python3 "$TMP/conc.py" write "$w" "$d/shared.json" "$N" >"$TMP/w-$w.out" 2>&1 &
	wpids="$wpids $!"
done
for w in a b; do
	python3 "$TMP/conc.py" write "own$w" "$d/own-$w.json" "$N" >"$TMP/w-own$w.out" 2>&1 &
	wpids="$wpids $!"
done
(
	errors=0
	for i in $(seq 0 $((N - 1))); do
		python3 "$TMP/conc.py" doc sh "$i" >"$TMP/sh.doc"
		cat "$TMP/sh.doc" >"$d/shared.json" || errors=$((errors + 1))
	done
	echo "sh done errors=$errors"
) >"$TMP/w-sh.out" 2>&1 &
wpids="$wpids $!"
# Churn beside them: create and delete files, make and remove namespaces.
(
	errors=0
	for i in $(seq 1 $((N / 2))); do
		python3 "$TMP/conc.py" doc churn "$i" >"$d/churn-$((i % 5)).json" || errors=$((errors + 1))
		rm -f "$d/churn-$(((i + 2) % 5)).json" || errors=$((errors + 1))
		mkdir "$mnt/pods/ns-$i" && rmdir "$mnt/pods/ns-$i" || errors=$((errors + 1))
	done
	echo "churn done errors=$errors"
) >"$TMP/w-churn.out" 2>&1 &
wpids="$wpids $!"

for p in $wpids; do
	wait "$p"
done
touch "$stop"
for r in 1 2; do
	eval "wait \$rpid$r"
done
wait $jqpid

for w in pa pb pc owna ownb sh churn; do
	ok "writer $w: every close() succeeded" grep -q "errors=0" "$TMP/w-$w.out" ||
		diag "$(head -5 "$TMP/w-$w.out")"
done
for r in reader1 reader2 jqreader; do
	out=$(cat "$TMP/$r.out")
	ok "$r: every read was one complete version ($(tail -1 "$TMP/$r.out"))" \
		grep -q "bad=0" "$TMP/$r.out" || diag "$out"
	ok "$r: read many times" not grep -q "reads=[0-9]\b" "$TMP/$r.out"
done

final=$(jq -r .spec.image "$d/shared.json")
for w in pa pb pc sh; do
	[ "$final" = "$w:$((N - 1))" ] && found=1
done
ok "shared.json ends as one writer's last version ($final)" [ "${found:-0}" = 1 ]
is "$(python3 "$TMP/conc.py" check "$d/shared.json")" ok "shared.json is consistent"
is "$(version_of "$d/shared.json")" $((4 * N + 1)) "shared.json version counts every write ($((4 * N + 1)))"
for w in a b; do
	is "$(jq -r .spec.image "$d/own-$w.json")" "own$w:$((N - 1))" "own-$w.json holds its last write"
	is "$(version_of "$d/own-$w.json")" "$N" "own-$w.json version is $N"
done
ok "churn namespaces all removed" not ls -d "$mnt"/pods/ns-* 2>/dev/null

# Group commit: writers closing at the same moment share one transaction.
# A put that fails at commit (here a version precondition on a new name,
# ESTALE) fails alone; the others of its batch are kept and durable.
python3 - "$d" >"$TMP/group.out" <<'PY'
import errno, os, sys, threading
d, res = sys.argv[1], {}
def writer(i):
    for k in range(25):
        body = b'{"spec":{"image":"g%d-%d"}}' % (i, k)
        if i % 2:
            body = b'{"metadata":{"version":7},"spec":{"image":"stale"}}'
        try:
            fd = os.open("%s/grp-%d-%d.json" % (d, i, k), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, body)
            finally:
                os.close(fd)
            res[i, k] = "ok"
        except OSError as e:
            res[i, k] = errno.errorcode[e.errno]
threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
good = [(i, k) for i in range(0, 8, 2) for k in range(25)]
bad = [(i, k) for i in range(1, 8, 2) for k in range(25)]
print("good_acked", sum(res[x] == "ok" for x in good))
print("bad_estale", sum(res[x] == "ESTALE" for x in bad))
print("bad_present", sum(os.path.exists("%s/grp-%d-%d.json" % (d, i, k)) for i, k in bad))
PY
is "$(sed -n 's/^good_acked //p' "$TMP/group.out")" 100 "100 concurrent good writes acknowledged"
is "$(sed -n 's/^bad_estale //p' "$TMP/group.out")" 100 "100 concurrent stale writes each got ESTALE"
is "$(sed -n 's/^bad_present //p' "$TMP/group.out")" 0 "and none of them was stored"
good_ok=0
for i in 0 2 4 6; do
	for k in $(seq 0 24); do
		[ "$(jq -r .spec.image "$d/grp-$i-$k.json" 2>/dev/null)" = "g$i-$k" ] && good_ok=$((good_ok + 1))
	done
done
is "$good_ok" 100 "every good write reads back its own content"
rm -f "$d"/grp-*.json

# The same state after a remount.
for f in shared own-a own-b; do
	jq -S 'del(.metadata.updated)' "$d/$f.json" >"$TMP/$f.before"
done
umount_swarmfs "$mnt"
is "$?" 0 "unmount"
if mount_swarmfs "$data" "$mnt"; then
	for f in shared own-a own-b; do
		jq -S 'del(.metadata.updated)' "$d/$f.json" >"$TMP/$f.after"
		ok "$f.json unchanged after remount" cmp -s "$TMP/$f.before" "$TMP/$f.after"
	done
	umount_swarmfs "$mnt"
fi

done_testing
