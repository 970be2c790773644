/* handle.h - open file and directory handles (fi->fh): the buffer rendered
 * at open or being written, the events reader, or a directory snapshot. */
#ifndef SWARMFS_HANDLE_H
#define SWARMFS_HANDLE_H

#include <pthread.h>

#include "inode.h"

enum fs_handle_type {
	FS_H_DOC,      /* a resource: rendering (read) or write buffer */
	FS_H_STATUS,   /* status.json rendered at open */
	FS_H_EVENTS,
	FS_H_SCRATCH,
	FS_H_DIR,
	FS_H_RESTORE,  /* snapshots/.restore: the name written so far */
};

/* A directory entry as opendir adds it and readdir reads it back. */
struct fs_dirent {
	const char *name;
	fuse_ino_t ino;         /* fixed inodes; 0: resolved at readdirplus */
	enum fs_type type;
	enum store_kind kind;   /* VKIND entries of a snapshot or view root */
	int64_t size;           /* RESOURCE, VDOC (the view's rendering), SCRATCH, SNAP_INFO */
	int64_t mtime_ms;
};

/* How a handle keeps an entry: a listing of 100,000 resources costs 32
 * bytes each plus the names, packed one after the other in one buffer. */
struct fs_dirent_rec {
	uint32_t name;          /* offset in the handle's names */
	uint8_t type;           /* enum fs_type */
	uint8_t kind;           /* enum store_kind */
	int64_t size;
	int64_t mtime_ms;
	fuse_ino_t ino;
};

struct fs_handle {
	enum fs_handle_type type;      /* immutable */
	struct fs_inode *inode;        /* immutable: one reference held until the last put */
	int refs;                      /* atomic: the open file, and each reply in flight */
	pthread_mutex_t lock;          /* protects everything below */

	char *buf;                     /* DOC, STATUS */
	size_t len;
	size_t cap;
	struct store_meta meta;        /* DOC: what was rendered at open */

	bool writable;                 /* DOC opened for writing */
	bool written;                  /* a write() or truncate since the last commit attempt */
	bool truncated;                /* O_TRUNC at open */
	int rejected;                  /* errno of an early rejection replied to write(), or 0 */
	bool committed;                /* some commit from this handle succeeded */
	bool scan_on;                  /* writes so far were sequential from 0 */
	bool scan_parsed;              /* COMPLETE prefix already validated */
	bool attempted;                /* a commit was attempted (success or not) */
	bool created;                  /* the handle created a pending resource */
	size_t scan_end;               /* bytes fed to scan: the next sequential offset */
	struct store_jsonscan scan;

	struct fs_scratch *scratch;    /* SCRATCH: one reference */
	struct fs_events_reader *reader; /* EVENTS */

	struct fs_dirent_rec *ents;    /* DIR: snapshot at opendir */
	size_t nents;
	size_t ents_cap;
	char *names;                   /* DIR: the entries' names, NUL-terminated */
	size_t names_len;
	size_t names_cap;

	struct fs_handle *live_next;   /* every handle not yet freed; handle.c's lock */
	struct fs_handle **live_pprev;
};

/* Returns a new handle holding a reference to `in` (caller already took it:
 * the reference is owned by the handle from now on). */
int fs_handle_new(enum fs_handle_type type, struct fs_inode *in, struct fs_handle **out);
/* Frees buffers, the dir snapshot, the scratch reference and the inode
 * reference.  NULL is a no-op.  Only for a handle nobody else can see (never
 * given to the kernel); a published one goes with fs_handle_put. */
void fs_handle_free(struct fs_handle *h);
/* At exit, after the FUSE loop and its threads are gone: frees the handles
 * the kernel never released (RELEASE is asynchronous, so a close() just
 * before an unmount or SIGTERM may never reach us), with their events
 * readers, so that leak checks see only real leaks. */
void fs_handle_free_all(void);
/*
 * A reply that sends a handle's own buffer (fuse_reply_buf of h->buf) holds
 * the handle across the reply: the kernel completes the read inside the
 * writev, the reader may close at once, and RELEASE, served by another
 * thread, must not free the buffer before that writev has returned (ASan
 * checks the iovec after the call and caught exactly this in t0030).
 * fs_handle_put drops a reference and frees the handle with the last one;
 * release puts the open file's.  Safe from any thread.
 */
struct fs_handle *fs_handle_hold(struct fs_handle *h);
void fs_handle_put(struct fs_handle *h);
/* Requires h->lock.  Resizes the buffer, zero-filling growth; -EFBIG above max. */
int fs_handle_resize(struct fs_handle *h, size_t len, size_t max);
/* Requires h->lock.  Copies data at off, growing the buffer; -EFBIG above max. */
int fs_handle_write(struct fs_handle *h, const char *data, size_t size, off_t off, size_t max);
/* Appends a directory entry to the snapshot (copies name). */
int fs_handle_add_dirent(struct fs_handle *h, const struct fs_dirent *e);
/* Entry n (< h->nents) of the snapshot; e->name is borrowed from h, valid
 * until the handle is freed. */
void fs_handle_dirent(const struct fs_handle *h, size_t n, struct fs_dirent *e);

static inline struct fs_handle *fs_handle_of(const struct fuse_file_info *fi)
{
	return fi ? (struct fs_handle *)(uintptr_t)fi->fh : NULL;
}

#endif
