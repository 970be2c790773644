# Replication on the store side: applying remote changes, conflicts, digest.
store_sync_sources = store/apply.c
