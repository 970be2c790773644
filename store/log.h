/* log.h - one logger for all programs: stderr in the foreground, syslog once
 * daemonized; the level is checked before anything is formatted. */
#ifndef SWARMFS_LOG_H
#define SWARMFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

extern int log_level; /* LOG_ERR .. LOG_DEBUG; messages above it are dropped */

/* Sends messages to syslog under `ident` instead of stderr. */
void log_use_syslog(const char *ident);
/* Parses "error", "warning", "notice", "info" or "debug"; -EINVAL if none. */
int log_parse_level(const char *name, int *level);

void log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_msg(level, ...)                                                    \
	do {                                                                   \
		if ((level) <= log_level)                                      \
			log_write((level), __VA_ARGS__);                       \
	} while (0)

/*
 * Rate-limited logging for errors that a client can trigger at will (a bad
 * write, a malformed message): at most `burst` messages per 10 s window per
 * call site, then one line saying how many were suppressed.
 */
struct log_ratelimit {
	long window_start;
	int count;
	int suppressed;
};
bool log_ratelimit_allow(struct log_ratelimit *rl, int burst);

#define log_limited(level, ...)                                                \
	do {                                                                   \
		static struct log_ratelimit rl_;                               \
		if ((level) <= log_level && log_ratelimit_allow(&rl_, 10))     \
			log_write((level), __VA_ARGS__);                       \
	} while (0)

#endif
