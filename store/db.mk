# The SQLite side of libstore: open/migrate, writes, change log, status.
store_db_sources = store/db.c store/db.h store/migrate.c store/hlc.c \
	store/resource.c store/namespace.c store/changelog.c store/status.c \
	store/datadir.c store/notify.c store/notify.h

check_PROGRAMS += tests/unit/test-store tests/unit/test-migrate
tests_unit_test_store_SOURCES = tests/unit/test-store.c
tests_unit_test_store_CPPFLAGS = $(unit_cppflags)
tests_unit_test_store_LDADD = $(STORE_LIBS)
tests_unit_test_migrate_SOURCES = tests/unit/test-migrate.c
tests_unit_test_migrate_CPPFLAGS = $(unit_cppflags)
tests_unit_test_migrate_LDADD = $(STORE_LIBS)
