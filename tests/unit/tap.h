/* tap.h - the whole unit-test helper: TAP output for automake's tap-driver. */
#ifndef SWARMFS_TAP_H
#define SWARMFS_TAP_H

#include <stdio.h>

static int tap_count, tap_failed;

#define ok(cond, ...)                                                          \
	do {                                                                   \
		int ok_ = !!(cond);                                            \
		printf("%s %d - ", ok_ ? "ok" : "not ok", ++tap_count);        \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		if (!ok_) {                                                    \
			tap_failed++;                                          \
			printf("#   failed at %s:%d\n", __FILE__, __LINE__);       \
		}                                                              \
	} while (0)

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
