#!/bin/sh
# t0060-snapshots-admin.sh - swarmfs-admin snapshot, snapshots, snapshot-rm,
# restore and prune: offline, under a live mount, over a corrupted store
# (check names the newest good snapshot and its restore command works), and
# on a full disk (ENOSPC, no partial file).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_cmd jq
[ -x "$SWARMFS_ADMIN" ] || skip_all "'$SWARMFS_ADMIN' not built"

data=$TMP/data
mnt=$TMP/mnt
admin() {
	"$SWARMFS_ADMIN" --data-dir "$data" "$@"
}

# content: the state from an export without what a restore may change
# (version, times, node), namespaces included.
content() {
	admin export | jq -S '{namespaces, resources: [.resources[] |
		del(.metadata.version, .metadata.created, .metadata.updated, .metadata.node)]}'
}

same() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diag "$(diff "$1" "$2" | head -20)"
	return 1
}

# one_line TEXT: exactly one non-empty line.
one_line() {
	[ -n "$1" ] && [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]
}

# export_doc KIND NS NAME SPEC: one resource of an export document.
export_doc() {
	printf '{"kind":"%s","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' "$1" "$3" "$2" "$4"
}

import_docs() {
	local first=1 d
	{
		printf '{"format":"swarmfs-export","version":1,"resources":['
		for d in "$@"; do
			[ $first -eq 1 ] || printf ','
			first=0
			printf '%s' "$d"
		done
		printf ']}\n'
	} >"$TMP/import.json"
	admin import "$TMP/import.json" >/dev/null
}

# ---- take, list, remove (offline) --------------------------------------------

ok "import a first state" import_docs \
	"$(export_doc Deployment default web '{"image":"nginx:1.25","replicas":2}')" \
	"$(export_doc Deployment prod api '{"image":"api:1","replicas":3}')" \
	"$(export_doc Service default web '{"selector":{"app":"web"},"ports":[{"port":80}]}')"
rev=$(admin status --json | jq -r .revision)

out=$(admin snapshot first 2>&1)
rc=$?
is "$rc" 0 "snapshot exits 0"
is "$out" "snapshot 'first' taken at revision $rev (3 resources, $(stat -c %s "$data/snapshots/first.db" 2>/dev/null) bytes)" \
	"snapshot reports revision, resources and size"
ok "the snapshot is a file in DATA/snapshots" test -f "$data/snapshots/first.db"
if command -v sqlite3 >/dev/null 2>&1; then
	is "$(sqlite3 "$data/snapshots/first.db" 'PRAGMA integrity_check' 2>&1)" ok \
		"the snapshot file passes sqlite3 integrity_check"
else
	skip "the snapshot file passes sqlite3 integrity_check" "sqlite3 not installed"
fi
content >"$TMP/first.content"

out=$(admin snapshot first 2>&1)
rc=$?
ok "a name in use fails" exited_with_error "$rc"
ok "EEXIST is one clear line" one_line "$out"
case $out in
*"'first' already exists"*) pass "EEXIST names the snapshot" ;;
*) fail "EEXIST names the snapshot" "got: $out" ;;
esac
out=$(admin snapshot Not_A_Label 2>&1)
rc=$?
ok "an invalid name fails" exited_with_error "$rc"
ok "EINVAL is one clear line" one_line "$out"
ok "no file for an invalid name" not test -e "$data/snapshots/Not_A_Label.db"
out=$(admin snapshot 2>&1)
is "$?" 2 "snapshot without NAME is a usage error"

ok "a second snapshot" admin snapshot scratch >/dev/null
out=$(admin snapshots)
case $out in
*first*manual*) pass "snapshots lists 'first' as manual" ;;
*) fail "snapshots lists 'first' as manual" "got: $out" ;;
esac
json=$(admin snapshots --json)
is "$(printf '%s' "$json" | jq -r 'length')" 2 "snapshots --json is an array of both"
is "$(printf '%s' "$json" | jq -r '.[] | select(.name == "first") |
	"\(.revision) \(.resources) \(.automatic) \(.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))"')" \
	"$rev 3 false true" "snapshots --json: revision, resources, manual, RFC 3339 created"
is "$(admin status --json | jq -r '.snapshots | "\(.count) \(.bytes > 0)"')" "2 true" \
	"status --json counts the snapshots and their size"
case $(admin status) in
*"snapshots       2 ("*) pass "status shows the snapshot count and size" ;;
*) fail "status shows the snapshot count and size" "got: $(admin status | grep snapshots)" ;;
esac

ok "snapshot-rm removes one" admin snapshot-rm scratch >/dev/null
ok "its file is gone" not test -e "$data/snapshots/scratch.db"
is "$(admin snapshots --json | jq -r '[.[].name] | join(",")')" first "only 'first' is left"
out=$(admin snapshot-rm scratch 2>&1)
rc=$?
ok "removing a missing snapshot fails" exited_with_error "$rc"
ok "with one line" one_line "$out"

# ---- restore offline ---------------------------------------------------------

ok "change the state" import_docs \
	"$(export_doc Deployment default web '{"image":"nginx:1.26","replicas":5}')" \
	"$(export_doc Deployment staging canary '{"image":"nginx:1.27"}')" \
	"$(export_doc Pod default job '{"image":"busybox"}')"
before_rev=$(admin status --json | jq -r .revision)
out=$(admin restore first 2>&1)
rc=$?
is "$rc" 0 "restore exits 0"
case $out in
"restored snapshot 'first': 1 resource put, 2 deleted, 0 namespaces created, 1 removed"*"; the store is now at revision "*)
	pass "restore says what it put and deleted" ;;
*) fail "restore says what it put and deleted" "got: $out" ;;
esac
after_rev=$(admin status --json | jq -r .revision)
case $out in
*"revision $after_rev") pass "restore prints the new revision" ;;
*) fail "restore prints the new revision" "got: $out, status: $after_rev" ;;
esac
ok "the restore is new revisions, not a rewind" test "$after_rev" -gt "$before_rev"
content >"$TMP/restored.content"
ok "the state equals the snapshot's" same "$TMP/first.content" "$TMP/restored.content"
is "$(admin export | jq -r '[.resources[] | select(.metadata.name == "canary" or .metadata.name == "job")] | length')" 0 \
	"resources created after the snapshot are gone"
is "$(admin log --json | jq -rs '[.[] | select(.source == "snapshot:first")] | length > 0')" true \
	"the change log records the snapshot as the source"
out=$(admin restore first 2>&1)
case $out in
*"nothing changed"*) pass "a second restore changes nothing" ;;
*) fail "a second restore changes nothing" "got: $out" ;;
esac
out=$(admin restore nosuch 2>&1)
rc=$?
ok "restoring a missing snapshot fails" exited_with_error "$rc"
ok "with one line" one_line "$out"

# ---- prune -------------------------------------------------------------------

# Automatic snapshots come from the mount's schedule; copies of 'first'
# marked automatic, an hour apart, stand in for them.
if command -v sqlite3 >/dev/null 2>&1; then
	now_s=$(date +%s)
	for i in 1 2 3; do
		f=$data/snapshots/auto-$i.db
		cp "$data/snapshots/first.db" "$f"
		sqlite3 "$f" "UPDATE meta SET value = 'auto-$i' WHERE key = 'snapshot.name';
			UPDATE meta SET value = 1 WHERE key = 'snapshot.automatic';
			UPDATE meta SET value = $(((now_s - (4 - i) * 3600) * 1000)) WHERE key = 'snapshot.created';"
	done
	is "$(admin snapshots --json | jq -r '[.[] | select(.automatic)] | length')" 3 \
		"three automatic snapshots"
	out=$(admin prune --retention hourly=1 --dry-run)
	case $out in
	*"would prune 'auto-1'"*"would prune 'auto-2'"*"would prune 2 automatic snapshots") pass "prune --dry-run lists what would go" ;;
	*) fail "prune --dry-run lists what would go" "got: $out" ;;
	esac
	ok "--dry-run removes nothing" test -e "$data/snapshots/auto-1.db"
	out=$(admin prune --retention hourly=1)
	case $out in
	*"pruned 'auto-1'"*"pruned 'auto-2'"*"pruned 2 automatic snapshots") pass "prune prints what it pruned" ;;
	*) fail "prune prints what it pruned" "got: $out" ;;
	esac
	is "$(admin snapshots --json | jq -r '[.[].name] | sort | join(",")')" "auto-3,first" \
		"the newest automatic one and the manual one stay"
	is "$(admin prune --retention hourly=1)" "nothing to prune" "pruning again prunes nothing"
	out=$(admin prune --retention hourly=x 2>&1)
	is "$?" 2 "a bad retention policy is a usage error"
	admin snapshot-rm auto-3 >/dev/null
else
	skip "prune" "sqlite3 not installed"
fi

# ---- restore under a live mount ----------------------------------------------

have_fuse=1
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1 || [ ! -x "$SWARMFS" ]; then
	have_fuse=0
fi
if [ $have_fuse -eq 1 ] && mount_swarmfs "$data" "$mnt"; then
	ok "snapshot while mounted" admin snapshot online >/dev/null
	online_web=$(jq -c .spec "$mnt/deployments/default/web.json")
	deployment "nginx:9.9" 7 >"$mnt/deployments/default/web.json"
	deployment "late:1" >"$mnt/deployments/default/late.json"
	mkdir "$mnt/services/extra"
	rm "$mnt/deployments/prod/api.json"
	ok "the mount shows the new state" test -e "$mnt/deployments/default/late.json"
	out=$(admin restore online 2>&1)
	is "$?" 0 "restore while mounted exits 0"
	case $out in
	"restored snapshot 'online': 2 resources put, 1 deleted, 0 namespaces created, 1 removed"*)
		pass "restore while mounted reports its changes" ;;
	*) fail "restore while mounted reports its changes" "got: $out" ;;
	esac
	is "$(jq -c .spec "$mnt/deployments/default/web.json" 2>&1)" "$online_web" \
		"the mount shows the snapshot's web.json at once"
	ok "a resource made after the snapshot is gone from the mount" \
		not cat "$mnt/deployments/default/late.json" 2>/dev/null
	ok "and from the listing" not sh -c "ls '$mnt/deployments/default' | grep -qx late.json"
	ok "a namespace made after the snapshot is gone" not test -d "$mnt/services/extra"
	is "$(jq -r .spec.image "$mnt/deployments/prod/api.json" 2>&1)" "api:1" \
		"a resource deleted since the snapshot is back"
	umount_swarmfs "$mnt"
	is "$?" 0 "unmount"
else
	skip "restore under a live mount" "no FUSE mount"
fi

# ---- a corrupted store -------------------------------------------------------

ok "an older snapshot" admin snapshot older >/dev/null
import_docs "$(export_doc Deployment default web '{"image":"nginx:2.0","replicas":4}')"
ok "the newest good snapshot" admin snapshot newest >/dev/null
content >"$TMP/newest.content"
import_docs "$(export_doc Deployment default after '{"image":"after:1"}')"
# A still newer snapshot that is itself damaged must not be the one named.
admin snapshot broken >/dev/null
dd if=/dev/urandom of="$data/snapshots/broken.db" bs=4096 seek=1 count=8 conv=notrunc 2>/dev/null
ok "the store has no -wal once closed" not test -s "$data/store.db-wal"
pages=$(($(stat -c %s "$data/store.db") / 4096))
dd if=/dev/urandom of="$data/store.db" bs=4096 seek=1 count=$((pages - 1)) conv=notrunc 2>/dev/null

out=$(admin check 2>&1 >/dev/null)
rc=$?
is "$rc" 1 "check exits 1 on a corrupted store"
hint=$(printf '%s\n' "$out" | grep "newest good snapshot")
case $hint in
"swarmfs-admin: store '$data/store.db' is corrupt: "*"; the newest good snapshot is 'newest' (revision "*"): run 'swarmfs-admin --data-dir $data restore newest'")
	pass "check names the newest good snapshot and the command" ;;
*) fail "check names the newest good snapshot and the command" "got: $out" ;;
esac
out=$(admin status 2>&1)
rc=$?
is "$rc" 1 "status exits 1 on a corrupted store"
case $out in
*"newest good snapshot is 'newest'"*) pass "status names it too" ;;
*) fail "status names it too" "got: $out" ;;
esac
out=$(admin snapshot more 2>&1)
ok "no snapshot of a corrupted store" exited_with_error "$?"
ok "and no file" not test -e "$data/snapshots/more.db"

if [ $have_fuse -eq 1 ]; then
	mkdir -p "$mnt"
	timeout 20 "$SWARMFS" -f --data-dir "$data" "$mnt" >"$TMP/refused.log" 2>&1 3>&-
	rc=$?
	if is_mounted "$mnt"; then
		fusermount3 -u "$mnt"
	fi
	ok "swarmfs refuses to mount a corrupted store" exited_with_error "$rc"
	case $(cat "$TMP/refused.log") in
	*"newest good snapshot is 'newest'"*"restore newest'"*) pass "swarmfs names the snapshot and the command" ;;
	*) fail "swarmfs names the snapshot and the command" "got: $(cat "$TMP/refused.log")" ;;
	esac
fi

# A mount holding the lock blocks the replacement of the file under it.
exec 8>"$data/swarmfs.lock"
if command -v flock >/dev/null 2>&1 && flock -n 8; then
	echo 4242 >&8
	out=$(admin restore newest 2>&1)
	rc=$?
	ok "restore over a damaged store refuses while a mount holds the lock" exited_with_error "$rc"
	case $out in
	*"mounted on data dir"*"unmount it first"*) pass "and says why in one line" ;;
	*) fail "and says why in one line" "got: $out" ;;
	esac
	ok "nothing was moved" not sh -c "ls '$data' | grep -q damaged"
else
	skip "restore refuses under a mount's lock" "flock(1) unavailable"
fi
exec 8>&-

cmd=$(printf '%s\n' "$hint" | sed -n "s/.*: run '\(.*\)'\$/\1/p")
out=$(PATH=$(dirname "$SWARMFS_ADMIN"):$PATH eval "$cmd" 2>&1)
rc=$?
is "$rc" 0 "the printed restore command works"
case $out in
*"replaced '$data/store.db' with snapshot 'newest'"*"moved to '$data/store.db.damaged-"*) pass "it says where the damaged store went" ;;
*) fail "it says where the damaged store went" "got: $out" ;;
esac
ok "the damaged store is kept" sh -c "ls '$data' | grep -q '^store.db.damaged-'"
is "$(admin check 2>&1)" ok "check passes after the restore"
content >"$TMP/recovered.content"
ok "the state is the snapshot's" same "$TMP/newest.content" "$TMP/recovered.content"
ok "writes work again" import_docs "$(export_doc Deployment default again '{"image":"again:1"}')"
if [ $have_fuse -eq 1 ] && mount_swarmfs "$data" "$mnt"; then
	is "$(jq -r .spec.image "$mnt/deployments/default/web.json" 2>&1)" "nginx:2.0" \
		"the mount starts on the recovered store"
	umount_swarmfs "$mnt"
fi

# ---- a full disk ---------------------------------------------------------------

small=$TMP/small
mkdir -p "$small"
big=$TMP/big
docs=()
for i in $(seq 1 150); do
	docs+=("$(export_doc Deployment default "app-$i" "{\"image\":\"app:$i\",\"env\":{\"PAD\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}}")")
done
data=$big
import_docs "${docs[@]}" || diag "the big import failed"
size=$(stat -c %s "$big/store.db" 2>/dev/null || echo 0)
# Room for the store, its -shm and half a copy: the snapshot cannot fit.
if [ "$size" -gt 100000 ] &&
	mount -t tmpfs -o size=$((size + size / 2 + 65536)) tmpfs "$small" 2>/dev/null; then
	at_exit "umount '$small' 2>/dev/null"
	mkdir "$small/data"
	cp "$big/store.db" "$small/data/store.db"
	data=$small/data
	out=$(admin snapshot full 2>&1)
	rc=$?
	ok "a snapshot that does not fit fails" exited_with_error "$rc"
	ok "with one line" one_line "$out"
	case $out in
	*"not enough space for snapshot 'full'"*) pass "that says the disk is full" ;;
	*) fail "that says the disk is full" "got: $out" ;;
	esac
	is "$(ls -A "$data/snapshots" 2>/dev/null)" "" "no partial file is left"
	is "$(admin check 2>&1)" ok "the store still passes check"
	ok "and takes writes" import_docs "$(export_doc Deployment default tiny '{"image":"t:1"}')"
	umount "$small"
else
	skip "ENOSPC on a small tmpfs" "cannot mount a tmpfs"
fi

done_testing
