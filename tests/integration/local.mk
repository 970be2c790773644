# Shell integration tests: real tools against a real mount.
EXTRA_DIST += tests/integration/lib.sh
dist_check_SCRIPTS += tests/integration/t0001-mount.sh
dist_check_SCRIPTS += tests/integration/t0010-tools.sh
