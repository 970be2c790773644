/* schema.c - table-driven validation of documents: one field table per kind
 * (adding a kind or a field is one entry), strict JSON parsing in front of
 * cJSON, and the compact canonical body that the store keeps.
 *
 * Every error names the JSON path that failed, jq style
 * ("spec.ports[0].containerPort: must be an integer from 1 to 65535");
 * problems are reported in document order, then missing required fields in
 * schema order. */
#include "doc-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tables ---------------------------------------------------------- */

/* metadata.version is compared with int64 versions; doubles hold integers
 * exactly only up to 2^53 - 1. */
#define VERSION_MAX INT64_C(9007199254740991)

static const char *const protocols[] = { "TCP", "UDP", NULL };
static const char *const service_types[] = { "ClusterIP", "NodePort", "LoadBalancer", NULL };
static const char *const pod_phases[] = { "Pending", "Running", "Succeeded", "Failed", "Unknown", NULL };

#define END { .name = NULL }
#define PORT(name_, flags_) { .name = (name_), .type = DOC_INT, .flags = (flags_), .min = 1, .max = 65535 }
#define PROTOCOL { .name = "protocol", .type = DOC_ENUM, .flags = DOC_DEFAULT, .def = 0, .values = protocols }

static const struct doc_field metadata_fields[] = {
	{ .name = "name", .type = DOC_SELF_NAME },
	{ .name = "namespace", .type = DOC_SELF_NS },
	{ .name = "labels", .type = DOC_MAP },
	{ .name = "annotations", .type = DOC_MAP },
	{ .name = "version", .type = DOC_VERSION },
	{ .name = "created", .type = DOC_IGNORED },
	{ .name = "updated", .type = DOC_IGNORED },
	{ .name = "node", .type = DOC_IGNORED },
	/* Store-owned like created/updated/node, but the writer learns the
	 * snapshot a document was copied from (store_doc.snapshot). */
	{ .name = "snapshot", .type = DOC_LABEL },
	END,
};

static const struct doc_field container_port_fields[] = {
	PORT("containerPort", DOC_REQUIRED),
	PROTOCOL,
	{ .name = "name", .type = DOC_LABEL },
	END,
};

static const struct doc_field deployment_spec[] = {
	{ .name = "image", .type = DOC_STRING, .flags = DOC_REQUIRED | DOC_NONEMPTY },
	{ .name = "replicas", .type = DOC_INT, .flags = DOC_DEFAULT, .min = 0, .max = 10000, .def = 1 },
	{ .name = "ports", .type = DOC_ARRAY, .children = container_port_fields },
	{ .name = "env", .type = DOC_MAP },
	END,
};

static const struct doc_field service_port_fields[] = {
	PORT("port", DOC_REQUIRED),
	PORT("targetPort", 0),
	PROTOCOL,
	{ .name = "name", .type = DOC_LABEL },
	END,
};

static const struct doc_field service_spec[] = {
	{ .name = "selector", .type = DOC_MAP, .flags = DOC_REQUIRED | DOC_NONEMPTY },
	{ .name = "ports", .type = DOC_ARRAY, .flags = DOC_REQUIRED | DOC_NONEMPTY, .children = service_port_fields },
	{ .name = "type", .type = DOC_ENUM, .flags = DOC_DEFAULT, .def = 0, .values = service_types },
	END,
};

static const struct doc_field pod_spec[] = {
	{ .name = "image", .type = DOC_STRING, .flags = DOC_REQUIRED | DOC_NONEMPTY },
	{ .name = "node", .type = DOC_LABEL },
	{ .name = "deployment", .type = DOC_LABEL },
	END,
};

static const struct doc_field pod_status[] = {
	{ .name = "phase", .type = DOC_ENUM, .values = pod_phases },
	END,
};

static const struct doc_field ingress_rule_fields[] = {
	{ .name = "host", .type = DOC_HOST, .flags = DOC_REQUIRED },
	{ .name = "path", .type = DOC_URLPATH, .flags = DOC_REQUIRED },
	{ .name = "service", .type = DOC_LABEL, .flags = DOC_REQUIRED },
	PORT("port", DOC_REQUIRED),
	END,
};

static const struct doc_field ingress_spec[] = {
	{ .name = "rules", .type = DOC_ARRAY, .flags = DOC_REQUIRED | DOC_NONEMPTY, .children = ingress_rule_fields },
	END,
};

/* What a user writes, and what the store keeps of it. */
#define DOCUMENT(spec_)                                                        \
	{ .name = "kind", .type = DOC_KIND },                                  \
	{ .name = "metadata", .type = DOC_OBJECT, .children = metadata_fields }, \
	{ .name = "spec", .type = DOC_OBJECT, .flags = DOC_REQUIRED, .children = (spec_) }
#define BODY(spec_)                                                            \
	{ .name = "labels", .type = DOC_MAP },                                 \
	{ .name = "annotations", .type = DOC_MAP },                            \
	{ .name = "spec", .type = DOC_OBJECT, .flags = DOC_REQUIRED, .children = (spec_) }
#define STATUS(status_) { .name = "status", .type = DOC_OBJECT, .children = status_ }

static const struct doc_field deployment_document[] = { DOCUMENT(deployment_spec), END };
static const struct doc_field deployment_body[] = { BODY(deployment_spec), END };
static const struct doc_field service_document[] = { DOCUMENT(service_spec), END };
static const struct doc_field service_body[] = { BODY(service_spec), END };
static const struct doc_field pod_document[] = { DOCUMENT(pod_spec), STATUS(pod_status), END };
static const struct doc_field pod_body[] = { BODY(pod_spec), STATUS(pod_status), END };
static const struct doc_field ingress_document[] = { DOCUMENT(ingress_spec), END };
static const struct doc_field ingress_body[] = { BODY(ingress_spec), END };

static const struct doc_kind_schema schemas[STORE_KIND_COUNT] = {
	[STORE_KIND_DEPLOYMENT] = { deployment_document, deployment_body },
	[STORE_KIND_SERVICE] = { service_document, service_body },
	[STORE_KIND_POD] = { pod_document, pod_body },
	[STORE_KIND_INGRESS] = { ingress_document, ingress_body },
};

/* No table has more members than this (checked when a table is walked). */
#define FIELDS_MAX 16

const struct doc_kind_schema *doc_schema(enum store_kind kind)
{
	if ((unsigned)kind >= STORE_KIND_COUNT)
		return NULL;
	return &schemas[kind];
}

/* ---- errors and paths ---------------------------------------------------- */

static int set_err(struct store_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(struct store_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* Parsing and the duplicate check follow the JSON's own nesting, which the
 * scanner caps at sizeof(stack); deeper frames are counted but not named. */
#define FRAMES_MAX 520
#define PATH_SHOWN 160 /* leave room for the reason in STORE_ERR_MAX */

struct frame {
	const char *key; /* NULL: an array index */
	int index;
};

struct vctx {
	enum store_kind kind;
	const char *ns;     /* NULL: not checked */
	const char *name;   /* NULL: not checked */
	bool has_version;
	int64_t version;
	struct store_err *err;
	int depth;
	struct frame frames[FRAMES_MAX];
};

static void push_key(struct vctx *ctx, const char *key)
{
	if (ctx->depth < FRAMES_MAX)
		ctx->frames[ctx->depth] = (struct frame){ key, 0 };
	ctx->depth++;
}

static void push_index(struct vctx *ctx, int index)
{
	if (ctx->depth < FRAMES_MAX)
		ctx->frames[ctx->depth] = (struct frame){ NULL, index };
	ctx->depth++;
}

static void pop(struct vctx *ctx)
{
	ctx->depth--;
}

static bool identifier(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* Cuts b to at most max bytes plus "...", never inside a UTF-8 sequence. */
static void shorten(struct doc_buf *b, size_t max)
{
	size_t n = max;

	if (b->failed || b->len <= max)
		return;
	while (n > 0 && ((unsigned char)b->data[n] & 0xc0) == 0x80)
		n--;
	b->len = n;
	b->data[n] = '\0';
	doc_buf_put(b, "...", 3);
}

/* The jq-style path of the current frame: a.b[0]["odd key"]. */
static void format_path(const struct vctx *ctx, struct doc_buf *b)
{
	int depth = ctx->depth < FRAMES_MAX ? ctx->depth : FRAMES_MAX;
	char idx[24];

	for (int i = 0; i < depth && b->len <= PATH_SHOWN; i++) {
		const struct frame *f = &ctx->frames[i];

		if (f->key == NULL) {
			snprintf(idx, sizeof(idx), "[%d]", f->index);
			doc_buf_put(b, idx, strlen(idx));
		} else if (identifier(f->key)) {
			if (i > 0)
				doc_buf_put(b, ".", 1);
			doc_buf_put(b, f->key, strlen(f->key));
		} else {
			doc_buf_put(b, "[", 1);
			doc_print_string(b, f->key, strlen(f->key));
			doc_buf_put(b, "]", 1);
		}
	}
	shorten(b, PATH_SHOWN);
}

/* Sets "PATH: reason" (or "document: reason" at top level); -EINVAL. */
static int fail(struct vctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct vctx *ctx, const char *fmt, ...)
{
	struct doc_buf msg = { 0 };
	char reason[STORE_ERR_MAX];
	size_t n;
	va_list ap;

	if (ctx->err == NULL)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (ctx->depth == 0)
		doc_buf_put(&msg, "document", 8);
	else
		format_path(ctx, &msg);
	doc_buf_put(&msg, ": ", 2);
	doc_buf_put(&msg, reason, strlen(reason));
	if (msg.failed) {
		doc_buf_release(&msg);
		return set_err(ctx->err, -EINVAL, "%s", reason);
	}
	shorten(&msg, sizeof(ctx->err->msg) - 4);
	n = msg.len < sizeof(ctx->err->msg) ? msg.len : sizeof(ctx->err->msg) - 1;
	memcpy(ctx->err->msg, msg.data, n);
	ctx->err->msg[n] = '\0';
	doc_buf_release(&msg);
	return -EINVAL;
}

/* A short JSON rendering of v for "got ..." in messages. */
static void describe(const cJSON *v, char *buf, size_t size)
{
	struct doc_buf b = { 0 };

	doc_print(&b, v, false);
	shorten(&b, 40);
	snprintf(buf, size, "%s", b.failed ? "a value" : b.data);
	doc_buf_release(&b);
}

/* ---- strict parsing ------------------------------------------------------ */

static void line_column(const char *data, size_t off, size_t *line, size_t *col)
{
	size_t start = 0;

	*line = 1;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	}
	*col = off - start + 1;
}

static int cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Sorts obj's members into a new array (caller frees); NULL on ENOMEM. */
static const cJSON **sorted_members(const cJSON *obj, size_t *count)
{
	const cJSON **v;
	size_t n = 0;

	for (const cJSON *c = obj->child; c != NULL; c = c->next)
		n++;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	n = 0;
	for (const cJSON *c = obj->child; c != NULL; c = c->next)
		v[n++] = c;
	qsort(v, n, sizeof(*v), cmp_keys);
	*count = n;
	return v;
}

/* Finds a key that occurs twice in any object of the tree.  Small objects
 * compare pairwise; big ones (a 1 MiB map) sort, to stay O(n log n). */
static int check_duplicates(struct vctx *ctx, const cJSON *item)
{
	int rc, i = 0;

	if (cJSON_IsObject(item)) {
		const char *dup = NULL;
		size_t n = 0;

		for (const cJSON *c = item->child; c != NULL; c = c->next)
			n++;
		if (n <= 16) {
			for (const cJSON *c = item->child; c != NULL && dup == NULL; c = c->next) {
				for (const cJSON *d = item->child; d != c; d = d->next) {
					if (strcmp(c->string, d->string) == 0) {
						dup = c->string;
						break;
					}
				}
			}
		} else {
			const cJSON **v = sorted_members(item, &n);

			if (v == NULL)
				return set_err(ctx->err, -ENOMEM, "out of memory");
			for (size_t k = 1; k < n && dup == NULL; k++) {
				if (strcmp(v[k - 1]->string, v[k]->string) == 0)
					dup = v[k]->string;
			}
			free(v);
		}
		if (dup != NULL) {
			push_key(ctx, dup);
			rc = fail(ctx, "duplicate key");
			pop(ctx);
			return rc;
		}
	}
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return 0;
	for (const cJSON *c = item->child; c != NULL; c = c->next, i++) {
		if (cJSON_IsObject(item))
			push_key(ctx, c->string);
		else
			push_index(ctx, i);
		rc = check_duplicates(ctx, c);
		pop(ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int doc_parse_json(const char *data, size_t len, cJSON **root,
		   struct store_err *err)
{
	struct store_jsonscan scan;
	struct vctx ctx = { .err = err };
	const char *end = NULL;
	size_t line, col, off;
	cJSON *tree;
	int rc;

	*root = NULL;
	store_jsonscan_init(&scan);
	store_jsonscan_feed(&scan, data, len);
	if (scan.state == STORE_SCAN_INVALID &&
	    strcmp(scan.error, "invalid UTF-8") == 0)
		return set_err(err, -EINVAL, "invalid UTF-8 at byte %zu", scan.error_offset);
	if (scan.state != STORE_SCAN_COMPLETE) {
		off = scan.state == STORE_SCAN_INVALID ? scan.error_offset : len;
		line_column(data, off, &line, &col);
		return set_err(err, -EINVAL, "invalid JSON at line %zu, column %zu: %s",
			       line, col, scan.state == STORE_SCAN_INVALID ?
			       scan.error : "unexpected end of input");
	}
	/* cJSON strings end at the first NUL: "a\u0000b" would silently
	 * become "a".  The scan passed, so every backslash is in a string. */
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\\')
			continue;
		if (data[i + 1] == 'u' && i + 6 <= len &&
		    memcmp(data + i + 2, "0000", 4) == 0) {
			line_column(data, i, &line, &col);
			return set_err(err, -EINVAL, "unsupported \\u0000 at line %zu, column %zu",
				       line, col);
		}
		i++; /* the escaped character */
	}
	tree = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (tree == NULL) {
		/* Only a limit of cJSON's (or memory) gets here: the scanner
		 * already accepted the syntax. */
		off = end != NULL && end >= data && end <= data + len ? (size_t)(end - data) : 0;
		line_column(data, off, &line, &col);
		return set_err(err, -EINVAL, "invalid JSON at line %zu, column %zu: not supported by the parser",
			       line, col);
	}
	rc = check_duplicates(&ctx, tree);
	if (rc < 0) {
		cJSON_Delete(tree);
		return rc;
	}
	*root = tree;
	return 0;
}

/* ---- validation ---------------------------------------------------------- */

static bool get_int(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	/* Written so NaN and infinities (1e400) fail too. */
	if (!(d >= (double)min && d <= (double)max))
		return false;
	if ((double)(int64_t)d != d)
		return false;
	*out = (int64_t)d;
	return true;
}

static bool host_valid(const char *s)
{
	char label[STORE_NAME_MAX + 1];

	if (strlen(s) == 0 || strlen(s) > 253)
		return false;
	if (s[0] == '*') {
		if (s[1] != '.')
			return false;
		s += 2;
	}
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);

		if (n == 0 || n > STORE_NAME_MAX)
			return false;
		memcpy(label, s, n);
		label[n] = '\0';
		if (!store_name_valid(label))
			return false;
		if (dot == NULL)
			return true;
		s = dot + 1;
	}
}

static int enum_fail(struct vctx *ctx, const char *const *values)
{
	char list[STORE_ERR_MAX] = "";
	size_t pos = 0;

	for (int i = 0; values[i] != NULL; i++)
		pos += (size_t)snprintf(list + pos, pos < sizeof(list) ? sizeof(list) - pos : 0,
					"%s%s", i ? ", " : "", values[i]);
	return fail(ctx, "must be one of %s", list);
}

/* kind, metadata.name, metadata.namespace: must repeat what the path says. */
static int check_same(struct vctx *ctx, const cJSON *v, const char *want)
{
	char got[64];

	if (want == NULL || (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0))
		return 0;
	describe(v, got, sizeof(got));
	return fail(ctx, "must be \"%s\" here, got %s", want, got);
}

static int check_fields(struct vctx *ctx, const struct doc_field *fields,
			const cJSON *obj, cJSON *out);

static cJSON *nomem(struct vctx *ctx, int *rc)
{
	*rc = set_err(ctx->err, -ENOMEM, "out of memory");
	return NULL;
}

static int check_map(struct vctx *ctx, const struct doc_field *f,
		     const cJSON *v, cJSON **out)
{
	const cJSON **sorted;
	size_t n = 0;
	cJSON *map;
	int rc = 0;

	if (!cJSON_IsObject(v))
		return fail(ctx, "must be an object");
	if ((f->flags & DOC_NONEMPTY) && v->child == NULL)
		return fail(ctx, "must not be empty");
	for (const cJSON *c = v->child; c != NULL; c = c->next) {
		push_key(ctx, c->string);
		if (!cJSON_IsString(c))
			rc = fail(ctx, "must be a string");
		pop(ctx);
		if (rc < 0)
			return rc;
	}
	sorted = sorted_members(v, &n);
	map = sorted != NULL ? cJSON_CreateObject() : NULL;
	for (size_t i = 0; map != NULL && i < n; i++) {
		cJSON *s = cJSON_CreateString(sorted[i]->valuestring);

		if (s == NULL || !cJSON_AddItemToObject(map, sorted[i]->string, s)) {
			cJSON_Delete(s);
			cJSON_Delete(map);
			map = NULL;
		}
	}
	free(sorted);
	if (map == NULL)
		return set_err(ctx->err, -ENOMEM, "out of memory");
	*out = map;
	return 0;
}

static int check_array(struct vctx *ctx, const struct doc_field *f,
		       const cJSON *v, cJSON **out)
{
	cJSON *arr;
	int rc = 0, i = 0;

	if (!cJSON_IsArray(v))
		return fail(ctx, "must be an array");
	if ((f->flags & DOC_NONEMPTY) && v->child == NULL)
		return fail(ctx, "must not be empty");
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return set_err(ctx->err, -ENOMEM, "out of memory");
	for (const cJSON *c = v->child; c != NULL && rc == 0; c = c->next, i++) {
		cJSON *obj = NULL;

		push_index(ctx, i);
		if (!cJSON_IsObject(c))
			rc = fail(ctx, "must be an object");
		else
			obj = cJSON_CreateObject();
		if (rc == 0 && obj == NULL)
			nomem(ctx, &rc);
		else if (rc == 0)
			rc = check_fields(ctx, f->children, c, obj);
		pop(ctx);
		if (rc == 0 && !cJSON_AddItemToArray(arr, obj))
			nomem(ctx, &rc);
		if (rc < 0)
			cJSON_Delete(obj);
	}
	if (rc < 0) {
		cJSON_Delete(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* Checks v against f; *out gets its canonical copy, or stays NULL for
 * members that do not reach the body. */
static int check_value(struct vctx *ctx, const struct doc_field *f,
		       const cJSON *v, cJSON **out)
{
	int64_t i;
	int rc = 0;

	*out = NULL;
	switch (f->type) {
	case DOC_OBJECT:
		if (!cJSON_IsObject(v))
			return fail(ctx, "must be an object");
		*out = cJSON_CreateObject();
		if (*out == NULL)
			return set_err(ctx->err, -ENOMEM, "out of memory");
		rc = check_fields(ctx, f->children, v, *out);
		break;
	case DOC_ARRAY:
		return check_array(ctx, f, v, out);
	case DOC_MAP:
		return check_map(ctx, f, v, out);
	case DOC_STRING:
		if (!cJSON_IsString(v) || ((f->flags & DOC_NONEMPTY) && v->valuestring[0] == '\0'))
			return fail(ctx, (f->flags & DOC_NONEMPTY) ? "must be a non-empty string"
								    : "must be a string");
		break;
	case DOC_INT:
		if (!get_int(v, f->min, f->max, &i))
			return fail(ctx, "must be an integer from %" PRId64 " to %" PRId64,
				    f->min, f->max);
		*out = cJSON_CreateNumber((double)i);
		break;
	case DOC_ENUM:
		if (!cJSON_IsString(v))
			return enum_fail(ctx, f->values);
		for (i = 0; f->values[i] != NULL; i++) {
			if (strcmp(v->valuestring, f->values[i]) == 0)
				break;
		}
		if (f->values[i] == NULL)
			return enum_fail(ctx, f->values);
		break;
	case DOC_LABEL:
		if (!cJSON_IsString(v) || !store_name_valid(v->valuestring))
			return fail(ctx, "must be a DNS label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)");
		break;
	case DOC_HOST:
		if (!cJSON_IsString(v) || !host_valid(v->valuestring))
			return fail(ctx, "must be a DNS name (dot-separated DNS labels, optionally "
					 "starting with \"*.\", at most 253 characters)");
		break;
	case DOC_URLPATH:
		if (!cJSON_IsString(v) || v->valuestring[0] != '/')
			return fail(ctx, "must be a string starting with \"/\"");
		break;
	case DOC_KIND:
		return check_same(ctx, v, store_kind_name(ctx->kind));
	case DOC_SELF_NAME:
		return check_same(ctx, v, ctx->name);
	case DOC_SELF_NS:
		return check_same(ctx, v, ctx->ns);
	case DOC_VERSION:
		if (!get_int(v, 0, VERSION_MAX, &i))
			return fail(ctx, "must be an integer from 0 to %" PRId64, VERSION_MAX);
		ctx->has_version = true;
		ctx->version = i;
		return 0;
	case DOC_IGNORED:
		return 0;
	}
	if (rc == 0 && *out == NULL && cJSON_IsString(v)) {
		*out = cJSON_CreateString(v->valuestring);
		if (*out == NULL)
			return set_err(ctx->err, -ENOMEM, "out of memory");
	}
	if (rc == 0 && *out == NULL)
		return set_err(ctx->err, -ENOMEM, "out of memory");
	if (rc < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

static cJSON *default_value(const struct doc_field *f)
{
	if (f->type == DOC_INT)
		return cJSON_CreateNumber((double)f->def);
	return cJSON_CreateString(f->values[f->def]);
}

/* Checks obj's members against `fields` and adds their canonical copies
 * to `out` in table order, defaults filled. */
static int check_fields(struct vctx *ctx, const struct doc_field *fields,
			const cJSON *obj, cJSON *out)
{
	cJSON *slot[FIELDS_MAX] = { NULL };
	bool seen[FIELDS_MAX] = { false };
	int n, rc = 0;

	for (n = 0; fields[n].name != NULL; n++)
		;
	if (n > FIELDS_MAX)
		return set_err(ctx->err, -EINVAL, "schema table too large");
	for (const cJSON *c = obj->child; c != NULL && rc == 0; c = c->next) {
		int k;

		for (k = 0; k < n; k++) {
			if (strcmp(c->string, fields[k].name) == 0)
				break;
		}
		push_key(ctx, c->string);
		if (k == n) {
			rc = fail(ctx, "unknown field");
		} else {
			seen[k] = true;
			rc = check_value(ctx, &fields[k], c, &slot[k]);
		}
		pop(ctx);
	}
	for (int k = 0; k < n && rc == 0; k++) {
		if (seen[k])
			continue;
		if (fields[k].flags & DOC_REQUIRED) {
			push_key(ctx, fields[k].name);
			rc = fail(ctx, "required");
			pop(ctx);
		} else if (fields[k].flags & DOC_DEFAULT) {
			slot[k] = default_value(&fields[k]);
			if (slot[k] == NULL)
				nomem(ctx, &rc);
		}
	}
	for (int k = 0; k < n; k++) {
		if (slot[k] == NULL)
			continue;
		if (rc == 0 && !cJSON_AddItemToObject(out, fields[k].name, slot[k]))
			nomem(ctx, &rc);
		else if (rc == 0)
			continue;
		cJSON_Delete(slot[k]);
	}
	return rc;
}

/* Moves member `key` of src (if any) to the end of dst. */
static bool move_member(cJSON *dst, cJSON *src, const char *key)
{
	cJSON *item;

	if (src == NULL)
		return true;
	item = cJSON_DetachItemFromObjectCaseSensitive(src, key);
	if (item == NULL)
		return true;
	if (!cJSON_AddItemToObject(dst, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

int doc_validate(enum store_kind kind, enum doc_mode mode, const char *ns,
		 const char *name, const cJSON *root, cJSON **canon,
		 bool *has_version, int64_t *version, struct store_err *err)
{
	const struct doc_kind_schema *schema = doc_schema(kind);
	struct vctx vctx = { .kind = kind, .ns = ns, .name = name, .err = err };
	struct vctx *ctx = &vctx;
	cJSON *out = NULL, *body = NULL, *md;
	int rc;

	*canon = NULL;
	if (schema == NULL)
		return set_err(err, -EINVAL, "unknown kind");
	if (!cJSON_IsObject(root))
		return set_err(err, -EINVAL, "document: must be an object");
	out = cJSON_CreateObject();
	if (out == NULL)
		return set_err(err, -ENOMEM, "out of memory");
	rc = check_fields(ctx, mode == DOC_MODE_BODY ? schema->body : schema->document,
			  root, out);
	if (rc == 0 && mode == DOC_MODE_DOCUMENT) {
		/* labels and annotations move up out of metadata. */
		body = cJSON_CreateObject();
		md = cJSON_GetObjectItemCaseSensitive(out, "metadata");
		if (body == NULL || !move_member(body, md, "labels") ||
		    !move_member(body, md, "annotations") ||
		    !move_member(body, out, "spec") || !move_member(body, out, "status"))
			rc = set_err(err, -ENOMEM, "out of memory");
		cJSON_Delete(out);
		out = body;
	}
	if (rc == 0) {
		if (has_version != NULL)
			*has_version = ctx->has_version;
		if (version != NULL)
			*version = ctx->has_version ? ctx->version : 0;
		*canon = out;
	} else {
		cJSON_Delete(out);
	}
	return rc;
}

/* ---- the public entry point ---------------------------------------------- */

int store_doc_parse(enum store_kind kind, const char *ns, const char *name,
		    const char *data, size_t len, struct store_doc *doc,
		    struct store_err *err)
{
	struct doc_buf b = { 0 };
	cJSON *root = NULL, *canon = NULL;
	int rc;

	memset(doc, 0, sizeof(*doc));
	if ((unsigned)kind >= STORE_KIND_COUNT)
		return set_err(err, -EINVAL, "unknown kind");
	if (len > STORE_DOC_MAX)
		return set_err(err, -EFBIG, "document is %zu bytes, the limit is %d",
			       len, STORE_DOC_MAX);
	rc = doc_parse_json(data, len, &root, err);
	if (rc < 0)
		return rc;
	rc = doc_validate(kind, DOC_MODE_DOCUMENT, ns, name, root, &canon,
			  &doc->has_version, &doc->version, err);
	if (rc == 0) {
		/* Validated as a DNS label above; never part of the body. */
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
		const cJSON *snap = cJSON_GetObjectItemCaseSensitive(md, "snapshot");

		if (cJSON_IsString(snap))
			snprintf(doc->snapshot, sizeof(doc->snapshot), "%s", snap->valuestring);
	}
	cJSON_Delete(root);
	if (rc < 0)
		return rc;
	doc_print(&b, canon, false);
	cJSON_Delete(canon);
	if (b.failed || b.data == NULL) {
		doc_buf_release(&b);
		memset(doc, 0, sizeof(*doc));
		return set_err(err, -ENOMEM, "out of memory");
	}
	doc->body = b.data;
	doc->body_len = b.len;
	return 0;
}

void store_doc_release(struct store_doc *doc)
{
	if (doc == NULL)
		return;
	free(doc->body);
	memset(doc, 0, sizeof(*doc));
}
