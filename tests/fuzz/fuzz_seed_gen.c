/*
 * fuzz_seed_gen.c - writes the generated part of the fuzzers' seed corpora
 * with the project's own code, so the seeds always match the current
 * formats (CTest runs it as the set-up fixture of the fuzz tests):
 *
 *   fuzz_seed_gen <cfs_op-dir> <database-dir> [<ipc_msg-dir>]
 *
 * cfs_op: one encoded op of every type (decodable, so fuzz_cfs_op applies
 * them) and a few op scripts.  database: a small database written through
 * database_open/memdb_apply/database_commit, like pmxcfs writes it.
 * ipc_msg: one IPC message of every type (a reply in each of its shapes)
 * and a few cluster log blobs.
 */
#include "pmxcfs/clusterlog.h"
#include "pmxcfs/database.h"
#include "pmxcfs/memdb.h"
#include "proto/cfs_op.h"
#include "proto/ipc_msg.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		TEST_FAIL("creating %s: %s", path, strerror(errno));
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	ASSERT_EQ(close(fd), 0);
}

static void write_op(const char *dir, const char *name, const struct cfs_op *op)
{
	size_t len = cfs_op_encoded_size(op);
	uint8_t *buf = malloc(len);
	ASSERT(buf != NULL);
	ASSERT_EQ(cfs_op_encode(op, buf, len), (long)len);
	write_file(dir, name, buf, len);
	free(buf);
}

/* Inode numbers of the fuzz_cfs_op fixture (see fixture() there). */
enum {
	FX_NODES = 2,
	FX_A,
	FX_A_LXC,
	FX_A_QEMU,
	FX_B,
	FX_B_LXC,
	FX_PRIV,
	FX_LOCK,
	FX_LOCK_L,
	FX_D,
	FX_CONF100,
	FX_D_F = FX_CONF100 + 2
};

static void gen_cfs_op(const char *dir)
{
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = FX_B_LXC,
		             .name = "101.conf",
		             .name_len = 8,
		             .now = T0 };
	write_op(dir, "op-create", &op);
	op = (struct cfs_op){
		.type = CFS_OP_MKDIR, .parent = FX_LOCK, .name = "l", .name_len = 1, .now = T0 + 200
	};
	write_op(dir, "op-mkdir-lock-takeover", &op);
	op = (struct cfs_op){
		.type = CFS_OP_UNLINK, .parent = FX_D, .name = "f", .name_len = 1, .now = T0
	};
	write_op(dir, "op-unlink", &op);
	op = (struct cfs_op){
		.type = CFS_OP_RMDIR, .parent = FX_LOCK, .name = "l", .name_len = 1, .now = T0
	};
	write_op(dir, "op-rmdir", &op);
	op = (struct cfs_op){ .type = CFS_OP_RENAME,
		              .parent = FX_A_LXC,
		              .name = "100.conf",
		              .name_len = 8,
		              .newparent = FX_B_LXC,
		              .newname = "100.conf",
		              .newname_len = 8,
		              .flags = CFS_OP_F_NOREPLACE,
		              .now = T0 };
	write_op(dir, "op-rename-migrate", &op);
	op = (struct cfs_op){ .type = CFS_OP_PUT,
		              .inode = FX_D_F,
		              .data = "key: value\n",
		              .data_len = 11,
		              .now = T0 };
	write_op(dir, "op-put", &op);
	op = (struct cfs_op){
		.type = CFS_OP_MTIME, .inode = FX_LOCK_L, .mtime = 0, .now = T0 + 500
	};
	write_op(dir, "op-mtime-lock-expiry", &op);

	/* scripts: op, parent, newparent, inode, now, mtime, name, newname, data */
	static const uint8_t create_put[] = {
		0, FX_A_QEMU, 0, 0,  1, 1, 0x80, 0x80, 0, /* create nodes/a/qemu-server/100.conf */
		0, FX_B_LXC,  0, 0,  1, 1, 0x81, 0x80, 0, /* create nodes/b/lxc/101.conf */
		5, 0,         0, 15, 2, 2, 0x80, 0x80, 3, 'a', 'b', 'c', /* put */
	};
	write_file(dir, "script-create-put", create_put, sizeof(create_put));
	static const uint8_t lock[] = {
		1, FX_LOCK, 0, 0,         10,  0, 0x8d, 0x80, 0, /* mkdir priv/lock/l: held */
		1, FX_LOCK, 0, 0,         60,  0, 0x8d, 0x80, 0, /* later: taken over */
		6, 0,       0, FX_LOCK_L, 100, 0, 0x80, 0x80, 0, /* utime 0: expiry request */
		6, 0,       0, FX_LOCK_L, 200, 0, 0x80, 0x80, 0,
	};
	write_file(dir, "script-lock", lock, sizeof(lock));
	static const uint8_t rename[] = {
		4,    FX_A_LXC, FX_B_LXC, 0, 1, 0, 0x80, 0x80, 0, /* migrate 100 */
		4,    FX_D,     FX_A_LXC, 0, 1, 0, 0x8f, 0x83, 0, /* d/f -> 100.conf.tmp.1 */
		0x84, FX_A_LXC, FX_A_LXC, 0, 1, 0, 0x83, 0x80, 0, /* noreplace onto 100.conf */
		4,    FX_NODES, FX_NODES, 0, 1, 0, 0x89, 0x8a, 0, /* nodes/a -> nodes/b */
	};
	write_file(dir, "script-rename", rename, sizeof(rename));
}

static int apply_txn(struct database *db, struct memdb *mdb, const struct cfs_op *op)
{
	struct memdb_store store;
	struct memdb_result res;

	database_store(db, &store);
	ASSERT_EQ(database_begin(db), 0);
	memdb_wrlock(mdb);
	ASSERT_EQ(memdb_apply(mdb, op, &res, &store), 0);
	memdb_unlock(mdb);
	ASSERT_EQ(database_commit(db), 0);
	return res.err;
}

static void gen_database(const char *dir)
{
	char path[1024], err[512] = "";
	struct database *db;
	struct memdb *mdb;

	snprintf(path, sizeof(path), "%s/tiny.db", dir);
	unlink(path);
	if (database_open(path, &db, err, sizeof(err)) || database_load(db, &mdb, err, sizeof(err)))
		TEST_FAIL("creating %s: %s", path, err);
	static const char *const dirs[] = { "nodes",        "nodes/n1",
		                            "nodes/n1/lxc", "nodes/n1/qemu-server",
		                            "priv",         "priv/lock",
		                            "priv/lock/ha" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *slash = strrchr(dirs[i], '/');
		char parent[64] = "";
		if (slash)
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dirs[i]), dirs[i]);
		const char *name = slash ? slash + 1 : dirs[i];
		struct cfs_op op = { .type = CFS_OP_MKDIR,
			             .parent = mu_ino(mdb, parent),
			             .name = name,
			             .name_len = (uint32_t)strlen(name),
			             .now = T0 };
		ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	}
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = mu_ino(mdb, "nodes/n1/lxc"),
		             .name = "100.conf",
		             .name_len = 8,
		             .now = T0 };
	ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	op = (struct cfs_op){ .type = CFS_OP_PUT,
		              .inode = mu_ino(mdb, "nodes/n1/lxc/100.conf"),
		              .data = "arch: amd64\nmemory: 512\n",
		              .data_len = 24,
		              .now = T0 };
	ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	memdb_free(mdb);
	database_close(db);
}

/* Finish w and write the message (or log blob, when raw) to dir/name. */
static void write_ipc(const char *dir, const char *name, struct ipc_wr *w, bool raw)
{
	size_t len = raw ? w->len : ipc_wr_finish(w);
	ASSERT(!w->overflow);
	ASSERT_GT(len, 0);
	write_file(dir, name, w->buf, len);
}

static void gen_ipc_msg(const char *dir)
{
	static unsigned char buf[8192];
	struct ipc_wr w;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_STATUS, 1, 0);
	write_ipc(dir, "req-status", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 2, 0);
	ipc_put_u32(&w, IPC_WATCH_FROM_NOW);
	ipc_put_u64(&w, 0);
	ipc_put_str(&w, "nodes/");
	write_ipc(dir, "req-watch-now", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 3, 0);
	ipc_put_u32(&w, 0);
	ipc_put_u64(&w, 42);
	ipc_put_str(&w, "");
	write_ipc(dir, "req-watch-from", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_UNWATCH, 4, 0);
	write_ipc(dir, "req-unwatch", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LIST, 5, 0);
	ipc_put_str(&w, "nodes/node1");
	ipc_put_str(&w, "nodes/node1/lxc/100.conf");
	write_ipc(dir, "req-list", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_APPEND, 6, 0);
	ipc_put_u8(&w, 6);
	ipc_put_str(&w, "pvedaemon");
	ipc_put_str(&w, "root@pam");
	ipc_put_str(&w, "start VM 100: \"quoted\"\n");
	write_ipc(dir, "req-log-append", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_READ, 7, 0);
	ipc_put_u32(&w, 50);
	write_ipc(dir, "req-log-read", &w, false);

	/* replies, one of each shape */
	const struct ipc_status st = { .cluster_name = "testcluster",
		                       .local_name = "node1",
		                       .local_id = 1,
		                       .flags = IPC_STATUS_F_CLUSTER | IPC_STATUS_F_CONNECTED |
		                           IPC_STATUS_F_QUORATE | IPC_STATUS_F_WRITABLE,
		                       .sync = IPC_SYNC_SYNCED,
		                       .expected_votes = 3,
		                       .total_votes = 2,
		                       .quorum = 2,
		                       .db_version = 1234,
		                       .membership_version = 5,
		                       .nnodes = 2 };
	const struct ipc_node nodes[] = {
		{ .id = 1, .votes = 1, .online = 1, .name = "node1", .addr = "10.0.0.1" },
		{ .id = 2, .votes = 1, .online = 0, .name = "node2", .addr = "10.0.0.2" },
	};
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 1, 0);
	ipc_put_status(&w, &st);
	ipc_put_node(&w, &nodes[0]);
	ipc_put_node(&w, &nodes[1]);
	write_ipc(dir, "reply-status", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 2, 0);
	ipc_put_u64(&w, 1234);
	write_ipc(dir, "reply-watch", &w, false);
	const struct ipc_entry ents[] = {
		{ .type = 1, .version = 3, .mtime = T0, .size = 0, .path = "nodes/node1/lxc" },
		{ .type = 2,
		  .version = 9,
		  .mtime = T0 + 1,
		  .size = 24,
		  .path = "nodes/node1/lxc/100.conf" },
	};
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 5, 0);
	ipc_put_u64(&w, 1234);
	ipc_put_u8(&w, 0);
	ipc_put_u32(&w, 2);
	ipc_put_entry(&w, &ents[0]);
	ipc_put_entry(&w, &ents[1]);
	write_ipc(dir, "reply-list", &w, false);
	const struct ipc_log_entry logs[] = {
		{ .instance = 0x1122334455667788ull,
		  .seq = 1,
		  .time = T0,
		  .pri = 6,
		  .pid = 100,
		  .node = "node1",
		  .user = "root@pam",
		  .tag = "pmxcfs",
		  .msg = "starting" },
		{ .instance = 0x99aabbccddeeff00ull,
		  .seq = 7,
		  .time = T0 + 5,
		  .pri = 3,
		  .pid = 200,
		  .node = "node2",
		  .user = "alice@pve",
		  .tag = "vzdump",
		  .msg = "backup failed" },
	};
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 7, 0);
	ipc_put_u32(&w, 2);
	ipc_put_log_entry(&w, &logs[0]);
	ipc_put_log_entry(&w, &logs[1]);
	write_ipc(dir, "reply-log-read", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 8, -ENOENT);
	write_ipc(dir, "reply-error", &w, false);

	/* events */
	const struct ipc_change chs[] = {
		{ .version = 10, .mtime = T0, .op = IPC_OP_CREATE, .path = "nodes/node1/a.conf" },
		{ .version = 11, .mtime = T0, .op = IPC_OP_PUT, .path = "nodes/node1/a.conf" },
		{ .version = 12,
		  .mtime = T0,
		  .op = IPC_OP_RENAME_FROM,
		  .path = "nodes/node1/lxc/100.conf",
		  .path2 = "nodes/node2/lxc/100.conf" },
		{ .version = 12,
		  .mtime = T0,
		  .op = IPC_OP_RENAME_TO,
		  .path = "nodes/node2/lxc/100.conf",
		  .path2 = "nodes/node1/lxc/100.conf" },
		{ .version = 13, .mtime = T0, .op = IPC_OP_MTIME, .path = "priv/lock/x" },
	};
	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_CHANGES, 0, 0);
	ipc_put_u32(&w, 5);
	for (size_t i = 0; i < 5; i++)
		ipc_put_change(&w, &chs[i]);
	write_ipc(dir, "ev-changes", &w, false);
	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_RESYNC, 0, 0);
	ipc_put_u64(&w, 99);
	ipc_put_u8(&w, IPC_RESYNC_OVERFLOW);
	write_ipc(dir, "ev-resync", &w, false);

	/* cluster log blobs: a whole log, and one new entry */
	struct clusterlog *cl = clusterlog_new();
	ASSERT(cl != NULL);
	clusterlog_add(cl, "node1", "root@pam", "pmxcfs", 6, 1, T0, "starting", NULL);
	clusterlog_add(cl, "node1", "root@pam", "pvedaemon", 5, 2, T0 + 1, "start VM 100", NULL);
	clusterlog_add(cl, "node2", "alice@pve", "vzdump", 3, 3, T0 - 1, "quote \" nl\n", NULL);
	ipc_wr_init_raw(&w, buf, sizeof(buf));
	clusterlog_encode(cl, &w);
	write_ipc(dir, "log-blob", &w, true);
	ipc_wr_init_raw(&w, buf, sizeof(buf));
	clusterlog_add(cl, "node1", "root@pam", "tag", 4, 4, T0 + 2, "one new entry", &w);
	write_ipc(dir, "log-blob-one", &w, true);
	clusterlog_free(cl);
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr,
		        "usage: fuzz_seed_gen <cfs_op-dir> <database-dir> [<ipc_msg-dir>]\n");
		return 2;
	}
	gen_cfs_op(argv[1]);
	gen_database(argv[2]);
	if (argc == 4)
		gen_ipc_msg(argv[3]);
	return 0;
}
