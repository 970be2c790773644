/* hlc.c - the hybrid logical clock: (physical ms << 16) | counter, strictly
 * increasing per store even when the wall clock stalls or steps back, and
 * persisted in meta inside the transaction of the change it stamps. */
#include "db.h"

#include <errno.h>

uint64_t store_hlc_tick(uint64_t last, int64_t now_ms)
{
	uint64_t wall = now_ms > 0 ? (uint64_t)now_ms << 16 : 0;

	/* When the counter overflows, last + 1 carries into the physical part:
	 * the clock runs a millisecond ahead instead of repeating a stamp. */
	return wall > last ? wall : last + 1;
}

int store_hlc_merge(uint64_t local, uint64_t remote, int64_t now_ms,
		    int64_t max_skew_ms, uint64_t *out)
{
	uint64_t next;

	if (max_skew_ms >= 0 && STORE_HLC_PHYSICAL(remote) > now_ms + max_skew_ms)
		return -ERANGE;
	next = store_hlc_tick(local, now_ms);
	if (remote + 1 > next)
		next = remote + 1;
	*out = next;
	return 0;
}

/* The clock lives in the database, not the struct: several connections
 * (mount, sidecar, admin) stamp changes of one store, and the write
 * transaction serialises their reads and updates of it. */
static int hlc_load(struct store *s, uint64_t *last, struct store_err *err)
{
	int64_t v;
	bool found;
	int rc = store_db_meta_get_int(s, STORE_META_HLC, &v, &found, err);

	*last = found && v > 0 ? (uint64_t)v : 0;
	return rc;
}

int store_hlc_next(struct store *s, uint64_t *hlc, struct store_err *err)
{
	uint64_t last;
	int rc = hlc_load(s, &last, err);

	if (rc < 0)
		return rc;
	*hlc = store_hlc_tick(last, store_db_now(s));
	return store_db_meta_set_int(s, STORE_META_HLC, (int64_t)*hlc, err);
}

int store_hlc_observe(struct store *s, uint64_t remote, int64_t max_skew_ms,
		      uint64_t *hlc, struct store_err *err)
{
	uint64_t last;
	int rc = hlc_load(s, &last, err);

	if (rc < 0)
		return rc;
	rc = store_hlc_merge(last, remote, store_db_now(s), max_skew_ms, hlc);
	if (rc < 0)
		return store_db_errf(err, rc,
				     "remote clock is %lld ms ahead of ours (more than %lld ms)",
				     (long long)(STORE_HLC_PHYSICAL(remote) - store_db_now(s)),
				     (long long)max_skew_ms);
	return store_db_meta_set_int(s, STORE_META_HLC, (int64_t)*hlc, err);
}
