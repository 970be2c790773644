/* notify.h - a wake-up for the mount of a data dir: a UNIX datagram socket
 * DATA/notify.sock that swarmfs listens on and that other writers of the
 * same store (the sidecar after applying remote changes) poke, so the
 * mount's watcher reads the change log at once instead of at its next poll.
 * A poke carries no data and may be lost: it only says "look now". */
#ifndef SWARMFS_STORE_NOTIFY_H
#define SWARMFS_STORE_NOTIFY_H

#define STORE_NOTIFY_FILE "notify.sock" /* inside the data dir */

/*
 * Tells the mount of data_dir, if one listens, that the store changed.
 * Never blocks: a full socket buffer means a wake-up is pending already.
 * Returns 0 when the poke was sent, -ENOENT/-ECONNREFUSED when no mount
 * listens, -EAGAIN when one is pending, other -errno (all harmless to
 * ignore).  Safe from any thread; opens and closes its own socket.
 */
int store_notify_changed(const char *data_dir);

/*
 * Binds DATA/notify.sock (replacing a stale one: the caller holds the data
 * dir's lock) and returns 0 and a non-blocking, close-on-exec datagram
 * socket in *fd for poll(), or -errno.  Drain it with store_notify_drain;
 * close it with store_notify_close, which also removes the file.
 */
int store_notify_listen(const char *data_dir, int *fd);
/* Reads every pending poke; returns how many there were. */
int store_notify_drain(int fd);
void store_notify_close(const char *data_dir, int fd);

#endif
