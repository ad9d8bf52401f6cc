/*
 * test_ipc_msg.c - unit tests of proto/ipc_msg.c, the local IPC format
 * between pmxcfs and its clients: round trips of every typed body through
 * struct ipc_wr / struct ipc_rd, writer overflow, and refusal of damaged,
 * truncated, unknown, oversized and inconsistent messages and fields.
 */
#include "proto/crc32.h"
#include "proto/ipc_msg.h"
#include "proto/le.h"
#include "tests/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Seal raw body bytes into a message of type in buf; returns its length. */
static size_t seal_raw(uint8_t *buf, size_t cap, uint16_t type, const void *body, size_t len)
{
	struct ipc_wr w;
	const uint8_t *b = body;

	ipc_wr_init(&w, buf, cap, type, 1, 0);
	for (size_t i = 0; i < len; i++)
		ipc_put_u8(&w, b[i]);
	size_t n = ipc_wr_finish(&w);
	ASSERT_EQ(n, IPC_HEADER_SIZE + len);
	return n;
}

/* Recompute the crc after patching the header by hand. */
static void fix_crc(uint8_t *buf, size_t len)
{
	uint32_t crc = crc32_update(0, buf, 12);
	le_put32(buf + 12, crc32_update(crc, buf + 16, len - 16));
}

#define STR_COPY (IPC_MAX_STR + 8)

static void t_roundtrip_empty(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_STATUS, 0xfeedbeef, -ENOENT);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE);
	ASSERT_EQ(le_get32(buf), IPC_MAGIC);
	ASSERT_EQ(le_get16(buf + 4), IPC_FORMAT);
	ASSERT_EQ(le_get16(buf + 6), IPC_REQ_STATUS);
	ASSERT_EQ(le_get32(buf + 8), IPC_HEADER_SIZE);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_REQ_STATUS);
	ASSERT_EQ(m.seq, 0xfeedbeef);
	ASSERT_EQ(m.error, -ENOENT);
	ASSERT_EQ(m.body_len, 0);
	ASSERT(m.body == buf + IPC_HEADER_SIZE);
	struct ipc_rd r;
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
	/* reading anything from an empty body fails */
	ASSERT_EQ(ipc_get_u8(&r), 0);
	ASSERT(r.bad);
	ASSERT_EQ(ipc_rd_end(&r, false), -EBADMSG);
}

static void t_roundtrip_watch_req(void)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_watch_req req;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 17, 0);
	ipc_put_u32(&w, IPC_WATCH_FROM_NOW | 0x80000000u);
	ipc_put_u64(&w, 0x0102030405060708ull);
	ipc_put_str(&w, "nodes/node1/");
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE + 4 + 8 + 4 + 13);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_REQ_WATCH);
	ASSERT_EQ(m.seq, 17);
	ASSERT_EQ(m.error, 0);
	ASSERT_EQ(ipc_watch_req_decode(&m, &req), 0);
	ASSERT_EQ(req.flags, IPC_WATCH_FROM_NOW | 0x80000000u);
	ASSERT_EQ(req.from, 0x0102030405060708ull);
	ASSERT_STR_EQ(req.prefix, "nodes/node1/");
	/* the prefix points into the message */
	ASSERT((const uint8_t *)req.prefix > buf && (const uint8_t *)req.prefix < buf + len);

	/* an empty prefix */
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 18, 0);
	ipc_put_u32(&w, 0);
	ipc_put_u64(&w, 5);
	ipc_put_str(&w, "");
	len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(ipc_watch_req_decode(&m, &req), 0);
	ASSERT_EQ(req.from, 5);
	ASSERT_STR_EQ(req.prefix, "");

	/* a trailing byte is refused (the body must be exact) */
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 18, 0);
	ipc_put_u32(&w, 0);
	ipc_put_u64(&w, 5);
	ipc_put_str(&w, "x");
	ipc_put_u8(&w, 0);
	len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(ipc_watch_req_decode(&m, &req), -EBADMSG);

	/* a missing prefix is refused */
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 18, 0);
	ipc_put_u32(&w, 0);
	ipc_put_u64(&w, 5);
	len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(ipc_watch_req_decode(&m, &req), -EBADMSG);
}

static void t_roundtrip_list_req(void)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_list_req l;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LIST, 3, 0);
	ipc_put_str(&w, "nodes");
	ipc_put_str(&w, "nodes/node1/lxc/100.conf");
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_REQ_LIST);
	ASSERT_EQ(ipc_list_req_decode(&m, &l), 0);
	ASSERT_STR_EQ(l.prefix, "nodes");
	ASSERT_STR_EQ(l.after, "nodes/node1/lxc/100.conf");

	/* only one string: refused */
	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LIST, 3, 0);
	ipc_put_str(&w, "nodes");
	len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(ipc_list_req_decode(&m, &l), -EBADMSG);
	ASSERT_STR_EQ(l.after, "");
}

static void t_roundtrip_log_entry(void)
{
	uint8_t buf[1024];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	const struct ipc_log_entry in[] = {
		{ .instance = 0xa1a2a3a4a5a6a7a8ull,
		  .seq = 1,
		  .time = 1700000000,
		  .pri = 6,
		  .pid = 4242,
		  .node = "node1",
		  .user = "root@pam",
		  .tag = "pvedaemon",
		  .msg = "start VM 100" },
		{ .instance = 7,
		  .seq = UINT64_MAX,
		  .time = -1,
		  .pri = 0,
		  .pid = UINT32_MAX,
		  .node = "",
		  .user = "",
		  .tag = "",
		  .msg = "quote \" and\nnewline" },
		{ .instance = 0,
		  .seq = 0,
		  .time = INT64_MIN,
		  .pri = 7,
		  .pid = 0,
		  .node = "n",
		  .user = "u",
		  .tag = "t",
		  .msg = "m" },
	};
	const size_t n = sizeof(in) / sizeof(in[0]);

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 9, 0);
	ipc_put_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ipc_put_log_entry(&w, &in[i]);
	size_t len = ipc_wr_finish(&w);
	ASSERT_GT(len, IPC_HEADER_SIZE);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_REPLY);
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u32(&r), n);
	for (size_t i = 0; i < n; i++) {
		struct ipc_log_entry e;
		ASSERT_EQ(ipc_get_log_entry(&r, &e), 0);
		ASSERT_EQ(e.instance, in[i].instance);
		ASSERT(e.seq == in[i].seq);
		ASSERT_EQ(e.time, in[i].time);
		ASSERT_EQ(e.pri, in[i].pri);
		ASSERT_EQ(e.pid, in[i].pid);
		ASSERT_STR_EQ(e.node, in[i].node);
		ASSERT_STR_EQ(e.user, in[i].user);
		ASSERT_STR_EQ(e.tag, in[i].tag);
		ASSERT_STR_EQ(e.msg, in[i].msg);
	}
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
	/* one more is past the end */
	struct ipc_log_entry e;
	ASSERT_EQ(ipc_get_log_entry(&r, &e), -EBADMSG);
}

static void t_roundtrip_change(void)
{
	uint8_t buf[1024];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	const struct ipc_change in[] = {
		{ .version = 10, .mtime = 1700000000, .op = IPC_OP_PUT, .path = "a/b.conf" },
		{ .version = 11,
		  .mtime = -3,
		  .op = IPC_OP_RENAME_FROM,
		  .path = "nodes/a/lxc/100.conf",
		  .path2 = "nodes/b/lxc/100.conf" },
		{ .version = 11,
		  .mtime = -3,
		  .op = IPC_OP_RENAME_TO,
		  .path = "nodes/b/lxc/100.conf",
		  .path2 = "nodes/a/lxc/100.conf" },
		{ .version = UINT64_MAX, .mtime = 0, .op = IPC_OP_MAX, .path = "", .path2 = "" },
	};
	const size_t n = sizeof(in) / sizeof(in[0]);

	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_CHANGES, 0, 0);
	ipc_put_u32(&w, 0); /* patched below, as ipcs.c does */
	for (size_t i = 0; i < n; i++)
		ipc_put_change(&w, &in[i]);
	ipc_patch_u32(&w, IPC_HEADER_SIZE, (uint32_t)n);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_EV_CHANGES);
	ASSERT_EQ(m.seq, 0);
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u32(&r), n);
	for (size_t i = 0; i < n; i++) {
		struct ipc_change c;
		ASSERT_EQ(ipc_get_change(&r, &c), 0);
		ASSERT(c.version == in[i].version);
		ASSERT_EQ(c.mtime, in[i].mtime);
		ASSERT_EQ(c.op, in[i].op);
		ASSERT_STR_EQ(c.path, in[i].path);
		/* a NULL path2 is sent as "" */
		ASSERT_STR_EQ(c.path2, in[i].path2 ? in[i].path2 : "");
	}
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
}

static void t_roundtrip_resync(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_RESYNC, 0, 0);
	ipc_put_u64(&w, 12345);
	ipc_put_u8(&w, IPC_RESYNC_OVERFLOW);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE + 9);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, IPC_EV_RESYNC);
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u64(&r), 12345);
	ASSERT_EQ(ipc_get_u8(&r), IPC_RESYNC_OVERFLOW);
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
}

static void t_roundtrip_entry(void)
{
	uint8_t buf[1024];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	const struct ipc_entry in[] = {
		{ .type = 1, .version = 3, .mtime = 1700000000, .size = 0, .path = "nodes" },
		{ .type = 2,
		  .version = UINT64_MAX,
		  .mtime = INT64_MIN,
		  .size = UINT64_MAX,
		  .path = "nodes/node1/qemu-server/100.conf" },
	};

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 4, 0);
	ipc_put_u64(&w, 77);
	ipc_put_u8(&w, 1);
	ipc_put_u32(&w, 2);
	for (size_t i = 0; i < 2; i++)
		ipc_put_entry(&w, &in[i]);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u64(&r), 77);
	ASSERT_EQ(ipc_get_u8(&r), 1);
	ASSERT_EQ(ipc_get_u32(&r), 2);
	for (size_t i = 0; i < 2; i++) {
		struct ipc_entry e;
		ASSERT_EQ(ipc_get_entry(&r, &e), 0);
		ASSERT_EQ(e.type, in[i].type);
		ASSERT(e.version == in[i].version);
		ASSERT_EQ(e.mtime, in[i].mtime);
		ASSERT(e.size == in[i].size);
		ASSERT_STR_EQ(e.path, in[i].path);
	}
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
}

static void t_roundtrip_status(void)
{
	uint8_t buf[1024];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	const struct ipc_status in = { .cluster_name = "testcluster",
		                       .local_name = "node2",
		                       .local_id = 2,
		                       .flags = IPC_STATUS_F_CLUSTER | IPC_STATUS_F_QUORATE,
		                       .sync = IPC_SYNC_SYNCED,
		                       .expected_votes = 3,
		                       .total_votes = 2,
		                       .quorum = 2,
		                       .db_version = 0x1122334455667788ull,
		                       .membership_version = 99,
		                       .nnodes = 3 };
	const struct ipc_node nodes[] = {
		{ .id = 1, .votes = 1, .online = 1, .name = "node1", .addr = "10.0.0.1" },
		{ .id = 2, .votes = 1, .online = 1, .name = "node2", .addr = "10.0.0.2" },
		{ .id = 0xffffffffu, .votes = 0, .online = 0, .name = "node3", .addr = "" },
	};

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 1, 0);
	ipc_put_status(&w, &in);
	for (size_t i = 0; i < 3; i++)
		ipc_put_node(&w, &nodes[i]);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	struct ipc_status s;
	ASSERT_EQ(ipc_get_status(&r, &s), 0);
	ASSERT_STR_EQ(s.cluster_name, "testcluster");
	ASSERT_STR_EQ(s.local_name, "node2");
	ASSERT_EQ(s.local_id, 2);
	ASSERT_EQ(s.flags, IPC_STATUS_F_CLUSTER | IPC_STATUS_F_QUORATE);
	ASSERT_EQ(s.sync, IPC_SYNC_SYNCED);
	ASSERT_EQ(s.expected_votes, 3);
	ASSERT_EQ(s.total_votes, 2);
	ASSERT_EQ(s.quorum, 2);
	ASSERT_EQ(s.db_version, 0x1122334455667788ull);
	ASSERT_EQ(s.membership_version, 99);
	ASSERT_EQ(s.nnodes, 3);
	for (uint32_t i = 0; i < s.nnodes; i++) {
		struct ipc_node n;
		ASSERT_EQ(ipc_get_node(&r, &n), 0);
		ASSERT_EQ(n.id, nodes[i].id);
		ASSERT_EQ(n.votes, nodes[i].votes);
		ASSERT_EQ(n.online, nodes[i].online);
		ASSERT_STR_EQ(n.name, nodes[i].name);
		ASSERT_STR_EQ(n.addr, nodes[i].addr);
	}
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
	struct ipc_node n;
	ASSERT_EQ(ipc_get_node(&r, &n), -EBADMSG);
}

static void t_writer_overflow(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	/* a buffer smaller than the header */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE - 1, IPC_REQ_STATUS, 1, 0);
	ASSERT(w.overflow);
	ASSERT_EQ(ipc_wr_finish(&w), 0);

	/* exactly the header fits */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE, IPC_REQ_STATUS, 1, 0);
	ASSERT_EQ(ipc_wr_finish(&w), IPC_HEADER_SIZE);

	/* each put that does not fit */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 3, IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 1);
	ASSERT(w.overflow);
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 7, IPC_REPLY, 1, 0);
	ipc_put_u64(&w, 1);
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE, IPC_REPLY, 1, 0);
	ipc_put_u8(&w, 1);
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	/* a string needs 4 + strlen + 1 */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 4 + 3, IPC_REPLY, 1, 0);
	ipc_put_str(&w, "abc");
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 4 + 4, IPC_REPLY, 1, 0);
	ipc_put_str(&w, "abc");
	ASSERT_EQ(ipc_wr_finish(&w), IPC_HEADER_SIZE + 8);

	/* an overflow is sticky: a later put that would fit does not help */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 5, IPC_REPLY, 1, 0);
	ipc_put_u64(&w, 1);
	ipc_put_u8(&w, 1);
	ASSERT(w.overflow);
	ASSERT_EQ(ipc_wr_finish(&w), 0);

	/* nothing was written past cap: the tail of a big buffer is untouched */
	memset(buf, 0xaa, sizeof(buf));
	ipc_wr_init(&w, buf, 32, IPC_REQ_LIST, 1, 0);
	ipc_put_str(&w, "a long string that does not fit");
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	for (size_t i = 32; i < sizeof(buf); i++)
		ASSERT_EQ(buf[i], 0xaa);

	/* a full typed body that does not fit */
	uint8_t big[128];
	const struct ipc_log_entry e = {
		.node = "node1", .user = "root@pam", .tag = "tag", .msg = "a message of some length"
	};
	ipc_wr_init(&w, big, 80, IPC_REPLY, 1, 0);
	ipc_put_log_entry(&w, &e);
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	ipc_wr_init(&w, big, sizeof(big), IPC_REPLY, 1, 0);
	ipc_put_log_entry(&w, &e);
	size_t len = ipc_wr_finish(&w);
	ASSERT_GT(len, 80);
	ASSERT_EQ(ipc_msg_decode(big, len, &m), 0);

	/* a patch after an overflow or outside the message is ignored */
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 4, IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 1);
	ipc_patch_u32(&w, IPC_HEADER_SIZE + 1, 0xffffffffu);
	len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE + 4);
	ASSERT_EQ(le_get32(buf + IPC_HEADER_SIZE), 1);
	ipc_wr_init(&w, buf, IPC_HEADER_SIZE + 4, IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 1);
	ipc_put_u8(&w, 2);
	ipc_patch_u32(&w, IPC_HEADER_SIZE, 0xffffffffu);
	ASSERT_EQ(ipc_wr_finish(&w), 0);
	ASSERT_EQ(le_get32(buf + IPC_HEADER_SIZE), 1);
}

static void t_writer_cuts_long_string(void)
{
	size_t cap = IPC_HEADER_SIZE + 2 * IPC_MAX_STR;
	uint8_t *buf = malloc(cap);
	char *s = malloc(IPC_MAX_STR + 100);
	ASSERT(buf && s);
	memset(s, 'x', IPC_MAX_STR + 99);
	s[IPC_MAX_STR + 99] = '\0';

	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	ipc_wr_init(&w, buf, cap, IPC_REQ_LIST, 1, 0);
	ipc_put_str(&w, s);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE + 4 + IPC_MAX_STR);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	const char *got = ipc_get_str(&r);
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
	ASSERT_EQ(strlen(got), IPC_MAX_STR - 1);
	ASSERT(memcmp(got, s, IPC_MAX_STR - 1) == 0);
	free(s);
	free(buf);
}

static void t_decode_short(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 10);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(ipc_msg_decode(NULL, 0, &m), -EBADMSG);
	for (size_t l = 0; l < len; l++)
		ASSERT_EQ(ipc_msg_decode(buf, l, &m), -EBADMSG);
	/* a longer buffer than the length field says */
	ASSERT_EQ(ipc_msg_decode(buf, len + 1, &m), -EBADMSG);
}

static void t_decode_bad_magic(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_STATUS, 1, 0);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	/* a wrong magic is refused even with a matching crc */
	le_put32(buf, IPC_MAGIC ^ 0x01000000u);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	/* the magic is "PXIP" in memory; byte-swapped (big endian) it is refused */
	buf[0] = 'P', buf[1] = 'I', buf[2] = 'X', buf[3] = 'P';
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	memcpy(buf, "PXIP", 4);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
}

static void t_decode_length_mismatch(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 10);
	ipc_put_u32(&w, 11);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_HEADER_SIZE + 8);
	/* length field one off either way, with a matching crc */
	le_put32(buf + 8, (uint32_t)len - 1);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	fix_crc(buf, len - 1);
	ASSERT_EQ(ipc_msg_decode(buf, len - 1, &m), 0); /* consistent when shorter */
	le_put32(buf + 8, (uint32_t)len + 1);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	le_put32(buf + 8, 0);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	le_put32(buf + 8, 0xffffffffu);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
}

static void t_decode_crc_mismatch(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 10);
	size_t len = ipc_wr_finish(&w);
	le_put32(buf + 12, le_get32(buf + 12) + 1);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	le_put32(buf + 12, 0);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
}

static void t_decode_byte_flips(void)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	const struct ipc_change c = { .version = 5,
		                      .mtime = 1700000000,
		                      .op = IPC_OP_RENAME_TO,
		                      .path = "nodes/b/lxc/100.conf",
		                      .path2 = "nodes/a/lxc/100.conf" };

	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_CHANGES, 0, 0);
	ipc_put_u32(&w, 1);
	ipc_put_change(&w, &c);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	static const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x5a };
	for (size_t k = 0; k < sizeof(masks); k++) {
		for (size_t i = 0; i < len; i++) {
			buf[i] ^= masks[k];
			int e = ipc_msg_decode(buf, len, &m);
			if (i < 4 || i >= 8)
				ASSERT_EQ(e, -EBADMSG); /* magic, length, crc; else the crc */
			else
				ASSERT(e == -EBADMSG || e == -EPROTO); /* format, type */
			buf[i] ^= masks[k];
		}
	}
	/* every single bit too */
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		int e = ipc_msg_decode(buf, len, &m);
		ASSERT(e == -EBADMSG || e == -EPROTO);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
}

static void t_decode_unknown_format(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_STATUS, 1, 0);
	size_t len = ipc_wr_finish(&w);
	static const uint16_t formats[] = { 0, IPC_FORMAT + 1, 0xffff };
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		le_put16(buf + 4, formats[i]);
		fix_crc(buf, len);
		ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EPROTO);
	}
	le_put16(buf + 4, IPC_FORMAT);
	fix_crc(buf, len);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
}

static void t_decode_unknown_type(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;

	static const uint16_t bad[] = { 0, IPC_TYPE_MAX + 1, 0x100, 0xffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ipc_wr_init(&w, buf, sizeof(buf), bad[i], 1, 0);
		ipc_put_u32(&w, 0);
		size_t len = ipc_wr_finish(&w);
		ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EPROTO);
	}
	for (uint16_t t = 1; t <= IPC_TYPE_MAX; t++) {
		ipc_wr_init(&w, buf, sizeof(buf), t, 1, 0);
		size_t len = ipc_wr_finish(&w);
		ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
		ASSERT_EQ(m.type, t);
	}
}

static void t_decode_oversized(void)
{
	size_t cap = IPC_MAX_MSG + 16;
	uint8_t *buf = malloc(cap);
	ASSERT(buf != NULL);
	struct ipc_wr w;
	struct ipc_msg m;

	/* exactly IPC_MAX_MSG is fine */
	ipc_wr_init(&w, buf, cap, IPC_REPLY, 1, 0);
	while (w.len < IPC_MAX_MSG)
		ipc_put_u8(&w, 0x5a);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_MAX_MSG);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.body_len, IPC_MAX_MSG - IPC_HEADER_SIZE);

	/* one byte more is refused, even with consistent length and crc */
	ipc_wr_init(&w, buf, cap, IPC_REPLY, 1, 0);
	while (w.len < IPC_MAX_MSG + 1)
		ipc_put_u8(&w, 0x5a);
	len = ipc_wr_finish(&w);
	ASSERT_EQ(len, IPC_MAX_MSG + 1);
	ASSERT_EQ(le_get32(buf + 8), IPC_MAX_MSG + 1);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), -EBADMSG);
	free(buf);
}

/* Decode the single string in body (a copy in *s); returns ipc_rd_end(exact). */
static int decode_str(const void *body, size_t blen, char *s, bool *bad)
{
	uint8_t *buf = malloc(IPC_HEADER_SIZE + blen + 1);
	ASSERT(buf != NULL);
	struct ipc_msg m;
	struct ipc_rd r;
	size_t len = seal_raw(buf, IPC_HEADER_SIZE + blen + 1, IPC_REPLY, body, blen);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	const char *got = ipc_get_str(&r);
	ASSERT(got != NULL);
	snprintf(s, STR_COPY, "%s", got);
	*bad = r.bad;
	int e = ipc_rd_end(&r, true);
	/* after an error everything stays bad */
	if (r.bad) {
		ASSERT_STR_EQ(got, "");
		ASSERT_EQ(ipc_get_u8(&r), 0);
		ASSERT(r.bad);
		ASSERT_STR_EQ(ipc_get_str(&r), "");
	}
	free(buf);
	return e;
}

static void t_str_ok(void)
{
	const uint8_t body[] = { 4, 0, 0, 0, 'a', 'b', 'c', 0 };
	char s[STR_COPY];
	bool bad;

	ASSERT_EQ(decode_str(body, sizeof(body), s, &bad), 0);
	ASSERT(!bad);
	ASSERT_STR_EQ(s, "abc");
	/* just the NUL: the empty string */
	const uint8_t empty[] = { 1, 0, 0, 0, 0 };
	ASSERT_EQ(decode_str(empty, sizeof(empty), s, &bad), 0);
	ASSERT(!bad);
	ASSERT_STR_EQ(s, "");
}

static void t_str_missing_nul(void)
{
	const uint8_t body[] = { 4, 0, 0, 0, 'a', 'b', 'c', 'd' };
	char s[STR_COPY];
	bool bad;

	ASSERT_EQ(decode_str(body, sizeof(body), s, &bad), -EBADMSG);
	ASSERT(bad);
	ASSERT_STR_EQ(s, "");
	/* the NUL just after the counted bytes does not count */
	const uint8_t body2[] = { 3, 0, 0, 0, 'a', 'b', 'c', 0 };
	ASSERT_EQ(decode_str(body2, sizeof(body2), s, &bad), -EBADMSG);
	ASSERT(bad);
}

static void t_str_embedded_nul(void)
{
	const uint8_t body[] = { 4, 0, 0, 0, 'a', 0, 'c', 0 };
	char s[STR_COPY];
	bool bad;

	ASSERT_EQ(decode_str(body, sizeof(body), s, &bad), -EBADMSG);
	ASSERT(bad);
	ASSERT_STR_EQ(s, "");
	const uint8_t body2[] = { 4, 0, 0, 0, 0, 'b', 'c', 0 };
	ASSERT_EQ(decode_str(body2, sizeof(body2), s, &bad), -EBADMSG);
	ASSERT(bad);
	const uint8_t body3[] = { 2, 0, 0, 0, 0, 0 };
	ASSERT_EQ(decode_str(body3, sizeof(body3), s, &bad), -EBADMSG);
	ASSERT(bad);
}

static void t_str_zero_length(void)
{
	const uint8_t body[] = { 0, 0, 0, 0 };
	char s[STR_COPY];
	bool bad;

	ASSERT_EQ(decode_str(body, sizeof(body), s, &bad), -EBADMSG);
	ASSERT(bad);
	ASSERT_STR_EQ(s, "");
	/* a zero length followed by bytes that would make a string */
	const uint8_t body2[] = { 0, 0, 0, 0, 'a', 0 };
	ASSERT_EQ(decode_str(body2, sizeof(body2), s, &bad), -EBADMSG);
	ASSERT(bad);
}

static void t_str_past_end(void)
{
	char s[STR_COPY];
	bool bad;

	const uint8_t body[] = { 5, 0, 0, 0, 'a', 'b', 'c', 0 };
	ASSERT_EQ(decode_str(body, sizeof(body), s, &bad), -EBADMSG);
	ASSERT(bad);
	const uint8_t body2[] = { 0xff, 0xff, 0xff, 0xff, 'a', 0 };
	ASSERT_EQ(decode_str(body2, sizeof(body2), s, &bad), -EBADMSG);
	ASSERT(bad);
	/* the length itself cut short */
	const uint8_t body3[] = { 1, 0, 0 };
	ASSERT_EQ(decode_str(body3, sizeof(body3), s, &bad), -EBADMSG);
	ASSERT(bad);
	ASSERT_EQ(decode_str(body3, 0, s, &bad), -EBADMSG);
	ASSERT(bad);
}

static void t_str_too_long(void)
{
	/* IPC_MAX_STR is the limit, NUL included: that much is fine, one more not */
	size_t blen = 4 + IPC_MAX_STR + 1;
	uint8_t *body = malloc(blen);
	ASSERT(body != NULL);
	char s[STR_COPY];
	bool bad;

	memset(body, 'y', blen);
	le_put32(body, IPC_MAX_STR);
	body[4 + IPC_MAX_STR - 1] = 0;
	ASSERT_EQ(decode_str(body, 4 + IPC_MAX_STR, s, &bad), 0);
	ASSERT(!bad);
	ASSERT_EQ(strlen(s), IPC_MAX_STR - 1);

	le_put32(body, IPC_MAX_STR + 1);
	body[4 + IPC_MAX_STR - 1] = 'y';
	body[4 + IPC_MAX_STR] = 0;
	ASSERT_EQ(decode_str(body, blen, s, &bad), -EBADMSG);
	ASSERT(bad);
	ASSERT_STR_EQ(s, "");
	free(body);
}

static void t_rd_end_exact(void)
{
	uint8_t buf[64];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_LOG_READ, 1, 0);
	ipc_put_u32(&w, 10);
	ipc_put_u8(&w, 0xee);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u32(&r), 10);
	ASSERT_EQ(ipc_rd_end(&r, false), 0);
	ASSERT_EQ(ipc_rd_end(&r, true), -EBADMSG); /* one byte left over */
	ASSERT_EQ(ipc_get_u8(&r), 0xee);
	ASSERT_EQ(ipc_rd_end(&r, true), 0);
	/* reading past the end: bad, 0, and the offset does not move */
	ASSERT_EQ(ipc_get_u64(&r), 0);
	ASSERT(r.bad);
	ASSERT_EQ(r.off, 5);
	ASSERT_EQ(ipc_rd_end(&r, false), -EBADMSG);
	ASSERT_EQ(ipc_rd_end(&r, true), -EBADMSG);

	/* a u64 with only 7 bytes left */
	ipc_rd_init(&r, &m);
	ASSERT_EQ(ipc_get_u8(&r), 10);
	ASSERT_EQ(ipc_get_u32(&r), 0xee000000u);
	ASSERT_EQ(ipc_get_u32(&r), 0);
	ASSERT(r.bad);
}

/* Seal one change with the given op; returns ipc_get_change's result. */
static int change_with_op(uint8_t op)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	struct ipc_change c = { .version = 1, .mtime = 2, .op = op, .path = "p", .path2 = "" };

	ipc_wr_init(&w, buf, sizeof(buf), IPC_EV_CHANGES, 0, 0);
	ipc_put_change(&w, &c);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	memset(&c, 0, sizeof(c));
	int e = ipc_get_change(&r, &c);
	ASSERT_EQ(c.op, op);
	return e;
}

static int entry_with_type(uint8_t type)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	struct ipc_entry e = { .type = type, .version = 1, .path = "p" };

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 0, 0);
	ipc_put_entry(&w, &e);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	return ipc_get_entry(&r, &e);
}

static int log_with_pri(uint8_t pri)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	struct ipc_log_entry e = { .pri = pri, .node = "n", .user = "u", .tag = "t", .msg = "m" };

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 0, 0);
	ipc_put_log_entry(&w, &e);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	return ipc_get_log_entry(&r, &e);
}

static int status_with_sync(uint8_t sync)
{
	uint8_t buf[256];
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	struct ipc_status s = { .cluster_name = "c", .local_name = "n", .sync = sync };

	ipc_wr_init(&w, buf, sizeof(buf), IPC_REPLY, 0, 0);
	ipc_put_status(&w, &s);
	size_t len = ipc_wr_finish(&w);
	ASSERT_EQ(ipc_msg_decode(buf, len, &m), 0);
	ipc_rd_init(&r, &m);
	return ipc_get_status(&r, &s);
}

static void t_bad_enums(void)
{
	for (unsigned op = 1; op <= IPC_OP_MAX; op++)
		ASSERT_EQ(change_with_op((uint8_t)op), 0);
	ASSERT_EQ(change_with_op(0), -EBADMSG);
	ASSERT_EQ(change_with_op(IPC_OP_MAX + 1), -EBADMSG);
	ASSERT_EQ(change_with_op(0xff), -EBADMSG);

	ASSERT_EQ(entry_with_type(1), 0);
	ASSERT_EQ(entry_with_type(2), 0);
	ASSERT_EQ(entry_with_type(0), -EBADMSG);
	ASSERT_EQ(entry_with_type(3), -EBADMSG);
	ASSERT_EQ(entry_with_type(0xff), -EBADMSG);

	for (unsigned p = 0; p <= 7; p++)
		ASSERT_EQ(log_with_pri((uint8_t)p), 0);
	ASSERT_EQ(log_with_pri(8), -EBADMSG);
	ASSERT_EQ(log_with_pri(0xff), -EBADMSG);

	ASSERT_EQ(status_with_sync(IPC_SYNC_DISCONNECTED), 0);
	ASSERT_EQ(status_with_sync(IPC_SYNC_SYNCING), 0);
	ASSERT_EQ(status_with_sync(IPC_SYNC_SYNCED), 0);
	ASSERT_EQ(status_with_sync(3), -EBADMSG);
	ASSERT_EQ(status_with_sync(0xff), -EBADMSG);
}

static void t_names(void)
{
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_PUT), "put");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_CREATE), "create");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_DELETE), "delete");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_RENAME_FROM), "rename-from");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_RENAME_TO), "rename-to");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_MKDIR), "mkdir");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_RMDIR), "rmdir");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_MTIME), "mtime");
	ASSERT_STR_EQ(ipc_op_name(0), "unknown");
	ASSERT_STR_EQ(ipc_op_name(IPC_OP_MAX + 1), "unknown");
	ASSERT_STR_EQ(ipc_op_name(~0u), "unknown");

	ASSERT_STR_EQ(ipc_resync_reason_name(IPC_RESYNC_HISTORY), "history-gone");
	ASSERT_STR_EQ(ipc_resync_reason_name(IPC_RESYNC_OVERFLOW), "client-too-slow");
	ASSERT_STR_EQ(ipc_resync_reason_name(IPC_RESYNC_STATE), "state-replaced");
	ASSERT_STR_EQ(ipc_resync_reason_name(IPC_RESYNC_FUTURE), "version-unknown");
	ASSERT_STR_EQ(ipc_resync_reason_name(0), "unknown");
	ASSERT_STR_EQ(ipc_resync_reason_name(IPC_RESYNC_MAX + 1), "unknown");
	ASSERT_STR_EQ(ipc_resync_reason_name(~0u), "unknown");

	static const char *const types[] = {
		NULL,         "status",   "watch", "unwatch", "list",
		"log-append", "log-read", "reply", "changes", "resync"
	};
	for (unsigned t = 1; t <= IPC_TYPE_MAX; t++)
		ASSERT_STR_EQ(ipc_type_name(t), types[t]);
	ASSERT_STR_EQ(ipc_type_name(0), "unknown");
	ASSERT_STR_EQ(ipc_type_name(IPC_TYPE_MAX + 1), "unknown");
	ASSERT_STR_EQ(ipc_type_name(~0u), "unknown");
}

static const struct test_case cases[] = {
	{ "roundtrip_empty", t_roundtrip_empty },
	{ "roundtrip_watch_req", t_roundtrip_watch_req },
	{ "roundtrip_list_req", t_roundtrip_list_req },
	{ "roundtrip_log_entry", t_roundtrip_log_entry },
	{ "roundtrip_change", t_roundtrip_change },
	{ "roundtrip_resync", t_roundtrip_resync },
	{ "roundtrip_entry", t_roundtrip_entry },
	{ "roundtrip_status", t_roundtrip_status },
	{ "writer_overflow", t_writer_overflow },
	{ "writer_cuts_long_string", t_writer_cuts_long_string },
	{ "decode_short", t_decode_short },
	{ "decode_bad_magic", t_decode_bad_magic },
	{ "decode_length_mismatch", t_decode_length_mismatch },
	{ "decode_crc_mismatch", t_decode_crc_mismatch },
	{ "decode_byte_flips", t_decode_byte_flips },
	{ "decode_unknown_format", t_decode_unknown_format },
	{ "decode_unknown_type", t_decode_unknown_type },
	{ "decode_oversized", t_decode_oversized },
	{ "str_ok", t_str_ok },
	{ "str_missing_nul", t_str_missing_nul },
	{ "str_embedded_nul", t_str_embedded_nul },
	{ "str_zero_length", t_str_zero_length },
	{ "str_past_end", t_str_past_end },
	{ "str_too_long", t_str_too_long },
	{ "rd_end_exact", t_rd_end_exact },
	{ "bad_enums", t_bad_enums },
	{ "names", t_names },
};

TEST_MAIN(cases)
