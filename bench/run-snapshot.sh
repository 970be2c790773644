#!/bin/bash
# run-snapshot.sh - snapshot benchmark (issue 3): the time to take a snapshot
# of 10,000 and 100,000 resources through `mkdir MOUNT/snapshots/NAME` and
# `swarmfs-admin snapshot NAME`, against `sqlite3 DB '.backup FILE'` of the
# same database in the same run; and how much snapshots taken in a loop slow
# a writer on the mount.  Printed as Markdown with min/median/max over the
# repetitions and the targets.  Scratch space comes from mktemp -d; the EXIT
# trap unmounts, stops and removes everything.  Never part of make check.

set -u
me=run-snapshot.sh

usage() {
	cat <<'EOF'
usage: bench/run-snapshot.sh [options]
  -r REPS         repetitions of every measurement (default 3)
  -s "N M ..."    store sizes in resources (default "10000 100000")
  -D SECONDS      writer run per repetition, alone and under snapshots (default 10)
  --quick         smoke run: -s "1000 10000" -D 3
  --builddir DIR  build tree holding fs/swarmfs, store/swarmfs-admin, bench/ (default .)
  --no-build      do not run make first
  -h, --help      this text
Environment: KEEP=1 keeps the scratch directory.
Needs fuse3, sqlite3 (the baseline), python3; installs nothing.
EOF
}

reps=3
sizes="10000 100000"
wdur=10
builddir=.
build=1
while [ $# -gt 0 ]; do
	case $1 in
	-r) reps=${2:?}; shift ;;
	-s) sizes=${2:?}; shift ;;
	-D) wdur=${2:?}; shift ;;
	--quick) sizes="1000 10000"; wdur=3 ;;
	--builddir) builddir=${2:?}; shift ;;
	--no-build) build=0 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$reps" "$wdur" $sizes; do
	case $v in
	''|*[!0-9]*|0) echo "$me: bad number '$v'" >&2; exit 2 ;;
	esac
done
builddir=$(cd "$builddir" && pwd) || exit 2
. "$(dirname "$0")/common.sh"

need_tools fusermount3 sqlite3 python3 awk sort timeout || exit 1
if [ ! -c /dev/fuse ]; then
	say "$me: no /dev/fuse: cannot mount FUSE filesystems here"
	exit 1
fi
build_or_check "$builddir" "$build" fs/swarmfs store/swarmfs-admin bench/bench-fs \
	bench/bench-write || exit 1
SWARMFS=$builddir/fs/swarmfs
ADMIN=$builddir/store/swarmfs-admin
BENCH_FS=$builddir/bench/bench-fs
BENCH_WRITE=$builddir/bench/bench-write

bench_scratch
results=$work/results.tsv
: >"$results"
log=$work/swarmfs.log
largest=0
for n in $sizes; do
	[ "$n" -gt "$largest" ] && largest=$n
done

# timed KEY CMD...: runs CMD, records its wall time in seconds under KEY
# when it succeeds; says why when it does not.
timed() {
	local key=$1 t0 t1 out
	shift
	t0=$(now_ns)
	out=$("$@" 2>&1)
	local rc=$?
	t1=$(now_ns)
	if [ "$rc" -ne 0 ]; then
		say "$me: '$*' failed ($rc): $(printf '%s' "$out" | tail -n 2)"
		return 1
	fi
	record "$key" "$(secs "$t0" "$t1")"
}

file_mb() { awk -v b="$(stat -c %s "$1" 2>/dev/null)" 'BEGIN { if (b != "") printf "%.1f", b / 1048576 }'; }

start_all=$(now_ns)
say "swarmfs snapshot benchmark: sizes $sizes, $reps reps, writers ${wdur} s; work dir $work"
declare -A data_of mb_db mb_snap mb_backup import_s
for n in $sizes; do
	data=$work/data-$n
	data_of[$n]=$data
	say "populating $n resources (swarmfs-admin import of a generated export)"
	gen_export "$n" "$work/gen.export" || { say "$me: unable to generate an export"; exit 1; }
	t0=$(now_ns)
	mkdir -p "$data"
	if ! "$ADMIN" --data-dir "$data" import "$work/gen.export" >>"$work/admin.log" 2>&1; then
		say "$me: swarmfs-admin import failed:"
		tail -n 3 "$work/admin.log" >&2
		exit 1
	fi
	import_s[$n]=$(secs "$t0" "$(now_ns)")
	rm -f "$work/gen.export"

	mnt=$work/mnt-$n
	start_swarmfs "$data" "$mnt" "$log" || exit 1
	pid=$fuse_pid
	db=$data/store.db
	for r in $(seq "$reps"); do
		say "size $n rep $r/$reps: sqlite3 .backup, VACUUM INTO, mkdir, swarmfs-admin snapshot"
		# The same database, mounted, its pages in the page cache for all four.
		timed "backup.$n" sqlite3 "$db" ".backup '$work/backup.db'" &&
			mb_backup[$n]=$(file_mb "$work/backup.db")
		# part of what swarmfs does on top of a copy, timed alone
		timed "check.$n" sqlite3 "$work/backup.db" "PRAGMA integrity_check"
		timed "quick.$n" sqlite3 "$work/backup.db" "PRAGMA quick_check"
		rm -f "$work/backup.db"
		timed "vacuum.$n" sqlite3 "$db" "VACUUM INTO '$work/vacuum.db'"
		rm -f "$work/vacuum.db"
		timed "mkdir.$n" mkdir "$mnt/snapshots/m$r" &&
			mb_snap[$n]=$(file_mb "$data/snapshots/m$r.db")
		rmdir "$mnt/snapshots/m$r" 2>/dev/null
		timed "admin.$n" "$ADMIN" --data-dir "$data" snapshot "a$r"
		"$ADMIN" --data-dir "$data" snapshot-rm "a$r" >/dev/null 2>&1
	done
	mb_db[$n]=$(awk -v a="$(stat -c %s "$db")" -v b="$(stat -c %s "$db-wal" 2>/dev/null || echo 0)" \
		'BEGIN { printf "%.1f (+ %.1f WAL)", a / 1048576, b / 1048576 }')
	stop_swarmfs "$mnt" "$pid"
done

# --- writers while snapshots are taken --------------------------------------------
# snap_loop MNT DEADLINE_NS COUNTFILE: mkdir + rmdir of a snapshot until told
# to stop (the file $work/stop appears) or the deadline passes.
snap_loop() {
	local mnt=$1 deadline=$2 k=0
	while [ ! -e "$work/stop" ] && [ "$(now_ns)" -lt "$deadline" ]; do
		k=$((k + 1))
		if mkdir "$mnt/snapshots/loop$k" 2>>"$work/snaploop.err"; then
			rmdir "$mnt/snapshots/loop$k" 2>>"$work/snaploop.err"
			echo "$k" >"$3"
		fi
	done
}

# writer_run LABEL REP: one bench-write run; records its figures under LABEL.
writer_run() {
	local label=$1 out
	out=$("$BENCH_WRITE" --duration "$wdur" --names 1000 --prefix w \
		"$mnt/deployments/default" 2>>"$work/writer.err")
	if [ -z "$out" ]; then
		say "$me: the writer failed ($label): $(tail -n 2 "$work/writer.err")"
		return 1
	fi
	record "$label.wps" "$(kv "$out" writes_per_s)"
	record "$label.p50" "$(kv "$out" close_p50_us)"
	record "$label.p99" "$(kv "$out" close_p99_us)"
	record "$label.max" "$(kv "$out" close_max_us)"
	[ "$(kv "$out" errors)" != 0 ] && say "$me: $label: $(kv "$out" errors) failed writes"
	return 0
}

data=${data_of[$largest]}
mnt=$work/mnt-w
start_swarmfs "$data" "$mnt" "$log" || exit 1
wpid=$fuse_pid
for r in $(seq "$reps"); do
	# alternate the order so drift on the shared machine hits both alike
	for phase in $( [ $((r % 2)) = 1 ] && echo alone snap || echo snap alone ); do
		if [ "$phase" = alone ]; then
			say "rep $r/$reps: writer alone (${wdur} s, $largest resources)"
			writer_run alone "$r"
		else
			say "rep $r/$reps: writer while snapshots are taken in a loop"
			rm -f "$work/stop" "$work/snapcount"
			echo 0 >"$work/snapcount"
			snap_loop "$mnt" $(($(now_ns) + (wdur + 120) * 1000000000)) "$work/snapcount" &
			loop_pid=$!
			daemons+=("$loop_pid")
			writer_run snap "$r"
			touch "$work/stop"
			wait "$loop_pid"
			forget "$loop_pid"
			record "snaps" "$(cat "$work/snapcount")"
		fi
	done
done
stop_swarmfs "$mnt" "$wpid"
end_all=$(now_ns)
if [ -s "$work/snaploop.err" ]; then
	say "$me: errors from the snapshot loop:"
	sort "$work/snaploop.err" | uniq -c | head -n 5 >&2
fi

# --- report ---------------------------------------------------------------------
times() { if [ "$1" = n/a ]; then echo n/a; else echo "$1×"; fi; }
cat <<EOF

# swarmfs snapshot benchmark

- $(date -u '+%Y-%m-%d %H:%M UTC'), source $(source_rev), $(nproc) CPUs, kernel $(uname -r),
  $reps repetitions, total run time $(awk -v a="$start_all" -v b="$end_all" 'BEGIN { printf "%.0f", (b - a) / 1e9 }') s; scratch on $(df -P "$work" | awk 'NR == 2 { print $1 }') ($work).
- Each store holds N Deployments of about 500 B in \`deployments/default\`, loaded by
  \`swarmfs-admin import\` of a generated export. Every snapshot is taken of the
  same, mounted database, its pages already in the page cache; each is removed
  again (not timed) before the next.
- \`sqlite3 .backup\`: the online backup API into a new file (journal_mode DELETE,
  synchronous FULL there). \`VACUUM INTO\` (what swarmfs uses) is shown for
  reference. swarmfs also runs \`PRAGMA integrity_check\` on the copy and fsyncs
  the file and the directory before it answers; integrity_check and the
  cheaper \`PRAGMA quick_check\` are timed alone on the .backup copy, for reference.
- \`swarmfs-admin snapshot\` includes starting the process and opening the store.

## Time to take a snapshot, s, median (min–max)

| resources | store file, MB | snapshot file, MB | sqlite3 .backup | sqlite3 VACUUM INTO | integrity_check of the copy | quick_check of the copy | mkdir snapshots/NAME | swarmfs-admin snapshot | mkdir / .backup | admin / .backup |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
for n in $sizes; do
	b=$(stat_of "backup.$n" med)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "${mb_db[$n]:-n/a}" \
		"${mb_snap[$n]:-n/a}" "$(cell "backup.$n")" "$(cell "vacuum.$n")" "$(cell "check.$n")" \
		"$(cell "quick.$n")" \
		"$(cell "mkdir.$n")" "$(cell "admin.$n")" \
		"$(times "$(ratio "$(stat_of "mkdir.$n" med)" "$b")")" \
		"$(times "$(ratio "$(stat_of "admin.$n" med)" "$b")")"
done
printf '\nRatios are of medians. Import times: '
for n in $sizes; do
	printf '%s resources %s s; ' "$n" "$(num "${import_s[$n]}")"
done
printf '.backup files: '
for n in $sizes; do
	printf '%s MB; ' "${mb_backup[$n]:-n/a}"
done
printf '\n\n## A writer while snapshots are taken (%s resources, %s s per run)\n\n' "$largest" "$wdur"
cat <<EOF
One process rewrites 1,000 documents in turn (open, O_TRUNC, write 500 B,
close) as fast as it can; close() is where swarmfs validates and commits.
"During snapshots": a shell loop meanwhile runs \`mkdir MOUNT/snapshots/X;
rmdir MOUNT/snapshots/X\` back to back. Median (min–max) over $reps runs each.

| measure | writer alone | during snapshots | during / alone |
|---|---|---|---|
EOF
for m in wps p50 p99 max; do
	case $m in
	wps) lbl="writes/s" ;;
	p50) lbl="close() p50, ms" ;;
	p99) lbl="close() p99, ms" ;;
	max) lbl="close() max, ms" ;;
	esac
	scale=1000
	[ "$m" = wps ] && scale=1
	printf '| %s | %s | %s | %s |\n' "$lbl" "$(cell "alone.$m" "$scale")" \
		"$(cell "snap.$m" "$scale")" \
		"$(times "$(ratio "$(stat_of "snap.$m" med)" "$(stat_of "alone.$m" med)")")"
done
printf '| snapshots taken per run | – | %s | |\n' "$(cell snaps)"

printf '\n## Targets\n\n| target | measured | goal | verdict |\n|---|---|---|---|\n'
for n in $sizes; do
	b=$(stat_of "backup.$n" med)
	for how in mkdir admin; do
		r=$(ratio "$(stat_of "$how.$n" med)" "$b")
		case $how in
		mkdir) lbl="mkdir snapshots/NAME" ;;
		*) lbl="swarmfs-admin snapshot" ;;
		esac
		printf '| snapshot of %s resources, %s vs sqlite3 .backup | %s | ≤ 1.2× | %s |\n' \
			"$n" "$lbl" "$(times "$r")" "$(verdict "$r" "<=" 1.2)"
	done
done
r=$(ratio "$(stat_of snap.wps med)" "$(stat_of alone.wps med)")
printf '| writer throughput while snapshots run | %s of alone | (record) | – |\n' "$(times "$r")"
r=$(ratio "$(stat_of snap.p99 med)" "$(stat_of alone.p99 med)")
printf '| writer close() p99 while snapshots run | %s of alone | (record) | – |\n' "$(times "$r")"
case " $sizes " in
*" 10000 "*) ;;
*) sizes_differ=1 ;;
esac
case " $sizes " in
*" 100000 "*) ;;
*) sizes_differ=1 ;;
esac
case ${sizes_differ:-0} in
0) ;;
*) printf '\nNote: the targets are defined for 10,000 and 100,000 resources; this run used %s.\n' "$sizes" ;;
esac
