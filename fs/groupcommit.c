/* groupcommit.c - concurrent writers share one transaction, and one fsync.
 *
 * At synchronous=FULL every commit waits for an fsync, and SQLite commits
 * one connection at a time: sixteen writers closing files at once queued
 * for sixteen fsyncs in a row.  Here the first writer to arrive becomes the
 * leader and commits, on its own connection, every put queued so far in one
 * transaction, each in its own savepoint (store_put nests), so one bad
 * document fails alone; writers arriving meanwhile queue for the next
 * leader.  A lone writer commits at once, exactly as store_put would.  No
 * write is acknowledged before the transaction holding it is durable: if
 * the COMMIT fails, every put of the batch fails with its error. */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define BATCH_MAX 64 /* bounds the time the store's write lock is held */

struct put_req {
	enum store_kind kind;
	const char *ns, *name, *data;
	size_t len;
	const struct store_put_opts *opts;
	struct store_result *res;
	struct store_err *err;
	int rc;
	bool done;
	struct put_req *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static struct put_req *head, *tail; /* protected by lock */
static bool leading;                /* protected by lock */

static int put_one(struct store *s, struct put_req *r)
{
	return store_put(s, r->kind, r->ns, r->name, r->data, r->len, r->opts, r->res, r->err);
}

/* Commits batch (n puts, linked) on s; sets each one's rc. */
static void commit_batch(struct store *s, struct put_req *batch, int n)
{
	struct store_err err = { "" };
	int rc;

	if (n == 1) {
		batch->rc = put_one(s, batch);
		return;
	}
	rc = store_txn_begin(s);
	if (rc < 0) {
		/* The batch's transaction cannot start: each goes alone. */
		for (struct put_req *r = batch; r; r = r->next)
			r->rc = put_one(s, r);
		return;
	}
	for (struct put_req *r = batch; r; r = r->next) {
		r->rc = put_one(s, r);
		if (store_txn_open(s))
			continue;
		/* SQLite rolled the whole transaction back (disk full, I/O
		 * error): the puts before this one are gone with it, and the
		 * rest go one by one. */
		for (struct put_req *q = batch; q != r; q = q->next) {
			if (q->rc == 0) {
				q->rc = r->rc < 0 ? r->rc : -EIO;
				*q->err = *r->err;
			}
		}
		for (struct put_req *q = r->next; q; q = q->next)
			q->rc = put_one(s, q);
		return;
	}
	rc = store_txn_commit(s);
	if (rc == 0)
		return;
	snprintf(err.msg, sizeof(err.msg), "cannot commit %d writes: %s", n, strerror(-rc));
	log_limited(LOG_ERR, "%s", err.msg);
	for (struct put_req *r = batch; r; r = r->next) {
		if (r->rc == 0) {
			r->rc = rc;
			*r->err = err;
		}
	}
}

int fs_group_put(struct store *s, enum store_kind kind, const char *ns, const char *name,
		 const char *data, size_t len, const struct store_put_opts *opts,
		 struct store_result *res, struct store_err *err)
{
	struct put_req me = { kind, ns, name, data, len, opts, res, err, 0, false, NULL };

	pthread_mutex_lock(&lock);
	if (tail)
		tail->next = &me;
	else
		head = &me;
	tail = &me;
	while (!me.done) {
		struct put_req *batch, *last;
		int n = 1;

		if (leading) {
			pthread_cond_wait(&finished, &lock);
			continue;
		}
		/* Lead: take up to BATCH_MAX queued puts, ours among them. */
		leading = true;
		batch = last = head;
		while (last->next && n < BATCH_MAX) {
			last = last->next;
			n++;
		}
		head = last->next;
		if (!head)
			tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&lock);
		commit_batch(s, batch, n);
		pthread_mutex_lock(&lock);
		for (struct put_req *r = batch; r; r = r->next)
			r->done = true;
		leading = false;
		pthread_cond_broadcast(&finished);
	}
	pthread_mutex_unlock(&lock);
	return me.rc;
}
