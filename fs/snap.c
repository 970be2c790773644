/* snap.c - snapshots seen from the mount: a cache of read-only connections
 * for browsing snapshots (one user at a time per connection, since a store
 * connection is not thread-safe), the snapshot summary of status.json, and
 * the thread that takes automatic snapshots and prunes them. */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

/* Connections kept open while unused; browsing more snapshots than this
 * at once only costs reopening. */
#define CACHE_KEEP 8

struct fs_snap_conn {
	struct fs_snap_conn *next;  /* protected by cache_lock */
	char name[STORE_NAME_MAX + 1]; /* immutable */
	dev_t dev;                  /* immutable: the file the connection reads */
	ino_t ino;
	struct store *s;            /* used under `lock` only */
	pthread_mutex_t lock;
	int users;                  /* protected by cache_lock */
	bool dead;                  /* protected by cache_lock: out of the list */
	uint64_t used;              /* protected by cache_lock: for eviction */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_snap_conn *cache;  /* protected by cache_lock */
static uint64_t use_clock;          /* protected by cache_lock */

static void conn_free(struct fs_snap_conn *c)
{
	store_close(c->s);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Requires cache_lock: takes c out of the list; returns it when nobody
 * uses it, for the caller to free outside the lock. */
static struct fs_snap_conn *unlink_conn(struct fs_snap_conn *c)
{
	struct fs_snap_conn **pp = &cache;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	c->dead = true;
	return c->users == 0 ? c : NULL;
}

/* Requires cache_lock: the least recently used idle connection when more
 * than CACHE_KEEP are open, taken out of the list. */
static struct fs_snap_conn *evict_one(void)
{
	struct fs_snap_conn *victim = NULL;
	int n = 0;

	for (struct fs_snap_conn *c = cache; c; c = c->next) {
		n++;
		if (c->users == 0 && (victim == NULL || c->used < victim->used))
			victim = c;
	}
	if (n <= CACHE_KEEP || victim == NULL)
		return NULL;
	return unlink_conn(victim);
}

int fs_snap_acquire(const char *name, struct store **s, struct fs_snap_conn **out)
{
	struct fs_snap_conn *c, *stale = NULL, *evicted = NULL;
	struct store_err err = { "" };
	char path[PATH_MAX + 96];
	struct stat st;
	int rc = 0;

	if (!store_name_valid(name))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s.db", fs.snap_dir, name);
	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ENOENT : -EIO;
	pthread_mutex_lock(&cache_lock);
	for (c = cache; c; c = c->next) {
		if (strcmp(c->name, name) == 0)
			break;
	}
	if (c && (c->dev != st.st_dev || c->ino != st.st_ino)) {
		/* Removed and taken again under the same name. */
		stale = unlink_conn(c);
		c = NULL;
	}
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			rc = -ENOMEM;
		} else {
			snprintf(c->name, sizeof(c->name), "%s", name);
			c->dev = st.st_dev;
			c->ino = st.st_ino;
			pthread_mutex_init(&c->lock, NULL);
			/* Opened under cache_lock: a second opener of the same
			 * snapshot waits instead of opening it twice. */
			rc = store_snapshot_open(fs.snap_dir, name, &c->s, &err);
			if (rc < 0) {
				log_limited(LOG_ERR, "unable to open snapshot '%s': %s", name, err.msg);
				conn_free(c);
				c = NULL;
			} else {
				c->next = cache;
				cache = c;
			}
		}
	}
	if (c) {
		c->users++;
		c->used = ++use_clock;
		evicted = evict_one();
	}
	pthread_mutex_unlock(&cache_lock);
	if (stale)
		conn_free(stale);
	if (evicted)
		conn_free(evicted);
	if (c == NULL)
		return rc == -ENOENT ? -ENOENT : (rc == -ENOMEM ? rc : -EIO);
	pthread_mutex_lock(&c->lock);
	*s = c->s;
	*out = c;
	return 0;
}

void fs_snap_release(struct fs_snap_conn *c)
{
	bool free_it;

	if (c == NULL)
		return;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&cache_lock);
	c->users--;
	free_it = c->dead && c->users == 0;
	pthread_mutex_unlock(&cache_lock);
	if (free_it)
		conn_free(c);
}

void fs_snap_forget(const char *name)
{
	struct fs_snap_conn *c, *gone = NULL;

	pthread_mutex_lock(&cache_lock);
	for (c = cache; c; c = c->next) {
		if (strcmp(c->name, name) == 0)
			break;
	}
	if (c)
		gone = unlink_conn(c);
	pthread_mutex_unlock(&cache_lock);
	if (gone)
		conn_free(gone);
}

void fs_snap_cache_destroy(void)
{
	struct fs_snap_conn *c;

	pthread_mutex_lock(&cache_lock);
	c = cache;
	cache = NULL;
	pthread_mutex_unlock(&cache_lock);
	while (c) {
		struct fs_snap_conn *next = c->next;
		conn_free(c);
		c = next;
	}
}

/* ---- status.json ---------------------------------------------------------- */

static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_snap_summary sum_cached;   /* protected by sum_lock */
static struct timespec sum_mtime;           /* protected by sum_lock */
static ino_t sum_ino;                       /* protected by sum_lock */
static bool sum_valid;                      /* protected by sum_lock */

static int add_to_summary(const struct store_snapshot_info *info, void *arg)
{
	struct fs_snap_summary *sum = arg;

	sum->count++;
	sum->bytes += info->bytes;
	/* The list is oldest first. */
	snprintf(sum->newest, sizeof(sum->newest), "%s", info->name);
	sum->newest_created_ms = info->created_ms;
	return 0;
}

int fs_snap_summary(struct fs_snap_summary *sum)
{
	struct stat st;
	bool have;
	int rc;

	memset(sum, 0, sizeof(*sum));
	have = stat(fs.snap_dir, &st) == 0;
	if (!have)
		return 0;
	/* Every create, delete and prune renames or unlinks in the dir, which
	 * changes its mtime; status.json is rendered at each stat and open, and
	 * listing opens every snapshot file. */
	pthread_mutex_lock(&sum_lock);
	if (sum_valid && sum_ino == st.st_ino && sum_mtime.tv_sec == st.st_mtim.tv_sec &&
	    sum_mtime.tv_nsec == st.st_mtim.tv_nsec) {
		*sum = sum_cached;
		pthread_mutex_unlock(&sum_lock);
		return 0;
	}
	pthread_mutex_unlock(&sum_lock);
	rc = store_snapshot_list(fs.snap_dir, add_to_summary, sum);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&sum_lock);
	sum_cached = *sum;
	sum_mtime = st.st_mtim;
	sum_ino = st.st_ino;
	sum_valid = true;
	pthread_mutex_unlock(&sum_lock);
	return 0;
}

/* ---- the clock -------------------------------------------------------------- */

static int64_t fake_base_ms = -1;  /* written by fs_clock_init before threads */
static int64_t fake_mono_ms;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fs_clock_init(void)
{
	/* Tests only (deliberately not in --help): the scheduler, and the
	 * creation times of the snapshots it takes, run on a clock that
	 * starts at SWARMFS_FAKE_NOW, so a test can place "now" days after
	 * the snapshots already in a data dir. */
	const char *v = getenv("SWARMFS_FAKE_NOW");
	char *end;
	long long sec;

	if (v == NULL || *v == '\0')
		return;
	errno = 0;
	sec = strtoll(v, &end, 10);
	if (errno || *end || sec < 0) {
		log_msg(LOG_WARNING, "ignoring invalid SWARMFS_FAKE_NOW '%s'", v);
		return;
	}
	fake_base_ms = (int64_t)sec * 1000;
	fake_mono_ms = mono_ms();
	log_msg(LOG_NOTICE, "scheduler clock starts at SWARMFS_FAKE_NOW=%lld", sec);
}

int64_t fs_clock_ms(void)
{
	if (fake_base_ms >= 0)
		return fake_base_ms + (mono_ms() - fake_mono_ms);
	return fs_now_ms();
}

static int64_t clock_cb(void *arg)
{
	return fs_clock_ms();
}

/* ---- the scheduler ----------------------------------------------------------- */

/* After a failed snapshot, try again this much later (or at the interval,
 * when shorter), not in a loop. */
#define RETRY_MS (60 * 1000)
/* Sleep at most this long between looks at the clock and the snapshot
 * dir: snapshots taken or removed by swarmfs-admin move the schedule. */
#define LOOK_MS (60 * 1000)

static pthread_t sched_thread;
static bool sched_started;
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sched_cond;
static bool sched_stop;       /* protected by sched_lock */

struct newest {
	int64_t created_ms;  /* -1: no automatic snapshot */
	int64_t revision;
};

static int newest_auto(const struct store_snapshot_info *info, void *arg)
{
	struct newest *n = arg;

	if (info->automatic && info->created_ms > n->created_ms) {
		n->created_ms = info->created_ms;
		n->revision = info->revision;
	}
	return 0;
}

static int forget_pruned(const struct store_snapshot_info *info, void *arg)
{
	fs_snap_forget(info->name);
	return 0;
}

/* Takes one automatic snapshot named after `now` and prunes. */
static int take_automatic(struct store *s, int64_t now)
{
	struct store_snapshot_info info;
	struct store_err err = { "" };
	char name[STORE_NAME_MAX + 1];
	time_t t = (time_t)(now / 1000);
	int64_t t0 = fs_now_ms();
	struct tm tm;
	int rc;

	gmtime_r(&t, &tm);
	/* A DNS label: lowercase, so "t" and "z" in the ISO 8601 basic form. */
	strftime(name, sizeof(name), "auto-%Y%m%dt%H%M%Sz", &tm);
	rc = store_snapshot_create(s, fs.snap_dir, name, true, &info, &err);
	if (rc == -EEXIST)
		return 0;
	if (rc < 0) {
		log_limited(LOG_ERR, "automatic snapshot '%s' failed: %s", name, err.msg);
		return rc;
	}
	log_msg(LOG_NOTICE, "took automatic snapshot '%s' (revision %lld, %lld resources, "
		"%lld bytes, %lld ms)", name, (long long)info.revision,
		(long long)info.resources, (long long)info.bytes, (long long)(fs_now_ms() - t0));
	rc = store_snapshot_prune(fs.snap_dir, &fs.keep, forget_pruned, NULL, &err);
	if (rc < 0)
		log_limited(LOG_ERR, "unable to prune automatic snapshots: %s", err.msg);
	return 0;
}

static void *sched_main(void *arg)
{
	struct store_options o;
	struct store_err err = { "" };
	struct store *s = NULL;
	int64_t interval = fs.snapshot_interval * 1000;

	memset(&o, 0, sizeof(o));
	o.node = fs.node;
	o.sync = fs.sync;
	/* The snapshot's creation time comes from the store's clock. */
	o.now_ms = clock_cb;
	pthread_mutex_lock(&sched_lock);
	while (!sched_stop) {
		struct newest n = { .created_ms = -1 };
		int64_t wait = LOOK_MS, newest, now, rev = 0;
		struct timespec ts;
		int rc = 0;

		pthread_mutex_unlock(&sched_lock);
		if (s == NULL) {
			rc = store_open(fs.db_path, &o, &s, &err);
			if (rc < 0) {
				log_limited(LOG_ERR, "scheduler: %s", err.msg);
				s = NULL;
			}
		}
		if (rc == 0)
			rc = store_snapshot_list(fs.snap_dir, newest_auto, &n);
		if (rc == 0)
			rc = store_revision(s, &rev);
		newest = n.created_ms;
		now = fs_clock_ms();
		/* One snapshot when due, however many intervals were missed
		 * while nothing ran.  An empty store, or one that has not
		 * changed since the newest automatic snapshot, has nothing new
		 * to keep: the next look is in LOOK_MS. */
		if (rc == 0 && (newest < 0 || now - newest >= interval)) {
			if (rev > 0 && (newest < 0 || rev != n.revision)) {
				rc = take_automatic(s, now);
				if (rc == 0)
					newest = now;
			} else {
				newest = now - interval + LOOK_MS;
			}
		}
		if (rc < 0)
			wait = RETRY_MS < interval ? RETRY_MS : interval;
		else if (newest + interval - now < wait)
			wait = newest + interval - now;
		if (wait < 10)
			wait = 10;
		pthread_mutex_lock(&sched_lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!sched_stop) {
			if (pthread_cond_timedwait(&sched_cond, &sched_lock, &ts) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&sched_lock);
	store_close(s);
	return NULL;
}

int fs_sched_start(void)
{
	pthread_condattr_t ca;
	sigset_t block, old;
	int rc;

	if (fs.snapshot_interval <= 0 || fs.readonly)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sched_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Termination signals belong to the loop's thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&sched_thread, NULL, sched_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	sched_started = true;
	log_msg(LOG_INFO, "automatic snapshots every %lld s", (long long)fs.snapshot_interval);
	return 0;
}

void fs_sched_stop(void)
{
	if (!sched_started)
		return;
	pthread_mutex_lock(&sched_lock);
	sched_stop = true;
	pthread_cond_signal(&sched_cond);
	pthread_mutex_unlock(&sched_lock);
	pthread_join(sched_thread, NULL);
	sched_started = false;
}
