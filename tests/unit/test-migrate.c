/* test-migrate.c - opening stores of other schema versions: a hand-built v1
 * database migrates to the current layout with its data intact and sizes
 * backfilled; newer, foreign, non-database and corrupt files are refused
 * with their exact messages. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tap.h"

static char dir[3800];

/* The v1 layout exactly as swarmfs 0.1 wrote it (see store/migrate.c). */
static const char v1_schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE namespaces(kind INTEGER NOT NULL, name TEXT NOT NULL,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" hlc INTEGER NOT NULL, node TEXT NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(kind, name)) WITHOUT ROWID;"
	"CREATE TABLE resources(kind INTEGER NOT NULL, namespace TEXT NOT NULL,"
	" name TEXT NOT NULL, body TEXT, version INTEGER NOT NULL,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" node TEXT NOT NULL, hlc INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(kind, namespace, name)) WITHOUT ROWID;"
	"CREATE TABLE changes(revision INTEGER PRIMARY KEY AUTOINCREMENT,"
	" op INTEGER NOT NULL, kind INTEGER NOT NULL, namespace TEXT NOT NULL,"
	" name TEXT NOT NULL, version INTEGER NOT NULL, origin TEXT NOT NULL,"
	" origin_seq INTEGER NOT NULL, hlc INTEGER NOT NULL, time INTEGER NOT NULL,"
	" body TEXT, UNIQUE(origin, origin_seq));"
	"CREATE INDEX changes_resource ON changes(kind, namespace, name, revision);"
	"CREATE TABLE origins(node TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		diag("raw sql: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* A body the way store_doc_parse makes it, so the test does not hard-code
 * the canonical form. */
static char *body_for(enum store_kind kind, const char *json)
{
	struct store_doc doc;
	struct store_err err;
	char *b;

	if (store_doc_parse(kind, "x", "x", json, strlen(json), &doc, &err) < 0) {
		diag("parse: %s", err.msg);
		return strdup("{}");
	}
	b = strdup(doc.body);
	store_doc_release(&doc);
	return b;
}

static int changes_count;
static int64_t last_seq;

static int count_change(const struct store_change *c, void *arg)
{
	(void)arg;
	changes_count++;
	last_seq = c->origin_seq;
	return 0;
}

static void test_v1(void)
{
	struct store_options o = { .create = false };
	struct store_err err = { "" };
	struct store_meta meta;
	struct store_result res;
	struct store_ns_info info;
	struct store *s = NULL;
	char path[4200], sql[4096], *web, *svc, *doc = NULL, *body = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/v1.db", dir);
	web = body_for(STORE_KIND_DEPLOYMENT, "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\"}}");
	svc = body_for(STORE_KIND_SERVICE, "{\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
	ok(raw_exec(path, v1_schema) == SQLITE_OK, "build a v1 database");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO meta VALUES ('node', 'old-node'), ('hlc', %" PRIu64 "), ('created', 1600000000000);"
		 "INSERT INTO namespaces VALUES (1, 'shop', 1600000000000, 1600000001000, 1, 'old-node', 0);"
		 "INSERT INTO resources VALUES (0, 'default', 'web', '%s', 2, 1600000000000, 1600000002000, 'old-node', 3, 0);"
		 "INSERT INTO resources VALUES (1, 'shop', 'front', '%s', 1, 1600000001000, 1600000001000, 'old-node', 2, 0);"
		 "INSERT INTO resources VALUES (0, 'default', 'gone', NULL, 2, 1600000000000, 1600000003000, 'old-node', 4, 1);"
		 "INSERT INTO changes(op, kind, namespace, name, version, origin, origin_seq, hlc, time, body) VALUES"
		 " (2, 1, 'shop', '', 0, 'old-node', 1, 1, 1600000000000, NULL),"
		 " (0, 1, 'shop', 'front', 1, 'old-node', 2, 2, 1600000001000, '%s'),"
		 " (0, 0, 'default', 'web', 2, 'old-node', 3, 3, 1600000002000, '%s');"
		 "INSERT INTO origins VALUES ('old-node', 3);",
		 (uint64_t)4, web, svc, svc, web);
	ok(raw_exec(path, sql) == SQLITE_OK, "fill it");

	o.readonly = true;
	rc = store_open(path, &o, &s, &err);
	ok(rc == -EROFS, "read-only open cannot migrate: %s", err.msg);
	o.readonly = false;

	rc = store_open(path, &o, &s, &err);
	ok(rc == 0, "open migrates (%d %s)", rc, err.msg);
	if (rc < 0)
		goto out;
	ok(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION, "user_version is now %d",
	   STORE_SCHEMA_VERSION);
	ok(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
		   "name = 'changes_parent'") == 1, "the change-parent index exists (version 4)");
	ok(strcmp(store_node(s), "old-node") == 0, "node name kept");

	rc = store_get(s, STORE_KIND_DEPLOYMENT, "default", "web", &meta, &body);
	ok(rc == 0 && strcmp(body, web) == 0 && meta.version == 2 && meta.created_ms == 1600000000000 &&
	   meta.updated_ms == 1600000002000, "data intact");
	free(body);
	rc = store_read(s, STORE_KIND_DEPLOYMENT, "default", "web", STORE_RENDER_LIVE, &meta, &doc, &len);
	ok(rc == 0 && meta.size > 0 && (int64_t)len == meta.size,
	   "size backfilled: %" PRId64 " == rendering length %zu", meta.size, len);
	free(doc);
	rc = store_read(s, STORE_KIND_SERVICE, "shop", "front", STORE_RENDER_LIVE, &meta, &doc, &len);
	ok(rc == 0 && (int64_t)len == meta.size, "and for the service in its namespace");
	free(doc);
	ok(raw_int(path, "SELECT size FROM resources WHERE name = 'gone'") == 0, "tombstone size 0");
	ok(store_stat(s, STORE_KIND_DEPLOYMENT, "default", "gone", &meta) == -ENOENT, "tombstone still a tombstone");
	ok(store_ns_get(s, STORE_KIND_SERVICE, "shop", &info) == 0 && info.count == 1, "namespace intact");
	ok(raw_int(path, "SELECT count(*) FROM changes WHERE source IS NULL") == 3, "changes.source added");

	changes_count = 0;
	store_log(s, NULL, count_change, NULL);
	ok(changes_count == 3, "log intact");
	rc = store_put(s, STORE_KIND_DEPLOYMENT, "default", "gone", "{\"spec\":{\"image\":\"a\"}}", 22,
		       NULL, &res, &err);
	ok(rc == 0 && res.version == 3 && res.revision == 4, "a write after migration continues (%d %s)", rc, err.msg);
	store_log(s, &(struct store_log_filter){ .after_revision = 3 }, count_change, NULL);
	ok(last_seq == 4, "origin sequence continues");
	store_stat(s, STORE_KIND_DEPLOYMENT, "default", "gone", &meta);
	ok(meta.hlc > 4, "clock continues");
	store_close(s);
	s = NULL;

	rc = store_open(path, &o, &s, &err);
	ok(rc == 0, "reopen the migrated store");
out:
	store_close(s);
	free(web);
	free(svc);
}

static void test_refused(void)
{
	struct store_options o = { .create = true, .node = "n1" };
	struct store_err err = { "" };
	struct store *s = NULL;
	char path[4200], want[4400];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/v99.db", dir);
	raw_exec(path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value); PRAGMA user_version = 99;");
	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want),
		 "store '%s' has schema version 99, newer than this swarmfs supports (%d)", path,
		 STORE_SCHEMA_VERSION);
	ok(rc == -EINVAL && strcmp(err.msg, want) == 0, "newer schema refused: %s", err.msg);
	ok(raw_int(path, "PRAGMA user_version") == 99, "and left alone");

	snprintf(path, sizeof(path), "%s/text.db", dir);
	f = fopen(path, "w");
	if (f) {
		for (int i = 0; i < 100; i++)
			fputs("this is not a database, just some text\n", f);
		fclose(f);
	}
	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want), "'%s' is not a swarmfs store (file is not a database)", path);
	ok(rc == -EIO && strcmp(err.msg, want) == 0, "non-database refused: %s", err.msg);

	snprintf(path, sizeof(path), "%s/foreign.db", dir);
	raw_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want), "'%s' is not a swarmfs store (it holds other tables)", path);
	ok(rc == -EINVAL && strcmp(err.msg, want) == 0, "someone else's database refused: %s", err.msg);

	rc = store_open(dir, &o, &s, &err);
	ok(rc == -EINVAL, "a directory refused: %s", err.msg);

	snprintf(path, sizeof(path), "%s/no-such-dir/store.db", dir);
	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want), "cannot open store '%s': No such file or directory", path);
	ok(rc == -ENOENT && strcmp(err.msg, want) == 0, "create in a missing dir: %s", err.msg);
	ok(s == NULL, "no store handed out on failure");
}

static int64_t problem_lines;

static void count_problem(const char *msg, void *arg)
{
	(void)arg;
	if (!strchr(msg, '\n'))
		problem_lines++;
}

/* Overwrites the b-tree pages of a real store with garbage, keeping the
 * header and schema page, so quick_check has something to find. */
static void test_corrupt(void)
{
	struct store_options o = { .create = true, .node = "n1" };
	struct store_err err = { "" };
	struct store *s = NULL;
	char path[4200], want[4400], name[32], junk[4096];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/corrupt.db", dir);
	rc = store_open(path, &o, &s, &err);
	for (int i = 0; rc == 0 && i < 200; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		rc = store_put(s, STORE_KIND_DEPLOYMENT, "default", name,
			       "{\"spec\":{\"image\":\"nginx:1.25\",\"env\":{\"A\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
			       strlen("{\"spec\":{\"image\":\"nginx:1.25\",\"env\":{\"A\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}"),
			       NULL, NULL, &err);
	}
	store_close(s);
	s = NULL;
	ok(rc == 0, "a store with 200 resources (%s)", err.msg);
	/* Closing the last connection checkpointed the WAL into the file. */
	memset(junk, 0x5a, sizeof(junk));
	f = fopen(path, "r+b");
	if (f) {
		for (long page = 3; page < 12; page++) {
			fseek(f, page * 4096, SEEK_SET);
			fwrite(junk, 1, sizeof(junk), f);
		}
		fclose(f);
	}
	o.create = false;
	o.quick_check = true;
	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want), "store '%s' is corrupt: ", path);
	ok(rc == -EIO && strncmp(err.msg, want, strlen(want)) == 0 && !strchr(err.msg, '\n'),
	   "quick_check refuses it in one line: %s", err.msg);
	ok(s == NULL, "no store handed out");

	o.quick_check = false;
	rc = store_open(path, &o, &s, &err);
	ok(rc == 0, "without quick_check it opens (%s)", err.msg);
	if (rc == 0) {
		int64_t problems = 0;

		problem_lines = 0;
		store_check(s, count_problem, NULL, &problems);
		ok(problems > 0 && problems == problem_lines, "check reports %" PRId64 " problems, one per line",
		   problems);
	}
	store_close(s);
}

static int count_entry(const struct store_entry *e, void *arg)
{
	(void)e;
	++*(int *)arg;
	return 0;
}

/* A snapshot taken by an older swarmfs must still open and restore. */
static void test_old_snapshot(void)
{
	struct store_options o = { .create = true, .node = "old-node" };
	struct store_snapshot_info info;
	struct store_err err = { "" };
	struct store *snap = NULL, *live = NULL;
	char snaps[4000], path[4200], journal[16] = "", sql[4096], *web;
	int rc, entries = 0;

	snprintf(snaps, sizeof(snaps), "%s/snapshots", dir);
	mkdir(snaps, 0700);
	snprintf(path, sizeof(path), "%s/old.db", snaps);
	web = body_for(STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"nginx:1.24\"}}");
	ok(raw_exec(path, v1_schema) == SQLITE_OK, "build a v1 snapshot file");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO meta VALUES ('node', 'old-node'), ('hlc', 8), ('created', 1600000000000),"
		 " ('snapshot.name', 'old'), ('snapshot.revision', 1),"
		 " ('snapshot.created', 1600000005000), ('snapshot.automatic', 0);"
		 "INSERT INTO resources VALUES (0, 'default', 'web', '%s', 1, 1600000000000, 1600000000000, 'old-node', 8, 0);"
		 "INSERT INTO changes(op, kind, namespace, name, version, origin, origin_seq, hlc, time, body) VALUES"
		 " (0, 0, 'default', 'web', 1, 'old-node', 1, 8, 1600000000000, '%s');"
		 "INSERT INTO origins VALUES ('old-node', 1);", web, web);
	ok(raw_exec(path, sql) == SQLITE_OK, "fill it");
	free(web);

	rc = store_snapshot_open(snaps, "old", &snap, &err);
	ok(rc == 0, "an old snapshot opens (%d %s)", rc, err.msg);
	if (rc == 0)
		store_list(snap, STORE_KIND_DEPLOYMENT, "default", count_entry, &entries);
	ok(entries == 1, "and lists its resource (%d)", entries);
	store_close(snap);
	ok(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION,
	   "it was migrated to schema %d", STORE_SCHEMA_VERSION);
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		if (sqlite3_open(path, &db) == SQLITE_OK &&
		    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				snprintf(journal, sizeof(journal), "%s", sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
	}
	ok(strcmp(journal, "delete") == 0, "and stays a standalone file (journal_mode %s)", journal);
	ok(store_snapshot_get(snaps, "old", &info, &err) == 0 && info.revision == 1,
	   "its info survives: revision %lld", (long long)info.revision);

	snprintf(path, sizeof(path), "%s/live.db", dir);
	rc = store_open(path, &o, &live, &err);
	if (rc == 0)
		rc = store_snapshot_restore(live, snaps, "old", NULL, &err);
	ok(rc == 0, "a live store restores it (%s)", err.msg);
	entries = 0;
	if (rc == 0)
		store_list(live, STORE_KIND_DEPLOYMENT, "default", count_entry, &entries);
	ok(entries == 1, "with its resource");
	store_close(live);
}

int main(void)
{
	char cmd[4200];

	snprintf(dir, sizeof(dir), "%s/test-migrate-XXXXXX",
		 getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_v1();
	test_refused();
	test_corrupt();
	test_old_snapshot();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
