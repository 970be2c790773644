#!/bin/sh
# t0410-commit-phases.sh - one fault at each phase of a commit, through the
# store's compiled-in libfiu points: at BEGIN, after the row is written,
# in the change-log append, at COMMIT, after COMMIT before the writer is
# answered, in the WAL checkpoint, and in a snapshot's copy, sync and
# rename.  Each time the writer gets the injected errno, the store is
# unchanged (or, after COMMIT, whole), the daemon logs it, and the next
# write succeeds on the same daemon.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/faults/fault-lib.sh"

require_fiu

data=$TMP/data
mnt=$TMP/mnt
db=$data/store.db
f=$mnt/deployments/default/web.json
n=0

mount_swarmfs "$data" "$mnt" --node node-1 || bail_out "cannot mount"
pid=$SWARMFS_PID
is "$(deployment img-0 | write_errno "$f")" OK "first write, no fault"

revision() {
	sqlite3 "$db" "SELECT seq FROM sqlite_sequence WHERE name = 'changes'" 2>&1
}

# op_errno OP ARGS...: runs one system call (unlink, rename, mkdir) and
# prints OK or its errno name.
op_errno() {
	python3 -c '
import errno, os, sys
try:
    getattr(os, sys.argv[1])(*sys.argv[2:])
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
' "$@"
}

# arm POINT ERRNO: the point fires once, injecting ERRNO.
arm() {
	fiu_ctl "$pid" "enable name=$1,failinfo=$2,onetime=1" || bail_out "fiu-ctrl failed"
}

disarm() {
	fiu_ctl "$pid" "disable name=$1" >/dev/null 2>&1
}

# phase POINT ERRNO WHAT OUTCOME: writes web.json with POINT armed and
# checks the writer's error, that the store is unchanged (OUTCOME
# "unchanged") or holds the whole new version ("whole"), the log line, and
# that the next write goes through.
phase() {
	local point=$1 e=$2 what=$3 outcome=$4 name v0 r0 img0 res
	name=$(python3 -c 'import errno, sys; print(errno.errorcode[int(sys.argv[1])])' "$e")
	n=$((n + 1))
	v0=$(version_of "$f")
	r0=$(revision)
	img0=$(jq -r .spec.image "$f")
	arm "$point" "$e"
	res=$(deployment "img-$n" 2 | write_errno "$f")
	disarm "$point"
	is "$res" "close:$name" "$point: the writer's close() fails with $name"
	if [ "$outcome" = unchanged ]; then
		is "$(version_of "$f") $(jq -r .spec.image "$f") $(revision)" "$v0 $img0 $r0" \
			"$point: version, content and revision unchanged"
	else
		is "$(version_of "$f") $(jq -r .spec.image "$f") $(revision)" \
			"$(plus_one "$v0") img-$n $(plus_one "$r0")" \
			"$point: committed whole: new version, content and one revision"
	fi
	ok "$point: the daemon logged the injected fault" \
		grep -q "$what: injected fault: $(python3 -c 'import os, sys; print(os.strerror(int(sys.argv[1])))' "$e")" "$SWARMFS_LOG"
	ok "$point: rejection logged for the file" \
		grep -q "rejected write to 'deployments/default/web.json'" "$SWARMFS_LOG"
	n=$((n + 1))
	v0=$(version_of "$f")
	is "$(deployment "img-$n" | write_errno "$f")" OK "$point: the next write succeeds"
	is "$(version_of "$f") $(jq -r .spec.image "$f")" "$(plus_one "$v0") img-$n" \
		"$point: and is read back"
}

phase store/txn/begin 5 begin unchanged
phase store/resource/write 28 "write resource" unchanged
phase store/changelog/append 5 "append change" unchanged
phase store/txn/commit 28 commit unchanged
phase store/txn/ack 5 acknowledge whole

# A new file whose first commit fails does not appear in the store.
g=$mnt/deployments/default/fresh.json
arm store/txn/commit 28
is "$(deployment img-fresh | write_errno "$g")" "close:ENOSPC" "create: close() fails with ENOSPC"
disarm store/txn/commit
is "$(sqlite3 "$db" "SELECT count(*) FROM resources WHERE name = 'fresh'")" 0 \
	"create: no row for the failed create"
is "$(deployment img-fresh | write_errno "$g")" OK "create: retried, succeeds"

# Delete and rename are commits too.
v0=$(version_of "$f")
arm store/changelog/append 5
is "$(op_errno unlink "$f")" EIO "rm fails with EIO when the change log append fails"
disarm store/changelog/append
is "$(version_of "$f")" "$v0" "rm: the resource is still there, same version"
arm store/txn/commit 28
is "$(op_errno rename "$g" "$mnt/deployments/default/moved.json")" ENOSPC "mv fails with ENOSPC at COMMIT"
disarm store/txn/commit
ok "mv: the source is still there" test -f "$g"
ok "mv: no target" not test -e "$mnt/deployments/default/moved.json"
is "$(op_errno rename "$g" "$mnt/deployments/default/moved.json")" OK "mv: retried, succeeds"

# A checkpoint whose write fails neither fails nor undoes the commit that
# ran it.
n=$((n + 1))
v0=$(version_of "$f")
arm store/wal/checkpoint 5
is "$(deployment "img-$n" | write_errno "$f")" OK "checkpoint fault: the write is still acknowledged"
disarm store/wal/checkpoint
ok "checkpoint fault: the failed checkpoint is logged" grep -q "checkpoint: disk I/O error" "$SWARMFS_LOG"
is "$(version_of "$f") $(jq -r .spec.image "$f")" "$(plus_one "$v0") img-$n" \
	"checkpoint fault: the write is read back"
n=$((n + 1))
is "$(deployment "img-$n" | write_errno "$f")" OK "checkpoint fault: the next write succeeds"

# Snapshots: a failed copy, sync or rename leaves no file at all.
snaps=$data/snapshots
for pt in write:28 fsync:5 rename:28; do
	point=store/snapshot/${pt%%:*}
	e=${pt#*:}
	name=snap-${pt%%:*}
	ename=$(python3 -c 'import errno, sys; print(errno.errorcode[int(sys.argv[1])])' "$e")
	arm "$point" "$e"
	is "$(op_errno mkdir "$mnt/snapshots/$name")" "$ename" "$point: mkdir snapshots/$name fails with $ename"
	disarm "$point"
	is "$(find "$snaps" -name "*$name*" 2>/dev/null | wc -l)" 0 "$point: no file, partial or whole, is left"
	ok "$point: no snapshot directory shows up" not test -e "$mnt/snapshots/$name"
	is "$(op_errno mkdir "$mnt/snapshots/$name")" OK "$point: retried, the snapshot is taken"
	is "$(integrity "$snaps/$name.db")" ok "$point: and passes integrity_check"
done

umount_swarmfs "$mnt"
is "$?" 0 "swarmfs exits 0 at unmount"
is "$(integrity "$db")" ok "integrity_check passes"
is "$(log_consistent "$db")" "" "rows, change log and origin sequence agree"
ok "the last close checkpointed the WAL" not test -s "$db-wal"
is "$("$SWARMFS_ADMIN" --data-dir "$data" check 2>&1)" ok "swarmfs-admin check"

done_testing
