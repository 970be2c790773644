# man/: the pages, installed by `make install`, and a check that they lint
# cleanly and name the same options as each program's --help.
dist_man_MANS = man/swarmfs.8 man/swarmfs-sync.8 man/swarmfs-admin.8 man/swarmfs.5
dist_check_SCRIPTS += man/check-man.sh
