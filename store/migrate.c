/* migrate.c - forward schema migrations, an ordered list of steps each taking
 * PRAGMA user_version from N-1 to N in one transaction; a fresh file runs
 * them all, so there is exactly one way to build the current layout. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * Version 1: the first released layout.  tests/unit/test-migrate.c builds
 * this by hand; keep the two in step.  Tombstones are rows with deleted = 1
 * (body NULL), so a re-created resource continues the version numbering and
 * replication can tell "deleted" from "never seen".
 */
static const char schema_v1[] =
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
	"CREATE TABLE origins(node TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;";

static int step_v1(struct store *s, struct store_err *err)
{
	return store_db_exec(s, schema_v1, err);
}

/*
 * live_size(kind, namespace, name, body, version, created, updated, node,
 * hlc): the length of the STORE_RENDER_LIVE rendering, so `ls -l` can show
 * sizes without rendering.  A body that does not render gets 0 and a
 * warning; store_check reports it, and refusing to open would strand the
 * rest of the data.
 */
static void live_size(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store_meta meta = { 0 };
	int64_t kind = sqlite3_value_int64(argv[0]);
	const char *ns = (const char *)sqlite3_value_text(argv[1]);
	const char *name = (const char *)sqlite3_value_text(argv[2]);
	const char *body = (const char *)sqlite3_value_text(argv[3]);
	const char *node = (const char *)sqlite3_value_text(argv[7]);
	char *out = NULL;
	size_t len = 0;
	int rc = -EINVAL;

	meta.version = sqlite3_value_int64(argv[4]);
	meta.created_ms = sqlite3_value_int64(argv[5]);
	meta.updated_ms = sqlite3_value_int64(argv[6]);
	meta.hlc = (uint64_t)sqlite3_value_int64(argv[8]);
	snprintf(meta.node, sizeof(meta.node), "%s", node ? node : "");
	if (kind >= 0 && kind < STORE_KIND_COUNT && ns && name && body)
		rc = store_render((enum store_kind)kind, ns, name, &meta, body,
				  STORE_RENDER_LIVE, &out, &len);
	if (rc < 0) {
		log_msg(LOG_WARNING, "migration: cannot render %s/%s/%s: size left at 0",
			kind >= 0 && kind < STORE_KIND_COUNT ? store_kind_dir((enum store_kind)kind) : "?",
			ns ? ns : "?", name ? name : "?");
		len = 0;
	}
	free(out);
	sqlite3_result_int64(ctx, (sqlite3_int64)len);
}

static int step_v2(struct store *s, struct store_err *err)
{
	int rc = sqlite3_create_function(s->db, "swarmfs_live_size", 9,
					 SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
					 live_size, NULL, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "register swarmfs_live_size", err);
	rc = store_db_exec(s,
		"ALTER TABLE changes ADD COLUMN source TEXT;"
		"ALTER TABLE resources ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"
		"UPDATE resources SET size = swarmfs_live_size(kind, namespace, name,"
		" body, version, created, updated, node, hlc) WHERE deleted = 0;",
		err);
	sqlite3_create_function(s->db, "swarmfs_live_size", 9, SQLITE_UTF8, NULL,
				NULL, NULL, NULL);
	return rc;
}

/*
 * Version 3: replication (store/apply.c).  Every change-log entry also
 * records its parent, the (hlc, node) stamp of the row it replaced, and the
 * resource's created time, so that a receiver can merge it deterministically
 * and tell a concurrent edit (a conflict) from a later one.  Local writes
 * (resource.c, namespace.c, snapshot.c) know nothing of this: triggers stash
 * the old stamp when a resources row changes and copy it into the change
 * that follows (an upsert, not INSERT OR REPLACE: the outer statement's
 * conflict mode would override a trigger's OR REPLACE).  A change that
 * arrives with its parent (store_apply) only clears the stash.  conflicts holds the losing versions of concurrent puts; the
 * winner is whatever the resources row holds, so it is not stored twice.
 */
static int step_v3(struct store *s, struct store_err *err)
{
	return store_db_exec(s,
		"ALTER TABLE changes ADD COLUMN parent_hlc INTEGER;"
		"ALTER TABLE changes ADD COLUMN parent_node TEXT;"
		"ALTER TABLE changes ADD COLUMN created INTEGER;"
		"CREATE TABLE conflicts(kind INTEGER NOT NULL, namespace TEXT NOT NULL,"
		" name TEXT NOT NULL, hlc INTEGER NOT NULL, node TEXT NOT NULL,"
		" body TEXT NOT NULL, version INTEGER NOT NULL, time INTEGER NOT NULL,"
		" PRIMARY KEY(kind, namespace, name, hlc, node)) WITHOUT ROWID;"
		"CREATE TABLE parent_stash(kind INTEGER NOT NULL, namespace TEXT NOT NULL,"
		" name TEXT NOT NULL, hlc INTEGER NOT NULL, node TEXT NOT NULL,"
		" PRIMARY KEY(kind, namespace, name)) WITHOUT ROWID;"
		"CREATE TRIGGER resources_stash_update AFTER UPDATE OF hlc ON resources"
		" WHEN OLD.hlc IS NOT NEW.hlc BEGIN"
		" INSERT INTO parent_stash VALUES (OLD.kind, OLD.namespace, OLD.name, OLD.hlc, OLD.node)"
		" ON CONFLICT(kind, namespace, name) DO UPDATE SET hlc = excluded.hlc,"
		" node = excluded.node; END;"
		"CREATE TRIGGER resources_stash_insert AFTER INSERT ON resources BEGIN"
		" INSERT INTO parent_stash VALUES (NEW.kind, NEW.namespace, NEW.name, 0, '')"
		" ON CONFLICT(kind, namespace, name) DO UPDATE SET hlc = 0, node = ''; END;"
		"CREATE TRIGGER changes_parent AFTER INSERT ON changes BEGIN"
		" UPDATE changes SET"
		" parent_hlc = coalesce((SELECT p.hlc FROM parent_stash p WHERE p.kind = NEW.kind"
		" AND p.namespace = NEW.namespace AND p.name = NEW.name), 0),"
		" parent_node = coalesce((SELECT p.node FROM parent_stash p WHERE p.kind = NEW.kind"
		" AND p.namespace = NEW.namespace AND p.name = NEW.name), ''),"
		" created = (SELECT r.created FROM resources r WHERE r.kind = NEW.kind"
		" AND r.namespace = NEW.namespace AND r.name = NEW.name)"
		" WHERE revision = NEW.revision AND NEW.parent_hlc IS NULL;"
		" DELETE FROM parent_stash WHERE kind = NEW.kind AND namespace = NEW.namespace"
		" AND name = NEW.name; END;",
		err);
}

/*
 * Version 4: an index for store_apply's "has a later change continued this
 * one?" (has_child, and child_in in a state transfer).  Without it the
 * lookup walked every logged change of the resource: a 10-minute soak gave
 * names 6,000 versions each, 3.4 ms per lookup, and the sidecar held the
 * write lock up to 7.5 s for one batch of 512 changes.  With it, 2,000
 * lookups take 7 ms; it adds about 2% to the store.
 */
static int step_v4(struct store *s, struct store_err *err)
{
	return store_db_exec(s,
		"CREATE INDEX changes_parent ON changes(kind, namespace, name, parent_hlc, "
		"parent_node);",
		err);
}

static const struct migration {
	int to;
	int (*run)(struct store *s, struct store_err *err);
	const char *what;
} migrations[] = {
	{ 1, step_v1, "create the tables" },
	{ 2, step_v2, "add changes.source and resources.size" },
	{ 3, step_v3, "add change parents, conflicts" },
	{ 4, step_v4, "index change parents" },
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

static int read_version(struct store *s, int64_t *version, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "read user_version", err);
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW ? 0 : store_db_error(s, rc, "read user_version", err);
	sqlite3_finalize(st);
	return rc;
}

int store_migrate(struct store *s, int from_version, struct store_err *err)
{
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		const struct migration *m = &migrations[i];
		struct store_db_write w;
		int64_t version;
		char sql[64];
		int rc;

		if (m->to <= from_version)
			continue;
		rc = store_db_write_begin(s, &w, err);
		if (rc < 0)
			return rc;
		/* Re-read under the write lock: another process opening the
		 * same store may have run this step already. */
		rc = read_version(s, &version, err);
		if (rc == 0 && version < m->to) {
			if (version != m->to - 1)
				rc = store_db_errf(err, -EIO,
						   "store '%s' has schema version %lld, expected %d",
						   s->path, (long long)version, m->to - 1);
			if (rc == 0)
				rc = m->run(s, err);
			if (rc == 0) {
				snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->to);
				rc = store_db_exec(s, sql, err);
			}
		}
		rc = store_db_write_end(s, &w, rc, err);
		if (rc < 0) {
			log_msg(LOG_ERR, "store '%s': migration to schema version %d (%s) failed",
				s->path, m->to, m->what);
			return rc;
		}
		if (version < m->to && from_version > 0)
			log_msg(LOG_NOTICE, "store '%s': migrated to schema version %d (%s)",
				s->path, m->to, m->what);
	}
	return 0;
}
