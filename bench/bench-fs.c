/* bench-fs.c - times file operations (create, read, stat, readdir, overwrite,
 * unlink) on N small Deployment documents in one directory, one line per phase;
 * run by bench/run-single.sh, never by make check. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define READ_BUF (1 << 20)

struct bench {
	const char *dir;
	int dirfd;
	unsigned n;
	int shuffle;        /* visit files in a fixed random order, not by name */
	unsigned *order;    /* permutation of 0..n-1 used by each phase */
	double *lat;        /* per-operation latency in µs, reused by each phase */
	char *buf;          /* read buffer */
	unsigned long long bytes; /* bytes moved by the current phase */
	unsigned errors;          /* failed operations in the current phase */
	unsigned total_errors;    /* over all phases: the exit status */
};

static void file_name(char *out, size_t len, unsigned i)
{
	snprintf(out, len, "d%05u.json", i);
}

static _Noreturn void die_errno(const char *what, const char *name)
{
	fprintf(stderr, "bench-fs: %s '%s': %s\n", what, name, strerror(errno));
	exit(1);
}

/*
 * A failed operation is counted, not fatal: a benchmark that stops at the
 * first error hides how often it happens.  The first few are shown.
 */
static void op_failed(struct bench *b, const char *what, const char *name)
{
	if (b->errors < 10)
		fprintf(stderr, "bench-fs: %s '%s': %s\n", what, name, strerror(errno));
	b->errors++;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void op_write(struct bench *b, unsigned i, int flags, unsigned gen)
{
	char name[32], doc[BENCH_DOC_SIZE + 1];
	size_t len = bench_make_doc(doc, i, gen);
	int fd, rc;

	file_name(name, sizeof(name), i);
	fd = openat(b->dirfd, name, O_WRONLY | O_TRUNC | flags, 0644);
	if (fd < 0) {
		op_failed(b, "unable to open", name);
		return;
	}
	rc = write_all(fd, doc, len);
	if (rc < 0) {
		errno = -rc;
		op_failed(b, "unable to write", name);
		close(fd);
		return;
	}
	/* close() is where swarmfs commits, so its error matters */
	if (close(fd) < 0) {
		op_failed(b, "unable to close", name);
		return;
	}
	b->bytes += len;
}

static void op_read(struct bench *b, unsigned i)
{
	char name[32];
	int fd;
	ssize_t r;

	file_name(name, sizeof(name), i);
	fd = openat(b->dirfd, name, O_RDONLY);
	if (fd < 0) {
		op_failed(b, "unable to open", name);
		return;
	}
	do {
		r = read(fd, b->buf, READ_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			op_failed(b, "unable to read", name);
			break;
		}
		b->bytes += (size_t)r;
	} while (r != 0);
	close(fd);
}

static void op_stat(struct bench *b, unsigned i)
{
	char name[32];
	struct stat st;

	file_name(name, sizeof(name), i);
	if (fstatat(b->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		op_failed(b, "unable to stat", name);
		return;
	}
	b->bytes += (unsigned long long)st.st_size;
}

static void op_unlink(struct bench *b, unsigned i)
{
	char name[32];

	file_name(name, sizeof(name), i);
	if (unlinkat(b->dirfd, name, 0) < 0)
		op_failed(b, "unable to unlink", name);
}

/* What `ls -l` does: list the directory and lstat every entry.  Returns the
 * number of entries; one latency sample per entry. */
static unsigned do_readdir(struct bench *b)
{
	int fd = openat(b->dirfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d;
	struct dirent *de;
	unsigned count = 0;
	double t = bench_now_us();

	if (fd < 0)
		die_errno("unable to open", b->dir);
	d = fdopendir(fd);
	if (d == NULL)
		die_errno("unable to open", b->dir);
	for (;;) {
		struct stat st;
		double t1;

		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			op_failed(b, "unable to stat", de->d_name);
		t1 = bench_now_us();
		if (count < b->n)
			b->lat[count] = t1 - t;
		t = t1;
		count++;
		b->bytes += (unsigned long long)st.st_size;
	}
	if (errno != 0)
		die_errno("unable to read directory", b->dir);
	closedir(d);
	return count;
}

/* Runs one phase, `op[:label]`, over all n files. */
static void run_phase(struct bench *b, const char *spec)
{
	char op[64];
	const char *colon = strchr(spec, ':');
	const char *label = colon ? colon + 1 : spec;
	size_t oplen = colon ? (size_t)(colon - spec) : strlen(spec);
	double start, t;
	unsigned i;

	if (oplen >= sizeof(op)) {
		fprintf(stderr, "bench-fs: unknown phase '%s'\n", spec);
		exit(2);
	}
	memcpy(op, spec, oplen);
	op[oplen] = '\0';
	b->bytes = 0;
	b->errors = 0;

	if (strcmp(op, "readdir") == 0) {
		unsigned count;

		start = bench_now_us();
		count = do_readdir(b);
		t = bench_now_us() - start;
		if (count != b->n)
			fprintf(stderr, "bench-fs: readdir saw %u entries, expected %u\n",
				count, b->n);
		bench_report(label, count, t, b->lat, count < b->n ? count : b->n, b->bytes,
			     b->errors);
		b->total_errors += b->errors;
		return;
	}

	start = bench_now_us();
	t = start;
	for (i = 0; i < b->n; i++) {
		unsigned k = b->order[i];
		double t1;

		if (strcmp(op, "create") == 0)
			op_write(b, k, O_CREAT | O_EXCL, 0);
		else if (strcmp(op, "overwrite") == 0)
			op_write(b, k, 0, 1);
		else if (strcmp(op, "read") == 0)
			op_read(b, k);
		else if (strcmp(op, "stat") == 0)
			op_stat(b, k);
		else if (strcmp(op, "unlink") == 0)
			op_unlink(b, k);
		else {
			fprintf(stderr, "bench-fs: unknown phase '%s'\n", spec);
			exit(2);
		}
		t1 = bench_now_us();
		b->lat[i] = t1 - t;
		t = t1;
	}
	bench_report(label, b->n, bench_now_us() - start, b->lat, b->n, b->bytes,
		     b->errors);
	b->total_errors += b->errors;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-fs [-n N] [--seq] [--header] DIR PHASE[:LABEL]...\n"
		"phases: create overwrite read stat readdir unlink\n"
		"prints per phase: label n total_s us_per_op ops_per_s p50_us p99_us bytes errors\n"
		"a failed operation is counted and shown, not fatal; exit status 1 if any\n"
		"files are DIR/dNNNNN.json, about 500 B each; create needs them absent\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seq", no_argument, NULL, 's'},
		{"header", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {.n = 10000, .shuffle = 1};
	int c, header = 0;

	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			long v = bench_parse_count(optarg);

			if (v < 0) {
				fprintf(stderr, "bench-fs: bad count '%s'\n", optarg);
				return 2;
			}
			b.n = (unsigned)v;
			break;
		}
		case 's':
			b.shuffle = 0;
			break;
		case 'H':
			header = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	b.dir = argv[optind++];
	b.dirfd = open(b.dir, O_RDONLY | O_DIRECTORY);
	if (b.dirfd < 0)
		die_errno("unable to open", b.dir);
	b.order = malloc(b.n * sizeof(*b.order));
	b.lat = malloc(b.n * sizeof(*b.lat));
	b.buf = malloc(READ_BUF);
	if (b.order == NULL || b.lat == NULL || b.buf == NULL) {
		fprintf(stderr, "bench-fs: out of memory\n");
		return 1;
	}
	bench_order(b.order, b.n, b.shuffle);
	if (header)
		fputs(BENCH_HEADER, stdout);
	for (; optind < argc; optind++)
		run_phase(&b, argv[optind]);
	close(b.dirfd);
	free(b.order);
	free(b.lat);
	free(b.buf);
	return b.total_errors ? 1 : 0;
}
