/* sync.h - private to swarmfs-sync: its configuration, the per-peer state and
 * the replication loop (node.c) that main.c starts. */
#ifndef SWARMFS_SYNC_H
#define SWARMFS_SYNC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define SYNC_PEERS_MAX 64
#define SYNC_URL_MAX 512
#define SYNC_STATUS_FILE "sync-status.json" /* inside the data dir */
#define SYNC_LOCK_FILE "swarmfs-sync.lock"  /* inside the data dir */

struct sync_config {
	char data_dir[4096];
	const char *node;              /* NULL: the store's node name */
	char listen[SYNC_URL_MAX];     /* the PUB address; REP is derived (sync_rep_url) */
	char peers[SYNC_PEERS_MAX][SYNC_URL_MAX];
	int n_peers;
	const char *tls_cert, *tls_key, *tls_ca;
	bool insecure;
	int heartbeat_ms;              /* default 1000 */
	int retry_ms;                  /* default 1000: HELLO and fetch retries */
	int64_t max_skew_ms;           /* default 60000 */
	int purge_ms;                  /* default 60000: tombstone purge interval */
};

/*
 * The REP (catch-up) address that belongs to a PUB address: the next port
 * for tcp:// and tls+tcp:// ("tcp://127.0.0.1:7001" -> ":7002"), the path
 * plus ".rep" for ipc://.  -EINVAL for other forms.
 */
int sync_rep_url(const char *pub, char *out, size_t size);

/* Whether a URL listens only on this host (loopback, ipc, inproc). */
bool sync_url_is_local(const char *url);

/* Set by the signal handler; the loop exits when it is set. */
extern volatile sig_atomic_t sync_stop;

/*
 * Runs the node until sync_stop is set or a fatal error (a second node with
 * our name, a socket that cannot listen).  Returns 0 or a negative errno
 * after logging the reason.
 */
int sync_run(const struct sync_config *cfg, struct store *s);

#endif
