/* notify.h - wake-ups between the processes sharing one data dir: a UNIX
 * datagram socket in the data dir that one process listens on and the
 * others poke after they commit, so the listener looks at the change log
 * at once instead of at its next poll.
 *   DATA/notify.sock  the mount listens; the sidecar pokes it after applying
 *                     remote changes, swarmfs-admin after its writes.
 *   DATA/sync.sock    the sidecar listens; the mount pokes it after local
 *                     commits, so they are published without waiting for
 *                     the sidecar's next turn.
 * A poke carries no data and may be lost: it only says "look now". */
#ifndef SWARMFS_STORE_NOTIFY_H
#define SWARMFS_STORE_NOTIFY_H

#define STORE_NOTIFY_MOUNT "notify.sock" /* inside the data dir */
#define STORE_NOTIFY_SYNC "sync.sock"

/*
 * Pokes the listener of DATA/file, if one listens.  Never blocks: a full
 * socket buffer means a wake-up is pending already.  Returns 0 when the
 * poke was sent, -ENOENT/-ECONNREFUSED when nobody listens, -EAGAIN when one
 * is pending, other -errno (all harmless to ignore).  Safe from any thread;
 * opens and closes its own socket.
 */
int store_notify_poke(const char *data_dir, const char *file);

/*
 * Binds DATA/file (replacing a stale one: the caller holds the data dir's
 * lock that guards this listener) and returns 0 and a non-blocking,
 * close-on-exec datagram socket in *fd for poll(), or -errno.  Drain it
 * with store_notify_drain; close it with store_notify_close, which also
 * removes the file.
 */
int store_notify_listen(const char *data_dir, const char *file, int *fd);
/* Reads every pending poke; returns how many there were. */
int store_notify_drain(int fd);
void store_notify_close(const char *data_dir, const char *file, int fd);

#endif
