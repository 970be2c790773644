# contrib/schema/: JSON Schemas (draft-07) of the four kinds, for editors and
# CI linting, generated from the validation tables in store/schema.c by
# swarmfs-schema (gen-schema.c).  The committed files are checked against a
# fresh generation by tests/integration/t0155-schema.sh; after changing a
# table, `make schema-update` rewrites them.
noinst_PROGRAMS += contrib/schema/swarmfs-schema
contrib_schema_swarmfs_schema_SOURCES = contrib/schema/gen-schema.c
contrib_schema_swarmfs_schema_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS)
contrib_schema_swarmfs_schema_LDADD = $(STORE_LIBS)

schemadir = $(datadir)/swarmfs/schema
dist_schema_DATA = contrib/schema/deployment.json contrib/schema/service.json \
	contrib/schema/pod.json contrib/schema/ingress.json

schema-update: contrib/schema/swarmfs-schema$(EXEEXT)
	for k in deployment service pod ingress; do \
		contrib/schema/swarmfs-schema$(EXEEXT) $$k >$(srcdir)/contrib/schema/$$k.json.tmp && \
		mv $(srcdir)/contrib/schema/$$k.json.tmp $(srcdir)/contrib/schema/$$k.json || exit 1; \
	done
.PHONY: schema-update

# Regenerated schemas equal the committed ones; python3-jsonschema and the
# store's validator agree on every document of tests/unit/test-schema.c
# and contrib/schema/cases.json.
dist_check_SCRIPTS += tests/integration/t0155-schema.sh
EXTRA_DIST += contrib/schema/check-schema.py contrib/schema/cases.json
