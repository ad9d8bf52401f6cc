/*
 * cfs_msg.h - the messages pmxcfs nodes multicast to each other over
 * corosync CPG (agreed order).
 *
 * Every CPG message is one envelope:
 *   u32 magic 'CFMS'  u16 format version (1)  u16 type  u32 total length
 *   u32 crc32 (over the first 12 bytes, then everything after the crc)
 *   u64 id    (the sender's message id: a proposer matches its own op's
 *              delivery by it; fragments carry the id of the whole message)
 *   body (by type, integers little endian):
 *   OP        a cfs_op encoding (proto/cfs_op.h, with its own checksum)
 *   FRAG      u32 index, u32 count, u32 whole length, then a chunk of the
 *             whole message (itself an envelope; reassembled per sender)
 *   SUMMARY   u64 round, u64 version, u64 checksum, u64 inodes, u32 flags
 *   STATE     u64 round, u64 version, u64 checksum, u32 rows, then rows:
 *             u64 inode, u64 parent, u64 version, i64 mtime, u8 type,
 *             u16 name length, u32 size, name, data
 *   VERIFY    u64 round (a request that every member report its checksum)
 *   VERIFY_REPLY u64 round, u64 version, u64 checksum
 *   RESYNC    u64 round (start a new sync round without a membership change)
 *   LOG       cluster log entries: a log blob (pmxcfs/clusterlog.h), one new
 *             entry, or the sender's whole log after a membership change
 *
 * Decoding never reads outside the buffer and rejects, with -EBADMSG, any
 * length, checksum or field that does not add up; -EPROTO for an unknown
 * format version or type.  Used by pmxcfs/cluster.c; fuzzed.
 */
#ifndef PVE_PROTO_CFS_MSG_H
#define PVE_PROTO_CFS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFS_MSG_MAGIC 0x534d4643u /* "CFMS" */
#define CFS_MSG_FORMAT 1
#define CFS_MSG_HEADER_SIZE 24
#define CFS_MSG_FRAG_HEADER 12
/*
 * A reassembled message is never larger than this: a whole-tree STATE is at
 * most 128 MiB of content plus 256 Ki rows of 39 + 255 bytes (~ 202 MiB).
 */
#define CFS_MSG_MAX_WHOLE (256u * 1024 * 1024)
/* STATE row fixed part */
#define CFS_MSG_ROW_FIXED 39

enum cfs_msg_type {
	CFS_MSG_OP = 1,
	CFS_MSG_FRAG = 2,
	CFS_MSG_SUMMARY = 3,
	CFS_MSG_STATE = 4,
	CFS_MSG_VERIFY = 5,
	CFS_MSG_VERIFY_REPLY = 6,
	CFS_MSG_RESYNC = 7,
	CFS_MSG_LOG = 8,
	CFS_MSG_TYPE_MAX = 8,
};

#define CFS_SUMMARY_F_PRIMARY 0x1u /* the sender was in the quorate, synced group */

struct cfs_msg {
	uint16_t type;
	uint64_t id;
	const void *body; /* into the decoded buffer */
	uint32_t body_len;
};

struct cfs_msg_frag {
	uint32_t index, count, whole_len;
	const void *chunk;
	uint32_t chunk_len;
};

struct cfs_msg_summary {
	uint64_t round, version, checksum, inodes;
	uint32_t flags;
};

struct cfs_msg_state {
	uint64_t round, version, checksum;
	uint32_t nrows;
	const unsigned char *rows; /* nrows rows, already bounds-checked */
	size_t rows_len;
};

/* One STATE row, decoded (pointers into the message). */
struct cfs_msg_row {
	uint64_t inode, parent, version;
	int64_t mtime;
	uint8_t type;
	const char *name;
	uint16_t name_len;
	const void *data;
	uint32_t size;
};

/* Write the envelope header for a body of body_len bytes that already sits
 * at buf + CFS_MSG_HEADER_SIZE; returns the total length. */
size_t cfs_msg_seal(void *buf, uint16_t type, uint64_t id, size_t body_len);

/* Decode and check an envelope. */
int cfs_msg_decode(const void *buf, size_t len, struct cfs_msg *m);

int cfs_msg_frag_decode(const struct cfs_msg *m, struct cfs_msg_frag *f);
int cfs_msg_summary_decode(const struct cfs_msg *m, struct cfs_msg_summary *s);
int cfs_msg_state_decode(const struct cfs_msg *m, struct cfs_msg_state *s);
/* u64 round (VERIFY, RESYNC) or round + version + checksum (VERIFY_REPLY). */
int cfs_msg_u64s_decode(const struct cfs_msg *m, uint64_t *out, unsigned n);

/* Iterate rows: *off starts at 0; returns 1 with a row, 0 at the end, -EBADMSG. */
int cfs_msg_row_next(const struct cfs_msg_state *s, size_t *off, struct cfs_msg_row *r);

const char *cfs_msg_type_name(unsigned type);

#endif
