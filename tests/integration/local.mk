# Shell integration tests: real tools against a real mount.
EXTRA_DIST += tests/integration/lib.sh

