/*
 * pmxcfs_client.c - libpmxcfs-client; see pmxcfs_client.h.
 */
#include "proto/pmxcfs_client.h"
#include "proto/le.h"

#include <errno.h>
#include <stddef.h>
#include <qb/qbipcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define REPLY_TIMEOUT_MS 30000

struct pmxcfs_client {
	qb_ipcc_connection_t *conn;
	uint32_t seq;
	unsigned char *req, *rep, *ev; /* IPC_MAX_MSG + qb header each */
	/* the event message being handed out */
	struct ipc_msg evm;
	struct ipc_rd evr;
	uint32_t ev_left;
};

#define QB_REQ_HDR sizeof(struct qb_ipc_request_header)
#define QB_REP_HDR sizeof(struct qb_ipc_response_header)

int pmxcfs_connect(const char *name, struct pmxcfs_client **out)
{
	if (!name)
		name = getenv("PMXCFS_IPC_NAME");
	if (!name || !name[0])
		name = IPC_DEFAULT_NAME;
	struct pmxcfs_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->req = malloc(IPC_MAX_MSG);
	c->rep = malloc(IPC_MAX_MSG + QB_REP_HDR);
	c->ev = malloc(IPC_MAX_MSG + QB_REP_HDR);
	if (!c->req || !c->rep || !c->ev) {
		pmxcfs_disconnect(c);
		return -ENOMEM;
	}
	errno = 0;
	c->conn = qb_ipcc_connect(name, IPC_MAX_MSG + 256);
	if (!c->conn) {
		int err = errno ? errno : ECONNREFUSED;
		pmxcfs_disconnect(c);
		return -err;
	}
	*out = c;
	return 0;
}

void pmxcfs_disconnect(struct pmxcfs_client *c)
{
	if (!c)
		return;
	if (c->conn)
		qb_ipcc_disconnect(c->conn);
	free(c->req);
	free(c->rep);
	free(c->ev);
	free(c);
}

int pmxcfs_fd(struct pmxcfs_client *c)
{
	int32_t fd = -1;
	if (qb_ipcc_fd_get(c->conn, &fd) != 0)
		return -ENOTCONN;
	return fd;
}

/* Send the request in w, wait for its reply; m describes the reply. */
static int call(struct pmxcfs_client *c, struct ipc_wr *w, struct ipc_msg *m)
{
	size_t len = ipc_wr_finish(w);
	if (!len)
		return -E2BIG;
	struct qb_ipc_request_header h = { .id = le_get16(w->buf + 6),
		                           .size = (int32_t)(QB_REQ_HDR + len) };
	struct iovec iov[2] = { { &h, QB_REQ_HDR }, { w->buf, len } };
	ssize_t r =
	    qb_ipcc_sendv_recv(c->conn, iov, 2, c->rep, IPC_MAX_MSG + QB_REP_HDR, REPLY_TIMEOUT_MS);
	if (r < 0)
		return r == -ETIMEDOUT || r == -EAGAIN ? -ETIMEDOUT : -ENOTCONN;
	if ((size_t)r < QB_REP_HDR ||
	    ipc_msg_decode(c->rep + QB_REP_HDR, (size_t)r - QB_REP_HDR, m))
		return -EBADMSG;
	if (m->type != IPC_REPLY || m->seq != c->seq)
		return -EBADMSG;
	return m->error;
}

static void start(struct pmxcfs_client *c, struct ipc_wr *w, uint16_t type)
{
	ipc_wr_init(w, c->req, IPC_MAX_MSG, type, ++c->seq, 0);
}

int pmxcfs_status(struct pmxcfs_client *c, struct pmxcfs_status *st)
{
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;
	struct ipc_status s;

	memset(st, 0, sizeof(*st));
	start(c, &w, IPC_REQ_STATUS);
	int err = call(c, &w, &m);
	if (err)
		return err;
	ipc_rd_init(&r, &m);
	if (ipc_get_status(&r, &s) || s.nnodes > 4096)
		return -EBADMSG;
	snprintf(st->cluster_name, sizeof(st->cluster_name), "%s", s.cluster_name);
	snprintf(st->local_name, sizeof(st->local_name), "%s", s.local_name);
	st->local_id = s.local_id;
	st->cluster = s.flags & IPC_STATUS_F_CLUSTER;
	st->connected = s.flags & IPC_STATUS_F_CONNECTED;
	st->quorate = s.flags & IPC_STATUS_F_QUORATE;
	st->writable = s.flags & IPC_STATUS_F_WRITABLE;
	st->sync = s.sync;
	st->expected_votes = s.expected_votes;
	st->total_votes = s.total_votes;
	st->quorum = s.quorum;
	st->db_version = s.db_version;
	st->membership_version = s.membership_version;
	st->nodes = calloc(s.nnodes ? s.nnodes : 1, sizeof(*st->nodes));
	if (!st->nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < s.nnodes; i++) {
		struct ipc_node n;
		if (ipc_get_node(&r, &n)) {
			pmxcfs_status_clear(st);
			return -EBADMSG;
		}
		struct pmxcfs_node *o = &st->nodes[i];
		o->id = n.id;
		o->votes = n.votes;
		o->online = n.online;
		snprintf(o->name, sizeof(o->name), "%s", n.name);
		snprintf(o->addr, sizeof(o->addr), "%s", n.addr);
		st->nnodes++;
	}
	if (ipc_rd_end(&r, true)) {
		pmxcfs_status_clear(st);
		return -EBADMSG;
	}
	return 0;
}

void pmxcfs_status_clear(struct pmxcfs_status *st)
{
	free(st->nodes);
	st->nodes = NULL;
	st->nnodes = 0;
}

int pmxcfs_watch(struct pmxcfs_client *c, const char *prefix, uint64_t from, unsigned flags,
                 uint64_t *startv)
{
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;

	start(c, &w, IPC_REQ_WATCH);
	ipc_put_u32(&w, flags & IPC_WATCH_FROM_NOW);
	ipc_put_u64(&w, from);
	ipc_put_str(&w, prefix);
	c->ev_left = 0; /* what was left of the old watch is dropped */
	int err = call(c, &w, &m);
	if (err)
		return err;
	ipc_rd_init(&r, &m);
	uint64_t v = ipc_get_u64(&r);
	if (ipc_rd_end(&r, true))
		return -EBADMSG;
	if (startv)
		*startv = v;
	return 0;
}

int pmxcfs_unwatch(struct pmxcfs_client *c)
{
	struct ipc_wr w;
	struct ipc_msg m;
	start(c, &w, IPC_REQ_UNWATCH);
	c->ev_left = 0;
	return call(c, &w, &m);
}

int pmxcfs_next_event(struct pmxcfs_client *c, struct pmxcfs_event *ev, int timeout_ms)
{
	for (;;) {
		if (c->ev_left) {
			struct ipc_change ch;
			c->ev_left--;
			if (ipc_get_change(&c->evr, &ch)) {
				c->ev_left = 0;
				return -EBADMSG;
			}
			memset(ev, 0, offsetof(struct pmxcfs_event, path));
			ev->kind = PMXCFS_EV_CHANGE;
			ev->version = ch.version;
			ev->mtime = ch.mtime;
			ev->op = ch.op;
			snprintf(ev->path, sizeof(ev->path), "%s", ch.path);
			snprintf(ev->path2, sizeof(ev->path2), "%s", ch.path2);
			return 1;
		}
		ssize_t r =
		    qb_ipcc_event_recv(c->conn, c->ev, IPC_MAX_MSG + QB_REP_HDR, timeout_ms);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return -ENOTCONN;
		if ((size_t)r < QB_REP_HDR ||
		    ipc_msg_decode(c->ev + QB_REP_HDR, (size_t)r - QB_REP_HDR, &c->evm))
			return -EBADMSG;
		ipc_rd_init(&c->evr, &c->evm);
		if (c->evm.type == IPC_EV_CHANGES) {
			c->ev_left = ipc_get_u32(&c->evr);
			if (c->evr.bad)
				return -EBADMSG;
			continue;
		}
		if (c->evm.type != IPC_EV_RESYNC)
			return -EBADMSG;
		memset(ev, 0, offsetof(struct pmxcfs_event, path));
		ev->path[0] = ev->path2[0] = '\0';
		ev->kind = PMXCFS_EV_RESYNC;
		ev->version = ipc_get_u64(&c->evr);
		ev->reason = ipc_get_u8(&c->evr);
		if (ipc_rd_end(&c->evr, true))
			return -EBADMSG;
		return 1;
	}
}

int pmxcfs_list(struct pmxcfs_client *c, const char *prefix, struct pmxcfs_entry **ents, size_t *n,
                uint64_t *version)
{
	struct pmxcfs_entry *out = NULL;
	size_t cnt = 0, cap = 0;
	char *after = strdup("");
	int err = 0;
	bool first = true;

	if (!after)
		return -ENOMEM;
	for (bool more = true; more && !err;) {
		struct ipc_wr w;
		struct ipc_msg m;
		struct ipc_rd r;

		start(c, &w, IPC_REQ_LIST);
		ipc_put_str(&w, prefix);
		ipc_put_str(&w, after);
		if ((err = call(c, &w, &m)))
			break;
		ipc_rd_init(&r, &m);
		uint64_t v = ipc_get_u64(&r);
		more = ipc_get_u8(&r);
		uint32_t k = ipc_get_u32(&r);
		if (first && version)
			*version = v;
		first = false;
		for (uint32_t i = 0; i < k && !err; i++) {
			struct ipc_entry e;
			if (ipc_get_entry(&r, &e)) {
				err = -EBADMSG;
				break;
			}
			if (cnt == cap) {
				size_t nc = cap ? 2 * cap : 64;
				struct pmxcfs_entry *p = realloc(out, nc * sizeof(*p));
				if (!p) {
					err = -ENOMEM;
					break;
				}
				out = p;
				cap = nc;
			}
			out[cnt] = (struct pmxcfs_entry){ .path = strdup(e.path),
				                          .type = e.type,
				                          .version = e.version,
				                          .mtime = e.mtime,
				                          .size = e.size };
			if (!out[cnt].path) {
				err = -ENOMEM;
				break;
			}
			cnt++;
		}
		if (!err && ipc_rd_end(&r, true))
			err = -EBADMSG;
		if (!err && more) {
			if (k == 0) {
				err = -EBADMSG; /* a page that makes no progress */
				break;
			}
			free(after);
			if (!(after = strdup(out[cnt - 1].path)))
				err = -ENOMEM;
		}
	}
	free(after);
	if (err) {
		pmxcfs_entries_free(out, cnt);
		return err;
	}
	*ents = out;
	*n = cnt;
	return 0;
}

void pmxcfs_entries_free(struct pmxcfs_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ents[i].path);
	free(ents);
}

int pmxcfs_log(struct pmxcfs_client *c, int pri, const char *tag, const char *user, const char *msg)
{
	struct ipc_wr w;
	struct ipc_msg m;

	if (pri < 0 || pri > 7 || !tag || !msg)
		return -EINVAL;
	start(c, &w, IPC_REQ_LOG_APPEND);
	ipc_put_u8(&w, (uint8_t)pri);
	ipc_put_str(&w, tag);
	ipc_put_str(&w, user ? user : "");
	ipc_put_str(&w, msg);
	return call(c, &w, &m);
}

int pmxcfs_log_read(struct pmxcfs_client *c, size_t max, struct pmxcfs_log_entry **out, size_t *n)
{
	struct ipc_wr w;
	struct ipc_msg m;
	struct ipc_rd r;

	start(c, &w, IPC_REQ_LOG_READ);
	ipc_put_u32(&w, max > 1024 ? 1024 : (uint32_t)max);
	int err = call(c, &w, &m);
	if (err)
		return err;
	ipc_rd_init(&r, &m);
	uint32_t k = ipc_get_u32(&r);
	if (r.bad || k > 1024)
		return -EBADMSG;
	struct pmxcfs_log_entry *e = calloc(k ? k : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint32_t i = 0; i < k; i++) {
		struct ipc_log_entry le;
		if (ipc_get_log_entry(&r, &le)) {
			free(e);
			return -EBADMSG;
		}
		e[i].time = le.time;
		e[i].pri = le.pri;
		e[i].pid = le.pid;
		snprintf(e[i].node, sizeof(e[i].node), "%s", le.node);
		snprintf(e[i].user, sizeof(e[i].user), "%s", le.user);
		snprintf(e[i].tag, sizeof(e[i].tag), "%s", le.tag);
		snprintf(e[i].msg, sizeof(e[i].msg), "%s", le.msg);
	}
	if (ipc_rd_end(&r, true)) {
		free(e);
		return -EBADMSG;
	}
	*out = e;
	*n = k;
	return 0;
}
