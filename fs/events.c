/* events.c - the `events` stream: each open is a reader starting at the
 * current revision; the watcher thread appends one JSON line per change to
 * every reader and answers parked reads, so no worker thread ever blocks
 * waiting for a change. */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A reader that stops reading cannot make the daemon grow without bound. */
#define READER_MAX ((size_t)8 * 1024 * 1024)

struct fs_events_reader {
	struct fs_events_reader *next;  /* protected by ev_lock */
	struct fs_events_reader **pprev; /* protected by ev_lock */
	int64_t start_revision;         /* immutable */
	char *buf;                      /* protected by ev_lock: pending bytes [off, len) */
	size_t off;
	size_t len;
	size_t cap;
	bool dropped;                   /* protected by ev_lock */
	fuse_req_t parked;              /* protected by ev_lock */
	size_t parked_size;             /* protected by ev_lock */
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_events_reader *readers; /* protected by ev_lock */
static bool shut_down;                   /* protected by ev_lock */

int fs_events_open(int64_t start_revision, struct fs_events_reader **out)
{
	struct fs_events_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->start_revision = start_revision;
	pthread_mutex_lock(&ev_lock);
	r->next = readers;
	if (readers)
		readers->pprev = &r->next;
	r->pprev = &readers;
	readers = r;
	pthread_mutex_unlock(&ev_lock);
	*out = r;
	return 0;
}

void fs_events_release(struct fs_events_reader *r)
{
	fuse_req_t req;

	if (r == NULL)
		return;
	pthread_mutex_lock(&ev_lock);
	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	req = r->parked;
	r->parked = NULL;
	pthread_mutex_unlock(&ev_lock);
	if (req)
		fuse_reply_err(req, EINTR);
	free(r->buf);
	free(r);
}

/* Requires ev_lock: answers the parked read with what is pending. */
static void answer(struct fs_events_reader *r)
{
	fuse_req_t req = r->parked;
	size_t n = r->len - r->off;

	if (req == NULL || n == 0)
		return;
	if (n > r->parked_size)
		n = r->parked_size;
	r->parked = NULL;
	/* Replying under ev_lock is safe: libfuse's reply path takes only
	 * its session lock, and our interrupt callback (which holds the
	 * request's lock while waiting for ev_lock) never replies to a
	 * request that is no longer parked. */
	fuse_reply_buf(req, r->buf + r->off, n);
	r->off += n;
	if (r->off == r->len)
		r->off = r->len = 0;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct fs_events_reader *r = data;
	bool mine;

	pthread_mutex_lock(&ev_lock);
	mine = r->parked == req;
	if (mine)
		r->parked = NULL;
	pthread_mutex_unlock(&ev_lock);
	if (mine)
		fuse_reply_err(req, EINTR);
}

void fs_events_read(fuse_req_t req, struct fs_events_reader *r, size_t size)
{
	/* Register before parking: if the interrupt already came, the check
	 * under ev_lock below sees it; if it comes later, the callback finds
	 * the request parked. */
	fuse_req_interrupt_func(req, on_interrupt, r);
	pthread_mutex_lock(&ev_lock);
	if (r->parked != NULL) {
		pthread_mutex_unlock(&ev_lock);
		fuse_reply_err(req, EBUSY);
		return;
	}
	if (shut_down || fuse_req_interrupted(req)) {
		pthread_mutex_unlock(&ev_lock);
		fuse_reply_err(req, EINTR);
		return;
	}
	r->parked = req;
	r->parked_size = size;
	answer(r);
	pthread_mutex_unlock(&ev_lock);
}

static int append(struct fs_events_reader *r, const char *line, size_t len)
{
	if (r->off > 0 && r->off == r->len)
		r->off = r->len = 0;
	if (r->len + len > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *p;
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len + len > READER_MAX)
			return -ENOSPC;
		while (cap < r->len + len)
			cap *= 2;
		if (cap != r->cap) {
			p = realloc(r->buf, cap);
			if (p == NULL)
				return -ENOMEM;
			r->buf = p;
			r->cap = cap;
		}
	}
	memcpy(r->buf + r->len, line, len);
	r->len += len;
	return 0;
}

void fs_events_feed(int64_t revision, const char *line, size_t len)
{
	pthread_mutex_lock(&ev_lock);
	for (struct fs_events_reader *r = readers; r; r = r->next) {
		if (revision <= r->start_revision)
			continue;
		if (append(r, line, len) < 0) {
			if (!r->dropped)
				log_msg(LOG_WARNING, "events reader too slow, dropping lines");
			r->dropped = true;
			continue;
		}
		answer(r);
	}
	pthread_mutex_unlock(&ev_lock);
}

void fs_events_shutdown(void)
{
	pthread_mutex_lock(&ev_lock);
	shut_down = true;
	for (struct fs_events_reader *r = readers; r; r = r->next) {
		if (r->parked) {
			fuse_reply_err(r->parked, EINTR);
			r->parked = NULL;
		}
	}
	pthread_mutex_unlock(&ev_lock);
}
