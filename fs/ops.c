/* ops.c - the FUSE low-level operations: the tree, resource reads from a
 * rendering taken at open, writes into a per-handle buffer committed as one
 * store transaction at flush/fsync (or at the rename of a scratch file onto
 * NAME.json), and the scratch files that editors and sed need. */
#include "handle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"


/* What a handler needs to know about an inode, copied under the table lock. */
struct info {
	fuse_ino_t ino;
	enum fs_type type;
	enum store_kind kind;
	fuse_ino_t parent;
	bool hashed;
	bool pending;
	char ns[STORE_NAME_MAX + 1];
	char name[NAME_MAX + 1];
	char rname[STORE_NAME_MAX + 1];
	char snap[STORE_NAME_MAX + 1];
	bool content;
	int64_t size;
	int64_t mtime_ms;
};

/* Requires the table lock. */
static void info_of(const struct fs_inode *in, struct info *i)
{
	i->ino = in->ino;
	i->type = in->type;
	i->kind = in->kind;
	i->parent = in->parent;
	i->hashed = in->hashed;
	i->pending = in->pending;
	snprintf(i->ns, sizeof(i->ns), "%s", in->ns);
	snprintf(i->name, sizeof(i->name), "%s", in->name);
	i->rname[0] = '\0';
	if ((in->type == FS_T_RESOURCE || in->type == FS_T_VDOC) &&
	    !fs_resource_name(in->name, i->rname))
		i->rname[0] = '\0';
	snprintf(i->snap, sizeof(i->snap), "%s", in->snap);
	i->content = in->content;
	i->size = in->size;
	i->mtime_ms = in->mtime_ms;
	if (in->type == FS_T_SCRATCH && in->scratch) {
		size_t len;
		fs_scratch_stat(in->scratch, &len, &i->mtime_ms);
		i->size = (int64_t)len;
	}
}

static int get_info(fuse_ino_t ino, struct info *i)
{
	struct fs_inode *in;

	fs_inode_lock();
	in = fs_inode_find(ino);
	if (in)
		info_of(in, i);
	fs_inode_unlock();
	return in ? 0 : -ENOENT;
}

/* The longest text snapshots/.restore takes: a name and some blanks. */
#define RESTORE_MAX 256

/* Maps store errors to the errnos the SPEC documents; anything else is EIO. */
static int errno_of(int rc)
{
	switch (-rc) {
	case EINVAL: case ESTALE: case EFBIG: case ENOENT: case ENOSPC:
	case EIO: case EROFS: case EEXIST: case ENOTEMPTY: case EBUSY:
	case ENOMEM: case EACCES: case EPERM:
		return -rc;
	default:
		return EIO;
	}
}

/*
 * Editors that keep a backup by renaming (vim with backupcopy=no, emacs)
 * rename NAME.json to a scratch name, which deletes the resource, then
 * create NAME.json again with the content they read, metadata.version
 * included: a precondition that the deletion alone made fail.  We remember
 * each resource renamed away to a scratch file; a commit of NAME.json that
 * fails only because of that deletion (the document carries the version
 * that was renamed away, and the change log holds nothing for NAME since)
 * is applied as the edit it is.
 */
#define MOVED_MAX 64
#define MOVED_TTL_MS (15 * 60 * 1000)

struct moved {
	enum store_kind kind;
	char ns[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	int64_t version;        /* version before the rename */
	int64_t revision;       /* revision of the deletion */
	int64_t time_ms;        /* 0: free slot */
};

static pthread_mutex_t moved_lock = PTHREAD_MUTEX_INITIALIZER;
static struct moved moved[MOVED_MAX]; /* protected by moved_lock */

static void moved_note(enum store_kind kind, const char *ns, const char *name,
		       int64_t version, int64_t revision)
{
	int64_t now = fs_now_ms();
	struct moved *slot = &moved[0];

	pthread_mutex_lock(&moved_lock);
	for (int i = 0; i < MOVED_MAX; i++) {
		if (moved[i].time_ms < slot->time_ms)
			slot = &moved[i];
	}
	slot->kind = kind;
	snprintf(slot->ns, sizeof(slot->ns), "%s", ns);
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->version = version;
	slot->revision = revision;
	slot->time_ms = now;
	pthread_mutex_unlock(&moved_lock);
}

static int count_change(const struct store_change *c, void *arg)
{
	(*(int64_t *)arg)++;
	return 0;
}

/* After store_put failed with -ESTALE: retries it without the version
 * check when the only change since the document's version is our own
 * rename-away.  Returns the new store_put result, or -ESTALE. */
static int put_after_moved(struct store *s, enum store_kind kind, const char *ns,
			   const char *name, const char *data, size_t len,
			   struct store_result *res, struct store_err *err)
{
	struct store_put_opts opts = { .ignore_version = true };
	struct store_log_filter f = { .by_kind = true, .kind = kind, .ns = ns, .name = name };
	struct store_meta meta;
	struct store_doc doc;
	struct store_err perr;
	int64_t now = fs_now_ms(), later = 0;
	bool match = false;

	if (store_doc_parse(kind, ns, name, data, len, &doc, &perr) < 0)
		return -ESTALE;
	pthread_mutex_lock(&moved_lock);
	for (int i = 0; i < MOVED_MAX && !match; i++) {
		struct moved *m = &moved[i];
		if (m->time_ms == 0 || now - m->time_ms > MOVED_TTL_MS || m->kind != kind ||
		    strcmp(m->ns, ns) != 0 || strcmp(m->name, name) != 0)
			continue;
		if (doc.has_version && doc.version == m->version) {
			match = true;
			f.after_revision = m->revision;
			m->time_ms = 0;
		}
	}
	pthread_mutex_unlock(&moved_lock);
	store_doc_release(&doc);
	if (!match || store_stat(s, kind, ns, name, &meta) != -ENOENT)
		return -ESTALE;
	if (store_log(s, &f, count_change, &later) < 0 || later > 0)
		return -ESTALE;
	return store_put(s, kind, ns, name, data, len, &opts, res, err);
}

/*
 * store_put for a document written to the live tree.  A document copied
 * from snapshots/NAME/ carries metadata.snapshot (and no version): it is
 * applied as a new version whatever the current one, also when the
 * resource was deleted since, and the change log records the source
 * "snapshot:NAME".  Then the rename-away retry of put_after_moved.
 */
static int put_doc(struct store *s, enum store_kind kind, const char *ns, const char *name,
		   const char *data, size_t len, struct store_result *res,
		   struct store_err *err)
{
	struct store_put_opts opts = { .source = NULL };
	char source[STORE_NAME_MAX + 16];
	struct store_err perr;
	struct store_doc doc;
	int rc;

	/* Only documents that mention the member pay for a second parse. */
	if (memmem(data, len, "\"snapshot\"", 10) != NULL &&
	    store_doc_parse(kind, ns, name, data, len, &doc, &perr) == 0) {
		if (doc.snapshot[0]) {
			snprintf(source, sizeof(source), "snapshot:%s", doc.snapshot);
			opts.source = source;
		}
		store_doc_release(&doc);
	}
	rc = fs_group_put(s, kind, ns, name, data, len, &opts, res, err);
	if (rc == -ESTALE)
		rc = put_after_moved(s, kind, ns, name, data, len, res, err);
	if (rc == 0 && opts.source)
		log_msg(LOG_INFO, "restored '%s/%s/%s.json' from %s as version %lld",
			store_kind_dir(kind), ns, name, opts.source, (long long)res->version);
	return rc;
}

static void doc_path(char *buf, size_t size, enum store_kind kind, const char *ns,
		     const char *fname)
{
	snprintf(buf, size, "%s/%s/%s", store_kind_dir(kind), ns, fname);
}

static struct timespec ts_of(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	return ts;
}

static void fill_stat(struct stat *st, fuse_ino_t ino, bool dir, int64_t size,
		      int64_t mtime_ms, bool linked)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = dir ? 2 : (linked ? 1 : 0);
	st->st_uid = fs.uid;
	st->st_gid = fs.gid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_mtim = ts_of(mtime_ms);
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static int get_store(struct store **s)
{
	int rc = fs_store(s);

	return rc < 0 ? -EIO : 0;
}

/* store_read, rendering with store_render_stored: the body comes from the
 * store, which validated it when it was written. */
static int read_doc(struct store *s, enum store_kind kind, const char *ns, const char *rname,
		    int flags, const char *snap, struct store_meta *meta, char **doc,
		    size_t *len)
{
	char *body = NULL;
	int rc = store_get(s, kind, ns, rname, meta, &body);

	if (rc < 0)
		return rc;
	rc = store_render_stored(kind, ns, rname, meta, body, flags, snap, doc, len);
	free(body);
	return rc;
}

/* ---- read-only views: snapshots and content-only renderings ------------- */

/*
 * Two kinds of read-only trees share the V... inode types:
 *  - snapshots/NAME/KIND/NS/X.json: documents of snapshot NAME, rendered
 *    without metadata.version (SPEC: copying one back always restores) and
 *    with "snapshot": NAME, the mark that makes such a copy a restore
 *    recorded in the change log as coming from that snapshot;
 *  - .content/KIND/NS/X.json (live) and snapshots/NAME/.content/...: the
 *    same documents rendered with STORE_RENDER_CONTENT, without version,
 *    created, updated, node or snapshot, so that
 *      diff -r MOUNT/snapshots/NAME/.content MOUNT/.content
 *    shows exactly the resources that changed since NAME, and nothing that
 *    merely carries another version or time stamp.
 * `.content` and `snapshots/.restore` are found by name but not listed, so
 * find, du, tar and rsync of the mount do not walk the state twice.  Views
 * keep the usual modes: every writer, root or not, reaches us and gets
 * EROFS (SPEC), not the kernel's EACCES for a mode without write bits.
 */

/* True for the inode types under which nothing can be written. */
static bool read_only_type(enum fs_type t)
{
	switch (t) {
	case FS_T_SNAP: case FS_T_SNAP_INFO: case FS_T_VIEW: case FS_T_VKIND:
	case FS_T_VNS: case FS_T_VDOC: case FS_T_CKIND: case FS_T_CNS: case FS_T_CDOC:
		return true;
	default:
		return false;
	}
}

/* The conflicts/ tree: only `rm` of a file changes it. */
static bool conflict_type(enum fs_type t)
{
	return t == FS_T_CONFLICTS || t == FS_T_CKIND || t == FS_T_CNS || t == FS_T_CDOC;
}

/* Timeouts of a view inode: snapshots never change; the live `.content`
 * changes with every write, and the watcher invalidates it as it does the
 * live tree. */
static double view_timeout(const struct info *i)
{
	if (i->type == FS_T_SNAP)
		return 1.0; /* swarmfs-admin may remove or take snapshots */
	return FS_TIMEOUT;
}

/* The store a view reads: the snapshot's (locked for us: release with
 * view_done) or this thread's live connection. */
static int view_store(const struct info *i, struct store **s, struct fs_snap_conn **c)
{
	*c = NULL;
	if (i->snap[0])
		return fs_snap_acquire(i->snap, s, c);
	return fs_store(s) < 0 ? -EIO : 0;
}

static void view_done(struct fs_snap_conn *c)
{
	fs_snap_release(c);
}

/* Renders one document of a view from its store s. */
static int view_render_in(struct store *s, const struct info *i, enum store_kind kind,
			  const char *ns, const char *rname, struct store_meta *meta,
			  char **doc, size_t *len)
{
	if (i->content || !i->snap[0])
		return read_doc(s, kind, ns, rname, STORE_RENDER_CONTENT, NULL, meta, doc, len);
	return read_doc(s, kind, ns, rname, STORE_RENDER_NO_VERSION, i->snap, meta, doc, len);
}

static int view_render(const struct info *i, struct store_meta *meta, char **doc, size_t *len)
{
	struct fs_snap_conn *c;
	struct store *s;
	int rc = view_store(i, &s, &c);

	if (rc < 0)
		return rc;
	rc = view_render_in(s, i, i->kind, i->ns, i->rname, meta, doc, len);
	view_done(c);
	return rc;
}

/* snapshots/NAME/.info: a new buffer (free()) and the creation time. */
static int render_info(const char *snap, char **out, size_t *len, int64_t *created_ms)
{
	struct store_snapshot_info info;
	char created[32], *buf;
	int n;

	int rc = store_snapshot_get(fs.snap_dir, snap, &info, NULL);
	if (rc < 0)
		return rc == -ENOENT ? rc : -EIO;
	store_format_time(info.created_ms, created, sizeof(created));
	/* Every string is a DNS label or a time stamp: nothing to escape. */
	n = asprintf(&buf, "{\n  \"name\": \"%s\",\n  \"revision\": %lld,\n"
		     "  \"created\": \"%s\",\n  \"automatic\": %s,\n"
		     "  \"resources\": %lld,\n  \"bytes\": %lld\n}\n",
		     info.name, (long long)info.revision, created,
		     info.automatic ? "true" : "false", (long long)info.resources,
		     (long long)info.bytes);
	if (n < 0)
		return -ENOMEM;
	*out = buf;
	*len = (size_t)n;
	if (created_ms)
		*created_ms = info.created_ms;
	return 0;
}

/* Attributes of a view inode. */
static int stat_view(const struct info *i, struct stat *st, double *timeout)
{
	struct store_snapshot_info info;
	struct store_ns_info ni;
	struct store_meta meta;
	struct fs_snap_conn *c;
	struct store *s;
	int64_t created = 0;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*timeout = view_timeout(i);
	switch (i->type) {
	case FS_T_SNAP:
		rc = store_snapshot_get(fs.snap_dir, i->snap, &info, NULL);
		if (rc < 0)
			return rc == -ENOENT ? rc : -EIO;
		fill_stat(st, i->ino, true, 0, info.created_ms, true);
		return 0;
	case FS_T_SNAP_INFO:
		rc = render_info(i->snap, &buf, &len, &created);
		if (rc < 0)
			return rc;
		free(buf);
		fill_stat(st, i->ino, false, (int64_t)len, created, true);
		return 0;
	case FS_T_RESTORE:
		fill_stat(st, i->ino, false, 0, fs.started_ms, true);
		st->st_mode = S_IFREG | 0200;
		*timeout = FS_TIMEOUT;
		return 0;
	case FS_T_VIEW:
	case FS_T_VKIND:
		fill_stat(st, i->ino, true, 0, fs.started_ms, true);
		return 0;
	case FS_T_VNS:
		rc = view_store(i, &s, &c);
		if (rc < 0)
			return rc;
		rc = store_ns_stat(s, i->kind, i->ns, &ni);
		view_done(c);
		if (rc < 0)
			return rc;
		fill_stat(st, i->ino, true, 0, ni.updated_ms, true);
		return 0;
	case FS_T_VDOC:
		rc = view_render(i, &meta, &buf, &len);
		if (rc < 0)
			return rc;
		free(buf);
		fill_stat(st, i->ino, false, (int64_t)len, meta.updated_ms, true);
		return 0;
	default:
		return -ENOENT;
	}
}

/* Attributes of any inode, from the store where it has them. */
static int stat_info(const struct info *i, struct stat *st, double *timeout)
{
	struct store *s;
	int rc;

	*timeout = FS_TIMEOUT;
	switch (i->type) {
	case FS_T_ROOT: case FS_T_KIND: case FS_T_SNAPSHOTS: case FS_T_CONFLICTS:
		fill_stat(st, i->ino, true, 0, fs.started_ms, true);
		return 0;
	case FS_T_STATUS:
	case FS_T_METRICS: {
		char *buf;
		size_t len = 0;
		/* Report the exact length of what a read would return now:
		 * tar and rsync copy exactly st_size bytes. */
		rc = i->type == FS_T_STATUS ? fs_status_render(&buf, &len)
					    : fs_metrics_render(&buf, &len);
		if (rc == 0)
			free(buf);
		/* A fixed time: tar and rsync must not think the file changes
		 * under them while they read it. */
		fill_stat(st, i->ino, false, (int64_t)len, fs.started_ms, true);
		*timeout = 0;
		return 0;
	}
	case FS_T_EVENTS:
		fill_stat(st, i->ino, false, 0, fs.started_ms, true);
		*timeout = 0;
		return 0;
	case FS_T_NS: {
		struct store_ns_info ni;
		rc = get_store(&s);
		if (rc < 0)
			return rc;
		rc = store_ns_stat(s, i->kind, i->ns, &ni);
		if (rc == 0) {
			fill_stat(st, i->ino, true, 0, ni.updated_ms, true);
			return 0;
		}
		if (rc == -ENOENT) {
			fill_stat(st, i->ino, true, 0, fs.started_ms, false);
			return 0;
		}
		return rc;
	}
	case FS_T_RESOURCE: {
		struct store_meta meta;
		if (i->hashed && !i->pending) {
			rc = get_store(&s);
			if (rc < 0)
				return rc;
			rc = store_stat(s, i->kind, i->ns, i->rname, &meta);
			if (rc == 0) {
				fs_inode_lock();
				struct fs_inode *in = fs_inode_find(i->ino);
				if (in) {
					in->size = meta.size;
					in->mtime_ms = meta.updated_ms;
				}
				fs_inode_unlock();
				fill_stat(st, i->ino, false, meta.size, meta.updated_ms, true);
				return 0;
			}
			if (rc != -ENOENT)
				return rc;
		}
		if (i->pending) {
			fill_stat(st, i->ino, false, 0, fs_now_ms(), true);
			return 0;
		}
		fill_stat(st, i->ino, false, i->size, i->mtime_ms, false);
		return 0;
	}
	case FS_T_SCRATCH:
		fill_stat(st, i->ino, false, i->size, i->mtime_ms, i->hashed);
		return 0;
	case FS_T_CKIND:
	case FS_T_CNS:
		/* Conflicts come and go with replication, which the watcher
		 * does not follow for them: nothing here is cached. */
		*timeout = 0;
		fill_stat(st, i->ino, true, 0, fs.started_ms, true);
		return 0;
	case FS_T_CDOC: {
		char *buf = NULL;
		size_t len = 0;
		int64_t when = 0;
		*timeout = 0;
		rc = get_store(&s);
		if (rc == 0)
			rc = fs_conflict_render(s, i->kind, i->ns, i->name, &buf, &len, &when);
		if (rc < 0)
			return rc;
		free(buf);
		fill_stat(st, i->ino, false, (int64_t)len, when, true);
		return 0;
	}
	default:
		return stat_view(i, st, timeout);
	}
}

static void reply_entry_timeouts(fuse_req_t req, const struct stat *st, fuse_ino_t ino,
				 double attr_timeout, double entry_timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr = *st;
	e.attr_timeout = attr_timeout;
	e.entry_timeout = entry_timeout;
	fuse_reply_entry(req, &e);
}

static void reply_entry_locked_done(fuse_req_t req, const struct stat *st, fuse_ino_t ino,
				    double attr_timeout)
{
	reply_entry_timeouts(req, st, ino, attr_timeout, FS_TIMEOUT);
}

/* A negative entry, cached by the kernel like a positive one; the watcher
 * invalidates it when another process creates the name. */
static void reply_negative(fuse_req_t req)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.entry_timeout = FS_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/* ---- lookup, forget, getattr -------------------------------------------- */

static fuse_ino_t root_child(const char *name)
{
	enum store_kind k;

	if (store_kind_from_dir(name, &k) == 0)
		return FS_INO_KIND(k);
	if (strcmp(name, "status.json") == 0)
		return FS_INO_STATUS;
	if (strcmp(name, "metrics") == 0)
		return FS_INO_METRICS;
	if (strcmp(name, "events") == 0)
		return FS_INO_EVENTS;
	if (strcmp(name, "snapshots") == 0)
		return FS_INO_SNAPSHOTS;
	if (strcmp(name, "conflicts") == 0)
		return FS_INO_CONFLICTS;
	return 0;
}

/* Finds or creates the inode for parent/name and counts one kernel lookup;
 * requires the table lock.  An inode of another type under that name (a
 * namespace that was removed and re-created...) is replaced. */
static int take_inode(fuse_ino_t parent, const char *name, enum fs_type type,
		      enum store_kind kind, const char *ns, struct fs_inode **out)
{
	struct fs_inode *in = fs_inode_find_name(parent, name);
	int rc;

	if (in && in->type != type) {
		fs_inode_unhash(in);
		fs_inode_maybe_free(in);
		in = NULL;
	}
	if (in == NULL) {
		rc = fs_inode_new(parent, name, type, kind, ns, &in);
		if (rc < 0)
			return rc;
	}
	in->nlookup++;
	*out = in;
	return 0;
}

static void lookup_fixed(fuse_req_t req, fuse_ino_t ino)
{
	struct info i;
	struct stat st;
	double t;

	get_info(ino, &i);
	stat_info(&i, &st, &t);
	reply_entry_locked_done(req, &st, ino, t);
}

static void lookup_ns(fuse_req_t req, fuse_ino_t parent, enum store_kind kind,
		      const char *name)
{
	struct store_ns_info ni;
	struct fs_inode *in;
	struct store *s;
	struct stat st;
	fuse_ino_t ino;
	int rc;

	if (!store_name_valid(name)) {
		reply_negative(req);
		return;
	}
	rc = get_store(&s);
	if (rc == 0)
		rc = store_ns_stat(s, kind, name, &ni);
	if (rc == -ENOENT) {
		fs_inode_lock();
		in = fs_inode_find_name(parent, name);
		if (in)
			fs_inode_unhash(in);
		if (in)
			fs_inode_maybe_free(in);
		fs_inode_unlock();
		reply_negative(req);
		return;
	}
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_inode_lock();
	rc = take_inode(parent, name, FS_T_NS, kind, name, &in);
	ino = rc == 0 ? in->ino : 0;
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fill_stat(&st, ino, true, 0, ni.updated_ms, true);
	reply_entry_locked_done(req, &st, ino, FS_TIMEOUT);
}

static void lookup_resource(fuse_req_t req, fuse_ino_t parent, enum store_kind kind,
			    const char *ns, const char *name, const char *rname)
{
	struct store_meta meta;
	struct fs_inode *in;
	struct store *s;
	struct stat st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = get_store(&s);
	if (rc == 0)
		rc = store_stat(s, kind, ns, rname, &meta);
	if (rc < 0 && rc != -ENOENT) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_inode_lock();
	in = fs_inode_find_name(parent, name);
	if (rc == -ENOENT) {
		if (in && in->pending) {
			in->nlookup++;
			fill_stat(&st, in->ino, false, 0, fs_now_ms(), true);
			fs_inode_unlock();
			/* The name may go away at its creator's close(). */
			reply_entry_timeouts(req, &st, st.st_ino, 0, 0);
			return;
		}
		if (in) {
			/* Deleted by another process. */
			fs_inode_unhash(in);
			fs_inode_maybe_free(in);
		}
		fs_inode_unlock();
		reply_negative(req);
		return;
	}
	rc = take_inode(parent, name, FS_T_RESOURCE, kind, ns, &in);
	if (rc == 0) {
		in->pending = false;
		in->size = meta.size;
		in->mtime_ms = meta.updated_ms;
		fill_stat(&st, in->ino, false, meta.size, meta.updated_ms, true);
	}
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry_locked_done(req, &st, st.st_ino, FS_TIMEOUT);
}

/* take_inode for a view inode, which also records what it shows. */
static int take_view(fuse_ino_t parent, const char *name, enum fs_type type,
		     enum store_kind kind, const char *ns, const char *snap, bool content,
		     struct fs_inode **out)
{
	int rc = take_inode(parent, name, type, kind, ns, out);

	if (rc < 0)
		return rc;
	rc = fs_inode_set_view(*out, snap, content);
	if (rc < 0) {
		(*out)->nlookup--;
		fs_inode_maybe_free(*out);
	}
	return rc;
}

static void reply_negative_t(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

/* Lookup below the root's `.content`, snapshots/ and the views. */
static void lookup_view(fuse_req_t req, const struct info *p, const char *name)
{
	struct fs_inode *in;
	struct info c;
	struct stat st;
	enum store_kind k;
	double t;
	int rc;

	memset(&c, 0, sizeof(c));
	c.parent = p->ino;
	c.hashed = true;
	c.kind = p->kind;
	c.content = p->content;
	memcpy(c.ns, p->ns, sizeof(c.ns));
	memcpy(c.snap, p->snap, sizeof(c.snap));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.type = FS_T_ROOT; /* none found */
	switch (p->type) {
	case FS_T_ROOT:
		c.type = FS_T_VIEW;
		c.content = true;
		break;
	case FS_T_SNAPSHOTS:
		if (strcmp(name, ".restore") == 0) {
			c.type = FS_T_RESTORE;
		} else if (store_name_valid(name)) {
			c.type = FS_T_SNAP;
			snprintf(c.snap, sizeof(c.snap), "%s", name);
		}
		break;
	case FS_T_SNAP:
		if (strcmp(name, ".info") == 0) {
			c.type = FS_T_SNAP_INFO;
		} else if (strcmp(name, ".content") == 0) {
			c.type = FS_T_VIEW;
			c.content = true;
		} else if (store_kind_from_dir(name, &k) == 0) {
			c.type = FS_T_VKIND;
			c.kind = k;
		}
		break;
	case FS_T_VIEW:
		if (store_kind_from_dir(name, &k) == 0) {
			c.type = FS_T_VKIND;
			c.kind = k;
		}
		break;
	case FS_T_VKIND:
		if (store_name_valid(name)) {
			c.type = FS_T_VNS;
			snprintf(c.ns, sizeof(c.ns), "%s", name);
		}
		break;
	case FS_T_VNS:
		if (fs_resource_name(name, c.rname))
			c.type = FS_T_VDOC;
		break;
	default:
		break;
	}
	/* New snapshots (swarmfs-admin) must not be hidden by a cached
	 * negative entry; new live resources are invalidated by the watcher. */
	t = p->type == FS_T_SNAPSHOTS ? 0 : FS_TIMEOUT;
	if (c.type == FS_T_ROOT) {
		reply_negative_t(req, t);
		return;
	}
	rc = stat_info(&c, &st, &t);
	if (rc == -ENOENT) {
		reply_negative_t(req, p->type == FS_T_SNAPSHOTS ? 0 : FS_TIMEOUT);
		return;
	}
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_inode_lock();
	rc = take_view(p->ino, name, c.type, c.kind, c.ns, c.snap, c.content, &in);
	if (rc == 0)
		st.st_ino = in->ino;
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	{
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.ino = st.st_ino;
		e.attr = st;
		e.attr_timeout = t;
		e.entry_timeout = t;
		fuse_reply_entry(req, &e);
	}
}

struct ns_seen {
	const char *ns;     /* NULL: any */
	char last[STORE_NAME_MAX + 1];
	int64_t count;
	struct fs_handle *h; /* opendir: add each namespace once */
	int rc;
};

/* Conflicts come sorted by kind, ns: each new ns follows the previous. */
static int conflict_ns_cb(const struct store_conflict *c, void *arg)
{
	struct ns_seen *n = arg;

	if (n->ns && strcmp(c->ns, n->ns) != 0)
		return 0;
	n->count++;
	if (strcmp(n->last, c->ns) == 0)
		return 0;
	snprintf(n->last, sizeof(n->last), "%s", c->ns);
	if (n->h) {
		struct fs_dirent e = { .name = c->ns, .type = FS_T_CNS,
				       .mtime_ms = fs.started_ms };
		n->rc = fs_handle_add_dirent(n->h, &e);
		return n->rc;
	}
	return 0;
}

/* Lookup below conflicts/; negative entries are not cached either. */
static void lookup_conflict(fuse_req_t req, const struct info *p, const char *name)
{
	struct fuse_entry_param e;
	struct ns_seen seen = { .ns = name };
	struct fs_inode *in;
	enum store_kind k = p->kind;
	enum fs_type type;
	struct store *s;
	double t;
	struct info c;
	int rc;

	memset(&e, 0, sizeof(e));
	memset(&c, 0, sizeof(c));
	switch (p->type) {
	case FS_T_CONFLICTS:
		rc = store_kind_from_dir(name, &k);
		type = FS_T_CKIND;
		break;
	case FS_T_CKIND:
		rc = store_name_valid(name) ? get_store(&s) : -ENOENT;
		if (rc == 0)
			rc = store_conflict_list(s, &k, name, conflict_ns_cb, &seen);
		if (rc == 0 && seen.count == 0) {
			/* The dir lives as long as its last conflict, and as long
			 * as the kernel knows it: rm -r removes it after its
			 * files (rmdir unhashes it). */
			fs_inode_lock();
			in = fs_inode_find_name(p->ino, name);
			if (in == NULL || in->type != FS_T_CNS)
				rc = -ENOENT;
			fs_inode_unlock();
		}
		type = FS_T_CNS;
		break;
	default:
		rc = 0;
		type = FS_T_CDOC;
	}
	if (rc == -ENOENT) {
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	c.type = type;
	c.kind = k;
	c.parent = p->ino;
	snprintf(c.ns, sizeof(c.ns), "%s", type == FS_T_CNS ? name : p->ns);
	snprintf(c.name, sizeof(c.name), "%s", name);
	rc = stat_info(&c, &e.attr, &t);
	if (rc == -ENOENT) {
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_inode_lock();
	rc = take_inode(p->ino, name, type, k, c.ns, &in);
	if (rc == 0)
		e.ino = e.attr.st_ino = in->ino;
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char rname[STORE_NAME_MAX + 1];
	struct fs_inode *in;
	struct info p;
	struct stat st;

	if (get_info(parent, &p) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p.type) {
	case FS_T_ROOT: {
		fuse_ino_t ino = root_child(name);
		if (ino)
			lookup_fixed(req, ino);
		else if (strcmp(name, ".content") == 0)
			lookup_view(req, &p, name);
		else
			reply_negative(req);
		return;
	}
	case FS_T_KIND:
		lookup_ns(req, parent, p.kind, name);
		return;
	case FS_T_NS:
		if (fs_resource_name(name, rname)) {
			lookup_resource(req, parent, p.kind, p.ns, name, rname);
			return;
		}
		fs_inode_lock();
		in = fs_inode_find_name(parent, name);
		if (in && in->type == FS_T_SCRATCH) {
			struct info i;
			double t;
			in->nlookup++;
			info_of(in, &i);
			fs_inode_unlock();
			stat_info(&i, &st, &t);
			reply_entry_locked_done(req, &st, i.ino, t);
			return;
		}
		fs_inode_unlock();
		reply_negative(req);
		return;
	case FS_T_CONFLICTS: case FS_T_CKIND: case FS_T_CNS:
		lookup_conflict(req, &p, name);
		return;
	case FS_T_SNAPSHOTS: case FS_T_SNAP: case FS_T_VIEW: case FS_T_VKIND: case FS_T_VNS:
		lookup_view(req, &p, name);
		return;
	default:
		fuse_reply_err(req, ENOTDIR);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_inode_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_inode_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct info i;
	struct stat st;
	double t;
	int rc;

	if (get_info(ino, &i) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = stat_info(&i, &st, &t);
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	/* fstat on a handle being written reports what was written so far,
	 * as a local file would; everyone else sees the committed size. */
	if (h && h->type == FS_H_DOC && h->writable) {
		pthread_mutex_lock(&h->lock);
		st.st_size = (off_t)h->len;
		st.st_blocks = (st.st_size + 511) / 512;
		pthread_mutex_unlock(&h->lock);
		t = 0;
	}
	fuse_reply_attr(req, &st, t);
}

/* ---- committing --------------------------------------------------------- */

/*
 * Tells the kernel that the inode's attributes changed.  Safe inside a
 * handler: with a negative offset the kernel only bumps the attribute
 * version and marks the attributes stale; it takes no page lock and no inode
 * lock, so it cannot wait on the request we are serving.  Page-cache
 * freshness comes from the keep_cache decision at the next open.
 */
static void inval_attr(fuse_ino_t ino)
{
	int rc = fuse_lowlevel_notify_inval_inode(fs.se, ino, -1, 0);

	if (rc < 0 && rc != -ENOENT)
		log_msg(LOG_DEBUG, "unable to invalidate attributes of inode %lu: %s",
			(unsigned long)ino, strerror(-rc));
}

/* Records the new state of a committed resource inode. */
static void note_commit(struct store *s, fuse_ino_t ino, enum store_kind kind,
			const char *ns, const char *rname)
{
	struct store_meta meta;
	struct fs_inode *in;
	bool have = store_stat(s, kind, ns, rname, &meta) == 0;

	fs_inode_lock();
	in = fs_inode_find(ino);
	if (in) {
		in->pending = false;
		if (have) {
			in->size = meta.size;
			in->mtime_ms = meta.updated_ms;
		}
	}
	fs_inode_unlock();
	inval_attr(ino);
	fs_watch_committed();
	fs_metrics_write(kind, FS_WRITE_PUT);
}

/*
 * Commits a write handle's buffer if it received a write or truncate since
 * the last attempt; requires h->lock.  Bash's `echo x > f` closes the
 * original descriptor before writing through the dup, so a flush with
 * nothing written must not commit (it would store an empty document).
 */
static int commit(struct fs_handle *h)
{
	struct store_result res;
	struct store_err err = { "" };
	char path[PATH_MAX];
	struct store *s;
	struct info i;
	int rc;

	if (!h->written)
		return -h->rejected;
	h->written = false;
	h->attempted = true;
	rc = get_info(h->inode->ino, &i);
	if (rc < 0 || i.type != FS_T_RESOURCE || !i.hashed)
		return 0; /* unlinked while open: like a local file, nothing to store */
	doc_path(path, sizeof(path), i.kind, i.ns, i.name);
	if (h->len == 0) {
		fs_reject(path, EINVAL, "empty document not stored");
		inval_attr(i.ino);
		return -EINVAL;
	}
	rc = get_store(&s);
	if (rc == 0)
		rc = put_doc(s, i.kind, i.ns, i.rname, h->buf, h->len, &res, &err);
	if (rc < 0) {
		fs_reject(path, errno_of(rc), err.msg);
		inval_attr(i.ino);
		return rc;
	}
	h->committed = true;
	note_commit(s, i.ino, i.kind, i.ns, i.rname);
	return 0;
}

/* ---- open, read, write, release ----------------------------------------- */

/* Sets up a DOC handle for `in` (a held reference passes to the handle). */
static int open_doc(struct fs_inode *in, int flags, struct fs_handle **out,
		    struct fuse_file_info *fi)
{
	int acc = flags & O_ACCMODE;
	struct store_meta meta;
	struct fs_handle *h;
	struct store *s;
	struct info i;
	char *doc = NULL;
	size_t len = 0;
	int rc;

	fs_inode_lock();
	info_of(in, &i);
	fs_inode_unlock();
	rc = fs_handle_new(FS_H_DOC, in, &h);
	if (rc < 0)
		return rc;
	memset(&meta, 0, sizeof(meta));
	if (acc != O_RDONLY && (flags & O_TRUNC)) {
		h->truncated = true;
	} else {
		rc = get_store(&s);
		if (rc == 0)
			rc = read_doc(s, i.kind, i.ns, i.rname, STORE_RENDER_LIVE, NULL,
				      &meta, &doc, &len);
		/* A resource being created has no content yet: a writer may
		 * reopen it, a reader finds nothing (rather than an empty
		 * document that was never stored). */
		if (rc == -ENOENT && i.pending && acc != O_RDONLY)
			rc = 0;
		if (rc < 0) {
			h->inode = NULL;
			fs_handle_free(h);
			return rc;
		}
	}
	h->buf = doc;
	h->len = len;
	h->cap = doc ? len + 1 : 0;
	h->meta = meta;
	if (acc != O_RDONLY) {
		h->writable = true;
		/* Writers bypass the page cache: the kernel would otherwise keep
		 * the user's bytes, not the canonical rendering, as the file. */
		fi->direct_io = 1;
		fs_inode_lock();
		in->writers++;
		fs_inode_unlock();
	} else {
		/*
		 * Readers bypass the page cache too (direct_io), whatever the
		 * size.  The page cache belongs to the inode, not to the
		 * handle: a handle still holding an older rendering refills
		 * pages that a newer handle then reads, and page-cache reads
		 * are clipped to the kernel's cached i_size, which lags a
		 * change by another process and drops to 0 while a writer
		 * opens with O_TRUNC.  Both gave readers truncated or empty
		 * documents under t0030-concurrency with keep_cache for small
		 * documents.  Every open renders from the store anyway, so
		 * the cache only saved the read request itself.
		 */
		fi->direct_io = 1;
	}
	*out = h;
	return 0;
}

static int open_scratch(struct fs_inode *in, int flags, struct fs_handle **out,
			struct fuse_file_info *fi)
{
	struct fs_scratch *sc = NULL;
	struct fs_handle *h;
	int rc;

	fs_inode_lock();
	if (in->scratch)
		sc = fs_scratch_ref(in->scratch);
	fs_inode_unlock();
	if (sc == NULL)
		return -ENOENT;
	if ((flags & O_ACCMODE) != O_RDONLY && (flags & O_TRUNC))
		fs_scratch_truncate(sc, 0);
	rc = fs_handle_new(FS_H_SCRATCH, in, &h);
	if (rc < 0) {
		fs_scratch_unref(sc);
		return rc;
	}
	h->scratch = sc;
	/* One copy of the content, in the daemon: every handle sees every
	 * write at once, with no page cache in between. */
	fi->direct_io = 1;
	*out = h;
	return 0;
}

/* A document or .info of a view, rendered now; or the restore control
 * file, which only takes writes.  A held reference to `in` passes to the
 * handle on success only. */
static int open_view(struct fs_inode *in, int flags, struct fs_handle **out,
		     struct fuse_file_info *fi)
{
	int acc = flags & O_ACCMODE;
	struct store_meta meta;
	struct fs_handle *h;
	struct info i;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	fs_inode_lock();
	info_of(in, &i);
	fs_inode_unlock();
	if (i.type == FS_T_RESTORE) {
		if (acc == O_RDONLY)
			return -EACCES;
		if (fs.readonly)
			return -EROFS;
	} else if (acc != O_RDONLY || (flags & O_TRUNC)) {
		return -EROFS;
	} else if (i.type == FS_T_SNAP_INFO) {
		rc = render_info(i.snap, &buf, &len, NULL);
		if (rc < 0)
			return rc;
	} else {
		rc = view_render(&i, &meta, &buf, &len);
		if (rc < 0)
			return rc;
	}
	rc = fs_handle_new(i.type == FS_T_RESTORE ? FS_H_RESTORE : FS_H_DOC, in, &h);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	h->buf = buf;
	h->len = len;
	h->cap = buf ? len + 1 : 0;
	h->writable = i.type == FS_T_RESTORE;
	fi->direct_io = 1;
	*out = h;
	return 0;
}

/* A conflict file, rendered now; read-only.  A held reference to `in`
 * passes to the handle on success only. */
static int open_conflict(struct fs_inode *in, int flags, struct fs_handle **out,
			 struct fuse_file_info *fi)
{
	struct fs_handle *h;
	struct store *s;
	struct info i;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	fs_inode_lock();
	info_of(in, &i);
	fs_inode_unlock();
	rc = get_store(&s);
	if (rc == 0)
		rc = fs_conflict_render(s, i.kind, i.ns, i.name, &buf, &len, NULL);
	if (rc < 0)
		return rc;
	rc = fs_handle_new(FS_H_DOC, in, &h);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	h->buf = buf;
	h->len = len;
	h->cap = len + 1;
	fi->direct_io = 1;
	*out = h;
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	struct fs_handle *h = NULL;
	struct fs_inode *in = fs_inode_ref(ino);
	struct store *s;
	int rc = 0;

	if (in == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (in->type) {
	case FS_T_STATUS:
	case FS_T_METRICS:
	case FS_T_EVENTS:
		if (acc != O_RDONLY) {
			rc = -EACCES;
			break;
		}
		rc = fs_handle_new(in->type == FS_T_EVENTS ? FS_H_EVENTS : FS_H_STATUS, in, &h);
		if (rc < 0)
			break;
		if (in->type == FS_T_STATUS) {
			rc = fs_status_render(&h->buf, &h->len);
		} else if (in->type == FS_T_METRICS) {
			rc = fs_metrics_render(&h->buf, &h->len);
		} else {
			int64_t rev = 0;
			rc = get_store(&s);
			if (rc == 0)
				rc = store_revision(s, &rev);
			if (rc == 0)
				rc = fs_events_open(rev, &h->reader);
			fi->nonseekable = 1;
		}
		fi->direct_io = 1;
		break;
	case FS_T_RESOURCE:
		rc = open_doc(in, fi->flags, &h, fi);
		break;
	case FS_T_SCRATCH:
		rc = open_scratch(in, fi->flags, &h, fi);
		break;
	case FS_T_VDOC:
	case FS_T_SNAP_INFO:
	case FS_T_RESTORE:
		rc = open_view(in, fi->flags, &h, fi);
		break;
	case FS_T_CDOC:
		rc = open_conflict(in, fi->flags, &h, fi);
		break;
	default:
		rc = -EISDIR;
	}
	if (rc < 0) {
		if (h)
			fs_handle_free(h);
		else
			fs_inode_unref(in);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	/* Flush commits writes and does nothing else: a reader's close()
	 * need not wait for a round trip to us (FOPEN_NOFLUSH). */
	if (acc == O_RDONLY)
		fi->noflush = 1;
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) < 0)
		fs_handle_free(h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	char *buf;
	size_t n;
	int rc;

	switch (h->type) {
	case FS_H_EVENTS:
		fs_events_read(req, h->reader, size);
		return;
	case FS_H_SCRATCH:
		rc = fs_scratch_read(h->scratch, off, size, &buf, &n);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		fuse_reply_buf(req, buf, n);
		free(buf);
		return;
	case FS_H_DOC:
	case FS_H_STATUS:
		if (!h->writable) {
			/* Immutable after open; held so that a release racing
			 * with the end of this reply cannot free the buffer
			 * under it (see fs_handle_hold). */
			n = 0;
			if (off >= 0 && (size_t)off < h->len)
				n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
			fs_handle_hold(h);
			fuse_reply_buf(req, n ? h->buf + off : NULL, n);
			fs_handle_put(h);
			return;
		}
		/* Copy out, then reply with no lock held: once the reply is
		 * sent, the reader may close and release may free h. */
		pthread_mutex_lock(&h->lock);
		n = 0;
		if (off >= 0 && (size_t)off < h->len)
			n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
		buf = malloc(n ? n : 1);
		if (buf && n)
			memcpy(buf, h->buf + off, n);
		pthread_mutex_unlock(&h->lock);
		if (buf == NULL) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		fuse_reply_buf(req, buf, n);
		free(buf);
		return;
	default:
		fuse_reply_err(req, EISDIR);
	}
}

/* Requires h->lock: the early checks on a sequential write from offset 0.
 * Returns 0 or -EINVAL with the reason in err. */
static int early_check(struct fs_handle *h, const char *data, size_t size, off_t off,
		       struct store_err *err)
{
	enum store_scan_state state;
	struct store_doc doc;
	struct info i;
	int rc;

	if (off == 0) {
		store_jsonscan_init(&h->scan);
		h->scan_on = true;
		h->scan_parsed = false;
		h->scan_end = 0;
		h->rejected = 0;
	}
	if (!h->scan_on || (size_t)off != h->scan_end) {
		/* Not sequential from 0 (a seek, O_APPEND...): the whole
		 * document is checked at the commit. */
		h->scan_on = false;
		return 0;
	}
	state = store_jsonscan_feed(&h->scan, data, size);
	h->scan_end += size;
	if (state == STORE_SCAN_INVALID) {
		snprintf(err->msg, sizeof(err->msg), "invalid JSON at byte %zu: %s",
			 h->scan.error_offset, h->scan.error[0] ? h->scan.error : "syntax error");
		return -EINVAL;
	}
	if (state != STORE_SCAN_COMPLETE || h->scan_parsed)
		return 0;
	h->scan_parsed = true;
	if (get_info(h->inode->ino, &i) < 0 || i.type != FS_T_RESOURCE)
		return 0;
	rc = store_doc_parse(i.kind, i.ns, i.rname, h->buf, h->scan_end, &doc, err);
	if (rc == 0)
		store_doc_release(&doc);
	return rc == -EINVAL ? rc : 0;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct store_err err = { "" };
	char path[PATH_MAX];
	struct info i;
	int rc;

	if (h->type == FS_H_SCRATCH) {
		rc = fs_scratch_write(h->scratch, data, size, off);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	if (h->type == FS_H_RESTORE) {
		pthread_mutex_lock(&h->lock);
		rc = fs_handle_write(h, data, size, off, RESTORE_MAX);
		if (rc == 0)
			h->written = true;
		pthread_mutex_unlock(&h->lock);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	if (h->type != FS_H_DOC || !h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off < 0 || (uint64_t)off + size > STORE_DOC_MAX) {
		rc = -EFBIG;
		snprintf(err.msg, sizeof(err.msg), "document larger than %d bytes", STORE_DOC_MAX);
	} else {
		rc = fs_handle_write(h, data, size, off, STORE_DOC_MAX);
	}
	if (rc == 0) {
		h->written = true;
		if (h->rejected && off != 0) {
			/* Already told this writer; keep saying it. */
			h->written = false;
			rc = h->rejected;
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, rc);
			return;
		}
		rc = early_check(h, data, size, off, &err);
	}
	if (rc < 0 && (rc == -EINVAL || rc == -EFBIG)) {
		bool first = !h->rejected;
		h->rejected = -rc;
		h->written = false;
		pthread_mutex_unlock(&h->lock);
		if (first && get_info(ino, &i) == 0) {
			doc_path(path, sizeof(path), i.kind, i.ns, i.name);
			fs_reject(path, -rc, err.msg);
		}
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/*
 * The online whole-state restore: `echo NAME > MOUNT/snapshots/.restore`.
 * Applied at flush (whose error close() returns), in one store transaction:
 * readers see the state before or after, never a mix, and the watcher
 * invalidates the kernel's caches for every change it brought.  Requires
 * h->lock.
 */
static int commit_restore(struct fs_handle *h)
{
	struct store_err err = { "" };
	struct store_result res = { 0 };
	char name[RESTORE_MAX + 1];
	int64_t t0 = fs_now_ms();
	struct store *s;
	size_t b = 0, e = h->len;
	int rc;

	if (!h->written)
		return -h->rejected;
	h->written = false;
	while (b < e && strchr(" \t\r\n", h->buf[b]) && h->buf[b])
		b++;
	while (e > b && strchr(" \t\r\n", h->buf[e - 1]) && h->buf[e - 1])
		e--;
	memcpy(name, h->buf + b, e - b);
	name[e - b] = '\0';
	if (!store_name_valid(name)) {
		rc = -EINVAL;
		snprintf(err.msg, sizeof(err.msg), "invalid snapshot name '%.64s'", name);
	} else {
		rc = get_store(&s);
		if (rc == 0)
			rc = store_snapshot_restore(s, fs.snap_dir, name, &res, &err);
	}
	if (rc < 0) {
		h->rejected = errno_of(rc);
		fs_reject("snapshots/.restore", errno_of(rc), err.msg);
		return rc;
	}
	h->rejected = 0;
	log_msg(LOG_NOTICE, "restored snapshot '%s' (revision %lld, %lld ms)", name,
		(long long)res.revision, (long long)(fs_now_ms() - t0));
	fs_metrics_restore();
	fs_watch_committed();
	return 0;
}

/*
 * A file this handle created whose first content was refused: the name goes
 * away now, before close() returns its error, rather than at release, which
 * the kernel sends after close() has returned (`cp x new.json || ls` must not
 * list new.json).  Only for the sole writer: another one may still store it.
 * The entry was handed out with a zero timeout, so the kernel looks the name
 * up again and finds nothing.
 */
static void drop_refused_create(struct fs_handle *h)
{
	struct fs_inode *in = h->inode;
	struct info i;
	bool dropped = false;

	fs_inode_lock();
	if (in->pending && in->writers == 1) {
		in->pending = false;
		dropped = true;
		info_of(in, &i);
	}
	fs_inode_unlock();
	if (dropped)
		fs_watch_queue_inval(i.parent, i.name, i.ino);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	int rc = 0;

	if (h->type == FS_H_DOC && h->writable) {
		pthread_mutex_lock(&h->lock);
		rc = commit(h);
		if (rc < 0 && h->created && !h->committed)
			drop_refused_create(h);
		pthread_mutex_unlock(&h->lock);
	} else if (h->type == FS_H_RESTORE) {
		pthread_mutex_lock(&h->lock);
		rc = commit_restore(h);
		pthread_mutex_unlock(&h->lock);
	}
	fuse_reply_err(req, rc < 0 ? errno_of(rc) : 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	op_flush(req, ino, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct fs_inode *in = h->inode;
	char path[PATH_MAX];
	bool drop_pending = false;
	struct info i;

	if (h->type == FS_H_RESTORE) {
		pthread_mutex_lock(&h->lock);
		if (h->written)
			commit_restore(h);
		pthread_mutex_unlock(&h->lock);
	} else if (h->type == FS_H_EVENTS) {
		fs_events_release(h->reader);
		h->reader = NULL;
	} else if (h->type == FS_H_DOC && h->writable) {
		pthread_mutex_lock(&h->lock);
		if (h->written)
			commit(h); /* no flush came (cannot happen for close()) */
		if (!h->attempted && !h->rejected && (h->truncated || h->created) &&
		    get_info(ino, &i) == 0 && i.type == FS_T_RESOURCE && i.hashed) {
			doc_path(path, sizeof(path), i.kind, i.ns, i.name);
			fs_reject(path, EINVAL, "empty document not stored");
		}
		pthread_mutex_unlock(&h->lock);
		fs_inode_lock();
		in->writers--;
		if (in->pending && in->writers == 0) {
			/* Created but never committed: the name goes away. */
			in->pending = false;
			drop_pending = true;
			info_of(in, &i);
		}
		fs_inode_unlock();
		if (drop_pending)
			fs_watch_queue_inval(i.parent, i.name, i.ino);
		else if (h->truncated && !h->committed)
			fs_watch_queue_inval(0, NULL, ino);
	}
	fs_handle_put(h);
	fuse_reply_err(req, 0);
}

/* ---- setattr ------------------------------------------------------------ */

/* truncate(2) of a resource nobody has open for writing: render, resize,
 * commit (usually invalid, and then nothing changes). */
static int truncate_stored(const struct info *i, off_t size)
{
	struct store_err err = { "" };
	struct store_result res;
	struct store_meta meta;
	char path[PATH_MAX];
	struct store *s;
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (size > STORE_DOC_MAX)
		return -EFBIG;
	rc = get_store(&s);
	if (rc == 0)
		rc = read_doc(s, i->kind, i->ns, i->rname, STORE_RENDER_LIVE, NULL, &meta, &doc,
			      &len);
	if (rc < 0)
		return rc;
	if ((size_t)size == len) {
		free(doc);
		return 0;
	}
	char *p = realloc(doc, (size_t)size + 1);
	if (p == NULL) {
		free(doc);
		return -ENOMEM;
	}
	if ((size_t)size > len)
		memset(p + len, 0, (size_t)size - len);
	doc_path(path, sizeof(path), i->kind, i->ns, i->name);
	if (size == 0) {
		rc = -EINVAL;
		snprintf(err.msg, sizeof(err.msg), "empty document not stored");
	} else {
		rc = store_put(s, i->kind, i->ns, i->rname, p, (size_t)size, NULL, &res, &err);
	}
	free(p);
	if (rc < 0) {
		fs_reject(path, errno_of(rc), err.msg);
		return rc;
	}
	note_commit(s, i->ino, i->kind, i->ns, i->rname);
	return 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct info i;
	struct stat st;
	double t;
	int rc = 0;

	if (get_info(ino, &i) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (read_only_type(i.type)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* Mode, owner and times are accepted and ignored: permissions come
	 * from the mount, and install, cp -p and touch must not fail. */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		switch (i.type) {
		case FS_T_STATUS:
		case FS_T_METRICS:
		case FS_T_EVENTS:
			rc = -EACCES;
			break;
		case FS_T_RESTORE:
			break; /* each open writes a whole name */
		case FS_T_RESOURCE:
			if (h && h->type == FS_H_DOC && h->writable) {
				pthread_mutex_lock(&h->lock);
				rc = fs_handle_resize(h, (size_t)attr->st_size, STORE_DOC_MAX);
				if (rc == 0) {
					h->written = true;
					h->rejected = 0;
					if (h->scan_end > (size_t)attr->st_size || attr->st_size == 0) {
						store_jsonscan_init(&h->scan);
						h->scan_on = attr->st_size == 0;
						h->scan_parsed = false;
						h->scan_end = 0;
					}
				}
				pthread_mutex_unlock(&h->lock);
			} else if (i.pending) {
				rc = attr->st_size == 0 ? 0 : -EINVAL;
			} else {
				rc = truncate_stored(&i, attr->st_size);
			}
			break;
		case FS_T_SCRATCH:
			if (h && h->type == FS_H_SCRATCH) {
				rc = fs_scratch_truncate(h->scratch, attr->st_size);
			} else {
				struct fs_scratch *sc = NULL;
				fs_inode_lock();
				struct fs_inode *in = fs_inode_find(ino);
				if (in && in->scratch)
					sc = fs_scratch_ref(in->scratch);
				fs_inode_unlock();
				rc = sc ? fs_scratch_truncate(sc, attr->st_size) : -ENOENT;
				fs_scratch_unref(sc);
			}
			break;
		default:
			rc = -EISDIR;
		}
	}
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	get_info(ino, &i);
	rc = stat_info(&i, &st, &t);
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	if (h && h->type == FS_H_DOC && h->writable) {
		pthread_mutex_lock(&h->lock);
		st.st_size = (off_t)h->len;
		pthread_mutex_unlock(&h->lock);
		t = 0;
	}
	fuse_reply_attr(req, &st, t);
}

/* ---- create, mkdir, unlink, rmdir, rename -------------------------------- */

static int parent_write_errno(enum fs_type t)
{
	if (read_only_type(t))
		return EROFS;
	switch (t) {
	case FS_T_SNAPSHOTS:
	case FS_T_CONFLICTS:
		return EROFS;
	case FS_T_ROOT:
	case FS_T_KIND:
		return EPERM;
	case FS_T_NS:
		return 0;
	default:
		return ENOTDIR;
	}
}

static void reply_created(fuse_req_t req, struct fs_handle *h, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct info i;
	double t;

	memset(&e, 0, sizeof(e));
	get_info(h->inode->ino, &i);
	stat_info(&i, &e.attr, &t);
	if (h->type == FS_H_DOC) {
		e.attr.st_size = (off_t)h->len;
		t = 0;
	}
	e.ino = i.ino;
	e.attr_timeout = t;
	/* A name being created exists only while its creator writes: the
	 * kernel must ask again rather than trust it (drop_refused_create). */
	e.entry_timeout = h->type == FS_H_DOC && h->created ? 0 : FS_TIMEOUT;
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) < 0)
		fs_handle_free(h); /* the kernel's forget undoes the lookup */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	char rname[STORE_NAME_MAX + 1];
	struct store_meta meta;
	struct fs_handle *h = NULL;
	struct fs_inode *in;
	struct store *s;
	struct info p;
	int rc;

	if (get_info(parent, &p) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = parent_write_errno(p.type);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	if (fs_resource_name(name, rname)) {
		rc = get_store(&s);
		if (rc == 0)
			rc = store_stat(s, p.kind, p.ns, rname, &meta);
		if (rc < 0 && rc != -ENOENT) {
			fuse_reply_err(req, errno_of(rc));
			return;
		}
		if (rc == 0 && (fi->flags & O_EXCL)) {
			fuse_reply_err(req, EEXIST);
			return;
		}
		fs_inode_lock();
		if (rc == 0) {
			rc = take_inode(parent, name, FS_T_RESOURCE, p.kind, p.ns, &in);
			if (rc == 0)
				in->pending = false;
		} else {
			in = fs_inode_find_name(parent, name);
			if (in && in->pending && (fi->flags & O_EXCL)) {
				fs_inode_unlock();
				fuse_reply_err(req, EEXIST);
				return;
			}
			rc = take_inode(parent, name, FS_T_RESOURCE, p.kind, p.ns, &in);
			if (rc == 0)
				in->pending = true;
		}
		if (rc == 0)
			in->refs++;
		fs_inode_unlock();
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		rc = open_doc(in, fi->flags | ((fi->flags & O_ACCMODE) == O_RDONLY ? O_WRONLY : 0),
			      &h, fi);
		if (rc == 0)
			h->created = in->pending;
	} else {
		struct fs_scratch *sc = NULL;
		fs_inode_lock();
		in = fs_inode_find_name(parent, name);
		if (in && in->type == FS_T_SCRATCH && (fi->flags & O_EXCL)) {
			fs_inode_unlock();
			fuse_reply_err(req, EEXIST);
			return;
		}
		if (in == NULL || in->type != FS_T_SCRATCH) {
			rc = fs_scratch_new(&sc);
			if (rc == 0)
				rc = take_inode(parent, name, FS_T_SCRATCH, p.kind, p.ns, &in);
			if (rc == 0)
				fs_inode_link_scratch(in, sc);
			else
				fs_scratch_unref(sc);
		} else {
			in->nlookup++;
		}
		if (rc == 0)
			in->refs++;
		fs_inode_unlock();
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		rc = open_scratch(in, fi->flags, &h, fi);
	}
	if (rc < 0) {
		fs_inode_forget(in->ino, 1);
		fs_inode_unref(in);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	reply_created(req, h, fi);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

/*
 * mkdir snapshots/NAME: a manual snapshot, written, verified and renamed
 * into place by the store before mkdir returns 0 (no file is left behind on
 * failure: EEXIST, EINVAL for a bad name, ENOSPC, EIO).  It runs in this
 * worker thread on its own read transaction; writers go on meanwhile.
 */
static void mkdir_snapshot(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store_snapshot_info info;
	struct store_err err = { "" };
	struct fuse_entry_param e;
	int64_t t0 = fs_now_ms();
	struct fs_inode *in;
	struct store *s;
	int rc;

	if (fs.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = get_store(&s);
	if (rc == 0)
		rc = store_snapshot_create(s, fs.snap_dir, name, false, &info, &err);
	if (rc < 0) {
		if (rc != -EEXIST)
			log_limited(LOG_WARNING, "mkdir 'snapshots/%s': %s", name, err.msg);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	log_msg(LOG_NOTICE, "took snapshot '%s' (revision %lld, %lld resources, %lld bytes, "
		"%lld ms)", name, (long long)info.revision, (long long)info.resources,
		(long long)info.bytes, (long long)(fs_now_ms() - t0));
	/* A connection cached for an earlier snapshot of this name. */
	fs_snap_forget(name);
	memset(&e, 0, sizeof(e));
	fs_inode_lock();
	rc = take_view(parent, name, FS_T_SNAP, STORE_KIND_DEPLOYMENT, "", name, false, &in);
	if (rc == 0)
		e.ino = in->ino;
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fill_stat(&e.attr, e.ino, true, 0, info.created_ms, true);
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fuse_reply_entry(req, &e);
}

/* rmdir snapshots/NAME: removes the snapshot file. */
static void rmdir_snapshot(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store_err err = { "" };
	struct fs_inode *in;
	int rc;

	if (strcmp(name, ".restore") == 0) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (fs.readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = store_snapshot_delete(fs.snap_dir, name, &err);
	if (rc == -EINVAL)
		rc = -ENOENT; /* not a snapshot name: nothing by that name */
	if (rc < 0) {
		if (rc != -ENOENT)
			log_limited(LOG_WARNING, "rmdir 'snapshots/%s': %s", name, err.msg);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	log_msg(LOG_NOTICE, "removed snapshot '%s'", name);
	fs_snap_forget(name);
	fs_inode_lock();
	in = fs_inode_find_name(parent, name);
	if (in) {
		fs_inode_unhash(in);
		fs_inode_maybe_free(in);
	}
	fs_inode_unlock();
	fuse_reply_err(req, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct store_err err = { "" };
	struct fs_inode *in;
	struct store *s;
	struct info p;
	struct stat st;
	fuse_ino_t ino;
	int rc;

	if (get_info(parent, &p) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (p.type == FS_T_SNAPSHOTS) {
		mkdir_snapshot(req, parent, name);
		return;
	}
	if (read_only_type(p.type)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (p.type != FS_T_KIND) {
		fuse_reply_err(req, p.type == FS_T_RESOURCE || p.type == FS_T_SCRATCH ||
					    p.type == FS_T_STATUS || p.type == FS_T_EVENTS ||
					    p.type == FS_T_METRICS || p.type == FS_T_RESTORE
				    ? ENOTDIR : EPERM);
		return;
	}
	rc = get_store(&s);
	if (rc == 0)
		rc = store_ns_create(s, p.kind, name, &err);
	if (rc < 0) {
		if (rc != -EEXIST)
			log_limited(LOG_INFO, "mkdir '%s/%s': %s", store_kind_dir(p.kind), name,
				    err.msg);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_metrics_write(p.kind, FS_WRITE_MKNS);
	fs_watch_committed();
	fs_inode_lock();
	rc = take_inode(parent, name, FS_T_NS, p.kind, name, &in);
	ino = rc == 0 ? in->ino : 0;
	fs_inode_unlock();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fill_stat(&st, ino, true, 0, fs_now_ms(), true);
	reply_entry_locked_done(req, &st, ino, FS_TIMEOUT);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store_err err = { "" };
	struct fs_inode *in;
	struct store *s;
	struct info p;
	bool busy;
	int rc;

	if (get_info(parent, &p) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p.type) {
	case FS_T_KIND:
		break;
	case FS_T_ROOT:
		fuse_reply_err(req, root_child(name) || strcmp(name, ".content") == 0
					    ? EPERM : ENOENT);
		return;
	case FS_T_SNAPSHOTS:
		rmdir_snapshot(req, parent, name);
		return;
	case FS_T_CKIND: {
		/* rm -r of a conflicts namespace: the dir goes with its last
		 * conflict, so removing it then succeeds. */
		struct ns_seen seen = { .ns = name };
		rc = get_store(&s);
		if (rc == 0)
			rc = store_conflict_list(s, &p.kind, name, conflict_ns_cb, &seen);
		if (rc == 0 && seen.count > 0)
			rc = -ENOTEMPTY;
		if (rc == 0) {
			fs_inode_lock();
			in = fs_inode_find_name(parent, name);
			if (in) {
				fs_inode_unhash(in);
				fs_inode_maybe_free(in);
			}
			fs_inode_unlock();
		}
		fuse_reply_err(req, rc < 0 ? errno_of(rc) : 0);
		return;
	}
	case FS_T_CONFLICTS:
		fuse_reply_err(req, EROFS);
		return;
	default:
		fuse_reply_err(req, read_only_type(p.type) ? EROFS : ENOTDIR);
		return;
	}
	fs_inode_lock();
	in = fs_inode_find_name(parent, name);
	busy = in && in->scratch_head;
	fs_inode_unlock();
	if (busy) {
		fuse_reply_err(req, ENOTEMPTY);
		return;
	}
	rc = get_store(&s);
	if (rc == 0)
		rc = store_ns_delete(s, p.kind, name, false, &err);
	if (rc < 0) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fs_metrics_write(p.kind, FS_WRITE_RMNS);
	fs_inode_lock();
	in = fs_inode_find_name(parent, name);
	if (in) {
		fs_inode_unhash(in);
		fs_inode_maybe_free(in);
	}
	fs_inode_unlock();
	fs_watch_committed();
	fuse_reply_err(req, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char rname[STORE_NAME_MAX + 1];
	struct store_err err = { "" };
	struct store_result res;
	struct fs_inode *in;
	struct store *s;
	struct info p;
	int rc = 0;

	if (get_info(parent, &p) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p.type) {
	case FS_T_NS:
		break;
	case FS_T_ROOT:
		fuse_reply_err(req, root_child(name) ? EPERM : ENOENT);
		return;
	case FS_T_KIND:
		fuse_reply_err(req, EISDIR);
		return;
	case FS_T_SNAPSHOTS:
		fuse_reply_err(req, strcmp(name, ".restore") == 0 ? EPERM : ENOENT);
		return;
	case FS_T_CNS:
		rc = get_store(&s);
		if (rc == 0)
			rc = fs_conflict_delete(s, p.kind, p.ns, name);
		if (rc == 0) {
			fs_inode_lock();
			in = fs_inode_find_name(parent, name);
			if (in) {
				fs_inode_unhash(in);
				fs_inode_maybe_free(in);
			}
			fs_inode_unlock();
		}
		fuse_reply_err(req, rc < 0 ? errno_of(rc) : 0);
		return;
	case FS_T_CONFLICTS:
	case FS_T_CKIND:
		fuse_reply_err(req, EROFS);
		return;
	default:
		fuse_reply_err(req, read_only_type(p.type) ? EROFS : ENOTDIR);
		return;
	}
	if (fs_resource_name(name, rname)) {
		rc = get_store(&s);
		if (rc == 0)
			rc = store_delete(s, p.kind, p.ns, rname, &res, &err);
		if (rc == 0)
			fs_metrics_write(p.kind, FS_WRITE_DELETE);
		fs_inode_lock();
		in = fs_inode_find_name(parent, name);
		if (rc == -ENOENT && in && in->pending)
			rc = 0;
		if (rc == 0 && in) {
			fs_inode_unhash(in);
			fs_inode_maybe_free(in);
		}
		fs_inode_unlock();
		if (rc == 0)
			fs_watch_committed();
	} else {
		fs_inode_lock();
		in = fs_inode_find_name(parent, name);
		if (in && in->type == FS_T_SCRATCH) {
			fs_inode_unhash(in);
			fs_inode_maybe_free(in);
		} else {
			rc = -ENOENT;
		}
		fs_inode_unlock();
	}
	fuse_reply_err(req, rc < 0 ? errno_of(rc) : 0);
}

/* Does dir/name exist (stored, pending or scratch)? */
static bool exists(struct store *s, const struct info *dir, const char *name)
{
	char rname[STORE_NAME_MAX + 1];
	struct store_meta meta;
	struct fs_inode *in;
	bool found;

	if (fs_resource_name(name, rname) && store_stat(s, dir->kind, dir->ns, rname, &meta) == 0)
		return true;
	fs_inode_lock();
	in = fs_inode_find_name(dir->ino, name);
	found = in && (in->type == FS_T_SCRATCH || in->pending);
	fs_inode_unlock();
	return found;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	char srn[STORE_NAME_MAX + 1], drn[STORE_NAME_MAX + 1], path[PATH_MAX];
	struct store_err err = { "" };
	struct fs_scratch *content = NULL;
	struct store_result res;
	struct fs_inode *src, *dst;
	struct info p, np;
	struct store *s;
	bool src_res, dst_res, src_pending = false, src_scratch = false;
	fuse_ino_t src_ino = 0;
	int rc;

	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (get_info(parent, &p) < 0 || get_info(newparent, &np) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (p.type != FS_T_NS || np.type != FS_T_NS) {
		int e = parent_write_errno(p.type) ? parent_write_errno(p.type)
						   : parent_write_errno(np.type);
		/* A namespace "rename" becomes copy + remove in mv. */
		if (p.type == FS_T_KIND && np.type == FS_T_KIND)
			e = EXDEV;
		fuse_reply_err(req, e ? e : EXDEV);
		return;
	}
	if (parent != newparent) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	if (strcmp(name, newname) == 0) {
		fuse_reply_err(req, 0);
		return;
	}
	rc = get_store(&s);
	if (rc < 0) {
		fuse_reply_err(req, EIO);
		return;
	}
	src_res = fs_resource_name(name, srn);
	dst_res = fs_resource_name(newname, drn);
	if ((flags & RENAME_NOREPLACE) && exists(s, &p, newname)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	fs_inode_lock();
	src = fs_inode_find_name(parent, name);
	if (src) {
		src_ino = src->ino;
		src_pending = src->pending;
		src_scratch = src->type == FS_T_SCRATCH;
		if (src_scratch && src->scratch)
			content = fs_scratch_ref(src->scratch);
	}
	fs_inode_unlock();
	if (!src_res && content == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}

	if (src_res && dst_res) {
		if (src_pending) {
			struct store_meta m;
			if (store_stat(s, p.kind, p.ns, drn, &m) == 0)
				rc = store_delete(s, p.kind, p.ns, drn, &res, &err);
			if (rc == 0)
				fs_metrics_write(p.kind, FS_WRITE_DELETE);
		} else {
			rc = store_rename(s, p.kind, p.ns, srn, drn, &res, &err);
			if (rc == 0)
				fs_metrics_write(p.kind, FS_WRITE_RENAME);
		}
	} else if (!src_res && dst_res) {
		char *data;
		size_t len;
		rc = fs_scratch_copy(content, &data, &len);
		if (rc == 0) {
			doc_path(path, sizeof(path), p.kind, p.ns, newname);
			if (len == 0) {
				rc = -EINVAL;
				snprintf(err.msg, sizeof(err.msg), "empty document not stored");
			} else {
				rc = put_doc(s, p.kind, p.ns, drn, data, len, &res, &err);
			}
			if (rc < 0)
				fs_reject(path, errno_of(rc), err.msg);
			else
				fs_metrics_write(p.kind, FS_WRITE_PUT);
			free(data);
		}
	} else if (src_res && !dst_res) {
		struct store_meta meta;
		char *doc = NULL;
		size_t len = 0;
		rc = src_pending ? 0 : read_doc(s, p.kind, p.ns, srn, STORE_RENDER_LIVE, NULL,
						 &meta, &doc, &len);
		if (rc == 0)
			rc = fs_scratch_new(&content);
		if (rc == 0)
			rc = fs_scratch_set(content, doc, len);
		if (rc == 0 && !src_pending)
			rc = store_delete(s, p.kind, p.ns, srn, &res, &err);
		if (rc == 0 && !src_pending) {
			fs_metrics_write(p.kind, FS_WRITE_DELETE);
			moved_note(p.kind, p.ns, srn, meta.version, res.revision);
		}
		free(doc);
	}
	if (rc < 0) {
		fs_scratch_unref(content);
		fuse_reply_err(req, errno_of(rc));
		return;
	}

	fs_inode_lock();
	src = fs_inode_find_name(parent, name);
	dst = fs_inode_find_name(parent, newname);
	if (dst && dst != src) {
		fs_inode_unhash(dst);
		fs_inode_maybe_free(dst);
	}
	if (src == NULL && !dst_res && content) {
		/* The kernel had no inode for the source: keep the content
		 * reachable under its new name all the same. */
		if (fs_inode_new(parent, newname, FS_T_SCRATCH, p.kind, p.ns, &src) == 0) {
			fs_inode_link_scratch(src, content);
			content = NULL;
		}
		src = NULL;
	}
	if (src) {
		src_ino = src->ino;
		fs_inode_rename(src, newname, dst_res ? FS_T_RESOURCE : FS_T_SCRATCH);
		if (dst_res && !src_scratch)
			src->pending = src_pending;
		else
			src->pending = false;
		if (!dst_res && src_res) {
			fs_inode_link_scratch(src, content);
			content = NULL;
		}
	}
	fs_inode_unlock();
	fs_scratch_unref(content);
	if (src_ino)
		inval_attr(src_ino);
	fs_watch_committed();
	fuse_reply_err(req, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

/* ---- directories -------------------------------------------------------- */

struct list_ctx {
	struct fs_handle *h;
	int rc;
};

static int add_ns(const struct store_ns_info *ni, void *arg)
{
	struct list_ctx *c = arg;
	struct fs_dirent e = { .name = ni->name, .type = FS_T_NS,
			       .mtime_ms = ni->updated_ms };

	c->rc = fs_handle_add_dirent(c->h, &e);
	return c->rc;
}

static int add_resource(const struct store_entry *se, void *arg)
{
	struct list_ctx *c = arg;
	char fname[STORE_NAME_MAX + 6];
	struct fs_dirent e = { .name = fname, .type = FS_T_RESOURCE, .size = se->meta->size,
			       .mtime_ms = se->meta->updated_ms };

	snprintf(fname, sizeof(fname), "%s.json", se->name);
	c->rc = fs_handle_add_dirent(c->h, &e);
	return c->rc;
}

static int add_fixed(struct fs_handle *h, const char *name, fuse_ino_t ino, enum fs_type t)
{
	struct fs_dirent e = { .name = name, .ino = ino, .type = t,
			       .mtime_ms = fs.started_ms };

	return fs_handle_add_dirent(h, &e);
}

static int add_snapshot(const struct store_snapshot_info *info, void *arg)
{
	struct list_ctx *c = arg;
	struct fs_dirent e = { .name = info->name, .type = FS_T_SNAP,
			       .mtime_ms = info->created_ms };

	c->rc = fs_handle_add_dirent(c->h, &e);
	return c->rc;
}

static int add_vns(const struct store_ns_info *ni, void *arg)
{
	struct list_ctx *c = arg;
	struct fs_dirent e = { .name = ni->name, .type = FS_T_VNS,
			       .mtime_ms = ni->updated_ms };

	c->rc = fs_handle_add_dirent(c->h, &e);
	return c->rc;
}

struct name_list {
	char **v;
	size_t n, cap;
};

static int add_name(const struct store_entry *se, void *arg)
{
	struct name_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(se->name);
	if (l->v[l->n] == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

/* The documents of a view namespace, each rendered once for its exact
 * size (the store's size is that of the live rendering). */
static int list_view_ns(struct fs_handle *h, struct store *s, const struct info *d)
{
	struct name_list l = { 0 };
	int rc = store_list(s, d->kind, d->ns, add_name, &l);

	for (size_t n = 0; rc == 0 && n < l.n; n++) {
		char fname[STORE_NAME_MAX + 6], *doc = NULL;
		struct fs_dirent e = { .name = fname, .type = FS_T_VDOC };
		struct store_meta meta;
		size_t len = 0;

		rc = view_render_in(s, d, d->kind, d->ns, l.v[n], &meta, &doc, &len);
		free(doc);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		e.size = (int64_t)len;
		e.mtime_ms = meta.updated_ms;
		snprintf(fname, sizeof(fname), "%s.json", l.v[n]);
		if (rc == 0)
			rc = fs_handle_add_dirent(h, &e);
	}
	for (size_t n = 0; n < l.n; n++)
		free(l.v[n]);
	free(l.v);
	return rc;
}

/* Directory snapshot of snapshots/ and of the views. */
static int list_view(struct fs_handle *h, const struct info *d)
{
	struct list_ctx c = { .h = h };
	struct fs_snap_conn *conn;
	struct store *s;
	int rc = 0;

	switch (d->type) {
	case FS_T_SNAPSHOTS:
		rc = store_snapshot_list(fs.snap_dir, add_snapshot, &c);
		return rc < 0 ? rc : c.rc;
	case FS_T_SNAP:
	case FS_T_VIEW:
		if (d->type == FS_T_SNAP) {
			struct fs_dirent e = { .name = ".info", .type = FS_T_SNAP_INFO };
			char *buf = NULL;
			size_t len = 0;
			rc = render_info(d->snap, &buf, &len, &e.mtime_ms);
			e.size = (int64_t)len;
			free(buf);
			if (rc == 0)
				rc = fs_handle_add_dirent(h, &e);
		}
		for (int k = 0; rc == 0 && k < STORE_KIND_COUNT; k++) {
			struct fs_dirent e = { .name = store_kind_dir(k), .type = FS_T_VKIND,
					       .kind = k, .mtime_ms = fs.started_ms };
			rc = fs_handle_add_dirent(h, &e);
		}
		return rc;
	case FS_T_VKIND:
	case FS_T_VNS:
		rc = view_store(d, &s, &conn);
		if (rc < 0)
			return rc;
		if (d->type == FS_T_VKIND)
			rc = store_ns_list(s, d->kind, add_vns, &c);
		else
			rc = list_view_ns(h, s, d);
		view_done(conn);
		return rc < 0 ? rc : c.rc;
	default:
		return -ENOTDIR;
	}
}

struct conflict_list {
	struct fs_handle *h;
	struct store *s;
	int rc;
};

static int add_conflict(const struct store_conflict *c, void *arg)
{
	struct conflict_list *l = arg;
	char fname[NAME_MAX + 1], *buf = NULL;
	struct fs_dirent e = { .name = fname, .type = FS_T_CDOC, .mtime_ms = c->time_ms };
	size_t len = 0;

	fs_conflict_file(fname, sizeof(fname), c->name, c->node, c->hlc);
	/* The listing's size is the file's: render it (conflicts are few). */
	l->rc = fs_conflict_render(l->s, c->kind, c->ns, fname, &buf, &len, NULL);
	free(buf);
	if (l->rc == -ENOENT) {
		l->rc = 0;
		return 0;
	}
	e.size = (int64_t)len;
	if (l->rc == 0)
		l->rc = fs_handle_add_dirent(l->h, &e);
	return l->rc;
}

/* Directory snapshot of conflicts/ and below. */
static int list_conflicts(struct fs_handle *h, const struct info *d)
{
	struct ns_seen seen = { .h = h };
	struct conflict_list l = { .h = h };
	enum store_kind k = d->kind;
	struct store *s;
	int rc = 0;

	if (d->type == FS_T_CONFLICTS) {
		for (int n = 0; rc == 0 && n < STORE_KIND_COUNT; n++) {
			struct fs_dirent e = { .name = store_kind_dir(n), .type = FS_T_CKIND,
					       .kind = n, .mtime_ms = fs.started_ms };
			rc = fs_handle_add_dirent(h, &e);
		}
		return rc;
	}
	rc = get_store(&s);
	if (rc < 0)
		return rc;
	if (d->type == FS_T_CKIND) {
		rc = store_conflict_list(s, &k, NULL, conflict_ns_cb, &seen);
		return rc < 0 ? rc : seen.rc;
	}
	l.s = s;
	rc = store_conflict_list(s, &k, d->ns, add_conflict, &l);
	return rc < 0 ? rc : l.rc;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct list_ctx c = { 0 };
	struct fs_inode *in = fs_inode_ref(ino);
	struct fs_handle *h;
	struct store *s;
	struct info i;
	int rc;

	if (in == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = fs_handle_new(FS_H_DIR, in, &h);
	if (rc < 0) {
		fs_inode_unref(in);
		fuse_reply_err(req, -rc);
		return;
	}
	fs_inode_lock();
	info_of(in, &i);
	fs_inode_unlock();
	c.h = h;
	rc = add_fixed(h, ".", ino, i.type);
	if (rc == 0)
		rc = add_fixed(h, "..", i.parent, FS_T_ROOT);
	switch (i.type) {
	case FS_T_ROOT:
		for (int k = 0; rc == 0 && k < STORE_KIND_COUNT; k++)
			rc = add_fixed(h, store_kind_dir(k), FS_INO_KIND(k), FS_T_KIND);
		if (rc == 0)
			rc = add_fixed(h, "status.json", FS_INO_STATUS, FS_T_STATUS);
		if (rc == 0)
			rc = add_fixed(h, "events", FS_INO_EVENTS, FS_T_EVENTS);
		if (rc == 0)
			rc = add_fixed(h, "metrics", FS_INO_METRICS, FS_T_METRICS);
		if (rc == 0)
			rc = add_fixed(h, "snapshots", FS_INO_SNAPSHOTS, FS_T_SNAPSHOTS);
		if (rc == 0)
			rc = add_fixed(h, "conflicts", FS_INO_CONFLICTS, FS_T_CONFLICTS);
		break;
	case FS_T_KIND:
		if (rc == 0)
			rc = get_store(&s);
		if (rc == 0)
			rc = store_ns_list(s, i.kind, add_ns, &c);
		break;
	case FS_T_NS:
		if (rc == 0)
			rc = get_store(&s);
		if (rc == 0)
			rc = store_list(s, i.kind, i.ns, add_resource, &c);
		if (rc == 0) {
			fs_inode_lock();
			for (struct fs_inode *sc = in->scratch_head; sc && rc == 0; sc = sc->scratch_next) {
				struct fs_dirent e = { .name = sc->name, .type = FS_T_SCRATCH };
				size_t len = 0;
				fs_scratch_stat(sc->scratch, &len, &e.mtime_ms);
				e.size = (int64_t)len;
				rc = fs_handle_add_dirent(h, &e);
			}
			fs_inode_unlock();
		}
		break;
	case FS_T_CONFLICTS: case FS_T_CKIND: case FS_T_CNS:
		if (rc == 0)
			rc = list_conflicts(h, &i);
		break;
	case FS_T_SNAPSHOTS: case FS_T_SNAP: case FS_T_VIEW: case FS_T_VKIND: case FS_T_VNS:
		if (rc == 0)
			rc = list_view(h, &i);
		break;
	default:
		rc = -ENOTDIR;
	}
	if (rc < 0) {
		fs_handle_free(h);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) < 0)
		fs_handle_free(h);
}

static void dirent_stat(const struct fs_dirent *e, fuse_ino_t ino, struct stat *st)
{
	switch (e->type) {
	case FS_T_RESOURCE:
	case FS_T_VDOC:
	case FS_T_SNAP_INFO:
	case FS_T_CDOC:
		fill_stat(st, ino, false, e->size, e->mtime_ms, true);
		break;
	case FS_T_VIEW: case FS_T_VKIND: case FS_T_VNS:
		fill_stat(st, ino, true, 0, e->mtime_ms, true);
		break;
	case FS_T_SCRATCH:
		fill_stat(st, ino, false, e->size, e->mtime_ms, true);
		break;
	case FS_T_STATUS:
	case FS_T_METRICS:
	case FS_T_EVENTS:
		fill_stat(st, ino, false, 0, e->mtime_ms, true);
		break;
	default:
		fill_stat(st, ino, true, 0, e->mtime_ms, true);
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct info d;
	size_t pos = 0;
	char *buf;

	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_inode_lock();
	info_of(h->inode, &d);
	fs_inode_unlock();
	for (size_t n = off < 0 ? 0 : (size_t)off; n < h->nents; n++) {
		struct fs_dirent ent, *e = &ent;
		bool dot = n < 2;
		struct fs_inode *in = NULL;
		fuse_ino_t eino;
		size_t used;

		fs_handle_dirent(h, n, e);
		eino = e->ino;
		if (eino == 0) {
			fs_inode_lock();
			if (plus && e->type == FS_T_SCRATCH) {
				/* Scratch files exist only in the table: one that
				 * was removed since opendir is skipped, not revived. */
				in = fs_inode_find_name(d.ino, e->name);
				if (in && in->type == FS_T_SCRATCH) {
					in->nlookup++;
					eino = in->ino;
				} else {
					in = NULL;
				}
				fs_inode_unlock();
				if (eino == 0)
					continue;
				fs_inode_lock();
			} else if (plus && conflict_type(d.type)) {
				if (take_inode(d.ino, e->name, e->type,
					       e->type == FS_T_CKIND ? e->kind : d.kind,
					       e->type == FS_T_CNS ? e->name : d.ns, &in) == 0)
					eino = in->ino;
			} else if (plus && (read_only_type(d.type) || d.type == FS_T_SNAPSHOTS)) {
				if (take_view(d.ino, e->name, e->type,
					      e->type == FS_T_VKIND ? e->kind : d.kind,
					      e->type == FS_T_VNS ? e->name : d.ns,
					      e->type == FS_T_SNAP ? e->name : d.snap, d.content, &in) == 0)
					eino = in->ino;
			} else if (plus) {
				if (take_inode(d.ino, e->name, e->type, d.kind,
					       e->type == FS_T_NS ? e->name : d.ns, &in) == 0) {
					eino = in->ino;
					if (e->type == FS_T_RESOURCE && !in->pending) {
						in->size = e->size;
						in->mtime_ms = e->mtime_ms;
					}
				}
			} else {
				in = fs_inode_find_name(d.ino, e->name);
				eino = in ? in->ino : 0;
				in = NULL;
			}
			fs_inode_unlock();
			if (eino == 0 && plus) {
				if (pos == 0) {
					free(buf);
					fuse_reply_err(req, ENOMEM);
					return;
				}
				break;
			}
			if (eino == 0) /* plain readdir: a number the kernel will not keep */
				eino = (fuse_ino_t)1 << 62 | (n + 1);
		}
		if (plus) {
			struct fuse_entry_param ep;
			memset(&ep, 0, sizeof(ep));
			dirent_stat(e, eino, &ep.attr);
			/* "." and ".." carry no lookup: the kernel skips them. */
			ep.ino = dot ? 0 : eino;
			ep.attr_timeout = (e->type == FS_T_STATUS || e->type == FS_T_EVENTS ||
					   e->type == FS_T_METRICS)
						  ? 0 : FS_TIMEOUT;
			ep.entry_timeout = FS_TIMEOUT;
			if (!dot && conflict_type(d.type)) {
				ep.attr_timeout = ep.entry_timeout = 0;
			} else if (!dot && (read_only_type(d.type) || d.type == FS_T_SNAPSHOTS)) {
				struct info c = d;
				c.type = e->type;
				ep.attr_timeout = ep.entry_timeout = view_timeout(&c);
			}
			used = fuse_add_direntry_plus(req, buf + pos, size - pos, e->name, &ep,
						      (off_t)n + 1);
		} else {
			struct stat st;
			dirent_stat(e, eino, &st);
			used = fuse_add_direntry(req, buf + pos, size - pos, e->name, &st,
						 (off_t)n + 1);
		}
		if (used > size - pos) {
			if (in) {
				/* Did not fit: the kernel never saw it. */
				fs_inode_lock();
				in->nlookup--;
				fs_inode_maybe_free(in);
				fs_inode_unlock();
			}
			break;
		}
		pos += used;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/* The snapshot's memory goes back to the system here: its blocks are
 * mapped on their own (see the mmap threshold in main.c). */
static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle_put(fs_handle_of(fi));
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC must arrive with open: a separate truncate would look like
	 * a write of an empty document. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	else
		log_msg(LOG_WARNING, "kernel lacks atomic O_TRUNC");
	/* Always readdirplus: `ls -l` of a big namespace costs one pass. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* The commit point is flush; a writeback cache would delay writes
	 * past it. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
};
