/*
 * hotplug.h - bring a running container in line with its config: what
 * ctmgrd does on every change of /etc/pve/nodes/<node>/lxc/<ID>.conf.
 *
 * The state the container runs with is recorded in <lxcpath>/<ID>/
 * applied.conf (written by ctr_start, rewritten here).  A change is the
 * difference between that and the config's current section:
 *   - keys that need no action (description, onboot, tags, hostname, ...)
 *     are taken as they are;
 *   - memory, swap, cpulimit, cpuunits and cores are applied to the
 *     container's cgroup at once (cgroup v1 or v2; memory and swap in the
 *     safe order when lowering);
 *   - netN is added, removed or changed in place (doc/ctmgrd.md);
 *   - a new mpN or devN is mounted in the container's mount namespace
 *     (ctr_live_mount), a device allowed in its devices cgroup first;
 *   - everything else, and a live change that fails (e.g. memory below
 *     what the container uses), goes back to its running value in the
 *     current section and into [pve:pending], applied at the next start.
 * Writing the config back changes it again; the next run finds nothing to
 * do, so there is no loop.  The outcome goes to a verdict file
 * (/run/ctmgrd/<ID>.verdict, $CTMGRD_RUN_DIR) that pct set waits for.
 */
#ifndef CTMGR_HOTPLUG_H
#define CTMGR_HOTPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* <lxcpath>/<id>/applied.conf */
void hp_applied_path(long id, char *buf, size_t len);

/* What one reconcile did (key lists, space separated). */
struct hp_result {
	bool running; /* false: nothing to do, the config takes effect at start */
	bool wrote_back; /* the config was rewritten (keys moved to pending) */
	char digest[41]; /* of the config as it was processed */
	char applied[1024];
	char pending[1024];
	char failed[2048]; /* "key: reason; ..." (also pending) */
};

/*
 * Reconcile CT id with its config at conf_path (this node's).  An invalid
 * config changes nothing: -EINVAL with err naming file, line and key; an
 * empty one (a rewrite in place, between truncation and content) changes
 * nothing either: -ENOMSG.
 * The per-CT lock ($PCT_LOCK_DIR) is held while the config is rewritten.
 */
int hp_reconcile(long id, const char *conf_path, struct hp_result *res, char *err, size_t errlen);

/*
 * The version pmxcfs has the file conf_path at (under ctf_root(); links
 * resolved), asked over its IPC: a write of a new text replaces it only if
 * no one wrote it since (ctf_write_atomic_if).  -EAGAIN when that version
 * is newer than what watchers were shown (its cache invalidation may not
 * have landed: a read now could show the text it replaced).
 */
int hp_conf_version(const char *conf_path, uint64_t *version, char *err, size_t errlen);

/* $CTMGRD_RUN_DIR or /run/ctmgrd */
const char *hp_run_dir(void);
/* Write res as CT id's verdict file (atomically). */
int hp_write_verdict(long id, const struct hp_result *res);
/*
 * Wait up to timeout_ms for the verdict of the config with this digest,
 * made at since_ns (CLOCK_REALTIME) or later; 0 with res filled, or
 * -ETIMEDOUT.
 */
int hp_wait_verdict(long id, const char *digest, long long since_ns, int timeout_ms,
                    struct hp_result *res);

#endif
