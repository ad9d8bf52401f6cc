/*
 * virtual.c - see virtual.h.  JSON shapes follow the reference's files.
 */
#include "pmxcfs/virtual.h"
#include "pmxcfs/cluster.h"
#include "pmxcfs/pathname.h"
#include "pmxcfs/sbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct virt_entry entries[VIRT_COUNT] = {
	{ VIRT_VERSION, ".version", VIRT_INODE_BASE + 1, false },
	{ VIRT_MEMBERS, ".members", VIRT_INODE_BASE + 2, false },
	{ VIRT_VMLIST, ".vmlist", VIRT_INODE_BASE + 3, false },
	{ VIRT_CLUSTERLOG, ".clusterlog", VIRT_INODE_BASE + 4, false },
	{ VIRT_LINK_LOCAL, "local", VIRT_INODE_BASE + 5, true },
	{ VIRT_LINK_LXC, "lxc", VIRT_INODE_BASE + 6, true },
	{ VIRT_LINK_QEMU, "qemu-server", VIRT_INODE_BASE + 7, true },
	{ VIRT_LINK_OPENVZ, "openvz", VIRT_INODE_BASE + 8, true },
};

/* Files whose change counters .version reports, as the reference does. */
static const char *const versioned_files[] = {
	"corosync.conf",       "storage.cfg",   "user.cfg",        "domains.cfg",
	"datacenter.cfg",      "vzdump.cron",   "replication.cfg", "ceph.conf",
	"priv/shadow.cfg",     "priv/tfa.cfg",  "ha/crm_commands", "ha/manager_status",
	"ha/resources.cfg",    "ha/groups.cfg", "ha/fence.cfg",    "status.cfg",
	"firewall/cluster.fw",
};

const struct virt_entry *virtual_by_name(const char *name)
{
	for (size_t i = 0; i < VIRT_COUNT; i++)
		if (strcmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

const struct virt_entry *virtual_by_inode(uint64_t inode)
{
	if (inode <= VIRT_INODE_BASE || inode > VIRT_INODE_BASE + VIRT_COUNT)
		return NULL;
	return &entries[inode - VIRT_INODE_BASE - 1];
}

const struct virt_entry *virtual_at(size_t i)
{
	return i < VIRT_COUNT ? &entries[i] : NULL;
}

struct vmlist_ctx {
	struct sbuf *sb;
	int n;
};

static void vmlist_one(void *arg, uint64_t vmid, const char *node, int guest_type, uint64_t version)
{
	struct vmlist_ctx *c = arg;
	sbuf_addf(c->sb, "%s\n\"%llu\": { \"node\": ", c->n++ ? "," : "", (unsigned long long)vmid);
	sbuf_add_json(c->sb, node);
	sbuf_addf(c->sb, ", \"type\": \"%s\", \"version\": %llu }",
	          guest_type == CFS_GUEST_LXC ? "lxc" : "qemu", (unsigned long long)version);
}

static void render_version(const struct virtual_ctx *ctx, struct sbuf *sb)
{
	uint64_t v = memdb_version(ctx->mdb);

	sbuf_addf(sb, "{\n\"starttime\": %lld,\n\"clinfo\": 1,\n\"vmlist\": %llu",
	          (long long)ctx->starttime, (unsigned long long)v);
	for (size_t i = 0; i < sizeof(versioned_files) / sizeof(versioned_files[0]); i++) {
		struct memdb_stat st;
		uint64_t fv =
		    memdb_resolve(ctx->mdb, versioned_files[i], &st) == 0 ? st.version : 0;
		sbuf_addf(sb, ",\n\"%s\": %llu", versioned_files[i], (unsigned long long)fv);
	}
	sbuf_addf(sb, "\n}\n");
}

static void render_members(const struct virtual_ctx *ctx, struct sbuf *sb)
{
	sbuf_addf(sb, "{\n\"nodename\": ");
	sbuf_add_json(sb, ctx->nodename);
	sbuf_addf(sb, ",\n\"version\": %llu,\n", (unsigned long long)memdb_version(ctx->mdb));
	if (ctx->cluster) {
		cluster_render_members(ctx->cluster, sb);
		sbuf_addf(sb, "}\n");
		return;
	}
	/* local mode: this node alone, always quorate */
	sbuf_addf(sb, "\"cluster\": { \"name\": ");
	sbuf_add_json(sb, ctx->nodename);
	sbuf_addf(sb, ", \"version\": 0, \"nodes\": 1, \"quorate\": %d },\n", ctx->quorate ? 1 : 0);
	sbuf_addf(sb, "\"nodelist\": {\n  ");
	sbuf_add_json(sb, ctx->nodename);
	sbuf_addf(sb, ": { \"id\": 1, \"online\": 1, \"ip\": \"127.0.0.1\"}\n  }\n}\n");
}

int virtual_render(const struct virtual_ctx *ctx, const struct virt_entry *e, char **out,
                   size_t *len)
{
	struct sbuf sb = SBUF_INIT;

	switch (e->kind) {
	case VIRT_VERSION:
		render_version(ctx, &sb);
		break;
	case VIRT_MEMBERS:
		render_members(ctx, &sb);
		break;
	case VIRT_VMLIST: {
		struct vmlist_ctx c = { &sb, 0 };
		sbuf_addf(&sb, "{\n\"version\": %llu,\n\"ids\": {",
		          (unsigned long long)memdb_version(ctx->mdb));
		memdb_vmlist(ctx->mdb, vmlist_one, &c);
		sbuf_addf(&sb, "}\n\n}\n");
		break;
	}
	case VIRT_CLUSTERLOG:
		clusterlog_render(ctx->clog, &sb);
		break;
	case VIRT_LINK_LOCAL:
		sbuf_addf(&sb, "nodes/%s", ctx->nodename);
		break;
	case VIRT_LINK_LXC:
		sbuf_addf(&sb, "nodes/%s/lxc", ctx->nodename);
		break;
	case VIRT_LINK_QEMU:
		sbuf_addf(&sb, "nodes/%s/qemu-server", ctx->nodename);
		break;
	case VIRT_LINK_OPENVZ:
		sbuf_addf(&sb, "nodes/%s/openvz", ctx->nodename);
		break;
	default:
		break;
	}
	*out = sbuf_detach(&sb, len);
	return *out ? 0 : -ENOMEM;
}
