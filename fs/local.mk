# swarmfs: the FUSE mount.
bin_PROGRAMS += fs/swarmfs
fs_swarmfs_SOURCES = fs/main.c fs/fs.h fs/ops.c fs/inode.c fs/inode.h \
	fs/handle.c fs/handle.h fs/scratch.c fs/status.c fs/events.c \
	fs/watch.c fs/reject.c fs/snap.c fs/conflicts.c fs/metrics.c \
	fs/groupcommit.c \
	store/admin/recovery.c store/admin/recovery.h
fs_swarmfs_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/store/admin $(FUSE_CFLAGS) $(CJSON_CFLAGS)
fs_swarmfs_LDADD = $(STORE_LIBS) $(FUSE_LIBS)

# MOUNT/metrics: strict parse of the exposition format, counters that move.
dist_check_SCRIPTS += tests/integration/t0140-metrics.sh
