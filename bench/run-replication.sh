#!/bin/bash
# run-replication.sh - replication benchmark (issue 4) on three nodes on
# 127.0.0.1, each a swarmfs mount and a swarmfs-sync sidecar on its own data
# dir: the time from close() on node A to the new content being readable
# through node B's mount at a paced rate, sustained replicated writes/s, the
# catch-up of a node whose sidecar was stopped while many changes were made
# elsewhere, and the CPU and RSS of swarmfs-sync; against an nng pub/sub
# round trip over 127.0.0.1 measured in the same run.  Printed as Markdown with
# min/median/max over the repetitions and the targets.  Scratch space comes
# from mktemp -d; the EXIT trap unmounts, stops and removes everything.
# Never part of make check.

set -u
me=run-replication.sh

usage() {
	cat <<'EOF'
usage: bench/run-replication.sh [options]
  -r REPS         repetitions of every measurement (default 3)
  -D SECONDS      length of each latency and throughput run (default 10)
  -R RATE         paced writes/s for the latency run (default 1000)
  -C CHANGES      changes made while a sidecar is down (default 100000)
  --sample K      the reader on B reads every K-th write's copy (default 10)
  --catchup-reps N  catch-up repetitions (default: REPS); each gives two samples
  --no-compact    skip the catch-up after the peer compacted its log (run once)
  --quick         smoke run: -D 3 -C 10000
  --tsv FILE      also copy the raw samples (KEY<TAB>VALUE lines) to FILE
  --builddir DIR  build tree holding fs/, store/, sync/ and bench/ (default .)
  --no-build      do not run make first
  -h, --help      this text
Environment: KEEP=1 keeps the scratch directory.
Needs fuse3, jq, python3; installs nothing.
EOF
}

reps=3
dur=10
rate=1000
changes=100000
# One reader thread reading every copy through B's mount at 1,000/s is
# itself saturated on a 2-CPU machine: its queue, not replication, made the
# tail (traced per write: every stage up to B's events line had p99 < 5 ms,
# the reader's wait p99 138 ms).  A fixed tenth of the writes is read.
sample=10
compact=1
creps=
builddir=.
build=1
tsv=
while [ $# -gt 0 ]; do
	case $1 in
	-r) reps=${2:?}; shift ;;
	-D) dur=${2:?}; shift ;;
	-R) rate=${2:?}; shift ;;
	-C) changes=${2:?}; shift ;;
	--sample) sample=${2:?}; shift ;;
	--no-compact) compact=0 ;;
	--catchup-reps) creps=${2:?}; shift ;;
	--quick) dur=3; changes=10000 ;;
	--tsv) tsv=${2:?}; shift ;;
	--builddir) builddir=${2:?}; shift ;;
	--no-build) build=0 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
creps=${creps:-$reps}
for v in "$reps" "$dur" "$rate" "$changes" "$creps" "$sample"; do
	case $v in
	''|*[!0-9]*|0) echo "$me: bad number '$v'" >&2; exit 2 ;;
	esac
done
builddir=$(cd "$builddir" && pwd) || exit 2
. "$(dirname "$0")/common.sh"

need_tools fusermount3 jq python3 awk sort getconf || exit 1
if [ ! -c /dev/fuse ]; then
	say "$me: no /dev/fuse: cannot mount FUSE filesystems here"
	exit 1
fi
build_or_check "$builddir" "$build" fs/swarmfs store/swarmfs-admin sync/swarmfs-sync \
	bench/bench-fs bench/bench-write bench/bench-nng || exit 1
SWARMFS=$builddir/fs/swarmfs
ADMIN=$builddir/store/swarmfs-admin
SYNC=$builddir/sync/swarmfs-sync
BENCH_FS=$builddir/bench/bench-fs
BENCH_WRITE=$builddir/bench/bench-write
BENCH_NNG=$builddir/bench/bench-nng
HB_MS=100   # heartbeat: also how often sync-status.json (and its digest) is written
tck=$(getconf CLK_TCK)

bench_scratch
results=$work/results.tsv
: >"$results"
notes=$work/notes.txt   # things that went wrong, printed under the tables
: >"$notes"
note() { say "$me: $*"; printf -- '- %s\n' "$*" >>"$notes"; }

read -r -a ports <<<"$(free_ports 5)"
url() { echo "tcp://127.0.0.1:${ports[$1]}"; }

# --- nodes -----------------------------------------------------------------------
declare -A sync_pid fs_pid
start_sync() { # I
	local i=$1 j peers=()
	for j in 1 2 3; do
		[ "$j" = "$i" ] || peers+=(--peer "$(url "$j")")
	done
	"$SYNC" -f --data-dir "$work/d$i" --node "n$i" --listen "$(url "$i")" "${peers[@]}" \
		--heartbeat-ms "$HB_MS" --retry-ms 200 >>"$work/sync$i.log" 2>&1 &
	sync_pid[$i]=$!
	daemons+=("${sync_pid[$i]}")
}
stop_sync() { # I: SIGTERM, then up to 10 s before SIGKILL
	local i=$1 p=${sync_pid[$1]} k
	kill "$p" 2>/dev/null
	for k in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && { note "sidecar $i ignored SIGTERM for 10 s: killed"; kill -9 "$p"; }
	wait "$p" 2>/dev/null
	forget "$p"
	sync_pid[$i]=
}

status() { jq -r "$2" "$work/d$1/sync-status.json" 2>/dev/null; }

# wait_for SECONDS CMD...: polls CMD every 20 ms; prints the seconds it took
# (or nothing, failing, at the deadline).
wait_for() {
	local t0 deadline
	t0=$(now_ns)
	deadline=$((t0 + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(now_ns)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
	secs "$t0" "$(now_ns)"
}
connected() {
	local i
	for i in 1 2 3; do
		[ "$(status "$i" '[.peers[] | select(.connected)] | length')" = 2 ] || return 1
	done
}
# digests_equal I...: the named nodes publish the same digest and revision
# counts of origins, and the first one's store holds at least $want resources.
want=0
digests_equal() {
	local d1 i d
	d1=$(status "$1" .digest)
	[ -n "$d1" ] && [ "$d1" != null ] || return 1
	[ "$(status "$1" .resources)" -ge "$want" ] 2>/dev/null || return 1
	for i in "$@"; do
		d=$(status "$i" .digest)
		[ "$d" = "$d1" ] || return 1
	done
}

# cpu_ticks PID: utime + stime so far
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

declare -A tick0
cpu_start() { # marks the start of a phase for every running sidecar
	local i
	phase_t0=$(now_ns)
	for i in 1 2 3; do
		# a sidecar started during the phase starts from zero
		tick0[$i]=0
		[ -n "${sync_pid[$i]}" ] && tick0[$i]=$(cpu_ticks "${sync_pid[$i]}")
	done
}
cpu_stop() { # PHASE: records CPU % of one core and RSS per sidecar role
	local phase=$1 i t wall role
	wall=$(secs "$phase_t0" "$(now_ns)")
	for i in 1 2 3; do
		[ -n "${sync_pid[$i]}" ] || continue
		t=$(cpu_ticks "${sync_pid[$i]}")
		[ -n "$t" ] && [ -n "${tick0[$i]:-}" ] || continue
		case $i in 1) role=A ;; 2) role=B ;; *) role=C ;; esac
		record "cpu.$phase.$role" "$(awk -v a="${tick0[$i]}" -v b="$t" -v w="$wall" -v h="$tck" \
			'BEGIN { printf "%.1f", (b - a) / h / w * 100 }')"
		record "cpus.$phase.$role" "$(awk -v a="${tick0[$i]}" -v b="$t" -v h="$tck" \
			'BEGIN { printf "%.3f", (b - a) / h }')"
		record "rss.$phase.$role" "$(proc_kb "${sync_pid[$i]}" VmRSS)"
		record "hwm.$phase.$role" "$(proc_kb "${sync_pid[$i]}" VmHWM)"
	done
}

start_all=$(now_ns)
say "swarmfs replication benchmark: $reps reps, ${dur} s runs at $rate writes/s, catch-up of $changes; work dir $work"
for i in 1 2 3; do
	start_swarmfs "$work/d$i" "$work/m$i" "$work/swarmfs$i.log" --node "n$i" || exit 1
	fs_pid[$i]=$fuse_pid
done
for i in 1 2 3; do
	start_sync "$i"
done
if ! wait_for 20 connected >/dev/null; then
	say "$me: the three sidecars did not connect within 20 s; their logs end:"
	tail -n 3 "$work"/sync*.log >&2
	exit 1
fi
ns=deployments/default
settle() { # waits (bounded) until the three nodes agree, so runs do not overlap
	want=0
	wait_for 60 digests_equal 1 2 3 >/dev/null || note "the nodes did not converge within 60 s after $1"
}

# bench_write KEY ARGS...: one bench-write run from node 1 watched on node 2
bench_write() {
	local key=$1 out
	shift
	out=$("$BENCH_WRITE" "$@" 2>>"$work/writer.err")
	if [ -z "$out" ]; then
		note "bench-write failed ($key): $(tail -n 1 "$work/writer.err")"
		return 1
	fi
	printf '%s\n' "$out" >>"$work/writer.out"
	for f in writes writes_per_s close_p50_us close_p99_us sampled seen repl_p50_us repl_p99_us \
		repl_max_us repl_per_s errors; do
		record "$key.$f" "$(kv "$out" "$f")"
	done
	[ "$(kv "$out" errors)" = 0 ] || note "$key: $(kv "$out" errors) failed writes on node A"
	[ "$(kv "$out" seen)" = "$(kv "$out" sampled)" ] ||
		note "$key: node B showed $(kv "$out" seen) of the $(kv "$out" sampled) sampled writes within the settle time"
}

for r in $(seq "$reps"); do
	say "rep $r/$reps: nng pub/sub round trip at $rate msg/s"
	out=$("$BENCH_NNG" --rate "$rate" --duration "$dur" "$(url 0)" \
		"tcp://127.0.0.1:$((ports[0] + 1))" 2>>"$work/nng.err")
	if [ -n "$out" ]; then
		for f in rtt_p50_us rtt_p99_us rtt_max_us lost; do
			record "nng.$f" "$(kv "$out" "$f")"
		done
	else
		note "bench-nng failed: $(tail -n 1 "$work/nng.err")"
	fi

	say "rep $r/$reps: close() to readable on the same node's mount, $rate writes/s"
	bench_write local --rate "$rate" --duration "$dur" --prefix "l$r" --sample "$sample" \
		--events "$work/m1/events" --watch-dir "$work/m1/$ns" --settle 10 "$work/m1/$ns"
	settle "the local run"

	say "rep $r/$reps: close() on A to readable on B, $rate writes/s"
	cpu_start
	bench_write paced --rate "$rate" --duration "$dur" --prefix "p$r" --sample "$sample" \
		--events "$work/m2/events" --watch-dir "$work/m2/$ns" --settle 10 "$work/m1/$ns"
	cpu_stop paced
	settle "the paced run"

	say "rep $r/$reps: sustained: A writes as fast as it can, B follows"
	cpu_start
	bench_write max --duration "$dur" --prefix "s$r" --sample "$sample" \
		--events "$work/m2/events" --watch-dir "$work/m2/$ns" --settle 30 "$work/m1/$ns"
	cpu_stop max
	settle "the sustained run"
done

# --- catch-up ----------------------------------------------------------------------------
# catch_up KEY PREFIX COMPACT: stops the sidecars of B and C, imports
# $changes new resources on A (one transaction, $changes change-log entries),
# optionally compacts A's log, then restarts C alone and times it until its
# digest equals A's, then B (which now has two up-to-date peers) the same
# way: two samples per call.  The bounds grow with $changes.
catch_up() {
	local key=$1 prefix=$2 comp=$3 t s n1 i role bound=$((60 + changes / 300))
	stop_sync 2
	stop_sync 3
	python3 - "$work/one.export" "$work/c.export" "$changes" "$prefix" <<'PY' || return 1
import json, sys
src, out, count, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
doc = json.load(open(src))
text = json.dumps(doc["resources"][0])
doc["resources"] = [json.loads(text.replace("d000000", "%s%06u" % (prefix, k)))
                    for k in range(count)]
json.dump(doc, open(out, "w"))
PY
	n1=$(status 1 .resources)
	t=$(now_ns)
	if ! "$ADMIN" --data-dir "$work/d1" import "$work/c.export" >>"$work/admin.log" 2>&1; then
		note "swarmfs-admin import on node A failed: $(tail -n 1 "$work/admin.log")"
		start_sync 2
		start_sync 3
		return 1
	fi
	record "$key.import_s" "$(secs "$t" "$(now_ns)")"
	rm -f "$work/c.export"
	want=$((n1 + changes))
	# A's own sidecar publishes the new digest at its next heartbeat
	wait_for 30 digests_equal 1 >/dev/null || note "$key: A's status never showed the import"
	if [ "$comp" = 1 ]; then
		"$ADMIN" --data-dir "$work/d1" compact --keep 1000 >>"$work/admin.log" 2>&1 ||
			note "swarmfs-admin compact on node A failed: $(tail -n 1 "$work/admin.log")"
	fi
	for i in 3 2; do
		case $i in 2) role=B ;; *) role=C ;; esac
		cpu_start
		start_sync "$i"
		if s=$(wait_for "$bound" digests_equal 1 "$i"); then
			record "$key.catchup_s" "$s"
			record "$key.catchup_$role" "$s"
		else
			note "$key: node $role did not catch up within $bound s ($(status "$i" .resources) of $want resources)"
		fi
		cpu_stop "$key.$role"
	done
}

"$ADMIN" --data-dir "$work/d1" export 2>>"$work/admin.log" |
	jq -c '.resources = [.resources[] | select(.metadata.name == "l1000000")
		| .metadata.name = "d000000" | .spec.env = {"DOC": "d000000"}]' >"$work/one.export"
if [ "$(jq '.resources | length' "$work/one.export" 2>/dev/null)" != 1 ]; then
	note "no sample document to build the catch-up export from"
else
	for r in $(seq "$creps"); do
		say "rep $r/$creps: catch-up of $changes changes made while the sidecars of B and C were down"
		catch_up log "c$r" 0
		settle "catch-up rep $r"
	done
	# last: without a state transfer the nodes may never agree again
	if [ "$compact" = 1 ]; then
		say "once: the same after node A compacted its log to 1,000 entries"
		catch_up compacted k 1
	fi
fi
end_all=$(now_ns)
for i in 1 2 3; do
	[ -n "${sync_pid[$i]}" ] && record "rss.end.$i" "$(proc_kb "${sync_pid[$i]}" VmRSS)"
	[ -n "${sync_pid[$i]}" ] && record "hwm.end.$i" "$(proc_kb "${sync_pid[$i]}" VmHWM)"
done
resources_end=$(status 1 .resources)
[ -n "$tsv" ] && cp "$results" "$tsv"

# --- report ---------------------------------------------------------------------------------
times() { if [ "$1" = n/a ]; then echo n/a; else echo "$1×"; fi; }
ms() { cell "$1" 1000; }
cat <<EOF

# swarmfs replication benchmark

- $(date -u '+%Y-%m-%d %H:%M UTC'), source $(source_rev), $(nproc) CPUs, kernel $(uname -r),
  $reps repetitions, total run time $(awk -v a="$start_all" -v b="$end_all" 'BEGIN { printf "%.0f", (b - a) / 1e9 }') s; data dirs on $(df -P "$work" | awk 'NR == 2 { print $1 }') ($work).
- Three nodes on 127.0.0.1 (A = n1, B = n2, C = n3), each \`swarmfs -f\` and
  \`swarmfs-sync --heartbeat-ms $HB_MS --retry-ms 200\` on its own data dir, all
  on this one machine: the three mounts, three sidecars and the benchmark share
  its $(nproc) CPUs.
- Latency: bench/bench-write writes 500 B Deployments through A's mount on a
  fixed schedule (each carries a sequence number); a thread follows B's
  \`MOUNT/events\`, and for every line naming one of a fixed sample of them
  (every ${sample}th name, so every ${sample}th write) reads the file through B's mount.
  Latency = that read's completion − the return of close() on A, per sampled
  write. One thread reading every copy would itself be saturated at this
  rate and measure its own queue: \`--sample 1\` does that. "Same node" is the same measurement with A's own events and
  mount: the floor set by the mount alone.
- nng baseline: bench/bench-nng, one 500 B message published on one socket
  over tcp://127.0.0.1, received and published back by another thread, paced at
  the same rate; one way ≈ half the round trip.
- Catch-up: the sidecars of B and C are stopped (SIGTERM), $changes new
  resources are imported on A (\`swarmfs-admin import\`, one transaction,
  $changes change-log entries), then C's sidecar starts alone, then B's;
  catch-up = sidecar start → its digest in DATA/sync-status.json equals A's
  (written every $HB_MS ms, so ±0.1 s). The mounts stay up throughout.
- The store grows during the run (every write run and every catch-up adds
  resources); A held $resources_end resources at the end.

## Replication latency at $rate writes/s, ms, median (min–max) over $reps runs

| measure | p50 | p99 | max |
|---|---|---|---|
| nng pub/sub one way (round trip / 2) | $(cell nng.rtt_p50_us 2000) | $(cell nng.rtt_p99_us 2000) | $(cell nng.rtt_max_us 2000) |
| nng pub/sub round trip | $(ms nng.rtt_p50_us) | $(ms nng.rtt_p99_us) | $(ms nng.rtt_max_us) |
| close() on A, the commit itself | $(ms paced.close_p50_us) | $(ms paced.close_p99_us) | – |
| close() on A → readable through A's mount (same node) | $(ms local.repl_p50_us) | $(ms local.repl_p99_us) | $(ms local.repl_max_us) |
| **close() on A → readable through B's mount** | $(ms paced.repl_p50_us) | $(ms paced.repl_p99_us) | $(ms paced.repl_max_us) |

- A→B vs nng one way (medians): p50 $(times "$(ratio "$(stat_of paced.repl_p50_us med)" "$(awk -v x="$(stat_of nng.rtt_p50_us med)" 'BEGIN { if (x != "") print x / 2 }')")"), p99 $(times "$(ratio "$(stat_of paced.repl_p99_us med)" "$(awk -v x="$(stat_of nng.rtt_p99_us med)" 'BEGIN { if (x != "") print x / 2 }')")").
- Achieved write rate on A: $(cell paced.writes_per_s) writes/s; sampled writes read on B: $(cell paced.seen) of $(cell paced.sampled) (of $(cell paced.writes) written).

## Sustained replicated writes (A writes as fast as one writer can, ${dur} s), median (min–max)

| measure | value |
|---|---|
| writes/s committed on A (close() returned) | $(cell max.writes_per_s) |
| writes/s readable on B (writes up to the last one read ÷ time from the first write to that read) | $(cell max.repl_per_s) |
| B / A | $(times "$(ratio "$(stat_of max.repl_per_s med)" "$(stat_of max.writes_per_s med)")") |
| close() on A p50 / p99, ms | $(ms max.close_p50_us) / $(ms max.close_p99_us) |
| A → B latency p50 / p99 / max, ms | $(ms max.repl_p50_us) / $(ms max.repl_p99_us) / $(ms max.repl_max_us) |
| sampled writes read on B | $(cell max.seen) of $(cell max.sampled) (of $(cell max.writes) written) |

## Catch-up of $changes changes, s, median (min–max)

| measure | from the change log ($creps runs × 2 nodes) | after A compacted its log to 1,000 entries (1 run) |
|---|---|---|
| import of $changes on A (one transaction) | $(cell log.import_s 1 "$creps") | $(cell compacted.import_s 1 1) |
| C restarted first (A up to date, B stopped) → equal digests | $(cell log.catchup_C 1 "$creps") | $( [ "$compact" = 1 ] && cell compacted.catchup_C 1 1 || echo skipped) |
| then B restarted (A and C up to date) → equal digests | $(cell log.catchup_B 1 "$creps") | $( [ "$compact" = 1 ] && cell compacted.catchup_B 1 1 || echo skipped) |
| **all catch-up samples** | $(cell log.catchup_s 1 $((2 * creps))) ($(stat_of log.catchup_s n) samples) | $( [ "$compact" = 1 ] && cell compacted.catchup_s 1 2 || echo skipped) |

## swarmfs-sync CPU (% of one CPU over the phase) and RSS (MB), median (min–max)

| phase | A (origin) CPU | B CPU | C CPU | A RSS | B RSS | C RSS |
|---|---|---|---|---|---|---|
EOF
for ph in paced max log.C log.B compacted.C compacted.B; do
	case $ph in
	paced) lbl="$rate writes/s on A" ;;
	max) lbl="sustained writes on A" ;;
	log.C) lbl="C catching up from the log (B stopped)" ;;
	log.B) lbl="then B catching up from the log" ;;
	compacted.C) lbl="C catching up after compaction" ;;
	compacted.B) lbl="then B catching up after compaction" ;;
	esac
	[ -z "$(stat_of "cpu.$ph.A" med)" ] && [ -z "$(stat_of "cpu.$ph.C" med)" ] && continue
	case $ph in
	paced|max) x=$reps ;;
	log.*) x=$creps ;;
	*) x=1 ;;
	esac
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$lbl" "$(cell "cpu.$ph.A" 1 "$x")" \
		"$(cell "cpu.$ph.B" 1 "$x")" "$(cell "cpu.$ph.C" 1 "$x")" "$(cell "rss.$ph.A" 1024 "$x")" \
		"$(cell "rss.$ph.B" 1024 "$x")" "$(cell "rss.$ph.C" 1024 "$x")"
done
peak=$(for i in 1 2 3; do stat_of "hwm.end.$i" max; done | sort -g | tail -n 1)
wps=$(stat_of max.repl_per_s med)
cpu_b=$(stat_of cpus.max.B med)
writes_max=$(stat_of max.writes med)
printf '\nPeak RSS (VmHWM) of any sidecar over the run: %s MB. ' \
	"$(awk -v x="$peak" 'BEGIN { if (x == "") print "n/a"; else printf "%.1f", x / 1024 }')"
printf 'CPU per replicated write on B (sustained run): %s µs.\n' \
	"$(awk -v c="$cpu_b" -v n="$writes_max" 'BEGIN { if (c == "" || n + 0 == 0) print "n/a"; else printf "%.0f", c / n * 1e6 }')"

p99=$(awk -v x="$(stat_of paced.repl_p99_us med)" 'BEGIN { if (x != "") printf "%.2f", x / 1000 }')
cu=$(stat_of log.catchup_s med)
cuk=$(stat_of compacted.catchup_s med)
printf '\n## Targets\n\n| target | measured | goal | verdict |\n|---|---|---|---|\n'
printf '| close() on A → readable on B, p99 at %s writes/s (achieved: %s) | %s ms (p50 %s ms) | < 20 ms | %s |\n' \
	"$rate" "$(num "$(stat_of paced.writes_per_s med)")" "${p99:-n/a}" "$(num "$(awk -v x="$(stat_of paced.repl_p50_us med)" 'BEGIN { if (x != "") print x / 1000 }')")" \
	"$(verdict "${p99:-}" "<" 20)"
printf '| sustained replicated writes/s | %s | (print) | – |\n' "$(num "$wps")"
printf '| catch-up of %s changes (from the log) | %s s | < 5 s | %s |\n' "$changes" "$(num "$cu")" \
	"$(verdict "$cu" "<" 5)"
if [ "$compact" = 1 ]; then
	printf '| catch-up of %s changes after the peers compacted | %s s | < 5 s | %s |\n' "$changes" \
		"$(num "$cuk")" "$(verdict "$cuk" "<" 5)"
fi
printf '| swarmfs-sync CPU and RSS | see above | (print) | – |\n'
if [ "$rate" -ne 1000 ] || [ "$changes" -ne 100000 ]; then
	printf '\nNote: the targets are defined for 1,000 writes/s and 100,000 changes; this run used %s and %s.\n' \
		"$rate" "$changes"
fi
if [ -s "$notes" ]; then
	printf '\n## Problems seen during the run\n\n'
	cat "$notes"
fi
