#!/bin/sh
# t0110-sync-tls.sh - mutual TLS: three sidecars on tls+tcp://127.0.0.1 with
# certificates from contrib/make-certs.sh replicate; a client without a
# certificate, one with a certificate from another CA, and a whole sidecar
# of another CA can neither connect nor change anything (digests unchanged);
# a sidecar with tls+tcp:// peers but no certificate refuses to start.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_cmd jq python3 sqlite3 openssl
SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
POKE=${SYNC_POKE:-$top_builddir/tests/integration/sync-poke}
CERTS=${top_srcdir:-$(dirname "$0")/../..}/contrib/make-certs.sh
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$POKE" ] || skip_all "'$POKE' not built"
[ -r "$CERTS" ] || skip_all "'$CERTS' not found"

read -r -a ports <<<"$(free_ports 4)"
url() { echo "tls+tcp://127.0.0.1:${ports[$(($1 - 1))]}"; }
rep_url() { echo "tls+tcp://127.0.0.1:$((ports[$(($1 - 1))] + 1))"; }

ok "contrib/make-certs.sh makes a CA and three node certificates" \
	sh "$CERTS" -d "$TMP/ca" n1 n2 n3 >"$TMP/certs.log" 2>&1
ok "and a second, unrelated CA with its own certificate" \
	sh "$CERTS" -d "$TMP/other" --ca-name "not the cluster" n4 mallory >>"$TMP/certs.log" 2>&1
ok "node certificates verify against the cluster CA" \
	openssl verify -CAfile "$TMP/ca/ca.pem" "$TMP/ca/n1.pem" "$TMP/ca/n2.pem" "$TMP/ca/n3.pem" >/dev/null
ok "the CN is the node name" sh -c "openssl x509 -in '$TMP/ca/n2.pem' -noout -subject | grep -q 'CN *= *n2'"
ok "keys are private" test "$(stat -c %a "$TMP/ca/n1.key")" = 600

declare -A sync_pid
start_sync() { # start_sync I CERTDIR [EXTRA...]: node I peering with nodes 1..3 but itself
	local i=$1 certs=$2 j peers=()
	shift 2
	for j in 1 2 3; do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	mkdir -p "$TMP/d$i"
	"$SYNC" -f --data-dir "$TMP/d$i" --node "n$i" --listen "$(url "$i")" "${peers[@]}" \
		--tls-ca "$certs/ca.pem" --tls-cert "$certs/n$i.pem" --tls-key "$certs/n$i.key" \
		--heartbeat-ms 100 --retry-ms 200 --log-level info "$@" \
		>>"$TMP/sync$i.log" 2>&1 3>&- &
	sync_pid[$i]=$!
	track_pid "${sync_pid[$i]}"
}
status() { # status I FILTER
	jq -r "$2" "$TMP/d$1/sync-status.json" 2>/dev/null
}
write() { # write I < lines
	"$POKE" write "$TMP/d$1" >>"$TMP/acks$1" 2>>"$TMP/poke.err"
}
has() { # has I NAME: node I holds deployments/default/NAME
	[ -n "$(sqlite3 "$TMP/d$1/store.db" "SELECT 1 FROM resources WHERE name = '$2' AND deleted = 0" 2>/dev/null)" ]
}
digests_equal() {
	local d1
	d1=$(status 1 .digest)
	[ -n "$d1" ] && [ "$d1" = "$(status 2 .digest)" ] && [ "$d1" = "$(status 3 .digest)" ] &&
		[ "$(status 1 .resources)" = "$1" ]
}
connected() {
	local i
	for i in 1 2 3; do
		[ "$(status "$i" '[.peers[] | select(.connected and .node != null and .node != "n4")] | length')" = 2 ] || return 1
	done
}

# n1 also dials node 4, which will hold a certificate of the other CA.
start_sync 1 "$TMP/ca" --peer "$(url 4)"
start_sync 2 "$TMP/ca"
start_sync 3 "$TMP/ca"
ok "three sidecars connect over mutual TLS" wait_for 15 connected
for i in 1 2 3; do
	echo "put default from-$i img-$i" | write "$i"
done
ok "writes on every node replicate over TLS" wait_for 10 digests_equal 3
for i in 1 2 3; do
	ok "node $i has every node's write" eval 'has $i from-1 && has $i from-2 && has $i from-3'
done
digest=$(status 1 .digest)

# ---- clients that must not get in ---------------------------------------------------------
cat "$TMP/ca/n1.pem" "$TMP/ca/n1.key" >"$TMP/good.pem"
cat "$TMP/other/mallory.pem" "$TMP/other/mallory.key" >"$TMP/bad.pem"
out=$("$POKE" tls "$(rep_url 1)" "$TMP/ca/ca.pem" "$TMP/good.pem" 2>&1)
is "$out" answered "a client with a cluster certificate is answered (the control)"
out=$("$POKE" tls "$(rep_url 1)" "$TMP/ca/ca.pem" 2>&1)
case $out in
refused*) pass "a client without a certificate is refused ($out)" ;;
*) fail "a client without a certificate is refused" "$out" ;;
esac
out=$("$POKE" tls "$(rep_url 1)" "$TMP/ca/ca.pem" "$TMP/bad.pem" 2>&1)
case $out in
refused*) pass "a client with a certificate of another CA is refused ($out)" ;;
*) fail "a client with a certificate of another CA is refused" "$out" ;;
esac
refused_counted() { [ "$(status 1 .refused_connections)" -ge 2 ] 2>/dev/null; }
ok "n1 counts the two refused connections in sync-status.json" wait_for 5 refused_counted

# ---- a whole sidecar of another CA ----------------------------------------------------------
mkdir -p "$TMP/d4"
"$SYNC" -f --data-dir "$TMP/d4" --node n4 --listen "$(url 4)" \
	--peer "$(url 1)" --peer "$(url 2)" --peer "$(url 3)" \
	--tls-ca "$TMP/other/ca.pem" --tls-cert "$TMP/other/n4.pem" --tls-key "$TMP/other/n4.key" \
	--heartbeat-ms 100 --retry-ms 200 --log-level info >>"$TMP/sync4.log" 2>&1 3>&- &
rogue=$!
track_pid "$rogue"
rogue_up() { [ -f "$TMP/d4/sync-status.json" ]; }
wait_for 10 rogue_up || diag "the rogue sidecar did not start"
echo "put default evil evil" | write 4
sleep 2
is "$(status 4 '[.peers[] | select(.connected)] | length')" 0 "the rogue sidecar connects to no one"
is "$(status 4 '[.peers[] | select(.node != null)] | length')" 0 "and learns no node name"
is "$(status 1 '.peers[] | select(.url == "'"$(url 4)"'") | .connected')" false \
	"n1 cannot subscribe to the rogue node either"
for i in 1 2 3; do
	ok "node $i holds nothing from the rogue node" not has "$i" evil
	is "$(status "$i" .digest)" "$digest" "node $i's digest is unchanged"
done
ok "no node knows the rogue origin" \
	test -z "$(sqlite3 "$TMP/d1/store.db" "SELECT node FROM origins WHERE node = 'n4'")"
kill "$rogue"
wait "$rogue" 2>/dev/null

# ---- no certificate at all -------------------------------------------------------------------
"$SYNC" -f --data-dir "$TMP/d4" --node n4 --listen tcp://127.0.0.1:1 --peer "$(url 1)" \
	>"$TMP/nocert.log" 2>&1 3>&-
ok "a sidecar with tls+tcp:// peers and no certificate refuses to start" exited_with_error $?
ok "saying what it needs" grep -q -- "--tls-cert" "$TMP/nocert.log"

# ---- still replicating ---------------------------------------------------------------------------
echo "put default after after" | write 2
ok "the cluster still replicates" wait_for 10 digests_equal 4
for i in 1 2 3; do
	kill -TERM "${sync_pid[$i]}"
	wait "${sync_pid[$i]}"
	is "$?" 0 "sidecar $i exits 0 on SIGTERM"
done
done_testing
