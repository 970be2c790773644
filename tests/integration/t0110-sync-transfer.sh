#!/bin/sh
# t0110-sync-transfer.sh - full state transfer and tombstone purge, three
# sidecars on loopback without mounts (writes go straight into each store
# through sync-poke): a node started with an empty data dir after the others
# compacted their logs to nothing gets everything by a state transfer and
# then the tail; tombstones stay while a peer has not seen their delete and
# are purged once every peer has; a node restored from a copy taken before a
# delete does not bring the deleted resource back, even after the purge.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_cmd jq python3 sqlite3
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$POKE" ] || skip_all "'$POKE' not built"
[ -x "$SWARMFS_ADMIN" ] || skip_all "'$SWARMFS_ADMIN' not built"

read -r -a ports <<<"$(free_ports 3)"
url() { echo "tcp://127.0.0.1:${ports[$(($1 - 1))]}"; }

start_sync() { start_sidecar "$1" --purge-ms 200 --log-level info; }
status() { # status I FILTER
	jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null
}
write() { # write I < lines: sync-poke write into node I's store
	"$POKE" write "$TMP/d$1" >>"$TMP/acks$1" 2>>"$TMP/poke.err"
}
sql() { # sql I QUERY
	sqlite3 "$TMP/d$1/store.db" "$2" 2>/dev/null
}
digests_equal() { # digests_equal I J...: status digests of these nodes agree
	local d first=""
	for i in "$@"; do
		d=$(status "$i" .digest)
		[ -n "$d" ] || return 1
		[ -z "$first" ] && first=$d
		[ "$d" = "$first" ] || return 1
	done
	[ "$(status "$1" .resources)" != 0 ]
}
live_rows() { # live_rows I: kind/ns/name hlc node of every live resource
	sql "$1" "SELECT kind, namespace, name, hlc, node, body FROM resources WHERE deleted = 0 ORDER BY 1, 2, 3"
}
tombstones() { # tombstones I
	sql "$1" "SELECT count(*) FROM resources WHERE deleted = 1"
}

# ---- two nodes write while the third has never run -------------------------------
start_sync 1
start_sync 2
up() { [ -f "$TMP/d1/sync-status.json" ] && [ -f "$TMP/d2/sync-status.json" ]; }
wait_for 10 up || bail_out "the sidecars did not create their stores"
for k in $(seq 1 40); do echo "put default a$k img-$k"; done | write 1
echo "mkns team" | write 2
for k in $(seq 1 40); do echo "put team b$k img-$k"; done | write 2
has_a10() { [ -n "$(sql 2 "SELECT 1 FROM resources WHERE name = 'a10' AND deleted = 0")" ]; }
wait_for 10 has_a10 || diag "n2 did not get n1's writes"
for k in $(seq 1 10); do echo "del default a$k"; done | write 2
ok "n1 and n2 converge" wait_for 20 digests_equal 1 2
is "$(status 1 .resources)" 70 "70 live resources on n1"
# n3 is a configured peer that has never answered: nothing may be purged.
sleep 0.5
is "$(tombstones 1)" 10 "tombstones stay while a peer has never been heard from"
for i in 1 2; do
	"$SWARMFS_ADMIN" --data-dir "$TMP/d$i" compact --keep 0 >/dev/null 2>&1
done
is "$(sql 1 'SELECT count(*) FROM changes')" 0 "n1 compacted its change log to nothing"
is "$(sql 2 'SELECT count(*) FROM changes')" 0 "n2 as well"

# ---- a fresh node ---------------------------------------------------------------------
start_sync 3
ok "a fresh node with an empty data dir converges" wait_for 20 digests_equal 1 2 3
ok "by a full state transfer" test "$(status 3 .state_transfers)" -ge 1
ok "which one of the others served" \
	test $(($(status 1 .state_transfers_served) + $(status 2 .state_transfers_served))) -ge 1
is "$(live_rows 3 | md5sum)" "$(live_rows 1 | md5sum)" "n3's live rows are n1's, byte for byte"
is "$(sql 3 "SELECT seq FROM origins WHERE node = 'n1'")" 40 "n3 adopted n1's high-water mark"
is "$(sql 3 "SELECT seq FROM origins WHERE node = 'n2'")" 51 "and n2's"
ok "the transfer left no temporary files" \
	test -z "$(ls -a "$TMP/d1" "$TMP/d2" "$TMP/d3" | grep '^\.sync-')"
echo "put default after-transfer tail" | write 1
after() { [ "$(sql 3 "SELECT json_extract(body, '$.spec.image') FROM resources WHERE name = 'after-transfer' AND deleted = 0")" = tail ]; }
ok "the tail after the transfer arrives by the usual fetches" wait_for 10 after
echo "put default from-fresh hello" | write 3
fresh_out() { [ -n "$(sql 1 "SELECT 1 FROM resources WHERE name = 'from-fresh' AND deleted = 0")" ]; }
ok "a write on the fresh node replicates" wait_for 10 fresh_out
ok "digests equal again" wait_for 10 digests_equal 1 2 3

# ---- tombstone purge ----------------------------------------------------------------------
purged() { [ "$(tombstones 1)" = 0 ] && [ "$(tombstones 2)" = 0 ] && [ "$(tombstones 3)" = 0 ]; }
ok "once every peer has the deletes, every node purges its tombstones" wait_for 10 purged
ok "and counts them" test "$(status 1 .tombstones_purged)" -ge 10

# A resource every node has; n2's data dir is copied while it runs no sidecar.
echo "put default ghost v1" | write 1
ghost_on() { [ -n "$(sql "$1" "SELECT 1 FROM resources WHERE name = 'ghost' AND deleted = 0")" ]; }
ghost_everywhere() { ghost_on 1 && ghost_on 2 && ghost_on 3; }
ok "a resource reaches every node" wait_for 10 ghost_everywhere
ok "digests agree" wait_for 10 digests_equal 1 2 3
stop_sidecar 2
sqlite3 "$TMP/d2/store.db" ".backup '$TMP/d2-old.db'"
start_sync 2
# Deleted while n3 is stopped: its tombstone must stay until n3 has it.
stop_sidecar 3
echo "del default ghost" | write 1
ghost_gone() { ! ghost_on 1 && ! ghost_on 2; }
ok "the delete reaches n2" wait_for 10 ghost_gone
sleep 1
ok "while n3 is away the tombstone stays on n1" test "$(tombstones 1)" = 1
ok "and on n2" test "$(tombstones 2)" = 1
start_sync 3
ok "n3 gets the delete after its restart" wait_for 10 not ghost_on 3
ok "then the tombstone is purged everywhere" wait_for 10 purged

# n2 comes back from the copy taken before the delete; the others have
# compacted, so it needs a state transfer.
stop_sidecar 2
rm -f "$TMP/d2/store.db-wal" "$TMP/d2/store.db-shm"
cp "$TMP/d2-old.db" "$TMP/d2/store.db"
ok "the old copy of n2 holds the resource" ghost_on 2
for i in 1 3; do
	"$SWARMFS_ADMIN" --data-dir "$TMP/d$i" compact --keep 0 >/dev/null 2>&1
done
echo "put default newer v2" | write 1
transfers_before=$(status 2 .state_transfers)
# The status file of n2's last life would satisfy digests_equal at once.
rm -f "$TMP/d2/sync-status.json"
start_sync 2
ok "the restored node converges with the others" wait_for 20 digests_equal 1 2 3
ok "the deleted resource did not come back on n2" not ghost_on 2
ok "nor on n1" not ghost_on 1
ok "nor on n3" not ghost_on 3
ok "n2 caught up through a state transfer" test "$(status 2 .state_transfers)" -ge 1
is "$(live_rows 2 | md5sum)" "$(live_rows 1 | md5sum)" "n2's live rows are n1's, byte for byte"
ok "no sidecar counted a malformed frame" \
	test "$(status 1 .rejected_frames)$(status 2 .rejected_frames)$(status 3 .rejected_frames)" = 000
: "$transfers_before"
for i in 1 2 3; do
	kill -TERM "${sync_pid[$i]}"
	wait "${sync_pid[$i]}"
	is "$?" 0 "sidecar $i exits 0 on SIGTERM"
done
done_testing
