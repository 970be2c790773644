#!/bin/bash
# run-single.sh - single-node benchmark: swarmfs against tmpfs, a bare FUSE
# passthrough over tmpfs and raw SQLite, measured side by side in one run,
# printed as Markdown with min/median/max, ratios and the performance targets.
# Everything lives under mktemp -d directories and every mount is undone by
# the EXIT trap.  Never part of make check: it measures, it asserts nothing.

set -u

usage() {
	cat <<'EOF'
usage: bench/run-single.sh [options]
  -n N            documents per run (default 10000)
  -r REPS         repetitions of every measurement (default 3)
  -L COUNT        resources for the `ls -l` and RSS test (default 100000)
  --quick         smoke run: -n 1000 -r 1 -L 10000
  --builddir DIR  build tree holding fs/swarmfs and bench/ (default: .)
  --no-build      do not run make first
  --no-swarmfs    measure the baselines only
  -h, --help      this text
Runs as root (for drop_caches); needs fuse3, libfuse3-dev, libsqlite3-dev.
EOF
}

n=10000
reps=3
ls_count=100000
builddir=.
build=1
want_swarmfs=1
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:?}; shift ;;
	-r) reps=${2:?}; shift ;;
	-L) ls_count=${2:?}; shift ;;
	--quick) n=1000; reps=1; ls_count=10000 ;;
	--builddir) builddir=${2:?}; shift ;;
	--no-build) build=0 ;;
	--no-swarmfs) want_swarmfs=0 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run-single.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$n" "$reps" "$ls_count"; do
	case $v in
	''|*[!0-9]*|0) echo "run-single.sh: bad number '$v'" >&2; exit 2 ;;
	esac
done
if [ "$ls_count" -gt 100000 ]; then
	echo "run-single.sh: -L is at most 100000 (file names are dNNNNN.json)" >&2
	exit 2
fi
builddir=$(cd "$builddir" && pwd) || exit 2
# the revision reported is that of the tree the binaries were built from
build_src=$(sed -n 's/^abs_top_srcdir = //p' "$builddir/Makefile" 2>/dev/null)
build_src=${build_src:-$(cd "$(dirname "$0")/.." && pwd)}

say() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------
missing=
for t in fusermount3 awk sort ls sync; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	say "run-single.sh: missing tools:$missing"
	say "install them with: apt-get install fuse3 coreutils gawk"
	exit 1
fi
if [ ! -c /dev/fuse ]; then
	say "run-single.sh: no /dev/fuse: cannot mount FUSE filesystems here"
	exit 1
fi
if [ "$build" = 1 ]; then
	if [ ! -f "$builddir/Makefile" ]; then
		say "run-single.sh: '$builddir' is not a configured build tree (use --builddir)"
		exit 1
	fi
	make -s -C "$builddir" bench/bench-fs bench/bench-sqlite bench/fusepass >&2 || {
		say "run-single.sh: unable to build the benchmark programs"
		say "they need: apt-get install gcc make pkg-config libfuse3-dev libsqlite3-dev"
		exit 1
	}
	if [ "$want_swarmfs" = 1 ]; then
		make -s -C "$builddir" fs/swarmfs store/swarmfs-admin >&2 ||
			say "run-single.sh: swarmfs does not build; measuring the baselines only"
	fi
fi
BENCH_FS=$builddir/bench/bench-fs
BENCH_SQL=$builddir/bench/bench-sqlite
FUSEPASS=$builddir/bench/fusepass
SWARMFS=$builddir/fs/swarmfs
ADMIN=$builddir/store/swarmfs-admin
for p in "$BENCH_FS" "$BENCH_SQL" "$FUSEPASS"; do
	if [ ! -x "$p" ]; then
		say "run-single.sh: '$p' is missing: run 'make bench' or drop --no-build"
		exit 1
	fi
done
have_swarmfs=0
swarmfs_failed=0
if [ "$want_swarmfs" = 1 ] && [ -x "$SWARMFS" ]; then
	have_swarmfs=1
fi

can_drop=0
if [ -w /proc/sys/vm/drop_caches ]; then
	can_drop=1
fi

# --- scratch space and cleanup ------------------------------------------------
# disk: swarmfs data dirs and the SQLite baseline, so fsync is real
work=$(mktemp -d /var/tmp/swarmfs-bench.XXXXXX) || exit 1
# memory: the tmpfs baseline and the passthrough's source
shm=$(mktemp -d /dev/shm/swarmfs-bench.XXXXXX) || { rm -rf "$work"; exit 1; }
mounted=()   # mount points currently mounted by us
daemons=()   # pids of the FUSE daemons we started

cleanup() {
	local m p
	for m in "${mounted[@]}"; do
		[ -n "$m" ] && fusermount3 -u -z "$m" 2>/dev/null
	done
	for p in "${daemons[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=$work/results.tsv   # target rep label n total_s us ops p50 p99 bytes errors
: >"$results"
extra=$work/extra.tsv       # target rep key value (ls -l times, RSS, ...)
: >"$extra"

now_ns() { date +%s%N; }

drop_caches() {
	sync
	if [ "$can_drop" = 1 ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# mount_fuse NAME MOUNTPOINT LOG COMMAND...: starts a daemon in the foreground
# (so we know its pid), waits until the mount answers; sets $fuse_pid.
fuse_pid=
fuse_log=/dev/null
mount_fuse() {
	local name=$1 mnt=$2 log=$3 i
	shift 3
	"$@" >>"$log" 2>&1 &
	fuse_pid=$!
	fuse_log=$log
	daemons+=("$fuse_pid")
	mounted+=("$mnt")
	for i in $(seq 200); do
		if is_mounted "$mnt" && stat "$mnt" >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$fuse_pid" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	say "run-single.sh: unable to mount $name on '$mnt'; its log:"
	tail -n 5 "$log" >&2
	# a daemon that never mounted would hold the next attempt
	fusermount3 -u -z "$mnt" 2>/dev/null
	kill "$fuse_pid" 2>/dev/null
	wait "$fuse_pid" 2>/dev/null
	forget "$mnt" "$fuse_pid"
	return 1
}

umount_fuse() {
	local mnt=$1 pid=$2 i
	for i in $(seq 50); do
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.1
	done
	# a daemon that does not leave on its own would hold the next run
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "run-single.sh: daemon $pid still running after unmount; killing it"
		kill "$pid"
	fi
	wait "$pid" 2>/dev/null
	forget "$mnt" "$pid"
}

# forget MOUNTPOINT PID: drops both from the cleanup lists (exact matches)
forget() {
	local i
	for i in "${!mounted[@]}"; do
		[ "${mounted[$i]}" = "$1" ] && unset 'mounted[i]'
	done
	for i in "${!daemons[@]}"; do
		[ "${daemons[$i]}" = "$2" ] && unset 'daemons[i]'
	done
}

mount_pass() { # SRC MNT
	mount_fuse passthrough "$2" "$work/fusepass.log" "$FUSEPASS" -f "$1" "$2"
}
mount_swarmfs() { # DATA MNT
	mount_fuse swarmfs "$2" "$work/swarmfs.log" "$SWARMFS" --data-dir "$1" -f "$2"
}

# record TARGET REP < bench output
record() {
	awk -v t="$1" -v r="$2" 'BEGIN { OFS = "\t" } { print t, r, $0 }' >>"$results"
}

bench_fs() { # TARGET REP DIR PHASES...
	local t=$1 r=$2 dir=$3 out
	shift 3
	out=$("$BENCH_FS" -n "$n" "$dir" "$@") || {
		say "run-single.sh: bench-fs saw errors on $t rep $r ($*); the daemon's log ends:"
		[ "$t" = tmpfs ] || tail -n 5 "$fuse_log" >&2
		[ -n "$out" ] && printf '%s\n' "$out" | record "$t" "$r"
		return 1
	}
	printf '%s\n' "$out" | record "$t" "$r"
}

# --- the 10k-document runs -----------------------------------------------------
run_tmpfs() { # REP
	local r=$1 d=$shm/tmpfs.$1
	mkdir -p "$d/deployments/default"
	bench_fs tmpfs "$r" "$d/deployments/default" create:create
	drop_caches
	bench_fs tmpfs "$r" "$d/deployments/default" read:read_cold read:read_warm \
		stat:stat readdir:readdir
	drop_caches
	bench_fs tmpfs "$r" "$d/deployments/default" read:read_cold_drop \
		overwrite:overwrite unlink:unlink
	rm -rf "$d"
}

# run_fuse TARGET REP MOUNTFN BACKING: the same sequence through a FUSE
# mount, remounting where a cold cache is wanted.
run_fuse() {
	local t=$1 r=$2 mountfn=$3 backing=$4 mnt=$work/mnt-$1 ns pid ok=1
	mkdir -p "$mnt"
	ns=$mnt/deployments/default
	"$mountfn" "$backing" "$mnt" || return 1
	pid=$fuse_pid
	if ! mkdir -p "$ns"; then
		say "run-single.sh: unable to create '$ns' on $t"
		umount_fuse "$mnt" "$pid"
		return 1
	fi
	# failed operations are counted by bench-fs and reported; go on measuring
	bench_fs "$t" "$r" "$ns" create:create || ok=0
	umount_fuse "$mnt" "$pid"
	"$mountfn" "$backing" "$mnt" || return 1
	pid=$fuse_pid
	bench_fs "$t" "$r" "$ns" read:read_cold read:read_warm stat:stat \
		readdir:readdir || ok=0
	umount_fuse "$mnt" "$pid"
	drop_caches
	"$mountfn" "$backing" "$mnt" || return 1
	pid=$fuse_pid
	bench_fs "$t" "$r" "$ns" read:read_cold_drop overwrite:overwrite \
		unlink:unlink || ok=0
	umount_fuse "$mnt" "$pid"
	[ "$ok" = 1 ]
}

run_pass() {
	local src=$shm/pass.$1
	mkdir -p "$src"
	run_fuse passthrough "$1" mount_pass "$src"
	rm -rf "$src"
}

run_swarmfs() {
	local data=$work/swarmfs-data.$1
	mkdir -p "$data"
	# a failed rep leaves its phases out; the other reps still count
	run_fuse swarmfs "$1" mount_swarmfs "$data" || swarmfs_failed=1
	rm -rf "$data"
}

run_sqlite() { # REP
	local r=$1 d=$work/sqlite.$1 out
	mkdir -p "$d"
	out=$("$BENCH_SQL" -n "$n" --sync FULL "$d/bench.db" create:create) &&
		printf '%s\n' "$out" | record sqlite "$r"
	# a new process is SQLite's "remount": an empty page cache
	out=$("$BENCH_SQL" -n "$n" --sync FULL "$d/bench.db" read:read_cold read:read_warm) &&
		printf '%s\n' "$out" | record sqlite "$r"
	drop_caches
	out=$("$BENCH_SQL" -n "$n" --sync FULL "$d/bench.db" read:read_cold_drop \
		overwrite:overwrite unlink:unlink) &&
		printf '%s\n' "$out" | record sqlite "$r"
	rm -rf "$d"
}

# --- ls -l of many resources, and swarmfs's RSS --------------------------------
vmrss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
vmhwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# time_ls TARGET REP KEY DIR: one `ls -l`, its wall time in seconds
time_ls() {
	local t0 t1 lines
	t0=$(now_ns)
	lines=$(LC_ALL=C ls -l "$4" | wc -l)
	t1=$(now_ns)
	if [ "$lines" -ne $((ls_count + 1)) ]; then
		say "run-single.sh: ls -l on $1 listed $((lines - 1)) entries, expected $ls_count"
	fi
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')" >>"$extra"
}

# ls_run TARGET REP MOUNTFN BACKING
ls_run() {
	local t=$1 r=$2 mnt=$work/mnt-ls-$1
	mkdir -p "$mnt"
	drop_caches
	"$3" "$4" "$mnt" || return 1
	time_ls "$t" "$r" ls_cold "$mnt/deployments/default"
	time_ls "$t" "$r" ls_warm "$mnt/deployments/default"
	printf '%s\t%s\trss_kb\t%s\n' "$t" "$r" "$(vmrss_kb "$fuse_pid")" >>"$extra"
	printf '%s\t%s\thwm_kb\t%s\n' "$t" "$r" "$(vmhwm_kb "$fuse_pid")" >>"$extra"
	umount_fuse "$mnt" "$fuse_pid"
}

# Writes an export of ls_count Deployments for swarmfs-admin import, in the
# format that swarmfs-admin export produces for one document written through
# the mount: the line format is learnt, not guessed.
populate_swarmfs_import() { # DATA
	local data=$1 probe=$work/probe-data mnt=$work/mnt-probe sample gen
	command -v python3 >/dev/null 2>&1 || return 1
	[ -x "$ADMIN" ] || return 1
	mkdir -p "$probe" "$mnt"
	mount_swarmfs "$probe" "$mnt" || return 1
	mkdir -p "$mnt/deployments/default" &&
		"$BENCH_FS" -n 1 "$mnt/deployments/default" create >/dev/null
	umount_fuse "$mnt" "$fuse_pid"
	sample=$work/probe.export
	"$ADMIN" --data-dir "$probe" export >"$sample" 2>>"$work/admin.log" || return 1
	gen=$work/big.export
	python3 - "$sample" "$gen" "$ls_count" <<'PY' || return 1
# Repeats the one exported resource ls_count times under new names.
import json, sys
sample, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(sample).read()
if "d00000" not in text:
    sys.exit("export has no d00000")
lines = text.splitlines(keepends=True)
hit = [i for i, l in enumerate(lines) if "d00000" in l]
with open(out, "w") as f:
    if len(hit) == 1:
        # one JSON line per resource: clone that line, keep the others
        i = hit[0]
        f.writelines(lines[:i])
        for k in range(count):
            f.write(lines[i].replace("d00000", "d%05u" % k))
        f.writelines(lines[i + 1:])
    else:
        # one JSON document: clone every object that names d00000
        doc = json.loads(text)
        def expand(node):
            if isinstance(node, list):
                res = []
                for item in node:
                    if "d00000" in json.dumps(item):
                        s = json.dumps(item)
                        res.extend(json.loads(s.replace("d00000", "d%05u" % k))
                                   for k in range(count))
                    else:
                        res.append(expand(item))
                return res
            if isinstance(node, dict):
                return {key: expand(val) for key, val in node.items()}
            return node
        json.dump(expand(doc), f)
PY
	"$ADMIN" --data-dir "$data" import "$gen" >>"$work/admin.log" 2>&1
}

populate_swarmfs_mount() { # DATA
	local mnt=$work/mnt-fill
	mkdir -p "$mnt"
	mount_swarmfs "$1" "$mnt" || return 1
	mkdir -p "$mnt/deployments/default" &&
		"$BENCH_FS" -n "$ls_count" --seq "$mnt/deployments/default" create >/dev/null
	local rc=$?
	umount_fuse "$mnt" "$fuse_pid"
	return $rc
}

# --- run ----------------------------------------------------------------------
start_all=$(now_ns)
say "swarmfs single-node benchmark: N=$n, $reps reps, ls -l of $ls_count; work dirs $work $shm"
if [ "$have_swarmfs" = 0 ]; then
	say "swarmfs is not available ($SWARMFS): baselines only"
fi
for r in $(seq "$reps"); do
	say "rep $r/$reps: tmpfs"; run_tmpfs "$r"
	say "rep $r/$reps: passthrough"; run_pass "$r"
	say "rep $r/$reps: sqlite"; run_sqlite "$r"
	if [ "$have_swarmfs" = 1 ]; then
		say "rep $r/$reps: swarmfs"; run_swarmfs "$r"
	fi
done

say "ls -l of $ls_count: populating"
big_src=$shm/big
mkdir -p "$big_src/deployments/default"
"$BENCH_FS" -n "$ls_count" --seq "$big_src/deployments/default" create >/dev/null
big_data=$work/swarmfs-big
populate_how=
if [ "$have_swarmfs" = 1 ]; then
	mkdir -p "$big_data"
	t0=$(now_ns)
	if populate_swarmfs_import "$big_data"; then
		populate_how="swarmfs-admin import"
	else
		if [ -x "$ADMIN" ]; then
			say "run-single.sh: swarmfs-admin import failed; populating through the mount"
			tail -n 3 "$work/admin.log" >&2 2>/dev/null
		else
			say "run-single.sh: no $ADMIN; populating through the mount"
		fi
		rm -rf "$big_data"; mkdir -p "$big_data"
		if populate_swarmfs_mount "$big_data"; then
			populate_how="writes through the mount"
		else
			say "run-single.sh: unable to populate swarmfs with $ls_count resources"
		fi
	fi
	t1=$(now_ns)
	populate_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
fi
for r in $(seq "$reps"); do
	say "rep $r/$reps: ls -l passthrough"
	ls_run passthrough "$r" mount_pass "$big_src"
	if [ -n "$populate_how" ]; then
		say "rep $r/$reps: ls -l swarmfs"
		ls_run swarmfs "$r" mount_swarmfs "$big_data"
	fi
done
end_all=$(now_ns)

# --- report -------------------------------------------------------------------
# stats KEYCOL VALCOL FILE: "target key min median max count" per group
stats() {
	sort -t "$(printf '\t')" -k1,1 -k"$1","$1" -k"$2","$2"g "$3" |
	awk -F '\t' -v kc="$1" -v vc="$2" '
		function flush() {
			if (cnt == 0) return
			med = cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
			printf "%s\t%s\t%s\t%s\t%s\t%d\n", pt, pk, v[1], med, v[cnt], cnt
			cnt = 0
		}
		{
			if ($1 != pt || $kc != pk) { flush(); pt = $1; pk = $kc }
			v[++cnt] = $vc
		}
		END { flush() }'
}
stats 3 6 "$results" >"$work/us.tsv"      # µs per op
stats 3 7 "$results" >"$work/ops.tsv"     # ops per second
stats 3 4 "$extra" >"$work/extra-stats.tsv"

# get FILE TARGET KEY FIELD (3 min, 4 median, 5 max)
get() { awk -F '\t' -v t="$2" -v k="$3" -v f="$4" '$1 == t && $2 == k { print $f }' "$1"; }

fmt_cell() { # FILE TARGET KEY: "median (min–max)"
	local med lo hi cnt
	med=$(get "$1" "$2" "$3" 4)
	if [ -z "$med" ]; then
		printf 'n/a'
		return
	fi
	lo=$(get "$1" "$2" "$3" 3)
	hi=$(get "$1" "$2" "$3" 5)
	cnt=$(get "$1" "$2" "$3" 6)
	awk -v m="$med" -v a="$lo" -v b="$hi" -v c="$cnt" -v r="$reps" 'BEGIN {
		f = (m >= 100) ? "%.0f" : (m >= 10) ? "%.1f" : (m >= 1) ? "%.2f" : "%.3f"
		printf f " (" f "–" f ")", m, a, b
		if (c < r) printf " [%d of %d reps]", c, r }'
}

ratio() { # A B: A/B to two decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

ops_label() {
	case $1 in
	create) echo "create+write+close" ;;
	read_cold) echo "cold read (after remount)" ;;
	read_cold_drop) echo "cold read (remount + drop_caches)" ;;
	read_warm) echo "warm re-read" ;;
	stat) echo "stat" ;;
	readdir) echo "ls -l (readdir + lstat), per entry" ;;
	overwrite) echo "overwrite (O_TRUNC, write, close)" ;;
	unlink) echo "unlink" ;;
	esac
}

cat <<EOF

# swarmfs single-node benchmark

- $(date -u '+%Y-%m-%d %H:%M UTC'), source $(git -C "$build_src" describe --always --dirty 2>/dev/null || echo unknown), $(nproc) CPUs, kernel $(uname -r); N = $n documents of 500 B
  (deployments/default/dNNNNN.json, visited in a fixed shuffled order), $reps repetitions,
  total run time $(awk -v a="$start_all" -v b="$end_all" 'BEGIN { printf "%.0f", (b - a) / 1e9 }') s.
- tmpfs: $shm; passthrough: bench/fusepass (libfuse3 high-level, multi-threaded,
  60 s entry/attr timeouts, readdirplus) over tmpfs; sqlite: one BEGIN IMMEDIATE
  transaction per row, WAL, synchronous=FULL, file under $work (same disk as swarmfs);
  swarmfs: fresh --data-dir under $work.
- Cold read: FUSE targets are unmounted and mounted again (SQLite: a new process);
  "remount + drop_caches" also does \`sync; echo 3 > /proc/sys/vm/drop_caches\`$(
	[ "$can_drop" = 1 ] || printf ' (NOT allowed here: skipped)'). tmpfs cannot be
  remounted without losing its files, so its cold reads follow drop_caches only (its
  file pages stay in memory). Warm re-read: a second pass right after the cold one.
EOF
if [ "$swarmfs_failed" = 1 ]; then
	printf -- '- **swarmfs failed during the run** (errors on stderr): the failed phases of that rep are missing, so some swarmfs cells have fewer samples\n'
elif [ "$have_swarmfs" = 0 ]; then
	printf -- '- **swarmfs was not measured** (not built, or --no-swarmfs; looked for %s)\n' "$SWARMFS"
fi

printf '\n## Per operation: µs per op, median (min–max)\n\n'
printf '| operation | tmpfs | passthrough | sqlite | swarmfs | swarmfs/tmpfs | swarmfs/passthrough | swarmfs/sqlite |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for op in create read_cold read_cold_drop read_warm stat readdir overwrite unlink; do
	sw=$(get "$work/us.tsv" swarmfs "$op" 4)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(ops_label "$op")" \
		"$(fmt_cell "$work/us.tsv" tmpfs "$op")" \
		"$(fmt_cell "$work/us.tsv" passthrough "$op")" \
		"$(fmt_cell "$work/us.tsv" sqlite "$op")" \
		"$(fmt_cell "$work/us.tsv" swarmfs "$op")" \
		"$(ratio "$sw" "$(get "$work/us.tsv" tmpfs "$op" 4)")" \
		"$(ratio "$sw" "$(get "$work/us.tsv" passthrough "$op" 4)")" \
		"$(ratio "$sw" "$(get "$work/us.tsv" sqlite "$op" 4)")"
done
printf '\nRatios are of medians; above 1 means swarmfs is slower.\n'
if awk -F '\t' '$11 > 0 { found = 1 } END { exit !found }' "$results"; then
	printf '\n**Failed operations** (counted in the times above; details on stderr):\n\n'
	awk -F '\t' '$11 > 0 { printf "- %s rep %s, %s: %s of %s failed\n", $1, $2, $3, $11, $4 }' "$results"
fi

printf '\n## Per operation: ops/s, median (min–max)\n\n'
printf '| operation | tmpfs | passthrough | sqlite | swarmfs |\n|---|---|---|---|---|\n'
for op in create read_cold read_cold_drop read_warm stat readdir overwrite unlink; do
	printf '| %s | %s | %s | %s | %s |\n' "$(ops_label "$op")" \
		"$(fmt_cell "$work/ops.tsv" tmpfs "$op")" \
		"$(fmt_cell "$work/ops.tsv" passthrough "$op")" \
		"$(fmt_cell "$work/ops.tsv" sqlite "$op")" \
		"$(fmt_cell "$work/ops.tsv" swarmfs "$op")"
done

printf '\n## ls -l of %s resources in one namespace, s, median (min–max)\n\n' "$ls_count"
if [ -n "$populate_how" ]; then
	printf 'swarmfs populated by %s in %s s.\n\n' "$populate_how" "$populate_s"
fi
printf '| measurement | passthrough | swarmfs | swarmfs/passthrough |\n|---|---|---|---|\n'
for k in ls_cold ls_warm; do
	case $k in
	ls_cold) lbl="ls -l after mount + drop_caches" ;;
	*) lbl="ls -l again (warm)" ;;
	esac
	printf '| %s | %s | %s | %s |\n' "$lbl" \
		"$(fmt_cell "$work/extra-stats.tsv" passthrough $k)" \
		"$(fmt_cell "$work/extra-stats.tsv" swarmfs $k)" \
		"$(ratio "$(get "$work/extra-stats.tsv" swarmfs $k 4)" \
			"$(get "$work/extra-stats.tsv" passthrough $k 4)")"
done
for k in rss_kb hwm_kb; do
	case $k in
	rss_kb) lbl="daemon VmRSS after the two ls -l, MB" ;;
	*) lbl="daemon VmHWM (peak RSS), MB" ;;
	esac
	p=$(get "$work/extra-stats.tsv" passthrough $k 5)
	s=$(get "$work/extra-stats.tsv" swarmfs $k 5)
	printf '| %s (max) | %s | %s | %s |\n' "$lbl" \
		"$(awk -v x="$p" 'BEGIN { if (x == "") print "n/a"; else printf "%.1f", x / 1024 }')" \
		"$(awk -v x="$s" 'BEGIN { if (x == "") print "n/a"; else printf "%.1f", x / 1024 }')" \
		"$(ratio "$s" "$p")"
done

# --- targets ------------------------------------------------------------------
verdict() { # VALUE OP LIMIT
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "" || v == "n/a") { print "not measured"; exit }
		ok = (op == ">=") ? v >= l : (op == "<=") ? v <= l : v < l
		print ok ? "**met**" : "**not met**" }'
}
sw_rate=$(get "$work/ops.tsv" swarmfs create 4)
sq_rate=$(get "$work/ops.tsv" sqlite create 4)
r_write=$(ratio "$sw_rate" "$sq_rate")
r_cold=$(ratio "$(get "$work/us.tsv" swarmfs read_cold 4)" "$(get "$work/us.tsv" passthrough read_cold 4)")
r_warm=$(ratio "$(get "$work/us.tsv" swarmfs read_warm 4)" "$(get "$work/us.tsv" tmpfs read_warm 4)")
r_ls=$(ratio "$(get "$work/extra-stats.tsv" swarmfs ls_cold 4)" "$(get "$work/extra-stats.tsv" passthrough ls_cold 4)")
rss=$(get "$work/extra-stats.tsv" swarmfs rss_kb 5)
rss_mb=$(awk -v x="$rss" 'BEGIN { if (x == "") print "n/a"; else printf "%.1f", x / 1024 }')

times() { if [ "$1" = n/a ]; then echo n/a; else echo "$1×"; fi; }

printf '\n## Targets\n\n'
printf '| target | measured | goal | verdict |\n|---|---|---|---|\n'
printf '| durable write+close rate vs raw SQLite commit rate | %s (%s vs %s ops/s) | ≥ 0.8× | %s |\n' \
	"$(times "$r_write")" "${sw_rate:-n/a}" "${sq_rate:-n/a}" "$(verdict "$r_write" ">=" 0.8)"
printf '| cold read (after remount) vs passthrough | %s | ≤ 1.5× | %s |\n' \
	"$(times "$r_cold")" "$(verdict "$r_cold" "<=" 1.5)"
printf '| warm re-read vs tmpfs | %s | ≤ 2× | %s |\n' "$(times "$r_warm")" "$(verdict "$r_warm" "<=" 2)"
printf '| ls -l of %s (after mount + drop_caches) vs passthrough | %s | ≤ 1.5× | %s |\n' \
	"$ls_count" "$(times "$r_ls")" "$(verdict "$r_ls" "<=" 1.5)"
printf '| swarmfs RSS holding %s resources after ls -l | %s MB | < 64 MB | %s |\n' \
	"$ls_count" "$rss_mb" "$(verdict "$rss_mb" "<" 64)"
if [ "$n" -ne 10000 ] || [ "$ls_count" -ne 100000 ]; then
	printf '\nNote: the targets are defined for N = 10000 and 100000 resources; this run used %s and %s.\n' \
		"$n" "$ls_count"
fi
