# contrib/: helper scripts, systemd units and shell completion for users.
# A cluster CA and per-node certificates for swarmfs-sync's mutual TLS.
EXTRA_DIST += contrib/make-certs.sh

# systemd units: ExecStart= names $(bindir), so they are made at build
# time; installed where systemd looks for locally installed units
# (`make install systemdsystemunitdir=/etc/systemd/system` to change).
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = contrib/systemd/swarmfs.service contrib/systemd/swarmfs-sync.service
CLEANFILES += $(systemdsystemunit_DATA)
EXTRA_DIST += contrib/systemd/swarmfs.service.in contrib/systemd/swarmfs-sync.service.in
contrib_systemd_edit = $(MKDIR_P) contrib/systemd && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@
contrib/systemd/swarmfs.service: $(srcdir)/contrib/systemd/swarmfs.service.in Makefile
	$(AM_V_GEN)$(contrib_systemd_edit)
contrib/systemd/swarmfs-sync.service: $(srcdir)/contrib/systemd/swarmfs-sync.service.in Makefile
	$(AM_V_GEN)$(contrib_systemd_edit)
# /etc/swarmfs/sync.conf and /etc/default/swarmfs to start from.
contribexampledir = $(docdir)/examples
dist_contribexample_DATA = contrib/systemd/sync.conf.example contrib/systemd/swarmfs.default
dist_check_SCRIPTS += contrib/systemd/check-units.sh

# The mount from /etc/fstab through mount.fuse3.
dist_check_SCRIPTS += tests/integration/t0130-fstab.sh
# Logging: -f and syslog, --log-level, rate limits (both daemons).
dist_check_SCRIPTS += tests/integration/t0131-logging.sh

# Bash completion, where bash-completion looks for it on demand.
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/bash-completion/swarmfs \
	contrib/bash-completion/swarmfs-sync contrib/bash-completion/swarmfs-admin
dist_check_SCRIPTS += contrib/bash-completion/check-completion.sh
