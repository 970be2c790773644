/* status.c - what `swarmfs-admin status`/`check` and status.json report:
 * counts, log bounds, file sizes, and a full consistency check. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#include <cJSON.h>

static int64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int store_status(struct store *s, struct store_status *st)
{
	sqlite3_stmt *q;
	char wal[4096];
	int64_t version = 0;
	bool outer;
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->node, sizeof(st->node), "%s", s->node);
	st->sync = s->sync;

	/* One read transaction, so the numbers agree with each other. */
	outer = sqlite3_get_autocommit(s->db);
	rc = store_db_exec(s, outer ? "BEGIN" : "SAVEPOINT store_status", NULL);
	if (rc < 0)
		return rc;
	rc = store_revision(s, &st->revision);

	if (rc == 0)
		rc = store_db_stmt(s, STMT_STAT_RESOURCES, &q, NULL);
	if (rc == 0) {
		for (;;) {
			rc = sqlite3_step(q);
			if (rc != SQLITE_ROW)
				break;
			int kind = sqlite3_column_int(q, 0);
			bool deleted = sqlite3_column_int(q, 1) != 0;
			int64_t n = sqlite3_column_int64(q, 2);

			if (deleted)
				st->tombstones += n;
			else if (kind >= 0 && kind < STORE_KIND_COUNT)
				st->resources[kind] += n;
		}
		rc = rc == SQLITE_DONE ? 0 : store_db_error(s, rc, "count resources", NULL);
		store_db_release(s, STMT_STAT_RESOURCES, q);
	}

	if (rc == 0)
		rc = store_db_stmt(s, STMT_STAT_NAMESPACES, &q, NULL);
	if (rc == 0) {
		/* The implicit default namespace of every kind counts too. */
		for (int k = 0; k < STORE_KIND_COUNT; k++)
			st->namespaces[k] = 1;
		for (;;) {
			rc = sqlite3_step(q);
			if (rc != SQLITE_ROW)
				break;
			int kind = sqlite3_column_int(q, 0);

			if (kind >= 0 && kind < STORE_KIND_COUNT)
				st->namespaces[kind] += sqlite3_column_int64(q, 1);
		}
		rc = rc == SQLITE_DONE ? 0 : store_db_error(s, rc, "count namespaces", NULL);
		store_db_release(s, STMT_STAT_NAMESPACES, q);
	}

	if (rc == 0)
		rc = store_db_stmt(s, STMT_STAT_CHANGES, &q, NULL);
	if (rc == 0) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			st->changes = sqlite3_column_int64(q, 0);
			st->oldest_revision = sqlite3_column_int64(q, 1); /* NULL reads as 0 */
			rc = 0;
		} else {
			rc = store_db_error(s, rc, "count changes", NULL);
		}
		store_db_release(s, STMT_STAT_CHANGES, q);
	}

	if (rc == 0) {
		rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
		if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			version = sqlite3_column_int64(q, 0);
		rc = rc == SQLITE_OK ? 0 : store_db_error(s, rc, "read user_version", NULL);
		sqlite3_finalize(q);
		st->schema_version = (int)version;
	}
	/* Nothing was written: ending the read transaction cannot lose anything. */
	store_db_exec(s, outer ? "COMMIT" : "RELEASE store_status", NULL);

	st->db_bytes = file_size(s->path);
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	st->wal_bytes = file_size(wal);
	return rc;
}

/*
 * Turns a stored body {"labels","annotations","spec","status"} back into the
 * document a writer sends ({"metadata":{labels,annotations},"spec",...}).
 * Returns 0 and a new string in *out (caller frees with cJSON_free), or -EINVAL.
 */
static int body_to_document(const char *body, char **out, size_t *len)
{
	cJSON *root = cJSON_Parse(body);
	cJSON *meta = NULL;
	static const char *const in_metadata[] = { "labels", "annotations" };

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(in_metadata) / sizeof(in_metadata[0]); i++) {
		cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(root, in_metadata[i]);

		if (!item)
			continue;
		if (!meta) {
			meta = cJSON_CreateObject();
			cJSON_AddItemToObject(root, "metadata", meta);
		}
		cJSON_AddItemToObject(meta, in_metadata[i], item);
	}
	*out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!*out)
		return -ENOMEM;
	*len = strlen(*out);
	return 0;
}

int store_check(struct store *s, void (*cb)(const char *msg, void *arg),
		void *arg, int64_t *problems)
{
	char msg[STORE_ERR_MAX + 3 * (STORE_NAME_MAX + 16)];
	sqlite3_stmt *q;
	int rc;

	*problems = 0;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return store_db_error(s, rc, "integrity_check", NULL);
	for (;;) {
		rc = sqlite3_step(q);
		if (rc != SQLITE_ROW)
			break;
		const char *line = (const char *)sqlite3_column_text(q, 0);

		if (!line || strcmp(line, "ok") == 0)
			continue;
		/* One row can hold several problems, one per line, under a
		 * "*** in database main ***" heading: report each on its own. */
		while (*line) {
			size_t n = strcspn(line, "\n");

			if (n > 0 && strncmp(line, "*** ", 4) != 0) {
				snprintf(msg, sizeof(msg), "%.*s", (int)n, line);
				++*problems;
				if (cb)
					cb(msg, arg);
			}
			line += n;
			if (*line == '\n')
				line++;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		/* A database too broken to check is a finding, not a crash. */
		snprintf(msg, sizeof(msg), "integrity_check failed: %s", sqlite3_errmsg(s->db));
		++*problems;
		if (cb)
			cb(msg, arg);
		return store_db_error(s, rc, "integrity_check", NULL);
	}

	rc = store_db_stmt(s, STMT_CHECK_BODIES, &q, NULL);
	if (rc < 0)
		return rc;
	for (;;) {
		rc = sqlite3_step(q);
		if (rc != SQLITE_ROW)
			break;
		int kind = sqlite3_column_int(q, 0);
		const char *ns = (const char *)sqlite3_column_text(q, 1);
		const char *name = (const char *)sqlite3_column_text(q, 2);
		const char *body = (const char *)sqlite3_column_text(q, 3);
		struct store_err err = { "" };
		struct store_doc doc = { 0 };
		char *text = NULL;
		size_t len = 0;

		if (!ns)
			ns = "";
		if (!name)
			name = "";
		/* A body is not a document: validate the document a writer
		 * would have sent, and require that it parses back to the very
		 * same body, so a non-canonical row is found too. */
		if (kind < 0 || kind >= STORE_KIND_COUNT) {
			snprintf(msg, sizeof(msg), "%s/%s: unknown kind %d", ns, name, kind);
		} else if (!body) {
			snprintf(msg, sizeof(msg), STORE_PATH_FMT ": live resource without a body",
				 store_kind_dir((enum store_kind)kind), ns, name);
		} else if (body_to_document(body, &text, &len) < 0) {
			snprintf(msg, sizeof(msg), STORE_PATH_FMT ": stored body is not a JSON object",
				 store_kind_dir((enum store_kind)kind), ns, name);
		} else if (store_doc_parse((enum store_kind)kind, ns, name, text, len,
					   &doc, &err) < 0) {
			snprintf(msg, sizeof(msg), STORE_PATH_FMT ": %s",
				 store_kind_dir((enum store_kind)kind), ns, name, err.msg);
		} else if (strcmp(doc.body, body) != 0) {
			snprintf(msg, sizeof(msg), STORE_PATH_FMT ": stored body is not canonical",
				 store_kind_dir((enum store_kind)kind), ns, name);
		} else {
			store_doc_release(&doc);
			cJSON_free(text);
			continue;
		}
		store_doc_release(&doc);
		cJSON_free(text);
		++*problems;
		if (cb)
			cb(msg, arg);
	}
	rc = rc == SQLITE_DONE ? 0 : store_db_error(s, rc, "read resources", NULL);
	store_db_release(s, STMT_CHECK_BODIES, q);
	return rc;
}
