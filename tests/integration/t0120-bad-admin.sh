#!/bin/sh
# t0120-bad-admin.sh - bad administration: a wrong --data-dir (a file, below
# a file, missing, unreadable), a read-only data dir (mode and a read-only
# bind mount), a full disk at start, a store from a newer schema version, and
# a bad mount point (already mounted, a file, missing).  swarmfs,
# swarmfs-sync and swarmfs-admin each give one precise line on stderr and a
# non-zero exit, and the data dir stays as it was (its lock files aside).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_fuse
require_cmd sqlite3 setpriv sha256sum
SYNC=$SWARMFS_SYNC
ADMIN=$SWARMFS_ADMIN
[ -x "$SYNC" ] || skip_all "'$SYNC' not built"
[ -x "$ADMIN" ] || skip_all "'$ADMIN' not built"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (bind and tmpfs mounts, another user)"

mnt=$TMP/mnt
mkdir -p "$mnt"
limit=$((10 * SWARMFS_TIMEOUT_FACTOR))
# The unprivileged user of the permission cases; /tmp is usually 1777, but
# $TMP is 0700: the cases live in a dir that user can reach.
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
pub=$TMP/pub
mkdir -p "$pub"
chmod 0755 "$TMP" "$pub"

# digest DIR: names, types, modes and contents of everything under DIR but
# the lock files (swarmfs.lock, swarmfs-sync.lock: a pid), SQLite's -shm
# index and an empty -wal, which a read-only SQLite connection leaves
# behind after any read.
digest() {
	[ -e "$1" ] || { echo absent; return; }
	[ -d "$1" ] || { stat -c '%a %s' "$1"; sha256sum <"$1"; return; }
	(
		cd "$1" || exit 1
		find . ! -name '*.lock' ! -name '*-shm' ! \( -name '*-wal' -size 0 \) \
			-printf '%p %y %m\n' | sort
		find . -type f ! -name '*.lock' ! -name '*-shm' ! \( -name '*-wal' -size 0 \) \
			-exec sha256sum {} + | sort
	) | sha256sum
}

# mounts_on DIR: how many mounts are stacked on DIR.
mounts_on() {
	awk -v m="$1" '$5 == m { n++ } END { print n + 0 }' /proc/self/mountinfo
}

# refused DESC DIR REGEX CMD...: CMD exits non-zero (and not by timeout),
# writes exactly one line to stderr, that line matches REGEX, and DIR has
# not changed.
refused() {
	local desc=$1 dir=$2 re=$3 before after rc lines mounts
	shift 3
	before=$(digest "$dir")
	mounts=$(mounts_on "$mnt")
	timeout "$limit" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null 3>&-
	rc=$?
	# Whatever mounted by mistake goes away before the next case.
	[ "$(mounts_on "$mnt")" -gt "$mounts" ] && fusermount3 -uz "$mnt"
	after=$(digest "$dir")
	lines=$(wc -l <"$TMP/err")
	if exited_with_error "$rc" && [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$TMP/err" &&
		[ "$before" = "$after" ]; then
		pass "$desc: $(cat "$TMP/err")"
	else
		fail "$desc" "exit status $rc (expected non-zero)" \
			"stderr ($lines lines, expected 1 matching '$re'):" "$(cat "$TMP/err")" \
			"data dir unchanged: $([ "$before" = "$after" ] && echo yes || echo NO)"
	fi
}

sync_listen=ipc://$TMP/sync.sock

# each_tool DESC DIR REGEX [AS...]: swarmfs, swarmfs-sync, swarmfs-admin
# status (a reader) and snapshot (a writer), run by AS (e.g. $nobody).
each_tool() {
	local desc=$1 dir=$2 re=$3
	shift 3
	refused "$desc: swarmfs" "$dir" "^swarmfs: $re" \
		"$@" "$SWARMFS" -f --data-dir "$dir" "$mnt"
	refused "$desc: swarmfs-sync" "$dir" "^swarmfs-sync: $re" \
		"$@" "$SYNC" -f --data-dir "$dir" --listen "$sync_listen"
	refused "$desc: swarmfs-admin status" "$dir" "^swarmfs-admin: $re" \
		"$@" "$ADMIN" --data-dir "$dir" status
	refused "$desc: swarmfs-admin snapshot" "$dir" "^swarmfs-admin: $re" \
		"$@" "$ADMIN" --data-dir "$dir" snapshot s2
}

# new_store DIR: a data dir holding a store with one resource and a snapshot.
new_store() {
	mkdir -p "$1"
	printf '%s\n' '{"format":"swarmfs-export","version":1,"resources":[' \
		'{"kind":"Deployment","metadata":{"namespace":"default","name":"web"},' \
		'"spec":{"image":"nginx:1","replicas":1}}]}' >"$TMP/seed.json"
	"$ADMIN" --data-dir "$1" import "$TMP/seed.json" >/dev/null &&
		"$ADMIN" --data-dir "$1" snapshot s1 >/dev/null
}

# ---- a wrong --data-dir ------------------------------------------------------------

echo '{}' >"$TMP/afile"
each_tool "data dir is a file" "$TMP/afile" "data dir '$TMP/afile' is not a directory"
each_tool "data dir below a file" "$TMP/afile/sub" \
	"cannot use data dir '$TMP/afile/sub': Not a directory"

refused "missing data dir: swarmfs-admin status" "$TMP/missing" \
	"^swarmfs-admin: data dir '$TMP/missing' does not exist" \
	"$ADMIN" --data-dir "$TMP/missing" status
refused "missing data dir: swarmfs-admin export" "$TMP/missing" \
	"^swarmfs-admin: data dir '$TMP/missing' does not exist" \
	"$ADMIN" --data-dir "$TMP/missing" export
ok "missing data dir: not created by a reader" test ! -e "$TMP/missing"

new_store "$pub/locked" || bail_out "unable to create a store"
chmod 0700 "$pub/locked"
each_tool "unreadable data dir (0700, another user)" "$pub/locked" \
	"cannot use data dir '$pub/locked': Permission denied" $nobody

# ---- a read-only data dir ----------------------------------------------------------

new_store "$pub/ro" || bail_out "unable to create a store"
chown -R 65534:65534 "$pub/ro"
chmod 0500 "$pub/ro"
refused "data dir mode 0500: swarmfs" "$pub/ro" \
	"^swarmfs: cannot use data dir '$pub/ro': Permission denied" \
	$nobody "$SWARMFS" -f --data-dir "$pub/ro" "$mnt"
refused "data dir mode 0500: swarmfs-sync" "$pub/ro" \
	"^swarmfs-sync: cannot use data dir '$pub/ro': Permission denied" \
	$nobody "$SYNC" -f --data-dir "$pub/ro" --listen "$sync_listen"
refused "data dir mode 0500: swarmfs-admin snapshot" "$pub/ro" \
	"^swarmfs-admin: cannot use data dir '$pub/ro': Permission denied" \
	$nobody "$ADMIN" --data-dir "$pub/ro" snapshot s2

new_store "$TMP/rw" || bail_out "unable to create a store"
mkdir -p "$TMP/robind"
if mount --bind "$TMP/rw" "$TMP/robind" && mount -o remount,bind,ro "$TMP/robind"; then
	at_exit "umount '$TMP/robind' 2>/dev/null"
	d=$TMP/robind
	each_tool "read-only bind mount" "$d" \
		"cannot (use data dir '$d'|open store '$d/store.db': cannot create its -wal and -shm files): Read-only file system"
	refused "read-only bind mount: swarmfs -o ro" "$d" \
		"^swarmfs: .*'$d'.*[Rr]ead-only file system" \
		"$SWARMFS" -f -o ro --data-dir "$d" "$mnt"
	refused "read-only bind mount: swarmfs-admin export" "$d" \
		"^swarmfs-admin: .*[Rr]ead-only file system" \
		"$ADMIN" --data-dir "$d" export
	umount "$d"
else
	skip "read-only bind mount" "mount --bind failed"
fi

# ---- a full disk at start ----------------------------------------------------------

mkdir -p "$TMP/full"
if mount -t tmpfs -o size=64k,mode=0700 tmpfs "$TMP/full"; then
	at_exit "umount '$TMP/full' 2>/dev/null"
	mkdir "$TMP/full/d"
	dd if=/dev/zero of="$TMP/full/fill" bs=4k 2>/dev/null
	d=$TMP/full/d
	refused "full disk, new store: swarmfs" "$d" "^swarmfs: store '$d/store.db': disk full" \
		"$SWARMFS" -f --data-dir "$d" "$mnt"
	refused "full disk, new store: swarmfs-sync" "$d" "^swarmfs-sync: store '$d/store.db': disk full" \
		"$SYNC" -f --data-dir "$d" --listen "$sync_listen"
	refused "full disk, no store: swarmfs-admin snapshot" "$d" \
		"^swarmfs-admin: no store at '$d/store.db'" \
		"$ADMIN" --data-dir "$d" snapshot s2
	umount "$TMP/full"
else
	skip "full disk" "cannot mount a tmpfs"
fi

# ---- a store from a newer schema version -------------------------------------------

new_store "$TMP/newer" || bail_out "unable to create a store"
sqlite3 "$TMP/newer/store.db" 'PRAGMA user_version = 99' || bail_out "sqlite3 failed"
each_tool "schema version 99" "$TMP/newer" \
	"store '$TMP/newer/store.db' has schema version 99, newer than this swarmfs supports \([0-9]+\)"
refused "schema version 99: swarmfs-admin check" "$TMP/newer" \
	"^swarmfs-admin: store '$TMP/newer/store.db' has schema version 99" \
	"$ADMIN" --data-dir "$TMP/newer" check
refused "schema version 99: swarmfs-admin compact" "$TMP/newer" \
	"^swarmfs-admin: store '$TMP/newer/store.db' has schema version 99" \
	"$ADMIN" --data-dir "$TMP/newer" compact

# ---- a bad mount point -------------------------------------------------------------

new_store "$TMP/good" || bail_out "unable to create a store"
new_store "$TMP/other" || bail_out "unable to create a store"
if mount_swarmfs "$TMP/good" "$mnt"; then
	refused "mount point already mounted: swarmfs" "$TMP/other" \
		"^swarmfs: mount point '$mnt' is already mounted" \
		"$SWARMFS" -f --data-dir "$TMP/other" "$mnt"
	ok "the first mount still answers" test -f "$mnt/deployments/default/web.json"
	umount_swarmfs "$mnt"
else
	fail "mount for the already-mounted case"
fi
refused "mount point is a file: swarmfs" "$TMP/other" \
	"^swarmfs: mount point '$TMP/afile' is not a directory" \
	"$SWARMFS" -f --data-dir "$TMP/other" "$TMP/afile"
refused "mount point missing: swarmfs" "$TMP/other" \
	"^swarmfs: mount point '$TMP/nomnt' does not exist" \
	"$SWARMFS" -f --data-dir "$TMP/other" "$TMP/nomnt"

done_testing
