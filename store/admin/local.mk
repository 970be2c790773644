# swarmfs-admin: offline and online administration of one data dir.
bin_PROGRAMS += store/swarmfs-admin
store_swarmfs_admin_SOURCES = store/admin/main.c store/admin/admin.h \
	store/admin/export.c store/admin/import.c store/admin/podman.c \
	store/admin/log.c
store_swarmfs_admin_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS)
store_swarmfs_admin_LDADD = $(STORE_LIBS)
