/*
 * cluster.c - corosync transport, quorum, sync and verification; see
 * cluster.h and doc/replication.md.
 *
 * One thread (the cluster thread) owns the corosync handles' dispatch and
 * everything delivered: it applies ops in delivery order (group commit: the
 * ops of one dispatch, up to a bound, go into one transaction), runs the
 * sync protocol and the verification rounds.  Proposers (FUSE threads) only
 * send (under send_lock) and wait for their own op's verdict.
 *
 * Sync round, the same on every member because every step is taken at a
 * delivery, and deliveries are totally ordered:
 *   confchg (or RESYNC, or a verification mismatch) -> round R: every member
 *   multicasts SUMMARY(R, version, checksum, flags).  When the last summary
 *   of R is delivered, every member picks the same source: primary (was in
 *   the quorate synced group) first, then the highest version, then the
 *   (version, checksum) most members share, then the lowest node id.  If all
 *   members match the source, R ends there.  Otherwise the source multicasts
 *   STATE(R) (its whole tree, fragmented), and R ends at its delivery:
 *   members that differ adopt it (a diverged copy is backed up first).
 *   Ops delivered during R are applied after R ends, in delivery order; ops
 *   delivered in a round that never ended are dropped everywhere, so their
 *   proposers send them again (within the sync wait; then EAGAIN).
 *
 * Lock order: cl->lock, then nothing (memdb and dfsm calls are made without
 * it); send_lock is taken alone.
 */
#define LOG_SUBSYS "cluster"
#include "pmxcfs/cluster.h"
#include "pmxcfs/clusterlog.h"
#include "pmxcfs/log.h"
#include "proto/cfs_msg.h"
#include "proto/le.h"

#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CL_GROUP "pmxcfs"
#define CL_MAX_MEMBERS CLUSTER_MAX_NODES
#define CL_CHUNK (512u * 1024) /* bytes of a whole message per FRAG */
#define CL_BATCH_MAX_OPS 256
#define CL_BATCH_MAX_BYTES (8u * 1024 * 1024)
#define CL_WAIT_LOG_SECS 5
#define CL_WAIT_GIVEUP_SECS 120
#define CL_SEND_RETRY_SECS 30
#define CL_DIFF_LOG_MAX 50
#define CL_MAX_REASSEMBLIES 2 /* per sender at once */
#define CL_ROUND_STALL_SECS 30 /* a round with no progress this long is restarted */

enum cl_state { ST_DISCONNECTED, ST_SYNCING, ST_SYNCED };

#define SUMMARY_F_QUORATE 0x2u /* the sender's partition was quorate when it sent it */

struct member {
	uint32_t nodeid, pid;
	bool have_summary;
	struct cfs_msg_summary s;
	bool have_reply;
	uint64_t v_version, v_checksum;
};

/* A delivered op waiting to be applied. */
struct pitem {
	struct dfsm_item it;
	struct pitem *nextp;
	uint32_t nodeid, pid;
	uint64_t id;
	unsigned char data[];
};

/* A proposer waiting for its own op. */
struct pending {
	struct pending *next;
	uint64_t id;
	bool done;
	int status;
	struct memdb_result res;
};

/* A message being reassembled from FRAGs of one sender. */
struct frag {
	struct frag *next;
	uint32_t nodeid, pid;
	uint64_t id;
	uint32_t count, next_index, whole_len, off;
	size_t cap;
	unsigned char *buf;
};

struct nodeinfo {
	uint32_t id;
	char name[64];
	char addr[64];
};

struct pqueue {
	struct pitem *head, *tail;
	size_t n, bytes;
};

struct cluster {
	struct dfsm *dfsm;
	struct memdb *mdb;
	struct cluster_opts o;
	char nodename[64];
	char dbpath[PATH_MAX];
	struct cluster_hooks hooks;
	struct clusterlog *clog; /* replicated when set */

	pthread_t thread;
	bool thread_started;
	int wake[2];
	volatile int verify_req;

	/* corosync handles: opened and dispatched by the cluster thread */
	cpg_handle_t cpg;
	quorum_handle_t qh;
	bool connected;
	uint64_t conn_gen; /* +1 per connection (under send_lock) */
	pthread_mutex_t send_lock;

	/* the cluster thread's outgoing messages (sender_thread) */
	pthread_t sender;
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond;
	struct outmsg *out_head, **out_tail;
	bool out_stop;

	/* shared, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum cl_state state;
	bool quorate; /* corosync's view, from the quorum service */
	bool group_writable; /* the group was quorate at its last sync */
	bool primary;
	bool stopping;
	uint32_t my_nodeid, my_pid;
	uint64_t next_id;
	struct pending *pending;
	struct member members[CL_MAX_MEMBERS];
	size_t nmembers;
	uint64_t membership_version;
	struct nodeinfo nodes[CL_MAX_MEMBERS];
	size_t nnodes;
	char cluster_name[64];
	uint32_t online[CL_MAX_MEMBERS];
	size_t nonline;
	unsigned long syncs, verifications, mismatches;

	/* cluster thread only */
	uint64_t round_base, round, resyncs;
	struct timespec round_t0; /* when the current round began */
	int source; /* index in members of the round's source, -1 before */
	struct pqueue batch, syncq;
	struct frag *frags;
	bool verify_active;
	uint64_t verify_key;
	struct timespec verify_t0;
	bool out_of_step; /* this node could not follow the stream: resync pending */
	bool fatal; /* the store is unusable: stay out of the group */
	struct timespec round_progress; /* last delivery that moved the round on */
	struct timespec last_watchdog;
	struct timespec next_verify;
	unsigned long bad_msgs;
	bool resync_sent;
};

struct outmsg;
static void fall_out_of_step(struct cluster *cl, const char *why);
static void handle_msg(struct cluster *cl, uint32_t nodeid, uint32_t pid, const void *buf,
                       size_t len, bool top);

/* ---- helpers ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void deadline_in(struct timespec *ts, long secs)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += secs;
}

static bool is_me(const struct cluster *cl, uint32_t nodeid, uint32_t pid)
{
	return nodeid == cl->my_nodeid && pid == cl->my_pid;
}

static int member_index(const struct cluster *cl, uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < cl->nmembers; i++)
		if (cl->members[i].nodeid == nodeid && cl->members[i].pid == pid)
			return (int)i;
	return -1;
}

static const char *node_name(const struct cluster *cl, uint32_t nodeid, char *buf, size_t len)
{
	for (size_t i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i].id == nodeid) {
			snprintf(buf, len, "%s", cl->nodes[i].name);
			return buf;
		}
	snprintf(buf, len, "node id %u", nodeid);
	return buf;
}

static void pq_push(struct pqueue *q, struct pitem *p)
{
	p->nextp = NULL;
	if (q->tail)
		q->tail->nextp = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
	q->bytes += p->it.len;
}

/* Fail the proposer of p (if it is ours) with err. */
static void finish_pending(struct cluster *cl, uint64_t id, int status,
                           const struct memdb_result *res)
{
	for (struct pending *w = cl->pending; w; w = w->next) {
		if (w->id != id)
			continue;
		w->done = true;
		w->status = status;
		if (res)
			w->res = *res;
		return;
	}
}

static void pq_drop(struct cluster *cl, struct pqueue *q, int err)
{
	pthread_mutex_lock(&cl->lock);
	for (struct pitem *p = q->head, *next; p; p = next) {
		next = p->nextp;
		if (is_me(cl, p->nodeid, p->pid))
			finish_pending(cl, p->id, err, NULL);
		free(p);
	}
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	memset(q, 0, sizeof(*q));
}

/* ---- sending ---- */

/* One multicast, retried while corosync applies flow control; send_lock per attempt. */
static int mcast(struct cluster *cl, const struct iovec *iov, unsigned n, uint64_t gen)
{
	struct timespec start, now;
	unsigned sleep_us = 100;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		cs_error_t rc;
		pthread_mutex_lock(&cl->send_lock);
		/* never on a later connection than the one the message was made for */
		if (!__atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE) || cl->conn_gen != gen)
			rc = CS_ERR_LIBRARY;
		else
			rc = cpg_mcast_joined(cl->cpg, CPG_TYPE_AGREED, iov, n);
		pthread_mutex_unlock(&cl->send_lock);
		if (rc == CS_OK)
			return 0;
		if (rc == CS_ERR_LIBRARY || rc == CS_ERR_BAD_HANDLE) {
			/* corosync is gone (the thread notices and reconnects) */
			log_printf(LOG_WARNING, "cannot send: not connected to corosync");
			return -ENOTCONN;
		}
		if (rc != CS_ERR_TRY_AGAIN) {
			log_printf(LOG_ERR, "cpg_mcast_joined failed: error %d", rc);
			return -EIO;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= CL_SEND_RETRY_SECS) {
			log_printf(LOG_ERR, "corosync refused a message for %d s (flow control)",
			           CL_SEND_RETRY_SECS);
			return -EIO;
		}
		usleep(sleep_us);
		if (sleep_us < 10000)
			sleep_us *= 2;
	}
}

/*
 * Send a whole envelope (already sealed); fragments it when it is larger
 * than one chunk.  The fragments of different messages may interleave: the
 * receivers reassemble per (sender, id).  Caller must not hold cl->lock.
 */
static int send_sealed(struct cluster *cl, const unsigned char *whole, size_t len, uint64_t id,
                       uint64_t gen)
{
	if (len <= CL_CHUNK) {
		struct iovec iov = { (void *)whole, len };
		return mcast(cl, &iov, 1, gen);
	}
	uint32_t count = (uint32_t)((len + CL_CHUNK - 1) / CL_CHUNK);
	unsigned char hdr[CFS_MSG_HEADER_SIZE + CFS_MSG_FRAG_HEADER];
	int err = 0;
	for (uint32_t i = 0; !err && i < count; i++) {
		size_t off = (size_t)i * CL_CHUNK;
		size_t n = len - off < CL_CHUNK ? len - off : CL_CHUNK;
		unsigned char *b = hdr + CFS_MSG_HEADER_SIZE;
		le_put32(b, i);
		le_put32(b + 4, count);
		le_put32(b + 8, (uint32_t)len);
		/* the envelope's crc covers the chunk: seal a header + chunk copy */
		unsigned char *buf = malloc(sizeof(hdr) + n);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, hdr, sizeof(hdr));
		memcpy(buf + sizeof(hdr), whole + off, n);
		size_t total = cfs_msg_seal(buf, CFS_MSG_FRAG, id, CFS_MSG_FRAG_HEADER + n);
		struct iovec iov = { buf, total };
		err = mcast(cl, &iov, 1, gen);
		free(buf);
	}
	return err;
}

/*
 * The cluster thread never sends itself: it must keep dispatching (corosync
 * stops reading a client's requests while that client's deliveries pile
 * up), so its messages go through the sender thread, in order.
 */
struct outmsg {
	struct outmsg *next;
	unsigned char *buf;
	size_t len;
	uint64_t id;
	uint64_t gen; /* the connection it belongs to */
};

static void queue_send(struct cluster *cl, unsigned char *buf, size_t len, uint64_t id)
{
	struct outmsg *m = malloc(sizeof(*m));
	if (!m) {
		log_printf(LOG_CRIT, "out of memory queueing a %zu byte message", len);
		free(buf);
		return;
	}
	m->next = NULL;
	m->buf = buf;
	m->len = len;
	m->id = id;
	m->gen = __atomic_load_n(&cl->conn_gen, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&cl->out_lock);
	*cl->out_tail = m;
	cl->out_tail = &m->next;
	pthread_cond_signal(&cl->out_cond);
	pthread_mutex_unlock(&cl->out_lock);
}

static void out_drop_all(struct cluster *cl)
{
	pthread_mutex_lock(&cl->out_lock);
	struct outmsg *m = cl->out_head;
	cl->out_head = NULL;
	cl->out_tail = &cl->out_head;
	pthread_mutex_unlock(&cl->out_lock);
	while (m) {
		struct outmsg *next = m->next;
		free(m->buf);
		free(m);
		m = next;
	}
}

static void *sender_thread(void *arg)
{
	struct cluster *cl = arg;

	pthread_mutex_lock(&cl->out_lock);
	for (;;) {
		while (!cl->out_head && !cl->out_stop)
			pthread_cond_wait(&cl->out_cond, &cl->out_lock);
		if (cl->out_stop)
			break;
		struct outmsg *m = cl->out_head;
		cl->out_head = m->next;
		if (!cl->out_head)
			cl->out_tail = &cl->out_head;
		pthread_mutex_unlock(&cl->out_lock);
		if (send_sealed(cl, m->buf, m->len, m->id, m->gen))
			log_printf(LOG_ERR, "cannot send a %zu byte %s message", m->len,
			           cfs_msg_type_name(le_get16(m->buf + 6)));
		free(m->buf);
		free(m);
		pthread_mutex_lock(&cl->out_lock);
	}
	pthread_mutex_unlock(&cl->out_lock);
	return NULL;
}

static uint64_t new_id(struct cluster *cl)
{
	return __atomic_add_fetch(&cl->next_id, 1, __ATOMIC_RELAXED);
}

/* A small message from the cluster thread: body of n u64 values. */
static int send_u64s(struct cluster *cl, uint16_t type, const uint64_t *v, unsigned n)
{
	unsigned char *buf = malloc(CFS_MSG_HEADER_SIZE + 8 * 8);
	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		le_put64(buf + CFS_MSG_HEADER_SIZE + 8 * i, v[i]);
	uint64_t id = new_id(cl);
	size_t len = cfs_msg_seal(buf, type, id, 8u * n);
	queue_send(cl, buf, len, id);
	return 0;
}

/* ---- the cluster log ---- */

/* Multicast a log blob (any thread); dropped while not connected. */
static void send_log_blob(struct cluster *cl, const void *blob, size_t len)
{
	if (!__atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE))
		return;
	unsigned char *buf = malloc(CFS_MSG_HEADER_SIZE + len);
	if (!buf)
		return;
	memcpy(buf + CFS_MSG_HEADER_SIZE, blob, len);
	uint64_t id = new_id(cl);
	queue_send(cl, buf, cfs_msg_seal(buf, CFS_MSG_LOG, id, len), id);
}

static void send_whole_log(struct cluster *cl)
{
	size_t cap = 4 + (size_t)CLUSTERLOG_MAX * 800;
	unsigned char *blob = malloc(cap);
	struct ipc_wr w;
	if (!blob)
		return;
	ipc_wr_init_raw(&w, blob, cap);
	clusterlog_encode(cl->clog, &w);
	if (!w.overflow)
		send_log_blob(cl, blob, w.len);
	free(blob);
}

void cluster_set_log(struct cluster *cl, struct clusterlog *clog)
{
	cl->clog = clog;
}

void cluster_log(struct cluster *cl, const char *user, const char *tag, int pri, uint32_t pid,
                 int64_t time, const char *msg)
{
	unsigned char blob[2048];
	struct ipc_wr w;

	ipc_wr_init_raw(&w, blob, sizeof(blob));
	clusterlog_add(cl->clog, cl->nodename, user, tag, pri, pid, time, msg, &w);
	if (!w.overflow)
		send_log_blob(cl, blob, w.len);
}

/* ---- proposing (FUSE threads) ---- */

static bool writable_locked(struct cluster *cl)
{
	/* a group that synced without quorum is made writable by a new round */
	return __atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE) && cl->quorate &&
	    cl->state == ST_SYNCED && cl->group_writable;
}

/*
 * One attempt: wait until writable (until sync_deadline), send, wait for the
 * verdict.  -ERESTART: the op was dropped before anybody applied it (a sync
 * round that never ended, a message cut by a membership change).
 */
static int propose_once(struct cluster *cl, const void *msg, size_t len, struct memdb_result *res,
                        const struct timespec *sync_deadline)
{
	struct pending w = { 0 };
	struct timespec start, deadline = *sync_deadline;
	int err;

	pthread_mutex_lock(&cl->lock);
	for (;;) {
		if (cl->stopping) {
			pthread_mutex_unlock(&cl->lock);
			return -ESHUTDOWN;
		}
		if (!__atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE) || !cl->quorate) {
			pthread_mutex_unlock(&cl->lock);
			return -EACCES; /* nothing sent */
		}
		if (writable_locked(cl))
			break;
		if (pthread_cond_timedwait(&cl->cond, &cl->lock, &deadline) == ETIMEDOUT &&
		    !writable_locked(cl)) {
			pthread_mutex_unlock(&cl->lock);
			log_printf(
			    LOG_WARNING,
			    "a write waited %u s for the cluster sync to end; refused (EAGAIN)",
			    cl->o.sync_wait_secs);
			return -EAGAIN;
		}
	}
	w.id = new_id(cl);
	w.next = cl->pending;
	cl->pending = &w;
	uint64_t gen = __atomic_load_n(&cl->conn_gen, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&cl->lock);

	unsigned char *buf = malloc(CFS_MSG_HEADER_SIZE + len);
	if (!buf) {
		err = -ENOMEM;
	} else {
		memcpy(buf + CFS_MSG_HEADER_SIZE, msg, len);
		size_t total = cfs_msg_seal(buf, CFS_MSG_OP, w.id, len);
		err = send_sealed(cl, buf, total, w.id, gen);
		free(buf);
	}

	pthread_mutex_lock(&cl->lock);
	if (!err && w.done)
		err = w.status; /* delivered already (0), or dropped (ERESTART) */
	if (err == -ENOTCONN)
		err = -EACCES; /* corosync is gone: not sent, no quorum to write with */
	clock_gettime(CLOCK_MONOTONIC, &start);
	deadline = start;
	deadline.tv_sec += CL_WAIT_LOG_SECS;
	while (!err && !w.done) {
		if (pthread_cond_timedwait(&cl->cond, &cl->lock, &deadline) != ETIMEDOUT || w.done)
			continue;
		long waited = deadline.tv_sec - start.tv_sec;
		log_printf(LOG_WARNING, "a write has waited %ld s for its delivery", waited);
		if (waited >= CL_WAIT_GIVEUP_SECS) {
			log_printf(LOG_ERR,
			           "giving up on a write after %ld s; its outcome will "
			           "only be in the log",
			           waited);
			err = -ETIMEDOUT;
			break;
		}
		deadline.tv_sec += CL_WAIT_LOG_SECS;
	}
	for (struct pending **pp = &cl->pending; *pp; pp = &(*pp)->next)
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	pthread_mutex_unlock(&cl->lock);
	if (err)
		return err;
	*res = w.res;
	return w.status;
}

static int cl_propose(void *ctx, const void *msg, size_t len, struct memdb_result *res)
{
	struct cluster *cl = ctx;
	struct timespec sync_deadline;
	int err;

	deadline_in(&sync_deadline, cl->o.sync_wait_secs);
	while ((err = propose_once(cl, msg, len, res, &sync_deadline)) == -ERESTART) {
		/* applied nowhere: send it again once the cluster is writable */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec >= sync_deadline.tv_sec) {
			log_printf(LOG_WARNING,
			           "a write was dropped by sync rounds for %u s; refused "
			           "(EAGAIN)",
			           cl->o.sync_wait_secs);
			return -EAGAIN;
		}
		log_printf(LOG_INFO,
		           "a write was dropped by a sync round before it was applied "
		           "anywhere; sending it again");
	}
	return err;
}

static bool cl_quorate(void *ctx)
{
	return cluster_quorate(ctx);
}

bool cluster_quorate(struct cluster *cl)
{
	pthread_mutex_lock(&cl->lock);
	bool q = __atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE) && cl->quorate;
	pthread_mutex_unlock(&cl->lock);
	return q;
}

bool cluster_wait_writable(struct cluster *cl, unsigned ms)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cl->lock);
	while (!(ok = writable_locked(cl)) && !cl->stopping)
		if (pthread_cond_timedwait(&cl->cond, &cl->lock, &deadline) == ETIMEDOUT)
			break;
	ok = writable_locked(cl);
	pthread_mutex_unlock(&cl->lock);
	return ok;
}

/* ---- applying delivered ops (cluster thread) ---- */

static void invalidate_op(struct cluster *cl, const struct cfs_op *op)
{
	const struct cluster_hooks *h = &cl->hooks;
	char name[CFS_OP_MAX_NAME + 1], newname[CFS_OP_MAX_NAME + 1];

	if (!h->inode)
		return;
	snprintf(name, sizeof(name), "%.*s", (int)op->name_len, op->name ? op->name : "");
	snprintf(newname, sizeof(newname), "%.*s", (int)op->newname_len,
	         op->newname ? op->newname : "");
	switch (op->type) {
	case CFS_OP_CREATE:
	case CFS_OP_MKDIR:
	case CFS_OP_UNLINK:
	case CFS_OP_RMDIR:
		h->entry(h->ctx, op->parent, name);
		h->inode(h->ctx, op->parent);
		break;
	case CFS_OP_RENAME:
		h->entry(h->ctx, op->parent, name);
		h->entry(h->ctx, op->newparent, newname);
		h->inode(h->ctx, op->parent);
		if (op->newparent != op->parent)
			h->inode(h->ctx, op->newparent);
		break;
	case CFS_OP_PUT:
	case CFS_OP_MTIME:
		h->inode(h->ctx, op->inode);
		break;
	default:
		break;
	}
}

/* Apply the batch of delivered ops in one transaction and hand out verdicts. */
static void flush_batch(struct cluster *cl)
{
	struct pitem *head = cl->batch.head;
	bool writable;

	if (!head)
		return;
	memset(&cl->batch, 0, sizeof(cl->batch));
	for (struct pitem *p = head; p; p = p->nextp)
		p->it.next = p->nextp ? &p->nextp->it : NULL;

	pthread_mutex_lock(&cl->lock);
	writable = cl->group_writable;
	pthread_mutex_unlock(&cl->lock);
	bool failed = false;
	if (writable) {
		failed = dfsm_apply(cl->dfsm, &head->it) != 0;
	} else {
		/* the group had no quorum at its sync: the same refusal everywhere */
		uint64_t v = memdb_version(cl->mdb);
		for (struct pitem *p = head; p; p = p->nextp) {
			p->it.status = 0;
			p->it.res.err = -EACCES;
			p->it.res.inode = 0;
			p->it.res.version = v;
		}
	}
	for (struct pitem *p = head; p; p = p->nextp) {
		struct cfs_op op;
		if (is_me(cl, p->nodeid, p->pid) || p->it.status || p->it.res.err)
			continue;
		if (cfs_op_decode(p->it.msg, p->it.len, &op) == 0)
			invalidate_op(cl, &op);
	}
	if (cl->hooks.settled)
		cl->hooks.settled(cl->hooks.ctx, memdb_version(cl->mdb));
	pthread_mutex_lock(&cl->lock);
	for (struct pitem *p = head, *next; p; p = next) {
		next = p->nextp;
		if (is_me(cl, p->nodeid, p->pid))
			finish_pending(cl, p->id, p->it.status, &p->it.res);
		free(p);
	}
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	if (failed)
		fall_out_of_step(cl, "a local commit failed (the others applied the batch)");
}

static void deliver_op(struct cluster *cl, uint32_t nodeid, uint32_t pid, uint64_t id,
                       const void *body, size_t len)
{
	struct pitem *p = malloc(sizeof(*p) + len);
	if (!p) {
		if (is_me(cl, nodeid, pid)) {
			pthread_mutex_lock(&cl->lock);
			finish_pending(cl, id, -EIO, NULL);
			pthread_cond_broadcast(&cl->cond);
			pthread_mutex_unlock(&cl->lock);
		}
		flush_batch(cl); /* what came before it is still applied */
		fall_out_of_step(cl, "out of memory for a delivered op");
		return;
	}
	memset(p, 0, sizeof(*p));
	memcpy(p->data, body, len);
	p->it.msg = p->data;
	p->it.len = len;
	p->nodeid = nodeid;
	p->pid = pid;
	p->id = id;
	if (cl->state == ST_SYNCED) {
		pq_push(&cl->batch, p);
		if (cl->batch.n >= CL_BATCH_MAX_OPS || cl->batch.bytes >= CL_BATCH_MAX_BYTES)
			flush_batch(cl);
	} else {
		pq_push(&cl->syncq, p);
	}
}

/* Ask every member for a new sync round (from the cluster thread). */
static void request_resync(struct cluster *cl, const char *why)
{
	uint64_t r = cl->round;
	log_printf(LOG_WARNING, "asking for a new sync round: %s", why);
	send_u64s(cl, CFS_MSG_RESYNC, &r, 1);
}

/*
 * This node cannot follow the op stream any more (a local commit failed,
 * memory ran out, a state could not be adopted): stop applying (ops are
 * queued as during a sync and dropped with EIO, their outcome unknown
 * here), and ask for a new round, in which this node adopts the others'
 * tree.  With a store that cannot even be reloaded, leave the group.
 */
static void fall_out_of_step(struct cluster *cl, const char *why)
{
	log_printf(LOG_CRIT, "this node is out of step with the cluster: %s", why);
	pthread_mutex_lock(&cl->lock);
	cl->out_of_step = true;
	cl->state = ST_SYNCING;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	if (dfsm_failed(cl->dfsm)) {
		log_printf(LOG_CRIT,
		           "the database cannot be reloaded: leaving the cluster until "
		           "pmxcfs is restarted");
		cl->fatal = true;
		return;
	}
	request_resync(cl, why);
}

/* ---- sync ---- */

static void begin_round(struct cluster *cl, uint64_t round)
{
	uint64_t version, inodes, checksum;
	int q = 0;
	unsigned char *buf = malloc(CFS_MSG_HEADER_SIZE + 36);

	flush_batch(cl);
	if (cl->syncq.head) {
		/*
		 * Ops of an unfinished round: nobody applied them (their proposers
		 * send them again: ERESTART), unless
		 * this node fell out of step while the others went on (EIO: the
		 * outcome is not known here).
		 */
		log_printf(LOG_NOTICE, "dropping %zu ops delivered during an unfinished sync",
		           cl->syncq.n);
		pq_drop(cl, &cl->syncq, cl->out_of_step ? -EIO : -ERESTART);
	}
	cl->out_of_step = false;
	clock_gettime(CLOCK_MONOTONIC, &cl->round_t0);
	cl->round_progress = cl->round_t0;
	pthread_mutex_lock(&cl->lock);
	cl->state = ST_SYNCING;
	cl->round = round;
	cl->source = -1;
	cl->verify_active = false;
	for (size_t i = 0; i < cl->nmembers; i++) {
		cl->members[i].have_summary = false;
		cl->members[i].have_reply = false;
	}
	bool primary = cl->primary;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);

	/* corosync's quorum now, not the (maybe not yet delivered) notification */
	if (quorum_getquorate(cl->qh, &q) != CS_OK)
		q = 0;
	checksum = memdb_checksum(cl->mdb, &version, &inodes);
	if (!buf) {
		log_printf(LOG_CRIT, "out of memory for the sync summary");
		return;
	}
	unsigned char *b = buf + CFS_MSG_HEADER_SIZE;
	le_put64(b, round);
	le_put64(b + 8, version);
	le_put64(b + 16, checksum);
	le_put64(b + 24, inodes);
	le_put32(b + 32, (primary ? CFS_SUMMARY_F_PRIMARY : 0) | (q ? SUMMARY_F_QUORATE : 0));
	uint64_t id = new_id(cl);
	size_t len = cfs_msg_seal(buf, CFS_MSG_SUMMARY, id, 36);
	log_printf(LOG_INFO, "sync round %016" PRIx64 ": %zu members, local version %" PRIu64,
	           round, cl->nmembers, version);
	queue_send(cl, buf, len, id);
}

/* Is a a better sync source than b?  The same answer on every member. */
static bool better_source(const struct cluster *cl, const struct member *a, const struct member *b)
{
	bool pa = a->s.flags & CFS_SUMMARY_F_PRIMARY, pb = b->s.flags & CFS_SUMMARY_F_PRIMARY;
	unsigned ca = 0, cb = 0;

	if (pa != pb)
		return pa;
	if (a->s.version != b->s.version)
		return a->s.version > b->s.version;
	for (size_t i = 0; i < cl->nmembers; i++) {
		const struct member *m = &cl->members[i];
		ca += m->s.version == a->s.version && m->s.checksum == a->s.checksum;
		cb += m->s.version == b->s.version && m->s.checksum == b->s.checksum;
	}
	if (ca != cb)
		return ca > cb;
	if (a->nodeid != b->nodeid)
		return a->nodeid < b->nodeid;
	return a->pid < b->pid;
}

static void sync_done(struct cluster *cl)
{
	const struct member *src = &cl->members[cl->source];
	bool writable = src->s.flags & SUMMARY_F_QUORATE;

	pthread_mutex_lock(&cl->lock);
	cl->state = ST_SYNCED;
	cl->group_writable = writable;
	cl->primary = writable && cl->quorate;
	cl->syncs++;
	pthread_mutex_unlock(&cl->lock);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_printf(LOG_NOTICE, "synced in %ld ms: %zu members, version %" PRIu64 ", %s",
	           (long)((now.tv_sec - cl->round_t0.tv_sec) * 1000 +
	                  (now.tv_nsec - cl->round_t0.tv_nsec) / 1000000),
	           cl->nmembers, memdb_version(cl->mdb),
	           writable ? "quorate" : "not quorate (read-only)");
	if (writable)
		dfsm_clear_local(cl->dfsm); /* the tree is the quorate group's now */
	/* the ops delivered during the round, in delivery order */
	cl->batch = cl->syncq;
	memset(&cl->syncq, 0, sizeof(cl->syncq));
	flush_batch(cl);
	pthread_mutex_lock(&cl->lock);
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	deadline_in(&cl->next_verify, cl->o.verify_secs);
	/* quorum came while the round ran: a new round makes the group writable */
	int q = 0;
	if (!writable && !cl->resync_sent && quorum_getquorate(cl->qh, &q) == CS_OK && q) {
		cl->resync_sent = true;
		request_resync(cl, "quorum arrived during the sync");
	}
}

struct state_buf {
	unsigned char *buf;
	size_t len, cap;
	uint32_t rows;
	int err;
};

static int state_add_row(void *ctx, const struct memdb_row *r)
{
	struct state_buf *sb = ctx;
	size_t need = CFS_MSG_ROW_FIXED + r->name_len + r->size;

	if (sb->len + need > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 65536;
		while (cap < sb->len + need)
			cap *= 2;
		unsigned char *n = realloc(sb->buf, cap);
		if (!n)
			return sb->err = -ENOMEM;
		sb->buf = n;
		sb->cap = cap;
	}
	unsigned char *p = sb->buf + sb->len;
	le_put64(p, r->inode);
	le_put64(p + 8, r->parent);
	le_put64(p + 16, r->version);
	le_put64(p + 24, (uint64_t)r->mtime);
	p[32] = r->type;
	le_put16(p + 33, (uint16_t)r->name_len);
	le_put32(p + 35, (uint32_t)r->size);
	memcpy(p + CFS_MSG_ROW_FIXED, r->name, r->name_len);
	if (r->size)
		memcpy(p + CFS_MSG_ROW_FIXED + r->name_len, r->data, r->size);
	sb->len += need;
	sb->rows++;
	return 0;
}

static void send_state(struct cluster *cl)
{
	struct state_buf sb = { 0 };
	uint64_t version, checksum;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* room for the envelope and the STATE header in front of the rows */
	sb.cap = 1u << 20;
	sb.buf = malloc(sb.cap);
	if (!sb.buf) {
		log_printf(LOG_CRIT, "out of memory for the sync state");
		return;
	}
	sb.len = CFS_MSG_HEADER_SIZE + 28;
	memdb_rdlock(cl->mdb);
	version = memdb_version_locked(cl->mdb);
	checksum = memdb_checksum_locked(cl->mdb);
	memdb_foreach_row(cl->mdb, state_add_row, &sb);
	memdb_unlock(cl->mdb);
	if (sb.err) {
		log_printf(LOG_CRIT, "out of memory for the sync state");
		free(sb.buf);
		return;
	}
	unsigned char *b = sb.buf + CFS_MSG_HEADER_SIZE;
	le_put64(b, cl->round);
	le_put64(b + 8, version);
	le_put64(b + 16, checksum);
	le_put32(b + 24, sb.rows);
	uint64_t id = new_id(cl);
	size_t len = cfs_msg_seal(sb.buf, CFS_MSG_STATE, id, sb.len - CFS_MSG_HEADER_SIZE);
	queue_send(cl, sb.buf, len, id);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_printf(LOG_NOTICE,
	           "sending the state (%u rows, %zu bytes, version %" PRIu64 "), built in %ld ms",
	           sb.rows, len, version,
	           (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
}

static void maybe_finish_summaries(struct cluster *cl)
{
	int best = -1;

	for (size_t i = 0; i < cl->nmembers; i++) {
		if (!cl->members[i].have_summary)
			return;
		if (best < 0 || better_source(cl, &cl->members[i], &cl->members[best]))
			best = (int)i;
	}
	if (best < 0)
		return;
	cl->source = best;
	const struct member *src = &cl->members[best];
	bool differ = false;
	for (size_t i = 0; i < cl->nmembers; i++)
		differ |= cl->members[i].s.version != src->s.version ||
		    cl->members[i].s.checksum != src->s.checksum;
	if (!differ) {
		sync_done(cl);
		return;
	}
	char nm[64];
	log_printf(LOG_NOTICE, "sync source is %s (version %" PRIu64 ")",
	           node_name(cl, src->nodeid, nm, sizeof(nm)), src->s.version);
	if (is_me(cl, src->nodeid, src->pid))
		send_state(cl);
}

struct diff_ctx {
	struct cluster *cl;
	struct memdb *fresh; /* rows by inode, not locked (private) */
	bool diverged;
	unsigned logged;
	bool log_paths;
	uint64_t local_since; /* database_local_since() */
};

/* Compare one row of the old tree with the fresh one (old tree read-locked). */
static int diff_old_row(void *ctx, const struct memdb_row *o)
{
	struct diff_ctx *dc = ctx;
	struct memdb_row f;
	char path[512];
	const char *what = NULL;

	/* written in local mode since the last cluster sync: a local edit */
	if (dc->local_since && o->version > dc->local_since)
		dc->diverged = true;

	if (memdb_row_locked(dc->fresh, o->inode, &f) != 0) {
		what = "removed";
	} else if (memdb_row_hash(o) != memdb_row_hash(&f)) {
		what = "changed";
		if (o->version > f.version ||
		    (o->version == f.version && memdb_row_hash(o) != memdb_row_hash(&f)))
			dc->diverged = true;
	}
	if (what && dc->log_paths && dc->logged++ < CL_DIFF_LOG_MAX) {
		memdb_path_locked(dc->cl->mdb, o->inode, path, sizeof(path));
		log_printf(LOG_WARNING, "sync: %s differs from the source (%s here)", path, what);
	}
	return 0;
}

struct inval_ctx {
	struct cluster *cl;
	struct memdb *a, *b; /* rows of a that b lacks or holds differently */
};

static int inval_row(void *ctx, const struct memdb_row *r)
{
	struct inval_ctx *ic = ctx;
	struct memdb_row o;
	char name[CFS_OP_MAX_NAME + 1];

	if (memdb_row_locked(ic->b, r->inode, &o) == 0 && memdb_row_hash(&o) == memdb_row_hash(r))
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)r->name_len, r->name);
	ic->cl->hooks.inode(ic->cl->hooks.ctx, r->inode);
	if (r->inode != MEMDB_ROOT_INODE)
		ic->cl->hooks.entry(ic->cl->hooks.ctx, r->parent, name);
	return 0;
}

/* Adopt the source's STATE: 0, or -errno when it was not adopted (logged). */
static int apply_state(struct cluster *cl, const struct cfs_msg_state *st, bool log_paths)
{
	struct memdb *fresh = memdb_new_empty();
	struct cfs_msg_row r;
	size_t off = 0;
	char err[256];
	int e = 0;

	if (!fresh) {
		log_printf(LOG_CRIT, "out of memory for the received state");
		return -ENOMEM;
	}
	while ((e = cfs_msg_row_next(st, &off, &r)) == 1) {
		struct memdb_row row = {
			.inode = r.inode,
			.parent = r.parent,
			.version = r.version,
			.mtime = r.mtime,
			.type = r.type,
			.name = r.name,
			.name_len = r.name_len,
			.data = r.data,
			.size = r.size,
		};
		if ((e = memdb_load_row(fresh, &row, err, sizeof(err))))
			break;
	}
	if (e == 0 && (e = memdb_load_finish(fresh, st->version, err, sizeof(err))) == 0 &&
	    memdb_checksum(fresh, NULL, NULL) != st->checksum) {
		snprintf(err, sizeof(err), "checksum mismatch after transfer");
		e = -EBADMSG;
	}
	if (e) {
		log_printf(LOG_CRIT, "received state is invalid (%s); not adopted", err);
		memdb_free(fresh);
		return e;
	}

	/*
	 * A node that only missed updates is not worth a line per path; a
	 * diverged one (or a failed verification) is: first find out, then
	 * name the paths.
	 */
	struct diff_ctx dc = { .cl = cl,
		               .fresh = fresh,
		               .local_since = dfsm_local_since(cl->dfsm) };
	memdb_rdlock(cl->mdb);
	uint64_t old_version = memdb_version_locked(cl->mdb);
	bool old_empty = old_version <= 1;
	memdb_foreach_row(cl->mdb, diff_old_row, &dc);
	if (old_version > st->version)
		dc.diverged = true;
	if ((dc.diverged || log_paths) && !old_empty) {
		dc.log_paths = true;
		dc.logged = 0;
		memdb_foreach_row(cl->mdb, diff_old_row, &dc);
	}
	memdb_unlock(cl->mdb);
	if (dc.logged > CL_DIFF_LOG_MAX)
		log_printf(LOG_WARNING, "sync: ... and %u more differing paths",
		           dc.logged - CL_DIFF_LOG_MAX);
	if (dc.diverged && !old_empty) {
		char path[PATH_MAX + 64];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		snprintf(path, sizeof(path), "%s.diverged-%04d%02d%02d-%02d%02d%02d", cl->dbpath,
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec);
		if (dfsm_backup(cl->dfsm, path, err, sizeof(err)) == 0)
			log_printf(
			    LOG_CRIT,
			    "local database diverged from the cluster (local version %" PRIu64
			    ", cluster %" PRIu64 "); adopting the cluster's; the local copy "
			    "is kept in %s",
			    old_version, st->version, path);
		else
			log_printf(LOG_CRIT,
			           "local database diverged from the cluster; adopting the "
			           "cluster's; backup failed: %s",
			           err);
	}
	if (dfsm_replace_state(cl->dfsm, fresh) != 0) {
		log_printf(LOG_CRIT, "cannot store the received state");
		memdb_free(fresh);
		return -EIO;
	}
	/* fresh now holds the old tree: tell the kernel what changed */
	if (cl->hooks.inode) {
		struct inval_ctx ic = { cl, fresh, cl->mdb };
		memdb_rdlock(fresh);
		memdb_rdlock(cl->mdb);
		memdb_foreach_row(fresh, inval_row, &ic);
		ic.a = cl->mdb;
		ic.b = fresh;
		memdb_foreach_row(cl->mdb, inval_row, &ic);
		memdb_unlock(cl->mdb);
		memdb_unlock(fresh);
	}
	/* watchers resync once the kernel forgot the old tree's entries */
	if (cl->hooks.settled)
		cl->hooks.settled(cl->hooks.ctx, memdb_version(cl->mdb));
	memdb_free(fresh);
	log_printf(LOG_NOTICE, "adopted the cluster state: version %" PRIu64 " (was %" PRIu64 ")",
	           st->version, old_version);
	return 0;
}

/* ---- verification ---- */

static void start_verify(struct cluster *cl)
{
	uint64_t r = cl->round;
	if (send_u64s(cl, CFS_MSG_VERIFY, &r, 1))
		log_printf(LOG_ERR, "cannot send a verification request");
}

static void on_verify(struct cluster *cl, uint32_t nodeid, uint64_t id, uint64_t round)
{
	uint64_t v[4];

	if (cl->state != ST_SYNCED || round != cl->round || cl->verify_active)
		return; /* stale, or one is running: the same decision everywhere */
	flush_batch(cl);
	cl->verify_active = true;
	cl->verify_key = ((uint64_t)nodeid << 40) ^ id;
	clock_gettime(CLOCK_MONOTONIC, &cl->verify_t0);
	for (size_t i = 0; i < cl->nmembers; i++)
		cl->members[i].have_reply = false;
	v[0] = round;
	v[1] = cl->verify_key;
	v[3] = memdb_checksum(cl->mdb, &v[2], NULL);
	if (send_u64s(cl, CFS_MSG_VERIFY_REPLY, v, 4))
		log_printf(LOG_ERR, "cannot send a verification reply");
}

static void on_verify_reply(struct cluster *cl, uint32_t nodeid, uint32_t pid, const uint64_t *v)
{
	int idx = member_index(cl, nodeid, pid);
	char a[64], b[64];

	if (idx < 0 || !cl->verify_active || v[0] != cl->round || v[1] != cl->verify_key)
		return;
	cl->members[idx].have_reply = true;
	cl->members[idx].v_version = v[2];
	cl->members[idx].v_checksum = v[3];
	for (size_t i = 0; i < cl->nmembers; i++)
		if (!cl->members[i].have_reply)
			return;
	cl->verify_active = false;
	bool mismatch = false;
	const struct member *m0 = &cl->members[0];
	for (size_t i = 1; i < cl->nmembers; i++) {
		const struct member *m = &cl->members[i];
		if (m->v_version == m0->v_version && m->v_checksum == m0->v_checksum)
			continue;
		mismatch = true;
		log_printf(LOG_CRIT,
		           "VERIFICATION FAILED: %s has version %" PRIu64 " checksum %016" PRIx64
		           ", %s has version %" PRIu64 " checksum %016" PRIx64,
		           node_name(cl, m0->nodeid, a, sizeof(a)), m0->v_version, m0->v_checksum,
		           node_name(cl, m->nodeid, b, sizeof(b)), m->v_version, m->v_checksum);
	}
	pthread_mutex_lock(&cl->lock);
	cl->verifications++;
	cl->mismatches += mismatch;
	pthread_mutex_unlock(&cl->lock);
	if (!mismatch) {
		log_printf(LOG_INFO,
		           "verification passed: %zu members at version %" PRIu64
		           ", checksum %016" PRIx64,
		           cl->nmembers, m0->v_version, m0->v_checksum);
		return;
	}
	/* every member reached the same verdict at the same point: resync now */
	cl->resyncs++;
	begin_round(cl, mix(cl->round_base ^ mix(cl->resyncs)));
}

/* ---- delivery ---- */

static void drop_msg(struct cluster *cl, uint32_t nodeid, const char *why, int err)
{
	char nm[64];
	cl->bad_msgs++;
	if (cl->bad_msgs <= 20 || cl->bad_msgs % 1000 == 0)
		log_printf(LOG_ERR, "dropped a message from %s: %s (%s); %lu dropped so far",
		           node_name(cl, nodeid, nm, sizeof(nm)), why, strerror(-err),
		           cl->bad_msgs);
}

static void on_frag(struct cluster *cl, uint32_t nodeid, uint32_t pid, const struct cfs_msg *m)
{
	struct cfs_msg_frag f;
	struct frag **pp, *fr;
	int err = cfs_msg_frag_decode(m, &f);

	if (err) {
		drop_msg(cl, nodeid, "bad fragment", err);
		return;
	}
	unsigned open_of_sender = 0;
	for (pp = &cl->frags; (fr = *pp); pp = &fr->next) {
		if (fr->nodeid == nodeid && fr->pid == pid && fr->id == m->id)
			break;
		open_of_sender += fr->nodeid == nodeid && fr->pid == pid;
	}
	if (!fr && f.index == 0) {
		/* a sender has at most two (its send leader's and its sender thread's) */
		if (open_of_sender >= CL_MAX_REASSEMBLIES) {
			drop_msg(cl, nodeid, "too many messages in fragments at once", -EBADMSG);
			return;
		}
		fr = calloc(1, sizeof(*fr));
		if (!fr) {
			drop_msg(cl, nodeid, "no memory to reassemble", -ENOMEM);
			return;
		}
		fr->nodeid = nodeid;
		fr->pid = pid;
		fr->id = m->id;
		fr->count = f.count;
		fr->whole_len = f.whole_len;
		fr->next = cl->frags;
		cl->frags = fr;
		pp = &cl->frags;
	}
	if (!fr) {
		drop_msg(cl, nodeid, "fragment without its start", -EBADMSG);
		return;
	}
	if (f.index != fr->next_index || f.count != fr->count || f.whole_len != fr->whole_len ||
	    f.chunk_len > fr->whole_len - fr->off) {
		drop_msg(cl, nodeid, "fragment out of sequence", -EBADMSG);
		*pp = fr->next;
		free(fr->buf);
		free(fr);
		return;
	}
	/* the buffer grows with what arrived, not with what the first fragment claims */
	if (fr->off + f.chunk_len > fr->cap) {
		size_t cap = fr->cap ? fr->cap : 65536;
		while (cap < fr->off + f.chunk_len)
			cap *= 2;
		if (cap > fr->whole_len)
			cap = fr->whole_len;
		unsigned char *nb = realloc(fr->buf, cap);
		if (!nb) {
			drop_msg(cl, nodeid, "no memory to reassemble", -ENOMEM);
			*pp = fr->next;
			free(fr->buf);
			free(fr);
			return;
		}
		fr->buf = nb;
		fr->cap = cap;
	}
	memcpy(fr->buf + fr->off, f.chunk, f.chunk_len);
	fr->off += f.chunk_len;
	fr->next_index++;
	if (fr->next_index < fr->count)
		return;
	*pp = fr->next;
	if (fr->off == fr->whole_len)
		handle_msg(cl, nodeid, pid, fr->buf, fr->whole_len, false);
	else
		drop_msg(cl, nodeid, "fragments do not add up", -EBADMSG);
	free(fr->buf);
	free(fr);
}

static void handle_msg(struct cluster *cl, uint32_t nodeid, uint32_t pid, const void *buf,
                       size_t len, bool top)
{
	struct cfs_msg m;
	uint64_t v[4];
	int err = cfs_msg_decode(buf, len, &m);

	if (err) {
		drop_msg(cl, nodeid,
		         err == -EPROTO ? "unknown format version or message type (a newer pmxcfs?)"
		                        : "bad envelope (magic, length or checksum)",
		         err);
		return;
	}
	if (member_index(cl, nodeid, pid) < 0 && m.type != CFS_MSG_FRAG) {
		drop_msg(cl, nodeid, "sender is not a member", -EPERM);
		return;
	}
	if (cl->state == ST_SYNCING && top)
		clock_gettime(CLOCK_MONOTONIC, &cl->round_progress);
	switch (m.type) {
	case CFS_MSG_OP:
		deliver_op(cl, nodeid, pid, m.id, m.body, m.body_len);
		break;
	case CFS_MSG_FRAG:
		if (!top) {
			drop_msg(cl, nodeid, "nested fragment", -EBADMSG);
			break;
		}
		on_frag(cl, nodeid, pid, &m);
		break;
	case CFS_MSG_SUMMARY: {
		struct cfs_msg_summary s;
		if ((err = cfs_msg_summary_decode(&m, &s))) {
			drop_msg(cl, nodeid, "bad summary", err);
			break;
		}
		flush_batch(cl);
		if (cl->state != ST_SYNCING || s.round != cl->round)
			break; /* from an earlier round */
		int idx = member_index(cl, nodeid, pid);
		cl->members[idx].have_summary = true;
		cl->members[idx].s = s;
		maybe_finish_summaries(cl);
		break;
	}
	case CFS_MSG_STATE: {
		struct cfs_msg_state st;
		if ((err = cfs_msg_state_decode(&m, &st))) {
			drop_msg(cl, nodeid, "bad state", err);
			break;
		}
		if (cl->state != ST_SYNCING || st.round != cl->round || cl->source < 0 ||
		    cl->members[cl->source].nodeid != nodeid || cl->members[cl->source].pid != pid)
			break; /* stale, or not from this round's source */
		if (st.version != cl->members[cl->source].s.version ||
		    st.checksum != cl->members[cl->source].s.checksum) {
			drop_msg(cl, nodeid, "state does not match its sender's summary", -EBADMSG);
			break;
		}
		/* the checksum covers the version; apply_state verifies what it adopts */
		if (memdb_checksum(cl->mdb, NULL, NULL) != st.checksum &&
		    apply_state(cl, &st, cl->resyncs > 0) != 0) {
			fall_out_of_step(cl, "the sync state could not be adopted");
			break;
		}
		sync_done(cl);
		break;
	}
	case CFS_MSG_VERIFY:
		if ((err = cfs_msg_u64s_decode(&m, v, 1))) {
			drop_msg(cl, nodeid, "bad verify request", err);
			break;
		}
		on_verify(cl, nodeid, m.id, v[0]);
		break;
	case CFS_MSG_VERIFY_REPLY:
		if ((err = cfs_msg_u64s_decode(&m, v, 4))) {
			drop_msg(cl, nodeid, "bad verify reply", err);
			break;
		}
		on_verify_reply(cl, nodeid, pid, v);
		break;
	case CFS_MSG_LOG:
		if (cl->clog && (err = clusterlog_merge(cl->clog, m.body, m.body_len)) < 0)
			drop_msg(cl, nodeid, "bad cluster log entries", err);
		break;
	case CFS_MSG_RESYNC:
		if ((err = cfs_msg_u64s_decode(&m, v, 1))) {
			drop_msg(cl, nodeid, "bad resync request", err);
			break;
		}
		if (v[0] != cl->round)
			break; /* stale: a later round already started */
		cl->resyncs++;
		cl->resync_sent = false;
		begin_round(cl, mix(cl->round_base ^ mix(cl->resyncs)));
		break;
	default:
		break;
	}
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t len)
{
	struct cluster *cl = NULL;
	(void)group;
	if (cpg_context_get(h, (void **)&cl) != CS_OK || !cl)
		return;
	handle_msg(cl, nodeid, pid, msg, len, true);
}

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (x->nodeid != y->nodeid)
		return x->nodeid < y->nodeid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group,
                       const struct cpg_address *members, size_t nmembers,
                       const struct cpg_address *left, size_t nleft,
                       const struct cpg_address *joined, size_t njoined)
{
	struct cluster *cl = NULL;
	uint64_t round = 0x6d656d62ull;
	(void)group;
	(void)left;
	(void)joined;

	if (cpg_context_get(h, (void **)&cl) != CS_OK || !cl)
		return;
	flush_batch(cl);
	if (nmembers > CL_MAX_MEMBERS) {
		log_printf(LOG_CRIT, "%zu members: pmxcfs handles at most %d; the rest are ignored",
		           nmembers, CL_MAX_MEMBERS);
		nmembers = CL_MAX_MEMBERS;
	}
	pthread_mutex_lock(&cl->lock);
	cl->nmembers = nmembers;
	for (size_t i = 0; i < nmembers; i++) {
		memset(&cl->members[i], 0, sizeof(cl->members[i]));
		cl->members[i].nodeid = members[i].nodeid;
		cl->members[i].pid = members[i].pid;
	}
	qsort(cl->members, nmembers, sizeof(cl->members[0]), cmp_member);
	cl->membership_version++;
	pthread_mutex_unlock(&cl->lock);
	for (size_t i = 0; i < nmembers; i++)
		round = mix(round ^ ((uint64_t)cl->members[i].nodeid << 32 | cl->members[i].pid));
	/*
	 * A message is reassembled within one membership: a member that joined
	 * now never saw the first fragments, so every member drops what is in
	 * progress (all hold the same partial set) and the later fragments are
	 * dropped everywhere as "without its start".  Our own op among them was
	 * never applied anywhere.
	 */
	for (struct frag *fr = cl->frags, *next; fr; fr = next) {
		next = fr->next;
		if (is_me(cl, fr->nodeid, fr->pid)) {
			pthread_mutex_lock(&cl->lock);
			finish_pending(cl, fr->id, -ERESTART, NULL);
			pthread_cond_broadcast(&cl->cond);
			pthread_mutex_unlock(&cl->lock);
		}
		free(fr->buf);
		free(fr);
	}
	cl->frags = NULL;
	log_printf(LOG_NOTICE, "membership: %zu members (%zu joined, %zu left)", nmembers, njoined,
	           nleft);
	if (member_index(cl, cl->my_nodeid, cl->my_pid) < 0)
		return; /* we left */
	cl->round_base = round;
	cl->resyncs = 0;
	cl->resync_sent = false;
	begin_round(cl, round);
	if (cl->clog && njoined)
		send_whole_log(cl); /* the members' logs merge: each sends its own */
}

/* ---- quorum, node list ---- */

static void on_quorum(quorum_handle_t h, uint32_t quorate, uint64_t ring_seq, uint32_t n,
                      uint32_t *view)
{
	struct cluster *cl = NULL;
	(void)ring_seq;
	if (quorum_context_get(h, (const void **)&cl) != CS_OK || !cl)
		return;
	pthread_mutex_lock(&cl->lock);
	bool was = cl->quorate;
	cl->quorate = quorate != 0;
	if (!quorate)
		cl->primary = false;
	cl->nonline = n < CL_MAX_MEMBERS ? n : CL_MAX_MEMBERS;
	memcpy(cl->online, view, cl->nonline * sizeof(*view));
	bool regain = quorate && !cl->group_writable && cl->state == ST_SYNCED;
	/* lost without a membership change (votes, qdevice): read-only at one point */
	bool loss = !quorate && cl->group_writable && cl->state == ST_SYNCED;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	if (was != (quorate != 0))
		log_printf(LOG_NOTICE, "quorum %s (%u nodes online)", quorate ? "regained" : "lost",
		           n);
	if (regain && !cl->resync_sent) {
		/* the group synced without quorum; a new round makes it writable */
		cl->resync_sent = true;
		request_resync(cl, "quorum regained");
	}
	if (loss)
		request_resync(cl, "quorum lost");
}

static void read_nodelist(struct cluster *cl)
{
	cmap_handle_t ch;
	char *s = NULL;

	if (cmap_initialize(&ch) != CS_OK) {
		log_printf(LOG_WARNING, "cannot read the node list from corosync (cmap)");
		return;
	}
	pthread_mutex_lock(&cl->lock);
	cl->nnodes = 0;
	if (cmap_get_string(ch, "totem.cluster_name", &s) == CS_OK) {
		snprintf(cl->cluster_name, sizeof(cl->cluster_name), "%s", s);
		free(s);
	}
	for (unsigned i = 0; i < CL_MAX_MEMBERS; i++) {
		char key[128];
		uint32_t id = 0;
		struct nodeinfo *n = &cl->nodes[cl->nnodes];
		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", i);
		if (cmap_get_uint32(ch, key, &id) != CS_OK)
			break;
		memset(n, 0, sizeof(*n));
		n->id = id;
		snprintf(key, sizeof(key), "nodelist.node.%u.name", i);
		if (cmap_get_string(ch, key, &s) == CS_OK) {
			snprintf(n->name, sizeof(n->name), "%s", s);
			free(s);
		}
		snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", i);
		if (cmap_get_string(ch, key, &s) == CS_OK) {
			snprintf(n->addr, sizeof(n->addr), "%s", s);
			if (!n->name[0])
				snprintf(n->name, sizeof(n->name), "%s", s);
			free(s);
		}
		cl->nnodes++;
	}
	pthread_mutex_unlock(&cl->lock);
	cmap_finalize(ch);
}

/* ---- connection ---- */

static void disconnect(struct cluster *cl, const char *why)
{
	flush_batch(cl); /* delivered before the loss: apply */
	pq_drop(cl, &cl->syncq, -EIO);
	for (struct frag *fr = cl->frags, *next; fr; fr = next) {
		next = fr->next;
		free(fr->buf);
		free(fr);
	}
	cl->frags = NULL;
	out_drop_all(cl);
	pthread_mutex_lock(&cl->send_lock);
	cpg_finalize(cl->cpg);
	quorum_finalize(cl->qh);
	__atomic_store_n(&cl->connected, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cl->send_lock);
	pthread_mutex_lock(&cl->lock);
	cl->state = ST_DISCONNECTED;
	cl->quorate = false;
	cl->primary = false;
	cl->group_writable = false;
	cl->nmembers = 0;
	cl->nonline = 0;
	/* sent, never delivered here: the outcome is unknown */
	for (struct pending *w = cl->pending; w; w = w->next)
		if (!w->done) {
			w->done = true;
			w->status = -EIO;
		}
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	log_printf(LOG_WARNING, "disconnected from corosync: %s", why);
}

static cpg_callbacks_t cpg_cbs = { .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg };
static quorum_callbacks_t q_cbs = { .quorum_notify_fn = on_quorum };

static int connect_corosync(struct cluster *cl)
{
	struct cpg_name g;
	uint32_t qtype = 0, nodeid = 0;
	cs_error_t rc;

	if (cpg_initialize(&cl->cpg, &cpg_cbs) != CS_OK)
		return -1;
	if (quorum_initialize(&cl->qh, &q_cbs, &qtype) != CS_OK) {
		cpg_finalize(cl->cpg);
		return -1;
	}
	if (qtype == QUORUM_FREE)
		log_printf(LOG_WARNING,
		           "corosync has no quorum provider: every partition counts "
		           "as quorate (set quorum { provider: corosync_votequorum })");
	cpg_context_set(cl->cpg, cl);
	quorum_context_set(cl->qh, cl);
	read_nodelist(cl);
	if (cpg_local_get(cl->cpg, &nodeid) != CS_OK)
		goto fail;
	pthread_mutex_lock(&cl->lock);
	cl->my_nodeid = nodeid;
	cl->my_pid = (uint32_t)getpid();
	pthread_mutex_unlock(&cl->lock);
	if (quorum_trackstart(cl->qh, CS_TRACK_CHANGES | CS_TRACK_CURRENT) != CS_OK)
		goto fail;
	snprintf(g.value, sizeof(g.value), "%s", CL_GROUP);
	g.length = (uint32_t)strlen(CL_GROUP);
	for (int i = 0; i < 50; i++) {
		rc = cpg_join(cl->cpg, &g);
		if (rc == CS_OK)
			break;
		if (rc != CS_ERR_TRY_AGAIN)
			goto fail;
		usleep(100000);
	}
	if (rc != CS_OK)
		goto fail;
	pthread_mutex_lock(&cl->send_lock);
	__atomic_add_fetch(&cl->conn_gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&cl->connected, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cl->send_lock);
	pthread_mutex_lock(&cl->lock);
	cl->state = ST_SYNCING; /* until our join's round ends */
	clock_gettime(CLOCK_MONOTONIC, &cl->round_progress);
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	log_printf(LOG_NOTICE, "connected to corosync as node id %u (cluster '%s')", nodeid,
	           cl->cluster_name);
	return 0;
fail:
	quorum_finalize(cl->qh);
	cpg_finalize(cl->cpg);
	return -1;
}

static void wait_wake(struct cluster *cl, int ms)
{
	struct pollfd p = { cl->wake[0], POLLIN, 0 };
	char buf[64];
	if (poll(&p, 1, ms) > 0)
		while (read(cl->wake[0], buf, sizeof(buf)) > 0) {
		}
}

static bool am_verify_leader(struct cluster *cl)
{
	return cl->nmembers > 1 && cl->members[0].nodeid == cl->my_nodeid &&
	    cl->members[0].pid == cl->my_pid;
}

static void *cluster_thread(void *arg)
{
	struct cluster *cl = arg;
	bool warned = false;

	while (!__atomic_load_n(&cl->stopping, __ATOMIC_RELAXED)) {
		if (cl->fatal) {
			if (cl->connected)
				disconnect(cl, "the database is unusable");
			wait_wake(cl, 1000);
			continue;
		}
		if (!cl->connected) {
			if (connect_corosync(cl) != 0) {
				if (!warned)
					log_printf(LOG_WARNING,
					           "corosync is not reachable; retrying "
					           "(read-only until then)");
				warned = true;
				wait_wake(cl, 1000);
				continue;
			}
			warned = false;
		}
		int cfd = -1, qfd = -1;
		cpg_fd_get(cl->cpg, &cfd);
		quorum_fd_get(cl->qh, &qfd);
		struct pollfd p[3] = { { cfd, POLLIN, 0 },
			               { qfd, POLLIN, 0 },
			               { cl->wake[0], POLLIN, 0 } };
		int n = poll(p, 3, 1000);
		if (n < 0 && errno != EINTR) {
			disconnect(cl, strerror(errno));
			continue;
		}
		if (p[1].revents) {
			cs_error_t rc = quorum_dispatch(cl->qh, CS_DISPATCH_ALL);
			if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
				disconnect(cl, "quorum service lost");
				continue;
			}
		}
		if (p[0].revents) {
			cs_error_t rc = cpg_dispatch(cl->cpg, CS_DISPATCH_ALL);
			flush_batch(cl);
			if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
				disconnect(cl, "CPG service lost");
				continue;
			}
		}
		if (p[2].revents)
			wait_wake(cl, 0);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* a verification whose replies never all came (a member's send failed) */
		if (cl->verify_active && now.tv_sec - cl->verify_t0.tv_sec >= CL_ROUND_STALL_SECS) {
			log_printf(LOG_WARNING,
			           "a verification got no reply from every member within "
			           "%d s; abandoned",
			           CL_ROUND_STALL_SECS);
			cl->verify_active = false;
		}
		/* a round that stopped moving (a lost message, a failed send) */
		if (cl->state == ST_SYNCING && cl->connected &&
		    now.tv_sec - cl->round_progress.tv_sec >= CL_ROUND_STALL_SECS &&
		    now.tv_sec - cl->last_watchdog.tv_sec >= CL_ROUND_STALL_SECS) {
			cl->last_watchdog = now;
			request_resync(cl, "the sync round made no progress for 30 s");
		}
		bool periodic = cl->o.verify_secs && am_verify_leader(cl) &&
		    now.tv_sec >= cl->next_verify.tv_sec;
		if (cl->state == ST_SYNCED &&
		    (__atomic_exchange_n(&cl->verify_req, 0, __ATOMIC_RELAXED) || periodic)) {
			deadline_in(&cl->next_verify, cl->o.verify_secs);
			if (cl->nmembers > 1)
				start_verify(cl);
			else
				log_printf(LOG_INFO,
				           "verification: this node is alone; nothing to "
				           "compare");
		}
	}
	if (cl->connected) {
		struct cpg_name g;
		snprintf(g.value, sizeof(g.value), "%s", CL_GROUP);
		g.length = (uint32_t)strlen(CL_GROUP);
		pthread_mutex_lock(&cl->send_lock); /* no send on the ring meanwhile */
		cpg_leave(cl->cpg, &g);
		pthread_mutex_unlock(&cl->send_lock);
		disconnect(cl, "shutting down");
	}
	return NULL;
}

/* ---- life cycle ---- */

int cluster_new(struct dfsm *d, struct memdb *mdb, const struct cluster_opts *o,
                struct cluster **out)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	pthread_condattr_t ca;

	if (!cl)
		return -ENOMEM;
	if (pipe2(cl->wake, O_NONBLOCK | O_CLOEXEC)) {
		free(cl);
		return -errno;
	}
	cl->dfsm = d;
	cl->mdb = mdb;
	cl->o = *o;
	if (!cl->o.sync_wait_secs)
		cl->o.sync_wait_secs = 30;
	snprintf(cl->nodename, sizeof(cl->nodename), "%s", o->nodename);
	snprintf(cl->dbpath, sizeof(cl->dbpath), "%s", o->dbpath);
	cl->o.nodename = cl->nodename;
	cl->o.dbpath = cl->dbpath;
	cl->source = -1;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_mutex_init(&cl->send_lock, NULL);
	pthread_mutex_init(&cl->out_lock, NULL);
	pthread_cond_init(&cl->out_cond, NULL);
	cl->out_tail = &cl->out_head;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->cond, &ca);
	pthread_condattr_destroy(&ca);
	struct dfsm_transport t = { cl_propose, cl_quorate, cl };
	dfsm_set_transport(d, &t);
	*out = cl;
	return 0;
}

void cluster_set_hooks(struct cluster *cl, const struct cluster_hooks *h)
{
	cl->hooks = *h;
}

int cluster_start(struct cluster *cl)
{
	int err = pthread_create(&cl->sender, NULL, sender_thread, cl);
	if (err)
		return -err;
	err = pthread_create(&cl->thread, NULL, cluster_thread, cl);
	if (err) {
		pthread_mutex_lock(&cl->out_lock);
		cl->out_stop = true;
		pthread_cond_signal(&cl->out_cond);
		pthread_mutex_unlock(&cl->out_lock);
		pthread_join(cl->sender, NULL);
		return -err;
	}
	cl->thread_started = true;
	return 0;
}

void cluster_request_verify(struct cluster *cl)
{
	char c = 1;
	__atomic_store_n(&cl->verify_req, 1, __ATOMIC_RELAXED);
	if (write(cl->wake[1], &c, 1) < 0) {
		/* full pipe: the thread wakes anyway */
	}
}

void cluster_stop(struct cluster *cl)
{
	char c = 1;
	if (!cl || !cl->thread_started)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->stopping = true;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	if (write(cl->wake[1], &c, 1) < 0) {
		/* the thread polls with a timeout anyway */
	}
	pthread_join(cl->thread, NULL);
	pthread_mutex_lock(&cl->out_lock);
	cl->out_stop = true;
	pthread_cond_signal(&cl->out_cond);
	pthread_mutex_unlock(&cl->out_lock);
	pthread_join(cl->sender, NULL);
	out_drop_all(cl);
	cl->thread_started = false;
}

void cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	cluster_stop(cl);
	pq_drop(cl, &cl->batch, -ESHUTDOWN);
	pq_drop(cl, &cl->syncq, -ESHUTDOWN);
	close(cl->wake[0]);
	close(cl->wake[1]);
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	pthread_mutex_destroy(&cl->send_lock);
	pthread_mutex_destroy(&cl->out_lock);
	pthread_cond_destroy(&cl->out_cond);
	free(cl);
}

/* ---- .members ---- */

void cluster_render_members(struct cluster *cl, struct sbuf *sb)
{
	static const char *const states[] = { "disconnected", "syncing", "synced" };

	pthread_mutex_lock(&cl->lock);
	bool q = __atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE) && cl->quorate;
	/* quorate, but the last round ran without quorum: a new one is due */
	enum cl_state st =
	    cl->state == ST_SYNCED && q && !cl->group_writable ? ST_SYNCING : cl->state;
	sbuf_addf(sb, "\"cluster\": { \"name\": ");
	sbuf_add_json(sb, cl->cluster_name[0] ? cl->cluster_name : cl->nodename);
	sbuf_addf(sb,
	          ", \"version\": %llu, \"nodes\": %zu, \"quorate\": %d, \"sync\": \"%s\", "
	          "\"syncs\": %lu, \"verifications\": %lu, \"mismatches\": %lu },\n",
	          (unsigned long long)cl->membership_version, cl->nnodes, q ? 1 : 0, states[st],
	          cl->syncs, cl->verifications, cl->mismatches);
	sbuf_addf(sb, "\"nodelist\": {");
	for (size_t i = 0; i < cl->nnodes; i++) {
		const struct nodeinfo *n = &cl->nodes[i];
		bool online = false;
		for (size_t j = 0; j < cl->nonline; j++)
			online |= cl->online[j] == n->id;
		sbuf_addf(sb, "%s\n  ", i ? "," : "");
		sbuf_add_json(sb, n->name);
		sbuf_addf(sb, ": { \"id\": %u, \"online\": %d, \"ip\": ", n->id, online ? 1 : 0);
		sbuf_add_json(sb, n->addr);
		sbuf_addf(sb, "}");
	}
	sbuf_addf(sb, "\n  }\n");
	pthread_mutex_unlock(&cl->lock);
}

void cluster_status(struct cluster *cl, struct cluster_status *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&cl->lock);
	bool connected = __atomic_load_n(&cl->connected, __ATOMIC_ACQUIRE);
	st->connected = connected;
	st->quorate = connected && cl->quorate;
	st->writable = writable_locked(cl);
	st->sync = !connected                                              ? 0
	    : cl->state == ST_SYNCED && st->quorate && !cl->group_writable ? ST_SYNCING
	                                                                   : (int)cl->state;
	st->local_id = cl->my_nodeid;
	st->membership_version = cl->membership_version;
	snprintf(st->cluster_name, sizeof(st->cluster_name), "%s",
	         cl->cluster_name[0] ? cl->cluster_name : cl->nodename);
	st->nnodes = cl->nnodes;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct cluster_node *n = &st->nodes[i];
		n->id = cl->nodes[i].id;
		snprintf(n->name, sizeof(n->name), "%s", cl->nodes[i].name);
		snprintf(n->addr, sizeof(n->addr), "%s", cl->nodes[i].addr);
		for (size_t j = 0; j < cl->nonline && connected; j++)
			n->online |= cl->online[j] == n->id;
	}
	pthread_mutex_unlock(&cl->lock);
}
