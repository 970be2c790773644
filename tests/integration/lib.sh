# lib.sh - shared helpers for the integration tests: binaries, temp dirs,
# mounting and always unmounting swarmfs, and TAP output for automake's
# tap-driver.  Sourced by every tNNNN-*.sh; never run on its own.

# The tests use bash (arrays, $RANDOM, process substitution); make check
# runs them with $(SHELL), which may be dash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u

# TAP goes to fd 3, a copy of the original stdout, so that
# `ok DESC cmd >/dev/null` silences cmd and not the test line.  Programs
# that may outlive the script (swarmfs, tmux) get 3>&- so that the TAP
# driver, which reads until EOF, is not kept waiting.
exec 3>&1

# The build tree: set by AM_TESTS_ENVIRONMENT under `make check`; when a test
# is run by hand from a build dir, that dir is the build tree.
top_builddir=${top_builddir:-$(pwd)}
SWARMFS=${SWARMFS:-$top_builddir/fs/swarmfs}
SWARMFS_SYNC=${SWARMFS_SYNC:-$top_builddir/sync/swarmfs-sync}
SWARMFS_ADMIN=${SWARMFS_ADMIN:-$top_builddir/store/swarmfs-admin}
export LC_ALL=C

# SWARMFS_TIMEOUT_FACTOR (a whole number, default 1) multiplies the waits
# for a mount, an exit or a condition: valgrind runs the daemons 20 to 50
# times slower.
SWARMFS_TIMEOUT_FACTOR=${SWARMFS_TIMEOUT_FACTOR:-1}
case $SWARMFS_TIMEOUT_FACTOR in
'' | *[!0-9]* | 0) SWARMFS_TIMEOUT_FACTOR=1 ;;
esac
export SWARMFS_TIMEOUT_FACTOR

# ---- TAP ---------------------------------------------------------------------

tap_n=0
tap_failed=0

# ok DESC CMD [ARGS...]: runs CMD, passes when it exits 0.
ok() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
	fi
}

# not CMD [ARGS...]: inverts CMD's status, for `ok DESC not CMD`.
not() {
	! "$@"
}

# exited_with_error RC: RC is a failure exit status and not timeout(1)'s 124.
exited_with_error() {
	[ "$1" -ne 0 ] && [ "$1" -ne 124 ] && [ "$1" -lt 128 ]
}

pass() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1" >&3
	return 0
}

fail() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1" >&3
	shift
	local line
	for line in "$@"; do
		diag "$line"
	done
	return 1
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "got:      '$1'" "expected: '$2'"
	fi
}

# skip DESC REASON: one skipped test point.
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2" >&3
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /' >&3
}

# skip_all REASON: the whole file is skipped (counted as SKIP by the driver).
skip_all() {
	echo "1..0 # SKIP $1" >&3
	exit 0
}

bail_out() {
	echo "Bail out! $1" >&3
	exit 1
}

# done_testing: stops the daemons still running (cleanly, so that leak checks
# run), checks the sanitizer and valgrind reports, then prints the plan: it
# goes last, so scripts need not count their tests.
done_testing() {
	lib_stop_all
	if [ -n "$lib_checked" ]; then
		if lib_check_reports; then
			pass "no sanitizer or valgrind report from any process"
		else
			fail "no sanitizer or valgrind report from any process"
		fi
	fi
	echo "1..$tap_n" >&3
	if [ "$tap_failed" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

# ---- requirements ------------------------------------------------------------

require_fuse() {
	[ -c /dev/fuse ] || skip_all "no /dev/fuse"
	command -v fusermount3 >/dev/null 2>&1 || skip_all "fusermount3 not installed"
	[ -x "$SWARMFS" ] || skip_all "'$SWARMFS' not built"
	[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip_all "/dev/fuse not accessible"
}

# require_no_asan WHAT: skips the test when the daemons are ASan builds.
# Tools that work by LD_PRELOAD (libfiu, libfaketime) and ASan both insist
# on coming first among the loaded libraries; those tests run in the plain
# build only.
require_no_asan() {
	if [ -f "$SWARMFS" ] && grep -q __asan_init "$SWARMFS" 2>/dev/null; then
		skip_all "$1 works by LD_PRELOAD, which ASan builds refuse"
	fi
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "'$c' not installed"
	done
}

# ---- temp dir and cleanup ----------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/swarmfs-test.XXXXXX") || bail_out "unable to create a temp dir"
TMP=$(realpath "$TMP")

# ---- sanitizers and valgrind -------------------------------------------------

# Every report of AddressSanitizer, LeakSanitizer, UBSan or valgrind from
# any process of this test goes to one dir, and done_testing fails the test
# when one names an error: a daemon's leak, reported as it exits after the
# unmount, would otherwise end up only in a log nobody reads.  The dir is
# $TMP/reports, or SWARMFS_REPORT_ROOT/<test> (kept) when that is set.
lib_test_name=$(basename "$0" .sh)
if [ -n "${SWARMFS_REPORT_ROOT:-}" ]; then
	SWARMFS_REPORT_DIR=$SWARMFS_REPORT_ROOT/$lib_test_name
	rm -rf "$SWARMFS_REPORT_DIR"
else
	SWARMFS_REPORT_DIR=$TMP/reports
fi
mkdir -p "$SWARMFS_REPORT_DIR" || bail_out "unable to create '$SWARMFS_REPORT_DIR'"
export SWARMFS_REPORT_DIR
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$SWARMFS_REPORT_DIR/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SWARMFS_REPORT_DIR/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Whether this run can produce reports: a sanitizer build, or daemons run
# under SWARMFS_WRAPPER.  Only then does done_testing add its test point.
lib_checked=""
if [ -n "${SWARMFS_WRAPPER:-}" ] ||
	{ [ -f "$SWARMFS" ] && grep -q __asan_init "$SWARMFS" 2>/dev/null; }; then
	lib_checked=1
fi

# SWARMFS_WRAPPER (e.g. "valgrind --leak-check=full --log-file=%q{SWARMFS_REPORT_DIR}/valgrind.%p.log",
# see tests/valgrind.sh) runs swarmfs and swarmfs-sync under a command:
# SWARMFS and SWARMFS_SYNC become scripts that exec it, so that a pid the
# tests signal or wait for is the daemon's own.
if [ -n "${SWARMFS_WRAPPER:-}" ]; then
	mkdir -p "$TMP/wrap"
	lib_wrap() {
		printf '#!/bin/sh\nexec %s %q "$@"\n' "$SWARMFS_WRAPPER" "$2" >"$TMP/wrap/$1"
		chmod +x "$TMP/wrap/$1"
	}
	[ -x "$SWARMFS" ] && lib_wrap swarmfs "$SWARMFS" && SWARMFS=$TMP/wrap/swarmfs
	[ -x "$SWARMFS_SYNC" ] && lib_wrap swarmfs-sync "$SWARMFS_SYNC" &&
		SWARMFS_SYNC=$TMP/wrap/swarmfs-sync
fi
export SWARMFS SWARMFS_SYNC

# lib_reports: prints the name of each report that names an error (a
# sanitizer's log_path file is written only on an error; a valgrind log
# always, with its error count) and returns 1 when there is one.
lib_reported=""
lib_reports() {
	local f found=0
	# A sanitizer may also write to stderr (UBSan in a combined build
	# ignores log_path): the daemons' logs in $TMP count too.
	for f in "$SWARMFS_REPORT_DIR"/* $(find "$TMP" -xdev -maxdepth 2 -type f -name '*.log' 2>/dev/null); do
		[ -f "$f" ] || continue
		case " $lib_reported " in *" $f "*) continue ;; esac
		if grep -Eq 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR SUMMARY: [1-9]' "$f"; then
			echo "$f"
			found=1
		fi
	done
	return $found
}

# nng_internal_leak REPORT: REPORT is a LeakSanitizer report and nothing
# else, and every leaked block was allocated on one of libnng's own threads
# (each frame below the allocator is in libnng or the thread start).
#
# Debian 12 ships nng 1.5.2, whose transports leak a message when a pipe
# send is cancelled as the pipe closes (nanomsg/nng#1713, fixed in 1.7.0).
# A sidecar that stops while a peer's pipe closes can hit it; nothing of
# ours is on the stack, and nothing we do can free it.  Any frame of our
# own code, even one calling into nng, makes the report count.
nng_internal_leak() {
	grep -q 'ERROR: LeakSanitizer' "$1" &&
		! grep -Eq 'ERROR: AddressSanitizer|runtime error:' "$1" &&
		awk '
			/^(Direct|Indirect) leak of/ { blocks++; frame = 1; next }
			/^ *#[0-9]+ / && frame {
				if ($1 == "#0") next
				if ($0 ~ /libnng\.so|in start_thread |in (__)?clone3? /) next
				foreign = 1
				next
			}
			/^ *$/ { frame = 0 }
			END { exit !(blocks > 0 && !foreign) }
		' "$1"
}

# sidecar_exited_ok PID RC: RC, the exit status of the daemon PID, is 0, or
# is ASan's 1 for a report nng_internal_leak excuses (said in a diag).
sidecar_exited_ok() {
	[ "$2" -eq 0 ] && return 0
	if [ "$2" -eq 1 ] && [ -f "$SWARMFS_REPORT_DIR/asan.$1" ] &&
		nng_internal_leak "$SWARMFS_REPORT_DIR/asan.$1"; then
		diag "pid $1 exited 1 for a leak inside libnng 1.5.2 (nanomsg/nng#1713), not ours"
		return 0
	fi
	diag "pid $1 exited $2"
	return 1
}

# lib_check_reports: diagnostics for each new report; 1 when there was one.
lib_check_reports() {
	local f bad=0
	for f in $(lib_reports); do
		lib_reported="$lib_reported $f"
		if nng_internal_leak "$f"; then
			diag "report ${f##*/}: a leak inside libnng 1.5.2 (nanomsg/nng#1713), not ours"
			continue
		fi
		bad=1
		diag "report ${f##*/}:"
		diag "$(grep -E -A14 'ERROR: |runtime error:|definitely lost|ERROR SUMMARY|Invalid|uninitialised' "$f" | head -60)"
	done
	return $bad
}

# "PID MOUNTPOINT" per mount started by mount_swarmfs and not yet unmounted.
lib_mounts=""
# Extra pids (background readers, writers) to kill at exit.
lib_pids=""

# Commands run first at exit (e.g. stopping a private tmux server).
lib_cleanup_cmds=""

# lib_stop_all: the cleanup's commands, then unmounts each mount and sends
# SIGTERM, and waits for the daemons to exit on their own (a daemon that
# must be killed never runs its leak check: that is reported).  Returns 1
# when one had to be killed.
lib_stop_all() {
	local entry pid mnt rc=0 cmds=$lib_cleanup_cmds
	lib_cleanup_cmds=""
	if [ -n "$cmds" ]; then
		eval "$cmds"
	fi
	for pid in $lib_pids; do
		kill "$pid" 2>/dev/null
	done
	lib_pids=""
	for entry in $lib_mounts; do
		pid=${entry%%:*}
		mnt=${entry#*:}
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
		kill "$pid" 2>/dev/null
	done
	for entry in $lib_mounts; do
		pid=${entry%%:*}
		if ! wait_pid_gone "$pid" $((10 * SWARMFS_TIMEOUT_FACTOR)); then
			diag "swarmfs (pid $pid) did not exit after an unmount and SIGTERM: killed"
			kill -9 "$pid" 2>/dev/null
			rc=1
		fi
		wait "$pid" 2>/dev/null
	done
	lib_mounts=""
	return $rc
}

lib_cleanup() {
	local status=$?
	lib_stop_all || status=1
	# Reports that done_testing did not see (the script stopped early, or
	# a daemon stopped by the commands above).
	if [ -n "$lib_checked" ] && ! lib_check_reports; then
		echo "# a sanitizer or valgrind report came after the last test" >&3
		[ "$status" -ne 0 ] || status=1
	fi
	# Never follow into a mount that survived: --one-file-system.
	# SWARMFS_TEST_KEEP=1 keeps the temp dir (and swarmfs logs) for a look.
	if [ -n "${SWARMFS_TEST_KEEP:-}" ]; then
		echo "# kept $TMP" >&3
	else
		rm -rf --one-file-system "$TMP" 2>/dev/null
	fi
	exit "$status"
}
trap lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# at_exit CMD: runs CMD (a shell string) at exit, before unmounting.
at_exit() {
	lib_cleanup_cmds="$lib_cleanup_cmds
$1"
}

# track_pid PID: kill PID at exit if it still runs.
track_pid() {
	lib_pids="$lib_pids $1"
}

# ---- mounting ----------------------------------------------------------------

# is_mounted MNT: MNT is a mount point right now.
is_mounted() {
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# wait_pid_gone PID SECONDS
wait_pid_gone() {
	local pid=$1 deadline=$(($(date +%s) + $2))
	while kill -0 "$pid" 2>/dev/null; do
		# A zombie child of this shell counts as gone only after wait.
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
			return 0
		fi
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	return 0
}

# mount_swarmfs DATA MNT [OPTS...]: starts swarmfs in the foreground (in the
# background of this shell) and waits until the mount is listed.  Sets
# SWARMFS_PID; stderr goes to $TMP/swarmfs.<n>.log (SWARMFS_LOG).
lib_mount_n=0
declare -A lib_logs
mount_swarmfs() {
	local data=$1 mnt=$2 deadline
	shift 2
	mkdir -p "$mnt"
	mnt=$(realpath "$mnt")
	lib_mount_n=$((lib_mount_n + 1))
	SWARMFS_LOG=$TMP/swarmfs.$lib_mount_n.log
	# A background job of a non-interactive shell starts with SIGINT
	# ignored, and libfuse then keeps it ignored: restore the default so
	# that SIGINT behaves as it does for a user at a terminal.
	env --default-signal=INT,QUIT "$SWARMFS" -f --data-dir "$data" "$@" "$mnt" \
		>"$SWARMFS_LOG" 2>&1 3>&- &
	SWARMFS_PID=$!
	lib_mounts="$lib_mounts $SWARMFS_PID:$mnt"
	lib_logs[$SWARMFS_PID]=$SWARMFS_LOG
	deadline=$(($(date +%s) + 15 * SWARMFS_TIMEOUT_FACTOR))
	while ! is_mounted "$mnt"; do
		if ! kill -0 "$SWARMFS_PID" 2>/dev/null; then
			diag "swarmfs exited before mounting '$mnt':"
			diag "$(cat "$SWARMFS_LOG")"
			lib_forget_mount "$SWARMFS_PID"
			return 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			diag "swarmfs did not mount '$mnt' within $((15 * SWARMFS_TIMEOUT_FACTOR)) s"
			return 1
		fi
		sleep 0.02
	done
	# The mount answers once the root can be listed.
	ls "$mnt" >/dev/null 2>&1
	return 0
}

lib_forget_mount() {
	local entry rest=""
	for entry in $lib_mounts; do
		[ "${entry%%:*}" = "$1" ] || rest="$rest $entry"
	done
	lib_mounts=$rest
}

lib_pid_of() {
	local entry
	for entry in $lib_mounts; do
		if [ "${entry#*:}" = "$1" ]; then
			echo "${entry%%:*}"
			return 0
		fi
	done
	return 1
}

# umount_swarmfs MNT: fusermount3 -u (lazy as a fallback), then waits for
# the swarmfs process; returns its exit status (124 if it did not exit).
umount_swarmfs() {
	local mnt pid rc
	mnt=$(realpath "$1")
	pid=$(lib_pid_of "$mnt") || { diag "no swarmfs on '$mnt'"; return 1; }
	if ! fusermount3 -u "$mnt" 2>"$TMP/umount.err"; then
		diag "fusermount3 -u failed: $(cat "$TMP/umount.err"); using -uz"
		fusermount3 -uz "$mnt" 2>/dev/null
	fi
	wait_swarmfs "$pid"
	rc=$?
	return $rc
}

# wait_swarmfs PID: waits (10 s at most, times SWARMFS_TIMEOUT_FACTOR) for
# swarmfs PID to exit and returns its exit status, or 124 after killing it.
wait_swarmfs() {
	local pid=$1 rc
	if ! wait_pid_gone "$pid" $((10 * SWARMFS_TIMEOUT_FACTOR)); then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		lib_forget_mount "$pid"
		return 124
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	lib_forget_mount "$pid"
	if [ "$rc" -ne 0 ] && [ -n "${lib_logs[$pid]:-}" ]; then
		diag "swarmfs (pid $pid) exited with status $rc; the end of its log:"
		diag "$(tail -15 "${lib_logs[$pid]}")"
	fi
	return $rc
}

# abort_fuse_connection MAJOR:MINOR: writes 1 to the connection's abort file
# in the fusectl filesystem (mounted here if it is not yet).
abort_fuse_connection() {
	local minor=${1#*:}
	[ -n "$minor" ] || return 0
	[ -d /sys/fs/fuse/connections ] || return 0
	if [ ! -e "/sys/fs/fuse/connections/$minor" ]; then
		mountpoint -q /sys/fs/fuse/connections ||
			mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
	fi
	[ -w "/sys/fs/fuse/connections/$minor/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/$minor/abort" 2>/dev/null
	return 0
}

# crash_swarmfs MNT: kill -9 and lazily detach, as after a crash.
crash_swarmfs() {
	local mnt pid dev
	mnt=$(realpath "$1")
	pid=$(lib_pid_of "$mnt") || return 1
	dev=$(mountpoint -d "$mnt" 2>/dev/null)
	kill -9 "$pid" 2>/dev/null
	# A killed daemon's invalidation thread can be stuck in the kernel
	# waiting for a directory lock that a client holds while it waits
	# for a reply no thread will send, and then the daemon never exits
	# and the client hangs.  Aborting the connection, as an operator does
	# for a hung FUSE mount, fails that request and frees both.
	abort_fuse_connection "$dev"
	wait "$pid" 2>/dev/null
	fusermount3 -uz "$mnt" 2>/dev/null
	lib_forget_mount "$pid"
	return 0
}

# ---- documents ---------------------------------------------------------------

# deployment IMAGE [REPLICAS]: a minimal valid Deployment body.
deployment() {
	printf '{"spec":{"image":"%s","replicas":%s}}\n' "$1" "${2:-1}"
}

# version_of FILE: metadata.version of a document on the mount.
version_of() {
	jq -r '.metadata.version' "$1" 2>/dev/null
}

# write_errno FILE [MODE]: writes stdin to FILE with Python (open, write,
# close, each checked) and prints "OK" or the errno name (EINVAL, ESTALE...)
# of the first call that failed, prefixed by that call ("close:EINVAL").
write_errno() {
	python3 -c '
import errno, os, sys
data = sys.stdin.buffer.read()
mode = sys.argv[2] if len(sys.argv) > 2 else "w"
flags = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
         "a": os.O_WRONLY | os.O_APPEND}[mode]
step = "open"
try:
    fd = os.open(sys.argv[1], flags, 0o644)
    step = "write"
    off = 0
    while off < len(data):
        off += os.write(fd, data[off:off + 65536])
    step = "close"
    os.close(fd)
except OSError as e:
    print("%s:%s" % (step, errno.errorcode.get(e.errno, str(e.errno))))
    sys.exit(0)
print("OK")
' "$@"
}

# plus_one N: N + 1, or "?" when N is not a number (a failed read), so that
# a broken document fails a test instead of aborting the script.
plus_one() {
	case $1 in
	'' | *[!0-9]*) echo "?" ;;
	*) echo $(($1 + 1)) ;;
	esac
}
