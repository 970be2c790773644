/* retention.c - restic-style "keep" rules for automatic snapshots: a pure
 * function of the snapshots' creation times (UTC buckets), so a year of
 * schedule can be simulated with a fake clock.  Manual snapshots are never
 * pruned and do not take up a bucket. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETENTION_MAX 1000000 /* far beyond any schedule; keeps sums in int */

static const struct rule_name {
	const char *name;
	size_t offset;
} rule_names[] = {
	{ "last", offsetof(struct store_retention, last) },
	{ "hourly", offsetof(struct store_retention, hourly) },
	{ "daily", offsetof(struct store_retention, daily) },
	{ "weekly", offsetof(struct store_retention, weekly) },
	{ "monthly", offsetof(struct store_retention, monthly) },
};

#define RULE_COUNT (sizeof(rule_names) / sizeof(rule_names[0]))

/*
 * Fields not named in `text` are 0, as in restic: the text is the whole
 * policy, so "daily=30" keeps 30 days and nothing hourly.
 */
int store_retention_parse(const char *text, struct store_retention *r,
			  struct store_err *err)
{
	struct store_retention out = { 0 };
	bool seen[RULE_COUNT] = { false };
	const char *p = text;

	if (!text || !text[strspn(text, " \t")])
		return store_db_errf(err, -EINVAL, "empty retention policy "
				     "(expected e.g. 'hourly=24,daily=7,weekly=4,monthly=12')");
	for (;;) {
		size_t len = strcspn(p, ",");
		char item[64], *eq, *key, *val, *end;
		size_t i;
		long n;

		if (len >= sizeof(item))
			return store_db_errf(err, -EINVAL, "invalid retention rule '%.*s'",
					     (int)(len > 40 ? 40 : len), p);
		memcpy(item, p, len);
		item[len] = '\0';
		key = item + strspn(item, " \t");
		if (!*key)
			return store_db_errf(err, -EINVAL, "empty rule in retention policy '%s'",
					     text);
		eq = strchr(key, '=');
		if (!eq)
			return store_db_errf(err, -EINVAL, "retention rule '%s' needs a count (%s=N)",
					     key, key);
		*eq = '\0';
		val = eq + 1;
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		for (i = 0; i < RULE_COUNT; i++)
			if (strcmp(key, rule_names[i].name) == 0)
				break;
		if (i == RULE_COUNT)
			return store_db_errf(err, -EINVAL, "unknown retention rule '%s' "
					     "(expected last, hourly, daily, weekly or monthly)", key);
		if (seen[i])
			return store_db_errf(err, -EINVAL, "retention rule '%s' given twice", key);
		seen[i] = true;
		val += strspn(val, " \t");
		errno = 0;
		n = *val >= '0' && *val <= '9' ? strtol(val, &end, 10) : -1;
		if (n >= 0)
			end += strspn(end, " \t");
		if (n < 0 || errno || *end || n > RETENTION_MAX)
			return store_db_errf(err, -EINVAL, "invalid retention count '%s=%s': "
					     "must be an integer from 0 to %d", key, val, RETENTION_MAX);
		*(int *)((char *)&out + rule_names[i].offset) = (int)n;
		if (!p[len])
			break;
		p += len + 1;
	}
	*r = out;
	return 0;
}

/* Floor division, so times before 1970 land in the right bucket. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

enum bucket { BUCKET_HOUR, BUCKET_DAY, BUCKET_WEEK, BUCKET_MONTH, BUCKET_COUNT };

/* The UTC hour, day, ISO week or month a time falls in, as a number that
 * differs between buckets. */
static int64_t bucket_of(int64_t ms, enum bucket b)
{
	int64_t day = floor_div(ms, 86400000);
	time_t secs;
	struct tm tm;

	switch (b) {
	case BUCKET_HOUR:
		return floor_div(ms, 3600000);
	case BUCKET_DAY:
		return day;
	case BUCKET_WEEK:
		/* 1970-01-01 was a Thursday: ISO weeks start 3 days earlier. */
		return floor_div(day + 3, 7);
	case BUCKET_MONTH:
	default:
		secs = (time_t)floor_div(ms, 1000);
		gmtime_r(&secs, &tm);
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	}
}

/* Newest first; equal times by name, newest-sorting name first, so the
 * result does not depend on the input order. */
static int compare_newest_first(const void *a, const void *b, void *arg)
{
	const struct store_snapshot_info *snaps = arg;
	const struct store_snapshot_info *x = &snaps[*(const size_t *)a];
	const struct store_snapshot_info *y = &snaps[*(const size_t *)b];

	if (x->created_ms != y->created_ms)
		return x->created_ms > y->created_ms ? -1 : 1;
	return -strcmp(x->name, y->name);
}

void store_retention_select(const struct store_snapshot_info *snaps, size_t n,
			    const struct store_retention *r, bool *keep)
{
	int left[BUCKET_COUNT] = { r->hourly, r->daily, r->weekly, r->monthly };
	int64_t last_bucket[BUCKET_COUNT];
	bool have_last[BUCKET_COUNT] = { false };
	size_t *order, count = 0;
	int last = r->last;

	for (size_t i = 0; i < n; i++)
		keep[i] = !snaps[i].automatic;
	order = malloc((n ? n : 1) * sizeof(*order));
	if (!order) {
		/* Pruning too little is safe; pruning by a half-made decision is not. */
		for (size_t i = 0; i < n; i++)
			keep[i] = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (snaps[i].automatic)
			order[count++] = i;
	qsort_r(order, count, sizeof(*order), compare_newest_first, (void *)snaps);

	for (size_t k = 0; k < count; k++) {
		const struct store_snapshot_info *sn = &snaps[order[k]];

		if (last > 0) {
			keep[order[k]] = true;
			last--;
		}
		/* A bucket counts once, for the newest snapshot in it; the
		 * rules are independent, so one snapshot can fill several. */
		for (int b = 0; b < BUCKET_COUNT; b++) {
			int64_t bucket;

			if (left[b] <= 0)
				continue;
			bucket = bucket_of(sn->created_ms, (enum bucket)b);
			if (have_last[b] && bucket == last_bucket[b])
				continue;
			keep[order[k]] = true;
			last_bucket[b] = bucket;
			have_last[b] = true;
			left[b]--;
		}
	}
	free(order);
}
