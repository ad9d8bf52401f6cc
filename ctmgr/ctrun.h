/*
 * ctrun.h - running containers on liblxc: volumes mounted for a container,
 * start, stop, state.  Used by pct (and ctmgrd for migration starts).
 *
 * Each container has a directory <lxcpath>/<ID>/ ($PCT_LXC_PATH or
 * /var/lib/lxc) holding the generated LXC config ("config"), LXC's log
 * ("lxc.log", the last start's) and the mount point "rootfs".
 *
 * Where the volumes are mounted: ctr_start mounts the rootfs and the mount
 * points under <ID>/rootfs inside a private mount namespace that it creates
 * for the container's monitor, so the mounts live exactly as long as the
 * container does (its monitor survives in-container reboots) and nothing
 * is left mounted when it stops, crashes, or pct dies half-way.
 * ctr_mount_volumes in the caller's namespace is for `pct mount` (repair)
 * and `pct create` (unpacking the template).
 */
#ifndef CTMGR_CTRUN_H
#define CTMGR_CTRUN_H

#include "ctmgr/ctconf.h"
#include "ctmgr/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* $PCT_LXC_PATH or /var/lib/lxc */
const char *ctr_lxcpath(void);
/* <lxcpath>/<id>/rootfs */
void ctr_rootdir(long id, char *buf, size_t len);

/*
 * Mount c's rootfs volume at <lxcpath>/<id>/rootfs and its mount points
 * (storage volumes and host paths, mpN, in path order) below it, in the
 * caller's mount namespace.  Raw images are loop-mounted (the loop device
 * goes away with the mount), directories bind-mounted; "ro" and
 * "mountoptions" are honoured.  Mount point directories are created inside
 * the rootfs without following symlinks, owned by the container's root.
 * ro: everything read-only (pct df).  An image a loop device already
 * serves (the container runs, maybe seen from another namespace) is
 * refused: a second ext4 mount would corrupt it.  On failure everything
 * mounted so far is unmounted again.
 */
int ctr_mount_volumes(const struct ctc_conf *c, long id, const struct st_cfg *st, bool ro,
                      char *err, size_t errlen);
/*
 * Hot-plug key of c into the running container whose init is pid init: mpN
 * (a bind mount of a host path, or a storage volume) or the device node of
 * devN (bound at the same path inside), created in the container's own
 * mount namespace at its path, made without following symlinks in the
 * container's tree.  init_start: init's start time (fsu_proc_start), so a
 * reused pid is not taken for it.  0, also when that very mount is there
 * already (a replay), or -errno with err saying why.  An unprivileged
 * container gets no read-only or restricted bind mount live (-EPERM: its
 * root could undo it).  The devices cgroup is the caller's
 * (ctmgr/hotplug.c).
 */
int ctr_live_mount(const struct ctc_conf *c, pid_t init, unsigned long long init_start,
                   const char *key, const struct st_cfg *st, char *err, size_t errlen);
/*
 * Make this process's mounts private (a new mount namespace whose mounts
 * do not propagate back): what it mounts goes away when the last process
 * in it exits.  0 or -errno with err.
 */
int ctr_private_mounts(char *err, size_t errlen);
/*
 * In a private mount namespace (ctr_private_mounts): a sysfs of this
 * network namespace with the cgroup file systems at /sys/fs/cgroup (the
 * ones mounted here, or mounted anew where /sys has none, as under
 * "ip netns exec" and in cluster-sim nodes).  0 or -errno with err.
 */
int ctr_prepare_sys(char *err, size_t errlen);
/* Unmount everything at and below <lxcpath>/<id>/rootfs (deepest first). */
int ctr_unmount_volumes(long id, char *err, size_t errlen);
/* Is something mounted at <lxcpath>/<id>/rootfs in this namespace? */
bool ctr_volumes_mounted(long id);

enum ctr_state { CTR_STOPPED = 0, CTR_RUNNING, CTR_OTHER };
/* The container's state as LXC reports it (its command socket). */
enum ctr_state ctr_state(long id, pid_t *init_pid);

/*
 * Start CT id with config c (pending changes already applied): check its
 * bridges, write <ID>/config, mount the volumes in a new mount namespace,
 * start the container daemonized and wait until it runs (timeout_s).  On
 * failure nothing stays mounted or running and err has LXC's reason.
 */
int ctr_start(const struct ctc_conf *c, long id, const struct st_cfg *st, int timeout_s, char *err,
              size_t errlen);

/*
 * Stop CT id: force (kill at once) or a clean shutdown waiting timeout_s;
 * a shutdown that times out is -ETIMEDOUT (the container still runs).
 */
int ctr_stop(long id, bool force, int timeout_s, char *err, size_t errlen);

/* The id map of c's container root (uid/gid 0 for privileged containers). */
void ctr_root_owner(const struct ctc_conf *c, uid_t *uid, gid_t *gid);

#endif
