# swarmfs-sync: the replication sidecar (issue 4).
