# contrib/reconcile/: swarmfs-reconcile, a shell reconciler that keeps pods/
# in line with deployments/ through the mount alone (bash and jq), and the
# tests of it and of the README's tour.
dist_bin_SCRIPTS = contrib/reconcile/swarmfs-reconcile
dist_check_SCRIPTS += tests/integration/t0160-reconcile.sh
dist_check_SCRIPTS += tests/integration/t0170-readme.sh
