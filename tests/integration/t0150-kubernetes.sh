#!/bin/sh
# t0150-kubernetes.sh - swarmfs-admin export --kubernetes: a v1 List that a
# strict JSON Schema of the emitted Kubernetes subset (tests/data/
# k8s-list.schema.json, written from the v1.32 API reference) accepts, plus
# structural checks no schema expresses (selectors match template labels,
# every swarmfs resource maps to one object, Ingress paths grouped by host),
# the warnings for what Kubernetes would refuse, and -o FILE.  kubectl is
# not in CI; where it is installed, `kubectl kustomize` parses the List
# offline.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_cmd python3 jq
python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema not installed"
src=${top_srcdir:-$(dirname "$0")/../..}
ADMIN=$SWARMFS_ADMIN
[ -x "$ADMIN" ] || bail_out "'$ADMIN' not built"
d=$TMP/d
admin() { "$ADMIN" --data-dir "$d" "$@"; }

cat >"$TMP/state.json" <<'EOF'
{"format": "swarmfs-export", "version": 1,
 "namespaces": {"deployments": ["default", "prod"], "services": ["default", "prod"],
                "pods": ["default"], "ingresses": ["prod"]},
 "resources": [
  {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default",
     "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "x"}},
   "spec": {"image": "nginx:1.25", "replicas": 3,
     "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP",
                "name": "a-very-long-port-name"}],
     "env": {"B": "2", "A": "1"}}},
  {"kind": "Deployment", "metadata": {"name": "cache", "namespace": "prod",
     "labels": {"team owner": "ops", "ok": "fine value!"}},
   "spec": {"image": "redis:7"}},
  {"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}],
            "type": "NodePort"}},
  {"kind": "Service", "metadata": {"name": "api", "namespace": "prod"},
   "spec": {"selector": {"app": "api"}, "ports": [{"port": 443, "name": "https"}]}},
  {"kind": "Pod", "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
   "spec": {"image": "nginx:1.25", "node": "node-1", "deployment": "web"}, "status": {"phase": "Running"}},
  {"kind": "Pod", "metadata": {"name": "loose", "namespace": "default"}, "spec": {"image": "busybox"}},
  {"kind": "Ingress", "metadata": {"name": "site", "namespace": "prod"},
   "spec": {"rules": [{"host": "example.com", "path": "/", "service": "web", "port": 80},
                      {"host": "*.example.org", "path": "/", "service": "web", "port": 80},
                      {"host": "example.com", "path": "/api", "service": "api", "port": 443}]}}
 ]}
EOF
ok "the test state imports" admin import "$TMP/state.json" >/dev/null

admin export --kubernetes >"$TMP/k8s.json" 2>"$TMP/k8s.err"
is "$?" 0 "export --kubernetes exits 0"
ok "its output is JSON" jq -e . "$TMP/k8s.json" >/dev/null

schema_check() { # FILE: every schema error, none when valid
	python3 - "$src/tests/data/k8s-list.schema.json" "$1" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
for e in errors:
    print("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:200]))
    for c in (e.context or [])[:6]:
        print("  %s: %s" % ("/".join(map(str, c.absolute_path)), c.message[:200]))
sys.exit(1 if errors else 0)
PY
}
if out=$(schema_check "$TMP/k8s.json"); then
	pass "the List validates against the strict schema of the Kubernetes subset"
else
	fail "the List validates against the strict schema of the Kubernetes subset" "$out"
fi

# The schema must be able to fail: break one field shape at a time.
broken() { # DESC JQ-FILTER
	jq "$2" "$TMP/k8s.json" >"$TMP/broken.json"
	if schema_check "$TMP/broken.json" >/dev/null; then
		fail "the schema refuses $1"
	else
		pass "the schema refuses $1"
	fi
}
broken "a Deployment without selector" 'del(.items[0].spec.selector)'
broken "containerPort as a string" '.items[0].spec.template.spec.containers[0].ports[0].containerPort = "80"'
broken "an Ingress path without pathType" '(.items[] | select(.kind == "Ingress") | .spec.rules[0].http.paths[0]) |= del(.pathType)'
broken "a backend port as a bare number" '(.items[] | select(.kind == "Ingress") | .spec.rules[0].http.paths[0].backend.service.port) |= 80'
broken "an upper-case name" '.items[0].metadata.name = "Web"'
broken "an unknown member" '.items[1].spec.clusterIPs = 5'
broken "apiVersion v1 for a Deployment" '.items[0].apiVersion = "v1"'

# ---- structure ---------------------------------------------------------------------
k() { jq -r "$@" "$TMP/k8s.json"; }
is "$(k '.apiVersion + " " + .kind')" "v1 List" "a v1 List"
is "$(k '[.items[] | .apiVersion + "/" + .kind] | join(" ")')" \
	"apps/v1/Deployment apps/v1/Deployment v1/Service v1/Service v1/Pod v1/Pod networking.k8s.io/v1/Ingress" \
	"one object per resource, Deployments, Services, Pods, Ingresses"
is "$(k '[.items[] | select(.kind == "Deployment") | .spec.selector.matchLabels == .spec.template.metadata.labels] | all')" \
	true "every Deployment's selector.matchLabels equals its template labels"
is "$(k '.items[] | select(.metadata.name == "web" and .kind == "Deployment") | .spec.selector.matchLabels | tojson')" \
	'{"app":"web","tier":"front"}' "a Deployment's pods carry its labels"
is "$(k '.items[] | select(.metadata.name == "cache") | .spec.selector.matchLabels | tojson')" \
	'{"app":"cache"}' "without valid labels, pods are selected by app=NAME"
svc_sel=$(k '.items[] | select(.kind == "Service" and .metadata.name == "web") | .spec.selector | to_entries | map("\(.key)=\(.value)") | .[]')
tpl=$(k '.items[] | select(.kind == "Deployment" and .metadata.name == "web") | .spec.template.metadata.labels | to_entries | map("\(.key)=\(.value)") | .[]')
ok "the Service's selector picks the Deployment's pods" \
	sh -c 'for l in $1; do echo "$2" | grep -qx "$l" || exit 1; done' - "$svc_sel" "$tpl"
is "$(k '.items[0].spec.replicas')" 3 "replicas"
is "$(k '.items[0].spec.template.spec.containers[0] | .name + " " + .image')" "web nginx:1.25" \
	"the container is named after the Deployment and runs its image"
is "$(k '.items[0].spec.template.spec.containers[0].ports | map("\(.containerPort)/\(.protocol)/\(.name // "-")") | join(" ")')" \
	"80/TCP/http 53/UDP/-" "containerPort and protocol; a name over 15 characters is left out"
is "$(k '.items[0].spec.template.spec.containers[0].env | tojson')" \
	'[{"name":"A","value":"1"},{"name":"B","value":"2"}]' "env becomes a name/value list"
is "$(k '.items[2].spec.ports | map("\(.name):\(.port)->\(.targetPort)/\(.protocol)") | join(" ")')" \
	"tcp-80:80->8080/TCP udp-53:53->53/UDP" \
	"Service ports: port, targetPort (the port when left out), protocol, names made for a multi-port Service"
is "$(k '.items[2].spec.type')" NodePort "the Service type"
is "$(k '.items[] | select(.kind == "Pod" and .metadata.name == "web-0") | .spec.nodeName + " " + .status.phase + " " + .metadata.annotations["swarmfs/deployment"]')" \
	"node-1 Running web" "a Pod: nodeName, status.phase, its Deployment as an annotation"
is "$(k '.items[] | select(.kind == "Pod" and .metadata.name == "loose") | .spec | has("nodeName")')" false "a Pod without a node has no nodeName"
is "$(k '.items[6].spec.rules | map(.host + "=" + (.http.paths | map(.path + ">" + .backend.service.name + ":" + (.backend.service.port.number | tostring) + "/" + .pathType) | join(","))) | join(" ")')" \
	"example.com=/>web:80/Prefix,/api>api:443/Prefix *.example.org=/>web:80/Prefix" \
	"Ingress rules grouped by host, paths with pathType Prefix and backend.service.name/port.number"
is "$(k '.items[1].metadata.annotations | tojson')" '{"ok":"fine value!"}' \
	"a label value Kubernetes refuses becomes an annotation"
is "$(k '.items[1].metadata | has("labels")')" false "and is no label any more"
ok "a warning names the label" grep -q "prod/cache: label 'ok' is not a valid Kubernetes label" "$TMP/k8s.err"
ok "a warning names the port name" grep -q "port name 'a-very-long-port-name'" "$TMP/k8s.err"
ok "a label key with a space is left out, with a warning" grep -q "label 'team owner'" "$TMP/k8s.err"

admin export --kubernetes -o "$TMP/out.json" 2>/dev/null
ok "-o FILE writes the same List" cmp "$TMP/out.json" "$TMP/k8s.json"
is "$(ls "$TMP" | grep -c 'out.json.tmp')" 0 "and leaves no temporary file"
admin export --kubernetes --bogus >/dev/null 2>&1
is "$?" 2 "an unknown option is a usage error"

echo '{"format": "swarmfs-export", "version": 1, "namespaces": {}, "resources": []}' >"$TMP/none.json"
"$ADMIN" --data-dir "$TMP/empty" import "$TMP/none.json" >/dev/null 2>&1
"$ADMIN" --data-dir "$TMP/empty" export --kubernetes >"$TMP/empty.json" 2>/dev/null
is "$(jq -c . "$TMP/empty.json")" '{"apiVersion":"v1","kind":"List","items":[]}' "an empty store: an empty List"

if command -v kubectl >/dev/null 2>&1; then
	mkdir -p "$TMP/kust"
	cp "$TMP/k8s.json" "$TMP/kust/all.json"
	printf 'resources:\n- all.json\n' >"$TMP/kust/kustomization.yaml"
	if kubectl kustomize "$TMP/kust" >"$TMP/kust.yaml" 2>"$TMP/kust.err"; then
		is "$(grep -c '^kind:' "$TMP/kust.yaml")" 7 "kubectl kustomize reads the List offline: 7 objects"
	else
		fail "kubectl kustomize reads the List offline" "$(cat "$TMP/kust.err")"
	fi
else
	skip "kubectl kustomize reads the List offline" "kubectl not installed"
fi

done_testing
