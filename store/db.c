/* db.c - opening and closing a store: PRAGMAs, migration, the node name, the
 * prepared statement cache, SQLite error mapping and write transactions; the
 * one place where SQLite result codes turn into errnos. */
#include "db.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
			  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[STMT_NS_GET] = "SELECT created, updated, deleted FROM namespaces "
			"WHERE kind = ?1 AND name = ?2",
	[STMT_NS_COUNT] = "SELECT count(*) FROM resources "
			  "WHERE kind = ?1 AND namespace = ?2 AND deleted = 0",
	[STMT_NS_LIST] = "SELECT n.name, n.created, n.updated, "
			 "(SELECT count(*) FROM resources r WHERE r.kind = n.kind "
			 "AND r.namespace = n.name AND r.deleted = 0) "
			 "FROM namespaces n WHERE n.kind = ?1 AND n.deleted = 0 "
			 "ORDER BY n.name",
	[STMT_NS_UPSERT] = "INSERT INTO namespaces(kind, name, created, updated, hlc, node, deleted) "
			   "VALUES (?1, ?2, ?3, ?3, ?4, ?5, 0) "
			   "ON CONFLICT(kind, name) DO UPDATE SET created = excluded.created, "
			   "updated = excluded.updated, hlc = excluded.hlc, "
			   "node = excluded.node, deleted = 0",
	[STMT_NS_TOMBSTONE] = "UPDATE namespaces SET deleted = 1, updated = ?3, hlc = ?4, node = ?5 "
			      "WHERE kind = ?1 AND name = ?2",
	/* The default namespace has no row until something touches it. */
	[STMT_NS_TOUCH] = "INSERT INTO namespaces(kind, name, created, updated, hlc, node, deleted) "
			  "VALUES (?1, ?2, ?3, ?4, 0, ?5, 0) "
			  "ON CONFLICT(kind, name) DO UPDATE SET updated = excluded.updated",
	[STMT_RES_GET] = "SELECT version, created, updated, node, hlc, size, deleted, body "
			 "FROM resources WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
	[STMT_RES_LIST] = "SELECT name, version, created, updated, node, hlc, size "
			  "FROM resources WHERE kind = ?1 AND namespace = ?2 AND deleted = 0 "
			  "ORDER BY name",
	[STMT_RES_UPSERT] = "INSERT INTO resources(kind, namespace, name, body, version, "
			    "created, updated, node, hlc, size, deleted) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0) "
			    "ON CONFLICT(kind, namespace, name) DO UPDATE SET "
			    "body = excluded.body, version = excluded.version, "
			    "created = excluded.created, updated = excluded.updated, "
			    "node = excluded.node, hlc = excluded.hlc, "
			    "size = excluded.size, deleted = 0",
	[STMT_RES_TOMBSTONE] = "UPDATE resources SET body = NULL, version = ?4, updated = ?5, "
			       "node = ?6, hlc = ?7, size = 0, deleted = 1 "
			       "WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
	[STMT_CHANGE_INSERT] = "INSERT INTO changes(op, kind, namespace, name, version, origin, "
			       "origin_seq, hlc, time, body, source) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[STMT_ORIGIN_GET] = "SELECT seq FROM origins WHERE node = ?1",
	[STMT_ORIGIN_SET] = "INSERT INTO origins(node, seq) VALUES (?1, ?2) "
			    "ON CONFLICT(node) DO UPDATE SET seq = max(seq, excluded.seq)",
	/* sqlite_sequence keeps the highest revision even after compaction. */
	[STMT_REVISION] = "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
#define LOG_COLUMNS "revision, op, kind, namespace, name, version, origin, " \
		    "origin_seq, hlc, time, body, source"
	[STMT_LOG_ALL] = "SELECT " LOG_COLUMNS " FROM changes WHERE revision > ?1 "
			 "ORDER BY revision LIMIT ?2",
	[STMT_LOG_KIND] = "SELECT " LOG_COLUMNS " FROM changes WHERE revision > ?1 "
			  "AND kind = ?3 AND (?4 IS NULL OR namespace = ?4) "
			  "AND (?5 IS NULL OR name = ?5) ORDER BY revision LIMIT ?2",
	[STMT_LOG_NAME] = "SELECT " LOG_COLUMNS " FROM changes WHERE revision > ?1 "
			  "AND kind = ?3 AND namespace = ?4 AND name = ?5 "
			  "ORDER BY revision LIMIT ?2",
#undef LOG_COLUMNS
	[STMT_COMPACT] = "DELETE FROM changes WHERE revision <= ?1",
	[STMT_STAT_RESOURCES] = "SELECT kind, deleted, count(*) FROM resources GROUP BY kind, deleted",
	[STMT_STAT_NAMESPACES] = "SELECT kind, count(*) FROM namespaces "
				 "WHERE deleted = 0 AND name <> '" STORE_DEFAULT_NAMESPACE "' "
				 "GROUP BY kind",
	[STMT_STAT_CHANGES] = "SELECT count(*), min(revision) FROM changes",
	[STMT_CHECK_BODIES] = "SELECT kind, namespace, name, body FROM resources "
			      "WHERE deleted = 0 ORDER BY kind, namespace, name",
};

int store_db_errf(struct store_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

int store_db_error(struct store *s, int rc, const char *what, struct store_err *err)
{
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	const char *path = s && s->path ? s->path : "";

	log_msg(LOG_ERR, "store '%s': %s: %s", path, what, msg);
	/* A write or sync that failed with ENOSPC is SQLITE_IOERR_*, not
	 * SQLITE_FULL: the writer should still hear "disk full". */
	if ((rc & 0xff) == SQLITE_IOERR && s && s->db && sqlite3_system_errno(s->db) == ENOSPC)
		return store_db_errf(err, -ENOSPC, "store '%s': disk full", path);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return store_db_errf(err, -EBUSY, "store '%s' is busy: %s", path, msg);
	case SQLITE_CONSTRAINT:
		return store_db_errf(err, -EEXIST, "%s: %s", what, msg);
	case SQLITE_FULL:
		return store_db_errf(err, -ENOSPC, "store '%s': disk full", path);
	case SQLITE_READONLY:
		return store_db_errf(err, -EROFS, "store '%s' is read-only", path);
	case SQLITE_NOTADB:
		return store_db_errf(err, -EIO, "'%s' is not a swarmfs store (file is not a database)",
				     path);
	case SQLITE_CORRUPT:
		return store_db_errf(err, -EIO, "store '%s' is corrupt: %s", path, msg);
	case SQLITE_CANTOPEN: {
		/* The OS reason (EACCES, ENOENT of the dir...) says more than
		 * "unable to open database file". */
		int e = s && s->db ? sqlite3_system_errno(s->db) : 0;
		struct stat sb;

		/* The store is there but its -wal or -shm is not and cannot be
		 * made: a read-only dir, which ENOENT would hide. */
		if (e == ENOENT && s->path && stat(s->path, &sb) == 0) {
			char dir[PATH_MAX];
			const char *slash = strrchr(s->path, '/');
			size_t n = slash ? (size_t)(slash - s->path) : 1;

			if (n == 0)
				n = 1;
			snprintf(dir, sizeof(dir), "%.*s", (int)n, slash ? s->path : ".");
			if (access(dir, W_OK) < 0 && (errno == EROFS || errno == EACCES))
				return store_db_errf(err, -errno,
						     "cannot open store '%s': cannot create its -wal and -shm files: %s",
						     path, strerror(errno));
		}
		if (e > 0)
			return store_db_errf(err, -e, "cannot open store '%s': %s", path, strerror(e));
		return store_db_errf(err, -EIO, "cannot open store '%s': %s", path, msg);
	}
	case SQLITE_NOMEM:
		return store_db_errf(err, -ENOMEM, "out of memory");
	default:
		return store_db_errf(err, -EIO, "store '%s': %s: %s", path, what, msg);
	}
}

int store_db_stmt(struct store *s, enum store_stmt id, sqlite3_stmt **out,
		  struct store_err *err)
{
	sqlite3_stmt *st = s->stmt[id];
	int rc;

	if (st && !sqlite3_stmt_busy(st)) {
		*out = st;
		return 0;
	}
	rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
				st ? 0 : SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "prepare", err);
	if (!st)
		s->stmt[id] = *out;
	return 0;
}

void store_db_release(struct store *s, enum store_stmt id, sqlite3_stmt *st)
{
	if (!st)
		return;
	if (st == s->stmt[id]) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

int store_db_stmt_sql(struct store *s, const char *sql, sqlite3_stmt **out,
		      struct store_err *err)
{
	int i, rc;

	for (i = 0; i < STORE_SQL_CACHE && s->sql_cache[i].sql; i++) {
		if (s->sql_cache[i].sql != sql)
			continue;
		if (!sqlite3_stmt_busy(s->sql_cache[i].st)) {
			*out = s->sql_cache[i].st;
			return 0;
		}
		break;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return store_db_error(s, rc, "prepare", err);
	}
	if (i < STORE_SQL_CACHE && !s->sql_cache[i].sql) {
		s->sql_cache[i].sql = sql;
		s->sql_cache[i].st = *out;
	}
	return 0;
}

void store_db_release_sql(struct store *s, sqlite3_stmt *st)
{
	for (int i = 0; i < STORE_SQL_CACHE && s->sql_cache[i].sql; i++) {
		if (s->sql_cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

int store_db_exec_stmt(struct store *s, sqlite3_stmt *st, const char *what,
		       struct store_err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return store_db_error(s, rc, what, err);
}

int store_db_exec(struct store *s, const char *sql, struct store_err *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(s, rc, sql, err);
	return 0;
}

int store_db_exec_literal(struct store *s, const char *sql, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt_sql(s, sql, &st, err);

	if (rc < 0)
		return rc;
	rc = store_db_exec_stmt(s, st, sql, err);
	store_db_release_sql(s, st);
	return rc;
}

int64_t store_db_now(const struct store *s)
{
	struct timespec ts;

	if (s->now_ms)
		return s->now_ms(s->now_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#ifdef SWARMFS_FAULT_INJECTION
int store_db_fault(struct store *s, const char *what, struct store_err *err)
{
	int rc = store_fault_errno();

	log_msg(LOG_ERR, "store '%s': %s: injected fault: %s", s->path, what, strerror(-rc));
	if (rc == -ENOSPC)
		return store_db_errf(err, rc, "store '%s': disk full", s->path);
	return store_db_errf(err, rc, "store '%s': %s: %s", s->path, what, strerror(-rc));
}

/*
 * Stands in for SQLite's auto-checkpoint hook (same 1000-frame threshold).
 * At the point store/wal/checkpoint it checkpoints after this commit with
 * the first write of that checkpoint failing: a failed checkpoint must
 * neither fail nor undo the commit that ran it, and the next must succeed.
 */
static int fault_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;
	int inject = 0, rc;

	fiu_do_on("store/wal/checkpoint", inject = store_fault_errno());
	if (inject)
		fiu_enable("posix/io/rw/pwrite", 1, (void *)(intptr_t)-inject, FIU_ONETIME);
	if (inject || frames >= 1000) {
		rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK)
			log_msg(LOG_ERR, "store '%s': checkpoint: %s", s->path, sqlite3_errmsg(db));
	}
	if (inject)
		fiu_disable("posix/io/rw/pwrite");
	return SQLITE_OK;
}
#endif

int store_db_write_begin(struct store *s, struct store_db_write *w,
			 struct store_err *err)
{
	int rc;

	if (s->readonly)
		return store_db_errf(err, -EROFS, "store '%s' is open read-only", s->path);
	w->outer = sqlite3_get_autocommit(s->db);
	w->whole = false;
	w->wrote = true;
	if (w->outer)
		s->txn_whole = false; /* SQLite may have ended it on an error */
	else if (s->txn_whole) {
		w->whole = true;
		return 0;
	}
	fiu_do_on("store/txn/begin", return store_db_fault(s, "begin", err));
	rc = store_db_exec_literal(s, w->outer ? "BEGIN IMMEDIATE" : "SAVEPOINT store_write",
				   err);
	return rc;
}

int store_db_write_end(struct store *s, struct store_db_write *w, int rc,
		       struct store_err *err)
{
	int rc2;

	if (w->whole) {
		if (rc < 0 && w->wrote && !sqlite3_get_autocommit(s->db)) {
			log_msg(LOG_WARNING, "store '%s': a failed write undid its whole transaction",
				s->path);
			store_db_exec(s, "ROLLBACK", NULL);
		}
		return rc;
	}
	if (rc == 0 && w->outer) {
		fiu_do_on("store/txn/commit", rc = store_db_fault(s, "commit", err));
	}
	if (rc == 0) {
		rc2 = store_db_exec_literal(s, w->outer ? "COMMIT" : "RELEASE store_write", err);
		/* Committed, but the writer is told it failed: the change is
		 * then whole, never half there. */
		if (rc2 == 0 && w->outer) {
			fiu_return_on("store/txn/ack",
				      store_db_fault(s, "acknowledge", err));
		}
		if (rc2 == 0)
			return 0;
		rc = rc2;
	}
	/* The first error is the one to report: no err for the undo. */
	if (w->outer) {
		if (!sqlite3_get_autocommit(s->db))
			store_db_exec(s, "ROLLBACK", NULL);
	} else {
		store_db_exec(s, "ROLLBACK TO store_write; RELEASE store_write", NULL);
	}
	return rc;
}

int store_db_meta_get_int(struct store *s, const char *key, int64_t *value,
			  bool *found, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_META_GET, &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	*value = *found ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_error(s, rc, "read meta", err);
	store_db_release(s, STMT_META_GET, st);
	return rc;
}

int store_db_meta_set_int(struct store *s, const char *key, int64_t value,
			  struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_META_SET, &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	rc = store_db_exec_stmt(s, st, "write meta", err);
	store_db_release(s, STMT_META_SET, st);
	return rc;
}

/* Runs a one-row PRAGMA and returns its first column as an integer. */
static int pragma_int(struct store *s, const char *sql, int64_t *value,
		      struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(s, rc, sql, err);
	rc = sqlite3_step(st);
	*value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_error(s, rc, sql, err);
	sqlite3_finalize(st);
	return rc;
}

/* PRAGMA quick_check: "ok" or the first problem. */
static int quick_check(struct store *s, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "quick_check", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		char first[STORE_ERR_MAX];

		if (line && strcmp(line, "ok") == 0) {
			rc = 0;
		} else {
			/* The report can be many lines under a "*** in database
			 * main ***" heading; one line is what a user can read. */
			if (line && strncmp(line, "*** ", 4) == 0 && strchr(line, '\n'))
				line = strchr(line, '\n') + 1;
			snprintf(first, sizeof(first), "%s", line ? line : "quick_check failed");
			first[strcspn(first, "\n")] = '\0';
			log_msg(LOG_ERR, "store '%s': quick_check: %s", s->path, first);
			rc = store_db_errf(err, -EIO, "store '%s' is corrupt: %s", s->path, first);
		}
	} else {
		rc = store_db_error(s, rc, "quick_check", err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The host name up to its first dot, lowercased: a DNS label if the host
 * name is sane. */
static void host_node_name(char *buf, size_t size)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	host[strcspn(host, ".")] = '\0';
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(buf, size, "%s", host);
}

static int read_node(struct store *s, char *node, size_t size, bool *found,
		     struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = store_db_stmt(s, STMT_META_GET, &st, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, STORE_META_NODE, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*found = false;
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		*found = v != NULL;
		snprintf(node, size, "%s", v ? v : "");
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_db_error(s, rc, "read node name", err);
	}
	store_db_release(s, STMT_META_GET, st);
	return rc;
}

/*
 * Records the node name (and creation time) on first open, or checks the
 * recorded one against opts->node.  INSERT OR IGNORE + re-read, so two
 * processes creating one store at once agree on one name.
 */
static int setup_node(struct store *s, const struct store_options *opts,
		      struct store_err *err)
{
	char want[STORE_NODE_MAX + 2] = "";
	char have[STORE_NODE_MAX + 2] = "";
	struct store_db_write w;
	sqlite3_stmt *st;
	bool found, created_found;
	int rc;

	rc = read_node(s, have, sizeof(have), &found, err);
	if (rc < 0)
		return rc;
	if (!found) {
		const char *cand = opts->node;

		if (!cand) {
			host_node_name(want, sizeof(want));
			cand = want;
		}
		if (strlen(cand) > STORE_NODE_MAX || !store_name_valid(cand))
			return store_db_errf(err, -EINVAL,
					     "invalid node name '%s': must be a DNS label "
					     "(lowercase letters, digits and '-', at most %d characters)",
					     cand, STORE_NODE_MAX);
		rc = store_db_write_begin(s, &w, err);
		if (rc < 0)
			return rc;
		/* INSERT OR IGNORE, not META_SET: a racing creator may have
		 * recorded its name first, and that one wins. */
		rc = sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO meta(key, value) VALUES ('"
					STORE_META_NODE "', ?1)", -1, &st, NULL);
		if (rc != SQLITE_OK) {
			rc = store_db_error(s, rc, "record node name", err);
		} else {
			sqlite3_bind_text(st, 1, cand, -1, SQLITE_STATIC);
			rc = store_db_exec_stmt(s, st, "record node name", err);
			sqlite3_finalize(st);
		}
		if (rc == 0)
			rc = store_db_meta_get_int(s, STORE_META_CREATED, &s->created_ms,
						   &created_found, err);
		if (rc == 0 && !created_found)
			rc = store_db_meta_set_int(s, STORE_META_CREATED, store_db_now(s), err);
		if (rc == 0 && !created_found)
			rc = store_db_meta_set_int(s, STORE_META_UNCONFIRMED, 1, err);
		rc = store_db_write_end(s, &w, rc, err);
		if (rc < 0)
			return rc;
		rc = read_node(s, have, sizeof(have), &found, err);
		if (rc < 0)
			return rc;
	}
	if (opts->node && strcmp(have, opts->node) != 0)
		return store_db_errf(err, -EINVAL, "data dir belongs to node '%s', not '%s'",
				     have, opts->node);
	snprintf(s->node, sizeof(s->node), "%s", have);
	rc = store_db_meta_get_int(s, STORE_META_CREATED, &s->created_ms, &found, err);
	return rc;
}

/* A user_version of 0 is a fresh file, unless someone else's tables are in it. */
static int check_foreign(struct store *s, struct store_err *err)
{
	int64_t tables;
	int rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables, err);

	if (rc < 0)
		return rc;
	if (tables > 0)
		return store_db_errf(err, -EINVAL,
				     "'%s' is not a swarmfs store (it holds other tables)",
				     s->path);
	return 0;
}

int store_open(const char *path, const struct store_options *opts,
	       struct store **out, struct store_err *err)
{
	static const struct store_options defaults;
	struct store *s;
	struct stat sb;
	int64_t version;
	int flags, rc;
	bool creating = false;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT)
			return store_db_errf(err, -errno, "cannot open store '%s': %s",
					     path, strerror(errno));
		if (!opts->create || opts->readonly)
			return store_db_errf(err, -ENOENT, "no store at '%s'", path);
		creating = true;
	} else if (!S_ISREG(sb.st_mode)) {
		return store_db_errf(err, -EINVAL, "'%s' is not a swarmfs store (not a regular file)",
				     path);
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return store_db_errf(err, -ENOMEM, "out of memory");
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return store_db_errf(err, -ENOMEM, "out of memory");
	}
	s->readonly = opts->readonly;
	s->sync = opts->sync;
	s->now_ms = opts->now_ms;
	s->now_arg = opts->now_arg;

	/* NOMUTEX: a connection is used by one thread at a time (store.h). */
	flags = SQLITE_OPEN_NOMUTEX |
		(opts->readonly ? SQLITE_OPEN_READONLY
				: SQLITE_OPEN_READWRITE | (opts->create ? SQLITE_OPEN_CREATE : 0));
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		rc = store_db_error(s, rc, "open", err);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 30000);

	/* The first read of the file: a non-database fails here with NOTADB. */
	rc = pragma_int(s, "PRAGMA user_version", &version, err);
	if (rc < 0)
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		rc = store_db_errf(err, -EINVAL,
				   "store '%s' has schema version %lld, newer than this swarmfs supports (%d)",
				   path, (long long)version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version == 0) {
		rc = check_foreign(s, err);
		if (rc < 0)
			goto fail;
		if (!opts->create) {
			rc = store_db_errf(err, -ENOENT, "no store at '%s'", path);
			goto fail;
		}
	}
	if (version < STORE_SCHEMA_VERSION && opts->readonly) {
		rc = store_db_errf(err, -EROFS,
				   "store '%s' has schema version %lld and must be opened read-write once to upgrade it",
				   path, (long long)version);
		goto fail;
	}

	if (!opts->readonly) {
		/* WAL is persistent in the file; a read-only connection just uses it. */
		rc = store_db_exec(s, "PRAGMA journal_mode=WAL", err);
		if (rc < 0)
			goto fail;
#ifdef SWARMFS_FAULT_INJECTION
		fiu_init(0);
		sqlite3_wal_hook(s->db, fault_wal_hook, s);
#endif
	}
	/* FULL syncs the WAL on every commit: a commit that returned survives
	 * power loss, which SPEC promises for close(). */
	rc = store_db_exec(s, opts->sync == STORE_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
							       : "PRAGMA synchronous=FULL", err);
	if (rc == 0)
		rc = store_db_exec(s, "PRAGMA foreign_keys=ON", err);
	/* Statement journals in memory.  A savepoint inside a batch (the
	 * mount's group commit; the sidecar's batches before they dropped
	 * theirs) and a statement that may abort keep the original of every
	 * page they touch; with the default that went to a file in /var/tmp,
	 * a dozen page writes per change and a third of a catch-up's time.
	 * They hold only what one savepoint or statement touched, and are
	 * dropped when it ends. */
	if (rc == 0)
		rc = store_db_exec(s, "PRAGMA temp_store=MEMORY", err);
	if (rc < 0)
		goto fail;

	if (opts->quick_check && version > 0) {
		rc = quick_check(s, err);
		if (rc < 0)
			goto fail;
	}
	if (version < STORE_SCHEMA_VERSION) {
		rc = store_migrate(s, (int)version, err);
		if (rc < 0)
			goto fail;
	}
	rc = setup_node(s, opts, err);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;

fail:
	store_close(s);
	/* A store this call began to create and could not finish (a full
	 * disk): leave the data dir as it was, not with an empty store. */
	if (creating) {
		char extra[PATH_MAX + 8];

		unlink(path);
		snprintf(extra, sizeof(extra), "%s-wal", path);
		unlink(extra);
		snprintf(extra, sizeof(extra), "%s-shm", path);
		unlink(extra);
	}
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (int i = 0; i < STORE_SQL_CACHE; i++)
		sqlite3_finalize(s->sql_cache[i].st);
	/* close_v2: never leaves the handle half-open because of a leaked
	 * statement; the last connection checkpoints the WAL. */
	if (s->db && sqlite3_close_v2(s->db) != SQLITE_OK)
		log_msg(LOG_WARNING, "store '%s': close: %s", s->path, sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

const char *store_node(const struct store *s)
{
	return s->node;
}

int store_txn_begin(struct store *s)
{
	if (s->readonly)
		return -EROFS;
	if (!sqlite3_get_autocommit(s->db)) {
		log_msg(LOG_ERR, "store '%s': transaction already open", s->path);
		return -EINVAL;
	}
	s->txn_whole = false;
	return store_db_exec(s, "BEGIN IMMEDIATE", NULL);
}

int store_txn_begin_whole(struct store *s)
{
	int rc = store_txn_begin(s);

	s->txn_whole = rc == 0;
	return rc;
}

int store_txn_commit(struct store *s)
{
	int rc;

	s->txn_whole = false;
	if (sqlite3_get_autocommit(s->db)) {
		log_msg(LOG_ERR, "store '%s': commit without a transaction", s->path);
		return -EINVAL;
	}
	rc = store_db_exec(s, "COMMIT", NULL);
	if (rc < 0 && !sqlite3_get_autocommit(s->db))
		store_db_exec(s, "ROLLBACK", NULL);
	return rc;
}

bool store_txn_open(struct store *s)
{
	return !sqlite3_get_autocommit(s->db);
}

void store_txn_rollback(struct store *s)
{
	s->txn_whole = false;
	if (!sqlite3_get_autocommit(s->db))
		store_db_exec(s, "ROLLBACK", NULL);
}
