/* main.c - swarmfs-admin: the command line over one data dir's store; it
 * opens its own SQLite connection, so it works with or without a mount. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"

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
	"  import FILE|- [--dry-run]  a swarmfs export or a Podman Swarm state.json,\n"
	"                             in one transaction; nothing is applied on any error\n"
	"  log [KIND[/NS[/NAME]]] [--since REV] [--limit N] [--json]\n"
	"                             the change history, oldest first; --since REV shows\n"
	"                             the changes after REV, --limit the first N of them\n"
	"  compact [--keep N]         drop change-log entries but the newest N (default 1000)\n"
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

static int open_store(struct admin *a, bool readonly, bool create,
		      struct store **s, struct store_err *err)
{
	struct store_options opts = {
		.node = a->node,
		.readonly = readonly,
		.create = create,
	};
	int rc;

	rc = resolve_paths(a, err);
	if (rc < 0)
		return rc;
	rc = store_prepare_data_dir(a->dir, readonly, err);
	if (rc < 0)
		return rc;
	return store_open(a->db, &opts, s, err);
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

static int status_json(struct store *s, const struct store_status *st)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *res, *nss, *store, *log;
	char *text = NULL;
	size_t len;
	int rc = -ENOMEM;

	if (!root)
		goto out;
	if (!cJSON_AddStringToObject(root, "node", st->node) ||
	    !cJSON_AddNumberToObject(root, "revision", (double)st->revision) ||
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

static int status_text(struct store *s, const struct store_status *st)
{
	char total[32], db[32], wal[32];
	int rc;

	format_size(st->db_bytes + st->wal_bytes, total, sizeof(total));
	format_size(st->db_bytes, db, sizeof(db));
	format_size(st->wal_bytes, wal, sizeof(wal));
	printf("%-16s%s\n", "node", st->node);
	printf("%-16s%" PRId64 "\n", "revision", st->revision);
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
	struct store_err err = { { 0 } };
	struct store_status st;
	struct store *s = NULL;
	bool json = false;
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
	rc = open_store(a, true, false, &s, &err);
	if (rc < 0)
		return fail(&err, rc);
	rc = store_status(s, &st);
	if (rc == 0)
		rc = json ? status_json(s, &st) : status_text(s, &st);
	store_close(s);
	if (rc < 0) {
		snprintf(err.msg, sizeof(err.msg), "unable to read the status: %s",
			 strerror(-rc));
		return fail(&err, rc);
	}
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- check ------------------------------------------------------------------- */

static void check_problem(const char *msg, void *arg)
{
	printf("%s\n", msg);
}

static int cmd_check(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	int64_t problems = 0;
	int rc;

	for (int i = 0; i < argc; i++) {
		rc = global_opt(a, argc, argv, &i);
		if (rc < 0)
			return EXIT_USAGE;
		if (rc == 0)
			return unknown_arg(argv[i]);
	}
	rc = open_store(a, true, false, &s, &err);
	if (rc < 0)
		return fail(&err, rc);
	rc = store_check(s, check_problem, NULL, &problems);
	store_close(s);
	if (rc < 0) {
		snprintf(err.msg, sizeof(err.msg), "unable to check the store: %s",
			 strerror(-rc));
		return fail(&err, rc);
	}
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

static int cmd_export(struct admin *a, int argc, char **argv)
{
	struct store_err err = { { 0 } };
	struct store *s = NULL;
	const char *out = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
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

/* ---- main ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*run)(struct admin *a, int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "check", cmd_check },
	{ "export", cmd_export },
	{ "import", cmd_import },
	{ "log", cmd_log },
	{ "compact", cmd_compact },
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
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].run(&a, argc - i - 1, argv + i + 1);
	return usage_error("unknown command '%s'", argv[i]);
}
