#!/bin/sh
# check-units.sh - lints the systemd units with `systemd-analyze verify`,
# their ExecStart= pointing at the programs just built, and checks that
# the example sync.conf is one swarmfs-sync accepts.  TAP.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
src=$top_srcdir/contrib/systemd
# TAP helpers and a temporary dir ($TMP, removed at exit) from lib.sh.
. "$top_srcdir/tests/integration/lib.sh"

tmp=$TMP
mkdir "$tmp/bin" "$tmp/units"
ln -s "$(realpath "$top_builddir/fs/swarmfs")" "$tmp/bin/swarmfs"
ln -s "$(realpath "$top_builddir/sync/swarmfs-sync")" "$tmp/bin/swarmfs-sync"

for unit in swarmfs.service swarmfs-sync.service; do
	sed "s|@bindir@|$tmp/bin|g" "$src/$unit.in" >"$tmp/units/$unit"
	if grep -q '@[a-z]*@' "$tmp/units/$unit"; then
		fail "$unit: every @VARIABLE@ is substituted" "$(grep '@[a-z]*@' "$tmp/units/$unit")"
	else
		pass "$unit: every @VARIABLE@ is substituted"
	fi
done

# Facts the units promise, so an edit cannot drop one unnoticed.
check() {
	local unit=$1 line=$2
	if grep -qx -- "$line" "$tmp/units/$unit"; then
		pass "$unit has $line"
	else
		fail "$unit has $line"
	fi
}
check swarmfs.service 'StateDirectory=swarmfs'
check swarmfs.service 'Restart=on-failure'
check swarmfs.service 'DeviceAllow=/dev/fuse rw'
check swarmfs.service 'CapabilityBoundingSet=CAP_SYS_ADMIN'
check swarmfs-sync.service 'StateDirectory=swarmfs'
check swarmfs-sync.service 'Restart=on-failure'
check swarmfs-sync.service 'After=swarmfs.service network-online.target'
check swarmfs-sync.service 'Wants=swarmfs.service network-online.target'
# Any of these gives the mount's service a private mount namespace, and the
# mount would be invisible outside it.
bad=$(grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|MountFlags|PrivateNetwork|ProtectProc|ProcSubset)=' \
	"$tmp/units/swarmfs.service")
if [ -z "$bad" ]; then
	pass "swarmfs.service asks for no private mount namespace"
else
	fail "swarmfs.service asks for no private mount namespace" "$bad"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# --man=no: the pages are not installed yet.
	if systemd-analyze verify --man=no "$tmp/units/swarmfs.service" \
		"$tmp/units/swarmfs-sync.service" >"$tmp/verify.out" 2>&1 &&
		! grep -q . "$tmp/verify.out"; then
		pass "systemd-analyze verify passes both units without a warning"
	else
		fail "systemd-analyze verify passes both units without a warning" "$(cat "$tmp/verify.out")"
	fi
	# The lint must be able to fail: a unit whose ExecStart is missing.
	sed "s|$tmp/bin/swarmfs |$tmp/bin/no-such-swarmfs |" "$tmp/units/swarmfs.service" \
		>"$tmp/units/broken.service"
	if systemd-analyze verify --man=no "$tmp/units/broken.service" >/dev/null 2>&1; then
		fail "systemd-analyze verify rejects a unit whose program is missing"
	else
		pass "systemd-analyze verify rejects a unit whose program is missing"
	fi
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

if "$top_builddir/sync/swarmfs-sync" --config "$src/sync.conf.example" --help >/dev/null 2>"$tmp/conf.err"; then
	pass "swarmfs-sync accepts sync.conf.example"
else
	fail "swarmfs-sync accepts sync.conf.example" "$(cat "$tmp/conf.err")"
fi

done_testing
