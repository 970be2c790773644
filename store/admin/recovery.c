/* recovery.c - composes the message that names the newest good snapshot of
 * a data dir and the exact command restoring it; depends on libstore only,
 * so the mount links it too and both print the same words. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "recovery.h"

bool admin_recovery_needed(int rc)
{
	return rc == -EIO;
}

struct snap_list {
	struct store_snapshot_info *v;
	size_t n, cap;
};

static int collect(const struct store_snapshot_info *info, void *arg)
{
	struct snap_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *info;
	return 0;
}

/* A snapshot is good when it opens as a store and store_check finds nothing. */
static bool snapshot_good(const char *dir, const char *name)
{
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	int64_t problems = 0;
	int rc = store_snapshot_open(dir, name, &s, &err);

	if (rc == 0)
		rc = store_check(s, NULL, NULL, &problems);
	store_close(s);
	return rc == 0 && problems == 0;
}

int admin_recovery_newest(const char *data_dir, struct store_snapshot_info *info,
			  int *damaged)
{
	struct snap_list l = { 0 };
	char dir[PATH_MAX];
	int saved = log_level, skipped = 0, rc;

	if (damaged)
		*damaged = 0;
	if (snprintf(dir, sizeof(dir), "%s/%s", data_dir, STORE_SNAPSHOT_DIR) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	/* The caller reports one line; the store's own lines about a damaged
	 * snapshot would only repeat the story. */
	log_level = LOG_CRIT;
	rc = store_snapshot_list(dir, collect, &l);
	if (rc == 0) {
		rc = -ENOENT;
		/* The list is oldest first. */
		for (size_t i = l.n; i > 0; i--) {
			if (snapshot_good(dir, l.v[i - 1].name)) {
				*info = l.v[i - 1];
				rc = 0;
				break;
			}
			skipped++;
		}
	}
	log_level = saved;
	free(l.v);
	if (damaged)
		*damaged = skipped;
	return rc;
}

/* Characters that need no quoting in a POSIX shell word. */
static bool shell_plain(const char *s)
{
	if (!*s)
		return false;
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789_./+-:@%,=")] == '\0';
}

/* `s` as one shell word in double quotes (the message itself wraps the
 * command in single quotes, so those are not used here). */
static void shell_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (shell_plain(s)) {
		snprintf(buf, size, "%s", s);
		return;
	}
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (; *s && o + 3 < size; s++) {
		if (strchr("\"$`\\", *s))
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

int admin_recovery_hint(const char *data_dir, const char *reason, char *buf,
			size_t size)
{
	struct store_snapshot_info info;
	char abs[PATH_MAX], quoted[2 * PATH_MAX + 3], db[PATH_MAX + 16];
	char lead[STORE_ERR_MAX + PATH_MAX + 32], created[32];
	int damaged = 0, rc;

	if (!realpath(data_dir, abs))
		snprintf(abs, sizeof(abs), "%s", data_dir);
	snprintf(db, sizeof(db), "%s/%s", data_dir, STORE_DB_FILE);
	if (!reason || !*reason)
		reason = "it cannot be opened";
	/* The store's messages name the file already: say it once. */
	if (strstr(reason, db))
		snprintf(lead, sizeof(lead), "%s", reason);
	else
		snprintf(lead, sizeof(lead), "store '%s' is corrupt: %s", db, reason);

	rc = admin_recovery_newest(data_dir, &info, &damaged);
	if (rc < 0) {
		char extra[64] = "";

		if (damaged > 0)
			snprintf(extra, sizeof(extra), " (%d damaged snapshot%s skipped)",
				 damaged, damaged == 1 ? "" : "s");
		snprintf(buf, size, "%s; there is no good snapshot to restore in '%s/%s'%s", lead,
			 data_dir, STORE_SNAPSHOT_DIR, extra);
		return -ENOENT;
	}
	store_format_time(info.created_ms, created, sizeof(created));
	shell_quote(abs, quoted, sizeof(quoted));
	snprintf(buf, size, "%s; the newest good snapshot is '%s' (revision %lld, %s): "
		 "run '" ADMIN_RECOVERY_PROG " --data-dir %s restore %s'", lead, info.name,
		 (long long)info.revision, created, quoted, info.name);
	return 0;
}
