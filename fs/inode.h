/* inode.h - the inode table: fixed inodes for the top of the tree, dynamic
 * ones for namespaces, resources and scratch files, indexed by number and by
 * (parent, name), each living until the kernel forgets it and no handle or
 * link still holds it. */
#ifndef SWARMFS_INODE_H
#define SWARMFS_INODE_H

#include "fs.h"

enum fs_type {
	FS_T_ROOT,
	FS_T_KIND,       /* deployments/ ... */
	FS_T_STATUS,
	FS_T_EVENTS,
	FS_T_METRICS,    /* metrics: Prometheus text, rendered at open */
	FS_T_SNAPSHOTS,
	FS_T_CONFLICTS,
	FS_T_NS,         /* KIND/NS/ */
	FS_T_RESOURCE,   /* KIND/NS/NAME.json */
	FS_T_SCRATCH,    /* any other file in KIND/NS/ */
	/* Read-only views (snap/content below say which): */
	FS_T_SNAP,       /* snapshots/NAME/ */
	FS_T_SNAP_INFO,  /* snapshots/NAME/.info */
	FS_T_RESTORE,    /* snapshots/.restore: write a name to restore it */
	FS_T_VIEW,       /* .content/ and snapshots/NAME/.content/ */
	FS_T_VKIND,      /* a kind dir inside a view or a snapshot */
	FS_T_VNS,        /* a namespace dir inside a view or a snapshot */
	FS_T_VDOC,       /* a document inside a view or a snapshot */
	FS_T_CKIND,      /* conflicts/KIND/ */
	FS_T_CNS,        /* conflicts/KIND/NS/ */
	FS_T_CDOC,       /* conflicts/KIND/NS/NAME@NODE-HLC.json */
};

#define FS_INO_ROOT 1
#define FS_INO_KIND(k) ((fuse_ino_t)(2 + (k)))
#define FS_INO_STATUS 6
#define FS_INO_EVENTS 7
#define FS_INO_SNAPSHOTS 8
#define FS_INO_CONFLICTS 9
#define FS_INO_METRICS 10
#define FS_INO_FIRST_DYNAMIC 16

/*
 * Every field is protected by the table lock (fs_inode_lock) except those
 * marked immutable.  Lock order: a handle's lock may be held while taking
 * the table lock, never the other way round; no notify call and no store
 * call is made with the table lock held.
 *
 * An `ls -l` of a namespace of 100,000 resources makes the kernel hold
 * 100,000 inodes, so the struct is kept small: the name is allocated at its
 * exact length after the struct, the namespace and snapshot names are
 * shared (interned, reference counted) and a resource's name without
 * ".json" is derived when needed instead of stored.
 */
struct fs_inode {
	fuse_ino_t ino;             /* immutable */
	fuse_ino_t parent;
	uint64_t nlookup;           /* kernel lookup count */
	/* immutable: namespace of NS/RESOURCE/SCRATCH/VNS/VDOC, "" otherwise;
	 * interned, never NULL */
	const char *ns;
	/* set by the creator before the inode is shared (fs_inode_set_view):
	 * the snapshot a SNAP... or V... inode shows ("" for the live state);
	 * interned, never NULL */
	const char *snap;
	char *name;                 /* file name in parent: name_buf, or its own allocation */

	/* Last known attributes, for inodes the store no longer has. */
	int64_t size;
	int64_t mtime_ms;

	struct fs_scratch *scratch; /* SCRATCH while linked: one reference */
	struct fs_inode *scratch_head; /* NS: linked scratch children */
	struct fs_inode *scratch_next;

	struct fs_inode *next_ino;  /* hash chains */
	struct fs_inode *next_name;

	int refs;                   /* handles, links and children holding it */
	int writers;                /* RESOURCE: open write handles */
	enum fs_type type;          /* changes on rename (scratch <-> resource) */
	enum store_kind kind;       /* immutable */
	uint16_t name_cap;          /* immutable: bytes in name_buf */
	bool content;               /* set with snap: renders content only (STORE_RENDER_CONTENT) */
	bool fixed;                 /* immutable: one of the fixed inodes */
	bool hashed;                /* reachable by (parent, name) */
	bool pending;               /* RESOURCE created, not yet committed */
	char name_buf[];            /* immutable size: the name given at creation */
};

void fs_inode_table_init(void);
void fs_inode_table_destroy(void);
void fs_inode_lock(void);
void fs_inode_unlock(void);

/* The functions below require the table lock. */
struct fs_inode *fs_inode_find(fuse_ino_t ino);
struct fs_inode *fs_inode_find_name(fuse_ino_t parent, const char *name);
/* Creates a hashed inode with nlookup 0 and refs 0; -ENOMEM. */
int fs_inode_new(fuse_ino_t parent, const char *name, enum fs_type type,
		 enum store_kind kind, const char *ns, struct fs_inode **out);
/* Makes the inode unreachable by name (unlink, rmdir, replaced by rename);
 * a linked scratch drops its content and parent references. */
void fs_inode_unhash(struct fs_inode *in);
/* Moves a hashed inode to a new name in the same parent, with a new type.
 * Should a longer name not fit in memory, the inode is unhashed instead: a
 * later lookup makes a new one. */
void fs_inode_rename(struct fs_inode *in, const char *newname, enum fs_type type);
/* Records what a view inode shows: snapshot `snap` ("" live) and whether
 * it renders content only; -ENOMEM (nothing changed). */
int fs_inode_set_view(struct fs_inode *in, const char *snap, bool content);
/* Links a scratch content to a SCRATCH inode (takes ownership of one ref). */
void fs_inode_link_scratch(struct fs_inode *in, struct fs_scratch *s);
/* Frees a dynamic inode nobody holds any more. */
void fs_inode_maybe_free(struct fs_inode *in);

/* These take the table lock themselves. */
void fs_inode_forget(fuse_ino_t ino, uint64_t nlookup);
/* Takes an internal reference; NULL if the number is unknown. */
struct fs_inode *fs_inode_ref(fuse_ino_t ino);
void fs_inode_unref(struct fs_inode *in);

/* The numbers of every inode showing the live state (kind, namespace and
 * resource dirs and files, the live .content view, conflicts/), for a full
 * invalidation; *out is malloc'd.  Takes the table lock; -ENOMEM. */
int fs_inode_collect_live(fuse_ino_t **out, size_t *n);

/* True and the resource name in rname when fname is NAME.json with NAME a
 * DNS label; every other name in a namespace dir is a scratch file. */
bool fs_resource_name(const char *fname, char rname[STORE_NAME_MAX + 1]);

#endif
