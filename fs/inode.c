/* inode.c - the inode table: two chained hash indexes (by number, by parent
 * and name) and the interned namespace and snapshot names, under one mutex;
 * numbers are never reused within a mount, so a stale kernel reference can
 * never reach a different file. */
#include "inode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_inode **by_ino;   /* protected by table_lock */
static struct fs_inode **by_name;  /* protected by table_lock */
static size_t nbuckets;            /* protected by table_lock */
static size_t count;               /* protected by table_lock */
static fuse_ino_t next_ino = FS_INO_FIRST_DYNAMIC; /* protected by table_lock */
static struct fs_inode *fixed[FS_INO_FIRST_DYNAMIC];

/* ---- interned strings ----------------------------------------------------
 * Namespace and snapshot names, shared by every inode below them: 100,000
 * resources in one namespace hold one copy of its name.  Protected by
 * table_lock; a string lives while some inode refers to it. */
struct istr {
	struct istr *next;
	size_t refs;
	char s[];
};

#define ISTR_BUCKETS 256
static struct istr *istrs[ISTR_BUCKETS]; /* protected by table_lock */

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 29));
}

/* Returns the shared copy of s with one more reference, or NULL (ENOMEM).
 * The empty string is a static one that needs no reference. */
static const char *intern(const char *s)
{
	struct istr **pp, *x;
	size_t len;

	if (s == NULL || s[0] == '\0')
		return "";
	pp = &istrs[hash_str(s) % ISTR_BUCKETS];
	for (x = *pp; x; x = x->next) {
		if (strcmp(x->s, s) == 0) {
			x->refs++;
			return x->s;
		}
	}
	len = strlen(s);
	x = malloc(sizeof(*x) + len + 1);
	if (x == NULL)
		return NULL;
	x->refs = 1;
	memcpy(x->s, s, len + 1);
	x->next = *pp;
	*pp = x;
	return x->s;
}

static void unintern(const char *s)
{
	struct istr **pp, *x;

	if (s == NULL || s[0] == '\0')
		return;
	pp = &istrs[hash_str(s) % ISTR_BUCKETS];
	while (*pp && (*pp)->s != s)
		pp = &(*pp)->next;
	x = *pp;
	if (x == NULL || --x->refs > 0)
		return;
	*pp = x->next;
	free(x);
}

static void free_istrs(void)
{
	for (size_t b = 0; b < ISTR_BUCKETS; b++) {
		while (istrs[b]) {
			struct istr *next = istrs[b]->next;
			free(istrs[b]);
			istrs[b] = next;
		}
	}
}

/* A zeroed inode with room for `name` after it (name set, ns/snap ""). */
static struct fs_inode *alloc_inode(const char *name)
{
	size_t len = strlen(name);
	struct fs_inode *in;

	if (len > NAME_MAX)
		return NULL;
	in = calloc(1, sizeof(*in) + len + 1);
	if (in == NULL)
		return NULL;
	memcpy(in->name_buf, name, len + 1);
	in->name_cap = (uint16_t)(len + 1);
	in->name = in->name_buf;
	in->ns = "";
	in->snap = "";
	return in;
}

static void free_inode(struct fs_inode *in)
{
	if (in->name != in->name_buf)
		free(in->name);
	unintern(in->ns);
	unintern(in->snap);
	free(in);
}

static size_t hash_ino(fuse_ino_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 17);
}

static size_t hash_name(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 29));
}

static void insert_ino(struct fs_inode *in)
{
	size_t b = hash_ino(in->ino) & (nbuckets - 1);

	in->next_ino = by_ino[b];
	by_ino[b] = in;
}

static void insert_name(struct fs_inode *in)
{
	size_t b = hash_name(in->parent, in->name) & (nbuckets - 1);

	in->next_name = by_name[b];
	by_name[b] = in;
}

static void remove_name(struct fs_inode *in)
{
	struct fs_inode **pp = &by_name[hash_name(in->parent, in->name) & (nbuckets - 1)];

	while (*pp && *pp != in)
		pp = &(*pp)->next_name;
	if (*pp)
		*pp = in->next_name;
	in->next_name = NULL;
}

static void remove_ino(struct fs_inode *in)
{
	struct fs_inode **pp = &by_ino[hash_ino(in->ino) & (nbuckets - 1)];

	while (*pp && *pp != in)
		pp = &(*pp)->next_ino;
	if (*pp)
		*pp = in->next_ino;
	in->next_ino = NULL;
}

/* Doubles both indexes; on allocation failure the table just stays dense. */
static void grow(void)
{
	size_t old = nbuckets;
	struct fs_inode **oi = by_ino, **on = by_name;
	struct fs_inode **ni = calloc(old * 2, sizeof(*ni));
	struct fs_inode **nn = calloc(old * 2, sizeof(*nn));

	if (ni == NULL || nn == NULL) {
		free(ni);
		free(nn);
		return;
	}
	by_ino = ni;
	by_name = nn;
	nbuckets = old * 2;
	for (size_t i = 0; i < old; i++) {
		struct fs_inode *in = oi[i];
		while (in) {
			struct fs_inode *next = in->next_ino;
			insert_ino(in);
			in = next;
		}
		in = on[i];
		while (in) {
			struct fs_inode *next = in->next_name;
			insert_name(in);
			in = next;
		}
	}
	free(oi);
	free(on);
}

static void init_fixed(fuse_ino_t ino, enum fs_type type, fuse_ino_t parent,
		       const char *name)
{
	struct fs_inode *in = alloc_inode(name);

	if (in == NULL)
		abort();
	fixed[ino] = in;
	in->ino = ino;
	in->type = type;
	in->parent = parent;
	in->fixed = true;
	insert_ino(in);
}

void fs_inode_table_init(void)
{
	nbuckets = 1024;
	by_ino = calloc(nbuckets, sizeof(*by_ino));
	by_name = calloc(nbuckets, sizeof(*by_name));
	if (by_ino == NULL || by_name == NULL)
		abort();
	init_fixed(FS_INO_ROOT, FS_T_ROOT, FS_INO_ROOT, "");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		init_fixed(FS_INO_KIND(k), FS_T_KIND, FS_INO_ROOT, store_kind_dir(k));
		fixed[FS_INO_KIND(k)]->kind = k;
	}
	init_fixed(FS_INO_STATUS, FS_T_STATUS, FS_INO_ROOT, "status.json");
	init_fixed(FS_INO_EVENTS, FS_T_EVENTS, FS_INO_ROOT, "events");
	init_fixed(FS_INO_SNAPSHOTS, FS_T_SNAPSHOTS, FS_INO_ROOT, "snapshots");
	init_fixed(FS_INO_CONFLICTS, FS_T_CONFLICTS, FS_INO_ROOT, "conflicts");
	init_fixed(FS_INO_METRICS, FS_T_METRICS, FS_INO_ROOT, "metrics");
}

void fs_inode_table_destroy(void)
{
	for (size_t i = 0; i < nbuckets; i++) {
		struct fs_inode *in = by_ino[i];
		while (in) {
			struct fs_inode *next = in->next_ino;
			if (in->scratch)
				fs_scratch_unref(in->scratch);
			free_inode(in);
			in = next;
		}
	}
	free_istrs();
	memset(fixed, 0, sizeof(fixed));
	free(by_ino);
	free(by_name);
	by_ino = by_name = NULL;
	nbuckets = 0;
	count = 0;
}

void fs_inode_lock(void)
{
	pthread_mutex_lock(&table_lock);
}

void fs_inode_unlock(void)
{
	pthread_mutex_unlock(&table_lock);
}

/* Whether the kernel may cache something of `in` that a state transfer can
 * change: the live tree, its .content view and conflicts/, never a snapshot
 * or a scratch file. */
static bool shows_live_state(const struct fs_inode *in)
{
	switch (in->type) {
	case FS_T_KIND:
	case FS_T_CONFLICTS:
	case FS_T_NS:
	case FS_T_RESOURCE:
	case FS_T_CKIND:
	case FS_T_CNS:
	case FS_T_CDOC:
		return true;
	case FS_T_VIEW:
	case FS_T_VKIND:
	case FS_T_VNS:
	case FS_T_VDOC:
		return in->snap[0] == '\0';
	default:
		return false;
	}
}

int fs_inode_collect_live(fuse_ino_t **out, size_t *n)
{
	fuse_ino_t *v;
	size_t k = 0;

	pthread_mutex_lock(&table_lock);
	/* count holds the dynamic inodes; the fixed ones come on top. */
	v = malloc((count + FS_INO_FIRST_DYNAMIC) * sizeof(*v));
	for (size_t i = 0; v && i < nbuckets; i++)
		for (struct fs_inode *in = by_ino[i]; in; in = in->next_ino)
			if (shows_live_state(in))
				v[k++] = in->ino;
	pthread_mutex_unlock(&table_lock);
	if (v == NULL)
		return -ENOMEM;
	*out = v;
	*n = k;
	return 0;
}

struct fs_inode *fs_inode_find(fuse_ino_t ino)
{
	struct fs_inode *in = by_ino[hash_ino(ino) & (nbuckets - 1)];

	while (in && in->ino != ino)
		in = in->next_ino;
	return in;
}

struct fs_inode *fs_inode_find_name(fuse_ino_t parent, const char *name)
{
	struct fs_inode *in = by_name[hash_name(parent, name) & (nbuckets - 1)];

	while (in && (in->parent != parent || strcmp(in->name, name) != 0))
		in = in->next_name;
	return in;
}

bool fs_resource_name(const char *fname, char rname[STORE_NAME_MAX + 1])
{
	size_t len = strlen(fname);

	if (len <= 5 || len - 5 > STORE_NAME_MAX || strcmp(fname + len - 5, ".json") != 0)
		return false;
	memcpy(rname, fname, len - 5);
	rname[len - 5] = '\0';
	return store_name_valid(rname);
}

int fs_inode_new(fuse_ino_t parent, const char *name, enum fs_type type,
		 enum store_kind kind, const char *ns, struct fs_inode **out)
{
	struct fs_inode *in = alloc_inode(name);

	if (in == NULL)
		return -ENOMEM;
	in->ns = intern(ns);
	if (in->ns == NULL) {
		in->ns = "";
		free_inode(in);
		return -ENOMEM;
	}
	if (count >= nbuckets)
		grow();
	in->ino = next_ino++;
	in->kind = kind;
	in->parent = parent;
	in->type = type;
	in->hashed = true;
	insert_ino(in);
	insert_name(in);
	count++;
	*out = in;
	return 0;
}

int fs_inode_set_view(struct fs_inode *in, const char *snap, bool content)
{
	const char *s;

	if (strcmp(in->snap, snap) != 0) {
		s = intern(snap);
		if (s == NULL)
			return -ENOMEM;
		unintern(in->snap);
		in->snap = s;
	}
	in->content = content;
	return 0;
}

static void unlink_scratch(struct fs_inode *in)
{
	struct fs_inode *parent = fs_inode_find(in->parent);

	if (in->scratch == NULL)
		return;
	fs_scratch_unref(in->scratch);
	in->scratch = NULL;
	if (parent) {
		struct fs_inode **pp = &parent->scratch_head;
		while (*pp && *pp != in)
			pp = &(*pp)->scratch_next;
		if (*pp)
			*pp = in->scratch_next;
		in->scratch_next = NULL;
		parent->refs--;
		fs_inode_maybe_free(parent);
	}
}

void fs_inode_unhash(struct fs_inode *in)
{
	if (!in->hashed || in->fixed)
		return;
	unlink_scratch(in);
	remove_name(in);
	in->hashed = false;
	in->pending = false;
}

void fs_inode_link_scratch(struct fs_inode *in, struct fs_scratch *s)
{
	struct fs_inode *parent = fs_inode_find(in->parent);

	in->scratch = s;
	/* The scratch keeps its namespace dir's inode (and so its number)
	 * alive, or it would be lost from listings once the kernel forgot the
	 * directory. */
	if (parent) {
		parent->refs++;
		in->scratch_next = parent->scratch_head;
		parent->scratch_head = in;
	}
}

void fs_inode_rename(struct fs_inode *in, const char *newname, enum fs_type type)
{
	size_t len = strlen(newname);
	char *name = in->name_buf;

	if (in->type == FS_T_SCRATCH && type != FS_T_SCRATCH)
		unlink_scratch(in);
	if (len + 1 > in->name_cap) {
		name = strdup(newname);
		if (name == NULL) {
			in->type = type;
			fs_inode_unhash(in);
			return;
		}
	}
	remove_name(in);
	if (in->name != in->name_buf)
		free(in->name);
	if (name == in->name_buf)
		memcpy(name, newname, len + 1);
	in->name = name;
	in->type = type;
	insert_name(in);
}

void fs_inode_maybe_free(struct fs_inode *in)
{
	if (in->fixed || in->nlookup > 0 || in->refs > 0)
		return;
	/* A linked scratch file outlives the kernel's interest in it. */
	if (in->hashed && in->scratch)
		return;
	if (in->hashed)
		fs_inode_unhash(in);
	remove_ino(in);
	count--;
	free_inode(in);
}

void fs_inode_forget(fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_inode *in;

	pthread_mutex_lock(&table_lock);
	in = fs_inode_find(ino);
	if (in && !in->fixed) {
		in->nlookup = in->nlookup > nlookup ? in->nlookup - nlookup : 0;
		fs_inode_maybe_free(in);
	}
	pthread_mutex_unlock(&table_lock);
}

struct fs_inode *fs_inode_ref(fuse_ino_t ino)
{
	struct fs_inode *in;

	pthread_mutex_lock(&table_lock);
	in = fs_inode_find(ino);
	if (in)
		in->refs++;
	pthread_mutex_unlock(&table_lock);
	return in;
}

void fs_inode_unref(struct fs_inode *in)
{
	if (in == NULL)
		return;
	pthread_mutex_lock(&table_lock);
	in->refs--;
	fs_inode_maybe_free(in);
	pthread_mutex_unlock(&table_lock);
}
