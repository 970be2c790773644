/* changelog.c - the change log: one row per committed change with a
 * store-wide revision (AUTOINCREMENT, so never reused even after compaction)
 * and the origin node's gap-free sequence number, the high-water mark of
 * which lives in origins. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"

const char *store_op_name(enum store_op op)
{
	switch (op) {
	case STORE_OP_PUT:
		return "put";
	case STORE_OP_DELETE:
		return "delete";
	case STORE_OP_NS_CREATE:
		return "mkns";
	case STORE_OP_NS_DELETE:
		return "rmns";
	}
	return "unknown";
}

int store_db_origin_seq(struct store *s, const char *node, int64_t *seq,
			struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_ORIGIN_GET, &st, err);

	*seq = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read origin sequence", err);
	}
	store_db_release(s, STMT_ORIGIN_GET, st);
	return rc;
}

int store_db_change_append(struct store *s, enum store_op op,
			   enum store_kind kind, const char *ns,
			   const char *name, int64_t version, uint64_t hlc,
			   int64_t time_ms, const char *body,
			   const char *source, int64_t *revision,
			   struct store_err *err)
{
	sqlite3_stmt *st;
	int64_t seq;
	int rc = store_db_origin_seq(s, s->node, &seq, err);

	if (rc < 0)
		return rc;
	seq++;
	rc = store_db_stmt(s, STMT_CHANGE_INSERT, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, op);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_text(st, 3, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, version);
	sqlite3_bind_text(st, 6, s->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, seq);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)hlc);
	sqlite3_bind_int64(st, 9, time_ms);
	if (body)
		sqlite3_bind_text(st, 10, body, -1, SQLITE_STATIC);
	if (source)
		sqlite3_bind_text(st, 11, source, -1, SQLITE_STATIC);
	rc = store_db_exec_stmt(s, st, "append change", err);
	store_db_release(s, STMT_CHANGE_INSERT, st);
	if (rc < 0)
		return rc;
	*revision = sqlite3_last_insert_rowid(s->db);
	/* The change row is in, its origin sequence not yet. */
	fiu_return_on("store/changelog/append", store_db_fault(s, "append change", err));

	rc = store_db_stmt(s, STMT_ORIGIN_SET, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, s->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	rc = store_db_exec_stmt(s, st, "record origin sequence", err);
	store_db_release(s, STMT_ORIGIN_SET, st);
	return rc;
}

int store_log(struct store *s, const struct store_log_filter *filter,
	      store_change_cb cb, void *arg)
{
	static const struct store_log_filter all;
	enum store_stmt id = STMT_LOG_ALL;
	sqlite3_stmt *st;
	int rc;

	if (!filter)
		filter = &all;
	if (filter->by_kind) {
		if ((int)filter->kind < 0 || filter->kind >= STORE_KIND_COUNT)
			return -EINVAL;
		/* An exact resource can use the (kind, namespace, name, revision)
		 * index fully; the nullable form only by kind. */
		id = filter->ns && filter->name ? STMT_LOG_NAME : STMT_LOG_KIND;
	}
	rc = store_db_stmt(s, id, &st, NULL);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, filter->after_revision);
	sqlite3_bind_int64(st, 2, filter->limit > 0 ? filter->limit : -1);
	if (filter->by_kind) {
		sqlite3_bind_int(st, 3, filter->kind);
		if (filter->ns)
			sqlite3_bind_text(st, 4, filter->ns, -1, SQLITE_STATIC);
		if (filter->name)
			sqlite3_bind_text(st, 5, filter->name, -1, SQLITE_STATIC);
	}
	for (;;) {
		struct store_change c;
		int op, kind;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "read change log", NULL);
			break;
		}
		op = sqlite3_column_int(st, 1);
		kind = sqlite3_column_int(st, 2);
		c.revision = sqlite3_column_int64(st, 0);
		c.op = (enum store_op)op;
		c.kind = (enum store_kind)kind;
		c.ns = (const char *)sqlite3_column_text(st, 3);
		c.name = (const char *)sqlite3_column_text(st, 4);
		c.version = sqlite3_column_int64(st, 5);
		c.origin = (const char *)sqlite3_column_text(st, 6);
		c.origin_seq = sqlite3_column_int64(st, 7);
		c.hlc = (uint64_t)sqlite3_column_int64(st, 8);
		c.time_ms = sqlite3_column_int64(st, 9);
		c.body = filter->with_body && c.op == STORE_OP_PUT
				 ? (const char *)sqlite3_column_text(st, 10) : NULL;
		c.source = (const char *)sqlite3_column_text(st, 11);
		if (!c.ns)
			c.ns = "";
		if (!c.name)
			c.name = "";
		if (!c.origin)
			c.origin = "";
		rc = cb(&c, arg);
		if (rc != 0)
			break;
	}
	store_db_release(s, id, st);
	return rc;
}

int store_revision(struct store *s, int64_t *revision)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_REVISION, &st, NULL);

	*revision = 0;
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*revision = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read revision", NULL);
	}
	store_db_release(s, STMT_REVISION, st);
	return rc;
}

int store_compact(struct store *s, int64_t keep, int64_t *removed)
{
	struct store_db_write w;
	sqlite3_stmt *st;
	int64_t newest;
	int rc;

	*removed = 0;
	if (keep < 0)
		return -EINVAL;
	rc = store_db_write_begin(s, &w, NULL);
	if (rc < 0)
		return rc;
	/* Read the newest revision under the write lock, so a concurrent
	 * writer cannot slip an entry in between. */
	rc = store_revision(s, &newest);
	if (rc == 0)
		rc = store_db_stmt(s, STMT_COMPACT, &st, NULL);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, newest - keep);
		rc = store_db_exec_stmt(s, st, "compact change log", NULL);
		if (rc == 0)
			*removed = sqlite3_changes64(s->db);
		store_db_release(s, STMT_COMPACT, st);
	}
	rc = store_db_write_end(s, &w, rc, NULL);
	if (rc < 0) {
		*removed = 0;
		return rc;
	}
	/* A checkpoint cannot run inside a transaction; inside the caller's
	 * it is left for later (the next compact or the last close). */
	if (sqlite3_get_autocommit(s->db)) {
		int log = 0, done = 0;
		int src = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						    &log, &done);

		/* BUSY only means a reader still uses the WAL: not an error. */
		if (src != SQLITE_OK && src != SQLITE_BUSY)
			return store_db_error(s, src, "checkpoint", NULL);
	}
	return 0;
}
