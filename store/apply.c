/* apply.c - the store side of replication: applies a change made on another
 * node so that every node, whatever order changes arrive in and however often,
 * ends with the same rows and the same conflicts; serves the change log by
 * origin, the per-origin high-water marks and a digest of the live state.
 *
 * The merge rule.  Every change carries a stamp (hlc, origin node), unique in
 * the cluster because a node's HLC is strictly increasing, and its parent: the
 * stamp of the row it replaced on its origin (0 for a new name).  For one
 * resource let S be the set of changes (puts and deletes) a node has applied.
 *   - The row is the change of S with the greatest stamp (hlc first, then node
 *     name by strcmp): last writer wins.  A delete leaves a tombstone with its
 *     stamp, so an older put arriving later loses and nothing resurrects.
 *     The row takes all of the winner's fields (body, version, created,
 *     updated = the origin's wall time, node, hlc), never local ones.
 *   - A put of S is a conflict (a loser) when it is not the winner and no
 *     change of S names it as parent: it was the tip of a line of edits that
 *     nobody continued.  A put that some later edit replaced knowingly is
 *     history, not a conflict.
 * Both are functions of the set S alone, so they do not depend on arrival
 * order.  Applying keeps them incrementally: a new change removes its parent
 * from conflicts; a put that loses, or a winner that is replaced, becomes a
 * conflict unless some change already in the log names it as parent.  A
 * conflict's winner is read from the resources row.  Local writes
 * (resource.c) take an HLC above every stamp seen (store_hlc_observe below),
 * so they always win locally, and their parent is recorded by the triggers of
 * schema version 3 (migrate.c).  Dismissing a conflict is local to a node.
 *
 * Namespaces are last-writer-wins on their own row, with two additions that
 * keep them from stranding resources: a put into a namespace that is missing
 * or removed re-creates it when the put's stamp is newer than the removal, and
 * a removal only wins over a namespace whose live resources are all older.
 *
 * Limits: the "named as parent" test looks at the change log, so a compacted
 * log can forget that an old put was continued; conflicts created before a
 * full state transfer are not transferred. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- statements ------------------------------------------------------------- */

/* Statements used only here, prepared per call: struct store's cache is an
 * enum owned by db.c, and a few prepares cost little next to the fsync of
 * the transaction they run in. */
static int prep(struct store *s, const char *sql, sqlite3_stmt **st,
		struct store_err *err)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		*st = NULL;
		return store_db_error(s, rc, "prepare", err);
	}
	return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_key(sqlite3_stmt *st, enum store_kind kind, const char *ns,
		     const char *name)
{
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
}

/* Runs st (finalizing it) expecting no rows. */
static int run(struct store *s, sqlite3_stmt *st, const char *what,
	       struct store_err *err)
{
	int rc = store_db_exec_stmt(s, st, what, err);

	sqlite3_finalize(st);
	return rc;
}

/* run() for a statement from store_db_stmt_sql. */
static int run_cached(struct store *s, sqlite3_stmt *st, const char *what,
		      struct store_err *err)
{
	int rc = store_db_exec_stmt(s, st, what, err);

	store_db_release_sql(s, st);
	return rc;
}

/* ---- stamps ----------------------------------------------------------------- */

struct stamp {
	uint64_t hlc;
	char node[STORE_NODE_MAX + 1];
};

static int stamp_cmp(uint64_t ah, const char *an, uint64_t bh, const char *bn)
{
	if (ah != bh)
		return ah < bh ? -1 : 1;
	return strcmp(an, bn);
}

/* ---- validation ------------------------------------------------------------- */

static int check_change(const struct store_rchange *rc_, struct store_err *err)
{
	const struct store_change *c = &rc_->c;
	bool resource;

	if ((int)c->op < STORE_OP_PUT || c->op > STORE_OP_NS_DELETE)
		return store_db_errf(err, -EINVAL, "invalid op %d", (int)c->op);
	if ((int)c->kind < 0 || c->kind >= STORE_KIND_COUNT)
		return store_db_errf(err, -EINVAL, "invalid kind %d", (int)c->kind);
	if (!c->ns || !store_name_valid(c->ns))
		return store_db_errf(err, -EINVAL, "invalid namespace '%s'", c->ns ? c->ns : "");
	if (!c->origin || strlen(c->origin) > STORE_NODE_MAX || !store_name_valid(c->origin))
		return store_db_errf(err, -EINVAL, "invalid origin node '%s'",
				     c->origin ? c->origin : "");
	resource = c->op == STORE_OP_PUT || c->op == STORE_OP_DELETE;
	if (resource && (!c->name || !store_name_valid(c->name)))
		return store_db_errf(err, -EINVAL, "invalid name '%s'", c->name ? c->name : "");
	if (!resource && c->name && c->name[0])
		return store_db_errf(err, -EINVAL, "a namespace change carries no name");
	if (c->origin_seq < 1)
		return store_db_errf(err, -EINVAL, "invalid origin sequence %lld",
				     (long long)c->origin_seq);
	if (c->hlc == 0 || c->hlc > (uint64_t)INT64_MAX || rc_->parent_hlc > (uint64_t)INT64_MAX)
		return store_db_errf(err, -EINVAL, "invalid clock stamp");
	if (rc_->parent_node && rc_->parent_node[0] &&
	    (strlen(rc_->parent_node) > STORE_NODE_MAX || !store_name_valid(rc_->parent_node)))
		return store_db_errf(err, -EINVAL, "invalid parent node '%s'", rc_->parent_node);
	if (c->op == STORE_OP_PUT) {
		if (!c->body)
			return store_db_errf(err, -EINVAL, "a put carries no body");
		if (strlen(c->body) > STORE_DOC_MAX)
			return store_db_errf(err, -EFBIG, "body larger than %d bytes", STORE_DOC_MAX);
		if (c->version < 1)
			return store_db_errf(err, -EINVAL, "invalid version %lld",
					     (long long)c->version);
	} else if (c->body) {
		return store_db_errf(err, -EINVAL, "only a put carries a body");
	}
	return 0;
}

/* ---- origins ---------------------------------------------------------------- */

int store_origin_seq(struct store *s, const char *node, int64_t *seq)
{
	return store_db_origin_seq(s, node, seq, NULL);
}

int store_origin_unconfirmed(struct store *s, bool *unconfirmed)
{
	int64_t value;

	return store_db_meta_get_int(s, STORE_META_UNCONFIRMED, &value, unconfirmed, NULL);
}

int store_origin_confirm(struct store *s, int64_t shift, int64_t *moved,
			 struct store_err *err)
{
	struct store_db_write w;
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	int rc;

	if (shift < 0)
		return store_db_errf(err, -EINVAL, "negative sequence shift %lld", (long long)shift);
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	if (shift > 0) {
		rc = prep(s, "UPDATE changes SET origin_seq = origin_seq + ?1 WHERE origin = ?2",
			  &st, err);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, shift);
			sqlite3_bind_text(st, 2, s->node, -1, SQLITE_STATIC);
			rc = run(s, st, "renumber this node's changes", err);
			if (rc == 0)
				n = sqlite3_changes64(s->db);
		}
		if (rc == 0)
			rc = prep(s, "UPDATE origins SET seq = seq + ?1 WHERE node = ?2", &st, err);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, shift);
			sqlite3_bind_text(st, 2, s->node, -1, SQLITE_STATIC);
			rc = run(s, st, "renumber this node's high-water mark", err);
		}
		if (rc == 0)
			rc = store_db_meta_set_int(s, STORE_META_EARLIER, shift, err);
	}
	if (rc == 0)
		rc = store_db_exec(s, "DELETE FROM meta WHERE key = '" STORE_META_UNCONFIRMED "'",
				   err);
	rc = store_db_write_end(s, &w, rc, err);
	if (rc == 0 && moved)
		*moved = n;
	return rc;
}

int store_origins(struct store *s, store_origin_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT node, seq FROM origins ORDER BY node", &st, NULL);

	if (rc < 0)
		return rc;
	for (;;) {
		const char *node;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "read origins", NULL);
			break;
		}
		node = (const char *)sqlite3_column_text(st, 0);
		rc = cb(node ? node : "", sqlite3_column_int64(st, 1), arg);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- the change log with parents -------------------------------------------- */

#define RLOG_COLUMNS "revision, op, kind, namespace, name, version, origin, " \
		     "origin_seq, hlc, time, body, source, parent_hlc, parent_node, created"

/* Fills r from a row of RLOG_COLUMNS; pointers borrowed from st. */
static void rchange_from_row(sqlite3_stmt *st, struct store_rchange *r)
{
	struct store_change *c = &r->c;
	const char *pn;

	memset(r, 0, sizeof(*r));
	c->revision = sqlite3_column_int64(st, 0);
	c->op = (enum store_op)sqlite3_column_int(st, 1);
	c->kind = (enum store_kind)sqlite3_column_int(st, 2);
	c->ns = (const char *)sqlite3_column_text(st, 3);
	c->name = (const char *)sqlite3_column_text(st, 4);
	c->version = sqlite3_column_int64(st, 5);
	c->origin = (const char *)sqlite3_column_text(st, 6);
	c->origin_seq = sqlite3_column_int64(st, 7);
	c->hlc = (uint64_t)sqlite3_column_int64(st, 8);
	c->time_ms = sqlite3_column_int64(st, 9);
	c->body = c->op == STORE_OP_PUT ? (const char *)sqlite3_column_text(st, 10) : NULL;
	c->source = (const char *)sqlite3_column_text(st, 11);
	r->parent_hlc = (uint64_t)sqlite3_column_int64(st, 12);
	pn = (const char *)sqlite3_column_text(st, 13);
	r->parent_node = pn ? pn : "";
	/* Entries from before schema version 3 have no created: their time
	 * is the best guess. */
	r->created_ms = sqlite3_column_type(st, 14) == SQLITE_NULL ? c->time_ms
								   : sqlite3_column_int64(st, 14);
	if (!c->ns)
		c->ns = "";
	if (!c->name)
		c->name = "";
	if (!c->origin)
		c->origin = "";
}

static int walk_rlog(struct store *s, sqlite3_stmt *st, store_rchange_cb cb, void *arg,
		     int64_t *count, int64_t *first_seq)
{
	int rc;

	*count = 0;
	for (;;) {
		struct store_rchange r;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return store_db_error(s, rc, "read change log", NULL);
		rchange_from_row(st, &r);
		if (*count == 0 && first_seq)
			*first_seq = r.c.origin_seq;
		(*count)++;
		rc = cb(&r, arg);
		if (rc != 0)
			return rc;
	}
}

int store_log_since(struct store *s, int64_t after_revision, int64_t upto_revision,
		    const char *origin, int64_t limit, store_rchange_cb cb, void *arg,
		    int64_t *count)
{
	sqlite3_stmt *st;
	/* Cached: the sidecar runs it after every local commit. */
	int rc = store_db_stmt_sql(s, "SELECT " RLOG_COLUMNS " FROM changes WHERE revision > ?1 "
				   "AND (?2 < 0 OR revision <= ?2) AND (?3 IS NULL OR origin = ?3) "
				   "ORDER BY revision LIMIT ?4", &st, NULL);

	*count = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, after_revision);
	sqlite3_bind_int64(st, 2, upto_revision);
	if (origin)
		sqlite3_bind_text(st, 3, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, limit > 0 ? limit : -1);
	rc = walk_rlog(s, st, cb, arg, count, NULL);
	store_db_release_sql(s, st);
	return rc;
}

int store_log_origin(struct store *s, const char *origin, int64_t after_seq,
		     int64_t limit, store_rchange_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int64_t count, first = 0, high;
	int rc;

	if (!origin || after_seq < 0)
		return -EINVAL;
	/* One read transaction, so the high-water mark and the rows agree. */
	rc = store_db_exec_literal(s, "SAVEPOINT log_origin", NULL);
	if (rc < 0)
		return rc;
	rc = store_origin_seq(s, origin, &high);
	if (rc == 0)
		rc = store_db_stmt_sql(s, "SELECT " RLOG_COLUMNS " FROM changes WHERE origin = ?1 "
				       "AND origin_seq > ?2 ORDER BY origin_seq LIMIT ?3", &st, NULL);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, after_seq);
		sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
		rc = walk_rlog(s, st, cb, arg, &count, &first);
		store_db_release_sql(s, st);
		/* We hold later changes of that origin but not the next one:
		 * compacted away (or taken over by a state transfer). */
		if (rc == 0 && after_seq < high && (count == 0 || first != after_seq + 1))
			rc = -ESTALE;
	}
	store_db_exec_literal(s, "RELEASE log_origin", NULL);
	return rc;
}

/* ---- conflicts -------------------------------------------------------------- */

static int conflict_add(struct store *s, enum store_kind kind, const char *ns,
			const char *name, uint64_t hlc, const char *node,
			const char *body, int64_t version, int64_t time_ms,
			struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, "INSERT OR IGNORE INTO conflicts(kind, namespace, name, hlc, node, "
		      "body, version, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st, err);

	if (rc < 0)
		return rc;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, version);
	sqlite3_bind_int64(st, 8, time_ms);
	log_msg(LOG_INFO, "conflict: " STORE_PATH_FMT " version %lld from '%s' lost",
		store_kind_dir(kind), ns, name, (long long)version, node);
	return run_cached(s, st, "record conflict", err);
}

static int conflict_drop(struct store *s, enum store_kind kind, const char *ns,
			 const char *name, uint64_t hlc, const char *node,
			 struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, "DELETE FROM conflicts WHERE kind = ?1 AND namespace = ?2 "
		      "AND name = ?3 AND hlc = ?4 AND node = ?5", &st, err);

	if (rc < 0)
		return rc;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	return run_cached(s, st, "drop conflict", err);
}

/* Whether some change in the log names (hlc, node) as its parent. */
static int has_child(struct store *s, enum store_kind kind, const char *ns,
		     const char *name, uint64_t hlc, const char *node, bool *found,
		     struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, "SELECT 1 FROM changes WHERE kind = ?1 AND namespace = ?2 "
		      "AND name = ?3 AND parent_hlc = ?4 AND parent_node = ?5 LIMIT 1",
		      &st, err);

	*found = false;
	if (rc < 0)
		return rc;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*found = rc == SQLITE_ROW;
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "look for a child change", err);
	}
	store_db_release_sql(s, st);
	return rc;
}

static void conflict_from_row(sqlite3_stmt *st, bool with_body, struct store_conflict *c)
{
	const char *v;

	memset(c, 0, sizeof(*c));
	c->kind = (enum store_kind)sqlite3_column_int(st, 0);
	v = (const char *)sqlite3_column_text(st, 1);
	c->ns = v ? v : "";
	v = (const char *)sqlite3_column_text(st, 2);
	c->name = v ? v : "";
	c->hlc = (uint64_t)sqlite3_column_int64(st, 3);
	v = (const char *)sqlite3_column_text(st, 4);
	c->node = v ? v : "";
	c->version = sqlite3_column_int64(st, 5);
	c->time_ms = sqlite3_column_int64(st, 6);
	c->winner_hlc = (uint64_t)sqlite3_column_int64(st, 7);
	v = (const char *)sqlite3_column_text(st, 8);
	c->winner_node = v ? v : "";
	c->size = sqlite3_column_int64(st, 9);
	c->body = with_body ? (const char *)sqlite3_column_text(st, 10) : NULL;
}

/* The winner is the resources row (a tombstone when a delete won). */
#define CONFLICT_COLUMNS "c.kind, c.namespace, c.name, c.hlc, c.node, c.version, c.time, " \
			 "coalesce(r.hlc, 0), coalesce(r.node, ''), length(c.body), c.body " \
			 "FROM conflicts c LEFT JOIN resources r ON r.kind = c.kind " \
			 "AND r.namespace = c.namespace AND r.name = c.name"

int store_conflict_list(struct store *s, const enum store_kind *kind, const char *ns,
			store_conflict_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (kind && ((int)*kind < 0 || *kind >= STORE_KIND_COUNT))
		return -EINVAL;
	rc = prep(s, "SELECT " CONFLICT_COLUMNS " WHERE (?1 IS NULL OR c.kind = ?1) "
		  "AND (?2 IS NULL OR c.namespace = ?2) "
		  "ORDER BY c.kind, c.namespace, c.name, c.hlc, c.node",
		  &st, NULL);
	if (rc < 0)
		return rc;
	if (kind)
		sqlite3_bind_int(st, 1, *kind);
	bind_text(st, 2, ns);
	for (;;) {
		struct store_conflict c;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "list conflicts", NULL);
			break;
		}
		conflict_from_row(st, false, &c);
		rc = cb(&c, arg);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_conflict_get(struct store *s, enum store_kind kind, const char *ns,
		       const char *name, uint64_t hlc, const char *node,
		       store_conflict_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT || !ns || !name || !node)
		return -EINVAL;
	rc = prep(s, "SELECT " CONFLICT_COLUMNS " WHERE c.kind = ?1 "
		  "AND c.namespace = ?2 AND c.name = ?3 AND c.hlc = ?4 AND c.node = ?5", &st, NULL);
	if (rc < 0)
		return rc;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_conflict c;

		conflict_from_row(st, true, &c);
		rc = cb(&c, arg);
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = store_db_error(s, rc, "read conflict", NULL);
	}
	sqlite3_finalize(st);
	return rc;
}

int store_conflict_delete(struct store *s, enum store_kind kind, const char *ns,
			  const char *name, uint64_t hlc, const char *node,
			  struct store_err *err)
{
	struct store_db_write w;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT || !ns || !name || !node)
		return store_db_errf(err, -EINVAL, "invalid conflict");
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = conflict_drop(s, kind, ns, name, hlc, node, err);
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		rc = store_db_errf(err, -ENOENT, "no such conflict of '" STORE_PATH_FMT "'",
				   store_kind_dir(kind), ns, name);
	return store_db_write_end(s, &w, rc, err);
}

/* ---- applying --------------------------------------------------------------- */

struct row {
	bool exists;
	bool live;
	int64_t version;
	int64_t updated;
	struct stamp stamp;
	char *body; /* live rows only; owned */
};

static int row_read(struct store *s, enum store_kind kind, const char *ns,
		    const char *name, struct row *r, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, "SELECT version, updated, node, hlc, deleted, body FROM resources "
		      "WHERE kind = ?1 AND namespace = ?2 AND name = ?3", &st, err);

	memset(r, 0, sizeof(*r));
	if (rc < 0)
		return rc;
	bind_key(st, kind, ns, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 2);
		const char *body = (const char *)sqlite3_column_text(st, 5);

		r->exists = true;
		r->version = sqlite3_column_int64(st, 0);
		r->updated = sqlite3_column_int64(st, 1);
		snprintf(r->stamp.node, sizeof(r->stamp.node), "%s", node ? node : "");
		r->stamp.hlc = (uint64_t)sqlite3_column_int64(st, 3);
		r->live = sqlite3_column_int(st, 4) == 0;
		rc = 0;
		if (r->live) {
			r->body = strdup(body ? body : "");
			if (!r->body)
				rc = store_db_errf(err, -ENOMEM, "out of memory");
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read resource", err);
	}
	store_db_release_sql(s, st);
	return rc;
}

/* The namespace row: exists/live and its stamp. */
static int ns_read(struct store *s, enum store_kind kind, const char *ns,
		   bool *exists, bool *live, struct stamp *stamp,
		   struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, "SELECT hlc, node, deleted FROM namespaces "
			     "WHERE kind = ?1 AND name = ?2", &st, err);

	*exists = *live = false;
	memset(stamp, 0, sizeof(*stamp));
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 1);

		*exists = true;
		stamp->hlc = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(stamp->node, sizeof(stamp->node), "%s", node ? node : "");
		*live = sqlite3_column_int(st, 2) == 0;
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read namespace", err);
	}
	store_db_release_sql(s, st);
	return rc;
}

static int ns_write(struct store *s, enum store_kind kind, const char *ns, bool live,
		    uint64_t hlc, const char *node, int64_t time_ms,
		    struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(s, "INSERT INTO namespaces(kind, name, created, updated, hlc, node, deleted) "
		      "VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6) ON CONFLICT(kind, name) DO UPDATE SET "
		      "created = CASE WHEN excluded.deleted = 0 AND deleted = 1 THEN excluded.created "
		      "ELSE created END, updated = excluded.updated, hlc = excluded.hlc, "
		      "node = excluded.node, deleted = excluded.deleted", &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, time_ms);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, live ? 0 : 1);
	return run(s, st, live ? "create namespace" : "remove namespace", err);
}

/* The greatest stamp of a live resource in kind/ns (0 if none). */
static int ns_newest(struct store *s, enum store_kind kind, const char *ns,
		     struct stamp *stamp, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT hlc, node FROM resources WHERE kind = ?1 AND namespace = ?2 "
		      "AND deleted = 0 ORDER BY hlc DESC, node DESC LIMIT 1", &st, err);

	memset(stamp, 0, sizeof(*stamp));
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 1);

		stamp->hlc = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(stamp->node, sizeof(stamp->node), "%s", node ? node : "");
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read namespace", err);
	}
	sqlite3_finalize(st);
	return rc;
}

static int apply_ns(struct store *s, const struct store_change *c, bool *won,
		    struct store_err *err)
{
	struct stamp row, newest;
	bool exists, live;
	int rc;

	*won = false;
	/* The default namespace always exists and is never removed. */
	if (strcmp(c->ns, STORE_DEFAULT_NAMESPACE) == 0)
		return 0;
	rc = ns_read(s, c->kind, c->ns, &exists, &live, &row, err);
	if (rc < 0)
		return rc;
	if (exists && stamp_cmp(c->hlc, c->origin, row.hlc, row.node) <= 0)
		return 0;
	if (c->op == STORE_OP_NS_DELETE) {
		rc = ns_newest(s, c->kind, c->ns, &newest, err);
		if (rc < 0)
			return rc;
		if (newest.hlc && stamp_cmp(c->hlc, c->origin, newest.hlc, newest.node) <= 0)
			return 0;
	}
	*won = true;
	return ns_write(s, c->kind, c->ns, c->op == STORE_OP_NS_CREATE, c->hlc, c->origin,
			c->time_ms, err);
}

/* A put into a missing or removed namespace brings it back when the put is
 * newer than the removal (see the rule at the top). */
static int ns_revive(struct store *s, const struct store_change *c, struct store_err *err)
{
	struct stamp row;
	bool exists, live;
	int rc;

	if (strcmp(c->ns, STORE_DEFAULT_NAMESPACE) == 0)
		return 0;
	rc = ns_read(s, c->kind, c->ns, &exists, &live, &row, err);
	if (rc < 0 || live)
		return rc;
	if (exists && stamp_cmp(c->hlc, c->origin, row.hlc, row.node) <= 0)
		return 0;
	return ns_write(s, c->kind, c->ns, true, c->hlc, c->origin, c->time_ms, err);
}

/* The metadata a change's row gets: the same for sizing and writing. */
static void winner_meta(const struct store_rchange *r, struct store_meta *meta)
{
	const struct store_change *c = &r->c;

	memset(meta, 0, sizeof(*meta));
	meta->version = c->version;
	meta->created_ms = r->created_ms ? r->created_ms : c->time_ms;
	meta->updated_ms = c->time_ms;
	meta->hlc = c->hlc;
	snprintf(meta->node, sizeof(meta->node), "%s", c->origin);
}

/* The size a put's row will show (the rendering's length), checking that its
 * body renders at all: the body comes from a peer's store, so the fast path
 * for stored bodies, which still validates one in any other form.  Done
 * before anything is written, so a bad body is refused without undoing. */
static int live_size(const struct store_rchange *r, size_t *len, struct store_err *err)
{
	const struct store_change *c = &r->c;
	struct store_meta meta;
	char *doc = NULL;
	int rc;

	*len = 0;
	if (c->op != STORE_OP_PUT)
		return 0;
	winner_meta(r, &meta);
	rc = store_render_stored(c->kind, c->ns, c->name, &meta, c->body,
				 STORE_RENDER_LIVE, NULL, &doc, len);
	free(doc);
	if (rc < 0)
		return store_db_errf(err, -EINVAL, STORE_PATH_FMT ": body does not render",
				     store_kind_dir(c->kind), c->ns, c->name);
	return 0;
}

static int write_winner(struct store *s, const struct store_rchange *r, size_t len,
			struct store_err *err)
{
	const struct store_change *c = &r->c;
	struct store_meta meta;
	sqlite3_stmt *st;
	int rc;

	winner_meta(r, &meta);
	rc = store_db_stmt_sql(s, "INSERT INTO resources(kind, namespace, name, body, version, created, "
		  "updated, node, hlc, size, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		  "?10, ?11) ON CONFLICT(kind, namespace, name) DO UPDATE SET body = excluded.body, "
		  "version = excluded.version, created = excluded.created, "
		  "updated = excluded.updated, node = excluded.node, hlc = excluded.hlc, "
		  "size = excluded.size, deleted = excluded.deleted", &st, err);
	if (rc < 0)
		return rc;
	bind_key(st, c->kind, c->ns, c->name);
	bind_text(st, 4, c->op == STORE_OP_PUT ? c->body : NULL);
	sqlite3_bind_int64(st, 5, meta.version);
	sqlite3_bind_int64(st, 6, meta.created_ms);
	sqlite3_bind_int64(st, 7, meta.updated_ms);
	sqlite3_bind_text(st, 8, meta.node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)meta.hlc);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)len);
	sqlite3_bind_int(st, 11, c->op == STORE_OP_PUT ? 0 : 1);
	return run_cached(s, st, "write resource", err);
}

static int apply_resource(struct store *s, const struct store_rchange *r, size_t len,
			  bool *won, struct store_err *err)
{
	const struct store_change *c = &r->c;
	const char *pnode = r->parent_node ? r->parent_node : "";
	struct row row;
	bool child, parent_is_row;
	int rc;

	*won = false;
	rc = row_read(s, c->kind, c->ns, c->name, &row, err);
	if (rc < 0)
		return rc;
	/* The parent was continued: it is history, not a conflict. */
	if (r->parent_hlc)
		rc = conflict_drop(s, c->kind, c->ns, c->name, r->parent_hlc, pnode, err);
	if (rc < 0)
		goto out;

	if (row.exists && stamp_cmp(c->hlc, c->origin, row.stamp.hlc, row.stamp.node) <= 0) {
		/* Lost against the current row: a conflict unless a change we
		 * hold already continued it.  (Asked only here: most changes
		 * win, and the log lookup is a fair part of their cost.) */
		if (c->op == STORE_OP_PUT)
			rc = has_child(s, c->kind, c->ns, c->name, c->hlc, c->origin, &child, err);
		if (rc == 0 && c->op == STORE_OP_PUT && !child)
			rc = conflict_add(s, c->kind, c->ns, c->name, c->hlc, c->origin, c->body,
					  c->version, c->time_ms, err);
		goto out;
	}

	*won = true;
	parent_is_row = row.exists && r->parent_hlc == row.stamp.hlc &&
			strcmp(pnode, row.stamp.node) == 0;
	if (row.live && !parent_is_row) {
		rc = has_child(s, c->kind, c->ns, c->name, row.stamp.hlc, row.stamp.node,
			       &child, err);
		if (rc == 0 && !child)
			rc = conflict_add(s, c->kind, c->ns, c->name, row.stamp.hlc,
					  row.stamp.node, row.body, row.version, row.updated, err);
	}
	if (rc == 0 && c->op == STORE_OP_PUT)
		rc = ns_revive(s, c, err);
	if (rc == 0)
		rc = write_winner(s, r, len, err);
	/* An entry appeared or vanished: the directory changed. */
	if (rc == 0 && row.live != (c->op == STORE_OP_PUT))
		rc = store_db_ns_touch(s, c->kind, c->ns, store_db_now(s), err);
out:
	free(row.body);
	return rc;
}

static int log_append(struct store *s, const struct store_rchange *r,
		      struct store_err *err)
{
	const struct store_change *c = &r->c;
	sqlite3_stmt *st;
	/* OR ROLLBACK: a constraint failure here (only a damaged store gets
	 * one: the sequence was checked) ends the whole transaction, which
	 * spares SQLite a statement journal, a copy of every page the insert
	 * touches, per change.  The caller sees the error either way. */
	int rc = store_db_stmt_sql(s, "INSERT OR ROLLBACK INTO changes(op, kind, namespace, name, "
		      "version, origin, origin_seq, hlc, time, body, source, parent_hlc, parent_node, "
		      "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
		      &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, c->op);
	sqlite3_bind_int(st, 2, c->kind);
	sqlite3_bind_text(st, 3, c->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->name ? c->name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, c->version);
	sqlite3_bind_text(st, 6, c->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, c->origin_seq);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)c->hlc);
	sqlite3_bind_int64(st, 9, c->time_ms);
	bind_text(st, 10, c->op == STORE_OP_PUT ? c->body : NULL);
	bind_text(st, 11, c->source);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)r->parent_hlc);
	sqlite3_bind_text(st, 13, r->parent_node ? r->parent_node : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, r->created_ms);
	rc = run_cached(s, st, "append change", err);
	if (rc < 0)
		return rc;
	rc = store_db_stmt(s, STMT_ORIGIN_SET, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, c->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->origin_seq);
	rc = store_db_exec_stmt(s, st, "record origin sequence", err);
	store_db_release(s, STMT_ORIGIN_SET, st);
	return rc;
}

int store_apply(struct store *s, const struct store_rchange *r, int64_t max_skew_ms,
		enum store_apply_outcome *out, struct store_err *err)
{
	const struct store_change *c = &r->c;
	struct store_db_write w;
	int64_t have;
	uint64_t hlc;
	size_t len;
	bool won = false;
	int rc = check_change(r, err);

	*out = STORE_APPLY_DUPLICATE;
	if (rc < 0)
		return rc;
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	/* Checks first: a refusal writes nothing, so inside a whole
	 * transaction (store_txn_begin_whole) it must not undo the rest. */
	w.wrote = false;
	rc = store_origin_seq(s, c->origin, &have);
	if (rc < 0) {
		store_db_errf(err, rc, "cannot read the sequence of '%s'", c->origin);
		goto end;
	}
	if (c->origin_seq <= have)
		goto end;
	if (c->origin_seq > have + 1) {
		rc = store_db_errf(err, -EAGAIN, "change %lld of '%s' arrived before %lld",
				   (long long)c->origin_seq, c->origin, (long long)have + 1);
		goto end;
	}
	rc = live_size(r, &len, err);
	if (rc < 0)
		goto end;
	/* Even a change that loses moves our clock: later local writes must
	 * be stamped above everything this node has seen.  A clock too far
	 * ahead is refused before the clock is written. */
	w.wrote = true;
	rc = store_hlc_observe(s, c->hlc, max_skew_ms, &hlc, err);
	if (rc == -ERANGE) {
		w.wrote = false;
		log_limited(LOG_WARNING, "refusing change %lld of '%s': %s",
			    (long long)c->origin_seq, c->origin, err ? err->msg : "clock skew");
	}
	if (rc < 0)
		goto end;
	if (c->op == STORE_OP_PUT || c->op == STORE_OP_DELETE)
		rc = apply_resource(s, r, len, &won, err);
	else
		rc = apply_ns(s, c, &won, err);
	/* Appended after the row: the parent triggers of local writes see
	 * their stash row removed with the change that consumes it. */
	if (rc == 0)
		rc = log_append(s, r, err);
	if (rc == 0)
		*out = won ? STORE_APPLY_WON : STORE_APPLY_LOST;
end:
	return store_db_write_end(s, &w, rc, err);
}

/* ---- digest ------------------------------------------------------------------- */

/*
 * Two 64-bit lanes fed eight bytes at a time: no crypto is needed, only
 * "same state, same digest" with accidental differences practically never
 * colliding.  The sidecar hashes the whole live state whenever it changes
 * (every body, ~50 MB at 100,000 resources), so the byte-at-a-time FNV-1a
 * used before cost more CPU than applying the changes it described.
 * Words are read little-endian, so every host gives the same digest.
 */
struct digest128 {
	uint64_t a, b;
};

static uint64_t rotl64(uint64_t v, int r)
{
	return (v << r) | (v >> (64 - r));
}

/* n <= 8 bytes at p as a little-endian word. */
static uint64_t load_le64(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	if (n == 8) {
		memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v = __builtin_bswap64(v);
#endif
		return v;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void digest_word(struct digest128 *d, uint64_t w)
{
	d->a = rotl64((d->a ^ w) * 0x9e3779b97f4a7c15ULL, 29);
	d->b = rotl64((d->b + w) * 0xc2b2ae3d27d4eb4fULL, 37) ^ d->a;
}

static void digest_init(struct digest128 *d)
{
	d->a = 0x6c62272e07bb0142ULL;
	d->b = 0x62b821756295c58dULL;
}

/* Length-prefixed, so ("ab","c") and ("a","bc") differ; the tail word is
 * zero-padded, which the prefix makes unambiguous. */
static void digest_field(struct digest128 *d, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;

	digest_word(d, (uint64_t)len);
	for (; i + 8 <= len; i += 8)
		digest_word(d, load_le64(p + i, 8));
	if (i < len)
		digest_word(d, load_le64(p + i, len - i));
}

/* splitmix64's finaliser, so every input bit reaches every output bit. */
static uint64_t avalanche(uint64_t v)
{
	v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
	v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
	return v ^ (v >> 31);
}

int store_digest(struct store *s, char hex[33], int64_t *count)
{
	struct digest128 f;
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	hex[0] = '\0';
	rc = prep(s, "SELECT kind, namespace, name, hlc, body FROM resources WHERE deleted = 0 "
		  "ORDER BY kind, namespace, name", &st, NULL);
	if (rc < 0)
		return rc;
	digest_init(&f);
	for (;;) {
		char num[48];
		const char *v;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "digest", NULL);
			break;
		}
		snprintf(num, sizeof(num), "%d", sqlite3_column_int(st, 0));
		digest_field(&f, num, strlen(num));
		for (int col = 1; col <= 2; col++) {
			v = (const char *)sqlite3_column_text(st, col);
			digest_field(&f, v ? v : "", v ? strlen(v) : 0);
		}
		snprintf(num, sizeof(num), "%lld", (long long)sqlite3_column_int64(st, 3));
		digest_field(&f, num, strlen(num));
		v = (const char *)sqlite3_column_text(st, 4);
		digest_field(&f, v ? v : "", v ? strlen(v) : 0);
		n++;
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	snprintf(hex, 33, "%016llx%016llx", (unsigned long long)avalanche(f.a),
		 (unsigned long long)avalanche(f.b ^ (uint64_t)n));
	if (count)
		*count = n;
	return 0;
}

/* ---- full state transfer ------------------------------------------------------ */

/* The peer's file (`src`) is read with raw statements: it is not a struct
 * store, and nothing in it is trusted before it is checked here. */
struct merge {
	struct store *s;
	sqlite3 *src;
	const char *path;
	struct store_merge_stats *stats;
	struct store_err *err;
	/* This node's own changes up to here were an earlier store's, not
	 * ours: store_origin_confirm renumbered ours above them. */
	int64_t earlier;
};

static int src_error(struct merge *m, int rc, const char *what)
{
	log_msg(LOG_ERR, "state transfer '%s': %s: %s", m->path, what, sqlite3_errmsg(m->src));
	return store_db_errf(m->err, rc == SQLITE_NOMEM ? -ENOMEM : -EINVAL,
			     "state transfer: cannot %s: %s", what, sqlite3_errmsg(m->src));
}

static int src_prep(struct merge *m, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(m->src, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		*st = NULL;
		return src_error(m, rc, "read the peer's state");
	}
	return 0;
}

/* One integer from `sql` with text ?1 (and integers ?2.. when given);
 * *found false and *v 0 when there is no row. */
static int query_int(sqlite3 *db, const char *sql, const char *t1, const int64_t *ints,
		     int n_ints, int64_t *v, bool *found)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	*v = 0;
	*found = false;
	if (rc != SQLITE_OK)
		return -EIO;
	if (t1)
		sqlite3_bind_text(st, 1, t1, -1, SQLITE_STATIC);
	for (int i = 0; i < n_ints; i++)
		sqlite3_bind_int64(st, i + 2, ints[i]);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		*found = true;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int mark_of(sqlite3 *db, const char *node, int64_t *seq)
{
	bool found;

	return query_int(db, "SELECT seq FROM origins WHERE node = ?1", node, NULL, 0, seq, &found);
}

/* The origin sequence of the change stamped (hlc, node) on a resource, from
 * db's log; when compacted away, db's high-water mark of node bounds it. */
static int seq_of(sqlite3 *db, enum store_kind kind, const char *ns, const char *name,
		  uint64_t hlc, const char *node, int64_t *seq)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT origin_seq FROM changes WHERE kind = ?1 AND "
				    "namespace = ?2 AND name = ?3 AND hlc = ?4 AND origin = ?5 "
				    "LIMIT 1", -1, &st, NULL);

	*seq = 0;
	if (rc != SQLITE_OK)
		return -EIO;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (rc == SQLITE_DONE)
		return mark_of(db, node, seq);
	return 0;
}

/* Whether `viewer` (its origins table) has seen the change stamped (hlc,
 * node) that `holder` holds. */
static int seen_by(sqlite3 *holder, sqlite3 *viewer, enum store_kind kind, const char *ns,
		   const char *name, uint64_t hlc, const char *node, bool *seen)
{
	int64_t seq, mark;
	int rc = seq_of(holder, kind, ns, name, hlc, node, &seq);

	*seen = false;
	if (rc == 0)
		rc = mark_of(viewer, node, &mark);
	if (rc == 0)
		*seen = seq > 0 && mark >= seq;
	return rc;
}

/* Whether this node has seen the peer's change c: by our marks, except that
 * our own numbers up to m->earlier were given out by an earlier store of
 * our name (a wiped data dir), whose changes we have not seen. */
static int seen_here(struct merge *m, const struct store_change *c, bool *seen)
{
	int64_t seq;
	int rc = seen_by(m->src, m->s->db, c->kind, c->ns, c->name, c->hlc, c->origin, seen);

	if (rc < 0 || !*seen || m->earlier == 0 || strcmp(c->origin, m->s->node) != 0)
		return rc;
	rc = seq_of(m->src, c->kind, c->ns, c->name, c->hlc, c->origin, &seq);
	if (rc == 0 && seq <= m->earlier)
		*seen = false;
	return rc;
}

/* Whether some change in db's log names (hlc, node) as its parent. */
static int child_in(sqlite3 *db, enum store_kind kind, const char *ns, const char *name,
		    uint64_t hlc, const char *node, bool *found)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM changes WHERE kind = ?1 AND namespace = ?2 "
				    "AND name = ?3 AND parent_hlc = ?4 AND parent_node = ?5 LIMIT 1",
				    -1, &st, NULL);

	*found = false;
	if (rc != SQLITE_OK)
		return -EIO;
	bind_key(st, kind, ns, name);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static bool label_ok(const char *v)
{
	return v && strlen(v) <= STORE_NAME_MAX && store_name_valid(v);
}

static int bad_row(struct merge *m, const char *table, const char *why)
{
	return store_db_errf(m->err, -EINVAL, "state transfer: invalid %s row: %s", table, why);
}

/* One resource row of the peer (st: kind, namespace, name, body, version,
 * created, updated, node, hlc, deleted). */
static int merge_resource(struct merge *m, sqlite3_stmt *st)
{
	struct store_rchange w = { 0 };
	struct store_change *c = &w.c;
	int kind = sqlite3_column_int(st, 0);
	bool live = sqlite3_column_int(st, 9) == 0, seen = false, child = false;
	struct row row;
	size_t len;
	int cmp, rc;

	c->ns = (const char *)sqlite3_column_text(st, 1);
	c->name = (const char *)sqlite3_column_text(st, 2);
	c->body = live ? (const char *)sqlite3_column_text(st, 3) : NULL;
	c->version = sqlite3_column_int64(st, 4);
	w.created_ms = sqlite3_column_int64(st, 5);
	c->time_ms = sqlite3_column_int64(st, 6);
	c->origin = (const char *)sqlite3_column_text(st, 7);
	c->hlc = (uint64_t)sqlite3_column_int64(st, 8);
	if (kind < 0 || kind >= STORE_KIND_COUNT || !label_ok(c->ns) || !label_ok(c->name) ||
	    !label_ok(c->origin))
		return bad_row(m, "resources", "kind or name");
	c->kind = (enum store_kind)kind;
	c->op = live ? STORE_OP_PUT : STORE_OP_DELETE;
	if (c->hlc == 0 || c->hlc > (uint64_t)INT64_MAX || c->version < 0 ||
	    (live && (!c->body || strlen(c->body) > STORE_DOC_MAX || c->version < 1)))
		return bad_row(m, "resources", "stamp, version or body");
	rc = row_read(m->s, c->kind, c->ns, c->name, &row, m->err);
	if (rc < 0)
		return rc;
	cmp = row.exists ? stamp_cmp(c->hlc, c->origin, row.stamp.hlc, row.stamp.node) : 1;
	if (cmp == 0) {
		m->stats->skipped++;
		goto out;
	}
	/* Seen here but not held: it was deleted and the tombstone purged. */
	if (!row.exists) {
		rc = seen_here(m, c, &seen);
		if (rc == 0 && seen) {
			m->stats->skipped++;
			goto out;
		}
	}
	if (rc == 0 && cmp < 0) {
		/* Ours stays; theirs is a conflict if it was a concurrent put. */
		m->stats->skipped++;
		if (live)
			rc = seen_here(m, c, &seen);
		if (rc == 0 && live && !seen)
			rc = child_in(m->s->db, c->kind, c->ns, c->name, c->hlc, c->origin, &child);
		if (rc == 0 && live && !seen && !child) {
			rc = conflict_add(m->s, c->kind, c->ns, c->name, c->hlc, c->origin, c->body,
					  c->version, c->time_ms, m->err);
			m->stats->conflicts++;
		}
		goto out;
	}
	/* Theirs wins; ours is a conflict if they had not seen it. */
	if (rc == 0 && row.live) {
		rc = seen_by(m->s->db, m->src, c->kind, c->ns, c->name, row.stamp.hlc,
			     row.stamp.node, &seen);
		if (rc == 0 && !seen)
			rc = child_in(m->src, c->kind, c->ns, c->name, row.stamp.hlc, row.stamp.node,
				      &child);
		if (rc == 0 && !seen && !child) {
			rc = conflict_add(m->s, c->kind, c->ns, c->name, row.stamp.hlc,
					  row.stamp.node, row.body, row.version, row.updated, m->err);
			m->stats->conflicts++;
		}
	}
	if (rc == 0 && live)
		rc = ns_revive(m->s, c, m->err);
	if (rc == 0)
		rc = live_size(&w, &len, m->err);
	if (rc == 0)
		rc = write_winner(m->s, &w, len, m->err);
	if (rc == 0 && row.live != live)
		rc = store_db_ns_touch(m->s, c->kind, c->ns, store_db_now(m->s), m->err);
	if (rc == 0)
		m->stats->resources++;
out:
	free(row.body);
	if (rc == -EIO)
		rc = store_db_errf(m->err, -EIO, "state transfer: cannot compare " STORE_PATH_FMT,
				   store_kind_dir(c->kind), c->ns, c->name);
	return rc;
}

/* One namespace row of the peer (kind, name, updated, hlc, node, deleted). */
static int merge_namespace(struct merge *m, sqlite3_stmt *st)
{
	struct store_change c = { 0 };
	int kind = sqlite3_column_int(st, 0);
	bool won = false;
	int rc;

	c.ns = (const char *)sqlite3_column_text(st, 1);
	c.time_ms = sqlite3_column_int64(st, 2);
	c.hlc = (uint64_t)sqlite3_column_int64(st, 3);
	c.origin = (const char *)sqlite3_column_text(st, 4);
	c.name = "";
	if (kind < 0 || kind >= STORE_KIND_COUNT || !label_ok(c.ns) || !label_ok(c.origin) ||
	    c.hlc > (uint64_t)INT64_MAX)
		return bad_row(m, "namespaces", "kind, name or stamp");
	c.kind = (enum store_kind)kind;
	c.op = sqlite3_column_int(st, 5) ? STORE_OP_NS_DELETE : STORE_OP_NS_CREATE;
	/* A namespace created with the store (stamp 0) needs no merging. */
	if (c.hlc == 0)
		return 0;
	rc = apply_ns(m->s, &c, &won, m->err);
	if (rc == 0) {
		if (won)
			m->stats->namespaces++;
		else
			m->stats->skipped++;
	}
	return rc;
}

/* One conflict row of the peer (kind, namespace, name, hlc, node, body,
 * version, time). */
static int merge_conflict(struct merge *m, sqlite3_stmt *st)
{
	int kind = sqlite3_column_int(st, 0);
	const char *ns = (const char *)sqlite3_column_text(st, 1);
	const char *name = (const char *)sqlite3_column_text(st, 2);
	uint64_t hlc = (uint64_t)sqlite3_column_int64(st, 3);
	const char *node = (const char *)sqlite3_column_text(st, 4);
	const char *body = (const char *)sqlite3_column_text(st, 5);
	struct row row;
	bool child = false;
	int rc;

	if (kind < 0 || kind >= STORE_KIND_COUNT || !label_ok(ns) || !label_ok(name) ||
	    !label_ok(node) || hlc == 0 || hlc > (uint64_t)INT64_MAX || !body ||
	    strlen(body) > STORE_DOC_MAX)
		return bad_row(m, "conflicts", "kind, name, stamp or body");
	rc = row_read(m->s, (enum store_kind)kind, ns, name, &row, m->err);
	if (rc < 0)
		return rc;
	/* Here it is the winner, or a later edit here continued it. */
	if (row.exists && stamp_cmp(hlc, node, row.stamp.hlc, row.stamp.node) == 0) {
		free(row.body);
		return 0;
	}
	free(row.body);
	if (child_in(m->s->db, (enum store_kind)kind, ns, name, hlc, node, &child) < 0)
		return store_db_errf(m->err, -EIO, "state transfer: cannot read the change log");
	if (child)
		return 0;
	rc = conflict_add(m->s, (enum store_kind)kind, ns, name, hlc, node, body,
			  sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7), m->err);
	if (rc == 0 && sqlite3_changes(m->s->db) > 0)
		m->stats->conflicts++;
	return rc;
}

/* Runs `sql` on the peer's file and `fn` on each row. */
static int merge_rows(struct merge *m, const char *sql,
		      int (*fn)(struct merge *m, sqlite3_stmt *st))
{
	sqlite3_stmt *st;
	int rc = src_prep(m, sql, &st);

	if (rc < 0)
		return rc;
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = src_error(m, rc, "read the peer's state");
			break;
		}
		rc = fn(m, st);
		if (rc < 0)
			break;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Our live rows that the peer does not hold although it has seen their
 * change: it deleted them and purged the tombstone, so they go here too
 * (else a node restored from an old copy would keep them for ever).
 */
static int drop_purged(struct merge *m)
{
	sqlite3_stmt *st, *has = NULL;
	struct key {
		int kind;
		char ns[STORE_NAME_MAX + 1], name[STORE_NAME_MAX + 1];
		int64_t hlc;
	} *keys = NULL;
	size_t n = 0, cap = 0;
	int rc = prep(m->s, "SELECT kind, namespace, name, hlc, node FROM resources "
		      "WHERE deleted = 0", &st, m->err);

	if (rc < 0)
		return rc;
	rc = src_prep(m, "SELECT 1 FROM resources WHERE kind = ?1 AND namespace = ?2 "
		      "AND name = ?3", &has);
	while (rc == 0) {
		int step = sqlite3_step(st);
		const char *ns, *name, *node;
		uint64_t hlc;
		bool seen = false;

		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = store_db_error(m->s, step, "read resources", m->err);
			break;
		}
		ns = (const char *)sqlite3_column_text(st, 1);
		name = (const char *)sqlite3_column_text(st, 2);
		hlc = (uint64_t)sqlite3_column_int64(st, 3);
		node = (const char *)sqlite3_column_text(st, 4);
		if (!ns || !name || !node || strlen(ns) > STORE_NAME_MAX ||
		    strlen(name) > STORE_NAME_MAX)
			continue;
		sqlite3_reset(has);
		bind_key(has, (enum store_kind)sqlite3_column_int(st, 0), ns, name);
		step = sqlite3_step(has);
		if (step == SQLITE_ROW)
			continue;
		if (step != SQLITE_DONE) {
			rc = src_error(m, step, "read the peer's state");
			break;
		}
		if (seen_by(m->s->db, m->src, (enum store_kind)sqlite3_column_int(st, 0), ns, name,
			    hlc, node, &seen) < 0) {
			rc = store_db_errf(m->err, -EIO, "state transfer: cannot read origins");
			break;
		}
		if (!seen)
			continue;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 16;
			void *v = realloc(keys, c2 * sizeof(*keys));

			if (!v) {
				rc = store_db_errf(m->err, -ENOMEM, "out of memory");
				break;
			}
			keys = v;
			cap = c2;
		}
		keys[n].kind = sqlite3_column_int(st, 0);
		snprintf(keys[n].ns, sizeof(keys[n].ns), "%s", ns);
		snprintf(keys[n].name, sizeof(keys[n].name), "%s", name);
		keys[n].hlc = (int64_t)hlc;
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(has);
	st = NULL;
	if (rc == 0 && n > 0)
		rc = prep(m->s, "DELETE FROM resources WHERE kind = ?1 AND namespace = ?2 AND "
			  "name = ?3 AND hlc = ?4", &st, m->err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sqlite3_reset(st);
		bind_key(st, (enum store_kind)keys[i].kind, keys[i].ns, keys[i].name);
		sqlite3_bind_int64(st, 4, keys[i].hlc);
		rc = store_db_exec_stmt(m->s, st, "drop a purged resource", m->err);
		if (rc == 0)
			rc = store_db_ns_touch(m->s, (enum store_kind)keys[i].kind, keys[i].ns,
					       store_db_now(m->s), m->err);
		if (rc == 0)
			m->stats->resources++;
	}
	sqlite3_finalize(st);
	free(keys);
	return rc;
}

static int merge_origin(struct merge *m, sqlite3_stmt *st)
{
	const char *node = (const char *)sqlite3_column_text(st, 0);
	int64_t seq = sqlite3_column_int64(st, 1), have = 0;
	sqlite3_stmt *up;
	int rc;

	if (!label_ok(node) || seq < 0)
		return bad_row(m, "origins", "node or sequence");
	rc = store_origin_seq(m->s, node, &have);
	if (rc < 0 || seq <= have)
		return rc;
	rc = store_db_stmt(m->s, STMT_ORIGIN_SET, &up, m->err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(up, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 2, seq);
	rc = store_db_exec_stmt(m->s, up, "record origin sequence", m->err);
	store_db_release(m->s, STMT_ORIGIN_SET, up);
	if (rc == 0)
		m->stats->origins++;
	return rc;
}

static int open_peer_state(struct merge *m)
{
	sqlite3_stmt *st = NULL;
	const char *v;
	int rc = sqlite3_open_v2(m->path, &m->src, SQLITE_OPEN_READONLY, NULL);

	if (rc != SQLITE_OK)
		return store_db_errf(m->err, -EINVAL, "state transfer: cannot open '%s': %s",
				     m->path, m->src ? sqlite3_errmsg(m->src) : sqlite3_errstr(rc));
	/* A file from the network: no schema-defined functions or views run. */
	sqlite3_db_config(m->src, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(m->src, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = src_prep(m, "PRAGMA quick_check", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	rc = v && strcmp(v, "ok") == 0 ? 0 : store_db_errf(m->err, -EINVAL,
			"state transfer: '%s' fails its integrity check", m->path);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	rc = src_prep(m, "PRAGMA user_version", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc < 3 || rc > STORE_SCHEMA_VERSION)
		return store_db_errf(m->err, -EINVAL, "state transfer: '%s' has schema version %d, "
				     "this build reads 3 to %d", m->path, rc, STORE_SCHEMA_VERSION);
	return 0;
}

#define TRANSFERS_KEY "state_transfers"

static int count_transfer(struct store *s, struct store_err *err)
{
	int64_t count;
	bool found;
	int rc = store_db_meta_get_int(s, TRANSFERS_KEY, &count, &found, err);

	return rc < 0 ? rc : store_db_meta_set_int(s, TRANSFERS_KEY, count + 1, err);
}

int store_transfer_count(struct store *s, int64_t *count)
{
	bool found;

	return store_db_meta_get_int(s, TRANSFERS_KEY, count, &found, NULL);
}

int store_state_merge(struct store *s, const char *path, int64_t max_skew_ms,
		      struct store_merge_stats *stats, struct store_err *err)
{
	struct store_merge_stats dummy;
	struct merge m = { s, NULL, path, stats ? stats : &dummy, err, 0 };
	struct store_db_write w;
	int64_t newest = 0;
	uint64_t hlc;
	bool found;
	int rc;

	memset(m.stats, 0, sizeof(*m.stats));
	rc = store_db_meta_get_int(s, STORE_META_EARLIER, &m.earlier, &found, err);
	if (rc < 0)
		return rc;
	rc = open_peer_state(&m);
	if (rc == 0 && query_int(m.src, "SELECT max(h) FROM (SELECT max(hlc) AS h FROM resources "
				 "UNION ALL SELECT max(hlc) FROM namespaces UNION ALL "
				 "SELECT max(hlc) FROM conflicts)", NULL, NULL, 0, &newest, &found) < 0)
		rc = src_error(&m, SQLITE_ERROR, "read the peer's clock");
	if (rc < 0) {
		sqlite3_close(m.src);
		return rc;
	}
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0) {
		sqlite3_close(m.src);
		return rc;
	}
	/* Later local writes must be stamped above everything merged. */
	if (newest > 0)
		rc = store_hlc_observe(s, (uint64_t)newest, max_skew_ms, &hlc, err);
	if (rc == -ERANGE)
		log_msg(LOG_WARNING, "refusing a state transfer: %s", err ? err->msg : "clock skew");
	/* Resources first: a namespace removal only wins over older resources. */
	if (rc == 0)
		rc = merge_rows(&m, "SELECT kind, namespace, name, body, version, created, updated, "
				"node, hlc, deleted FROM resources", merge_resource);
	if (rc == 0)
		rc = merge_rows(&m, "SELECT kind, name, updated, hlc, node, deleted FROM namespaces",
				merge_namespace);
	if (rc == 0)
		rc = merge_rows(&m, "SELECT kind, namespace, name, hlc, node, body, version, time "
				"FROM conflicts", merge_conflict);
	if (rc == 0)
		rc = drop_purged(&m);
	/* Marks last: the "seen" tests above compare against the old ones. */
	if (rc == 0)
		rc = merge_rows(&m, "SELECT node, seq FROM origins", merge_origin);
	/* The resource triggers stashed parents for changes that will not come. */
	if (rc == 0)
		rc = store_db_exec(s, "DELETE FROM parent_stash", err);
	/* The earlier store's changes are ours now, as far as this peer had them. */
	if (rc == 0 && m.earlier > 0)
		rc = store_db_exec(s, "DELETE FROM meta WHERE key = '" STORE_META_EARLIER "'", err);
	/* Raised marks alone change nothing a reader shows. */
	if (rc == 0 && m.stats->resources + m.stats->namespaces + m.stats->conflicts > 0)
		rc = count_transfer(s, err);
	sqlite3_close(m.src);
	rc = store_db_write_end(s, &w, rc, err);
	if (rc == 0)
		log_msg(LOG_NOTICE, "state transfer merged: %lld resource rows, %lld namespaces, "
			"%lld conflicts, %lld high-water marks raised, %lld rows already known",
			(long long)m.stats->resources, (long long)m.stats->namespaces,
			(long long)m.stats->conflicts, (long long)m.stats->origins,
			(long long)m.stats->skipped);
	return rc;
}

/* ---- tombstone purge ------------------------------------------------------------ */

/* Fills temp.purge_floor from floor_seq, one row per origin we know. */
struct floors {
	sqlite3_stmt *ins;
	store_floor_fn fn;
	void *arg;
};

static int floor_add(const char *node, int64_t seq, void *arg)
{
	struct floors *f = arg;

	(void)seq;
	sqlite3_reset(f->ins);
	sqlite3_bind_text(f->ins, 1, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(f->ins, 2, f->fn(node, f->arg));
	return sqlite3_step(f->ins) == SQLITE_DONE ? 0 : -EIO;
}

int store_tombstone_purge(struct store *s, store_floor_fn floor_seq, void *floor_arg,
			  int64_t *purged, struct store_err *err)
{
	struct store_db_write w;
	sqlite3_stmt *ins = NULL, *del = NULL;
	struct floors f = { NULL, floor_seq, floor_arg };
	int64_t n = 0;
	int rc;

	if (purged)
		*purged = 0;
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = store_db_exec(s, "CREATE TEMP TABLE IF NOT EXISTS purge_floor(node TEXT PRIMARY KEY, "
			   "seq INTEGER NOT NULL); DELETE FROM temp.purge_floor", err);
	if (rc == 0)
		rc = prep(s, "INSERT INTO temp.purge_floor VALUES (?1, ?2)", &ins, err);
	if (rc == 0) {
		f.ins = ins;
		rc = store_origins(s, floor_add, &f);
		if (rc < 0)
			rc = store_db_error(s, sqlite3_errcode(s->db), "collect peer floors", err);
	}
	/* The delete's own sequence from the log; when compacted away, our
	 * high-water mark of its origin is an upper bound of it. */
	if (rc == 0)
		rc = prep(s, "DELETE FROM resources AS r WHERE deleted = 1 AND coalesce("
			  "(SELECT c.origin_seq FROM changes c WHERE c.kind = r.kind AND "
			  "c.namespace = r.namespace AND c.name = r.name AND c.hlc = r.hlc AND "
			  "c.origin = r.node), (SELECT o.seq FROM origins o WHERE o.node = r.node), 0) "
			  "BETWEEN 1 AND coalesce((SELECT f.seq FROM temp.purge_floor f "
			  "WHERE f.node = r.node), 0)", &del, err);
	if (rc == 0) {
		rc = run(s, del, "purge tombstones", err);
		del = NULL;
		if (rc == 0)
			n = sqlite3_changes64(s->db);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	rc = store_db_write_end(s, &w, rc, err);
	if (rc == 0 && purged)
		*purged = n;
	if (rc == 0 && n > 0)
		log_msg(LOG_INFO, "purged %lld tombstone(s) every peer has", (long long)n);
	return rc;
}
