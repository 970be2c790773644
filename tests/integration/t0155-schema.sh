#!/bin/sh
# t0155-schema.sh - contrib/schema/KIND.json: regenerated from the tables in
# store/schema.c they equal the committed files (so the two cannot drift),
# each is a valid draft-07 schema, and python3-jsonschema agrees with the
# store's own validator on every document of tests/unit/test-schema.c and
# contrib/schema/cases.json; a deliberately weakened schema is caught.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_cmd python3 jq diff
python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema not installed"
src=${top_srcdir:-$(dirname "$0")/../..}
gen=$top_builddir/contrib/schema/swarmfs-schema
[ -x "$gen" ] || bail_out "'$gen' not built"

for k in deployment service pod ingress; do
	if "$gen" "$k" >"$TMP/$k.json" && diff -u "$src/contrib/schema/$k.json" "$TMP/$k.json" >"$TMP/$k.diff"; then
		pass "contrib/schema/$k.json is what store/schema.c generates"
	else
		fail "contrib/schema/$k.json is what store/schema.c generates (run make schema-update)" \
			"$(head -30 "$TMP/$k.diff")"
	fi
done
is "$("$gen" Deployment | cmp - "$TMP/deployment.json" && echo same)" same \
	"the kind can be named as in documents (Deployment)"
"$gen" widget >/dev/null 2>&1
is "$?" 2 "an unknown kind is a usage error"

check() {
	python3 "$src/contrib/schema/check-schema.py" --checker "$gen" \
		--source "$src/tests/unit/test-schema.c" --cases "$src/contrib/schema/cases.json" "$@"
}
if out=$(check --schemas "$src/contrib/schema"); then
	pass "python3-jsonschema and the store agree on every document ($out)"
else
	fail "python3-jsonschema and the store agree on every document" "$out"
fi

# The comparison must be able to fail: weaken one schema at a time.
weaken() { # DESC JQ-FILTER KIND
	mkdir -p "$TMP/weak"
	cp "$src"/contrib/schema/*.json "$TMP/weak/"
	jq "$2" "$src/contrib/schema/$3.json" >"$TMP/weak/$3.json"
	if out=$(check --schemas "$TMP/weak" --expect-disagreement); then
		pass "a schema that $1 is caught"
	else
		fail "a schema that $1 is caught" "$out"
	fi
}
weaken "allows unknown spec fields" 'del(.properties.spec.additionalProperties)' deployment
weaken "allows replicas 10001" '.properties.spec.properties.replicas.maximum = 10001' deployment
weaken "does not require spec.selector" '.properties.spec.required -= ["selector"]' service
weaken "accepts any phase" 'del(.properties.status.properties.phase.enum)' pod
weaken "accepts any host" 'del(.properties.spec.properties.rules.items.properties.host.pattern)' ingress

done_testing
