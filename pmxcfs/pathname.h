/*
 * pathname.h - name rules of the /etc/pve tree.  Pure functions used by
 * memdb's validator (on every node, so they must be deterministic) and by
 * the fuzz target tests/fuzz/fuzz_pathname.c.
 */
#ifndef PMXCFS_PATHNAME_H
#define PMXCFS_PATHNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFS_MAX_NAME_LEN 255
#define CFS_MIN_GUEST_ID 100
#define CFS_MAX_GUEST_ID 999999999u

enum cfs_guest_type {
	CFS_GUEST_NONE = 0,
	CFS_GUEST_LXC = 1,
	CFS_GUEST_QEMU = 2,
};

/*
 * A name of one directory entry: 0, -EINVAL (empty, ".", "..", contains '/'
 * or NUL) or -ENAMETOOLONG (over CFS_MAX_NAME_LEN bytes).
 */
int cfs_name_check(const char *name, size_t len);

/* Which guest directory a directory named dirname is ("lxc", "qemu-server"). */
enum cfs_guest_type cfs_guest_dir_type(const char *dirname, size_t len);

/*
 * Does name have the shape of a guest config, "<digits>.conf" with no
 * leading zero?  If so, *vmid gets the id (which may still be < 100 or too
 * large: see cfs_guest_name_check).
 */
bool cfs_guest_name_parse(const char *name, size_t len, uint64_t *vmid);

/*
 * Names editors and tools create next to a file they rewrite: vim's
 * ".100.conf.swp" swap files and "4913" probe, "100.conf~" backups, emacs
 * "#100.conf#", sed -i's "sedXXXXXX", Proxmox's "100.conf.tmp.<pid>", and
 * "*.tmp/.new/.bak/.old".
 */
bool cfs_temp_name(const char *name, size_t len);

/*
 * A file name in a guest directory: 0 and *vmid set for a guest config,
 * 0 and *vmid = 0 for an allowed temporary name, -EINVAL otherwise
 * (including ids < 100, which are reserved).
 */
int cfs_guest_name_check(const char *name, size_t len, uint64_t *vmid);

/*
 * Names at the root that belong to virtual entries (.members, .vmlist,
 * .version, .clusterlog and the links local, lxc, qemu-server, openvz): no
 * real entry may take them.
 */
bool cfs_root_reserved_name(const char *name, size_t len);

#endif
