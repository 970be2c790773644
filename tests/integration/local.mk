# Shell integration tests: real tools against a real mount.
EXTRA_DIST += tests/integration/lib.sh tests/integration/sync-lib.sh
dist_check_SCRIPTS += tests/integration/t0001-mount.sh
dist_check_SCRIPTS += tests/integration/t0002-permissions.sh
dist_check_SCRIPTS += tests/integration/t0010-tools.sh
dist_check_SCRIPTS += tests/integration/t0020-errors.sh
dist_check_SCRIPTS += tests/integration/t0030-concurrency.sh
dist_check_SCRIPTS += tests/integration/t0040-durability.sh
dist_check_SCRIPTS += tests/integration/t0050-persistence.sh
dist_check_SCRIPTS += tests/integration/t0060-snapshots-admin.sh
dist_check_SCRIPTS += tests/integration/t0070-snapshots-mount.sh
dist_check_SCRIPTS += tests/integration/t0080-mount-extras.sh

# Bad administration: wrong data dirs, read-only, full disk, newer schema, bad mount points.
dist_check_SCRIPTS += tests/integration/t0120-bad-admin.sh

# Power loss under the store: a test VFS drops unsynced writes at a crash.
check_PROGRAMS += tests/durability/test-powerloss
tests_durability_test_powerloss_SOURCES = tests/durability/test-powerloss.c
tests_durability_test_powerloss_CPPFLAGS = $(unit_cppflags)
tests_durability_test_powerloss_LDADD = $(STORE_LIBS)

# Replication: three nodes on loopback (sync-poke is built by sync/local.mk).
dist_check_SCRIPTS += tests/integration/t0100-sync.sh
dist_check_SCRIPTS += tests/integration/t0110-sync-transfer.sh
dist_check_SCRIPTS += tests/integration/t0110-sync-tls.sh
dist_check_SCRIPTS += tests/integration/t0110-sync-partition.sh
EXTRA_DIST += tests/integration/sync-check.py
