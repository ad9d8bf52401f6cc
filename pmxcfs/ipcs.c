/*
 * ipcs.c - the libqb IPC server; see ipcs.h and doc/ipc.md.
 */
#include "pmxcfs/ipcs.h"
#include "pmxcfs/log.h"

#include <corosync/votequorum.h>
#include <errno.h>
#include <pthread.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* changes per event message, and messages per connection per pump */
#define EV_MAX_CHANGES 256
#define EV_MAX_BYTES (64 * 1024)
#define PUMP_MSGS 16
/* a full client queue is tried again after 20 ms (only while one is full) */
#define RETRY_NS (20 * 1000 * 1000)
/*
 * Event messages a client may leave unread before we stop sending (its
 * queue); beyond that it waits in the feed's history, and a client that
 * falls out of the history gets "resync needed".
 */
#define EV_MAX_QUEUED 128

struct conn {
	struct conn *next, *prev;
	qb_ipcs_connection_t *c;
	pid_t pid;
	uid_t uid;
	struct feed_sub sub;
};

struct ipcs {
	struct ipcs_opts o;
	char name[64], nodename[64];
	qb_loop_t *loop;
	qb_ipcs_service_t *svc;
	pthread_t thread;
	bool thread_started;
	int efd;
	volatile int stopping;
	struct conn *conns;
	bool retry_armed, job_queued;
	qb_loop_timer_handle retry_timer;
	votequorum_handle_t vq;
	bool vq_open;
	unsigned char *reply, *event; /* IPC_MAX_MSG each: the loop thread's buffers */
};

/* libqb's poll handler hooks carry no context: one server per process */
static struct ipcs *g_srv;

static int32_t h_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
                              qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(g_srv->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
                              qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(g_srv->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(g_srv->loop, fd);
}

static int32_t h_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(g_srv->loop, p, data, fn);
}

/* ---- access ---- */

/* Is gid among pid's supplementary groups? */
static bool in_groups(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			found |= (gid_t)g == gid;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static pid_t client_pid(qb_ipcs_connection_t *c)
{
	struct qb_ipcs_connection_stats_2 *st = qb_ipcs_connection_stats_get_2(c, 0);
	pid_t pid = st ? st->client_pid : 0;
	free(st);
	return pid;
}

static int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	struct ipcs *s = g_srv;
	bool ok = uid == 0;

	if (!ok && s->o.allow_gid != (gid_t)-1)
		ok = gid == s->o.allow_gid || in_groups(client_pid(c), s->o.allow_gid);
	if (!ok) {
		log_printf(LOG_NOTICE,
		           "IPC: refused a client (uid %u, gid %u, pid %d): not allowed",
		           (unsigned)uid, (unsigned)gid, (int)client_pid(c));
		return -EACCES;
	}
	/* the shared memory files must be usable by the client */
	qb_ipcs_connection_auth_set(c, uid, gid, 0600);
	return 0;
}

static void on_created(qb_ipcs_connection_t *c)
{
	struct ipcs *s = g_srv;
	struct conn *cn = calloc(1, sizeof(*cn));
	if (!cn) {
		log_printf(LOG_ERR, "IPC: out of memory for a new client");
		qb_ipcs_disconnect(c);
		return;
	}
	cn->c = c;
	cn->pid = client_pid(c);
	cn->next = s->conns;
	if (s->conns)
		s->conns->prev = cn;
	s->conns = cn;
	qb_ipcs_context_set(c, cn);
}

static int32_t on_closed(qb_ipcs_connection_t *c)
{
	(void)c;
	return 0;
}

static void on_destroyed(qb_ipcs_connection_t *c)
{
	struct ipcs *s = g_srv;
	struct conn *cn = qb_ipcs_context_get(c);
	if (!cn)
		return;
	qb_ipcs_context_set(c, NULL);
	feed_unsubscribe(s->o.feed, &cn->sub);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		s->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	free(cn);
}

/* ---- events ---- */

struct ev_ctx {
	struct ipc_wr w;
	uint32_t n;
};

static bool emit_change(void *ctx, const struct ipc_change *c)
{
	struct ev_ctx *e = ctx;
	size_t need = 8 + 8 + 1 + 4 + strlen(c->path) + 1 + 4 + strlen(c->path2) + 1;
	if (e->n >= EV_MAX_CHANGES || (e->n && e->w.len + need > EV_MAX_BYTES))
		return false;
	ipc_put_change(&e->w, c);
	if (e->w.overflow)
		return false;
	e->n++;
	return true;
}

static ssize_t send_event(struct conn *cn, int32_t type, const void *msg, size_t len)
{
	struct qb_ipc_response_header h = { .id = type,
		                            .size = (int32_t)(sizeof(h) + len),
		                            .error = 0 };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)msg, len } };
	return qb_ipcs_event_sendv(cn->c, iov, 2);
}

static void arm_retry(struct ipcs *s);

/* Event messages sent to cn and not read yet. */
static uint32_t queued(struct conn *cn)
{
	struct qb_ipcs_connection_stats_2 *st = qb_ipcs_connection_stats_get_2(cn->c, 0);
	uint32_t n = st ? st->event_q_length : 0;
	free(st);
	return n;
}

enum pump { PUMP_DONE, PUMP_MORE, PUMP_BLOCKED };

/* Send what is waiting for cn, as far as its queue takes it. */
static enum pump pump_conn(struct ipcs *s, struct conn *cn)
{
	for (int i = 0; i < PUMP_MSGS && cn->sub.active; i++) {
		if (queued(cn) >= EV_MAX_QUEUED)
			return PUMP_BLOCKED;
		struct ev_ctx e = { .n = 0 };
		uint8_t resync = 0;
		uint64_t saved = cn->sub.next_seq;

		ipc_wr_init(&e.w, s->event, IPC_MAX_MSG, IPC_EV_CHANGES, 0, 0);
		ipc_put_u32(&e.w, 0);
		feed_take(s->o.feed, &cn->sub, emit_change, &e, &resync);
		if (resync) {
			uint64_t v, floor, events;
			feed_stats(s->o.feed, &v, &floor, &events);
			ipc_wr_init(&e.w, s->event, IPC_MAX_MSG, IPC_EV_RESYNC, 0, 0);
			ipc_put_u64(&e.w, v);
			ipc_put_u8(&e.w, resync);
		} else if (e.n == 0) {
			return PUMP_DONE; /* nothing (more) for this client */
		} else {
			ipc_patch_u32(&e.w, IPC_HEADER_SIZE, e.n);
		}
		size_t len = ipc_wr_finish(&e.w);
		ssize_t r = send_event(cn, resync ? IPC_EV_RESYNC : IPC_EV_CHANGES, s->event, len);
		if (r == -EAGAIN || r == -ENOBUFS) {
			cn->sub.next_seq = saved; /* offered again when it has room */
			return PUMP_BLOCKED;
		}
		if (r < 0) {
			log_printf(LOG_NOTICE,
			           "IPC: cannot send events to pid %d (%s); disconnecting",
			           (int)cn->pid, strerror((int)-r));
			feed_unsubscribe(s->o.feed, &cn->sub);
			qb_ipcs_disconnect(cn->c);
			return PUMP_DONE;
		}
		if (resync) {
			log_printf(LOG_INFO, "IPC: watch of pid %d ended: resync needed (%s)",
			           (int)cn->pid, ipc_resync_reason_name(resync));
			feed_unsubscribe(s->o.feed, &cn->sub);
			return PUMP_DONE;
		}
	}
	return cn->sub.active && feed_pending(s->o.feed, &cn->sub) ? PUMP_MORE : PUMP_DONE;
}

static void on_job(void *data);

static void pump_all(struct ipcs *s)
{
	bool more = false, blocked = false;
	for (struct conn *cn = s->conns, *next; cn; cn = next) {
		next = cn->next; /* a disconnect may free cn later, never now */
		enum pump p = pump_conn(s, cn);
		more |= p == PUMP_MORE;
		blocked |= p == PUMP_BLOCKED;
	}
	/* more than one round's worth: go on after other work; a full queue: later */
	if (more && !s->job_queued && qb_loop_job_add(s->loop, QB_LOOP_LOW, s, on_job) == 0)
		s->job_queued = true;
	if (blocked)
		arm_retry(s);
}

static void on_job(void *data)
{
	struct ipcs *s = data;
	s->job_queued = false;
	pump_all(s);
}

static void on_retry(void *data)
{
	struct ipcs *s = data;
	s->retry_armed = false;
	pump_all(s);
}

static void arm_retry(struct ipcs *s)
{
	if (s->retry_armed)
		return;
	if (qb_loop_timer_add(s->loop, QB_LOOP_MED, RETRY_NS, s, on_retry, &s->retry_timer) == 0)
		s->retry_armed = true;
}

static int32_t on_wake(int32_t fd, int32_t revents, void *data)
{
	struct ipcs *s = data;
	uint64_t v;
	(void)revents;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_printf(LOG_ERR, "IPC: reading the wake-up counter: %s", strerror(errno));
	if (s->stopping) {
		qb_loop_stop(s->loop);
		return 0;
	}
	pump_all(s);
	return 0;
}

static void feed_notify(void *ctx)
{
	struct ipcs *s = ctx;
	uint64_t one = 1;
	if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_printf(LOG_ERR, "IPC: waking the IPC thread: %s", strerror(errno));
}

/* ---- requests ---- */

static void vq_close(struct ipcs *s)
{
	if (s->vq_open)
		votequorum_finalize(s->vq);
	s->vq_open = false;
}

static bool vq_info(struct ipcs *s, uint32_t nodeid, struct votequorum_info *info)
{
	if (!s->vq_open && votequorum_initialize(&s->vq, NULL) == CS_OK)
		s->vq_open = true;
	if (!s->vq_open || nodeid == 0)
		return false;
	cs_error_t err = votequorum_getinfo(s->vq, nodeid, info);
	if (err == CS_OK)
		return true;
	if (err != CS_ERR_NOT_EXIST)
		vq_close(s); /* corosync restarted: reconnect next time */
	return false;
}

static void do_status(struct ipcs *s, struct ipc_wr *w)
{
	struct ipc_status st = { .local_name = s->nodename };
	struct cluster_status *cs = NULL;
	struct votequorum_info vi;

	st.db_version = memdb_version(s->o.mdb);
	if (s->o.cluster && (cs = calloc(1, sizeof(*cs)))) {
		cluster_status(s->o.cluster, cs);
		st.cluster_name = cs->cluster_name;
		st.local_id = cs->local_id;
		st.flags = IPC_STATUS_F_CLUSTER | (cs->connected ? IPC_STATUS_F_CONNECTED : 0) |
		    (cs->quorate ? IPC_STATUS_F_QUORATE : 0) |
		    (cs->writable ? IPC_STATUS_F_WRITABLE : 0);
		st.sync = (uint8_t)cs->sync;
		st.membership_version = cs->membership_version;
		st.nnodes = (uint32_t)cs->nnodes;
		if (cs->connected && vq_info(s, cs->local_id, &vi)) {
			st.expected_votes = vi.node_expected_votes;
			st.total_votes = vi.total_votes;
			st.quorum = vi.quorum;
		}
	} else {
		st.cluster_name = s->nodename;
		st.flags = IPC_STATUS_F_QUORATE | IPC_STATUS_F_WRITABLE;
		st.sync = IPC_SYNC_SYNCED;
		st.expected_votes = st.total_votes = st.quorum = 1;
		st.nnodes = 1;
	}
	ipc_put_status(w, &st);
	if (!cs) {
		struct ipc_node n = {
			.id = 0, .votes = 1, .online = 1, .name = s->nodename, .addr = ""
		};
		ipc_put_node(w, &n);
		return;
	}
	for (size_t i = 0; i < cs->nnodes; i++) {
		const struct cluster_node *cn = &cs->nodes[i];
		struct ipc_node n = {
			.id = cn->id, .online = cn->online, .name = cn->name, .addr = cn->addr
		};
		if (cn->online && vq_info(s, cn->id, &vi))
			n.votes = vi.node_votes;
		ipc_put_node(w, &n);
	}
	free(cs);
}

struct list_ctx {
	struct memdb *mdb;
	const char *prefix;
	size_t prefix_len;
	struct ipc_entry *ents;
	size_t n, cap;
	int err;
};

static int list_row(void *ctx, const struct memdb_row *r)
{
	struct list_ctx *l = ctx;
	char path[4096];

	if (r->inode == MEMDB_ROOT_INODE)
		return 0;
	memdb_path_locked(l->mdb, r->inode, path, sizeof(path));
	if (strncmp(path + 1, l->prefix, l->prefix_len) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct ipc_entry *e = realloc(l->ents, cap * sizeof(*e));
		if (!e) {
			l->err = -ENOMEM;
			return -ENOMEM;
		}
		l->ents = e;
		l->cap = cap;
	}
	char *p = strdup(path + 1);
	if (!p) {
		l->err = -ENOMEM;
		return -ENOMEM;
	}
	l->ents[l->n++] = (struct ipc_entry){ .type = r->type,
		                              .version = r->version,
		                              .mtime = r->mtime,
		                              .size = r->size,
		                              .path = p };
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct ipc_entry *)a)->path, ((const struct ipc_entry *)b)->path);
}

static int do_list(struct ipcs *s, const struct ipc_list_req *req, struct ipc_wr *w)
{
	struct list_ctx l = { .mdb = s->o.mdb, .prefix = req->prefix };
	uint64_t version;

	l.prefix_len = strlen(req->prefix);
	memdb_rdlock(s->o.mdb);
	version = memdb_version_locked(s->o.mdb);
	memdb_foreach_row(s->o.mdb, list_row, &l);
	/*
	 * The version a watch continues from: in cluster mode the newest change
	 * watchers may see (the listing may show newer ones; their events come
	 * once released, so a reader acting on them finds the new files).
	 */
	if (s->o.feed) {
		uint64_t vis = feed_visible(s->o.feed);
		if (vis < version)
			version = vis;
	}
	memdb_unlock(s->o.mdb);
	if (!l.err) {
		qsort(l.ents, l.n, sizeof(*l.ents), cmp_entry);
		ipc_put_u64(w, version);
		size_t more_at = w->len;
		ipc_put_u8(w, 0);
		size_t count_at = w->len;
		ipc_put_u32(w, 0);
		uint32_t count = 0;
		/* leave room for the reply header; what does not fit is the next page */
		size_t limit = IPC_MAX_MSG - 4096;
		for (size_t i = 0; i < l.n; i++) {
			if (req->after[0] && strcmp(l.ents[i].path, req->after) <= 0)
				continue;
			if (w->len + 40 + strlen(l.ents[i].path) > limit) {
				w->buf[more_at] = 1;
				break;
			}
			ipc_put_entry(w, &l.ents[i]);
			count++;
		}
		ipc_patch_u32(w, count_at, count);
	}
	for (size_t i = 0; i < l.n; i++)
		free((char *)l.ents[i].path);
	free(l.ents);
	return l.err;
}

struct log_ctx {
	struct ipc_wr *w;
	uint32_t n;
};

static void put_log_entry(void *ctx, const struct ipc_log_entry *e)
{
	struct log_ctx *l = ctx;
	ipc_put_log_entry(l->w, e);
	l->n++;
}

/* A prefix is a relative path: no leading '/', no NUL (checked by the decoder). */
static bool valid_prefix(const char *p)
{
	return p[0] != '/' && strlen(p) < 4096;
}

/* Handle one decoded request; its reply body goes to w.  Returns the reply's error. */
static int handle_request(struct ipcs *s, struct conn *cn, const struct ipc_msg *m,
                          struct ipc_wr *w, bool *garbage)
{
	struct ipc_rd r;
	ipc_rd_init(&r, m);

	switch (m->type) {
	case IPC_REQ_STATUS:
		if (ipc_rd_end(&r, true))
			break;
		do_status(s, w);
		return 0;
	case IPC_REQ_WATCH: {
		struct ipc_watch_req req;
		uint64_t v;
		if (ipc_watch_req_decode(m, &req))
			break;
		if (!valid_prefix(req.prefix))
			return -EINVAL;
		int err = feed_subscribe(s->o.feed, &cn->sub, req.prefix, req.from,
		                         req.flags & IPC_WATCH_FROM_NOW, &v);
		if (err)
			return err;
		ipc_put_u64(w, v);
		if (!s->job_queued && qb_loop_job_add(s->loop, QB_LOOP_LOW, s, on_job) == 0)
			s->job_queued = true; /* the replay (or the resync) follows the reply */
		return 0;
	}
	case IPC_REQ_UNWATCH:
		if (ipc_rd_end(&r, true))
			break;
		feed_unsubscribe(s->o.feed, &cn->sub);
		return 0;
	case IPC_REQ_LIST: {
		struct ipc_list_req req;
		if (ipc_list_req_decode(m, &req))
			break;
		if (!valid_prefix(req.prefix))
			return -EINVAL;
		return do_list(s, &req, w);
	}
	case IPC_REQ_LOG_APPEND: {
		uint8_t pri = ipc_get_u8(&r);
		const char *tag = ipc_get_str(&r), *user = ipc_get_str(&r), *msg = ipc_get_str(&r);
		if (ipc_rd_end(&r, true))
			break;
		if (pri > 7 || !tag[0] || !msg[0])
			return -EINVAL;
		if (s->o.cluster)
			cluster_log(s->o.cluster, user[0] ? user : "root@pam", tag, pri,
			            (uint32_t)cn->pid, (int64_t)time(NULL), msg);
		else
			clusterlog_add(s->o.clog, s->nodename, user[0] ? user : "root@pam", tag,
			               pri, (uint32_t)cn->pid, (int64_t)time(NULL), msg, NULL);
		return 0;
	}
	case IPC_REQ_LOG_READ: {
		uint32_t max = ipc_get_u32(&r);
		if (ipc_rd_end(&r, true))
			break;
		if (max > CLUSTERLOG_MAX)
			max = CLUSTERLOG_MAX;
		struct log_ctx l = { .w = w, .n = 0 };
		size_t count_at = w->len;
		ipc_put_u32(w, 0);
		clusterlog_foreach(s->o.clog, max, put_log_entry, &l);
		ipc_patch_u32(w, count_at, l.n);
		return w->overflow ? -EMSGSIZE : 0;
	}
	default:
		break;
	}
	*garbage = true;
	return -EBADMSG;
}

static void send_reply(struct conn *cn, const void *msg, size_t len)
{
	struct qb_ipc_response_header h = { .id = IPC_REPLY,
		                            .size = (int32_t)(sizeof(h) + len),
		                            .error = 0 };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)msg, len } };
	ssize_t r = qb_ipcs_response_sendv(cn->c, iov, 2);
	if (r < 0)
		log_printf(LOG_NOTICE, "IPC: cannot reply to pid %d: %s", (int)cn->pid,
		           strerror((int)-r));
}

static void on_kick(void *data)
{
	qb_ipcs_connection_t *c = data;
	qb_ipcs_disconnect(c);
	qb_ipcs_connection_unref(c);
}

/*
 * A client that sent garbage: tell it (EBADMSG), then disconnect it once
 * libqb is done with the message being processed.
 */
static void kick(struct ipcs *s, struct conn *cn, uint32_t seq, const char *why)
{
	struct ipc_wr w;
	log_printf(LOG_WARNING, "IPC: pid %d sent %s; disconnecting it", (int)cn->pid, why);
	feed_unsubscribe(s->o.feed, &cn->sub);
	ipc_wr_init(&w, s->reply, IPC_MAX_MSG, IPC_REPLY, seq, -EBADMSG);
	send_reply(cn, s->reply, ipc_wr_finish(&w));
	qb_ipcs_connection_ref(cn->c);
	if (qb_loop_job_add(s->loop, QB_LOOP_HIGH, cn->c, on_kick) != 0)
		on_kick(cn->c);
}

static int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct ipcs *s = g_srv;
	struct conn *cn = qb_ipcs_context_get(c);
	const size_t qh = sizeof(struct qb_ipc_request_header);
	struct ipc_msg m;
	struct ipc_wr w;
	bool garbage = false;
	char why[128];
	int err;

	if (!cn)
		return 0;
	err = size < qh ? -EBADMSG : ipc_msg_decode((const char *)data + qh, size - qh, &m);
	if (err) {
		snprintf(why, sizeof(why), "a malformed request (%zu bytes: %s)", size,
		         err == -EPROTO ? "unknown format version or type; a newer client?"
		                        : "bad envelope, length or checksum");
		kick(s, cn, 0, why);
		return 0;
	}
	ipc_wr_init(&w, s->reply, IPC_MAX_MSG, IPC_REPLY, m.seq, 0);
	err = handle_request(s, cn, &m, &w, &garbage);
	if (garbage) {
		snprintf(why, sizeof(why), "a bad %s request (wrong type or body)",
		         ipc_type_name(m.type));
		kick(s, cn, m.seq, why);
		return 0;
	}
	if (err) /* the reply carries only the error */
		ipc_wr_init(&w, s->reply, IPC_MAX_MSG, IPC_REPLY, m.seq, err);
	send_reply(cn, s->reply, ipc_wr_finish(&w));
	return 0;
}

static void *ipcs_thread(void *arg)
{
	struct ipcs *s = arg;
	qb_loop_run(s->loop);
	return NULL;
}

int ipcs_new(const struct ipcs_opts *o, struct ipcs **out)
{
	static struct qb_ipcs_service_handlers handlers = {
		.connection_accept = on_accept,
		.connection_created = on_created,
		.msg_process = on_msg,
		.connection_closed = on_closed,
		.connection_destroyed = on_destroyed,
	};
	static struct qb_ipcs_poll_handlers poll_handlers = {
		.job_add = h_job_add,
		.dispatch_add = h_dispatch_add,
		.dispatch_mod = h_dispatch_mod,
		.dispatch_del = h_dispatch_del,
	};
	int err;

	if (g_srv)
		return -EBUSY;
	struct ipcs *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	snprintf(s->name, sizeof(s->name), "%s", o->name ? o->name : IPC_DEFAULT_NAME);
	snprintf(s->nodename, sizeof(s->nodename), "%s", o->nodename);
	s->o.name = s->name;
	s->o.nodename = s->nodename;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->reply = malloc(IPC_MAX_MSG);
	s->event = malloc(IPC_MAX_MSG);
	s->loop = qb_loop_create();
	if (s->efd < 0 || !s->reply || !s->event || !s->loop) {
		err = -ENOMEM;
		goto fail;
	}
	g_srv = s;
	s->svc = qb_ipcs_create(s->name, 0, QB_IPC_SHM, &handlers);
	if (!s->svc) {
		err = -errno ? -errno : -EINVAL;
		goto fail;
	}
	qb_ipcs_poll_handlers_set(s->svc, &poll_handlers);
	qb_ipcs_enforce_buffer_size(s->svc, IPC_MAX_MSG + 256);
	if ((err = qb_ipcs_run(s->svc)) != 0) {
		s->svc = NULL; /* libqb released the service itself */
		goto fail;
	}
	qb_loop_poll_add(s->loop, QB_LOOP_HIGH, s->efd, POLLIN, s, on_wake);
	feed_set_notify(o->feed, feed_notify, s);
	*out = s;
	return 0;
fail:
	if (s->loop)
		qb_loop_destroy(s->loop);
	if (s->efd >= 0)
		close(s->efd);
	free(s->reply);
	free(s->event);
	free(s);
	g_srv = NULL;
	return err;
}

int ipcs_start(struct ipcs *s)
{
	int err = pthread_create(&s->thread, NULL, ipcs_thread, s);
	if (err)
		return -err;
	s->thread_started = true;
	return 0;
}

void ipcs_stop(struct ipcs *s)
{
	if (!s)
		return;
	feed_set_notify(s->o.feed, NULL, NULL);
	if (s->thread_started) {
		s->stopping = 1;
		feed_notify(s);
		pthread_join(s->thread, NULL);
	}
	/* the loop thread is gone: this thread may now use libqb's loop */
	qb_ipcs_destroy(s->svc);
	if (s->retry_armed)
		qb_loop_timer_del(s->loop, s->retry_timer);
	if (s->job_queued)
		qb_loop_job_del(s->loop, QB_LOOP_LOW, s, on_job);
	qb_loop_poll_del(s->loop, s->efd);
	qb_loop_destroy(s->loop);
	vq_close(s);
	while (s->conns) {
		struct conn *cn = s->conns;
		s->conns = cn->next;
		feed_unsubscribe(s->o.feed, &cn->sub);
		free(cn);
	}
	close(s->efd);
	free(s->reply);
	free(s->event);
	free(s);
	g_srv = NULL;
}
