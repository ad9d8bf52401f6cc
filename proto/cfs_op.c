/*
 * cfs_op.c - encoder and validating decoder of pmxcfs operations.
 * Called by pmxcfs/dfsm.c on both the proposing and the applying side, and
 * by the fuzz target tests/fuzz/fuzz_cfs_op.c.
 */
#include "proto/cfs_op.h"
#include "proto/crc32.h"
#include "proto/le.h"

#include <errno.h>
#include <string.h>

const char *cfs_op_type_name(unsigned type)
{
	static const char *const names[] = {
		[CFS_OP_CREATE] = "create", [CFS_OP_MKDIR] = "mkdir",   [CFS_OP_UNLINK] = "unlink",
		[CFS_OP_RMDIR] = "rmdir",   [CFS_OP_RENAME] = "rename", [CFS_OP_PUT] = "put",
		[CFS_OP_MTIME] = "mtime",
	};
	if (type == 0 || type > CFS_OP_TYPE_MAX)
		return "unknown";
	return names[type];
}

/* CRC-32 of the header's first 12 bytes (magic, format, type, length) and the body */
static uint32_t op_crc(const uint8_t *p, size_t len)
{
	uint32_t crc = crc32_update(0, p, 12);
	return crc32_update(crc, p + CFS_OP_HEADER_SIZE, len - CFS_OP_HEADER_SIZE);
}

size_t cfs_op_encoded_size(const struct cfs_op *op)
{
	return CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED + (size_t)op->name_len + op->newname_len +
	    op->data_len;
}

long cfs_op_encode(const struct cfs_op *op, void *buf, size_t buflen)
{
	size_t len = cfs_op_encoded_size(op);
	uint8_t *p = buf, *b;

	if (op->type == 0 || op->type > CFS_OP_TYPE_MAX)
		return -EINVAL;
	if (op->name_len > CFS_OP_MAX_NAME || op->newname_len > CFS_OP_MAX_NAME)
		return -EINVAL;
	if (len > CFS_OP_MAX_SIZE || len > buflen)
		return -EINVAL;

	b = p + CFS_OP_HEADER_SIZE;
	le_put32(b + 0, op->flags);
	le_put64(b + 4, op->inode);
	le_put64(b + 12, op->parent);
	le_put64(b + 20, op->newparent);
	le_put64(b + 28, (uint64_t)op->now);
	le_put64(b + 36, (uint64_t)op->mtime);
	le_put32(b + 44, op->name_len);
	le_put32(b + 48, op->newname_len);
	le_put32(b + 52, op->data_len);
	b += CFS_OP_BODY_FIXED;
	if (op->name_len)
		memcpy(b, op->name, op->name_len);
	b += op->name_len;
	if (op->newname_len)
		memcpy(b, op->newname, op->newname_len);
	b += op->newname_len;
	if (op->data_len)
		memcpy(b, op->data, op->data_len);

	le_put32(p + 0, CFS_OP_MAGIC);
	le_put16(p + 4, CFS_OP_FORMAT);
	le_put16(p + 6, op->type);
	le_put32(p + 8, (uint32_t)len);
	le_put32(p + 12, op_crc(p, len));
	return (long)len;
}

static int name_ok(const char *s, uint32_t len)
{
	if (len > CFS_OP_MAX_NAME)
		return 0;
	return memchr(s, '\0', len) == NULL && memchr(s, '/', len) == NULL;
}

int cfs_op_decode(const void *buf, size_t len, struct cfs_op *op)
{
	const uint8_t *p = buf, *b;
	uint32_t total;
	uint64_t need;

	if (len < CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED)
		return -EBADMSG;
	if (le_get32(p) != CFS_OP_MAGIC)
		return -EBADMSG;
	if (le_get16(p + 4) != CFS_OP_FORMAT)
		return -EPROTO;
	total = le_get32(p + 8);
	if (total != len || total > CFS_OP_MAX_SIZE)
		return -EBADMSG;
	if (le_get32(p + 12) != op_crc(p, len))
		return -EBADMSG;

	memset(op, 0, sizeof(*op));
	op->type = le_get16(p + 6);
	if (op->type == 0 || op->type > CFS_OP_TYPE_MAX)
		return -EPROTO;
	b = p + CFS_OP_HEADER_SIZE;
	op->flags = le_get32(b + 0);
	op->inode = le_get64(b + 4);
	op->parent = le_get64(b + 12);
	op->newparent = le_get64(b + 20);
	op->now = (int64_t)le_get64(b + 28);
	op->mtime = (int64_t)le_get64(b + 36);
	op->name_len = le_get32(b + 44);
	op->newname_len = le_get32(b + 48);
	op->data_len = le_get32(b + 52);
	need = (uint64_t)CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED + op->name_len + op->newname_len +
	    op->data_len;
	if (need != len)
		return -EBADMSG;
	b += CFS_OP_BODY_FIXED;
	op->name = (const char *)b;
	b += op->name_len;
	op->newname = (const char *)b;
	b += op->newname_len;
	op->data = b;
	if (!name_ok(op->name, op->name_len) || !name_ok(op->newname, op->newname_len))
		return -EBADMSG;
	return 0;
}
