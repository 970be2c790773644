# Snapshots: standalone backup files, whole restore, retention.
store_snapshot_sources = store/snapshot.c store/retention.c

check_PROGRAMS += tests/unit/test-snapshot tests/unit/test-retention
tests_unit_test_snapshot_SOURCES = tests/unit/test-snapshot.c
tests_unit_test_snapshot_CPPFLAGS = $(unit_cppflags)
tests_unit_test_snapshot_LDADD = $(STORE_LIBS)
tests_unit_test_retention_SOURCES = tests/unit/test-retention.c
tests_unit_test_retention_CPPFLAGS = $(unit_cppflags)
tests_unit_test_retention_LDADD = $(STORE_LIBS)
