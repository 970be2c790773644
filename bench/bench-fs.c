/* bench-fs.c - times file operations (create, read, stat, readdir, overwrite,
 * unlink) on N Deployment documents in one directory, by one or several
 * threads, one line per phase; run by bench/run, never by make check. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define READ_BUF (1 << 20)
#define MAX_THREADS 256

struct bench {
	const char *dir;
	int dirfd;
	unsigned n;
	size_t size;        /* bytes per document */
	unsigned threads;   /* threads sharing each phase, taking every T-th file */
	int shuffle;        /* visit files in a fixed random order, not by name */
	unsigned *order;    /* permutation of 0..n-1 used by each phase */
	double *lat;        /* per-operation latency in µs, reused by each phase */
	unsigned total_errors;    /* over all phases: the exit status */
};

/* One thread's share of a phase: its buffers and its own counters, so the
 * threads share nothing they write but their slots of b->lat. */
struct worker {
	struct bench *b;
	pthread_t tid;
	unsigned first;     /* visits order[first], order[first + T], ... */
	int op;
	char *buf;          /* read buffer, or the document to write */
	unsigned long long bytes; /* bytes moved in the current phase */
	unsigned errors;          /* failed operations in the current phase */
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
static void op_failed(struct worker *w, const char *what, const char *name)
{
	if (w->errors < 10)
		fprintf(stderr, "bench-fs: %s '%s': %s\n", what, name, strerror(errno));
	w->errors++;
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

static void op_write(struct worker *w, unsigned i, int flags, unsigned gen)
{
	struct bench *b = w->b;
	char name[32];
	size_t len = bench_make_doc_size(w->buf, b->size, i, gen);
	int fd, rc;

	file_name(name, sizeof(name), i);
	fd = openat(b->dirfd, name, O_WRONLY | O_TRUNC | flags, 0644);
	if (fd < 0) {
		op_failed(w, "unable to open", name);
		return;
	}
	rc = write_all(fd, w->buf, len);
	if (rc < 0) {
		errno = -rc;
		op_failed(w, "unable to write", name);
		close(fd);
		return;
	}
	/* close() is where swarmfs commits, so its error matters */
	if (close(fd) < 0) {
		op_failed(w, "unable to close", name);
		return;
	}
	w->bytes += len;
}

static void op_read(struct worker *w, unsigned i)
{
	struct bench *b = w->b;
	char name[32];
	int fd;
	ssize_t r;

	file_name(name, sizeof(name), i);
	fd = openat(b->dirfd, name, O_RDONLY);
	if (fd < 0) {
		op_failed(w, "unable to open", name);
		return;
	}
	do {
		r = read(fd, w->buf, READ_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			op_failed(w, "unable to read", name);
			break;
		}
		w->bytes += (size_t)r;
	} while (r != 0);
	close(fd);
}

static void op_stat(struct worker *w, unsigned i)
{
	struct bench *b = w->b;
	char name[32];
	struct stat st;

	file_name(name, sizeof(name), i);
	if (fstatat(b->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		op_failed(w, "unable to stat", name);
		return;
	}
	w->bytes += (unsigned long long)st.st_size;
}

static void op_unlink(struct worker *w, unsigned i)
{
	struct bench *b = w->b;
	char name[32];

	file_name(name, sizeof(name), i);
	if (unlinkat(b->dirfd, name, 0) < 0)
		op_failed(w, "unable to unlink", name);
}

/* What `ls -l` does: list the directory and lstat every entry.  Returns the
 * number of entries; one latency sample per entry. */
static unsigned do_readdir(struct worker *w)
{
	struct bench *b = w->b;
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
			op_failed(w, "unable to stat", de->d_name);
		t1 = bench_now_us();
		if (count < b->n)
			b->lat[count] = t1 - t;
		t = t1;
		count++;
		w->bytes += (unsigned long long)st.st_size;
	}
	if (errno != 0)
		die_errno("unable to read directory", b->dir);
	closedir(d);
	return count;
}

/* One thread's loop over its share of the files. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	double t = bench_now_us();
	unsigned i;

	for (i = w->first; i < b->n; i += b->threads) {
		unsigned k = b->order[i];
		double t1;

		switch (w->op) {
		case 'c':
			op_write(w, k, O_CREAT | O_EXCL, 0);
			break;
		case 'o':
			op_write(w, k, 0, 1);
			break;
		case 'r':
			op_read(w, k);
			break;
		case 's':
			op_stat(w, k);
			break;
		default:
			op_unlink(w, k);
			break;
		}
		t1 = bench_now_us();
		b->lat[i] = t1 - t;
		t = t1;
	}
	return NULL;
}

static int parse_op(const char *op)
{
	static const struct {
		const char *name;
		int code;
	} ops[] = {
		{"create", 'c'}, {"overwrite", 'o'}, {"read", 'r'}, {"stat", 's'},
		{"unlink", 'u'}, {"readdir", 'd'},
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			return ops[i].code;
	return 0;
}

/* Runs one phase, `op[:label]`, over all n files. */
static void run_phase(struct bench *b, struct worker *ws, const char *spec)
{
	char op[64];
	const char *colon = strchr(spec, ':');
	const char *label = colon ? colon + 1 : spec;
	size_t oplen = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long long bytes = 0;
	unsigned errors = 0, t;
	double start, elapsed;
	int code;

	if (oplen >= sizeof(op)) {
		fprintf(stderr, "bench-fs: unknown phase '%s'\n", spec);
		exit(2);
	}
	memcpy(op, spec, oplen);
	op[oplen] = '\0';
	code = parse_op(op);
	if (code == 0) {
		fprintf(stderr, "bench-fs: unknown phase '%s'\n", spec);
		exit(2);
	}
	for (t = 0; t < b->threads; t++) {
		ws[t].bytes = 0;
		ws[t].errors = 0;
		ws[t].op = code;
	}

	if (code == 'd') {
		/* `ls -l` is one process walking one directory: one thread */
		unsigned count;

		start = bench_now_us();
		count = do_readdir(&ws[0]);
		elapsed = bench_now_us() - start;
		if (count != b->n)
			fprintf(stderr, "bench-fs: readdir saw %u entries, expected %u\n",
				count, b->n);
		bench_report(label, count, elapsed, b->lat, count < b->n ? count : b->n,
			     ws[0].bytes, ws[0].errors);
		b->total_errors += ws[0].errors;
		return;
	}

	start = bench_now_us();
	if (b->threads == 1) {
		worker_run(&ws[0]);
	} else {
		for (t = 0; t < b->threads; t++) {
			if (pthread_create(&ws[t].tid, NULL, worker_run, &ws[t]) != 0) {
				fprintf(stderr, "bench-fs: unable to start a thread\n");
				exit(1);
			}
		}
		for (t = 0; t < b->threads; t++)
			pthread_join(ws[t].tid, NULL);
	}
	elapsed = bench_now_us() - start;
	for (t = 0; t < b->threads; t++) {
		bytes += ws[t].bytes;
		errors += ws[t].errors;
	}
	bench_report(label, b->n, elapsed, b->lat, b->n, bytes, errors);
	b->total_errors += errors;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-fs [-n N] [-j THREADS] [--size BYTES[k|m]] [--seq] [--header]\n"
		"                DIR PHASE[:LABEL]...\n"
		"phases: create overwrite read stat readdir unlink\n"
		"prints per phase: label n total_s us_per_op ops_per_s p50_us p99_us bytes errors\n"
		"a failed operation is counted and shown, not fatal; exit status 1 if any\n"
		"files are DIR/dNNNNN.json, 500 B each unless --size; create needs them absent\n"
		"with -j, T threads share each phase (readdir stays one thread); ops/s is\n"
		"their aggregate, latencies are per operation\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seq", no_argument, NULL, 's'},
		{"header", no_argument, NULL, 'H'},
		{"size", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {.n = 10000, .shuffle = 1, .size = BENCH_DOC_SIZE, .threads = 1};
	struct worker *ws;
	unsigned t;
	int c, header = 0;

	while ((c = getopt_long(argc, argv, "n:j:h", longopts, NULL)) != -1) {
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
		case 'j': {
			long v = bench_parse_count(optarg);

			if (v < 0 || v > MAX_THREADS) {
				fprintf(stderr, "bench-fs: bad thread count '%s'\n", optarg);
				return 2;
			}
			b.threads = (unsigned)v;
			break;
		}
		case 'S': {
			long v = bench_parse_size(optarg);

			if (v < 0) {
				fprintf(stderr, "bench-fs: bad size '%s'\n", optarg);
				return 2;
			}
			b.size = (size_t)v;
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
	if (b.threads > b.n)
		b.threads = b.n;
	b.order = malloc(b.n * sizeof(*b.order));
	b.lat = malloc(b.n * sizeof(*b.lat));
	ws = calloc(b.threads, sizeof(*ws));
	if (b.order == NULL || b.lat == NULL || ws == NULL) {
		fprintf(stderr, "bench-fs: out of memory\n");
		return 1;
	}
	for (t = 0; t < b.threads; t++) {
		ws[t].b = &b;
		ws[t].first = t;
		/* big enough for a read chunk and for the document to write */
		ws[t].buf = malloc((b.size + 1 > READ_BUF ? b.size + 1 : READ_BUF));
		if (ws[t].buf == NULL) {
			fprintf(stderr, "bench-fs: out of memory\n");
			return 1;
		}
	}
	bench_order(b.order, b.n, b.shuffle);
	if (header)
		fputs(BENCH_HEADER, stdout);
	for (; optind < argc; optind++)
		run_phase(&b, ws, argv[optind]);
	close(b.dirfd);
	for (t = 0; t < b.threads; t++)
		free(ws[t].buf);
	free(ws);
	free(b.order);
	free(b.lat);
	return b.total_errors ? 1 : 0;
}
