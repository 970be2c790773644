/* main.c - swarmfs-sync: options and config file, the one-sidecar-per-data-dir
 * lock, daemonizing (before nng starts any thread), signals, and the store
 * connection handed to the replication loop in node.c. */
#include "sync.h"

#include <nng/nng.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#ifndef SWARMFS_VERSION
#define SWARMFS_VERSION "unknown"
#endif

static const char usage[] =
	"usage: swarmfs-sync [OPTIONS]\n"
	"Replicates the swarmfs store in a data dir with peer nodes over nng.\n"
	"\n"
	"  --data-dir DIR      the data dir (default /var/lib/swarmfs for root,\n"
	"                      else ${XDG_DATA_HOME:-$HOME/.local/share}/swarmfs)\n"
	"  --node NAME         this node's name (default: the store's, else the host name)\n"
	"  --listen URL        where to publish changes (default tcp://127.0.0.1:7001);\n"
	"                      catch-up requests are served on the next port\n"
	"                      (tcp://H:P -> tcp://H:P+1; ipc://PATH -> ipc://PATH.rep)\n"
	"  --peer URL          a peer's --listen URL; repeat for each peer\n"
	"  --tls-cert FILE --tls-key FILE --tls-ca FILE\n"
	"                      mutual TLS for tls+tcp:// URLs (PEM files)\n"
	"  --insecure          allow listening on a non-loopback address without TLS\n"
	"  --heartbeat-ms N    heartbeat interval (default 1000)\n"
	"  --retry-ms N        reconnect and retry interval (default 1000)\n"
	"  --max-skew-ms N     refuse changes stamped further ahead of our clock (default 60000)\n"
	"  --purge-ms N        how often tombstones every peer has are dropped (default 60000)\n"
	"  --config FILE       read options from FILE: one 'name = value' per line, names\n"
	"                      as the long options without '--', '#' comments\n"
	"  --log-level LEVEL   error, warning, notice, info or debug (default notice)\n"
	"  -f                  stay in the foreground and log to stderr\n"
	"  --help, --version\n";

enum {
	OPT_DATA_DIR = 256, OPT_NODE, OPT_LISTEN, OPT_PEER, OPT_TLS_CERT, OPT_TLS_KEY,
	OPT_TLS_CA, OPT_INSECURE, OPT_HEARTBEAT, OPT_RETRY, OPT_SKEW, OPT_CONFIG,
	OPT_LOG_LEVEL, OPT_HELP, OPT_VERSION, OPT_PURGE,
};

static const struct option long_opts[] = {
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT },
	{ "retry-ms", required_argument, NULL, OPT_RETRY },
	{ "max-skew-ms", required_argument, NULL, OPT_SKEW },
	{ "purge-ms", required_argument, NULL, OPT_PURGE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct sync_config cfg;
static bool foreground;
/* Strings from the config file live as long as the process. */
static char *config_strings[256];
static int n_config_strings;

static int parse_ms(const char *name, const char *v, int64_t max, int64_t *out)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < 1 || x > max) {
		fprintf(stderr, "swarmfs-sync: invalid --%s '%s': must be an integer from 1 to %lld\n",
			name, v, (long long)max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int set_option(int opt, const char *v);

/* Reads 'name = value' lines; each is set_option of --name. */
static int read_config(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4600];
	int lineno = 0, rc = 0;

	if (!f) {
		fprintf(stderr, "swarmfs-sync: cannot read config '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *name = line, *value, *end;
		const struct option *o;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		name += strspn(name, " \t");
		if (*name == '#' || *name == '\0')
			continue;
		value = strchr(name, '=');
		end = value ? value : name + strlen(name);
		while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (value) {
			value++;
			value += strspn(value, " \t");
			for (char *t = value + strlen(value); t > value && (t[-1] == ' ' || t[-1] == '\t'); t--)
				t[-1] = '\0';
		}
		*end = '\0';
		for (o = long_opts; o->name; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (!o->name || o->val == OPT_CONFIG || o->val == OPT_HELP || o->val == OPT_VERSION) {
			fprintf(stderr, "swarmfs-sync: %s:%d: unknown option '%s'\n", path, lineno, name);
			rc = -EINVAL;
			break;
		}
		if ((o->has_arg == required_argument) != (value != NULL)) {
			fprintf(stderr, "swarmfs-sync: %s:%d: '%s' %s a value\n", path, lineno, name,
				value ? "takes no" : "needs");
			rc = -EINVAL;
			break;
		}
		if (value) {
			if (n_config_strings == (int)(sizeof(config_strings) / sizeof(config_strings[0]))) {
				fprintf(stderr, "swarmfs-sync: %s: too many options\n", path);
				rc = -EINVAL;
				break;
			}
			value = config_strings[n_config_strings++] = strdup(value);
			if (!value) {
				rc = -ENOMEM;
				break;
			}
		}
		rc = set_option(o->val, value);
	}
	fclose(f);
	return rc;
}

static int set_option(int opt, const char *v)
{
	int64_t x;
	int level;

	switch (opt) {
	case OPT_DATA_DIR:
		if (strlen(v) >= sizeof(cfg.data_dir)) {
			fprintf(stderr, "swarmfs-sync: data dir path too long\n");
			return -EINVAL;
		}
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", v);
		return 0;
	case OPT_NODE:
		if (strlen(v) > STORE_NODE_MAX || !store_name_valid(v)) {
			fprintf(stderr, "swarmfs-sync: invalid node name '%s': must be a DNS label\n", v);
			return -EINVAL;
		}
		cfg.node = v;
		return 0;
	case OPT_LISTEN:
	case OPT_PEER: {
		char rep[SYNC_URL_MAX];

		if (strlen(v) >= SYNC_URL_MAX || sync_rep_url(v, rep, sizeof(rep)) < 0) {
			fprintf(stderr, "swarmfs-sync: invalid URL '%s': use tcp://HOST:PORT, "
				"tls+tcp://HOST:PORT or ipc://PATH\n", v);
			return -EINVAL;
		}
		if (opt == OPT_LISTEN) {
			snprintf(cfg.listen, sizeof(cfg.listen), "%s", v);
			return 0;
		}
		if (cfg.n_peers == SYNC_PEERS_MAX) {
			fprintf(stderr, "swarmfs-sync: at most %d peers\n", SYNC_PEERS_MAX);
			return -EINVAL;
		}
		snprintf(cfg.peers[cfg.n_peers++], SYNC_URL_MAX, "%s", v);
		return 0;
	}
	case OPT_TLS_CERT:
		cfg.tls_cert = v;
		return 0;
	case OPT_TLS_KEY:
		cfg.tls_key = v;
		return 0;
	case OPT_TLS_CA:
		cfg.tls_ca = v;
		return 0;
	case OPT_INSECURE:
		cfg.insecure = true;
		return 0;
	case OPT_HEARTBEAT:
		if (parse_ms("heartbeat-ms", v, 3600000, &x) < 0)
			return -EINVAL;
		cfg.heartbeat_ms = (int)x;
		return 0;
	case OPT_RETRY:
		if (parse_ms("retry-ms", v, 3600000, &x) < 0)
			return -EINVAL;
		cfg.retry_ms = (int)x;
		return 0;
	case OPT_PURGE:
		if (parse_ms("purge-ms", v, 86400000, &x) < 0)
			return -EINVAL;
		cfg.purge_ms = (int)x;
		return 0;
	case OPT_SKEW:
		if (parse_ms("max-skew-ms", v, INT32_MAX, &x) < 0)
			return -EINVAL;
		cfg.max_skew_ms = x;
		return 0;
	case OPT_CONFIG:
		return read_config(v);
	case OPT_LOG_LEVEL:
		if (log_parse_level(v, &level) < 0) {
			fprintf(stderr, "swarmfs-sync: invalid --log-level '%s': use error, warning, "
				"notice, info or debug\n", v);
			return -EINVAL;
		}
		log_level = level;
		return 0;
	}
	return -EINVAL;
}

static void on_signal(int sig)
{
	(void)sig;
	sync_stop = 1;
}

/* Holds DATA/swarmfs-sync.lock for the life of the process. */
static int take_lock(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/" SYNC_LOCK_FILE, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "swarmfs-sync: cannot open '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		fprintf(stderr, "swarmfs-sync: another swarmfs-sync already runs on data dir '%s'\n", dir);
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	return fd;
}

/* The pid goes into the lock once the store is open (on a full disk the
 * store's "disk full" is the one line to print, not this warning) and the
 * daemon has forked (its pid is the one to name). */
static void write_pid(int fd, const char *dir)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_msg(LOG_WARNING, "cannot write the pid to '%s/" SYNC_LOCK_FILE "'", dir);
}

/* fork + setsid; the parent exits 0 once the child reports it is up (or
 * with the child's failure), so a script's next command finds it running. */
static int daemonize(int *ready_fd)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c = 1;

		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			c = 1;
		_exit(c == 0 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	*ready_fd = pfd[1];
	return 0;
}

static void report_ready(int fd, bool okay)
{
	char c = okay ? 0 : 1;
	int devnull;

	if (fd < 0)
		return;
	if (write(fd, &c, 1) < 0)
		log_msg(LOG_WARNING, "cannot report readiness");
	close(fd);
	if (okay) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			if (devnull > 2)
				close(devnull);
		}
	}
}

int main(int argc, char **argv)
{
	struct store_options so = { .create = true };
	struct store_err err = { "" };
	struct sigaction sa;
	struct store *s = NULL;
	char db[4200];
	int opt, rc, lock_fd, ready_fd = -1;

	log_level = LOG_NOTICE;
	cfg.heartbeat_ms = 1000;
	cfg.retry_ms = 1000;
	cfg.max_skew_ms = 60000;
	cfg.purge_ms = 60000;
	snprintf(cfg.listen, sizeof(cfg.listen), "tcp://127.0.0.1:7001");
	while (true) {
		opt = getopt_long(argc, argv, "f", long_opts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'f':
			foreground = true;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return 0;
		case OPT_VERSION:
			printf("swarmfs-sync %s\n", SWARMFS_VERSION);
			return 0;
		case '?':
			fprintf(stderr, "swarmfs-sync: see --help\n");
			return 2;
		default:
			if (set_option(opt, optarg) < 0)
				return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "swarmfs-sync: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if ((cfg.tls_cert || cfg.tls_key || cfg.tls_ca) &&
	    !(cfg.tls_cert && cfg.tls_key && cfg.tls_ca)) {
		fprintf(stderr, "swarmfs-sync: --tls-cert, --tls-key and --tls-ca go together\n");
		return 2;
	}
	if (strncmp(cfg.listen, "tls+", 4) == 0 && !cfg.tls_cert) {
		fprintf(stderr, "swarmfs-sync: '%s' needs --tls-cert, --tls-key and --tls-ca\n",
			cfg.listen);
		return 2;
	}
	for (int i = 0; i < cfg.n_peers; i++)
		if (strncmp(cfg.peers[i], "tls+", 4) == 0 && !cfg.tls_cert) {
			fprintf(stderr, "swarmfs-sync: peer '%s' needs --tls-cert, --tls-key and --tls-ca\n",
				cfg.peers[i]);
			return 2;
		}
	if (!sync_url_is_local(cfg.listen) && strncmp(cfg.listen, "tls+", 4) != 0 && !cfg.insecure) {
		fprintf(stderr, "swarmfs-sync: refusing to listen on '%s' without TLS: use "
			"tls+tcp:// with --tls-cert/--tls-key/--tls-ca, or --insecure\n", cfg.listen);
		return 2;
	}
	if (!cfg.data_dir[0] && store_default_data_dir(cfg.data_dir, sizeof(cfg.data_dir)) < 0) {
		fprintf(stderr, "swarmfs-sync: cannot find a default data dir: use --data-dir\n");
		return 2;
	}
	if (store_prepare_data_dir(cfg.data_dir, false, &err) < 0) {
		fprintf(stderr, "swarmfs-sync: %s\n", err.msg);
		return 1;
	}
	/* An absolute data dir: a daemon runs in "/". */
	{
		char abs[PATH_MAX];

		if (realpath(cfg.data_dir, abs))
			snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", abs);
	}
	lock_fd = take_lock(cfg.data_dir);
	if (lock_fd < 0)
		return 1;
	snprintf(db, sizeof(db), "%s/" STORE_DB_FILE, cfg.data_dir);
	so.node = cfg.node;
	/* Applied changes are durable at their origin: see sync_wal. */
	so.sync = STORE_SYNC_NORMAL;
	{
		/* err.msg is the one line to print: the store's own log line
		 * about the same failure would repeat it. */
		int saved = log_level;

		log_level = LOG_CRIT;
		rc = store_open(db, &so, &s, &err);
		log_level = saved;
	}
	if (rc < 0) {
		fprintf(stderr, "swarmfs-sync: %s\n", err.msg);
		return 1;
	}
	/* nng starts threads when its first socket opens: fork before that.
	 * SQLite connections survive fork when the parent does not use them. */
	if (!foreground) {
		rc = daemonize(&ready_fd);
		if (rc < 0) {
			fprintf(stderr, "swarmfs-sync: cannot daemonize: %s\n", strerror(-rc));
			return 1;
		}
		log_use_syslog("swarmfs-sync");
		/* The lock file names the daemon, not the parent that exited. */
		{
			char pid[32];

			snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
			if (ftruncate(lock_fd, 0) < 0 || pwrite(lock_fd, pid, strlen(pid), 0) < 0)
				log_msg(LOG_WARNING, "cannot write the pid to the lock file");
		}
	}
	write_pid(lock_fd, cfg.data_dir);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Readiness is reported once the loop can start; a failure to listen
	 * comes back through sync_run before it. */
	report_ready(ready_fd, true);
	rc = sync_run(&cfg, s);
	/* Every socket is closed: free what nng still holds (pipes that were
	 * being set up when we closed), so leak checkers see only ours. */
	nng_fini();
	store_close(s);
	close(lock_fd);
	for (int i = 0; i < n_config_strings; i++)
		free(config_strings[i]);
	if (rc < 0) {
		fprintf(stderr, "swarmfs-sync: stopped: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
