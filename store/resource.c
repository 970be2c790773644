/* resource.c - reading and writing resources: each write is one transaction
 * that updates the row, stamps version/HLC/times and appends to the change
 * log, so the table and the log never disagree.  A deleted resource stays as
 * a tombstone row (deleted = 1, body NULL, version bumped): its version
 * numbering continues when it is re-created and replication can tell
 * "deleted" from "never seen". */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static int check_kind(enum store_kind kind, struct store_err *err)
{
	if ((int)kind < 0 || kind >= STORE_KIND_COUNT)
		return store_db_errf(err, -EINVAL, "invalid kind %d", (int)kind);
	return 0;
}

static int check_name(const char *what, const char *name, struct store_err *err)
{
	if (!name || !store_name_valid(name))
		return store_db_errf(err, -EINVAL,
				     "invalid %s '%s': must be a DNS label (lowercase "
				     "letters, digits and '-', at most %d characters)",
				     what, name ? name : "", STORE_NAME_MAX);
	return 0;
}

/* One row, live or tombstone.  *body (when body is not NULL) is a new
 * string for a live row, else NULL. */
struct row {
	bool exists;
	bool live;
	struct store_meta meta;
};

static int row_get(struct store *s, enum store_kind kind, const char *ns,
		   const char *name, struct row *r, char **body,
		   struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_RES_GET, &st, err);

	memset(r, 0, sizeof(*r));
	if (body)
		*body = NULL;
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 3);

		r->exists = true;
		r->meta.version = sqlite3_column_int64(st, 0);
		r->meta.created_ms = sqlite3_column_int64(st, 1);
		r->meta.updated_ms = sqlite3_column_int64(st, 2);
		snprintf(r->meta.node, sizeof(r->meta.node), "%s", node ? node : "");
		r->meta.hlc = (uint64_t)sqlite3_column_int64(st, 4);
		r->meta.size = sqlite3_column_int64(st, 5);
		r->live = sqlite3_column_int(st, 6) == 0;
		rc = 0;
		if (body && r->live) {
			const char *b = (const char *)sqlite3_column_text(st, 7);

			*body = strdup(b ? b : "");
			if (!*body)
				rc = store_db_errf(err, -ENOMEM, "out of memory");
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read resource", err);
	}
	store_db_release(s, STMT_RES_GET, st);
	return rc;
}

int store_stat(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, struct store_meta *meta)
{
	struct row r = { 0 };
	int rc;

	if (check_kind(kind, NULL) < 0)
		return -EINVAL;
	rc = row_get(s, kind, ns, name, &r, NULL, NULL);
	if (rc < 0)
		return rc;
	if (!r.live)
		return -ENOENT;
	*meta = r.meta;
	return 0;
}

int store_get(struct store *s, enum store_kind kind, const char *ns,
	      const char *name, struct store_meta *meta, char **body)
{
	struct row r = { 0 };
	char *b;
	int rc;

	*body = NULL;
	if (check_kind(kind, NULL) < 0)
		return -EINVAL;
	rc = row_get(s, kind, ns, name, &r, &b, NULL);
	if (rc < 0)
		return rc;
	if (!r.live)
		return -ENOENT;
	if (meta)
		*meta = r.meta;
	*body = b;
	return 0;
}

int store_read(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, int render_flags, struct store_meta *meta,
	       char **doc, size_t *len)
{
	struct store_meta m;
	char *body;
	int rc = store_get(s, kind, ns, name, &m, &body);

	*doc = NULL;
	*len = 0;
	if (rc < 0)
		return rc;
	rc = store_render(kind, ns, name, &m, body, render_flags, doc, len);
	free(body);
	if (rc < 0)
		return rc;
	if (meta)
		*meta = m;
	return 0;
}

int store_list(struct store *s, enum store_kind kind, const char *ns,
	       store_entry_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (check_kind(kind, NULL) < 0)
		return -EINVAL;
	rc = store_db_stmt(s, STMT_RES_LIST, &st, NULL);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	for (;;) {
		struct store_meta meta = { 0 };
		struct store_entry e;
		const char *node;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "list resources", NULL);
			break;
		}
		e.name = (const char *)sqlite3_column_text(st, 0);
		meta.version = sqlite3_column_int64(st, 1);
		meta.created_ms = sqlite3_column_int64(st, 2);
		meta.updated_ms = sqlite3_column_int64(st, 3);
		node = (const char *)sqlite3_column_text(st, 4);
		snprintf(meta.node, sizeof(meta.node), "%s", node ? node : "");
		meta.hlc = (uint64_t)sqlite3_column_int64(st, 5);
		meta.size = sqlite3_column_int64(st, 6);
		e.meta = &meta;
		rc = cb(&e, arg);
		if (rc != 0)
			break;
	}
	store_db_release(s, STMT_RES_LIST, st);
	return rc;
}

/*
 * Writes a live row with `body` as version prev_version + 1 and logs the
 * put.  created_ms < 0: now.  Runs inside a write transaction.
 */
static int write_row(struct store *s, enum store_kind kind, const char *ns,
		     const char *name, const char *body, int64_t prev_version,
		     int64_t created_ms, const char *source,
		     struct store_result *res, struct store_err *err)
{
	struct store_meta meta = { 0 };
	sqlite3_stmt *st;
	char *doc = NULL;
	size_t len = 0;
	int64_t now = store_db_now(s);
	int rc;

	rc = store_hlc_next(s, &meta.hlc, err);
	if (rc < 0)
		return rc;
	meta.version = prev_version + 1;
	meta.created_ms = created_ms < 0 ? now : created_ms;
	meta.updated_ms = now;
	snprintf(meta.node, sizeof(meta.node), "%s", s->node);
	/* Stored so `ls -l` and getattr need not render every file. */
	rc = store_render(kind, ns, name, &meta, body, STORE_RENDER_LIVE, &doc, &len);
	free(doc);
	if (rc < 0)
		return store_db_errf(err, rc, STORE_PATH_FMT ": cannot render the document",
				     store_kind_dir(kind), ns, name);

	rc = store_db_stmt(s, STMT_RES_UPSERT, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, meta.version);
	sqlite3_bind_int64(st, 6, meta.created_ms);
	sqlite3_bind_int64(st, 7, meta.updated_ms);
	sqlite3_bind_text(st, 8, meta.node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)meta.hlc);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)len);
	rc = store_db_exec_stmt(s, st, "write resource", err);
	store_db_release(s, STMT_RES_UPSERT, st);
	if (rc < 0)
		return rc;
	/* The row is written, the change log not yet. */
	fiu_return_on("store/resource/write", store_db_fault(s, "write resource", err));
	res->version = meta.version;
	return store_db_change_append(s, STORE_OP_PUT, kind, ns, name, meta.version,
				      meta.hlc, now, body, source, &res->revision, err);
}

int store_db_tombstone(struct store *s, enum store_kind kind, const char *ns,
		       const char *name, int64_t version, const char *source,
		       struct store_result *res, struct store_err *err)
{
	sqlite3_stmt *st;
	int64_t now = store_db_now(s);
	uint64_t hlc;
	int rc = store_hlc_next(s, &hlc, err);

	if (rc < 0)
		return rc;
	rc = store_db_stmt(s, STMT_RES_TOMBSTONE, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, version + 1);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, s->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)hlc);
	rc = store_db_exec_stmt(s, st, "delete resource", err);
	store_db_release(s, STMT_RES_TOMBSTONE, st);
	if (rc < 0)
		return rc;
	res->version = version + 1;
	return store_db_change_append(s, STORE_OP_DELETE, kind, ns, name, version + 1,
				      hlc, now, NULL, source, &res->revision, err);
}

int store_put(struct store *s, enum store_kind kind, const char *ns,
	      const char *name, const char *data, size_t len,
	      const struct store_put_opts *opts, struct store_result *res,
	      struct store_err *err)
{
	static const struct store_put_opts no_opts;
	struct store_result local;
	struct store_doc doc = { 0 };
	struct store_db_write w;
	struct row r = { 0 };
	int rc;

	if (!opts)
		opts = &no_opts;
	if (!res)
		res = &local;
	rc = check_kind(kind, err);
	if (rc == 0)
		rc = check_name("namespace", ns, err);
	if (rc == 0)
		rc = check_name("name", name, err);
	if (rc < 0)
		return rc;
	/* Parse before taking the write lock: validation can be slow and
	 * needs no database. */
	rc = store_doc_parse(kind, ns, name, data, len, &doc, err);
	if (rc < 0)
		return rc;

	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		goto out;
	rc = store_db_ns_require(s, kind, ns, err);
	if (rc == 0)
		rc = row_get(s, kind, ns, name, &r, NULL, err);
	if (rc == 0 && doc.has_version && !opts->ignore_version) {
		if (r.live && doc.version != r.meta.version)
			rc = store_db_errf(err, -ESTALE,
					   "metadata.version is %lld but the current version is %lld",
					   (long long)doc.version, (long long)r.meta.version);
		else if (!r.live && doc.version != 0)
			rc = store_db_errf(err, -ESTALE,
					   "metadata.version is %lld but '" STORE_PATH_FMT
					   "' does not exist (use 0 to create it)",
					   (long long)doc.version, store_kind_dir(kind), ns, name);
	}
	if (rc == 0)
		rc = write_row(s, kind, ns, name, doc.body, r.meta.version,
			       r.live ? r.meta.created_ms : -1, opts->source, res, err);
	/* A new entry changes the directory; an update of a file does not. */
	if (rc == 0 && !r.live)
		rc = store_db_ns_touch(s, kind, ns, store_db_now(s), err);
	rc = store_db_write_end(s, &w, rc, err);
out:
	store_doc_release(&doc);
	return rc;
}

int store_delete(struct store *s, enum store_kind kind, const char *ns,
		 const char *name, struct store_result *res, struct store_err *err)
{
	struct store_result local;
	struct store_db_write w;
	struct row r = { 0 };
	int rc;

	if (!res)
		res = &local;
	rc = check_kind(kind, err);
	if (rc < 0)
		return rc;
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = row_get(s, kind, ns, name, &r, NULL, err);
	if (rc == 0 && !r.live)
		rc = store_db_errf(err, -ENOENT, "'" STORE_PATH_FMT "' does not exist",
				   store_kind_dir(kind), ns, name);
	if (rc == 0)
		rc = store_db_tombstone(s, kind, ns, name, r.meta.version, NULL, res, err);
	if (rc == 0)
		rc = store_db_ns_touch(s, kind, ns, store_db_now(s), err);
	return store_db_write_end(s, &w, rc, err);
}

int store_rename(struct store *s, enum store_kind kind, const char *ns,
		 const char *from, const char *to, struct store_result *res,
		 struct store_err *err)
{
	struct store_result local, del;
	struct store_db_write w;
	struct row rf = { 0 }, rt = { 0 };
	char *body = NULL;
	char source[STORE_NAME_MAX + 16];
	int rc;

	if (!res)
		res = &local;
	rc = check_kind(kind, err);
	if (rc == 0)
		rc = check_name("name", to, err);
	if (rc < 0)
		return rc;
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = row_get(s, kind, ns, from, &rf, &body, err);
	if (rc == 0 && !rf.live)
		rc = store_db_errf(err, -ENOENT, "'" STORE_PATH_FMT "' does not exist",
				   store_kind_dir(kind), ns, from);
	if (rc == 0 && strcmp(from, to) == 0) {
		/* rename(2) onto itself succeeds and changes nothing. */
		res->version = rf.meta.version;
		rc = store_revision(s, &res->revision);
		goto out;
	}
	if (rc == 0)
		rc = row_get(s, kind, ns, to, &rt, NULL, err);
	snprintf(source, sizeof(source), "rename:%s", from);
	if (rc == 0)
		rc = store_db_tombstone(s, kind, ns, from, rf.meta.version, source, &del, err);
	/* The moved document is a new resource under its new name: a fresh
	 * created time, versions continuing after whatever `to` was. */
	if (rc == 0)
		rc = write_row(s, kind, ns, to, body, rt.meta.version, -1, source, res, err);
	if (rc == 0)
		rc = store_db_ns_touch(s, kind, ns, store_db_now(s), err);
out:
	free(body);
	return store_db_write_end(s, &w, rc, err);
}
