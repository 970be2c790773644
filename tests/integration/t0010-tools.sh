#!/bin/sh
# t0010-tools.sh - ordinary tools read and write the mount: shell
# redirections, cp, dd, install, Python, sed -i, vim, nano, jq, tar, rsync,
# find, diff; canonical rendering, versions, renames, namespaces, and no
# stale reads after a write.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
require_fuse
require_cmd jq python3 rsync tar

data=$TMP/data
mnt=$TMP/mnt
if ! mount_swarmfs "$data" "$mnt"; then
	fail "mount"
	done_testing
fi
d=$mnt/deployments/default

# Every committed change, to check later that scratch files never became
# resources.
cat "$mnt/events" >"$TMP/events.log" 2>/dev/null &
evpid=$!
track_pid $evpid

# sizes_exact FILE: stat, ls -l and the bytes read all agree.
sizes_exact() {
	local st ls wc
	st=$(stat -c %s "$1")
	ls=$(ls -l "$1" | awk '{ print $5 }')
	wc=$(cat "$1" | wc -c)
	if [ "$st" = "$wc" ] && [ "$ls" = "$wc" ] && [ "$wc" -gt 0 ]; then
		return 0
	fi
	diag "$1: stat $st, ls -l $ls, cat | wc -c $wc"
	return 1
}

# canonical FILE: what cat shows is exactly `jq .` of itself.
canonical() {
	local a b
	a=$(cat "$1"; echo x)
	b=$(jq . "$1"; echo x)
	if [ "$a" = "$b" ]; then
		return 0
	fi
	diag "$1 is not canonical:"
	diff <(cat "$1") <(jq . "$1") | head -20 | while IFS= read -r l; do diag "$l"; done
	return 1
}

image_of() {
	jq -r .spec.image "$1" 2>/dev/null
}

# only_resources DIR NAME...: the directory lists exactly these names
# (ls -A: dot files included).
only_resources() {
	local dir=$1 got want
	shift
	got=$(ls -A "$dir" | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		return 0
	fi
	diag "$dir lists: $got"
	diag "expected:  $want"
	return 1
}

# ---- every way of writing a new file -----------------------------------------

deployment nginx:1.25 3 >"$TMP/src.json"

deployment nginx:1.25 3 >"$d/web.json"
ok "echo > creates" [ $? -eq 0 ]
cat >"$d/catw.json" <<'EOF'
{
  "kind": "Deployment",
  "metadata": { "name": "catw", "labels": { "app": "catw", "tier": "front" } },
  "spec": { "image": "nginx:1.25", "replicas": 2, "ports": [ { "containerPort": 8080 } ],
            "env": { "B": "2", "A": "1" } }
}
EOF
ok "cat > creates" [ $? -eq 0 ]
deployment nginx:1.25 | tee "$d/tee.json" >/dev/null
ok "tee creates" [ $? -eq 0 ]
ok "cp creates" cp "$TMP/src.json" "$d/cp.json"
ok "dd (bs=7) creates" dd if="$TMP/src.json" of="$d/dd.json" bs=7 status=none
ok "install -m 644 creates" install -m 644 "$TMP/src.json" "$d/inst.json"
ok "python open().write() creates" python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write(open(sys.argv[2]).read())
' "$d/py.json" "$TMP/src.json"

for f in web catw tee cp dd inst py; do
	is "$(image_of "$d/$f.json")" nginx:1.25 "$f.json: jq reads spec.image"
	ok "$f.json: sizes exact (stat, ls -l, cat | wc -c)" sizes_exact "$d/$f.json"
	ok "$f.json: cat output is canonical (equals jq .)" canonical "$d/$f.json"
	is "$(version_of "$d/$f.json")" 1 "$f.json: metadata.version is 1"
done
is "$(jq -c '[.kind, .metadata.name, .metadata.namespace]' "$d/web.json")" \
	'["Deployment","web","default"]' "kind, name and namespace filled in"
is "$(jq -r .spec.replicas "$d/tee.json")" 1 "replicas defaults to 1"
is "$(jq -c .spec.env "$d/catw.json")" '{"A":"1","B":"2"}' "free-form maps sorted by key"
ok "metadata.created/updated/node present" \
	jq -e '.metadata.created and .metadata.updated and .metadata.node' "$d/web.json" >/dev/null
upd=$(date -d "$(jq -r .metadata.updated "$d/web.json")" +%s 2>/dev/null)
mt=$(stat -c %Y "$d/web.json")
near() {
	[ -n "$1" ] && [ -n "$2" ] && [ $(($1 - $2)) -le 1 ] && [ $(($2 - $1)) -le 1 ]
}
ok "mtime matches metadata.updated ($mt vs $upd)" near "$mt" "$upd"
ok "ls -l lists all of them" [ "$(ls -l "$d" | grep -c '\.json$')" -eq 7 ]

# ---- rewrites ------------------------------------------------------------------

deployment nginx:1.25 4 >"$d/web.json"
is "$(version_of "$d/web.json")" 2 "rewrite with echo > bumps the version to 2"
is "$(jq -r .spec.replicas "$d/web.json")" 4 "rewrite applied"

# An overwrite keeps the inode number, as on a local disk: cp stats its
# source, opens it and compares st_ino, and refuses a file "replaced while
# being copied".  The watcher used to drop the name's dentry on every
# commit, so the kernel forgot the inode and the next lookup numbered it
# anew, racing with whatever read the file next.
ino_changes=0
cp_failures=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	deployment nginx:1.25 "$i" >"$d/ino.json"
	before=$(stat -c %i "$d/ino.json")
	deployment nginx:1.25 "$((i + 1))" >"$d/ino.json"
	cp "$d/ino.json" "$TMP/ino-copy.json" 2>>"$TMP/cp-err" || cp_failures=$((cp_failures + 1))
	sleep 0.05 # the watcher has handled the commit
	after=$(stat -c %i "$d/ino.json")
	[ "$before" = "$after" ] || ino_changes=$((ino_changes + 1))
	rm -f "$d/ino.json"
done
is "$ino_changes" 0 "overwrite with > keeps the inode number (10 tries)"
is "$cp_failures" 0 "cp right after an overwrite copies it (10 tries)"
[ -s "$TMP/cp-err" ] && diag "$(head -3 "$TMP/cp-err")"

ok "sed -i runs" sed -i 's/nginx:1.25/nginx:1.26/' "$d/web.json"
is "$(image_of "$d/web.json")" nginx:1.26 "sed -i: new content stored"
is "$(version_of "$d/web.json")" 3 "sed -i: version bumped to 3"
ok "sed -i: size exact" sizes_exact "$d/web.json"

if command -v vim >/dev/null 2>&1; then
	ok "vim -es :%s + :wq runs" \
		vim -u NONE -es -c '%s/nginx:1.26/nginx:1.27/' -c wq "$d/web.json"
	is "$(image_of "$d/web.json")" nginx:1.27 "vim -es: new content stored"
	is "$(version_of "$d/web.json")" 4 "vim -es: version bumped to 4"
	# Both of vim's ways to save: rename the original away and write a new
	# file (backupcopy=no), or copy it and overwrite in place (yes).
	for bc in no yes; do
		v0=$(version_of "$d/py.json")
		ok "vim backupcopy=$bc, backup on: runs" vim -u NONE -es -c "set backupcopy=$bc backup" \
			-c '%s/"replicas": 3/"replicas": 4/' -c wq "$d/py.json"
		is "$(jq -r .spec.replicas "$d/py.json")" 4 "vim backupcopy=$bc: new content stored"
		is "$(version_of "$d/py.json")" "$(plus_one "$v0")" "vim backupcopy=$bc: version bumped once"
		vim -u NONE -es -c "set backupcopy=$bc backup" -c '%s/"replicas": 4/"replicas": 3/' -c wq "$d/py.json"
	done
else
	skip "vim -es" "vim not installed"
fi

jq '.spec.replicas = 5' "$d/web.json" >"$d/tmp" && mv "$d/tmp" "$d/web.json"
ok "jq ... > tmp && mv tmp file runs" [ $? -eq 0 ]
is "$(jq -r .spec.replicas "$d/web.json")" 5 "jq + mv: new content stored"
is "$(version_of "$d/web.json")" 5 "jq + mv: version bumped to 5"
ok "jq + mv: canonical" canonical "$d/web.json"

ok "no scratch files left after sed, vim, jq+mv" only_resources "$d" \
	web.json catw.json tee.json cp.json dd.json inst.json py.json

# ---- interactive editors in tmux -----------------------------------------------

tsock=$TMP/tmux.sock
tmx() {
	tmux -S "$tsock" "$@" 3>&-
}
if command -v tmux >/dev/null 2>&1; then
	at_exit 'tmux -S "$tsock" kill-server 2>/dev/null'
fi

# wait_screen SESSION PATTERN: polls the pane for PATTERN (10 s).
wait_screen() {
	local i
	for i in $(seq 200); do
		tmx capture-pane -p -t "$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.05
	done
	diag "screen of $1 never showed '$2':"
	diag "$(tmx capture-pane -p -t "$1" 2>/dev/null)"
	return 1
}

# wait_exit SESSION: the editor quit, so the session ended (10 s).
wait_exit() {
	local i
	for i in $(seq 200); do
		tmx has-session -t "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	diag "editor in $1 did not quit; screen:"
	diag "$(tmx capture-pane -p -t "$1" 2>/dev/null)"
	tmx kill-session -t "$1" 2>/dev/null
	return 1
}

if command -v tmux >/dev/null 2>&1 && command -v vim >/dev/null 2>&1; then
	v0=$(version_of "$d/web.json")
	tmx new-session -d -s vim -x 100 -y 30 "vim -u NONE -N '$d/web.json'"
	if wait_screen vim 'nginx:1.27'; then
		pass "vim in tmux shows the document"
		ok "vim: swap file works while open" [ -e "$d/.web.json.swp" ]
		tmx send-keys -t vim ':%s/nginx:1.27/nginx:1.28/' Enter
		tmx send-keys -t vim ':wq' Enter
		ok "vim :wq quits" wait_exit vim
		is "$(image_of "$d/web.json")" nginx:1.28 "vim in tmux: new content stored"
		is "$(version_of "$d/web.json")" "$(plus_one "$v0")" "vim in tmux: version bumped"
		ok "vim in tmux: canonical" canonical "$d/web.json"
	else
		fail "vim in tmux shows the document"
		tmx kill-session -t vim 2>/dev/null
	fi
else
	skip "vim in tmux" "tmux or vim not installed"
fi

if command -v tmux >/dev/null 2>&1 && command -v nano >/dev/null 2>&1; then
	v0=$(version_of "$d/web.json")
	tmx new-session -d -s nano -x 100 -y 30 "nano --ignorercfiles '$d/web.json'"
	if wait_screen nano 'nginx:1.28'; then
		pass "nano in tmux shows the document"
		tmx send-keys -t nano M-r
		wait_screen nano 'Search'
		tmx send-keys -t nano 'nginx:1.28' Enter
		wait_screen nano 'Replace with'
		tmx send-keys -t nano 'nginx:1.29' Enter
		wait_screen nano 'Replace this instance'
		tmx send-keys -t nano a
		sleep 0.2
		tmx send-keys -t nano C-o
		wait_screen nano 'File Name to Write'
		tmx send-keys -t nano Enter
		wait_screen nano 'Wrote'
		tmx send-keys -t nano C-x
		ok "nano ^O ^X quits" wait_exit nano
		is "$(image_of "$d/web.json")" nginx:1.29 "nano in tmux: new content stored"
		is "$(version_of "$d/web.json")" "$(plus_one "$v0")" "nano in tmux: version bumped"
	else
		fail "nano in tmux shows the document"
		tmx kill-session -t nano 2>/dev/null
	fi
else
	skip "nano in tmux" "tmux or nano not installed"
fi

ok "no editor scratch files (.swp, ~, 4913) left" only_resources "$d" \
	web.json catw.json tee.json cp.json dd.json inst.json py.json

# ---- rename, delete, namespaces ------------------------------------------------

ok "mv a.json b.json" mv "$d/cp.json" "$d/moved.json"
ok "mv: old name gone" [ ! -e "$d/cp.json" ]
is "$(image_of "$d/moved.json")" nginx:1.25 "mv: new name has the content"
is "$(jq -r .metadata.name "$d/moved.json")" moved "mv: metadata.name follows the new name"
ok "mv: canonical and exact size" sizes_exact "$d/moved.json"

ok "rm deletes" rm "$d/tee.json"
ok "rm: gone from ls" not ls "$d/tee.json" 2>/dev/null
ok "rm: cat fails" not cat "$d/tee.json" 2>/dev/null

ok "mkdir makes a namespace" mkdir "$mnt/services/prod"
ok "new namespace is a directory" [ -d "$mnt/services/prod" ]
ok "mkdir of an invalid name fails" not mkdir "$mnt/services/Bad_Name" 2>/dev/null
cat >"$mnt/services/prod/api.json" <<'EOF'
{"spec":{"selector":{"app":"api"},"ports":[{"port":80,"targetPort":8080}]}}
EOF
ok "write a service in the new namespace" [ $? -eq 0 ]
is "$(jq -r .spec.type "$mnt/services/prod/api.json")" ClusterIP "service type defaults to ClusterIP"
ok "rmdir of a non-empty namespace fails" not rmdir "$mnt/services/prod" 2>/dev/null
ok "it is still there" [ -f "$mnt/services/prod/api.json" ]
rm "$mnt/services/prod/api.json"
ok "rmdir of the emptied namespace" rmdir "$mnt/services/prod"
ok "namespace gone" [ ! -e "$mnt/services/prod" ]
ok "rmdir of default refused" not rmdir "$mnt/services/default" 2>/dev/null

mkdir "$mnt/deployments/stage"
for i in 1 2 3; do
	deployment "nginx:1.$i" >"$mnt/deployments/stage/app-$i.json"
done
ok "rm -r of a namespace" rm -r "$mnt/deployments/stage"
ok "rm -r: namespace gone" [ ! -e "$mnt/deployments/stage" ]

# ---- tree tools ----------------------------------------------------------------

mkdir "$mnt/pods/batch"
printf '{"spec":{"image":"busybox:1"},"status":{"phase":"Running"}}\n' >"$mnt/pods/batch/job-1.json"
cat >"$mnt/ingresses/default/site.json" <<'EOF'
{"spec":{"rules":[{"host":"example.com","path":"/","service":"web","port":80}]}}
EOF
found=$(cd "$mnt" && find deployments services pods ingresses -name '*.json' | sort | tr '\n' ' ')
is "$found" "deployments/default/catw.json deployments/default/dd.json deployments/default/inst.json deployments/default/moved.json deployments/default/py.json deployments/default/web.json ingresses/default/site.json pods/batch/job-1.json " \
	"find lists every resource"
ok "du works" du -s "$mnt/deployments" >/dev/null
ok "tar c from the mount" tar -C "$mnt" -cf "$TMP/tree.tar" deployments services pods ingresses
mkdir "$TMP/untar"
tar -C "$TMP/untar" -xf "$TMP/tree.tar"
ok "tar content equals the mount (diff -r)" diff -r "$TMP/untar/deployments" "$mnt/deployments"
ok "rsync -a from the mount" rsync -a "$mnt/deployments" "$mnt/pods" "$mnt/ingresses" "$TMP/rs/"
ok "rsync copy equals the mount (diff -r)" diff -r "$TMP/rs/pods" "$mnt/pods"
ok "rsync copy equals the mount (diff -r) 2" diff -r "$TMP/rs/deployments" "$mnt/deployments"
nbad=0
for f in $(cd "$mnt" && find deployments pods ingresses -name '*.json'); do
	sizes_exact "$mnt/$f" || nbad=$((nbad + 1))
done
is "$nbad" 0 "every file: stat, ls -l and cat agree"

# ---- no stale reads ------------------------------------------------------------

python3 - "$d/fresh.json" >"$TMP/fresh.out" 2>&1 <<'EOF'
import json, subprocess, sys
path = sys.argv[1]
bad = 0
for i in range(50):
    image = "registry.example.com/app:" + "x" * ((i * 37) % 300) + str(i)
    with open(path, "w") as f:
        f.write(json.dumps({"spec": {"image": image, "replicas": i % 7}}))
    # Another process reads, stats and parses right after close().
    out = subprocess.run(["sh", "-c", 'stat -c %s "$1"; cat "$1"', "sh", path],
                         capture_output=True, text=True)
    size, _, text = out.stdout.partition("\n")
    try:
        doc = json.loads(text)
        got = doc["spec"]["image"]
    except Exception as e:
        got = "unparsable: %r" % e
    if got != image or int(size) != len(text.encode()):
        bad += 1
        print("round %d: wrote %s..%d, other process saw %s (stat %s, read %d)"
              % (i, image[:30], len(image), str(got)[:40], size, len(text.encode())))
print("bad=%d" % bad)
EOF
ok "50 rewrites of varying size: another process always reads the new content" \
	grep -qx 'bad=0' "$TMP/fresh.out" || diag "$(head -20 "$TMP/fresh.out")"
is "$(version_of "$d/fresh.json")" 50 "50 rewrites: version 50"

# ---- scratch files never became resources --------------------------------------

sleep 0.2
kill $evpid 2>/dev/null
wait $evpid 2>/dev/null
umount_swarmfs "$mnt"
is "$?" 0 "unmount"
bad=$(jq -r 'select(.name != null and .name != "") | .name' "$TMP/events.log" 2>/dev/null |
	grep -Ev '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' | sort -u | tr '\n' ' ')
is "$bad" "" "events never name a scratch file"
ok "events were received at all" [ -s "$TMP/events.log" ]
if mount_swarmfs "$data" "$mnt"; then
	ok "after remount: only resources, no scratch files" only_resources "$d" \
		web.json catw.json dd.json inst.json py.json moved.json fresh.json
	umount_swarmfs "$mnt"
fi

done_testing
