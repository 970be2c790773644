/* fusepass.c - the benchmark's baseline FUSE filesystem: a minimal libfuse3
 * high-level passthrough that mirrors one source directory, so bench-fs can
 * tell FUSE's own cost from swarmfs's.  Every path is resolved relative to a
 * directory fd opened before mounting, so the daemon never walks its own mount. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct pass {
	char *source;   /* directory mirrored, from the command line */
	int srcfd;      /* open on `source`; read-only after mount */
	double timeout; /* entry and attribute timeout in seconds */
};

/* long timeouts as DESIGN.md advises for swarmfs, so both cache alike */
static struct pass pass = {.srcfd = -1, .timeout = 60.0};

enum { KEY_HELP };

static const struct fuse_opt pass_opts[] = {
	{"timeout=%lf", offsetof(struct pass, timeout), 0},
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_END,
};

/* FUSE hands us absolute paths; the source dir fd stands in for "/". */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static void *pass_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	/* the source changes only through this mount, so the kernel may cache */
	cfg->entry_timeout = pass.timeout;
	cfg->attr_timeout = pass.timeout;
	cfg->negative_timeout = pass.timeout;
	/* paths are only needed by the ops above, never by the kernel later */
	cfg->nullpath_ok = 1;
	return NULL;
}

static int pass_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int rc;

	if (fi != NULL)
		rc = fstat((int)fi->fh, st);
	else
		rc = fstatat(pass.srcfd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int pass_mkdir(const char *path, mode_t mode)
{
	return mkdirat(pass.srcfd, rel(path), mode) < 0 ? -errno : 0;
}

static int pass_rmdir(const char *path)
{
	return unlinkat(pass.srcfd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int pass_unlink(const char *path)
{
	return unlinkat(pass.srcfd, rel(path), 0) < 0 ? -errno : 0;
}

static int pass_rename(const char *from, const char *to, unsigned int flags)
{
	if (renameat2(pass.srcfd, rel(from), pass.srcfd, rel(to), flags) < 0)
		return -errno;
	return 0;
}

static int pass_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int rc;

	if (fi != NULL)
		rc = fchmod((int)fi->fh, mode);
	else
		rc = fchmodat(pass.srcfd, rel(path), mode, 0);
	return rc < 0 ? -errno : 0;
}

static int pass_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, rc;

	if (fi != NULL)
		return ftruncate((int)fi->fh, size) < 0 ? -errno : 0;
	fd = openat(pass.srcfd, rel(path), O_WRONLY);
	if (fd < 0)
		return -errno;
	rc = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int pass_utimens(const char *path, const struct timespec tv[2],
			struct fuse_file_info *fi)
{
	int rc;

	if (fi != NULL)
		rc = futimens((int)fi->fh, tv);
	else
		rc = utimensat(pass.srcfd, rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int pass_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(pass.srcfd, rel(path), fi->flags & ~O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int pass_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(pass.srcfd, rel(path), fi->flags | O_CREAT, mode);

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int pass_read(const char *path, char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t r = pread((int)fi->fh, buf, size, off);

	return r < 0 ? -errno : (int)r;
}

static int pass_write(const char *path, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	ssize_t w = pwrite((int)fi->fh, buf, size, off);

	return w < 0 ? -errno : (int)w;
}

static int pass_release(const char *path, struct fuse_file_info *fi)
{
	close((int)fi->fh);
	return 0;
}

static int pass_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);

	return rc < 0 ? -errno : 0;
}

static int pass_statfs(const char *path, struct statvfs *sv)
{
	return fstatvfs(pass.srcfd, sv) < 0 ? -errno : 0;
}

static int pass_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(pass.srcfd, rel(path), O_RDONLY | O_DIRECTORY);
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		int err = errno;

		close(fd);
		return -err;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

/*
 * Offsets are telldir() cookies, so a listing larger than one reply resumes
 * where the last reply stopped.  With readdirplus the attributes travel with
 * the names, as a serious passthrough would do, so `ls -l` costs no lookups.
 */
static int pass_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
			off_t off, struct fuse_file_info *fi,
			enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	int plus = (flags & FUSE_READDIR_PLUS) != 0;

	seekdir(d, off);
	for (;;) {
		struct dirent *de;
		struct stat st = {0};
		enum fuse_fill_dir_flags fill_flags = 0;

		errno = 0;
		de = readdir(d);
		if (de == NULL)
			return errno ? -errno : 0;
		if (plus && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			fill_flags = FUSE_FILL_DIR_PLUS;
		} else {
			st.st_ino = de->d_ino;
			st.st_mode = (mode_t)de->d_type << 12;
		}
		if (fill(buf, de->d_name, &st, telldir(d), fill_flags))
			return 0;
	}
}

static int pass_releasedir(const char *path, struct fuse_file_info *fi)
{
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static const struct fuse_operations pass_ops = {
	.init = pass_init,
	.getattr = pass_getattr,
	.mkdir = pass_mkdir,
	.unlink = pass_unlink,
	.rmdir = pass_rmdir,
	.rename = pass_rename,
	.chmod = pass_chmod,
	.truncate = pass_truncate,
	.utimens = pass_utimens,
	.open = pass_open,
	.create = pass_create,
	.read = pass_read,
	.write = pass_write,
	.release = pass_release,
	.fsync = pass_fsync,
	.statfs = pass_statfs,
	.opendir = pass_opendir,
	.readdir = pass_readdir,
	.releasedir = pass_releasedir,
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options] SOURCE MOUNTPOINT\n"
		"  -o timeout=SECS   entry and attribute timeout (default 60)\n"
		"  -f -s -d and the usual FUSE -o options\n",
		prog);
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == KEY_HELP) {
		usage(stdout, outargs->argv[0]);
		exit(0);
	}
	if (key == FUSE_OPT_KEY_NONOPT && pass.source == NULL) {
		pass.source = strdup(arg);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	int rc;

	if (fuse_opt_parse(&args, &pass, pass_opts, opt_proc) < 0)
		return 1;
	if (pass.source == NULL) {
		usage(stderr, argv[0]);
		fuse_opt_free_args(&args);
		return 1;
	}
	pass.srcfd = open(pass.source, O_RDONLY | O_DIRECTORY);
	if (pass.srcfd < 0) {
		fprintf(stderr, "fusepass: unable to open '%s': %s\n", pass.source,
			strerror(errno));
		fuse_opt_free_args(&args);
		free(pass.source);
		return 1;
	}
	umask(0);
	rc = fuse_main(args.argc, args.argv, &pass_ops, NULL);
	close(pass.srcfd);
	fuse_opt_free_args(&args);
	free(pass.source);
	return rc;
}
