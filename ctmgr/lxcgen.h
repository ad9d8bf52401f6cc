/*
 * lxcgen.h - the LXC configuration of a container, generated from its
 * config (/etc/pve/lxc/<ID>.conf) at every start and kept readable at
 * <lxcpath>/<ID>/config for debugging.
 *
 * What it maps (doc/lxc.md has the table): arch, the distribution's
 * common/userns include files, hostname, tty count, memory/swap/cpulimit/
 * cpuunits/cores for cgroup v1 or v2, network interfaces (veth pairs named
 * veth<ID>i<N> on the host, bridge, MAC, MTU, link state), device nodes,
 * features, the unprivileged id map (100000:65536 unless the config brings
 * its own lxc.idmap), the rootfs at <lxcpath>/<ID>/rootfs (mounted there by
 * ctrun with the mount points under it), and last the config's raw lxc.*
 * keys.
 *
 * The generator reads nothing but the device nodes named by devN keys:
 * everything about the host comes in struct lxg_host (lxg_detect fills it).
 */
#ifndef CTMGR_LXCGEN_H
#define CTMGR_LXCGEN_H

#include "ctmgr/ctconf.h"

#include <stdbool.h>
#include <stddef.h>

enum lxg_cgroup { LXG_CGROUP_V1 = 1, LXG_CGROUP_V2 = 2 };

struct lxg_host {
	const char *lxcpath; /* the directory holding <ID>/config and <ID>/rootfs */
	const char *config_dir; /* LXC's shared config (/usr/share/lxc/config) */
	enum lxg_cgroup cgroup;
	bool memsw; /* v1: memory.memsw.limit_in_bytes exists (swap accounting) */
	int cpus; /* the CPUs this process may use */
	int cpu_ids[256]; /* their numbers, ascending (the first cpus of them) */
};

/* The host's facts; lxcpath is left to the caller. */
void lxg_detect(struct lxg_host *h);

/* The default id map of unprivileged containers: 0 -> 100000, 65536 ids. */
#define LXG_IDMAP_BASE 100000u
#define LXG_IDMAP_COUNT 65536u

/*
 * The id map of a container: its lxc.idmap keys' container-root entry, or
 * the default for unprivileged ones; count 0 for privileged containers.
 */
void lxg_idmap(const struct ctc_conf *c, unsigned *uid_base, unsigned *gid_base, unsigned *count);

/*
 * The LXC config of CT id from c (its current section: apply pending
 * changes before).  A malloc'd text, or NULL with the reason in err (a key
 * that does not validate, a devN that is not a device node).
 */
char *lxg_generate(const struct ctc_conf *c, long id, const struct lxg_host *h, char *err,
                   size_t errlen);

#endif
