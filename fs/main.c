/* main.c - swarmfs: parses the command line, takes the data dir lock, checks
 * the store, mounts, daemonizes with a readiness pipe, and only then starts
 * the watcher thread and the FUSE loop (fork keeps only the calling thread). */
#include "handle.h"
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "recovery.h"

#define DEFAULT_INTERVAL 3600
#define DEFAULT_KEEP "hourly=24,daily=7,weekly=4,monthly=12"

struct fs fs;

static pthread_key_t store_key;

int64_t fs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fs_store_open(bool readonly, struct store **out, struct store_err *err)
{
	struct store_options o;

	memset(&o, 0, sizeof(o));
	o.node = fs.node;
	o.sync = fs.sync;
	o.readonly = readonly || fs.readonly;
	return store_open(fs.db_path, &o, out, err);
}

static void close_store(void *p)
{
	store_close(p);
}

void fs_store_init(void)
{
	pthread_key_create(&store_key, close_store);
}

int fs_store(struct store **out)
{
	struct store *s = pthread_getspecific(store_key);
	struct store_err err;
	int rc;

	if (s == NULL) {
		rc = fs_store_open(false, &s, &err);
		if (rc < 0) {
			log_limited(LOG_ERR, "unable to open the store: %s", err.msg);
			return rc;
		}
		pthread_setspecific(store_key, s);
	}
	*out = s;
	return 0;
}

void fs_store_close_thread(void)
{
	store_close(pthread_getspecific(store_key));
	pthread_setspecific(store_key, NULL);
}

/* libfuse refuses an unknown mount option with a line of its own: while the
 * session is created that line is kept here instead, so that the one line
 * the user sees says what was wrong. */
static bool fuse_log_capture;
static char fuse_log_last[512];

/* libfuse writes some messages in pieces ("unknown option(s): `", the
 * option, "'\n"): gather them per thread into one line. */
static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	size_t n;

	vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	n = strlen(line);
	if (n > 0 && line[n - 1] != '\n' && n < sizeof(line) - 1) {
		used = n;
		return;
	}
	used = 0;
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (fuse_log_capture && level <= FUSE_LOG_ERR) {
		snprintf(fuse_log_last, sizeof(fuse_log_last), "%s", line);
		return;
	}
	if ((int)level <= log_level)
		log_write((int)level, "%s", line);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: swarmfs [OPTIONS] [SOURCE] MOUNTPOINT\n"
		"\n"
		"Mounts the swarmfs store at MOUNTPOINT.  SOURCE, when given, is the data\n"
		"dir (the form mount.fuse3 uses: swarmfs SOURCE MOUNTPOINT -o OPTS).\n"
		"\n"
		"  --data-dir DIR       data dir (default /var/lib/swarmfs for root,\n"
		"                       else ${XDG_DATA_HOME:-$HOME/.local/share}/swarmfs)\n"
		"  --node NAME          node name (default: the one recorded, else the host name)\n"
		"  -f                   stay in the foreground and log to stderr\n"
		"  -s                   single-threaded loop\n"
		"  -d                   debug output (implies -f)\n"
		"  -o OPT[,OPT...]      mount options: FUSE's (allow_other, ro, ...), the\n"
		"                       long options as NAME=VALUE (node=, sync=, ...);\n"
		"                       fstab-only ones (defaults, nofail, _netdev, x-*)\n"
		"                       are ignored\n"
		"  --sync full|normal   SQLite durability (default full)\n"
		"  --log-level LEVEL    error, warning, notice, info or debug (default notice)\n"
		"  --snapshot-interval SECONDS\n"
		"                       take an automatic snapshot this often (default %d,\n"
		"                       0: never); one at start when the newest is older\n"
		"  --snapshot-keep POLICY\n"
		"                       retention of automatic snapshots (default\n"
		"                       %s);\n"
		"                       manual ones (mkdir MOUNT/snapshots/NAME) stay\n"
		"  --help               print this help\n"
		"  --version            print the version\n", DEFAULT_INTERVAL, DEFAULT_KEEP);
}

static void die_args(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die_args(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "swarmfs: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

enum {
	OPT_DATA_DIR = 'D', OPT_NODE = 'N', OPT_SYNC = 'S', OPT_LOG_LEVEL = 'L',
	OPT_INTERVAL = 'I', OPT_KEEP = 'K',
};

static const struct option longopts[] = {
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "sync", required_argument, NULL, OPT_SYNC },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "snapshot-interval", required_argument, NULL, OPT_INTERVAL },
	{ "snapshot-keep", required_argument, NULL, OPT_KEEP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_data_dir;

/* Applies one long option that takes a value, from the command line
 * (`from` NULL) or from `-o NAME=VALUE` (`from` the option as written). */
static void set_long_opt(int c, const char *name, const char *v, const char *from)
{
	char shown[320];
	struct store_err err;

	if (from)
		snprintf(shown, sizeof(shown), "-o %s", from);
	else
		snprintf(shown, sizeof(shown), "--%s '%s'", name, v);
	switch (c) {
	case OPT_DATA_DIR:
		if (opt_data_dir && strcmp(opt_data_dir, v) != 0)
			die_args("two data dirs: '%s' and '%s'", opt_data_dir, v);
		opt_data_dir = v;
		break;
	case OPT_NODE:
		if (!store_name_valid(v))
			die_args("invalid node name '%s' in %s: must be a DNS label", v, shown);
		fs.node_opt = v;
		break;
	case OPT_SYNC:
		if (strcmp(v, "full") == 0)
			fs.sync = STORE_SYNC_FULL;
		else if (strcmp(v, "normal") == 0)
			fs.sync = STORE_SYNC_NORMAL;
		else
			die_args("invalid %s (full or normal)", shown);
		break;
	case OPT_LOG_LEVEL:
		if (log_parse_level(v, &log_level) < 0)
			die_args("invalid %s (error, warning, notice, info or debug)", shown);
		break;
	case OPT_INTERVAL: {
		char *end;
		long long x;

		errno = 0;
		x = strtoll(v, &end, 10);
		if (errno || end == v || *end || x < 0 || x > INT64_MAX / 1000)
			die_args("invalid %s (seconds, 0 for none)", shown);
		fs.snapshot_interval = x;
		break;
	}
	case OPT_KEEP: {
		/* -o splits at commas, so there the rules are joined by ':'. */
		char policy[256];

		snprintf(policy, sizeof(policy), "%s", v);
		if (from)
			for (char *p = policy; *p; p++)
				if (*p == ':')
					*p = ',';
		if (store_retention_parse(policy, &fs.keep, &err) < 0)
			die_args("invalid %s: %s", shown, err.msg);
		break;
	}
	}
}

/* Options that mount(8) and fstab carry but that mean nothing to a FUSE
 * file system (libfuse would refuse them): mount.fuse3 drops some, not all,
 * and a user may pass them by hand. */
static bool mount_only_option(const char *o)
{
	static const char *const names[] = {
		"defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser",
		"users", "owner", "group", "relatime", "norelatime", "strictatime",
		"nostrictatime", "lazytime", "nolazytime", "diratime", "nodiratime",
		"iversion", "noiversion", "silent", "loud", NULL,
	};

	if (strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0)
		return true;
	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return true;
	return false;
}

/* Splits one -o list: the long options written NAME=VALUE are applied,
 * mount-only options dropped, the rest (FUSE's) appended to `fuse_opts`;
 * `ro` and `rw` also set fs.readonly.  The strings applied must outlive
 * parsing, so `list` is a copy the caller keeps. */
static void scan_mount_opts(char *list, char *fuse_opts, size_t size)
{
	char *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		const struct option *o = NULL;

		if (eq) {
			for (o = longopts; o->name; o++)
				if (o->has_arg == required_argument &&
				    strlen(o->name) == (size_t)(eq - t) &&
				    strncmp(o->name, t, (size_t)(eq - t)) == 0)
					break;
			if (!o->name)
				o = NULL;
		}
		if (o) {
			char *from = strdup(t);

			if (from == NULL)
				die_args("out of memory");
			*eq = '\0';
			set_long_opt(o->val, o->name, eq + 1, from);
			free(from);
			continue;
		}
		if (mount_only_option(t))
			continue;
		if (strcmp(t, "ro") == 0)
			fs.readonly = true;
		else if (strcmp(t, "rw") == 0)
			fs.readonly = false;
		if (strlen(fuse_opts) + strlen(t) + 2 > size)
			die_args("mount options too long");
		if (*fuse_opts)
			strcat(fuse_opts, ",");
		strcat(fuse_opts, t);
	}
}

/* Takes the data dir's lock; -EBUSY with the holder's pid in *holder. */
static int lock_data_dir(int *fd_out, pid_t *holder)
{
	char path[PATH_MAX + 32], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/swarmfs.lock", fs.data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EROFS) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		/* No lock file to reuse: the reason is the read-only dir. */
		if (fd < 0 && errno == ENOENT)
			errno = EROFS;
	}
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		*holder = (pid_t)atoi(buf);
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	*fd_out = fd;
	return 0;
}

/* True when PATH (absolute, resolved) is a mount point: mounting over it
 * would hide that mount, and unmounting ours would expose it again. */
static bool is_mount_point(const char *path)
{
	char line[8192], mnt[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *p = line;
		size_t n = 0;

		/* The fifth field, with spaces and the like as \ooo. */
		for (int field = 0; field < 4 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p == NULL)
			continue;
		while (*p && *p != ' ' && n < sizeof(mnt) - 1) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				mnt[n++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 4;
			} else {
				mnt[n++] = *p++;
			}
		}
		mnt[n] = '\0';
		found = strcmp(mnt, path) == 0;
	}
	fclose(f);
	return found;
}

static void write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) != n)
		log_msg(LOG_WARNING, "unable to write the pid into the lock file");
}

/* Parent side of the readiness pipe: exits 0 once the child says the loop
 * is about to run, else prints the child's reason and exits 1. */
static void wait_ready(int fd)
{
	char msg[512];
	size_t got = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(msg) - 1)
			break;
	}
	msg[got] = '\0';
	if (got >= 1 && msg[0] == '\0')
		_exit(0);
	if (got == 0)
		fprintf(stderr, "swarmfs: the daemon exited during startup\n");
	else
		fprintf(stderr, "swarmfs: %s\n", msg);
	_exit(1);
}

static void report(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg) + 1) < 0)
		return;
}

static int count_snapshot(const struct store_snapshot_info *info, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* A data dir that holds snapshots but no store lost its store: starting
 * empty would hide that (and the next snapshot would look like the truth);
 * refuse and name the snapshot to restore instead.  Prints the reason. */
static int refuse_missing_store(void)
{
	char reason[2 * PATH_MAX + 128], hint[2 * PATH_MAX + 512];
	struct stat sb;
	int n = 0, saved = log_level;

	if (lstat(fs.db_path, &sb) == 0 || errno != ENOENT)
		return 0;
	log_level = LOG_CRIT;
	store_snapshot_list(fs.snap_dir, count_snapshot, &n);
	log_level = saved;
	if (n == 0)
		return 0;
	snprintf(reason, sizeof(reason), "store '%s' is missing but '%s' holds %d snapshot%s",
		 fs.db_path, fs.snap_dir, n, n == 1 ? "" : "s");
	admin_recovery_hint(fs.data_dir, reason, hint, sizeof(hint));
	fprintf(stderr, "swarmfs: %s\n", hint);
	return -ENOENT;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct store_options so;
	struct store_err err;
	struct store *st = NULL;
	const char *positional[2] = { NULL, NULL }, *mountpoint;
	char *opt_copies[64];
	char fuse_opts[4096] = "default_permissions,subtype=swarmfs";
	char *all_opts = NULL;
	int n_positional = 0, n_copies = 0;
	bool single = false, debug = false;
	int lock_fd = -1, ready_fd = -1, rc, c, exit_code = 1;
	pid_t holder = 0;
	struct stat sb;

	/*
	 * A fixed mmap threshold: blocks of 64 KiB and more (directory
	 * snapshots of big namespaces, their growing arrays) are mapped and
	 * unmapped on their own.  glibc's default raises the threshold to the
	 * size of the largest mapped block freed, after which such blocks
	 * come from the arenas and stay resident as holes between inodes:
	 * RSS grew by about 9 MB per `ls -l` of 100,000 resources, served by
	 * changing worker threads, instead of staying flat.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	fs.snapshot_interval = DEFAULT_INTERVAL;
	if (store_retention_parse(DEFAULT_KEEP, &fs.keep, &err) < 0)
		abort();
	fuse_opt_add_arg(&args, argv[0]);
	opterr = 0;
	/* '-' returns operands in place (code 1): mount.fuse3 runs
	 * `swarmfs SOURCE MOUNTPOINT -o OPTS`, options after the operands,
	 * and that must work even under POSIXLY_CORRECT. */
	for (;;) {
		c = getopt_long(argc, argv, "-:fsdo:h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 1:
			if (n_positional == 2)
				die_args("unexpected argument '%s'", optarg);
			positional[n_positional++] = optarg;
			break;
		case OPT_DATA_DIR:
		case OPT_NODE:
		case OPT_SYNC:
		case OPT_LOG_LEVEL:
		case OPT_INTERVAL:
		case OPT_KEEP:
			for (const struct option *o = longopts; o->name; o++)
				if (o->val == c) {
					set_long_opt(c, o->name, optarg, NULL);
					break;
				}
			break;
		case 'f':
			fs.foreground = true;
			break;
		case 's':
			single = true;
			break;
		case 'd':
			debug = true;
			fs.foreground = true;
			break;
		case 'o':
			if (n_copies == (int)(sizeof(opt_copies) / sizeof(opt_copies[0])))
				die_args("too many -o options");
			opt_copies[n_copies] = strdup(optarg);
			if (opt_copies[n_copies] == NULL)
				die_args("out of memory");
			scan_mount_opts(opt_copies[n_copies++], fuse_opts, sizeof(fuse_opts));
			break;
		case 'h':
			usage(stdout);
			exit_code = 0;
			goto out_args;
		case 'V':
			printf("swarmfs %s\n", SWARMFS_VERSION);
			exit_code = 0;
			goto out_args;
		case ':':
			die_args("option '%s' needs an argument", argv[optind - 1]);
			break;
		default:
			if (optopt && optopt < 128)
				die_args("unknown option '-%c'", optopt);
			die_args("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* Operands after "--". */
	for (; optind < argc; optind++) {
		if (n_positional == 2)
			die_args("unexpected argument '%s'", argv[optind]);
		positional[n_positional++] = argv[optind];
	}
	if (n_positional == 0)
		die_args("missing MOUNTPOINT (see --help)");
	mountpoint = positional[n_positional - 1];
	if (n_positional == 2)
		set_long_opt(OPT_DATA_DIR, "data-dir", positional[0], NULL);
	if (debug) {
		fuse_opt_add_arg(&args, "-d");
		log_level = LOG_DEBUG;
	}
	if (stat(mountpoint, &sb) < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "swarmfs: mount point '%s' does not exist\n", mountpoint);
		else
			fprintf(stderr, "swarmfs: cannot use mount point '%s': %s\n", mountpoint,
				strerror(errno));
		goto out_args;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "swarmfs: mount point '%s' is not a directory\n", mountpoint);
		goto out_args;
	}
	if (realpath(mountpoint, fs.mountpoint) == NULL)
		snprintf(fs.mountpoint, sizeof(fs.mountpoint), "%s", mountpoint);
	if (is_mount_point(fs.mountpoint)) {
		fprintf(stderr, "swarmfs: mount point '%s' is already mounted: unmount it first\n",
			fs.mountpoint);
		goto out_args;
	}

	if (opt_data_dir)
		snprintf(fs.data_dir, sizeof(fs.data_dir), "%s", opt_data_dir);
	else if (store_default_data_dir(fs.data_dir, sizeof(fs.data_dir)) < 0)
		die_args("unable to find a data dir: set --data-dir");
	rc = store_prepare_data_dir(fs.data_dir, fs.readonly, &err);
	if (rc < 0) {
		fprintf(stderr, "swarmfs: %s\n", err.msg);
		goto out_args;
	}
	{
		char abs[PATH_MAX];
		if (realpath(fs.data_dir, abs))
			snprintf(fs.data_dir, sizeof(fs.data_dir), "%s", abs);
	}
	/* The data dir is the source in /proc/mounts, as in the fstab line,
	 * so that `mount -a` and findmnt recognise the mount; an fsname the
	 * user gave comes later and wins. */
	{
		char fsname[PATH_MAX + 8];

		snprintf(fsname, sizeof(fsname), "fsname=%s", fs.data_dir);
		if (fuse_opt_add_opt_escaped(&all_opts, fsname) < 0 ||
		    fuse_opt_add_opt(&all_opts, fuse_opts) < 0 ||
		    fuse_opt_add_arg(&args, "-o") < 0 || fuse_opt_add_arg(&args, all_opts) < 0) {
			fprintf(stderr, "swarmfs: out of memory\n");
			goto out_args;
		}
	}
	snprintf(fs.db_path, sizeof(fs.db_path), "%s/%s", fs.data_dir, STORE_DB_FILE);
	snprintf(fs.snap_dir, sizeof(fs.snap_dir), "%s/%s", fs.data_dir, STORE_SNAPSHOT_DIR);
	rc = lock_data_dir(&lock_fd, &holder);
	if (rc == -EBUSY) {
		fprintf(stderr, "swarmfs: data dir '%s' is in use by swarmfs pid %d\n",
			fs.data_dir, (int)holder);
		goto out_args;
	}
	if (rc < 0) {
		fprintf(stderr, "swarmfs: unable to lock data dir '%s': %s\n", fs.data_dir,
			strerror(-rc));
		goto out_args;
	}
	rc = refuse_missing_store();
	if (rc < 0)
		goto out_args;

	/* Open the store once to surface its errors on the terminal, then
	 * close it: no SQLite connection may cross the fork. */
	memset(&so, 0, sizeof(so));
	so.node = fs.node_opt;
	so.sync = fs.sync;
	so.readonly = fs.readonly;
	so.create = !fs.readonly;
	so.quick_check = true;
	{
		/* err.msg below is the one line the user needs; the store's own
		 * log line about the same failure would repeat it. */
		int saved = log_level;
		log_level = LOG_CRIT;
		rc = store_open(fs.db_path, &so, &st, &err);
		log_level = saved;
	}
	if (rc < 0) {
		char hint[1024];
		/* A damaged store: name the snapshot that cures it and the
		 * command, as swarmfs-admin check does. */
		if (admin_recovery_needed(rc)) {
			admin_recovery_hint(fs.data_dir, err.msg, hint, sizeof(hint));
			fprintf(stderr, "swarmfs: %s\n", hint);
		} else {
			fprintf(stderr, "swarmfs: %s\n", err.msg);
		}
		goto out_args;
	}
	snprintf(fs.node, sizeof(fs.node), "%s", store_node(st));
	store_close(st);

	fs.uid = getuid();
	fs.gid = getgid();
	fs.started_ms = fs_now_ms();
	fs_clock_init();
	fs_inode_table_init();
	fs_store_init();
	fuse_set_log_func(fuse_log_to_ours);

	fuse_log_capture = true;
	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	fuse_log_capture = false;
	if (fs.se == NULL) {
		if (fuse_log_last[0])
			fprintf(stderr, "swarmfs: invalid mount options: %s\n", fuse_log_last);
		else
			fprintf(stderr, "swarmfs: invalid mount options\n");
		exit_code = 2;
		goto out_table;
	}
	if (fuse_set_signal_handlers(fs.se) != 0) {
		fprintf(stderr, "swarmfs: unable to set signal handlers\n");
		goto out_session;
	}
	if (fuse_session_mount(fs.se, fs.mountpoint) != 0) {
		fprintf(stderr, "swarmfs: unable to mount on '%s'\n", fs.mountpoint);
		goto out_signals;
	}

	if (!fs.foreground) {
		int pfd[2], null_fd;
		pid_t pid;

		if (pipe2(pfd, O_CLOEXEC) < 0) {
			fprintf(stderr, "swarmfs: unable to create a pipe: %s\n", strerror(errno));
			goto out_unmount;
		}
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "swarmfs: unable to fork: %s\n", strerror(errno));
			goto out_unmount;
		}
		if (pid > 0) {
			close(pfd[1]);
			wait_ready(pfd[0]);
		}
		close(pfd[0]);
		ready_fd = pfd[1];
		setsid();
		if (chdir("/") < 0)
			log_msg(LOG_WARNING, "unable to chdir to '/'");
		null_fd = open("/dev/null", O_RDWR);
		if (null_fd >= 0) {
			dup2(null_fd, 0);
			dup2(null_fd, 1);
			dup2(null_fd, 2);
			if (null_fd > 2)
				close(null_fd);
		}
		log_use_syslog("swarmfs");
	} else if (chdir("/") < 0) {
		log_msg(LOG_WARNING, "unable to chdir to '/'");
	}
	fs.pid = getpid();
	write_pid(lock_fd);

	rc = fs_watch_start();
	if (rc < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "unable to start the watcher: %s", strerror(-rc));
		if (ready_fd < 0)
			fprintf(stderr, "swarmfs: %s\n", msg);
		report(ready_fd, msg);
		goto out_unmount;
	}
	rc = fs_sched_start();
	if (rc < 0)
		log_msg(LOG_ERR, "unable to start automatic snapshots: %s", strerror(-rc));
	log_msg(LOG_INFO, "mounted '%s' on '%s' (node %s)", fs.data_dir, fs.mountpoint, fs.node);
	report(ready_fd, "");
	if (ready_fd >= 0)
		close(ready_fd);
	ready_fd = -1;

	if (single) {
		rc = fuse_session_loop(fs.se);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		fuse_loop_cfg_set_max_threads(cfg, 16);
		rc = fuse_session_loop_mt(fs.se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* The loop returns the signal number after SIGTERM/SIGINT, 0 after
	 * an unmount, negative on errors. */
	exit_code = rc < 0 ? 1 : 0;
	log_msg(LOG_INFO, "unmounting '%s'", fs.mountpoint);
	fs_events_shutdown();
	fs_watch_request_stop();
out_unmount:
	/* Unmount before joining the watcher: a notify it is sending may wait
	 * for a process whose request the finished loop will never answer;
	 * unmounting aborts those requests. */
	fuse_session_unmount(fs.se);
	fs_sched_stop();
	fs_watch_request_stop();
	fs_watch_join();
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_table:
	if (ready_fd >= 0) {
		report(ready_fd, "unable to start");
		close(ready_fd);
	}
	fs_handle_free_all();
	fs_store_close_thread();
	fs_snap_cache_destroy();
	fs_inode_table_destroy();
out_args:
	fuse_opt_free_args(&args);
	free(all_opts);
	for (int i = 0; i < n_copies; i++)
		free(opt_copies[i]);
	if (lock_fd >= 0)
		close(lock_fd);
	return exit_code;
}
