#!/bin/sh
# t0001-mount.sh - mounting and unmounting: options, startup errors, one
# instance per data dir, clean exit on SIGTERM/SIGINT/umount, read-only.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3

data=$TMP/data
mnt=$TMP/mnt
mkdir -p "$mnt"

# one_line_err FILE: FILE holds exactly one non-empty line.
one_line_err() {
	[ "$(grep -c . "$1")" -eq 1 ]
}

# ---- command line ----------------------------------------------------------

"$SWARMFS" --help >"$TMP/help" 2>&1
ok "--help exits 0" [ $? -eq 0 ]
ok "--help mentions --data-dir" grep -q -- --data-dir "$TMP/help"

"$SWARMFS" --version >"$TMP/version" 2>&1
ok "--version exits 0" [ $? -eq 0 ]
ok "--version prints a version number" grep -Eq '[0-9]+\.[0-9]+' "$TMP/version"

timeout 10 "$SWARMFS" --data-dir "$data" --no-such-flag "$mnt" >"$TMP/out" 2>"$TMP/err"
rc=$?
ok "bad flag exits non-zero" exited_with_error $rc
ok "bad flag: one line on stderr" one_line_err "$TMP/err" || diag "$(cat "$TMP/err")"
ok "bad flag: not mounted" not is_mounted "$mnt" >/dev/null

timeout 10 "$SWARMFS" --data-dir "$data" >"$TMP/out" 2>"$TMP/err"
rc=$?
ok "no mount point exits non-zero" exited_with_error $rc
ok "no mount point: one line on stderr" one_line_err "$TMP/err" || diag "$(cat "$TMP/err")"

timeout 10 "$SWARMFS" --data-dir "$data" "$TMP/does-not-exist" >"$TMP/out" 2>"$TMP/err"
rc=$?
ok "missing mount point exits non-zero" exited_with_error $rc
ok "missing mount point: one line on stderr" one_line_err "$TMP/err" || diag "$(cat "$TMP/err")"
ok "missing mount point: the line names it" grep -q does-not-exist "$TMP/err"

# ---- mount, use, unmount -----------------------------------------------------

if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount"
	done_testing
fi
pass "mount"
ok "data dir created with mode 0700" [ "$(stat -c %a "$data")" = 700 ]
for k in deployments services pods ingresses snapshots; do
	ok "$k/ is a directory" [ -d "$mnt/$k" ]
done
ok "status.json exists" [ -f "$mnt/status.json" ]
ok "events exists" [ -e "$mnt/events" ]
for k in deployments services pods ingresses; do
	ok "$k/default exists" [ -d "$mnt/$k/default" ]
done
ok "status.json is JSON" jq -e . "$mnt/status.json" >/dev/null

deployment nginx:1.25 3 >"$mnt/deployments/default/web.json"
ok "write a deployment" [ $? -eq 0 ]
is "$(jq -r .spec.image "$mnt/deployments/default/web.json")" nginx:1.25 "read it back"

# A second instance on the same data dir is refused, with one line.
mkdir -p "$TMP/mnt2"
timeout 10 "$SWARMFS" -f --data-dir "$data" "$TMP/mnt2" >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
ok "second instance on the same data dir exits non-zero" exited_with_error $rc
ok "second instance: one line on stderr" one_line_err "$TMP/err" || diag "$(cat "$TMP/err")"
ok "second instance: nothing mounted" not is_mounted "$TMP/mnt2" >/dev/null
is_mounted "$TMP/mnt2" && fusermount3 -uz "$TMP/mnt2"
ok "first instance still answers" jq -e . "$mnt/deployments/default/web.json" >/dev/null

umount_swarmfs "$mnt"
is "$?" 0 "fusermount3 -u: swarmfs exits 0"
ok "not mounted after fusermount3 -u" not is_mounted "$mnt" >/dev/null

# ---- signals and umount ------------------------------------------------------

n=0
for how in TERM INT umount; do
	n=$((n + 1))
	if ! mount_swarmfs "$data" "$mnt"; then
		fail "remount for $how"
		continue
	fi
	deployment "nginx:1.$n" >"$mnt/deployments/default/sig-$n.json"
	pid=$SWARMFS_PID
	case $how in
	umount) umount "$mnt" 2>"$TMP/err" || diag "umount: $(cat "$TMP/err")" ;;
	*) kill -"$how" "$pid" ;;
	esac
	wait_swarmfs "$pid"
	is "$?" 0 "$how: swarmfs exits 0"
	ok "$how: unmounted" not is_mounted "$mnt" >/dev/null
	is_mounted "$mnt" && fusermount3 -uz "$mnt"
done
if mount_swarmfs "$data" "$mnt"; then
	for i in 1 2 3; do
		is "$(jq -r .spec.image "$mnt/deployments/default/sig-$i.json" 2>&1)" \
			"nginx:1.$i" "write before unmount $i survived"
	done
	umount_swarmfs "$mnt"
fi

# ---- daemon mode: returns once the mount answers ----------------------------

"$SWARMFS" --data-dir "$data" "$mnt" >"$TMP/out" 2>"$TMP/err" </dev/null 3>&-
rc=$?
is "$rc" 0 "without -f: exits 0 after mounting"
if is_mounted "$mnt"; then
	pass "without -f: mounted when it returns"
	ok "without -f: the mount answers at once" [ -f "$mnt/deployments/default/web.json" ]
	dpid=
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "swarmfs.*$mnt"; then
			dpid=${p#/proc/}
		fi
	done
	fusermount3 -u "$mnt"
	if [ -n "$dpid" ]; then
		ok "daemon exits after fusermount3 -u" wait_pid_gone "$dpid" 10
	fi
else
	fail "without -f: mounted when it returns" "$(cat "$TMP/err")"
fi

# ---- read-only ---------------------------------------------------------------

if mount_swarmfs "$data" "$mnt" -o ro; then
	ok "ro: read works" jq -e . "$mnt/deployments/default/web.json" >/dev/null
	is "$(deployment nginx:9 | write_errno "$mnt/deployments/default/web.json")" \
		"open:EROFS" "ro: overwrite gives EROFS"
	is "$(deployment nginx:9 | write_errno "$mnt/deployments/default/new.json")" \
		"open:EROFS" "ro: create gives EROFS"
	ok "ro: mkdir fails" not mkdir "$mnt/deployments/newns" 2>/dev/null
	is "$(jq -r .spec.image "$mnt/deployments/default/web.json")" nginx:1.25 "ro: content unchanged"
	umount_swarmfs "$mnt"
	is "$?" 0 "ro: unmount exits 0"
else
	fail "mount -o ro"
fi

# ---- corrupt store -----------------------------------------------------------

mkdir -p "$TMP/bad"
chmod 700 "$TMP/bad"
head -c 65536 /dev/urandom >"$TMP/bad/store.db"
timeout 10 "$SWARMFS" -f --data-dir "$TMP/bad" "$mnt" >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
ok "corrupt store refused (non-zero exit)" exited_with_error $rc
ok "corrupt store: one line on stderr" one_line_err "$TMP/err" || diag "$(cat "$TMP/err")"
is_mounted "$mnt" && fusermount3 -uz "$mnt"

done_testing
