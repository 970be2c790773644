#!/bin/sh
# t0020-errors.sh - rejected writes: invalid JSON or schema, unknown fields,
# version conflicts, size limit, read-only snapshots; the old bytes stay,
# status.json shows the reason, and the events stream reports every change.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3

data=$TMP/data
mnt=$TMP/mnt
if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount"
	done_testing
fi
d=$mnt/deployments/default

deployment nginx:1.25 3 >"$d/web.json"
deployment nginx:1.25 3 >"$d/web.json"
cp "$d/web.json" "$TMP/before"
is "$(version_of "$d/web.json")" 2 "setup: web.json at version 2"

unchanged() {
	if cmp -s "$TMP/before" "$d/web.json"; then
		return 0
	fi
	diag "web.json changed:"
	diag "$(diff "$TMP/before" "$d/web.json" | head -10)"
	return 1
}

# one_of GOT WANT...: GOT equals one of WANT.
one_of() {
	local got=$1 w
	shift
	for w in "$@"; do
		[ "$got" = "$w" ] && return 0
	done
	diag "got '$got', wanted one of: $*"
	return 1
}

# ---- invalid documents through ordinary tools ----------------------------------

printf '{"spec":{"image":"","replicas":3}}\n' >"$TMP/bad.json"
tee "$d/web.json" <"$TMP/bad.json" >/dev/null 2>"$TMP/err"
ok "tee of an invalid document exits non-zero" [ $? -ne 0 ]
ok "tee: old bytes byte-identical" unchanged

cp "$TMP/bad.json" "$d/web.json" 2>"$TMP/err"
ok "cp of an invalid document exits non-zero" [ $? -ne 0 ]
ok "cp: old bytes byte-identical" unchanged

bash -c "echo '{bad' > '$d/web.json'" 2>"$TMP/err"
ok "bash: echo '{bad' > f exits non-zero" [ $? -ne 0 ]
ok "echo '{bad': old bytes byte-identical" unchanged

bash -c "echo '{\"spec\":{\"image\":\"x\",\"replicas\":-1}}' > '$d/web.json'" 2>"$TMP/err"
ok "bash: echo of a complete invalid document exits non-zero" [ $? -ne 0 ]
ok "complete invalid document: old bytes byte-identical" unchanged

bash -c "echo '{bad' > '$d/new.json'" 2>/dev/null
ok "rejected create leaves no file" [ ! -e "$d/new.json" ]
# The name must be gone when close() returns, not when the kernel's later
# release reaches the daemon: 20 times, looked at at once.
seen=0
for i in $(seq 1 20); do
	printf '{"metadata":{"version":7},"spec":{"image":"x"}}' >"$d/gone-$i.json" 2>/dev/null
	[ -e "$d/gone-$i.json" ] && seen=$((seen + 1))
done
is "$seen" 0 "a refused create is gone as close() returns (20 tries)"

is "$(printf '{"spec":{"image":"x","bogus":1}}' | write_errno "$d/web.json")" \
	"write:EINVAL" "unknown field: write() fails with EINVAL"
ok "unknown field: unchanged" unchanged
is "$(printf '{"spec":{"image":"x","ports":[{"containerPort":80,"hostPort":1}]}}' | write_errno "$d/web.json")" \
	"write:EINVAL" "unknown nested field: EINVAL"
is "$(printf '{"spec":{"image":"x",' | write_errno "$d/web.json")" \
	"close:EINVAL" "truncated document: close() fails with EINVAL"
ok "truncated document: unchanged" unchanged
is "$(printf '{"spec":{"image":"x"}} {' | write_errno "$d/web.json")" \
	"write:EINVAL" "trailing garbage: EINVAL"
is "$(printf '{"kind":"Service","spec":{"image":"x"}}' | write_errno "$d/web.json")" \
	"write:EINVAL" "kind that does not match the path: EINVAL"
is "$(printf '{"metadata":{"name":"other"},"spec":{"image":"x"}}' | write_errno "$d/web.json")" \
	"write:EINVAL" "metadata.name that does not match the path: EINVAL"
is "$(printf '{"spec":{"image":"x","ports":[{"containerPort":70000}]}}' | write_errno "$d/web.json")" \
	"write:EINVAL" "containerPort out of range: EINVAL"
ok "after all rejections: unchanged" unchanged

# ---- version precondition ------------------------------------------------------

r=$(printf '{"metadata":{"version":1},"spec":{"image":"nginx:stale"}}' | write_errno "$d/web.json")
ok "stale metadata.version: fails with ESTALE ($r)" one_of "$r" close:ESTALE write:ESTALE
ok "stale version: current content unchanged" unchanged
r=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"{\"metadata\":{\"version\":1},\"spec\":{\"image\":\"nginx:stale\"}}")
try:
    os.close(fd)
    print("closed")
except OSError as e:
    print(e.strerror)
' "$d/web.json" 2>&1)
ok "stale version: close() says 'Stale file handle' ($r)" one_of "$r" "Stale file handle"
r=$(printf '{"metadata":{"version":2},"spec":{"image":"nginx:1.30"}}' | write_errno "$d/web.json")
is "$r" OK "current metadata.version: applied"
is "$(version_of "$d/web.json")" 3 "current version: now version 3"
cp "$d/web.json" "$TMP/before"
r=$(printf '{"metadata":{"version":5},"spec":{"image":"nginx:future"}}' | write_errno "$d/web.json")
ok "future metadata.version: ESTALE ($r)" one_of "$r" close:ESTALE write:ESTALE
ok "future version: unchanged" unchanged
r=$(printf '{"metadata":{"version":3},"spec":{"image":"x"}}' | write_errno "$d/nosuch.json")
ok "version precondition on a missing resource: ESTALE ($r)" one_of "$r" close:ESTALE write:ESTALE
ok "version precondition on a missing resource: not created" [ ! -e "$d/nosuch.json" ]

# ---- size limit ----------------------------------------------------------------

python3 -c '
import json, sys
print(json.dumps({"spec": {"image": "x", "env": {"BIG": "a" * (1024 * 1024 + 100)}}}))
' >"$TMP/big.json"
r=$(write_errno "$d/web.json" <"$TMP/big.json")
ok "document over 1 MiB: EFBIG ($r)" one_of "$r" write:EFBIG close:EFBIG
ok "over 1 MiB: unchanged" unchanged
python3 -c '
import json, sys
print(json.dumps({"spec": {"image": "x", "env": {"BIG": "a" * (900 * 1024)}}}))
' >"$TMP/large.json"
is "$(write_errno "$d/large.json" <"$TMP/large.json")" OK "900 KiB document accepted"
is "$(stat -c %s "$d/large.json")" "$(cat "$d/large.json" | wc -c)" "900 KiB document: size exact"
is "$(jq -r '.spec.env.BIG | length' "$d/large.json")" $((900 * 1024)) "900 KiB document: content intact"

# ---- snapshots are read-only ---------------------------------------------------

r=$(deployment x | write_errno "$mnt/snapshots/x.json")
ok "create a file directly in snapshots/: EROFS ($r)" one_of "$r" open:EROFS write:EROFS close:EROFS
ok "mkdir snapshots/s1 takes a snapshot" mkdir "$mnt/snapshots/s1"
sd=$mnt/snapshots/s1/deployments/default
ok "snapshot holds web.json" [ -f "$sd/web.json" ]
is "$(jq '.metadata | has("version")' "$sd/web.json")" false "snapshot documents carry no version"
r=$(deployment x | write_errno "$sd/web.json")
ok "overwrite under snapshots/: EROFS ($r)" one_of "$r" open:EROFS write:EROFS close:EROFS
r=$(deployment x | write_errno "$sd/brand-new.json")
ok "create under snapshots/: EROFS ($r)" one_of "$r" open:EROFS write:EROFS close:EROFS
r=$(python3 -c '
import errno, os, sys
try:
    os.unlink(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$sd/web.json")
is "$r" EROFS "rm under snapshots/: EROFS"
ok "mkdir under snapshots/NAME fails" not mkdir "$mnt/snapshots/s1/deployments/newns" 2>/dev/null
deployment nginx:after-snapshot >"$d/web.json"
ok "cp from a snapshot restores one resource" cp "$sd/web.json" "$d/"
is "$(jq -r .spec.image "$d/web.json")" nginx:1.30 "restored content"
is "$(version_of "$d/web.json")" 5 "restore is a new version"

# ---- status.json shows rejected writes -----------------------------------------

ok "status.json parses" jq -e . "$mnt/status.json" >/dev/null
ok "status.json names the JSON path of the unknown field (spec.bogus)" \
	grep -q 'spec\.bogus' "$mnt/status.json"
ok "status.json names the path of the bad port (spec.ports[0].containerPort)" \
	grep -q 'spec\.ports\[0\]\.containerPort' "$mnt/status.json"
ok "status.json names the rejected file" grep -q 'web' "$mnt/status.json"

# ---- events ----------------------------------------------------------------------

cat "$mnt/events" >"$TMP/e1" 2>&1 &
ev1=$!
track_pid $ev1
cat "$mnt/events" >"$TMP/e2" 2>&1 &
ev2=$!
track_pid $ev2
sleep 0.5
deployment nginx:ev 1 >"$d/ev.json"
deployment nginx:ev 2 >"$d/ev.json"
printf '{bad' >"$d/ev.json" 2>/dev/null
rm "$d/ev.json"
mkdir "$mnt/services/evns"
printf '{"spec":{"selector":{"app":"a"},"ports":[{"port":80}]}}' >"$mnt/services/evns/svc.json"

# wait_lines FILE N: FILE has at least N lines (5 s).
wait_lines() {
	local i
	for i in $(seq 100); do
		[ "$(grep -c . "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
ok "reader 1 got the changes" wait_lines "$TMP/e1" 4
ok "reader 2 got the changes" wait_lines "$TMP/e2" 4
sleep 0.3
ok "every event line is one JSON object" jq -e 'type == "object"' "$TMP/e1" >/dev/null
sel='select(.op == "put" or .op == "delete")
	| [.op, .kind, .namespace, .name, (if .op == "put" then .version else "-" end)] | @tsv'
got=$(jq -r "$sel" "$TMP/e1" 2>/dev/null | tr '\t' ' ')
want="put Deployment default ev 1
put Deployment default ev 2
delete Deployment default ev -
put Service evns svc 1"
if [ "$got" = "$want" ]; then
	pass "events: one line per change, right op/kind/namespace/name/version"
else
	fail "events: one line per change, right op/kind/namespace/name/version" \
		"got:" "$got" "want:" "$want" "raw:" "$(cat "$TMP/e1")"
fi
ok "events carry revision and node" \
	jq -e '(.revision | type == "number") and (.node | type == "string")' "$TMP/e1" >/dev/null
revs=$(jq -r .revision "$TMP/e1" 2>/dev/null | tr '\n' ' ')
sorted=$(jq -r .revision "$TMP/e1" 2>/dev/null | sort -nu | tr '\n' ' ')
is "$revs" "$sorted" "event revisions strictly increase"
ok "both readers got every line" cmp -s "$TMP/e1" "$TMP/e2" || diag "$(diff "$TMP/e1" "$TMP/e2")"
ok "the rejected write made no event" [ "$(jq -r 'select(.name == "ev") | .op' "$TMP/e1" | wc -l)" -eq 3 ]

# Open files keep a mount busy, as on any filesystem: readers go first.
kill $ev1 $ev2
wait $ev1 $ev2 2>/dev/null
umount_swarmfs "$mnt"
is "$?" 0 "unmount after the event readers left exits 0"

done_testing
