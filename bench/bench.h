/* bench.h - what bench-fs and bench-sqlite share so both measure the same
 * documents in the same order and print the same line format. */
#ifndef SWARMFS_BENCH_H
#define SWARMFS_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_DOC_SIZE 500

static inline double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * Builds a valid Deployment of exactly `size` bytes (at least
 * BENCH_DOC_MIN) into `out` (at least size + 1 bytes): the env map carries
 * the padding so the schema stays satisfied.  `gen` changes the content so
 * an overwrite really is a new version.  Returns the length.
 */
#define BENCH_DOC_MIN 128
static inline size_t bench_make_doc_size(char *out, size_t size, unsigned i, unsigned gen)
{
	int len = snprintf(out, size + 1,
			   "{\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":%u,"
			   "\"env\":{\"DOC\":\"d%05u\",\"PAD\":\"",
			   3 + gen, i);
	const char *tail = "\"}}}\n";
	size_t tail_len = strlen(tail);
	size_t pad = size - (size_t)len - tail_len;

	memset(out + len, 'x', pad);
	memcpy(out + len + pad, tail, tail_len + 1);
	return size;
}

/* The same at the default size. */
static inline size_t bench_make_doc(char *out, unsigned i, unsigned gen)
{
	return bench_make_doc_size(out, BENCH_DOC_SIZE, i, gen);
}

/* Parses a document size in bytes, with an optional k or m (KiB, MiB)
 * suffix; -1 if `s` is not one or is outside BENCH_DOC_MIN..16 MiB. */
static inline long bench_parse_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (*s == '\0' || *end != '\0' || v < BENCH_DOC_MIN || v > (16ul << 20))
		return -1;
	return (long)v;
}

/* Fills order[0..n-1] with a permutation: identity, or a shuffle with a fixed
 * seed so every target visits the documents in the same order. */
static inline void bench_order(unsigned *order, unsigned n, int shuffle)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned i;

	for (i = 0; i < n; i++)
		order[i] = i;
	if (!shuffle)
		return;
	for (i = n - 1; i > 0; i--) {
		unsigned j, tmp;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (unsigned)(x % (i + 1));
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BENCH_HEADER "label\tn\ttotal_s\tus_per_op\tops_per_s\tp50_us\tp99_us\tbytes\terrors\n"

/* Prints one result line (errors: failed operations, counted in n and
 * the times); sorts lat[0..samples-1] in place. */
static inline void bench_report(const char *label, unsigned n, double total_us,
				double *lat, unsigned samples,
				unsigned long long bytes, unsigned errors)
{
	double p50 = 0, p99 = 0;

	if (samples > 0) {
		qsort(lat, samples, sizeof(double), bench_cmp_double);
		p50 = lat[samples / 2];
		p99 = lat[(size_t)(samples * 0.99)];
	}
	printf("%s\t%u\t%.6f\t%.3f\t%.0f\t%.3f\t%.3f\t%llu\t%u\n", label, n,
	       total_us / 1e6, n ? total_us / n : 0,
	       total_us > 0 ? n / (total_us / 1e6) : 0, p50, p99, bytes, errors);
	fflush(stdout);
}

/* Parses a positive count; -1 if `s` is not one. */
static inline long bench_parse_count(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 10000000)
		return -1;
	return (long)v;
}

#endif
