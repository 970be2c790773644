# tests/fuzz/: fragment owned by its subsystem; filled in as it lands.
