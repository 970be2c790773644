# sync-lib.sh - helpers shared by the multi-node tests; source after lib.sh.

# free_ports N: N base ports, each with the next port free as well (a PUB
# address and its catch-up REP address).
free_ports() {
	python3 - "$1" <<'PY'
import random, socket, sys
found = []
while len(found) < int(sys.argv[1]):
    p = random.randrange(20000, 60000, 2)
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
