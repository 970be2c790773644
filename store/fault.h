/* fault.h - libfiu fault points in the store, compiled in only for the
 * fault-injection tests (SWARMFS_FAULT_INJECTION): in every other build each
 * point is nothing at all, so shipped binaries never carry them. */
#ifndef STORE_FAULT_H
#define STORE_FAULT_H

#include <errno.h>
#include <stdint.h>

#ifdef SWARMFS_FAULT_INJECTION
#define FIU_ENABLE 1
#include <fiu.h>
#include <fiu-control.h>

struct store;
struct store_err;

/* The error of a fault point that fired in `what`: the injected -errno,
 * logged as a real one would be and described in err (may be NULL). */
int store_db_fault(struct store *s, const char *what, struct store_err *err);
#else
#define fiu_init(flags) 0
#define fiu_fail(name) 0
#define fiu_failinfo() NULL
#define fiu_do_on(name, action)
#define fiu_return_on(name, retval)
#endif

/*
 * The -errno a point injects: its failinfo when that is an errno
 * (`fiu-ctrl -c 'enable name=store/txn/commit,failinfo=28'` for ENOSPC),
 * else EIO.  Only called from inside a fiu_do_on action.
 */
static inline int store_fault_errno(void)
{
	intptr_t e = (intptr_t)fiu_failinfo();

	return e > 0 && e < 4096 ? -(int)e : -EIO;
}

#endif
