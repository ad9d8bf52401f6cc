/*
 * cfs_msg.c - the cluster message envelope; see cfs_msg.h.
 * Called by pmxcfs/cluster.c and the fuzz target tests/fuzz/fuzz_cfs_msg.c.
 */
#include "proto/cfs_msg.h"
#include "proto/crc32.h"
#include "proto/le.h"

#include <errno.h>
#include <string.h>

const char *cfs_msg_type_name(unsigned type)
{
	static const char *const names[] = {
		[CFS_MSG_OP] = "op",           [CFS_MSG_FRAG] = "frag",
		[CFS_MSG_SUMMARY] = "summary", [CFS_MSG_STATE] = "state",
		[CFS_MSG_VERIFY] = "verify",   [CFS_MSG_VERIFY_REPLY] = "verify-reply",
		[CFS_MSG_RESYNC] = "resync",   [CFS_MSG_LOG] = "log",
	};
	if (type == 0 || type > CFS_MSG_TYPE_MAX)
		return "unknown";
	return names[type];
}

static uint32_t msg_crc(const uint8_t *p, size_t len)
{
	uint32_t crc = crc32_update(0, p, 12);
	return crc32_update(crc, p + 16, len - 16);
}

size_t cfs_msg_seal(void *buf, uint16_t type, uint64_t id, size_t body_len)
{
	uint8_t *p = buf;
	size_t len = CFS_MSG_HEADER_SIZE + body_len;

	le_put32(p, CFS_MSG_MAGIC);
	le_put16(p + 4, CFS_MSG_FORMAT);
	le_put16(p + 6, type);
	le_put32(p + 8, (uint32_t)len);
	le_put64(p + 16, id);
	le_put32(p + 12, msg_crc(p, len));
	return len;
}

int cfs_msg_decode(const void *buf, size_t len, struct cfs_msg *m)
{
	const uint8_t *p = buf;
	uint16_t format, type;

	if (len < CFS_MSG_HEADER_SIZE || le_get32(p) != CFS_MSG_MAGIC)
		return -EBADMSG;
	if (le_get32(p + 8) != len)
		return -EBADMSG;
	if (le_get32(p + 12) != msg_crc(p, len))
		return -EBADMSG;
	format = le_get16(p + 4);
	type = le_get16(p + 6);
	if (format != CFS_MSG_FORMAT || type == 0 || type > CFS_MSG_TYPE_MAX)
		return -EPROTO;
	m->type = type;
	m->id = le_get64(p + 16);
	m->body = p + CFS_MSG_HEADER_SIZE;
	m->body_len = (uint32_t)(len - CFS_MSG_HEADER_SIZE);
	return 0;
}

int cfs_msg_frag_decode(const struct cfs_msg *m, struct cfs_msg_frag *f)
{
	const uint8_t *b = m->body;

	if (m->type != CFS_MSG_FRAG || m->body_len <= CFS_MSG_FRAG_HEADER)
		return -EBADMSG;
	f->index = le_get32(b);
	f->count = le_get32(b + 4);
	f->whole_len = le_get32(b + 8);
	f->chunk = b + CFS_MSG_FRAG_HEADER;
	f->chunk_len = m->body_len - CFS_MSG_FRAG_HEADER;
	if (f->count < 2 || f->index >= f->count || f->whole_len > CFS_MSG_MAX_WHOLE ||
	    f->whole_len < CFS_MSG_HEADER_SIZE || f->chunk_len > f->whole_len ||
	    (uint64_t)f->count > f->whole_len)
		return -EBADMSG;
	return 0;
}

int cfs_msg_summary_decode(const struct cfs_msg *m, struct cfs_msg_summary *s)
{
	const uint8_t *b = m->body;

	if (m->type != CFS_MSG_SUMMARY || m->body_len != 36)
		return -EBADMSG;
	s->round = le_get64(b);
	s->version = le_get64(b + 8);
	s->checksum = le_get64(b + 16);
	s->inodes = le_get64(b + 24);
	s->flags = le_get32(b + 32);
	return 0;
}

int cfs_msg_u64s_decode(const struct cfs_msg *m, uint64_t *out, unsigned n)
{
	const uint8_t *b = m->body;

	if (m->body_len != 8u * n)
		return -EBADMSG;
	for (unsigned i = 0; i < n; i++)
		out[i] = le_get64(b + 8 * i);
	return 0;
}

int cfs_msg_row_next(const struct cfs_msg_state *s, size_t *off, struct cfs_msg_row *r)
{
	const uint8_t *p = s->rows + *off;
	size_t left = s->rows_len - *off;

	if (left == 0)
		return 0;
	if (left < CFS_MSG_ROW_FIXED)
		return -EBADMSG;
	r->inode = le_get64(p);
	r->parent = le_get64(p + 8);
	r->version = le_get64(p + 16);
	r->mtime = (int64_t)le_get64(p + 24);
	r->type = p[32];
	r->name_len = le_get16(p + 33);
	r->size = le_get32(p + 35);
	if ((uint64_t)r->name_len + r->size > left - CFS_MSG_ROW_FIXED)
		return -EBADMSG;
	r->name = (const char *)p + CFS_MSG_ROW_FIXED;
	r->data = p + CFS_MSG_ROW_FIXED + r->name_len;
	if (memchr(r->name, 0, r->name_len))
		return -EBADMSG;
	*off += CFS_MSG_ROW_FIXED + (size_t)r->name_len + r->size;
	return 1;
}

int cfs_msg_state_decode(const struct cfs_msg *m, struct cfs_msg_state *s)
{
	const uint8_t *b = m->body;
	struct cfs_msg_row r;
	size_t off = 0;
	uint32_t n = 0;
	int e;

	if (m->type != CFS_MSG_STATE || m->body_len < 28)
		return -EBADMSG;
	s->round = le_get64(b);
	s->version = le_get64(b + 8);
	s->checksum = le_get64(b + 16);
	s->nrows = le_get32(b + 24);
	s->rows = b + 28;
	s->rows_len = m->body_len - 28;
	/* check every row once, so callers iterate a well-formed list */
	while ((e = cfs_msg_row_next(s, &off, &r)) == 1)
		n++;
	if (e < 0 || n != s->nrows)
		return -EBADMSG;
	return 0;
}
