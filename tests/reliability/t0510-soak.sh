#!/bin/sh
# t0510-soak.sh - 8 writers and 8 readers through the mounts for
# REL_SOAK_SECONDS (60 here, 600 under `make check-long`), first on one node,
# then spread over three replicating nodes.  Reports ops/s, close() p50/p99,
# and the RSS and open fds of every swarmfs and swarmfs-sync and the size of
# every WAL, sampled over time.  Asserts that RSS and fds stay bounded (the
# last quarter's maximum is not far above the first quarter's after a
# warm-up), that the WAL stays under REL_WAL_CAP_MB (checkpoints keep up),
# that no client op ever failed (EBUSY, EAGAIN or EIO would be SQLITE_BUSY
# reaching a client; a reader's ENOENT for a file deleted between readdir and
# open is not a failure), and on three nodes that they converge and
# sync-check.py passes.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/reliability/rel-lib.sh"
rel_require
# Two minutes of load measure the plain build; the sanitizer pass of
# tests/run has the other tests for memory errors.
[ -n "${SWARMFS_SKIP_SLOW:-}" ] && skip_all "slow: skipped where SWARMFS_SKIP_SLOW is set"

seconds=${REL_SOAK_SECONDS:-60}
# Writes per second per writer (0: as fast as it can): the CI default keeps
# a shared two-core machine usable; check-long runs unthrottled.
wrate=${REL_SOAK_RATE:-40}
rrate=${REL_SOAK_READ_RATE:-$((wrate * 4))}
wal_cap_mb=${REL_WAL_CAP_MB:-64}
# RSS and fds need samples before and after the warm-up: 20 s at least.
[ "$seconds" -ge 20 ] || bail_out "REL_SOAK_SECONDS=$seconds: at least 20 s are needed"
interval=$((seconds / 120))
[ "$interval" -ge 1 ] || interval=1

# soak TAG NODES: one run; all figures as diag lines, assertions as tests.
soak() {
	local tag=$1 nodes=$2 i w rc pids=() specs=() sp t0 t1 secs
	start_cluster "$nodes"
	for w in $(seq 1 8); do
		i=$(((w - 1) % nodes + 1))
		"$LOAD" write "$TMP/m$i" "n$i" "$w" --seconds "$seconds" --rate "$wrate" --keys 16 \
			--shared 8 --log "$TMP/$tag-wlog-$w" --lat "$TMP/$tag-lat" \
			>"$TMP/$tag-wsum-$w" 2>&1 3>&- &
		pids+=($!)
		track_pid $!
		"$LOAD" read "$TMP/m$i" "$w" --seconds "$seconds" --rate "$rrate" \
			--log "$TMP/$tag-torn-$w" >"$TMP/$tag-rsum-$w" 2>&1 3>&- &
		pids+=($!)
		track_pid $!
	done
	for i in $(seq 1 "$nodes"); do
		specs+=("swarmfs$i:${mount_pid[$i]}:$TMP/d$i/store.db-wal")
		[ "$nodes" -gt 1 ] && specs+=("sync$i:${sync_pid[$i]}:$TMP/d$i/store.db-wal")
	done
	sampler "$TMP/$tag-samples" "$interval" "${specs[@]}" 3>&- &
	sp=$!
	track_pid "$sp"
	t0=$(now_ms)
	for w in "${pids[@]}"; do
		wait "$w"
	done
	t1=$(now_ms)
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')

	local writes reads werr rerr renoent busy eagain eio torn lat maxwal
	writes=$(sum_field ok "$TMP/$tag"-wsum-*)
	reads=$(sum_field ok "$TMP/$tag"-rsum-*)
	werr=$(sum_field errors "$TMP/$tag"-wsum-*)
	rerr=$(sum_field errors "$TMP/$tag"-rsum-*)
	renoent=$(sum_field enoent "$TMP/$tag"-rsum-*)
	busy=$(sum_field ebusy "$TMP/$tag"-[wr]sum-*)
	eagain=$(sum_field eagain "$TMP/$tag"-[wr]sum-*)
	eio=$(sum_field eio "$TMP/$tag"-[wr]sum-*)
	torn=$(sum_field torn "$TMP/$tag"-rsum-*)
	lat=$(percentiles "$TMP/$tag-lat")
	maxwal=$(awk '{ if ($5 > m) m = $5 } END { print m + 0 }' "$TMP/$tag-samples")
	diag "soak $tag: ${seconds}s wanted, ${secs}s run, 8 writers (--rate $wrate) and 8 readers on $nodes node(s)"
	diag "soak $tag: ops/s=$(awk -v o=$((writes + reads)) -v s="$secs" 'BEGIN { printf "%.0f", o / s }')" \
		"writes/s=$(awk -v o="$writes" -v s="$secs" 'BEGIN { printf "%.0f", o / s }')" \
		"reads/s=$(awk -v o="$reads" -v s="$secs" 'BEGIN { printf "%.0f", o / s }')" \
		"writes=$writes reads=$reads"
	diag "soak $tag: close() us: $lat"
	diag "soak $tag: client errors: writers=$werr readers=$((rerr - renoent))" \
		"(EBUSY=$busy EAGAIN=$eagain EIO=$eio; reader ENOENT races with deletes=$renoent) torn=$torn"
	diag "soak $tag: max WAL bytes=$maxwal (cap ${wal_cap_mb} MiB)"
	ok "soak $tag: writes went through ($writes)" test "${writes:-0}" -gt 0
	ok "soak $tag: reads went through ($reads)" test "${reads:-0}" -gt 0
	is "$werr" 0 "soak $tag: no writer op failed"
	is "$((rerr - renoent))" 0 "soak $tag: no reader op failed (but for ENOENT after a delete)"
	is "$((busy + eagain + eio))" 0 "soak $tag: SQLITE_BUSY never reached a client (EBUSY, EAGAIN, EIO)"
	is "$torn" 0 "soak $tag: no torn read"
	ok "soak $tag: the WAL stays under ${wal_cap_mb} MiB" test "$maxwal" -le $((wal_cap_mb * 1048576))
	for sp in "${specs[@]}"; do
		local name=${sp%%:*} r f
		r=$(bounded "$TMP/$tag-samples" "$name" 3 16384)
		is "$?" 0 "soak $tag: $name RSS is bounded (KiB $r)"
		f=$(bounded "$TMP/$tag-samples" "$name" 4 8)
		is "$?" 0 "soak $tag: $name open fds are bounded ($f)"
		diag "soak $tag: $name RSS KiB $r; fds $f"
	done
	if [ "$torn" != 0 ]; then
		diag "$(cat "$TMP/$tag"-torn-* | head -5)"
	fi

	if [ "$nodes" -gt 1 ]; then
		if wait_for 120 digests_equal; then
			pass "soak $tag: the nodes converge"
		else
			fail "soak $tag: the nodes converge"
			diag_divergence "$nodes"
		fi
		local dbs=() args=()
		for i in $(seq 1 "$nodes"); do
			dbs+=("$TMP/d$i/store.db")
			args+=(--db "n$i=$TMP/d$i/store.db")
		done
		python3 "$REL_DIR/rel-resolve.py" "${args[@]}" --acks "$TMP/$tag-acks" \
			--tries "$TMP/$tag-tries" "$TMP/$tag"-wlog-* >"$TMP/$tag-resolve" 2>&1
		rc=$?
		is "$rc" 0 "soak $tag: every acknowledged write is in its node's log ($(tail -1 "$TMP/$tag-resolve"))"
		python3 "$CHECK" --acks "$TMP/$tag-acks" --tries "$TMP/$tag-tries" "${dbs[@]}" \
			>"$TMP/$tag-check" 2>&1
		rc=$?
		is "$rc" 0 "soak $tag: sync-check passes"
		tail -2 "$TMP/$tag-check" | while IFS= read -r l; do diag "$l"; done
	fi
	stop_cluster "$nodes"
}

# diag_divergence N: what each node's sidecar reports (marks and peers), and
# the rows that differ between node 1 and each other node, for the log.
diag_divergence() {
	local i
	for i in $(seq 1 "$1"); do
		diag "node $i: $(status "$i" '{digest, applied, duplicates, refused, gaps, state_transfers, tombstones_purged, origins, peers: [.peers[] | {node, connected, behind, ahead, digest}]} | tojson')"
	done
	for i in $(seq 2 "$1"); do
		diag "rows that differ between node 1 and node $i (kind, ns, name, hlc, node, deleted):"
		diag "$(sqlite3 "$TMP/d1/store.db" "ATTACH '$TMP/d$i/store.db' AS o;
			SELECT 'only 1', kind, namespace, name, hlc, node, deleted FROM
			  (SELECT kind, namespace, name, hlc, node, deleted FROM main.resources
			   EXCEPT SELECT kind, namespace, name, hlc, node, deleted FROM o.resources)
			UNION ALL
			SELECT 'only $i', kind, namespace, name, hlc, node, deleted FROM
			  (SELECT kind, namespace, name, hlc, node, deleted FROM o.resources
			   EXCEPT SELECT kind, namespace, name, hlc, node, deleted FROM main.resources)
			LIMIT 20" 2>&1)"
	done
}

# stop_cluster N: sidecars get SIGTERM, mounts are unmounted; both exit 0.
stop_cluster() {
	local i rc
	for i in $(seq 1 "$1"); do
		if [ -n "${sync_pid[$i]:-}" ]; then
			kill -TERM "${sync_pid[$i]}"
			wait "${sync_pid[$i]}"
			ok "node $i: swarmfs-sync exits 0 after the soak" \
				sidecar_exited_ok "${sync_pid[$i]}" $?
			unset "sync_pid[$i]"
		fi
		umount_swarmfs "$TMP/m$i"
		is "$?" 0 "node $i: swarmfs unmounts and exits 0 after the soak"
		is "$(sqlite3 "$TMP/d$i/store.db" 'PRAGMA integrity_check' 2>&1)" ok \
			"node $i passes integrity_check"
		mv "$TMP/d$i" "$TMP/d$i.done"
	done
}

# REL_SOAK_PHASES picks phases ("three" alone for a long replication run).
for phase in ${REL_SOAK_PHASES:-one three}; do
	case $phase in
	one) soak one 1 ;;
	three) soak three 3 ;;
	*) bail_out "REL_SOAK_PHASES: unknown phase '$phase' (one, three)" ;;
	esac
done
done_testing
