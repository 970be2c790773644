#!/bin/sh
# t0100-sync.sh - three nodes on loopback, each a swarmfs mount and a
# swarmfs-sync sidecar on its own data dir: writes, deletes, renames and
# namespace removal replicate; concurrent writes converge on one winner with
# the loser kept on every node; a sidecar killed with -9 catches up after a
# restart; malformed frames change nothing and are counted; a second node
# with a taken name is refused; SIGTERM exits 0.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_fuse
require_cmd jq python3 sqlite3
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$POKE" ] || skip_all "'$POKE' not built"

read -r -a ports <<<"$(free_ports 5)"
url() { echo "tcp://127.0.0.1:${ports[$1]}"; }

declare -A sync_pid
# start_sync I [EXTRA ARGS]: sidecar of node I (1..3) peering with the others.
start_sync() {
	local i=$1 j peers=()
	shift
	for j in 1 2 3; do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	"$SYNC" -f --data-dir "$TMP/d$i" --node "n$i" --listen "$(url "$i")" "${peers[@]}" \
		--heartbeat-ms 100 --retry-ms 200 --log-level info "$@" \
		>>"$TMP/sync$i.log" 2>&1 3>&- &
	sync_pid[$i]=$!
	track_pid "${sync_pid[$i]}"
}

for i in 1 2 3; do
	mount_swarmfs "$TMP/d$i" "$TMP/m$i" --node "n$i" || bail_out "cannot mount node $i"
done
for i in 1 2 3; do
	start_sync "$i"
done

status() { # status I FILTER
	jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null
}
connected() {
	local i
	for i in 1 2 3; do
		[ "$(status "$i" '[.peers[] | select(.connected)] | length')" = 2 ] || return 1
	done
}
ok "the three sidecars see each other" wait_for 10 connected
ok "each sidecar listens for the mount's wake-ups on DATA/sync.sock" \
	test -S "$TMP/d1/sync.sock" -a -S "$TMP/d2/sync.sock" -a -S "$TMP/d3/sync.sock"

image_on() { # image_on I KIND/NS/NAME
	jq -r .spec.image "$TMP/m$1/$2.json" 2>/dev/null
}
everywhere() { # everywhere PATH IMAGE: the resource has IMAGE on all mounts
	local i
	for i in 1 2 3; do
		[ "$(image_on "$i" "$1")" = "$2" ] || return 1
	done
}
nowhere() { # nowhere PATH
	local i
	for i in 1 2 3; do
		[ ! -e "$TMP/m$i/$1.json" ] || return 1
	done
}
digests_equal() {
	local d1 d2 d3
	d1=$(status 1 .digest) d2=$(status 2 .digest) d3=$(status 3 .digest)
	[ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ] &&
		[ "$(status 1 .revision)" != 0 ] &&
		# what each node heard from its peers agrees as well
		[ "$(status 1 '[.peers[].digest] | unique | join(",")')" = "$d1" ]
}

# ---- writes on every node ---------------------------------------------------------
for i in 1 2 3; do
	deployment "img-$i" >"$TMP/m$i/deployments/default/from-$i.json"
done
for i in 1 2 3; do
	ok "a write on node $i is readable through every mount" \
		wait_for 5 everywhere "deployments/default/from-$i" "img-$i"
done
deployment img-1b >"$TMP/m1/deployments/default/from-2.json"
ok "an update of another node's resource replicates" \
	wait_for 5 everywhere deployments/default/from-2 img-1b
is "$(jq -r .metadata.node "$TMP/m3/deployments/default/from-2.json")" n1 \
	"the replicated document names the node that wrote it"

# ---- delete, rename, namespaces ---------------------------------------------------
rm "$TMP/m2/deployments/default/from-1.json"
ok "a delete replicates" wait_for 5 nowhere deployments/default/from-1
mv "$TMP/m3/deployments/default/from-3.json" "$TMP/m3/deployments/default/moved.json"
ok "a rename replicates (new name)" wait_for 5 everywhere deployments/default/moved img-3
ok "a rename replicates (old name gone)" wait_for 5 nowhere deployments/default/from-3
mkdir "$TMP/m1/services/team"
printf '{"spec":{"selector":{"app":"x"},"ports":[{"port":80}]}}\n' >"$TMP/m1/services/team/svc.json"
ns_on_all() {
	local i
	for i in 1 2 3; do
		[ -e "$TMP/m$i/services/team/svc.json" ] || return 1
	done
}
ok "a new namespace and its resource replicate" wait_for 5 ns_on_all
rm -r "$TMP/m2/services/team"
ns_gone() {
	local i
	for i in 1 2 3; do
		[ ! -e "$TMP/m$i/services/team" ] || return 1
	done
}
ok "removing a namespace replicates" wait_for 5 ns_gone
ok "digests become equal" wait_for 10 digests_equal

# ---- concurrent writes ----------------------------------------------------------------
# Both sidecars are paused, so neither write can see the other: a true conflict.
kill -STOP "${sync_pid[1]}" "${sync_pid[2]}"
deployment left >"$TMP/m1/deployments/default/contested.json"
sleep 0.05
deployment right >"$TMP/m2/deployments/default/contested.json"
kill -CONT "${sync_pid[1]}" "${sync_pid[2]}"
same_winner() {
	local a
	a=$(image_on 1 deployments/default/contested)
	[ -n "$a" ] && [ "$a" != null ] && everywhere deployments/default/contested "$a"
}
ok "concurrent writes converge on one winner on all three nodes" wait_for 10 same_winner
winner=$(image_on 1 deployments/default/contested)
# n2's write is later (same or later HLC) and n2 > n1 breaks a tie: it wins.
is "$winner" right "the later write wins"
losers() { # losers I: the conflicts table of node I
	sqlite3 "$TMP/d$i/store.db" "SELECT kind, namespace, name, node, hlc, body FROM conflicts ORDER BY 1,2,3,4,5" 2>/dev/null
}
same_losers() {
	local i l1
	l1=$(i=1 losers)
	[ -n "$l1" ] || return 1
	for i in 2 3; do
		[ "$(losers)" = "$l1" ] || return 1
	done
}
ok "every node keeps the same losing version as a conflict" wait_for 10 same_losers
i=3
case $(losers) in
*n1*left*) pass "the conflict is node n1's version 'left'" ;;
*) fail "the conflict is node n1's version 'left'" "$(losers)" ;;
esac
ok "digests are equal after the conflict" wait_for 10 digests_equal

# ---- kill -9 and catch up -----------------------------------------------------------------
kill -9 "${sync_pid[3]}"
wait "${sync_pid[3]}" 2>/dev/null
for k in $(seq 1 10); do
	deployment "burst-$k" >"$TMP/m$((k % 2 + 1))/deployments/default/burst-$k.json"
done
rm "$TMP/m1/deployments/default/moved.json"
sleep 0.3
ok "node 3 misses the writes while its sidecar is down" \
	test ! -e "$TMP/m3/deployments/default/burst-1.json"
# kill -9 leaves the socket file; the restarted sidecar binds it anew.
ok "a killed sidecar leaves DATA/sync.sock behind" test -S "$TMP/d3/sync.sock"
ok "a write on node 3 succeeds while its sidecar is dead (its wake-up goes nowhere)" \
	sh -c "printf '%s\n' '{\"spec\":{\"image\":\"offline\",\"replicas\":1}}' \
		>'$TMP/m3/deployments/default/offline.json'"
# Restarted with a hostile peer publishing malformed frames as well.
"$POKE" pub "$(url 4)" 3 >"$TMP/poke-pub.out" 2>&1 3>&- &
poke_pid=$!
track_pid "$poke_pid"
start_sync 3 --peer "$(url 4)"
caught_up() {
	local k
	for k in $(seq 1 10); do
		[ "$(image_on 3 "deployments/default/burst-$k")" = "burst-$k" ] || return 1
	done
	[ ! -e "$TMP/m3/deployments/default/moved.json" ]
}
ok "a restarted sidecar catches up on everything it missed" wait_for 10 caught_up
offline_on_1() { [ "$(image_on 1 deployments/default/offline)" = offline ]; }
ok "and publishes the write made while it was dead" wait_for 10 offline_on_1
ok "and the digests agree again" wait_for 10 digests_equal

# ---- malformed frames -------------------------------------------------------------------------
wait "$poke_pid"
rejected3=$(status 3 .rejected_frames)
ok "malformed published frames were counted ($rejected3)" test "${rejected3:-0}" -gt 0
before=$(status 1 .rejected_frames)
digest_before=$(status 1 .digest)
sent=$("$POKE" req "tcp://127.0.0.1:$((ports[1] + 1))" 2>&1)
is "$sent" 8 "eight malformed requests sent to node 1"
rejected_grew() {
	[ "$(status 1 .rejected_frames)" -ge $((before + 8)) ]
}
ok "node 1 counted them" wait_for 5 rejected_grew
is "$(status 1 .digest)" "$digest_before" "and its state did not change"
for i in 1 2 3; do
	ok "node $i holds nothing from the hostile peer" \
		test ! -e "$TMP/m$i/deployments/default/evil.json"
done
ok "no node knows the hostile origin" \
	test -z "$(sqlite3 "$TMP/d1/store.db" "SELECT node FROM origins WHERE node = 'mallory'")"
ok "every sidecar is still running" kill -0 "${sync_pid[1]}" "${sync_pid[2]}" "${sync_pid[3]}"

# ---- a second node called n1 --------------------------------------------------------------------
mkdir -p "$TMP/dup"
timeout 10 "$SYNC" -f --data-dir "$TMP/dup" --node n1 --listen "$(url 0)" --peer "$(url 1)" \
	--heartbeat-ms 100 --retry-ms 200 >"$TMP/dup.log" 2>&1 3>&-
rc=$?
ok "a second node named n1 stops with an error" exited_with_error "$rc"
ok "and says why" grep -q "another node also calls itself 'n1'" "$TMP/dup.log"
ok "the real n1 keeps running" kill -0 "${sync_pid[1]}"

# ---- one sidecar per data dir; options ---------------------------------------------------------------
"$SYNC" -f --data-dir "$TMP/d1" --node n1 --listen "$(url 0)" >"$TMP/second.log" 2>&1 3>&-
rc=$?
ok "a second sidecar on one data dir is refused" exited_with_error "$rc"
ok "with a clear message" grep -q "already runs on data dir" "$TMP/second.log"
"$SYNC" -f --data-dir "$TMP/dup" --listen tcp://0.0.0.0:7001 >"$TMP/insecure.log" 2>&1 3>&-
rc=$?
ok "listening on a non-loopback address without TLS is refused" exited_with_error "$rc"
ok "naming --insecure" grep -q -- "--insecure" "$TMP/insecure.log"
"$SYNC" --bogus >/dev/null 2>&1 3>&-
ok "an unknown option is refused" exited_with_error $?

# ---- SIGTERM -----------------------------------------------------------------------------------------
for i in 1 2 3; do
	kill -TERM "${sync_pid[$i]}"
	wait "${sync_pid[$i]}"
	ok "sidecar $i exits 0 on SIGTERM" sidecar_exited_ok "${sync_pid[$i]}" $?
done
done_testing
