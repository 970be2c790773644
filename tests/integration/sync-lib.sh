# sync-lib.sh - helpers shared by the multi-node tests; source after lib.sh.

# free_ports N: N base ports, each with the next port free as well (a PUB
# address and its catch-up REP address).  Below the kernel's ephemeral
# range: a test binds some ports long after choosing them (a node started
# later), and meanwhile every outgoing connection takes an ephemeral port;
# a rogue sidecar of t0110-sync-tls once found its port taken that way.
free_ports() {
	python3 - "$1" <<'PY'
import random, socket, sys
low = 32768
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    pass
top = low - 2 if low > 12000 else 60000
found = []
while len(found) < int(sys.argv[1]):
    p = random.randrange(10000, top, 2)
    try:
        socks = []
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
        for s in socks:
            s.close()
        if p not in found:
            found.append(p)
    except OSError:
        pass
print(" ".join(map(str, found)))
PY
}

# wait_for SECONDS CMD...: polls CMD every $wait_for_step seconds (default
# 0.05) until it succeeds; SECONDS is multiplied by SWARMFS_TIMEOUT_FACTOR.
wait_for() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000 * ${SWARMFS_TIMEOUT_FACTOR:-1}))
	shift
	until "$@"; do
		[ $(($(date +%s%N) / 1000000)) -ge "$deadline" ] && return 1
		sleep "${wait_for_step:-0.05}"
	done
	return 0
}

# start_sidecar I [OPTION...]: swarmfs-sync -f for node I (data dir $TMP/dI,
# name nI, listening on `url I`) peering with every other node of ports[],
# with fast heartbeats and retries and OPTIONs added; its output goes to
# $TMP/syncI.log and its pid to sync_pid[I].  The test defines ports[] and
# url() (tcp:// or tls+tcp://).
declare -A sync_pid
start_sidecar() {
	local i=$1 j peers=()
	shift
	for j in $(seq 1 ${#ports[@]}); do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	mkdir -p "$TMP/d$i"
	"$SWARMFS_SYNC" -f --data-dir "$TMP/d$i" --node "n$i" --listen "$(url "$i")" \
		"${peers[@]}" --heartbeat-ms 100 --retry-ms 200 "$@" >>"$TMP/sync$i.log" 2>&1 3>&- &
	sync_pid[$i]=$!
	track_pid "${sync_pid[$i]}"
}

# stop_sidecar I: SIGTERM to node I's sidecar, and waits for it.
stop_sidecar() {
	kill -TERM "${sync_pid[$1]}" 2>/dev/null
	wait "${sync_pid[$1]}" 2>/dev/null
}
