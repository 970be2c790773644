/* db.h - private to libstore's SQLite side: struct store, the prepared
 * statement cache, error mapping, write transactions, the HLC and the
 * change-log append shared by resource.c, namespace.c and changelog.c. */
#ifndef SWARMFS_DB_H
#define SWARMFS_DB_H

#include <sqlite3.h>

#include "store.h"

/*
 * Every statement used after store_open, prepared lazily once and kept for
 * the life of the connection.  The SQL text is in db.c (stmt_sql[]), in the
 * same order.
 */
enum store_stmt {
	STMT_META_GET,
	STMT_META_SET,
	STMT_NS_GET,
	STMT_NS_COUNT,
	STMT_NS_LIST,
	STMT_NS_UPSERT,
	STMT_NS_TOMBSTONE,
	STMT_NS_TOUCH,
	STMT_RES_GET,
	STMT_RES_LIST,
	STMT_RES_UPSERT,
	STMT_RES_TOMBSTONE,
	STMT_CHANGE_INSERT,
	STMT_ORIGIN_GET,
	STMT_ORIGIN_SET,
	STMT_REVISION,
	STMT_LOG_ALL,
	STMT_LOG_KIND,
	STMT_LOG_NAME,
	STMT_COMPACT,
	STMT_STAT_RESOURCES,
	STMT_STAT_NAMESPACES,
	STMT_STAT_CHANGES,
	STMT_CHECK_BODIES,
	STMT_COUNT
};

#define STORE_SQL_CACHE 32

/* One SQLite connection; not thread-safe (see store.h). */
struct store {
	sqlite3 *db;
	char *path;                      /* owned; for messages and stat() */
	char node[STORE_NODE_MAX + 1];   /* this node's name, from meta */
	int64_t created_ms;              /* store creation: the default namespace's created time */
	enum store_sync_mode sync;
	bool readonly;
	bool txn_whole;                  /* the open transaction is store_txn_begin_whole's */
	int64_t (*now_ms)(void *arg);
	void *now_arg;
	sqlite3_stmt *stmt[STMT_COUNT];
	/* store_db_stmt_sql's statements, keyed by their SQL string's address
	 * (parsing apply.c's was a fifth of a catch-up's time). */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} sql_cache[STORE_SQL_CACHE];
};

/* Meta keys. */
#define STORE_META_NODE "node"
#define STORE_META_HLC "hlc"
#define STORE_META_CREATED "created"
/* Set when a store gets its node name: until swarmfs-sync has compared this
 * node's sequence with its peers', its own changes may reuse numbers that a
 * wiped earlier store of the same name already gave out. */
#define STORE_META_UNCONFIRMED "origin_unconfirmed"
/* Set by a renumbering: this node's own changes up to this number were an
 * earlier store's, until a state transfer has brought them (store_state_merge). */
#define STORE_META_EARLIER "origin_earlier"

/* ---- db.c ------------------------------------------------------------------- */

/* Formats err->msg (err may be NULL) and returns rc, so callers can write
 * `return store_db_errf(err, -ENOENT, "...")`. */
int store_db_errf(struct store_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Maps a SQLite result code to a negative errno, logs sqlite3_errmsg() with
 * `what` (the operation) and fills err->msg.  The only place SQLite codes
 * become errnos.
 */
int store_db_error(struct store *s, int rc, const char *what, struct store_err *err);

/*
 * Returns the cached statement `id` in *out, preparing it on first use.  If
 * the cached one is in use (a callback of a walk calling back into the
 * store), a fresh one is prepared instead; store_db_release tells them
 * apart.  Both are released with store_db_release.
 */
int store_db_stmt(struct store *s, enum store_stmt id, sqlite3_stmt **out,
		  struct store_err *err);
void store_db_release(struct store *s, enum store_stmt id, sqlite3_stmt *st);
/*
 * The same for SQL kept beside its caller (apply.c's per-change
 * statements): cached by the address of the string, which must be a
 * literal; past STORE_SQL_CACHE strings, or when the cached one is in use,
 * a fresh statement is prepared.  Release with store_db_release_sql.
 */
int store_db_stmt_sql(struct store *s, const char *sql, sqlite3_stmt **out,
		      struct store_err *err);
void store_db_release_sql(struct store *s, sqlite3_stmt *st);

/* Steps a statement expected to finish without rows (SQLITE_DONE). */
int store_db_exec_stmt(struct store *s, sqlite3_stmt *st, const char *what,
		       struct store_err *err);
/* sqlite3_exec of fixed SQL, mapped. */
int store_db_exec(struct store *s, const char *sql, struct store_err *err);
/* One statement of literal SQL through the cache above: for the SAVEPOINT
 * and RELEASE around every applied change, which sqlite3_exec would parse
 * anew each time. */
int store_db_exec_literal(struct store *s, const char *sql, struct store_err *err);

/* Wall clock (or the test clock) in milliseconds. */
int64_t store_db_now(const struct store *s);

/*
 * A write: BEGIN IMMEDIATE when no transaction is open, else a savepoint, so
 * a failed write inside the caller's transaction undoes only itself.
 * store_db_write_end commits (rc == 0) or rolls back (rc < 0) and returns
 * the final result.  -EROFS on a read-only store.
 */
struct store_db_write {
	bool outer; /* we opened the transaction */
	/* Inside store_txn_begin_whole's transaction: no savepoint was taken,
	 * so a failure once `wrote` is set rolls the whole transaction back.
	 * store_db_write_begin sets `wrote`; a writer that fails in its checks
	 * before writing anything may clear it until then. */
	bool whole, wrote;
};
int store_db_write_begin(struct store *s, struct store_db_write *w,
			 struct store_err *err);
int store_db_write_end(struct store *s, struct store_db_write *w, int rc,
		       struct store_err *err);

/* meta table access inside the current transaction. */
int store_db_meta_get_int(struct store *s, const char *key, int64_t *value,
			  bool *found, struct store_err *err);
int store_db_meta_set_int(struct store *s, const char *key, int64_t value,
			  struct store_err *err);

/* ---- migrate.c ------------------------------------------------------------- */

/* The migration steps, in order; store_migrate runs the ones above the
 * current user_version, each in its own transaction. */
int store_migrate(struct store *s, int from_version, struct store_err *err);

/* ---- hlc.c ------------------------------------------------------------------ */

/* max(now << 16, last + 1): strictly above `last` whatever the wall clock. */
uint64_t store_hlc_tick(uint64_t last, int64_t now_ms);
/*
 * Receive rule for a remote stamp: max(now << 16, local + 1, remote + 1).
 * -ERANGE if the remote physical time is more than max_skew_ms ahead of
 * now (a peer with a broken clock must not drag ours into the future).
 */
int store_hlc_merge(uint64_t local, uint64_t remote, int64_t now_ms,
		    int64_t max_skew_ms, uint64_t *out);
/* Next local stamp, persisted in meta; call inside a write transaction. */
int store_hlc_next(struct store *s, uint64_t *hlc, struct store_err *err);
/* Merges a remote stamp into the persisted clock; inside a write transaction.
 * -ERANGE, before anything is written, for a stamp beyond max_skew_ms. */
int store_hlc_observe(struct store *s, uint64_t remote, int64_t max_skew_ms,
		      uint64_t *hlc, struct store_err *err);

/* ---- namespace.c ------------------------------------------------------------ */

/* Writes a namespace row (create or tombstone) with a new stamp and logs it
 * with `source`, inside the caller's write transaction. */
int store_db_ns_write(struct store *s, enum store_op op, enum store_kind kind,
		      const char *ns, const char *source, int64_t *revision,
		      struct store_err *err);

/* ---- changelog.c ------------------------------------------------------------ */

/* The high-water sequence applied from `node` (0 if none yet). */
int store_db_origin_seq(struct store *s, const char *node, int64_t *seq,
			struct store_err *err);

/* Appends a local change (origin = this node, origin_seq = origins[self] + 1)
 * inside a write transaction; *revision gets its revision. */
int store_db_change_append(struct store *s, enum store_op op,
			   enum store_kind kind, const char *ns,
			   const char *name, int64_t version, uint64_t hlc,
			   int64_t time_ms, const char *body,
			   const char *source, int64_t *revision,
			   struct store_err *err);

/* ---- namespace.c ------------------------------------------------------------ */

/* 0 if kind/ns is a live namespace, else -ENOENT with err->msg set. */
int store_db_ns_require(struct store *s, enum store_kind kind, const char *ns,
			struct store_err *err);
/* Sets the namespace's updated time (an entry appeared or vanished). */
int store_db_ns_touch(struct store *s, enum store_kind kind, const char *ns,
		      int64_t now, struct store_err *err);

/* ---- resource.c ------------------------------------------------------------- */

/* Tombstones a live resource of version `version` inside a write
 * transaction and logs the delete; fills res. */
int store_db_tombstone(struct store *s, enum store_kind kind, const char *ns,
		       const char *name, int64_t version, const char *source,
		       struct store_result *res, struct store_err *err);

/* "deployments/default/web" style subject for messages. */
#define STORE_PATH_FMT "%s/%s/%s"

#endif
