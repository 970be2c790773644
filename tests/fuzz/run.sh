#!/bin/sh
# run.sh - builds the libFuzzer harnesses of tests/fuzz/ with clang and runs
# each one for a bounded time, printing TAP: one "ok" per harness with its
# executions, exec/s and coverage; a crash, leak, timeout or broken property
# fails it and leaves the artifact (hex dump) and the report in the log.
#
# Environment:
#   FUZZ_SECONDS   run time per harness (default 15; 0: skip the run)
#   FUZZ_RUNS      stop each harness after this many executions instead
#   FUZZ_ONLY      run only these harnesses (space-separated names)
#   FUZZ_WORKDIR   keep the builds, grown corpora and artifacts here
#                  (default: a temporary directory, removed at the end)
#   FUZZ_NICE      run the harnesses under `nice -n FUZZ_NICE`
#   FUZZ_CC        the compiler (default clang)
#   FUZZ_ARGS      extra libFuzzer options, e.g. "-max_len=65536"
# Never writes into the source tree: it works from make check, in an
# out-of-tree build and under make distcheck.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
fuzzdir=$top_srcdir/tests/fuzz
seconds=${FUZZ_SECONDS:-15}
runs=${FUZZ_RUNS:-}
cc=${FUZZ_CC:-clang}
harnesses=${FUZZ_ONLY:-"fuzz-document fuzz-wire fuzz-podman"}

# fuzz-podman's scratch store: in memory when /dev/shm is there, and
# removed here, since libFuzzer does not always run the harness's atexit.
FUZZ_STORE_DIR=$(mktemp -d /dev/shm/swarmfs-fuzz.XXXXXX 2>/dev/null ||
	mktemp -d "${TMPDIR:-/tmp}/swarmfs-fuzz-store.XXXXXX") || exit 1
export FUZZ_STORE_DIR
if [ -n "${FUZZ_WORKDIR:-}" ]; then
	work=$FUZZ_WORKDIR
	mkdir -p "$work" || exit 1
	trap 'rm -rf "$FUZZ_STORE_DIR"' EXIT
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/swarmfs-fuzz.XXXXXX") || exit 1
	trap 'rm -rf "$work" "$FUZZ_STORE_DIR"' EXIT
fi
trap 'exit 1' INT TERM

count=0
for h in $harnesses; do count=$((count + 1)); done

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# The harnesses carry their own ASan and UBSan: tests/run's sanitizer pass
# (which sets SWARMFS_SKIP_SLOW) would only build and run them again.
[ -n "${SWARMFS_SKIP_SLOW:-}" ] && skip_all "already run in the plain pass (SWARMFS_SKIP_SLOW)"

# The fuzzer runtime ships separately from the compiler on Debian.
command -v "$cc" >/dev/null 2>&1 ||
	skip_all "$cc not found: install clang and libclang-rt-14-dev"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
	>"$work/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined -o "$work/probe" "$work/probe.c" \
	>"$work/probe.log" 2>&1 ||
	skip_all "clang cannot link -fsanitize=fuzzer,address,undefined: install libclang-rt-14-dev ($(head -n 1 "$work/probe.log"))"

cjson_cflags=$(pkg-config --cflags libcjson 2>/dev/null || echo "-I/usr/include/cjson")
cjson_libs=$(pkg-config --libs libcjson 2>/dev/null || echo "-lcjson")
sqlite_cflags=$(pkg-config --cflags sqlite3 2>/dev/null || true)
sqlite_libs=$(pkg-config --libs sqlite3 2>/dev/null || echo "-lsqlite3")

base_flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
-Wall -Wextra -Wno-unused-parameter -I$top_srcdir/store -I$top_srcdir/store/admin \
-I$top_srcdir/sync -I$fuzzdir $cjson_cflags $sqlite_cflags"
# Coverage-instrumented: the code under test.  The SQLite side of libstore
# (fuzz-podman's apply) gets the sanitizers but no coverage, so cov: counts
# only the parsers.
fuzz_flags="-fsanitize=fuzzer-no-link,address,undefined"
plain_flags="-fsanitize=address,undefined"

# mk_sources VAR FRAGMENT: the .c files an automake fragment lists in VAR,
# so a source added to libstore reaches the harnesses without an edit here.
mk_sources() {
	sed -e ':a' -e '/\\$/N' -e 's/\\\n/ /' -e 'ta' "$top_srcdir/$2" |
		sed -n "s/^$1[[:space:]]*+*=//p" | tr ' \t' '\n\n' | grep '\.c$' | tr '\n' ' '
}
doc_sources=$(mk_sources store_doc_sources store/doc.mk)
db_sources="store/log.c $(mk_sources store_db_sources store/db.mk) \
$(mk_sources store_snapshot_sources store/snapshot.mk) \
$(mk_sources store_sync_sources store/sync.mk)"
# The admin pieces besides the importer itself (export, log view, ...).
admin_sources=$(mk_sources store_admin_lib_sources store/admin/local.mk |
	tr ' ' '\n' | grep -v -e podman.c -e import.c | tr '\n' ' ')

# compile OUTDIR FLAGS SOURCES...: one object per source, named after it.
compile() {
	out=$1
	flags=$2
	shift 2
	mkdir -p "$out" || return 1
	for src in "$@"; do
		obj=$out/$(echo "$src" | tr '/' '_').o
		# shellcheck disable=SC2086
		"$cc" $base_flags $flags -c -o "$obj" "$top_srcdir/$src" || return 1
		echo "$obj"
	done
}

# build NAME: the harness binary in $work/bin/NAME.
build() {
	name=$1
	objdir=$work/obj/$name
	rm -rf "$objdir"
	case $name in
	fuzz-document)
		fuzz_src="tests/fuzz/fuzz-document.c $doc_sources"
		plain_src=""
		libs=$cjson_libs ;;
	fuzz-wire)
		fuzz_src="tests/fuzz/fuzz-wire.c sync/wire.c store/jsonscan.c store/kinds.c"
		plain_src=""
		libs="" ;;
	fuzz-podman)
		fuzz_src="tests/fuzz/fuzz-podman.c store/admin/podman.c store/admin/import.c $doc_sources"
		plain_src="$admin_sources $db_sources"
		libs="$sqlite_libs $cjson_libs -lpthread" ;;
	*)
		echo "unknown harness $name" >&2
		return 1 ;;
	esac
	# shellcheck disable=SC2086
	objs=$(compile "$objdir/cov" "$fuzz_flags" $fuzz_src) || return 1
	# shellcheck disable=SC2086
	pobjs=$(compile "$objdir/plain" "$plain_flags" $plain_src) || return 1
	mkdir -p "$work/bin"
	# shellcheck disable=SC2086
	"$cc" -fsanitize=fuzzer,address,undefined -o "$work/bin/$name" $objs $pobjs $libs
}

# What libFuzzer prints last: "#N DONE cov: C ft: F corp: ..." and stats.
stat_of() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

diag_file() {
	sed 's/^/# /' "$1"
}

echo "1..$count"
n=0
failed=0
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
for h in $harnesses; do
	n=$((n + 1))
	log=$work/$h.log
	if ! build "$h" >"$work/$h.build.log" 2>&1; then
		echo "not ok $n - $h: build failed"
		diag_file "$work/$h.build.log"
		failed=1
		continue
	fi
	if [ "$seconds" = 0 ] && [ -z "$runs" ]; then
		echo "ok $n - $h: built # SKIP FUZZ_SECONDS=0"
		continue
	fi
	corpus=$work/corpus/$h
	mkdir -p "$corpus"
	rm -f "$work/$h"-crash-* "$work/$h"-leak-* "$work/$h"-timeout-* "$work/$h"-oom-*
	set -- -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/$h-"
	[ "$seconds" != 0 ] && set -- "$@" -max_total_time="$seconds"
	[ -n "$runs" ] && set -- "$@" -runs="$runs"
	[ -f "$fuzzdir/$h.dict" ] && set -- "$@" -dict="$fuzzdir/$h.dict"
	case $h in
	fuzz-document) set -- "$@" -max_len=8192 ;;
	fuzz-wire) set -- "$@" -max_len=4096 ;;
	fuzz-podman) set -- "$@" -max_len=16384 ;;
	esac
	# shellcheck disable=SC2086
	set -- "$@" ${FUZZ_ARGS:-} "$corpus" "$fuzzdir/corpus/$h"
	if [ -n "${FUZZ_NICE:-}" ]; then
		nice -n "$FUZZ_NICE" "$work/bin/$h" "$@" >"$log" 2>&1
	else
		"$work/bin/$h" "$@" >"$log" 2>&1
	fi
	rc=$?
	execs=$(stat_of number_of_executed_units "$log")
	speed=$(stat_of average_exec_per_sec "$log")
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 |
		sed 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*//')
	artifacts=$(ls "$work/$h"-crash-* "$work/$h"-leak-* "$work/$h"-timeout-* \
		"$work/$h"-oom-* 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ -z "$artifacts" ] && [ -n "$execs" ]; then
		echo "ok $n - $h: ${execs} executions, 0 crashes"
		echo "# $h: executions $execs exec/s ${speed:-?} $done_line"
	else
		echo "not ok $n - $h: libFuzzer exit $rc after ${execs:-?} executions"
		grep -E 'ERROR|SUMMARY|property failed|runtime error|Test unit written' "$log" |
			sed 's/^/# /' | head -n 40
		echo "# ---- last 60 lines of the libFuzzer log"
		tail -n 60 "$log" | sed 's/^/# /'
		for a in $artifacts; do
			echo "# ---- artifact $(basename "$a") ($(wc -c <"$a") bytes; replay: $h $(basename "$a"))"
			od -A d -t x1z -v "$a" | head -n 256 | sed 's/^/# /'
		done
		failed=1
	fi
done
exit $failed
