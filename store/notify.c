/* notify.c - the wake-up sockets in the data dir: the listening side and
 * the one-datagram poke (see notify.h).  Nothing here touches the
 * database. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * The socket's address.  A data dir whose path does not fit in sun_path
 * (108 bytes) is reached through /proc/self/fd/N/FILE with N an
 * O_PATH descriptor of the dir, which the caller closes (*dirfd, -1 when
 * unused) once the address has served.
 */
static int notify_addr(const char *data_dir, const char *file, struct sockaddr_un *addr,
		       int *dirfd)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	*dirfd = -1;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s", data_dir, file);
	if (n >= 0 && (size_t)n < sizeof(addr->sun_path))
		return 0;
	*dirfd = open(data_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -errno;
	snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", *dirfd,
		 file);
	return 0;
}

int store_notify_poke(const char *data_dir, const char *file)
{
	struct sockaddr_un addr;
	int fd, dirfd, rc;
	char one = 1;

	rc = notify_addr(data_dir, file, &addr, &dirfd);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
	} else {
		if (sendto(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&addr, sizeof(addr)) < 0)
			rc = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		close(fd);
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int store_notify_listen(const char *data_dir, const char *file, int *fd_out)
{
	char path[PATH_MAX];
	struct sockaddr_un addr;
	int fd, dirfd, rc;

	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	rc = notify_addr(data_dir, file, &addr, &dirfd);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* A socket file left by a listener that was killed: nobody else
	 * binds it while we hold the lock that guards it. */
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		close(fd);
		goto out;
	}
	if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	*fd_out = fd;
out:
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int store_notify_drain(int fd)
{
	char buf[64];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

void store_notify_close(const char *data_dir, const char *file, int fd)
{
	char path[PATH_MAX];

	if (fd < 0)
		return;
	close(fd);
	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	unlink(path);
}
