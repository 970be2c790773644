/* handle.c - open handles: growable buffers and directory snapshots. */
#include "handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fs_handle_new(enum fs_handle_type type, struct fs_inode *in, struct fs_handle **out)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	h->type = type;
	h->inode = in;
	h->refs = 1;
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void fs_handle_free(struct fs_handle *h)
{
	if (h == NULL)
		return;
	free(h->buf);
	for (size_t i = 0; i < h->nents; i++)
		free(h->ents[i].name);
	free(h->ents);
	fs_scratch_unref(h->scratch);
	fs_inode_unref(h->inode);
	pthread_mutex_destroy(&h->lock);
	free(h);
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
	if (h->nents == h->ents_cap) {
		size_t cap = h->ents_cap ? h->ents_cap * 2 : 64;
		struct fs_dirent *p = realloc(h->ents, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		h->ents = p;
		h->ents_cap = cap;
	}
	h->ents[h->nents] = *e;
	h->ents[h->nents].name = strdup(e->name);
	if (h->ents[h->nents].name == NULL)
		return -ENOMEM;
	h->nents++;
	return 0;
}
