/* test-import.c - swarmfs-admin's export and import: round trip through a
 * fresh store, the Podman Swarm mapping, all-or-nothing on bad entries,
 * dry runs, and the log path filter. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "tap.h"

static char tmpdir[256];
static int64_t clock_ms = 1700000000000;

static int64_t test_now(void *arg)
{
	return clock_ms;
}

/* Findings collected for the assertions. */
struct findings {
	char text[16384];
	int errors, warnings;
};

static void collect(enum admin_severity sev, const char *msg, void *arg)
{
	struct findings *f = arg;
	size_t used = strlen(f->text);

	if (sev == ADMIN_ERROR)
		f->errors++;
	else
		f->warnings++;
	snprintf(f->text + used, sizeof(f->text) - used, "%s: %s\n",
		 sev == ADMIN_ERROR ? "error" : "warning", msg);
}

/* The findings as TAP comments, one per line. */
static void diag_findings(const struct findings *f)
{
	const char *p = f->text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		printf("# %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

static bool has(const struct findings *f, const char *s)
{
	return strstr(f->text, s) != NULL;
}

static struct store *open_fresh(const char *name, const char *node)
{
	struct store_options opts = {
		.node = node,
		.create = true,
		.sync = STORE_SYNC_NORMAL,
		.now_ms = test_now,
	};
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/%s.db", tmpdir, name);
	rc = store_open(path, &opts, &s, &err);
	if (rc < 0)
		diag("store_open %s: %s", path, err.msg);
	return s;
}

static int put(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, const char *doc)
{
	struct store_err err = { { 0 } };
	struct store_result res;
	int rc;

	if (strcmp(ns, STORE_DEFAULT_NAMESPACE) != 0) {
		struct store_ns_info info;

		if (store_ns_get(s, kind, ns, &info) == -ENOENT)
			store_ns_create(s, kind, ns, &err);
	}
	rc = store_put(s, kind, ns, name, doc, strlen(doc), NULL, &res, &err);
	if (rc < 0)
		diag("put %s/%s: %s", ns, name, err.msg);
	return rc;
}

/* The export with what legitimately differs between two stores removed:
 * node, revision and export time at the top, and the store-owned
 * metadata (version, created, updated, node) of every resource. */
static char *normalised_export(struct store *s)
{
	cJSON *root = NULL, *r;
	char *text = NULL;
	size_t len;

	if (admin_export(s, clock_ms, &root, NULL) < 0)
		return NULL;
	cJSON_DeleteItemFromObject(root, "node");
	cJSON_DeleteItemFromObject(root, "revision");
	cJSON_DeleteItemFromObject(root, "exported");
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(root, "resources")) {
		cJSON *meta = cJSON_GetObjectItem(r, "metadata");

		cJSON_DeleteItemFromObject(meta, "version");
		cJSON_DeleteItemFromObject(meta, "created");
		cJSON_DeleteItemFromObject(meta, "updated");
		cJSON_DeleteItemFromObject(meta, "node");
	}
	admin_json_print(root, &text, &len);
	cJSON_Delete(root);
	return text;
}

static char *export_text(struct store *s)
{
	cJSON *root = NULL;
	char *text = NULL;
	size_t len;

	if (admin_export(s, clock_ms, &root, NULL) < 0)
		return NULL;
	admin_json_print(root, &text, &len);
	cJSON_Delete(root);
	return text;
}

static int64_t revision(struct store *s)
{
	int64_t rev = -1;

	store_revision(s, &rev);
	return rev;
}

/* Compares a stored resource (content view) with the expected JSON. */
static bool doc_is(struct store *s, enum store_kind kind, const char *ns,
		   const char *name, const char *expected)
{
	struct store_meta meta;
	cJSON *got, *want;
	char *doc = NULL;
	size_t len;
	bool same;

	if (store_read(s, kind, ns, name, STORE_RENDER_CONTENT, &meta, &doc,
		       &len) < 0) {
		diag("%s/%s/%s: not stored", store_kind_dir(kind), ns, name);
		return false;
	}
	got = cJSON_ParseWithLength(doc, len);
	want = cJSON_Parse(expected);
	same = got && want && cJSON_Compare(got, want, true);
	if (!same)
		diag("%s/%s/%s:\n%s", store_kind_dir(kind), ns, name, doc);
	cJSON_Delete(got);
	cJSON_Delete(want);
	free(doc);
	return same;
}

static char *read_data(const char *name)
{
	const char *srcdir = getenv("top_srcdir");
	struct store_err err = { { 0 } };
	char path[1024];
	char *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/data/%s", srcdir ? srcdir : ".", name);
	if (admin_read_file(path, &data, &len, &err) < 0) {
		diag("%s", err.msg);
		return NULL;
	}
	return data;
}

/* ---- export -> import round trip ------------------------------------------ */

static void test_round_trip(void)
{
	struct findings f = { .text = "" };
	struct admin_import_opts opts = { .report = collect, .arg = &f };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *a = open_fresh("a", "node-a"), *b = open_fresh("b", "node-b");
	char *text, *na, *nb, *again;
	cJSON *root;
	int rc;

	ok(a && b, "stores open");
	if (!a || !b)
		return;
	put(a, STORE_KIND_DEPLOYMENT, "default", "web",
	    "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":3,"
	    "\"ports\":[{\"containerPort\":80}],\"env\":{\"B\":\"2\",\"A\":\"1\"}}}");
	clock_ms += 60000;
	put(a, STORE_KIND_DEPLOYMENT, "default", "web",
	    "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.26\",\"replicas\":3}}");
	put(a, STORE_KIND_DEPLOYMENT, "prod", "api",
	    "{\"spec\":{\"image\":\"api:1\"}}");
	put(a, STORE_KIND_SERVICE, "default", "web",
	    "{\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}}");
	put(a, STORE_KIND_POD, "default", "web-0",
	    "{\"spec\":{\"image\":\"nginx:1.26\",\"node\":\"node-a\",\"deployment\":\"web\"},\"status\":{\"phase\":\"Running\"}}");
	put(a, STORE_KIND_INGRESS, "default", "web",
	    "{\"metadata\":{\"annotations\":{\"note\":\"a \\\"quoted\\\" \\u00e9\"}},"
	    "\"spec\":{\"rules\":[{\"host\":\"www.example.com\",\"path\":\"/\",\"service\":\"web\",\"port\":80}]}}");
	store_ns_create(a, STORE_KIND_SERVICE, "staging", &err);
	put(a, STORE_KIND_POD, "default", "gone",
	    "{\"spec\":{\"image\":\"busybox\"}}");
	{
		struct store_result r;

		store_delete(a, STORE_KIND_POD, "default", "gone", &r, &err);
	}

	text = export_text(a);
	ok(text != NULL, "export builds");
	if (!text)
		return;
	root = cJSON_Parse(text);
	ok(root && strcmp(cJSON_GetObjectItem(root, "format")->valuestring,
			  ADMIN_EXPORT_FORMAT) == 0 &&
	   cJSON_GetObjectItem(root, "version")->valuedouble == 1 &&
	   strcmp(cJSON_GetObjectItem(root, "node")->valuestring, "node-a") == 0 &&
	   cJSON_GetObjectItem(root, "revision")->valuedouble == (double)revision(a),
	   "export header: format, version, node, revision");
	ok(root && cJSON_GetArraySize(cJSON_GetObjectItem(root, "resources")) == 5,
	   "export holds the 5 live resources, not the deleted one");
	{
		const cJSON *res = cJSON_GetObjectItem(root, "resources");
		const char *order[] = { "Deployment/default/web", "Deployment/prod/api",
					"Service/default/web", "Pod/default/web-0",
					"Ingress/default/web" };
		bool sorted = true;
		int i = 0;
		const cJSON *r;

		cJSON_ArrayForEach(r, res) {
			char key[256];
			const cJSON *m = cJSON_GetObjectItem(r, "metadata");

			snprintf(key, sizeof(key), "%s/%s/%s",
				 cJSON_GetObjectItem(r, "kind")->valuestring,
				 cJSON_GetObjectItem(m, "namespace")->valuestring,
				 cJSON_GetObjectItem(m, "name")->valuestring);
			if (i >= 5 || strcmp(key, order[i]) != 0)
				sorted = false;
			i++;
		}
		ok(sorted, "resources ordered by kind, namespace, name");
		ok(cJSON_GetArraySize(cJSON_GetObjectItem(
			   cJSON_GetObjectItem(root, "namespaces"), "services")) == 2,
		   "empty namespace services/staging is exported");
	}
	cJSON_Delete(root);
	again = export_text(a);
	ok(again && strcmp(text, again) == 0, "export is deterministic");
	free(again);

	rc = admin_import(b, text, strlen(text), &opts, &res, &err);
	ok(rc == 0, "import of the export succeeds (%s)", err.msg);
	ok(res.format == ADMIN_FORMAT_EXPORT, "format detected as swarmfs export");
	ok(res.total == 5 && res.resources[STORE_KIND_DEPLOYMENT] == 2 &&
	   res.resources[STORE_KIND_POD] == 1, "5 resources counted");
	ok(res.warnings == 0 && res.errors == 0, "no findings");
	diag_findings(&f);
	na = normalised_export(a);
	nb = normalised_export(b);
	ok(na && nb && strcmp(na, nb) == 0,
	   "export -> import -> export is identical but node, revision, time and store metadata");
	if (na && nb && strcmp(na, nb) != 0)
		diag("a:\n%s\nb:\n%s", na, nb);
	{
		struct store_meta meta;

		ok(store_stat(b, STORE_KIND_DEPLOYMENT, "default", "web", &meta) == 0 &&
		   meta.version == 1 && strcmp(meta.node, "node-b") == 0,
		   "imported resources are new versions made by the importing node");
	}

	/* importing again over itself applies (version ignored) */
	rc = admin_import(b, text, strlen(text), &opts, &res, &err);
	ok(rc == 0 && res.total == 5, "re-import over existing resources succeeds");
	{
		struct store_meta meta;

		ok(store_stat(b, STORE_KIND_DEPLOYMENT, "default", "web", &meta) == 0 &&
		   meta.version == 2, "metadata.version is ignored on import");
	}
	free(na);
	free(nb);
	free(text);
	store_close(a);
	store_close(b);
}

/* ---- change log source ---------------------------------------------------------- */

static int count_import_source(const struct store_change *c, void *arg)
{
	int *n = arg;

	if (c->op == STORE_OP_PUT && c->source &&
	    strcmp(c->source, ADMIN_IMPORT_SOURCE) == 0)
		(*n)++;
	return 0;
}

/* ---- bad entries: all or nothing ----------------------------------------------- */

static void test_bad_export(void)
{
	static const char bad[] =
		"{\"format\":\"swarmfs-export\",\"version\":1,\"node\":\"x\",\"revision\":9,"
		"\"namespaces\":{\"deployments\":[\"default\",\"extra\"]},"
		"\"resources\":["
		"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"ok\",\"namespace\":\"default\"},\"spec\":{\"image\":\"a\"}},"
		"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"image\":\"a\",\"replicas\":-1}},"
		"{\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g\",\"namespace\":\"default\"}},"
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"a\":\"b\"},\"ports\":[{\"port\":80}],\"colour\":1}},"
		"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"ok\",\"namespace\":\"default\"},\"spec\":{\"image\":\"b\"}}"
		"]}";
	struct findings f = { .text = "" };
	struct admin_import_opts opts = { .report = collect, .arg = &f };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("bad", "node-c");
	struct store_ns_info info;
	int rc;

	if (!s)
		return;
	rc = admin_import(s, bad, strlen(bad), &opts, &res, &err);
	ok(rc == -EINVAL, "import with bad entries fails with -EINVAL (%d)", rc);
	ok(res.errors == 4 && f.errors == 4, "every bad entry is reported (%d)",
	   f.errors);
	diag_findings(&f);
	ok(has(&f, "error: resources[1] (deployments/default/web): spec.replicas: "),
	   "bad replicas reported with index, path and JSON path");
	ok(has(&f, "error: resources[2]: kind: "), "unknown kind reported");
	ok(has(&f, "error: resources[3] (services/default/s): spec.colour"),
	   "unknown field reported by its JSON path");
	ok(has(&f, "error: resources[4] (deployments/default/ok): duplicate of resources[0]"),
	   "duplicate reported");
	ok(revision(s) == 0, "nothing was applied (revision still 0)");
	ok(store_ns_get(s, STORE_KIND_DEPLOYMENT, "extra", &info) == -ENOENT,
	   "no namespace was created either");
	ok(res.total == 0, "result counts nothing imported");
	store_close(s);
}

static void test_bad_podman(void)
{
	struct findings f = { .text = "" };
	struct admin_import_opts opts = { .report = collect, .arg = &f };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("badpodman", "node-d");
	struct store_meta meta;
	char *data = read_data("podman-bad.json");
	int rc;

	ok(data != NULL, "podman-bad.json readable");
	if (!s || !data) {
		free(data);
		store_close(s);
		return;
	}
	rc = admin_import(s, data, strlen(data), &opts, &res, &err);
	ok(rc == -EINVAL && res.errors == 3,
	   "podman import with 3 bad entries fails (%d, %" PRId64 " errors)",
	   rc, res.errors);
	diag_findings(&f);
	ok(has(&f, "error: deployments[\"default/noimage\"] (deployments/default/noimage): spec.image"),
	   "missing image is an error naming the entry");
	ok(has(&f, "error: deployments[\"default/Big_Name\"]: name 'Big_Name' is not a valid name"),
	   "invalid name is an error");
	ok(has(&f, "error: services[\"default/ext\"] (services/default/ext): spec.type"),
	   "ExternalName service is an error");
	ok(store_stat(s, STORE_KIND_DEPLOYMENT, "default", "good", &meta) == -ENOENT &&
	   revision(s) == 0, "the good entry was not applied either");
	free(data);
	store_close(s);
}

/* ---- Podman Swarm state.json ----------------------------------------------------- */

static void test_podman(void)
{
	struct findings f = { .text = "" };
	struct admin_import_opts opts = { .report = collect, .arg = &f };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("podman", "node-e");
	struct store_log_filter all = { 0 };
	char *data = read_data("podman-state.json");
	int imported = 0, rc;

	ok(data != NULL, "podman-state.json readable");
	if (!s || !data) {
		free(data);
		store_close(s);
		return;
	}
	rc = admin_import(s, data, strlen(data), &opts, &res, &err);
	ok(rc == 0, "podman import succeeds (%s)", err.msg);
	ok(res.format == ADMIN_FORMAT_PODMAN, "format detected as Podman Swarm");
	ok(res.resources[STORE_KIND_DEPLOYMENT] == 2 &&
	   res.resources[STORE_KIND_SERVICE] == 2 &&
	   res.resources[STORE_KIND_POD] == 4 &&
	   res.resources[STORE_KIND_INGRESS] == 1 && res.total == 9,
	   "2 deployments, 2 services, 4 pods, 1 ingress (%" PRId64 ")", res.total);
	ok(res.errors == 0, "no errors");
	diag_findings(&f);

	ok(doc_is(s, STORE_KIND_DEPLOYMENT, "default", "web",
		  "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		  "\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":2,"
		  "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
		  "\"env\":{\"MODE\":\"prod\"}}}"),
	   "deployment default/web mapped from the template's first container");
	ok(doc_is(s, STORE_KIND_DEPLOYMENT, "prod", "api",
		  "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"api\",\"namespace\":\"prod\"},"
		  "\"spec\":{\"image\":\"ghcr.io/example/api:2.1\",\"replicas\":3,"
		  "\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		  "\"env\":{\"LOG_LEVEL\":\"info\"}}}"),
	   "deployment prod/api takes DesiredReplicas");
	ok(doc_is(s, STORE_KIND_SERVICE, "default", "web",
		  "{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		  "\"labels\":{\"app\":\"web\"}},\"spec\":{\"selector\":{\"app\":\"web\"},"
		  "\"ports\":[{\"port\":80,\"targetPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
		  "\"type\":\"ClusterIP\"}}"),
	   "service default/web");
	ok(doc_is(s, STORE_KIND_SERVICE, "prod", "api",
		  "{\"kind\":\"Service\",\"metadata\":{\"name\":\"api\",\"namespace\":\"prod\"},"
		  "\"spec\":{\"selector\":{\"app\":\"api\"},"
		  "\"ports\":[{\"port\":8080,\"protocol\":\"UDP\"}],\"type\":\"NodePort\"}}"),
	   "service prod/api (named targetPort dropped)");
	ok(doc_is(s, STORE_KIND_INGRESS, "default", "web",
		  "{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		  "\"annotations\":{\"kubernetes.io/ingress.class\":\"swarm\"}},\"spec\":{\"rules\":["
		  "{\"host\":\"www.example.com\",\"path\":\"/\",\"service\":\"web\",\"port\":80},"
		  "{\"host\":\"www.example.com\",\"path\":\"/api\",\"service\":\"api\",\"port\":8080}]}}"),
	   "ingress rules flattened to one rule per host and path");
	ok(doc_is(s, STORE_KIND_POD, "default", "web-0",
		  "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-0\",\"namespace\":\"default\","
		  "\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"node\":\"node-1\","
		  "\"deployment\":\"web\"},\"status\":{\"phase\":\"Running\"}}"),
	   "pod inside a deployment gets spec.deployment");
	ok(doc_is(s, STORE_KIND_POD, "default", "web-1",
		  "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
		  "\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"node\":\"node-2\","
		  "\"deployment\":\"web\"},\"status\":{\"phase\":\"Pending\"}}"),
	   "pod in both places imported once, linked to its deployment");
	ok(doc_is(s, STORE_KIND_POD, "prod", "api-0",
		  "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"api-0\",\"namespace\":\"prod\"},"
		  "\"spec\":{\"image\":\"ghcr.io/example/api:2.1\",\"deployment\":\"api\"},"
		  "\"status\":{\"phase\":\"Unknown\"}}"),
	   "pod NAME-N linked to deployment NAME; empty NodeName omitted");
	ok(doc_is(s, STORE_KIND_POD, "default", "batch",
		  "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"batch\",\"namespace\":\"default\"},"
		  "\"spec\":{\"image\":\"busybox:1.36\",\"node\":\"node-1\"},"
		  "\"status\":{\"phase\":\"Succeeded\"}}"),
	   "standalone pod");

	ok(has(&f, "warning: deployments[\"default/web\"].Selector: no equivalent, dropped"),
	   "dropped selector reported with its JSON path");
	ok(has(&f, "warning: deployments[\"default/web\"].Pods[0].ID: no equivalent, dropped"),
	   "pod ID inside a deployment reported");
	ok(has(&f, "warning: deployments[\"prod/api\"].Replicas: differs from DesiredReplicas"),
	   "Replicas differing from DesiredReplicas reported");
	ok(has(&f, "warning: deployments[\"prod/api\"].Template.spec.containers[0].ports[0].hostPort: no equivalent, dropped"),
	   "hostPort reported");
	ok(has(&f, "warning: deployments[\"prod/api\"].Template.spec.containers[0].env[1].valueFrom: no equivalent, variable 'DB_PASSWORD' dropped"),
	   "env var from valueFrom dropped whole and reported");
	ok(has(&f, "warning: deployments[\"prod/api\"].Template.spec.nodeSelector: no equivalent, dropped"),
	   "template nodeSelector reported");
	ok(has(&f, "warning: services[\"prod/api\"].Ports[0].targetPort: named target port 'http'"),
	   "named targetPort reported");
	ok(has(&f, "warning: services[\"default/web\"].ClusterIP: no equivalent, dropped"),
	   "ClusterIP reported");
	ok(has(&f, "warning: ingresses[\"default/web\"].Rules[0].Paths[0].PathType: no equivalent, dropped"),
	   "PathType reported");
	ok(has(&f, "warning: deployments[\"default/web\"].Pods[0].CreatedAt: no equivalent, dropped") &&
	   !has(&f, "Pods[1]") && !has(&f, "pods[\"default/batch\"].CreatedAt") &&
	   !has(&f, "Annotations") && !has(&f, "last_modified") && !has(&f, "version"),
	   "Go zero values and consumed members are not reported, set ones are");
	ok(res.warnings == f.warnings, "warnings counted (%" PRId64 ")", res.warnings);

	rc = store_log(s, &all, count_import_source, &imported);
	ok(rc == 0 && imported == 9, "each put logged with source \"import\" (%d)",
	   imported);
	free(data);
	store_close(s);
}

/* ---- dry run ----------------------------------------------------------------------- */

static void test_dry_run(void)
{
	struct findings f = { .text = "" };
	struct admin_import_opts opts = { .dry_run = true, .report = collect, .arg = &f };
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("dry", "node-f");
	struct store_ns_info info;
	char *data = read_data("podman-state.json");
	int rc;

	if (!s || !data) {
		free(data);
		store_close(s);
		return;
	}
	rc = admin_import(s, data, strlen(data), &opts, &res, &err);
	ok(rc == 0 && res.total == 9, "dry run counts what would be imported (%" PRId64 ")",
	   res.total);
	ok(res.warnings > 0, "dry run reports the same warnings");
	ok(revision(s) == 0 &&
	   store_ns_get(s, STORE_KIND_DEPLOYMENT, "prod", &info) == -ENOENT,
	   "dry run applies nothing");
	rc = admin_import(NULL, data, strlen(data), &opts, &res, &err);
	ok(rc == 0 && res.total == 9, "dry run works without a store");
	free(data);

	data = read_data("podman-bad.json");
	rc = data ? admin_import(s, data, strlen(data), &opts, &res, &err) : -1;
	ok(rc == -EINVAL && res.errors == 3, "dry run finds the same errors");
	free(data);
	store_close(s);
}

/* ---- misc ------------------------------------------------------------------------- */

static void test_formats(void)
{
	struct admin_import_result res;
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("formats", "node-g");
	static const char *const bad[] = {
		"not json", "[1,2]", "{\"format\":\"other\"}",
		"{\"format\":\"swarmfs-export\",\"version\":2}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = admin_import(s, bad[i], strlen(bad[i]), NULL, &res, &err);

		ok(rc == -EINVAL && err.msg[0], "rejects %s: %s", bad[i], err.msg);
	}
	ok(admin_import(s, "{\"deployments\":{},\"version\":1}", 31, NULL, &res,
			&err) == 0 && res.format == ADMIN_FORMAT_PODMAN && res.total == 0,
	   "empty Podman state imports nothing");
	/* the documented snake_case spelling works like Go's field names */
	{
		static const char snake[] =
			"{\"deployments\":{\"default/x\":{\"name\":\"x\",\"namespace\":\"default\","
			"\"desired_replicas\":4,\"image\":\"i:1\",\"health_check\":{\"cmd\":\"true\"}}}}";
		struct findings f = { .text = "" };
		struct admin_import_opts opts = { .report = collect, .arg = &f };

		ok(admin_import(s, snake, strlen(snake), &opts, &res, &err) == 0 &&
		   doc_is(s, STORE_KIND_DEPLOYMENT, "default", "x",
			  "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},"
			  "\"spec\":{\"image\":\"i:1\",\"replicas\":4}}"),
		   "snake_case members (desired_replicas, image) map too");
		ok(has(&f, "warning: deployments[\"default/x\"].health_check: no equivalent, dropped"),
		   "unknown member reported");
		diag_findings(&f);
	}
	store_close(s);
}

static void test_export_file(void)
{
	struct store_err err = { { 0 } };
	struct store *s = open_fresh("file", "node-h");
	char path[1024], *data = NULL, *text;
	size_t len = 0;

	if (!s)
		return;
	put(s, STORE_KIND_DEPLOYMENT, "default", "web", "{\"spec\":{\"image\":\"x\"}}");
	snprintf(path, sizeof(path), "%s/out.json", tmpdir);
	ok(admin_export_file(s, path, clock_ms, &err) == 0, "export -o writes a file");
	text = export_text(s);
	ok(admin_read_file(path, &data, &len, &err) == 0 && text &&
	   strcmp(data, text) == 0, "the file holds the export");
	free(data);
	free(text);
	snprintf(path, sizeof(path), "%s/no/such/dir/out.json", tmpdir);
	ok(admin_export_file(s, path, clock_ms, &err) == -ENOENT && err.msg[0],
	   "export to a missing dir fails: %s", err.msg);
	store_close(s);
}

static void test_log_path(void)
{
	struct store_log_filter f = { 0 };
	struct store_err err = { { 0 } };
	char ns[STORE_NAME_MAX + 1], name[STORE_NAME_MAX + 1];

	ok(admin_log_parse_path("deployments", &f, ns, name, &err) == 0 &&
	   f.by_kind && f.kind == STORE_KIND_DEPLOYMENT && !f.ns && !f.name,
	   "log path KIND");
	ok(admin_log_parse_path("services/default", &f, ns, name, &err) == 0 &&
	   f.kind == STORE_KIND_SERVICE && f.ns && strcmp(f.ns, "default") == 0 && !f.name,
	   "log path KIND/NS");
	ok(admin_log_parse_path("deployments/default/web.json", &f, ns, name, &err) == 0 &&
	   f.name && strcmp(f.name, "web") == 0, "log path with .json");
	ok(admin_log_parse_path("/pods/default/web-0/", &f, ns, name, &err) == 0 &&
	   f.kind == STORE_KIND_POD && strcmp(f.name, "web-0") == 0,
	   "log path with slashes around");
	ok(admin_log_parse_path("gadgets", &f, ns, name, &err) == -EINVAL &&
	   strstr(err.msg, "gadgets"), "unknown kind: %s", err.msg);
	ok(admin_log_parse_path("pods/a/b/c", &f, ns, name, &err) == -EINVAL,
	   "too deep a path");
	ok(admin_log_parse_path("pods/Bad", &f, ns, name, &err) == -EINVAL,
	   "invalid namespace");
}

static void test_json_print(void)
{
	cJSON *v = cJSON_Parse("{\"a\":[],\"b\":{},\"c\":[1,2.5,-3],\"d\":\"x\\\"\\n\\u0001\",\"e\":null,\"f\":true}");
	char *out = NULL;
	size_t len;

	ok(v && admin_json_print(v, &out, &len) == 0 &&
	   strcmp(out, "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    2.5,\n    -3\n  ],\n"
		       "  \"d\": \"x\\\"\\n\\u0001\",\n  \"e\": null,\n  \"f\": true\n}\n") == 0,
	   "jq-style printing");
	free(out);
	cJSON_Delete(v);
}

static void cleanup(void)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("unable to remove '%s'", tmpdir);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	log_level = LOG_ERR;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-import-XXXXXX",
		 base && base[0] ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_json_print();
	test_round_trip();
	test_bad_export();
	test_bad_podman();
	test_podman();
	test_dry_run();
	test_formats();
	test_export_file();
	test_log_path();
	cleanup();
	return done_testing();
}
