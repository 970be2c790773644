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
};

#define FS_INO_ROOT 1
#define FS_INO_KIND(k) ((fuse_ino_t)(2 + (k)))
#define FS_INO_STATUS 6
#define FS_INO_EVENTS 7
#define FS_INO_SNAPSHOTS 8
#define FS_INO_CONFLICTS 9
#define FS_INO_FIRST_DYNAMIC 16

/*
 * Every field is protected by the table lock (fs_inode_lock) except those
 * marked immutable.  Lock order: a handle's lock may be held while taking
 * the table lock, never the other way round; no notify call and no store
 * call is made with the table lock held.
 */
struct fs_inode {
	fuse_ino_t ino;             /* immutable */
	enum fs_type type;          /* changes on rename (scratch <-> resource) */
	enum store_kind kind;       /* immutable */
	char ns[STORE_NAME_MAX + 1]; /* immutable: namespace of NS/RESOURCE/SCRATCH/VNS/VDOC */
	/* immutable, set by the creator before the inode is shared: the
	 * snapshot a SNAP... or V... inode shows ("" for the live state), and
	 * whether it renders content only (STORE_RENDER_CONTENT). */
	char snap[STORE_NAME_MAX + 1];
	bool content;
	fuse_ino_t parent;
	char name[NAME_MAX + 1];    /* file name in parent */
	char rname[STORE_NAME_MAX + 1]; /* RESOURCE: NAME without ".json" */
	bool fixed;                 /* immutable: one of the fixed inodes */
	bool hashed;                /* reachable by (parent, name) */
	uint64_t nlookup;           /* kernel lookup count */
	int refs;                   /* handles, links and children holding it */

	bool pending;               /* RESOURCE created, not yet committed */
	int writers;                /* RESOURCE: open write handles */

	/* Last known attributes, for inodes the store no longer has. */
	int64_t size;
	int64_t mtime_ms;

	struct fs_scratch *scratch; /* SCRATCH while linked: one reference */
	struct fs_inode *scratch_head; /* NS: linked scratch children */
	struct fs_inode *scratch_next;

	struct fs_inode *next_ino;  /* hash chains */
	struct fs_inode *next_name;
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
/* Moves a hashed inode to a new name in the same parent, fixing type/rname. */
void fs_inode_rename(struct fs_inode *in, const char *newname, enum fs_type type);
/* Links a scratch content to a SCRATCH inode (takes ownership of one ref). */
void fs_inode_link_scratch(struct fs_inode *in, struct fs_scratch *s);
/* Frees a dynamic inode nobody holds any more. */
void fs_inode_maybe_free(struct fs_inode *in);

/* These take the table lock themselves. */
void fs_inode_forget(fuse_ino_t ino, uint64_t nlookup);
/* Takes an internal reference; NULL if the number is unknown. */
struct fs_inode *fs_inode_ref(fuse_ino_t ino);
void fs_inode_unref(struct fs_inode *in);

/* True and the resource name in rname when fname is NAME.json with NAME a
 * DNS label; every other name in a namespace dir is a scratch file. */
bool fs_resource_name(const char *fname, char rname[STORE_NAME_MAX + 1]);

#endif
