/* scratch.c - content of scratch files (editor swap and backup files, sed's
 * temporaries): kept in memory only, never stored or replicated, gone at
 * unmount.  Each content has its own lock so big scratch writes never hold
 * the inode table. */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Editors keep whole files in swap files; allow far more than a document,
 * but bound it so a runaway writer cannot exhaust the daemon's memory. */
#define SCRATCH_MAX ((size_t)64 * 1024 * 1024)

struct fs_scratch {
	pthread_mutex_t lock;
	int refs;              /* protected by lock */
	char *data;            /* protected by lock */
	size_t len;            /* protected by lock */
	size_t cap;            /* protected by lock */
	int64_t mtime_ms;      /* protected by lock */
};

int fs_scratch_new(struct fs_scratch **out)
{
	struct fs_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->refs = 1;
	s->mtime_ms = fs_now_ms();
	*out = s;
	return 0;
}

struct fs_scratch *fs_scratch_ref(struct fs_scratch *s)
{
	pthread_mutex_lock(&s->lock);
	s->refs++;
	pthread_mutex_unlock(&s->lock);
	return s;
}

void fs_scratch_unref(struct fs_scratch *s)
{
	int left;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	left = --s->refs;
	pthread_mutex_unlock(&s->lock);
	if (left == 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->data);
		free(s);
	}
}

/* Requires s->lock. Grows to hold `need` bytes, zero-filling the gap. */
static int reserve(struct fs_scratch *s, size_t need)
{
	size_t cap;
	char *p;

	if (need > SCRATCH_MAX)
		return -EFBIG;
	if (need <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(s->data, cap);
	if (p == NULL)
		return -ENOMEM;
	s->data = p;
	s->cap = cap;
	return 0;
}

int fs_scratch_write(struct fs_scratch *s, const char *data, size_t size, off_t off)
{
	int rc;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = reserve(s, (size_t)off + size);
	if (rc == 0) {
		if ((size_t)off > s->len)
			memset(s->data + s->len, 0, (size_t)off - s->len);
		memcpy(s->data + off, data, size);
		if ((size_t)off + size > s->len)
			s->len = (size_t)off + size;
		s->mtime_ms = fs_now_ms();
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int fs_scratch_read(struct fs_scratch *s, off_t off, size_t size, char **out, size_t *n)
{
	size_t count = 0;
	char *buf;

	pthread_mutex_lock(&s->lock);
	if (off >= 0 && (size_t)off < s->len)
		count = s->len - (size_t)off < size ? s->len - (size_t)off : size;
	buf = malloc(count ? count : 1);
	if (buf && count)
		memcpy(buf, s->data + off, count);
	pthread_mutex_unlock(&s->lock);
	if (buf == NULL)
		return -ENOMEM;
	*out = buf;
	*n = count;
	return 0;
}

int fs_scratch_truncate(struct fs_scratch *s, off_t size)
{
	int rc = 0;

	if (size < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if ((size_t)size > s->len) {
		rc = reserve(s, (size_t)size);
		if (rc == 0)
			memset(s->data + s->len, 0, (size_t)size - s->len);
	}
	if (rc == 0) {
		s->len = (size_t)size;
		s->mtime_ms = fs_now_ms();
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int fs_scratch_set(struct fs_scratch *s, const char *data, size_t len)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = reserve(s, len);
	if (rc == 0) {
		if (len)
			memcpy(s->data, data, len);
		s->len = len;
		s->mtime_ms = fs_now_ms();
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int fs_scratch_copy(struct fs_scratch *s, char **out, size_t *len)
{
	char *buf;

	pthread_mutex_lock(&s->lock);
	buf = malloc(s->len + 1);
	if (buf) {
		if (s->len)
			memcpy(buf, s->data, s->len);
		buf[s->len] = '\0';
		*len = s->len;
	}
	pthread_mutex_unlock(&s->lock);
	if (buf == NULL)
		return -ENOMEM;
	*out = buf;
	return 0;
}

void fs_scratch_stat(struct fs_scratch *s, size_t *len, int64_t *mtime_ms)
{
	pthread_mutex_lock(&s->lock);
	*len = s->len;
	*mtime_ms = s->mtime_ms;
	pthread_mutex_unlock(&s->lock);
}
