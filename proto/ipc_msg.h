/*
 * ipc_msg.h - the local IPC between pmxcfs and its clients (ctmgrd, pvecm,
 * pmxcfs-watch): requests, replies and events.  Carried by libqb IPC, which
 * puts its own header (struct qb_ipc_request_header / _response_header) in
 * front; what follows that header is one envelope of this format.  proto/
 * only encodes and decodes; pmxcfs/ipcs.c serves, proto/pmxcfs_client.c is
 * the client library.
 *
 * Envelope (integers little endian):
 *   u32 magic 'PXIP'  u16 format version (1)  u16 type  u32 total length
 *   u32 crc32 (the first 12 bytes, then everything after the crc)
 *   u32 seq   (a request's number; its reply carries the same; 0 in events)
 *   i32 error (replies: 0 or -errno; 0 otherwise)
 *   body (by type; a string is u32 length including a terminating NUL, then
 *   the bytes; it never contains another NUL):
 *
 *   REQ_STATUS      -
 *   REQ_WATCH       u32 flags, u64 from, str prefix
 *                   (flags WATCH_FROM_NOW: ignore from, start at the current
 *                   version; a second WATCH on a connection replaces the first)
 *   REQ_UNWATCH     -
 *   REQ_LIST        str prefix, str after (a page starts after this path)
 *   REQ_LOG_APPEND  u8 priority, str tag, str user, str msg
 *   REQ_LOG_READ    u32 max entries
 *   REPLY           the request's result, by the request's type:
 *       STATUS      str cluster name, str local node name, u32 local node id,
 *                   u8 flags (STATUS_F_*), u8 sync state (IPC_SYNC_*),
 *                   u32 expected votes, u32 total votes, u32 quorum,
 *                   u64 database version, u64 membership version,
 *                   u32 count, then per node: u32 id, u8 online, u32 votes,
 *                   str name, str address
 *       WATCH       u64 version (the watch delivers every change after it)
 *       LIST        u64 version, u8 more, u32 count, then per entry:
 *                   u8 type (1 dir, 2 file), u64 version, i64 mtime,
 *                   u64 size, str path
 *       LOG_READ    u32 count, then entries (oldest first): u64 instance,
 *                   u64 seq, i64 time, u8 priority, u32 pid, str node,
 *                   str user, str tag, str msg
 *       others      -
 *   EV_CHANGES      u32 count, then per change: u64 version, i64 mtime,
 *                   u8 op (IPC_OP_*), str path, str path2 (the other side
 *                   of a rename, "" otherwise)
 *   EV_RESYNC       u64 version, u8 reason (IPC_RESYNC_*): the watch ended;
 *                   list the tree and watch again from the listed version
 *
 * Paths are relative to the mount point ("nodes/node1/lxc/100.conf").
 * Decoding never reads outside the buffer: -EBADMSG for anything whose
 * lengths, checksum or fields do not add up, -EPROTO for an unknown format
 * version or type.  Fuzzed by tests/fuzz/fuzz_ipc_msg.c.
 */
#ifndef PVE_PROTO_IPC_MSG_H
#define PVE_PROTO_IPC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPC_MAGIC 0x50495850u /* "PXIP" */
#define IPC_FORMAT 1
#define IPC_HEADER_SIZE 24
/* The libqb buffer size both sides use: the largest message either way. */
#define IPC_MAX_MSG (1024 * 1024)
#define IPC_DEFAULT_NAME "pmxcfs"
#define IPC_MAX_STR 4096 /* a path, tag or message, NUL included */

enum ipc_type {
	IPC_REQ_STATUS = 1,
	IPC_REQ_WATCH = 2,
	IPC_REQ_UNWATCH = 3,
	IPC_REQ_LIST = 4,
	IPC_REQ_LOG_APPEND = 5,
	IPC_REQ_LOG_READ = 6,
	IPC_REPLY = 7,
	IPC_EV_CHANGES = 8,
	IPC_EV_RESYNC = 9,
	IPC_TYPE_MAX = 9,
};

#define IPC_WATCH_FROM_NOW 0x1u

enum ipc_op {
	IPC_OP_PUT = 1, /* new content */
	IPC_OP_CREATE = 2, /* new empty file */
	IPC_OP_DELETE = 3,
	IPC_OP_RENAME_FROM = 4, /* path left (path2: where it went) */
	IPC_OP_RENAME_TO = 5, /* path appeared (path2: where it came from) */
	IPC_OP_MKDIR = 6,
	IPC_OP_RMDIR = 7,
	IPC_OP_MTIME = 8, /* only the modification time changed */
	IPC_OP_MAX = 8,
};

enum ipc_resync_reason {
	IPC_RESYNC_HISTORY = 1, /* the asked-for version is older than the kept history */
	IPC_RESYNC_OVERFLOW = 2, /* the client fell too far behind */
	IPC_RESYNC_STATE = 3, /* the tree was replaced by a cluster sync */
	IPC_RESYNC_FUTURE = 4, /* the asked-for version is newer than this node's */
	IPC_RESYNC_MAX = 4,
};

#define IPC_STATUS_F_CLUSTER 0x1u /* cluster mode (else local mode) */
#define IPC_STATUS_F_CONNECTED 0x2u /* connected to corosync */
#define IPC_STATUS_F_QUORATE 0x4u
#define IPC_STATUS_F_WRITABLE 0x8u

enum ipc_sync_state { IPC_SYNC_DISCONNECTED = 0, IPC_SYNC_SYNCING = 1, IPC_SYNC_SYNCED = 2 };

/* ---- building a message ---- */

struct ipc_wr {
	unsigned char *buf;
	size_t cap, len;
	bool overflow; /* a put did not fit: the message is unusable */
	bool raw; /* no envelope (ipc_wr_init_raw) */
};

/* Start a message of type in buf (IPC_HEADER_SIZE bytes reserved). */
void ipc_wr_init(struct ipc_wr *w, void *buf, size_t cap, uint16_t type, uint32_t seq,
                 int32_t error);
/* A bare body without envelope (a log blob inside a cluster message). */
void ipc_wr_init_raw(struct ipc_wr *w, void *buf, size_t cap);
void ipc_put_u8(struct ipc_wr *w, uint8_t v);
void ipc_put_u32(struct ipc_wr *w, uint32_t v);
void ipc_put_u64(struct ipc_wr *w, uint64_t v);
void ipc_put_str(struct ipc_wr *w, const char *s);
/* Patch a u32 written earlier at offset off (a count known only later). */
void ipc_patch_u32(struct ipc_wr *w, size_t off, uint32_t v);
/*
 * Fill in length and checksum (not for a raw body); the length, or 0 after
 * an overflow.
 */
size_t ipc_wr_finish(struct ipc_wr *w);

/* ---- reading a message ---- */

struct ipc_msg {
	uint16_t type;
	uint32_t seq;
	int32_t error;
	const unsigned char *body;
	uint32_t body_len;
};

struct ipc_rd {
	const unsigned char *p;
	size_t len, off;
	bool bad; /* a get ran past the end or met a malformed string */
};

/* Check the envelope; on success m describes it (pointing into buf). */
int ipc_msg_decode(const void *buf, size_t len, struct ipc_msg *m);
void ipc_rd_init(struct ipc_rd *r, const struct ipc_msg *m);
uint8_t ipc_get_u8(struct ipc_rd *r);
uint32_t ipc_get_u32(struct ipc_rd *r);
uint64_t ipc_get_u64(struct ipc_rd *r);
/* A NUL-terminated string inside the buffer ("" after an error). */
const char *ipc_get_str(struct ipc_rd *r);
/* -EBADMSG if anything went wrong or (when exact) bytes are left over. */
int ipc_rd_end(const struct ipc_rd *r, bool exact);

/* ---- typed bodies (decoded strings point into the message) ---- */

struct ipc_watch_req {
	uint32_t flags;
	uint64_t from;
	const char *prefix;
};

struct ipc_list_req {
	const char *prefix, *after;
};

struct ipc_log_entry {
	uint64_t instance, seq; /* who wrote it: a pmxcfs run, and its counter */
	int64_t time;
	uint8_t pri;
	uint32_t pid;
	const char *node, *user, *tag, *msg;
};

struct ipc_change {
	uint64_t version;
	int64_t mtime;
	uint8_t op;
	const char *path, *path2;
};

struct ipc_entry {
	uint8_t type;
	uint64_t version;
	int64_t mtime;
	uint64_t size;
	const char *path;
};

struct ipc_node {
	uint32_t id, votes;
	uint8_t online;
	const char *name, *addr;
};

struct ipc_status {
	const char *cluster_name, *local_name;
	uint32_t local_id;
	uint8_t flags, sync;
	uint32_t expected_votes, total_votes, quorum;
	uint64_t db_version, membership_version;
	uint32_t nnodes;
};

int ipc_watch_req_decode(const struct ipc_msg *m, struct ipc_watch_req *w);
int ipc_list_req_decode(const struct ipc_msg *m, struct ipc_list_req *l);

void ipc_put_log_entry(struct ipc_wr *w, const struct ipc_log_entry *e);
int ipc_get_log_entry(struct ipc_rd *r, struct ipc_log_entry *e);
void ipc_put_change(struct ipc_wr *w, const struct ipc_change *c);
int ipc_get_change(struct ipc_rd *r, struct ipc_change *c);
void ipc_put_entry(struct ipc_wr *w, const struct ipc_entry *e);
int ipc_get_entry(struct ipc_rd *r, struct ipc_entry *e);
void ipc_put_status(struct ipc_wr *w, const struct ipc_status *s);
int ipc_get_status(struct ipc_rd *r, struct ipc_status *s);
void ipc_put_node(struct ipc_wr *w, const struct ipc_node *n);
int ipc_get_node(struct ipc_rd *r, struct ipc_node *n);

/* Names for logs and tools: "put", "rename-from", ...; "unknown" otherwise. */
const char *ipc_op_name(unsigned op);
const char *ipc_resync_reason_name(unsigned reason);
const char *ipc_type_name(unsigned type);

#endif
