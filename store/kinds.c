/* kinds.c - the kind table (directory and `kind` names), the DNS label rule
 * for names, and the one timestamp format every output uses. */
#include "store.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Indexed by enum store_kind; adding a kind is one line here plus its
 * schema entry in schema.c. */
static const struct {
	const char *dir;
	const char *name;
} kinds[STORE_KIND_COUNT] = {
	[STORE_KIND_DEPLOYMENT] = { "deployments", "Deployment" },
	[STORE_KIND_SERVICE] = { "services", "Service" },
	[STORE_KIND_POD] = { "pods", "Pod" },
	[STORE_KIND_INGRESS] = { "ingresses", "Ingress" },
};

const char *store_kind_dir(enum store_kind kind)
{
	if ((unsigned)kind >= STORE_KIND_COUNT)
		return NULL;
	return kinds[kind].dir;
}

const char *store_kind_name(enum store_kind kind)
{
	if ((unsigned)kind >= STORE_KIND_COUNT)
		return NULL;
	return kinds[kind].name;
}

int store_kind_from_dir(const char *dir, enum store_kind *kind)
{
	for (int i = 0; i < STORE_KIND_COUNT; i++) {
		if (strcmp(dir, kinds[i].dir) == 0) {
			*kind = (enum store_kind)i;
			return 0;
		}
	}
	return -ENOENT;
}

int store_kind_from_name(const char *name, enum store_kind *kind)
{
	for (int i = 0; i < STORE_KIND_COUNT; i++) {
		if (strcmp(name, kinds[i].name) == 0) {
			*kind = (enum store_kind)i;
			return 0;
		}
	}
	return -ENOENT;
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool store_name_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > STORE_NAME_MAX)
		return false;
	if (!label_char(name[0]) || !label_char(name[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		if (!label_char(name[i]) && name[i] != '-')
			return false;
	}
	return true;
}

void store_format_time(int64_t ms, char *buf, size_t size)
{
	/* Floor division, so times before 1970 still round towards the past
	 * like every other second-resolution clock. */
	int64_t secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
	time_t t = (time_t)secs;
	struct tm tm;

	if (size == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}
