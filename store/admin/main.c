/* main.c - swarmfs-admin: the command line over one data dir's store; it
 * opens its own SQLite connection, so it works with or without a mount. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "notify.h"
#include "recovery.h"

#define PROG "swarmfs-admin"
#define EXIT_USAGE 2
#define DEFAULT_KEEP 1000

static const char usage_text[] =
	"usage: " PROG " [--data-dir DIR] [--node NAME] COMMAND [ARGS]\n"
	"\n"
	"Administers the swarmfs store of one data dir, with or without a mount.\n"
	"\n"
	"commands:\n"
	"  status [--json]            node, revision, counts, namespaces, sizes\n"
	"  check                      integrity check and validation of every document\n"
	"  export [-o FILE]           the whole state as one JSON document (stdout by default)\n"
	"  export --kubernetes [-o FILE]\n"
	"                             the live state as a Kubernetes v1 List of Deployments,\n"
	"                             Services, Pods and Ingresses (for kubectl apply -f)\n"
	"  import FILE|- [--dry-run]  a swarmfs export or a Podman Swarm state.json,\n"
	"                             in one transaction; nothing is applied on any error\n"
	"  log [KIND[/NS[/NAME]]] [--since REV] [--limit N] [--json]\n"
	"                             the change history, oldest first; --since REV shows\n"
	"                             the changes after REV, --limit the first N of them\n"
	"  compact [--keep N]         drop change-log entries but the newest N (default 1000)\n"
	"\n"
	"snapshots (standalone SQLite files in DATA/snapshots/):\n"
	"  snapshot NAME              take a manual snapshot (NAME: a DNS label)\n"
	"  snapshots [--json]         list them: name, created, revision, resources,\n"
	"                             size, manual or automatic\n"
	"  snapshot-rm NAME           remove one\n"
	"  restore NAME               make the live state exactly the snapshot's, in one\n"
	"                             transaction (deleting what was created since); if\n"
	"                             the store is damaged, replace it with the snapshot\n"
	"                             (the damaged file is moved aside, never deleted)\n"
	"  prune [--retention POLICY] [--dry-run]\n"
	"                             apply retention to the automatic snapshots now;\n"
	"                             POLICY like hourly=24,daily=7,weekly=4,monthly=12\n"
	"                             (the default; rules left out keep nothing)\n"
	"\n"
	"options:\n"
	"  --data-dir DIR   data dir (default: /var/lib/swarmfs for root, else\n"
	"                   ${XDG_DATA_HOME:-$HOME/.local/share}/swarmfs)\n"
	"  --node NAME      node name (default: the one recorded in the store, else the host name)\n"
	"  -h, --help       this help\n"
	"  -V, --version    the version\n"
	"\n"
	"exit status: 0 success, 1 failure or problems found, 2 bad arguments\n";

struct admin {
	const char *data_dir;  /* NULL: the default */
	const char *node;      /* NULL: the store's own */
	char dir[PATH_MAX];
	char db[PATH_MAX + sizeof(STORE_DB_FILE) + 1];
};

/* One line on stderr and the usage exit status. */
static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; try '" PROG " --help'\n", stderr);
	return EXIT_USAGE;
}

static int fail(const struct store_err *err, int rc)
{
	fprintf(stderr, PROG ": %s\n",
		err && err->msg[0] ? err->msg : strerror(-rc));
	return EXIT_FAILURE;
}

/* Matches --NAME VALUE and --NAME=VALUE (and -S VALUE when `short_name`).
 * Returns 1 when consumed, 0 when not this option, -1 when the value is
 * missing (after printing why). */
static int opt_value(int argc, char **argv, int *i, const char *name,
		     const char *short_name, const char **value)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if (strncmp(arg, name, len) == 0 && arg[len] == '=') {
		*value = arg + len + 1;
		return 1;
	}
	if (strcmp(arg, name) != 0 && !(short_name && strcmp(arg, short_name) == 0))
		return 0;
	if (*i + 1 >= argc) {
		usage_error("option '%s' needs a value", arg);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

/* --data-dir and --node, accepted before and after the command. */
static int global_opt(struct admin *a, int argc, char **argv, int *i)
{
	int rc = opt_value(argc, argv, i, "--data-dir", NULL, &a->data_dir);

	if (rc != 0)
		return rc;
	return opt_value(argc, argv, i, "--node", NULL, &a->node);
}

/* Returns 0, or -EINVAL after printing the usage error. */
static int parse_count(const char *opt, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		usage_error("option '%s' needs a non-negative integer, not '%s'",
			    opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int unknown_arg(const char *arg)
{
	if (arg[0] == '-' && arg[1])
		return usage_error("unknown option '%s'", arg);
	return usage_error("unexpected argument '%s'", arg);
}

static int resolve_paths(struct admin *a, struct store_err *err)
{
	int rc;

	if (a->data_dir) {
		if (strlen(a->data_dir) >= sizeof(a->dir)) {
			snprintf(err->msg, sizeof(err->msg), "data dir path too long");
			return -ENAMETOOLONG;
		}
		snprintf(a->dir, sizeof(a->dir), "%s", a->data_dir);
	} else {
		rc = store_default_data_dir(a->dir, sizeof(a->dir));
		if (rc < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "unable to find the default data dir: %s",
				 strerror(-rc));
			return rc;
		}
	}
	snprintf(a->db, sizeof(a->db), "%s/%s", a->dir, STORE_DB_FILE);
	return 0;
}

/* Opens the store with `opts` (node filled in here). */
static int open_with(struct admin *a, struct store_options *opts,
		     struct store **s, struct store_err *err)
{
	struct stat sb;
	bool readonly;
	int rc;

	opts->node = a->node;
	rc = resolve_paths(a, err);
	if (rc < 0)
		return rc;
	/* A command that never creates a store must not create its dir
	 * either: a missing one is reported as for a reader. */
	readonly = opts->readonly;
	if (!opts->create && stat(a->dir, &sb) < 0 && errno == ENOENT)
		readonly = true;
	rc = store_prepare_data_dir(a->dir, readonly, err);
	if (rc < 0)
		return rc;
	return store_open(a->db, opts, s, err);
}

static int open_store(struct admin *a, bool readonly, bool create,
		      struct store **s, struct store_err *err)
{
	struct store_options opts = {
		.readonly = readonly,
		.create = create,
	};

	return open_with(a, &opts, s, err);
}

/*
 * The store's err.msg is the one line a user needs: the store's own log line
 * about the same failure would repeat it.  Returns the level to put back.
 */
static int quiet(void)
{
	int saved = log_level;

	log_level = LOG_CRIT;
	return saved;
}

/*
 * Reports a store that could not be opened or failed its check.  A damaged
 * store (and a missing one when a snapshot could bring it back) gets the
 * recovery hint naming the newest good snapshot; anything else the reason.
 */
static int fail_store(struct admin *a, const struct store_err *err, int rc)
{
	char hint[2 * STORE_ERR_MAX + 3 * PATH_MAX];
	int hrc;

	if (!admin_recovery_needed(rc) && rc != -ENOENT)
		return fail(err, rc);
	if (!a->dir[0] && resolve_paths(a, &(struct store_err){ { 0 } }) < 0)
		return fail(err, rc);
	hrc = admin_recovery_hint(a->dir, err && err->msg[0] ? err->msg : strerror(-rc),
				  hint, sizeof(hint));
	if (hrc < 0 && rc == -ENOENT)
		return fail(err, rc);
	fprintf(stderr, PROG ": %s\n", hint);
	return EXIT_FAILURE;
}

/* DATA/snapshots into buf. */
static int snapshot_dir(struct admin *a, char *buf, size_t size, struct store_err *err)
{
	int rc = resolve_paths(a, err);

	if (rc < 0)
		return rc;
	if (snprintf(buf, size, "%s/%s", a->dir, STORE_SNAPSHOT_DIR) >= (int)size) {
		snprintf(err->msg, sizeof(err->msg), "data dir path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- status ---------------------------------------------------------------- */

static void format_size(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRId64 " B", bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

struct ns_names {
	cJSON *array;   /* --json: names collected here */
	FILE *f;        /* text: names printed here */
	int n;
};

static int status_ns(const struct store_ns_info *info, void *arg)
{
	struct ns_names *nn = arg;

	if (nn->array) {
		cJSON *str = cJSON_CreateString(info->name);

		if (!str || !cJSON_AddItemToArray(nn->array, str)) {
			cJSON_Delete(str);
			return -ENOMEM;
		}
	} else {
		fprintf(nn->f, "%s%s", nn->n ? ", " : "", info->name);
	}
	nn->n++;
	return 0;
}

/* Number and total size of the snapshots, for status. */
struct snap_totals {
	int64_t count;
	int64_t bytes;
};

static int add_snapshot(const struct store_snapshot_info *info, void *arg)
{
	struct snap_totals *t = arg;

	t->count++;
	t->bytes += info->bytes;
	return 0;
}

static int status_json(struct store *s, const struct store_status *st,
		       const struct snap_totals *snaps)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *res, *nss, *store, *snap, *log;
	char *text = NULL, digest[33];
	size_t len;
	int rc = store_digest(s, digest, NULL);

	/* The replication digest: equal on nodes that hold the same state. */
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	if (!root)
		goto out;
	if (!cJSON_AddStringToObject(root, "node", st->node) ||
	    !cJSON_AddNumberToObject(root, "revision", (double)st->revision) ||
	    !cJSON_AddStringToObject(root, "digest", digest) ||
	    !cJSON_AddNumberToObject(root, "schema_version", st->schema_version) ||
	    !cJSON_AddStringToObject(root, "sync",
				     st->sync == STORE_SYNC_NORMAL ? "normal" : "full"))
		goto out;
	res = cJSON_AddObjectToObject(root, "resources");
	nss = cJSON_AddObjectToObject(root, "namespaces");
	if (!res || !nss)
		goto out;
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		struct ns_names nn = { 0 };

		if (!cJSON_AddNumberToObject(res, store_kind_dir(k),
					     (double)st->resources[k]))
			goto out;
		nn.array = cJSON_AddArrayToObject(nss, store_kind_dir(k));
		if (!nn.array)
			goto out;
		rc = store_ns_list(s, k, status_ns, &nn);
		if (rc < 0)
			goto out;
		rc = -ENOMEM;
	}
	store = cJSON_AddObjectToObject(root, "store");
	if (!store ||
	    !cJSON_AddNumberToObject(store, "db_bytes", (double)st->db_bytes) ||
	    !cJSON_AddNumberToObject(store, "wal_bytes", (double)st->wal_bytes) ||
	    !cJSON_AddNumberToObject(store, "total_bytes",
				     (double)(st->db_bytes + st->wal_bytes)))
		goto out;
	snap = cJSON_AddObjectToObject(root, "snapshots");
	if (!snap ||
	    !cJSON_AddNumberToObject(snap, "count", (double)snaps->count) ||
	    !cJSON_AddNumberToObject(snap, "bytes", (double)snaps->bytes))
		goto out;
	log = cJSON_AddObjectToObject(root, "changelog");
	if (!log ||
	    !cJSON_AddNumberToObject(log, "entries", (double)st->changes) ||
	    !cJSON_AddNumberToObject(log, "oldest_revision",
				     (double)st->oldest_revision) ||
	    !cJSON_AddNumberToObject(log, "newest_revision",
				     (double)(st->changes ? st->revision : 0)) ||
	    !cJSON_AddNumberToObject(root, "tombstones", (double)st->tombstones))
		goto out;
	rc = admin_json_print(root, &text, &len);
	if (rc == 0)
		fwrite(text, 1, len, stdout);
out:
	free(text);
	cJSON_Delete(root);
	return rc;
}

static int status_text(struct store *s, const struct store_status *st,
		       const struct snap_totals *snaps)
{
	char total[32], db[32], wal[32], snap[32], digest[33];
	int rc = store_digest(s, digest, NULL);

	if (rc < 0)
		return rc;
	format_size(st->db_bytes + st->wal_bytes, total, sizeof(total));
	format_size(st->db_bytes, db, sizeof(db));
	format_size(st->wal_bytes, wal, sizeof(wal));
	printf("%-16s%s\n", "node", st->node);
	printf("%-16s%" PRId64 "\n", "revision", st->revision);
	printf("%-16s%s\n", "digest", digest);
	printf("%-16s%d\n", "schema version", st->schema_version);
	printf("%-16s%s\n", "synchronous",
	       st->sync == STORE_SYNC_NORMAL ? "normal" : "full");
	printf("%-16s%s (database %s, WAL %s)\n", "store size", total, db, wal);
	if (st->changes > 0)
		printf("%-16s%" PRId64 " entr%s, revisions %" PRId64 "..%" PRId64 "\n",
		       "change log", st->changes, st->changes == 1 ? "y" : "ies",
		       st->oldest_revision, st->revision);
	else
		printf("%-16s%s\n", "change log", "empty");
	printf("%-16s%" PRId64 "\n", "tombstones", st->tombstones);
	format_size(snaps->bytes, snap, sizeof(snap));
	if (snaps->count > 0)
		printf("%-16s%" PRId64 " (%s)\n", "snapshots", snaps->count, snap);
	else
		printf("%-16s%s\n", "snapshots", "none");
	printf("\n%-12s %9s  %s\n", "KIND", "RESOURCES", "NAMESPACES");
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		struct ns_names nn = { .f = stdout };

		printf("%-12s %9" PRId64 "  ", store_kind_dir(k), st->resources[k]);
		rc = store_ns_list(s, k, status_ns, &nn);
		if (rc < 0)
			return rc;
		printf("%s\n", nn.n ? "" : "-");
	}
	return 0;
}

static int cmd_status(struct admin *a, int argc, char **argv)
{
	struct store_options opts = { .readonly = true, .quick_check = true };
	struct store_err err = { { 0 } };
	struct snap_totals snaps = { 0 };
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	struct store_status st;
	struct store *s = NULL;
	bool json = false;
	int rc, saved;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return unknown_arg(argv[i]);
	}
	/* quick_check: a status that looks fine over a damaged store would be
	 * worse than none. */
	saved = quiet();
	rc = open_with(a, &opts, &s, &err);
	log_level = saved;
	if (rc < 0)
		return fail_store(a, &err, rc);
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc < 0) {
		store_close(s);
		return fail(&err, rc);
	}
	rc = store_status(s, &st);
	if (rc == 0)
		rc = store_snapshot_list(dir, add_snapshot, &snaps);
	if (rc == 0)
		rc = json ? status_json(s, &st, &snaps) : status_text(s, &st, &snaps);
	store_close(s);
	if (rc < 0) {
		snprintf(err.msg, sizeof(err.msg), "unable to read the status: %s",
			 strerror(-rc));
		return fail(&err, rc);
	}
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- check ------------------------------------------------------------------- */

/* What store_check found: problems with documents can be fixed by writing
 * them again; anything else comes from integrity_check, i.e. the file is
 * damaged. */
struct check_findings {
	bool print;               /* print each problem on stdout */
	int64_t damage;           /* problems that are not about one document */
	char first[STORE_ERR_MAX]; /* the first of those */
};

static bool document_problem(const char *msg)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *dir = store_kind_dir(k);
		size_t len = strlen(dir);

		if (strncmp(msg, dir, len) == 0 && msg[len] == '/')
			return true;
	}
	return false;
}

static void check_problem(const char *msg, void *arg)
{
	struct check_findings *f = arg;

	if (f->print)
		printf("%s\n", msg);
	if (document_problem(msg))
		return;
	if (f->damage++ == 0)
		snprintf(f->first, sizeof(f->first), "%s", msg);
}

/*
 * store_check, sorting damage from bad documents.  Returns 0, -EIO when the
 * file is damaged (err says how), or another negative errno.
 */
static int check_store(struct store *s, struct check_findings *f, int64_t *problems,
		       struct store_err *err)
{
	int rc = store_check(s, check_problem, f, problems);

	if (rc < 0 && f->damage == 0)
		snprintf(f->first, sizeof(f->first), "integrity_check failed: %s",
			 strerror(-rc));
	if (rc == -EIO || f->damage > 0) {
		snprintf(err->msg, sizeof(err->msg), "%s", f->first);
		return -EIO;
	}
	if (rc < 0)
		snprintf(err->msg, sizeof(err->msg), "unable to check the store: %s",
			 strerror(-rc));
	return rc;
}

static int cmd_check(struct admin *a, int argc, char **argv)
{
	struct check_findings f = { .print = true };
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	int64_t problems = 0;
	int rc, saved;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc == 0)
			return unknown_arg(argv[i]);
	}
	saved = quiet();
	rc = open_store(a, true, false, &s, &err);
	if (rc == 0)
		rc = check_store(s, &f, &problems, &err);
	store_close(s);
	log_level = saved;
	if (rc < 0)
		return fail_store(a, &err, rc);
	if (problems > 0) {
		printf("%" PRId64 " problem%s found\n", problems,
		       problems == 1 ? "" : "s");
		return EXIT_FAILURE;
	}
	printf("ok\n");
	return EXIT_SUCCESS;
}

/* ---- export / import ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void export_report(enum admin_severity sev, const char *msg, void *arg)
{
	fprintf(stderr, PROG ": %s: %s\n", sev == ADMIN_ERROR ? "error" : "warning", msg);
}

static int cmd_export(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	const char *out = NULL;
	bool kubernetes = false;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--kubernetes") == 0 || strcmp(argv[i], "-k") == 0) {
			kubernetes = true;
			continue;
		}
		rc = global_opt(a, argc, argv, &i);
		if (rc == 0)
			rc = opt_value(argc, argv, &i, "--output", "-o", &out);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc == 0)
			return unknown_arg(argv[i]);
	}
	/* read-write only to hold one transaction over the whole export */
	rc = open_store(a, false, false, &s, &err);
	if (rc < 0)
		return fail(&err, rc);
	if (kubernetes)
		rc = admin_kubernetes_file(s, out, now_ms(), export_report, NULL, &err);
	else
		rc = admin_export_file(s, out, now_ms(), &err);
	store_close(s);
	if (rc < 0)
		return fail(&err, rc);
	return EXIT_SUCCESS;
}

static void import_report(enum admin_severity sev, const char *msg, void *arg)
{
	fprintf(stderr, "%s: %s\n", sev == ADMIN_ERROR ? "error" : "warning", msg);
}

static int cmd_import(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct admin_import_opts opts = { .report = import_report };
	struct admin_import_result res;
	struct store *s = NULL;
	const char *file = NULL;
	char *data = NULL;
	size_t len = 0;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			opts.dry_run = true;
		else if (!file && (strcmp(argv[i], "-") == 0 || argv[i][0] != '-'))
			file = argv[i];
		else
			return unknown_arg(argv[i]);
	}
	if (!file)
		return usage_error("import needs a FILE (or - for stdin)");

	rc = admin_read_file(file, &data, &len, &err);
	if (rc < 0)
		return fail(&err, rc);
	/* a dry run needs no store of its own: an empty one would say the same */
	rc = resolve_paths(a, &err);
	if (rc == 0 && !(opts.dry_run && access(a->db, F_OK) != 0))
		rc = open_store(a, opts.dry_run, !opts.dry_run, &s, &err);
	if (rc < 0) {
		free(data);
		return fail(&err, rc);
	}
	rc = admin_import(s, data, len, &opts, &res, &err);
	free(data);
	store_close(s);
	if (rc < 0) {
		if (res.errors > 0)
			fprintf(stderr, PROG ": %" PRId64 " error%s, %" PRId64
				" warning%s, nothing imported\n",
				res.errors, res.errors == 1 ? "" : "s",
				res.warnings, res.warnings == 1 ? "" : "s");
		else
			fail(&err, rc);
		return EXIT_FAILURE;
	}
	printf("%s%" PRId64 " resource%s (%" PRId64 " deployments, %" PRId64
	       " services, %" PRId64 " pods, %" PRId64 " ingresses), %" PRId64
	       " warning%s\n",
	       opts.dry_run ? "dry run: would import " : "imported ", res.total,
	       res.total == 1 ? "" : "s", res.resources[STORE_KIND_DEPLOYMENT],
	       res.resources[STORE_KIND_SERVICE], res.resources[STORE_KIND_POD],
	       res.resources[STORE_KIND_INGRESS], res.warnings,
	       res.warnings == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

/* ---- log / compact ------------------------------------------------------------- */

static int cmd_log(struct admin *a, int argc, char **argv)
{
	struct store_log_filter filter = { 0 };
	struct store_err err = { { 0 } };
	char ns[STORE_NAME_MAX + 1], name[STORE_NAME_MAX + 1];
	struct store *s = NULL;
	const char *path = NULL, *v;
	bool json = false;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		rc = opt_value(argc, argv, &i, "--since", NULL, &v);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0) {
			if (parse_count("--since", v, &filter.after_revision) < 0)
				return EXIT_USAGE;
			continue;
		}
		rc = opt_value(argc, argv, &i, "--limit", "-n", &v);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0) {
			if (parse_count("--limit", v, &filter.limit) < 0)
				return EXIT_USAGE;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			return unknown_arg(argv[i]);
	}
	if (path && admin_log_parse_path(path, &filter, ns, name, &err) < 0)
		return usage_error("%s", err.msg);

	rc = open_store(a, true, false, &s, &err);
	if (rc < 0)
		return fail(&err, rc);
	rc = admin_log_print(s, &filter, json, stdout);
	store_close(s);
	if (rc < 0) {
		snprintf(err.msg, sizeof(err.msg), "unable to read the change log: %s",
			 strerror(-rc));
		return fail(&err, rc);
	}
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_compact(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	int64_t keep = DEFAULT_KEEP, removed = 0;
	const char *v;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		rc = opt_value(argc, argv, &i, "--keep", NULL, &v);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc == 0)
			return unknown_arg(argv[i]);
		if (parse_count("--keep", v, &keep) < 0)
			return EXIT_USAGE;
	}
	rc = open_store(a, false, false, &s, &err);
	if (rc < 0)
		return fail(&err, rc);
	rc = store_compact(s, keep, &removed);
	store_close(s);
	if (rc < 0) {
		snprintf(err.msg, sizeof(err.msg), "unable to compact the store: %s",
			 strerror(-rc));
		return fail(&err, rc);
	}
	printf("dropped %" PRId64 " change-log entr%s, kept the newest %" PRId64 "\n",
	       removed, removed == 1 ? "y" : "ies", keep);
	return EXIT_SUCCESS;
}

/* ---- snapshots ------------------------------------------------------------------- */

/* The one NAME argument of a snapshot command; returns 0, or the exit
 * status after a usage error. */
static int one_name(struct admin *a, int argc, char **argv, const char *cmd,
		    const char **name)
{
	int rc;

	*name = NULL;
	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		if (*name || argv[i][0] == '-')
			return unknown_arg(argv[i]);
		*name = argv[i];
	}
	if (!*name)
		return usage_error("%s needs a snapshot NAME", cmd);
	return 0;
}

static int cmd_snapshot(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct store_snapshot_info info;
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	struct store *s = NULL;
	const char *name;
	int rc, saved;

	rc = one_name(a, argc, argv, "snapshot", &name);
	if (rc != 0)
		return rc;
	/* Checked before the store is opened: a bad name is the user's
	 * mistake whatever state the store is in. */
	if (!store_name_valid(name)) {
		fprintf(stderr, PROG ": invalid snapshot name '%s': must be a DNS label "
			"(lowercase letters, digits and '-', at most %d characters)\n",
			name, STORE_NAME_MAX);
		return EXIT_FAILURE;
	}
	saved = quiet();
	rc = open_store(a, false, false, &s, &err);
	if (rc < 0) {
		log_level = saved;
		return fail_store(a, &err, rc);
	}
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc == 0)
		rc = store_snapshot_create(s, dir, name, false, &info, &err);
	store_close(s);
	log_level = saved;
	if (rc < 0)
		return fail(&err, rc);
	printf("snapshot '%s' taken at revision %" PRId64 " (%" PRId64 " resource%s, %"
	       PRId64 " bytes)\n", info.name, info.revision, info.resources,
	       info.resources == 1 ? "" : "s", info.bytes);
	return EXIT_SUCCESS;
}

struct snap_print {
	cJSON *array;  /* --json: collected here */
	int n;
};

static int snapshot_row(const struct store_snapshot_info *info, void *arg)
{
	struct snap_print *p = arg;
	char created[32], size[32];

	store_format_time(info->created_ms, created, sizeof(created));
	if (p->array) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(p->array, o)) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		if (!cJSON_AddStringToObject(o, "name", info->name) ||
		    !cJSON_AddStringToObject(o, "created", created) ||
		    !cJSON_AddNumberToObject(o, "revision", (double)info->revision) ||
		    !cJSON_AddNumberToObject(o, "resources", (double)info->resources) ||
		    !cJSON_AddNumberToObject(o, "bytes", (double)info->bytes) ||
		    !cJSON_AddBoolToObject(o, "automatic", info->automatic))
			return -ENOMEM;
	} else {
		if (p->n == 0)
			printf("%-32s %-20s %9s %9s %10s  %s\n", "NAME", "CREATED", "REVISION",
			       "RESOURCES", "SIZE", "TYPE");
		format_size(info->bytes, size, sizeof(size));
		printf("%-32s %-20s %9" PRId64 " %9" PRId64 " %10s  %s\n", info->name, created,
		       info->revision, info->resources, size,
		       info->automatic ? "automatic" : "manual");
	}
	p->n++;
	return 0;
}

static int cmd_snapshots(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct snap_print p = { 0 };
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	char *text = NULL;
	bool json = false;
	size_t len;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return unknown_arg(argv[i]);
	}
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc < 0)
		return fail(&err, rc);
	if (json) {
		p.array = cJSON_CreateArray();
		if (!p.array)
			return fail(NULL, -ENOMEM);
	}
	/* No store needed: snapshots are listed from their own files, so this
	 * works when the main store is lost. */
	rc = store_snapshot_list(dir, snapshot_row, &p);
	if (rc == 0 && json) {
		rc = admin_json_print(p.array, &text, &len);
		if (rc == 0)
			fwrite(text, 1, len, stdout);
	}
	free(text);
	cJSON_Delete(p.array);
	if (rc < 0) {
		fprintf(stderr, PROG ": unable to list the snapshots in '%s': %s\n", dir,
			strerror(-rc));
		return EXIT_FAILURE;
	}
	if (!json && p.n == 0)
		printf("no snapshots in '%s'\n", dir);
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_snapshot_rm(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	const char *name;
	int rc;

	rc = one_name(a, argc, argv, "snapshot-rm", &name);
	if (rc != 0)
		return rc;
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc == 0)
		rc = store_snapshot_delete(dir, name, &err);
	if (rc < 0)
		return fail(&err, rc);
	printf("removed snapshot '%s'\n", name);
	return EXIT_SUCCESS;
}

/* ---- restore ----------------------------------------------------------------- */

/*
 * Takes DATA/swarmfs.lock the way the mount does, without waiting: -EBUSY
 * (with the holder's pid in *holder, 0 if unknown) while a mount runs.  On
 * 0, *fd holds the lock until closed (-1: no lock file, so no mount ever
 * ran here).
 */
static int take_mount_lock(const char *data_dir, int *fd, long *holder)
{
	char path[PATH_MAX + 32], buf[32];
	ssize_t n;
	int e;

	*holder = 0;
	snprintf(path, sizeof(path), "%s/swarmfs.lock", data_dir);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	e = errno;
	if (e == EWOULDBLOCK) {
		/* The mount writes its pid into the file it locks. */
		n = pread(*fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		*holder = strtol(buf, NULL, 10);
		e = EBUSY;
	}
	close(*fd);
	*fd = -1;
	return -e;
}

/* What a restore changed, counted from the change log. */
struct restore_counts {
	const char *source;   /* "snapshot:NAME" */
	int64_t upto;         /* the restore's last revision */
	int64_t ops[4];       /* by enum store_op */
};

static int count_change(const struct store_change *c, void *arg)
{
	struct restore_counts *n = arg;
	size_t op = (size_t)c->op;

	/* Non-zero stops the walk: later changes are not the restore's. */
	if (c->revision > n->upto)
		return 1;
	if (c->source && strcmp(c->source, n->source) == 0 &&
	    op < sizeof(n->ops) / sizeof(n->ops[0]))
		n->ops[op]++;
	return 0;
}

/* Restore into a healthy store: one transaction through the store. */
static int restore_live(struct store *s, const char *dir, const char *name)
{
	char source[STORE_NAME_MAX + 16];
	struct store_err err = { { 0 } };
	struct restore_counts counts = { .source = source };
	struct store_log_filter filter = { 0 };
	struct store_result res;
	int64_t before = 0;
	int rc;

	snprintf(source, sizeof(source), "snapshot:%s", name);
	rc = store_revision(s, &before);
	if (rc == 0)
		rc = store_snapshot_restore(s, dir, name, &res, &err);
	if (rc < 0)
		return fail(&err, rc);
	if (res.revision == before) {
		printf("restored snapshot '%s': the state was already the snapshot's, nothing "
		       "changed (revision %" PRId64 ")\n", name, before);
		return EXIT_SUCCESS;
	}
	/* Other writers may commit around the restore: count only its own
	 * changes, which carry its source. */
	filter.after_revision = before;
	counts.upto = res.revision;
	rc = store_log(s, &filter, count_change, &counts);
	if (rc < 0) {
		/* Done and durable: only the report is short. */
		printf("restored snapshot '%s'; the store is now at revision %" PRId64 "\n",
		       name, res.revision);
		return EXIT_SUCCESS;
	}
	printf("restored snapshot '%s': %" PRId64 " resource%s put, %" PRId64 " deleted",
	       name, counts.ops[STORE_OP_PUT], counts.ops[STORE_OP_PUT] == 1 ? "" : "s",
	       counts.ops[STORE_OP_DELETE]);
	if (counts.ops[STORE_OP_NS_CREATE] || counts.ops[STORE_OP_NS_DELETE])
		printf(", %" PRId64 " namespace%s created, %" PRId64 " removed",
		       counts.ops[STORE_OP_NS_CREATE],
		       counts.ops[STORE_OP_NS_CREATE] == 1 ? "" : "s",
		       counts.ops[STORE_OP_NS_DELETE]);
	printf("; the store is now at revision %" PRId64 "\n", res.revision);
	return EXIT_SUCCESS;
}

/* Restore over a damaged or missing store: the file is replaced by a copy of
 * the snapshot, the old one moved aside.  Never under a running mount, which
 * would go on writing to the file it has open. */
static int restore_recover(struct admin *a, const char *dir,
			   const struct store_snapshot_info *info, const char *why)
{
	struct store_err err = { { 0 } };
	char *aside = NULL;
	long holder;
	int fd, rc;

	rc = take_mount_lock(a->dir, &fd, &holder);
	if (rc == -EBUSY) {
		char pid[32] = "";

		if (holder > 0)
			snprintf(pid, sizeof(pid), " (pid %ld)", holder);
		fprintf(stderr, PROG ": %s, and swarmfs%s is mounted on data dir '%s': "
			"unmount it first, then run this restore again\n", why, pid, a->dir);
		return EXIT_FAILURE;
	}
	if (rc < 0) {
		fprintf(stderr, PROG ": unable to lock data dir '%s': %s\n", a->dir,
			strerror(-rc));
		return EXIT_FAILURE;
	}
	/* The lock is held through the swap, so no mount starts halfway. */
	rc = store_snapshot_recover(a->db, dir, info->name, &aside, &err);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return fail(&err, rc);
	printf("%s\nreplaced '%s' with snapshot '%s' (revision %" PRId64 ", %" PRId64
	       " resource%s)", why, a->db, info->name, info->revision, info->resources,
	       info->resources == 1 ? "" : "s");
	if (aside)
		printf("; the damaged store was moved to '%s'", aside);
	printf("\n");
	free(aside);
	return EXIT_SUCCESS;
}

static int cmd_restore(struct admin *a, int argc, char **argv)
{
	struct store_options opts = { .quick_check = true };
	struct check_findings f = { 0 };
	struct store_err err = { { 0 } };
	struct store_snapshot_info info;
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	char why[STORE_ERR_MAX + PATH_MAX + 32];
	struct store *s = NULL;
	int64_t problems = 0;
	const char *name;
	int rc, saved;

	rc = one_name(a, argc, argv, "restore", &name);
	if (rc != 0)
		return rc;
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc == 0)
		rc = store_snapshot_get(dir, name, &info, &err);
	if (rc < 0)
		return fail(&err, rc);

	saved = quiet();
	rc = open_with(a, &opts, &s, &err);
	/* A store that opens but fails integrity_check is as lost as one that
	 * does not open: restoring through it would read garbage. */
	if (rc == 0)
		rc = check_store(s, &f, &problems, &err);
	if (rc == 0) {
		rc = restore_live(s, dir, name);
		store_close(s);
		log_level = saved;
		return rc;
	}
	store_close(s);
	if (rc != -ENOENT && !admin_recovery_needed(rc)) {
		log_level = saved;
		return fail(&err, rc);
	}
	if (rc == -ENOENT)
		snprintf(why, sizeof(why), "%s", err.msg);
	else if (strstr(err.msg, a->db))
		snprintf(why, sizeof(why), "%s", err.msg);
	else
		snprintf(why, sizeof(why), "store '%s' is corrupt: %s", a->db, err.msg);
	rc = restore_recover(a, dir, &info, why);
	log_level = saved;
	return rc;
}

/* ---- prune ------------------------------------------------------------------- */

static int print_pruned(const struct store_snapshot_info *info, void *arg)
{
	int64_t *n = arg;
	char created[32];

	store_format_time(info->created_ms, created, sizeof(created));
	printf("pruned '%s' (created %s, revision %" PRId64 ")\n", info->name, created,
	       info->revision);
	++*n;
	return 0;
}

struct snap_vec {
	struct store_snapshot_info *v;
	size_t n, cap;
};

static int snap_vec_add(const struct store_snapshot_info *info, void *arg)
{
	struct snap_vec *sv = arg;

	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 16;
		void *v = realloc(sv->v, cap * sizeof(*sv->v));

		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = *info;
	return 0;
}

/* --dry-run: the same selection, printed, nothing removed. */
static int prune_dry(const char *dir, const struct store_retention *r, int64_t *n)
{
	struct snap_vec sv = { 0 };
	bool *keep = NULL;
	int rc = store_snapshot_list(dir, snap_vec_add, &sv);

	if (rc == 0) {
		keep = calloc(sv.n ? sv.n : 1, sizeof(*keep));
		if (!keep)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		store_retention_select(sv.v, sv.n, r, keep);
		for (size_t i = 0; i < sv.n; i++) {
			char created[32];

			if (keep[i])
				continue;
			store_format_time(sv.v[i].created_ms, created, sizeof(created));
			printf("would prune '%s' (created %s, revision %" PRId64 ")\n",
			       sv.v[i].name, created, sv.v[i].revision);
			++*n;
		}
	}
	free(keep);
	free(sv.v);
	return rc;
}

static int cmd_prune(struct admin *a, int argc, char **argv)
{
	struct store_retention r = STORE_RETENTION_DEFAULT;
	struct store_err err = { { 0 } };
	char dir[PATH_MAX + sizeof(STORE_SNAPSHOT_DIR) + 1];
	bool dry_run = false;
	int64_t pruned = 0;
	const char *v;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		rc = opt_value(argc, argv, &i, "--retention", NULL, &v);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0) {
			if (store_retention_parse(v, &r, &err) < 0)
				return usage_error("%s", err.msg);
			continue;
		}
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			dry_run = true;
		else
			return unknown_arg(argv[i]);
	}
	rc = snapshot_dir(a, dir, sizeof(dir), &err);
	if (rc < 0)
		return fail(&err, rc);
	if (dry_run) {
		rc = prune_dry(dir, &r, &pruned);
		if (rc < 0) {
			fprintf(stderr, PROG ": unable to list the snapshots in '%s': %s\n", dir,
				strerror(-rc));
			return EXIT_FAILURE;
		}
	} else {
		rc = store_snapshot_prune(dir, &r, print_pruned, &pruned, &err);
		if (rc < 0)
			return fail(&err, rc);
	}
	if (pruned == 0)
		printf("nothing to prune\n");
	else
		printf("%s %" PRId64 " automatic snapshot%s\n", dry_run ? "would prune" : "pruned",
		       pruned, pruned == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

/* ---- main ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*run)(struct admin *a, int argc, char **argv);
	bool changes_state; /* on success, wake the mount and the sidecar */
} commands[] = {
	{ "status", cmd_status, false },
	{ "check", cmd_check, false },
	{ "export", cmd_export, false },
	{ "import", cmd_import, true },
	{ "log", cmd_log, false },
	{ "compact", cmd_compact, false },
	{ "snapshot", cmd_snapshot, false },
	{ "snapshots", cmd_snapshots, false },
	{ "snapshot-rm", cmd_snapshot_rm, false },
	{ "restore", cmd_restore, true },
	{ "prune", cmd_prune, false },
};

int main(int argc, char **argv)
{
	struct admin a = { 0 };
	int i, rc;

	log_level = LOG_WARNING;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf(PROG " " SWARMFS_VERSION "\n");
			return EXIT_SUCCESS;
		}
		rc = global_opt(&a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc > 0)
			continue;
		if (arg[0] == '-')
			return usage_error("unknown option '%s'", arg);
		break;
	}
	if (i >= argc)
		return usage_error("no command given");
	/* `swarmfs-admin CMD --help` is a request for help, not an error */
	for (int j = i + 1; j < argc; j++)
		if (strcmp(argv[j], "-h") == 0 || strcmp(argv[j], "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		rc = commands[c].run(&a, argc - i - 1, argv + i + 1);
		/* So the mount shows it and the sidecar publishes it now, not at
		 * their next poll; nobody listening is fine. */
		if (rc == EXIT_SUCCESS && commands[c].changes_state && a.dir[0]) {
			store_notify_poke(a.dir, STORE_NOTIFY_MOUNT);
			store_notify_poke(a.dir, STORE_NOTIFY_SYNC);
		}
		return rc;
	}
	return usage_error("unknown command '%s'", argv[i]);
}
