#!/bin/sh
# t0070-snapshots-mount.sh - snapshots through the mount: mkdir under 4
# writers (consistent with the change log at its revision), browsing, .info,
# EROFS everywhere inside, content-only diff -r against the live .content
# view, cp restore of one resource (also a deleted one, logged with its
# source), the online whole restore through snapshots/.restore, rmdir,
# status.json, automatic snapshots at start on a fake clock with retention,
# and ENOSPC on a small tmpfs.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3

data=$TMP/data
mnt=$TMP/mnt
d=$mnt/deployments/default

admin() {
	"$SWARMFS_ADMIN" --data-dir "$data" "$@"
}

# op_errno OP PATH [ARG]: runs one system call with Python and prints OK or
# the errno name.
op_errno() {
	python3 -c '
import errno, os, sys
op, p = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
try:
    if op == "write":
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"{\"spec\":{\"image\":\"x\"}}")
        finally:
            os.close(fd)
    elif op == "append":
        fd = os.open(p, os.O_WRONLY | os.O_APPEND)
        os.close(fd)
    elif op == "read":
        with open(p) as f:
            f.read()
    elif op == "unlink":
        os.unlink(p)
    elif op == "mkdir":
        os.mkdir(p)
    elif op == "rmdir":
        os.rmdir(p)
    elif op == "rename":
        os.rename(p, arg)
    elif op == "truncate":
        os.truncate(p, 0)
    elif op == "utime":
        os.utime(p, None)
    elif op == "chmod":
        os.chmod(p, 0o600)
    elif op == "restore":
        fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, (arg + "\n").encode())
        finally:
            os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
' "$@"
}

if ! mount_swarmfs "$data" "$mnt" --snapshot-interval 0; then
	fail "mount"
	done_testing
fi
log=$SWARMFS_LOG

ok "--help shows --snapshot-interval and --snapshot-keep" \
	sh -c "'$SWARMFS' --help | grep -q -- --snapshot-interval && '$SWARMFS' --help | grep -q -- --snapshot-keep"
out=$("$SWARMFS" --snapshot-keep bogus=1 "$mnt" 2>&1)
ok "a bad --snapshot-keep is refused ($out)" exited_with_error "$?"
out=$("$SWARMFS" --snapshot-interval -5 "$mnt" 2>&1)
ok "a bad --snapshot-interval is refused ($out)" exited_with_error "$?"

deployment nginx:1.0 >"$d/web.json"
deployment api:1 2 >"$d/api.json"
deployment gone:1 >"$d/gone.json"
mkdir "$mnt/deployments/team"
deployment team:1 >"$mnt/deployments/team/x.json"
printf '{"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}' >"$mnt/services/default/svc.json"
is "$(ls "$mnt/snapshots")" "" "no snapshot yet (interval 0)"

# ---- a snapshot under 4 writers -------------------------------------------------

stop=$TMP/stop
wpids=""
for w in 1 2 3 4; do
	(
		i=1
		while [ ! -e "$stop" ]; do
			printf '{"spec":{"image":"w%d:%d"}}' "$w" "$i" >"$d/w$w.json" || echo "w$w: write $i failed"
			i=$((i + 1))
		done
	) >"$TMP/w$w.out" 2>&1 &
	wpids="$wpids $!"
	track_pid $!
done
# Every writer has written a few versions before the snapshot.
deadline=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$deadline" ] &&
	! [ -e "$d/w1.json" ] || ! [ -e "$d/w2.json" ] || ! [ -e "$d/w3.json" ] || ! [ -e "$d/w4.json" ]; do
	sleep 0.05
done
sleep 0.3
ok "mkdir snapshots/during while 4 writers write" mkdir "$mnt/snapshots/during"
sleep 0.3
touch "$stop"
for p in $wpids; do
	wait "$p"
done
ok "the writers never failed" sh -c "! grep -q failed '$TMP'/w*.out"
info=$mnt/snapshots/during/.info
ok ".info parses" jq -e . "$info" >/dev/null
R=$(jq -r .revision "$info")
is "$(jq -r '[.name, .automatic] | @tsv' "$info")" "$(printf 'during\tfalse')" ".info: name and automatic"
ok ".info: revision, created, resources, bytes" \
	jq -e '(.revision > 0) and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and
		(.resources > 0) and (.bytes > 0)' "$info" >/dev/null
admin log --json >"$TMP/log.json"
# The state at revision R replayed from the change log.
live_at_r=$(jq -s --argjson r "$R" '[.[] | select(.revision <= $r and (.op == "put" or .op == "delete"))]
	| group_by(.kind + "/" + .namespace + "/" + .name) | map(last | select(.op == "put")) | length' \
	"$TMP/log.json")
is "$(jq -r .resources "$info")" "$live_at_r" "the snapshot holds the resources live at its revision ($live_at_r)"
for w in 1 2 3 4; do
	f=$mnt/snapshots/during/deployments/default/w$w.json
	img=w$w:null # not in the snapshot: then not in the log at R either
	[ -e "$f" ] && img=$(jq -r .spec.image "$f" 2>&1)
	logv=$(jq -s --argjson r "$R" --arg n "w$w" '[.[] | select(.revision <= $r and .name == $n
		and .op == "put")] | last | .version' "$TMP/log.json")
	# Writer w's i-th write is version i of w$w.json.
	is "${img#w$w:}" "$logv" "w$w.json in the snapshot is the version the log had at revision $R"
done

# ---- browsing ------------------------------------------------------------------------

is "$(ls "$mnt/snapshots")" "during" "ls snapshots/ lists it"
is "$(ls -A "$mnt/snapshots/during" | tr '\n' ' ')" ".info deployments ingresses pods services " \
	"a snapshot holds .info and the four kinds"
is "$(ls "$mnt/snapshots/during/deployments" | tr '\n' ' ')" "default team " "its namespaces"
is "$(jq -r .spec.image "$mnt/snapshots/during/deployments/team/x.json")" team:1 "a document in it"
sdoc=$mnt/snapshots/during/deployments/default/web.json
is "$(jq -r '.metadata | [has("version"), .snapshot] | @tsv' "$sdoc")" "$(printf 'false\tduring')" \
	"snapshot documents carry no version and name their snapshot"
is "$(stat -c %s "$sdoc")" "$(cat "$sdoc" | wc -c)" "ls -l shows the exact size"
is "$(find "$mnt/snapshots/during" -name '*.json' | wc -l)" "$(jq -r .resources "$info")" \
	"find sees every resource of the snapshot"
is "$(cat "$mnt/snapshots/during/deployments/nope/x.json" 2>&1 >/dev/null | grep -c 'No such file')" 1 \
	"a missing namespace: ENOENT"

# ---- read-only -------------------------------------------------------------------------

sd=$mnt/snapshots/during/deployments/default
for c in "write $sd/web.json" "write $sd/brand-new.json" "append $sd/web.json" "unlink $sd/web.json" \
	"mkdir $sd/../newns" "rmdir $sd" "rename $sd/web.json $sd/moved.json" "truncate $sd/web.json" \
	"utime $sd/web.json" "chmod $sd/web.json" "write $mnt/snapshots/during/.info" \
	"unlink $mnt/snapshots/during/.info" "mkdir $mnt/snapshots/during/extra" \
	"rmdir $mnt/snapshots/during/deployments" "write $mnt/snapshots/during/new.json" \
	"write $mnt/.content/deployments/default/web.json" "unlink $mnt/.content/deployments/default/web.json" \
	"mkdir $mnt/.content/deployments/newns"; do
	# shellcheck disable=SC2086
	is "$(op_errno $c)" EROFS "EROFS: ${c#"$mnt"/}"
done
is "$(op_errno rename "$d/web.json" "$sd/web.json")" EROFS "EROFS: rename into a snapshot"
ok "nothing changed in the snapshot" jq -e '.resources > 0' "$info" >/dev/null

# ---- content-only diff ------------------------------------------------------------------

ok "mkdir snapshots/base" mkdir "$mnt/snapshots/base"
ok "right after the snapshot, diff -r of the content views is empty" \
	diff -r "$mnt/snapshots/base/.content" "$mnt/.content"
deployment nginx:1.1 >"$d/web.json"              # changed
deployment api:1 2 >"$d/api.json"                # rewritten, same content: a new version only
rm "$d/gone.json"                                # deleted
deployment new:1 >"$d/new.json"                  # created
ok "api.json got a new version" [ "$(version_of "$d/api.json")" -gt 1 ]
diff -r "$mnt/snapshots/base/.content/deployments" "$mnt/.content/deployments" >"$TMP/diff.out"
is "$?" 1 "diff -r snapshot vs live content: differences found"
is "$(grep -E '^(diff|Only in)' "$TMP/diff.out" | sed "s|$mnt/||g" | sort | tr '\n' ';')" \
	"Only in .content/deployments/default: new.json;Only in snapshots/base/.content/deployments/default: gone.json;diff -r snapshots/base/.content/deployments/default/web.json .content/deployments/default/web.json;" \
	"exactly web (changed), gone (deleted) and new (created), not api (same content)"
is "$(grep '^[<>]' "$TMP/diff.out" | tr -s ' ')" "$(printf '< "image": "nginx:1.0",\n> "image": "nginx:1.1",')" \
	"in web.json only the image differs"
ok "services did not change" diff -r "$mnt/snapshots/base/.content/services" "$mnt/.content/services"
is "$(jq -c .metadata "$mnt/.content/deployments/default/web.json")" \
	'{"name":"web","namespace":"default"}' "the live content view has no volatile metadata"

# ---- restoring one resource ----------------------------------------------------------------

v=$(version_of "$d/web.json")
ok "cp snapshots/base/.../web.json deployments/default/" \
	cp "$mnt/snapshots/base/deployments/default/web.json" "$d/"
is "$(jq -r .spec.image "$d/web.json")" nginx:1.0 "web.json has the snapshot's content"
is "$(version_of "$d/web.json")" "$(plus_one "$v")" "as a new version"
is "$(admin log deployments/default/web --json | jq -r '.source' | tail -1)" snapshot:base \
	"the change log says it came from snapshot base"
ok "cp brings back a resource deleted since" \
	cp "$mnt/snapshots/base/deployments/default/gone.json" "$d/"
is "$(jq -r .spec.image "$d/gone.json")" gone:1 "gone.json is back"
is "$(version_of "$d/gone.json")" 3 "continuing after its tombstone (version 3)"
is "$(admin log deployments/default/gone --json | jq -r '.source' | tail -1)" snapshot:base \
	"logged as from snapshot base"
ok "the restored document does not keep metadata.snapshot" \
	jq -e '.metadata | has("snapshot") | not' "$d/gone.json" >/dev/null

# ---- whole restore online -------------------------------------------------------------------

rm "$d/api.json"
deployment extra:1 >"$d/extra.json"
mkdir "$mnt/pods/later"
printf '{"spec":{"selector":{"app":"other"},"ports":[{"port":81}]}}' >"$mnt/services/default/svc.json"
is "$(op_errno read "$mnt/snapshots/.restore")" EACCES ".restore cannot be read"
is "$(op_errno restore "$mnt/snapshots/.restore" nope)" ENOENT "restoring an unknown snapshot: ENOENT at close"
is "$(op_errno restore "$mnt/snapshots/.restore" 'Bad Name')" EINVAL "an invalid name: EINVAL"
ok "echo base > snapshots/.restore" sh -c "echo base >'$mnt/snapshots/.restore'"
ok "the live content is the snapshot's again" \
	diff -r "$mnt/snapshots/base/.content" "$mnt/.content"
ok "extra.json is gone" not test -e "$d/extra.json"
is "$(jq -r .spec.image "$d/api.json" 2>&1)" api:1 "api.json is back"
is "$(jq -r '.spec.selector.app' "$mnt/services/default/svc.json")" web "svc.json is the snapshot's"
ok "the namespace created since is gone" not test -d "$mnt/pods/later"
ok "the restore is logged with its source" \
	sh -c "'$SWARMFS_ADMIN' --data-dir '$data' log --json | tail -1 | jq -e '.source == \"snapshot:base\"' >/dev/null"
ok "the log names the restore" grep -q "restored snapshot 'base'" "$log"

# ---- mkdir/rmdir errors, status.json ----------------------------------------------------------

is "$(op_errno mkdir "$mnt/snapshots/base")" EEXIST "mkdir of an existing snapshot: EEXIST"
is "$(op_errno mkdir "$mnt/snapshots/Bad_Name")" EINVAL "mkdir of a bad name: EINVAL"
is "$(op_errno rmdir "$mnt/snapshots/nope")" ENOENT "rmdir of a missing snapshot: ENOENT"
st=$(cat "$mnt/status.json")
is "$(printf '%s' "$st" | jq -r '.snapshots | [.count, .newest] | @tsv')" "$(printf '2\tbase')" \
	"status.json: count and newest"
is "$(printf '%s' "$st" | jq -r .snapshots.newest_created)" "$(jq -r .created "$mnt/snapshots/base/.info")" \
	"status.json: newest_created"
is "$(printf '%s' "$st" | jq -r .snapshots.bytes)" \
	"$(($(stat -c %s "$data/snapshots/base.db") + $(stat -c %s "$data/snapshots/during.db")))" \
	"status.json: bytes"
ok "rmdir snapshots/during" rmdir "$mnt/snapshots/during"
is "$(ls "$mnt/snapshots")" base "it is gone from the listing"
ok "and its file" not test -e "$data/snapshots/during.db"
is "$(jq -r .snapshots.count "$mnt/status.json")" 1 "status.json counts 1"
ok "mkdir of the same name again is a new snapshot" mkdir "$mnt/snapshots/during"
is "$(jq -r .spec.image "$mnt/snapshots/during/deployments/default/web.json")" nginx:1.0 \
	"with today's content"
umount_swarmfs "$mnt"
is "$?" 0 "unmount"

# ---- automatic snapshots on a fake clock --------------------------------------------------------

t0=1795316400 # 2026-11-22T03:00:00Z
auto_count() {
	ls "$data/snapshots" | grep -c '^auto-'
}
wait_auto() { # wait_auto PATTERN: until an automatic snapshot matches (10 s at most)
	local deadline=$(($(date +%s) + 10))
	while ! ls "$data/snapshots" | grep -q "^$1" && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.1
	done
	ls "$data/snapshots" | grep -q "^$1"
}
export SWARMFS_FAKE_NOW=$t0
if mount_swarmfs "$data" "$mnt" --snapshot-interval 3600; then
	ok "an automatic snapshot at start" wait_auto auto-
	a1=$(ls "$mnt/snapshots" | grep '^auto-')
	case $a1 in
	auto-20261122t03000[0-9]z) pass "named after the (fake) time: $a1" ;;
	*) fail "named after the (fake) time" "got: $a1" ;;
	esac
	is "$(jq -r '[.automatic, (.created | startswith("2026-11-22T03:00:0"))] | @tsv' "$mnt/snapshots/$a1/.info")" \
		"$(printf 'true\ttrue')" "automatic, created at the fake time"
	deployment later:1 >"$d/later.json"
	sleep 1
	is "$(auto_count)" 1 "no second one before the interval"
	umount_swarmfs "$mnt"
fi
export SWARMFS_FAKE_NOW=$((t0 + 600))
if mount_swarmfs "$data" "$mnt" --snapshot-interval 3600; then
	sleep 1.5
	is "$(auto_count)" 1 "10 minutes later: still one"
	umount_swarmfs "$mnt"
fi
export SWARMFS_FAKE_NOW=$((t0 + 3 * 86400))
if mount_swarmfs "$data" "$mnt" --snapshot-interval 3600 --snapshot-keep last=1; then
	ok "3 days later: a new automatic snapshot" wait_auto auto-20261125t0300
	sleep 1
	is "$(auto_count)" 1 "one, not one per missed hour, and the old one pruned (keep last=1)"
	case $(ls "$mnt/snapshots" | grep '^auto-') in
	auto-20261125t03000[0-9]z) pass "the mount lists the new one" ;;
	*) fail "the mount lists the new one" "got: $(ls "$mnt/snapshots")" ;;
	esac
	ok "the prune is logged" grep -q "pruned automatic snapshot '$a1'" "$SWARMFS_LOG"
	is "$(ls "$mnt/snapshots" | grep -v '^auto-' | tr '\n' ' ')" "base during " "manual snapshots stay"
	umount_swarmfs "$mnt"
fi
unset SWARMFS_FAKE_NOW

# ---- a full disk ---------------------------------------------------------------------------------

small=$TMP/small
mkdir -p "$small"
if mount_swarmfs "$data" "$mnt" --snapshot-interval 0; then
	pad=$(head -c 3000 /dev/zero | tr '\0' x)
	for i in $(seq 1 150); do
		printf '{"spec":{"image":"app:%d","env":{"PAD":"%s"}}}' "$i" "$pad" >"$d/app-$i.json"
	done
	umount_swarmfs "$mnt"
fi
size=$(stat -c %s "$data/store.db" 2>/dev/null || echo 0)
if [ "$size" -gt 100000 ] &&
	mount -t tmpfs -o size=$((size + size / 2 + 65536)) tmpfs "$small" 2>/dev/null; then
	at_exit "umount '$small' 2>/dev/null"
	mkdir "$small/data"
	cp "$data/store.db" "$small/data/store.db"
	if mount_swarmfs "$small/data" "$mnt" --snapshot-interval 0; then
		is "$(op_errno mkdir "$mnt/snapshots/full")" ENOSPC "mkdir snapshots/full on a full disk: ENOSPC"
		is "$(ls -A "$small/data/snapshots" 2>/dev/null)" "" "no partial file is left"
		is "$(ls "$mnt/snapshots")" "" "and no snapshot listed"
		is "$(jq -r .spec.image "$d/app-7.json")" app:7 "the mount keeps serving reads"
		is "$(deployment tiny:1 | write_errno "$d/tiny.json")" OK "and writes"
		umount_swarmfs "$mnt"
	fi
	umount "$small"
else
	skip "ENOSPC on a small tmpfs" "cannot mount a tmpfs"
fi

done_testing
