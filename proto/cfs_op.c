/*
 * cfs_op.c - encoder and validating decoder of pmxcfs operations.
 * Called by pmxcfs/dfsm.c on both the proposing and the applying side, and
 * by the fuzz target tests/fuzz/fuzz_cfs_op.c.
 */
#include "proto/cfs_op.h"
#include "proto/crc32.h"

#include <errno.h>
#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

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
	put_u32(b + 0, op->flags);
	put_u64(b + 4, op->inode);
	put_u64(b + 12, op->parent);
	put_u64(b + 20, op->newparent);
	put_u64(b + 28, (uint64_t)op->now);
	put_u64(b + 36, (uint64_t)op->mtime);
	put_u32(b + 44, op->name_len);
	put_u32(b + 48, op->newname_len);
	put_u32(b + 52, op->data_len);
	b += CFS_OP_BODY_FIXED;
	if (op->name_len)
		memcpy(b, op->name, op->name_len);
	b += op->name_len;
	if (op->newname_len)
		memcpy(b, op->newname, op->newname_len);
	b += op->newname_len;
	if (op->data_len)
		memcpy(b, op->data, op->data_len);

	put_u32(p + 0, CFS_OP_MAGIC);
	put_u16(p + 4, CFS_OP_FORMAT);
	put_u16(p + 6, op->type);
	put_u32(p + 8, (uint32_t)len);
	put_u32(p + 12, op_crc(p, len));
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
	if (get_u32(p) != CFS_OP_MAGIC)
		return -EBADMSG;
	if (get_u16(p + 4) != CFS_OP_FORMAT)
		return -EPROTO;
	total = get_u32(p + 8);
	if (total != len || total > CFS_OP_MAX_SIZE)
		return -EBADMSG;
	if (get_u32(p + 12) != op_crc(p, len))
		return -EBADMSG;

	memset(op, 0, sizeof(*op));
	op->type = get_u16(p + 6);
	if (op->type == 0 || op->type > CFS_OP_TYPE_MAX)
		return -EPROTO;
	b = p + CFS_OP_HEADER_SIZE;
	op->flags = get_u32(b + 0);
	op->inode = get_u64(b + 4);
	op->parent = get_u64(b + 12);
	op->newparent = get_u64(b + 20);
	op->now = (int64_t)get_u64(b + 28);
	op->mtime = (int64_t)get_u64(b + 36);
	op->name_len = get_u32(b + 44);
	op->newname_len = get_u32(b + 48);
	op->data_len = get_u32(b + 52);
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
