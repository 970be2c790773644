# fault-lib.sh - shared helpers for the fault-injection tests: the swarmfs
# built with the store's libfiu points, run under fiu-run so that fiu-ctrl
# can turn points on and off in the running daemon.  Sourced after nothing:
# it sources tests/integration/lib.sh itself.

top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# The daemon under test carries the fault points; lib.sh's SWARMFS is it.
SWARMFS_PLAIN=${SWARMFS:-$top_builddir/fs/swarmfs}
SWARMFS=${SWARMFS_FIU:-$top_builddir/tests/faults/swarmfs-fiu}
. "$top_srcdir/tests/integration/lib.sh"

FIU_LIBDIR=${FIU_LIBDIR:-/usr/lib/fiu}

# require_fiu: skips the whole test without fiu-run/fiu-ctrl, the POSIX
# preload library or the fault-injecting swarmfs (built only with libfiu).
require_fiu() {
	SWARMFS=$SWARMFS_FIU_BIN require_no_asan libfiu
	local why="libfiu not available: install fiu-utils and libfiu-dev and re-run configure"
	command -v fiu-run >/dev/null 2>&1 || skip_all "$why (no fiu-run)"
	command -v fiu-ctrl >/dev/null 2>&1 || skip_all "$why (no fiu-ctrl)"
	[ -r "$FIU_LIBDIR/fiu_posix_preload.so" ] || skip_all "$why (no $FIU_LIBDIR/fiu_posix_preload.so)"
	[ -x "$SWARMFS_FIU_BIN" ] || skip_all "$why ('$SWARMFS_FIU_BIN' not built)"
	require_fuse
	require_cmd python3 jq sqlite3
}

# SWARMFS becomes a script that execs the daemon under fiu-run (the pid
# stays the daemon's): the POSIX preload library is in, every point is
# off, and remote control listens on $FIU_FIFO-PID.  ASan insists on
# coming first among the preloaded libraries; here it cannot.
FIU_FIFO=$TMP/fiu
mkdir -p "$TMP/fiu-wrap"
printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"\nexport ASAN_OPTIONS\nexec fiu-run -x -l %q -f %q %q "$@"\n' \
	"$FIU_LIBDIR" "$FIU_FIFO" "$SWARMFS" >"$TMP/fiu-wrap/swarmfs"
SWARMFS_FIU_BIN=$SWARMFS
chmod +x "$TMP/fiu-wrap/swarmfs"
SWARMFS=$TMP/fiu-wrap/swarmfs

# fiu_ctl PID COMMAND...: runs libfiu remote control commands ("enable
# name=store/txn/commit,failinfo=28") in the daemon PID.
fiu_ctl() {
	local pid=$1 args=() c
	shift
	for c in "$@"; do
		args+=(-c "$c")
	done
	timeout $((10 * SWARMFS_TIMEOUT_FACTOR)) fiu-ctrl -f "$FIU_FIFO" "${args[@]}" "$pid"
}

# The I/O calls of the store: SQLite writes with pwrite64 and syncs with
# fdatasync, snapshots sync with fsync.  read/write/writev stay alone:
# they carry the daemon's /dev/fuse traffic.
FIU_IO_POINTS="posix/io/rw/pwrite posix/io/sync/fdatasync posix/io/sync/fsync"

# fiu_io_random PID PROBABILITY ERRNO: every store write and sync fails
# with ERRNO (a number) at PROBABILITY (each call, not each commit: a
# commit is about 15 WAL writes and one fdatasync).
fiu_io_random() {
	local pid=$1 p=$2 e=$3 cmds=() pt
	fiu_io_clear "$pid" || return 1
	for pt in $FIU_IO_POINTS; do
		cmds+=("enable_random name=$pt,probability=$p,failinfo=$e")
	done
	fiu_ctl "$pid" "${cmds[@]}" && fiu_io_on=1
}

# fiu_io_clear PID: no more I/O faults.
fiu_io_on=""
fiu_io_clear() {
	local pid=$1 cmds=() pt
	[ -n "$fiu_io_on" ] || return 0
	for pt in $FIU_IO_POINTS; do
		cmds+=("disable name=$pt")
	done
	fiu_ctl "$pid" "${cmds[@]}" && fiu_io_on=""
}

# integrity DB: PRAGMA integrity_check of a store file (on an unmounted
# data dir, or alongside a running daemon: WAL readers see a commit).
integrity() {
	sqlite3 "$1" 'PRAGMA integrity_check' 2>&1
}

# log_consistent DB: every resource row has the change-log entry of its
# version and its version counts its changes, so no write was half applied
# (row without log entry, log entry without row).  Prints the bad rows.
log_consistent() {
	sqlite3 "$1" "
		SELECT 'row without its change: ' || r.namespace || '/' || r.name || ' v' || r.version
		FROM resources r WHERE NOT EXISTS (SELECT 1 FROM changes c
			WHERE c.kind = r.kind AND c.namespace = r.namespace AND c.name = r.name
			AND c.version = r.version);
		SELECT 'version and changes disagree: ' || r.namespace || '/' || r.name || ' v' || r.version
		FROM resources r WHERE r.version <> (SELECT count(*) FROM changes c
			WHERE c.kind = r.kind AND c.namespace = r.namespace AND c.name = r.name);
		SELECT 'change without its row: ' || c.namespace || '/' || c.name || ' v' || c.version
		FROM changes c WHERE c.op = 0 AND NOT EXISTS (SELECT 1 FROM resources r
			WHERE c.kind = r.kind AND c.namespace = r.namespace AND c.name = r.name
			AND r.version >= c.version);
		SELECT 'origin sequence behind the log: ' || o.node
		FROM origins o WHERE o.seq < (SELECT max(origin_seq) FROM changes c WHERE c.origin = o.node);
	" 2>&1
}
