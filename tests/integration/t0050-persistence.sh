#!/bin/sh
# t0050-persistence.sh - restart and verify: the same bytes after a clean
# unmount and after kill -9; swarmfs-admin status, check, export, import,
# log and compact on the same data dir, with and without the mount live.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3 sqlite3
[ -x "$SWARMFS_ADMIN" ] || skip_all "'$SWARMFS_ADMIN' not built"

data=$TMP/data
mnt=$TMP/mnt
admin() {
	"$SWARMFS_ADMIN" --data-dir "$data" "$@"
}

# tree_sums DIR: checksums of every resource file and the list of every
# namespace: the state as a user sees it.
tree_sums() {
	(
		cd "$1" || exit 1
		find deployments services pods ingresses -mindepth 1 -type d | sort
		find deployments services pods ingresses -type f | sort | xargs -r sha256sum
	)
}

# tree_content DIR: the same without the store-owned metadata, so that a
# copy made by import compares equal.
tree_content() {
	(
		cd "$1" || exit 1
		find deployments services pods ingresses -mindepth 1 -type d | sort
		for f in $(find deployments services pods ingresses -type f | sort); do
			printf '%s ' "$f"
			jq -cS 'del(.metadata.version, .metadata.created, .metadata.updated, .metadata.node)' "$f"
		done
	)
}

same_tree() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diag "$(diff "$1" "$2" | head -20)"
	return 1
}

if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount"
	done_testing
fi

# ---- a varied state ----------------------------------------------------------

mkdir "$mnt/deployments/prod" "$mnt/services/prod" "$mnt/pods/batch" "$mnt/ingresses/edge"
for i in 1 2 3; do
	deployment "nginx:1.2$i" "$i" >"$mnt/deployments/default/web.json"
done
cat >"$mnt/deployments/prod/api.json" <<'EOF'
{"metadata":{"labels":{"app":"api","tier":"back"},"annotations":{"owner":"team-a"}},
 "spec":{"image":"registry.example.com/api:2.0","replicas":5,"ports":[{"containerPort":8080}],
         "env":{"MODE":"prod","LOG":"info"}}}
EOF
cat >"$mnt/services/default/web.json" <<'EOF'
{"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080,"protocol":"TCP"}],"type":"NodePort"}}
EOF
cat >"$mnt/services/prod/api.json" <<'EOF'
{"spec":{"selector":{"app":"api"},"ports":[{"port":53,"protocol":"UDP"}]}}
EOF
for i in 1 2 3; do
	printf '{"spec":{"image":"busybox:1.36","node":"node-%d","deployment":"web"},"status":{"phase":"Running"}}\n' \
		"$i" >"$mnt/pods/batch/job-$i.json"
done
deployment gone:1 >"$mnt/deployments/default/gone.json"
rm "$mnt/deployments/default/gone.json"
cat >"$mnt/ingresses/edge/site.json" <<'EOF'
{"spec":{"rules":[{"host":"example.com","path":"/","service":"web","port":80},
                  {"host":"api.example.com","path":"/v2","service":"api","port":8080}]}}
EOF
n=$(cd "$mnt" && find deployments services pods ingresses -type f | wc -l)
is "$n" 8 "setup: 8 resources in 4 kinds and 5 namespaces"

tree_sums "$mnt" >"$TMP/sums.0"
tree_content "$mnt" >"$TMP/content.0"

# ---- clean unmount, then kill -9 -------------------------------------------------

umount_swarmfs "$mnt"
is "$?" 0 "clean unmount"
if mount_swarmfs "$data" "$mnt"; then
	tree_sums "$mnt" >"$TMP/sums.1"
	ok "after unmount and remount: every byte the same" same_tree "$TMP/sums.0" "$TMP/sums.1"
	crash_swarmfs "$mnt"
	pass "kill -9 and fusermount3 -uz"
else
	fail "remount after clean unmount"
fi
if mount_swarmfs "$data" "$mnt"; then
	tree_sums "$mnt" >"$TMP/sums.2"
	ok "after kill -9 and remount: every byte the same" same_tree "$TMP/sums.0" "$TMP/sums.2"
	is "$(version_of "$mnt/deployments/default/web.json")" 3 "versions survive"
	ok "deleted resource stays deleted" [ ! -e "$mnt/deployments/default/gone.json" ]
else
	fail "remount after kill -9"
	done_testing
fi

# ---- swarmfs-admin with the mount live -------------------------------------------

admin status >"$TMP/status.txt" 2>&1
is "$?" 0 "live: status exits 0"
ok "live: status names the node and revision" grep -q revision "$TMP/status.txt"
admin status --json >"$TMP/status.json" 2>&1
ok "live: status --json parses" jq -e . "$TMP/status.json" >/dev/null
is "$(jq -r .resources.deployments "$TMP/status.json")" 2 "live: status counts 2 deployments"
is "$(jq -r .resources.pods "$TMP/status.json")" 3 "live: status counts 3 pods"
rev=$(jq -r .revision "$TMP/status.json")
ok "status.json on the mount agrees on the revision ($rev)" \
	jq -e --argjson r "$rev" '.revision == $r' \
	"$mnt/status.json" >/dev/null

out=$(admin check 2>&1)
is "$?" 0 "live: check exits 0"
is "$out" ok "live: check says ok"

admin export -o "$TMP/export.json" 2>"$TMP/err"
is "$?" 0 "live: export exits 0"
ok "live: export is JSON" jq -e . "$TMP/export.json" >/dev/null
is "$(jq '.resources | length' "$TMP/export.json")" 8 "live: export holds the 8 resources"
admin export >"$TMP/export-stdout.json" 2>"$TMP/err"
is "$(jq -c '.resources' "$TMP/export-stdout.json")" "$(jq -c '.resources' "$TMP/export.json")" \
	"export to stdout equals export -o"

admin log >"$TMP/log.txt" 2>&1
is "$?" 0 "live: log exits 0"
ok "live: log shows the deleted resource's history" grep -q gone "$TMP/log.txt"
ok "live: log --json lines parse" sh -c "'$SWARMFS_ADMIN' --data-dir '$data' log --json | jq -e . >/dev/null"

admin compact --keep 3 >"$TMP/compact.txt" 2>&1
is "$?" 0 "live: compact --keep 3 exits 0"
tree_sums "$mnt" >"$TMP/sums.3"
ok "live: after compact every byte the same" same_tree "$TMP/sums.0" "$TMP/sums.3"
deployment nginx:1.30 >"$mnt/deployments/default/web.json"
is "$(version_of "$mnt/deployments/default/web.json")" 4 "live: after compact, versions continue"
ok "deleted resource still deleted after compact" [ ! -e "$mnt/deployments/default/gone.json" ]
deployment gone:2 >"$mnt/deployments/default/gone.json"
v=$(version_of "$mnt/deployments/default/gone.json")
ok "re-created resource continues after its tombstone (version $v > 2)" [ "${v:-0}" -gt 2 ]
rm "$mnt/deployments/default/gone.json"
deployment nginx:1.23 3 >"$mnt/deployments/default/web.json"

# Import while mounted: the mount shows the change at once.
jq '.resources |= map(if .kind == "Deployment" and .metadata.name == "api"
	then .spec.image = "registry.example.com/api:3.0" | del(.metadata.version) else . end)' \
	"$TMP/export.json" >"$TMP/import-mod.json"
cat "$mnt/deployments/prod/api.json" >/dev/null
admin import "$TMP/import-mod.json" >"$TMP/import.txt" 2>&1
is "$?" 0 "live: import exits 0"
is "$(jq -r .spec.image "$mnt/deployments/prod/api.json")" registry.example.com/api:3.0 \
	"live: the mount shows the imported change at once"
umount_swarmfs "$mnt"
is "$?" 0 "unmount after admin work"

# ---- swarmfs-admin without a mount -----------------------------------------------

is "$(admin check 2>&1)" ok "offline: check says ok"
admin status --json >"$TMP/status2.json" 2>&1
is "$?" 0 "offline: status exits 0"
is "$(jq -r .resources.services "$TMP/status2.json")" 2 "offline: status counts 2 services"
admin export -o "$TMP/export2.json" 2>"$TMP/err"
is "$?" 0 "offline: export exits 0"
is "$(jq -r '.resources[] | select(.metadata.name == "api" and .kind == "Deployment") | .spec.image' "$TMP/export2.json")" \
	registry.example.com/api:3.0 "offline: export has the imported change"
admin log >/dev/null 2>&1
is "$?" 0 "offline: log exits 0"
admin compact --keep 1 >/dev/null 2>&1
is "$?" 0 "offline: compact exits 0"
is "$(sqlite3 "$data/store.db" 'PRAGMA integrity_check' 2>&1)" ok "offline: PRAGMA integrity_check ok"

# Import into a fresh data dir gives the same state.
data2=$TMP/data2
"$SWARMFS_ADMIN" --data-dir "$data2" import "$TMP/export2.json" >"$TMP/import2.txt" 2>&1
is "$?" 0 "offline: import into a fresh data dir exits 0"
if mount_swarmfs "$data" "$mnt"; then
	tree_content "$mnt" >"$TMP/content.a"
	umount_swarmfs "$mnt"
fi
if mount_swarmfs "$data2" "$mnt"; then
	tree_content "$mnt" >"$TMP/content.b"
	ok "imported copy: same namespaces and documents" same_tree "$TMP/content.a" "$TMP/content.b"
	umount_swarmfs "$mnt"
else
	fail "mount the imported copy"
fi

# An invalid import changes nothing.
jq '.resources[0].spec.bogus = 1' "$TMP/export2.json" >"$TMP/bad-import.json"
before=$("$SWARMFS_ADMIN" --data-dir "$data2" export | jq -c .resources)
"$SWARMFS_ADMIN" --data-dir "$data2" import "$TMP/bad-import.json" >/dev/null 2>"$TMP/err"
rc=$?
ok "invalid import exits non-zero" [ $rc -ne 0 ]
ok "invalid import names the field" grep -q bogus "$TMP/err"
after=$("$SWARMFS_ADMIN" --data-dir "$data2" export | jq -c .resources)
is "$after" "$before" "invalid import changed nothing"

"$SWARMFS_ADMIN" --data-dir "$data" no-such-command >/dev/null 2>"$TMP/err"
rc=$?
ok "admin: unknown command exits non-zero" exited_with_error $rc
is "$(grep -c . "$TMP/err")" 1 "admin: one line on stderr"

done_testing
