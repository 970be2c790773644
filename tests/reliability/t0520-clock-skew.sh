#!/bin/sh
# t0520-clock-skew.sh - one node's wall clock ahead of the others, with
# libfaketime (FAKETIME, FAKETIME_DONT_FAKE_MONOTONIC=1: monotonic time is
# left alone) under both of its daemons; the sidecars keep the default
# --max-skew-ms 60000.
#   1. n3 30 s ahead (within the limit): its changes are applied, the others'
#      hybrid logical clocks move past its stamps, so a write made on n1 after
#      it saw n3's write is stamped later and wins everywhere: HLC keeps
#      causal order; the cluster converges.
#   2. n3 an hour ahead (beyond the limit): n3 still takes the others'
#      changes, but n1 and n2 refuse every change n3 makes, log it ("remote
#      clock is ... ms ahead of ours") and count it (sync-status.json
#      "refused"); n3's writes stay on n3 and its digest differs.  n3 keeps
#      its own later-stamped version of a resource n1 wrote after it.
#   3. n3's clock fixed (restarted without faketime): the HLC it persisted
#      never goes back, so its stamps stay an hour ahead and are still
#      refused: no convergence until real time catches up.
#   4. an hour later (n1 and n2 restarted an hour ahead as well): n3's
#      backlog is within the limit, it is applied in order, and all digests
#      become equal; n3's stamps, the higher, win.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/reliability/rel-lib.sh"
rel_require
require_cmd faketime
require_no_asan libfaketime
FT_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
	/usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
	/usr/local/lib/faketime/libfaketime.so.1; do
	[ -r "$f" ] && { FT_LIB=$f; break; }
done
[ -n "$FT_LIB" ] || skip_all "libfaketime.so.1 not found"
ahead() { # ahead OFFSET: libfaketime's environment for a clock OFFSET ahead
	echo "LD_PRELOAD=$FT_LIB FAKETIME=$1 FAKETIME_DONT_FAKE_MONOTONIC=1"
}

# libfaketime must reach clock_gettime(CLOCK_REALTIME) and leave
# CLOCK_MONOTONIC alone, as the daemons use both.
probe=$(env $(ahead +1h) python3 -c '
import time
print(int(time.clock_gettime(time.CLOCK_REALTIME)), int(time.monotonic()))')
real_now=$(date +%s)
mono_now=$(python3 -c 'import time; print(int(time.monotonic()))')
d=$((${probe% *} - real_now))
ok "libfaketime moves CLOCK_REALTIME an hour ahead (by $d s)" test "$d" -ge 3590 -a "$d" -le 3610
m=$((${probe#* } - mono_now))
ok "and leaves CLOCK_MONOTONIC alone (off by $m s)" test "${m#-}" -le 5

put() { deployment "$3" >"$TMP/m$1/deployments/default/$2.json"; }
image_on() { jq -r .spec.image "$TMP/m$1/deployments/default/$2.json" 2>/dev/null; }
on_all() { # on_all NAME IMAGE
	local i
	for i in 1 2 3; do
		[ "$(image_on "$i" "$1")" = "$2" ] || return 1
	done
}
hlc_of() { # hlc_of I NAME: the stored stamp of NAME on node I
	sqlite3 "$TMP/d$1/store.db" "SELECT hlc FROM resources WHERE kind = 0 AND namespace = 'default' AND name = '$2'"
}
img_is() { [ "$(image_on "$1" "$2")" = "$3" ]; } # img_is I NAME IMAGE ("" absent)
conflicts_of() { sqlite3 "$TMP/d$1/store.db" "SELECT count(*) FROM conflicts WHERE name = '$2'"; }
updated_s() { # updated_s FILE: metadata.updated as epoch seconds
	date -d "$(jq -r .metadata.updated "$1")" +%s
}
restart_node() { # restart_node I: both daemons of node I, with rel_env[I]
	kill -TERM "${sync_pid[$1]}"
	wait "${sync_pid[$1]}"
	umount_swarmfs "$TMP/m$1" || bail_out "node $1 did not unmount"
	start_mount "$1" || bail_out "node $1 did not mount again"
	start_sync "$1"
}
refused() { status "$1" .refused; }
skew_logged() { grep -q "remote clock is [0-9]* ms ahead of ours (more than 60000 ms)" "$TMP/sync$1.log"; }

# ---- 1. 30 s ahead: within the limit -------------------------------------------------------
rel_env[3]=$(ahead +30s)
start_cluster 3
put 3 web v-n3
ok "phase 1: a write on n3 (30 s ahead) reaches every node" wait_for 10 on_all web v-n3
put 1 web v-n1-after
ok "phase 1: n1's write made after it saw n3's wins on every node" wait_for 10 on_all web v-n1-after
h3=$(sqlite3 "$TMP/d1/store.db" "SELECT hlc FROM changes WHERE name = 'web' AND origin = 'n3'")
h1=$(hlc_of 1 web)
ok "phase 1: its stamp is past n3's although n1's clock is 30 s behind" test "$h1" -gt "$h3"
diag "skew phase 1: n3's stamp is $((((h3 >> 16)) - $(date +%s%3N))) ms from n1's wall clock," \
	"n1's later write is stamped $((h1 - h3)) tick(s) of the HLC counter after it"
ok "phase 1: no change was refused" test "$(refused 1)" = 0 -a "$(refused 2)" = 0
ok "phase 1: the cluster converges" wait_for 20 digests_equal
is "$(sqlite3 "$TMP/d1/store.db" 'SELECT count(*) FROM conflicts')" 0 \
	"phase 1: a causal overwrite is no conflict"

# ---- 2. an hour ahead: beyond the limit --------------------------------------------------------
rel_env[3]=$(ahead +1h)
restart_node 3
ok "phase 2: n3 reconnects an hour ahead" wait_for 20 all_connected
put 3 clock n3-ahead
skew=$(($(updated_s "$TMP/m3/deployments/default/clock.json") - $(date +%s)))
ok "phase 2: swarmfs on n3 runs an hour ahead (metadata.updated $skew s ahead)" \
	test "$skew" -ge 3590 -a "$skew" -le 3610
skew=$(($(date -d "$(status 3 .updated)" +%s) - $(date +%s)))
ok "phase 2: swarmfs-sync on n3 runs an hour ahead (status updated $skew s ahead)" \
	test "$skew" -ge 3590 -a "$skew" -le 3610
put 1 from-n1 v1
ok "phase 2: n3 still applies the others' changes" wait_for 10 img_is 3 from-n1 v1
ok_refused() { [ "$(refused 1)" -gt 0 ] && [ "$(refused 2)" -gt 0 ]; }
ok "phase 2: n1 and n2 refuse n3's changes and count them" wait_for 10 ok_refused
ok "phase 2: n1 logs why" skew_logged 1
ok "phase 2: n2 logs why" skew_logged 2
n3_only() { img_is 1 clock "" && img_is 2 clock "" && img_is 3 clock n3-ahead; }
ok "phase 2: n3's write is on n3 only" n3_only
put 3 from-n1 v2-n3
sleep 0.5
put 1 from-n1 v3-n1-later
later12() { img_is 1 from-n1 v3-n1-later && img_is 2 from-n1 v3-n1-later; }
ok "phase 2: n1 and n2 agree on n1's later write" wait_for 10 later12
n3_conflict() { [ "$(conflicts_of 3 from-n1)" = 1 ]; }
ok "phase 2: n3 keeps its own version, stamped an hour ahead" wait_for 10 n3_conflict
is "$(image_on 3 from-n1)" v2-n3 "phase 2: on n3 the real-time-later write of n1 lost (it is under conflicts/)"
d12() { [ "$(status 1 .digest)" = "$(status 2 .digest)" ]; }
ok "phase 2: n1 and n2 converge" wait_for 10 d12
sleep 1
ok "phase 2: n3's digest differs" test "$(status 3 .digest)" != "$(status 1 .digest)"
ok "phase 2: the peers stay connected" all_connected
diag "skew phase 2: refused n1=$(refused 1) n2=$(refused 2) n3=$(refused 3);" \
	"n1's log: $(grep -m1 'remote clock' "$TMP/sync1.log" | cut -c1-160)"
ok "phase 2: no daemon died" kill -0 "${sync_pid[1]}" "${sync_pid[2]}" "${sync_pid[3]}"

# ---- 3. n3's clock fixed: its HLC stays ahead ------------------------------------------------
rel_env[3]=
restart_node 3
ok "phase 3: n3 reconnects with a correct clock" wait_for 20 all_connected
put 3 fixed n3-fixed
h=$(hlc_of 3 fixed)
ahead_s=$(((h >> 16) / 1000 - $(date +%s)))
ok "phase 3: n3's new write is still stamped an hour ahead ($ahead_s s): the HLC never goes back" \
	test "$ahead_s" -ge 3500
r1=$(refused 1)
grew() { [ "$(refused 1)" -gt "$r1" ]; }
ok "phase 3: and still refused" wait_for 10 grew
ok "phase 3: nothing of n3 reached n1" test "$(image_on 1 fixed)$(image_on 1 clock)" = ""
ok "phase 3: no convergence" not wait_for 3 digests_equal

# ---- 4. an hour later: the backlog is within the limit -----------------------------------------
rel_env[1]=$(ahead +1h)
rel_env[2]=$(ahead +1h)
restart_node 1
restart_node 2
ok "phase 4: the nodes reconnect an hour later" wait_for 20 all_connected
backlog() { img_is 1 fixed n3-fixed && img_is 2 clock n3-ahead; }
ok "phase 4: n3's backlog arrives" wait_for 20 backlog
ok "phase 4: all digests become equal" wait_for 30 digests_equal
ok "phase 4: n3's hour-ahead write wins over n1's real-time-later one" on_all from-n1 v2-n3
is "$(conflicts_of 1 from-n1)" 1 \
	"phase 4: and n1's is kept under conflicts/ on n1 too"
for i in 1 2 3; do
	kill -TERM "${sync_pid[$i]}"
	wait "${sync_pid[$i]}"
	is "$?" 0 "sidecar $i exits 0"
done
done_testing
