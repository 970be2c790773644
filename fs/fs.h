/* fs.h - shared state of the swarmfs mount daemon and the interfaces between
 * its subsystems (operations, status, events, watcher, rejected writes). */
#ifndef SWARMFS_FS_H
#define SWARMFS_FS_H

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

struct cJSON;

#define FS_TIMEOUT 60.0 /* entry/attr timeouts: long, with explicit invalidation */

/* Per-mount state: written by main() before the loop starts, read-only after. */
struct fs {
	struct fuse_session *se;
	char data_dir[PATH_MAX];
	char db_path[PATH_MAX + 32];
	char mountpoint[PATH_MAX];
	const char *node_opt;      /* --node, or NULL */
	char node[STORE_NODE_MAX + 1];
	enum store_sync_mode sync;
	bool readonly;             /* -o ro */
	bool foreground;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int64_t started_ms;
	char snap_dir[PATH_MAX + 16];  /* DATA/snapshots */
	int64_t snapshot_interval;     /* seconds between automatic snapshots; 0: none */
	struct store_retention keep;   /* retention of automatic snapshots */
};

extern struct fs fs;
extern const struct fuse_lowlevel_ops fs_ops;

/* The calling thread's store connection, opened lazily and closed by a
 * thread-key destructor when the thread exits (fs_store_close_thread for the
 * main thread).  Returns 0 and a borrowed *out, or -errno (logged). */
int fs_store(struct store **out);
int fs_store_open(bool readonly, struct store **out, struct store_err *err);
void fs_store_init(void);
void fs_store_close_thread(void);
int64_t fs_now_ms(void);

/* reject.c: ring of the most recent rejected writes, for status.json.
 * Thread-safe.  `path` is relative to the mount, e.g. "deployments/default/web.json". */
#define FS_REJECT_MAX 32
void fs_reject(const char *path, int err, const char *reason);
/* Appends the ring (oldest first) to the cJSON array `arr`; -ENOMEM on failure. */
int fs_reject_to_json(struct cJSON *arr);
void fs_reject_clear(void);

/* status.c: renders status.json.  Returns 0 and a new buffer (free()) or -errno. */
int fs_status_render(char **out, size_t *len);
/* Prints item as `jq .` would (2-space indent, trailing newline) into a new
 * buffer (free()); -ENOMEM. */
int fs_json_print(const struct cJSON *item, char **out, size_t *len);
/* DATA/sync-status.json as the sidecar last wrote it: a new tree (caller
 * frees with cJSON_Delete) and, if mtime_ms is not NULL, when the file was
 * written; NULL when absent or unreadable. */
struct cJSON *fs_sync_status_read(int64_t *mtime_ms);
/* Whether swarmfs-sync holds its lock on this data dir. */
bool fs_sidecar_running(void);

/* metrics.c: the `metrics` file (Prometheus text format 0.0.4).  The
 * counting functions are thread-safe and take no lock the caller holds. */
enum fs_write_op {
	FS_WRITE_PUT,
	FS_WRITE_DELETE,
	FS_WRITE_RENAME,
	FS_WRITE_MKNS,
	FS_WRITE_RMNS,
	FS_WRITE_OP_COUNT,
};
/* Counts one change committed through the mount. */
void fs_metrics_write(enum store_kind kind, enum fs_write_op op);
/* Counts one whole-state restore through snapshots/.restore. */
void fs_metrics_restore(void);
/* Counts one rejected write (called by fs_reject). */
void fs_metrics_reject(int err, const char *reason);
/* Renders the metrics: 0 and a new buffer (free()) or -errno. */
int fs_metrics_render(char **out, size_t *len);

/* conflicts.c: conflicts/KIND/NS/NAME@NODE-HLC.json.
 * fs_conflict_name parses such a file name (false if it is not one);
 * fs_conflict_file makes one. */
bool fs_conflict_name(const char *fname, char rname[STORE_NAME_MAX + 1],
		      char node[STORE_NODE_MAX + 1], uint64_t *hlc);
void fs_conflict_file(char *buf, size_t size, const char *name, const char *node,
		      uint64_t hlc);
/* The file's content: a new buffer (free()), its length and when the loser
 * was written; -ENOENT when there is no such conflict. */
int fs_conflict_render(struct store *s, enum store_kind kind, const char *ns,
		       const char *fname, char **out, size_t *len, int64_t *time_ms);
/* rm: dismisses the conflict on this node; -ENOENT if none. */
int fs_conflict_delete(struct store *s, enum store_kind kind, const char *ns,
		       const char *fname);

/* events.c: the `events` file.  Readers are created at open and freed at
 * release; reads park their request until the watcher feeds lines. */
struct fs_events_reader;
int fs_events_open(int64_t start_revision, struct fs_events_reader **out);
void fs_events_release(struct fs_events_reader *r);
void fs_events_read(fuse_req_t req, struct fs_events_reader *r, size_t size);
/* groupcommit.c: store_put, committed together with the puts of other
 * threads that arrive at the same time (one transaction, one fsync). */
int fs_group_put(struct store *s, enum store_kind kind, const char *ns, const char *name,
		 const char *data, size_t len, const struct store_put_opts *opts,
		 struct store_result *res, struct store_err *err);

/* Called by the watcher thread only: one JSON line (with newline) for the
 * change at `revision`; readers opened at or after it skip it, and
 * INT64_MAX reaches every reader. */
void fs_events_feed(int64_t revision, const char *line, size_t len);
/* Replies EINTR to all parked reads; called once the loop has ended. */
void fs_events_shutdown(void);

/* watch.c: the watcher thread (change log polling, kernel invalidation,
 * events).  Start after daemonizing. */
int fs_watch_start(void);
void fs_watch_request_stop(void);
void fs_watch_join(void);
/* After a local commit: pokes the sidecar (DATA/sync.sock) to publish it
 * and wakes the watcher.  Safe from any thread, no locks needed; never
 * blocks. */
void fs_watch_committed(void);
/* Asks the watcher to invalidate the kernel's entry parent/name (ino != 0:
 * also that inode's attributes) from its own thread, for handlers that
 * cannot call notify functions themselves. */
void fs_watch_queue_inval(fuse_ino_t parent, const char *name, fuse_ino_t ino);

/* snap.c: snapshots seen from the mount.
 *
 * A cache of read-only connections to snapshot files, one per snapshot,
 * each used by one thread at a time.  fs_snap_acquire returns 0 with *s
 * locked for the caller, -ENOENT if the snapshot does not exist (any more);
 * the caller hands *c back with fs_snap_release.  A snapshot file replaced
 * under the same name is noticed (by inode) and reopened. */
struct fs_snap_conn;
int fs_snap_acquire(const char *name, struct store **s, struct fs_snap_conn **c);
void fs_snap_release(struct fs_snap_conn *c);
/* Drops the cached connection of a removed snapshot (closed once unused). */
void fs_snap_forget(const char *name);
void fs_snap_cache_destroy(void);

/* The snapshots for status.json, cached while the snapshot dir is unchanged. */
struct fs_snap_summary {
	int64_t count;
	int64_t bytes;
	char newest[STORE_NAME_MAX + 1]; /* "" when there is none */
	int64_t newest_created_ms;
};
int fs_snap_summary(struct fs_snap_summary *sum);

/* The scheduler's clock in ms: real time, or for tests only the environment
 * variable SWARMFS_FAKE_NOW (unix seconds) advancing with real time from
 * the start of the daemon.  fs_clock_init reads it (before threads). */
void fs_clock_init(void);
int64_t fs_clock_ms(void);

/* The automatic snapshot thread: start after daemonizing, stop after the
 * loop has ended (it finishes a snapshot in progress first). */
int fs_sched_start(void);
void fs_sched_stop(void);

/* A scratch file's content: editor and sed temporaries, memory only.
 * Reference counted: the inode holds one while linked, each open handle one. */
struct fs_scratch;
int fs_scratch_new(struct fs_scratch **out);
struct fs_scratch *fs_scratch_ref(struct fs_scratch *s);
void fs_scratch_unref(struct fs_scratch *s);
int fs_scratch_write(struct fs_scratch *s, const char *data, size_t size, off_t off);
/* Copies up to size bytes at off into a new buffer; *n gets the count. */
int fs_scratch_read(struct fs_scratch *s, off_t off, size_t size, char **out, size_t *n);
int fs_scratch_truncate(struct fs_scratch *s, off_t size);
int fs_scratch_set(struct fs_scratch *s, const char *data, size_t len);
/* A new copy of the whole content (free()). */
int fs_scratch_copy(struct fs_scratch *s, char **out, size_t *len);
void fs_scratch_stat(struct fs_scratch *s, size_t *len, int64_t *mtime_ms);

#endif
