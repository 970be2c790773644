/* export.c - the whole state of a store as one deterministic JSON document
 * (format "swarmfs-export", version 1), and a jq-style JSON printer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

/* ---- JSON printing ---------------------------------------------------------- */

void admin_json_put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			/* jq escapes DEL too; UTF-8 passes through untouched */
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void put_number(FILE *f, double d)
{
	char buf[32];

	if (!isfinite(d)) {
		fputs("null", f);
		return;
	}
	/* integers exactly as integers; 2^53 is where doubles stop being exact */
	if (d == floor(d) && fabs(d) < 9007199254740992.0) {
		fprintf(f, "%" PRId64, (int64_t)d);
		return;
	}
	/* the shortest of %.15g and %.17g that reads back as the same double */
	snprintf(buf, sizeof(buf), "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof(buf), "%.17g", d);
	fputs(buf, f);
}

static void indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

static void put_value(FILE *f, const cJSON *item, int depth)
{
	const cJSON *c;

	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		bool obj = cJSON_IsObject(item);

		if (!item->child) {
			fputs(obj ? "{}" : "[]", f);
			return;
		}
		fputc(obj ? '{' : '[', f);
		for (c = item->child; c; c = c->next) {
			fputc('\n', f);
			indent(f, depth + 1);
			if (obj) {
				admin_json_put_string(f, c->string ? c->string : "");
				fputs(": ", f);
			}
			put_value(f, c, depth + 1);
			if (c->next)
				fputc(',', f);
		}
		fputc('\n', f);
		indent(f, depth);
		fputc(obj ? '}' : ']', f);
	} else if (cJSON_IsString(item)) {
		admin_json_put_string(f, item->valuestring);
	} else if (cJSON_IsNumber(item)) {
		put_number(f, item->valuedouble);
	} else if (cJSON_IsTrue(item)) {
		fputs("true", f);
	} else if (cJSON_IsFalse(item)) {
		fputs("false", f);
	} else {
		fputs("null", f);
	}
}

int admin_json_print(const cJSON *item, char **out, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return -ENOMEM;
	put_value(f, item, 0);
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = size;
	return 0;
}

/* ---- collecting names ------------------------------------------------------ */

struct names {
	char **v;
	size_t n, cap;
};

static void names_release(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(name);
	if (!ns->v[ns->n])
		return -ENOMEM;
	ns->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_ns(const struct store_ns_info *info, void *arg)
{
	return names_add(arg, info->name);
}

static int collect_entry(const struct store_entry *e, void *arg)
{
	return names_add(arg, e->name);
}

static void set_err(struct store_err *err, const char *fmt, const char *a,
		    int rc)
{
	if (err)
		snprintf(err->msg, sizeof(err->msg), fmt, a, strerror(-rc));
}

/* ---- export ------------------------------------------------------------------ */

/* Adds every live resource of kind/ns to `resources` as parsed objects. */
static int export_namespace(struct store *s, enum store_kind kind,
			    const char *ns, cJSON *resources,
			    struct store_err *err)
{
	struct names names = { 0 };
	int rc;

	/* names first: reading inside the listing callback would nest
	 * statements on one connection */
	rc = store_list(s, kind, ns, collect_entry, &names);
	if (rc < 0) {
		set_err(err, "unable to list '%s': %s", ns, rc);
		goto out;
	}
	/* qsort's array must not be NULL, even for no elements */
	if (names.n > 0)
		qsort(names.v, names.n, sizeof(*names.v), cmp_names);
	for (size_t i = 0; i < names.n; i++) {
		struct store_meta meta;
		char *doc = NULL;
		size_t len = 0;
		cJSON *obj;

		rc = store_read(s, kind, ns, names.v[i], STORE_RENDER_LIVE,
				&meta, &doc, &len);
		if (rc == -ENOENT)
			continue; /* deleted between list and read */
		if (rc < 0) {
			set_err(err, "unable to read '%s': %s", names.v[i], rc);
			goto out;
		}
		obj = cJSON_ParseWithLength(doc, len);
		free(doc);
		if (!obj) {
			rc = -EIO;
			if (err)
				snprintf(err->msg, sizeof(err->msg),
					 "stored document '%s/%s/%s' does not parse",
					 store_kind_dir(kind), ns, names.v[i]);
			goto out;
		}
		if (!cJSON_AddItemToArray(resources, obj)) {
			cJSON_Delete(obj);
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	names_release(&names);
	return rc;
}

static int export_locked(struct store *s, int64_t now_ms, cJSON *root,
			 struct store_err *err)
{
	cJSON *nsobj, *resources;
	char when[32];
	int64_t revision = 0;
	int rc;

	rc = store_revision(s, &revision);
	if (rc < 0) {
		set_err(err, "unable to read the revision%s: %s", "", rc);
		return rc;
	}
	store_format_time(now_ms, when, sizeof(when));
	if (!cJSON_AddStringToObject(root, "format", ADMIN_EXPORT_FORMAT) ||
	    !cJSON_AddNumberToObject(root, "version", ADMIN_EXPORT_VERSION) ||
	    !cJSON_AddStringToObject(root, "node", store_node(s)) ||
	    !cJSON_AddNumberToObject(root, "revision", (double)revision) ||
	    !cJSON_AddStringToObject(root, "exported", when))
		return -ENOMEM;
	nsobj = cJSON_AddObjectToObject(root, "namespaces");
	resources = cJSON_AddArrayToObject(root, "resources");
	if (!nsobj || !resources)
		return -ENOMEM;

	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		struct names nss = { 0 };
		cJSON *arr = cJSON_AddArrayToObject(nsobj, store_kind_dir(k));

		if (!arr)
			return -ENOMEM;
		rc = store_ns_list(s, k, collect_ns, &nss);
		if (rc < 0) {
			set_err(err, "unable to list the namespaces of '%s': %s",
				store_kind_dir(k), rc);
			names_release(&nss);
			return rc;
		}
		qsort(nss.v, nss.n, sizeof(*nss.v), cmp_names);
		for (size_t i = 0; i < nss.n && rc == 0; i++) {
			cJSON *str = cJSON_CreateString(nss.v[i]);

			if (!str || !cJSON_AddItemToArray(arr, str)) {
				cJSON_Delete(str);
				rc = -ENOMEM;
			}
		}
		for (size_t i = 0; i < nss.n && rc == 0; i++)
			rc = export_namespace(s, k, nss.v[i], resources, err);
		names_release(&nss);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int admin_export(struct store *s, int64_t now_ms, cJSON **out,
		 struct store_err *err)
{
	cJSON *root = cJSON_CreateObject();
	bool txn;
	int rc;

	if (!root)
		return -ENOMEM;
	/* One transaction so the revision and every document are one state,
	 * even while a mount or sidecar writes.  A read-only store cannot
	 * begin one; then there is no writer in this process to race with
	 * and we accept what the other processes do meanwhile. */
	rc = store_txn_begin(s);
	txn = rc == 0;
	if (rc < 0 && rc != -EROFS) {
		cJSON_Delete(root);
		set_err(err, "unable to begin a transaction%s: %s", "", rc);
		return rc;
	}
	rc = export_locked(s, now_ms, root, err);
	if (txn)
		store_txn_rollback(s); /* nothing was written */
	if (rc < 0) {
		if (rc == -ENOMEM && err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		cJSON_Delete(root);
		return rc;
	}
	*out = root;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int admin_export_file(struct store *s, const char *path, int64_t now_ms,
		      struct store_err *err)
{
	cJSON *root = NULL;
	char *text = NULL, *tmp = NULL;
	size_t len = 0;
	int fd = -1, rc;
	mode_t mask;

	rc = admin_export(s, now_ms, &root, err);
	if (rc < 0)
		return rc;
	rc = admin_json_print(root, &text, &len);
	cJSON_Delete(root);
	if (rc < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		return rc;
	}

	if (!path || strcmp(path, "-") == 0) {
		rc = write_all(STDOUT_FILENO, text, len);
		if (rc < 0)
			set_err(err, "unable to write '%s': %s", "stdout", rc);
		free(text);
		return rc;
	}

	/* temp file next to the target so the rename stays on one filesystem */
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		free(text);
		return -ENOMEM;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		set_err(err, "unable to create '%s': %s", tmp, rc);
		goto out;
	}
	/* mkstemp makes 0600; give the export the mode a plain create would */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0) {
		rc = -errno;
		set_err(err, "unable to chmod '%s': %s", tmp, rc);
		goto out;
	}
	rc = write_all(fd, text, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		set_err(err, "unable to write '%s': %s", tmp, rc);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		set_err(err, "unable to write '%s': %s", tmp, rc);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		set_err(err, "unable to rename onto '%s': %s", path, rc);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	return rc;
}
