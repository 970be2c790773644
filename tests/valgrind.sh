#!/bin/sh
# tests/valgrind.sh - runs the integration suite with the daemons (swarmfs and
# swarmfs-sync) under valgrind's memcheck and reports the errors it found:
# invalid reads and writes, uses of uninitialised values, bad frees, and
# definite or indirect leaks at exit.  0 errors is the goal; it exits 1
# otherwise, or when a test failed.
#
#   tests/valgrind.sh [BUILD_DIR]
#
# BUILD_DIR: a build without --enable-sanitizers (valgrind and ASan do not
# mix).  By default the in-tree build when the source tree is configured,
# else ./build-valgrind, configured and built here.  Environment:
#   TESTS="tests/integration/t0001-mount.sh ..."  the tests (default: all
#       tests/integration/t*.sh)
#   SWARMFS_TIMEOUT_FACTOR  multiplies the tests' waits (default 20)
#   VALGRIND_FLAGS          more valgrind options (e.g. --track-origins=yes)
#
# How: lib.sh runs each daemon through $SWARMFS_WRAPPER and keeps every
# report in $SWARMFS_REPORT_ROOT/<test>/ (here BUILD_DIR/valgrind-reports),
# and a test whose processes logged an error fails.  It takes about 10 to
# 20 minutes on 2 cores.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null 2>&1 || { echo "valgrind is not installed"; exit 2; }

if [ $# -ge 1 ]; then
	build=$(cd "$1" && pwd) || exit 2
elif [ -f "$here/config.status" ]; then
	build=$here
else
	build=$here/build-valgrind
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		[ -x "$here/configure" ] || (cd "$here" && autoreconf -fi) || exit 2
		(cd "$build" && "$here/configure" -q) || exit 2
	fi
fi
cd "$build" || exit 2
if [ -n "$(sed -n 's/^SANITIZER_CFLAGS = //p' Makefile 2>/dev/null)" ]; then
	echo "'$build' is a sanitizer build: valgrind needs a plain one"
	exit 2
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" >/dev/null || { echo "build failed"; exit 2; }

if [ -z "${TESTS:-}" ]; then
	TESTS=$(cd "$here" && ls tests/integration/t*.sh | tr '\n' ' ')
fi
reports=$build/valgrind-reports
rm -rf "$reports"
mkdir -p "$reports"

SWARMFS_WRAPPER="valgrind --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
--num-callers=30 ${VALGRIND_FLAGS:-} --log-file=%q{SWARMFS_REPORT_DIR}/valgrind.%p.log"
SWARMFS_REPORT_ROOT=$reports
SWARMFS_TIMEOUT_FACTOR=${SWARMFS_TIMEOUT_FACTOR:-20}
export SWARMFS_WRAPPER SWARMFS_REPORT_ROOT SWARMFS_TIMEOUT_FACTOR
# One test at a time: valgrind runs each daemon's threads one by one.
make check -j1 TESTS="$TESTS"
rc=$?

# Each log ends with valgrind's ERROR SUMMARY (leaks included, as
# --errors-for-leak-kinds asks).
errors=0
processes=0
for dir in "$reports"/*/; do
	[ -d "$dir" ] || continue
	n=0
	p=0
	for log in "$dir"valgrind.*.log; do
		[ -f "$log" ] || continue
		p=$((p + 1))
		e=$(sed -n 's/.*ERROR SUMMARY: \([0-9][0-9]*\) errors.*/\1/p' "$log" | tail -1)
		n=$((n + ${e:-0}))
		if [ "${e:-0}" -gt 0 ]; then
			echo "==== $log"
			cat "$log"
		fi
	done
	echo "$(basename "$dir"): $p daemon processes, $n errors"
	errors=$((errors + n))
	processes=$((processes + p))
done
echo "valgrind: $processes daemon processes, $errors errors (reports in $reports)"
[ "$rc" -eq 0 ] && [ "$errors" -eq 0 ]
