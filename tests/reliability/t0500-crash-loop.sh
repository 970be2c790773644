#!/bin/sh
# t0500-crash-loop.sh - kill -9 at random times, REL_CYCLES times (10 here,
# >= 500 under `make check-long`), of a node's swarmfs, its swarmfs-sync or
# both, on a three-node cluster on loopback while two writers and a reader
# per node go through every mount.  Each killed daemon is relaunched at once
# and timed until it answers.  Afterwards the cluster must converge (equal
# digests), no acknowledged write may be missing from its node's change log
# (rel-resolve.py) or the final state (sync-check.py: lost), no read may have
# returned a partial or invalid document (torn), nothing may exist that no one
# wrote and nothing deleted may come back (phantom), and every store passes
# integrity_check.  Figures go out as TAP diag lines.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/reliability/rel-lib.sh"
rel_require

cycles=${REL_CYCLES:-10}
writers=2
rate=${REL_WRITE_RATE:-25}
start_cluster 3

# ---- load ------------------------------------------------------------------------------
load_pids=()
for i in 1 2 3; do
	for w in $(seq 1 $writers); do
		"$LOAD" write "$TMP/m$i" "n$i" "$w" --seconds 1000000 --rate "$rate" --keys 6 \
			--shared 4 --log "$TMP/wlog-$i-$w" >"$TMP/wsum-$i-$w" 2>&1 3>&- &
		load_pids+=($!)
		track_pid $!
	done
	"$LOAD" read "$TMP/m$i" "$i" --seconds 1000000 --rate 50 --log "$TMP/torn-$i" \
		>"$TMP/rsum-$i" 2>&1 3>&- &
	load_pids+=($!)
	track_pid $!
done
acks() { cat "$TMP"/wlog-* 2>/dev/null | grep -c '^ack'; }
has_acks() { [ "$(acks)" -gt 0 ]; }
wait_for 30 has_acks || bail_out "no writer got a write through"

# ---- kill -9 cycles -----------------------------------------------------------------------
: >"$TMP/restart-mount" >"$TMP/restart-sync"
kills_mount=0 kills_sync=0 kills_both=0 relaunch_failures=0
t_start=$(now_ms)
for c in $(seq 1 "$cycles"); do
	# A random moment: 100 to 900 ms after the previous relaunch.
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.1 + (r % 800) / 1000 }')"
	i=$((RANDOM % 3 + 1))
	case $((RANDOM % 3)) in
	0) what=mount kills_mount=$((kills_mount + 1)) ;;
	1) what=sync kills_sync=$((kills_sync + 1)) ;;
	*) what=both kills_both=$((kills_both + 1)) ;;
	esac
	case $what in
	mount) kill_mount "$i" ;;
	sync) kill_sync "$i" ;;
	both)
		kill -9 "${sync_pid[$i]}" 2>/dev/null
		kill_mount "$i"
		wait "${sync_pid[$i]}" 2>/dev/null
		;;
	esac
	if [ "$what" != sync ]; then
		if restart_mount "$i"; then
			echo "$rel_ms" >>"$TMP/restart-mount"
		else
			relaunch_failures=$((relaunch_failures + 1))
			diag "cycle $c: node $i: swarmfs did not come back: $(tail -3 "$SWARMFS_LOG")"
			start_mount "$i" || bail_out "node $i cannot mount any more"
		fi
	fi
	if [ "$what" != mount ]; then
		if restart_sync "$i"; then
			echo "$rel_ms" >>"$TMP/restart-sync"
		else
			relaunch_failures=$((relaunch_failures + 1))
			diag "cycle $c: node $i: swarmfs-sync did not come back: $(tail -3 "$TMP/sync$i.log")"
		fi
	fi
	if [ $((c % 50)) = 0 ]; then
		diag "cycle $c: $(acks) acknowledged writes so far, $(((($(now_ms) - t_start)) / 1000)) s"
	fi
done
run_s=$((($(now_ms) - t_start) / 1000))

# ---- stop the load, converge ------------------------------------------------------------------
kill -TERM "${load_pids[@]}" 2>/dev/null
for p in "${load_pids[@]}"; do
	wait_pid_gone "$p" 20 || { diag "a load process hangs"; kill -9 "$p"; }
	wait "$p" 2>/dev/null
done
is "$relaunch_failures" 0 "every daemon came back after its kill -9 ($cycles cycles)"
ok "the cluster reconnects" wait_for 60 all_connected
ok "the cluster converges: equal digests" wait_for 120 digests_equal

# Every document through every mount, once more, after the dust settled.
final_torn=0
for i in 1 2 3; do
	n=$(python3 - "$TMP/m$i/deployments/default" <<'EOF'
import json, os, sys
d = sys.argv[1]
bad = 0
for f in os.listdir(d):
    if not f.endswith(".json"):
        continue
    try:
        doc = json.load(open(os.path.join(d, f)))
        if doc["metadata"]["name"] != f[:-5] or not doc["spec"]["image"]:
            bad += 1
    except FileNotFoundError:
        pass
    except Exception:
        bad += 1
print(bad)
EOF
)
	final_torn=$((final_torn + ${n:-1}))
done

# ---- check --------------------------------------------------------------------------------------
python3 "$REL_DIR/rel-resolve.py" --db "n1=$TMP/d1/store.db" --db "n2=$TMP/d2/store.db" \
	--db "n3=$TMP/d3/store.db" --acks "$TMP/acks" --tries "$TMP/tries" "$TMP"/wlog-* \
	>"$TMP/resolve.out" 2>&1
resolve_rc=$?
sed 's/^/resolve: /' "$TMP/resolve.out" | head -25 | while IFS= read -r l; do diag "$l"; done
python3 "$CHECK" --acks "$TMP/acks" --tries "$TMP/tries" \
	"$TMP/d1/store.db" "$TMP/d2/store.db" "$TMP/d3/store.db" >"$TMP/check.out" 2>&1
check_rc=$?
head -25 "$TMP/check.out" | while IFS= read -r l; do diag "$l"; done

summary=$(tail -1 "$TMP/check.out")
acked=$(field acked "$(tail -1 "$TMP/resolve.out")")
lost=$(($(field lost "$(tail -1 "$TMP/resolve.out")") + $(field lost "$summary")))
phantom=$(field phantom "$summary")
diverged=$(field diverged "$summary")
read_torn=$(sum_field torn "$TMP"/rsum-*)
torn=$((read_torn + final_torn + $(field torn "$summary")))
reads=$(sum_field ok "$TMP"/rsum-*)
write_errors=$(sum_field errors "$TMP"/wsum-*)
rm_=$(percentiles "$TMP/restart-mount")
rs_=$(percentiles "$TMP/restart-sync")

diag "crash-loop: cycles=$cycles kills: swarmfs=$kills_mount swarmfs-sync=$kills_sync both=$kills_both in ${run_s}s"
diag "crash-loop: acked=$acked lost=$lost torn=$torn phantom=$phantom diverged=$diverged" \
	"committed_unacked=$(field committed_unacked "$(tail -1 "$TMP/resolve.out")")" \
	"reads=$reads write_errors_while_down=$write_errors"
diag "crash-loop: restart swarmfs ms: $rm_"
diag "crash-loop: restart swarmfs-sync ms: $rs_"

ok "writes were acknowledged under the crashes ($acked)" test "${acked:-0}" -gt 0
is "$resolve_rc" 0 "every acknowledged write is in its node's change log"
is "$lost" 0 "lost: 0"
is "$torn" 0 "torn: 0 (reads during the run $read_torn, final reads $final_torn)"
is "$phantom" 0 "phantom: 0 (nothing no one wrote, no deleted resource back)"
is "$check_rc" 0 "sync-check passes: identical nodes, every acknowledged write kept"
for i in 1 2 3; do
	is "$(sqlite3 "$TMP/d$i/store.db" 'PRAGMA integrity_check' 2>&1)" ok \
		"node $i passes integrity_check"
done
if [ -s "$TMP/torn-1" ] || [ -s "$TMP/torn-2" ] || [ -s "$TMP/torn-3" ]; then
	diag "torn reads: $(cat "$TMP"/torn-* | head -5)"
fi
done_testing
