#!/bin/sh
# t0080-mount-extras.sh - what the mount adds around the live tree: the live
# .content view cached like the live tree and invalidated on every change;
# the wake-up socket DATA/notify.sock and the fallback poll for other
# writers; status.json's digest, sidecar, peers and replication counters;
# and, with two nodes and their sidecars, conflicts/KIND/NS/NAME@NODE-HLC.json
# (content, EROFS for writes, rm dismisses on one node only).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
wait_for_step=0.02
require_fuse
require_cmd jq python3 diff
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}

m=$TMP/m
d=$TMP/d
mount_swarmfs "$d" "$m" --snapshot-interval 0 || bail_out "cannot mount"
ns=$m/deployments/default
view=$m/.content/deployments/default

# ---- .content: cached, and invalidated like the live tree ----------------------------
deployment one >"$ns/web.json"
is "$(jq -r .spec.image "$view/web.json")" one ".content shows a document"
is "$(jq -c .metadata "$view/web.json")" '{"name":"web","namespace":"default"}' \
	".content carries no version, times or node"
[ -e "$view/later.json" ] && fail "later.json does not exist yet" || pass "later.json does not exist yet"
deployment two-two-two >"$ns/web.json"
deployment later >"$ns/later.json"
image_in_view() { [ "$(jq -r .spec.image "$view/$1.json" 2>/dev/null)" = "$2" ]; }
ok ".content follows an update" wait_for 2 image_in_view web two-two-two
ok ".content shows a new file after a cached negative lookup" wait_for 2 image_in_view later later
size_ok() { [ "$(stat -c %s "$view/web.json")" = "$(cat "$view/web.json" | wc -c)" ]; }
ok ".content's cached size follows the update" wait_for 2 size_ok
rm "$ns/later.json"
gone_from_view() { [ ! -e "$view/later.json" ]; }
ok ".content forgets a deleted file" wait_for 2 gone_from_view
mkdir "$m/services/team"
ns_in_view() { [ -d "$m/.content/services/team" ]; }
ok ".content shows a new namespace" wait_for 2 ns_in_view
rmdir "$m/services/team"
ns_not_in_view() { [ ! -e "$m/.content/services/team" ]; }
ok ".content forgets a removed namespace" wait_for 2 ns_not_in_view
mkdir "$m/snapshots/base"
deployment three >"$ns/web.json"
diff -r "$m/snapshots/base/.content" "$m/.content" >"$TMP/diff.out"
is "$(grep -c '^diff' "$TMP/diff.out")" 1 "diff -r of a snapshot's and the live .content: one file differs"
ok "the difference is the image" grep -q '"image": "three"' "$TMP/diff.out"
is "$(jq . "$ns/web.json" | cmp - "$ns/web.json" && echo same)" same \
	"a document reads exactly as jq . prints it"
printf '%s\n' '{"metadata":{"labels":{"b":"2","a":"\u00e9 \"q\" \\ /"},"annotations":{"x":"\t\u0001"}},"spec":{"image":"i","replicas":0,"ports":[{"containerPort":65535}],"env":{"Z":"","A":"1"}}}' \
	>"$ns/esc.json"
is "$(jq . "$ns/esc.json" | cmp - "$ns/esc.json" && echo same)" same \
	"a document with escapes, maps and arrays reads as jq . prints it"
is "$(jq . "$view/esc.json" | cmp - "$view/esc.json" && echo same)" same \
	"its .content rendering too"

# ---- the wake-up socket and the fallback poll -------------------------------------
ok "DATA/notify.sock exists while mounted" test -S "$d/notify.sock"
poke() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"x", sys.argv[1])' "$1"
}
ok "a datagram to notify.sock is accepted" poke "$d/notify.sock"
# Another writer of the same store that does not poke: swarmfs-admin
# import does, so its socket is moved aside meanwhile (the mount's binding
# follows the file); the 200 ms poll still invalidates the cached negative
# entry.
"$SWARMFS_ADMIN" --data-dir "$d" export >"$TMP/export.json"
jq '.resources |= map(select(.metadata.name == "web") | .metadata.name = "ext" | .spec.image = "ext"
    | del(.metadata.version))' "$TMP/export.json" >"$TMP/ext.json"
[ -e "$ns/ext.json" ] && fail "ext.json does not exist yet" || pass "ext.json does not exist yet"
mv "$d/notify.sock" "$d/notify.sock.aside"
ok "swarmfs-admin import under the mount succeeds" "$SWARMFS_ADMIN" --data-dir "$d" import "$TMP/ext.json" >/dev/null
ext_visible() { [ "$(jq -r .spec.image "$ns/ext.json" 2>/dev/null)" = ext ]; }
ok "a change by another writer shows without a poke (poll)" wait_for 2 ext_visible
mv "$d/notify.sock.aside" "$d/notify.sock"
jq '.resources[0].metadata.name = "ext2"' "$TMP/ext.json" >"$TMP/ext2.json"
ok "an import with the socket in place succeeds too" "$SWARMFS_ADMIN" --data-dir "$d" import "$TMP/ext2.json" >/dev/null
ext2_visible() { [ "$(jq -r .spec.image "$ns/ext2.json" 2>/dev/null)" = ext ]; }
ok "and shows (swarmfs-admin pokes the mount)" wait_for 2 ext2_visible
ok "events: the mount still answers after pokes" ls "$ns" >/dev/null

# ---- status.json without a sidecar ----------------------------------------------------
st=$m/status.json
ok "status.json has a 32-digit digest" jq -e '.digest | test("^[0-9a-f]{32}$")' "$st" >/dev/null
is "$(jq -r .sidecar "$st")" "not running" "no sidecar: \"sidecar\": \"not running\""
is "$(jq -c .peers "$st")" "[]" "no sidecar status file: peers []"
d1=$(jq -r .digest "$st")
deployment four >"$ns/web.json"
is "$(jq -r '.digest == "'"$d1"'"' "$st")" false "the digest changes with the state"
cat >"$d/sync-status.json" <<'EOF'
{"node":"x","digest":"d","applied":5,"gaps":1,"rejected_frames":2,
 "peers":[{"url":"tcp://127.0.0.1:1","node":"y","connected":true,"behind":3,"ahead":0,
 "digest":"e","rejected_frames":2}]}
EOF
is "$(jq -c '[.peers[0].node, .peers[0].behind, .peers[0].rejected_frames]' "$st")" '["y",3,2]' \
	"peers are copied from DATA/sync-status.json"
is "$(jq -r '.peers[0].connected' "$st")" false "peers of a sidecar that does not run are not connected"
is "$(jq -c '[.replication.applied, .replication.gaps, .replication.rejected_frames]' "$st")" \
	'[5,1,2]' "the sidecar's counters are under \"replication\""
is "$(jq -r .sync "$st")" full "\"sync\" is still the durability mode"
rm -f "$d/sync-status.json"
st_size_ok() { [ "$(stat -c %s "$st")" = "$(cat "$st" | wc -c)" ]; }
ok "status.json's size is its length" st_size_ok

umount_swarmfs "$m"
ok "notify.sock is removed at unmount" test ! -e "$d/notify.sock"

# ---- conflicts: two nodes, both sidecars paused while each writes ------------------
if [ ! -x "$SYNC" ]; then
	skip "conflicts" "'$SYNC' not built"
	done_testing
fi
read -r -a ports <<<"$(free_ports 2)"
url() { echo "tcp://127.0.0.1:${ports[$(($1 - 1))]}"; }
for i in 1 2; do
	mount_swarmfs "$TMP/d$i" "$TMP/m$i" --node "n$i" --snapshot-interval 0 ||
		bail_out "cannot mount node $i"
done
for i in 1 2; do
	start_sidecar "$i"
done
connected() {
	local i
	for i in 1 2; do
		[ "$(jq -r '[.peers[] | select(.connected)] | length' "$TMP/m$i/status.json")" = 1 ] ||
			return 1
	done
}
ok "status.json: each node's sidecar runs and sees its peer" wait_for 10 connected
is "$(jq -r .sidecar "$TMP/m1/status.json")" running "status.json: \"sidecar\": \"running\""

kill -STOP "${sync_pid[1]}" "${sync_pid[2]}"
deployment left >"$TMP/m1/deployments/default/contested.json"
sleep 0.05
deployment right >"$TMP/m2/deployments/default/contested.json"
kill -CONT "${sync_pid[1]}" "${sync_pid[2]}"
cdir() { echo "$TMP/m$1/conflicts/deployments/default"; }
has_conflict() { [ -n "$(ls "$(cdir "$1")" 2>/dev/null)" ]; }
ok "conflicts/deployments/default/ lists the loser on node 1" wait_for 10 has_conflict 1
ok "and on node 2" wait_for 10 has_conflict 2
f=$(ls "$(cdir 1)" | head -1)
case $f in
contested@n1-[0-9]*.json) pass "the file is named NAME@NODE-HLC.json ($f)" ;;
*) fail "the file is named NAME@NODE-HLC.json" "got '$f'" ;;
esac
c1=$(cdir 1)/$f
is "$(jq -r .document.spec.image "$c1")" left "it holds the losing document"
is "$(jq -r .document.metadata.name "$c1")" contested "the document names the resource"
is "$(jq -r '[.loser.node, .winner.node] | join(" ")' "$c1")" "n1 n2" "it names loser and winner"
hlc=${f#contested@n1-}
hlc=${hlc%.json}
is "$(jq -r .loser.hlc "$c1")" "$hlc" "the loser's HLC is the one in the name"
ok "the winner's stamp is later" python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(0 if int(c["winner"]["hlc"]) > int(c["loser"]["hlc"]) else 1)' "$c1"
ok "both sides carry a time" jq -e '.loser.time and .winner.time' "$c1" >/dev/null
is "$(stat -c %s "$c1")" "$(cat "$c1" | wc -c)" "its size is its length"
is "$(jq .document "$c1" | jq -c .)" "$(deployment left | jq -c '{kind: "Deployment",
    metadata: {name: "contested", namespace: "default"}} + .')" \
	"jq .document gives a document that can be written back"
is "$(ls "$TMP/m1/conflicts")" "$(printf 'deployments\ningresses\npods\nservices')" \
	"conflicts/ lists the kinds"
is "$(ls "$TMP/m1/conflicts/deployments")" default "conflicts/KIND/ lists namespaces with conflicts"
is "$(ls "$TMP/m1/conflicts/services")" "" "and nothing for a kind without"
is "$( (echo x >"$c1") 2>/dev/null; echo $?)" 1 "writing a conflict fails"
is "$(write_errno "$c1")" "open:EROFS" "with EROFS"
is "$(deployment x | write_errno "$(cdir 1)/new.json")" "open:EROFS" "creating a file there: EROFS"
is "$(mkdir "$(cdir 1)/x" 2>&1 >/dev/null | grep -c 'Read-only')" 1 "mkdir there: EROFS"
is "$(mv "$c1" "$(cdir 1)/other.json" 2>&1 | grep -c 'Read-only')" 1 "rename there: EROFS"
ok "rm dismisses a conflict" rm "$c1"
is "$(ls "$(cdir 1)" 2>/dev/null)" "" "it is gone from node 1"
ok "node 2 still has its copy (dismissal is local)" has_conflict 2
ok "rm -r of a conflicts namespace dismisses them all" rm -r "$(cdir 2)"
is "$(ls "$TMP/m2/conflicts/deployments")" "" "and the namespace dir goes with them"
digests_equal() {
	[ "$(jq -r .digest "$TMP/m1/status.json")" = "$(jq -r .digest "$TMP/m2/status.json")" ]
}
ok "both mounts show the same digest" wait_for 10 digests_equal
peer_digest() {
	[ "$(jq -r '.peers[0].digest' "$TMP/m1/status.json")" = "$(jq -r .digest "$TMP/m2/status.json")" ]
}
ok "the peer's digest in status.json is the peer's own" wait_for 10 peer_digest
for i in 1 2; do
	kill "${sync_pid[$i]}"
	wait "${sync_pid[$i]}" 2>/dev/null
done
is "$(jq -r .sidecar "$TMP/m1/status.json")" "not running" "a stopped sidecar shows as not running"
is "$(jq -r '[.peers[] | select(.connected)] | length' "$TMP/m1/status.json")" 0 \
	"and its peers as not connected"
done_testing
