# Benchmarks: built on demand, never part of make check.  `make bench` builds
# them, tries to build the daemons, and runs bench/run-single.sh, which still
# measures the baselines when swarmfs does not build.  Pass options through
# BENCH_ARGS, e.g. `make bench BENCH_ARGS=--quick`.
EXTRA_PROGRAMS = bench/bench-fs bench/bench-sqlite bench/fusepass
bench_bench_fs_SOURCES = bench/bench-fs.c bench/bench.h
bench_bench_sqlite_SOURCES = bench/bench-sqlite.c bench/bench.h
bench_bench_sqlite_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS)
bench_bench_sqlite_LDADD = $(SQLITE_LIBS)
bench_fusepass_SOURCES = bench/fusepass.c
bench_fusepass_CPPFLAGS = $(AM_CPPFLAGS) $(FUSE_CFLAGS)
bench_fusepass_LDADD = $(FUSE_LIBS)
CLEANFILES += bench/bench-fs$(EXEEXT) bench/bench-sqlite$(EXEEXT) \
	bench/fusepass$(EXEEXT)
EXTRA_DIST += bench/run-single.sh

BENCH_ARGS =
.PHONY: bench
bench: bench/bench-fs$(EXEEXT) bench/bench-sqlite$(EXEEXT) bench/fusepass$(EXEEXT)
	-$(MAKE) $(AM_MAKEFLAGS) fs/swarmfs$(EXEEXT) store/swarmfs-admin$(EXEEXT)
	$(SHELL) $(srcdir)/bench/run-single.sh --builddir '$(abs_builddir)' --no-build $(BENCH_ARGS)
