/* snapshot.c - snapshots as standalone SQLite files (DIR/NAME.db, each a
 * store file in its own right, marked by snapshot.* meta keys): taking one
 * in a single read transaction, listing, browsing, restoring the whole state
 * in one write transaction, and recovering a lost store from one.  A file
 * named NAME.db is only ever complete: it appears by rename after fsync. */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

/* Meta keys that make a store file a snapshot; recovery removes them. */
#define META_SNAP_NAME "snapshot.name"
#define META_SNAP_REVISION "snapshot.revision"
#define META_SNAP_CREATED "snapshot.created"
#define META_SNAP_AUTOMATIC "snapshot.automatic"

static int check_snapshot_name(const char *name, struct store_err *err)
{
	if (!name || !store_name_valid(name))
		return store_db_errf(err, -EINVAL,
				     "invalid snapshot name '%s': must be a DNS label (lowercase "
				     "letters, digits and '-', at most %d characters)",
				     name ? name : "", STORE_NAME_MAX);
	return 0;
}

static int snapshot_path(char *buf, size_t size, const char *dir, const char *name,
			 struct store_err *err)
{
	int n = snprintf(buf, size, "%s/%s.db", dir, name);

	if (n < 0 || (size_t)n >= size)
		return store_db_errf(err, -ENAMETOOLONG, "snapshot path '%s/%s.db' is too long",
				     dir, name);
	return 0;
}

/*
 * Maps a SQLite failure on a connection that is not a struct store (the
 * temporary copy, a snapshot being read).  Disk full becomes -ENOSPC
 * whether SQLite saw it as SQLITE_FULL or as an I/O error with ENOSPC.
 */
static int raw_error(sqlite3 *db, int rc, const char *path, const char *what,
		     struct store_err *err)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int sys = db ? sqlite3_system_errno(db) : 0;

	log_msg(LOG_ERR, "snapshot '%s': %s: %s", path, what, msg);
	if ((rc & 0xff) == SQLITE_FULL || sys == ENOSPC)
		return store_db_errf(err, -ENOSPC, "disk full");
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return store_db_errf(err, -EBUSY, "'%s' is busy: %s", path, msg);
	case SQLITE_NOMEM:
		return store_db_errf(err, -ENOMEM, "out of memory");
	case SQLITE_NOTADB:
		return store_db_errf(err, -EIO, "'%s' is not a swarmfs snapshot (file is not a database)",
				     path);
	case SQLITE_CORRUPT:
		return store_db_errf(err, -EIO, "'%s' is corrupt: %s", path, msg);
	default:
		return store_db_errf(err, -EIO, "'%s': %s: %s", path, what, msg);
	}
}

static int raw_exec(sqlite3 *db, const char *path, const char *sql, struct store_err *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return raw_error(db, rc, path, sql, err);
	return 0;
}

/* Makes a rename or unlink in `dir` durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Removes a temporary database and whatever journal SQLite left beside it. */
static void unlink_db_files(const char *path)
{
	static const char *const suffixes[] = { "", "-journal", "-wal", "-shm" };
	char buf[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]);
		if (unlink(buf) < 0 && errno != ENOENT)
			log_msg(LOG_WARNING, "cannot remove '%s': %s", buf, strerror(errno));
	}
}

/* PRAGMA integrity_check on a raw connection: 0 or -EIO with the first problem. */
static int raw_integrity_check(sqlite3 *db, const char *path, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return raw_error(db, rc, path, "integrity_check", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);

		if (line && strcmp(line, "ok") == 0) {
			rc = 0;
		} else {
			char first[STORE_ERR_MAX];

			snprintf(first, sizeof(first), "%s", line ? line : "integrity_check failed");
			first[strcspn(first, "\n")] = '\0';
			log_msg(LOG_ERR, "snapshot '%s': integrity_check: %s", path, first);
			rc = store_db_errf(err, -EIO, "'%s' fails integrity_check: %s", path, first);
		}
	} else {
		rc = raw_error(db, rc, path, "integrity_check", err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* One integer from a one-row query (0 when there is no row). */
static int raw_query_int(sqlite3 *db, const char *path, const char *sql,
			 int64_t *value, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	*value = 0;
	if (rc != SQLITE_OK)
		return raw_error(db, rc, path, sql, err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*value = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = raw_error(db, rc, path, sql, err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Writes the snapshot.* keys into the temporary copy, in its own transaction. */
static int write_snapshot_meta(sqlite3 *db, const char *path,
			       const struct store_snapshot_info *info,
			       struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = raw_exec(db, path, "BEGIN", err);

	if (rc < 0)
		return rc;
	rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES "
				"('" META_SNAP_NAME "', ?1), ('" META_SNAP_REVISION "', ?2), "
				"('" META_SNAP_CREATED "', ?3), ('" META_SNAP_AUTOMATIC "', ?4)",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, path, "write snapshot meta", err);
	} else {
		sqlite3_bind_text(st, 1, info->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, info->revision);
		sqlite3_bind_int64(st, 3, info->created_ms);
		sqlite3_bind_int(st, 4, info->automatic ? 1 : 0);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 : raw_error(db, rc, path, "write snapshot meta", err);
		sqlite3_finalize(st);
	}
	if (rc == 0)
		return raw_exec(db, path, "COMMIT", err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * Turns the fresh VACUUM INTO copy at `tmp` into a finished snapshot file:
 * rollback journal (so the file stands alone), snapshot meta, the revision it
 * holds, an integrity check and the resource count.
 */
static int finish_copy(const char *tmp, struct store_snapshot_info *info,
		       struct store_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, tmp, "open copy", err);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	/* The whole cluster state: as private as the store itself. */
	if (chmod(tmp, 0600) < 0)
		log_msg(LOG_WARNING, "cannot chmod '%s': %s", tmp, strerror(errno));
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=DELETE", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, tmp, "journal_mode", err);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "delete") == 0) {
		rc = 0;
	} else if (rc == SQLITE_ROW) {
		rc = store_db_errf(err, -EIO, "'%s': cannot leave WAL mode", tmp);
	} else {
		rc = raw_error(db, rc, tmp, "journal_mode", err);
	}
	sqlite3_finalize(st);
	/* The change log's AUTOINCREMENT high-water mark came along with the
	 * copy, so this is the revision of the read transaction VACUUM used. */
	if (rc == 0)
		rc = raw_query_int(db, tmp, "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
				   &info->revision, err);
	if (rc == 0)
		rc = write_snapshot_meta(db, tmp, info, err);
	if (rc == 0)
		rc = raw_integrity_check(db, tmp, err);
	if (rc == 0)
		rc = raw_query_int(db, tmp, "SELECT count(*) FROM resources WHERE deleted = 0",
				   &info->resources, err);
out:
	if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = raw_error(db, SQLITE_IOERR, tmp, "close copy", err);
	return rc;
}

int store_snapshot_create(struct store *s, const char *dir, const char *name,
			  bool automatic, struct store_snapshot_info *info,
			  struct store_err *err)
{
	struct store_snapshot_info local = { 0 };
	char final[PATH_MAX], tmp[PATH_MAX];
	sqlite3_stmt *st;
	struct stat sb;
	int rc, n;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	rc = check_snapshot_name(name, err);
	if (rc == 0)
		rc = store_prepare_data_dir(dir, false, err);
	if (rc == 0)
		rc = snapshot_path(final, sizeof(final), dir, name, err);
	if (rc < 0)
		return rc;
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.db.tmp-%ld", dir, name, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return store_db_errf(err, -ENAMETOOLONG, "snapshot path '%s' is too long", final);
	if (lstat(final, &sb) == 0)
		return store_db_errf(err, -EEXIST, "snapshot '%s' already exists", name);
	/* VACUUM refuses to run inside a transaction, and the snapshot must not
	 * see the caller's uncommitted writes anyway. */
	if (!sqlite3_get_autocommit(s->db))
		return store_db_errf(err, -EINVAL, "cannot take snapshot '%s' inside a transaction",
				     name);

	snprintf(info->name, sizeof(info->name), "%s", name);
	info->created_ms = store_db_now(s);
	info->automatic = automatic;

	/* A leftover of a crashed process that had our pid. */
	unlink_db_files(tmp);
	/* VACUUM INTO copies the whole database in one read transaction: WAL
	 * lets writers go on meanwhile, and the copy is compact. */
	rc = sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "prepare snapshot", err);
	sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = 0;
	} else if ((rc & 0xff) == SQLITE_FULL || sqlite3_system_errno(s->db) == ENOSPC) {
		log_msg(LOG_ERR, "snapshot '%s': copy: %s", tmp, sqlite3_errmsg(s->db));
		rc = -ENOSPC;
	} else {
		rc = store_db_error(s, rc, "take snapshot", err);
	}
	sqlite3_finalize(st);
	/* The copy is on disk, whole or not. */
	if (rc == 0) {
		fiu_do_on("store/snapshot/write", rc = store_db_fault(s, "snapshot copy", err));
	}
	if (rc == 0)
		rc = finish_copy(tmp, info, err);
	if (rc == 0) {
		rc = fsync_file(tmp);
		fiu_do_on("store/snapshot/fsync", rc = store_db_fault(s, "snapshot sync", NULL));
		if (rc < 0)
			store_db_errf(err, rc, "cannot sync snapshot '%s': %s", name, strerror(-rc));
	}
	if (rc == 0) {
		fiu_do_on("store/snapshot/rename", rc = store_db_fault(s, "snapshot rename", err));
	}
	if (rc == 0) {
		/* NOREPLACE: a snapshot of the same name taken meanwhile by
		 * another process wins, ours is dropped. */
		rc = 0;
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
			rc = -errno;
		/* Filesystems without RENAME_NOREPLACE: check, then rename. */
		if (rc == -EINVAL) {
			rc = 0;
			if (lstat(final, &sb) == 0)
				rc = -EEXIST;
			else if (rename(tmp, final) < 0)
				rc = -errno;
		}
		if (rc < 0) {
			if (rc == -EEXIST)
				store_db_errf(err, rc, "snapshot '%s' already exists", name);
			else
				store_db_errf(err, rc, "cannot rename '%s' to '%s': %s",
					      tmp, final, strerror(-rc));
		}
	}
	if (rc == -ENOSPC)
		store_db_errf(err, rc, "not enough space for snapshot '%s'", name);
	if (rc < 0) {
		unlink_db_files(tmp);
		memset(info, 0, sizeof(*info));
		return rc;
	}
	rc = fsync_dir(dir);
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot sync snapshot dir '%s': %s", dir, strerror(-rc));
	if (stat(final, &sb) == 0)
		info->bytes = sb.st_size;
	log_msg(LOG_INFO, "took %s snapshot '%s' at revision %lld (%lld resources)",
		automatic ? "automatic" : "manual", name, (long long)info->revision,
		(long long)info->resources);
	return 0;
}

/* Reads a snapshot file's info without the store machinery (no node check,
 * no migration), so listing stays cheap and works for any schema. */
static int read_info(const char *path, const char *name,
		     struct store_snapshot_info *info, struct store_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool marked = false;
	struct stat sb;
	int rc;

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return store_db_errf(err, -ENOENT, "no snapshot '%s'", name);
		return store_db_errf(err, -errno, "cannot read snapshot '%s': %s", name,
				     strerror(errno));
	}
	info->bytes = sb.st_size;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, path, "open", err);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	rc = sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key LIKE 'snapshot.%'",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, path, "read snapshot meta", err);
		goto out;
	}
	for (;;) {
		const char *key;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		key = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(key, META_SNAP_NAME) == 0)
			marked = true;
		else if (strcmp(key, META_SNAP_REVISION) == 0)
			info->revision = sqlite3_column_int64(st, 1);
		else if (strcmp(key, META_SNAP_CREATED) == 0)
			info->created_ms = sqlite3_column_int64(st, 1);
		else if (strcmp(key, META_SNAP_AUTOMATIC) == 0)
			info->automatic = sqlite3_column_int64(st, 1) != 0;
	}
	if (rc != SQLITE_DONE) {
		rc = raw_error(db, rc, path, "read snapshot meta", err);
		goto out;
	}
	if (!marked) {
		rc = store_db_errf(err, -EINVAL, "'%s' is not a swarmfs snapshot", path);
		goto out;
	}
	rc = raw_query_int(db, path, "SELECT count(*) FROM resources WHERE deleted = 0",
			   &info->resources, err);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int store_snapshot_get(const char *dir, const char *name,
		       struct store_snapshot_info *info, struct store_err *err)
{
	struct store_snapshot_info local;
	char path[PATH_MAX];
	int rc = check_snapshot_name(name, err);

	if (!info)
		info = &local;
	if (rc == 0)
		rc = snapshot_path(path, sizeof(path), dir, name, err);
	if (rc < 0)
		return rc;
	return read_info(path, name, info, err);
}

static int compare_oldest_first(const void *a, const void *b)
{
	const struct store_snapshot_info *x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* All readable snapshots in dir, oldest first; *v is a new array, caller
 * frees with free().  A missing dir has none. */
static int collect_snapshots(const char *dir, struct store_snapshot_info **v, size_t *n)
{
	struct store_snapshot_info *infos = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*v = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		log_msg(LOG_ERR, "cannot list snapshots in '%s': %s", dir, strerror(errno));
		return -errno;
	}
	for (;;) {
		struct store_err err = { "" };
		char name[STORE_NAME_MAX + 1];
		char path[PATH_MAX];
		size_t len;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		len = strlen(de->d_name);
		/* Temporary copies start with a dot and so fail the name check. */
		if (len <= 3 || len - 3 > STORE_NAME_MAX || strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		memcpy(name, de->d_name, len - 3);
		name[len - 3] = '\0';
		if (!store_name_valid(name))
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *nv = realloc(infos, ncap * sizeof(*infos));

			if (!nv) {
				free(infos);
				closedir(d);
				return -ENOMEM;
			}
			infos = nv;
			cap = ncap;
		}
		if (snapshot_path(path, sizeof(path), dir, name, &err) < 0 ||
		    read_info(path, name, &infos[count], &err) < 0) {
			log_msg(LOG_WARNING, "skipping snapshot '%s': %s", name, err.msg);
			continue;
		}
		count++;
	}
	closedir(d);
	/* No snapshot leaves infos NULL, which qsort may not be given. */
	if (count > 1)
		qsort(infos, count, sizeof(*infos), compare_oldest_first);
	*v = infos;
	*n = count;
	return 0;
}

int store_snapshot_list(const char *dir, store_snapshot_cb cb, void *arg)
{
	struct store_snapshot_info *v;
	size_t n;
	int rc = collect_snapshots(dir, &v, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cb(&v[i], arg);
	free(v);
	return rc;
}

int store_snapshot_delete(const char *dir, const char *name, struct store_err *err)
{
	char path[PATH_MAX];
	int rc = check_snapshot_name(name, err);

	if (rc == 0)
		rc = snapshot_path(path, sizeof(path), dir, name, err);
	if (rc < 0)
		return rc;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return store_db_errf(err, -ENOENT, "no snapshot '%s'", name);
		return store_db_errf(err, -errno, "cannot remove snapshot '%s': %s", name,
				     strerror(errno));
	}
	rc = fsync_dir(dir);
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot sync snapshot dir '%s': %s", dir, strerror(-rc));
	return 0;
}

/*
 * A snapshot taken by an older swarmfs has an older schema, and a read-only
 * store_open refuses to migrate.  Backups must stay usable after an upgrade,
 * so migrate the file in place, exactly as the main store is migrated (each
 * step is one transaction), then put it back in rollback-journal mode so it
 * stays a standalone file, and check it.
 */
static int upgrade_snapshot(const char *path, const char *name, struct store_err *err)
{
	struct store_options opts = { 0 };
	struct store *s = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int version = -1, rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* Unreadable or newer: store_open will say precisely what is wrong. */
	if (version < 0 || version >= STORE_SCHEMA_VERSION)
		return 0;

	rc = store_open(path, &opts, &s, err);
	store_close(s);
	if (rc < 0)
		return rc;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = raw_integrity_check(db, path, err);
	else
		rc = store_db_errf(err, -EIO, "cannot upgrade snapshot '%s': %s", name,
				   sqlite3_errmsg(db));
	sqlite3_close(db);
	if (rc == 0)
		log_msg(LOG_NOTICE, "upgraded snapshot '%s' from schema version %d to %d",
			name, version, STORE_SCHEMA_VERSION);
	return rc;
}

int store_snapshot_open(const char *dir, const char *name, struct store **out,
			struct store_err *err)
{
	struct store_options opts = { .readonly = true };
	char path[PATH_MAX];
	struct stat sb;
	int rc = check_snapshot_name(name, err);

	*out = NULL;
	if (rc == 0)
		rc = snapshot_path(path, sizeof(path), dir, name, err);
	if (rc < 0)
		return rc;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return store_db_errf(err, -ENOENT, "no snapshot '%s'", name);
		return store_db_errf(err, -errno, "cannot open snapshot '%s': %s", name,
				     strerror(errno));
	}
	rc = upgrade_snapshot(path, name, err);
	if (rc < 0)
		return rc;
	/* No node given: the snapshot keeps the node name of its store. */
	return store_open(path, &opts, out, err);
}

/* ---- restore ---------------------------------------------------------------- */

/* Whether the probe `st` (kind, ns[, name] as ?1..?3) finds a live row;
 * returns a SQLite code on failure. */
static int row_live(sqlite3_stmt *st, int kind, const char *ns, const char *name,
		    bool *live)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_TRANSIENT);
	/* Namespace probes have no ?3: SQLITE_RANGE, harmless. */
	sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	*live = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rc;
}

/* kind/ns/name triples collected from a query before the table changes. */
struct triples {
	struct triple {
		int kind;
		char ns[STORE_NAME_MAX + 1];
		char name[STORE_NAME_MAX + 1];
	} *v;
	size_t n, cap;
};

static int triples_add(struct triples *t, int kind, const char *ns, const char *name)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		void *v = realloc(t->v, cap * sizeof(*t->v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].kind = kind;
	snprintf(t->v[t->n].ns, sizeof(t->v[0].ns), "%s", ns ? ns : "");
	snprintf(t->v[t->n].name, sizeof(t->v[0].name), "%s", name ? name : "");
	t->n++;
	return 0;
}

/*
 * Runs `sql` (selecting kind, namespace[, name]) on `from` and keeps each row
 * that `probe` (kind, ns, name bound on the other connection) does not find.
 */
static int collect_missing(struct store *from, const char *sql, sqlite3 *other_db,
			   sqlite3_stmt *probe, struct triples *out, struct store_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(from->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(from, rc, "list for restore", err);
	for (;;) {
		int kind;
		const char *ns, *name;
		bool live;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		kind = sqlite3_column_int(st, 0);
		ns = (const char *)sqlite3_column_text(st, 1);
		name = sqlite3_column_count(st) > 2 ? (const char *)sqlite3_column_text(st, 2) : "";
		if (kind < 0 || kind >= STORE_KIND_COUNT || !ns || !name)
			continue;
		rc = row_live(probe, kind, ns, name, &live);
		if (rc != 0) {
			rc = raw_error(other_db, rc, "snapshot", "read for restore", err);
			break;
		}
		if (!live) {
			rc = triples_add(out, kind, ns, name);
			if (rc < 0) {
				store_db_errf(err, rc, "out of memory");
				break;
			}
		}
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = store_db_error(from, rc, "list for restore", err);
	sqlite3_finalize(st);
	sqlite3_reset(probe);
	return rc;
}

/* Live namespaces are probed with the default one counting as always live. */
#define NS_PROBE "SELECT 1 FROM namespaces WHERE kind = ?1 AND name = ?2 AND deleted = 0 " \
		 "UNION ALL SELECT 1 WHERE ?2 = '" STORE_DEFAULT_NAMESPACE "'"
#define RES_PROBE "SELECT 1 FROM resources WHERE kind = ?1 AND namespace = ?2 " \
		  "AND name = ?3 AND deleted = 0"
#define NS_LIVE "SELECT kind, name FROM namespaces WHERE deleted = 0 AND name <> '" \
		STORE_DEFAULT_NAMESPACE "' ORDER BY kind, name"
#define RES_LIVE "SELECT kind, namespace, name FROM resources WHERE deleted = 0 " \
		 "ORDER BY kind, namespace, name"

/* Puts every snapshot resource whose body differs from the live one. */
static int restore_bodies(struct store *s, struct store *snap, const char *source,
			  struct store_result *res, struct store_err *err)
{
	const struct store_put_opts opts = { .source = source, .ignore_version = true };
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(snap->db, "SELECT kind, namespace, name, body FROM resources "
				    "WHERE deleted = 0 ORDER BY kind, namespace, name", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store_db_error(snap, rc, "read snapshot", err);
	for (;;) {
		struct store_meta meta = { 0 };
		int kind;
		const char *ns, *name, *body;
		char *live = NULL, *doc = NULL;
		size_t len = 0;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		kind = sqlite3_column_int(st, 0);
		ns = (const char *)sqlite3_column_text(st, 1);
		name = (const char *)sqlite3_column_text(st, 2);
		body = (const char *)sqlite3_column_text(st, 3);
		if (kind < 0 || kind >= STORE_KIND_COUNT || !ns || !name || !body)
			continue;
		rc = store_get(s, (enum store_kind)kind, ns, name, NULL, &live);
		if (rc < 0 && rc != -ENOENT) {
			store_db_errf(err, rc, "cannot read '" STORE_PATH_FMT "'",
				      store_kind_dir((enum store_kind)kind), ns, name);
			break;
		}
		rc = 0;
		if (live && strcmp(live, body) == 0) {
			free(live);
			continue;
		}
		free(live);
		/* The body lacks kind and metadata; the content rendering is the
		 * document a user would write back, and store_put validates it
		 * as any other write. */
		rc = store_render((enum store_kind)kind, ns, name, &meta, body,
				  STORE_RENDER_CONTENT | STORE_RENDER_COMPACT, &doc, &len);
		if (rc < 0) {
			store_db_errf(err, rc, "snapshot holds an invalid '" STORE_PATH_FMT "'",
				      store_kind_dir((enum store_kind)kind), ns, name);
			break;
		}
		rc = store_put(s, (enum store_kind)kind, ns, name, doc, len, &opts, res, err);
		free(doc);
		if (rc < 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = store_db_error(snap, rc, "read snapshot", err);
	sqlite3_finalize(st);
	return rc;
}

/* The whole restore, inside the write transaction w opened. */
static int restore_txn(struct store *s, struct store *snap, const char *source,
		       struct store_result *res, struct store_err *err)
{
	struct triples add_ns = { 0 }, del_res = { 0 }, del_ns = { 0 };
	sqlite3_stmt *live_ns = NULL, *snap_ns = NULL, *snap_res = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(s->db, NS_PROBE, -1, &live_ns, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(snap->db, NS_PROBE, -1, &snap_ns, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(snap->db, RES_PROBE, -1, &snap_res, NULL) != SQLITE_OK) {
		rc = store_db_errf(err, -EIO, "cannot prepare restore: %s",
				   sqlite3_errmsg(snap_ns ? snap->db : s->db));
		goto out;
	}
	/* Decide everything against the state before the restore. */
	rc = collect_missing(snap, NS_LIVE, s->db, live_ns, &add_ns, err);
	if (rc == 0)
		rc = collect_missing(s, RES_LIVE, snap->db, snap_res, &del_res, err);
	if (rc == 0)
		rc = collect_missing(s, NS_LIVE, snap->db, snap_ns, &del_ns, err);

	for (size_t i = 0; rc == 0 && i < add_ns.n; i++)
		rc = store_db_ns_write(s, STORE_OP_NS_CREATE, add_ns.v[i].kind,
			      add_ns.v[i].ns, source, &res->revision, err);
	if (rc == 0)
		rc = restore_bodies(s, snap, source, res, err);
	for (size_t i = 0; rc == 0 && i < del_res.n; i++) {
		const struct triple *t = &del_res.v[i];
		struct store_meta meta;

		rc = store_stat(s, (enum store_kind)t->kind, t->ns, t->name, &meta);
		if (rc == 0)
			rc = store_db_tombstone(s, (enum store_kind)t->kind, t->ns, t->name,
						meta.version, source, res, err);
		else
			store_db_errf(err, rc, "cannot delete '" STORE_PATH_FMT "'",
				      store_kind_dir((enum store_kind)t->kind), t->ns, t->name);
		if (rc == 0)
			rc = store_db_ns_touch(s, (enum store_kind)t->kind, t->ns,
					       store_db_now(s), err);
	}
	/* Their resources are gone by now: none of them is in the snapshot. */
	for (size_t i = 0; rc == 0 && i < del_ns.n; i++)
		rc = store_db_ns_write(s, STORE_OP_NS_DELETE, del_ns.v[i].kind,
			      del_ns.v[i].ns, source, &res->revision, err);
out:
	sqlite3_finalize(live_ns);
	sqlite3_finalize(snap_ns);
	sqlite3_finalize(snap_res);
	free(add_ns.v);
	free(del_res.v);
	free(del_ns.v);
	return rc;
}

int store_snapshot_restore(struct store *s, const char *dir, const char *name,
			   struct store_result *res, struct store_err *err)
{
	struct store_result local = { 0 };
	char source[STORE_NAME_MAX + 16];
	struct store_db_write w;
	struct store *snap = NULL;
	int64_t before = 0;
	int rc;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	rc = store_snapshot_open(dir, name, &snap, err);
	if (rc < 0)
		return rc;
	snprintf(source, sizeof(source), "snapshot:%s", name);
	rc = store_db_write_begin(s, &w, err);
	if (rc < 0)
		goto out;
	/* The snapshot is read through its own connection: a read transaction
	 * on it for the whole restore gives one consistent view. */
	rc = store_revision(s, &before);
	if (rc == 0)
		rc = store_db_exec(snap, "BEGIN", err);
	if (rc == 0) {
		rc = restore_txn(s, snap, source, res, err);
		store_db_exec(snap, "COMMIT", NULL);
	}
	rc = store_db_write_end(s, &w, rc, err);
	if (rc == 0) {
		if (res->revision == 0)
			res->revision = before;
		/* Inside the caller's transaction it is not done until they commit. */
		log_msg(w.outer ? LOG_NOTICE : LOG_INFO, "restored snapshot '%s' (%lld changes%s)",
			name, (long long)(res->revision - before),
			w.outer ? "" : ", in the caller's transaction");
	}
out:
	store_close(snap);
	return rc;
}

/* ---- recover ----------------------------------------------------------------- */

/* Copies src to dst (created, must not exist) and fsyncs it. */
static int copy_file(const char *src, const char *dst, struct store_err *err)
{
	char buf[65536];
	int in, out, rc = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return store_db_errf(err, -errno, "cannot read '%s': %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = store_db_errf(err, -errno, "cannot create '%s': %s", dst, strerror(errno));
		close(in);
		return rc;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		ssize_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = store_db_errf(err, -errno, "cannot read '%s': %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		while (off < n) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = store_db_errf(err, -errno, "cannot write '%s': %s", dst,
						   strerror(errno));
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && fsync(out) < 0)
		rc = store_db_errf(err, -errno, "cannot sync '%s': %s", dst, strerror(errno));
	if (close(out) < 0 && rc == 0)
		rc = store_db_errf(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
	close(in);
	return rc;
}

/* Verifies the copy and strips the snapshot marks: it is a live store now
 * (the node name recorded in it stays). */
static int unmark_copy(const char *path, struct store_err *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		rc = raw_error(db, rc, path, "open copy", err);
	} else {
		sqlite3_extended_result_codes(db, 1);
		rc = raw_integrity_check(db, path, err);
		if (rc == 0)
			rc = raw_exec(db, path, "DELETE FROM meta WHERE key LIKE 'snapshot.%'", err);
	}
	if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = raw_error(db, SQLITE_IOERR, path, "close copy", err);
	if (rc == 0) {
		rc = fsync_file(path);
		if (rc < 0)
			store_db_errf(err, rc, "cannot sync '%s': %s", path, strerror(-rc));
	}
	return rc;
}

/* Picks PATH.damaged-YYYYmmddTHHMMSS, with -2, -3... if that exists. */
static int aside_name(const char *db_path, char **out)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (int i = 1; i < 1000; i++) {
		struct stat sb;
		char *name;
		int n = i == 1 ? asprintf(&name, "%s.damaged-%s", db_path, stamp)
			       : asprintf(&name, "%s.damaged-%s-%d", db_path, stamp, i);

		if (n < 0)
			return -ENOMEM;
		if (lstat(name, &sb) < 0 && errno == ENOENT) {
			*out = name;
			return 0;
		}
		free(name);
	}
	return -EEXIST;
}

/* Moves db_path and its -wal/-shm/-journal to aside (plus the same suffix). */
static int move_aside(const char *db_path, const char *aside, bool *moved,
		      struct store_err *err)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };

	*moved = false;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char from[PATH_MAX + 16], to[PATH_MAX + 64];

		snprintf(from, sizeof(from), "%s%s", db_path, suffixes[i]);
		snprintf(to, sizeof(to), "%s%s", aside, suffixes[i]);
		if (rename(from, to) < 0) {
			if (errno == ENOENT)
				continue;
			return store_db_errf(err, -errno, "cannot move '%s' aside to '%s': %s",
					     from, to, strerror(errno));
		}
		*moved = true;
	}
	return 0;
}

int store_snapshot_recover(const char *db_path, const char *dir, const char *name,
			   char **aside, struct store_err *err)
{
	char src[PATH_MAX], tmp[PATH_MAX + 32], parent[PATH_MAX];
	struct store_snapshot_info info;
	char *aside_path = NULL;
	const char *slash;
	bool moved = false;
	int rc;

	*aside = NULL;
	rc = store_snapshot_get(dir, name, &info, err);
	if (rc == 0)
		rc = snapshot_path(src, sizeof(src), dir, name, err);
	if (rc < 0)
		return rc;
	slash = strrchr(db_path, '/');
	if (strlen(db_path) >= sizeof(parent))
		return store_db_errf(err, -ENAMETOOLONG, "path '%s' is too long", db_path);
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == db_path)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - db_path), db_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", db_path, (long)getpid());

	/* The replacement is complete and checked before anything is moved. */
	unlink_db_files(tmp);
	rc = copy_file(src, tmp, err);
	if (rc == 0)
		rc = unmark_copy(tmp, err);
	if (rc == 0) {
		rc = aside_name(db_path, &aside_path);
		if (rc < 0)
			store_db_errf(err, rc, "cannot pick a name to move '%s' aside", db_path);
	}
	if (rc == 0)
		rc = move_aside(db_path, aside_path, &moved, err);
	if (rc == 0 && rename(tmp, db_path) < 0)
		rc = store_db_errf(err, -errno, "cannot rename '%s' to '%s': %s", tmp, db_path,
				   strerror(errno));
	if (rc < 0) {
		unlink_db_files(tmp);
		if (moved)
			log_msg(LOG_ERR, "recovery of '%s' failed after moving it aside to '%s'",
				db_path, aside_path);
		free(aside_path);
		return rc;
	}
	rc = fsync_dir(parent);
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot sync '%s': %s", parent, strerror(-rc));
	log_msg(LOG_NOTICE, "recovered '%s' from snapshot '%s' (revision %lld)%s%s", db_path,
		name, (long long)info.revision, moved ? "; the old store is at " : "",
		moved ? aside_path : "");
	if (!moved) {
		free(aside_path);
		aside_path = NULL;
	}
	*aside = aside_path;
	return 0;
}

/* ---- prune -------------------------------------------------------------------- */

/* Removes .NAME.db.tmp-PID copies left by a process that died while taking a
 * snapshot (a live one may still be writing its copy). */
static void remove_stale_copies(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	for (de = readdir(d); de; de = readdir(d)) {
		const char *mark = strstr(de->d_name, ".db.tmp-");
		char path[PATH_MAX], *end;
		long pid;

		if (de->d_name[0] != '.' || !mark)
			continue;
		errno = 0;
		pid = strtol(mark + 8, &end, 10);
		if (errno || pid <= 0 || *end || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		log_msg(LOG_NOTICE, "removing '%s', left by a snapshot that never finished", path);
		unlink_db_files(path);
	}
	closedir(d);
}

int store_snapshot_prune(const char *dir, const struct store_retention *r,
			 store_snapshot_cb cb, void *arg, struct store_err *err)
{
	struct store_snapshot_info *v;
	bool *keep;
	size_t n;
	int rc;

	remove_stale_copies(dir);
	rc = collect_snapshots(dir, &v, &n);
	if (rc < 0)
		return store_db_errf(err, rc, "cannot list snapshots in '%s': %s", dir,
				     strerror(-rc));
	keep = calloc(n ? n : 1, sizeof(*keep));
	if (!keep) {
		free(v);
		return store_db_errf(err, -ENOMEM, "out of memory");
	}
	store_retention_select(v, n, r, keep);
	for (size_t i = 0; i < n; i++) {
		char created[32];
		int rc2;

		if (keep[i])
			continue;
		if (cb) {
			rc2 = cb(&v[i], arg);
			if (rc2 != 0) {
				rc = rc2;
				break;
			}
		}
		store_format_time(v[i].created_ms, created, sizeof(created));
		rc2 = store_snapshot_delete(dir, v[i].name, rc == 0 ? err : NULL);
		if (rc2 < 0) {
			log_msg(LOG_ERR, "cannot prune snapshot '%s': %s", v[i].name, strerror(-rc2));
			if (rc == 0)
				rc = rc2;
			continue;
		}
		log_msg(LOG_NOTICE, "pruned automatic snapshot '%s' (created %s)", v[i].name, created);
	}
	free(keep);
	free(v);
	return rc;
}
