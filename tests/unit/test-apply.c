/* test-apply.c - store_apply's merge is deterministic: random histories made
 * on three nodes that exchange changes now and then are replayed on fresh
 * stores in many orders (and twice) and must give byte-identical resources
 * and conflicts; plus gaps, duplicates, clock skew, tombstones, conflicts
 * and the change log served by origin. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "store.h"
#include "tap.h"

#define D STORE_KIND_DEPLOYMENT

static char dir[3800];
static int64_t fake_now = 1700000000000;
static int store_n;

struct clock {
	int64_t offset;
};

static int64_t fake_clock(void *arg)
{
	const struct clock *c = arg;

	return fake_now + (c ? c->offset : 0);
}

static struct store *open_node(const char *node, struct clock *clk)
{
	struct store_options o = {
		.node = node, .create = true, .now_ms = fake_clock, .now_arg = clk,
		.sync = STORE_SYNC_NORMAL,
	};
	struct store_err err = { "" };
	struct store *s = NULL;
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/s%d.db", dir, store_n++);
	rc = store_open(path, &o, &s, &err);
	if (rc < 0)
		diag("store_open: %d %s", rc, err.msg);
	return s;
}

/* ---- copies of changes ------------------------------------------------------ */

struct copy {
	struct store_rchange r;
	char ns[64], name[64], origin[64], pnode[64];
	char *body, *source;
};

struct copies {
	struct copy *v;
	size_t n, cap;
};

static int copy_change(const struct store_rchange *r, void *arg)
{
	struct copies *cs = arg;
	struct copy *c;

	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 64;
		cs->v = realloc(cs->v, cs->cap * sizeof(*cs->v));
		if (!cs->v)
			abort();
	}
	c = &cs->v[cs->n++];
	memset(c, 0, sizeof(*c));
	c->r = *r;
	snprintf(c->ns, sizeof(c->ns), "%s", r->c.ns);
	snprintf(c->name, sizeof(c->name), "%s", r->c.name);
	snprintf(c->origin, sizeof(c->origin), "%s", r->c.origin);
	snprintf(c->pnode, sizeof(c->pnode), "%s", r->parent_node ? r->parent_node : "");
	c->body = r->c.body ? strdup(r->c.body) : NULL;
	c->source = r->c.source ? strdup(r->c.source) : NULL;
	return 0;
}

/* Pointers are fixed up after the array stops moving. */
static void fixup(struct copies *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct copy *c = &cs->v[i];

		c->r.c.ns = c->ns;
		c->r.c.name = c->name;
		c->r.c.origin = c->origin;
		c->r.parent_node = c->pnode;
		c->r.c.body = c->body;
		c->r.c.source = c->source;
	}
}

static void copies_free(struct copies *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].body);
		free(cs->v[i].source);
	}
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

/* ---- dumps -------------------------------------------------------------------- */

static void append(char **buf, size_t *len, const char *text)
{
	size_t n = strlen(text);

	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, text, n + 1);
	*len += n;
}

static char *dump_sql(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;
	size_t len = 0;

	append(&out, &len, "");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);

			append(&out, &len, v ? v : "NULL");
			append(&out, &len, "|");
		}
		append(&out, &len, "\n");
	}
	sqlite3_finalize(st);
	return out;
}

static const char *resources_sql =
	"SELECT kind, namespace, name, body, version, created, updated, node, hlc, size, deleted "
	"FROM resources ORDER BY kind, namespace, name";
static const char *conflicts_sql =
	"SELECT kind, namespace, name, hlc, node, body, version, time FROM conflicts "
	"ORDER BY kind, namespace, name, hlc, node";
static const char *namespaces_sql =
	"SELECT kind, name, deleted FROM namespaces WHERE name <> 'default' ORDER BY kind, name";

/* ---- histories ---------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

/* Applies to dst everything src has that dst lacks, origin by origin. */
struct pull {
	struct store *dst;
	int failures;
};

static int pull_one(const struct store_rchange *r, void *arg)
{
	struct pull *p = arg;
	enum store_apply_outcome out;
	struct store_err err = { "" };
	int rc = store_apply(p->dst, r, -1, &out, &err);

	if (rc < 0) {
		diag("apply %s#%lld: %d %s", r->c.origin, (long long)r->c.origin_seq, rc, err.msg);
		p->failures++;
	}
	return 0;
}

struct origin_list {
	char v[8][64];
	int n;
};

static int collect_origin(const char *node, int64_t seq, void *arg)
{
	struct origin_list *l = arg;

	(void)seq;
	if (l->n < 8)
		snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", node);
	return 0;
}

static int sync_from(struct store *dst, struct store *src)
{
	struct origin_list l = { .n = 0 };
	struct pull p = { dst, 0 };

	store_origins(src, collect_origin, &l);
	for (int i = 0; i < l.n; i++) {
		int64_t have;

		store_origin_seq(dst, l.v[i], &have);
		if (store_log_origin(src, l.v[i], have, 0, pull_one, &p) < 0)
			p.failures++;
	}
	return p.failures;
}

static const char *const bodies[] = {
	"{\"spec\":{\"image\":\"nginx:1\",\"replicas\":1}}",
	"{\"spec\":{\"image\":\"nginx:2\",\"replicas\":2}}",
	"{\"spec\":{\"image\":\"redis:7\",\"replicas\":3}}",
	"{\"labels\":{\"app\":\"x\"},\"spec\":{\"image\":\"busybox\",\"replicas\":1}}",
};
static const char *const names[] = { "web", "api", "db" };
static const char *const spaces[] = { "default", "prod" };

/* One random local operation on s; failures (a delete of nothing...) are
 * part of the game. */
static void random_op(struct store *s)
{
	const char *ns = spaces[rnd(2)], *name = names[rnd(3)];
	const char *b = bodies[rnd(4)];
	struct store_result res;
	uint32_t what = rnd(20);

	if (what < 11) {
		store_put(s, D, ns, name, b, strlen(b), NULL, &res, NULL);
	} else if (what < 15) {
		store_delete(s, D, ns, name, &res, NULL);
	} else if (what < 17) {
		store_rename(s, D, ns, name, names[rnd(3)], &res, NULL);
	} else if (what < 19) {
		store_ns_create(s, D, "prod", NULL);
	} else {
		store_ns_delete(s, D, "prod", true, NULL);
	}
}

/* Each node's own changes, in its sequence. */
static void own_changes(struct store *s, struct copies *cs)
{
	store_log_origin(s, store_node(s), 0, 0, copy_change, cs);
}

/* Replays the three per-origin queues on a fresh store, interleaved at
 * random (each origin stays in order), optionally everything twice. */
static struct store *replay(struct copies q[3], bool twice, int *failures)
{
	struct store *s = open_node("replica", NULL);
	size_t pos[3] = { 0, 0, 0 };
	struct pull p = { s, 0 };

	for (int pass = 0; pass < (twice ? 2 : 1); pass++) {
		pos[0] = pos[1] = pos[2] = 0;
		for (;;) {
			int left = 0, pick;

			for (int i = 0; i < 3; i++)
				left += pos[i] < q[i].n;
			if (!left)
				break;
			do
				pick = (int)rnd(3);
			while (pos[pick] >= q[pick].n);
			pull_one(&q[pick].v[pos[pick]++].r, &p);
		}
	}
	*failures = p.failures;
	return s;
}

static void test_random_histories(void)
{
	for (int seed = 1; seed <= 6; seed++) {
		struct clock clk[3] = { { 0 }, { -3 }, { 7 } };
		const char *nodes[3] = { "node-a", "node-b", "node-c" };
		struct store *n[3];
		struct copies q[3] = { { 0 }, { 0 }, { 0 } };
		char *ref_res, *ref_conf, *ref_ns;
		char ref_digest[33], digest[33];
		bool same = true, digests = true;
		int failures = 0;
		int64_t conflicts;

		rng_state = (uint64_t)seed * 7919;
		for (int i = 0; i < 3; i++)
			n[i] = open_node(nodes[i], &clk[i]);
		for (int step = 0; step < 120; step++) {
			fake_now += 1 + rnd(3);
			random_op(n[rnd(3)]);
			if (rnd(6) == 0) {
				int a = (int)rnd(3), b = (int)rnd(3);

				if (a != b)
					failures += sync_from(n[a], n[b]);
			}
		}
		for (int i = 0; i < 3; i++)
			own_changes(n[i], &q[i]);
		for (int i = 0; i < 3; i++)
			fixup(&q[i]);
		/* The originals converge by pulling from each other too. */
		for (int round = 0; round < 2; round++)
			for (int a = 0; a < 3; a++)
				for (int b = 0; b < 3; b++)
					if (a != b)
						failures += sync_from(n[a], n[b]);
		ok(failures == 0, "seed %d: %zu+%zu+%zu changes exchanged without errors",
		   seed, q[0].n, q[1].n, q[2].n);

		ref_res = dump_sql(n[0], resources_sql);
		ref_conf = dump_sql(n[0], conflicts_sql);
		ref_ns = dump_sql(n[0], namespaces_sql);
		store_digest(n[0], ref_digest, NULL);
		sqlite3_stmt *st;
		conflicts = 0;
		if (sqlite3_prepare_v2(n[0]->db, "SELECT count(*) FROM conflicts", -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				conflicts = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		for (int i = 1; i < 3; i++) {
			char *r = dump_sql(n[i], resources_sql), *c = dump_sql(n[i], conflicts_sql);
			char *ns = dump_sql(n[i], namespaces_sql);

			if (strcmp(r, ref_res) || strcmp(c, ref_conf) || strcmp(ns, ref_ns)) {
				same = false;
				diag("node %s differs:\n%s\n--- vs ---\n%s\n%s\n--- vs ---\n%s", nodes[i],
				     r, ref_res, c, ref_conf);
			}
			store_digest(n[i], digest, NULL);
			digests = digests && strcmp(digest, ref_digest) == 0;
			free(r);
			free(c);
			free(ns);
		}
		ok(same && digests, "seed %d: the three origins hold identical resources, "
		   "namespaces and %lld conflicts, digest %s", seed, (long long)conflicts, ref_digest);

		same = true;
		digests = true;
		failures = 0;
		for (int k = 0; k < 5; k++) {
			int f = 0;
			struct store *s = replay(q, k >= 3, &f);
			char *r = dump_sql(s, resources_sql), *c = dump_sql(s, conflicts_sql);
			char *ns = dump_sql(s, namespaces_sql);

			failures += f;
			if (strcmp(r, ref_res) || strcmp(c, ref_conf) || strcmp(ns, ref_ns)) {
				same = false;
				diag("replay %d differs:\n%s\n--- vs ---\n%s\n%s\n--- vs ---\n%s", k,
				     r, ref_res, c, ref_conf);
			}
			store_digest(s, digest, NULL);
			digests = digests && strcmp(digest, ref_digest) == 0;
			free(r);
			free(c);
			free(ns);
			store_close(s);
		}
		ok(failures == 0 && same && digests,
		   "seed %d: 5 random arrival orders (2 of them applying everything twice) "
		   "give byte-identical tables", seed);
		free(ref_res);
		free(ref_conf);
		free(ref_ns);
		for (int i = 0; i < 3; i++) {
			copies_free(&q[i]);
			store_close(n[i]);
		}
	}
}

/* ---- targeted cases ---------------------------------------------------------- */

static int count_conflicts(const struct store_conflict *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

struct got_conflict {
	char node[64];
	char body[256];
	char winner[64];
	int64_t version;
};

static int get_conflict(const struct store_conflict *c, void *arg)
{
	struct got_conflict *g = arg;

	snprintf(g->node, sizeof(g->node), "%s", c->node);
	snprintf(g->body, sizeof(g->body), "%s", c->body ? c->body : "(null)");
	snprintf(g->winner, sizeof(g->winner), "%s", c->winner_node);
	g->version = c->version;
	return 0;
}

struct first_conflict {
	uint64_t hlc;
	char node[64];
};

static int first_conflict(const struct store_conflict *c, void *arg)
{
	struct first_conflict *f = arg;

	f->hlc = c->hlc;
	snprintf(f->node, sizeof(f->node), "%s", c->node);
	return 1;
}

static void test_cases(void)
{
	struct clock ca = { 0 }, cb = { 0 };
	struct store *a = open_node("alpha", &ca), *b = open_node("beta", &cb);
	struct store *r = open_node("gamma", NULL);
	struct copies qa = { 0 }, qb = { 0 };
	enum store_apply_outcome out;
	struct store_err err = { "" };
	struct store_result res;
	struct first_conflict fc = { 0 };
	struct got_conflict g;
	char *body = NULL;
	int n = 0, rc;
	const char *v1 = "{\"spec\":{\"image\":\"a:1\"}}", *v2 = "{\"spec\":{\"image\":\"b:1\"}}";

	memset(&g, 0, sizeof(g));
	fake_now += 1000;
	store_put(a, D, "default", "web", v1, strlen(v1), NULL, &res, NULL);
	fake_now += 5;
	store_put(b, D, "default", "web", v2, strlen(v2), NULL, &res, NULL);
	fake_now += 5;
	store_delete(a, D, "default", "web", &res, NULL);
	own_changes(a, &qa);
	own_changes(b, &qb);
	fixup(&qa);
	fixup(&qb);
	ok(qa.n == 2 && qb.n == 1, "two changes on alpha, one on beta");

	rc = store_apply(r, &qa.v[1].r, -1, &out, &err);
	ok(rc == -EAGAIN, "a change ahead of the next sequence number is -EAGAIN (%d: %s)", rc,
	   err.msg);
	rc = store_apply(r, &qa.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON, "the first change wins on an empty store");
	rc = store_apply(r, &qa.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_DUPLICATE, "applying it again is a duplicate");
	rc = store_apply(r, &qa.v[1].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON, "the delete wins");
	rc = store_apply(r, &qb.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_LOST, "an older concurrent put loses against the tombstone");
	ok(store_get(r, D, "default", "web", NULL, &body) == -ENOENT,
	   "and the deleted resource does not come back");
	free(body);
	store_conflict_list(r, NULL, NULL, count_conflicts, &n);
	ok(n == 1, "the losing put is a conflict (%d)", n);
	store_conflict_list(r, NULL, "default", first_conflict, &fc);
	rc = store_conflict_get(r, D, "default", "web", fc.hlc, fc.node, get_conflict, &g);
	ok(rc == 0 && strcmp(g.node, "beta") == 0 && strcmp(g.winner, "alpha") == 0 &&
	   strstr(g.body, "b:1") != NULL && g.version == 1,
	   "the conflict keeps beta's body and names alpha's delete as winner (%s %s %s)",
	   g.node, g.winner, g.body);
	ok(store_conflict_delete(r, D, "default", "web", fc.hlc, fc.node, NULL) == 0 &&
	   store_conflict_delete(r, D, "default", "web", fc.hlc, fc.node, NULL) == -ENOENT,
	   "a conflict can be dismissed once");

	/* The origin serves its log by sequence; beta saw alpha's put. */
	{
		struct copies got = { 0 };

		ok(store_log_origin(a, "alpha", 1, 0, copy_change, &got) == 0 && got.n == 1 &&
		   got.v[0].r.c.origin_seq == 2 && got.v[0].r.parent_hlc == qa.v[0].r.c.hlc,
		   "store_log_origin serves the tail, with the delete's parent");
		copies_free(&got);
	}
	ok(store_compact(a, 0, &(int64_t){ 0 }) == 0, "compact alpha's log");
	{
		struct copies got = { 0 };

		rc = store_log_origin(a, "alpha", 0, 0, copy_change, &got);
		ok(rc == -ESTALE, "a compacted log answers -ESTALE (%d)", rc);
		rc = store_log_origin(a, "alpha", 2, 0, copy_change, &got);
		ok(rc == 0 && got.n == 0, "but an up-to-date peer gets nothing and no error");
		copies_free(&got);
	}

	/* A stamp far ahead of our clock. */
	{
		struct copy far = qb.v[0];
		struct store *t = open_node("delta", NULL);
		int64_t seq;

		far.r.c.hlc = (uint64_t)(fake_now + 3600 * 1000) << 16;
		fixup(&(struct copies){ &far, 1, 1 });
		rc = store_apply(t, &far.r, 60000, &out, &err);
		store_origin_seq(t, "beta", &seq);
		ok(rc == -ERANGE && seq == 0, "a change an hour ahead is refused with -ERANGE (%s)",
		   err.msg);
		rc = store_apply(t, &far.r, -1, &out, &err);
		ok(rc == 0, "and accepted without a skew limit");
		store_close(t);
	}

	/* Malformed changes are refused. */
	{
		struct copy bad = qb.v[0];
		struct copies one = { &bad, 1, 1 };

		fixup(&one);
		snprintf(bad.ns, sizeof(bad.ns), "Bad_NS");
		ok(store_apply(r, &bad.r, -1, &out, &err) == -EINVAL, "an invalid namespace is -EINVAL");
		fixup(&one);
		snprintf(bad.ns, sizeof(bad.ns), "default");
		bad.body = "{not json";
		fixup(&one);
		bad.r.c.origin_seq = 1;
		{
			struct store *e = open_node("epsilon", NULL);
			int64_t seq = -1;

			rc = store_apply(e, &bad.r, -1, &out, &err);
			store_origin_seq(e, "beta", &seq);
			ok(rc == -EINVAL && seq == 0,
			   "a body that does not render is -EINVAL and changes nothing (%s)", err.msg);
			store_close(e);
		}
		bad.body = NULL;
	}
	copies_free(&qa);
	copies_free(&qb);
	store_close(a);
	store_close(b);
	store_close(r);
}

/* ---- whole transactions (the sidecar's batches) ------------------------------------ */

/*
 * Inside store_txn_begin_whole's transaction a refusal (gap, duplicate,
 * skew, bad body) leaves the batch as it was, while a failure after
 * writing undoes all of it: the sidecar then fetches the batch again.
 */
static void test_whole_batch(void)
{
	struct store *a = open_node("zeta", NULL), *r = open_node("eta", NULL);
	struct store *t = open_node("theta", NULL);
	struct copies q = { 0 }, qt = { 0 };
	enum store_apply_outcome out;
	struct store_err err = { "" };
	struct store_result res;
	struct copy bad, far;
	char *body = NULL;
	int64_t seq = -1;
	int rc;

	for (int i = 0; i < 4; i++) {
		char name[16], body[64];

		snprintf(name, sizeof(name), "w%d", i);
		snprintf(body, sizeof(body), "{\"spec\":{\"image\":\"w:%d\"}}", i);
		fake_now += 3;
		store_put(a, D, "default", name, body, strlen(body), NULL, &res, NULL);
	}
	store_put(t, D, "default", "t0", "{\"spec\":{\"image\":\"t:0\"}}", 24, NULL, &res, NULL);
	own_changes(a, &q);
	fixup(&q);
	own_changes(t, &qt);
	fixup(&qt);
	ok(q.n == 4 && qt.n == 1, "four changes on zeta, one on theta");
	if (q.n != 4 || qt.n != 1)
		return;

	ok(store_txn_begin_whole(r) == 0, "a whole transaction begins");
	rc = store_apply(r, &q.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON, "the first change applies in it");
	ok(store_apply(r, &q.v[2].r, -1, &out, &err) == -EAGAIN && store_txn_open(r),
	   "a gap is refused and the transaction stays open");
	ok(store_apply(r, &q.v[0].r, -1, &out, &err) == 0 && out == STORE_APPLY_DUPLICATE &&
	   store_txn_open(r), "so does a duplicate");
	bad = q.v[1];
	bad.body = "{not json";
	fixup(&(struct copies){ &bad, 1, 1 });
	ok(store_apply(r, &bad.r, -1, &out, &err) == -EINVAL && store_txn_open(r),
	   "a body that does not render is refused and the transaction stays open");
	far = q.v[1];
	fixup(&(struct copies){ &far, 1, 1 });
	far.r.c.hlc = (uint64_t)(fake_now + 3600 * 1000) << 16;
	ok(store_apply(r, &far.r, 60000, &out, &err) == -ERANGE && store_txn_open(r),
	   "a stamp too far ahead is refused and the transaction stays open");
	rc = store_apply(r, &q.v[1].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON, "the next change still applies");
	ok(store_txn_commit(r) == 0, "and the batch commits");
	store_origin_seq(r, "zeta", &seq);
	ok(seq == 2 && store_get(r, D, "default", "w1", NULL, &body) == 0,
	   "with both changes (zeta at %lld)", (long long)seq);
	free(body);
	body = NULL;

	/* A damaged log: a row already holds zeta's third sequence number,
	 * so the third change fails after writing its resource. */
	rc = sqlite3_exec(r->db, "INSERT INTO changes(op, kind, namespace, name, version, origin, "
			  "origin_seq, hlc, time) VALUES (1, 0, 'default', 'x', 1, 'zeta', 3, 1, 1)",
			  NULL, NULL, NULL);
	ok(rc == SQLITE_OK, "plant a row that collides with zeta#3");
	ok(store_txn_begin_whole(r) == 0, "a second whole transaction begins");
	rc = store_apply(r, &qt.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON, "theta's change applies in it");
	rc = store_apply(r, &q.v[2].r, -1, &out, &err);
	ok(rc < 0 && !store_txn_open(r), "a failure after writing ends the transaction (%d: %s)",
	   rc, err.msg);
	ok(store_get(r, D, "default", "w2", NULL, &body) == -ENOENT,
	   "and leaves nothing of the failed change");
	free(body);
	body = NULL;
	store_origin_seq(r, "theta", &seq);
	ok(seq == 0 && store_get(r, D, "default", "t0", NULL, &body) == -ENOENT,
	   "nor of the rest of the batch (theta at %lld)", (long long)seq);
	free(body);
	rc = store_apply(r, &qt.v[0].r, -1, &out, &err);
	ok(rc == 0 && out == STORE_APPLY_WON && !store_txn_open(r),
	   "afterwards a change commits on its own again");
	copies_free(&q);
	copies_free(&qt);
	store_close(a);
	store_close(t);
	store_close(r);
}

/* ---- state transfer and purge --------------------------------------------------- */

static int64_t floor_all(const char *origin, void *arg)
{
	(void)origin;
	(void)arg;
	return INT64_MAX;
}

static int64_t floor_none(const char *origin, void *arg)
{
	(void)origin;
	(void)arg;
	return 0;
}

/* Merges a fresh snapshot of src into dst; the snapshot is removed after. */
static int merge_from(struct store *dst, struct store *src, struct store_merge_stats *st)
{
	static int n;
	struct store_snapshot_info info;
	struct store_err err = { "" };
	char name[32], path[4096];
	int rc;

	snprintf(name, sizeof(name), "xfer%d", n++);
	rc = store_snapshot_create(src, dir, name, false, &info, &err);
	if (rc < 0) {
		diag("snapshot: %s", err.msg);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	rc = store_state_merge(dst, path, -1, st, &err);
	if (rc < 0)
		diag("merge: %d %s", rc, err.msg);
	unlink(path);
	return rc;
}

static int64_t count_rows(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_state_merge(void)
{
	struct store_merge_stats st;
	struct store *a, *b, *f, *g;
	struct store_result res;
	char da[33], db_[33], df[33];
	int64_t purged = -1, seq = 0;
	char *x, *y;
	const char *body = bodies[0];

	rng_state = 4242;
	a = open_node("alpha", NULL);
	b = open_node("beta", NULL);
	f = open_node("fresh", NULL);
	g = open_node("gamma", NULL);
	for (int i = 0; i < 40; i++) {
		fake_now += 7;
		random_op(a);
		random_op(b);
	}
	/* A fresh node takes everything. */
	ok(merge_from(f, a, &st) == 0, "a fresh store merges a peer's state (%lld rows)",
	   (long long)st.resources);
	store_digest(a, da, NULL);
	store_digest(f, df, NULL);
	ok(strcmp(da, df) == 0, "and holds the same live state (digest %s)", df);
	x = dump_sql(a, resources_sql);
	y = dump_sql(f, resources_sql);
	ok(strcmp(x, y) == 0, "the same rows, tombstones included, byte for byte");
	free(x);
	free(y);
	store_origin_seq(f, "alpha", &seq);
	store_origin_seq(a, "alpha", &purged);
	ok(seq == purged && seq > 0, "and alpha's high-water mark (%lld)", (long long)seq);
	ok(merge_from(f, a, &st) == 0 && st.resources == 0 && st.origins == 0,
	   "merging the same state again changes nothing");

	/* Two nodes that wrote concurrently: b takes a's state, a takes b's
	 * changes from its log; both end with the same live state. */
	ok(merge_from(b, a, &st) == 0, "a node with its own writes merges a peer's state "
	   "(%lld rows taken, %lld conflicts)", (long long)st.resources, (long long)st.conflicts);
	ok(sync_from(a, b) == 0, "the peer pulls the other's changes from its log");
	store_digest(a, da, NULL);
	store_digest(b, db_, NULL);
	ok(strcmp(da, db_) == 0, "both hold the same live state (%s)", da);
	x = dump_sql(a, conflicts_sql);
	y = dump_sql(b, conflicts_sql);
	ok(strcmp(x, y) == 0, "and the same conflicts");
	if (strcmp(x, y) != 0)
		diag("a:\n%s\nb:\n%s", x, y);
	free(x);
	free(y);

	/* Purge: not while a peer lacks the delete, then yes. */
	store_put(a, D, "default", "ghost", body, strlen(body), NULL, &res, NULL);
	ok(merge_from(g, a, NULL) == 0, "a third node takes a copy holding 'ghost'");
	store_delete(a, D, "default", "ghost", &res, NULL);
	ok(store_tombstone_purge(a, floor_none, NULL, &purged, NULL) == 0 && purged == 0,
	   "no tombstone goes while some peer's mark is 0");
	ok(store_tombstone_purge(a, floor_all, NULL, &purged, NULL) == 0 && purged > 0,
	   "all go once every peer has them (%lld)", (long long)purged);
	ok(count_rows(a, "SELECT count(*) FROM resources WHERE deleted = 1") == 0,
	   "no tombstone is left");
	ok(merge_from(g, a, &st) == 0, "the old copy merges the purged state");
	ok(store_stat(g, D, "default", "ghost", NULL) == -ENOENT,
	   "and the deleted resource does not survive there");
	store_digest(g, db_, NULL);
	store_digest(a, da, NULL);
	ok(strcmp(da, db_) == 0, "the old copy ends with the peer's live state");
	ok(merge_from(a, g, &st) == 0 && store_stat(a, D, "default", "ghost", NULL) == -ENOENT,
	   "nor does it come back the other way");
	store_close(a);
	store_close(b);
	store_close(f);
	store_close(g);
}

int main(void)
{
	char tmpl[] = "/tmp/test-apply.XXXXXX";
	char cmd[4200];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	test_cases();
	test_whole_batch();
	test_random_histories();
	test_state_merge();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
