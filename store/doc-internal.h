/* doc-internal.h - what the document layer's files share and nothing else
 * sees: the per-kind schema tables (validation, rendering and any later
 * JSON-Schema generator read the same entries) and the one JSON printer. */
#ifndef SWARMFS_DOC_INTERNAL_H
#define SWARMFS_DOC_INTERNAL_H

#include <cJSON.h>

#include "store.h"

/* ---- schema tables (schema.c) ------------------------------------------- */

enum doc_type {
	DOC_OBJECT,    /* fixed members: `children` */
	DOC_ARRAY,     /* array of objects whose members are `children` */
	DOC_MAP,       /* free-form string -> string map, output sorted by key */
	DOC_STRING,    /* any string (DOC_NONEMPTY: at least one byte) */
	DOC_INT,       /* integral JSON number in min..max */
	DOC_ENUM,      /* one of `values` */
	DOC_LABEL,     /* DNS label, like resource names */
	DOC_HOST,      /* DNS name, optionally "*." wildcard, <= 253 bytes */
	DOC_URLPATH,   /* string starting with "/" */
	/* Members of a written document that never reach the body: */
	DOC_KIND,      /* must equal the kind's name */
	DOC_SELF_NAME, /* must equal the resource name from the path */
	DOC_SELF_NS,   /* must equal the namespace from the path */
	DOC_VERSION,   /* metadata.version: the write's precondition */
	DOC_IGNORED,   /* store-owned (created, updated, node): any value */
};

enum doc_flags {
	DOC_REQUIRED = 1 << 0,
	DOC_NONEMPTY = 1 << 1, /* strings, maps and arrays */
	DOC_DEFAULT = 1 << 2,  /* filled in when absent: `def` */
};

struct doc_field {
	const char *name;        /* NULL ends a table */
	enum doc_type type;
	unsigned flags;
	int64_t min, max;        /* DOC_INT */
	int64_t def;             /* DOC_INT: the default; DOC_ENUM: index into values */
	const char *const *values;       /* DOC_ENUM, NULL-terminated */
	const struct doc_field *children; /* DOC_OBJECT, DOC_ARRAY */
};

struct doc_kind_schema {
	/* Top-level members of a written document: kind, metadata, spec,
	 * and status where the kind has one. */
	const struct doc_field *document;
	/* Top-level members of a stored body: labels, annotations, spec and
	 * maybe status, in body order. */
	const struct doc_field *body;
};

/* The tables of `kind`; borrowed, static. */
const struct doc_kind_schema *doc_schema(enum store_kind kind);

/*
 * Parses len bytes as strict RFC 8259 JSON (store_jsonscan first, so
 * trailing data, bad UTF-8 and cJSON's leniencies are refused), rejects
 * duplicate keys and "\u0000" (cJSON strings end at NUL).  Returns 0 and a
 * new tree in *root (caller frees with cJSON_Delete), or -EINVAL/-ENOMEM;
 * err may be NULL.
 */
int doc_parse_json(const char *data, size_t len, cJSON **root,
		   struct store_err *err);

/*
 * Validates `root` against the kind's document (as written by a user) or
 * body (as stored) table.  Returns 0 and, in *canon, a new object holding
 * only the body's members ({"labels","annotations","spec","status"}, each
 * only when given) in schema order with defaults filled; caller frees with
 * cJSON_Delete.  In document mode, *has_version and *version (both may be
 * NULL) get the metadata.version precondition.  err may be NULL.
 */
enum doc_mode { DOC_MODE_DOCUMENT, DOC_MODE_BODY };
int doc_validate(enum store_kind kind, enum doc_mode mode, const char *ns,
		 const char *name, const cJSON *root, cJSON **canon,
		 bool *has_version, int64_t *version, struct store_err *err);

/* ---- printer (render.c) ------------------------------------------------- */

/* A growing output buffer; after an allocation failure `failed` is set and
 * appends are dropped, so callers check once at the end. */
struct doc_buf {
	char *data;  /* NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	bool failed;
};

void doc_buf_put(struct doc_buf *b, const char *s, size_t n);
void doc_buf_release(struct doc_buf *b);

/* Appends s[0..n) as a JSON string literal escaped exactly as jq 1.6 does. */
void doc_print_string(struct doc_buf *b, const char *s, size_t n);
/* Appends `item` formatted as `jq .` (pretty) or `jq -c` would print it,
 * without the trailing newline. */
void doc_print(struct doc_buf *b, const cJSON *item, bool pretty);

#endif
