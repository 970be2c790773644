# The pure document layer: kinds, validation tables, rendering, JSON scanning.
store_doc_sources = store/doc-internal.h store/kinds.c store/schema.c store/render.c \
	store/jsonscan.c

check_PROGRAMS += tests/unit/test-schema tests/unit/test-render tests/unit/test-jsonscan
tests_unit_test_schema_SOURCES = tests/unit/test-schema.c
tests_unit_test_schema_CPPFLAGS = $(unit_cppflags)
tests_unit_test_schema_LDADD = $(STORE_LIBS)
tests_unit_test_render_SOURCES = tests/unit/test-render.c
tests_unit_test_render_CPPFLAGS = $(unit_cppflags)
tests_unit_test_render_LDADD = $(STORE_LIBS)
tests_unit_test_jsonscan_SOURCES = tests/unit/test-jsonscan.c
tests_unit_test_jsonscan_CPPFLAGS = $(unit_cppflags)
tests_unit_test_jsonscan_LDADD = $(STORE_LIBS)
