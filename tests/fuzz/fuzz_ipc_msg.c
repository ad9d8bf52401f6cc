/*
 * fuzz_ipc_msg.c - libFuzzer target for proto/ipc_msg.c, the decoder of
 * every IPC request pmxcfs receives from local clients (and of the replies
 * and events the client library receives), and for clusterlog_merge(), the
 * decoder of the log blobs other nodes send.
 *
 * The input is decoded as a whole envelope and, when accepted, its body is
 * decoded fully with the typed getters for its type (a REPLY in each of the
 * shapes a reply can have).  Since random bytes almost never carry a valid
 * CRC, the input is then also sealed as the body of each message type and
 * decoded the same way.  Finally it is merged into a fresh cluster log as a
 * log blob.
 *
 * Checks: nothing reads outside the buffer (ASan), a sealed message always
 * decodes, accepted fields are within their documented bounds, every
 * accepted string lies inside the message and has no NUL before its end,
 * and a fully accepted body re-encodes to exactly the same bytes (the
 * format is canonical).
 */
#include "pmxcfs/clusterlog.h"
#include "proto/ipc_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The message being checked, and its re-encoding. */
struct ctx {
	const struct ipc_msg *m;
	const unsigned char *start, *end; /* the whole message */
	struct ipc_wr w;
	unsigned char *buf;
};

/* An accepted string lies inside the message, NUL-terminated there. */
static void check_str(const struct ctx *c, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	if (p < c->start || p >= c->end)
		abort();
	size_t n = strnlen(s, (size_t)(c->end - p));
	if (p + n >= c->end || n >= IPC_MAX_STR)
		abort();
}

/* Start re-encoding c's message; the result must equal the input. */
static void re_init(struct ctx *c, size_t len)
{
	ipc_wr_init(&c->w, c->buf, len, c->m->type, c->m->seq, c->m->error);
}

static void re_check(struct ctx *c)
{
	size_t len = ipc_wr_finish(&c->w);
	if (len != (size_t)(c->end - c->start) || memcmp(c->buf, c->start, len) != 0)
		abort();
}

static bool take_change(struct ctx *c, struct ipc_rd *r)
{
	struct ipc_change ch;
	if (ipc_get_change(r, &ch)) {
		if (!r->bad)
			abort();
		return false;
	}
	if (ch.op == 0 || ch.op > IPC_OP_MAX || !strcmp(ipc_op_name(ch.op), "unknown"))
		abort();
	check_str(c, ch.path);
	check_str(c, ch.path2);
	ipc_put_change(&c->w, &ch);
	return true;
}

static bool take_entry(struct ctx *c, struct ipc_rd *r)
{
	struct ipc_entry e;
	if (ipc_get_entry(r, &e)) {
		if (!r->bad)
			abort();
		return false;
	}
	if (e.type != 1 && e.type != 2)
		abort();
	check_str(c, e.path);
	ipc_put_entry(&c->w, &e);
	return true;
}

static bool take_log_entry(struct ctx *c, struct ipc_rd *r)
{
	struct ipc_log_entry e;
	if (ipc_get_log_entry(r, &e)) {
		if (!r->bad)
			abort();
		return false;
	}
	if (e.pri > 7)
		abort();
	check_str(c, e.node);
	check_str(c, e.user);
	check_str(c, e.tag);
	check_str(c, e.msg);
	ipc_put_log_entry(&c->w, &e);
	return true;
}

static bool take_node(struct ctx *c, struct ipc_rd *r)
{
	struct ipc_node n;
	if (ipc_get_node(r, &n)) {
		if (!r->bad)
			abort();
		return false;
	}
	check_str(c, n.name);
	check_str(c, n.addr);
	ipc_put_node(&c->w, &n);
	return true;
}

/* The end of a body: re-encoding must match when it was all accepted. */
static void finish(struct ctx *c, struct ipc_rd *r, bool ok)
{
	int e = ipc_rd_end(r, true);
	if (e != 0 && e != -EBADMSG)
		abort();
	if (!ok && e == 0)
		abort(); /* a refused item leaves the reader bad */
	if (ok && e == 0)
		re_check(c);
}

/* Typed loops: count, then items; false when an item was refused. */
static bool take_items(struct ctx *c, struct ipc_rd *r, uint32_t n,
                       bool (*take)(struct ctx *, struct ipc_rd *))
{
	for (uint32_t i = 0; i < n; i++)
		if (!take(c, r))
			return false;
	return true;
}

static void check_reply(struct ctx *c, size_t len)
{
	struct ipc_rd r;

	/* STATUS: status, then its nodes */
	struct ipc_status s;
	ipc_rd_init(&r, c->m);
	re_init(c, len);
	if (ipc_get_status(&r, &s) == 0) {
		if (s.sync > IPC_SYNC_SYNCED)
			abort();
		check_str(c, s.cluster_name);
		check_str(c, s.local_name);
		ipc_put_status(&c->w, &s);
		finish(c, &r, take_items(c, &r, s.nnodes, take_node));
	} else if (!r.bad) {
		abort();
	}

	/* WATCH: a version */
	ipc_rd_init(&r, c->m);
	re_init(c, len);
	ipc_put_u64(&c->w, ipc_get_u64(&r));
	finish(c, &r, !r.bad);

	/* LIST: version, more, count, entries */
	ipc_rd_init(&r, c->m);
	re_init(c, len);
	ipc_put_u64(&c->w, ipc_get_u64(&r));
	ipc_put_u8(&c->w, ipc_get_u8(&r));
	uint32_t n = ipc_get_u32(&r);
	ipc_put_u32(&c->w, n);
	finish(c, &r, !r.bad && take_items(c, &r, n, take_entry));

	/* LOG_READ: count, log entries */
	ipc_rd_init(&r, c->m);
	re_init(c, len);
	n = ipc_get_u32(&r);
	ipc_put_u32(&c->w, n);
	finish(c, &r, !r.bad && take_items(c, &r, n, take_log_entry));
}

static void check_msg(const struct ipc_msg *m, const unsigned char *msg, size_t len)
{
	struct ctx c = { .m = m, .start = msg, .end = msg + len };
	struct ipc_rd r;
	uint32_t n;

	if (m->type == 0 || m->type > IPC_TYPE_MAX || m->body != msg + IPC_HEADER_SIZE ||
	    m->body_len != len - IPC_HEADER_SIZE || !strcmp(ipc_type_name(m->type), "unknown"))
		abort();
	c.buf = malloc(len);
	if (!c.buf)
		return;
	re_init(&c, len);
	ipc_rd_init(&r, m);
	switch (m->type) {
	case IPC_REQ_STATUS:
	case IPC_REQ_UNWATCH:
		finish(&c, &r, true);
		break;
	case IPC_REQ_WATCH: {
		struct ipc_watch_req w;
		if (ipc_watch_req_decode(m, &w) == 0) {
			check_str(&c, w.prefix);
			ipc_put_u32(&c.w, w.flags);
			ipc_put_u64(&c.w, w.from);
			ipc_put_str(&c.w, w.prefix);
			re_check(&c);
		}
		break;
	}
	case IPC_REQ_LIST: {
		struct ipc_list_req l;
		if (ipc_list_req_decode(m, &l) == 0) {
			check_str(&c, l.prefix);
			check_str(&c, l.after);
			ipc_put_str(&c.w, l.prefix);
			ipc_put_str(&c.w, l.after);
			re_check(&c);
		}
		break;
	}
	case IPC_REQ_LOG_APPEND: {
		uint8_t pri = ipc_get_u8(&r);
		const char *tag = ipc_get_str(&r);
		const char *user = ipc_get_str(&r);
		const char *msgs = ipc_get_str(&r);
		if (!r.bad) {
			check_str(&c, tag);
			check_str(&c, user);
			check_str(&c, msgs);
		}
		ipc_put_u8(&c.w, pri);
		ipc_put_str(&c.w, tag);
		ipc_put_str(&c.w, user);
		ipc_put_str(&c.w, msgs);
		finish(&c, &r, !r.bad);
		break;
	}
	case IPC_REQ_LOG_READ:
		ipc_put_u32(&c.w, ipc_get_u32(&r));
		finish(&c, &r, !r.bad);
		break;
	case IPC_REPLY:
		check_reply(&c, len);
		break;
	case IPC_EV_CHANGES:
		n = ipc_get_u32(&r);
		ipc_put_u32(&c.w, n);
		finish(&c, &r, !r.bad && take_items(&c, &r, n, take_change));
		break;
	case IPC_EV_RESYNC: {
		uint64_t v = ipc_get_u64(&r);
		uint8_t reason = ipc_get_u8(&r);
		(void)ipc_resync_reason_name(reason);
		ipc_put_u64(&c.w, v);
		ipc_put_u8(&c.w, reason);
		finish(&c, &r, !r.bad);
		break;
	}
	default:
		abort();
	}
	free(c.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;

	/* exact-size copies, so ASan sees any read past the end */
	uint8_t *raw = malloc(size ? size : 1);
	if (!raw)
		return 0;
	memcpy(raw, data, size);
	int e = ipc_msg_decode(raw, size, &m);
	if (e == 0)
		check_msg(&m, raw, size);
	else if (e != -EBADMSG && e != -EPROTO)
		abort();

	/* the input as a log blob */
	struct clusterlog *cl = clusterlog_new();
	if (cl) {
		int merged = clusterlog_merge(cl, raw, size);
		if (merged < 0 && merged != -EBADMSG)
			abort();
		if (merged > 0) {
			/* what was merged encodes and merges back as nothing new */
			size_t cap = IPC_MAX_MSG;
			uint8_t *blob = malloc(cap);
			if (blob) {
				struct ipc_wr w;
				ipc_wr_init_raw(&w, blob, cap);
				clusterlog_encode(cl, &w);
				if (!w.overflow && clusterlog_merge(cl, blob, w.len) != 0)
					abort();
				free(blob);
			}
		}
		clusterlog_free(cl);
	}
	free(raw);

	/* the input as the body of each message type */
	if (size > IPC_MAX_MSG - IPC_HEADER_SIZE)
		return 0;
	size_t len = IPC_HEADER_SIZE + size;
	uint8_t *buf = malloc(len);
	if (!buf)
		return 0;
	for (uint16_t type = 1; type <= IPC_TYPE_MAX; type++) {
		struct ipc_wr w;
		ipc_wr_init(&w, buf, len, type, 7, -1);
		for (size_t i = 0; i < size; i++)
			ipc_put_u8(&w, data[i]);
		if (ipc_wr_finish(&w) != len || ipc_msg_decode(buf, len, &m) != 0 ||
		    m.type != type || m.seq != 7 || m.error != -1 || m.body_len != size)
			abort(); /* a sealed message must decode */
		check_msg(&m, buf, len);
	}
	free(buf);
	return 0;
}
