/* watch.c - the watcher thread: follows the store's change log (woken by
 * local commits, otherwise polling every 50 ms so that changes made by other
 * processes on the same store are seen too), feeds the events readers and
 * sends every kernel cache invalidation.  Notify calls are made from here
 * only, holding none of our locks: a notify may wait for a directory lock
 * held by a process whose own request a worker is serving. */
#include "inode.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define POLL_MS 50
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
static pthread_cond_t wcond;
static bool stop;             /* protected by wlock */
static bool kicked;           /* protected by wlock */
static struct inval *queue;   /* protected by wlock */

void fs_watch_kick(void)
{
	pthread_mutex_lock(&wlock);
	kicked = true;
	pthread_cond_signal(&wcond);
	pthread_mutex_unlock(&wlock);
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
	kicked = true;
	pthread_cond_signal(&wcond);
	pthread_mutex_unlock(&wlock);
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
static void invalidate_below(fuse_ino_t kino, const struct change *c)
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
	inval_entry(nsino, fname);
	if (fino)
		inval_inode(fino);
	inval_inode(nsino);
}

static void invalidate(const struct change *c)
{
	fuse_ino_t vkino;

	invalidate_below(FS_INO_KIND(c->kind), c);
	fs_inode_lock();
	vkino = child_ino(child_ino(FS_INO_ROOT, ".content"), store_kind_dir(c->kind));
	fs_inode_unlock();
	invalidate_below(vkino, c);
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

static void *watch_main(void *arg)
{
	struct store *s = start_store;
	struct store_err err;
	struct batch *b = malloc(sizeof(*b));
	int64_t last = start_revision;
	int rc;

	if (b == NULL) {
		log_msg(LOG_ERR, "watcher: out of memory");
		return NULL;
	}
	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&wlock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (s ? POLL_MS : 1000) * 1000000L;
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!stop && !kicked) {
			if (pthread_cond_timedwait(&wcond, &wlock, &ts) == ETIMEDOUT)
				break;
		}
		kicked = false;
		if (stop) {
			pthread_mutex_unlock(&wlock);
			break;
		}
		pthread_mutex_unlock(&wlock);

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
			continue;
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
				invalidate(&b->c[i]);
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
	pthread_condattr_t ca;
	struct store_err err;
	int rc;

	/* Read the starting revision before the loop answers anything, so no
	 * change committed through the mount can slip past the watcher. */
	rc = fs_store_open(true, &start_store, &err);
	if (rc < 0)
		return rc;
	rc = store_revision(start_store, &start_revision);
	if (rc < 0) {
		store_close(start_store);
		start_store = NULL;
		return rc;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wcond, &ca);
	pthread_condattr_destroy(&ca);
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
		return -rc;
	}
	started = true;
	return 0;
}

void fs_watch_request_stop(void)
{
	pthread_mutex_lock(&wlock);
	stop = true;
	pthread_cond_signal(&wcond);
	pthread_mutex_unlock(&wlock);
}

void fs_watch_join(void)
{
	struct inval *q;

	if (started)
		pthread_join(thread, NULL);
	started = false;
	q = queue;
	queue = NULL;
	while (q) {
		struct inval *next = q->next;
		free(q);
		q = next;
	}
}
