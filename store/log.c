/* log.c - levels, stderr or syslog, and a per-call-site rate limit. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_level = LOG_NOTICE;
static bool use_syslog;

static const char *const level_names[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert", [LOG_CRIT] = "critical",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

int log_parse_level(const char *name, int *level)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	if (strcmp(name, "err") == 0) {
		*level = LOG_ERR;
		return 0;
	}
	return -EINVAL;
}

void log_write(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		/* One fprintf per line so concurrent threads do not interleave. */
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "%s: %s\n", level_names[level & 7], line);
	}
	va_end(ap);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, int burst)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct timespec now;
	bool allow;
	int suppressed = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lock);
	if (now.tv_sec - rl->window_start >= 10) {
		suppressed = rl->suppressed;
		rl->window_start = now.tv_sec;
		rl->count = 0;
		rl->suppressed = 0;
	}
	allow = rl->count < burst;
	if (allow)
		rl->count++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&lock);
	if (suppressed > 0)
		log_write(LOG_WARNING, "%d similar messages suppressed", suppressed);
	return allow;
}
