/* node.c - the replication loop of one node ("clone" pattern): publishes this
 * node's changes on PUB, applies peers' changes from SUB in sequence per
 * origin, fetches any gap over REQ/REP from a peer that has it (every node
 * serves every origin), sends heartbeats with its high-water marks so a lost
 * tail is noticed, and writes DATA/sync-status.json.  Two threads, each with
 * its own store connection: the main loop, and a server answering REP, which
 * must never wait for the main loop (two nodes fetching from each other at
 * once would otherwise each wait for the other's answer). */
#include "sync.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "wire.h"

#define RECV_MAX (32 * 1024 * 1024) /* a fetch reply: several 1 MiB bodies */
#define SLOW_LOCK_MS 1000           /* a batch waiting or holding this long is logged */
#define WAL_SYNC_MS 1000            /* applied changes are on disk within this long */
#define POLL_MS 5                   /* SUB wait per turn: bounds local publish latency
					 when nothing pokes DATA/sync.sock */
#define REQ_TIMEOUT_MS 2000
#define LISTENERS_MAX 2
#define FETCH_ROUNDS 64             /* per origin per turn, so SUB is not starved */
/*
 * Each turn of the loop drains SUB for at most RECEIVE_BUDGET_MS and then
 * fetches what is missing for at most FETCH_BUDGET_MS, so neither starves
 * the other nor our own publishing and heartbeats.  Fetching inline, from
 * the heartbeat or the change that showed the gap, left SUB unread for
 * seconds under a peer's flood; its queue then dropped the other peers'
 * heartbeats, and two nodes stopped hearing each other for minutes.
 */
#define RECEIVE_BUDGET_MS 50
#define FETCH_BUDGET_MS 100
#define WANTS_MAX 64                /* origins with a gap seen on SUB */
#define STATE_BEGIN_TIMEOUT_MS 120000 /* the sender copies its whole store first */
#define STATE_IDLE_MS 60000         /* a served copy nobody reads is dropped */
#define STATE_TMP_OUT ".sync-out-"  /* temporary dirs in the data dir */
#define STATE_TMP_IN ".sync-in-"

volatile sig_atomic_t sync_stop;

/* ---- nng errors ---------------------------------------------------------------- */

/* nng codes are not errnos (NNG_ENOMEM = 2 = ENOENT): map them once, here. */
static int nng_errno(int rv)
{
	static const struct {
		int nng, err;
	} map[] = {
		{ NNG_EINTR, EINTR },           { NNG_ENOMEM, ENOMEM },
		{ NNG_EINVAL, EINVAL },         { NNG_EBUSY, EBUSY },
		{ NNG_ETIMEDOUT, ETIMEDOUT },   { NNG_ECONNREFUSED, ECONNREFUSED },
		{ NNG_ECLOSED, EBADF },         { NNG_EAGAIN, EAGAIN },
		{ NNG_ENOTSUP, ENOTSUP },       { NNG_EADDRINUSE, EADDRINUSE },
		{ NNG_ESTATE, EPROTO },         { NNG_ENOENT, ENOENT },
		{ NNG_EPROTO, EPROTO },         { NNG_EUNREACHABLE, EHOSTUNREACH },
		{ NNG_EADDRINVAL, EADDRNOTAVAIL }, { NNG_EPERM, EPERM },
		{ NNG_EMSGSIZE, EMSGSIZE },     { NNG_ECONNABORTED, ECONNABORTED },
		{ NNG_ECONNRESET, ECONNRESET }, { NNG_ECANCELED, ECANCELED },
		{ NNG_ENOFILES, EMFILE },       { NNG_ENOSPC, ENOSPC },
		{ NNG_EEXIST, EEXIST },         { NNG_EREADONLY, EROFS },
		{ NNG_EWRITEONLY, EBADF },      { NNG_ECRYPTO, EACCES },
		{ NNG_EPEERAUTH, EACCES },      { NNG_ENOARG, EINVAL },
		{ NNG_EAMBIGUOUS, EINVAL },     { NNG_EBADTYPE, EINVAL },
		{ NNG_ECONNSHUT, ESHUTDOWN },
	};

	if (rv == 0)
		return 0;
	if (rv & NNG_ESYSERR)
		return -(rv & ~NNG_ESYSERR);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nng == rv)
			return -map[i].err;
	return -EIO;
}

/* ---- URLs ----------------------------------------------------------------------- */

int sync_rep_url(const char *pub, char *out, size_t size)
{
	const char *colon;
	char *end;
	long port;

	if (strncmp(pub, "ipc://", 6) == 0) {
		if ((size_t)snprintf(out, size, "%s.rep", pub) >= size)
			return -EINVAL;
		return 0;
	}
	if (strncmp(pub, "tcp://", 6) != 0 && strncmp(pub, "tls+tcp://", 10) != 0)
		return -EINVAL;
	colon = strrchr(pub, ':');
	if (!colon || colon[1] == '\0' || colon[1] == '/')
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port >= 65535)
		return -EINVAL;
	if ((size_t)snprintf(out, size, "%.*s:%ld", (int)(colon - pub), pub, port + 1) >= size)
		return -EINVAL;
	return 0;
}

bool sync_url_is_local(const char *url)
{
	const char *host;

	if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0)
		return true;
	host = strstr(url, "://");
	if (!host)
		return false;
	host += 3;
	return strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]:", 6) == 0 ||
	       strncmp(host, "localhost:", 10) == 0;
}

/* ---- state ---------------------------------------------------------------------- */

struct peer {
	char url[SYNC_URL_MAX];    /* its PUB */
	char rep_url[SYNC_URL_MAX];
	nng_socket req;
	nng_ctx fetch_ctx;         /* req's context for pipelined FETCHes */
	nng_aio *fetch_aio;        /* its one operation at a time */
	atomic_int req_pipes;      /* written by nng's pipe callbacks */
	char node[STORE_NODE_MAX + 1]; /* "" until HELLO answered */
	bool self;                 /* the URL is our own: ignored */
	int64_t next_hello_ms;
	int64_t last_heard_ms;     /* any message from it (heartbeat or reply) */
	int64_t revision;
	char digest[33];
	struct sync_origin *origins; /* its high-water marks, from its heartbeat */
	size_t n_origins;
	int64_t rejected;          /* malformed replies from it */
	bool stale;                /* it answered "compacted" for some origin */
	int64_t next_transfer_ms;  /* state transfers from it are retried no sooner */
	nng_dialer sub_dialer;     /* our SUB's connection to its PUB */
	int64_t sub_since_ms;      /* when sub_dialer was (re)started */
	int64_t last_beat_ms;      /* its last heartbeat, which only SUB brings */
};

/* The one state copy the server thread hands out (server thread only). */
struct outgoing {
	uint64_t id;               /* 0: none */
	char dir[4200];
	int fd;
	uint64_t total;
	char checksum[33];
	char node[STORE_NODE_MAX + 1]; /* who asked */
	int64_t last_used_ms;
};

struct node {
	const struct sync_config *cfg;
	struct store *s;
	char self[STORE_NODE_MAX + 1];
	uint64_t nonce;
	nng_socket pub, sub, rep;
	int sub_fd, rep_fd;        /* readable while SUB or REP holds a message */
	int poke_fd;               /* DATA/sync.sock: the mount committed; or -1 */
	nng_listener listeners[LISTENERS_MAX]; /* PUB's and REP's, for their statistics */
	int n_listeners;
	nng_tls_config *tls_server, *tls_client;
	struct peer peers[SYNC_PEERS_MAX];
	int n_peers;
	int64_t published_rev;     /* local changes up to here are published */
	/* The digest reads the whole state, tens of ms at 100,000 resources:
	 * the server thread computes it on its own connection, so applying
	 * never waits for it.  digest and resources are under digest_lock;
	 * digest_rev belongs to the server thread. */
	pthread_mutex_t digest_lock;
	char digest[33];
	int64_t resources;
	int64_t digest_rev;        /* digest is of this revision (or newer) */
	int64_t digest_next_ms;    /* no recomputation before, while busy */
	int64_t digest_seen_rev;   /* revision at the last look (server thread) */
	atomic_llong digest_want;  /* the revision the main loop last saw */
	atomic_bool digest_dirty;  /* rows changed without the revision moving */
	int64_t next_heartbeat_ms;
	atomic_llong rejected;     /* all malformed frames, any socket */
	int64_t applied, duplicates, refused, gaps, stale_replies;
	int64_t transfers, transfer_bytes, transfer_failures, purged;
	int64_t renumbered;        /* own changes moved up by confirm_origin */
	atomic_llong transfers_served;
	int64_t next_purge_ms;
	bool changed;              /* applied something this turn: poke the mount */
	bool in_batch;             /* a write transaction of applied changes is open */
	/* Our own sequence is not yet compared with the peers' (a new store,
	 * store_origin_unconfirmed): our changes are neither published nor
	 * served, and no state copy is given out, until then. */
	atomic_bool unconfirmed;
	bool transfer_owed;        /* confirmed as a wiped node: a peer's state is due */
	int64_t batch_applied;     /* changes applied in it, uncounted if it fails */
	int64_t batch_since_ms;    /* when it took the write lock */
	int64_t unsynced_since_ms; /* first batch committed since the WAL's last fsync; 0: none */
	/* Gaps SUB showed (a change past origins[origin] + 1), fetched by
	 * fetch_turn: the origin and the sequence of that change. */
	struct want {
		char origin[STORE_NODE_MAX + 1];
		int64_t seq;
	} wants[WANTS_MAX];
	int n_wants;
	int64_t fetch_deadline_ms; /* fetch_from stops at it (0: no limit) */
	struct outgoing out;       /* server thread only */
	int64_t started_ms;
	atomic_int fatal;          /* set when the node must stop */
	struct store *serve_s;     /* the server thread's connection */
	pthread_t server;
	bool server_started;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reject(struct node *n, struct peer *p, const char *where, const char *why)
{
	n->rejected++;
	if (p)
		p->rejected++;
	log_limited(LOG_WARNING, "rejected a malformed %s frame%s%s: %s", where,
		    p ? " from " : "", p ? p->url : "", why);
}

/* ---- sending -------------------------------------------------------------------- */

/* Encodes m into *buf (malloc'd, the caller frees it); logs a failure. */
static int encode_msg(const struct sync_msg *m, uint8_t **buf, size_t *len)
{
	char why[SYNC_WHY_MAX];
	int rc = sync_wire_encode(m, buf, len, why);

	if (rc < 0)
		log_limited(LOG_ERR, "cannot encode a %s message: %s", sync_msg_type_name(m->type), why);
	return rc;
}

static int send_msg(struct node *n, nng_socket sock, const struct sync_msg *m, int flags)
{
	uint8_t *buf;
	size_t len;
	int rc = encode_msg(m, &buf, &len);

	if (rc < 0)
		return rc;
	/* NNG_FLAG_ALLOC is not used: nng_send copies, buf stays ours. */
	rc = nng_errno(nng_send(sock, buf, len, flags));
	free(buf);
	(void)n;
	return rc;
}

/* Receives one frame (nng allocates it); -EAGAIN/-ETIMEDOUT when none. */
static int recv_frame(nng_socket sock, int flags, uint8_t **buf, size_t *len)
{
	void *p = NULL;
	int rc = nng_errno(nng_recv(sock, &p, len, flags | NNG_FLAG_ALLOC));

	*buf = rc == 0 ? p : NULL;
	return rc;
}

/* ---- copies of changes for replies ----------------------------------------------- */

struct reply {
	struct sync_change *v;
	size_t n, cap, bytes;
	int rc;
};

static int reply_add(const struct store_rchange *r, void *arg)
{
	struct reply *rp = arg;
	struct sync_change *sc;

	if (rp->n > 0 && rp->bytes >= SYNC_REPLY_SOFT_MAX)
		return 1;
	if (rp->n == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 16;
		void *v = realloc(rp->v, cap * sizeof(*rp->v));

		if (!v)
			return -ENOMEM;
		rp->v = v;
		rp->cap = cap;
	}
	sc = &rp->v[rp->n];
	memset(sc, 0, sizeof(*sc));
	sc->r = *r;
	snprintf(sc->ns, sizeof(sc->ns), "%s", r->c.ns);
	snprintf(sc->name, sizeof(sc->name), "%s", r->c.name);
	snprintf(sc->origin, sizeof(sc->origin), "%s", r->c.origin);
	snprintf(sc->parent_node, sizeof(sc->parent_node), "%s", r->parent_node);
	sc->body = r->c.body ? strdup(r->c.body) : NULL;
	sc->source = r->c.source ? strdup(r->c.source) : NULL;
	if ((r->c.body && !sc->body) || (r->c.source && !sc->source)) {
		free(sc->body);
		free(sc->source);
		return -ENOMEM;
	}
	rp->n++;
	rp->bytes += 128 + (r->c.body ? strlen(r->c.body) : 0);
	return 0;
}

/* Points each copy's r at its own strings (the array has stopped moving). */
static void reply_fix(struct reply *rp)
{
	for (size_t i = 0; i < rp->n; i++) {
		struct sync_change *sc = &rp->v[i];

		sc->r.c.ns = sc->ns;
		sc->r.c.name = sc->name;
		sc->r.c.origin = sc->origin;
		sc->r.parent_node = sc->parent_node;
		sc->r.c.body = sc->body;
		sc->r.c.source = sc->source;
	}
}

static void reply_free(struct reply *rp)
{
	for (size_t i = 0; i < rp->n; i++) {
		free(rp->v[i].body);
		free(rp->v[i].source);
	}
	free(rp->v);
}

/* ---- applying --------------------------------------------------------------------- */

/*
 * Changes are applied in batches, one transaction (one fsync) for all the
 * changes one turn drains from SUB or one FETCH reply brings: at 1,000
 * writes/s a transaction per change costs more fsyncs than the disk gives.
 * A batch is never held across a network wait, since the mount's writers
 * queue behind it.  A batch whose commit fails is lost as a whole, marks
 * included, so heartbeats find the changes missing and fetch them again.
 */
static void batch_begin(struct node *n)
{
	int rc;

	int64_t start = now_ms();

	if (n->in_batch)
		return;
	rc = store_txn_begin_whole(n->s);
	if (rc < 0) {
		/* Each change then commits on its own, as before batching. */
		log_limited(LOG_WARNING, "cannot begin a batch: %s", strerror(-rc));
		return;
	}
	n->in_batch = true;
	n->batch_applied = 0;
	n->batch_since_ms = now_ms();
	/* Meanwhile SUB went unread: say so, it explains silent peers. */
	if (n->batch_since_ms - start >= SLOW_LOCK_MS)
		log_limited(LOG_WARNING, "waited %lld ms for the store's write lock",
			    (long long)(n->batch_since_ms - start));
}

/* The batch's transaction is gone (a change failed after writing, or
 * SQLite ended it on an I/O error): its changes are fetched again. */
static void batch_lost(struct node *n, const char *why)
{
	n->in_batch = false;
	n->applied -= n->batch_applied;
	log_limited(LOG_ERR, "lost a batch of %lld applied change(s), to be fetched again: %s",
		    (long long)n->batch_applied, why);
}

static void batch_end(struct node *n)
{
	int rc;

	if (!n->in_batch)
		return;
	if (!store_txn_open(n->s)) {
		batch_lost(n, "its transaction was rolled back");
		return;
	}
	n->in_batch = false;
	rc = store_txn_commit(n->s);
	/* The mount's writers queued behind it all that time. */
	if (now_ms() - n->batch_since_ms >= SLOW_LOCK_MS)
		log_limited(LOG_WARNING, "held the store's write lock %lld ms for %lld change(s)",
			    (long long)(now_ms() - n->batch_since_ms), (long long)n->batch_applied);
	if (rc < 0) {
		n->applied -= n->batch_applied;
		log_limited(LOG_ERR, "cannot commit %lld applied change(s), to be fetched again: %s",
			    (long long)n->batch_applied, strerror(-rc));
		return;
	}
	if (n->batch_applied > 0) {
		n->changed = true;
		if (n->unsynced_since_ms == 0)
			n->unsynced_since_ms = now_ms();
	}
}

/*
 * The sidecar commits at synchronous=NORMAL (sync/main.c): its batches
 * are written to the WAL without an fsync each.  Every change it applies
 * was durable at its origin before it was published, and a power loss
 * only ever takes a suffix of the WAL's commits (SQLite keeps the store
 * consistent), with the origins' high-water marks in the same rows: what
 * is lost is fetched again like any gap.  A local write on top of an
 * applied change fsyncs the WAL, and with it that change, at once.  Here
 * the rest reaches the disk within WAL_SYNC_MS, so a peer's loss and ours
 * do not have to coincide for long.  The fsync of a read-only descriptor
 * of the WAL flushes everything written to it.  A per-batch fsync was a
 * fifth of a busy sidecar's CPU once the mount's pokes made batches of
 * one change.  This syncs now; sync_wal_due is the once-a-second call.
 */
static void sync_wal(struct node *n)
{
	char path[4200];
	int fd;

	n->unsynced_since_ms = 0;
	snprintf(path, sizeof(path), "%s/" STORE_DB_FILE "-wal", n->cfg->data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* No WAL: a checkpoint that emptied it synced it first. */
		if (errno != ENOENT)
			log_limited(LOG_ERR, "cannot open '%s' to sync it: %s", path, strerror(errno));
		return;
	}
	if (fdatasync(fd) < 0) {
		/* Linux may forget a failed writeback: do not hide it. */
		log_limited(LOG_ERR, "cannot sync '%s': %s; applied changes may be fetched "
			    "again after a power loss", path, strerror(errno));
	}
	close(fd);
}

/* Applied batches: on disk within WAL_SYNC_MS. */
static void sync_wal_due(struct node *n)
{
	if (n->unsynced_since_ms != 0 && now_ms() - n->unsynced_since_ms >= WAL_SYNC_MS)
		sync_wal(n);
}

/* Applies one change; -EAGAIN for a gap, other errors are counted here. */
static int apply_one(struct node *n, const struct store_rchange *r)
{
	enum store_apply_outcome out;
	struct store_err err = { "" };
	int rc;

	/* Our own changes come back from peers' logs: we have them. */
	if (strcmp(r->c.origin, n->self) == 0) {
		int64_t have = 0;

		store_origin_seq(n->s, n->self, &have);
		if (r->c.origin_seq <= have)
			return 0;
	}
	rc = store_apply(n->s, r, n->cfg->max_skew_ms, &out, &err);
	if (rc == 0) {
		if (out == STORE_APPLY_DUPLICATE) {
			n->duplicates++;
		} else {
			n->applied++;
			if (n->in_batch)
				n->batch_applied++;
			else
				n->changed = true;
		}
		log_msg(LOG_DEBUG, "applied %s#%lld %s %s/%s/%s: %s", r->c.origin,
			(long long)r->c.origin_seq, store_op_name(r->c.op),
			store_kind_dir(r->c.kind), r->c.ns, r->c.name,
			out == STORE_APPLY_WON ? "won" : out == STORE_APPLY_LOST ? "lost" : "duplicate");
		return 0;
	}
	if (rc == -EAGAIN) {
		n->gaps++;
		return rc;
	}
	n->refused++;
	log_limited(LOG_WARNING, "cannot apply change %lld of '%s': %s", (long long)r->c.origin_seq,
		    r->c.origin, err.msg);
	if (n->in_batch && !store_txn_open(n->s))
		batch_lost(n, err.msg);
	return rc;
}

/* ---- fetching --------------------------------------------------------------------- */

static bool peer_up(const struct peer *p)
{
	return !p->self && atomic_load(&p->req_pipes) > 0;
}

/* Decodes the answer to m from p; a malformed or mismatched one is
 * rejected (counted and logged) and gives -EPROTO or the decoder's error. */
static int decode_reply(struct node *n, struct peer *p, const struct sync_msg *m,
			const uint8_t *buf, size_t len, struct sync_msg *reply)
{
	char why[SYNC_WHY_MAX];
	int rc = sync_wire_decode(buf, len, reply, why);

	if (rc == 0 && reply->type != m->type + (m->type == SYNC_MSG_HELLO ? 0 : 1)) {
		sync_msg_release(reply);
		snprintf(why, sizeof(why), "a %s answering a %s", sync_msg_type_name(reply->type),
			 sync_msg_type_name(m->type));
		rc = -EPROTO;
	}
	if (rc < 0) {
		reject(n, p, "reply", why);
		return rc;
	}
	p->last_heard_ms = now_ms();
	return 0;
}

/* One request/reply on a peer's REQ socket; *reply decoded on success. */
static int request(struct node *n, struct peer *p, const struct sync_msg *m,
		   struct sync_msg *reply)
{
	uint8_t *buf;
	size_t len;
	int rc;

	memset(reply, 0, sizeof(*reply));
	rc = send_msg(n, p->req, m, 0);
	if (rc == 0)
		rc = recv_frame(p->req, 0, &buf, &len);
	if (rc < 0) {
		log_limited(LOG_INFO, "no answer from '%s': %s", p->rep_url, strerror(-rc));
		return rc;
	}
	rc = decode_reply(n, p, m, buf, len, reply);
	nng_free(buf, len);
	return rc;
}

/*
 * The same split in two on p's fetch context, so that a FETCH can be in
 * flight while the previous reply is applied: the peer reads and encodes
 * the next batch while we write this one.  A REQ socket has one request in
 * flight, a context one more.  fetch_from takes the answer to every request
 * it sends, even when it stops early (see there).
 */
static int request_send(struct node *n, struct peer *p, const struct sync_msg *m)
{
	nng_msg *msg = NULL;
	uint8_t *buf;
	size_t len;
	int rc = encode_msg(m, &buf, &len);

	if (rc < 0)
		return rc;
	rc = nng_errno(nng_msg_alloc(&msg, 0));
	if (rc == 0)
		rc = nng_errno(nng_msg_append(msg, buf, len));
	free(buf);
	if (rc == 0) {
		nng_aio_set_msg(p->fetch_aio, msg);
		nng_ctx_send(p->fetch_ctx, p->fetch_aio);
		nng_aio_wait(p->fetch_aio);
		rc = nng_errno(nng_aio_result(p->fetch_aio));
	}
	/* Sent, the message is nng's; not sent, it is still ours. */
	if (rc < 0) {
		if (msg)
			nng_msg_free(msg);
		log_limited(LOG_INFO, "cannot ask '%s': %s", p->rep_url, strerror(-rc));
	}
	return rc;
}

static int request_recv(struct node *n, struct peer *p, const struct sync_msg *m,
			struct sync_msg *reply)
{
	nng_msg *msg;
	int rc;

	memset(reply, 0, sizeof(*reply));
	nng_ctx_recv(p->fetch_ctx, p->fetch_aio);
	nng_aio_wait(p->fetch_aio);
	rc = nng_errno(nng_aio_result(p->fetch_aio));
	if (rc < 0) {
		log_limited(LOG_INFO, "no answer from '%s': %s", p->rep_url, strerror(-rc));
		return rc;
	}
	msg = nng_aio_get_msg(p->fetch_aio);
	rc = decode_reply(n, p, m, nng_msg_body(msg), nng_msg_len(msg), reply);
	nng_msg_free(msg);
	return rc;
}

/*
 * Fetches origin's changes after ours from peer p and applies them, until we
 * have `want` or the peer has no more.  -ESTALE if its log was compacted.
 */
static void heartbeat(struct node *n);

static void fetch_msg(struct node *n, const char *origin, int64_t after, struct sync_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = SYNC_MSG_FETCH;
	m->limit = SYNC_FETCH_MAX;
	snprintf(m->node, sizeof(m->node), "%s", n->self);
	snprintf(m->origin, sizeof(m->origin), "%s", origin);
	m->after_seq = after;
}

static int fetch_from(struct node *n, struct peer *p, const char *origin, int64_t want)
{
	struct sync_msg m, reply;
	int64_t have = 0;
	int rc;

	/* A long catch-up must not silence us: peers would take the quiet
	 * for a dead connection. */
	heartbeat(n);
	store_origin_seq(n->s, origin, &have);
	if (want > 0 && have >= want)
		return 0;
	fetch_msg(n, origin, have, &m);
	rc = request_send(n, p, &m);
	if (rc == 0)
		rc = request_recv(n, p, &m, &reply);
	for (int round = 1; rc == 0; round++) {
		int64_t last;
		bool ahead = false;

		if (reply.status == SYNC_FETCH_STALE) {
			n->stale_replies++;
			p->stale = true;
			log_limited(LOG_WARNING,
				    "'%s' no longer has the changes of '%s' after %lld (compacted): "
				    "this node needs a full state transfer",
				    p->node, origin, (long long)m.after_seq);
			sync_msg_release(&reply);
			return -ESTALE;
		}
		if (reply.n_changes == 0) {
			sync_msg_release(&reply);
			return 0;
		}
		/* The next batch is asked for before this one is applied,
		 * unless this one is the last wanted, or the turn is over
		 * (the rest on a later turn: SUB is waiting). */
		last = reply.changes[reply.n_changes - 1].r.c.origin_seq;
		if (round < FETCH_ROUNDS && !sync_stop && !(want > 0 && last >= want) &&
		    !(n->fetch_deadline_ms && now_ms() >= n->fetch_deadline_ms)) {
			fetch_msg(n, origin, last, &m);
			ahead = request_send(n, p, &m) == 0;
		}
		batch_begin(n);
		for (size_t i = 0; i < reply.n_changes; i++) {
			if (strcmp(reply.changes[i].r.c.origin, origin) != 0) {
				reject(n, p, "reply", "a change of another origin");
				rc = -EPROTO;
				break;
			}
			rc = apply_one(n, &reply.changes[i].r);
			if (rc < 0)
				break;
		}
		batch_end(n);
		sync_msg_release(&reply);
		if (rc < 0) {
			/* Take the answer to the request ahead, not to leave
			 * it outstanding: nng 1.5 can hang closing a REQ
			 * socket that has one. */
			if (ahead && request_recv(n, p, &m, &reply) == 0)
				sync_msg_release(&reply);
			return rc == -EAGAIN ? -EPROTO : rc;
		}
		if (!ahead)
			return 0;
		heartbeat(n);
		rc = request_recv(n, p, &m, &reply);
	}
	return rc;
}

/* ---- state transfer, receiving side ---------------------------------------------------- */

/* Removes DIR/FILE and DIR; quietly, for cleanup paths. */
static void remove_tmp(const char *dir, const char *file)
{
	char path[4800];

	if (file) {
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		unlink(path);
	}
	rmdir(dir);
}

/* Leftovers of a transfer cut short by a crash: DATA/.sync-in-* and
 * DATA/.sync-out-* with their one file each. */
static void remove_stale_tmp(const char *data_dir)
{
	DIR *d = opendir(data_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char dir[4400];
		DIR *sub;
		struct dirent *f;

		if (strncmp(e->d_name, STATE_TMP_IN, strlen(STATE_TMP_IN)) != 0 &&
		    strncmp(e->d_name, STATE_TMP_OUT, strlen(STATE_TMP_OUT)) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", data_dir, e->d_name);
		sub = opendir(dir);
		while (sub && (f = readdir(sub)) != NULL)
			if (f->d_name[0] != '.')
				remove_tmp(dir, f->d_name);
		if (sub)
			closedir(sub);
		rmdir(dir);
	}
	closedir(d);
}

/* Writes all of buf at the file's current end. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * A full state transfer from peer p: it copies its store, we read the copy in
 * chunks into DATA/.sync-in-XXXXXX/state.db, check size and checksum, and
 * merge it (store_state_merge); the tail after its high-water marks comes
 * by the usual fetches.  Retried no sooner than retry_ms after a failure.
 */
static int state_transfer(struct node *n, struct peer *p)
{
	struct sync_msg m = { .type = SYNC_MSG_STATE_REQ }, reply;
	struct sync_checksum sum;
	struct store_merge_stats stats;
	struct store_err err = { "" };
	char dir[4200], path[4300], checksum[33], got[33];
	uint64_t id, total, offset = 0;
	int fd = -1, rc;

	if (now_ms() < p->next_transfer_ms)
		return -EAGAIN;
	p->next_transfer_ms = now_ms() + n->cfg->retry_ms;
	snprintf(m.node, sizeof(m.node), "%s", n->self);
	log_msg(LOG_NOTICE, "asking '%s' for a full state transfer", p->node);
	nng_socket_set_ms(p->req, NNG_OPT_RECVTIMEO, STATE_BEGIN_TIMEOUT_MS);
	rc = request(n, p, &m, &reply);
	nng_socket_set_ms(p->req, NNG_OPT_RECVTIMEO, REQ_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	if (reply.status != SYNC_STATE_OK || reply.transfer == 0) {
		log_limited(LOG_WARNING, "'%s' cannot send its state now (%s)", p->node,
			    reply.status == SYNC_STATE_BUSY ? "busy with another transfer"
							    : "it failed to copy its store");
		sync_msg_release(&reply);
		return -EAGAIN;
	}
	id = reply.transfer;
	total = reply.total;
	snprintf(checksum, sizeof(checksum), "%s", reply.checksum);
	sync_msg_release(&reply);
	snprintf(dir, sizeof(dir), "%s/" STATE_TMP_IN "XXXXXX", n->cfg->data_dir);
	if (!mkdtemp(dir)) {
		rc = -errno;
		log_msg(LOG_ERR, "cannot make a directory for a state transfer in '%s': %s",
			n->cfg->data_dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_msg(LOG_ERR, "cannot create '%s': %s", path, strerror(-rc));
		rmdir(dir);
		return rc;
	}
	sync_checksum_init(&sum);
	while (rc == 0 && offset < total && !sync_stop) {
		uint64_t want = total - offset < SYNC_STATE_CHUNK ? total - offset : SYNC_STATE_CHUNK;

		m.transfer = id;
		m.offset = offset;
		m.length = (uint32_t)want;
		rc = request(n, p, &m, &reply);
		if (rc < 0)
			break;
		if (reply.status != SYNC_STATE_OK || reply.transfer != id || reply.total != total ||
		    strcmp(reply.checksum, checksum) != 0 || reply.offset != offset ||
		    reply.data_len != want) {
			if (reply.status == SYNC_STATE_OK)
				reject(n, p, "state reply", "a chunk that was not asked for");
			else
				log_limited(LOG_WARNING, "'%s' dropped the state transfer", p->node);
			rc = -EPROTO;
		} else {
			sync_checksum_add(&sum, reply.data, reply.data_len);
			rc = write_all(fd, reply.data, reply.data_len);
			offset += reply.data_len;
		}
		sync_msg_release(&reply);
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && offset != total)
		rc = -EINTR;
	if (rc == 0) {
		sync_checksum_hex(&sum, got);
		if (strcmp(got, checksum) != 0) {
			reject(n, p, "state transfer", "checksum mismatch");
			rc = -EPROTO;
		}
	}
	if (rc == 0) {
		rc = store_state_merge(n->s, path, n->cfg->max_skew_ms, &stats, &err);
		if (rc < 0)
			log_msg(LOG_ERR, "cannot merge the state of '%s': %s", p->node, err.msg);
	}
	remove_tmp(dir, "state.db");
	if (rc < 0) {
		n->transfer_failures++;
		log_limited(LOG_WARNING, "state transfer from '%s' failed: %s", p->node,
			    strerror(-rc));
		return rc;
	}
	/* Our decision, not changes durable elsewhere: on disk at once. */
	sync_wal(n);
	n->transfers++;
	n->transfer_bytes += (int64_t)total;
	/* The merge wrote rows but no change-log entries: the revision did
	 * not move, so the digest must be computed again all the same. */
	atomic_store(&n->digest_dirty, true);
	n->changed = true;
	p->stale = false;
	p->next_transfer_ms = 0;
	log_msg(LOG_NOTICE, "state transfer from '%s': %llu bytes, %lld rows taken, %lld conflicts, "
		"%lld high-water marks raised", p->node, (unsigned long long)total,
		(long long)(stats.resources + stats.namespaces), (long long)stats.conflicts,
		(long long)stats.origins);
	return 0;
}

/* fetch_from, falling back to a full state transfer when p has compacted
 * the changes we need. */
static int catch_up(struct node *n, struct peer *p, const char *origin, int64_t want)
{
	int rc = fetch_from(n, p, origin, want);

	if (rc != -ESTALE)
		return rc;
	rc = state_transfer(n, p);
	if (rc == 0)
		rc = fetch_from(n, p, origin, want);
	return rc;
}

/* Fetches a gap of `origin` up to `want` from whichever peer can fill it:
 * those whose heartbeat says they have it first, then the origin itself. */
static void fill_gap(struct node *n, const char *origin, int64_t want)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n->n_peers; i++) {
			struct peer *p = &n->peers[i];
			bool has = false;
			int64_t have = 0;

			if (!peer_up(p) || !p->node[0])
				continue;
			for (size_t k = 0; k < p->n_origins; k++)
				if (strcmp(p->origins[k].node, origin) == 0 &&
				    p->origins[k].seq >= want)
					has = true;
			if (pass == 0 ? !has : (has || strcmp(p->node, origin) != 0))
				continue;
			catch_up(n, p, origin, want);
			store_origin_seq(n->s, origin, &have);
			if (have >= want)
				return;
		}
	}
}

/* ---- HELLO ------------------------------------------------------------------------ */

static void duplicate_name(struct node *n, const char *where)
{
	log_msg(LOG_ERR, "another node also calls itself '%s' (seen %s): node names must be "
		"unique in a cluster; stopping", n->self, where);
	n->fatal = -EEXIST;
}

static void hello(struct node *n, struct peer *p)
{
	struct sync_msg m = { .type = SYNC_MSG_HELLO, .nonce = n->nonce }, reply;

	if (!peer_up(p) || p->node[0] || now_ms() < p->next_hello_ms)
		return;
	p->next_hello_ms = now_ms() + n->cfg->retry_ms;
	snprintf(m.node, sizeof(m.node), "%s", n->self);
	if (request(n, p, &m, &reply) < 0)
		return;
	if (strcmp(reply.node, n->self) == 0) {
		if (reply.nonce == n->nonce) {
			p->self = true;
			log_msg(LOG_WARNING, "peer '%s' is this node itself: ignored", p->url);
		} else {
			duplicate_name(n, p->url);
		}
	} else {
		snprintf(p->node, sizeof(p->node), "%s", reply.node);
		log_msg(LOG_NOTICE, "peer '%s' is node '%s'", p->url, p->node);
	}
	sync_msg_release(&reply);
}

/* ---- serving REP -------------------------------------------------------------------- */

/* ---- state transfer, sending side (server thread) --------------------------------------- */

static void out_drop(struct outgoing *o)
{
	if (o->id == 0)
		return;
	close(o->fd);
	remove_tmp(o->dir, "state.db");
	o->id = 0;
}

/* A new consistent copy of our store for `node` in DATA/.sync-out-XXXXXX. */
static int out_start(struct node *n, struct store *s, const char *node)
{
	struct outgoing *o = &n->out;
	struct store_snapshot_info info;
	struct store_err err = { "" };
	struct sync_checksum sum;
	char path[4300];
	uint8_t *buf;
	struct stat sb;
	int rc;

	out_drop(o);
	snprintf(o->dir, sizeof(o->dir), "%s/" STATE_TMP_OUT "XXXXXX", n->cfg->data_dir);
	if (!mkdtemp(o->dir)) {
		log_msg(LOG_ERR, "cannot make a directory for a state transfer: %s", strerror(errno));
		return -errno;
	}
	/* One read transaction: a consistent state while writers go on. */
	rc = store_snapshot_create(s, o->dir, "state", false, &info, &err);
	if (rc < 0) {
		log_msg(LOG_ERR, "cannot copy the store for '%s': %s", node, err.msg);
		rmdir(o->dir);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/state.db", o->dir);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0 || fstat(o->fd, &sb) < 0 || (uint64_t)sb.st_size > SYNC_STATE_MAX) {
		rc = o->fd < 0 ? -errno : -EFBIG;
		log_msg(LOG_ERR, "cannot send the store copy '%s': %s", path, strerror(-rc));
		if (o->fd >= 0)
			close(o->fd);
		remove_tmp(o->dir, "state.db");
		return rc;
	}
	buf = malloc(SYNC_STATE_CHUNK);
	if (!buf) {
		close(o->fd);
		remove_tmp(o->dir, "state.db");
		return -ENOMEM;
	}
	sync_checksum_init(&sum);
	for (;;) {
		ssize_t r = read(o->fd, buf, SYNC_STATE_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		sync_checksum_add(&sum, buf, (size_t)r);
	}
	free(buf);
	if (rc < 0) {
		close(o->fd);
		remove_tmp(o->dir, "state.db");
		return rc;
	}
	sync_checksum_hex(&sum, o->checksum);
	o->total = (uint64_t)sb.st_size;
	snprintf(o->node, sizeof(o->node), "%s", node);
	while (o->id == 0 && getrandom(&o->id, sizeof(o->id), 0) != sizeof(o->id))
		o->id = (uint64_t)now_ms();
	if (o->id == 0)
		o->id = 1;
	o->last_used_ms = now_ms();
	atomic_fetch_add(&n->transfers_served, 1);
	log_msg(LOG_NOTICE, "sending a state transfer to '%s': %llu bytes at revision %lld", node,
		(unsigned long long)o->total, (long long)info.revision);
	return 0;
}

/* Fills reply for a STATE_REQ; *data (caller frees) holds the chunk. */
static void serve_state(struct node *n, struct store *s, const struct sync_msg *m,
			struct sync_msg *reply, uint8_t **data)
{
	struct outgoing *o = &n->out;

	reply->type = SYNC_MSG_STATE_REPLY;
	snprintf(reply->checksum, sizeof(reply->checksum), "%032d", 0);
	if (m->transfer == 0) {
		/* One copy at a time; the same asker may start over. */
		if (o->id && strcmp(o->node, m->node) != 0 &&
		    now_ms() - o->last_used_ms < STATE_IDLE_MS) {
			reply->status = SYNC_STATE_BUSY;
			return;
		}
		if (out_start(n, s, m->node) < 0) {
			reply->status = SYNC_STATE_ERROR;
			return;
		}
		reply->status = SYNC_STATE_OK;
		reply->transfer = o->id;
		reply->total = o->total;
		snprintf(reply->checksum, sizeof(reply->checksum), "%s", o->checksum);
		return;
	}
	if (o->id == 0 || m->transfer != o->id) {
		reply->status = SYNC_STATE_UNKNOWN;
		return;
	}
	reply->transfer = o->id;
	reply->total = o->total;
	snprintf(reply->checksum, sizeof(reply->checksum), "%s", o->checksum);
	o->last_used_ms = now_ms();
	if (m->offset > o->total || m->length > o->total - m->offset) {
		reply->status = SYNC_STATE_ERROR;
		return;
	}
	*data = malloc(m->length ? m->length : 1);
	if (*data) {
		ssize_t r = pread(o->fd, *data, m->length, (off_t)m->offset);

		if (r == (ssize_t)m->length) {
			reply->status = SYNC_STATE_OK;
			reply->offset = m->offset;
			reply->data = *data;
			reply->data_len = m->length;
			/* The last chunk read: the copy is no longer needed. */
			if (m->offset + m->length == o->total)
				out_drop(o);
			return;
		}
	}
	reply->status = SYNC_STATE_ERROR;
}

static void serve(struct node *n, struct store *s, const struct sync_msg *m)
{
	uint8_t *data = NULL;
	struct sync_msg reply = { 0 };
	struct reply rp = { 0 };
	int rc;

	switch (m->type) {
	case SYNC_MSG_HELLO:
		/* The node that asked finds our name in the answer and stops;
		 * this one keeps running: a newcomer must not stop a working node. */
		if (strcmp(m->node, n->self) == 0 && m->nonce != n->nonce)
			log_limited(LOG_ERR, "another node also calls itself '%s' and asked to join: "
				    "it is refused", n->self);
		reply.type = SYNC_MSG_HELLO;
		reply.nonce = n->nonce;
		snprintf(reply.node, sizeof(reply.node), "%s", n->self);
		break;
	case SYNC_MSG_FETCH:
		reply.type = SYNC_MSG_FETCH_REPLY;
		snprintf(reply.origin, sizeof(reply.origin), "%s", m->origin);
		store_origin_seq(s, m->origin, &reply.high);
		if (atomic_load(&n->unconfirmed) && strcmp(m->origin, n->self) == 0) {
			/* Our numbers may still move: nothing of ours yet. */
			reply.high = 0;
			break;
		}
		rc = store_log_origin(s, m->origin, m->after_seq, m->limit, reply_add, &rp);
		if (rc == -ESTALE) {
			reply.status = SYNC_FETCH_STALE;
			reply_free(&rp);
			rp = (struct reply){ 0 };
		} else if (rc < 0) {
			reply.status = SYNC_FETCH_ERROR;
			reply_free(&rp);
			rp = (struct reply){ 0 };
		}
		reply_fix(&rp);
		reply.changes = rp.v;
		reply.n_changes = rp.n;
		break;
	case SYNC_MSG_STATE_REQ:
		if (atomic_load(&n->unconfirmed)) {
			/* A copy would carry our own numbers before they move. */
			reply.type = SYNC_MSG_STATE_REPLY;
			snprintf(reply.checksum, sizeof(reply.checksum), "%032d", 0);
			reply.status = SYNC_STATE_BUSY;
			break;
		}
		serve_state(n, s, m, &reply, &data);
		break;
	default:
		/* REP must answer something: an empty, valid reply. */
		reply.type = SYNC_MSG_FETCH_REPLY;
		reply.status = SYNC_FETCH_ERROR;
		snprintf(reply.origin, sizeof(reply.origin), "%s", n->self);
		break;
	}
	send_msg(n, n->rep, &reply, 0);
	reply_free(&rp);
	free(data);
}

/*
 * Server thread: brings the digest up to the revision the main loop saw.
 * While changes stream in, each digest is stale before it is read, and
 * recomputing at every heartbeat would spend a core hashing the whole state
 * over and over (on two CPUs, the one that applies the changes).  So while
 * the revision keeps moving, a digest that took T ms is followed by a pause
 * of DIGEST_IDLE_FACTOR x T, which bounds the hashing to a fifth of a core;
 * once the revision holds still between two calls (this thread wakes every
 * 100 ms) the digest is computed at once, so a node that has caught up
 * shows it without the pause.
 */
#define DIGEST_IDLE_FACTOR 4

static void refresh_digest(struct node *n, struct store *s)
{
	int64_t revision = -1, count = 0, start;
	char hex[33];
	bool quiet;

	if (!atomic_load(&n->digest_dirty) && n->digest_rev >= atomic_load(&n->digest_want))
		return;
	if (store_revision(s, &revision) < 0)
		revision = -1;
	quiet = revision == n->digest_seen_rev;
	n->digest_seen_rev = revision;
	if (!quiet && now_ms() < n->digest_next_ms)
		return;
	/* Cleared before reading: rows changed meanwhile set it again. */
	atomic_store(&n->digest_dirty, false);
	start = now_ms();
	if (revision < 0 || store_digest(s, hex, &count) < 0) {
		log_limited(LOG_ERR, "cannot compute the state digest");
		atomic_store(&n->digest_dirty, true);
		return;
	}
	n->digest_next_ms = now_ms() + DIGEST_IDLE_FACTOR * (now_ms() - start);
	pthread_mutex_lock(&n->digest_lock);
	memcpy(n->digest, hex, sizeof(hex));
	n->resources = count;
	pthread_mutex_unlock(&n->digest_lock);
	n->digest_rev = revision;
}

/* The digest and resource count as last computed ("" before the first). */
static void digest_get(struct node *n, char hex[33], int64_t *resources)
{
	pthread_mutex_lock(&n->digest_lock);
	memcpy(hex, n->digest, 33);
	*resources = n->resources;
	pthread_mutex_unlock(&n->digest_lock);
}

/* The server thread: REP has a receive timeout, so it sees sync_stop. */
static void *server_main(void *arg)
{
	struct node *n = arg;

	while (!sync_stop && !atomic_load(&n->fatal)) {
		struct sync_msg m;
		char why[SYNC_WHY_MAX];
		uint8_t *buf = NULL;
		size_t len = 0;
		/* poll(), not a receive timeout: see open_sockets.  REP is
		 * closed only after this thread is joined. */
		struct pollfd pfd = { .fd = n->rep_fd, .events = POLLIN };
		int rc = poll(&pfd, 1, 100) > 0 ? recv_frame(n->rep, NNG_FLAG_NONBLOCK, &buf, &len)
						 : -ETIMEDOUT;

		if (rc == -EBADF)
			break;
		if (n->out.id && now_ms() - n->out.last_used_ms > STATE_IDLE_MS)
			out_drop(&n->out);
		refresh_digest(n, n->serve_s);
		if (rc < 0)
			continue;
		rc = sync_wire_decode(buf, len, &m, why);
		nng_free(buf, len);
		if (rc < 0) {
			reject(n, NULL, "request", why);
			m = (struct sync_msg){ .type = 0 };
		} else if (m.type != SYNC_MSG_HELLO && m.type != SYNC_MSG_FETCH &&
			   m.type != SYNC_MSG_STATE_REQ) {
			reject(n, NULL, "request", "not a request");
		}
		serve(n, n->serve_s, &m);
		sync_msg_release(&m);
	}
	out_drop(&n->out);
	return NULL;
}

/* ---- SUB ---------------------------------------------------------------------------- */

static struct peer *peer_named(struct node *n, const char *node)
{
	for (int i = 0; i < n->n_peers; i++)
		if (!n->peers[i].self && strcmp(n->peers[i].node, node) == 0)
			return &n->peers[i];
	return NULL;
}

/* A node's mark in a list of marks, 0 when absent. */
static int64_t seq_in(const struct sync_origin *v, size_t n, const char *node)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].node, node) == 0)
			return v[i].seq;
	return 0;
}

/*
 * The first peer heard while our own numbering is unconfirmed tells what it
 * holds of this node.  Nothing: we are new.  Something: this data dir was
 * wiped (or replaced) and an earlier store of our name gave out numbers
 * 1..theirs; the changes made here since move up past them, and that
 * earlier store's effects come by a state transfer, since fetching our own
 * origin would skip numbers we now hold.
 */
static void confirm_origin(struct node *n, struct peer *p)
{
	int64_t theirs = seq_in(p->origins, p->n_origins, n->self), ours = 0, moved = 0;
	struct store_err err = { "" };
	int rc = store_origin_seq(n->s, n->self, &ours);

	if (rc == 0)
		rc = store_origin_confirm(n->s, theirs > 0 && ours > 0 ? theirs : 0, &moved, &err);
	if (rc < 0) {
		log_limited(LOG_ERR, "cannot confirm the sequence of '%s': %s", n->self,
			    err.msg[0] ? err.msg : strerror(-rc));
		return;
	}
	/* The renumbered changes go out next: a power loss must not undo it. */
	sync_wal(n);
	atomic_store(&n->unconfirmed, false);
	/* Peers fetch what we hold by our marks: nothing is re-published. */
	store_revision(n->s, &n->published_rev);
	if (theirs == 0) {
		log_msg(LOG_INFO, "'%s' knows no earlier changes of '%s': numbering confirmed",
			p->node, n->self);
		return;
	}
	log_msg(LOG_WARNING, "'%s' holds changes 1..%lld of an earlier store named '%s' (this "
		"data dir was wiped or replaced): %lld change(s) made here renumbered after them, "
		"and the earlier state is taken from '%s'", p->node, (long long)theirs, n->self,
		(long long)moved, p->node);
	n->renumbered += moved;
	n->transfer_owed = true;
}

/* A node that subscribes to no one never hears what others hold of it: it
 * is taken as new, or a hub that others dial could never serve its changes.
 * Detecting a wipe needs a --peer that knew the earlier store. */
static int confirm_alone(struct node *n)
{
	struct store_err err = { "" };
	int rc;

	for (int i = 0; i < n->n_peers; i++)
		if (!n->peers[i].self)
			return 0;
	rc = store_origin_confirm(n->s, 0, NULL, &err);
	if (rc < 0) {
		log_msg(LOG_ERR, "cannot confirm the sequence of '%s': %s", n->self, err.msg);
		return rc;
	}
	sync_wal(n);
	atomic_store(&n->unconfirmed, false);
	log_msg(LOG_INFO, "no peers to compare with: the numbering of '%s' is taken as new",
		n->self);
	return 0;
}

/* The state transfer confirm_origin asked for, from any peer that answers. */
static void pay_transfer(struct node *n)
{
	for (int i = 0; i < n->n_peers && n->transfer_owed && !sync_stop; i++) {
		struct peer *p = &n->peers[i];

		if (peer_up(p) && p->node[0] && state_transfer(n, p) == 0)
			n->transfer_owed = false;
	}
}

static void on_heartbeat(struct node *n, struct sync_msg *m)
{
	struct peer *p;

	if (strcmp(m->node, n->self) == 0) {
		if (m->nonce != n->nonce)
			duplicate_name(n, "in a heartbeat");
		return;
	}
	p = peer_named(n, m->node);
	if (!p)
		return; /* HELLO maps it on a later turn */
	p->last_heard_ms = p->last_beat_ms = now_ms();
	p->revision = m->revision;
	snprintf(p->digest, sizeof(p->digest), "%s", m->digest);
	free(p->origins);
	p->origins = m->origins; /* taken over */
	p->n_origins = m->n_origins;
	m->origins = NULL;
	m->n_origins = 0;
	if (atomic_load(&n->unconfirmed))
		confirm_origin(n, p);
	if (n->transfer_owed)
		pay_transfer(n);
	/* A lost tail (they have more of some origin than we do) is fetched
	 * by fetch_turn, from the marks just taken over. */
}

/* Notes that SUB brought change `seq` of `origin` with earlier ones missing. */
static void note_gap(struct node *n, const char *origin, int64_t seq)
{
	int i;

	for (i = 0; i < n->n_wants; i++)
		if (strcmp(n->wants[i].origin, origin) == 0)
			break;
	if (i == n->n_wants) {
		if (n->n_wants == WANTS_MAX)
			return; /* heartbeats will show the gap too */
		snprintf(n->wants[i].origin, sizeof(n->wants[i].origin), "%s", origin);
		n->wants[i].seq = 0;
		n->n_wants++;
	}
	if (seq > n->wants[i].seq)
		n->wants[i].seq = seq;
}

/*
 * Fetches what this node is missing, for at most FETCH_BUDGET_MS: first the
 * gaps SUB showed, from whichever peer has them, then every origin of which
 * a peer's last heartbeat claims more than we have.  What is left waits for
 * the next turn.
 */
static void fetch_turn(struct node *n)
{
	n->fetch_deadline_ms = now_ms() + FETCH_BUDGET_MS;
	while (n->n_wants > 0 && !n->fatal && !sync_stop && now_ms() < n->fetch_deadline_ms) {
		struct want w = n->wants[--n->n_wants];
		int64_t have = 0;

		store_origin_seq(n->s, w.origin, &have);
		if (have < w.seq)
			fill_gap(n, w.origin, w.seq);
		store_origin_seq(n->s, w.origin, &have);
		if (have < w.seq && now_ms() >= n->fetch_deadline_ms)
			note_gap(n, w.origin, w.seq); /* cut short: again next turn */
	}
	for (int i = 0; i < n->n_peers && !n->fatal && !sync_stop; i++) {
		struct peer *p = &n->peers[i];

		if (p->self || !p->node[0] || !peer_up(p))
			continue;
		for (size_t k = 0; k < p->n_origins && !n->fatal; k++) {
			int64_t have = 0;

			if (now_ms() >= n->fetch_deadline_ms)
				goto out;
			if (strcmp(p->origins[k].node, n->self) == 0)
				continue;
			store_origin_seq(n->s, p->origins[k].node, &have);
			if (p->origins[k].seq > have)
				catch_up(n, p, p->origins[k].node, p->origins[k].seq);
		}
	}
out:
	n->fetch_deadline_ms = 0;
}

static void receive(struct node *n)
{
	int64_t deadline = now_ms() + RECEIVE_BUDGET_MS;
	bool last = false;

	for (int k = 0; k < 4096 && !last && !sync_stop && !n->fatal; k++) {
		struct sync_msg m;
		char why[SYNC_WHY_MAX];
		uint8_t *buf;
		size_t len;
		int rc;

		if (k == 0) {
			struct pollfd pfd[2] = {
				{ .fd = n->sub_fd, .events = POLLIN },
				{ .fd = n->poke_fd, .events = POLLIN },
			};

			if (poll(pfd, n->poke_fd >= 0 ? 2 : 1, POLL_MS) <= 0)
				break;
			/* A local commit: end the turn, so publish_local
			 * sends it now, not after the wait. */
			if (n->poke_fd >= 0 && (pfd[1].revents & POLLIN)) {
				store_notify_drain(n->poke_fd);
				if (!(pfd[0].revents & POLLIN))
					break;
			}
		}
		rc = recv_frame(n->sub, NNG_FLAG_NONBLOCK, &buf, &len);

		if (rc < 0)
			break;
		if (k > 0 && k % 256 == 0) {
			/* One transaction, one fsync, per 256 changes. */
			batch_end(n);
			/* This frame is in hand: handle it, then stop. */
			last = now_ms() >= deadline;
		}
		rc = sync_wire_decode(buf, len, &m, why);
		nng_free(buf, len);
		if (rc < 0) {
			reject(n, NULL, "published", why);
			continue;
		}
		if (m.type == SYNC_MSG_CHANGE) {
			const struct store_rchange *r = &m.changes[0].r;

			batch_begin(n);
			/* The gap, and this change, come by fetch_turn. */
			if (apply_one(n, r) == -EAGAIN)
				note_gap(n, r->c.origin, r->c.origin_seq);
		} else if (m.type == SYNC_MSG_HEARTBEAT) {
			/* Only confirming a new store and a transfer write. */
			if (atomic_load(&n->unconfirmed) || n->transfer_owed)
				batch_end(n);
			on_heartbeat(n, &m);
		} else {
			reject(n, NULL, "published", "not a change or heartbeat");
		}
		sync_msg_release(&m);
	}
	batch_end(n);
}

/* ---- PUB ------------------------------------------------------------------------------ */

struct publish {
	struct node *n;
	int64_t last;
	int rc;
};

static int publish_one(const struct store_rchange *r, void *arg)
{
	struct publish *pb = arg;
	struct sync_change sc;
	struct sync_msg m = { .type = SYNC_MSG_CHANGE, .n_changes = 1, .changes = &sc };

	pb->last = r->c.revision;
	memset(&sc, 0, sizeof(sc));
	sc.r = *r;
	/* Best effort: a drop is found by heartbeats and fetched. */
	send_msg(pb->n, pb->n->pub, &m, NNG_FLAG_NONBLOCK);
	return 0;
}

static void publish_local(struct node *n)
{
	int64_t revision = 0;

	if (atomic_load(&n->unconfirmed))
		return;
	/* The cheap cached query first: most turns nothing was committed.
	 * Every change up to `revision` is committed (revisions are taken
	 * under the write lock), so none of ours below it can appear later. */
	if (store_revision(n->s, &revision) < 0 || revision <= n->published_rev)
		return;
	for (int k = 0; k < 16; k++) {
		struct publish pb = { n, n->published_rev, 0 };
		int64_t count = 0;
		int rc = store_log_since(n->s, n->published_rev, revision, n->self, 256,
					 publish_one, &pb, &count);

		if (rc < 0) {
			log_limited(LOG_ERR, "cannot read the change log: %s", strerror(-rc));
			return;
		}
		if (count < 256) {
			n->published_rev = revision;
			return;
		}
		n->published_rev = pb.last;
	}
}

/* ---- silent peers ----------------------------------------------------------------------- */

static int dial(struct node *n, nng_socket sock, const char *url, nng_dialer *out);

/*
 * SUB never sends after its handshake, so a connection whose far end was
 * reset while packets could not pass (a partition) stays open here for ever
 * and hears nothing: redial a peer whose heartbeats stopped.  A peer that is
 * really down costs one redial per interval.
 */
static void redial_silent(struct node *n)
{
	int64_t limit = 30 * (int64_t)n->cfg->heartbeat_ms, now = now_ms();

	/* Under packet loss a busy peer's heartbeats come late: do not
	 * mistake that for a dead connection. */
	if (limit < 5000)
		limit = 5000;
	for (int i = 0; i < n->n_peers; i++) {
		struct peer *p = &n->peers[i];
		int64_t since = p->last_beat_ms > p->sub_since_ms ? p->last_beat_ms : p->sub_since_ms;

		if (p->self || now - since < limit)
			continue;
		log_limited(LOG_INFO, "no heartbeat from '%s' for %lld ms: reconnecting", p->url,
			    (long long)(now - since));
		nng_dialer_close(p->sub_dialer);
		p->sub_since_ms = now;
		dial(n, n->sub, p->url, &p->sub_dialer);
	}
}

/* ---- heartbeat and status ----------------------------------------------------------- */

struct origin_acc {
	struct sync_origin *v;
	size_t n, cap;
};

static int origin_add(const char *node, int64_t seq, void *arg)
{
	struct origin_acc *a = arg;

	if (a->n >= SYNC_ORIGINS_MAX)
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void *v = realloc(a->v, cap * sizeof(*a->v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	snprintf(a->v[a->n].node, sizeof(a->v[a->n].node), "%s", node);
	a->v[a->n++].seq = seq;
	return 0;
}

/* Moves our own mark to the end of v and returns how many others precede it:
 * the marks a heartbeat may carry while our numbers can still move (the
 * full list stays for the status file). */
static size_t without_self(const struct node *n, struct sync_origin *v, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].node, n->self) == 0) {
			struct sync_origin mine = v[i];

			memmove(&v[i], &v[i + 1], (count - i - 1) * sizeof(*v));
			v[count - 1] = mine;
			return count - 1;
		}
	}
	return count;
}

/*
 * Connections our listeners dropped before any message: nng counts a TLS
 * handshake that failed verification (a certificate not from our CA) under
 * "auth", a peer speaking another protocol under "proto", and other failed
 * handshakes (seen: a client with no certificate at all) under "other".
 * No callback sees them: pipe events start after the handshake.
 */
/* nng_stat_find_listener of nng 1.5.2 returns the first listener of the
 * process whatever it is asked: match the "id" statistic ourselves. */
static nng_stat *listener_stats(nng_stat *all, nng_listener l)
{
	for (nng_stat *c = nng_stat_child(all); c; c = nng_stat_next(c)) {
		nng_stat *id;

		if (strcmp(nng_stat_name(c), "listener") != 0)
			continue;
		id = nng_stat_find(c, "id");
		if (id && nng_stat_value(id) == (uint64_t)nng_listener_id(l))
			return c;
	}
	return NULL;
}

static uint64_t refused_connections(struct node *n)
{
	static const char *const causes[] = { "auth", "proto", "other" };
	uint64_t total = 0;
	nng_stat *all;

	if (nng_stats_get(&all) != 0)
		return 0;
	for (int i = 0; i < n->n_listeners; i++) {
		nng_stat *l = listener_stats(all, n->listeners[i]);

		for (size_t k = 0; l && k < sizeof(causes) / sizeof(causes[0]); k++) {
			nng_stat *st = nng_stat_find(l, causes[k]);

			total += st ? nng_stat_value(st) : 0;
		}
	}
	nng_stats_free(all);
	return total;
}

static void write_status(struct node *n, const struct origin_acc *mine, int64_t revision)
{
	char path[4200], tmp[4300], when[32];
	cJSON *root = cJSON_CreateObject(), *peers, *origins;
	char *text;
	FILE *f;
	int64_t mono = now_ms(), resources;
	char digest[33];

	if (!root)
		return;
	digest_get(n, digest, &resources);
	cJSON_AddStringToObject(root, "node", n->self);
	cJSON_AddStringToObject(root, "listen", n->cfg->listen);
	cJSON_AddNumberToObject(root, "revision", (double)revision);
	cJSON_AddStringToObject(root, "digest", digest);
	cJSON_AddNumberToObject(root, "resources", (double)resources);
	cJSON_AddNumberToObject(root, "applied", (double)n->applied);
	cJSON_AddNumberToObject(root, "duplicates", (double)n->duplicates);
	cJSON_AddNumberToObject(root, "refused", (double)n->refused);
	cJSON_AddNumberToObject(root, "gaps", (double)n->gaps);
	cJSON_AddNumberToObject(root, "rejected_frames", (double)n->rejected);
	cJSON_AddNumberToObject(root, "refused_connections", (double)refused_connections(n));
	cJSON_AddNumberToObject(root, "stale_replies", (double)n->stale_replies);
	cJSON_AddNumberToObject(root, "state_transfers", (double)n->transfers);
	cJSON_AddNumberToObject(root, "state_transfer_bytes", (double)n->transfer_bytes);
	cJSON_AddNumberToObject(root, "state_transfer_failures", (double)n->transfer_failures);
	cJSON_AddNumberToObject(root, "state_transfers_served",
				(double)atomic_load(&n->transfers_served));
	cJSON_AddNumberToObject(root, "tombstones_purged", (double)n->purged);
	cJSON_AddBoolToObject(root, "sequence_confirmed", !atomic_load(&n->unconfirmed));
	cJSON_AddNumberToObject(root, "renumbered", (double)n->renumbered);
	store_format_time(wall_ms(), when, sizeof(when));
	cJSON_AddStringToObject(root, "updated", when);
	origins = cJSON_AddObjectToObject(root, "origins");
	for (size_t i = 0; origins && i < mine->n; i++)
		cJSON_AddNumberToObject(origins, mine->v[i].node, (double)mine->v[i].seq);
	peers = cJSON_AddArrayToObject(root, "peers");
	for (int i = 0; peers && i < n->n_peers; i++) {
		struct peer *p = &n->peers[i];
		cJSON *o;
		int64_t behind = 0, ahead = 0;

		if (p->self)
			continue;
		o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "url", p->url);
		if (p->node[0])
			cJSON_AddStringToObject(o, "node", p->node);
		else
			cJSON_AddNullToObject(o, "node");
		cJSON_AddBoolToObject(o, "connected",
				      peer_up(p) && p->last_heard_ms &&
				      mono - p->last_heard_ms < 3 * n->cfg->heartbeat_ms);
		if (p->last_heard_ms) {
			store_format_time(wall_ms() - (mono - p->last_heard_ms), when, sizeof(when));
			cJSON_AddStringToObject(o, "last_heard", when);
			cJSON_AddNumberToObject(o, "last_heard_ms_ago", (double)(mono - p->last_heard_ms));
		} else {
			cJSON_AddNullToObject(o, "last_heard");
		}
		/* behind: changes they have that we lack; ahead: the reverse. */
		for (size_t k = 0; k < p->n_origins; k++) {
			int64_t d = p->origins[k].seq - seq_in(mine->v, mine->n, p->origins[k].node);

			if (d > 0)
				behind += d;
		}
		for (size_t k = 0; p->last_heard_ms && k < mine->n; k++) {
			int64_t d = mine->v[k].seq - seq_in(p->origins, p->n_origins, mine->v[k].node);

			if (d > 0)
				ahead += d;
		}
		cJSON_AddNumberToObject(o, "behind", (double)behind);
		cJSON_AddNumberToObject(o, "ahead", (double)ahead);
		cJSON_AddNumberToObject(o, "revision", (double)p->revision);
		cJSON_AddStringToObject(o, "digest", p->digest);
		cJSON_AddNumberToObject(o, "rejected_frames", (double)p->rejected);
		cJSON_AddBoolToObject(o, "needs_state_transfer", p->stale);
		cJSON_AddItemToArray(peers, o);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return;
	snprintf(path, sizeof(path), "%s/" SYNC_STATUS_FILE, n->cfg->data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Readers see the old file or the new one, never half of one. */
	f = fopen(tmp, "w");
	if (f) {
		bool okw = fputs(text, f) >= 0 && fputc('\n', f) != EOF;

		if (fclose(f) != 0 || !okw || rename(tmp, path) < 0) {
			log_limited(LOG_WARNING, "cannot write '%s': %s", path, strerror(errno));
			unlink(tmp);
		}
	}
	cJSON_free(text);
}

/* ---- tombstone purge ------------------------------------------------------------------ */

/* The lowest high-water mark of `origin` over all peers (their heartbeats). */
static int64_t peer_floor(const char *origin, void *arg)
{
	struct node *n = arg;
	int64_t floor = INT64_MAX;

	for (int i = 0; i < n->n_peers; i++) {
		const struct peer *p = &n->peers[i];
		int64_t seq;

		if (p->self)
			continue;
		seq = seq_in(p->origins, p->n_origins, origin);
		if (seq < floor)
			floor = seq;
	}
	return floor == INT64_MAX ? 0 : floor;
}

/*
 * Drops tombstones once every peer has their deletes.  Only when every
 * configured peer has named itself and sent its marks, and we hold
 * everything each of them has: a put a peer made before it saw a delete is
 * then here already, so nothing older can arrive later and find no tombstone.
 */
static void purge(struct node *n)
{
	struct store_err err = { "" };
	int64_t purged = 0;

	if (now_ms() < n->next_purge_ms)
		return;
	n->next_purge_ms = now_ms() + n->cfg->purge_ms;
	for (int i = 0; i < n->n_peers; i++) {
		const struct peer *p = &n->peers[i];

		if (p->self)
			continue;
		if (!p->node[0] || p->n_origins == 0)
			return;
		for (size_t k = 0; k < p->n_origins; k++) {
			int64_t have = 0;

			store_origin_seq(n->s, p->origins[k].node, &have);
			if (have < p->origins[k].seq)
				return;
		}
	}
	if (store_tombstone_purge(n->s, peer_floor, n, &purged, &err) < 0) {
		log_limited(LOG_WARNING, "cannot purge tombstones: %s", err.msg);
		return;
	}
	n->purged += purged;
}

static void heartbeat(struct node *n)
{
	struct origin_acc mine = { 0 };
	struct sync_msg m = { .type = SYNC_MSG_HEARTBEAT, .nonce = n->nonce };
	int64_t revision = 0, resources;
	char digest[33];

	if (now_ms() < n->next_heartbeat_ms)
		return;
	n->next_heartbeat_ms = now_ms() + n->cfg->heartbeat_ms;
	store_revision(n->s, &revision);
	atomic_store(&n->digest_want, revision);
	digest_get(n, digest, &resources);
	if (store_origins(n->s, origin_add, &mine) < 0)
		log_limited(LOG_ERR, "cannot read the origins");
	snprintf(m.node, sizeof(m.node), "%s", n->self);
	m.revision = revision;
	snprintf(m.digest, sizeof(m.digest), "%s", digest[0] ? digest
				     : "00000000000000000000000000000000");
	m.origins = mine.v;
	m.n_origins = mine.n;
	if (atomic_load(&n->unconfirmed))
		m.n_origins = without_self(n, mine.v, mine.n);
	send_msg(n, n->pub, &m, NNG_FLAG_NONBLOCK);
	write_status(n, &mine, revision);
	free(mine.v);
}

/* ---- sockets -------------------------------------------------------------------------- */

static void pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct peer *p = arg;

	(void)pipe;
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&p->req_pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&p->req_pipes, 1);
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;

	*out = NULL;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -EIO;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	buf[size] = '\0';
	fclose(f);
	*out = buf;
	return 0;
}

/* A TLS config with our certificate, requiring the peer's, from the cluster CA. */
static int tls_setup(const struct sync_config *cfg, nng_tls_mode mode, nng_tls_config **out)
{
	char *cert = NULL, *key = NULL;
	int rc;

	*out = NULL;
	rc = nng_errno(nng_tls_config_alloc(out, mode));
	if (rc < 0)
		return rc;
	rc = read_file(cfg->tls_cert, &cert);
	if (rc < 0)
		log_msg(LOG_ERR, "cannot read '%s': %s", cfg->tls_cert, strerror(-rc));
	if (rc == 0) {
		rc = read_file(cfg->tls_key, &key);
		if (rc < 0)
			log_msg(LOG_ERR, "cannot read '%s': %s", cfg->tls_key, strerror(-rc));
	}
	if (rc == 0) {
		rc = nng_errno(nng_tls_config_own_cert(*out, cert, key, NULL));
		if (rc < 0)
			log_msg(LOG_ERR, "certificate '%s' or key '%s' not usable: %s", cfg->tls_cert,
				cfg->tls_key, strerror(-rc));
	}
	if (rc == 0) {
		rc = nng_errno(nng_tls_config_ca_file(*out, cfg->tls_ca));
		if (rc < 0)
			log_msg(LOG_ERR, "CA file '%s' not usable: %s", cfg->tls_ca, strerror(-rc));
	}
	if (rc == 0)
		rc = nng_errno(nng_tls_config_auth_mode(*out, NNG_TLS_AUTH_MODE_REQUIRED));
	free(cert);
	free(key);
	if (rc < 0) {
		nng_tls_config_free(*out);
		*out = NULL;
	}
	return rc;
}

static bool is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

static int listen_on(struct node *n, nng_socket sock, const char *url)
{
	nng_listener l;
	int rc = nng_errno(nng_listener_create(&l, sock, url));

	if (rc == 0 && n->n_listeners < LISTENERS_MAX)
		n->listeners[n->n_listeners++] = l;

	if (rc == 0 && is_tls(url))
		rc = nng_errno(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, n->tls_server));
	if (rc == 0)
		rc = nng_errno(nng_listener_start(l, 0));
	if (rc < 0)
		log_msg(LOG_ERR, "cannot listen on '%s': %s", url, strerror(-rc));
	return rc;
}

static int dial(struct node *n, nng_socket sock, const char *url, nng_dialer *out)
{
	nng_dialer d;
	int rc = nng_errno(nng_dialer_create(&d, sock, url));

	if (rc == 0 && is_tls(url))
		rc = nng_errno(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, n->tls_client));
	if (rc == 0)
		rc = nng_errno(nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50));
	if (rc == 0)
		rc = nng_errno(nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, n->cfg->retry_ms));
	/* Non-blocking: an absent peer is retried in the background. */
	if (rc == 0)
		rc = nng_errno(nng_dialer_start(d, NNG_FLAG_NONBLOCK));
	if (rc < 0)
		log_msg(LOG_ERR, "cannot dial '%s': %s", url, strerror(-rc));
	else if (out)
		*out = d;
	return rc;
}

static int open_sockets(struct node *n)
{
	const struct sync_config *cfg = n->cfg;
	char rep[SYNC_URL_MAX];
	int rc;

	if (cfg->tls_cert) {
		rc = tls_setup(cfg, NNG_TLS_MODE_SERVER, &n->tls_server);
		if (rc == 0)
			rc = tls_setup(cfg, NNG_TLS_MODE_CLIENT, &n->tls_client);
		if (rc < 0)
			return rc;
	}
	rc = sync_rep_url(cfg->listen, rep, sizeof(rep));
	if (rc < 0) {
		log_msg(LOG_ERR, "cannot derive a catch-up address from '%s'", cfg->listen);
		return rc;
	}
	rc = nng_errno(nng_pub0_open(&n->pub));
	if (rc == 0)
		rc = nng_errno(nng_sub0_open(&n->sub));
	if (rc == 0)
		rc = nng_errno(nng_rep0_open(&n->rep));
	if (rc == 0)
		rc = nng_errno(nng_socket_set(n->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0));
	if (rc == 0)
		rc = nng_errno(nng_socket_set_size(n->sub, NNG_OPT_RECVMAXSZ, RECV_MAX));
	if (rc == 0)
		rc = nng_errno(nng_socket_set_size(n->rep, NNG_OPT_RECVMAXSZ, RECV_MAX));
	/*
	 * The main loop waits for SUB with poll() on its notification fd,
	 * not with a receive timeout: nng 1.5's timer thread spins on the
	 * clock until each timeout's millisecond has passed, and a 5 ms wait
	 * per turn kept an idle sidecar at 16% of a CPU.
	 */
	if (rc == 0)
		rc = nng_errno(nng_socket_get_int(n->sub, NNG_OPT_RECVFD, &n->sub_fd));
	if (rc == 0)
		rc = nng_errno(nng_socket_get_int(n->rep, NNG_OPT_RECVFD, &n->rep_fd));
	/* A deep SUB queue: a burst of writes should not be dropped here. */
	if (rc == 0)
		rc = nng_errno(nng_socket_set_int(n->sub, NNG_OPT_RECVBUF, 8192));
	if (rc == 0)
		rc = nng_errno(nng_socket_set_int(n->pub, NNG_OPT_SENDBUF, 8192));
	if (rc < 0) {
		log_msg(LOG_ERR, "cannot open nng sockets: %s", strerror(-rc));
		return rc;
	}
	rc = listen_on(n, n->pub, cfg->listen);
	if (rc == 0)
		rc = listen_on(n, n->rep, rep);
	if (rc < 0)
		return rc;
	for (int i = 0; i < cfg->n_peers; i++) {
		struct peer *p = &n->peers[n->n_peers];

		snprintf(p->url, sizeof(p->url), "%s", cfg->peers[i]);
		rc = sync_rep_url(p->url, p->rep_url, sizeof(p->rep_url));
		if (rc < 0) {
			log_msg(LOG_ERR, "cannot derive a catch-up address from peer '%s'", p->url);
			return rc;
		}
		rc = nng_errno(nng_req0_open(&p->req));
		if (rc == 0)
			rc = nng_errno(nng_socket_set_size(p->req, NNG_OPT_RECVMAXSZ, RECV_MAX));
		if (rc == 0)
			rc = nng_errno(nng_socket_set_ms(p->req, NNG_OPT_RECVTIMEO, REQ_TIMEOUT_MS));
		if (rc == 0)
			rc = nng_errno(nng_socket_set_ms(p->req, NNG_OPT_SENDTIMEO, REQ_TIMEOUT_MS));
		if (rc == 0)
			rc = nng_errno(nng_pipe_notify(p->req, NNG_PIPE_EV_ADD_POST, pipe_event, p));
		if (rc == 0)
			rc = nng_errno(nng_pipe_notify(p->req, NNG_PIPE_EV_REM_POST, pipe_event, p));
		if (rc == 0)
			rc = nng_errno(nng_ctx_open(&p->fetch_ctx, p->req));
		if (rc == 0)
			rc = nng_errno(nng_aio_alloc(&p->fetch_aio, NULL, NULL));
		if (rc == 0)
			nng_aio_set_timeout(p->fetch_aio, REQ_TIMEOUT_MS);
		if (rc < 0) {
			log_msg(LOG_ERR, "cannot open a request socket: %s", strerror(-rc));
			return rc;
		}
		n->n_peers++;
		rc = dial(n, n->sub, p->url, &p->sub_dialer);
		p->sub_since_ms = now_ms();
		if (rc == 0)
			rc = dial(n, p->req, p->rep_url, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void close_sockets(struct node *n)
{
	for (int i = 0; i < n->n_peers; i++) {
		/* The context first, which ends anything still pending on
		 * it; then the aio, whose free waits for its operation. */
		if (n->peers[i].fetch_aio) {
			nng_ctx_close(n->peers[i].fetch_ctx);
			nng_aio_free(n->peers[i].fetch_aio);
		}
		nng_close(n->peers[i].req);
		free(n->peers[i].origins);
	}
	nng_close(n->sub);
	nng_close(n->rep);
	nng_close(n->pub);
	if (n->tls_server)
		nng_tls_config_free(n->tls_server);
	if (n->tls_client)
		nng_tls_config_free(n->tls_client);
}

int sync_run(const struct sync_config *cfg, struct store *s)
{
	static struct node n; /* large (peers); one per process */
	int rc;

	memset(&n, 0, sizeof(n));
	n.poke_fd = -1;
	pthread_mutex_init(&n.digest_lock, NULL);
	atomic_store(&n.digest_dirty, true);
	n.cfg = cfg;
	n.s = s;
	n.started_ms = now_ms();
	snprintf(n.self, sizeof(n.self), "%s", store_node(s));
	remove_stale_tmp(cfg->data_dir);
	if (getrandom(&n.nonce, sizeof(n.nonce), 0) != sizeof(n.nonce))
		n.nonce = (uint64_t)wall_ms() ^ ((uint64_t)getpid() << 32);
	/* Changes made before we started are found by peers' heartbeats and
	 * fetched: publishing resumes at the present. */
	rc = store_revision(s, &n.published_rev);
	if (rc < 0) {
		log_msg(LOG_ERR, "cannot read the store revision: %s", strerror(-rc));
		return rc;
	}
	{
		bool unconfirmed = false;

		rc = store_origin_unconfirmed(s, &unconfirmed);
		if (rc < 0) {
			log_msg(LOG_ERR, "cannot read the store's meta table: %s", strerror(-rc));
			return rc;
		}
		atomic_store(&n.unconfirmed, unconfirmed);
	}
	{
		struct store_options so = { .node = n.self };
		struct store_err err = { "" };
		char db[4200];

		snprintf(db, sizeof(db), "%s/" STORE_DB_FILE, cfg->data_dir);
		rc = store_open(db, &so, &n.serve_s, &err);
		if (rc < 0) {
			log_msg(LOG_ERR, "%s", err.msg);
			return rc;
		}
	}
	/* Without it local commits are still published, at the poll's pace.
	 * Our lock guards it: one sidecar per data dir. */
	rc = store_notify_listen(cfg->data_dir, STORE_NOTIFY_SYNC, &n.poke_fd);
	if (rc < 0) {
		n.poke_fd = -1;
		log_msg(LOG_WARNING, "cannot listen on '%s/%s': %s; looking for local commits every %d ms",
			cfg->data_dir, STORE_NOTIFY_SYNC, strerror(-rc), POLL_MS);
	}
	rc = open_sockets(&n);
	if (rc == 0 && atomic_load(&n.unconfirmed))
		rc = confirm_alone(&n);
	if (rc == 0) {
		rc = -pthread_create(&n.server, NULL, server_main, &n);
		n.server_started = rc == 0;
		if (rc < 0)
			log_msg(LOG_ERR, "cannot start the server thread: %s", strerror(-rc));
	}
	if (rc < 0) {
		close_sockets(&n);
		store_notify_close(cfg->data_dir, STORE_NOTIFY_SYNC, n.poke_fd);
		store_close(n.serve_s);
		return rc;
	}
	log_msg(LOG_NOTICE, "node '%s' publishing on '%s' with %d peer(s)", n.self, cfg->listen,
		n.n_peers);
	while (!sync_stop && !n.fatal) {
		publish_local(&n);
		receive(&n);
		fetch_turn(&n);
		for (int i = 0; i < n.n_peers && !n.fatal; i++)
			hello(&n, &n.peers[i]);
		heartbeat(&n);
		redial_silent(&n);
		purge(&n);
		sync_wal_due(&n);
		/* Once per turn, not per change: the mount reads the log itself. */
		if (n.changed) {
			n.changed = false;
			store_notify_poke(cfg->data_dir, STORE_NOTIFY_MOUNT);
		}
	}
	/* A final status: the file says how things stood when we stopped. */
	n.next_heartbeat_ms = 0;
	if (!atomic_load(&n.fatal))
		heartbeat(&n);
	if (n.unsynced_since_ms != 0)
		sync_wal(&n);
	sync_stop = 1;
	pthread_join(n.server, NULL);
	close_sockets(&n);
	store_notify_close(cfg->data_dir, STORE_NOTIFY_SYNC, n.poke_fd);
	store_close(n.serve_s);
	return atomic_load(&n.fatal);
}
