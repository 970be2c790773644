# Snapshots: standalone backup files, whole restore, retention.
store_snapshot_sources = store/snapshot.c store/retention.c
