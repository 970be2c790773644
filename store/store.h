/* store.h - the only public header of libstore: the SQLite-backed state of
 * one swarmfs node (resources, namespaces, change log) and the pure document
 * layer (validation, canonical rendering, incremental JSON scanning).
 *
 * Conventions for every function here:
 *  - returns 0 on success or a negative errno; results come back through
 *    out-parameters;
 *  - a `struct store_err *` (may be NULL) receives a one-line, lowercase,
 *    user-facing reason whenever the return is negative;
 *  - a `struct store *` is one SQLite connection and is NOT thread-safe: a
 *    multi-threaded program opens one per thread.  Several connections, in
 *    one process or several (mount, sidecar, admin), may share a data dir:
 *    SQLite WAL serialises writers (BEGIN IMMEDIATE + busy timeout) and never
 *    blocks readers.
 *
 * Errors a caller can meet (beyond -ENOMEM, and -EIO for SQLite failures,
 * which are logged with sqlite3_errmsg()):
 *   -EINVAL  invalid JSON or schema, or an invalid name (err says where)
 *   -ESTALE  metadata.version precondition failed (version conflict)
 *   -EFBIG   document larger than STORE_DOC_MAX
 *   -ENOENT  resource or namespace does not exist
 *   -EEXIST  namespace already exists
 *   -ENOTEMPTY namespace still holds resources (non-recursive removal)
 *   -EBUSY   the permanent namespace "default" cannot be removed
 *   -EROFS   store opened read-only
 *   -ENOSPC  disk full (SQLITE_FULL)
 */
#ifndef SWARMFS_STORE_H
#define SWARMFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_DOC_MAX (1024 * 1024) /* SPEC: one document is at most 1 MiB */
#define STORE_NAME_MAX 63           /* DNS label */
#define STORE_NODE_MAX 63           /* node names are DNS labels too */
#define STORE_ERR_MAX 256
#define STORE_SCHEMA_VERSION 4      /* PRAGMA user_version written by this build (see migrate.c) */
#define STORE_DEFAULT_NAMESPACE "default" /* exists in every kind, cannot be removed */
#define STORE_DB_FILE "store.db"    /* inside the data dir */

struct store;

struct store_err {
	char msg[STORE_ERR_MAX];
};

/* ---- kinds -------------------------------------------------------------- */

enum store_kind {
	STORE_KIND_DEPLOYMENT,
	STORE_KIND_SERVICE,
	STORE_KIND_POD,
	STORE_KIND_INGRESS,
	STORE_KIND_COUNT
};

/* "deployments", "services", "pods", "ingresses": the directory names. */
const char *store_kind_dir(enum store_kind kind);
/* "Deployment", "Service", "Pod", "Ingress": the `kind` field. */
const char *store_kind_name(enum store_kind kind);
/* Looks up a kind by directory name (store_kind_dir); -ENOENT if none. */
int store_kind_from_dir(const char *dir, enum store_kind *kind);
/* Looks up a kind by `kind` field (store_kind_name); -ENOENT if none. */
int store_kind_from_name(const char *name, enum store_kind *kind);

/* Kubernetes DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1..63 characters. */
bool store_name_valid(const char *name);

/* ---- documents (pure, no database: store/schema.c, render.c, jsonscan.c) -- */

/*
 * A validated document, split into what the store keeps and what it checks.
 * `body` is the compact canonical JSON of the user's content:
 *   {"labels":{..},"annotations":{..},"spec":{..},"status":{..}}
 * with labels/annotations/status present only when given, defaults filled
 * (Deployment spec.replicas=1, Service spec.type="ClusterIP", port protocol
 * "TCP"), object members in schema order and free-form maps sorted by key.
 * kind, name, namespace and the store-owned metadata are not in the body.
 */
struct store_doc {
	char *body;          /* owned, NUL-terminated */
	size_t body_len;
	bool has_version;    /* metadata.version was given: a precondition */
	int64_t version;
	/* metadata.snapshot: the snapshot the document was rendered from
	 * (store_render_snapshot), "" if none; a DNS label, not in the body. */
	char snapshot[STORE_NAME_MAX + 1];
};

/*
 * Parses and validates `len` bytes as a document of `kind` stored at
 * NAMESPACE/NAME.  Unknown fields are rejected naming their JSON path;
 * kind, metadata.name and metadata.namespace, when present, must match;
 * metadata.created/updated/node are ignored; metadata.snapshot, when
 * present, must be a DNS label and lands in doc->snapshot.
 * Returns 0 and fills *doc (caller releases with store_doc_release), or
 * -EINVAL / -EFBIG with err->msg such as
 *   "spec.ports[0].containerPort: must be an integer from 1 to 65535".
 */
int store_doc_parse(enum store_kind kind, const char *ns, const char *name,
		    const char *data, size_t len, struct store_doc *doc,
		    struct store_err *err);
void store_doc_release(struct store_doc *doc);

/* What the store knows about a stored resource besides its body. */
struct store_meta {
	int64_t version;
	int64_t created_ms;  /* unix time in milliseconds */
	int64_t updated_ms;
	uint64_t hlc;        /* hybrid logical clock stamp of the last change */
	char node[STORE_NODE_MAX + 1]; /* node that made the last change */
	int64_t size;        /* length of the live rendering (STORE_RENDER_LIVE) */
};

enum store_render_flags {
	STORE_RENDER_LIVE = 0,          /* full metadata, as the mount shows it */
	STORE_RENDER_NO_VERSION = 1 << 0, /* snapshot view: no metadata.version */
	STORE_RENDER_CONTENT = 1 << 1,  /* no version/created/updated/node */
	STORE_RENDER_COMPACT = 1 << 2,  /* one line, no trailing newline */
};

/*
 * Renders the canonical document: `jq .` formatting (2-space indent, one
 * member per line, trailing newline), key order kind, metadata (name,
 * namespace, labels, annotations, version, created, updated, node,
 * snapshot), spec,
 * status.  Timestamps render as RFC 3339 UTC seconds.
 * Returns 0 and a new buffer in *out (caller frees with free()), length in
 * *len, or -EINVAL if `body` is not a body that store_doc_parse produced.
 */
int store_render(enum store_kind kind, const char *ns, const char *name,
		 const struct store_meta *meta, const char *body, int flags,
		 char **out, size_t *len);
/*
 * store_render for a document shown inside snapshot `snapshot`: the same
 * output with "snapshot": SNAPSHOT as the last member of metadata, so a
 * copy written back to the live tree tells store_doc_parse where it came
 * from.  NULL `snapshot` is store_render.
 */
int store_render_snapshot(enum store_kind kind, const char *ns, const char *name,
			  const struct store_meta *meta, const char *body, int flags,
			  const char *snapshot, char **out, size_t *len);
/*
 * store_render_snapshot for a body read back from the store, which
 * store_doc_parse validated when it was written (swarmfs-admin check
 * validates stored bodies separately): re-indented from its text without
 * parsing it into a tree or walking the schema, several times faster and
 * byte-identical for such a body.  A body in any other form goes through
 * store_render_snapshot's validation.  Same returns and ownership.
 */
int store_render_stored(enum store_kind kind, const char *ns, const char *name,
			const struct store_meta *meta, const char *body, int flags,
			const char *snapshot, char **out, size_t *len);

/*
 * Incremental JSON scanner, so the mount can tell after every write()
 * whether the bytes so far are a complete value, could still become one,
 * or never can (syntax error, invalid UTF-8, trailing garbage).
 */
enum store_scan_state {
	STORE_SCAN_PREFIX,   /* a valid prefix of some JSON text: need more */
	STORE_SCAN_COMPLETE, /* one complete value, maybe trailing whitespace */
	STORE_SCAN_INVALID,  /* can never become valid JSON */
};

struct store_jsonscan {
	enum store_scan_state state;
	size_t offset;       /* bytes consumed so far */
	size_t error_offset; /* where it became invalid */
	/* private */
	uint32_t depth;
	uint8_t stack[512];  /* bit stack would do; bytes keep it obvious */
	int lex;             /* lexer state: the token being read */
	int lex_pos;         /* literal bytes matched, or \u hex digits read */
	uint32_t cp;         /* value of the \u escape being read */
	int utf8_need;       /* continuation bytes still expected */
	uint8_t utf8_lo;     /* range of the next continuation byte, which */
	uint8_t utf8_hi;     /* rules out overlongs, surrogates, > U+10FFFF */
	int after;           /* what the parser expects next */
	char error[80];      /* short reason once INVALID */
};

void store_jsonscan_init(struct store_jsonscan *scan);
/* Feeds the next `len` bytes; returns the new state. INVALID is sticky. */
enum store_scan_state store_jsonscan_feed(struct store_jsonscan *scan,
					  const char *data, size_t len);

/* ---- opening a store ---------------------------------------------------- */

enum store_sync_mode {
	STORE_SYNC_FULL = 0,   /* default: durable across power loss */
	STORE_SYNC_NORMAL = 1, /* WAL synced at checkpoints only: faster, may lose the last commits on power loss */
};

struct store_options {
	const char *node;        /* NULL: the node recorded in the store, else the host name */
	enum store_sync_mode sync;
	bool readonly;           /* open read-only: writes fail with -EROFS */
	bool create;             /* create the database file if missing */
	bool quick_check;        /* run PRAGMA quick_check on open; -EIO if it fails */
	int busy_timeout_ms;     /* 0: 30000 */
	/* Clock for created/updated and the HLC; NULL: CLOCK_REALTIME. Tests
	 * use it to drive time. */
	int64_t (*now_ms)(void *arg);
	void *now_arg;
};

/*
 * Opens (and with opts->create, creates) the store at `path`, migrating an
 * older schema forward.  A store with a newer schema, a node name different
 * from opts->node, a file that is not a SQLite database, or a failed quick
 * check is refused with -EINVAL/-EIO/-ENOENT and a precise err->msg.
 * Returns 0 and *out (caller closes with store_close).
 */
int store_open(const char *path, const struct store_options *opts,
	       struct store **out, struct store_err *err);
/* Closes the connection; NULL is a no-op. */
void store_close(struct store *s);

/* The node name this store belongs to; borrowed, valid until store_close. */
const char *store_node(const struct store *s);

/*
 * Data dir helpers.  store_default_data_dir writes /var/lib/swarmfs for root,
 * else ${XDG_DATA_HOME:-$HOME/.local/share}/swarmfs.  store_prepare_data_dir
 * creates a missing dir with mode 0700 (parents too) and checks it is a
 * writable directory (or readable, for readonly).
 */
int store_default_data_dir(char *buf, size_t size);
int store_prepare_data_dir(const char *dir, bool readonly, struct store_err *err);

/* ---- transactions --------------------------------------------------------- */

/*
 * Explicit transactions group several writes into one (import, restore).
 * Every write function below opens its own BEGIN IMMEDIATE transaction when
 * none is open, and otherwise runs inside the caller's (using a savepoint,
 * so a failed write leaves the outer transaction as it was).
 */
int store_txn_begin(struct store *s);
/*
 * The same, but writes inside take no savepoint: one that fails after it
 * has written rolls the whole transaction back (store_txn_open then says
 * so), while one refused in its checks (store_apply's gaps, duplicates,
 * skew, invalid bodies) changes nothing.  For the sidecar's batches of
 * applied changes, which it fetches again when a batch is lost: a savepoint
 * per change copied every page it touched and cost a third of applying.
 */
int store_txn_begin_whole(struct store *s);
int store_txn_commit(struct store *s);
void store_txn_rollback(struct store *s);
/* Whether a transaction is open: SQLite rolls one back by itself on some
 * errors (disk full, I/O error), which a caller batching writes must see. */
bool store_txn_open(struct store *s);

/* ---- namespaces --------------------------------------------------------- */

struct store_ns_info {
	char name[STORE_NAME_MAX + 1];
	int64_t created_ms;
	int64_t updated_ms;  /* last create/delete/rename of an entry in it */
	int64_t count;       /* live resources */
};

int store_ns_get(struct store *s, enum store_kind kind, const char *ns,
		 struct store_ns_info *info);
/* store_ns_get without the resource count (info->count is -1): one row
 * read, for hot paths such as a directory's getattr, where counting a
 * namespace of 100,000 resources on every call would dominate. */
int store_ns_stat(struct store *s, enum store_kind kind, const char *ns,
		  struct store_ns_info *info);
typedef int (*store_ns_cb)(const struct store_ns_info *info, void *arg);
/* Calls cb for each live namespace of kind, by name; a non-zero return from
 * cb stops the walk and is returned. */
int store_ns_list(struct store *s, enum store_kind kind, store_ns_cb cb, void *arg);
int store_ns_create(struct store *s, enum store_kind kind, const char *ns,
		    struct store_err *err);
/* Removes a namespace; with recursive, deletes its resources first, all in
 * one transaction.  -ENOTEMPTY / -EBUSY as above. */
int store_ns_delete(struct store *s, enum store_kind kind, const char *ns,
		    bool recursive, struct store_err *err);

/* ---- resources ---------------------------------------------------------- */

struct store_entry {
	const char *name;           /* borrowed, valid during the callback */
	const struct store_meta *meta;
};
typedef int (*store_entry_cb)(const struct store_entry *e, void *arg);

/* Metadata of a live resource (no body): -ENOENT if missing or deleted. */
int store_stat(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, struct store_meta *meta);
/* Body and metadata of a live resource.  *body is a new string, caller
 * frees with free(). */
int store_get(struct store *s, enum store_kind kind, const char *ns,
	      const char *name, struct store_meta *meta, char **body);
/* store_get + store_render in one call. */
int store_read(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, int render_flags, struct store_meta *meta,
	       char **doc, size_t *len);
/* Calls cb for each live resource in kind/ns, by name. */
int store_list(struct store *s, enum store_kind kind, const char *ns,
	       store_entry_cb cb, void *arg);

struct store_put_opts {
	const char *source;      /* recorded in the change log, e.g. "snapshot:before-upgrade"; NULL for none */
	bool ignore_version;     /* apply even if metadata.version mismatches */
};

struct store_result {
	int64_t version;   /* the resource's new version */
	int64_t revision;  /* store-wide revision of the change */
};

/*
 * Validates `data` (store_doc_parse), checks the metadata.version
 * precondition (-ESTALE when it is not the current version; on a missing
 * resource only 0 matches) and applies it in one transaction: bumps the
 * version (a re-created resource continues after its tombstone), stamps
 * created/updated/node/HLC and appends to the change log.  Durable when it
 * returns 0 (at synchronous=FULL).  The namespace must exist (-ENOENT).
 */
int store_put(struct store *s, enum store_kind kind, const char *ns,
	      const char *name, const char *data, size_t len,
	      const struct store_put_opts *opts, struct store_result *res,
	      struct store_err *err);
/* Deletes a live resource, leaving a tombstone. */
int store_delete(struct store *s, enum store_kind kind, const char *ns,
		 const char *name, struct store_result *res, struct store_err *err);
/* Renames within a namespace in one transaction: `to` gets `from`'s body as
 * a new version (replacing a live `to`), `from` becomes a tombstone. */
int store_rename(struct store *s, enum store_kind kind, const char *ns,
		 const char *from, const char *to, struct store_result *res,
		 struct store_err *err);

/* ---- change log --------------------------------------------------------- */

enum store_op {
	STORE_OP_PUT,
	STORE_OP_DELETE,
	STORE_OP_NS_CREATE,
	STORE_OP_NS_DELETE,
};
/* "put", "delete", "mkns", "rmns" */
const char *store_op_name(enum store_op op);

struct store_change {
	int64_t revision;            /* store-wide, strictly increasing, never reused */
	enum store_op op;
	enum store_kind kind;
	const char *ns;
	const char *name;            /* "" for namespace ops */
	int64_t version;             /* resource version after the change */
	const char *origin;          /* node that made the change */
	int64_t origin_seq;          /* that node's sequence number, 1, 2, ... */
	uint64_t hlc;
	int64_t time_ms;             /* wall clock at the origin */
	const char *body;            /* put: the body; else NULL */
	const char *source;          /* NULL or e.g. "import", "snapshot:NAME" */
};
typedef int (*store_change_cb)(const struct store_change *c, void *arg);

struct store_log_filter {
	int64_t after_revision;      /* changes with revision > this */
	int64_t limit;               /* 0: no limit */
	bool by_kind;                /* restrict to kind (and ns/name when set) */
	enum store_kind kind;
	const char *ns;              /* NULL: any */
	const char *name;            /* NULL: any */
	bool with_body;              /* fill change->body for puts */
};
/* Calls cb for each change matching filter, oldest first.  Pointers in the
 * change are borrowed, valid during the callback. */
int store_log(struct store *s, const struct store_log_filter *filter,
	      store_change_cb cb, void *arg);
/* The newest revision (0 for an empty store). */
int store_revision(struct store *s, int64_t *revision);

/*
 * Drops change-log entries older than the newest `keep` (tombstones and the
 * per-origin sequence high-water marks stay), then checkpoints and
 * truncates the WAL.  *removed gets the number of entries dropped.
 */
int store_compact(struct store *s, int64_t keep, int64_t *removed);

/* ---- status --------------------------------------------------------------- */

struct store_status {
	char node[STORE_NODE_MAX + 1];
	int64_t revision;
	int64_t oldest_revision;     /* oldest change still in the log, 0 if none */
	int64_t changes;             /* entries in the change log */
	int64_t resources[STORE_KIND_COUNT];
	int64_t namespaces[STORE_KIND_COUNT];
	int64_t tombstones;
	int64_t db_bytes;            /* main database file */
	int64_t wal_bytes;           /* -wal file */
	int schema_version;
	enum store_sync_mode sync;
};
int store_status(struct store *s, struct store_status *st);

/* PRAGMA integrity_check plus store_doc_parse of every live body.  Calls
 * cb(msg) for each problem found; *problems gets their number. */
int store_check(struct store *s, void (*cb)(const char *msg, void *arg),
		void *arg, int64_t *problems);

/* ---- snapshots (store/snapshot.c, store/retention.c) --------------------- */

#define STORE_SNAPSHOT_DIR "snapshots" /* inside the data dir: NAME.db files */

struct store_snapshot_info {
	char name[STORE_NAME_MAX + 1];
	int64_t revision;    /* the store revision the snapshot holds */
	int64_t created_ms;
	int64_t bytes;       /* size of the snapshot file */
	bool automatic;      /* taken by the schedule, subject to retention */
	int64_t resources;   /* live resources in it */
};

/*
 * Writes a consistent snapshot of the whole state (one read transaction,
 * taken while writers go on) to DIR/NAME.db: a standalone SQLite file
 * (journal_mode=DELETE, no -wal needed) carrying its name, revision, creation
 * time and automatic flag in its meta table.  It is written to a temporary
 * file, verified with PRAGMA integrity_check, fsynced and renamed into place,
 * then the directory is fsynced; on any failure no file is left behind.
 * -EINVAL bad name, -EEXIST name in use, -ENOSPC disk full, -EIO.
 */
int store_snapshot_create(struct store *s, const char *dir, const char *name,
			  bool automatic, struct store_snapshot_info *info,
			  struct store_err *err);
/* Reads one snapshot's info; -ENOENT if there is no such snapshot. */
int store_snapshot_get(const char *dir, const char *name,
		       struct store_snapshot_info *info, struct store_err *err);
typedef int (*store_snapshot_cb)(const struct store_snapshot_info *info, void *arg);
/* Calls cb for each snapshot in dir, oldest first (by created, then name);
 * unreadable files are logged and skipped.  A missing dir lists nothing. */
int store_snapshot_list(const char *dir, store_snapshot_cb cb, void *arg);
/* Removes DIR/NAME.db; -ENOENT if missing. */
int store_snapshot_delete(const char *dir, const char *name, struct store_err *err);
/* Opens a snapshot read-only for browsing with store_list/store_read/...;
 * caller closes with store_close. */
int store_snapshot_open(const char *dir, const char *name, struct store **out,
			struct store_err *err);

/*
 * Makes the live state exactly the snapshot's, in ONE transaction: every
 * resource and namespace that differs is put (as a new version, source
 * "snapshot:NAME") and everything created since is deleted with tombstones,
 * so the restore replicates like any change.  Readers see the old state or
 * the new one.  res->revision is the last revision written.
 */
int store_snapshot_restore(struct store *s, const char *dir, const char *name,
			   struct store_result *res, struct store_err *err);

/*
 * Replaces a store file that cannot be opened or fails integrity_check with
 * a copy of snapshot NAME: the damaged file (and its -wal/-shm) is moved
 * aside to PATH.damaged-TIMESTAMP, never deleted.  For `swarmfs-admin
 * restore` when the main store is gone; *aside gets the new name (caller
 * frees).
 */
int store_snapshot_recover(const char *db_path, const char *dir, const char *name,
			   char **aside, struct store_err *err);

/* restic-style retention for automatic snapshots: keep the newest `last`,
 * then the newest one of each of the last `hourly` hours, `daily` days,
 * `weekly` ISO weeks and `monthly` months (UTC).  Manual snapshots are never
 * pruned. */
struct store_retention {
	int last;
	int hourly;   /* default 24 */
	int daily;    /* default 7 */
	int weekly;   /* default 4 */
	int monthly;  /* default 12 */
};
#define STORE_RETENTION_DEFAULT { 0, 24, 7, 4, 12 }
/* Parses "hourly=24,daily=7,weekly=4,monthly=12,last=0" (any subset). */
int store_retention_parse(const char *text, struct store_retention *r,
			  struct store_err *err);
/*
 * Decides which automatic snapshots to keep (pure: no I/O).  keep[i] is set
 * for each of the n snapshots (any order) that the policy keeps; manual ones
 * are always kept.
 */
void store_retention_select(const struct store_snapshot_info *snaps, size_t n,
			    const struct store_retention *r, bool *keep);
/* Lists dir, applies store_retention_select and deletes the rest, calling
 * cb (may be NULL) for each pruned snapshot before it goes. */
int store_snapshot_prune(const char *dir, const struct store_retention *r,
			 store_snapshot_cb cb, void *arg, struct store_err *err);

/* ---- clocks ------------------------------------------------------------- */

/* RFC 3339 UTC seconds ("2026-11-22T04:10:12Z") into buf (>= 21 bytes). */
void store_format_time(int64_t ms, char *buf, size_t size);

/* Hybrid logical clock: (physical ms << 16) | logical counter. */
#define STORE_HLC_PHYSICAL(h) ((int64_t)((h) >> 16))
#define STORE_HLC_LOGICAL(h) ((uint32_t)((h) & 0xffff))

/* ---- replication (store/apply.c) ------------------------------------------ */

/*
 * A change as it travels between nodes: the change-log entry plus what a
 * receiver needs to merge it deterministically.  The merge rule (last writer
 * wins by (hlc, node name); a put that is neither the winner nor the parent
 * of any change is a conflict) is documented at the top of store/apply.c.
 */
struct store_rchange {
	struct store_change c;   /* c.revision is the local revision; store_apply ignores it */
	uint64_t parent_hlc;     /* stamp of the row the change replaced at its origin; 0: none */
	const char *parent_node; /* "" when none */
	int64_t created_ms;      /* the resource's created time at the origin */
};
typedef int (*store_rchange_cb)(const struct store_rchange *c, void *arg);

enum store_apply_outcome {
	STORE_APPLY_DUPLICATE, /* already applied: nothing changed */
	STORE_APPLY_WON,       /* logged, and now the current state */
	STORE_APPLY_LOST,      /* logged (and kept as a conflict when it is one); a newer state stays */
};

/*
 * Applies a change made on another node, in one transaction: idempotent
 * (origin_seq at or below origins[origin]: DUPLICATE, nothing changes);
 * -EAGAIN when origin_seq skips ahead of origins[origin] + 1 (fetch the gap
 * first); -ERANGE, logged and nothing changed, when its HLC is more than
 * max_skew_ms (< 0: no limit) ahead of our clock; -EINVAL/-EFBIG for a
 * change that is malformed (bad names, op, kind, a body that does not
 * render).  Otherwise merges the HLC, appends the change to our log with
 * the origin's origin/origin_seq/hlc (so we can serve it), bumps
 * origins[origin] and merges it into resources/namespaces/conflicts.
 */
int store_apply(struct store *s, const struct store_rchange *c, int64_t max_skew_ms,
		enum store_apply_outcome *out, struct store_err *err);

/* Per-origin high-water marks: cb(node, seq) by node name. */
typedef int (*store_origin_cb)(const char *node, int64_t seq, void *arg);
int store_origins(struct store *s, store_origin_cb cb, void *arg);
/* origins[node], 0 when unknown. */
int store_origin_seq(struct store *s, const char *node, int64_t *seq);

/*
 * A store made new (a first start, or a data dir wiped and started again
 * under the same node name) numbers its own changes from 1, and peers may
 * already hold changes 1..M of an earlier store of that name: they would
 * take the new ones for duplicates and drop them.  Such a store stays
 * "unconfirmed" until swarmfs-sync has heard a peer's high-water mark for
 * this node; store_origin_confirm then moves this node's own changes up by
 * `shift` (that mark: they become M+1.., in order, marks included) and ends
 * the unconfirmed state, in one transaction; *moved (may be NULL) gets the
 * number of changes renumbered.  A shift also records that our numbers up
 * to it are the earlier store's, so that the next store_state_merge takes
 * that store's rows instead of counting them as seen here (and then
 * forgets the record).  Stores from before this existed count as confirmed.
 */
int store_origin_unconfirmed(struct store *s, bool *unconfirmed);
int store_origin_confirm(struct store *s, int64_t shift, int64_t *moved,
			 struct store_err *err);

/*
 * Changes of one origin with origin_seq > after_seq, by sequence, at most
 * `limit` (0: all), bodies included; for serving a peer's gap.  -ESTALE when
 * this node has later changes of that origin but no longer the next one
 * (compacted): the peer needs a full state transfer.  Pointers are borrowed
 * for the callback.
 */
int store_log_origin(struct store *s, const char *origin, int64_t after_seq,
		     int64_t limit, store_rchange_cb cb, void *arg);
/* Changes with after_revision < revision <= upto_revision (upto < 0: no
 * bound) and, unless origin is NULL, of that origin; oldest first, at most
 * `limit` (0: all), with bodies and parents; *count = how many.  The sidecar
 * publishes this node's own this way, skipping the far more numerous ones
 * it applied from peers without decoding them. */
int store_log_since(struct store *s, int64_t after_revision, int64_t upto_revision,
		    const char *origin, int64_t limit, store_rchange_cb cb, void *arg,
		    int64_t *count);

/*
 * A hash of the live state: (kind, namespace, name, hlc, body) of every live
 * resource, sorted; equal on nodes holding the same state.  hex gets 32 hex
 * digits; *count (may be NULL) the number of live resources.
 */
int store_digest(struct store *s, char hex[33], int64_t *count);

/* The losing version of a concurrent put, kept on every node. */
struct store_conflict {
	enum store_kind kind;
	const char *ns;          /* borrowed, valid during the callback */
	const char *name;
	uint64_t hlc;            /* the loser's stamp: (hlc, node) identifies it */
	const char *node;
	int64_t version;
	int64_t time_ms;         /* when its origin wrote it */
	int64_t size;            /* length of body */
	const char *body;        /* store_conflict_get only; NULL in lists */
	uint64_t winner_hlc;     /* the current row (a tombstone if a delete won) */
	const char *winner_node;
};
typedef int (*store_conflict_cb)(const struct store_conflict *c, void *arg);
/* Conflicts of *kind (NULL: all kinds) in ns (NULL: all), by kind, ns,
 * name, hlc, node. */
int store_conflict_list(struct store *s, const enum store_kind *kind, const char *ns,
			store_conflict_cb cb, void *arg);
/* One conflict with its body; -ENOENT if none. */
int store_conflict_get(struct store *s, enum store_kind kind, const char *ns,
		       const char *name, uint64_t hlc, const char *node,
		       store_conflict_cb cb, void *arg);
/* Dismisses one conflict on this node only; -ENOENT if none. */
int store_conflict_delete(struct store *s, enum store_kind kind, const char *ns,
			  const char *name, uint64_t hlc, const char *node,
			  struct store_err *err);

/* What store_state_merge did. */
struct store_merge_stats {
	int64_t resources;   /* rows (puts or tombstones) taken from the peer */
	int64_t namespaces;  /* namespace rows taken from the peer */
	int64_t conflicts;   /* conflicts added */
	int64_t origins;     /* high-water marks raised */
	int64_t skipped;     /* peer rows this node already had or had superseded */
};

/*
 * Full state transfer, receiving side: merges the state in the store file
 * at `path` (a peer's store_snapshot_create copy; opened read-only, checked
 * with quick_check, every row validated like store_apply's input) into this
 * store in ONE transaction, with store_apply's rule: per resource the
 * greater (hlc, node) stamp wins, tombstones included; a live row that loses
 * and that the other side had not seen (by its high-water marks) is kept as
 * a conflict; the peer's conflicts are added; namespaces as in store_apply;
 * a peer row this node has already seen but no longer holds (a purged
 * tombstone's resource) is not brought back.  Then raises origins[node] to
 * the peer's where it is higher and merges the peer's newest stamp into our
 * HLC (-ERANGE, nothing changed, if it is more than max_skew_ms ahead).
 * No change-log entries are written: changes of the adopted range are no
 * longer served one by one (store_log_origin answers -ESTALE for them).
 * -EINVAL (err says which row) for a file that is not a valid store.
 */
int store_state_merge(struct store *s, const char *path, int64_t max_skew_ms,
		      struct store_merge_stats *stats, struct store_err *err);

/*
 * How many state transfers have changed this store (rows taken, conflicts
 * added or tombstones dropped), counted in the merge's own transaction.
 * Since a merge writes no change-log entries, a reader that follows the log
 * (the mount's cache invalidation, the events stream) watches this count
 * instead and re-reads everything when it moves.
 */
int store_transfer_count(struct store *s, int64_t *count);

/*
 * Drops tombstones (resource rows with deleted = 1) whose delete every peer
 * has: floor_seq(floor_arg, origin) gives the lowest high-water mark for
 * `origin` over all known peers (0: some peer has none), and a tombstone is
 * purged when the sequence of its delete (read from the change log, or
 * bounded by origins[origin] when compacted) is at or below it.  One
 * transaction; *purged (may be NULL) gets the number of rows dropped.
 */
typedef int64_t (*store_floor_fn)(const char *origin, void *arg);
int store_tombstone_purge(struct store *s, store_floor_fn floor_seq, void *floor_arg,
			  int64_t *purged, struct store_err *err);

#endif
