# contrib/: helper scripts and units for users.
# A cluster CA and per-node certificates for swarmfs-sync's mutual TLS.
EXTRA_DIST += contrib/make-certs.sh
