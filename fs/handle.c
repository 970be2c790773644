/* handle.c - open handles: growable buffers and directory snapshots. */
#include "handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_handle *live; /* protected by live_lock */

int fs_handle_new(enum fs_handle_type type, struct fs_inode *in, struct fs_handle **out)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	h->type = type;
	h->inode = in;
	h->refs = 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&live_lock);
	h->live_next = live;
	if (live)
		live->live_pprev = &h->live_next;
	h->live_pprev = &live;
	live = h;
	pthread_mutex_unlock(&live_lock);
	*out = h;
	return 0;
}

void fs_handle_free(struct fs_handle *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&live_lock);
	*h->live_pprev = h->live_next;
	if (h->live_next)
		h->live_next->live_pprev = h->live_pprev;
	pthread_mutex_unlock(&live_lock);
	free(h->buf);
	free(h->ents);
	free(h->names);
	fs_scratch_unref(h->scratch);
	fs_inode_unref(h->inode);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void fs_handle_free_all(void)
{
	struct fs_handle *h;

	for (;;) {
		pthread_mutex_lock(&live_lock);
		h = live;
		pthread_mutex_unlock(&live_lock);
		if (h == NULL)
			break;
		if (h->type == FS_H_EVENTS && h->reader) {
			fs_events_release(h->reader);
			h->reader = NULL;
		}
		fs_handle_free(h);
	}
}

struct fs_handle *fs_handle_hold(struct fs_handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void fs_handle_put(struct fs_handle *h)
{
	if (h == NULL)
		return;
	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		fs_handle_free(h);
}

static int reserve(struct fs_handle *h, size_t need, size_t max)
{
	size_t cap;
	char *p;

	if (need > max)
		return -EFBIG;
	if (need + 1 <= h->cap)
		return 0;
	cap = h->cap ? h->cap : 4096;
	while (cap < need + 1)
		cap *= 2;
	p = realloc(h->buf, cap);
	if (p == NULL)
		return -ENOMEM;
	h->buf = p;
	h->cap = cap;
	return 0;
}

int fs_handle_resize(struct fs_handle *h, size_t len, size_t max)
{
	int rc = reserve(h, len, max);

	if (rc < 0)
		return rc;
	if (len > h->len)
		memset(h->buf + h->len, 0, len - h->len);
	h->len = len;
	h->buf[len] = '\0';
	return 0;
}

int fs_handle_write(struct fs_handle *h, const char *data, size_t size, off_t off, size_t max)
{
	size_t end = (size_t)off + size;
	int rc;

	if (off < 0)
		return -EINVAL;
	rc = reserve(h, end, max);
	if (rc < 0)
		return rc;
	if ((size_t)off > h->len)
		memset(h->buf + h->len, 0, (size_t)off - h->len);
	memcpy(h->buf + off, data, size);
	if (end > h->len) {
		h->len = end;
		h->buf[end] = '\0';
	}
	return 0;
}

int fs_handle_add_dirent(struct fs_handle *h, const struct fs_dirent *e)
{
	size_t len = strlen(e->name) + 1;
	struct fs_dirent_rec *r;

	if (h->nents == h->ents_cap) {
		size_t cap = h->ents_cap ? h->ents_cap * 2 : 64;
		struct fs_dirent_rec *p = realloc(h->ents, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		h->ents = p;
		h->ents_cap = cap;
	}
	if (h->names_cap - h->names_len < len) {
		size_t cap = h->names_cap ? h->names_cap : 1024;
		char *p;
		while (cap - h->names_len < len)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		p = realloc(h->names, cap);
		if (p == NULL)
			return -ENOMEM;
		h->names = p;
		h->names_cap = cap;
	}
	r = &h->ents[h->nents];
	r->name = (uint32_t)h->names_len;
	r->type = (uint8_t)e->type;
	r->kind = (uint8_t)e->kind;
	r->size = e->size;
	r->mtime_ms = e->mtime_ms;
	r->ino = e->ino;
	memcpy(h->names + h->names_len, e->name, len);
	h->names_len += len;
	h->nents++;
	return 0;
}

void fs_handle_dirent(const struct fs_handle *h, size_t n, struct fs_dirent *e)
{
	const struct fs_dirent_rec *r = &h->ents[n];

	e->name = h->names + r->name;
	e->ino = r->ino;
	e->type = (enum fs_type)r->type;
	e->kind = (enum store_kind)r->kind;
	e->size = r->size;
	e->mtime_ms = r->mtime_ms;
}
