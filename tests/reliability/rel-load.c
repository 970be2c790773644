/* rel-load.c - load generator for the reliability tests: writers and readers
 * that go through a swarmfs mount like any program would, log every write
 * they attempt and every one close() acknowledged, time each close(), and
 * check every document they read back (a torn read is one that returned
 * bytes that are not a whole, valid document).
 *
 *   rel-load write MNT NODE WID [OPTIONS]
 *       rewrites its own deployments (default/NODE-wWID-kK-gG), now and then
 *       deletes one (the next write of that slot uses a new generation G, so
 *       a deleted name is never written again), and puts to SHARED names
 *       (default/shared-J) that every writer of every node also writes.  Each
 *       write's image is NODE.WID.SEQ, unique in the cluster.  Log lines:
 *         try put deployments/default/NAME IMAGE
 *         ack put deployments/default/NAME IMAGE      (close() returned 0)
 *         err put deployments/default/NAME IMAGE ERRNO
 *       and the same with "del" and "-" as IMAGE for deletes.
 *   rel-load read MNT RID [OPTIONS]
 *       lists deployments/default and reads up to 16 documents per pass,
 *       checking each one.
 *   rel-load (no arguments)
 *       a TAP self-test of the document check and of the percentiles.
 *
 * Options: --seconds S (run time, default 60; SIGTERM/SIGINT stop early),
 * --rate N (operations per second at most, 0: as fast as possible),
 * --keys N (own slots, default 8), --shared N (shared names, default 4),
 * --log FILE (the try/ack/err lines), --lat FILE (one close() latency in
 * microseconds per line).  At the end one summary line goes to stdout:
 *   writer|reader ops=N ok=N errors=N ebusy=N eagain=N eio=N enoent=N
 *   other=N torn=N first_error=NAME
 * A client that sees SQLITE_BUSY through the mount sees EBUSY, EAGAIN or
 * EIO: the soak test requires those counters to stay 0. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 256
#define READ_MAX (2 * 1024 * 1024)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct counts {
	long ops, ok, errors, ebusy, eagain, eio, enoent, other, torn;
	int first_error;
};

static void count_error(struct counts *c, int e)
{
	c->errors++;
	if (!c->first_error)
		c->first_error = e;
	switch (e) {
	case EBUSY:
		c->ebusy++;
		break;
	case EAGAIN:
		c->eagain++;
		break;
	case EIO:
		c->eio++;
		break;
	case ENOENT:
		c->enoent++;
		break;
	default:
		c->other++;
		break;
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "none";
	case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN";
	case EIO: return "EIO";
	case ENOENT: return "ENOENT";
	case ENOTCONN: return "ENOTCONN";
	case ECONNABORTED: return "ECONNABORTED";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case EEXIST: return "EEXIST";
	case ESTALE: return "ESTALE";
	case EINTR: return "EINTR";
	case ENOTDIR: return "ENOTDIR";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	default: return "other";
	}
}

static void print_counts(const char *who, const struct counts *c)
{
	printf("%s ops=%ld ok=%ld errors=%ld ebusy=%ld eagain=%ld eio=%ld enoent=%ld other=%ld "
	       "torn=%ld first_error=%s\n", who, c->ops, c->ok, c->errors, c->ebusy, c->eagain,
	       c->eio, c->enoent, c->other, c->torn, errno_name(c->first_error));
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps until op number `done` is due at `rate` per second since t0. */
static void pace(int64_t t0, long done, long rate)
{
	int64_t due, now;

	if (rate <= 0)
		return;
	due = t0 + (int64_t)done * 1000000 / rate;
	now = mono_us();
	if (due > now) {
		struct timespec ts = { (due - now) / 1000000, (due - now) % 1000000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

/*
 * Whether text[0..len) is a whole document of deployment `name`: JSON that
 * parses in full, an object with metadata.name == name and a non-empty
 * spec.image.  Anything else that a successful read returned is torn.
 */
static bool doc_ok(const char *text, size_t len, const char *name)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	cJSON *meta, *spec, *n, *img;
	bool good;

	if (!root)
		return false;
	while (end && end < text + len && (*end == '\n' || *end == ' '))
		end++;
	meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	n = cJSON_GetObjectItemCaseSensitive(meta, "name");
	img = cJSON_GetObjectItemCaseSensitive(spec, "image");
	good = end == text + len && cJSON_IsString(n) && strcmp(n->valuestring, name) == 0 &&
	       cJSON_IsString(img) && img->valuestring[0] != '\0';
	cJSON_Delete(root);
	return good;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100, nearest rank) of v[0..n), sorted in place. */
static int64_t percentile(int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

struct opts {
	double seconds;
	long rate;
	int keys, shared;
	const char *log, *lat;
};

static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
	o->seconds = 60;
	o->rate = 0;
	o->keys = 8;
	o->shared = 4;
	o->log = NULL;
	o->lat = NULL;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "rel-load: option '%s' needs a value\n", a);
			return -EINVAL;
		}
		if (strcmp(a, "--seconds") == 0)
			o->seconds = atof(v);
		else if (strcmp(a, "--rate") == 0)
			o->rate = atol(v);
		else if (strcmp(a, "--keys") == 0)
			o->keys = atoi(v);
		else if (strcmp(a, "--shared") == 0)
			o->shared = atoi(v);
		else if (strcmp(a, "--log") == 0)
			o->log = v;
		else if (strcmp(a, "--lat") == 0)
			o->lat = v;
		else {
			fprintf(stderr, "rel-load: unknown option '%s'\n", a);
			return -EINVAL;
		}
		i++;
	}
	if (o->keys < 1 || o->keys > MAX_SLOTS || o->shared < 0) {
		fprintf(stderr, "rel-load: --keys must be 1..%d and --shared >= 0\n", MAX_SLOTS);
		return -EINVAL;
	}
	return 0;
}

/* Writes all of buf to a new fd and closes it; *close_us gets close()'s time. */
static int put_file(const char *path, const char *buf, size_t len, int64_t *close_us)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;
	int64_t t;
	int rc = 0;

	*close_us = -1;
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	t = mono_us();
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	*close_us = mono_us() - t;
	return rc;
}

static int write_main(const char *mnt, const char *node, int wid, const struct opts *o)
{
	static int gen[MAX_SLOTS];
	static char pad[4096];
	struct counts c = { 0 };
	FILE *log = stdout, *lat = NULL;
	int64_t t0 = mono_us(), end = t0 + (int64_t)(o->seconds * 1e6);
	unsigned seed = (unsigned)(t0 ^ (wid * 7919) ^ getpid());
	long seq = 0;

	if (o->log && !(log = fopen(o->log, "a"))) {
		fprintf(stderr, "rel-load: unable to open '%s': %s\n", o->log, strerror(errno));
		return 1;
	}
	if (o->lat && !(lat = fopen(o->lat, "a"))) {
		fprintf(stderr, "rel-load: unable to open '%s': %s\n", o->lat, strerror(errno));
		return 1;
	}
	/* The harness reads the log while we run and after a crash of the
	 * mount: a line must be whole once written. */
	setvbuf(log, NULL, _IOLBF, 0);
	/* Several writers append to one latency file: one write(2) per line
	 * under O_APPEND keeps their lines whole. */
	if (lat)
		setvbuf(lat, NULL, _IOLBF, 0);
	memset(pad, 'x', sizeof(pad) - 1);
	while (!stop && mono_us() < end) {
		char name[128], path[4200], body[8192], image[96];
		int r = rand_r(&seed) % 100, slot = rand_r(&seed) % o->keys, rc;
		int64_t cus = -1;
		bool del = false;

		pace(t0, c.ops, o->rate);
		if (o->shared > 0 && r < 20)
			snprintf(name, sizeof(name), "shared-%d", rand_r(&seed) % o->shared);
		else
			snprintf(name, sizeof(name), "%s-w%d-k%d-g%d", node, wid, slot, gen[slot]);
		/* A delete only of an own slot, so each name is deleted at most once. */
		del = r >= 90;
		snprintf(path, sizeof(path), "%s/deployments/default/%s.json", mnt, name);
		c.ops++;
		if (del) {
			gen[slot]++;
			fprintf(log, "try del deployments/default/%s -\n", name);
			rc = unlink(path) < 0 ? -errno : 0;
			/* Never written yet in this generation: nothing to delete. */
			if (rc == -ENOENT && access(mnt, F_OK) == 0) {
				char dir[4200];

				snprintf(dir, sizeof(dir), "%s/deployments/default", mnt);
				if (access(dir, F_OK) == 0) {
					fprintf(log, "err del deployments/default/%s - ABSENT\n", name);
					c.ops--;
					continue;
				}
			}
			snprintf(image, sizeof(image), "-");
		} else {
			int n;

			seq++;
			snprintf(image, sizeof(image), "%s.%d.%ld", node, wid, seq);
			fprintf(log, "try put deployments/default/%s %s\n", name, image);
			n = snprintf(body, sizeof(body),
				     "{\"spec\":{\"image\":\"%s\",\"replicas\":%ld,"
				     "\"env\":{\"PAD\":\"%.*s\"}}}\n",
				     image, seq % 50, (int)(rand_r(&seed) % 3000), pad);
			rc = put_file(path, body, (size_t)n, &cus);
		}
		if (rc < 0) {
			count_error(&c, -rc);
			fprintf(log, "err %s deployments/default/%s %s %s\n", del ? "del" : "put",
				name, image, errno_name(-rc));
			/* The mount is down (a crash test) or refused: do not spin. */
			usleep(20000);
			continue;
		}
		c.ok++;
		fprintf(log, "ack %s deployments/default/%s %s\n", del ? "del" : "put", name, image);
		if (lat && cus >= 0)
			fprintf(lat, "%lld\n", (long long)cus);
	}
	print_counts("writer", &c);
	if (log != stdout)
		fclose(log);
	if (lat)
		fclose(lat);
	return 0;
}

/* Reads path in full; 0 and *len, or -errno. */
static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t off = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + off, cap - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0 || off + (size_t)n >= cap) {
			off += (size_t)n;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return rc;
}

static int read_main(const char *mnt, int rid, const struct opts *o)
{
	struct counts c = { 0 };
	char *buf = malloc(READ_MAX);
	FILE *log = o->log ? fopen(o->log, "a") : NULL;
	int64_t t0 = mono_us(), end = t0 + (int64_t)(o->seconds * 1e6);
	unsigned seed = (unsigned)(t0 ^ (rid * 104729) ^ getpid());
	char dir[4200];

	if (!buf)
		return 1;
	if (log)
		setvbuf(log, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s/deployments/default", mnt);
	while (!stop && mono_us() < end) {
		DIR *d = opendir(dir);
		struct dirent *e;
		char names[16][256];
		int n = 0, seen = 0;

		c.ops++;
		if (!d) {
			count_error(&c, errno);
			usleep(20000);
			continue;
		}
		c.ok++;
		/* Reservoir sampling: 16 names from the listing. */
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			int at;

			if (l < 6 || l > 250 || strcmp(e->d_name + l - 5, ".json") != 0)
				continue;
			seen++;
			at = n < 16 ? n++ : rand_r(&seed) % seen;
			if (at < 16)
				snprintf(names[at], sizeof(names[at]), "%.*s", (int)l - 5, e->d_name);
		}
		closedir(d);
		for (int i = 0; i < n && !stop; i++) {
			char path[8800];
			size_t len = 0;
			int rc;

			pace(t0, c.ops, o->rate);
			snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
			c.ops++;
			rc = read_file(path, buf, READ_MAX, &len);
			if (rc < 0) {
				count_error(&c, -rc);
				continue;
			}
			c.ok++;
			if (!doc_ok(buf, len, names[i])) {
				c.torn++;
				if (log)
					fprintf(log, "torn %s %zu bytes: %.*s\n", names[i], len,
						(int)(len < 200 ? len : 200), buf);
			}
		}
		if (o->rate > 0)
			pace(t0, c.ops, o->rate);
	}
	print_counts("reader", &c);
	free(buf);
	if (log)
		fclose(log);
	return 0;
}

/* ---- self-test ------------------------------------------------------------------------ */

static int tap_n, tap_bad;

static void check(bool cond, const char *what)
{
	tap_n++;
	if (!cond)
		tap_bad++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
}

static int self_test(void)
{
	const char *good = "{\n  \"kind\": \"Deployment\",\n  \"metadata\": {\"name\": \"web\"},\n"
			   "  \"spec\": {\"image\": \"nginx\"}\n}\n";
	int64_t v[100], one[1] = { 7 };
	size_t len = strlen(good);

	check(doc_ok(good, len, "web"), "a whole document passes");
	check(!doc_ok(good, len, "db"), "a document of another name is torn");
	check(!doc_ok(good, len / 2, "web"), "the first half of a document is torn");
	check(!doc_ok(good, len - 3, "web"), "a document missing its last bytes is torn");
	check(!doc_ok("", 0, "web"), "an empty read is torn");
	check(!doc_ok("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"image\":\"\"}}", 48, "web"),
	      "an empty image is torn");
	check(!doc_ok("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"image\":\"a\"}}{}", 51, "web"),
	      "two documents back to back are torn");
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;
	check(percentile(v, 100, 50) == 50, "p50 of 1..100 is 50");
	check(percentile(v, 100, 99) == 99, "p99 of 1..100 is 99");
	check(percentile(one, 1, 99) == 7, "p99 of one sample is that sample");
	check(percentile(v, 0, 50) == 0, "no samples give 0");
	printf("1..%d\n", tap_n);
	return tap_bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct opts o;

	if (argc == 1)
		return self_test();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 5 && strcmp(argv[1], "write") == 0) {
		if (parse_opts(argc, argv, 5, &o) < 0)
			return 2;
		return write_main(argv[2], argv[3], atoi(argv[4]), &o);
	}
	if (argc >= 4 && strcmp(argv[1], "read") == 0) {
		if (parse_opts(argc, argv, 4, &o) < 0)
			return 2;
		return read_main(argv[2], atoi(argv[3]), &o);
	}
	if (argc == 3 && strcmp(argv[1], "percentiles") == 0) {
		/* Percentiles of the numbers in a file, one per line. */
		FILE *f = fopen(argv[2], "r");
		int64_t *v = NULL, x;
		size_t n = 0, cap = 0;
		long long y;

		if (!f) {
			fprintf(stderr, "rel-load: unable to open '%s': %s\n", argv[2], strerror(errno));
			return 1;
		}
		while (fscanf(f, "%lld", &y) == 1) {
			if (n == cap) {
				cap = cap ? cap * 2 : 4096;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					return 1;
			}
			x = (int64_t)y;
			v[n++] = x;
		}
		fclose(f);
		x = percentile(v, n, 50);
		printf("n=%zu p50=%lld p99=%lld max=%lld\n", n, (long long)x,
		       (long long)percentile(v, n, 99), (long long)(n ? v[n - 1] : 0));
		free(v);
		return 0;
	}
	fprintf(stderr, "usage: rel-load write MNT NODE WID [OPTIONS] | rel-load read MNT RID "
		"[OPTIONS] | rel-load percentiles FILE | rel-load\n");
	return 2;
}
