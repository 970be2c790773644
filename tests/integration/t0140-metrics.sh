#!/bin/sh
# t0140-metrics.sh - MOUNT/metrics: read-only, its size is its content, a
# strict parse of the Prometheus text format 0.0.4 (every sample in a
# declared family, valid names, labels and values, no duplicates, counters
# named _total), counters that move (writes by kind and op, rejects by
# reason, snapshots), the node_exporter textfile copy the README documents,
# and with two nodes and their sidecars the per-peer replication gauges and
# the conflicts gauge.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
wait_for_step=0.02
require_fuse
require_cmd python3 jq

# ---- a strict parser of the text exposition format -------------------------------
cat >"$TMP/prom.py" <<'PY'
"""Strict reader of the Prometheus text exposition format 0.0.4.

prom.py check FILE             exit 1 with one line per problem
prom.py get FILE NAME [L=V..]  the value of the one sample of NAME whose
                               labels include L=V..; "absent" if none
"""
import math, re, sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\Z')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\Z')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?', s):
        raise ValueError("bad value %r" % s)
    return float(s)


def parse_labels(s, pos, problems, lineno):
    """s[pos] == '{'; returns (dict, position after '}')."""
    labels = {}
    pos += 1
    while True:
        if s[pos:pos + 1] == "}":
            return labels, pos + 1
        m = re.match(r'([^=]*)="', s[pos:])
        if not m:
            raise ValueError("bad label at column %d" % pos)
        name = m.group(1)
        if not LABEL.match(name) or name.startswith("__"):
            raise ValueError("bad label name %r" % name)
        if name in labels:
            raise ValueError("duplicate label %r" % name)
        pos += m.end()
        val = []
        while True:
            c = s[pos:pos + 1]
            if c == "":
                raise ValueError("unterminated label value")
            if c == "\\":
                e = s[pos + 1:pos + 2]
                if e not in ('\\', '"', 'n'):
                    raise ValueError("bad escape \\%s" % e)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[e])
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ValueError("newline in label value")
            else:
                val.append(c)
                pos += 1
        labels[name] = "".join(val)
        if s[pos:pos + 1] == ",":
            pos += 1
        elif s[pos:pos + 1] != "}":
            raise ValueError("expected ',' or '}' at column %d" % pos)


def parse(text):
    problems, samples = [], {}
    families = {}   # name -> {"type":..., "help":..., "samples": n}
    order = []      # family names in order of first appearance
    current = None
    if text and not text.endswith("\n"):
        problems.append("the last line has no newline")
    for lineno, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = "line %d" % lineno
        if line == "":
            problems.append("%s: empty line" % where)
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    problems.append("%s: bad metric name %r" % (where, name))
                    continue
                f = families.setdefault(name, {"type": None, "help": None, "samples": 0})
                if name not in order:
                    order.append(name)
                elif current != name:
                    problems.append("%s: family %s declared again after others" % (where, name))
                key = parts[1].lower()
                if f[key] is not None:
                    problems.append("%s: second %s for %s" % (where, parts[1], name))
                if f["samples"]:
                    problems.append("%s: %s of %s after its samples" % (where, parts[1], name))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        problems.append("%s: bad type line" % where)
                        continue
                    f["type"] = parts[3]
                else:
                    if len(parts) != 4 or parts[3].strip() == "":
                        problems.append("%s: HELP without text" % where)
                    f["help"] = parts[3] if len(parts) == 4 else ""
                current = name
            continue
        m = re.match(r'[^{ ]+', line)
        name = m.group(0) if m else ""
        if not NAME.match(name):
            problems.append("%s: bad metric name %r" % (where, name))
            continue
        pos = len(name)
        labels = {}
        try:
            if line[pos:pos + 1] == "{":
                labels, pos = parse_labels(line, pos, problems, lineno)
            rest = line[pos:]
            if not rest.startswith(" "):
                raise ValueError("no space before the value")
            fields = rest[1:].split(" ")
            if len(fields) not in (1, 2):
                raise ValueError("trailing garbage %r" % rest)
            value = parse_value(fields[0])
            if len(fields) == 2 and not re.fullmatch(r'-?\d+', fields[1]):
                raise ValueError("bad timestamp %r" % fields[1])
        except ValueError as e:
            problems.append("%s: %s" % (where, e))
            continue
        fam = None
        if current is not None:
            ftype = families[current]["type"]
            if name == current or any(name == current + s for s in SUFFIXES.get(ftype, ())):
                fam = current
        if fam is None:
            problems.append("%s: sample %s is not in the family declared above it (%s)"
                            % (where, name, current))
            continue
        f = families[fam]
        if f["type"] is None or f["help"] is None:
            problems.append("%s: family %s lacks HELP or TYPE before its samples" % (where, fam))
        f["samples"] += 1
        if not name.startswith("swarmfs_"):
            problems.append("%s: %s lacks the swarmfs_ prefix" % (where, name))
        if f["type"] == "counter":
            if not name.endswith("_total"):
                problems.append("%s: counter %s does not end in _total" % (where, name))
            if math.isnan(value) or value < 0:
                problems.append("%s: counter %s is %r" % (where, name, value))
        key = (name, tuple(sorted(labels.items())))
        if key in samples:
            problems.append("%s: duplicate sample %s%s" % (where, name, labels))
        samples[key] = value
    for name in order:
        if families[name]["samples"] == 0:
            problems.append("family %s has no samples" % name)
    return problems, samples


def main():
    text = open(sys.argv[2], encoding="utf-8").read()
    problems, samples = parse(text)
    if sys.argv[1] == "check":
        for p in problems:
            print(p)
        sys.exit(1 if problems else 0)
    want = dict(a.split("=", 1) for a in sys.argv[4:])
    found = [v for (n, ls), v in samples.items()
             if n == sys.argv[3] and all(dict(ls).get(k) == v for k, v in want.items())]
    if len(found) > 1:
        print("ambiguous")
    elif not found:
        print("absent")
    else:
        v = found[0]
        print(int(v) if v == int(v) else v)


main()
PY

# Self-test of the parser on broken input: a checker that accepts
# anything proves nothing.
bad() {
	printf '%b' "$2" >"$TMP/bad.prom"
	if python3 "$TMP/prom.py" check "$TMP/bad.prom" >/dev/null; then
		fail "the parser refuses $1"
	else
		pass "the parser refuses $1"
	fi
}
hdr='# HELP swarmfs_x_total X.\n# TYPE swarmfs_x_total counter\n'
printf '%b' "${hdr}swarmfs_x_total{a=\"1\",b=\"q\\\\\"\\\\\\\\\"} 3\n" >"$TMP/good.prom"
ok "the parser accepts a well-formed family" python3 "$TMP/prom.py" check "$TMP/good.prom"
bad "a sample outside any family" 'swarmfs_y 1\n'
bad "a sample of another name" "${hdr}swarmfs_y_total 1\n"
bad "a duplicate sample" "${hdr}swarmfs_x_total{a=\"1\"} 1\nswarmfs_x_total{a=\"1\"} 2\n"
bad "a bad value" "${hdr}swarmfs_x_total one\n"
bad "a bad label name" "${hdr}swarmfs_x_total{1a=\"1\"} 1\n"
bad "a bad escape" "${hdr}swarmfs_x_total{a=\"\\\\t\"} 1\n"
bad "a counter without _total" '# HELP swarmfs_x X.\n# TYPE swarmfs_x counter\nswarmfs_x 1\n'
bad "a negative counter" "${hdr}swarmfs_x_total -1\n"
bad "a family without samples" "${hdr}"
bad "a missing final newline" "${hdr}swarmfs_x_total 1"

# ---- one node ------------------------------------------------------------------------
m=$TMP/m
d=$TMP/d
mount_swarmfs "$d" "$m" --node n1 --snapshot-interval 0 || bail_out "cannot mount"
ns=$m/deployments/default
M=$m/metrics

metric() {
	local f=$TMP/scrape.prom
	cat "$M" >"$f" && python3 "$TMP/prom.py" get "$f" "$@"
}

ok "metrics is listed in the root" grep -qx metrics <(ls "$m")
ok "metrics is a regular file" test -f "$M"
cat "$M" >"$TMP/first.prom"
out=$(python3 "$TMP/prom.py" check "$TMP/first.prom")
if [ -z "$out" ]; then
	pass "metrics parses strictly as text format 0.0.4"
else
	fail "metrics parses strictly as text format 0.0.4" "$out"
fi
is "$(stat -c %s "$M")" "$(wc -c <"$M")" "st_size is the length of the content"
is "$(write_errno "$M" </dev/null)" "open:EACCES" "metrics cannot be written"
is "$(metric swarmfs_up)" 1 "swarmfs_up 1"
is "$(metric swarmfs_info node=n1 sync=full)" 1 "swarmfs_info names the node and sync mode"
for fam in swarmfs_store_size_bytes swarmfs_store_wal_size_bytes swarmfs_snapshots \
	swarmfs_revision swarmfs_sidecar_up swarmfs_start_time_seconds; do
	v=$(metric "$fam")
	case $v in
	'' | absent | ambiguous | *[!0-9.]*) fail "$fam is a number" "got '$v'" ;;
	*) pass "$fam is a number ($v)" ;;
	esac
done
is "$(metric swarmfs_store_size_bytes)" "$(stat -c %s "$d/store.db")" \
	"swarmfs_store_size_bytes is the database file's size"
is "$(metric swarmfs_store_wal_size_bytes)" "$(stat -c %s "$d/store.db-wal")" \
	"swarmfs_store_wal_size_bytes is the WAL's size"
is "$(metric swarmfs_sidecar_up)" 0 "no sidecar: swarmfs_sidecar_up 0"
is "$(metric swarmfs_snapshot_newest_age_seconds)" absent "no snapshot: no newest age"
is "$(metric swarmfs_conflicts kind=deployments)" 0 "no conflicts"

# Counters move: each step must change exactly the series it names.
put0=$(metric swarmfs_writes_total kind=deployments op=put)
svc0=$(metric swarmfs_writes_total kind=services op=put)
deployment web >"$ns/web.json"
is "$(metric swarmfs_writes_total kind=deployments op=put)" "$(plus_one "$put0")" \
	"a write increments writes_total{kind=deployments,op=put}"
is "$(metric swarmfs_writes_total kind=services op=put)" "$svc0" "and not the services series"
is "$(metric swarmfs_resources kind=deployments)" 1 "swarmfs_resources counts it"

# An empty write is refused at release, which close() does not wait for.
counts() { [ "$(metric "${@:3}")" = "$2" ]; }
moved_to() { # WANT NAME LABELS...: waits a little for the series to reach WANT
	wait_for 2 counts - "$@" || true
	metric "${@:2}"
}
reject_case() { # REASON ERRNO DOC DESC
	local before
	before=$(metric swarmfs_rejected_writes_total reason="$1" errno="$2")
	printf '%s' "$3" | write_errno "$ns/web.json" >/dev/null
	is "$(moved_to "$(plus_one "$before")" swarmfs_rejected_writes_total reason="$1" errno="$2")" \
		"$(plus_one "$before")" "$4 increments rejected_writes_total{reason=$1,errno=$2}"
}
reject_case unknown_field EINVAL '{"spec":{"image":"x","color":"red"}}' "an unknown field"
reject_case syntax EINVAL '{"spec":{"image":"x"},}' "invalid JSON"
reject_case schema EINVAL '{"spec":{"image":"x","replicas":"five"}}' "a wrong type"
reject_case required EINVAL '{"metadata":{}}' "a missing spec"
reject_case version_conflict ESTALE '{"metadata":{"version":99},"spec":{"image":"x"}}' "a stale version"
reject_case empty EINVAL '' "an empty document"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big"
before=$(metric swarmfs_rejected_writes_total reason=too_large errno=EFBIG)
write_errno "$ns/web.json" <"$TMP/big" >/dev/null
is "$(metric swarmfs_rejected_writes_total reason=too_large errno=EFBIG)" "$(plus_one "$before")" \
	"a document over 1 MiB increments rejected_writes_total{reason=too_large}"
is "$(metric swarmfs_writes_total kind=deployments op=put)" "$(plus_one "$put0")" \
	"rejected writes are not counted as writes"
is "$(jq -r .spec.image "$ns/web.json")" web "and changed nothing"

n=$(metric swarmfs_writes_total kind=deployments op=rename)
mv "$ns/web.json" "$ns/www.json"
is "$(metric swarmfs_writes_total kind=deployments op=rename)" "$(plus_one "$n")" "mv counts a rename"
n=$(metric swarmfs_writes_total kind=deployments op=delete)
rm "$ns/www.json"
is "$(metric swarmfs_writes_total kind=deployments op=delete)" "$(plus_one "$n")" "rm counts a delete"
n=$(metric swarmfs_writes_total kind=pods op=mkns)
mkdir "$m/pods/team"
is "$(metric swarmfs_writes_total kind=pods op=mkns)" "$(plus_one "$n")" "mkdir counts a mkns"
n=$(metric swarmfs_writes_total kind=pods op=rmns)
rmdir "$m/pods/team"
is "$(metric swarmfs_writes_total kind=pods op=rmns)" "$(plus_one "$n")" "rmdir counts a rmns"

n=$(metric swarmfs_snapshots)
mkdir "$m/snapshots/first"
is "$(metric swarmfs_snapshots)" "$(plus_one "$n")" "a snapshot increments swarmfs_snapshots"
age=$(metric swarmfs_snapshot_newest_age_seconds)
case $age in
'' | absent | *[!0-9.]*) fail "the newest snapshot's age is a number" "got '$age'" ;;
*) pass "the newest snapshot's age is a number ($age)" ;;
esac
n=$(metric swarmfs_restores_total)
echo first >"$m/snapshots/.restore"
is "$(metric swarmfs_restores_total)" "$(plus_one "$n")" "a restore increments swarmfs_restores_total"
n=$(metric swarmfs_rejected_writes_total reason=not_found errno=ENOENT)
echo nosuch 2>/dev/null >"$m/snapshots/.restore"
is "$(metric swarmfs_rejected_writes_total reason=not_found errno=ENOENT)" "$(plus_one "$n")" \
	"restoring a missing snapshot increments rejected_writes_total{reason=not_found}"

cat "$M" >"$TMP/later.prom"
out=$(python3 "$TMP/prom.py" check "$TMP/later.prom")
if [ -z "$out" ]; then
	pass "metrics still parses strictly after all that"
else
	fail "metrics still parses strictly after all that" "$out"
fi

# The node_exporter textfile collector: the README's one-line copy, a
# temporary name the collector ignores (not *.prom), then an atomic rename.
collector=$TMP/node-exporter
mkdir -p "$collector"
cp "$M" "$collector/.swarmfs.prom.tmp" && mv "$collector/.swarmfs.prom.tmp" "$collector/swarmfs.prom"
ok "the textfile copy parses" python3 "$TMP/prom.py" check "$collector/swarmfs.prom"
is "$(ls -A "$collector")" swarmfs.prom "and leaves only swarmfs.prom in the collector dir"
umount_swarmfs "$m"

# ---- two nodes: the sidecar's per-peer view and the conflicts gauge ------------------
SYNC=$SWARMFS_SYNC
if [ ! -x "$SYNC" ]; then
	skip "replication metrics" "'$SYNC' not built"
	done_testing
fi
read -r -a ports <<<"$(free_ports 2)"
url() { echo "tcp://127.0.0.1:${ports[$(($1 - 1))]}"; }
for i in 1 2; do
	mount_swarmfs "$TMP/d$i" "$TMP/m$i" --node "n$i" --snapshot-interval 0 ||
		bail_out "cannot mount node $i"
done
for i in 1 2; do
	start_sidecar "$i"
done
M=$TMP/m1/metrics
peer_up() { [ "$(metric swarmfs_replication_peer_connected peer="$(url 2)" node=n2)" = 1 ]; }
ok "node 1 sees node 2 connected (swarmfs_replication_peer_connected)" wait_for 10 peer_up
is "$(metric swarmfs_sidecar_up)" 1 "swarmfs_sidecar_up 1"
heard=$(metric swarmfs_replication_peer_last_heard_seconds peer="$(url 2)" node=n2)
case $heard in
'' | absent | *[!0-9.]*) fail "last heard is a number of seconds" "got '$heard'" ;;
*) pass "last heard is a number of seconds ($heard)" ;;
esac
deployment x >"$TMP/m2/deployments/default/x.json"
caught_up() {
	[ -e "$TMP/m1/deployments/default/x.json" ] &&
		[ "$(metric swarmfs_replication_peer_behind_changes peer="$(url 2)" node=n2)" = 0 ]
}
ok "once replicated, node 1 is 0 changes behind node 2" wait_for 10 caught_up
applied() { [ "$(metric swarmfs_replication_applied_total)" -ge 1 ] 2>/dev/null; }
ok "swarmfs_replication_applied_total counts the applied change" wait_for 10 applied
cat "$M" >"$TMP/two.prom"
out=$(python3 "$TMP/prom.py" check "$TMP/two.prom")
if [ -z "$out" ]; then
	pass "metrics with a sidecar and a peer parses strictly"
else
	fail "metrics with a sidecar and a peer parses strictly" "$out"
fi

kill -STOP "${sync_pid[1]}" "${sync_pid[2]}"
deployment left >"$TMP/m1/deployments/default/contested.json"
sleep 0.05
deployment right >"$TMP/m2/deployments/default/contested.json"
kill -CONT "${sync_pid[1]}" "${sync_pid[2]}"
one_conflict() { [ "$(metric swarmfs_conflicts kind=deployments)" = 1 ]; }
ok "a concurrent write shows as swarmfs_conflicts{kind=deployments} 1" wait_for 10 one_conflict
rm -f "$TMP/m1/conflicts/deployments/default/"*.json
no_conflict() { [ "$(metric swarmfs_conflicts kind=deployments)" = 0 ]; }
ok "rm of the conflict brings it back to 0" wait_for 5 no_conflict

kill "${sync_pid[1]}"
wait "${sync_pid[1]}" 2>/dev/null
sidecar_down() { [ "$(metric swarmfs_sidecar_up)" = 0 ]; }
ok "a stopped sidecar: swarmfs_sidecar_up 0" wait_for 5 sidecar_down
is "$(metric swarmfs_replication_peer_connected peer="$(url 2)" node=n2)" 0 \
	"and its peer shows as not connected"

done_testing
