# tests/fuzz/: libFuzzer harnesses for the document layer, the sync wire
# format and the Podman Swarm importer.  run.sh builds them with clang
# (-fsanitize=fuzzer,address,undefined) in a temporary directory when the
# tests run, never with plain `make`, and runs each for FUZZ_SECONDS.
dist_check_SCRIPTS += tests/fuzz/run.sh
EXTRA_DIST += tests/fuzz/fuzz.h tests/fuzz/fuzz-document.c tests/fuzz/fuzz-wire.c \
	tests/fuzz/fuzz-podman.c tests/fuzz/wire-seeds.c \
	tests/fuzz/fuzz-document.dict tests/fuzz/fuzz-wire.dict tests/fuzz/fuzz-podman.dict \
	tests/fuzz/corpus
