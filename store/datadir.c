/* datadir.c - where a node keeps its data: the default location and making
 * sure it exists (mode 0700: the store holds the whole cluster state). */
#include "db.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_default_data_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (geteuid() == 0) {
		n = snprintf(buf, size, "/var/lib/swarmfs");
	} else if (xdg && xdg[0] == '/') {
		/* The XDG spec says a relative XDG_DATA_HOME is to be ignored. */
		n = snprintf(buf, size, "%s/swarmfs", xdg);
	} else {
		if (!home || !home[0]) {
			struct passwd *pw = getpwuid(geteuid());

			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || !home[0])
			return -ENOENT;
		n = snprintf(buf, size, "%s/.local/share/swarmfs", home);
	}
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p: existing components are left as they are, created ones get 0700. */
static int mkdir_parents(const char *dir, struct store_err *err)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return store_db_errf(err, -ENAMETOOLONG, "cannot create data dir '%s': %s",
				     dir, strerror(ENAMETOOLONG));
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; ; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			return store_db_errf(err, -e, "cannot create data dir '%s': %s",
					     dir, strerror(e));
		}
		if (end)
			break;
		*p = '/';
	}
	return 0;
}

int store_prepare_data_dir(const char *dir, bool readonly, struct store_err *err)
{
	struct stat sb;
	int rc;

	if (!dir || !dir[0])
		return store_db_errf(err, -EINVAL, "no data dir given");
	if (stat(dir, &sb) < 0) {
		if (errno != ENOENT)
			return store_db_errf(err, -errno, "cannot use data dir '%s': %s",
					     dir, strerror(errno));
		/* Read-only use of a missing dir would only find no store. */
		if (readonly)
			return store_db_errf(err, -ENOENT, "data dir '%s' does not exist", dir);
		rc = mkdir_parents(dir, err);
		if (rc < 0)
			return rc;
		if (stat(dir, &sb) < 0)
			return store_db_errf(err, -errno, "cannot use data dir '%s': %s",
					     dir, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return store_db_errf(err, -ENOTDIR, "data dir '%s' is not a directory", dir);
	/* SQLite needs to create -wal and -shm files next to the database. */
	if (access(dir, readonly ? R_OK | X_OK : R_OK | W_OK | X_OK) < 0)
		return store_db_errf(err, -errno, "cannot use data dir '%s': %s",
				     dir, strerror(errno));
	return 0;
}
