#!/bin/sh
# t0130-fstab.sh - swarmfs mounted the way /etc/fstab and mount(8) do it:
# `mount -t fuse3 'swarmfs#DATA' MNT -o OPTS` and `mount -T FSTAB MNT`, both
# through /sbin/mount.fuse3, which runs `swarmfs SOURCE MNT -o OPTS` with
# the options mount adds (rw, dev, suid, ...).  mount(8) gives its helpers no
# PATH, so the build's swarmfs is named by its absolute path; the forms that
# name only `swarmfs` run in a private mount namespace where
# /usr/local/sbin holds a link to it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd mount umount jq findmnt python3
[ "$(id -u)" = 0 ] || skip_all "mount(8) with a helper needs root"
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] || skip_all "mount.fuse3 not installed"

DATA=$TMP/data
MNT=$TMP/mnt
mkdir -p "$MNT"
swarmfs_bin=$(realpath "$SWARMFS")

# The daemon's pid, from the data dir's lock file.
daemon_pid() {
	tr -dc 0-9 <"$DATA/swarmfs.lock" 2>/dev/null
}

# Unmounts whatever a failed step left behind.
cleanup_mounts() {
	local pid
	pid=$(daemon_pid)
	if is_mounted "$MNT"; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	[ -n "$pid" ] && ! wait_pid_gone "$pid" 10 && kill "$pid" 2>/dev/null
	return 0
}
at_exit cleanup_mounts

# umount_and_wait: umount(8) and the daemon exits by itself, status 0.
umount_and_wait() {
	local pid
	pid=$(daemon_pid)
	umount "$MNT" || return 1
	[ -n "$pid" ] || return 1
	wait_pid_gone "$pid" $((10 * SWARMFS_TIMEOUT_FACTOR))
}

# ---- mount -t fuse3 'swarmfs#DATA' -------------------------------------------

out=$(mount -t fuse3 "$swarmfs_bin#$DATA" "$MNT" \
	-o allow_other,nofail,_netdev,noatime,node=fstab-node,snapshot-interval=0 2>&1)
rc=$?
is "$rc" 0 "mount -t fuse3 'swarmfs#DATA' succeeds${out:+ ($out)}"
# No wait: mount(8) returns only once the mount answers.
ok "the mount answers as soon as mount(8) returns" test -d "$MNT/deployments/default"
is "$(findmnt -n -o SOURCE,FSTYPE "$MNT")" "$DATA fuse.swarmfs" \
	"findmnt shows the data dir as the source and fuse.swarmfs as the type"
ok "allow_other reached the kernel" grep -q "$MNT fuse.swarmfs .*allow_other" /proc/mounts
is "$(jq -r .node "$MNT/status.json")" fstab-node "-o node=NAME sets the node name"
deployment nginx:1.25 >"$MNT/deployments/default/web.json"
is "$(jq -r .spec.image "$MNT/deployments/default/web.json")" nginx:1.25 "a write through it is applied"
pid=$(daemon_pid)
ok "swarmfs runs as a daemon (its own session)" test "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid"
ok "umount unmounts and the daemon exits" umount_and_wait
ok "nothing is mounted any more" not is_mounted "$MNT"

# ---- mount -T FSTAB MNT ------------------------------------------------------

printf '# a private fstab\n%s#%s %s fuse3 defaults,allow_other,nofail,_netdev,x-systemd.requires=network.target 0 0\n' \
	"$swarmfs_bin" "$DATA" "$MNT" >"$TMP/fstab"
out=$(mount -T "$TMP/fstab" "$MNT" 2>&1)
is "$?" 0 "mount -T FSTAB MNT mounts the fstab line${out:+ ($out)}"
is "$(jq -r .spec.image "$MNT/deployments/default/web.json" 2>/dev/null)" nginx:1.25 \
	"the data written before is there"
ok "umount unmounts it" umount_and_wait

printf '%s#%s %s fuse3 ro,noauto 0 0\n' "$swarmfs_bin" "$DATA" "$MNT" >"$TMP/fstab"
mount -T "$TMP/fstab" "$MNT" 2>"$TMP/err"
is "$?" 0 "a read-only fstab line mounts"
is "$(deployment x | write_errno "$MNT/deployments/default/web.json")" open:EROFS \
	"and refuses writes with EROFS"
ok "umount unmounts the read-only mount" umount_and_wait

# ---- bad options are an error, with a precise message ------------------------

mount -t fuse3 "$swarmfs_bin#$DATA" "$MNT" -o allow_other,bogus-option 2>"$TMP/err"
rc=$?
ok "an unknown mount option fails the mount" exited_with_error "$rc"
ok "and names the option" grep -q "swarmfs: invalid mount options: .*bogus-option" "$TMP/err"
ok "nothing is mounted" not is_mounted "$MNT"
mount -t fuse3 "$swarmfs_bin#$DATA" "$MNT" -o sync=sometimes 2>"$TMP/err"
ok "a bad swarmfs option in -o fails the mount" exited_with_error "$?"
ok "and says which" grep -q "swarmfs: invalid -o sync=sometimes" "$TMP/err"
mount -t fuse3 "$swarmfs_bin#$DATA" "$TMP/no-such-dir" 2>"$TMP/err"
ok "a missing mount point fails the mount" exited_with_error "$?"
ok "and says so" grep -q "mount point .*does not exist" "$TMP/err"
cleanup_mounts

# ---- forms naming only `swarmfs`, found on the default PATH ------------------

if unshare -m true 2>/dev/null; then
	# Runs in a private mount namespace; prints one "ok/not ok DESC" line
	# per check for the outer script to count.
	cat >"$TMP/inner.sh" <<'EOF'
set -u
bin=$1 data=$2 mnt=$3 tmp=$4
mount --make-rprivate / || exit 1
mount -t tmpfs swarmfs-test /usr/local/sbin || exit 1
ln -s "$bin" /usr/local/sbin/swarmfs
check() { d=$1; shift; if "$@"; then echo "ok $d"; else echo "not ok $d"; fi; }
trap 'umount -l "$mnt" 2>/dev/null; umount -l /usr/local/sbin 2>/dev/null' EXIT
pid_gone() {
	p=$(tr -dc 0-9 <"$data/swarmfs.lock")
	umount "$mnt" || return 1
	for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}
printf 'swarmfs#%s %s fuse3 defaults,allow_other 0 0\n' "$data" "$mnt" >"$tmp/fstab.hash"
check "fstab 'swarmfs#DATA MNT fuse3' mounts" mount -T "$tmp/fstab.hash" "$mnt"
check "its documents are there" test -f "$mnt/deployments/default/web.json"
check "umount stops it" pid_gone
printf '%s %s fuse.swarmfs defaults,allow_other 0 0\n' "$data" "$mnt" >"$tmp/fstab.type"
check "fstab 'DATA MNT fuse.swarmfs' mounts" mount -T "$tmp/fstab.type" "$mnt"
check "mount -a sees it mounted already" mount -T "$tmp/fstab.type" -a
check "and mounts it only once" test "$(grep -c " $mnt fuse.swarmfs " /proc/mounts)" = 1
check "its documents are there" test -f "$mnt/deployments/default/web.json"
check "umount stops it" pid_gone
EOF
	unshare -m sh "$TMP/inner.sh" "$swarmfs_bin" "$DATA" "$MNT" "$TMP" >"$TMP/inner.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok }" ;;
		"not ok "*) fail "${line#not ok }" ;;
		*) diag "$line" ;;
		esac
	done <"$TMP/inner.out"
	grep -q '^ok' "$TMP/inner.out" || fail "the private mount namespace checks ran"
else
	skip "fstab forms naming only 'swarmfs'" "unshare -m is not permitted here"
fi

done_testing
