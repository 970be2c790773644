/* fuzz-podman.c - libFuzzer harness for the Podman Swarm state.json
 * importer (store/admin/podman.c and import.c, libstore compiled in): no
 * input may crash it; every entry of a plan is a valid, unique document
 * under valid names; planning is deterministic; a dry run and the plan
 * agree; and a plan without errors applies to a real store (one per
 * process, in $FUZZ_STORE_DIR or /dev/shm), which then holds exactly the
 * planned bodies. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Applies before the store is thrown away and made again, so the change
 * log of a long run stays small. */
#define STORE_RECYCLE 2000

static char store_dir[256];
static char store_path[300];
static struct store *store;
static int applies;

static int64_t fixed_now(void *arg)
{
	return 1700000000000;
}

static void store_drop(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[400];

	store_close(store);
	store = NULL;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", store_path, suffixes[i]);
		unlink(path);
	}
}

static void cleanup(void)
{
	store_drop();
	if (store_dir[0])
		rmdir(store_dir);
}

static struct store *store_get_fresh(void)
{
	struct store_options opts = {
		.node = "fuzz",
		.create = true,
		.sync = STORE_SYNC_NORMAL,
		.now_ms = fixed_now,
	};
	struct store_err err = { { 0 } };
	int rc;

	if (store && applies % STORE_RECYCLE == 0)
		store_drop();
	if (store)
		return store;
	if (!store_dir[0]) {
		/* run.sh passes a directory it removes afterwards: libFuzzer
		 * leaves with _Exit, so atexit does not always run. */
		const char *base = getenv("FUZZ_STORE_DIR");

		if (base == NULL)
			base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(store_dir, sizeof(store_dir), "%s/fuzz-podman.XXXXXX", base);
		FUZZ_CHECK(mkdtemp(store_dir) != NULL, "unable to create a directory in %s", base);
		snprintf(store_path, sizeof(store_path), "%s/store.db", store_dir);
		atexit(cleanup);
	}
	rc = store_open(store_path, &opts, &store, &err);
	FUZZ_CHECK(rc == 0, "unable to open '%s': %s", store_path, err.msg);
	return store;
}

/* ---- findings ---------------------------------------------------------- */

struct counts {
	int64_t errors, warnings;
};

static void count(enum admin_severity sev, const char *msg, void *arg)
{
	struct counts *c = arg;

	FUZZ_CHECK(msg != NULL && msg[0] != '\0', "an empty finding");
	FUZZ_CHECK(sev == ADMIN_ERROR || sev == ADMIN_WARNING, "severity %d", (int)sev);
	if (sev == ADMIN_ERROR)
		c->errors++;
	else
		c->warnings++;
}

/* ---- the plan ----------------------------------------------------------------- */

static bool has_ns(const struct admin_plan *p, enum store_kind kind, const char *ns)
{
	for (size_t i = 0; i < p->ns_count; i++)
		if (p->namespaces[i].kind == kind && strcmp(p->namespaces[i].name, ns) == 0)
			return true;
	return false;
}

/* Body of the document an entry holds, as the store will keep it. */
static char *entry_body(const struct admin_plan_entry *e)
{
	struct store_err err = { { 0 } };
	struct store_doc doc = { 0 };
	int rc = store_doc_parse(e->kind, e->ns, e->name, e->doc, strlen(e->doc), &doc, &err);

	FUZZ_CHECK(rc == 0, "%s: a planned document does not validate: %s\n%s", e->where,
		   err.msg, e->doc);
	return doc.body;
}

static void check_plan(const struct admin_plan *p, const struct counts *c)
{
	FUZZ_CHECK(p->errors == c->errors && p->warnings == c->warnings,
		   "plan counts %lld/%lld, reported %lld/%lld", (long long)p->errors,
		   (long long)p->warnings, (long long)c->errors, (long long)c->warnings);
	for (size_t i = 0; i < p->count; i++) {
		const struct admin_plan_entry *e = &p->entries[i];
		char *body;

		FUZZ_CHECK((unsigned)e->kind < STORE_KIND_COUNT, "kind %d", (int)e->kind);
		FUZZ_CHECK(store_name_valid(e->ns) && store_name_valid(e->name),
			   "%s: invalid names '%s/%s'", e->where, e->ns, e->name);
		FUZZ_CHECK(e->where != NULL && e->where[0] != '\0', "an entry without origin");
		FUZZ_CHECK(has_ns(p, e->kind, e->ns), "%s: namespace %s not planned", e->where,
			   e->ns);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(!(p->entries[j].kind == e->kind &&
				     strcmp(p->entries[j].ns, e->ns) == 0 &&
				     strcmp(p->entries[j].name, e->name) == 0),
				   "%s and %s are the same resource", p->entries[j].where, e->where);
		body = entry_body(e);
		free(body);
	}
}

static void same_plan(const struct admin_plan *a, const struct admin_plan *b)
{
	FUZZ_CHECK(a->count == b->count && a->ns_count == b->ns_count &&
		   a->errors == b->errors && a->warnings == b->warnings,
		   "planning the same input twice differs");
	for (size_t i = 0; i < a->count; i++)
		FUZZ_CHECK(a->entries[i].kind == b->entries[i].kind &&
			   strcmp(a->entries[i].ns, b->entries[i].ns) == 0 &&
			   strcmp(a->entries[i].name, b->entries[i].name) == 0 &&
			   strcmp(a->entries[i].doc, b->entries[i].doc) == 0,
			   "entry %zu differs between two plans", i);
}

/* A plan without errors applies, and the store then holds its bodies. */
static void check_apply(struct admin_plan *p)
{
	struct admin_import_opts opts = { 0 };
	struct admin_import_result res = { 0 };
	struct store_err err = { { 0 } };
	struct store *s = store_get_fresh();
	int rc;

	applies++;
	rc = admin_import_apply(s, p, &opts, &res, &err);
	FUZZ_CHECK(rc == 0, "a plan without errors does not apply (%d): %s", rc, err.msg);
	FUZZ_CHECK(res.total == (int64_t)p->count, "applied %lld of %zu", (long long)res.total,
		   p->count);
	for (size_t i = 0; i < p->count; i++) {
		const struct admin_plan_entry *e = &p->entries[i];
		struct store_meta meta;
		char *want = entry_body(e), *got = NULL;

		rc = store_get(s, e->kind, e->ns, e->name, &meta, &got);
		FUZZ_CHECK(rc == 0, "%s: not in the store after the import (%d)", e->where, rc);
		FUZZ_CHECK(strcmp(want, got) == 0, "%s: stored body differs:\n%s\n%s", e->where,
			   want, got);
		free(want);
		free(got);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct counts dry = { 0 }, c1 = { 0 }, c2 = { 0 };
	struct admin_import_opts opts = { .dry_run = true, .report = count, .arg = &dry };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct admin_plan p1, p2;
	char *text = malloc(size ? size : 1);
	cJSON *root;
	int rc;

	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size); /* exact size: ASan sees any over-read */

	/* The whole import as swarmfs-admin import --dry-run runs it. */
	rc = admin_import(NULL, text, size, &opts, &res, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "admin_import returned %d", rc);
	FUZZ_CHECK(rc == 0 || err.msg[0] != '\0', "a refusal without a reason");
	FUZZ_CHECK(res.errors == dry.errors && res.warnings == dry.warnings,
		   "result counts disagree with the findings");
	FUZZ_CHECK(rc != 0 || res.errors == 0, "accepted with %lld errors", (long long)res.errors);

	root = cJSON_ParseWithLengthOpts(text, size, NULL, false);
	if (root == NULL || admin_import_detect(root) != ADMIN_FORMAT_PODMAN) {
		FUZZ_CHECK(root != NULL || rc == -EINVAL, "not JSON, yet imported");
		cJSON_Delete(root);
		free(text);
		return 0;
	}
	FUZZ_CHECK(res.format == ADMIN_FORMAT_PODMAN, "format detection differs");

	admin_plan_init(&p1, count, &c1);
	admin_plan_init(&p2, count, &c2);
	FUZZ_CHECK(admin_import_plan_podman(root, &p1) == 0, "planning failed");
	FUZZ_CHECK(admin_import_plan_podman(root, &p2) == 0, "planning failed");
	check_plan(&p1, &c1);
	same_plan(&p1, &p2);
	FUZZ_CHECK((p1.errors == 0) == (rc == 0), "dry run %d, plan has %lld errors", rc,
		   (long long)p1.errors);
	FUZZ_CHECK(rc != 0 || res.total == (int64_t)p1.count, "dry run counted %lld of %zu",
		   (long long)res.total, p1.count);
	if (p1.errors == 0 && p1.count > 0)
		check_apply(&p1);
	admin_plan_release(&p1);
	admin_plan_release(&p2);
	cJSON_Delete(root);
	free(text);
	return 0;
}
