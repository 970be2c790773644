#!/bin/sh
# t0040-durability.sh - kill -9 swarmfs at random moments under concurrent
# writers, many times: every write whose close() returned 0 survives (its
# latest acknowledged value, or a later attempted one), and the store passes
# PRAGMA integrity_check.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3 sqlite3

data=$TMP/data
mnt=$TMP/mnt
cycles=${T0040_CYCLES:-50}
writers=3
per_writer=4

# writer.py ID START DIR LOG: rewrites w<ID>-<k>.json in turn with strictly
# increasing values; logs "try NAME VALUE" before and "ack NAME VALUE" after a
# close() that returned 0; exits at the first error (the mount died).
cat >"$TMP/writer.py" <<'EOF'
import json, os, sys
wid, val, d, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = int(sys.argv[5])
log = open(logpath, "a", buffering=1)
while True:
    for k in range(n):
        val += 1
        name = "w%s-%d" % (wid, k)
        doc = json.dumps({"spec": {"image": "v:%d" % val, "replicas": val % 50,
                                   "env": {"PAD": "x" * (val * 7 % 900)}}})
        log.write("try %s %d\n" % (name, val))
        try:
            fd = os.open(os.path.join(d, name + ".json"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, doc.encode())
            finally:
                os.close(fd)
        except OSError as e:
            log.write("err %s %d %s\n" % (name, val, e.strerror))
            sys.exit(0)
        log.write("ack %s %d\n" % (name, val))
EOF

# verify.py DIR LOG...: every acknowledged write is present.
cat >"$TMP/verify.py" <<'EOF'
import json, os, sys
d, logs = sys.argv[1], sys.argv[2:]
acked, tried = {}, {}
for p in logs:
    if not os.path.exists(p):
        continue
    for line in open(p):
        parts = line.split()
        if len(parts) < 3 or parts[0] not in ("try", "ack"):
            continue
        name, val = parts[1], int(parts[2])
        tried.setdefault(name, set()).add(val)
        if parts[0] == "ack":
            acked[name] = max(acked.get(name, 0), val)
lost = wrong = 0
for name in sorted(tried):
    path = os.path.join(d, name + ".json")
    try:
        doc = json.load(open(path))
        got = int(doc["spec"]["image"].split(":")[1])
    except FileNotFoundError:
        got = None
    except Exception as e:
        print("%s: unreadable: %s" % (name, e))
        wrong += 1
        continue
    want = acked.get(name, 0)
    if got is None:
        if want:
            lost += 1
            print("%s: missing, acknowledged value %d" % (name, want))
    elif got < want:
        lost += 1
        print("%s: holds %d, acknowledged %d" % (name, got, want))
    elif got not in tried[name]:
        wrong += 1
        print("%s: holds %d, which was never written" % (name, got))
print("acked=%d lost=%d wrong=%d" % (sum(1 for _ in acked), lost, wrong))
EOF

logs=""
for w in $(seq 1 $writers); do
	logs="$logs $TMP/log-$w"
done

kills=0
lost_cycles=0
mount_failures=0
integrity_bad=0
idle_cycles=0
for c in $(seq 1 "$cycles"); do
	if ! mount_swarmfs "$data" "$mnt"; then
		mount_failures=$((mount_failures + 1))
		diag "cycle $c: mount failed: $(tail -3 "$SWARMFS_LOG")"
		continue
	fi
	# Verify what the previous crash left before writing over it.
	python3 "$TMP/verify.py" "$mnt/deployments/default" $logs >"$TMP/verify.out" 2>&1
	if ! grep -q "lost=0 wrong=0" "$TMP/verify.out"; then
		lost_cycles=$((lost_cycles + 1))
		diag "cycle $c: after the crash:"
		diag "$(tail -5 "$TMP/verify.out")"
	fi
	wp=""
	for w in $(seq 1 $writers); do
		python3 "$TMP/writer.py" "$w" $((c * 1000000)) "$mnt/deployments/default" \
			"$TMP/log-$w" $per_writer 2>>"$TMP/writer.err" &
		wp="$wp $!"
	done
	# Die at a random moment while the writers are writing: once this
	# cycle has its first acknowledged write (python may take long to
	# start on a loaded machine), then 0 to 500 ms later.
	before=$(cat $logs 2>/dev/null | grep -c '^ack')
	deadline=$(($(date +%s) + 20))
	while [ "$(cat $logs 2>/dev/null | grep -c '^ack')" -le "$before" ] &&
	      [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.02
	done
	[ "$(cat $logs 2>/dev/null | grep -c '^ack')" -gt "$before" ] || idle_cycles=$((idle_cycles + 1))
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", (r % 500) / 1000 }')"
	crash_swarmfs "$mnt"
	kills=$((kills + 1))
	for p in $wp; do
		wait_pid_gone "$p" 10 || { diag "cycle $c: writer $p hangs"; kill -9 "$p"; }
		wait "$p" 2>/dev/null
	done
	if [ $((c % 10)) -eq 0 ]; then
		r=$(sqlite3 "$data/store.db" 'PRAGMA integrity_check' 2>&1)
		[ "$r" = ok ] || { integrity_bad=$((integrity_bad + 1)); diag "cycle $c: integrity_check: $r"; }
	fi
done

acks=$(cat $logs 2>/dev/null | grep -c '^ack')
tries=$(cat $logs 2>/dev/null | grep -c '^try')
diag "cycles $cycles, kills $kills, acknowledged writes $acks, attempted $tries"
is "$mount_failures" 0 "every remount after kill -9 succeeded"
is "$idle_cycles" 0 "every kill -9 landed after that cycle's first acknowledged write"

if mount_swarmfs "$data" "$mnt"; then
	python3 "$TMP/verify.py" "$mnt/deployments/default" $logs >"$TMP/verify.out" 2>&1
	diag "final: $(tail -1 "$TMP/verify.out")"
	ok "after $kills kill -9: every acknowledged write present" grep -q "lost=0 wrong=0" "$TMP/verify.out" ||
		diag "$(head -20 "$TMP/verify.out")"
	is "$lost_cycles" 0 "no loss after any single crash"
	is "$(ls "$mnt/deployments/default" | grep -c '^w')" $((writers * per_writer)) \
		"every resource there, nothing extra"
	umount_swarmfs "$mnt"
	is "$?" 0 "final unmount"
else
	fail "final mount"
fi
ok "store.db exists" [ -s "$data/store.db" ]
is "$integrity_bad" 0 "integrity_check ok after every 10th crash"
is "$(sqlite3 "$data/store.db" 'PRAGMA integrity_check' 2>&1)" ok "final PRAGMA integrity_check"

done_testing
