/* reject.c - the ring of recently rejected writes shown in status.json, and
 * their (rate-limited) log lines. */
#include "fs.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

struct reject {
	int64_t time_ms;
	int err;
	char path[PATH_MAX];
	char reason[STORE_ERR_MAX];
};

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reject ring[FS_REJECT_MAX]; /* protected by ring_lock */
static size_t ring_next;                  /* protected by ring_lock */
static size_t ring_count;                 /* protected by ring_lock */

void fs_reject(const char *path, int err, const char *reason)
{
	struct reject *r;

	if (reason == NULL || reason[0] == '\0')
		reason = strerror(err);
	log_limited(LOG_WARNING, "rejected write to '%s': %s", path, reason);
	fs_metrics_reject(err, reason);
	pthread_mutex_lock(&ring_lock);
	r = &ring[ring_next];
	r->time_ms = fs_now_ms();
	r->err = err;
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	ring_next = (ring_next + 1) % FS_REJECT_MAX;
	if (ring_count < FS_REJECT_MAX)
		ring_count++;
	pthread_mutex_unlock(&ring_lock);
}

void fs_reject_clear(void)
{
	pthread_mutex_lock(&ring_lock);
	ring_next = ring_count = 0;
	pthread_mutex_unlock(&ring_lock);
}

int fs_reject_to_json(struct cJSON *arr)
{
	int rc = 0;

	pthread_mutex_lock(&ring_lock);
	for (size_t i = 0; i < ring_count && rc == 0; i++) {
		const struct reject *r = &ring[(ring_next + FS_REJECT_MAX - ring_count + i) % FS_REJECT_MAX];
		char when[32];
		const char *name = strerrorname_np(r->err);
		cJSON *o = cJSON_CreateObject();

		store_format_time(r->time_ms, when, sizeof(when));
		if (o == NULL || !cJSON_AddStringToObject(o, "time", when) ||
		    !cJSON_AddStringToObject(o, "path", r->path) ||
		    !cJSON_AddStringToObject(o, "errno", name ? name : "EIO") ||
		    !cJSON_AddStringToObject(o, "reason", r->reason) ||
		    !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&ring_lock);
	return rc;
}
