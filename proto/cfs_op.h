/*
 * cfs_op.h - the file system operations that pmxcfs proposes and applies.
 *
 * Every mutation of the /etc/pve tree is one of these operations.  A FUSE
 * request is turned into an op, encoded, handed to the ordering layer (dfsm:
 * a local queue in local mode, corosync CPG in cluster mode), and every node
 * decodes and applies the delivered ops in the same order.  The encoding is
 * the wire format, so it is versioned, length checked and checksummed.
 *
 * Wire layout (all integers little endian):
 *   u32 magic 'CFOP'   u16 format version (1)   u16 op type
 *   u32 total length (header included)          u32 crc32 of the header's
 *   first 12 bytes followed by the body (so a damaged type or length is
 *   caught like a damaged body)
 *   body: u32 flags, u64 inode, u64 parent, u64 newparent, i64 now, i64 mtime,
 *         u32 name_len, u32 newname_len, u32 data_len, then name, newname and
 *         data bytes (names without terminating NUL).
 */
#ifndef PVE_PROTO_CFS_OP_H
#define PVE_PROTO_CFS_OP_H

#include <stddef.h>
#include <stdint.h>

#define CFS_OP_MAGIC 0x504f4643u /* "CFOP" */
#define CFS_OP_FORMAT 1
#define CFS_OP_HEADER_SIZE 16
#define CFS_OP_BODY_FIXED 56
/* An op never carries more than one file (1 MiB) plus names; bound it. */
#define CFS_OP_MAX_SIZE (2u * 1024 * 1024)
#define CFS_OP_MAX_NAME 255

enum cfs_op_type {
	CFS_OP_CREATE = 1, /* parent, name: new empty file (O_EXCL decided here) */
	CFS_OP_MKDIR = 2, /* parent, name: new directory (or expired lock takeover) */
	CFS_OP_UNLINK = 3, /* parent, name: remove a file */
	CFS_OP_RMDIR = 4, /* parent, name: remove an empty directory */
	CFS_OP_RENAME = 5, /* parent, name -> newparent, newname; flags: RENAME_NOREPLACE */
	CFS_OP_PUT = 6, /* inode: replace the whole content with data */
	CFS_OP_MTIME = 7, /* inode: set mtime (mtime 0 on a lock = expiry request) */
	CFS_OP_TYPE_MAX = 7,
};

#define CFS_OP_F_NOREPLACE 0x1u
/*
 * RENAME only over a target whose version is mtime (a compare-and-swap:
 * every node decides it alike, in the agreed order); else -EAGAIN.
 */
#define CFS_OP_F_IFVERSION 0x2u

/*
 * A decoded or to-be-encoded operation.  Pointers reference memory owned by
 * the caller (for decoded ops: the buffer that was decoded).
 */
struct cfs_op {
	uint16_t type;
	uint32_t flags;
	uint64_t inode;
	uint64_t parent;
	uint64_t newparent;
	int64_t now; /* the proposer's clock, seconds: the only time source of apply */
	int64_t mtime; /* MTIME: the requested modification time */
	const char *name;
	uint32_t name_len;
	const char *newname;
	uint32_t newname_len;
	const void *data;
	uint32_t data_len;
};

/* Bytes needed to encode op. */
size_t cfs_op_encoded_size(const struct cfs_op *op);

/*
 * Encode op into buf (of at least cfs_op_encoded_size(op) bytes).
 * Returns the number of bytes written, or -EINVAL for an op that may not be
 * sent (unknown type, name too long, total over CFS_OP_MAX_SIZE).
 */
long cfs_op_encode(const struct cfs_op *op, void *buf, size_t buflen);

/*
 * Decode and validate len bytes at buf.  On success op's pointers point into
 * buf (which must outlive op) and 0 is returned.  Errors: -EBADMSG (bad magic,
 * length or checksum, names containing NUL or '/'), -EPROTO (unknown format
 * version or op type).  Never reads outside [buf, buf+len).
 */
int cfs_op_decode(const void *buf, size_t len, struct cfs_op *op);

/* Name of an op type for logs ("create", ...), "unknown" otherwise. */
const char *cfs_op_type_name(unsigned type);

#endif
