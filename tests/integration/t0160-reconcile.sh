#!/bin/sh
# t0160-reconcile.sh - contrib/reconcile/swarmfs-reconcile against a real
# mount: option errors; --once creates NAME-0..N-1 spread over the nodes of
# status.json with the right fields; a second pass writes nothing; scaling
# down removes the highest ordinal first; image changes, deleted deployments,
# orphans, standalone pods and namespaces; the events-driven mode reacts to
# changes without a restart; --podman with a stand-in podman on PATH.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_fuse
require_cmd jq
RECONCILE=${SWARMFS_RECONCILE:-${top_srcdir:-$(dirname "$0")/../..}/contrib/reconcile/swarmfs-reconcile}
[ -f "$RECONCILE" ] || skip_all "'$RECONCILE' not found"

M=$TMP/m
D=$TMP/d
mount_swarmfs "$D" "$M" --node node-1 || bail_out "cannot mount"

rec() { # rec ARGS...: runs the reconciler, output in $TMP/out, status returned
	bash "$RECONCILE" "$@" >"$TMP/out" 2>&1 3>&-
}
out_has() { grep -qF -- "$1" "$TMP/out"; }
revision() { jq .revision "$M/status.json"; }
field() { jq -r "$2" "$M/pods/$1.json" 2>/dev/null; } # field NS/POD FILTER
pods_of() { # pods_of NS: the pod names, sorted
	local f
	for f in "$M/pods/$1"/*.json; do
		[ -e "$f" ] || continue
		basename "$f" .json
	done | sort | tr '\n' ' ' | sed 's/ $//'
}
deploy() { # deploy NS NAME IMAGE REPLICAS
	printf '{"metadata":{"labels":{"app":"%s"}},"spec":{"image":"%s","replicas":%s}}\n' \
		"$2" "$3" "$4" >"$M/deployments/$1/$2.json"
}

# ---- options -------------------------------------------------------------------------
rec --bogus
rc=$?
ok "an unknown option exits 2" [ "$rc" = 2 ]
ok "... naming it" out_has "unknown option '--bogus'"
rec --mount
ok "--mount without a directory exits 2" [ $? = 2 ]
ok "... and says so" out_has "option '--mount' needs an argument"
rec --once=yes --mount "$M"
ok "--once=yes exits 2: it takes no argument" [ $? = 2 ]
ok "... and says so" out_has "option '--once' takes no argument"
rec --node Not_A_Label --mount "$M" --once
ok "an invalid --node exits 2" [ $? = 2 ]
ok "... naming it" out_has "invalid node name 'Not_A_Label'"
rec --mount "$M" extra
ok "a stray argument exits 2" [ $? = 2 ]
ok "... naming it" out_has "unexpected argument 'extra'"
rec --mount "$TMP" --once
ok "a directory that is not a mount exits 1" [ $? = 1 ]
ok "... and says why" out_has "'$TMP' is not a swarmfs mount"
rec --help
ok "--help exits 0" [ $? = 0 ]
ok "--help lists every option" eval 'out_has --mount && out_has --once && out_has --podman && out_has --node'

# ---- the node list: this node and the peers the sidecar names ---------------------------
# status.json shows the peers of DATA/sync-status.json even while no sidecar
# runs, so three nodes are listed without starting any.
cat >"$D/sync-status.json" <<'EOF'
{"node": "node-1", "peers": [
  {"url": "tcp://127.0.0.1:1", "node": "node-3", "connected": true},
  {"url": "tcp://127.0.0.1:2", "node": "node-2", "connected": true},
  {"url": "tcp://127.0.0.1:3", "node": null, "connected": false}]}
EOF
is "$(jq -c '[.node] + [.peers[].node | strings] | sort' "$M/status.json")" '["node-1","node-2","node-3"]' \
	"status.json lists three nodes"

# ---- --once: create -------------------------------------------------------------------
deploy default web nginx:1.25 3
mkdir "$M/deployments/prod"
deploy prod cache redis:7 2
# A standalone pod (no spec.deployment) is not the reconciler's.
echo '{"spec":{"image":"busybox"}}' >"$M/pods/default/debug.json"
rec --mount "$M" --once
ok "--once exits 0" [ $? = 0 ] || diag "$(cat "$TMP/out")"
is "$(pods_of default)" "debug web-0 web-1 web-2" "pods web-0..2 created next to the standalone pod"
is "$(pods_of prod)" "cache-0 cache-1" "pods of namespace prod created (pods/prod made)"
is "$(field default/web-0 '[.spec.deployment, .spec.image, .status.phase, .metadata.labels.app] | join(" ")')" \
	"web nginx:1.25 Pending web" "a pod carries spec.deployment, spec.image, status.phase Pending and the labels"
is "$(for i in 0 1 2; do field "default/web-$i" .spec.node; done | tr '\n' ' ')" "node-1 node-2 node-3 " \
	"web's pods are spread ordinal modulo the sorted node list"
is "$(for i in 0 1; do field "prod/cache-$i" .spec.node; done | tr '\n' ' ')" "node-1 node-2 " \
	"so are cache's"
is "$(field default/debug '.spec.image')" busybox "the standalone pod is untouched"
ok "what it did is printed" out_has "created pods/default/web-2 (node node-3, image nginx:1.25)"

rev=$(revision)
rec --mount "$M" --once
ok "a second pass exits 0" [ $? = 0 ]
is "$(revision)" "$rev" "a second pass writes nothing"
is "$(cat "$TMP/out")" "" "... and prints nothing"

# ---- scale down, highest ordinal first; scale up leaves the rest alone --------------------
deploy default web nginx:1.25 5
rec --mount "$M" --once
is "$(pods_of default)" "debug web-0 web-1 web-2 web-3 web-4" "scaled up to 5"
is "$(field default/web-3 .spec.node) $(field default/web-4 .spec.node)" "node-1 node-2" \
	"new pods go to the least-loaded nodes"
is "$(field default/web-0 .metadata.version)" 1 "scaling up does not rewrite web-0"
deploy default web nginx:1.25 2
rec --mount "$M" --once
is "$(pods_of default)" "debug web-0 web-1" "scaled down to 2"
is "$(grep -o 'deleted pods/default/web-[0-9]' "$TMP/out" | tr '\n' ' ')" \
	"deleted pods/default/web-4 deleted pods/default/web-3 deleted pods/default/web-2 " \
	"from the highest ordinal down"
is "$(field default/web-0 .metadata.version),$(field default/web-1 .metadata.version)" "1,1" \
	"the pods kept are not rewritten"

# ---- phases, image changes, tampering --------------------------------------------------------
jq '.status.phase = "Running"' "$M/pods/default/web-0.json" >"$TMP/p" && cp "$TMP/p" "$M/pods/default/web-0.json"
rec --mount "$M" --once
is "$(field default/web-0 .status.phase)" Running "a correct Running pod keeps its phase"
deploy default web nginx:1.27 2
rec --mount "$M" --once
is "$(field default/web-0 '.spec.image + " " + .status.phase') $(field default/web-1 .spec.image)" \
	"nginx:1.27 Pending nginx:1.27" "an image change rewrites every pod, back to Pending"
is "$(field default/web-0 .spec.node)" node-1 "... on the same node"
ok "... printed as updates" out_has "updated pods/default/web-1 (node node-2, image nginx:1.27)"
jq '.spec.image = "evil:1" | .spec.node = "node-9"' "$M/pods/default/web-1.json" >"$TMP/p" &&
	cp "$TMP/p" "$M/pods/default/web-1.json"
rec --mount "$M" --once
is "$(field default/web-1 '.spec.image + " " + .spec.node')" "nginx:1.27 node-2" \
	"a tampered pod (image, unknown node) is put right"

# ---- a version conflict: ESTALE, that pod is read and planned again ---------------------
# A stand-in mv changes web-1 behind the reconciler's back just before the
# rename that commits its update, once.
mkdir -p "$TMP/mvbin"
cat >"$TMP/mvbin/mv" <<'EOF'
#!/bin/bash
case ${!#} in
*/pods/default/web-1.json)
	if [ ! -e "$MV_MARK" ]; then
		: >"$MV_MARK"
		jq 'del(.metadata.version) | .status.phase = "Unknown"' "${!#}" >"$MV_MARK.doc" &&
			cp "$MV_MARK.doc" "${!#}"
	fi
	;;
esac
exec /bin/mv "$@"
EOF
chmod +x "$TMP/mvbin/mv"
export MV_MARK=$TMP/mv.mark
v1=$(field default/web-1 .metadata.version)
deploy default web nginx:1.29 2
PATH=$TMP/mvbin:$PATH rec --mount "$M" --once
ok "a pass that meets a version conflict still exits 0" [ $? = 0 ] || diag "$(cat "$TMP/out")"
ok "... the conflict happened" test -e "$MV_MARK"
is "$(field default/web-1 '.spec.image + " " + .status.phase + " " + (.metadata.version | tostring)')" \
	"nginx:1.29 Pending $((v1 + 2))" "... and web-1 was planned again from the newer version and written"
ok "... leaving no scratch file behind" not eval 'ls -a "$M/pods/default" | grep -q reconcile'
deploy default web nginx:1.27 2
rec --mount "$M" --once

# ---- deletes, orphans ------------------------------------------------------------------------
rm "$M/deployments/prod/cache.json"
echo '{"spec":{"image":"x","deployment":"gone"}}' >"$M/pods/default/gone-0.json"
rec --mount "$M" --once
is "$(pods_of prod)" "" "the pods of a deleted deployment are deleted"
is "$(pods_of default)" "debug web-0 web-1" "an orphan pod (its deployment does not exist) is deleted"

# ---- events: one reconciler, never restarted, reacts to every change ---------------------
bash "$RECONCILE" --mount "$M" >"$TMP/daemon.log" 2>&1 3>&- &
daemon=$!
track_pid "$daemon"
ok "the daemon says it is watching" wait_for 10 grep -q "watching '$M' as node 'node-1'" "$TMP/daemon.log"

has_pods() { [ "$(pods_of "$1")" = "$2" ]; }
deploy default api api:1 2
ok "a new deployment gets its pods" wait_for 10 has_pods default "api-0 api-1 debug web-0 web-1"
deploy default api api:1 4
ok "scale up" wait_for 10 has_pods default "api-0 api-1 api-2 api-3 debug web-0 web-1"
deploy default api api:1 1
ok "scale down" wait_for 10 has_pods default "api-0 debug web-0 web-1"
image_is() { [ "$(field "$1" .spec.image)" = "$2" ]; }
deploy default api api:2 1
ok "an image change" wait_for 10 image_is default/api-0 api:2
rm "$M/pods/default/web-1.json"
ok "a pod deleted by hand comes back" wait_for 10 has_pods default "api-0 debug web-0 web-1"
mkdir "$M/deployments/team"
deploy team svc svc:1 2
ok "a deployment in a new namespace gets pods/team and its pods" wait_for 10 has_pods team "svc-0 svc-1"
rm -r "$M/deployments/team"
ok "removing the namespace's deployments removes its pods" wait_for 10 has_pods team ""
rm "$M/deployments/default/api.json"
ok "a deleted deployment loses its pods" wait_for 10 has_pods default "debug web-0 web-1"
ok "all that without restarting the daemon" kill -0 "$daemon"
# Quiet once converged: our own writes bring events, which must plan nothing.
rev=$(revision)
deploy default web nginx:1.27 2 # same content: one version more, no pod change
# Events are handled in order: once the marker's pod exists, the rewrite
# before it has been reconciled.
deploy default marker m:1 1
ok "a marker deployment after it gets its pod" wait_for 10 test -e "$M/pods/default/marker-0.json"
is "$(($(revision) - rev))" 3 "a rewrite that changes nothing costs no pod write (3 changes: web, marker, its pod)"
rm "$M/deployments/default/marker.json"
ok "the marker's pod goes" wait_for 10 not test -e "$M/pods/default/marker-0.json"
kill "$daemon"
wait "$daemon"
is "$?" 0 "SIGTERM stops the daemon with status 0"
ok "it logged its work" grep -q "deleted pods/default/api-0" "$TMP/daemon.log"

# ---- --podman, with a stand-in podman ------------------------------------------------------
mkdir -p "$TMP/bin" "$TMP/podman"
cat >"$TMP/bin/podman" <<'EOF'
#!/bin/bash
# A stand-in for podman: one file per container, "NAMESPACE IMAGE".
st=$FAKE_PODMAN
echo "$*" >>"$st/calls"
cmd=$1
shift
case $cmd in
ps)
	ns="" fmt=""
	while [ $# -gt 0 ]; do
		case $1 in
		--filter) case $2 in label=swarmfs.namespace=*) ns=${2#label=swarmfs.namespace=} ;; esac; shift ;;
		--format) fmt=$2; shift ;;
		esac
		shift
	done
	for f in "$st"/c.*; do
		[ -e "$f" ] || continue
		read -r cns img <"$f"
		case $fmt in
		*Names*) [ -n "$ns" ] && [ "$ns" != "$cns" ] || printf '%s\t%s\n' "${f#"$st"/c.}" "$img" ;;
		*) echo "$cns" ;;
		esac
	done
	;;
run)
	name="" ns="" img=""
	while [ $# -gt 1 ]; do
		case $1 in
		--name) name=$2; shift ;;
		--label) case $2 in swarmfs.namespace=*) ns=${2#*=} ;; esac; shift ;;
		--env) shift ;;
		esac
		shift
	done
	img=$1
	case $img in broken*) echo "Error: $img: image not known" >&2; exit 125 ;; esac
	[ ! -e "$st/c.$name" ] || { echo "Error: the container name \"$name\" is already in use" >&2; exit 125; }
	echo "$ns $img" >"$st/c.$name"
	echo 0123456789ab
	;;
rm)
	[ "$1" = -f ] && shift
	rm -f "$st/c.$1"
	;;
esac
EOF
chmod +x "$TMP/bin/podman"
export FAKE_PODMAN=$TMP/podman
containers() { (cd "$TMP/podman" && ls c.* 2>/dev/null | sed 's/^c\.//' | tr '\n' ' ' | sed 's/ $//'); }

deploy default web nginx:1.27 3
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman
ok "--podman --once exits 0" [ $? = 0 ] || diag "$(cat "$TMP/out")"
is "$(containers)" "swarmfs.default.web-0" "only the pod on the local node runs"
is "$(cat "$TMP/podman/c.swarmfs.default.web-0")" "default nginx:1.27" "with the pod's image and namespace label"
is "$(field default/web-0 .status.phase) $(field default/web-1 .status.phase)" "Running Pending" \
	"the local pod is Running, the others stay Pending"
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman --node node-2
is "$(containers)" "swarmfs.default.web-1" "--node node-2: this machine runs node-2's pod, not node-1's"
is "$(field default/web-1 .status.phase)" Running "... and web-1 is Running"
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman
is "$(containers)" "swarmfs.default.web-0" "back as node-1"
: >"$TMP/podman/calls"
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman
ok "a converged pass runs and removes nothing" not grep -Eq '^(run|rm) ' "$TMP/podman/calls"
deploy default web nginx:1.28 3
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman
is "$(cat "$TMP/podman/c.swarmfs.default.web-0")" "default nginx:1.28" "an image change replaces the container"
is "$(field default/web-0 .status.phase)" Running "... and the pod is Running again"
deploy default web broken:1 3
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman
ok "a failed podman run is an error (status 1)" [ $? = 1 ]
is "$(field default/web-0 .status.phase)" Failed "... and the pod is Failed"
ok "... with podman's reason" out_has "image not known"
rm "$M/deployments/default/web.json"
PATH=$TMP/bin:$PATH rec --mount "$M" --once --podman --node node-2
is "$(containers)" "" "the containers of a deleted deployment are removed"
is "$(pods_of default)" "debug" "... and so are its pods"

# Without podman on PATH, --podman maintains pods/ only.
deploy default web nginx:1 1
PATH=/usr/bin:/bin command -v podman >/dev/null 2>&1 && nopodman=0 || nopodman=1
if [ "$nopodman" = 1 ]; then
	PATH=/usr/bin:/bin rec --mount "$M" --once --podman
	ok "--podman without podman still exits 0" [ $? = 0 ]
	ok "... and warns" out_has "podman is not installed: maintaining pods/ only"
	is "$(pods_of default)" "debug web-0" "... and maintains pods/"
else
	skip "--podman without podman" "podman is installed"
fi

done_testing
