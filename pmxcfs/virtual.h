/*
 * virtual.h - the entries at the root of /etc/pve that are not stored:
 * read-only status files (.version, .members, .vmlist, .clusterlog) and the
 * links local, lxc, qemu-server, openvz into nodes/<this node>/.
 *
 * Their inode numbers sit at the top of the 64-bit range, far from memdb's
 * (which grow from 1 with the global version), so the two never meet.
 * Content is rendered on open, so one open handle reads a consistent copy.
 */
#ifndef PMXCFS_VIRTUAL_H
#define PMXCFS_VIRTUAL_H

#include "pmxcfs/clusterlog.h"
#include "pmxcfs/memdb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRT_INODE_BASE 0xffffffffffff0000ull

enum virt_kind {
	VIRT_VERSION,
	VIRT_MEMBERS,
	VIRT_VMLIST,
	VIRT_CLUSTERLOG,
	VIRT_LINK_LOCAL,
	VIRT_LINK_LXC,
	VIRT_LINK_QEMU,
	VIRT_LINK_OPENVZ,
	VIRT_COUNT,
};

struct virt_entry {
	enum virt_kind kind;
	const char *name;
	uint64_t inode;
	bool link;
};

struct virtual_ctx {
	struct memdb *mdb;
	struct clusterlog *clog;
	const char *nodename;
	int64_t starttime;
	bool quorate;
	struct cluster *cluster; /* NULL in local mode */
};

const struct virt_entry *virtual_by_name(const char *name);
const struct virt_entry *virtual_by_inode(uint64_t inode);
const struct virt_entry *virtual_at(size_t i); /* i < VIRT_COUNT */

/*
 * Render a file's content or a link's target into a malloc'd buffer
 * (*out, *len; NUL terminated).  0 or -ENOMEM.
 */
int virtual_render(const struct virtual_ctx *ctx, const struct virt_entry *e, char **out,
                   size_t *len);

#endif
