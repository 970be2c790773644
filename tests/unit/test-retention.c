/* test-retention.c - the retention policy as a pure function: parsing, a
 * simulated year of hourly automatic snapshots against a hand-worked
 * expectation, a reference implementation on strftime() buckets, manual
 * snapshots, input order and pruning step by step. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "tap.h"

#define HOUR_MS 3600000LL

static int64_t utc_ms(int year, int mon, int day, int hour)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
			 .tm_hour = hour };

	return (int64_t)timegm(&tm) * 1000;
}

static void test_parse(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "hourly=-1", "invalid retention count 'hourly=-1': must be an integer from 0 to 1000000" },
		{ "yearly=3", "unknown retention rule 'yearly' (expected last, hourly, daily, weekly or monthly)" },
		{ "hourly", "retention rule 'hourly' needs a count (hourly=N)" },
		{ "", "empty retention policy (expected e.g. 'hourly=24,daily=7,weekly=4,monthly=12')" },
		{ "hourly=24,", "empty rule in retention policy 'hourly=24,'" },
		{ "hourly=24,hourly=3", "retention rule 'hourly' given twice" },
		{ "hourly=abc", "invalid retention count 'hourly=abc': must be an integer from 0 to 1000000" },
		{ "hourly=2x", "invalid retention count 'hourly=2x': must be an integer from 0 to 1000000" },
		{ "hourly=", "invalid retention count 'hourly=': must be an integer from 0 to 1000000" },
		{ "daily=99999999999999999999", NULL },
		{ "daily=1000001", NULL },
	};
	const struct store_retention def = STORE_RETENTION_DEFAULT;
	struct store_retention r;
	struct store_err err;
	int rc;

	ok(def.last == 0 && def.hourly == 24 && def.daily == 7 && def.weekly == 4 && def.monthly == 12,
	   "default policy is 24 hourly, 7 daily, 4 weekly, 12 monthly");
	memset(&r, 0x55, sizeof(r));
	rc = store_retention_parse("hourly=24,daily=7", &r, &err);
	ok(rc == 0 && r.hourly == 24 && r.daily == 7 && r.weekly == 0 && r.monthly == 0 && r.last == 0,
	   "'hourly=24,daily=7': named rules set, the rest 0");
	rc = store_retention_parse("hourly=24,daily=7,weekly=4,monthly=12,last=0", &r, &err);
	ok(rc == 0 && memcmp(&r, &def, sizeof(r)) == 0, "the full default text parses to the default");
	rc = store_retention_parse(" last = 3 , monthly=1000000", &r, &err);
	ok(rc == 0 && r.last == 3 && r.monthly == 1000000 && r.hourly == 0,
	   "blanks around rules and counts are allowed");
	rc = store_retention_parse("weekly=0", &r, &err);
	ok(rc == 0 && r.weekly == 0, "a count of 0 is allowed");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = def;
		err.msg[0] = '\0';
		rc = store_retention_parse(bad[i].text, &r, &err);
		ok(rc == -EINVAL && (!bad[i].msg || strcmp(err.msg, bad[i].msg) == 0) && err.msg[0] &&
		   memcmp(&r, &def, sizeof(r)) == 0,
		   "'%s' is refused: %s", bad[i].text, err.msg);
	}
}

static struct store_snapshot_info *year_of_snapshots(int64_t start, size_t n)
{
	struct store_snapshot_info *v = calloc(n, sizeof(*v));

	for (size_t i = 0; v && i < n; i++) {
		snprintf(v[i].name, sizeof(v[i].name), "auto-%05zu", i);
		v[i].created_ms = start + (int64_t)i * HOUR_MS;
		v[i].automatic = true;
	}
	return v;
}

static bool kept_at(const struct store_snapshot_info *v, const bool *keep, size_t n, int64_t ms)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].created_ms == ms)
			return keep[i];
	return false;
}

/*
 * 2025, one automatic snapshot every hour from Jan 1 00:00 to Dec 31 23:00
 * UTC, worked out by hand for 24/7/4/12:
 *  hourly  the 24 hours of Dec 31                                  24
 *  daily   Dec 31 (already kept), Dec 25..30 at 23:00              +6
 *  weekly  ISO 2026-W01 holds Dec 29..31 (kept), W52 ends Dec 28
 *          (kept by daily), W51 ends Dec 21, W50 ends Dec 14       +2
 *  monthly Dec (kept), the last hour of Jan..Nov                   +11
 *                                                                   43
 */
static void test_year(void)
{
	const struct store_retention def = STORE_RETENTION_DEFAULT;
	const size_t n = 8760;
	struct store_snapshot_info *v = year_of_snapshots(utc_ms(2025, 1, 1, 0), n);
	bool *keep = calloc(n, sizeof(*keep));
	static const int month_last_day[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30 };
	size_t kept = 0, expected_hits = 0;
	bool all_hours = true, extra = false;

	if (!v || !keep) {
		ok(0, "allocate a year of snapshots");
		return;
	}
	ok(v[n - 1].created_ms == utc_ms(2025, 12, 31, 23), "the simulated year ends Dec 31 23:00");
	store_retention_select(v, n, &def, keep);
	for (size_t i = 0; i < n; i++)
		kept += keep[i];
	ok(kept == 43, "a year of hourly snapshots keeps 43 under 24/7/4/12 (kept %zu)", kept);
	for (int h = 0; h < 24; h++)
		all_hours &= kept_at(v, keep, n, utc_ms(2025, 12, 31, h));
	ok(all_hours, "all 24 hours of the last day are kept");
	ok(!kept_at(v, keep, n, utc_ms(2025, 12, 30, 22)), "Dec 30 22:00 is pruned");
	for (int d = 25; d <= 30; d++) {
		ok(kept_at(v, keep, n, utc_ms(2025, 12, d, 23)), "daily: Dec %d 23:00 kept", d);
		expected_hits++;
	}
	ok(!kept_at(v, keep, n, utc_ms(2025, 12, 24, 23)), "daily: Dec 24 23:00 pruned (8th day)");
	ok(kept_at(v, keep, n, utc_ms(2025, 12, 21, 23)) && kept_at(v, keep, n, utc_ms(2025, 12, 14, 23)),
	   "weekly: the Sundays ending ISO weeks 51 and 50 are kept");
	ok(!kept_at(v, keep, n, utc_ms(2025, 12, 7, 23)), "weekly: the end of week 49 is pruned");
	expected_hits += 2;
	for (int m = 1; m <= 11; m++) {
		ok(kept_at(v, keep, n, utc_ms(2025, m, month_last_day[m - 1], 23)),
		   "monthly: 2025-%02d-%02d 23:00 kept", m, month_last_day[m - 1]);
		expected_hits++;
	}
	ok(24 + expected_hits == 43, "the hand count adds up");
	/* Nothing else: every kept one is on the list above. */
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)(v[i].created_ms / 1000);
		struct tm tm;

		if (!keep[i])
			continue;
		gmtime_r(&t, &tm);
		if (tm.tm_mon == 11 && tm.tm_mday == 31)
			continue;
		if (tm.tm_hour != 23)
			extra = true;
		else if (tm.tm_mon == 11 && tm.tm_mday != 14 && tm.tm_mday != 21 && tm.tm_mday < 25)
			extra = true;
		else if (tm.tm_mon < 11 && tm.tm_mday != month_last_day[tm.tm_mon])
			extra = true;
	}
	ok(!extra, "no snapshot off the list is kept");
	free(keep);
	free(v);
}

/* ---- a reference implementation on strftime() buckets ------------------- */

static int cmp_newest(const void *a, const void *b)
{
	const struct store_snapshot_info *x = *(const struct store_snapshot_info *const *)a;
	const struct store_snapshot_info *y = *(const struct store_snapshot_info *const *)b;

	if (x->created_ms != y->created_ms)
		return x->created_ms > y->created_ms ? -1 : 1;
	return -strcmp(x->name, y->name);
}

static void reference_select(const struct store_snapshot_info *v, size_t n,
			     const struct store_retention *r, bool *keep)
{
	static const char *const fmts[] = { "%Y-%m-%d-%H", "%Y-%m-%d", "%G-W%V", "%Y-%m" };
	const int counts[] = { r->hourly, r->daily, r->weekly, r->monthly };
	const struct store_snapshot_info **sorted = calloc(n, sizeof(*sorted));
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		keep[i] = !v[i].automatic;
		if (v[i].automatic)
			sorted[m++] = &v[i];
	}
	qsort(sorted, m, sizeof(*sorted), cmp_newest);
	for (size_t i = 0; i < m && (int)i < r->last; i++)
		keep[sorted[i] - v] = true;
	for (int rule = 0; rule < 4; rule++) {
		char prev[32] = "", cur[32];
		int left = counts[rule];

		for (size_t i = 0; i < m && left > 0; i++) {
			time_t t = (time_t)(sorted[i]->created_ms / 1000);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(cur, sizeof(cur), fmts[rule], &tm);
			if (strcmp(cur, prev) == 0)
				continue;
			keep[sorted[i] - v] = true;
			snprintf(prev, sizeof(prev), "%s", cur);
			left--;
		}
	}
	free(sorted);
}

/* Irregular gaps across two year ends, where ISO weeks straddle years
 * (2020-12-31 and 2021-01-03 are both in 2020-W53). */
static void test_reference(void)
{
	const struct store_retention policies[] = {
		STORE_RETENTION_DEFAULT,
		{ 5, 30, 10, 8, 6 },
		{ 0, 0, 0, 60, 0 },
		{ 3, 0, 0, 0, 0 },
		{ 0, 0, 400, 0, 30 },
	};
	const size_t n = 3000;
	struct store_snapshot_info *v = calloc(n, sizeof(*v));
	bool *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
	int64_t t = utc_ms(2019, 11, 20, 5);
	unsigned seed = 12345;

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		/* 10 minutes to 15 hours apart */
		t += 600000LL + (int64_t)((seed >> 8) % (15 * 60)) * 60000LL;
		snprintf(v[i].name, sizeof(v[i].name), "s-%04zu", i);
		v[i].created_ms = t;
		v[i].automatic = (seed >> 4) % 11 != 0;
	}
	diag("irregular series from 2019-11-20 over %.0f days", (double)(t - utc_ms(2019, 11, 20, 5)) / 86400000.0);
	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		size_t kept = 0;

		store_retention_select(v, n, &policies[p], a);
		reference_select(v, n, &policies[p], b);
		for (size_t i = 0; i < n; i++)
			kept += a[i];
		ok(memcmp(a, b, n * sizeof(*a)) == 0,
		   "policy last=%d hourly=%d daily=%d weekly=%d monthly=%d matches the strftime reference (%zu kept)",
		   policies[p].last, policies[p].hourly, policies[p].daily, policies[p].weekly,
		   policies[p].monthly, kept);
	}
	free(v);
	free(a);
	free(b);
}

/* Manual snapshots are kept, take no bucket, and input order is irrelevant. */
static void test_manual_and_order(void)
{
	const struct store_retention def = STORE_RETENTION_DEFAULT;
	const struct store_retention none = { 0 };
	const size_t n = 8760, extra = 40;
	struct store_snapshot_info *v = year_of_snapshots(utc_ms(2025, 1, 1, 0), n);
	struct store_snapshot_info *w = calloc(n + extra, sizeof(*w));
	bool *k1 = calloc(n, sizeof(*k1)), *k2 = calloc(n + extra, sizeof(*k2));
	size_t *perm = calloc(n + extra, sizeof(*perm));
	bool same = true, manual_kept = true;
	unsigned seed = 99;
	size_t kept = 0;

	store_retention_select(v, n, &def, k1);
	/* Shuffle the year and mix in manual ones at the newest times too. */
	for (size_t i = 0; i < n + extra; i++)
		perm[i] = i;
	for (size_t i = n + extra - 1; i > 0; i--) {
		size_t j, tmp;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (size_t i = 0; i < n + extra; i++) {
		size_t src = perm[i];

		if (src < n) {
			w[i] = v[src];
		} else {
			snprintf(w[i].name, sizeof(w[i].name), "manual-%zu", src - n);
			w[i].created_ms = v[n - 1].created_ms + 1000 - (int64_t)(src - n) * 7 * HOUR_MS;
			w[i].automatic = false;
		}
	}
	store_retention_select(w, n + extra, &def, k2);
	for (size_t i = 0; i < n + extra; i++) {
		if (perm[i] < n)
			same &= k2[i] == k1[perm[i]];
		else
			manual_kept &= k2[i];
	}
	ok(same, "shuffled and mixed with manual snapshots, the same automatic ones are kept");
	ok(manual_kept, "all %zu manual snapshots are kept", extra);
	store_retention_select(w, n + extra, &none, k2);
	for (size_t i = 0; i < n + extra; i++)
		kept += k2[i];
	ok(kept == extra, "a policy keeping nothing still keeps the manual ones (%zu)", kept);
	store_retention_select(w, 0, &def, k2);
	ok(1, "no snapshots at all is fine");
	free(v);
	free(w);
	free(k1);
	free(k2);
	free(perm);
}

/* The schedule prunes after every snapshot; a year of that ends where one
 * selection over the whole year does. */
static void test_stepwise(void)
{
	const struct store_retention def = STORE_RETENTION_DEFAULT;
	const size_t n = 8760;
	struct store_snapshot_info *all = year_of_snapshots(utc_ms(2025, 1, 1, 0), n);
	struct store_snapshot_info live[128];
	bool keep[128], *once = calloc(n, sizeof(*once));
	size_t nlive = 0, max_live = 0, expect = 0;
	bool same = true;

	for (size_t i = 0; i < n && nlive < 128; i++) {
		size_t j = 0;

		live[nlive++] = all[i];
		store_retention_select(live, nlive, &def, keep);
		for (size_t k = 0; k < nlive; k++)
			if (keep[k])
				live[j++] = live[k];
		nlive = j;
		if (nlive > max_live)
			max_live = nlive;
	}
	store_retention_select(all, n, &def, once);
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		if (!once[i])
			continue;
		expect++;
		for (size_t k = 0; k < nlive; k++)
			found |= strcmp(live[k].name, all[i].name) == 0;
		same &= found;
	}
	ok(same && nlive == expect,
	   "pruning after every hourly snapshot for a year leaves the same %zu (got %zu, at most %zu at once)",
	   expect, nlive, max_live);
	free(all);
	free(once);
}

int main(void)
{
	test_parse();
	test_year();
	test_reference();
	test_manual_and_order();
	test_stepwise();
	return done_testing();
}
