/* test-store.c - libstore's SQLite side against real files in a temporary
 * dir: open rules, writes and their preconditions, tombstones, renames,
 * namespaces, the change log, the HLC, transactions, status and check. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "store.h"
#include "tap.h"

#define D STORE_KIND_DEPLOYMENT
#define WEB "{\"spec\":{\"image\":\"nginx:1.25\"}}"
#define WEB2 "{\"spec\":{\"image\":\"nginx:1.26\",\"replicas\":3}}"

static char dir[3800];
static char path[4096];
static int64_t fake_now = 1700000000000;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct store *open_store(const char *node, bool create, bool readonly)
{
	struct store_options o = {
		.node = node, .create = create, .readonly = readonly,
		.now_ms = fake_clock, .sync = STORE_SYNC_NORMAL,
	};
	struct store_err err = { "" };
	struct store *s = NULL;
	int rc = store_open(path, &o, &s, &err);

	if (rc < 0)
		diag("store_open: %d %s", rc, err.msg);
	return s;
}

static int put(struct store *s, enum store_kind kind, const char *ns,
	       const char *name, const char *json, struct store_result *res,
	       struct store_err *err)
{
	return store_put(s, kind, ns, name, json, strlen(json), NULL, res, err);
}

static char *body_of(struct store *s, enum store_kind kind, const char *ns, const char *name)
{
	char *body = NULL;

	if (store_get(s, kind, ns, name, NULL, &body) < 0)
		return NULL;
	return body;
}

/* ---- callbacks --------------------------------------------------------- */

struct names {
	char v[32][STORE_NAME_MAX + 1];
	int64_t count[32];
	int n;
};

static int collect_entry(const struct store_entry *e, void *arg)
{
	struct names *n = arg;

	if (n->n < 32)
		snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", e->name);
	return 0;
}

static int collect_ns(const struct store_ns_info *info, void *arg)
{
	struct names *n = arg;

	if (n->n < 32) {
		n->count[n->n] = info->count;
		snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", info->name);
	}
	return 0;
}

struct changes {
	int n;
	int64_t revision[256];
	int64_t origin_seq[256];
	uint64_t hlc[256];
	int op[256];
	char name[256][STORE_NAME_MAX + 1];
	char source[256][80];
	bool has_body[256];
};

static int collect_change(const struct store_change *c, void *arg)
{
	struct changes *ch = arg;
	int i = ch->n;

	if (i >= 256)
		return 1;
	ch->revision[i] = c->revision;
	ch->origin_seq[i] = c->origin_seq;
	ch->hlc[i] = c->hlc;
	ch->op[i] = c->op;
	snprintf(ch->name[i], sizeof(ch->name[i]), "%s", c->name);
	snprintf(ch->source[i], sizeof(ch->source[i]), "%s", c->source ? c->source : "");
	ch->has_body[i] = c->body != NULL;
	ch->n++;
	return 0;
}

static void get_log(struct store *s, const struct store_log_filter *f, struct changes *ch)
{
	memset(ch, 0, sizeof(*ch));
	store_log(s, f, collect_change, ch);
}

/* ---- tests ------------------------------------------------------------- */

static void test_open(void)
{
	struct store_options o = { .node = "node-1" };
	struct store_err err = { "" };
	struct store *s = NULL;
	char want[4200];
	int rc;

	rc = store_open(path, &o, &s, &err);
	snprintf(want, sizeof(want), "no store at '%s'", path);
	ok(rc == -ENOENT && strcmp(err.msg, want) == 0, "missing store without create: %d %s", rc, err.msg);

	o.node = "Bad_Node";
	o.create = true;
	rc = store_open(path, &o, &s, &err);
	ok(rc == -EINVAL && strstr(err.msg, "invalid node name 'Bad_Node'"), "invalid node name refused: %s", err.msg);

	s = open_store("node-1", true, false);
	ok(s != NULL, "create");
	ok(s && strcmp(store_node(s), "node-1") == 0, "node name recorded");
	store_close(s);

	s = open_store(NULL, false, false);
	ok(s && strcmp(store_node(s), "node-1") == 0, "reopen without a node uses the recorded one");
	store_close(s);

	o.node = "node-2";
	o.create = false;
	rc = store_open(path, &o, &s, &err);
	ok(rc == -EINVAL && strcmp(err.msg, "data dir belongs to node 'node-1', not 'node-2'") == 0,
	   "node name mismatch refused: %s", err.msg);

	o.node = "node-1";
	o.quick_check = true;
	rc = store_open(path, &o, &s, &err);
	ok(rc == 0, "quick_check of a good store passes");
	store_close(s);
	store_close(NULL);
}

static void test_put_get(struct store *s)
{
	struct store_result res = { 0 };
	struct store_err err = { "" };
	struct store_meta meta, meta2;
	struct names names = { 0 };
	char *body = NULL, *doc = NULL;
	size_t len = 0;
	int rc;

	rc = put(s, D, "default", "web", WEB, &res, &err);
	ok(rc == 0 && res.version == 1 && res.revision == 1, "first put: version 1 revision 1 (%d %s)", rc, err.msg);
	rc = store_stat(s, D, "default", "web", &meta);
	ok(rc == 0 && meta.version == 1 && meta.created_ms == fake_now && meta.updated_ms == fake_now &&
	   strcmp(meta.node, "node-1") == 0, "stat metadata");
	rc = store_get(s, D, "default", "web", &meta2, &body);
	ok(rc == 0 && body && strcmp(body, "{\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":1}}") == 0,
	   "get returns the canonical body: %s", body ? body : "(null)");
	free(body);
	rc = store_read(s, D, "default", "web", STORE_RENDER_LIVE, &meta2, &doc, &len);
	ok(rc == 0 && doc && strstr(doc, "\"version\": 1") && strstr(doc, "\"node\": \"node-1\""),
	   "read renders the document");
	ok(rc == 0 && (int64_t)len == meta.size && (int64_t)strlen(doc) == meta.size,
	   "stored size %" PRId64 " equals the rendering's length %zu", meta.size, len);
	free(doc);

	fake_now += 1000;
	rc = put(s, D, "default", "web", WEB2, &res, &err);
	ok(rc == 0 && res.version == 2 && res.revision == 2, "update bumps version to 2");
	store_stat(s, D, "default", "web", &meta2);
	ok(meta2.created_ms == meta.created_ms && meta2.updated_ms == fake_now,
	   "update keeps created, moves updated");
	ok(meta2.hlc > meta.hlc, "hlc grows");

	ok(store_stat(s, D, "default", "nope", &meta) == -ENOENT, "stat of a missing resource: -ENOENT");
	ok(store_get(s, D, "default", "nope", &meta, &body) == -ENOENT && body == NULL,
	   "get of a missing resource: -ENOENT");
	ok(store_stat(s, STORE_KIND_SERVICE, "default", "web", &meta) == -ENOENT, "kinds are separate");

	put(s, D, "default", "c", WEB, NULL, &err);
	put(s, D, "default", "a", WEB, NULL, &err);
	rc = store_list(s, D, "default", collect_entry, &names);
	ok(rc == 0 && names.n == 3 && strcmp(names.v[0], "a") == 0 && strcmp(names.v[1], "c") == 0 &&
	   strcmp(names.v[2], "web") == 0, "list by name: %d entries", names.n);

	rc = put(s, D, "default", "Bad", WEB, NULL, &err);
	ok(rc == -EINVAL && strstr(err.msg, "invalid name 'Bad'"), "invalid name: %s", err.msg);
	rc = put(s, D, "default", "web", "{\"spec\":{\"image\":\"nginx\"}", NULL, &err);
	ok(rc == -EINVAL, "truncated JSON refused: %s", err.msg);
}

static void test_precondition(struct store *s)
{
	struct store_put_opts po = { .ignore_version = true };
	struct store_result res = { 0 };
	struct store_err err = { "" };
	struct store_meta before, after;
	char *b1, *b2;
	int64_t rev1, rev2;
	int rc;

	/* web is at version 2 */
	rc = put(s, D, "default", "web", "{\"metadata\":{\"version\":2},\"spec\":{\"image\":\"v3\"}}", &res, &err);
	ok(rc == 0 && res.version == 3, "matching version applies (%d %s)", rc, err.msg);

	store_stat(s, D, "default", "web", &before);
	b1 = body_of(s, D, "default", "web");
	store_revision(s, &rev1);
	rc = put(s, D, "default", "web", "{\"metadata\":{\"version\":2},\"spec\":{\"image\":\"v4\"}}", &res, &err);
	ok(rc == -ESTALE && strcmp(err.msg, "metadata.version is 2 but the current version is 3") == 0,
	   "stale version refused: %s", err.msg);
	rc = put(s, D, "default", "web", "{\"spec\":{\"image\":\"\"}}", &res, &err);
	ok(rc == -EINVAL && strcmp(err.msg, "spec.image: must be a non-empty string") == 0,
	   "invalid document refused: %s", err.msg);
	b2 = body_of(s, D, "default", "web");
	store_stat(s, D, "default", "web", &after);
	store_revision(s, &rev2);
	ok(b1 && b2 && strcmp(b1, b2) == 0 && before.version == after.version && before.hlc == after.hlc &&
	   rev1 == rev2, "rejected puts leave the stored body and the log untouched");
	free(b1);
	free(b2);

	rc = put(s, D, "default", "new", "{\"metadata\":{\"version\":0},\"spec\":{\"image\":\"x\"}}", &res, &err);
	ok(rc == 0 && res.version == 1, "version 0 creates");
	rc = put(s, D, "default", "new2", "{\"metadata\":{\"version\":4},\"spec\":{\"image\":\"x\"}}", &res, &err);
	ok(rc == -ESTALE && strstr(err.msg, "metadata.version is 4 but"), "non-zero version on a missing resource: %s", err.msg);
	ok(store_stat(s, D, "default", "new2", &after) == -ENOENT, "and nothing was created");
	rc = store_put(s, D, "default", "web", "{\"metadata\":{\"version\":1},\"spec\":{\"image\":\"v4\"}}",
		       strlen("{\"metadata\":{\"version\":1},\"spec\":{\"image\":\"v4\"}}"), &po, &res, &err);
	ok(rc == 0 && res.version == 4, "ignore_version applies anyway");
}

static void test_delete(struct store *s)
{
	struct store_result res = { 0 };
	struct store_err err = { "" };
	struct store_meta meta;
	char *body = NULL;
	int rc;

	/* new is at version 1 */
	fake_now += 1000;
	rc = store_delete(s, D, "default", "new", &res, &err);
	ok(rc == 0 && res.version == 2, "delete: tombstone version 2 (%d %s)", rc, err.msg);
	ok(store_stat(s, D, "default", "new", &meta) == -ENOENT, "deleted: stat -ENOENT");
	ok(store_get(s, D, "default", "new", &meta, &body) == -ENOENT, "deleted: get -ENOENT");
	rc = store_delete(s, D, "default", "new", &res, &err);
	ok(rc == -ENOENT && strcmp(err.msg, "'deployments/default/new' does not exist") == 0,
	   "delete twice: %s", err.msg);
	rc = put(s, D, "default", "new", "{\"metadata\":{\"version\":2},\"spec\":{\"image\":\"x\"}}", &res, &err);
	ok(rc == -ESTALE, "a tombstone's version is not a precondition match");
	fake_now += 1000;
	rc = put(s, D, "default", "new", WEB, &res, &err);
	ok(rc == 0 && res.version == 3, "re-created resource continues at version 3");
	store_stat(s, D, "default", "new", &meta);
	ok(meta.created_ms == fake_now, "re-created resource gets a new created time");
}

static void test_rename(struct store *s)
{
	struct store_result res = { 0 };
	struct store_err err = { "" };
	struct store_meta meta;
	struct changes ch;
	struct store_log_filter f = { 0 };
	char *b1, *b2;
	int64_t rev;
	int rc;

	/* a (v1), c (v1) exist */
	b1 = body_of(s, D, "default", "a");
	store_revision(s, &rev);
	rc = store_rename(s, D, "default", "a", "b", &res, &err);
	ok(rc == 0 && res.version == 1 && res.revision == rev + 2, "rename to a new name (%d %s)", rc, err.msg);
	b2 = body_of(s, D, "default", "b");
	ok(b1 && b2 && strcmp(b1, b2) == 0, "target has the body");
	ok(store_stat(s, D, "default", "a", &meta) == -ENOENT, "source is gone");
	free(b1);
	free(b2);

	f.after_revision = rev;
	get_log(s, &f, &ch);
	ok(ch.n == 2 && ch.op[0] == STORE_OP_DELETE && strcmp(ch.name[0], "a") == 0 &&
	   ch.op[1] == STORE_OP_PUT && strcmp(ch.name[1], "b") == 0 &&
	   strcmp(ch.source[0], "rename:a") == 0 && strcmp(ch.source[1], "rename:a") == 0,
	   "rename logs delete + put with source rename:a");

	put(s, D, "default", "c", WEB2, &res, &err); /* c at v2 */
	rc = store_rename(s, D, "default", "b", "c", &res, &err);
	ok(rc == 0 && res.version == 3, "rename over an existing target continues its version: %" PRId64, res.version);
	b1 = body_of(s, D, "default", "c");
	ok(b1 && strstr(b1, "nginx:1.25"), "target replaced");
	free(b1);

	rc = store_rename(s, D, "default", "missing", "d", &res, &err);
	ok(rc == -ENOENT, "rename of a missing resource: %s", err.msg);
	store_revision(s, &rev);
	rc = store_rename(s, D, "default", "c", "c", &res, &err);
	store_stat(s, D, "default", "c", &meta);
	ok(rc == 0 && res.version == 3 && meta.version == 3 && res.revision == rev, "rename onto itself changes nothing");
}

static void test_namespaces(struct store *s)
{
	struct store_err err = { "" };
	struct store_result res;
	struct store_ns_info info;
	struct names names = { 0 };
	struct changes ch;
	struct store_log_filter f = { 0 };
	int64_t rev;
	int rc;

	ok(store_ns_get(s, D, "default", &info) == 0 && strcmp(info.name, "default") == 0, "default namespace always exists");
	ok(store_ns_get(s, STORE_KIND_INGRESS, "default", &info) == 0 && info.count == 0, "in every kind");
	ok(store_ns_get(s, D, "team-a", &info) == -ENOENT, "team-a does not exist yet");

	rc = put(s, D, "team-a", "web", WEB, &res, &err);
	ok(rc == -ENOENT && strcmp(err.msg, "namespace 'deployments/team-a' does not exist") == 0,
	   "put into a missing namespace: %s", err.msg);

	store_revision(s, &rev);
	fake_now += 1000;
	rc = store_ns_create(s, D, "team-a", &err);
	ok(rc == 0, "create team-a");
	rc = store_ns_create(s, D, "team-a", &err);
	ok(rc == -EEXIST && strcmp(err.msg, "namespace 'deployments/team-a' already exists") == 0, "again: %s", err.msg);
	ok(store_ns_create(s, D, "default", &err) == -EEXIST, "default: -EEXIST");
	ok(store_ns_create(s, D, "Team", &err) == -EINVAL, "invalid namespace name: %s", err.msg);
	ok(store_ns_get(s, D, "team-a", &info) == 0 && info.count == 0 && info.created_ms == fake_now,
	   "ns_get team-a");
	ok(store_ns_get(s, STORE_KIND_SERVICE, "team-a", &info) == -ENOENT, "namespaces are per kind");

	fake_now += 1000;
	ok(put(s, D, "team-a", "web", WEB, &res, &err) == 0, "put into team-a");
	ok(put(s, D, "team-a", "api", WEB, &res, &err) == 0, "another");
	ok(store_ns_get(s, D, "team-a", &info) == 0 && info.count == 2 && info.updated_ms == fake_now,
	   "count 2, updated moved");
	fake_now += 1000;
	put(s, D, "team-a", "api", WEB2, &res, &err);
	ok(store_ns_get(s, D, "team-a", &info) == 0 && info.updated_ms == fake_now - 1000,
	   "an update does not move the namespace's updated time");

	store_ns_create(s, D, "aaa", &err);
	store_ns_create(s, D, "zzz", &err);
	rc = store_ns_list(s, D, collect_ns, &names);
	ok(rc == 0 && names.n == 4 && strcmp(names.v[0], "aaa") == 0 && strcmp(names.v[1], "default") == 0 &&
	   strcmp(names.v[2], "team-a") == 0 && strcmp(names.v[3], "zzz") == 0 && names.count[2] == 2,
	   "ns_list in name order with the default in place (%d)", names.n);
	memset(&names, 0, sizeof(names));
	rc = store_ns_list(s, STORE_KIND_POD, collect_ns, &names);
	ok(rc == 0 && names.n == 1 && strcmp(names.v[0], "default") == 0, "a kind with only the default");

	rc = store_ns_delete(s, D, "team-a", false, &err);
	ok(rc == -ENOTEMPTY && strcmp(err.msg, "namespace 'deployments/team-a' is not empty") == 0,
	   "non-empty: %s", err.msg);
	rc = store_ns_delete(s, D, "default", true, &err);
	ok(rc == -EBUSY && strcmp(err.msg, "the default namespace cannot be removed") == 0, "default: %s", err.msg);
	ok(store_ns_delete(s, D, "nope", false, &err) == -ENOENT, "missing namespace: %s", err.msg);
	ok(store_ns_delete(s, D, "aaa", false, &err) == 0, "empty namespace removed");

	store_revision(s, &rev);
	rc = store_ns_delete(s, D, "team-a", true, &err);
	ok(rc == 0, "recursive removal (%d %s)", rc, err.msg);
	ok(store_ns_get(s, D, "team-a", &info) == -ENOENT, "namespace gone");
	ok(store_stat(s, D, "team-a", "web", &(struct store_meta){ 0 }) == -ENOENT, "its resources gone");
	f.after_revision = rev;
	get_log(s, &f, &ch);
	ok(ch.n == 3 && ch.op[0] == STORE_OP_DELETE && ch.op[1] == STORE_OP_DELETE &&
	   ch.op[2] == STORE_OP_NS_DELETE && strcmp(ch.name[2], "") == 0,
	   "recursive removal logs each delete then rmns (%d)", ch.n);

	ok(store_ns_create(s, D, "team-a", &err) == 0, "a removed namespace can be created again");
	rc = put(s, D, "team-a", "web", WEB, &res, &err);
	ok(rc == 0 && res.version == 3, "its old resources continue their versions: %" PRId64, res.version);
}

static void test_log(struct store *s)
{
	struct store_log_filter f = { 0 };
	struct changes ch;
	int64_t rev;
	bool inc = true, seq = true, hlc = true;
	int n;

	get_log(s, NULL, &ch);
	store_revision(s, &rev);
	for (int i = 0; i < ch.n; i++) {
		if (i > 0 && ch.revision[i] <= ch.revision[i - 1])
			inc = false;
		if (i > 0 && ch.hlc[i] <= ch.hlc[i - 1])
			hlc = false;
		if (ch.origin_seq[i] != i + 1)
			seq = false;
	}
	ok(ch.n > 20 && ch.revision[0] == 1, "log from revision 1 (%d entries)", ch.n);
	ok(inc && ch.revision[ch.n - 1] == rev, "revisions strictly increasing up to store_revision");
	ok(seq, "origin_seq 1, 2, 3, ... without gaps");
	ok(hlc, "hlc strictly increasing along the log");
	ok(!ch.has_body[0], "no bodies unless asked");
	n = ch.n;

	f.with_body = true;
	f.limit = 3;
	get_log(s, &f, &ch);
	ok(ch.n == 3 && ch.has_body[0] && ch.revision[2] == 3, "limit 3, with bodies");
	f.after_revision = rev - 2;
	f.limit = 0;
	get_log(s, &f, &ch);
	ok(ch.n == 2 && ch.revision[0] == rev - 1, "after_revision");

	memset(&f, 0, sizeof(f));
	f.by_kind = true;
	f.kind = D;
	f.ns = "default";
	f.name = "web";
	get_log(s, &f, &ch);
	ok(ch.n == 4, "filter by resource: %d changes of deployments/default/web", ch.n);
	f.name = NULL;
	f.ns = "team-a";
	get_log(s, &f, &ch);
	ok(ch.n == 9, "filter by namespace: %d", ch.n);
	f.kind = STORE_KIND_SERVICE;
	f.ns = NULL;
	get_log(s, &f, &ch);
	ok(ch.n == 0, "filter by kind");
	(void)n;
}

static void test_hlc(struct store *s)
{
	struct store_result res;
	struct store_err err;
	struct store_meta meta;
	uint64_t prev = 0, h;
	bool mono = true;

	for (int i = 0; i < 60; i++) {
		/* backwards, then still, then backwards again */
		if (i % 3 == 0)
			fake_now -= 5000;
		put(s, D, "default", "clock", i % 2 ? WEB : WEB2, &res, &err);
		store_stat(s, D, "default", "clock", &meta);
		if (meta.hlc <= prev)
			mono = false;
		prev = meta.hlc;
	}
	ok(mono, "hlc strictly increasing while the clock goes backwards and stands still");
	ok(STORE_HLC_PHYSICAL(prev) >= fake_now, "physical part never goes back");

	h = store_hlc_tick((uint64_t)1000 << 16, 500);
	ok(h == ((uint64_t)1000 << 16) + 1, "tick with a clock behind: last + 1");
	h = store_hlc_tick((uint64_t)1000 << 16, 2000);
	ok(h == (uint64_t)2000 << 16, "tick with a clock ahead: now");
	ok(store_hlc_merge((uint64_t)1000 << 16, ((uint64_t)3000 << 16) + 5, 2000, 5000, &h) == 0 &&
	   h == ((uint64_t)3000 << 16) + 6, "merge with a remote ahead: remote + 1");
	ok(store_hlc_merge((uint64_t)1000 << 16, (uint64_t)90000 << 16, 2000, 5000, &h) == -ERANGE,
	   "merge refuses a remote beyond the skew bound");
}

static void test_txn(struct store *s)
{
	struct store_result res;
	struct store_err err;
	struct store_meta meta;
	int64_t rev1, rev2;
	int rc;

	ok(store_txn_begin(s) == 0, "txn begin");
	ok(store_txn_begin(s) < 0, "no nested begin");
	ok(put(s, D, "default", "t1", WEB, &res, &err) == 0, "put in txn");
	rc = put(s, D, "default", "t1", "{\"metadata\":{\"version\":9},\"spec\":{\"image\":\"x\"}}", &res, &err);
	ok(rc == -ESTALE, "failing put in txn");
	rc = put(s, D, "nope", "t9", WEB, &res, &err);
	ok(rc == -ENOENT, "another failing put in txn");
	ok(put(s, D, "default", "t2", WEB, &res, &err) == 0, "put after the failure");
	ok(store_txn_commit(s) == 0, "commit");
	ok(store_stat(s, D, "default", "t1", &meta) == 0 && meta.version == 1 &&
	   store_stat(s, D, "default", "t2", &meta) == 0, "earlier and later puts survived the failed one");

	store_revision(s, &rev1);
	store_txn_begin(s);
	put(s, D, "default", "t3", WEB, &res, &err);
	store_delete(s, D, "default", "t1", &res, &err);
	store_txn_rollback(s);
	store_revision(s, &rev2);
	ok(store_stat(s, D, "default", "t3", &meta) == -ENOENT && store_stat(s, D, "default", "t1", &meta) == 0,
	   "rollback drops the txn's writes");
	ok(rev2 == rev1, "rollback leaves the revision");
	ok(store_txn_commit(s) == -EINVAL, "commit without a txn");
	ok(put(s, D, "default", "t4", WEB, &res, &err) == 0 && res.revision == rev1 + 1,
	   "next put takes the next revision");
}

static void test_two_connections(struct store *s)
{
	struct store *s2 = open_store("node-1", false, false);
	struct store_result r1, r2;
	struct store_err err;
	struct store_meta m1, m2;
	struct changes ch;

	ok(s2 != NULL, "second connection");
	if (!s2)
		return;
	put(s, D, "default", "shared", WEB, &r1, &err);
	put(s2, D, "default", "shared", WEB2, &r2, &err);
	store_stat(s, D, "default", "shared", &m1);
	ok(r2.version == 2 && r2.revision == r1.revision + 1 && m1.version == 2,
	   "connections see each other's writes");
	store_stat(s2, D, "default", "shared", &m2);
	get_log(s2, &(struct store_log_filter){ .after_revision = r1.revision - 1 }, &ch);
	ok(ch.n == 2 && ch.origin_seq[1] == ch.origin_seq[0] + 1 && ch.hlc[1] > ch.hlc[0],
	   "sequence and clock continue across connections");
	store_close(s2);

	/* A writer holding the lock past the busy timeout: -EBUSY, not -EIO. */
	{
		struct store_options o = { .busy_timeout_ms = 50, .now_ms = fake_clock };
		int rc = store_open(path, &o, &s2, &err);

		ok(rc == 0, "connection with a 50 ms busy timeout");
		if (rc < 0)
			return;
		store_txn_begin(s);
		rc = put(s2, D, "default", "shared", WEB, &r2, &err);
		ok(rc == -EBUSY, "write while another connection holds the lock: -EBUSY (%s)", err.msg);
		ok(store_stat(s2, D, "default", "shared", &m2) == 0 && m2.version == 2, "reads are not blocked");
		store_txn_rollback(s);
		ok(put(s2, D, "default", "shared", WEB, &r2, &err) == 0 && r2.version == 3, "and writes go on after");
		store_close(s2);
	}
}

static int count_problems;
static char first_problem[512];

static void problem(const char *msg, void *arg)
{
	(void)arg;
	if (count_problems++ == 0)
		snprintf(first_problem, sizeof(first_problem), "%s", msg);
}

static void test_status_check(struct store *s)
{
	struct store_status st;
	int64_t problems = -1, rev;
	sqlite3 *raw;
	int rc;

	rc = store_status(s, &st);
	store_revision(s, &rev);
	ok(rc == 0 && st.revision == rev && st.changes == rev && st.oldest_revision == 1,
	   "status: revision %" PRId64 ", %" PRId64 " changes", st.revision, st.changes);
	ok(st.namespaces[D] == 3 && st.namespaces[STORE_KIND_SERVICE] == 1,
	   "status: namespaces incl. default (%" PRId64 ")", st.namespaces[D]);
	/* live: default/{web,c,new,clock,t1,t2,t4,shared}, team-a/web;
	 * tombstones: default/{a,b} (renamed away), team-a/api */
	ok(st.resources[D] == 9 && st.resources[STORE_KIND_POD] == 0,
	   "status: resources (%" PRId64 ")", st.resources[D]);
	ok(st.tombstones == 3, "status: tombstones (%" PRId64 ")", st.tombstones);
	ok(st.schema_version == STORE_SCHEMA_VERSION && st.db_bytes > 0 && st.wal_bytes > 0 &&
	   strcmp(st.node, "node-1") == 0 && st.sync == STORE_SYNC_NORMAL, "status: file sizes, schema, node");

	{
		/* labels and annotations live at the top of a body: check must
		 * validate the rendered document, not the body itself */
		static const char labeled[] =
			"{\"metadata\":{\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"b\"}},"
			"\"spec\":{\"image\":\"nginx\"}}";
		struct store_result res;
		struct store_err err;

		rc = store_put(s, D, "default", "labeled", labeled, sizeof(labeled) - 1, NULL, &res, &err);
		ok(rc == 0, "put a labelled resource: %d", rc);
	}
	rc = store_check(s, problem, NULL, &problems);
	ok(rc == 0 && problems == 0, "check of a good store: %" PRId64 " problems", problems);

	rc = sqlite3_open(path, &raw);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(raw, "UPDATE resources SET body = '{\"spec\":{\"image\":\"\"}}' "
				  "WHERE kind = 0 AND namespace = 'default' AND name = 'web'", NULL, NULL, NULL);
	sqlite3_close(raw);
	ok(rc == SQLITE_OK, "corrupt a body with raw SQL");
	rc = store_check(s, problem, NULL, &problems);
	ok(rc == 0 && problems == 1 &&
	   strcmp(first_problem, "deployments/default/web: spec.image: must be a non-empty string") == 0,
	   "check finds it: %s", first_problem);
}

static void test_compact(struct store *s)
{
	struct store_result res;
	struct store_err err;
	struct store_status st;
	struct changes ch;
	int64_t rev, removed = -1, total;

	store_revision(s, &rev);
	store_status(s, &st);
	total = st.changes;
	ok(store_compact(s, 5, &removed) == 0 && removed == total - 5, "compact keeps 5: removed %" PRId64, removed);
	get_log(s, NULL, &ch);
	ok(ch.n == 5 && ch.revision[0] == rev - 4, "log starts at revision %" PRId64, ch.n ? ch.revision[0] : 0);
	store_revision(s, &st.revision);
	ok(st.revision == rev, "revision survives compaction");
	store_compact(s, 0, &removed);
	store_revision(s, &st.revision);
	ok(removed == 5 && st.revision == rev, "compact to nothing keeps the revision");
	ok(put(s, D, "default", "after", WEB, &res, &err) == 0 && res.revision == rev + 1,
	   "numbering continues after compaction");
	get_log(s, NULL, &ch);
	ok(ch.n == 1 && ch.origin_seq[0] == rev + 1, "origin_seq continues too");
	store_status(s, &st);
	ok(st.oldest_revision == rev + 1 && st.changes == 1, "status after compaction");
}

static void test_readonly(void)
{
	struct store *s = open_store(NULL, false, true);
	struct store_result res;
	struct store_err err = { "" };
	struct store_meta meta;

	ok(s != NULL, "open read-only");
	if (!s)
		return;
	ok(store_stat(s, D, "default", "c", &meta) == 0, "reads work");
	ok(put(s, D, "default", "x", WEB, &res, &err) == -EROFS, "put: -EROFS (%s)", err.msg);
	ok(store_delete(s, D, "default", "c", &res, &err) == -EROFS, "delete: -EROFS");
	ok(store_rename(s, D, "default", "c", "d", &res, &err) == -EROFS, "rename: -EROFS");
	ok(store_ns_create(s, D, "ro", &err) == -EROFS, "ns_create: -EROFS");
	ok(store_ns_delete(s, D, "zzz", false, &err) == -EROFS, "ns_delete: -EROFS");
	ok(store_txn_begin(s) == -EROFS, "txn_begin: -EROFS");
	store_close(s);
}

static void test_data_dir(void)
{
	struct store_err err = { "" };
	char buf[4400], sub[4200], file[4200];
	struct stat sb;
	FILE *f;
	int rc;

	rc = store_default_data_dir(buf, sizeof(buf));
	if (geteuid() == 0)
		ok(rc == 0 && strcmp(buf, "/var/lib/swarmfs") == 0, "default data dir for root");
	else
		ok(rc == 0 && strstr(buf, "/swarmfs"), "default data dir: %s", buf);
	ok(store_default_data_dir(buf, 4) == -ENAMETOOLONG, "short buffer: -ENAMETOOLONG");

	snprintf(sub, sizeof(sub), "%s/x/y/z", dir);
	rc = store_prepare_data_dir(sub, false, &err);
	ok(rc == 0 && stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700,
	   "prepare creates parents with mode 0700");
	ok(store_prepare_data_dir(sub, false, &err) == 0, "an existing dir is fine");
	snprintf(sub, sizeof(sub), "%s/x/nope", dir);
	rc = store_prepare_data_dir(sub, true, &err);
	ok(rc == -ENOENT, "read-only: a missing dir is not created: %s", err.msg);
	snprintf(file, sizeof(file), "%s/plain", dir);
	f = fopen(file, "w");
	if (f)
		fclose(f);
	rc = store_prepare_data_dir(file, false, &err);
	ok(rc == -ENOTDIR, "a file is not a data dir: %s", err.msg);
	snprintf(sub, sizeof(sub), "%s/plain/sub", dir);
	rc = store_prepare_data_dir(sub, false, &err);
	ok(rc == -ENOTDIR && strstr(err.msg, "/plain/sub': Not a directory"), "path through a file: %s", err.msg);
	/* A parent the user cannot write: the exact message, as an
	 * unprivileged user (root would just succeed). */
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	mkdir(sub, 0555);
	chmod(dir, 0755);
	snprintf(sub, sizeof(sub), "%s/ro/new", dir);
	{
		pid_t pid = fork();
		int status = -1;

		if (pid == 0) {
			if (geteuid() == 0 && setuid(65534) < 0)
				_exit(2);
			rc = store_prepare_data_dir(sub, false, &err);
			snprintf(buf, sizeof(buf), "cannot create data dir '%s': Permission denied", sub);
			_exit(rc == -EACCES && strcmp(err.msg, buf) == 0 ? 0 : 1);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "cannot create data dir '.../ro/new': Permission denied");
	}
	chmod(dir, 0700);

	ok(store_op_name(STORE_OP_NS_CREATE) && strcmp(store_op_name(STORE_OP_NS_DELETE), "rmns") == 0,
	   "op names");
}

int main(void)
{
	struct store *s;
	char cmd[4200];

	snprintf(dir, sizeof(dir), "%s/test-store-XXXXXX",
		 getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/" STORE_DB_FILE, dir);
	test_open();
	s = open_store("node-1", false, false);
	ok(s != NULL, "open for the write tests");
	if (s) {
		test_put_get(s);
		test_precondition(s);
		test_delete(s);
		test_rename(s);
		test_namespaces(s);
		test_log(s);
		test_hlc(s);
		test_txn(s);
		test_two_connections(s);
		test_readonly();
		test_status_check(s);
		test_compact(s);
		store_close(s);
	}
	test_data_dir();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
