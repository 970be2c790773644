/* status.c - renders status.json: this node's identity, revision, digest,
 * counts, store size, snapshots, the sidecar's peers and counters (from
 * DATA/sync-status.json) and the recent rejected writes, printed with the
 * documents' 2-space layout (cJSON's own printer indents with tabs). */
#include "fs.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_indent(struct sbuf *b, int depth)
{
	for (int i = 0; i < depth; i++)
		sb_add(b, "  ", 2);
}

/* Prints like `jq .`: one member per line, empty containers as {} and []. */
static void print_item(struct sbuf *b, const cJSON *item, int depth)
{
	bool obj = cJSON_IsObject(item);

	if (obj || cJSON_IsArray(item)) {
		const cJSON *c = item->child;
		if (c == NULL) {
			sb_str(b, obj ? "{}" : "[]");
			return;
		}
		sb_str(b, obj ? "{\n" : "[\n");
		for (; c; c = c->next) {
			sb_indent(b, depth + 1);
			if (obj) {
				cJSON *key = cJSON_CreateString(c->string);
				char *k = key ? cJSON_PrintUnformatted(key) : NULL;
				if (k == NULL)
					b->err = -ENOMEM;
				else
					sb_str(b, k);
				sb_str(b, ": ");
				cJSON_free(k);
				cJSON_Delete(key);
			}
			print_item(b, c, depth + 1);
			sb_str(b, c->next ? ",\n" : "\n");
		}
		sb_indent(b, depth);
		sb_str(b, obj ? "}" : "]");
		return;
	}
	char *s = cJSON_PrintUnformatted(item);
	if (s == NULL) {
		b->err = -ENOMEM;
		return;
	}
	sb_str(b, s);
	cJSON_free(s);
}

int fs_json_print(const cJSON *item, char **out, size_t *len)
{
	struct sbuf b = { 0 };

	print_item(&b, item, 0);
	sb_str(&b, "\n");
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* The sidecar writes DATA/sync-status.json (sync/node.c); its own lock
 * DATA/swarmfs-sync.lock tells whether it still runs: a flock on that file
 * in /proc/locks.  Looking there takes no lock, so a sidecar starting now
 * never finds its lock taken by us. */
#define SYNC_STATUS "sync-status.json"
#define SYNC_LOCK "swarmfs-sync.lock"

bool fs_sidecar_running(void)
{
	char path[PATH_MAX + 32], line[256];
	struct stat sb;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fs.data_dir, SYNC_LOCK);
	if (stat(path, &sb) < 0)
		return false;
	f = fopen("/proc/locks", "re");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		char type[16];
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
		if (sscanf(line, "%*s %15s %*s %*s %*d %x:%x:%llu", type, &maj, &min, &ino) == 4 &&
		    strcmp(type, "FLOCK") == 0 && ino == (unsigned long long)sb.st_ino &&
		    makedev(maj, min) == sb.st_dev)
			found = true;
	}
	fclose(f);
	return found;
}

cJSON *fs_sync_status_read(int64_t *mtime_ms)
{
	char path[PATH_MAX + 32], *text = NULL;
	struct stat sb;
	long n;
	cJSON *j = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fs.data_dir, SYNC_STATUS);
	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	if (mtime_ms && fstat(fileno(f), &sb) == 0)
		*mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 22) &&
	    fseek(f, 0, SEEK_SET) == 0) {
		text = malloc((size_t)n + 1);
		if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
			text[n] = '\0';
			j = cJSON_Parse(text);
		}
	}
	free(text);
	fclose(f);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* "sidecar", "peers" (the sidecar's per-peer array) and "replication" (its
 * counters) from DATA/sync-status.json.  Peers of a sidecar that no longer
 * runs are shown as it last saw them, but not connected. */
static int add_sync(cJSON *root)
{
	static const char *const counters[] = {
		"applied", "duplicates", "refused", "gaps", "rejected_frames",
		"stale_replies", "state_transfers", "state_transfer_bytes",
		"state_transfer_failures", "state_transfers_served", "tombstones_purged",
		"refused_connections", "sequence_confirmed", "renumbered", "updated",
	};
	bool running = fs_sidecar_running();
	cJSON *st = fs_sync_status_read(NULL), *peers, *sync, *p;

	if (cJSON_AddStringToObject(root, "sidecar", running ? "running" : "not running") == NULL) {
		cJSON_Delete(st);
		return -ENOMEM;
	}
	peers = st ? cJSON_DetachItemFromObjectCaseSensitive(st, "peers") : NULL;
	if (peers && !cJSON_IsArray(peers)) {
		cJSON_Delete(peers);
		peers = NULL;
	}
	if (peers == NULL)
		peers = cJSON_CreateArray();
	if (peers == NULL || !cJSON_AddItemToObject(root, "peers", peers)) {
		cJSON_Delete(peers);
		cJSON_Delete(st);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(p, peers) {
		if (!running && cJSON_IsObject(p))
			cJSON_ReplaceItemInObjectCaseSensitive(p, "connected", cJSON_CreateFalse());
	}
	/* "sync" already names the store's durability mode. */
	sync = cJSON_AddObjectToObject(root, "replication");
	if (sync == NULL) {
		cJSON_Delete(st);
		return -ENOMEM;
	}
	for (size_t i = 0; st && i < sizeof(counters) / sizeof(counters[0]); i++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(st, counters[i]);
		if (v && !cJSON_AddItemToObject(sync, counters[i], v))
			cJSON_Delete(v);
	}
	cJSON_Delete(st);
	return 0;
}

/* store_digest hashes every live resource: status.json is rendered at
 * each getattr and open, so the digest is kept until the revision moves. */
static pthread_mutex_t digest_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t digest_revision = -1;   /* protected by digest_lock */
static char digest_hex[33];            /* protected by digest_lock */

static int cached_digest(struct store *s, int64_t revision, char hex[33])
{
	int rc = 0;

	pthread_mutex_lock(&digest_lock);
	if (digest_revision != revision) {
		rc = store_digest(s, digest_hex, NULL);
		digest_revision = rc == 0 ? revision : -1;
	}
	memcpy(hex, digest_hex, 33);
	pthread_mutex_unlock(&digest_lock);
	return rc;
}

static const char *sync_name(enum store_sync_mode m)
{
	return m == STORE_SYNC_NORMAL ? "normal" : "full";
}

int fs_status_render(char **out, size_t *len)
{
	struct store_status st;
	struct store *s;
	struct sbuf b = { 0 };
	char started[32], digest[33];
	cJSON *root, *counts, *store, *snaps, *arr;
	int rc;

	rc = fs_store(&s);
	if (rc < 0)
		return rc;
	rc = store_status(s, &st);
	if (rc < 0)
		return rc;
	root = cJSON_CreateObject();
	if (root == NULL)
		return -ENOMEM;
	store_format_time(fs.started_ms, started, sizeof(started));
	cJSON_AddStringToObject(root, "node", st.node);
	cJSON_AddNumberToObject(root, "revision", (double)st.revision);
	cJSON_AddNumberToObject(root, "schema_version", st.schema_version);
	cJSON_AddStringToObject(root, "sync", sync_name(st.sync));
	cJSON_AddStringToObject(root, "data_dir", fs.data_dir);
	cJSON_AddStringToObject(root, "mountpoint", fs.mountpoint);
	cJSON_AddNumberToObject(root, "pid", fs.pid);
	cJSON_AddStringToObject(root, "started", started);
	cJSON_AddBoolToObject(root, "readonly", fs.readonly);
	counts = cJSON_AddObjectToObject(root, "counts");
	for (int k = 0; counts && k < STORE_KIND_COUNT; k++) {
		cJSON *c = cJSON_AddObjectToObject(counts, store_kind_dir(k));
		if (c) {
			cJSON_AddNumberToObject(c, "resources", (double)st.resources[k]);
			cJSON_AddNumberToObject(c, "namespaces", (double)st.namespaces[k]);
		}
	}
	store = cJSON_AddObjectToObject(root, "store");
	if (store) {
		cJSON_AddNumberToObject(store, "db_bytes", (double)st.db_bytes);
		cJSON_AddNumberToObject(store, "wal_bytes", (double)st.wal_bytes);
		cJSON_AddNumberToObject(store, "changes", (double)st.changes);
		cJSON_AddNumberToObject(store, "oldest_revision", (double)st.oldest_revision);
		cJSON_AddNumberToObject(store, "tombstones", (double)st.tombstones);
	}
	snaps = cJSON_AddObjectToObject(root, "snapshots");
	if (snaps) {
		struct fs_snap_summary sum;
		char newest[32];
		/* An unreadable snapshot dir is not a reason to hide the rest. */
		if (fs_snap_summary(&sum) < 0)
			memset(&sum, 0, sizeof(sum));
		cJSON_AddNumberToObject(snaps, "count", (double)sum.count);
		cJSON_AddNumberToObject(snaps, "bytes", (double)sum.bytes);
		if (sum.newest[0]) {
			store_format_time(sum.newest_created_ms, newest, sizeof(newest));
			cJSON_AddStringToObject(snaps, "newest", sum.newest);
			cJSON_AddStringToObject(snaps, "newest_created", newest);
		} else {
			cJSON_AddNullToObject(snaps, "newest");
			cJSON_AddNullToObject(snaps, "newest_created");
		}
		cJSON_AddNumberToObject(snaps, "interval", (double)fs.snapshot_interval);
	}
	rc = cached_digest(s, st.revision, digest);
	if (rc == 0 && cJSON_AddStringToObject(root, "digest", digest) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = add_sync(root);
	arr = rc == 0 ? cJSON_AddArrayToObject(root, "rejected") : NULL;
	if (rc == 0)
		rc = arr ? fs_reject_to_json(arr) : -ENOMEM;
	if (rc == 0 && (counts == NULL || store == NULL || snaps == NULL))
		rc = -ENOMEM;
	if (rc == 0) {
		print_item(&b, root, 0);
		sb_str(&b, "\n");
		rc = b.err;
	}
	cJSON_Delete(root);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
