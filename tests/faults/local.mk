# tests/faults/: I/O faults injected with libfiu.  The tests run a swarmfs
# of their own, linked with a second libstore built with the fault points
# (store/fault.h), so that the shipped binaries never carry them.  Without
# libfiu the scripts skip.
fault_tests = tests/faults/t0400-random-faults.sh tests/faults/t0410-commit-phases.sh \
	tests/faults/t0420-snapshot-faults.sh
dist_check_SCRIPTS += $(fault_tests)
EXTRA_DIST += tests/faults/fault-lib.sh tests/faults/fault-writes.py store/fault.h

if HAVE_FIU
check_LIBRARIES = tests/faults/libstore-fiu.a
tests_faults_libstore_fiu_a_SOURCES = $(store_libstore_a_SOURCES)
tests_faults_libstore_fiu_a_CPPFLAGS = $(store_libstore_a_CPPFLAGS) \
	-DSWARMFS_FAULT_INJECTION $(FIU_CFLAGS)

# Not a check_PROGRAM, which `make check` would run as a test: each fault
# test's log depends on it instead.
EXTRA_PROGRAMS += tests/faults/swarmfs-fiu
tests_faults_swarmfs_fiu_SOURCES = $(fs_swarmfs_SOURCES)
tests_faults_swarmfs_fiu_CPPFLAGS = $(fs_swarmfs_CPPFLAGS) -DSWARMFS_FAULT_INJECTION
tests_faults_swarmfs_fiu_LDADD = tests/faults/libstore-fiu.a $(SQLITE_LIBS) $(CJSON_LIBS) \
	-lpthread $(FUSE_LIBS) $(FIU_LIBS)
CLEANFILES += tests/faults/swarmfs-fiu$(EXEEXT)
tests/faults/t0400-random-faults.log tests/faults/t0410-commit-phases.log \
tests/faults/t0420-snapshot-faults.log: tests/faults/swarmfs-fiu$(EXEEXT)
endif
