/* watch.c - the watcher thread: follows the store's change log, feeds the
 * events readers and sends every kernel cache invalidation.  It wakes at
 * once for local commits (an eventfd, which fs_watch_committed also pairs
 * with a poke of the sidecar) and for the sidecar's pokes after it
 * applied remote changes (DATA/notify.sock, store/notify.h), and otherwise
 * polls every 200 ms so that changes by other writers of the same store
 * (swarmfs-admin) are seen too.  Notify calls are made from here only,
 * holding none of our locks: a notify may wait for a directory lock held by
 * a process whose own request a worker is serving. */
#include "inode.h"

#include <cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define POLL_MS 200 /* fallback for writers that do not poke */
#define BATCH 512

struct inval {
	struct inval *next;
	fuse_ino_t parent;
	fuse_ino_t ino;
	char name[NAME_MAX + 1];
};

struct change {
	int64_t revision;
	enum store_op op;
	enum store_kind kind;
	int64_t version;
	char ns[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char node[STORE_NODE_MAX + 1];
};

struct batch {
	struct change c[BATCH];
	int n;
};

static pthread_t thread;
static bool started;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop;
static int kick_fd = -1;      /* eventfd: local commits, queued invalidations, stop */
static int notify_fd = -1;    /* DATA/notify.sock, or -1 */
static struct inval *queue;   /* protected by wlock */

static void kick(void)
{
	uint64_t one = 1;

	/* A full counter (never in practice) still leaves the fd readable. */
	if (kick_fd >= 0 && write(kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_limited(LOG_ERR, "watcher: unable to wake: %s", strerror(errno));
}

void fs_watch_committed(void)
{
	/* The sidecar first: its publish is the longer way to go. */
	store_notify_poke(fs.data_dir, STORE_NOTIFY_SYNC);
	kick();
}

void fs_watch_queue_inval(fuse_ino_t parent, const char *name, fuse_ino_t ino)
{
	struct inval *iv = calloc(1, sizeof(*iv));

	if (iv == NULL)
		return;
	iv->parent = parent;
	iv->ino = ino;
	snprintf(iv->name, sizeof(iv->name), "%s", name ? name : "");
	pthread_mutex_lock(&wlock);
	iv->next = queue;
	queue = iv;
	pthread_mutex_unlock(&wlock);
	kick();
}

static void inval_entry(fuse_ino_t parent, const char *name)
{
	int rc = fuse_lowlevel_notify_inval_entry(fs.se, parent, name, strlen(name));

	if (rc < 0 && rc != -ENOENT)
		log_msg(LOG_DEBUG, "unable to invalidate entry '%s': %s", name, strerror(-rc));
}

static void inval_inode(fuse_ino_t ino)
{
	int rc = fuse_lowlevel_notify_inval_inode(fs.se, ino, 0, 0);

	if (rc < 0 && rc != -ENOENT)
		log_msg(LOG_DEBUG, "unable to invalidate inode %lu: %s",
			(unsigned long)ino, strerror(-rc));
}

static int collect(const struct store_change *c, void *arg)
{
	struct batch *b = arg;
	struct change *x = &b->c[b->n++];

	x->revision = c->revision;
	x->op = c->op;
	x->kind = c->kind;
	x->version = c->version;
	snprintf(x->ns, sizeof(x->ns), "%s", c->ns ? c->ns : "");
	snprintf(x->name, sizeof(x->name), "%s", c->name ? c->name : "");
	snprintf(x->node, sizeof(x->node), "%s", c->origin ? c->origin : "");
	return 0;
}

static void feed_event(const struct change *c)
{
	bool ns_op = c->op == STORE_OP_NS_CREATE || c->op == STORE_OP_NS_DELETE;
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (o == NULL)
		return;
	cJSON_AddNumberToObject(o, "revision", (double)c->revision);
	cJSON_AddStringToObject(o, "op", store_op_name(c->op));
	cJSON_AddStringToObject(o, "kind", store_kind_name(c->kind));
	cJSON_AddStringToObject(o, "namespace", c->ns);
	if (!ns_op) {
		cJSON_AddStringToObject(o, "name", c->name);
		cJSON_AddNumberToObject(o, "version", (double)c->version);
	}
	cJSON_AddStringToObject(o, "node", c->node);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return;
	size_t len = strlen(s);
	char *line = malloc(len + 2);
	if (line) {
		memcpy(line, s, len);
		line[len] = '\n';
		line[len + 1] = '\0';
		fs_events_feed(c->revision, line, len + 1);
		free(line);
	}
	cJSON_free(s);
}

/* Requires the table lock: the number of parent/name, 0 when the kernel
 * was never told about it. */
static fuse_ino_t child_ino(fuse_ino_t parent, const char *name)
{
	struct fs_inode *in = parent ? fs_inode_find_name(parent, name) : NULL;

	return in ? in->ino : 0;
}

/* Invalidates what the kernel may cache about one change below the kind
 * directory `kino`: the live tree's or that of the live `.content` view,
 * which shows the same resources and is cached just as long. */
static void invalidate_below(fuse_ino_t kino, const struct change *c, bool recreated)
{
	fuse_ino_t nsino, fino;
	char fname[STORE_NAME_MAX + 6];

	if (kino == 0)
		return;
	if (c->op == STORE_OP_NS_CREATE || c->op == STORE_OP_NS_DELETE) {
		inval_entry(kino, c->ns);
		inval_inode(kino);
		return;
	}
	snprintf(fname, sizeof(fname), "%s.json", c->name);
	fs_inode_lock();
	nsino = child_ino(kino, c->ns);
	fino = child_ino(nsino, fname);
	fs_inode_unlock();
	if (nsino == 0)
		return; /* the kernel knows nothing below this namespace */
	/*
	 * An update of a name the kernel holds keeps its dentry: the name
	 * still leads to the same inode, and dropping the dentry would let
	 * the kernel forget the inode and the next lookup number it anew.
	 * `cp` stats, opens and fstats its source, and refuses a file whose
	 * st_ino changed in between ("replaced while being copied").
	 * Creates may replace a negative dentry, deletes a positive one;
	 * but not a delete whose name lives again by now: the dentry may be
	 * the new file's (`rm x; echo > x` ran before we got here), and the
	 * create's own change keeps it right.
	 */
	if ((c->op != STORE_OP_PUT && !recreated) || fino == 0)
		inval_entry(nsino, fname);
	if (fino)
		inval_inode(fino);
	inval_inode(nsino);
}

/* Whether c, a delete, was undone by a create since: the resource is
 * live in the store now.  A later delete has a change of its own. */
static bool recreated_since(struct store *s, const struct change *c)
{
	struct store_meta meta;

	return c->op == STORE_OP_DELETE && store_stat(s, c->kind, c->ns, c->name, &meta) == 0;
}

static void invalidate(struct store *s, const struct change *c)
{
	bool recreated = recreated_since(s, c);
	fuse_ino_t vkino;

	invalidate_below(FS_INO_KIND(c->kind), c, recreated);
	fs_inode_lock();
	vkino = child_ino(child_ino(FS_INO_ROOT, ".content"), store_kind_dir(c->kind));
	fs_inode_unlock();
	invalidate_below(vkino, c, recreated);
}

/*
 * After a state transfer: rows changed with no change-log entry, so nothing
 * says which.  Dropping the kind, .content and conflicts entries from the
 * root prunes every dentry below them, negative ones included (names the
 * transfer created), and every live inode the kernel holds loses its cached
 * attributes and pages.  One event line tells readers of the events stream
 * to re-read.
 */
static void resync(struct store *s)
{
	static const char *const tops[] = { ".content", "conflicts" };
	fuse_ino_t *inos = NULL;
	size_t n = 0;
	int64_t revision = 0;
	char line[96];
	int len;

	for (int k = 0; k < STORE_KIND_COUNT; k++)
		inval_entry(FS_INO_ROOT, store_kind_dir((enum store_kind)k));
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
		inval_entry(FS_INO_ROOT, tops[i]);
	if (fs_inode_collect_live(&inos, &n) < 0) {
		log_msg(LOG_ERR, "watcher: out of memory: cached attributes may be stale "
			"for up to %.0f s", FS_TIMEOUT);
	}
	for (size_t i = 0; i < n; i++)
		inval_inode(inos[i]);
	free(inos);
	store_revision(s, &revision);
	len = snprintf(line, sizeof(line), "{\"revision\":%lld,\"op\":\"resync\"}\n",
		       (long long)revision);
	/* Every reader gets it, also one opened at the current revision: the
	 * merge did not move the revision. */
	fs_events_feed(INT64_MAX, line, (size_t)len);
	log_msg(LOG_INFO, "state transfer seen: %zu cached inode(s) invalidated", n);
}

static void run_queue(void)
{
	struct inval *q;

	pthread_mutex_lock(&wlock);
	q = queue;
	queue = NULL;
	pthread_mutex_unlock(&wlock);
	while (q) {
		struct inval *next = q->next;
		if (q->name[0])
			inval_entry(q->parent, q->name);
		if (q->ino)
			inval_inode(q->ino);
		free(q);
		q = next;
	}
}

static struct store *start_store;  /* handed to the thread at start */
static int64_t start_revision = -1;
static int64_t start_transfers = -1;

static void *watch_main(void *arg)
{
	struct store *s = start_store;
	struct store_err err;
	struct batch *b = malloc(sizeof(*b));
	int64_t last = start_revision, transfers = start_transfers, now_transfers;
	int rc;

	if (b == NULL) {
		log_msg(LOG_ERR, "watcher: out of memory");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = kick_fd, .events = POLLIN },
			{ .fd = notify_fd, .events = POLLIN },
		};
		uint64_t n;

		if (poll(pfd, notify_fd >= 0 ? 2 : 1, s ? POLL_MS : 1000) < 0 && errno != EINTR)
			log_limited(LOG_ERR, "watcher: poll: %s", strerror(errno));
		if (pfd[0].revents & POLLIN) {
			if (read(kick_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				log_limited(LOG_ERR, "watcher: %s", strerror(errno));
		}
		if (notify_fd >= 0 && (pfd[1].revents & POLLIN))
			store_notify_drain(notify_fd);
		if (atomic_load(&stop))
			break;

		run_queue();
		if (s == NULL) {
			rc = fs_store_open(true, &s, &err);
			if (rc < 0) {
				log_limited(LOG_ERR, "watcher: %s", err.msg);
				continue;
			}
		}
		if (last < 0) {
			rc = store_revision(s, &last);
			if (rc < 0)
				last = -1;
			if (store_transfer_count(s, &transfers) < 0)
				transfers = -1;
			continue;
		}
		if (store_transfer_count(s, &now_transfers) == 0) {
			if (transfers >= 0 && now_transfers != transfers)
				resync(s);
			transfers = now_transfers;
		}
		for (;;) {
			struct store_log_filter f = { .after_revision = last, .limit = BATCH };
			b->n = 0;
			rc = store_log(s, &f, collect, b);
			if (rc < 0) {
				log_limited(LOG_ERR, "watcher: unable to read the change log: %s",
					    strerror(-rc));
				break;
			}
			for (int i = 0; i < b->n; i++) {
				feed_event(&b->c[i]);
				invalidate(s, &b->c[i]);
				last = b->c[i].revision;
			}
			if (b->n < BATCH)
				break;
		}
	}
	store_close(s);
	free(b);
	return NULL;
}

int fs_watch_start(void)
{
	struct store_err err;
	int rc;

	/* Read the starting revision before the loop answers anything, so no
	 * change committed through the mount can slip past the watcher. */
	rc = fs_store_open(true, &start_store, &err);
	if (rc < 0)
		return rc;
	rc = store_revision(start_store, &start_revision);
	if (rc == 0)
		rc = store_transfer_count(start_store, &start_transfers);
	if (rc < 0) {
		store_close(start_store);
		start_store = NULL;
		return rc;
	}
	kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kick_fd < 0) {
		rc = -errno;
		store_close(start_store);
		start_store = NULL;
		return rc;
	}
	/* Without the socket remote changes still show, at the poll's pace. */
	rc = store_notify_listen(fs.data_dir, STORE_NOTIFY_MOUNT, &notify_fd);
	if (rc < 0) {
		notify_fd = -1;
		log_msg(LOG_WARNING, "unable to listen on '%s/%s': %s; polling every %d ms",
			fs.data_dir, STORE_NOTIFY_MOUNT, strerror(-rc), POLL_MS);
	}
	/* Termination signals must reach the loop's thread, whose blocking
	 * read they interrupt, never this one. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&thread, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		store_close(start_store);
		start_store = NULL;
		store_notify_close(fs.data_dir, STORE_NOTIFY_MOUNT, notify_fd);
		notify_fd = -1;
		close(kick_fd);
		kick_fd = -1;
		return -rc;
	}
	started = true;
	return 0;
}

void fs_watch_request_stop(void)
{
	atomic_store(&stop, true);
	kick();
}

void fs_watch_join(void)
{
	struct inval *q;

	if (started)
		pthread_join(thread, NULL);
	started = false;
	store_notify_close(fs.data_dir, STORE_NOTIFY_MOUNT, notify_fd);
	notify_fd = -1;
	if (kick_fd >= 0)
		close(kick_fd);
	kick_fd = -1;
	q = queue;
	queue = NULL;
	while (q) {
		struct inval *next = q->next;
		free(q);
		q = next;
	}
}
