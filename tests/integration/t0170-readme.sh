#!/bin/sh
# t0170-readme.sh - replays the README's tour so that it cannot rot: every
# indented block of the section "A tour" that starts with "$ " is a list of
# commands (a "$ " line, its heredoc body or "\" continuation lines) and
# the output each one prints (the lines up to the next "$ ").  They run in
# order in one bash, with the build tree on PATH, /mnt/swarm and /tmp/tour
# replaced by temp dirs and the ports 7101, 7201 and 7301 by free ones.  A
# command passes when it exits 0 and prints what the README shows, or, when
# the README shows output, fails printing exactly that output (the tour's
# deliberate errors).  Timestamps compare as equal; a shown line "..."
# stands for any number of lines; `ls` lists in columns, as on a wide
# terminal.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/sync-lib.sh"
require_fuse
require_cmd jq python3 vim timeout
srcdir=${top_srcdir:-$(dirname "$0")/../..}
README=$srcdir/README
[ -r "$README" ] || skip_all "no README at '$README'"
[ -x "$SWARMFS_SYNC" ] || skip_all "'$SWARMFS_SYNC' not built"
[ -x "$SWARMFS_ADMIN" ] || skip_all "'$SWARMFS_ADMIN' not built"

W=$TMP/work
mkdir -p "$W" "$TMP/bin" "$TMP/home"
# The programs under the names the README uses.
ln -s "$SWARMFS" "$TMP/bin/swarmfs"
ln -s "$SWARMFS_SYNC" "$TMP/bin/swarmfs-sync"
ln -s "$SWARMFS_ADMIN" "$TMP/bin/swarmfs-admin"
ln -s "$(realpath "$srcdir/contrib/reconcile/swarmfs-reconcile")" "$TMP/bin/swarmfs-reconcile"

MNT=$TMP/mnt
TOUR=$TMP/tour
read -r -a ports <<<"$(free_ports 3)"

# ---- extraction ------------------------------------------------------------------------
python3 - "$README" "$W" "$MNT" "$TOUR" "${ports[@]}" <<'PY' || bail_out "unable to extract the tour"
import re, sys

readme, work, mnt, tour = sys.argv[1:5]
ports = dict(zip(("7101", "7201", "7301"), sys.argv[5:8]))
lines = open(readme, encoding="utf-8").read().split("\n")

def is_rule(s):
    return len(s) >= 3 and set(s) <= set("-=")

# The section: from the heading "A tour" to the next heading.
start = None
for i in range(len(lines) - 1):
    if lines[i] == "A tour" and is_rule(lines[i + 1]):
        start = i + 2
        break
if start is None:
    sys.exit("no section 'A tour' in the README")
end = len(lines)
for i in range(start, len(lines) - 1):
    if lines[i] and not lines[i].startswith(" ") and is_rule(lines[i + 1]):
        end = i
        break

def subst(s):
    s = s.replace("/mnt/swarm", mnt).replace("/tmp/tour", tour)
    for old, new in ports.items():
        s = s.replace("127.0.0.1:" + old, "127.0.0.1:" + new)
    return s

# Blocks: runs of lines indented by 4 spaces (blank lines end a block,
# except inside a heredoc).
steps = []  # [command text, [expected lines], README line number]
i = start
while i < end:
    if not lines[i].startswith("    $ "):
        i += 1
        continue
    while i < end and lines[i].startswith("    "):
        line = lines[i][4:]
        if line.startswith("$ "):
            cmd = [line[2:]]
            n = i + 1
            i += 1
            heredoc = re.search(r"<<-?\s*'?(\w+)'?", line)
            if heredoc:
                term = heredoc.group(1)
                while i < end and lines[i][4:] != term:
                    cmd.append(lines[i][4:])
                    i += 1
                cmd.append(term)
                i += 1
            while cmd[-1].endswith("\\") and i < end:
                cmd.append(lines[i][4:])
                i += 1
            steps.append(["\n".join(cmd), [], n])
        else:
            steps[-1][1].append(line)
            i += 1

if not steps:
    sys.exit("no commands in the section 'A tour'")

with open(work + "/tour.sh", "w") as f:
    f.write("# generated from the README by t0170-readme.sh\n")
    f.write("ls() { command ls -C -T 0 -w 200 \"$@\"; }\n")
    f.write("trap 'jobs -p >\"%s/jobs\"' EXIT\n" % work)
    for k, (cmd, exp, n) in enumerate(steps, 1):
        f.write("echo %d >\"%s/current\"\n" % (k, work))
        f.write("{\n%s\n} >\"%s/out.%d\" 2>&1 </dev/null\n" % (subst(cmd), work, k))
        f.write("echo $? >\"%s/rc.%d\"\n" % (work, k))
        with open("%s/cmd.%d" % (work, k), "w") as c:
            c.write("README line %d: %s\n" % (n, cmd.split("\n")[0]))
        with open("%s/exp.%d" % (work, k), "w") as e:
            e.write("".join(l + "\n" for l in exp))
with open(work + "/count", "w") as f:
    f.write("%d\n" % len(steps))
PY
count=$(cat "$W/count")
ok "the README's tour has commands ($count)" [ "$count" -gt 20 ]

# ---- the run ---------------------------------------------------------------------------
# Whatever the tour left running is stopped: its mounts (the daemons exit
# when unmounted) and its background jobs (the sidecars).
tour_cleanup() {
	local m pid pids=""
	cd / || return
	for pid in $(cat "$W/jobs" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	for m in "$MNT" "$TOUR/n2/mnt" "$TOUR/n3/mnt"; do
		is_mounted "$m" || continue
		pid=$(jq -r .pid "$m/status.json" 2>/dev/null)
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		pids="$pids $pid"
	done
	for pid in $pids; do
		wait_pid_gone "$pid" $((10 * SWARMFS_TIMEOUT_FACTOR)) || kill -9 "$pid" 2>/dev/null
	done
}
at_exit tour_cleanup

(
	cd "$TMP" || exit 1
	export PATH=$TMP/bin:$PATH HOME=$TMP/home COLUMNS=80 LC_ALL=C
	exec timeout -s KILL $((240 * SWARMFS_TIMEOUT_FACTOR)) bash "$W/tour.sh"
) >"$W/tour.log" 2>&1 3>&-
rc=$?
ok "the tour ran to its end" [ "$rc" = 0 ] || diag "stopped at command $(cat "$W/current" 2>/dev/null) (status $rc)"

# ---- the comparison ----------------------------------------------------------------------
python3 - "$W" "$count" "$MNT" "$TOUR" "${ports[@]}" >"$W/results" <<'PY'
import re, sys

work, count, mnt, tour = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ports = dict(zip(sys.argv[5:8], ("7101", "7201", "7301")))
stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

def norm(text):
    text = text.replace(tour, "/tmp/tour").replace(mnt, "/mnt/swarm")
    for new, old in ports.items():
        text = text.replace("127.0.0.1:" + new, "127.0.0.1:" + old)
    # What bash prints for an error in a script, as a terminal shows it.
    text = re.sub(r"(?m)^\S*tour\.sh: line \d+: ", "bash: ", text)
    return stamp.sub("TIME", text)

def matches(exp, got):
    pat = ""
    for line in exp.split("\n")[:-1] if exp else []:
        pat += r"(?:.*\n)*?" if line == "..." else re.escape(line) + r"\n"
    return re.fullmatch(pat, got) is not None

for k in range(1, count + 1):
    desc = open("%s/cmd.%d" % (work, k)).read().strip()
    try:
        got = norm(open("%s/out.%d" % (work, k)).read())
        rc = int(open("%s/rc.%d" % (work, k)).read())
    except (OSError, ValueError):
        print("fail\t%s\tnot run" % desc)
        continue
    exp = norm(open("%s/exp.%d" % (work, k)).read())
    if got and not got.endswith("\n"):
        got += "\n"
    if not matches(exp, got):
        print("fail\t%s\toutput differs:\t--- README\t%s--- got\t%s" %
              (desc, exp.replace("\n", "\t"), got.replace("\n", "\t")))
    elif rc != 0 and not exp:
        print("fail\t%s\texit status %d" % (desc, rc))
    else:
        print("pass\t%s" % desc)
PY
while IFS=$'\t' read -r -a r; do
	if [ "${r[0]}" = pass ]; then
		pass "${r[1]}"
	else
		fail "${r[1]}" "${r[@]:2}"
	fi
done <"$W/results"
ok "every command was compared" [ "$(wc -l <"$W/results")" = "$count" ]

done_testing
