/* bench-sqlite.c - the raw SQLite baseline for bench-fs: the same N documents
 * as blobs, one WAL transaction per write at synchronous=FULL, point reads by
 * primary key, by one or several threads with a connection each; prints
 * bench-fs's line format. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench.h"

#define MAX_THREADS 256

/* One thread's connection and counters; n, order, lat and size are shared. */
struct sqlbench {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *put, *get, *del;
	pthread_t tid;
	unsigned n;
	unsigned first, threads; /* visits order[first], order[first + threads], ... */
	size_t size;             /* bytes per document */
	char *doc;               /* size + 1 bytes */
	int op;
	unsigned *order;
	double *lat;
	unsigned long long bytes;
};

static _Noreturn void die_sql(struct sqlbench *s, const char *what)
{
	fprintf(stderr, "bench-sqlite: %s: %s\n", what, sqlite3_errmsg(s->db));
	exit(1);
}

static void exec(struct sqlbench *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die_sql(s, sql);
}

static sqlite3_stmt *prepare(struct sqlbench *s, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		die_sql(s, sql);
	return st;
}

static void step_done(struct sqlbench *s, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die_sql(s, sqlite3_sql(st));
	sqlite3_reset(st);
}

static void bind_key(struct sqlbench *s, sqlite3_stmt *st, unsigned i)
{
	char name[32];

	snprintf(name, sizeof(name), "d%05u", i);
	if (sqlite3_bind_text(st, 1, "default", -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		die_sql(s, "unable to bind key");
}

/* One write transaction, as a swarmfs close() would run it. */
static void op_put(struct sqlbench *s, unsigned i, unsigned gen)
{
	size_t len = bench_make_doc_size(s->doc, s->size, i, gen);

	step_done(s, s->begin);
	bind_key(s, s->put, i);
	if (sqlite3_bind_blob(s->put, 3, s->doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		die_sql(s, "unable to bind document");
	step_done(s, s->put);
	step_done(s, s->commit);
	s->bytes += len;
}

static void op_get(struct sqlbench *s, unsigned i)
{
	int rc, len;

	bind_key(s, s->get, i);
	rc = sqlite3_step(s->get);
	if (rc != SQLITE_ROW)
		die_sql(s, "point read found no row");
	len = sqlite3_column_bytes(s->get, 0);
	/* copy out, as a reader of a file would get its own bytes */
	memcpy(s->doc, sqlite3_column_blob(s->get, 0),
	       (size_t)len < s->size + 1 ? (size_t)len : s->size + 1);
	s->bytes += (unsigned long long)len;
	sqlite3_reset(s->get);
}

static void op_del(struct sqlbench *s, unsigned i)
{
	step_done(s, s->begin);
	bind_key(s, s->del, i);
	step_done(s, s->del);
	if (sqlite3_changes(s->db) != 1) {
		fprintf(stderr, "bench-sqlite: delete of d%05u changed nothing\n", i);
		exit(1);
	}
	step_done(s, s->commit);
}

static void *worker_run(void *arg)
{
	struct sqlbench *s = arg;
	double t = bench_now_us();
	unsigned i;

	for (i = s->first; i < s->n; i += s->threads) {
		unsigned k = s->order[i];
		double t1;

		switch (s->op) {
		case 'c':
			op_put(s, k, 0);
			break;
		case 'o':
			op_put(s, k, 1);
			break;
		case 'r':
			op_get(s, k);
			break;
		default:
			op_del(s, k);
			break;
		}
		t1 = bench_now_us();
		s->lat[i] = t1 - t;
		t = t1;
	}
	return NULL;
}

static void run_phase(struct sqlbench *ws, unsigned threads, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *label = colon ? colon + 1 : spec;
	size_t oplen = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long long bytes = 0;
	double start;
	unsigned t;
	int op;

	if (oplen == 6 && strncmp(spec, "create", 6) == 0)
		op = 'c';
	else if (oplen == 9 && strncmp(spec, "overwrite", 9) == 0)
		op = 'o';
	else if (oplen == 4 && strncmp(spec, "read", 4) == 0)
		op = 'r';
	else if (oplen == 6 && strncmp(spec, "unlink", 6) == 0)
		op = 'u';
	else {
		fprintf(stderr, "bench-sqlite: unknown phase '%s'\n", spec);
		exit(2);
	}
	for (t = 0; t < threads; t++) {
		ws[t].bytes = 0;
		ws[t].op = op;
	}
	start = bench_now_us();
	if (threads == 1) {
		worker_run(&ws[0]);
	} else {
		for (t = 0; t < threads; t++) {
			if (pthread_create(&ws[t].tid, NULL, worker_run, &ws[t]) != 0) {
				fprintf(stderr, "bench-sqlite: unable to start a thread\n");
				exit(1);
			}
		}
		for (t = 0; t < threads; t++)
			pthread_join(ws[t].tid, NULL);
	}
	for (t = 0; t < threads; t++)
		bytes += ws[t].bytes;
	bench_report(label, ws[0].n, bench_now_us() - start, ws[0].lat, ws[0].n, bytes, 0);
}

/* Opens one connection with its statements. */
static void open_conn(struct sqlbench *s, const char *path, const char *sync)
{
	char sql[128];

	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench-sqlite: unable to open '%s': %s\n", path,
			s->db ? sqlite3_errmsg(s->db) : "out of memory");
		exit(1);
	}
	/* writers queue on the WAL write lock, as swarmfs's writers would */
	sqlite3_busy_timeout(s->db, 60000);
	exec(s, "PRAGMA journal_mode=WAL");
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", sync);
	exec(s, sql);
	exec(s, "CREATE TABLE IF NOT EXISTS resources ("
		" namespace TEXT NOT NULL, name TEXT NOT NULL, doc BLOB NOT NULL,"
		" PRIMARY KEY (namespace, name))");
	s->begin = prepare(s, "BEGIN IMMEDIATE");
	s->commit = prepare(s, "COMMIT");
	s->put = prepare(s, "INSERT OR REPLACE INTO resources (namespace, name, doc)"
			 " VALUES (?1, ?2, ?3)");
	s->get = prepare(s, "SELECT doc FROM resources WHERE namespace = ?1 AND name = ?2");
	s->del = prepare(s, "DELETE FROM resources WHERE namespace = ?1 AND name = ?2");
	s->doc = malloc(s->size + 1);
	if (s->doc == NULL) {
		fprintf(stderr, "bench-sqlite: out of memory\n");
		exit(1);
	}
}

static void close_conn(struct sqlbench *s)
{
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->del);
	sqlite3_close(s->db);
	free(s->doc);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-sqlite [-n N] [-j THREADS] [--size BYTES[k|m]]\n"
		"                    [--sync FULL|NORMAL|OFF] [--seq] [--header]\n"
		"                    DBFILE PHASE[:LABEL]...\n"
		"phases: create overwrite read unlink (create/overwrite: INSERT OR REPLACE,\n"
		"one BEGIN IMMEDIATE transaction per row; read: point read by primary key);\n"
		"with -j, T threads with a connection each share every phase\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sync", required_argument, NULL, 'S'},
		{"size", required_argument, NULL, 'z'},
		{"seq", no_argument, NULL, 's'},
		{"header", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned n = 10000, threads = 1, t, *order;
	size_t size = BENCH_DOC_SIZE;
	const char *sync = "FULL", *path;
	struct sqlbench *ws;
	double *lat;
	int c, header = 0, shuffle = 1;

	while ((c = getopt_long(argc, argv, "n:j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			long v = bench_parse_count(optarg);

			if (v < 0) {
				fprintf(stderr, "bench-sqlite: bad count '%s'\n", optarg);
				return 2;
			}
			n = (unsigned)v;
			break;
		}
		case 'j': {
			long v = bench_parse_count(optarg);

			if (v < 0 || v > MAX_THREADS) {
				fprintf(stderr, "bench-sqlite: bad thread count '%s'\n", optarg);
				return 2;
			}
			threads = (unsigned)v;
			break;
		}
		case 'z': {
			long v = bench_parse_size(optarg);

			if (v < 0) {
				fprintf(stderr, "bench-sqlite: bad size '%s'\n", optarg);
				return 2;
			}
			size = (size_t)v;
			break;
		}
		case 'S':
			if (strcmp(optarg, "FULL") != 0 && strcmp(optarg, "NORMAL") != 0 &&
			    strcmp(optarg, "OFF") != 0) {
				fprintf(stderr, "bench-sqlite: bad synchronous mode '%s'\n",
					optarg);
				return 2;
			}
			sync = optarg;
			break;
		case 's':
			shuffle = 0;
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
	path = argv[optind++];
	if (threads > n)
		threads = n;
	order = malloc(n * sizeof(*order));
	lat = malloc(n * sizeof(*lat));
	ws = calloc(threads, sizeof(*ws));
	if (order == NULL || lat == NULL || ws == NULL) {
		fprintf(stderr, "bench-sqlite: out of memory\n");
		return 1;
	}
	bench_order(order, n, shuffle);
	for (t = 0; t < threads; t++) {
		ws[t].n = n;
		ws[t].first = t;
		ws[t].threads = threads;
		ws[t].size = size;
		ws[t].order = order;
		ws[t].lat = lat;
		open_conn(&ws[t], path, sync);
	}
	if (header)
		fputs(BENCH_HEADER, stdout);
	for (; optind < argc; optind++)
		run_phase(ws, threads, argv[optind]);
	for (t = 0; t < threads; t++)
		close_conn(&ws[t]);
	free(ws);
	free(order);
	free(lat);
	return 0;
}
