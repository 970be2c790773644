/* recovery.h - the one message that tells a user whose store is damaged
 * which snapshot to restore and how; shared by swarmfs-admin (check, status,
 * restore) and the mount, which prints it when it refuses to start.  Needs
 * only libstore: link store/admin/recovery.c into any program. */
#ifndef SWARMFS_ADMIN_RECOVERY_H
#define SWARMFS_ADMIN_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define ADMIN_RECOVERY_PROG "swarmfs-admin"

/*
 * Whether `rc`, a failure of store_open (quick_check on) or store_check,
 * means the store file itself is damaged, so that restoring a snapshot is
 * the cure: -EIO (corrupt, not a database, failed check).  -EBUSY, -EACCES,
 * -EROFS, a newer schema or another node name (-EINVAL) are not.
 */
bool admin_recovery_needed(int rc);

/*
 * Finds the newest snapshot in DATA_DIR/snapshots that opens and passes
 * store_check (integrity_check and every document).  Returns 0 with *info
 * filled, -ENOENT when there is none; *damaged (may be NULL) gets the number
 * of newer snapshots skipped because they failed.  Silences the store's own
 * log lines while it probes, so call it before starting threads.
 */
int admin_recovery_newest(const char *data_dir, struct store_snapshot_info *info,
			  int *damaged);

/*
 * Writes the whole one-line message for a store in `data_dir` that cannot
 * be used because of `reason` (the store's err.msg; it is used as the first
 * part when it already names the store file, else the message starts
 * "store 'DATA_DIR/store.db' is corrupt: REASON").  With a good snapshot:
 *   "...; the newest good snapshot is 'NAME' (revision R, 2026-11-22T03:00:00Z):
 *    run 'swarmfs-admin --data-dir DATA_DIR restore NAME'"
 * and without one, says that there is none.  DATA_DIR is made absolute and
 * shell-quoted when needed, so the command can be pasted as it is.
 * `buf` always holds a NUL-terminated line (cut if `size` is too small).
 * Returns 0 when a snapshot is named, -ENOENT when there is none.
 */
int admin_recovery_hint(const char *data_dir, const char *reason, char *buf,
			size_t size);

#endif
