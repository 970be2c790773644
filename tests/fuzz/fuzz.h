/* fuzz.h - what the libFuzzer harnesses share: a checked assertion that
 * names the broken property, and a small deterministic generator so each
 * input always replays the same way. */
#ifndef SWARMFS_FUZZ_H
#define SWARMFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A failed property aborts, so libFuzzer keeps the input as a crash
 * artifact; assert() would vanish under -DNDEBUG. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: property failed: %s: ",        \
				__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* FNV-1a over the input: seeds the choices (split points, metadata) that
 * are derived from it, so a crash replays exactly. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < size; i++) {
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* xorshift64*: never returns to 0 from a non-zero state. */
static inline uint64_t fuzz_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
