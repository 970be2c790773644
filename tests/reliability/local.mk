# tests/reliability/: fragment owned by its subsystem; filled in as it lands.
