#!/bin/sh
# t0111-sync-transfer-mount.sh - a full state transfer is seen through the
# mount at once.  A merge writes rows without change-log entries, so the
# mount cannot invalidate name by name: it drops every cached entry and
# attribute of the live tree instead, and says "resync" on the events stream.
# Before that, a name the kernel had looked up in vain stayed missing for the
# whole entry timeout (60 s) and a changed file kept its old size.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_fuse
require_cmd jq sqlite3
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$POKE" ] || skip_all "'$POKE' not built"

read -r -a ports <<<"$(free_ports 2)"
url() { echo "tcp://127.0.0.1:${ports[$(($1 - 1))]}"; }
status() { jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null; }
M=$TMP/m2/deployments/default

# n2 runs a mount and has written one resource that n1 will overwrite later.
mount_swarmfs "$TMP/d2" "$TMP/m2" --node n2 --log-level info || bail_out "cannot mount n2"
deployment nginx:old >"$M/shared.json" || bail_out "cannot write on n2"
old_size=$(stat -c %s "$M/shared.json")
# The kernel now caches: the attributes of shared.json, a negative entry for
# a name n1 will create, and the listing of the namespace.
ok "n2 does not have a1 yet" not test -e "$M/a1.json"
ls "$M" >/dev/null
cat "$TMP/m2/events" >"$TMP/events" 2>&1 &
events_pid=$!
track_pid "$events_pid"

# n1 writes later (a newer stamp) and compacts its log to nothing, so the
# only way to n2 is a full state transfer.
mkdir -p "$TMP/d1"
start_sidecar 1 --log-level info
n1_up() { [ -f "$TMP/d1/sync-status.json" ]; }
wait_for 10 n1_up || bail_out "n1's sidecar did not create its store"
{
	for k in 1 2 3 4 5; do echo "put default a$k img-$k"; done
	echo "put default shared nginx:newer-and-longer"
} | "$POKE" write "$TMP/d1" >/dev/null 2>"$TMP/poke.err" || bail_out "sync-poke failed: $(cat "$TMP/poke.err")"
"$SWARMFS_ADMIN" --data-dir "$TMP/d1" compact --keep 0 >/dev/null 2>&1
is "$(sqlite3 "$TMP/d1/store.db" 'SELECT count(*) FROM changes')" 0 "n1 compacted its log"

start_sidecar 2 --log-level info
transferred() { [ "$(status 2 .state_transfers)" -ge 1 ] 2>/dev/null; }
ok "n2 takes n1's state by a full transfer" wait_for 20 transferred
# The watcher polls every 200 ms at worst; allow for a loaded machine, but
# far below the 60 s the kernel would otherwise keep its caches.
ok "a name the kernel had cached as missing appears" wait_for 5 test -e "$M/a1.json"
is "$(jq -r .spec.image "$M/a1.json")" img-1 "and reads n1's document"
is "$(ls "$M" | grep -c '^a[0-9]\.json$')" 5 "the namespace lists all five new names"
is "$(jq -r .spec.image "$M/shared.json")" \
	"$(sqlite3 "$TMP/d2/store.db" "SELECT json_extract(body, '\$.spec.image') FROM resources WHERE name = 'shared'")" \
	"the overwritten resource reads as the store has it"
is "$(stat -c %s "$M/shared.json")" "$(wc -c <"$M/shared.json")" \
	"its size is the new one (it was $old_size)"
has_resync() { grep -q '"op":"resync"' "$TMP/events"; }
ok "the events stream says resync" wait_for 5 has_resync
ok "the mount logged the invalidation" grep -q 'state transfer seen' "$SWARMFS_LOG"
kill "$events_pid" 2>/dev/null
done_testing
