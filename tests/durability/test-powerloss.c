/* test-powerloss.c - simulated power loss under libstore: a SQLite VFS that
 * wraps the unix VFS, remembers every write not yet covered by an fsync and
 * drops those writes at a "crash"; every put acknowledged at
 * synchronous=FULL must survive, and two negative controls prove that the
 * harness can see a loss at all.  A last scenario applies a peer's changes
 * the way swarmfs-sync does (NORMAL, WAL fsynced from outside now and
 * then) and checks that a crash only ever takes a suffix, marks included.
 *
 * Model: per file (by path) the VFS keeps the durable image (the content as
 * of its last xSync) and the list of writes and truncations since.  xSync
 * applies that list to the image.  A crash makes every later write, sync,
 * truncate and delete fail with an I/O error (so nothing after the crash
 * can be acknowledged), lets the store close, then rewrites each file with
 * its durable image and removes the -shm file, as a reboot would.  File
 * creation and deletion are treated as durable at once (directory entries
 * are not modelled): SQLite syncs the directory on those paths itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "tap.h"

/* ---- the crash VFS ------------------------------------------------------- */

struct pending {
	struct pending *next;
	sqlite3_int64 off;   /* write offset, or the new size for a truncation */
	int len;             /* -1: truncation */
	unsigned char *data;
};

struct shadow {
	struct shadow *next;
	char *path;
	unsigned char *img;  /* durable content */
	size_t img_len;
	size_t img_cap;
	struct pending *head, *tail; /* not yet synced, oldest first */
	size_t npending;
};

struct cfile {
	sqlite3_file base;
	struct shadow *sh;   /* NULL: not tracked (temp files) */
	sqlite3_file *real;  /* follows this struct in the same allocation */
};

static sqlite3_vfs *unix_vfs;
static struct shadow *shadows;
static bool crashed;        /* after the crash: writes fail */
static bool ignore_sync;    /* negative control: xSync makes nothing durable */
static long countdown = -1; /* crash when it reaches 0; -1: never */
static long io_ops;         /* writes + syncs + truncations seen */

static void die(const char *what)
{
	fprintf(stderr, "test-powerloss: %s: %s\n", what, strerror(errno));
	exit(99);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("malloc");
	return p;
}

static void img_reserve(struct shadow *sh, size_t len)
{
	if (len <= sh->img_cap)
		return;
	size_t cap = sh->img_cap ? sh->img_cap : 65536;
	while (cap < len)
		cap *= 2;
	unsigned char *n = realloc(sh->img, cap);
	if (!n)
		die("realloc");
	sh->img = n;
	sh->img_cap = cap;
}

/* The durable image of a file seen for the first time is what is on disk
 * now: everything before the test's first open counts as synced. */
static struct shadow *shadow_get(const char *path)
{
	struct shadow *sh;

	for (sh = shadows; sh; sh = sh->next)
		if (strcmp(sh->path, path) == 0)
			return sh;
	sh = xmalloc(sizeof(*sh));
	memset(sh, 0, sizeof(*sh));
	sh->path = strdup(path);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			die("fstat");
		img_reserve(sh, (size_t)st.st_size);
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = pread(fd, sh->img + got, (size_t)st.st_size - got, (off_t)got);
			if (n <= 0)
				die("pread");
			got += (size_t)n;
		}
		sh->img_len = got;
		close(fd);
	}
	sh->next = shadows;
	shadows = sh;
	return sh;
}

static void pending_free(struct shadow *sh)
{
	struct pending *p, *next;

	for (p = sh->head; p; p = next) {
		next = p->next;
		free(p->data);
		free(p);
	}
	sh->head = sh->tail = NULL;
	sh->npending = 0;
}

static void pending_add(struct shadow *sh, sqlite3_int64 off, int len, const void *data)
{
	struct pending *p = xmalloc(sizeof(*p));

	p->next = NULL;
	p->off = off;
	p->len = len;
	p->data = NULL;
	if (len > 0) {
		p->data = xmalloc((size_t)len);
		memcpy(p->data, data, (size_t)len);
	}
	if (sh->tail)
		sh->tail->next = p;
	else
		sh->head = p;
	sh->tail = p;
	sh->npending++;
}

/* fsync: everything written so far becomes durable. */
static void shadow_sync(struct shadow *sh)
{
	struct pending *p;

	for (p = sh->head; p; p = p->next) {
		if (p->len < 0) {
			if ((size_t)p->off < sh->img_len)
				sh->img_len = (size_t)p->off;
			continue;
		}
		size_t end = (size_t)p->off + (size_t)p->len;
		img_reserve(sh, end);
		if ((size_t)p->off > sh->img_len)
			memset(sh->img + sh->img_len, 0, (size_t)p->off - sh->img_len);
		memcpy(sh->img + p->off, p->data, (size_t)p->len);
		if (end > sh->img_len)
			sh->img_len = end;
	}
	pending_free(sh);
}

/* Power comes back: each file holds its durable image; -shm is gone. */
static long restore_all(void)
{
	struct shadow *sh, *next;
	long dropped = 0;

	for (sh = shadows; sh; sh = next) {
		next = sh->next;
		dropped += (long)sh->npending;
		if (access(sh->path, F_OK) == 0) {
			int fd = open(sh->path, O_WRONLY);
			if (fd < 0)
				die("open for restore");
			size_t done = 0;
			while (done < sh->img_len) {
				ssize_t n = pwrite(fd, sh->img + done, sh->img_len - done, (off_t)done);
				if (n <= 0)
					die("pwrite");
				done += (size_t)n;
			}
			if (ftruncate(fd, (off_t)sh->img_len) < 0)
				die("ftruncate");
			close(fd);
		}
		size_t plen = strlen(sh->path);
		if (plen > 4 && strcmp(sh->path + plen - 4, "-wal") == 0) {
			char shm[4096];
			snprintf(shm, sizeof(shm), "%.*s-shm", (int)(plen - 4), sh->path);
			unlink(shm);
		}
		pending_free(sh);
		free(sh->img);
		free(sh->path);
		free(sh);
	}
	shadows = NULL;
	return dropped;
}

/* Counts one mutating I/O call; true when the machine is (now) down. */
static bool tick(void)
{
	if (crashed)
		return true;
	io_ops++;
	if (countdown > 0 && --countdown == 0)
		crashed = true;
	return crashed;
}

static int c_close(sqlite3_file *f)
{
	struct cfile *cf = (struct cfile *)f;
	int rc = cf->real->pMethods ? cf->real->pMethods->xClose(cf->real) : SQLITE_OK;

	return rc;
}

static int c_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xRead(cf->real, buf, n, off);
}

static int c_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct cfile *cf = (struct cfile *)f;

	if (cf->sh && tick())
		return SQLITE_IOERR_WRITE;
	int rc = cf->real->pMethods->xWrite(cf->real, buf, n, off);
	if (rc == SQLITE_OK && cf->sh)
		pending_add(cf->sh, off, n, buf);
	return rc;
}

static int c_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct cfile *cf = (struct cfile *)f;

	if (cf->sh && tick())
		return SQLITE_IOERR_TRUNCATE;
	int rc = cf->real->pMethods->xTruncate(cf->real, size);
	if (rc == SQLITE_OK && cf->sh)
		pending_add(cf->sh, size, -1, NULL);
	return rc;
}

static int c_sync(sqlite3_file *f, int flags)
{
	struct cfile *cf = (struct cfile *)f;

	if (cf->sh && tick())
		return SQLITE_IOERR_FSYNC;
	/* The durable image is the model's disk; a real fsync would only
	 * cost time, so tracked files skip it. */
	if (!cf->sh)
		return cf->real->pMethods->xSync(cf->real, flags);
	if (!ignore_sync)
		shadow_sync(cf->sh);
	return SQLITE_OK;
}

/* An fdatasync of `path` from outside SQLite, as swarmfs-sync's sync_wal
 * does to the WAL: everything written to it so far becomes durable.  Paths
 * are compared as SQLite opened them. */
static void outside_fsync(const char *path)
{
	for (struct shadow *sh = shadows; sh; sh = sh->next) {
		if (strcmp(sh->path, path) != 0)
			continue;
		if (!tick())
			shadow_sync(sh);
		return;
	}
}

static int c_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xFileSize(cf->real, size);
}

static int c_lock(sqlite3_file *f, int l)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xLock(cf->real, l);
}

static int c_unlock(sqlite3_file *f, int l)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xUnlock(cf->real, l);
}

static int c_check_lock(sqlite3_file *f, int *out)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xCheckReservedLock(cf->real, out);
}

static int c_fcntl(sqlite3_file *f, int op, void *arg)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xFileControl(cf->real, op, arg);
}

static int c_sector(sqlite3_file *f)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xSectorSize(cf->real);
}

static int c_devchar(sqlite3_file *f)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xDeviceCharacteristics(cf->real);
}

static int c_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xShmMap(cf->real, pg, sz, extend, pp);
}

static int c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xShmLock(cf->real, off, n, flags);
}

static void c_shm_barrier(sqlite3_file *f)
{
	struct cfile *cf = (struct cfile *)f;

	cf->real->pMethods->xShmBarrier(cf->real);
}

static int c_shm_unmap(sqlite3_file *f, int del)
{
	struct cfile *cf = (struct cfile *)f;

	return cf->real->pMethods->xShmUnmap(cf->real, del);
}

/* Version 2: no xFetch, so SQLite never reads through mmap and every byte
 * it sees went through this layer. */
static const sqlite3_io_methods c_methods = {
	.iVersion = 2,
	.xClose = c_close,
	.xRead = c_read,
	.xWrite = c_write,
	.xTruncate = c_truncate,
	.xSync = c_sync,
	.xFileSize = c_size,
	.xLock = c_lock,
	.xUnlock = c_unlock,
	.xCheckReservedLock = c_check_lock,
	.xFileControl = c_fcntl,
	.xSectorSize = c_sector,
	.xDeviceCharacteristics = c_devchar,
	.xShmMap = c_shm_map,
	.xShmLock = c_shm_lock,
	.xShmBarrier = c_shm_barrier,
	.xShmUnmap = c_shm_unmap,
};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outflags)
{
	struct cfile *cf = (struct cfile *)f;

	cf->real = (sqlite3_file *)(cf + 1);
	cf->sh = NULL;
	memset(cf->real, 0, (size_t)unix_vfs->szOsFile);
	int rc = unix_vfs->xOpen(unix_vfs, name, cf->real, flags, outflags);
	if (rc != SQLITE_OK) {
		/* SQLite calls xClose only when pMethods is set. */
		f->pMethods = NULL;
		return rc;
	}
	if (name && !(flags & SQLITE_OPEN_DELETEONCLOSE))
		cf->sh = shadow_get(name);
	f->pMethods = &c_methods;
	return SQLITE_OK;
}

static int c_delete(sqlite3_vfs *vfs, const char *name, int dirsync)
{
	struct shadow *sh, **pp;

	if (crashed)
		return SQLITE_IOERR_DELETE;
	for (pp = &shadows; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->path, name) == 0) {
			sh = *pp;
			*pp = sh->next;
			pending_free(sh);
			free(sh->img);
			free(sh->path);
			free(sh);
			break;
		}
	}
	return unix_vfs->xDelete(unix_vfs, name, dirsync);
}

static int c_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return unix_vfs->xAccess(unix_vfs, name, flags, out);
}

static int c_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return unix_vfs->xFullPathname(unix_vfs, name, n, out);
}

static int c_random(sqlite3_vfs *vfs, int n, char *out)
{
	return unix_vfs->xRandomness(unix_vfs, n, out);
}

static int c_sleep(sqlite3_vfs *vfs, int us)
{
	return unix_vfs->xSleep(unix_vfs, us);
}

static int c_time(sqlite3_vfs *vfs, double *t)
{
	return unix_vfs->xCurrentTime(unix_vfs, t);
}

static int c_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
	return unix_vfs->xGetLastError ? unix_vfs->xGetLastError(unix_vfs, n, buf) : 0;
}

static int c_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	return unix_vfs->xCurrentTimeInt64(unix_vfs, t);
}

static sqlite3_vfs crash_vfs = {
	.iVersion = 2,
	.zName = "crash",
	.xOpen = c_open,
	.xDelete = c_delete,
	.xAccess = c_access,
	.xFullPathname = c_fullpath,
	.xRandomness = c_random,
	.xSleep = c_sleep,
	.xCurrentTime = c_time,
	.xGetLastError = c_last_error,
	.xCurrentTimeInt64 = c_time64,
};

static void vfs_install(void)
{
	unix_vfs = sqlite3_vfs_find("unix");
	if (!unix_vfs) {
		fprintf(stderr, "test-powerloss: no unix vfs\n");
		exit(99);
	}
	crash_vfs.szOsFile = (int)sizeof(struct cfile) + unix_vfs->szOsFile;
	crash_vfs.mxPathname = unix_vfs->mxPathname;
	if (sqlite3_vfs_register(&crash_vfs, 1) != SQLITE_OK) {
		fprintf(stderr, "test-powerloss: unable to register the vfs\n");
		exit(99);
	}
}

/* ---- the workload ---------------------------------------------------------- */

#define NAMES 12

/* What the test knows about one resource. */
struct expect {
	long acked;          /* counter of the last acknowledged put, 0: none */
	bool acked_delete;   /* the last acknowledged op was a delete */
	long inflight;       /* counter of an unacknowledged op (the crash hit it) */
	bool inflight_delete;
};

struct run {
	char dir[256];
	char db[300];
	struct expect ex[NAMES];
	long counter;        /* strictly increasing value written into spec.image */
	long acked_total;
	long lost;           /* acknowledged puts missing after a crash */
	long wrong;          /* values that no put wrote, or deleted ones back */
	long dropped;        /* unsynced writes the crashes threw away */
	long integrity_bad;
};

static void name_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "app-%d", i);
}

static struct store *open_store(struct run *r, enum store_sync_mode sync)
{
	struct store_options o = {
		.node = "node-1",
		.sync = sync,
		.create = true,
	};
	struct store_err err = {{0}};
	struct store *s = NULL;
	int rc = store_open(r->db, &o, &s, &err);

	if (rc < 0) {
		diag("store_open: %s (%d)", err.msg, rc);
		return NULL;
	}
	return s;
}

/* Runs puts (and some deletes) until the crash makes one fail or `ops`
 * have been done; returns the number acknowledged. */
static long workload(struct run *r, struct store *s, long ops)
{
	long acked = 0;

	for (long i = 0; i < ops; i++) {
		int k = rand() % NAMES;
		char name[32], doc[256];
		struct store_result res;
		struct store_err err = {{0}};
		bool del = r->ex[k].acked && !r->ex[k].acked_delete && rand() % 8 == 0;
		long v = ++r->counter;
		int rc;

		name_of(k, name, sizeof(name));
		if (del) {
			rc = store_delete(s, STORE_KIND_DEPLOYMENT, "default", name, &res, &err);
		} else {
			/* Varying sizes, so pages and WAL frames differ. */
			int pad = rand() % 120;
			snprintf(doc, sizeof(doc),
				 "{\"spec\":{\"image\":\"img:%ld\",\"replicas\":%d,"
				 "\"env\":{\"PAD\":\"%.*s\"}}}",
				 v, (int)(v % 100), pad,
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			rc = store_put(s, STORE_KIND_DEPLOYMENT, "default", name, doc,
				       strlen(doc), NULL, &res, &err);
		}
		if (rc < 0) {
			if (!crashed)
				diag("unexpected failure before the crash: %s (%d)", err.msg, rc);
			r->ex[k].inflight = v;
			r->ex[k].inflight_delete = del;
			break;
		}
		r->ex[k].acked = v;
		r->ex[k].acked_delete = del;
		r->ex[k].inflight = 0;
		acked++;
	}
	r->acked_total += acked;
	return acked;
}

/* "sqlite3 FILE 'PRAGMA integrity_check'" says ok. */
static bool integrity_ok(const char *db)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	bool good = false;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		diag("integrity_check of '%s' cannot run: %s", db, h ? sqlite3_errmsg(h) : "no memory");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		good = t && strcmp(t, "ok") == 0;
		if (!good)
			diag("integrity_check: %s", t ? t : "(null)");
	} else {
		diag("integrity_check of '%s' failed: %s", db, sqlite3_errmsg(h));
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return good;
}

/* After a reboot: every acknowledged change is there (or a later one). */
static void verify(struct run *r, struct store *s, bool verbose)
{
	for (int k = 0; k < NAMES; k++) {
		struct expect *e = &r->ex[k];
		char name[32];
		struct store_meta meta;
		char *body = NULL;
		long got = -1;

		name_of(k, name, sizeof(name));
		int rc = store_get(s, STORE_KIND_DEPLOYMENT, "default", name, &meta, &body);
		if (rc == 0) {
			const char *p = body ? strstr(body, "img:") : NULL;
			if (p)
				got = strtol(p + 4, NULL, 10);
		}
		free(body);

		bool good;
		if (rc == -ENOENT) {
			/* Absent is right when no put is acknowledged (never
			 * written, or deleted since), or when an in-flight delete
			 * became durable before the crash. */
			good = e->acked == 0 || e->acked_delete ||
			       (e->inflight && e->inflight_delete);
		} else if (rc == 0) {
			/* Present: the last acknowledged put, or the put in flight. */
			good = got == e->acked && !e->acked_delete;
			if (e->inflight && !e->inflight_delete && got == e->inflight)
				good = true;
		} else {
			good = false;
		}
		if (!good) {
			if (rc == -ENOENT && e->acked && !e->acked_delete)
				r->lost++;
			else
				r->wrong++;
			if (verbose)
				diag("%s: store has %s%ld, acknowledged %s%ld, in flight %s%ld",
				     name, rc == 0 ? "img:" : "nothing ", rc == 0 ? got : (long)rc,
				     e->acked_delete ? "delete " : "img:", e->acked,
				     e->inflight_delete ? "delete " : "img:", e->inflight);
		}
		/* The reopened store's state is the truth from now on. */
		if (rc == 0) {
			e->acked = got;
			e->acked_delete = false;
		} else if (rc == -ENOENT) {
			e->acked_delete = e->acked != 0;
		}
		e->inflight = 0;
	}
}

/*
 * One scenario: `rounds` times open, run the workload, crash after a random
 * number of I/O calls, close, lose the unsynced writes, reopen and verify.
 */
static void scenario(struct run *r, enum store_sync_mode sync, int rounds,
		     long ops_per_round, long max_countdown, bool crash_at_end,
		     bool verbose)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[256];

	memset(r, 0, sizeof(*r));
	snprintf(tmpl, sizeof(tmpl), "%s/swarmfs-powerloss.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl))
		die("mkdtemp");
	snprintf(r->dir, sizeof(r->dir), "%s", tmpl);
	snprintf(r->db, sizeof(r->db), "%s/%s", r->dir, STORE_DB_FILE);

	/* Create the store and make its creation durable with a clean close. */
	struct store *s = open_store(r, sync);
	if (!s) {
		r->wrong = -1;
		return;
	}
	store_close(s);
	restore_all();

	for (int round = 0; round < rounds; round++) {
		crashed = false;
		countdown = crash_at_end ? -1 : 1 + rand() % max_countdown;
		s = open_store(r, sync);
		if (!s && !crashed) {
			diag("round %d: reopen failed", round);
			r->wrong++;
			break;
		}
		/* The crash may hit store_open itself. */
		if (s)
			workload(r, s, ops_per_round);
		/* Power fails now (if it has not already). */
		crashed = true;
		store_close(s);
		r->dropped += restore_all();
		crashed = false;
		countdown = -1;

		if (!integrity_ok(r->db))
			r->integrity_bad++;
		s = open_store(r, sync);
		if (!s) {
			diag("round %d: open after the crash failed", round);
			r->wrong++;
			break;
		}
		verify(r, s, verbose);
		store_close(s);
		restore_all();
	}
	/* Leave nothing behind. */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd) != 0)
		diag("unable to remove '%s'", r->dir);
}


/* ---- the sidecar's applied changes at synchronous=NORMAL ------------------- */

#define ORIGIN_CHANGES 480
#define APPLY_BATCH 8        /* changes per transaction, as a sidecar's batch */

/* The changes of a peer "node-2", in order, copied out of its store. */
struct origin_log {
	struct store_rchange r[ORIGIN_CHANGES];
	char name[ORIGIN_CHANGES][32];
	char *body[ORIGIN_CHANGES];
	char *source[ORIGIN_CHANGES];
	int n;
};

static int keep_change(const struct store_rchange *r, void *arg)
{
	struct origin_log *o = arg;
	int i = o->n;

	if (i >= ORIGIN_CHANGES)
		return 1;
	o->r[i] = *r;
	snprintf(o->name[i], sizeof(o->name[i]), "%s", r->c.name);
	o->body[i] = r->c.body ? strdup(r->c.body) : NULL;
	o->source[i] = r->c.source ? strdup(r->c.source) : NULL;
	o->r[i].c.ns = "default";
	o->r[i].c.origin = "node-2";
	o->r[i].c.name = o->name[i];
	o->r[i].c.body = o->body[i];
	o->r[i].c.source = o->source[i];
	/* One origin: a parent is its own change or none. */
	o->r[i].parent_node = r->parent_node && *r->parent_node ? "node-2" : "";
	o->n++;
	return 0;
}

/* Puts (and some deletes) on a FULL store of node-2 in dir, then its log. */
static bool make_origin(const char *dir, struct origin_log *o)
{
	char db[300];
	struct store_options so = { .node = "node-2", .create = true };
	struct store_err err = {{0}};
	struct store *s = NULL;
	int64_t count = 0;

	memset(o, 0, sizeof(*o));
	snprintf(db, sizeof(db), "%s/origin.db", dir);
	if (store_open(db, &so, &s, &err) < 0) {
		diag("origin store: %s", err.msg);
		return false;
	}
	for (int i = 0; i < ORIGIN_CHANGES; i++) {
		char name[32], doc[128];
		struct store_result res;
		int k = rand() % NAMES;
		struct store_meta meta;
		char *body = NULL;
		bool exists;

		name_of(k, name, sizeof(name));
		exists = store_get(s, STORE_KIND_DEPLOYMENT, "default", name, &meta, &body) == 0;
		free(body);
		if (exists && rand() % 6 == 0) {
			store_delete(s, STORE_KIND_DEPLOYMENT, "default", name, &res, &err);
		} else {
			snprintf(doc, sizeof(doc), "{\"spec\":{\"image\":\"o:%d\",\"replicas\":1}}", i);
			store_put(s, STORE_KIND_DEPLOYMENT, "default", name, doc, strlen(doc), NULL,
				  &res, &err);
		}
	}
	store_log_since(s, 0, -1, NULL, 0, keep_change, o, &count);
	store_close(s);
	restore_all();
	return o->n == ORIGIN_CHANGES;
}

/* The image node-2's change `upto` (1-based; 0: none) left on `name`, or -1
 * when that change deleted it or none touched it. */
static long image_after(const struct origin_log *o, int upto, const char *name)
{
	long img = -1;

	for (int i = 0; i < upto; i++) {
		const char *p;

		if (strcmp(o->name[i], name) != 0)
			continue;
		p = o->r[i].c.op == STORE_OP_PUT && o->body[i] ? strstr(o->body[i], "o:") : NULL;
		img = p ? strtol(p + 2, NULL, 10) : -1;
	}
	return img;
}

/* The store holds exactly node-2's first `mark` changes: name by name. */
static bool holds_prefix(struct store *s, const struct origin_log *o, int mark)
{
	for (int k = 0; k < NAMES; k++) {
		char name[32];
		struct store_meta meta;
		char *body = NULL;
		long want, got = -1;
		int rc;

		name_of(k, name, sizeof(name));
		want = image_after(o, mark, name);
		rc = store_get(s, STORE_KIND_DEPLOYMENT, "default", name, &meta, &body);
		if (rc == 0 && body && strstr(body, "o:"))
			got = strtol(strstr(body, "o:") + 2, NULL, 10);
		free(body);
		if (got != want) {
			diag("%s: store has o:%ld, change %d of node-2 left o:%ld", name, got, mark, want);
			return false;
		}
	}
	return true;
}

/* Applies node-2's changes [from, to) (0-based) in whole-transaction
 * batches, as swarmfs-sync does, until the crash or the end, with the WAL
 * fsynced from outside after every third batch as sync_wal does once a
 * second; returns the index after the last change of the last committed
 * batch. */
static int apply_batches(struct store *s, const char *wal, const struct origin_log *o, int from,
			 int to)
{
	int i = from, batches = 0;

	while (i < to) {
		int end = i + APPLY_BATCH < to ? i + APPLY_BATCH : to;
		struct store_err err = {{0}};
		enum store_apply_outcome out;

		if (store_txn_begin_whole(s) < 0)
			return i;
		for (int j = i; j < end; j++) {
			if (store_apply(s, &o->r[j], -1, &out, &err) < 0) {
				if (!crashed)
					diag("applying change %d of node-2: %s", j + 1, err.msg);
				if (store_txn_open(s))
					store_txn_rollback(s);
				return i;
			}
		}
		if (store_txn_commit(s) < 0)
			return i;
		i = end;
		if (++batches % 3 == 0)
			outside_fsync(wal);
	}
	return i;
}

struct applied_run {
	long rounds, dropped, reached, refetched, bad_mark, bad_state, local_acked, local_lost;
	long integrity_bad;
};

/*
 * A store opened as the sidecar opens it (NORMAL) applies node-2's changes
 * in batches and loses power at a random I/O call.  After each reboot the
 * origin's mark must name exactly the prefix of node-2's changes the store
 * holds (so a fetch from the mark restores the rest), and when a local put
 * at FULL was acknowledged after some batches, those batches survive too.
 */
static void applied_scenario(struct applied_run *a, const struct origin_log *o, long per_put)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], db[300], wal[310];
	int applied = 0; /* what the rebooted store holds: the next to fetch */

	memset(a, 0, sizeof(*a));
	snprintf(dir, sizeof(dir), "%s/swarmfs-powerloss-applied.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(db, sizeof(db), "%s/%s", dir, STORE_DB_FILE);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	/* The store exists, durably, before the sidecar applies anything (the
	 * mount made it): a crash before it existed would leave nothing to
	 * check. */
	{
		struct store_options co = { .node = "node-1", .create = true };
		struct store_err err = {{0}};
		struct store *c = NULL;

		if (store_open(db, &co, &c, &err) < 0)
			die("create the applying store");
		store_close(c);
		restore_all();
	}
	for (int round = 0; round < 400 && applied < o->n; round++) {
		struct store_options so = { .node = "node-1", .sync = STORE_SYNC_NORMAL,
					    .create = true };
		struct store_err err = {{0}};
		struct store *s = NULL;
		int before_local = -1, committed = applied;
		int64_t mark = -1;
		bool local = round % 3 == 2;

		crashed = false;
		countdown = 1 + rand() % (APPLY_BATCH * 2 * per_put);
		if (store_open(db, &so, &s, &err) == 0) {
			/* Every third round: two batches, a local durable
			 * write (acknowledged only if it committed), the rest. */
			int two = applied + 2 * APPLY_BATCH < o->n ? applied + 2 * APPLY_BATCH : o->n;
			int reached = apply_batches(s, wal, o, applied, local ? two : o->n);

			if (local && !crashed) {
				struct store_result res;
				char doc[96];

				/* New content each time: an unchanged put commits nothing. */
				snprintf(doc, sizeof(doc),
					 "{\"spec\":{\"image\":\"local:%d\",\"replicas\":1}}", round);
				/* The mount's own connection, at FULL. */
				struct store_options mo = { .node = "node-1" };
				struct store *m = NULL;

				if (store_open(db, &mo, &m, &err) == 0 &&
				    store_put(m, STORE_KIND_DEPLOYMENT, "default", "local", doc,
					      strlen(doc), NULL, &res, &err) == 0)
					before_local = reached, a->local_acked++;
				store_close(m);
				if (!crashed)
					reached = apply_batches(s, wal, o, reached, o->n);
			}
			committed = reached;
		}
		crashed = true;
		store_close(s);
		a->dropped += restore_all();
		crashed = false;
		countdown = -1;
		a->rounds++;
		if (!integrity_ok(db))
			a->integrity_bad++;
		so.sync = STORE_SYNC_FULL;
		s = NULL;
		if (store_open(db, &so, &s, &err) < 0) {
			diag("round %d: reopen failed: %s", round, err.msg);
			a->bad_state++;
			break;
		}
		store_origin_seq(s, "node-2", &mark);
		if (mark < applied || mark > o->n) {
			diag("round %d: node-2's mark went from %d to %lld", round, applied,
			     (long long)mark);
			a->bad_mark++;
		} else if (!holds_prefix(s, o, (int)mark)) {
			a->bad_state++;
		}
		if (mark >= 0 && mark < committed)
			a->refetched += committed - mark;
		if (before_local >= 0 && mark < before_local) {
			diag("round %d: a local put was acknowledged after change %d, but only %lld "
			     "survived", round, before_local, (long long)mark);
			a->local_lost++;
		}
		store_close(s);
		restore_all();
		applied = mark >= applied ? (int)mark : applied;
	}
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("unable to remove '%s'", dir);
	}
	a->reached = applied;
}

int main(int argc, char **argv)
{
	struct run r;
	unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : (unsigned)getpid();

	log_level = LOG_CRIT;
	vfs_install();
	diag("seed %u (rerun: test-powerloss %u)", seed, seed);
	srand(seed);

	/* Calibrate: how many I/O calls does one put take? */
	io_ops = 0;
	scenario(&r, STORE_SYNC_FULL, 1, 40, 1, true, true);
	ok(r.wrong == 0 && r.lost == 0 && r.acked_total == 40,
	   "FULL, crash after 40 puts at a quiet moment: all %ld acknowledged puts survive",
	   r.acked_total);
	long per_put = io_ops / 40 > 0 ? io_ops / 40 : 1;
	diag("about %ld I/O calls per put", per_put);
	ok(io_ops > 40, "the store's I/O goes through the crash VFS (%ld calls)", io_ops);

	/* The real test: crashes at random I/O calls, mid-transaction included. */
	io_ops = 0;
	scenario(&r, STORE_SYNC_FULL, 200, 60, 60 * per_put, false, true);
	diag("FULL: %ld acknowledged puts over 200 crashes, %ld unsynced writes dropped, "
	     "%ld lost, %ld wrong, %ld integrity failures",
	     r.acked_total, r.dropped, r.lost, r.wrong, r.integrity_bad);
	ok(r.acked_total > 100, "FULL: the workload made progress (%ld acknowledged)", r.acked_total);
	ok(r.dropped > 0, "FULL: crashes did drop unsynced writes (%ld)", r.dropped);
	ok(r.lost == 0, "FULL: no acknowledged put lost (%ld lost)", r.lost);
	ok(r.wrong == 0, "FULL: no impossible state after a crash (%ld)", r.wrong);
	ok(r.integrity_bad == 0, "FULL: PRAGMA integrity_check ok after every crash (%ld bad)",
	   r.integrity_bad);

	/* Negative control 1: NORMAL syncs the WAL only at checkpoints, so a
	 * crash right after some commits must lose them, and the harness must
	 * notice. */
	scenario(&r, STORE_SYNC_NORMAL, 3, 30, 1, true, false);
	diag("NORMAL: %ld acknowledged, %ld lost", r.acked_total, r.lost);
	ok(r.lost > 0, "negative control: NORMAL loses acknowledged puts and the harness sees it (%ld)",
	   r.lost);
	ok(r.integrity_bad == 0, "NORMAL: still no corruption (%ld bad)", r.integrity_bad);

	/* Negative control 2: a disk that ignores fsync loses FULL's commits too. */
	ignore_sync = true;
	scenario(&r, STORE_SYNC_FULL, 3, 30, 1, true, false);
	ignore_sync = false;
	diag("FULL on a disk that ignores fsync: %ld acknowledged, %ld lost", r.acked_total, r.lost);
	ok(r.lost > 0, "negative control: a disk ignoring fsync loses puts and the harness sees it (%ld)",
	   r.lost);

	/* The sidecar's mode: applied changes at NORMAL, marks in the same rows. */
	{
		static struct origin_log o;
		struct applied_run a;
		const char *tmp = getenv("TMPDIR");
		char dir[256];

		snprintf(dir, sizeof(dir), "%s/swarmfs-powerloss-origin.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			die("mkdtemp");
		ok(make_origin(dir, &o), "a peer's store made %d changes to apply", o.n);
		applied_scenario(&a, &o, per_put);
		diag("applied at NORMAL: %ld crashes, reached change %ld of %d, %ld unsynced "
		     "writes dropped", a.rounds, a.reached, o.n, a.dropped);
		ok(a.reached == o.n, "every change was applied in the end, fetched again where a "
		   "crash took it (%ld of %d)", a.reached, o.n);
		ok(a.dropped > 0 && a.refetched > 0, "crashes did drop committed but unsynced "
		   "batches (%ld changes, %ld writes), to be fetched again", a.refetched, a.dropped);
		ok(a.bad_mark == 0, "the origin's mark never moved back or past what was sent (%ld)",
		   a.bad_mark);
		ok(a.bad_state == 0, "after every crash the store holds exactly the changes up to "
		   "the origin's mark (%ld bad)", a.bad_state);
		ok(a.local_acked > 0 && a.local_lost == 0, "a local put acknowledged at FULL kept "
		   "the batches before it (%ld puts, %ld lost)", a.local_acked, a.local_lost);
		ok(a.integrity_bad == 0, "PRAGMA integrity_check ok after every crash (%ld bad)",
		   a.integrity_bad);
		for (int i = 0; i < o.n; i++) {
			free(o.body[i]);
			free(o.source[i]);
		}
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("unable to remove '%s'", dir);
	}

	return done_testing();
}
