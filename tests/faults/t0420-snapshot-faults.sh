#!/bin/sh
# t0420-snapshot-faults.sh - snapshots on a full or failing disk:
# `swarmfs-admin snapshot` (the shipped binary, under libfiu's POSIX
# preload) and `mkdir MOUNT/snapshots/NAME` fail with a clear message or
# errno and leave no file, partial or whole; those that succeed pass
# integrity_check; the store itself is untouched.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/faults/fault-lib.sh"

require_fiu
[ -x "$SWARMFS_ADMIN" ] || skip_all "'$SWARMFS_ADMIN' not built"

data=$TMP/data
mnt=$TMP/mnt
db=$data/store.db
snaps=$data/snapshots

mount_swarmfs "$data" "$mnt" --node node-1 || bail_out "cannot mount"
pid=$SWARMFS_PID
for i in $(seq 1 30); do
	deployment "img-$i" | write_errno "$mnt/deployments/default/d$i.json" >/dev/null
done
is "$(ls "$mnt/deployments/default" | wc -l)" 30 "30 documents written"

# The mount: every store write fails with ENOSPC during a mkdir.
fiu_ctl "$pid" "enable name=posix/io/rw/pwrite,failinfo=28" || bail_out "fiu-ctrl failed"
python3 -c '
import errno, os, sys
try:
    os.mkdir(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
' "$mnt/snapshots/full" >"$TMP/mkdir.out"
fiu_ctl "$pid" "disable name=posix/io/rw/pwrite"
is "$(cat "$TMP/mkdir.out")" ENOSPC "mkdir snapshots/full on a full disk fails with ENOSPC"
is "$(find "$snaps" -name '*full*' | wc -l)" 0 "no snapshot file is left behind"
ok "the daemon logged it" grep -q "snapshots/full" "$SWARMFS_LOG"
ok "mkdir snapshots/full works once there is space" mkdir "$mnt/snapshots/full"
is "$(integrity "$snaps/full.db")" ok "and the snapshot passes integrity_check"
umount_swarmfs "$mnt"
is "$?" 0 "swarmfs exits 0 at unmount"

rev0=$(sqlite3 "$db" "SELECT seq FROM sqlite_sequence WHERE name = 'changes'")

# admin NAME FIU-COMMAND...: swarmfs-admin snapshot NAME under the POSIX
# preload with the given points on; stderr in $TMP/admin.err.
admin_snapshot() {
	local name=$1 args=() c
	shift
	for c in "$@"; do
		args+=(-c "$c")
	done
	fiu-run -x -l "$FIU_LIBDIR" -f "" "${args[@]}" \
		"$SWARMFS_ADMIN" --data-dir "$data" snapshot "$name" >/dev/null 2>"$TMP/admin.err"
}

for c in "pwrite:28:posix/io/rw/pwrite" "fdatasync:28:posix/io/sync/fdatasync" \
	"fsync:28:posix/io/sync/fsync" "fsync-eio:5:posix/io/sync/fsync"; do
	name=${c%%:*}
	rest=${c#*:}
	e=${rest%%:*}
	point=${rest#*:}
	admin_snapshot "$name" "enable name=$point,failinfo=$e"
	rc=$?
	ok "swarmfs-admin snapshot with $point failing ($e): non-zero exit" exited_with_error "$rc"
	diag "$(tail -1 "$TMP/admin.err")"
	if [ "$e" = 28 ]; then
		ok "$name: the message says the disk is full" grep -Eqi 'space|disk full' "$TMP/admin.err"
	else
		ok "$name: the message names the I/O error" grep -Eqi 'input/output|I/O' "$TMP/admin.err"
	fi
	is "$(find "$snaps" -name "*$name*" | wc -l)" 0 "$name: no partial snapshot file is left"
done

# At random: each attempt either makes a whole snapshot or leaves nothing.
made=0 failed=0 partial=0
for i in $(seq 1 12); do
	admin_snapshot "r$i" "enable_random name=posix/io/rw/pwrite,probability=0.03,failinfo=28" \
		"enable_random name=posix/io/sync/fdatasync,probability=0.05,failinfo=28" \
		"enable_random name=posix/io/sync/fsync,probability=0.05,failinfo=5"
	if [ $? -eq 0 ]; then
		if [ "$(integrity "$snaps/r$i.db")" = ok ]; then
			made=$((made + 1))
		else
			partial=$((partial + 1))
		fi
	else
		failed=$((failed + 1))
		[ "$(find "$snaps" -name "*r$i.*" | wc -l)" -eq 0 ] || partial=$((partial + 1))
	fi
done
diag "random faults: $made snapshots taken, $failed failed cleanly, $partial partial"
is "$partial" 0 "12 snapshots under random faults: each whole or absent"

is "$(integrity "$db")" ok "the store passes integrity_check"
is "$(sqlite3 "$db" "SELECT seq FROM sqlite_sequence WHERE name = 'changes'")" "$rev0" \
	"the store's revision is unchanged"
ok "swarmfs-admin snapshot works once the faults are gone" \
	"$SWARMFS_ADMIN" --data-dir "$data" snapshot after
is "$("$SWARMFS_ADMIN" --data-dir "$data" check 2>&1)" ok "swarmfs-admin check"

done_testing
