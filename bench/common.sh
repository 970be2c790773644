# common.sh - what run-snapshot.sh and run-replication.sh share: options
# for the build tree, scratch space under mktemp -d that the EXIT trap always
# unmounts, kills and removes, swarmfs mounts with a known pid, a generated
# export of N resources, and min/median/max statistics with ratios.  Sourced,
# never run; the caller sets `me` (its name for messages) first.

say() { printf '%s\n' "$*" >&2; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }

# need_tools TOOL...: prints every missing one with what provides it, then
# fails; nothing is installed.
need_tools() {
	local t missing=
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -z "$missing" ] && return 0
	say "$me: missing tools:$missing"
	say "$me: on Debian they come with: apt-get install fuse3 sqlite3 python3 jq gawk coreutils"
	return 1
}

# build_or_check BUILDDIR BUILD(0|1) PROGRAM...: makes the programs when
# asked, then reports each one still missing.
build_or_check() {
	local dir=$1 build=$2 p missing=
	shift 2
	if [ "$build" = 1 ]; then
		if [ ! -f "$dir/Makefile" ]; then
			say "$me: '$dir' is not a configured build tree (use --builddir)"
			return 1
		fi
		make -s -C "$dir" "$@" >&2 ||
			say "$me: some programs did not build (they need libfuse3-dev libsqlite3-dev libcjson-dev libnng-dev)"
	fi
	for p in "$@"; do
		[ -x "$dir/$p" ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "$me: not built in '$dir':$missing (run 'make$missing' there, or drop --no-build)"
	return 1
}

# free_ports N: N even base ports, each with the next one free as well (a
# sidecar serves catch-up requests on its --listen port + 1; an etcd member
# takes its client port and the peer port after it).  The tests' own.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/integration/sync-lib.sh"

# drop_caches: writes back and drops the page, dentry and inode caches when
# allowed (root); the caller reports can_drop.
can_drop=0
[ -w /proc/sys/vm/drop_caches ] && can_drop=1
drop_caches() {
	sync
	[ "$can_drop" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
	return 0
}

# --- scratch space and cleanup ------------------------------------------------
mounted=()   # mount points currently mounted by us
daemons=()   # pids of the processes we started and must stop

# bench_scratch: makes $work on disk (so fsync is real); the trap removes it.
bench_scratch() {
	work=$(mktemp -d /var/tmp/swarmfs-bench.XXXXXX) || exit 1
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local m p
	for m in "${mounted[@]}"; do
		[ -n "$m" ] && fusermount3 -u -z "$m" 2>/dev/null
	done
	for p in "${daemons[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in "${daemons[@]}"; do
		[ -n "$p" ] && kill -CONT "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${work:-}" ] && [ -n "${KEEP:-}" ] && { say "$me: kept $work"; return; }
	[ -n "${work:-}" ] && rm -rf "$work"
}

# forget PID [MOUNTPOINT]: drops both from the cleanup lists (exact matches)
forget() {
	local i
	for i in "${!daemons[@]}"; do
		[ "${daemons[$i]}" = "$1" ] && unset 'daemons[i]'
	done
	[ $# -lt 2 ] && return 0
	for i in "${!mounted[@]}"; do
		[ "${mounted[$i]}" = "$2" ] && unset 'mounted[i]'
	done
}

is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# start_swarmfs DATA MNT LOG [ARGS...]: mounts in the foreground (so the pid
# is known), waits up to 10 s for the mount to answer; sets $fuse_pid.
fuse_pid=
start_swarmfs() {
	local data=$1 mnt=$2 log=$3 i
	shift 3
	mkdir -p "$data" "$mnt"
	"$SWARMFS" --data-dir "$data" --snapshot-interval 0 -f "$@" "$mnt" >>"$log" 2>&1 &
	fuse_pid=$!
	daemons+=("$fuse_pid")
	mounted+=("$mnt")
	# Up to 10 minutes: swarmfs runs PRAGMA quick_check over the whole
	# store before it mounts, about 90 s for 1,000,000 resources cold.
	for i in $(seq 12000); do
		if is_mounted "$mnt" && stat "$mnt/status.json" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$fuse_pid" 2>/dev/null || break
		sleep 0.05
	done
	say "$me: unable to mount swarmfs on '$mnt'; its log ends:"
	tail -n 5 "$log" >&2
	stop_swarmfs "$mnt" "$fuse_pid"
	return 1
}

# start_pass SRC MNT LOG: the bare FUSE passthrough (bench/fusepass) of SRC
# on MNT, in the foreground; sets $fuse_pid.
start_pass() {
	local src=$1 mnt=$2 log=$3 i
	mkdir -p "$mnt"
	"$FUSEPASS" -f "$src" "$mnt" >>"$log" 2>&1 &
	fuse_pid=$!
	daemons+=("$fuse_pid")
	mounted+=("$mnt")
	for i in $(seq 200); do
		is_mounted "$mnt" && stat "$mnt" >/dev/null 2>&1 && return 0
		kill -0 "$fuse_pid" 2>/dev/null || break
		sleep 0.05
	done
	say "$me: unable to mount the passthrough on '$mnt'"
	stop_swarmfs "$mnt" "$fuse_pid"
	return 1
}

# stop_swarmfs MNT PID: unmounts, waits up to 5 s for the daemon, then kills it.
stop_swarmfs() {
	local mnt=$1 pid=$2 i
	for i in $(seq 50); do
		fusermount3 -u "$mnt" 2>/dev/null && break
		is_mounted "$mnt" || break
		sleep 0.1
	done
	is_mounted "$mnt" && fusermount3 -u -z "$mnt" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$me: daemon $pid still running after unmount; killing it"
		kill "$pid"
	fi
	wait "$pid" 2>/dev/null
	forget "$pid" "$mnt"
}

# --- etcd ------------------------------------------------------------------------
# start_etcd TAG COUNT: a COUNT-member etcd cluster on 127.0.0.1 with data
# under $work/etcd-TAG; sets etcd_urls (client URLs) and etcd_pids, and
# waits up to 20 s for every member to report healthy.
etcd_urls=()
etcd_pids=()
start_etcd() {
	local tag=$1 count=$2 i cluster= p ports
	read -r -a ports <<<"$(free_ports "$count")"
	etcd_urls=()
	etcd_pids=()
	for i in $(seq "$count"); do
		p=${ports[$((i - 1))]}
		cluster="$cluster${cluster:+,}e$i=http://127.0.0.1:$((p + 1))"
	done
	for i in $(seq "$count"); do
		p=${ports[$((i - 1))]}
		etcd --name "e$i" --data-dir "$work/etcd-$tag/$i" \
			--listen-client-urls "http://127.0.0.1:$p" \
			--advertise-client-urls "http://127.0.0.1:$p" \
			--listen-peer-urls "http://127.0.0.1:$((p + 1))" \
			--initial-advertise-peer-urls "http://127.0.0.1:$((p + 1))" \
			--initial-cluster "$cluster" --initial-cluster-state new \
			--initial-cluster-token "bench-$tag" --logger zap --log-level error \
			--auto-compaction-mode revision --auto-compaction-retention 1000 \
			--quota-backend-bytes 8589934592 \
			>>"$work/etcd-$tag.log" 2>&1 &
		etcd_pids+=("$!")
		daemons+=("$!")
		etcd_urls+=("http://127.0.0.1:$p")
	done
	python3 - "${etcd_urls[@]}" <<'EOF' && return 0
import sys, time, urllib.request
deadline = time.time() + 20
for url in sys.argv[1:]:
    while True:
        try:
            if b'"true"' in urllib.request.urlopen(url + "/health", timeout=2).read():
                break
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.1)
EOF
	say "$me: etcd ($tag, $count members) did not become healthy within 20 s; its log ends:"
	tail -n 5 "$work/etcd-$tag.log" >&2
	stop_etcd
	return 1
}

stop_etcd() {
	local p
	for p in "${etcd_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		forget "$p"
	done
	etcd_pids=()
}

# --- a generated export --------------------------------------------------------
# gen_export COUNT OUT: an export of COUNT Deployments in default, in the
# format that swarmfs-admin export produces for one document written through
# a mount: the format is learnt, not guessed.
gen_export() {
	local count=$1 out=$2 probe=$work/probe-data mnt=$work/mnt-probe sample=$work/probe.export
	if [ ! -s "$sample" ]; then
		rm -rf "$probe"
		start_swarmfs "$probe" "$mnt" "$work/probe.log" || return 1
		"$BENCH_FS" -n 1 "$mnt/deployments/default" create >/dev/null
		stop_swarmfs "$mnt" "$fuse_pid"
		"$ADMIN" --data-dir "$probe" export >"$sample" 2>>"$work/admin.log" || return 1
		rm -rf "$probe"
	fi
	python3 - "$sample" "$out" "$count" <<'PY'
# Repeats the one exported resource COUNT times under new names.
import json, sys
sample, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = json.load(open(sample))
one = [r for r in doc["resources"] if r["metadata"]["name"] == "d00000"]
if len(one) != 1:
    sys.exit("the probe export has no d00000")
text = json.dumps(one[0])
doc["resources"] = [json.loads(text.replace("d00000", "d%06u" % k)) for k in range(count)]
json.dump(doc, open(out, "w"))
PY
}

# --- statistics ----------------------------------------------------------------
# Results are lines "KEY<TAB>VALUE" in $results, one per repetition.
record() { printf '%s\t%s\n' "$1" "$2" >>"$results"; }

# stat_of KEY FIELD: FIELD is min, med, max or n over the KEY's values
stat_of() {
	awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$results" | sort -g |
	awk -v f="$2" '{ v[++n] = $1 }
		END {
			if (n == 0) exit
			if (f == "n") print n
			else if (f == "min") print v[1]
			else if (f == "max") print v[n]
			else print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}'
}

num() { # a number to a sensible precision, or n/a
	awk -v m="$1" 'BEGIN {
		if (m == "") { printf "n/a"; exit }
		a = m < 0 ? -m : m
		f = (a >= 100) ? "%.0f" : (a >= 10) ? "%.1f" : (a >= 1) ? "%.2f" : "%.3f"
		printf f, m }'
}

# cell KEY [SCALE] [EXPECTED]: "median (min–max)" of KEY's values divided by
# SCALE, marked when there are fewer than EXPECTED (default $reps) of them
cell() {
	local k=$1 s=${2:-1} want=${3:-$reps} med lo hi n
	med=$(stat_of "$k" med)
	if [ -z "$med" ]; then
		printf 'n/a'
		return
	fi
	lo=$(stat_of "$k" min) hi=$(stat_of "$k" max) n=$(stat_of "$k" n)
	printf '%s (%s–%s)' "$(num "$(awk -v x="$med" -v s="$s" 'BEGIN { print x / s }')")" \
		"$(num "$(awk -v x="$lo" -v s="$s" 'BEGIN { print x / s }')")" \
		"$(num "$(awk -v x="$hi" -v s="$s" 'BEGIN { print x / s }')")"
	[ "$n" -lt "$want" ] && printf ' [%s of %s samples]' "$n" "$want"
	return 0
}

ratio() { # A B: A/B to two decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# verdict VALUE OP LIMIT
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "" || v == "n/a") { print "not measured"; exit }
		ok = (op == ">=") ? v >= l : (op == "<=") ? v <= l : v < l
		print ok ? "**met**" : "**not met**" }'
}

# kv LINE KEY: the value of KEY=VALUE in one line of bench-write output
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

source_rev() {
	local src
	src=$(sed -n 's/^abs_top_srcdir = //p' "$builddir/Makefile" 2>/dev/null)
	src=${src:-$(cd "$(dirname "$0")/.." && pwd)}
	git -C "$src" describe --always --dirty 2>/dev/null || echo unknown
}
