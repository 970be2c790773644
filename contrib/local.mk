# contrib/: helper scripts and units for users.
