# rel-lib.sh - helpers of the reliability tests: a cluster of N nodes on
# loopback (a swarmfs mount and a swarmfs-sync sidecar per data dir), kill -9
# and relaunch with the time until each answers, the rel-load writers and
# readers, and sampling of RSS, open fds and WAL size.  Source after lib.sh
# and sync-lib.sh.

SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
LOAD=${REL_LOAD:-$top_builddir/tests/reliability/rel-load}
REL_DIR=${top_srcdir:-$(dirname "$0")/../..}/tests/reliability
CHECK=${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-check.py

rel_require() {
	require_fuse
	require_cmd jq python3 sqlite3
	[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
	[ -x "$LOAD" ] || skip_all "'$LOAD' not built"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# rel_ports N: free base ports for N sidecars (each uses base and base + 1).
rel_ports() {
	read -r -a rel_port <<<"$(free_ports "$1")"
	rel_nodes=$1
}
url() { echo "tcp://127.0.0.1:${rel_port[$(($1 - 1))]}"; }

declare -A sync_pid mount_pid
# Extra sidecar options for one node (e.g. --max-skew-ms) and environment
# assignments for both its daemons (e.g. libfaketime's): rel_sync_opts[I],
# rel_env[I].
declare -A rel_sync_opts rel_env

# start_sync I: node I's sidecar peering with every other node.
start_sync() {
	local i=$1 j peers=()
	for j in $(seq 1 "$rel_nodes"); do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	# shellcheck disable=SC2086
	env ${rel_env[$i]:-} "$SYNC" -f --data-dir "$TMP/d$i" --node "n$i" --listen "$(url "$i")" \
		"${peers[@]}" --heartbeat-ms 100 --retry-ms 200 --log-level info \
		${rel_sync_opts[$i]:-} >>"$TMP/sync$i.log" 2>&1 3>&- &
	sync_pid[$i]=$!
	track_pid "${sync_pid[$i]}"
}

# start_mount I: node I's mount; the mount answers when this returns.
start_mount() {
	local i=$1 a rc
	# rel_env[I] goes into the environment of the mount (through
	# mount_swarmfs's env) and of nothing else for long.
	for a in ${rel_env[$i]:-}; do
		export "${a?}"
	done
	mount_swarmfs "$TMP/d$i" "$TMP/m$i" --node "n$i"
	rc=$?
	for a in ${rel_env[$i]:-}; do
		unset "${a%%=*}"
	done
	[ "$rc" = 0 ] || return 1
	mount_pid[$i]=$SWARMFS_PID
	# The first request after mounting: the root and the status file.
	stat "$TMP/m$i/status.json" >/dev/null 2>&1
}

# restart_mount I: relaunch node I's mount; sets rel_ms (launch to answer).
restart_mount() {
	local t0
	t0=$(now_ms)
	start_mount "$1" || return 1
	rel_ms=$(($(now_ms) - t0))
}

# restart_sync I: relaunch node I's sidecar; sets rel_ms (launch to the
# first sync-status.json, written once it has opened the store, listens
# and has dialled its peers).
restart_sync() {
	local t0
	rm -f "$TMP/d$1/sync-status.json"
	t0=$(now_ms)
	start_sync "$1"
	wait_for_step=0.01 wait_for 30 test -s "$TMP/d$1/sync-status.json" || return 1
	rel_ms=$(($(now_ms) - t0))
}

kill_sync() {
	kill -9 "${sync_pid[$1]}" 2>/dev/null
	wait "${sync_pid[$1]}" 2>/dev/null
}

kill_mount() {
	crash_swarmfs "$TMP/m$1"
}

status() { jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null; }

all_connected() {
	local i want=$((rel_nodes - 1))
	for i in $(seq 1 "$rel_nodes"); do
		[ "$(status "$i" '[.peers[] | select(.connected)] | length')" = "$want" ] || return 1
	done
}

# digests_equal: every node has the same digest and hears it from its peers.
digests_equal() {
	local i d1
	d1=$(status 1 .digest)
	[ -n "$d1" ] || return 1
	for i in $(seq 2 "$rel_nodes"); do
		[ "$(status "$i" .digest)" = "$d1" ] || return 1
	done
	for i in $(seq 1 "$rel_nodes"); do
		[ "$(status "$i" '[.peers[].digest] | unique | join(",")')" = "$d1" ] || return 1
	done
}

# start_cluster N: N data dirs, mounts and sidecars, connected.
start_cluster() {
	local i
	rel_ports "$1"
	for i in $(seq 1 "$1"); do
		mkdir -p "$TMP/d$i"
		start_mount "$i" || bail_out "cannot mount node $i"
	done
	if [ "$1" -gt 1 ]; then
		for i in $(seq 1 "$1"); do
			start_sync "$i"
		done
		wait_for 20 all_connected || bail_out "the sidecars did not connect"
	fi
}

# percentiles FILE: "n=.. p50=.. p99=.. max=.." of the numbers in FILE.
percentiles() { "$LOAD" percentiles "$1"; }
# field NAME LINE: the value of NAME=VALUE in LINE.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

# sum_field NAME FILE...: the sum of NAME=N over the summary lines in FILEs.
sum_field() {
	local name=$1
	shift
	cat "$@" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$name=//p" | awk '{ s += $1 } END { print s + 0 }'
}

# sampler OUT INTERVAL NAME:PID:WALFILE...: every INTERVAL seconds one line
# "SECONDS NAME RSS_KB FDS WAL_BYTES" per process, until killed.
sampler() {
	local out=$1 interval=$2 t0 spec name pid wal rss fds walsz
	shift 2
	t0=$(date +%s)
	while :; do
		for spec in "$@"; do
			name=${spec%%:*}
			pid=${spec#*:}
			wal=${pid#*:}
			pid=${pid%%:*}
			rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
			fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
			walsz=$(stat -c %s "$wal" 2>/dev/null || echo 0)
			echo "$(($(date +%s) - t0)) $name ${rss:-0} $fds $walsz"
		done >>"$out"
		sleep "$interval"
	done
}

# bounded OUT NAME COLUMN SLACK: over NAME's samples in OUT (after the first
# tenth, the warm-up), the last quarter's maximum of COLUMN (3 RSS, 4 fds)
# is at most the first quarter's maximum times 1.5 plus SLACK.  Prints
# "first=.. last=.. max=..".
bounded() {
	awk -v name="$2" -v col="$3" -v slack="$4" '
		$2 == name { v[n++] = $col }
		END {
			if (n < 8) { print "too few samples: " n; exit 1 }
			s = int(n / 10); m = n - s; q = int(m / 4)
			for (i = s; i < s + q; i++) if (v[i] > f) f = v[i]
			for (i = n - q; i < n; i++) if (v[i] > l) l = v[i]
			for (i = 0; i < n; i++) if (v[i] > mx) mx = v[i]
			printf "first=%d last=%d max=%d\n", f, l, mx
			exit !(l <= f * 1.5 + slack)
		}' "$1"
}
