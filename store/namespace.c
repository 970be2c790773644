/* namespace.c - namespaces per kind.  "default" is permanent and implicit:
 * it needs no row (a row appears only to hold its updated time), is always
 * listed and cannot be removed.  Other namespaces are rows; removal leaves a
 * tombstone (deleted = 1) like resources do. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_default(const char *ns)
{
	return strcmp(ns, STORE_DEFAULT_NAMESPACE) == 0;
}

/* Row lookup: *live false when missing or a tombstone. */
static int ns_row(struct store *s, enum store_kind kind, const char *ns,
		  bool *live, int64_t *created, int64_t *updated,
		  struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_NS_GET, &st, err);

	*live = false;
	*created = *updated = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*created = sqlite3_column_int64(st, 0);
		*updated = sqlite3_column_int64(st, 1);
		*live = sqlite3_column_int(st, 2) == 0;
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read namespace", err);
	}
	store_db_release(s, STMT_NS_GET, st);
	return rc;
}

static int ns_count(struct store *s, enum store_kind kind, const char *ns,
		    int64_t *count, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_NS_COUNT, &st, err);

	*count = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "count resources", err);
	}
	store_db_release(s, STMT_NS_COUNT, st);
	return rc;
}

int store_db_ns_require(struct store *s, enum store_kind kind, const char *ns,
			struct store_err *err)
{
	int64_t created, updated;
	bool live;
	int rc;

	if (is_default(ns))
		return 0;
	rc = ns_row(s, kind, ns, &live, &created, &updated, err);
	if (rc == 0 && !live)
		rc = store_db_errf(err, -ENOENT, "namespace '%s/%s' does not exist",
				   store_kind_dir(kind), ns);
	return rc;
}

int store_db_ns_touch(struct store *s, enum store_kind kind, const char *ns,
		      int64_t now, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_NS_TOUCH, &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	/* Only the default namespace can lack a row here; it was created with the store. */
	sqlite3_bind_int64(st, 3, s->created_ms);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, s->node, -1, SQLITE_STATIC);
	rc = store_db_exec_stmt(s, st, "touch namespace", err);
	store_db_release(s, STMT_NS_TOUCH, st);
	return rc;
}

int store_ns_get(struct store *s, enum store_kind kind, const char *ns,
		 struct store_ns_info *info)
{
	int rc = store_ns_stat(s, kind, ns, info);

	if (rc < 0)
		return rc;
	return ns_count(s, kind, ns, &info->count, NULL);
}

int store_ns_stat(struct store *s, enum store_kind kind, const char *ns,
		  struct store_ns_info *info)
{
	int64_t created, updated;
	bool live;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT || !ns)
		return -EINVAL;
	rc = ns_row(s, kind, ns, &live, &created, &updated, NULL);
	if (rc < 0)
		return rc;
	if (!live) {
		if (!is_default(ns))
			return -ENOENT;
		created = updated = s->created_ms;
	}
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", ns);
	info->created_ms = created;
	info->updated_ms = updated;
	info->count = -1;
	return 0;
}

int store_ns_list(struct store *s, enum store_kind kind, store_ns_cb cb, void *arg)
{
	struct store_ns_info info;
	bool default_done = false;
	sqlite3_stmt *st;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT)
		return -EINVAL;
	rc = store_db_stmt(s, STMT_NS_LIST, &st, NULL);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	for (;;) {
		const char *name;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_db_error(s, rc, "list namespaces", NULL);
			break;
		}
		name = (const char *)sqlite3_column_text(st, 0);
		/* Slot the implicit default in at its place in name order. */
		if (!default_done && strcmp(name, STORE_DEFAULT_NAMESPACE) > 0) {
			default_done = true;
			rc = store_ns_get(s, kind, STORE_DEFAULT_NAMESPACE, &info);
			if (rc == 0)
				rc = cb(&info, arg);
			if (rc != 0)
				break;
		}
		if (is_default(name))
			default_done = true;
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", name);
		info.created_ms = sqlite3_column_int64(st, 1);
		info.updated_ms = sqlite3_column_int64(st, 2);
		info.count = sqlite3_column_int64(st, 3);
		rc = cb(&info, arg);
		if (rc != 0)
			break;
	}
	store_db_release(s, STMT_NS_LIST, st);
	if (rc == 0 && !default_done) {
		rc = store_ns_get(s, kind, STORE_DEFAULT_NAMESPACE, &info);
		if (rc == 0)
			rc = cb(&info, arg);
	}
	return rc;
}

/*
 * Creates (STORE_OP_NS_CREATE) or tombstones (STORE_OP_NS_DELETE) the
 * namespace row with a new stamp and logs the change with `source`; the
 * caller holds a write transaction and has checked the row's state.
 */
int store_db_ns_write(struct store *s, enum store_op op, enum store_kind kind,
		      const char *ns, const char *source, int64_t *revision,
		      struct store_err *err)
{
	enum store_stmt id = op == STORE_OP_NS_CREATE ? STMT_NS_UPSERT : STMT_NS_TOMBSTONE;
	int64_t now = store_db_now(s);
	sqlite3_stmt *st;
	uint64_t hlc;
	int rc = store_hlc_next(s, &hlc, err);

	if (rc == 0)
		rc = store_db_stmt(s, id, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)hlc);
	sqlite3_bind_text(st, 5, s->node, -1, SQLITE_STATIC);
	rc = store_db_exec_stmt(s, st, op == STORE_OP_NS_CREATE ? "create namespace"
								 : "remove namespace", err);
	store_db_release(s, id, st);
	if (rc == 0)
		rc = store_db_change_append(s, op, kind, ns, "", 0, hlc, now, NULL, source,
					    revision, err);
	return rc;
}

int store_ns_create(struct store *s, enum store_kind kind, const char *ns,
		    struct store_err *err)
{
	struct store_db_write w;
	int64_t created, updated, revision;
	bool live;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT)
		return store_db_errf(err, -EINVAL, "invalid kind %d", (int)kind);
	if (!ns || !store_name_valid(ns))
		return store_db_errf(err, -EINVAL,
				     "invalid namespace '%s': must be a DNS label (lowercase "
				     "letters, digits and '-', at most %d characters)",
				     ns ? ns : "", STORE_NAME_MAX);
	if (is_default(ns))
		return store_db_errf(err, -EEXIST, "namespace '%s/%s' already exists",
				     store_kind_dir(kind), ns);
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = ns_row(s, kind, ns, &live, &created, &updated, err);
	if (rc == 0 && live)
		rc = store_db_errf(err, -EEXIST, "namespace '%s/%s' already exists",
				   store_kind_dir(kind), ns);
	if (rc == 0)
		rc = store_db_ns_write(s, STORE_OP_NS_CREATE, kind, ns, NULL, &revision, err);
	return store_db_write_end(s, &w, rc, err);
}

/* Names of the live resources in kind/ns, collected first so the walk does
 * not read the table it is deleting from. */
struct names {
	char (*v)[STORE_NAME_MAX + 1];
	size_t n, cap;
};

static int collect_name(const struct store_entry *e, void *arg)
{
	struct names *names = arg;

	if (names->n == names->cap) {
		size_t cap = names->cap ? names->cap * 2 : 64;
		void *v = realloc(names->v, cap * sizeof(*names->v));

		if (!v)
			return -ENOMEM;
		names->v = v;
		names->cap = cap;
	}
	snprintf(names->v[names->n++], sizeof(*names->v), "%s", e->name);
	return 0;
}

static int delete_all(struct store *s, enum store_kind kind, const char *ns,
		      struct store_err *err)
{
	struct names names = { 0 };
	char source[STORE_NAME_MAX + 8];
	int rc = store_list(s, kind, ns, collect_name, &names);

	if (rc < 0)
		store_db_errf(err, rc, "cannot list namespace '%s/%s'", store_kind_dir(kind), ns);
	snprintf(source, sizeof(source), "rmns:%s", ns);
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		struct store_meta meta;
		struct store_result res;

		rc = store_stat(s, kind, ns, names.v[i], &meta);
		if (rc == 0)
			rc = store_db_tombstone(s, kind, ns, names.v[i], meta.version,
						source, &res, err);
		else
			store_db_errf(err, rc, "cannot delete '" STORE_PATH_FMT "'",
				      store_kind_dir(kind), ns, names.v[i]);
	}
	free(names.v);
	return rc;
}

int store_ns_delete(struct store *s, enum store_kind kind, const char *ns,
		    bool recursive, struct store_err *err)
{
	struct store_db_write w;
	int64_t created, updated, count = 0, revision;
	bool live;
	int rc;

	if ((int)kind < 0 || kind >= STORE_KIND_COUNT)
		return store_db_errf(err, -EINVAL, "invalid kind %d", (int)kind);
	if (!ns)
		return store_db_errf(err, -EINVAL, "no namespace given");
	if (is_default(ns))
		return store_db_errf(err, -EBUSY, "the default namespace cannot be removed");
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		return rc;
	rc = ns_row(s, kind, ns, &live, &created, &updated, err);
	if (rc == 0 && !live)
		rc = store_db_errf(err, -ENOENT, "namespace '%s/%s' does not exist",
				   store_kind_dir(kind), ns);
	if (rc == 0)
		rc = ns_count(s, kind, ns, &count, err);
	if (rc == 0 && count > 0) {
		if (recursive)
			rc = delete_all(s, kind, ns, err);
		else
			rc = store_db_errf(err, -ENOTEMPTY, "namespace '%s/%s' is not empty",
					   store_kind_dir(kind), ns);
	}
	if (rc == 0)
		rc = store_db_ns_write(s, STORE_OP_NS_DELETE, kind, ns, NULL, &revision, err);
	return store_db_write_end(s, &w, rc, err);
}
