# Benchmarks: built on demand, never part of make check.  `make bench` builds
# the daemons and the benchmark programs, then runs bench/run, which measures
# swarmfs against tmpfs, the disk, a bare FUSE passthrough, raw SQLite and
# etcd and writes bench/results/DATE/.  Pass options through BENCH_ARGS, e.g.
# `make bench BENCH_ARGS=--quick`.
EXTRA_PROGRAMS = bench/bench-fs bench/bench-sqlite bench/fusepass \
	bench/bench-write bench/bench-nng
bench_bench_fs_SOURCES = bench/bench-fs.c bench/bench.h
bench_bench_fs_LDADD = -lpthread
bench_bench_sqlite_SOURCES = bench/bench-sqlite.c bench/bench.h
bench_bench_sqlite_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS)
bench_bench_sqlite_LDADD = $(SQLITE_LIBS) -lpthread
bench_fusepass_SOURCES = bench/fusepass.c
bench_fusepass_CPPFLAGS = $(AM_CPPFLAGS) $(FUSE_CFLAGS)
bench_fusepass_LDADD = $(FUSE_LIBS)
bench_bench_write_SOURCES = bench/bench-write.c bench/bench.h
bench_bench_write_LDADD = -lpthread
bench_bench_nng_SOURCES = bench/bench-nng.c bench/bench.h
bench_bench_nng_CPPFLAGS = $(AM_CPPFLAGS) $(NNG_CFLAGS)
bench_bench_nng_LDADD = $(NNG_LIBS) -lpthread
CLEANFILES += bench/bench-fs$(EXEEXT) bench/bench-sqlite$(EXEEXT) \
	bench/fusepass$(EXEEXT) bench/bench-write$(EXEEXT) bench/bench-nng$(EXEEXT)
EXTRA_DIST += bench/run bench/report.py bench/etcd-bench.py bench/run-snapshot.sh \
	bench/run-replication.sh bench/common.sh

BENCH_ARGS =
bench_deps = bench/bench-fs$(EXEEXT) bench/bench-sqlite$(EXEEXT) \
	bench/fusepass$(EXEEXT) bench/bench-write$(EXEEXT) bench/bench-nng$(EXEEXT) \
	fs/swarmfs$(EXEEXT) store/swarmfs-admin$(EXEEXT) sync/swarmfs-sync$(EXEEXT)
.PHONY: bench
bench: $(bench_deps)
	$(SHELL) $(srcdir)/bench/run --builddir '$(abs_builddir)' --no-build $(BENCH_ARGS)

# Snapshot cost against sqlite3 .backup, and writers slowed by snapshots
# (issue 3); replication latency, throughput, catch-up and sidecar cost on
# three loopback nodes against an nng pub/sub round trip (issue 4).
.PHONY: bench-snapshot bench-replication
bench-snapshot: bench/bench-fs$(EXEEXT) bench/bench-write$(EXEEXT)
	-$(MAKE) $(AM_MAKEFLAGS) fs/swarmfs$(EXEEXT) store/swarmfs-admin$(EXEEXT)
	$(SHELL) $(srcdir)/bench/run-snapshot.sh --builddir '$(abs_builddir)' --no-build $(BENCH_ARGS)
bench-replication: bench/bench-fs$(EXEEXT) bench/bench-write$(EXEEXT) bench/bench-nng$(EXEEXT)
	-$(MAKE) $(AM_MAKEFLAGS) fs/swarmfs$(EXEEXT) store/swarmfs-admin$(EXEEXT) \
		sync/swarmfs-sync$(EXEEXT)
	$(SHELL) $(srcdir)/bench/run-replication.sh --builddir '$(abs_builddir)' --no-build $(BENCH_ARGS)
