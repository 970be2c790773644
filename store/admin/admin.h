/* admin.h - the pieces of swarmfs-admin that do not depend on the command
 * line (export, import, the change-log view), so unit tests can link them. */
#ifndef SWARMFS_ADMIN_H
#define SWARMFS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "store.h"

#define ADMIN_EXPORT_FORMAT "swarmfs-export"
#define ADMIN_EXPORT_VERSION 1
#define ADMIN_IMPORT_SOURCE "import" /* change-log source of imported puts */

/* ---- JSON output ---------------------------------------------------------- */

/*
 * Prints `item` the way `jq .` does (2-space indent, one member per line,
 * "{}" and "[]" for empty containers) with a trailing newline.
 * Returns 0 and a new buffer in *out (caller frees with free()), length in
 * *len, or -ENOMEM.
 */
int admin_json_print(const cJSON *item, char **out, size_t *len);

/* Writes `s` as a JSON string literal (quotes and escapes) to `f`. */
void admin_json_put_string(FILE *f, const char *s);

/* ---- export (export.c) ---------------------------------------------------- */

/*
 * Builds the whole state as one document:
 *   {"format":"swarmfs-export","version":1,"node":..,"revision":..,
 *    "exported":RFC3339,"namespaces":{"deployments":[..],..},
 *    "resources":[live documents..]}
 * Namespaces by name; resources by kind (store_kind order), namespace, name.
 * Everything is read inside one transaction, so the revision and the
 * resources belong together even while a mount writes.
 * `now_ms` stamps "exported".
 * Returns 0 and a new tree in *out (caller frees with cJSON_Delete), or a
 * negative errno with err filled.
 */
int admin_export(struct store *s, int64_t now_ms, cJSON **out,
		 struct store_err *err);

/*
 * admin_export printed with admin_json_print to `path`: written to a
 * temporary file in the same directory, synced and renamed over `path`, so
 * a reader never sees half an export.  NULL or "-" writes to stdout.
 */
int admin_export_file(struct store *s, const char *path, int64_t now_ms,
		      struct store_err *err);

/* ---- import (import.c, podman.c) ------------------------------------------ */

enum admin_format {
	ADMIN_FORMAT_UNKNOWN,
	ADMIN_FORMAT_EXPORT, /* our own export */
	ADMIN_FORMAT_PODMAN, /* a Podman Swarm state.json */
};

enum admin_severity {
	ADMIN_WARNING, /* something was dropped; the import still applies */
	ADMIN_ERROR,   /* an entry cannot be imported; nothing is applied */
};

/* Receives each finding, e.g. (ADMIN_ERROR, "resources[3]
 * (deployments/default/web): spec.replicas: must be ..."). */
typedef void (*admin_report_cb)(enum admin_severity sev, const char *msg,
				void *arg);

struct admin_import_opts {
	bool dry_run;            /* validate and count, apply nothing */
	admin_report_cb report;  /* NULL: findings are only counted */
	void *arg;
};

struct admin_import_result {
	enum admin_format format;
	int64_t resources[STORE_KIND_COUNT]; /* imported (or, dry run, would be) */
	int64_t total;
	int64_t namespaces_created;          /* 0 on a dry run */
	int64_t warnings;
	int64_t errors;
	int64_t revision;                    /* store revision after the import */
};

/* One resource the import is going to put. */
struct admin_plan_entry {
	enum store_kind kind;
	char ns[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char *doc;    /* owned: compact JSON document */
	char *where;  /* owned: where it came from, e.g. "resources[3]" */
};

struct admin_plan_ns {
	enum store_kind kind;
	char name[STORE_NAME_MAX + 1];
};

/*
 * What an import will do, built from the input before the store is touched:
 * the resources to put, the namespaces to create, and the findings.
 */
struct admin_plan {
	struct admin_plan_entry *entries;
	size_t count, cap;
	/* Open-addressing index of entries by (kind, ns, name): entry + 1 per
	 * slot, 0 empty.  The duplicate check was a linear scan, which made
	 * importing 100,000 resources quadratic. */
	size_t *slots;
	size_t slot_cap;
	struct admin_plan_ns *namespaces;
	size_t ns_count, ns_cap;
	int64_t warnings;
	int64_t errors;
	admin_report_cb report;
	void *arg;
};

void admin_plan_init(struct admin_plan *p, admin_report_cb report, void *arg);
void admin_plan_release(struct admin_plan *p);
/* Reports a finding (formatted) and counts it. */
void admin_plan_report(struct admin_plan *p, enum admin_severity sev,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a resource: `doc` is printed compactly (the plan keeps no reference
 * to it).  Checks the names, validates the document with store_doc_parse and
 * reports an error (nothing added) when it is invalid or a duplicate.
 * Returns 0, or -ENOMEM. */
int admin_plan_add(struct admin_plan *p, enum store_kind kind, const char *ns,
		   const char *name, const cJSON *doc, const char *where);
/* Records a namespace to create (duplicates are merged). */
int admin_plan_add_ns(struct admin_plan *p, enum store_kind kind,
		      const char *ns);
/* Finds a planned resource; NULL if none.  Borrowed. */
struct admin_plan_entry *admin_plan_find(struct admin_plan *p,
					 enum store_kind kind, const char *ns,
					 const char *name);

/* Tells the formats apart by their top-level members. */
enum admin_format admin_import_detect(const cJSON *root);

/* Fills `plan` from our own export format.  Returns 0 (findings are in the
 * plan), or -ENOMEM. */
int admin_import_plan_export(const cJSON *root, struct admin_plan *plan);

/* Fills `plan` from a Podman Swarm state.json (see podman.c for the
 * mapping).  Returns 0 (findings are in the plan), or -ENOMEM. */
int admin_import_plan_podman(const cJSON *root, struct admin_plan *plan);

/*
 * Applies a plan without errors in ONE transaction: creates the missing
 * namespaces, then puts every resource (ignoring metadata.version, source
 * "import").  Any failure rolls everything back.  With opts->dry_run it
 * only counts.  Returns 0, or a negative errno with err filled.
 */
int admin_import_apply(struct store *s, struct admin_plan *plan,
		       const struct admin_import_opts *opts,
		       struct admin_import_result *res, struct store_err *err);

/*
 * Detects the format of `len` bytes, plans and (unless opts->dry_run)
 * applies them.  Returns 0 when everything was applied (or would be);
 * -EINVAL when the input is not JSON, of an unknown format, or has entries
 * with errors (each one reported through opts->report; nothing applied);
 * another negative errno for store failures.  err gets a one-line reason.
 */
int admin_import(struct store *s, const char *data, size_t len,
		 const struct admin_import_opts *opts,
		 struct admin_import_result *res, struct store_err *err);

/* Reads `path` ("-": stdin) whole into a new buffer (caller frees with
 * free()).  Returns 0 or a negative errno with err filled. */
int admin_read_file(const char *path, char **data, size_t *len,
		    struct store_err *err);

/* ---- Kubernetes export (kubernetes.c) ------------------------------------- */

/*
 * Maps admin_export's tree to a v1 List of apps/v1 Deployments, v1 Services,
 * v1 Pods and networking.k8s.io/v1 Ingresses.  What Kubernetes would refuse
 * is moved or left out and reported (ADMIN_WARNING) through `report` (may be
 * NULL).  Returns 0 and a new tree in *out (caller frees with cJSON_Delete),
 * or -ENOMEM with err filled.
 */
int admin_kubernetes(const cJSON *export, admin_report_cb report, void *arg,
		     cJSON **out, struct store_err *err);

/* admin_export then admin_kubernetes, printed like admin_export_file to
 * `path` (NULL or "-": stdout). */
int admin_kubernetes_file(struct store *s, const char *path, int64_t now_ms,
			  admin_report_cb report, void *arg, struct store_err *err);

/* ---- change log (log.c) --------------------------------------------------- */

/*
 * Parses KIND[/NS[/NAME]] (also a mount path such as
 * "deployments/default/web.json") into `filter`; ns and name point into the
 * caller's buffers.  Returns 0, or -EINVAL with err filled.
 */
int admin_log_parse_path(const char *path, struct store_log_filter *filter,
			 char ns[STORE_NAME_MAX + 1],
			 char name[STORE_NAME_MAX + 1], struct store_err *err);

/* Prints the matching changes to `f`, oldest first: aligned columns with a
 * header, or with `json` one JSON object per line. */
int admin_log_print(struct store *s, const struct store_log_filter *filter,
		    bool json, FILE *f);

#endif
