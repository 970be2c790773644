#!/bin/sh
# t0131-logging.sh - where swarmfs and swarmfs-sync log and how much: to
# stderr with -f, to syslog (daemon facility, ident[pid]) once daemonized,
# only messages at or above --log-level, and errors a client can repeat at
# will (rejected writes, malformed frames) at most 10 per 10 s per call
# site, then one "N similar messages suppressed" line.  Syslog is checked in
# a private mount namespace whose /dev holds a /dev/log socket of the test's.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_fuse
require_cmd python3 jq
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}

ns=deployments/default
bad='{"spec": {"image": "nginx", "replicas": "five"}}'

# ---- -f: stderr, and --log-level ---------------------------------------------

m=$TMP/m
mount_swarmfs "$TMP/d1" "$m" --snapshot-interval 0 || bail_out "cannot mount"
log=$SWARMFS_LOG
echo "$bad" | write_errno "$m/$ns/web.json" >/dev/null
ok "-f: a rejected write is logged to stderr at warning" \
	wait_for 5 grep -q "^warning: rejected write to '$ns/web.json': spec.replicas" "$log"
ok "-f, default level notice: no info line" not grep -q '^info:' "$log"
umount_swarmfs "$m"

mount_swarmfs "$TMP/d1" "$m" --snapshot-interval 0 --log-level info || bail_out "cannot mount"
log=$SWARMFS_LOG
ok "--log-level info: the info line on mounting appears" \
	grep -q "^info: mounted '.*' on '$m'" "$log"
umount_swarmfs "$m"

mount_swarmfs "$TMP/d1" "$m" --snapshot-interval 0 --log-level error || bail_out "cannot mount"
log=$SWARMFS_LOG
echo "$bad" | write_errno "$m/$ns/web.json" >/dev/null
is "$(jq '.rejected | length' "$m/status.json")" 1 "--log-level error: the write is rejected (status.json lists it)"
ok "--log-level error: but no warning is logged" not grep -q 'rejected write' "$log"
umount_swarmfs "$m"

ok "an unknown --log-level is refused" not "$SWARMFS" --log-level loud "$m" 2>/dev/null
"$SWARMFS" --log-level loud "$m" 2>"$TMP/err"
ok "and the message names it" grep -q "invalid --log-level 'loud'" "$TMP/err"

# ---- rate limit of repeated errors -------------------------------------------

mount_swarmfs "$TMP/d1" "$m" --snapshot-interval 0 || bail_out "cannot mount"
log=$SWARMFS_LOG
n=40
for i in $(seq $n); do
	echo "$bad" | write_errno "$m/$ns/web-$i.json" >/dev/null
done
ok "all $n bad writes were refused" test "$(jq '.rejected | length' "$m/status.json")" -ge 1
got=$(grep -c 'rejected write' "$log")
# 10 per window; 40 writes span at most a few windows even on a slow machine.
ok "$n rejected writes in a burst log at most 10 per window (got $got)" \
	test "$got" -ge 10 -a "$got" -lt "$n"
ok "the burst starts with 10 lines in a row" \
	test "$(grep 'rejected write' "$log" | head -10 | grep -c "web-[0-9]*\.json")" = 10
# The count of the suppressed ones is reported with the first message of a
# later window: wait out the 10 s window.
sleep 11
echo "$bad" | write_errno "$m/$ns/late.json" >/dev/null
ok "a later error reports how many were suppressed" \
	wait_for 5 grep -Eq '^warning: [0-9]+ similar messages suppressed' "$log"
ok "and is itself logged" grep -q "rejected write to '$ns/late.json'" "$log"
umount_swarmfs "$m"

# ---- swarmfs-sync: -f, --log-level, rate limit of malformed frames -----------

read -r port pub <<<"$(free_ports 2)"
"$SWARMFS_SYNC" -f --data-dir "$TMP/s1" --node s1 --listen "tcp://127.0.0.1:$port" \
	>"$TMP/sync1.log" 2>&1 3>&- &
spid=$!
track_pid "$spid"
ok "swarmfs-sync -f logs its start at notice to stderr" \
	wait_for 10 grep -q "^notice: node 's1' publishing on" "$TMP/sync1.log"
kill "$spid"
wait "$spid"
is "$?" 0 "swarmfs-sync stops cleanly on SIGTERM"

"$SWARMFS_SYNC" -f --data-dir "$TMP/s1" --node s1 --listen "tcp://127.0.0.1:$port" \
	--log-level error >"$TMP/sync2.log" 2>&1 3>&- &
spid=$!
track_pid "$spid"
sleep 1
ok "swarmfs-sync --log-level error: no notice line" not grep -q '^notice:' "$TMP/sync2.log"
kill "$spid"
wait "$spid"

if [ -x "$POKE" ]; then
	"$SWARMFS_SYNC" -f --data-dir "$TMP/s1" --node s1 --listen "tcp://127.0.0.1:$port" \
		--peer "tcp://127.0.0.1:$pub" --retry-ms 100 >"$TMP/sync3.log" 2>&1 3>&- &
	spid=$!
	track_pid "$spid"
	"$POKE" pub "tcp://127.0.0.1:$pub" 3 >"$TMP/poke.out" 2>&1
	sent=$(grep -Eo '[0-9]+' "$TMP/poke.out" | head -1)
	got=$(grep -c 'rejected a malformed' "$TMP/sync3.log")
	ok "malformed frames ($sent sent) are logged at most 10 per window (got $got)" \
		test "${sent:-0}" -gt 20 -a "$got" -ge 1 -a "$got" -le 10
	kill "$spid"
	wait "$spid"
else
	skip "rate limit of malformed frames" "sync-poke not built"
fi

# ---- daemonized: syslog ------------------------------------------------------

if unshare -m true 2>/dev/null; then
	cat >"$TMP/syslog.sh" <<'EOF'
set -u
swarmfs=$1 sync=$2 tmp=$3 port=$4
check() { d=$1; shift; if "$@"; then echo "ok $d"; else echo "not ok $d"; fi; }
not_running() { ! kill -0 "$1" 2>/dev/null; }
mount --make-rprivate / || exit 1
mkdir -p "$tmp/dev"
mount -t tmpfs swarmfs-test "$tmp/dev" || exit 1
for d in null zero full random urandom tty fuse; do
	touch "$tmp/dev/$d" && mount --bind "/dev/$d" "$tmp/dev/$d"
done
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$tmp/dev/log" "$tmp/syslog" >"$tmp/listener.out" 2>&1 &
lpid=$!
for _ in $(seq 100); do grep -q ready "$tmp/listener.out" && break; sleep 0.05; done
mount --rbind "$tmp/dev" /dev || exit 1
trap 'umount -l "$tmp/m" 2>/dev/null; kill $lpid $spid 2>/dev/null' EXIT
spid=
mkdir -p "$tmp/m"
wait_line() { for _ in $(seq 100); do grep -Eq "$1" "$tmp/syslog" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
"$swarmfs" --data-dir "$tmp/d2" --snapshot-interval 0 --log-level info "$tmp/m" 2>"$tmp/daemon.err"
check "swarmfs daemonizes and returns 0" test $? = 0
check "and writes nothing to the terminal" test ! -s "$tmp/daemon.err"
pid=$(tr -dc 0-9 <"$tmp/d2/swarmfs.lock")
# <30>: facility daemon (3 * 8) + info (6).
check "its info line goes to syslog as daemon.info with ident swarmfs[pid]" \
	wait_line "^<30>.* swarmfs\[$pid\]: mounted '.*' on '$tmp/m'"
echo '{"spec": {"image": "nginx", "replicas": "five"}}' >"$tmp/m/deployments/default/x.json" 2>/dev/null
check "a rejected write goes to syslog as daemon.warning (<28>)" \
	wait_line "^<28>.* swarmfs\[$pid\]: rejected write to 'deployments/default/x.json'"
umount "$tmp/m"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "umount stops it, logging that at info" wait_line "^<30>.* swarmfs\[$pid\]: unmounting"
"$sync" --data-dir "$tmp/s2" --node s2 --listen "tcp://127.0.0.1:$port" 2>"$tmp/sync.err"
check "swarmfs-sync daemonizes and returns 0" test $? = 0
spid=$(tr -dc 0-9 <"$tmp/s2/swarmfs-sync.lock")
check "its start goes to syslog as daemon.notice (<29>) with ident swarmfs-sync[pid]" \
	wait_line "^<29>.* swarmfs-sync\[$spid\]: node 's2' publishing on"
kill "$spid"
for _ in $(seq 200); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
check "swarmfs-sync stops on SIGTERM" not_running "$spid"
EOF
	unshare -m sh "$TMP/syslog.sh" "$(realpath "$SWARMFS")" "$(realpath "$SWARMFS_SYNC")" \
		"$TMP" "$port" >"$TMP/syslog.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok }" ;;
		"not ok "*) fail "${line#not ok }" ;;
		*) diag "$line" ;;
		esac
	done <"$TMP/syslog.out"
	grep -q '^ok' "$TMP/syslog.out" || fail "the syslog checks ran"
	if grep -q '^not ok' "$TMP/syslog.out"; then
		diag "what the syslog socket received:"
		diag "$(cat "$TMP/syslog" 2>/dev/null)"
	fi
else
	skip "syslog once daemonized" "unshare -m is not permitted here"
fi

done_testing
