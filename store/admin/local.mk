# swarmfs-admin: offline and online administration of one data dir.
bin_PROGRAMS += store/swarmfs-admin
store_admin_lib_sources = store/admin/admin.h store/admin/export.c \
	store/admin/import.c store/admin/podman.c store/admin/log.c \
	store/admin/kubernetes.c
store_swarmfs_admin_SOURCES = store/admin/main.c $(store_admin_lib_sources) \
	store/admin/recovery.c store/admin/recovery.h
store_swarmfs_admin_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS)
store_swarmfs_admin_LDADD = $(STORE_LIBS)

# import/export logic linked without main.c
check_PROGRAMS += tests/unit/test-import
tests_unit_test_import_SOURCES = tests/unit/test-import.c $(store_admin_lib_sources)
tests_unit_test_import_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/store/admin
tests_unit_test_import_LDADD = $(STORE_LIBS)
EXTRA_DIST += tests/data/podman-state.json tests/data/podman-bad.json

# export --kubernetes: strict schema of the emitted subset, structure, warnings.
dist_check_SCRIPTS += tests/integration/t0150-kubernetes.sh
EXTRA_DIST += tests/data/k8s-list.schema.json
