#!/bin/sh
# check-long.sh - the long reliability runs, behind `make check-long`: the
# crash loop with REL_CYCLES (default 500) kill -9 cycles, the soak for
# REL_SOAK_SECONDS (default 600) on one node and on three, unthrottled
# unless REL_SOAK_RATE is set, and the fuzzers for FUZZ_SECONDS each when
# tests/fuzz/run.sh exists.  Run from a build dir (top_builddir and
# top_srcdir are set by make); each run's TAP goes to
# tests/reliability/long-NAME.log and its figures (the diag lines) to
# stdout.  Exits non-zero if any run failed.
set -u
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_builddir top_srcdir
out=$top_builddir/tests/reliability
mkdir -p "$out"
status=0

# run NAME CMD...: CMD's output to long-NAME.log, diag lines and the verdict to stdout.
run() {
	local name=$1 rc
	shift
	echo "== $name: $* ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
	"$@" >"$out/long-$name.log" 2>&1
	rc=$?
	# The fuzzers give their executions and coverage on their "ok" lines.
	if [ "$name" = fuzz ]; then
		grep -E '^(#|ok|not ok)' "$out/long-$name.log"
	else
		grep -E '^(#|not ok)' "$out/long-$name.log" | grep -v '^# kept'
	fi
	grep -c '^not ok' "$out/long-$name.log" | sed "s/^/== $name: failed test points: /"
	echo "== $name: exit $rc, log $out/long-$name.log"
	[ "$rc" = 0 ] || status=1
}

REL_CYCLES=${REL_CYCLES:-500}
REL_SOAK_SECONDS=${REL_SOAK_SECONDS:-600}
export REL_CYCLES REL_SOAK_SECONDS
if [ "$REL_CYCLES" -lt 500 ]; then
	echo "check-long: REL_CYCLES=$REL_CYCLES is below the 500 cycles of the long run" >&2
fi
run crash-loop bash "$top_srcdir/tests/reliability/t0500-crash-loop.sh"
run soak env REL_SOAK_RATE="${REL_SOAK_RATE:-0}" bash "$top_srcdir/tests/reliability/t0510-soak.sh"
run clock-skew bash "$top_srcdir/tests/reliability/t0520-clock-skew.sh"
if [ -x "$top_srcdir/tests/fuzz/run.sh" ] || [ -f "$top_srcdir/tests/fuzz/run.sh" ]; then
	run fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-600}" sh "$top_srcdir/tests/fuzz/run.sh"
else
	echo "== fuzz: tests/fuzz/run.sh does not exist; skipped"
fi
exit $status
