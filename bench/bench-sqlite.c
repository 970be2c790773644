/* bench-sqlite.c - the raw SQLite baseline for bench-fs: the same N documents
 * as 500 B blobs, one WAL transaction per write at synchronous=FULL, point
 * reads by primary key; prints bench-fs's line format. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench.h"

struct sqlbench {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *put, *get, *del;
	unsigned n;
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
	char doc[BENCH_DOC_SIZE + 1];
	size_t len = bench_make_doc(doc, i, gen);

	step_done(s, s->begin);
	bind_key(s, s->put, i);
	if (sqlite3_bind_blob(s->put, 3, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		die_sql(s, "unable to bind document");
	step_done(s, s->put);
	step_done(s, s->commit);
	s->bytes += len;
}

static void op_get(struct sqlbench *s, unsigned i)
{
	char buf[BENCH_DOC_SIZE * 4];
	int rc, len;

	bind_key(s, s->get, i);
	rc = sqlite3_step(s->get);
	if (rc != SQLITE_ROW)
		die_sql(s, "point read found no row");
	len = sqlite3_column_bytes(s->get, 0);
	/* copy out, as a reader of a file would get its own bytes */
	memcpy(buf, sqlite3_column_blob(s->get, 0),
	       (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf));
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

static void run_phase(struct sqlbench *s, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *label = colon ? colon + 1 : spec;
	size_t oplen = colon ? (size_t)(colon - spec) : strlen(spec);
	double start, t;
	unsigned i;
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
	s->bytes = 0;
	start = bench_now_us();
	t = start;
	for (i = 0; i < s->n; i++) {
		unsigned k = s->order[i];
		double t1;

		switch (op) {
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
	bench_report(label, s->n, bench_now_us() - start, s->lat, s->n, s->bytes, 0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-sqlite [-n N] [--sync FULL|NORMAL|OFF] [--seq] [--header]\n"
		"                    DBFILE PHASE[:LABEL]...\n"
		"phases: create overwrite read unlink (create/overwrite: INSERT OR REPLACE,\n"
		"one BEGIN IMMEDIATE transaction per row; read: point read by primary key)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sync", required_argument, NULL, 'S'},
		{"seq", no_argument, NULL, 's'},
		{"header", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sqlbench s = {.n = 10000};
	const char *sync = "FULL";
	char sql[128];
	int c, header = 0, shuffle = 1;

	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			long v = bench_parse_count(optarg);

			if (v < 0) {
				fprintf(stderr, "bench-sqlite: bad count '%s'\n", optarg);
				return 2;
			}
			s.n = (unsigned)v;
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
	if (sqlite3_open_v2(argv[optind], &s.db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench-sqlite: unable to open '%s': %s\n", argv[optind],
			s.db ? sqlite3_errmsg(s.db) : "out of memory");
		return 1;
	}
	optind++;
	sqlite3_busy_timeout(s.db, 5000);
	exec(&s, "PRAGMA journal_mode=WAL");
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", sync);
	exec(&s, sql);
	exec(&s, "CREATE TABLE IF NOT EXISTS resources ("
		 " namespace TEXT NOT NULL, name TEXT NOT NULL, doc BLOB NOT NULL,"
		 " PRIMARY KEY (namespace, name))");
	s.begin = prepare(&s, "BEGIN IMMEDIATE");
	s.commit = prepare(&s, "COMMIT");
	s.put = prepare(&s, "INSERT OR REPLACE INTO resources (namespace, name, doc)"
			    " VALUES (?1, ?2, ?3)");
	s.get = prepare(&s, "SELECT doc FROM resources WHERE namespace = ?1 AND name = ?2");
	s.del = prepare(&s, "DELETE FROM resources WHERE namespace = ?1 AND name = ?2");

	s.order = malloc(s.n * sizeof(*s.order));
	s.lat = malloc(s.n * sizeof(*s.lat));
	if (s.order == NULL || s.lat == NULL) {
		fprintf(stderr, "bench-sqlite: out of memory\n");
		return 1;
	}
	bench_order(s.order, s.n, shuffle);
	if (header)
		fputs(BENCH_HEADER, stdout);
	for (; optind < argc; optind++)
		run_phase(&s, argv[optind]);

	sqlite3_finalize(s.begin);
	sqlite3_finalize(s.commit);
	sqlite3_finalize(s.put);
	sqlite3_finalize(s.get);
	sqlite3_finalize(s.del);
	sqlite3_close(s.db);
	free(s.order);
	free(s.lat);
	return 0;
}
