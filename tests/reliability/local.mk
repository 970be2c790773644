# tests/reliability/: crash loops, soak and clock skew on real mounts and
# sidecars (issue 5).  `make check` runs the short versions; `make
# check-long` the long ones (and the fuzzers' long run when it exists).

# rel-load: the writers and readers of these tests; run with no arguments it
# is a TAP self-test of its torn-document check and percentiles.
check_PROGRAMS += tests/reliability/rel-load
tests_reliability_rel_load_SOURCES = tests/reliability/rel-load.c
tests_reliability_rel_load_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS)
tests_reliability_rel_load_LDADD = $(CJSON_LIBS)

EXTRA_DIST += tests/reliability/rel-lib.sh tests/reliability/check-long.sh \
	tests/reliability/rel-resolve.py
dist_check_SCRIPTS += tests/reliability/t0500-crash-loop.sh
dist_check_SCRIPTS += tests/reliability/t0510-soak.sh
dist_check_SCRIPTS += tests/reliability/t0520-clock-skew.sh

# The long versions: crash loop of REL_CYCLES (>= 500) kill -9 cycles, soak
# of REL_SOAK_SECONDS on one node and on three, the fuzzers for FUZZ_SECONDS.
REL_CYCLES ?= 500
REL_SOAK_SECONDS ?= 600
FUZZ_SECONDS ?= 600
.PHONY: check-long
check-long: $(check_PROGRAMS) $(bin_PROGRAMS) $(noinst_PROGRAMS)
	REL_CYCLES='$(REL_CYCLES)' REL_SOAK_SECONDS='$(REL_SOAK_SECONDS)' \
	FUZZ_SECONDS='$(FUZZ_SECONDS)' top_builddir='$(abs_top_builddir)' \
	top_srcdir='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/tests/reliability/check-long.sh
