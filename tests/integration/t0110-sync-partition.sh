#!/bin/sh
# t0110-sync-partition.sh - partitions and packet loss in network namespaces.
# Three namespaces, one per node, joined by veth pairs to a bridge that lives
# in a fourth namespace; addresses from 10.213.77.0/24 exist only inside them.
# Each swarmfs-sync runs in its namespace (ip netns exec) on tcp:// with
# --insecure; writes go into each node's store through sync-poke, which
# records every acknowledged write.  nftables inside the namespaces cuts a
# node off with TCP resets (so pub/sub really drops messages) and drops 30%
# of packets (numgen random mod 100 < 30).  After a partition with writes,
# updates and deletes on both sides, and after 1,000 writes under loss, the
# digests become equal within a deadline and sync-check.py finds every
# acknowledged write, no resurrection and byte-identical nodes.  Skipped when
# network namespaces cannot be made (no root, no CAP_NET_ADMIN).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
wait_for_step=0.1
require_cmd jq python3 sqlite3 ip nft
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}
CHECK=${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-check.py
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$POKE" ] || skip_all "'$POKE' not built"

NET=10.213.77
PORT=7101
tag=swfs$$
br=${tag}br
ns_of() { echo "${tag}n$1"; }

cleanup_netns() {
	local i
	for i in 1 2 3; do
		[ -n "${sync_pid[$i]:-}" ] && kill "${sync_pid[$i]}" 2>/dev/null
	done
	for i in 1 2 3; do
		ip netns del "$(ns_of "$i")" 2>/dev/null
	done
	ip netns del "$br" 2>/dev/null
}
declare -A sync_pid
ip netns add "$br" 2>/dev/null || skip_all "cannot create network namespaces (ip netns add failed)"
at_exit cleanup_netns
for i in 1 2 3; do
	ip netns add "$(ns_of "$i")" || bail_out "ip netns add $(ns_of "$i") failed"
done

# ---- the network: a bridge in its own namespace, one veth per node --------------------
inb() { ip netns exec "$br" "$@"; }
inn() { local i=$1; shift; ip netns exec "$(ns_of "$i")" "$@"; }
inb ip link add br0 type bridge || bail_out "cannot create a bridge"
inb ip link set br0 up
inb ip link set lo up
for i in 1 2 3; do
	ip link add "${tag}v$i" netns "$(ns_of "$i")" type veth peer name "p$i" netns "$br" ||
		bail_out "cannot create a veth pair"
	inb ip link set "p$i" master br0 up
	inn "$i" ip link set lo up
	inn "$i" ip link set "${tag}v$i" name eth0
	inn "$i" ip addr add "$NET.$i/24" dev eth0
	inn "$i" ip link set eth0 up
done
reach() { inn 1 ping -c1 -W1 "$NET.2" >/dev/null 2>&1 && inn 1 ping -c1 -W1 "$NET.3" >/dev/null 2>&1; }
if command -v ping >/dev/null 2>&1; then
	ok "the namespaces reach each other over the bridge" reach
fi
ok "no address of the test network exists outside the namespaces" \
	not sh -c "ip -4 addr show | grep -q ' $NET\\.'"

# Each node namespace gets a table with an input and an output chain; the
# rules below are added to and flushed from them.
for i in 1 2 3; do
	inn "$i" nft -f - <<EOF || bail_out "nft failed in $(ns_of "$i")"
table inet swfs {
	chain input { type filter hook input priority 0; policy accept; }
	chain output { type filter hook output priority 0; policy accept; }
}
EOF
done
have_nft_rule() { inn 1 nft add rule inet swfs input numgen random mod 100 '<' 30 drop && inn 1 nft flush chain inet swfs input; }
have_nft_rule || skip_all "nftables in the namespace refuses 'numgen random' rules"

url() { echo "tcp://$NET.$1:$PORT"; }
start_sync() { # start_sync I
	local i=$1 j peers=()
	for j in 1 2 3; do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	mkdir -p "$TMP/d$i"
	ip netns exec "$(ns_of "$i")" "$SYNC" -f --data-dir "$TMP/d$i" --node "n$i" \
		--listen "$(url "$i")" "${peers[@]}" --insecure \
		--heartbeat-ms 100 --retry-ms 200 --purge-ms 500 --log-level info \
		>>"$TMP/sync$i.log" 2>&1 3>&- &
	sync_pid[$i]=$!
	track_pid "${sync_pid[$i]}"
}
status() { jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null; }
write() { "$POKE" write "$TMP/d$1" >>"$TMP/acks$1" 2>>"$TMP/poke.err"; }
sees() { # sees I N: node I hears from N peers
	[ "$(status "$1" '[.peers[] | select(.connected)] | length')" = "$2" ]
}
all_connected() { sees 1 2 && sees 2 2 && sees 3 2; }
digests_equal() {
	local d1
	d1=$(status 1 .digest)
	[ -n "$d1" ] && [ "$d1" = "$(status 2 .digest)" ] && [ "$d1" = "$(status 3 .digest)" ] &&
		[ "$(status 1 .resources)" != 0 ] &&
		[ "$(status 1 '[.peers[].digest] | unique | join(",")')" = "$d1" ]
}
# elapsed_since MS: milliseconds since MS.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
check() {
	python3 "$CHECK" --acks "$TMP/acks1" --acks "$TMP/acks2" --acks "$TMP/acks3" \
		"$TMP/d1/store.db" "$TMP/d2/store.db" "$TMP/d3/store.db" >"$TMP/check.out" 2>&1
	local rc=$?
	sed 's/^/# /' "$TMP/check.out" >&3
	return $rc
}
: >"$TMP/acks1" >"$TMP/acks2" >"$TMP/acks3"

for i in 1 2 3; do
	start_sync "$i"
done
ok "three sidecars in three namespaces connect" wait_for 20 all_connected
for k in $(seq 1 20); do echo "put default p$k base-$k"; done | write 1
ok "a first batch converges" wait_for 20 digests_equal

# ---- partition ------------------------------------------------------------------------
# n3 answers every TCP segment from the others with a reset and resets its own
# connections to them: its sessions die, pub/sub drops what is sent meanwhile.
inn 3 nft add rule inet swfs input ip saddr "$NET.0/24" ip saddr != "$NET.3" meta l4proto tcp reject with tcp reset
inn 3 nft add rule inet swfs output ip daddr "$NET.0/24" ip daddr != "$NET.3" meta l4proto tcp reject with tcp reset
cut_off() { sees 3 0 && [ "$(status 1 '[.peers[] | select(.connected and .node == "n3")] | length')" = 0 ]; }
ok "the partition cuts n3 off" wait_for 10 cut_off
{
	for k in $(seq 1 30); do echo "put default a$k left-$k"; done
	for k in 1 2 3 4 5; do echo "put default p$k left-update-$k"; done
	for k in 6 7 8 9 10; do echo "del default p$k"; done
} | write 1
{
	for k in $(seq 1 30); do echo "put default c$k mid-$k"; done
	echo "del default p14"
} | write 2
{
	for k in $(seq 1 30); do echo "put default b$k right-$k"; done
	for k in 1 2 3; do echo "put default p$k right-update-$k"; done
	for k in 11 12 13; do echo "del default p$k"; done
	echo "put default p6 right-revives-6"
	echo "put default p14 right-update-14"
} | write 3
sleep 1
ok "n3 did not get the other side's writes" \
	test -z "$(sqlite3 "$TMP/d3/store.db" "SELECT 1 FROM resources WHERE name = 'a1'")"
ok "n1 did not get n3's" \
	test -z "$(sqlite3 "$TMP/d1/store.db" "SELECT 1 FROM resources WHERE name = 'b1'")"
healed_at=$(now_ms)
inn 3 nft flush chain inet swfs input
inn 3 nft flush chain inet swfs output
ok "after healing, all digests are equal within 30 s" wait_for 30 digests_equal
diag "converged $(($(now_ms) - healed_at)) ms after healing"
ok "sync-check: every acknowledged write kept, no resurrection, identical nodes" check
conflicts=$(sqlite3 "$TMP/d1/store.db" "SELECT count(*) FROM conflicts")
ok "the concurrent updates left conflicts ($conflicts)" test "$conflicts" -ge 3

# ---- 30% loss ------------------------------------------------------------------------------
for i in 1 2 3; do
	inn "$i" nft add rule inet swfs input numgen random mod 100 '<' 30 drop
done
loss_at=$(now_ms)
writers=()
for w in 1 2 3; do
	{
		for k in $(seq 1 300); do echo "put default l$w-$k loss-$k"; done
		for k in $(seq 1 20); do echo "put default l$w-$k loss-again-$k"; done
		for k in $(seq 21 33); do echo "del default l$w-$k"; done
		echo "put default shared-$((w % 2)) from-$w"
	} | write "$w" &
	writers+=($!)
done
wait "${writers[@]}"
writes=$(cat "$TMP/acks1" "$TMP/acks2" "$TMP/acks3" | grep -c '^ack')
diag "$writes acknowledged writes in all, 1002 of them under loss"
ok "1,000 writes under 30% loss converge within 120 s" wait_for 120 digests_equal
diag "converged $(($(now_ms) - loss_at)) ms after the loss started"
ok "sync-check after loss: nothing lost, identical nodes" check
ok "every sidecar survived" kill -0 "${sync_pid[1]}" "${sync_pid[2]}" "${sync_pid[3]}"
for i in 1 2 3; do
	inn "$i" nft flush chain inet swfs input
done
for i in 1 2 3; do
	kill -TERM "${sync_pid[$i]}"
	wait "${sync_pid[$i]}"
	ok "sidecar $i exits 0 on SIGTERM" sidecar_exited_ok "${sync_pid[$i]}" $?
	sync_pid[$i]=
done
done_testing
