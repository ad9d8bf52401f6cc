/*
 * ipc_msg.c - the pmxcfs IPC format; see ipc_msg.h.
 * Called by pmxcfs/ipcs.c, proto/pmxcfs_client.c and tests/fuzz/fuzz_ipc_msg.c.
 */
#include "proto/ipc_msg.h"
#include "proto/crc32.h"
#include "proto/le.h"

#include <errno.h>
#include <string.h>

static uint32_t msg_crc(const uint8_t *p, size_t len)
{
	uint32_t crc = crc32_update(0, p, 12);
	return crc32_update(crc, p + 16, len - 16);
}

void ipc_wr_init(struct ipc_wr *w, void *buf, size_t cap, uint16_t type, uint32_t seq,
                 int32_t error)
{
	w->buf = buf;
	w->cap = cap;
	w->len = IPC_HEADER_SIZE;
	w->raw = false;
	w->overflow = cap < IPC_HEADER_SIZE;
	if (w->overflow)
		return;
	le_put32(w->buf, IPC_MAGIC);
	le_put16(w->buf + 4, IPC_FORMAT);
	le_put16(w->buf + 6, type);
	le_put32(w->buf + 16, seq);
	le_put32(w->buf + 20, (uint32_t)error);
}

void ipc_wr_init_raw(struct ipc_wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	w->raw = true;
}

static unsigned char *wr_room(struct ipc_wr *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return NULL;
	}
	unsigned char *p = w->buf + w->len;
	w->len += n;
	return p;
}

void ipc_put_u8(struct ipc_wr *w, uint8_t v)
{
	unsigned char *p = wr_room(w, 1);
	if (p)
		*p = v;
}

void ipc_put_u32(struct ipc_wr *w, uint32_t v)
{
	unsigned char *p = wr_room(w, 4);
	if (p)
		le_put32(p, v);
}

void ipc_put_u64(struct ipc_wr *w, uint64_t v)
{
	unsigned char *p = wr_room(w, 8);
	if (p)
		le_put64(p, v);
}

void ipc_put_str(struct ipc_wr *w, const char *s)
{
	size_t n = strnlen(s, IPC_MAX_STR - 1); /* longer strings are cut */
	unsigned char *p = wr_room(w, 4 + n + 1);
	if (!p)
		return;
	le_put32(p, (uint32_t)(n + 1));
	memcpy(p + 4, s, n);
	p[4 + n] = '\0';
}

void ipc_patch_u32(struct ipc_wr *w, size_t off, uint32_t v)
{
	if (!w->overflow && off <= w->len && w->len - off >= 4)
		le_put32(w->buf + off, v);
}

size_t ipc_wr_finish(struct ipc_wr *w)
{
	if (w->overflow)
		return 0;
	if (w->raw)
		return w->len;
	le_put32(w->buf + 8, (uint32_t)w->len);
	le_put32(w->buf + 12, msg_crc(w->buf, w->len));
	return w->len;
}

int ipc_msg_decode(const void *buf, size_t len, struct ipc_msg *m)
{
	const uint8_t *p = buf;

	if (len < IPC_HEADER_SIZE || len > IPC_MAX_MSG || le_get32(p) != IPC_MAGIC)
		return -EBADMSG;
	if (le_get32(p + 8) != len || le_get32(p + 12) != msg_crc(p, len))
		return -EBADMSG;
	uint16_t type = le_get16(p + 6);
	if (le_get16(p + 4) != IPC_FORMAT || type == 0 || type > IPC_TYPE_MAX)
		return -EPROTO;
	m->type = type;
	m->seq = le_get32(p + 16);
	m->error = (int32_t)le_get32(p + 20);
	m->body = p + IPC_HEADER_SIZE;
	m->body_len = (uint32_t)(len - IPC_HEADER_SIZE);
	return 0;
}

void ipc_rd_init(struct ipc_rd *r, const struct ipc_msg *m)
{
	r->p = m->body;
	r->len = m->body_len;
	r->off = 0;
	r->bad = false;
}

static const unsigned char *rd_take(struct ipc_rd *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t ipc_get_u8(struct ipc_rd *r)
{
	const unsigned char *p = rd_take(r, 1);
	return p ? *p : 0;
}

uint32_t ipc_get_u32(struct ipc_rd *r)
{
	const unsigned char *p = rd_take(r, 4);
	return p ? le_get32(p) : 0;
}

uint64_t ipc_get_u64(struct ipc_rd *r)
{
	const unsigned char *p = rd_take(r, 8);
	return p ? le_get64(p) : 0;
}

const char *ipc_get_str(struct ipc_rd *r)
{
	uint32_t n = ipc_get_u32(r);
	if (r->bad || n == 0 || n > IPC_MAX_STR) {
		r->bad = true;
		return "";
	}
	const unsigned char *p = rd_take(r, n);
	/* exactly one NUL, at the end */
	if (!p || p[n - 1] != '\0' || memchr(p, '\0', n - 1)) {
		r->bad = true;
		return "";
	}
	return (const char *)p;
}

int ipc_rd_end(const struct ipc_rd *r, bool exact)
{
	if (r->bad || (exact && r->off != r->len))
		return -EBADMSG;
	return 0;
}

int ipc_watch_req_decode(const struct ipc_msg *m, struct ipc_watch_req *w)
{
	struct ipc_rd r;
	ipc_rd_init(&r, m);
	w->flags = ipc_get_u32(&r);
	w->from = ipc_get_u64(&r);
	w->prefix = ipc_get_str(&r);
	return ipc_rd_end(&r, true);
}

int ipc_list_req_decode(const struct ipc_msg *m, struct ipc_list_req *l)
{
	struct ipc_rd r;
	ipc_rd_init(&r, m);
	l->prefix = ipc_get_str(&r);
	l->after = ipc_get_str(&r);
	return ipc_rd_end(&r, true);
}

void ipc_put_log_entry(struct ipc_wr *w, const struct ipc_log_entry *e)
{
	ipc_put_u64(w, e->instance);
	ipc_put_u64(w, e->seq);
	ipc_put_u64(w, (uint64_t)e->time);
	ipc_put_u8(w, e->pri);
	ipc_put_u32(w, e->pid);
	ipc_put_str(w, e->node);
	ipc_put_str(w, e->user);
	ipc_put_str(w, e->tag);
	ipc_put_str(w, e->msg);
}

int ipc_get_log_entry(struct ipc_rd *r, struct ipc_log_entry *e)
{
	e->instance = ipc_get_u64(r);
	e->seq = ipc_get_u64(r);
	e->time = (int64_t)ipc_get_u64(r);
	e->pri = ipc_get_u8(r);
	e->pid = ipc_get_u32(r);
	e->node = ipc_get_str(r);
	e->user = ipc_get_str(r);
	e->tag = ipc_get_str(r);
	e->msg = ipc_get_str(r);
	if (e->pri > 7)
		r->bad = true;
	return ipc_rd_end(r, false);
}

void ipc_put_change(struct ipc_wr *w, const struct ipc_change *c)
{
	ipc_put_u64(w, c->version);
	ipc_put_u64(w, (uint64_t)c->mtime);
	ipc_put_u8(w, c->op);
	ipc_put_str(w, c->path);
	ipc_put_str(w, c->path2 ? c->path2 : "");
}

int ipc_get_change(struct ipc_rd *r, struct ipc_change *c)
{
	c->version = ipc_get_u64(r);
	c->mtime = (int64_t)ipc_get_u64(r);
	c->op = ipc_get_u8(r);
	c->path = ipc_get_str(r);
	c->path2 = ipc_get_str(r);
	if (c->op == 0 || c->op > IPC_OP_MAX)
		r->bad = true;
	return ipc_rd_end(r, false);
}

void ipc_put_entry(struct ipc_wr *w, const struct ipc_entry *e)
{
	ipc_put_u8(w, e->type);
	ipc_put_u64(w, e->version);
	ipc_put_u64(w, (uint64_t)e->mtime);
	ipc_put_u64(w, e->size);
	ipc_put_str(w, e->path);
}

int ipc_get_entry(struct ipc_rd *r, struct ipc_entry *e)
{
	e->type = ipc_get_u8(r);
	e->version = ipc_get_u64(r);
	e->mtime = (int64_t)ipc_get_u64(r);
	e->size = ipc_get_u64(r);
	e->path = ipc_get_str(r);
	if (e->type != 1 && e->type != 2)
		r->bad = true;
	return ipc_rd_end(r, false);
}

void ipc_put_status(struct ipc_wr *w, const struct ipc_status *s)
{
	ipc_put_str(w, s->cluster_name);
	ipc_put_str(w, s->local_name);
	ipc_put_u32(w, s->local_id);
	ipc_put_u8(w, s->flags);
	ipc_put_u8(w, s->sync);
	ipc_put_u32(w, s->expected_votes);
	ipc_put_u32(w, s->total_votes);
	ipc_put_u32(w, s->quorum);
	ipc_put_u64(w, s->db_version);
	ipc_put_u64(w, s->membership_version);
	ipc_put_u32(w, s->nnodes);
}

int ipc_get_status(struct ipc_rd *r, struct ipc_status *s)
{
	s->cluster_name = ipc_get_str(r);
	s->local_name = ipc_get_str(r);
	s->local_id = ipc_get_u32(r);
	s->flags = ipc_get_u8(r);
	s->sync = ipc_get_u8(r);
	s->expected_votes = ipc_get_u32(r);
	s->total_votes = ipc_get_u32(r);
	s->quorum = ipc_get_u32(r);
	s->db_version = ipc_get_u64(r);
	s->membership_version = ipc_get_u64(r);
	s->nnodes = ipc_get_u32(r);
	if (s->sync > IPC_SYNC_SYNCED)
		r->bad = true;
	return ipc_rd_end(r, false);
}

void ipc_put_node(struct ipc_wr *w, const struct ipc_node *n)
{
	ipc_put_u32(w, n->id);
	ipc_put_u8(w, n->online);
	ipc_put_u32(w, n->votes);
	ipc_put_str(w, n->name);
	ipc_put_str(w, n->addr);
}

int ipc_get_node(struct ipc_rd *r, struct ipc_node *n)
{
	n->id = ipc_get_u32(r);
	n->online = ipc_get_u8(r);
	n->votes = ipc_get_u32(r);
	n->name = ipc_get_str(r);
	n->addr = ipc_get_str(r);
	return ipc_rd_end(r, false);
}

const char *ipc_op_name(unsigned op)
{
	static const char *const names[] = {
		[IPC_OP_PUT] = "put",
		[IPC_OP_CREATE] = "create",
		[IPC_OP_DELETE] = "delete",
		[IPC_OP_RENAME_FROM] = "rename-from",
		[IPC_OP_RENAME_TO] = "rename-to",
		[IPC_OP_MKDIR] = "mkdir",
		[IPC_OP_RMDIR] = "rmdir",
		[IPC_OP_MTIME] = "mtime",
	};
	return op && op <= IPC_OP_MAX ? names[op] : "unknown";
}

const char *ipc_resync_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[IPC_RESYNC_HISTORY] = "history-gone",
		[IPC_RESYNC_OVERFLOW] = "client-too-slow",
		[IPC_RESYNC_STATE] = "state-replaced",
		[IPC_RESYNC_FUTURE] = "version-unknown",
	};
	return reason && reason <= IPC_RESYNC_MAX ? names[reason] : "unknown";
}

const char *ipc_type_name(unsigned type)
{
	static const char *const names[] = {
		[IPC_REQ_STATUS] = "status",
		[IPC_REQ_WATCH] = "watch",
		[IPC_REQ_UNWATCH] = "unwatch",
		[IPC_REQ_LIST] = "list",
		[IPC_REQ_LOG_APPEND] = "log-append",
		[IPC_REQ_LOG_READ] = "log-read",
		[IPC_REPLY] = "reply",
		[IPC_EV_CHANGES] = "changes",
		[IPC_EV_RESYNC] = "resync",
	};
	return type && type <= IPC_TYPE_MAX ? names[type] : "unknown";
}
