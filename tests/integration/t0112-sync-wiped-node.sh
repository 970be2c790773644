#!/bin/sh
# t0112-sync-wiped-node.sh - a node whose data dir is wiped comes back under
# the same name and is written to before its sidecar has met a peer.  Its new
# store numbers its changes from 1 again, numbers its peers already hold for
# the earlier store: they must not be taken for duplicates and dropped.  The
# sidecar renumbers them after the peers' mark, takes the earlier state by a
# transfer, and both nodes end up holding everything.
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
sql() { sqlite3 "$TMP/d$1/store.db" "$2" 2>/dev/null; }
live() { # live I NAME: the image of a live resource on node I
	sql "$1" "SELECT json_extract(body, '\$.spec.image') FROM resources WHERE name = '$2' AND deleted = 0"
}
confirmed() { [ "$(status 1 .sequence_confirmed)" = true ] && [ "$(status 2 .sequence_confirmed)" = true ]; }
digests_equal() {
	local a b
	a=$(status 1 .digest) b=$(status 2 .digest)
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$(status 1 .resources)" = "$(status 2 .resources)" ]
}

# ---- the first life of n2 -----------------------------------------------------------
start_sidecar 1 --log-level info
start_sidecar 2 --log-level info
ok "two new nodes confirm their numbering with each other" wait_for 10 confirmed
is "$(status 2 .renumbered)" 0 "a new node renumbers nothing"
for k in 1 2 3 4 5; do echo "put default old$k img-$k"; done |
	"$POKE" write "$TMP/d2" >/dev/null 2>"$TMP/poke.err"
has_old5() { [ "$(live 1 old5)" = img-5 ]; }
ok "n1 holds n2's five changes" wait_for 10 has_old5
is "$(sql 1 "SELECT seq FROM origins WHERE node = 'n2'")" 5 "n1's mark for n2 is 5"

# ---- wiped, remounted, written to while its sidecar is down --------------------------
stop_sidecar 2
rm -rf "$TMP/d2"
mount_swarmfs "$TMP/d2" "$TMP/m2" --node n2 || bail_out "cannot mount the new n2"
for k in 1 2 3; do
	deployment "new-$k" >"$TMP/m2/deployments/default/new$k.json" || bail_out "write new$k"
done
deployment img-1-rewritten >"$TMP/m2/deployments/default/old1.json.tmp" &&
	mv "$TMP/m2/deployments/default/old1.json.tmp" "$TMP/m2/deployments/default/old1.json"
is "$(sql 2 "SELECT group_concat(origin_seq) FROM changes WHERE origin = 'n2' AND name <> ''")" \
	"1,2,3,4" "the new store numbered its changes from 1 again"
umount_swarmfs "$TMP/m2"

start_sidecar 2 --log-level info
ok "n2 confirms its numbering against n1" wait_for 10 confirmed
is "$(status 2 .renumbered)" 4 "its four changes were renumbered"
is "$(sql 2 "SELECT group_concat(origin_seq) FROM changes WHERE origin = 'n2' AND name LIKE 'new%' ORDER BY origin_seq")" \
	"6,7,8" "after the five n1 holds, in their order"
new_on_1() { [ "$(live 1 new3)" = new-3 ] && [ "$(live 1 new1)" = new-1 ]; }
ok "n1 gets the writes made on the wiped node" wait_for 10 new_on_1
old_on_2() { [ "$(live 2 old5)" = img-5 ]; }
ok "n2 gets back what its earlier store wrote" wait_for 10 old_on_2
rewritten() { [ "$(live 1 old1)" = img-1-rewritten ] && [ "$(live 2 old1)" = img-1-rewritten ]; }
ok "the rewrite of an earlier resource wins on both" wait_for 10 rewritten
ok "digests become equal" wait_for 10 digests_equal
ok "n2 said what happened" grep -q 'earlier store named' "$TMP/sync2.log"
is "$(sql 1 "SELECT seq FROM origins WHERE node = 'n2'")" 9 "n1's mark for n2 is 9"
for i in 1 2; do
	stop_sidecar "$i"
done
done_testing
