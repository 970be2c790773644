/* import.c - imports a JSON file into a store: detects the format, turns
 * it into a plan (every entry validated before the store is touched) and
 * applies the plan in one transaction, or nothing when an entry is bad. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

#define IMPORT_MAX ((size_t)1 << 30) /* refuse inputs over 1 GiB */

/* ---- the plan -------------------------------------------------------------- */

void admin_plan_init(struct admin_plan *p, admin_report_cb report, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->report = report;
	p->arg = arg;
}

void admin_plan_release(struct admin_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++) {
		free(p->entries[i].doc);
		free(p->entries[i].where);
	}
	free(p->entries);
	free(p->namespaces);
	free(p->slots);
	p->entries = NULL;
	p->namespaces = NULL;
	p->slots = NULL;
	p->count = p->cap = p->ns_count = p->ns_cap = p->slot_cap = 0;
}

void admin_plan_report(struct admin_plan *p, enum admin_severity sev,
		       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == ADMIN_ERROR)
		p->errors++;
	else
		p->warnings++;
	if (p->report)
		p->report(sev, msg, p->arg);
}

int admin_plan_add_ns(struct admin_plan *p, enum store_kind kind,
		      const char *ns)
{
	for (size_t i = 0; i < p->ns_count; i++)
		if (p->namespaces[i].kind == kind &&
		    strcmp(p->namespaces[i].name, ns) == 0)
			return 0;
	if (p->ns_count == p->ns_cap) {
		size_t cap = p->ns_cap ? p->ns_cap * 2 : 16;
		struct admin_plan_ns *v = realloc(p->namespaces, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->namespaces = v;
		p->ns_cap = cap;
	}
	p->namespaces[p->ns_count].kind = kind;
	snprintf(p->namespaces[p->ns_count].name,
		 sizeof(p->namespaces[p->ns_count].name), "%s", ns);
	p->ns_count++;
	return 0;
}

static size_t entry_hash(enum store_kind kind, const char *ns, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

	for (const char *c = ns; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of (kind, ns, name): its entry's, or the empty one to fill. */
static size_t *slot_of(struct admin_plan *p, enum store_kind kind, const char *ns,
		       const char *name)
{
	size_t mask = p->slot_cap - 1;

	for (size_t i = entry_hash(kind, ns, name) & mask;; i = (i + 1) & mask) {
		struct admin_plan_entry *e;

		if (p->slots[i] == 0)
			return &p->slots[i];
		e = &p->entries[p->slots[i] - 1];
		if (e->kind == kind && strcmp(e->ns, ns) == 0 && strcmp(e->name, name) == 0)
			return &p->slots[i];
	}
}

/* Indexes entries[0..count), keeping the table at most half full. */
static int index_entries(struct admin_plan *p)
{
	size_t cap = p->slot_cap ? p->slot_cap : 64;

	while (cap < 2 * p->count)
		cap *= 2;
	if (cap != p->slot_cap) {
		size_t *v = calloc(cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		free(p->slots);
		p->slots = v;
		p->slot_cap = cap;
		for (size_t i = 0; i + 1 < p->count; i++)
			*slot_of(p, p->entries[i].kind, p->entries[i].ns, p->entries[i].name) = i + 1;
	}
	if (p->count > 0) {
		struct admin_plan_entry *e = &p->entries[p->count - 1];

		*slot_of(p, e->kind, e->ns, e->name) = p->count;
	}
	return 0;
}

struct admin_plan_entry *admin_plan_find(struct admin_plan *p,
					 enum store_kind kind, const char *ns,
					 const char *name)
{
	size_t *slot;

	if (p->slot_cap == 0)
		return NULL;
	slot = slot_of(p, kind, ns, name);
	return *slot ? &p->entries[*slot - 1] : NULL;
}

int admin_plan_add(struct admin_plan *p, enum store_kind kind, const char *ns,
		   const char *name, const cJSON *doc, const char *where)
{
	const char *dir = store_kind_dir(kind);
	struct admin_plan_entry *dup, *e;
	struct store_doc parsed;
	struct store_err err = { { 0 } };
	char *text;
	int rc;

	if (!store_name_valid(ns)) {
		admin_plan_report(p, ADMIN_ERROR,
				  "%s: namespace '%s' is not a valid name (lowercase letters, digits and '-', at most 63)",
				  where, ns);
		return 0;
	}
	if (!store_name_valid(name)) {
		admin_plan_report(p, ADMIN_ERROR,
				  "%s: name '%s' is not a valid name (lowercase letters, digits and '-', at most 63)",
				  where, name);
		return 0;
	}
	dup = admin_plan_find(p, kind, ns, name);
	if (dup) {
		admin_plan_report(p, ADMIN_ERROR, "%s (%s/%s/%s): duplicate of %s",
				  where, dir, ns, name, dup->where);
		return 0;
	}
	text = cJSON_PrintUnformatted(doc);
	if (!text)
		return -ENOMEM;
	/* validate now, so every bad entry is reported before anything is
	 * applied, and a dry run finds what the real run would */
	rc = store_doc_parse(kind, ns, name, text, strlen(text), &parsed, &err);
	if (rc == -ENOMEM) {
		cJSON_free(text);
		return rc;
	}
	if (rc < 0) {
		admin_plan_report(p, ADMIN_ERROR, "%s (%s/%s/%s): %s", where, dir,
				  ns, name, err.msg[0] ? err.msg : strerror(-rc));
		cJSON_free(text);
		return 0;
	}
	store_doc_release(&parsed);

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct admin_plan_entry *v = realloc(p->entries, cap * sizeof(*v));

		if (!v) {
			cJSON_free(text);
			return -ENOMEM;
		}
		p->entries = v;
		p->cap = cap;
	}
	e = &p->entries[p->count];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->name, sizeof(e->name), "%s", name);
	/* the plan owns plain malloc'ed strings, whatever cJSON allocates with */
	e->doc = strdup(text);
	e->where = strdup(where);
	cJSON_free(text);
	if (!e->doc || !e->where) {
		free(e->doc);
		free(e->where);
		return -ENOMEM;
	}
	p->count++;
	rc = index_entries(p);
	if (rc < 0) {
		p->count--;
		free(e->doc);
		free(e->where);
		return rc;
	}
	return admin_plan_add_ns(p, kind, ns);
}

/* ---- format detection ------------------------------------------------------ */

enum admin_format admin_import_detect(const cJSON *root)
{
	static const char *const podman_keys[] = {
		"deployments", "services", "ingresses", "pods",
	};
	const cJSON *format;

	if (!cJSON_IsObject(root))
		return ADMIN_FORMAT_UNKNOWN;
	format = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (cJSON_IsString(format) &&
	    strcmp(format->valuestring, ADMIN_EXPORT_FORMAT) == 0)
		return ADMIN_FORMAT_EXPORT;
	if (format)
		return ADMIN_FORMAT_UNKNOWN;
	/* Podman Swarm's ClusterState: maps keyed "NS/NAME" (Go's decoder
	 * matches member names case-insensitively, so do we) */
	for (size_t i = 0; i < sizeof(podman_keys) / sizeof(podman_keys[0]); i++) {
		const cJSON *m = cJSON_GetObjectItem(root, podman_keys[i]);

		if (cJSON_IsObject(m) || cJSON_IsNull(m))
			return ADMIN_FORMAT_PODMAN;
	}
	return ADMIN_FORMAT_UNKNOWN;
}

/* ---- our own export ---------------------------------------------------------- */

static int plan_export_namespaces(const cJSON *nsobj, struct admin_plan *p)
{
	const cJSON *kind_item;
	int rc;

	if (!nsobj)
		return 0;
	if (!cJSON_IsObject(nsobj)) {
		admin_plan_report(p, ADMIN_ERROR, "namespaces: must be an object");
		return 0;
	}
	cJSON_ArrayForEach(kind_item, nsobj) {
		enum store_kind kind;
		const cJSON *n;
		int i = 0;

		if (store_kind_from_dir(kind_item->string, &kind) < 0) {
			admin_plan_report(p, ADMIN_ERROR,
					  "namespaces.%s: unknown kind",
					  kind_item->string);
			continue;
		}
		if (!cJSON_IsArray(kind_item)) {
			admin_plan_report(p, ADMIN_ERROR,
					  "namespaces.%s: must be an array of names",
					  kind_item->string);
			continue;
		}
		cJSON_ArrayForEach(n, kind_item) {
			if (!cJSON_IsString(n) || !store_name_valid(n->valuestring)) {
				admin_plan_report(p, ADMIN_ERROR,
						  "namespaces.%s[%d]: not a valid namespace name",
						  kind_item->string, i);
			} else {
				rc = admin_plan_add_ns(p, kind, n->valuestring);
				if (rc < 0)
					return rc;
			}
			i++;
		}
	}
	return 0;
}

static int plan_export_resource(const cJSON *r, int i, struct admin_plan *p)
{
	const cJSON *kind_item, *meta, *ns, *name;
	enum store_kind kind;
	char where[64];

	snprintf(where, sizeof(where), "resources[%d]", i);
	if (!cJSON_IsObject(r)) {
		admin_plan_report(p, ADMIN_ERROR, "%s: must be an object", where);
		return 0;
	}
	kind_item = cJSON_GetObjectItemCaseSensitive(r, "kind");
	if (!cJSON_IsString(kind_item) ||
	    store_kind_from_name(kind_item->valuestring, &kind) < 0) {
		admin_plan_report(p, ADMIN_ERROR,
				  "%s: kind: must be Deployment, Service, Pod or Ingress",
				  where);
		return 0;
	}
	meta = cJSON_GetObjectItemCaseSensitive(r, "metadata");
	ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
	name = cJSON_GetObjectItemCaseSensitive(meta, "name");
	if (!cJSON_IsString(ns)) {
		admin_plan_report(p, ADMIN_ERROR,
				  "%s: metadata.namespace: must be a string", where);
		return 0;
	}
	if (!cJSON_IsString(name)) {
		admin_plan_report(p, ADMIN_ERROR,
				  "%s: metadata.name: must be a string", where);
		return 0;
	}
	/* metadata.version/created/updated/node ride along: the store ignores
	 * the last three and the import ignores the version precondition */
	return admin_plan_add(p, kind, ns->valuestring, name->valuestring, r,
			      where);
}

int admin_import_plan_export(const cJSON *root, struct admin_plan *p)
{
	static const char *const known[] = {
		"format", "version", "node", "revision", "exported",
		"namespaces", "resources",
	};
	const cJSON *version, *resources, *m, *r;
	int i = 0, rc;

	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsNumber(version) || version->valuedouble != ADMIN_EXPORT_VERSION) {
		admin_plan_report(p, ADMIN_ERROR,
				  "version: this swarmfs-admin reads export version %d only",
				  ADMIN_EXPORT_VERSION);
		return 0;
	}
	cJSON_ArrayForEach(m, root) {
		bool ok = false;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(m->string, known[k]) == 0)
				ok = true;
		if (!ok)
			admin_plan_report(p, ADMIN_WARNING,
					  "%s: unknown member, ignored", m->string);
	}
	rc = plan_export_namespaces(
		cJSON_GetObjectItemCaseSensitive(root, "namespaces"), p);
	if (rc < 0)
		return rc;
	resources = cJSON_GetObjectItemCaseSensitive(root, "resources");
	if (!resources)
		return 0;
	if (!cJSON_IsArray(resources)) {
		admin_plan_report(p, ADMIN_ERROR, "resources: must be an array");
		return 0;
	}
	cJSON_ArrayForEach(r, resources) {
		rc = plan_export_resource(r, i++, p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- applying ---------------------------------------------------------------- */

static int cmp_entries(const void *a, const void *b)
{
	const struct admin_plan_entry *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static int cmp_ns(const void *a, const void *b)
{
	const struct admin_plan_ns *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

int admin_import_apply(struct store *s, struct admin_plan *p,
		       const struct admin_import_opts *opts,
		       struct admin_import_result *res, struct store_err *err)
{
	struct store_put_opts put = {
		.source = ADMIN_IMPORT_SOURCE,
		.ignore_version = true,
	};
	int rc;

	if (p->errors > 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "%" PRId64 " error%s, nothing imported", p->errors,
				 p->errors == 1 ? "" : "s");
		return -EINVAL;
	}
	/* the change log then reads in the order an export lists, whatever
	 * order the input had */
	if (p->count > 1)
		qsort(p->entries, p->count, sizeof(*p->entries), cmp_entries);
	if (p->ns_count > 1)
		qsort(p->namespaces, p->ns_count, sizeof(*p->namespaces), cmp_ns);
	if (opts && opts->dry_run) {
		for (size_t i = 0; i < p->count; i++) {
			res->resources[p->entries[i].kind]++;
			res->total++;
		}
		/* no store at all is fine: a dry run only validates */
		return s ? store_revision(s, &res->revision) : 0;
	}

	rc = store_txn_begin(s);
	if (rc < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "unable to begin a transaction: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < p->ns_count; i++) {
		const struct admin_plan_ns *n = &p->namespaces[i];
		struct store_ns_info info;

		rc = store_ns_get(s, n->kind, n->name, &info);
		if (rc == -ENOENT) {
			rc = store_ns_create(s, n->kind, n->name, err);
			if (rc == 0)
				res->namespaces_created++;
		}
		if (rc < 0) {
			admin_plan_report(p, ADMIN_ERROR, "namespace %s/%s: %s",
					  store_kind_dir(n->kind), n->name,
					  err && err->msg[0] ? err->msg : strerror(-rc));
			goto fail;
		}
	}
	for (size_t i = 0; i < p->count; i++) {
		const struct admin_plan_entry *e = &p->entries[i];
		struct store_result r;
		struct store_err perr = { { 0 } };

		rc = store_put(s, e->kind, e->ns, e->name, e->doc, strlen(e->doc),
			       &put, &r, &perr);
		if (rc < 0) {
			admin_plan_report(p, ADMIN_ERROR, "%s (%s/%s/%s): %s",
					  e->where, store_kind_dir(e->kind), e->ns,
					  e->name,
					  perr.msg[0] ? perr.msg : strerror(-rc));
			if (err)
				snprintf(err->msg, sizeof(err->msg), "%s", perr.msg);
			goto fail;
		}
		res->resources[e->kind]++;
		res->total++;
		res->revision = r.revision;
	}
	rc = store_txn_commit(s);
	if (rc < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "unable to commit the import: %s", strerror(-rc));
		store_txn_rollback(s);
		goto undo;
	}
	if (p->count == 0)
		return store_revision(s, &res->revision);
	return 0;

fail:
	store_txn_rollback(s);
	if (err && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-rc));
undo:
	/* rolled back: report what actually happened, i.e. nothing */
	memset(res->resources, 0, sizeof(res->resources));
	res->total = 0;
	res->namespaces_created = 0;
	return rc;
}

/* ---- entry points -------------------------------------------------------------- */

int admin_import(struct store *s, const char *data, size_t len,
		 const struct admin_import_opts *opts,
		 struct admin_import_result *res, struct store_err *err)
{
	struct admin_plan plan;
	const char *end = NULL;
	cJSON *root;
	int rc;

	memset(res, 0, sizeof(*res));
	if (err)
		err->msg[0] = '\0';
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!root) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "not valid JSON (at byte %zu)",
				 end ? (size_t)(end - data) : (size_t)0);
		return -EINVAL;
	}
	res->format = admin_import_detect(root);
	admin_plan_init(&plan, opts ? opts->report : NULL, opts ? opts->arg : NULL);
	switch (res->format) {
	case ADMIN_FORMAT_EXPORT:
		rc = admin_import_plan_export(root, &plan);
		break;
	case ADMIN_FORMAT_PODMAN:
		rc = admin_import_plan_podman(root, &plan);
		break;
	default:
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "unknown format: neither a swarmfs export nor a Podman Swarm state.json");
		rc = -EINVAL;
		goto out;
	}
	if (rc < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	rc = admin_import_apply(s, &plan, opts, res, err);
out:
	res->warnings = plan.warnings;
	res->errors = plan.errors;
	admin_plan_release(&plan);
	cJSON_Delete(root);
	return rc;
}

int admin_read_file(const char *path, char **data, size_t *len,
		    struct store_err *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t size = 0, cap = 0;
	char *buf = NULL;
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "unable to open '%s': %s",
				 path, strerror(-rc));
		return rc;
	}
	for (;;) {
		ssize_t n;

		if (cap - size < 65536) {
			char *b;

			cap = cap ? cap * 2 : 262144;
			if (cap > IMPORT_MAX + 1)
				cap = IMPORT_MAX + 1;
			if (size >= cap) {
				rc = -EFBIG;
				if (err)
					snprintf(err->msg, sizeof(err->msg),
						 "'%s' is larger than 1 GiB", path);
				break;
			}
			b = realloc(buf, cap + 1);
			if (!b) {
				rc = -ENOMEM;
				if (err)
					snprintf(err->msg, sizeof(err->msg), "out of memory");
				break;
			}
			buf = b;
		}
		n = read(fd, buf + size, cap - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			if (err)
				snprintf(err->msg, sizeof(err->msg),
					 "unable to read '%s': %s", path, strerror(-rc));
			break;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	if (!is_stdin)
		close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[size] = '\0';
	*data = buf;
	*len = size;
	return 0;
}
