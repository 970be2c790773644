/* test-snapshot.c - snapshots against real files in a temporary dir: taking
 * one (standalone, checked, no leftovers), names, listing, browsing, a
 * snapshot taken while another connection writes, whole restore, recovery
 * of a destroyed store, disk full, pruning, and timings for 10,000
 * resources. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

#define D STORE_KIND_DEPLOYMENT
#define S STORE_KIND_SERVICE
#define P STORE_KIND_POD
#define WEB "{\"spec\":{\"image\":\"nginx:1.25\"}}"
#define WEB2 "{\"spec\":{\"image\":\"nginx:1.26\",\"replicas\":3}}"
#define SVC "{\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}"
#define POD "{\"spec\":{\"image\":\"busybox\"}}"

static char dir[3800];
static char path[4096];
static char snapdir[4096];
static int64_t fake_now = 1767225600000; /* 2026-01-01T00:00:00Z */

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store *open_store(bool fake)
{
	struct store_options o = {
		.node = "node-1", .create = true,
		.now_ms = fake ? fake_clock : NULL, .sync = STORE_SYNC_NORMAL,
	};
	struct store_err err = { "" };
	struct store *s = NULL;
	int rc = store_open(path, &o, &s, &err);

	if (rc < 0)
		diag("store_open: %d %s", rc, err.msg);
	return s;
}

static int put(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, const char *json)
{
	struct store_err err = { "" };
	int rc = store_put(s, kind, ns, name, json, strlen(json), NULL, NULL, &err);

	if (rc < 0)
		diag("put %s/%s: %d %s", ns, name, rc, err.msg);
	return rc;
}

/* ---- state dumps: sorted "kind/ns/" and "kind/ns/name=body" lines ------- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, char *line)
{
	if (!line)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = line;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, joined with newlines; frees the lines.  Caller frees the result. */
static char *lines_join(struct lines *l)
{
	size_t len = 1, off = 0;
	char *out;

	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	out = malloc(len);
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);

		memcpy(out + off, l->v[i], n);
		out[off + n] = '\n';
		off += n + 1;
		free(l->v[i]);
	}
	out[off] = '\0';
	free(l->v);
	memset(l, 0, sizeof(*l));
	return out;
}

static char *line_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *line_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

struct dump {
	struct store *s;
	enum store_kind kind;
	const char *ns;
	struct lines lines;
	int64_t count;
};

static int dump_entry(const struct store_entry *e, void *arg)
{
	struct dump *d = arg;
	char *body = NULL;
	int rc = store_get(d->s, d->kind, d->ns, e->name, NULL, &body);

	if (rc < 0)
		return rc;
	lines_add(&d->lines, line_fmt("%d/%s/%s=%s", d->kind, d->ns, e->name, body));
	free(body);
	d->count++;
	return 0;
}

static int dump_ns(const struct store_ns_info *info, void *arg)
{
	struct dump *d = arg;

	lines_add(&d->lines, line_fmt("%d/%s/", d->kind, info->name));
	d->ns = info->name;
	return store_list(d->s, d->kind, info->name, dump_entry, d);
}

/* The whole visible state through the public API; caller frees. */
static char *dump_store(struct store *s, int64_t *count)
{
	struct dump d = { .s = s };
	int rc = 0;

	for (int k = 0; k < STORE_KIND_COUNT && rc == 0; k++) {
		d.kind = (enum store_kind)k;
		rc = store_ns_list(s, d.kind, dump_ns, &d);
	}
	if (rc < 0)
		diag("dump failed: %d", rc);
	if (count)
		*count = d.count;
	return lines_join(&d.lines);
}

static char *dump_snapshot(const char *name)
{
	struct store_err err = { "" };
	struct store *snap = NULL;
	char *out;
	int rc = store_snapshot_open(snapdir, name, &snap, &err);

	if (rc < 0) {
		diag("snapshot_open %s: %d %s", name, rc, err.msg);
		return strdup("(cannot open)");
	}
	out = dump_store(snap, NULL);
	store_close(snap);
	return out;
}

/* State at revision `upto` by replaying the change log into a scratch table. */
struct replay {
	sqlite3 *db;
	int64_t upto;
};

static int replay_change(const struct store_change *c, void *arg)
{
	struct replay *r = arg;
	sqlite3_stmt *st;
	char key[256];
	bool del = c->op == STORE_OP_DELETE || c->op == STORE_OP_NS_DELETE;

	if (c->revision > r->upto)
		return 1;
	if (c->op == STORE_OP_PUT || c->op == STORE_OP_DELETE)
		snprintf(key, sizeof(key), "%d/%s/%s", c->kind, c->ns, c->name);
	else
		snprintf(key, sizeof(key), "%d/%s/", c->kind, c->ns);
	sqlite3_prepare_v2(r->db, del ? "DELETE FROM st WHERE k = ?1"
				      : "INSERT OR REPLACE INTO st VALUES (?1, ?2)", -1, &st, NULL);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (!del && c->body)
		sqlite3_bind_text(st, 2, c->body, -1, SQLITE_TRANSIENT);
	sqlite3_step(st);
	sqlite3_finalize(st);
	return 0;
}

static char *replay_dump(struct store *s, int64_t upto)
{
	struct store_log_filter f = { .with_body = true };
	struct replay r = { .upto = upto };
	struct lines l = { 0 };
	sqlite3_stmt *st;
	int rc;

	sqlite3_open(":memory:", &r.db);
	sqlite3_exec(r.db, "CREATE TABLE st(k TEXT PRIMARY KEY, body TEXT); BEGIN", NULL, NULL, NULL);
	rc = store_log(s, &f, replay_change, &r);
	if (rc < 0)
		diag("store_log: %d", rc);
	for (int k = 0; k < STORE_KIND_COUNT; k++)
		lines_add(&l, line_fmt("%d/default/", k));
	sqlite3_prepare_v2(r.db, "SELECT k, body FROM st WHERE k NOT LIKE '%/default/'", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);

		lines_add(&l, b ? line_fmt("%s=%s", k, b) : strdup(k));
	}
	sqlite3_finalize(st);
	sqlite3_close(r.db);
	return lines_join(&l);
}

/* ---- helpers on the snapshot dir ---------------------------------------- */

static bool file_exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

/* Entries in d other than . and ..; with hidden, only dot files count. */
static int dir_entries(const char *d, bool hidden_only)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	int n = 0;

	if (!dd)
		return -1;
	for (de = readdir(dd); de; de = readdir(dd)) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (hidden_only && de->d_name[0] != '.')
			continue;
		n++;
	}
	closedir(dd);
	return n;
}

struct names {
	char v[64][STORE_NAME_MAX + 1];
	int n;
};

static int collect_snapshot(const struct store_snapshot_info *info, void *arg)
{
	struct names *n = arg;

	if (n->n < 64)
		snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", info->name);
	return 0;
}

static char *raw_pragma(const char *file, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out ? out : strdup("(error)");
}

/* ---- tests ------------------------------------------------------------------- */

static void populate_small(struct store *s)
{
	struct store_err err;

	put(s, D, "default", "web", WEB);
	put(s, D, "default", "api", WEB);
	store_ns_create(s, D, "prod", &err);
	put(s, D, "prod", "web", WEB2);
	put(s, D, "prod", "db", WEB);
	put(s, S, "default", "web", SVC);
	store_ns_create(s, P, "team", &err);
	put(s, P, "team", "p1", POD);
	put(s, P, "team", "p2", POD);
	put(s, D, "default", "gone", WEB);
	store_delete(s, D, "default", "gone", NULL, &err); /* a tombstone in the snapshot */
}

static char *before_dump;

static void test_create(struct store *s)
{
	struct store_snapshot_info info, got;
	struct store_err err = { "" };
	char file[4200], *r;
	int64_t rev, count;
	struct stat sb;
	int rc;

	before_dump = dump_store(s, &count);
	store_revision(s, &rev);
	fake_now += 1000;
	rc = store_snapshot_create(s, snapdir, "before", false, &info, &err);
	ok(rc == 0, "create snapshot 'before' (%s)", err.msg);
	snprintf(file, sizeof(file), "%s/before.db", snapdir);
	ok(stat(snapdir, &sb) == 0 && (sb.st_mode & 0777) == 0700, "the snapshot dir is created 0700");
	ok(stat(file, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600,
	   "DIR/before.db exists, mode 0600");
	ok(strcmp(info.name, "before") == 0 && info.revision == rev && info.created_ms == fake_now &&
	   !info.automatic && info.resources == count && info.bytes == sb.st_size && info.bytes > 0,
	   "info: name, revision %" PRId64 " (store %" PRId64 "), created, manual, %" PRId64
	   " resources, %" PRId64 " bytes", info.revision, rev, info.resources, info.bytes);
	ok(dir_entries(snapdir, true) == 0, "no temporary file left");
	ok(dir_entries(snapdir, false) == 1, "only the snapshot file in the dir");
	r = raw_pragma(file, "PRAGMA integrity_check");
	ok(strcmp(r, "ok") == 0, "plain sqlite3 integrity_check passes: %s", r);
	free(r);
	r = raw_pragma(file, "PRAGMA journal_mode");
	ok(strcmp(r, "delete") == 0, "journal_mode is delete: %s", r);
	free(r);
	snprintf(file, sizeof(file), "%s/before.db-wal", snapdir);
	ok(!file_exists(file), "no -wal beside it after reading it");
	snprintf(file, sizeof(file), "sqlite3 '%s/before.db' 'PRAGMA integrity_check' 2>&1", snapdir);
	{
		FILE *p = popen(file, "r");
		char line[256] = "";

		if (p && fgets(line, sizeof(line), p))
			line[strcspn(line, "\n")] = '\0';
		if (p && pclose(p) == 0 && line[0])
			ok(strcmp(line, "ok") == 0, "the sqlite3 shell says '%s'", line);
		else
			ok(1, "# SKIP no sqlite3 shell");
	}

	rc = store_snapshot_get(snapdir, "before", &got, &err);
	ok(rc == 0 && memcmp(&got, &info, sizeof(got)) == 0, "store_snapshot_get returns the same info");
	rc = store_snapshot_get(snapdir, "nope", &got, &err);
	ok(rc == -ENOENT && strcmp(err.msg, "no snapshot 'nope'") == 0, "get of a missing one: %s", err.msg);

	rc = store_snapshot_create(s, snapdir, "before", true, &info, &err);
	ok(rc == -EEXIST && strcmp(err.msg, "snapshot 'before' already exists") == 0,
	   "same name again: -EEXIST '%s'", err.msg);
	ok(dir_entries(snapdir, false) == 1, "and nothing left behind");
	static const char *const bad[] = { "Before", "", "a/b", "-x", "a.b", "..",
		"0123456789012345678901234567890123456789012345678901234567890123" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = store_snapshot_create(s, snapdir, bad[i], false, NULL, &err);
		ok(rc == -EINVAL && strstr(err.msg, "invalid snapshot name") != NULL,
		   "bad name '%.10s': %s", bad[i], err.msg);
	}
	ok(store_snapshot_delete(snapdir, "../store", &err) == -EINVAL, "delete refuses a path");
	ok(store_snapshot_get(snapdir, "../store", &got, &err) == -EINVAL, "get refuses a path");
	ok(dir_entries(snapdir, false) == 1, "bad names create nothing");

	rc = store_txn_begin(s);
	if (rc == 0) {
		rc = store_snapshot_create(s, snapdir, "in-txn", false, NULL, &err);
		ok(rc == -EINVAL, "no snapshot inside a transaction: %s", err.msg);
		store_txn_rollback(s);
	}
}

static void test_list_delete(struct store *s)
{
	struct store_err err = { "" };
	struct names n = { 0 };
	int64_t t0 = fake_now;
	int rc;

	fake_now = t0 + 3000;
	store_snapshot_create(s, snapdir, "zeta", true, NULL, &err);
	fake_now = t0 + 2000;
	store_snapshot_create(s, snapdir, "alpha", true, NULL, &err);
	fake_now = t0 + 3000;
	store_snapshot_create(s, snapdir, "beta", false, NULL, &err);
	fake_now = t0 + 4000;
	rc = store_snapshot_list(snapdir, collect_snapshot, &n);
	ok(rc == 0 && n.n == 4 && strcmp(n.v[0], "before") == 0 && strcmp(n.v[1], "alpha") == 0 &&
	   strcmp(n.v[2], "beta") == 0 && strcmp(n.v[3], "zeta") == 0,
	   "list: oldest first, equal times by name (%d: %s %s %s %s)", n.n, n.v[0], n.v[1], n.v[2], n.v[3]);

	/* Junk in the dir is skipped, not fatal. */
	{
		char junk[4200];
		int fd;

		snprintf(junk, sizeof(junk), "%s/junk.db", snapdir);
		fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			static const char junk_bytes[200] = "not a database at all, just some bytes";

			ok(write(fd, junk_bytes, sizeof(junk_bytes)) == sizeof(junk_bytes),
			   "write a junk .db file");
			close(fd);
		}
		n.n = 0;
		rc = store_snapshot_list(snapdir, collect_snapshot, &n);
		ok(rc == 0 && n.n == 4, "a junk .db file is skipped (%d listed)", n.n);
		unlink(junk);
	}
	n.n = 0;
	rc = store_snapshot_list("/nonexistent-snapshot-dir-for-test", collect_snapshot, &n);
	ok(rc == 0 && n.n == 0, "a missing dir lists nothing");

	ok(store_snapshot_delete(snapdir, "zeta", &err) == 0, "delete 'zeta'");
	{
		struct store_snapshot_info info;

		ok(store_snapshot_get(snapdir, "zeta", &info, &err) == -ENOENT, "get after delete: -ENOENT");
	}
	rc = store_snapshot_delete(snapdir, "zeta", &err);
	ok(rc == -ENOENT && strcmp(err.msg, "no snapshot 'zeta'") == 0, "delete again: %s", err.msg);
	store_snapshot_delete(snapdir, "alpha", &err);
	store_snapshot_delete(snapdir, "beta", &err);
}

static void test_browse(struct store *s)
{
	struct store_err err = { "" };
	struct store *snap = NULL;
	struct store_meta meta;
	char *d, *doc = NULL;
	size_t len;
	int rc;

	/* Change the live store: the snapshot must not follow. */
	put(s, D, "default", "web", WEB2);
	put(s, D, "default", "later", WEB);
	rc = store_snapshot_open(snapdir, "before", &snap, &err);
	ok(rc == 0 && snap, "open the snapshot read-only (%s)", err.msg);
	if (!snap)
		return;
	ok(strcmp(store_node(snap), "node-1") == 0, "it carries the node name '%s'", store_node(snap));
	d = dump_store(snap, NULL);
	ok(strcmp(d, before_dump) == 0, "browsing it with store_ns_list/store_list/store_get shows the state at the time");
	free(d);
	rc = store_read(snap, D, "default", "web", STORE_RENDER_LIVE, &meta, &doc, &len);
	ok(rc == 0 && strstr(doc, "nginx:1.25") && meta.version == 1, "store_read of a resource in it");
	free(doc);
	ok(store_stat(snap, D, "default", "later", &meta) == -ENOENT, "a later resource is not in it");
	rc = store_put(snap, D, "default", "x", WEB, strlen(WEB), NULL, NULL, &err);
	ok(rc == -EROFS, "writes to a snapshot fail with -EROFS");
	store_close(snap);
	ok(store_snapshot_open(snapdir, "nope", &snap, &err) == -ENOENT && !snap,
	   "open of a missing snapshot: %s", err.msg);
}

struct log_probe {
	int64_t after;
	int puts, deletes, mkns, rmns, other_source;
};

static int probe_change(const struct store_change *c, void *arg)
{
	struct log_probe *p = arg;

	if (!c->source || strcmp(c->source, "snapshot:before") != 0) {
		p->other_source++;
		return 0;
	}
	p->puts += c->op == STORE_OP_PUT;
	p->deletes += c->op == STORE_OP_DELETE;
	p->mkns += c->op == STORE_OP_NS_CREATE;
	p->rmns += c->op == STORE_OP_NS_DELETE;
	return 0;
}

static void test_restore(struct store *s)
{
	struct store_log_filter f = { 0 };
	struct store_err err = { "" };
	struct store_result res;
	struct store_meta meta, db_meta;
	struct log_probe probe = { 0 };
	struct store_ns_info nsi;
	int64_t rev0, rev1;
	char *d;
	int rc;

	/* web was changed and 'later' added in test_browse; more now. */
	store_stat(s, D, "prod", "db", &db_meta);
	store_delete(s, D, "default", "api", NULL, &err);
	store_ns_create(s, D, "staging", &err);
	put(s, D, "staging", "web", WEB);
	put(s, D, "prod", "new", WEB);
	store_ns_delete(s, P, "team", true, &err);
	put(s, D, "default", "gone", WEB2); /* a tombstone in the snapshot, live now */
	store_revision(s, &rev0);

	/* Inside the caller's transaction, rolled back: nothing happened. */
	rc = store_txn_begin(s);
	if (rc == 0) {
		rc = store_snapshot_restore(s, snapdir, "before", &res, &err);
		store_txn_rollback(s);
		store_revision(s, &rev1);
		ok(rc == 0 && rev1 == rev0 && store_stat(s, D, "staging", "web", &meta) == 0,
		   "a restore inside a rolled-back transaction leaves no trace");
	}

	fake_now += 1000;
	rc = store_snapshot_restore(s, snapdir, "before", &res, &err);
	store_revision(s, &rev1);
	ok(rc == 0 && res.revision == rev1 && rev1 > rev0, "restore 'before': %s (revision %" PRId64 ")",
	   err.msg, res.revision);
	d = dump_store(s, NULL);
	ok(strcmp(d, before_dump) == 0, "the live state is exactly the snapshot's");
	if (strcmp(d, before_dump) != 0)
		diag("live:\n%s\nsnapshot:\n%s", d, before_dump);
	free(d);
	ok(store_stat(s, D, "default", "later", &meta) == -ENOENT &&
	   store_stat(s, D, "prod", "new", &meta) == -ENOENT &&
	   store_stat(s, D, "default", "gone", &meta) == -ENOENT, "newer resources are gone");
	ok(store_ns_get(s, D, "staging", &nsi) == -ENOENT, "a newer namespace is gone");
	ok(store_ns_get(s, P, "team", &nsi) == 0 && nsi.count == 2, "a removed namespace is back with its pods");
	ok(store_stat(s, D, "default", "web", &meta) == 0 && meta.version == 3,
	   "a changed resource is a new version (%" PRId64 ")", meta.version);
	ok(store_stat(s, D, "default", "api", &meta) == 0 && meta.version == 3,
	   "a deleted resource continues after its tombstone (%" PRId64 ")", meta.version);
	ok(store_stat(s, D, "prod", "db", &meta) == 0 && meta.version == db_meta.version &&
	   meta.hlc == db_meta.hlc, "an unchanged resource is not touched");
	f.after_revision = rev0;
	store_log(s, &f, probe_change, &probe);
	ok(probe.other_source == 0 && probe.puts == 4 && probe.deletes == 4 && probe.mkns == 1 &&
	   probe.rmns == 1,
	   "change log: %d puts, %d deletes, %d mkns, %d rmns, all with source snapshot:before (%d others)",
	   probe.puts, probe.deletes, probe.mkns, probe.rmns, probe.other_source);

	rc = store_snapshot_restore(s, snapdir, "before", &res, &err);
	store_revision(s, &rev0);
	ok(rc == 0 && rev0 == rev1 && res.revision == rev1, "restoring it again changes nothing");
	rc = store_snapshot_restore(s, snapdir, "nope", &res, &err);
	ok(rc == -ENOENT, "restore of a missing snapshot: %s", err.msg);
}

static void test_prune(struct store *s)
{
	struct store_retention r = { .hourly = 5 };
	struct store_err err = { "" };
	struct names pruned = { 0 }, left = { 0 };
	char pdir[4200], name[32];
	int64_t t0 = fake_now;
	int rc;

	snprintf(pdir, sizeof(pdir), "%s/prune", dir);
	for (int i = 0; i < 30; i++) {
		fake_now = t0 + (int64_t)i * 3600000;
		snprintf(name, sizeof(name), "auto-%02d", i);
		store_snapshot_create(s, pdir, name, true, NULL, &err);
		if (i % 10 == 0) {
			snprintf(name, sizeof(name), "manual-%02d", i);
			store_snapshot_create(s, pdir, name, false, NULL, &err);
		}
	}
	{
		char stale[4300];
		int fd;

		snprintf(stale, sizeof(stale), "%s/.dead.db.tmp-999999999", pdir);
		fd = open(stale, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
		snprintf(stale, sizeof(stale), "%s/.mine.db.tmp-%ld", pdir, (long)getpid());
		fd = open(stale, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
	}
	rc = store_snapshot_prune(pdir, &r, collect_snapshot, &pruned, &err);
	ok(dir_entries(pdir, true) == 1, "prune removes a copy left by a dead process, not a live one's");
	store_snapshot_list(pdir, collect_snapshot, &left);
	ok(rc == 0 && pruned.n == 25 && left.n == 8, "prune hourly=5: %d pruned, %d left", pruned.n, left.n);
	ok(left.n == 8 && strcmp(left.v[0], "manual-00") == 0 && strcmp(left.v[1], "manual-10") == 0 &&
	   strcmp(left.v[2], "manual-20") == 0 && strcmp(left.v[3], "auto-25") == 0 &&
	   strcmp(left.v[7], "auto-29") == 0, "manual ones and the newest 5 hours stay");
	ok(pruned.n == 25 && strcmp(pruned.v[0], "auto-00") == 0 && strcmp(pruned.v[24], "auto-24") == 0,
	   "the callback sees each pruned one, oldest first");
	ok(dir_entries(pdir, false) == 9, "their files are gone");
	fake_now = t0 + 31 * 3600000LL;
}

/* ---- 10,000 resources: timings, a snapshot under writes, disk full ----- */

#define BIG_NS 10
#define BIG_PER 1000

static void populate_big(struct store *s, const char *image)
{
	char doc[256], ns[16], name[16];
	struct store_err err;
	double t = now_s();

	store_txn_begin(s);
	for (int i = 0; i < BIG_NS; i++) {
		snprintf(ns, sizeof(ns), "ns-%d", i);
		store_ns_create(s, D, ns, &err);
		for (int j = 0; j < BIG_PER; j++) {
			snprintf(name, sizeof(name), "d-%d", j);
			snprintf(doc, sizeof(doc),
				 "{\"metadata\":{\"labels\":{\"app\":\"d-%d\",\"tier\":\"t%d\"}},"
				 "\"spec\":{\"image\":\"%s:%d\",\"replicas\":%d}}", j, j % 7, image, j, j % 5);
			put(s, D, ns, name, doc);
		}
	}
	store_txn_commit(s);
	diag("put %d resources in one transaction in %.2f s", BIG_NS * BIG_PER, now_s() - t);
}

static void test_big(struct store *s)
{
	struct store_snapshot_info info;
	struct store_err err = { "" };
	struct store_result res;
	char *snap, *live, doc[128];
	double t;
	int rc;

	populate_big(s, "registry/app");
	t = now_s();
	rc = store_snapshot_create(s, snapdir, "big", false, &info, &err);
	t = now_s() - t;
	ok(rc == 0 && info.resources >= BIG_NS * BIG_PER, "snapshot of %" PRId64 " resources (%" PRId64
	   " bytes) in %.3f s", info.resources, info.bytes, t);
	live = dump_store(s, NULL);

	/* Change every one of them, drop a namespace, add one. */
	populate_big(s, "registry/app2");
	store_txn_begin(s);
	store_ns_delete(s, D, "ns-3", true, &err);
	store_ns_create(s, D, "extra", &err);
	for (int j = 0; j < 500; j++) {
		char name[16];

		snprintf(name, sizeof(name), "x-%d", j);
		snprintf(doc, sizeof(doc), "{\"spec\":{\"image\":\"x:%d\"}}", j);
		put(s, D, "extra", name, doc);
	}
	store_txn_commit(s);
	t = now_s();
	rc = store_snapshot_restore(s, snapdir, "big", &res, &err);
	t = now_s() - t;
	ok(rc == 0, "restore of %d changed resources (+1,000 re-created, 500 deleted) in %.3f s (%s)",
	   BIG_NS * BIG_PER - BIG_PER, t, err.msg);
	snap = dump_store(s, NULL);
	ok(strcmp(snap, live) == 0, "after the restore the live state equals the big snapshot");
	free(snap);
	free(live);
}

struct writer {
	atomic_int stop;
	atomic_long count;
	int64_t revs[100000];
	int failed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct store_options o = { .node = "node-1", .sync = STORE_SYNC_NORMAL };
	struct store_err err = { "" };
	struct store *s = NULL;
	char doc[128], name[16];

	if (store_open(path, &o, &s, &err) < 0) {
		w->failed = 1;
		return NULL;
	}
	for (long i = 0; !atomic_load(&w->stop) && i < 100000; i++) {
		struct store_result res = { 0 };
		int rc;

		snprintf(name, sizeof(name), "w-%ld", i % 300);
		if (i % 7 == 6 && i >= 300) {
			rc = store_delete(s, D, "default", name, &res, &err);
		} else {
			snprintf(doc, sizeof(doc), "{\"spec\":{\"image\":\"w:%ld\"}}", i);
			rc = store_put(s, D, "default", name, doc, strlen(doc), NULL, &res, &err);
		}
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			w->failed = rc;
			break;
		}
		w->revs[atomic_load(&w->count)] = res.revision;
		atomic_fetch_add(&w->count, 1);
	}
	store_close(s);
	return NULL;
}

static void test_concurrent(struct store *s)
{
	static struct writer w;
	struct store_snapshot_info info;
	struct store_err err = { "" };
	long before, after, n;
	bool below = false, above = false;
	pthread_t th;
	char *a, *b;
	int rc;

	if (pthread_create(&th, NULL, writer_main, &w) != 0) {
		ok(0, "start the writer thread");
		return;
	}
	while (atomic_load(&w.count) < 100 && !w.failed)
		usleep(1000);
	before = atomic_load(&w.count);
	rc = store_snapshot_create(s, snapdir, "busy", false, &info, &err);
	after = atomic_load(&w.count);
	while (atomic_load(&w.count) < after + 100 && !w.failed)
		usleep(1000);
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	n = atomic_load(&w.count);
	ok(rc == 0 && !w.failed, "snapshot while another connection writes (%s)", err.msg);
	ok(after > before, "the writer committed %ld changes while the snapshot was taken", after - before);
	for (long i = 0; i < n; i++) {
		below |= w.revs[i] <= info.revision;
		above |= w.revs[i] > info.revision;
	}
	ok(below && above, "acknowledged writes on both sides of revision %" PRId64, info.revision);
	a = dump_snapshot("busy");
	b = replay_dump(s, info.revision);
	ok(strcmp(a, b) == 0, "the snapshot equals the change log replayed to its revision (%zu bytes)",
	   strlen(a));
	free(a);
	free(b);
}

static void test_enospc(struct store *s)
{
	char small[4200];
	struct store_err err = { "" };
	int rc;

	snprintf(small, sizeof(small), "%s/small", dir);
	mkdir(small, 0700);
	if (mount("tmpfs", small, "tmpfs", 0, "size=64k") < 0) {
		ok(1, "# SKIP cannot mount a small tmpfs: %s", strerror(errno));
		return;
	}
	rc = store_snapshot_create(s, small, "full", false, NULL, &err);
	ok(rc == -ENOSPC && strcmp(err.msg, "not enough space for snapshot 'full'") == 0,
	   "a full disk: -ENOSPC '%s'", err.msg);
	ok(dir_entries(small, false) == 0, "and no partial file left");
	if (umount(small) < 0)
		diag("umount %s: %s", small, strerror(errno));
}

static void test_recover(struct store **sp)
{
	struct store_err err = { "" };
	char *aside = NULL, wal[4200], *r, *d;
	struct store *s;
	struct stat sb;
	int fd, rc;

	put(*sp, D, "default", "last-words", WEB);
	store_close(*sp);
	*sp = NULL;
	/* Garbage over the store, then (after the failed open, which drops an
	 * invalid -wal) a stale -wal that must not reach the recovered file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	for (int i = 0; fd >= 0 && i < 64; i++)
		if (write(fd, "garbage!garbage!garbage!garbage!garbage!garbage!garbage!garbage!", 64) != 64)
			break;
	ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size == 64 * 64, "overwrite the store with garbage");
	if (fd >= 0)
		close(fd);
	s = open_store(true);
	ok(!s, "the damaged store does not open");
	store_close(s);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	fd = open(wal, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && write(fd, "stale wal", 9) == 9, "and put a stale -wal beside it");
	if (fd >= 0)
		close(fd);

	rc = store_snapshot_recover(path, snapdir, "nope", &aside, &err);
	ok(rc == -ENOENT && !aside && stat(path, &sb) == 0 && sb.st_size == 64 * 64,
	   "recover from a missing snapshot moves nothing: %s", err.msg);
	err.msg[0] = '\0';
	rc = store_snapshot_recover(path, snapdir, "before", &aside, &err);
	ok(rc == 0 && aside, "recover from 'before': %s -> %s", err.msg, aside ? aside : "(none)");
	if (rc < 0)
		return;
	ok(strncmp(aside, path, strlen(path)) == 0 && strstr(aside, ".damaged-") &&
	   stat(aside, &sb) == 0 && sb.st_size == 64 * 64, "the damaged file is kept as %s", aside);
	ok(!file_exists(wal), "no stale -wal beside the recovered store");
	snprintf(wal, sizeof(wal), "%s-wal", aside);
	ok(stat(wal, &sb) == 0 && sb.st_size == 9, "the -wal went aside with it");
	r = raw_pragma(path, "SELECT count(*) FROM meta WHERE key LIKE 'snapshot.%'");
	ok(strcmp(r, "0") == 0, "the recovered store carries no snapshot marks (%s)", r);
	free(r);
	s = open_store(true);
	ok(s != NULL, "the recovered store opens read-write as node-1");
	if (s) {
		d = dump_store(s, NULL);
		ok(strcmp(d, before_dump) == 0, "and holds the snapshot's state");
		free(d);
		ok(put(s, D, "default", "after", WEB) == 0, "and takes writes");
	}
	free(aside);
	*sp = s;
}

int main(void)
{
	struct store *s;
	char cmd[4200];

	snprintf(dir, sizeof(dir), "%s/test-snapshot-XXXXXX",
		 getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/" STORE_DB_FILE, dir);
	snprintf(snapdir, sizeof(snapdir), "%s/" STORE_SNAPSHOT_DIR, dir);
	s = open_store(true);
	ok(s != NULL, "open a store");
	if (s) {
		populate_small(s);
		test_create(s);
		test_list_delete(s);
		test_browse(s);
		test_restore(s);
		test_prune(s);
		test_big(s);
		test_concurrent(s);
		test_enospc(s);
		test_recover(&s);
		store_close(s);
	}
	free(before_dump);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
