#!/bin/sh
# t0002-permissions.sh - `-o allow_other` lets other users read but not
# write (the mount always adds default_permissions); without it they cannot
# even look.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd setpriv
[ "$(id -u)" -eq 0 ] || skip_all "needs root to switch to another user"

data=$TMP/data
mnt=$TMP/mnt
chmod 755 "$TMP"
doc='{"spec":{"image":"nginx:1.25"}}'

# as_nobody CMD...: runs CMD as uid/gid 65534 with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

if ! mount_swarmfs "$data" "$mnt" -o allow_other; then
	fail "mount with -o allow_other"
	done_testing
fi
echo "$doc" >"$mnt/deployments/default/web.json"
ok "allow_other: another user lists a namespace" as_nobody sh -c "ls '$mnt/deployments/default' >/dev/null"
ok "allow_other: another user reads a document" as_nobody sh -c "jq -e .spec.image '$mnt/deployments/default/web.json' >/dev/null"
as_nobody sh -c "echo '$doc' > '$mnt/deployments/default/web.json'" 2>"$TMP/err"
ok "allow_other: another user cannot write" [ $? -ne 0 ]
ok "allow_other: the error is EACCES" grep -q "Permission denied" "$TMP/err" || diag "$(cat "$TMP/err")"
as_nobody mkdir "$mnt/deployments/other" 2>/dev/null
ok "allow_other: another user cannot make a namespace" [ ! -d "$mnt/deployments/other" ]
ok "allow_other: the owner still writes" sh -c "echo '$doc' > '$mnt/deployments/default/api.json'"
ok "allow_other: unmount" umount_swarmfs "$mnt"

if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount without allow_other"
	done_testing
fi
as_nobody ls "$mnt/deployments" >/dev/null 2>"$TMP/err"
ok "without allow_other: another user is refused" [ $? -ne 0 ]
ok "without allow_other: the owner reads" jq -e .spec.image "$mnt/deployments/default/api.json"
ok "without allow_other: unmount" umount_swarmfs "$mnt"
done_testing
