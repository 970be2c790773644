/* bench-write.c - a time-bounded writer loop that measures close() (where
 * swarmfs commits) and, optionally, how long each write takes to become
 * readable through another node's mount, found by following that mount's
 * events stream; run by bench/run-snapshot.sh and bench/run-replication.sh,
 * never by make check. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_WRITES 10000000u
#define LINE_MAX_LEN 4096

struct run {
	const char *dir;          /* where the writer writes */
	const char *prefix;       /* file names: PREFIXnnnnnn.json */
	unsigned names;           /* writes cycle over this many names */
	double rate;              /* writes per second; 0: as fast as possible */
	double duration_s;        /* the writer stops after this long ... */
	unsigned count;           /* ... or after this many writes */
	unsigned doc_size;        /* bytes per document */
	const char *events;       /* the other node's MOUNT/events, or NULL */
	const char *watch_dir;    /* the other node's view of `dir` */
	double settle_s;          /* how long to wait for the tail after the writer */
	unsigned sample;          /* the watcher reads the names whose number % sample == 0 */

	unsigned max;             /* capacity of the arrays below */
	double *close_done;       /* µs (monotonic) when close() returned; 0: not yet */
	double *close_lat;        /* µs spent in close() */
	double *seen;             /* µs when the watcher first read the write; 0: never */
	unsigned threads;         /* writers, each taking the next sequence number */
	atomic_uint next;         /* the next sequence number to write */
	atomic_uint seen_count;   /* distinct writes the watcher has read */
	atomic_uint seen_high;    /* 1 + the highest sequence number read */
	atomic_bool stop;         /* tells the watcher to leave */
	atomic_uint errors;
	unsigned watch_errors;
	double writer_start, writer_end, last_seen;
};

static void on_signal(int sig)
{
	(void)sig;
}

static void file_name(const struct run *r, char *out, size_t len, unsigned k)
{
	snprintf(out, len, "%s%06u.json", r->prefix, k);
}

/* A valid Deployment of r->doc_size bytes carrying the write's sequence
 * number and its start time, so a reader elsewhere can tell which write it
 * sees. */
static size_t make_doc(const struct run *r, char *out, unsigned seq, double t_us)
{
	int len = snprintf(out, r->doc_size + 1,
			   "{\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":1,\"env\":"
			   "{\"SEQ\":\"%u\",\"TS\":\"%.0f\",\"PAD\":\"", seq, t_us);
	const char *tail = "\"}}}\n";
	size_t tail_len = strlen(tail), pad;

	if (len < 0 || (size_t)len + tail_len > r->doc_size)
		return 0;
	pad = r->doc_size - (size_t)len - tail_len;
	memset(out + len, 'x', pad);
	memcpy(out + len + pad, tail, tail_len + 1);
	return r->doc_size;
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

static void sleep_until_us(double t_us)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t_us / 1e6),
		.tv_nsec = (long)((t_us - (double)(time_t)(t_us / 1e6) * 1e6) * 1e3),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void write_failed(struct run *r, const char *what, const char *name)
{
	if (atomic_fetch_add(&r->errors, 1) < 10)
		fprintf(stderr, "bench-write: %s '%s': %s\n", what, name, strerror(errno));
}

/* A writer: one open/O_TRUNC/write/close per document, paced on an absolute
 * schedule so a slow write is followed by quicker ones, not by a lower rate.
 * Several writers share the schedule: each takes the next sequence number. */
static void *writer(void *arg)
{
	struct run *r = arg;
	char name[64], *doc = malloc(r->doc_size + 1);
	double start = r->writer_start, end = start + r->duration_s * 1e6;

	if (doc == NULL) {
		fprintf(stderr, "bench-write: out of memory\n");
		exit(1);
	}
	for (;;) {
		unsigned i = atomic_fetch_add(&r->next, 1);
		double now = bench_now_us(), t_close;
		size_t len;
		int fd, rc;

		if (i >= r->count || i >= r->max || now >= end)
			break;
		if (r->rate > 0) {
			double due = start + i * 1e6 / r->rate;

			if (due >= end)
				break;
			if (due > now)
				sleep_until_us(due);
		}
		file_name(r, name, sizeof(name), i % r->names);
		len = make_doc(r, doc, i, bench_now_us());
		fd = openat(AT_FDCWD, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			write_failed(r, "unable to open", name);
			continue;
		}
		rc = write_all(fd, doc, len);
		if (rc < 0) {
			errno = -rc;
			write_failed(r, "unable to write", name);
			close(fd);
			continue;
		}
		t_close = bench_now_us();
		rc = close(fd);
		now = bench_now_us();
		r->close_lat[i] = now - t_close;
		if (rc < 0) {
			write_failed(r, "unable to close", name);
			continue;
		}
		r->close_done[i] = now;
	}
	free(doc);
	return NULL;
}

/* Pulls "KEY": "value" or "KEY":"value" out of a JSON text as a number. */
static int json_field(const char *text, const char *key, unsigned long long *out)
{
	char pat[64];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(text, pat);
	if (p == NULL)
		return -ENOENT;
	p += strlen(pat);
	while (*p == ' ' || *p == ':' || *p == '"')
		p++;
	*out = strtoull(p, &end, 10);
	return end == p ? -EINVAL : 0;
}

/* Reads the other node's copy of one file and credits the write it holds. */
static void read_copy(struct run *r, int dirfd, const char *name, char *buf, size_t size)
{
	unsigned long long seq;
	ssize_t got = 0, n;
	double now;
	int fd = openat(dirfd, name, O_RDONLY);

	if (fd < 0) {
		/* deleted or not yet visible: the next event will tell */
		r->watch_errors++;
		return;
	}
	do {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n > 0)
			got += n;
	} while ((n > 0 || (n < 0 && errno == EINTR)) && (size_t)got < size - 1);
	close(fd);
	now = bench_now_us();
	buf[got] = '\0';
	if (json_field(buf, "SEQ", &seq) < 0 || seq >= r->max) {
		r->watch_errors++;
		return;
	}
	if (r->seen[seq] == 0) {
		r->seen[seq] = now;
		r->last_seen = now;
		atomic_fetch_add(&r->seen_count, 1);
		if (seq + 1 > atomic_load(&r->seen_high))
			atomic_store(&r->seen_high, (unsigned)seq + 1);
	}
}

/* Whether the watcher reads this name: its number is a multiple of
 * --sample.  Reading every copy through a FUSE mount at 1,000 writes/s
 * keeps one reader thread busy, and its own queue, not replication, then
 * makes the tail; reading a fixed sample of the writes does not. */
static bool sampled(const struct run *r, const char *name)
{
	size_t plen = strlen(r->prefix);

	return r->sample <= 1 || strtoul(name + plen, NULL, 10) % r->sample == 0;
}

/*
 * The watcher: every line of the other node's events stream that names one
 * of our files makes it read that file there.  A read may show a newer write
 * than the event announced; each write is credited once, when first read.
 */
static void *watcher(void *arg)
{
	struct run *r = arg;
	char *line = malloc(LINE_MAX_LEN), *doc = malloc(1 << 20);
	size_t used = 0;
	int efd = open(r->events, O_RDONLY);
	int dirfd = open(r->watch_dir, O_RDONLY | O_DIRECTORY);
	char pat[80];

	if (line == NULL || doc == NULL || efd < 0 || dirfd < 0) {
		fprintf(stderr, "bench-write: unable to watch '%s' and '%s': %s\n",
			r->events, r->watch_dir, strerror(errno));
		exit(1);
	}
	snprintf(pat, sizeof(pat), "\"name\":\"%s", r->prefix);
	while (!atomic_load(&r->stop)) {
		ssize_t n = read(efd, line + used, LINE_MAX_LEN - 1 - used);
		char *p, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		line[used] = '\0';
		p = line;
		while ((nl = strchr(p, '\n')) != NULL) {
			char *q;

			*nl = '\0';
			q = strstr(p, pat);
			if (q != NULL && strstr(p, "\"op\":\"put\"") != NULL) {
				char name[64];
				size_t k = 0;

				q += strlen("\"name\":\"");
				while (q[k] && q[k] != '"' && k < sizeof(name) - 6)
					k++;
				memcpy(name, q, k);
				memcpy(name + k, ".json", 6);
				if (sampled(r, name))
					read_copy(r, dirfd, name, doc, 1 << 20);
			}
			p = nl + 1;
		}
		used = (size_t)(line + used - p);
		memmove(line, p, used);
		if (used >= LINE_MAX_LEN - 1)
			used = 0;   /* a line longer than any event: drop it */
	}
	close(efd);
	close(dirfd);
	free(line);
	free(doc);
	return NULL;
}

static void percentiles(double *v, unsigned n, double *p50, double *p99, double *max)
{
	*p50 = *p99 = *max = 0;
	if (n == 0)
		return;
	qsort(v, n, sizeof(double), bench_cmp_double);
	*p50 = v[n / 2];
	*p99 = v[(size_t)(n * 0.99)];
	*max = v[n - 1];
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-write [options] DIR\n"
		"  --rate R          writes per second (default 0: as fast as possible)\n"
		"  --duration S      stop writing after S seconds (default 10)\n"
		"  --count N         stop after N writes (default: no limit)\n"
		"  --names K         cycle over K file names (default 1000)\n"
		"  --prefix P        file names PnnnnnN.json (default w)\n"
		"  --size B          bytes per document (default 500)\n"
		"  --events FILE     another node's MOUNT/events: measure replication\n"
		"  --watch-dir DIR   that node's view of DIR (needed with --events)\n"
		"  --settle S        wait up to S seconds for the tail to arrive (default 10)\n"
		"  --threads T       T writers share the rate and the names (default 1)\n"
		"  --sample K        with --events, read only the copies of names whose\n"
		"                    number is a multiple of K (default 1: every write)\n"
		"prints one line of key=value pairs: writes, seconds, writes_per_s,\n"
		"close_p50_us, close_p99_us, close_max_us, errors and, with --events,\n"
		"sampled (writes to read), seen, repl_p50_us, repl_p99_us, repl_max_us,\n"
		"repl_span_s, repl_per_s (writes up to the last one read, per second)\n");
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (*s == '\0' || *end != '\0' || errno || *out < 0) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"count", required_argument, NULL, 'c'},
		{"names", required_argument, NULL, 'k'},
		{"prefix", required_argument, NULL, 'p'},
		{"size", required_argument, NULL, 'b'},
		{"events", required_argument, NULL, 'e'},
		{"watch-dir", required_argument, NULL, 'w'},
		{"settle", required_argument, NULL, 's'},
		{"threads", required_argument, NULL, 't'},
		{"sample", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct run r = {.prefix = "w", .names = 1000, .duration_s = 10, .count = MAX_WRITES,
			.doc_size = BENCH_DOC_SIZE, .settle_s = 10, .threads = 1, .sample = 1};
	struct sigaction sa = {.sa_handler = on_signal};
	pthread_t th, wth[64];
	double cp50, cp99, cmax, *lat;
	unsigned n, i, nlat = 0, taken, ok_writes, to_read = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		long v;
		int bad = 0;

		switch (c) {
		case 'r': bad = parse_double(optarg, &r.rate); break;
		case 'd': bad = parse_double(optarg, &r.duration_s); break;
		case 's': bad = parse_double(optarg, &r.settle_s); break;
		case 'c':
			v = bench_parse_count(optarg);
			bad = v < 0;
			r.count = (unsigned)v;
			break;
		case 'k':
			v = bench_parse_count(optarg);
			bad = v < 0 || v > 999999;
			r.names = (unsigned)v;
			break;
		case 'b':
			v = bench_parse_count(optarg);
			bad = v < 120 || v > (1 << 20) - 1;
			r.doc_size = (unsigned)v;
			break;
		case 't':
			v = bench_parse_count(optarg);
			bad = v < 0 || v > 64;
			r.threads = (unsigned)v;
			break;
		case 'S':
			v = bench_parse_count(optarg);
			bad = v < 1 || v > 999999;
			r.sample = (unsigned)v;
			break;
		case 'p': r.prefix = optarg; bad = strlen(optarg) > 40; break;
		case 'e': r.events = optarg; break;
		case 'w': r.watch_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "bench-write: bad value '%s'\n", optarg);
			return 2;
		}
	}
	if (argc - optind != 1 || (r.events != NULL) != (r.watch_dir != NULL)) {
		usage(stderr);
		return 2;
	}
	r.dir = argv[optind];
	if (chdir(r.dir) < 0) {
		fprintf(stderr, "bench-write: unable to enter '%s': %s\n", r.dir, strerror(errno));
		return 1;
	}
	/* room for every write the run can make, at most MAX_WRITES */
	r.max = r.count;
	if (r.rate > 0 && r.rate * r.duration_s + 1 < r.max)
		r.max = (unsigned)(r.rate * r.duration_s) + 1;
	if (r.rate == 0 && r.max > 2000000)
		r.max = 2000000;
	r.close_done = calloc(r.max, sizeof(double));
	r.close_lat = calloc(r.max, sizeof(double));
	r.seen = calloc(r.max, sizeof(double));
	lat = calloc(r.max, sizeof(double));
	if (!r.close_done || !r.close_lat || !r.seen || !lat) {
		fprintf(stderr, "bench-write: out of memory\n");
		return 1;
	}
	/* SIGUSR1 interrupts the watcher's blocking read of the events stream */
	sigaction(SIGUSR1, &sa, NULL);
	if (r.events && pthread_create(&th, NULL, watcher, &r) != 0) {
		fprintf(stderr, "bench-write: unable to start the watcher\n");
		return 1;
	}
	if (r.events)
		usleep(200000);   /* the stream shows only what follows its open */

	r.writer_start = bench_now_us();
	for (i = 0; i < r.threads; i++) {
		if (pthread_create(&wth[i], NULL, writer, &r) != 0) {
			fprintf(stderr, "bench-write: unable to start a writer\n");
			return 1;
		}
	}
	for (i = 0; i < r.threads; i++)
		pthread_join(wth[i], NULL);
	r.writer_end = bench_now_us();
	/* sequence numbers taken but abandoned at the deadline left no trace */
	taken = atomic_load(&r.next);
	if (taken > r.max)
		taken = r.max;
	for (i = 0; i < taken; i++) {
		if (r.close_done[i] == 0)
			continue;
		lat[nlat++] = r.close_lat[i];
		if ((i % r.names) % r.sample == 0)
			to_read++;
	}
	ok_writes = nlat;
	n = ok_writes + atomic_load(&r.errors);
	percentiles(lat, nlat, &cp50, &cp99, &cmax);
	printf("writes=%u seconds=%.3f writes_per_s=%.1f close_p50_us=%.1f close_p99_us=%.1f "
	       "close_max_us=%.1f errors=%u",
	       n, (r.writer_end - r.writer_start) / 1e6,
	       ok_writes / ((r.writer_end - r.writer_start) / 1e6), cp50, cp99, cmax,
	       atomic_load(&r.errors));

	if (r.events) {
		double deadline = bench_now_us() + r.settle_s * 1e6, rp50, rp99, rmax;
		unsigned seen, nrep = 0;

		/* the tail: all that was acknowledged, or as much as arrives in time */
		while (atomic_load(&r.seen_count) < to_read && bench_now_us() < deadline)
			usleep(2000);
		atomic_store(&r.stop, true);
		pthread_kill(th, SIGUSR1);
		pthread_join(th, NULL);
		seen = atomic_load(&r.seen_count);
		for (i = 0; i < taken; i++) {
			if (r.seen[i] == 0 || r.close_done[i] == 0)
				continue;
			/* a copy read before close() returned here: latency 0 */
			lat[nrep++] = r.seen[i] > r.close_done[i] ? r.seen[i] - r.close_done[i] : 0;
		}
		percentiles(lat, nrep, &rp50, &rp99, &rmax);
		/* One origin's changes apply in order: when write N shows,
		 * every write before it has too. */
		printf(" sampled=%u seen=%u repl_p50_us=%.1f repl_p99_us=%.1f repl_max_us=%.1f "
		       "repl_span_s=%.3f repl_per_s=%.1f watch_errors=%u",
		       to_read, seen, rp50, rp99, rmax, (r.last_seen - r.writer_start) / 1e6,
		       r.last_seen > r.writer_start
			       ? atomic_load(&r.seen_high) / ((r.last_seen - r.writer_start) / 1e6) : 0,
		       r.watch_errors);
	}
	printf("\n");
	return 0;
}
