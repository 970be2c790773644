/* metrics.c - MOUNT/metrics: this node's counters and gauges in the
 * Prometheus text exposition format 0.0.4 (swarmfs_ prefix, base units,
 * _total counters), rendered at open like status.json; the write and
 * reject counters count since the mount started. */
#include "fs.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counters -------------------------------------------------------------- */

static const char *const op_names[FS_WRITE_OP_COUNT] = {
	[FS_WRITE_PUT] = "put",
	[FS_WRITE_DELETE] = "delete",
	[FS_WRITE_RENAME] = "rename",
	[FS_WRITE_MKNS] = "mkns",
	[FS_WRITE_RMNS] = "rmns",
};

static atomic_uint_fast64_t writes[STORE_KIND_COUNT][FS_WRITE_OP_COUNT];
static atomic_uint_fast64_t restores;

void fs_metrics_write(enum store_kind kind, enum fs_write_op op)
{
	if ((unsigned)kind < STORE_KIND_COUNT && (unsigned)op < FS_WRITE_OP_COUNT)
		atomic_fetch_add_explicit(&writes[kind][op], 1, memory_order_relaxed);
}

void fs_metrics_restore(void)
{
	atomic_fetch_add_explicit(&restores, 1, memory_order_relaxed);
}

/*
 * Rejected writes by reason.  The classes below are the errnos a rejected
 * write reaches fs_reject with (store_put, the early check in write(),
 * snapshots/.restore); EINVAL is split by the validator's wording, which
 * store/schema.c keeps stable ("PATH: unknown field", "PATH: required",
 * "invalid JSON at ...").  They are always exported, zero included, so a
 * rate() over them never starts from a missing series.  Any other errno
 * gets a slot of its own with reason "other".
 */
struct reject_class {
	const char *reason;
	int err;
};

static const struct reject_class known[] = {
	{ "empty", EINVAL },            /* nothing written but truncated or created */
	{ "syntax", EINVAL },           /* not (strict) JSON, bad UTF-8, duplicate keys */
	{ "unknown_field", EINVAL },
	{ "required", EINVAL },         /* a required field is missing */
	{ "schema", EINVAL },           /* any other schema error: type, range, enum */
	{ "invalid_name", EINVAL },     /* e.g. a snapshot name written to .restore */
	{ "version_conflict", ESTALE }, /* metadata.version is not current */
	{ "too_large", EFBIG },
	{ "not_found", ENOENT },        /* namespace or snapshot gone */
	{ "no_space", ENOSPC },
	{ "io", EIO },
};

#define KNOWN (sizeof(known) / sizeof(known[0]))
#define OTHER_MAX 16

static pthread_mutex_t reject_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t reject_known[KNOWN];      /* protected by reject_lock */
static int other_err[OTHER_MAX];          /* protected by reject_lock */
static uint64_t other_count[OTHER_MAX];   /* protected by reject_lock */
static size_t other_n;                    /* protected by reject_lock */

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && memcmp(s + n - t, tail, t) == 0;
}

static bool starts_with(const char *s, const char *head)
{
	return strncmp(s, head, strlen(head)) == 0;
}

static const char *einval_class(const char *reason)
{
	if (strcmp(reason, "empty document not stored") == 0)
		return "empty";
	if (starts_with(reason, "invalid JSON") || starts_with(reason, "invalid UTF-8") ||
	    starts_with(reason, "unsupported \\u0000") || ends_with(reason, ": duplicate key"))
		return "syntax";
	if (ends_with(reason, ": unknown field"))
		return "unknown_field";
	if (ends_with(reason, ": required"))
		return "required";
	if (starts_with(reason, "invalid "))
		return "invalid_name";
	return "schema";
}

void fs_metrics_reject(int err, const char *reason)
{
	const char *cls = err == EINVAL ? einval_class(reason ? reason : "") : NULL;

	pthread_mutex_lock(&reject_lock);
	for (size_t i = 0; i < KNOWN; i++) {
		if (known[i].err == err && (cls == NULL || strcmp(cls, known[i].reason) == 0)) {
			reject_known[i]++;
			pthread_mutex_unlock(&reject_lock);
			return;
		}
	}
	for (size_t i = 0; i < other_n; i++) {
		if (other_err[i] == err) {
			other_count[i]++;
			pthread_mutex_unlock(&reject_lock);
			return;
		}
	}
	/* A bounded table: errnos beyond it are still logged and listed in
	 * status.json, only not counted here. */
	if (other_n < OTHER_MAX) {
		other_err[other_n] = err;
		other_count[other_n++] = 1;
	}
	pthread_mutex_unlock(&reject_lock);
}

/* ---- the exposition format --------------------------------------------------- */

/* Writes families one after the other; a family's HELP and TYPE lines come
 * with its first sample, so a family without samples (no peers) is left
 * out rather than declared empty. */
struct expo {
	FILE *f;
	const char *name, *type, *help;
	bool declared;
};

static void family(struct expo *e, const char *name, const char *type, const char *help)
{
	e->name = name;
	e->type = type;
	e->help = help;
	e->declared = false;
}

/* Label values escape backslash, double quote and newline (0.0.4). */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* One sample of the current family: labels is a NULL-terminated list of
 * name, value pairs (or NULL).  Counts print as integers, times and ages
 * (real) always with three decimals, so that their length, which getattr
 * reports, rarely changes between two renderings. */
static void put_sample(struct expo *e, const char *const *labels, double value, bool real)
{
	if (!e->declared) {
		fprintf(e->f, "# HELP %s %s\n# TYPE %s %s\n", e->name, e->help, e->name, e->type);
		e->declared = true;
	}
	fputs(e->name, e->f);
	if (labels && labels[0]) {
		fputc('{', e->f);
		for (size_t i = 0; labels[i]; i += 2) {
			fprintf(e->f, "%s%s=\"", i ? "," : "", labels[i]);
			put_label_value(e->f, labels[i + 1] ? labels[i + 1] : "");
			fputc('"', e->f);
		}
		fputc('}', e->f);
	}
	if (isnan(value))
		fputs(" NaN\n", e->f);
	else if (!real && value == floor(value) && fabs(value) < 9007199254740992.0)
		fprintf(e->f, " %.0f\n", value);
	else
		fprintf(e->f, " %.3f\n", value);
}

static void sample(struct expo *e, const char *const *labels, double value)
{
	put_sample(e, labels, value, false);
}

static void sample1(struct expo *e, double value)
{
	put_sample(e, NULL, value, false);
}

static void seconds1(struct expo *e, double value)
{
	put_sample(e, NULL, value, true);
}

/* ---- gauges from the store, the snapshot dir and the sidecar ----------------- */

static int count_conflict(const struct store_conflict *c, void *arg)
{
	int64_t *per_kind = arg;

	if ((unsigned)c->kind < STORE_KIND_COUNT)
		per_kind[c->kind]++;
	return 0;
}

static double num_or(const cJSON *o, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *str_or(const cJSON *o, const char *key, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

/* The sidecar's per-peer view and its own counters, from
 * DATA/sync-status.json as sync/node.c writes it at every heartbeat.
 * last_heard_ms_ago was measured when the file was written, so the file's
 * age is added to make it "seconds ago" now. */
static void put_replication(struct expo *e, int64_t now_ms)
{
	static const struct {
		const char *key, *name, *help;
	} counters[] = {
		{ "applied", "swarmfs_replication_applied_total",
		  "Remote changes the sidecar applied to this store." },
		{ "duplicates", "swarmfs_replication_duplicates_total",
		  "Remote changes received again and skipped." },
		{ "gaps", "swarmfs_replication_gaps_total",
		  "Gaps in a peer's change sequence that were fetched again." },
		{ "rejected_frames", "swarmfs_replication_rejected_frames_total",
		  "Malformed or unauthenticated frames the sidecar rejected." },
		{ "state_transfers", "swarmfs_replication_state_transfers_total",
		  "Full state transfers this node received." },
		{ "state_transfer_failures", "swarmfs_replication_state_transfer_failures_total",
		  "Full state transfers that failed." },
	};
	int64_t mtime_ms = 0;
	bool running = fs_sidecar_running();
	cJSON *st = fs_sync_status_read(&mtime_ms), *peers, *p;
	double file_age = st && now_ms > mtime_ms ? (double)(now_ms - mtime_ms) / 1000.0 : 0;

	family(e, "swarmfs_sidecar_up", "gauge",
	       "Whether swarmfs-sync runs on this data dir (1) or not (0).");
	sample1(e, running ? 1 : 0);
	if (st == NULL)
		return;
	family(e, "swarmfs_replication_status_age_seconds", "gauge",
	       "Seconds since the sidecar last wrote its status (DATA/sync-status.json).");
	seconds1(e, file_age);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		double v = num_or(st, counters[i].key, -1);

		if (v < 0)
			continue;
		family(e, counters[i].name, "counter", counters[i].help);
		sample1(e, v);
	}
	peers = cJSON_GetObjectItemCaseSensitive(st, "peers");
	if (!cJSON_IsArray(peers)) {
		cJSON_Delete(st);
		return;
	}
	family(e, "swarmfs_replication_peer_connected", "gauge",
	       "Whether the sidecar hears from the peer (1) or not (0).");
	cJSON_ArrayForEach(p, peers) {
		const char *l[] = { "peer", str_or(p, "url", ""), "node", str_or(p, "node", ""), NULL };
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "connected");
		sample(e, l, running && cJSON_IsTrue(c) ? 1 : 0);
	}
	family(e, "swarmfs_replication_peer_behind_changes", "gauge",
	       "Changes the peer has that this node lacks (replication lag towards this node).");
	cJSON_ArrayForEach(p, peers) {
		const char *l[] = { "peer", str_or(p, "url", ""), "node", str_or(p, "node", ""), NULL };
		sample(e, l, num_or(p, "behind", 0));
	}
	family(e, "swarmfs_replication_peer_ahead_changes", "gauge",
	       "Changes this node has that the peer lacks, as of its last heartbeat.");
	cJSON_ArrayForEach(p, peers) {
		const char *l[] = { "peer", str_or(p, "url", ""), "node", str_or(p, "node", ""), NULL };
		sample(e, l, num_or(p, "ahead", 0));
	}
	family(e, "swarmfs_replication_peer_last_heard_seconds", "gauge",
	       "Seconds since the sidecar last heard from the peer (absent: never).");
	cJSON_ArrayForEach(p, peers) {
		const char *l[] = { "peer", str_or(p, "url", ""), "node", str_or(p, "node", ""), NULL };
		double ago = num_or(p, "last_heard_ms_ago", -1);
		if (ago >= 0)
			put_sample(e, l, ago / 1000.0 + file_age, true);
	}
	cJSON_Delete(st);
}

static void put_rejects(struct expo *e)
{
	uint64_t k[KNOWN], oc[OTHER_MAX];
	int oe[OTHER_MAX];
	size_t on;

	pthread_mutex_lock(&reject_lock);
	memcpy(k, reject_known, sizeof(k));
	memcpy(oe, other_err, sizeof(oe));
	memcpy(oc, other_count, sizeof(oc));
	on = other_n;
	pthread_mutex_unlock(&reject_lock);
	family(e, "swarmfs_rejected_writes_total", "counter",
	       "Writes refused since the mount started, by reason and errno.");
	for (size_t i = 0; i < KNOWN; i++) {
		const char *name = strerrorname_np(known[i].err);
		const char *l[] = { "reason", known[i].reason, "errno", name ? name : "", NULL };
		sample(e, l, (double)k[i]);
	}
	for (size_t i = 0; i < on; i++) {
		char num[16];
		const char *name = strerrorname_np(oe[i]);
		const char *l[] = { "reason", "other", "errno", name, NULL };
		if (name == NULL) {
			snprintf(num, sizeof(num), "%d", oe[i]);
			l[3] = num;
		}
		sample(e, l, (double)oc[i]);
	}
}

int fs_metrics_render(char **out, size_t *len)
{
	struct store_status st;
	struct fs_snap_summary sum;
	int64_t conflicts[STORE_KIND_COUNT] = { 0 };
	int64_t now = fs_now_ms();
	struct expo e = { 0 };
	struct store *s;
	char *buf = NULL;
	size_t size = 0;
	int rc;

	rc = fs_store(&s);
	if (rc == 0)
		rc = store_status(s, &st);
	if (rc == 0)
		rc = store_conflict_list(s, NULL, NULL, count_conflict, conflicts);
	if (rc < 0)
		return rc;
	/* An unreadable snapshot dir is not a reason to hide the rest. */
	if (fs_snap_summary(&sum) < 0)
		memset(&sum, 0, sizeof(sum));
	e.f = open_memstream(&buf, &size);
	if (e.f == NULL)
		return -ENOMEM;

	family(&e, "swarmfs_up", "gauge", "Whether the mount answers (always 1 when read).");
	sample1(&e, 1);
	family(&e, "swarmfs_info", "gauge", "This node's name, swarmfs version and durability mode.");
	{
		const char *l[] = { "node", st.node, "version", SWARMFS_VERSION, "sync",
				    st.sync == STORE_SYNC_NORMAL ? "normal" : "full", NULL };
		sample(&e, l, 1);
	}
	family(&e, "swarmfs_start_time_seconds", "gauge",
	       "When the mount started, in seconds since the Unix epoch.");
	seconds1(&e, (double)fs.started_ms / 1000.0);
	family(&e, "swarmfs_revision", "gauge", "The store's revision (its newest change-log entry).");
	sample1(&e, (double)st.revision);

	family(&e, "swarmfs_writes_total", "counter",
	       "Changes committed through this mount since it started, by kind and operation.");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		for (int op = 0; op < FS_WRITE_OP_COUNT; op++) {
			const char *l[] = { "kind", store_kind_dir(k), "op", op_names[op], NULL };
			sample(&e, l, (double)atomic_load_explicit(&writes[k][op], memory_order_relaxed));
		}
	}
	family(&e, "swarmfs_restores_total", "counter",
	       "Whole-state restores through snapshots/.restore since the mount started.");
	sample1(&e, (double)atomic_load_explicit(&restores, memory_order_relaxed));
	put_rejects(&e);

	family(&e, "swarmfs_resources", "gauge", "Live resources, by kind.");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *l[] = { "kind", store_kind_dir(k), NULL };
		sample(&e, l, (double)st.resources[k]);
	}
	family(&e, "swarmfs_namespaces", "gauge", "Namespaces, by kind.");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *l[] = { "kind", store_kind_dir(k), NULL };
		sample(&e, l, (double)st.namespaces[k]);
	}
	family(&e, "swarmfs_conflicts", "gauge",
	       "Losing versions of concurrent writes kept under conflicts/, by kind.");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *l[] = { "kind", store_kind_dir(k), NULL };
		sample(&e, l, (double)conflicts[k]);
	}

	family(&e, "swarmfs_store_size_bytes", "gauge", "Size of the main SQLite database file.");
	sample1(&e, (double)st.db_bytes);
	family(&e, "swarmfs_store_wal_size_bytes", "gauge", "Size of the SQLite write-ahead log.");
	sample1(&e, (double)st.wal_bytes);
	family(&e, "swarmfs_changelog_entries", "gauge", "Entries in the change log.");
	sample1(&e, (double)st.changes);
	family(&e, "swarmfs_tombstones", "gauge", "Deleted resources still kept as tombstones.");
	sample1(&e, (double)st.tombstones);

	family(&e, "swarmfs_snapshots", "gauge", "Snapshots in the data dir.");
	sample1(&e, (double)sum.count);
	family(&e, "swarmfs_snapshots_size_bytes", "gauge", "Total size of the snapshot files.");
	sample1(&e, (double)sum.bytes);
	if (sum.newest[0]) {
		/* The scheduler's clock stamps automatic snapshots. */
		int64_t clock = fs_clock_ms();
		double age = clock > sum.newest_created_ms
				     ? (double)(clock - sum.newest_created_ms) / 1000.0 : 0;
		family(&e, "swarmfs_snapshot_newest_timestamp_seconds", "gauge",
		       "When the newest snapshot was taken, in seconds since the Unix epoch.");
		seconds1(&e, (double)sum.newest_created_ms / 1000.0);
		family(&e, "swarmfs_snapshot_newest_age_seconds", "gauge",
		       "Age of the newest snapshot (absent when there is none).");
		seconds1(&e, age);
	}
	family(&e, "swarmfs_snapshot_interval_seconds", "gauge",
	       "Seconds between automatic snapshots (0: off).");
	sample1(&e, (double)fs.snapshot_interval);

	put_replication(&e, now);
	if (fclose(e.f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = size;
	return 0;
}
