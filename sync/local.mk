# swarmfs-sync: the replication sidecar (issue 4).
bin_PROGRAMS += sync/swarmfs-sync
sync_swarmfs_sync_SOURCES = sync/main.c sync/sync.h sync/node.c sync/wire.c sync/wire.h
sync_swarmfs_sync_CPPFLAGS = $(AM_CPPFLAGS) $(NNG_CFLAGS) $(CJSON_CFLAGS)
sync_swarmfs_sync_LDADD = $(STORE_LIBS) $(NNG_LIBS)

check_PROGRAMS += tests/unit/test-apply tests/unit/test-wire
tests_unit_test_apply_SOURCES = tests/unit/test-apply.c
tests_unit_test_apply_CPPFLAGS = $(unit_cppflags)
tests_unit_test_apply_LDADD = $(STORE_LIBS)
tests_unit_test_wire_SOURCES = tests/unit/test-wire.c sync/wire.c sync/wire.h
tests_unit_test_wire_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/sync
tests_unit_test_wire_LDADD = $(STORE_LIBS)

# A raw nng client for t0100: sends malformed frames, asks for status.
# Built with everything (not a check program, which automake would run as a test).
noinst_PROGRAMS += tests/integration/sync-poke
tests_integration_sync_poke_SOURCES = tests/integration/sync-poke.c sync/wire.c sync/wire.h
tests_integration_sync_poke_CPPFLAGS = $(AM_CPPFLAGS) $(NNG_CFLAGS) -I$(top_srcdir)/sync
tests_integration_sync_poke_LDADD = $(STORE_LIBS) $(NNG_LIBS)

# A state transfer as seen through a mount (cache invalidation, events).
dist_check_SCRIPTS += tests/integration/t0111-sync-transfer-mount.sh
# A wiped node that keeps its name: its new changes are renumbered, not lost.
dist_check_SCRIPTS += tests/integration/t0112-sync-wiped-node.sh
