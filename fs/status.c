/* status.c - renders status.json: this node's identity, revision, counts,
 * store size, snapshots, peers and the recent rejected writes, printed with
 * the documents' 2-space layout (cJSON's own printer indents with tabs). */
#include "fs.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *sync_name(enum store_sync_mode m)
{
	return m == STORE_SYNC_NORMAL ? "normal" : "full";
}

int fs_status_render(char **out, size_t *len)
{
	struct store_status st;
	struct store *s;
	struct sbuf b = { 0 };
	char started[32];
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
	cJSON_AddArrayToObject(root, "peers");
	arr = cJSON_AddArrayToObject(root, "rejected");
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
