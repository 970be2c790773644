#!/bin/sh
# t0400-random-faults.sh - EIO and ENOSPC at random (1-5%) on the store's
# pwrite, fdatasync and fsync while documents are written through the
# mount: every failed writer hears ENOSPC or EIO from close(), no
# acknowledged write is lost, the service resumes once the faults clear
# (no restart) and the store passes integrity_check.
# FAULT_WRITES (default 300) sets the number of writes under faults.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/faults/fault-lib.sh"

require_fiu

writes=${FAULT_WRITES:-300}
phases=6
per_phase=$(((writes + phases - 1) / phases))
writer=$top_srcdir/tests/faults/fault-writes.py
data=$TMP/data
mnt=$TMP/mnt
rec=$TMP/writes.txt
dir=$mnt/deployments/default

mount_swarmfs "$data" "$mnt" --node node-1 || bail_out "cannot mount"
pid=$SWARMFS_PID

python3 "$writer" write "$dir" 0 20 120 "$TMP/warmup.txt"
is "$(grep -vc ' OK$' "$TMP/warmup.txt")" 0 "20 writes before any fault all acknowledged"

# Alternate the errno per phase; each phase draws its own probability.
first=1000
for phase in $(seq 1 $phases); do
	p=0.0$((RANDOM % 5 + 1))
	if [ $((phase % 2)) -eq 1 ]; then e=28; else e=5; fi
	fiu_io_random "$pid" "$p" "$e" || bail_out "fiu-ctrl failed"
	diag "phase $phase: errno $e on pwrite/fdatasync/fsync at p=$p"
	python3 "$writer" write "$dir" $first $per_phase 120 "$rec"
	first=$((first + per_phase))
	# Reads never touch the faulty calls.
	jq -e .spec.image "$dir/w000.json" >/dev/null 2>&1 || diag "read of w000.json failed in phase $phase"
done
# Concurrent writers share transactions (fs/groupcommit.c), each on names
# of its own so the last acknowledged write of a name is known: when a fault
# rolls a batch back, every write of that batch must fail and no other.
fiu_io_random "$pid" 0.02 28 || bail_out "fiu-ctrl failed"
diag "concurrent phase: 4 writers, errno 28 at p=0.02"
writers=""
for w in 1 2 3 4; do
	python3 "$writer" write "$dir" $((first + (w - 1) * 100)) 50 100000 "$TMP/conc$w.txt" &
	writers="$writers $!"
done
for w in $writers; do
	wait "$w"
done
first=$((first + 400))
cat "$TMP"/conc[1-4].txt >>"$rec"
fiu_io_clear "$pid" || bail_out "fiu-ctrl failed"

attempted=$(wc -l <"$rec")
nfailed=$(grep -vc ' OK$' "$rec")
cat "$TMP/warmup.txt" "$rec" >"$TMP/all.txt"
out=$(python3 "$writer" verify "$dir" "$TMP/all.txt")
ok "no acknowledged write lost or torn under faults" [ $? -eq 0 ] || diag "$out"
diag "under faults: $(cut -d' ' -f3- "$rec" | sort | uniq -c | tr -s ' \n' ' ')"
ok "faults fired: some writes failed ($nfailed of $attempted)" [ "$nfailed" -gt 0 ]
is "$(grep -v ' OK$' "$rec" | grep -Evc ' close:(ENOSPC|EIO)$')" 0 \
	"every failed write failed at close() with ENOSPC or EIO"
ok "some writers heard ENOSPC" grep -q ' close:ENOSPC$' "$rec"
ok "some writers heard EIO" grep -q ' close:EIO$' "$rec"

# Service resumes without a restart.
python3 "$writer" write "$dir" 5000 60 120 "$TMP/after.txt"
is "$(grep -vc ' OK$' "$TMP/after.txt")" 0 "60 writes after the faults cleared all acknowledged"
ok "the same daemon still serves the mount" kill -0 "$pid"
cat "$TMP/after.txt" >>"$TMP/all.txt"
out=$(python3 "$writer" verify "$dir" "$TMP/all.txt")
ok "no acknowledged write lost or torn, faults cleared" [ $? -eq 0 ] || diag "$out"

ok "the daemon logged the failed commits" \
	grep -Eq "rejected write to 'deployments/default/w[0-9]+\.json': .*(disk full|disk I/O error)" "$SWARMFS_LOG"
rej=$(jq -r '[.rejected[].errno] | unique | join(",")' "$mnt/status.json" 2>/dev/null)
ok "status.json lists the rejected writes with their errno ($rej)" \
	sh -c "echo '$rej' | grep -Eq 'ENOSPC|EIO'"

is "$(integrity "$data/store.db")" ok "integrity_check passes alongside the live daemon"
umount_swarmfs "$mnt"
is "$?" 0 "swarmfs exits 0 at unmount"
is "$(integrity "$data/store.db")" ok "integrity_check passes after unmount"
is "$(log_consistent "$data/store.db")" "" "rows, change log and origin sequence agree (nothing half applied)"

# A fresh daemon (the shipped binary) reads the same from disk.
if SWARMFS=$SWARMFS_PLAIN mount_swarmfs "$data" "$mnt" --node node-1; then
	out=$(python3 "$writer" verify "$dir" "$TMP/all.txt")
	rc=$?
	diag "all writes: ${out%%$'\n'*}"
	ok "no acknowledged write lost or torn after a remount" [ $rc -eq 0 ] || diag "$out"
	umount_swarmfs "$mnt"
else
	fail "remount with '$SWARMFS_PLAIN'"
fi

done_testing
