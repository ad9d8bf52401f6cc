/*
 * cfs_fuse.c - FUSE request handlers; see cfs_fuse.h.
 *
 * File handles.  Every open of a regular or virtual file gets a handle:
 *   - read-only opens get a snapshot of the content at open time (readers see
 *     one version from open to close) and may keep the kernel page cache
 *     (keep_cache) when it holds the current version; no FLUSH is requested.
 *   - writable opens get a private buffer (a copy of the content, or empty
 *     with O_TRUNC) and direct I/O, so uncommitted bytes never reach the
 *     shared page cache.  The buffer becomes the file's content, atomically,
 *     by ONE proposed PUT at flush (close) or fsync; release commits what a
 *     flush did not.  A write past the size limit fails with EFBIG and
 *     poisons the handle: its close fails too and the file stays unchanged.
 *
 *   open ---> CLEAN --write/ftruncate--> DIRTY --flush/fsync ok--> CLEAN
 *                                          |  \--commit fails--> FAILED (err sticky)
 *                                          \--write > 1 MiB----> FAILED
 *   release: DIRTY -> commit (logged), then free.
 *
 *   Readers may use the kernel page cache only as kstate.h allows; the
 *   O_TRUNC of an open arrives as a handle-less setattr that is matched to
 *   the fresh handle of the opening thread (writers_truncate_fresh).
 *
 * Registries (writers, handles, dirhandles) each have their own mutex.
 * Lock order: writers.lock, then handle->lock, then memdb's lock (inside
 * memdb calls); handles.lock, dirhandles.lock and kstate's lock are leaves.
 * handle_commit proposes with the handle's lock held (a concurrent flush of
 * the same handle waits for it), never with any other lock.  Kernel
 * notifications: see kinval.h for which thread may make which.
 */
#define LOG_SUBSYS "fuse"
#include "pmxcfs/cfs_fuse.h"
#include "pmxcfs/log.h"
#include "pmxcfs/pathname.h"
#include "pmxcfs/virtual.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h> /* RENAME_NOREPLACE (glibc, _GNU_SOURCE) */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

/* How long a writer's open waits for page-cached readers to close (kstate.h). */
#define CFS_WRITER_WAIT_MS 100

/* Committed files up to this size are pushed into the kernel's page cache. */
#define CFS_STORE_MAX (256 * 1024)

/*
 * A registry: an intrusive doubly linked list under its own mutex, for the
 * handle lists below.
 */
struct reglink {
	struct reglink *next, *prev;
};

struct registry {
	pthread_mutex_t lock;
	struct reglink *head;
};

#define REGISTRY_INIT                                                                              \
	{                                                                                          \
		PTHREAD_MUTEX_INITIALIZER, NULL                                                    \
	}
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static void reg_add(struct registry *r, struct reglink *l)
{
	pthread_mutex_lock(&r->lock);
	l->prev = NULL;
	l->next = r->head;
	if (r->head)
		r->head->prev = l;
	r->head = l;
	pthread_mutex_unlock(&r->lock);
}

/* Unlink l (a no-op when it is not in r). */
static void reg_del(struct registry *r, struct reglink *l)
{
	pthread_mutex_lock(&r->lock);
	if (l->prev)
		l->prev->next = l->next;
	else if (r->head == l)
		r->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->next = l->prev = NULL;
	pthread_mutex_unlock(&r->lock);
}

/* Empty r; returns what it held (walk it with ->next). */
static struct reglink *reg_take_all(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	struct reglink *head = r->head;
	r->head = NULL;
	pthread_mutex_unlock(&r->lock);
	return head;
}

struct cfs_handle {
	struct reglink wlink; /* open writable handles (writers) */
	struct reglink alink; /* every handle (freed at shutdown) */
	pthread_mutex_t lock;
	uint64_t inode;
	uint64_t version; /* of the snapshot a reader was opened with */
	bool pcached; /* a reader on the kernel page cache (kstate) */
	bool gated; /* a writer registered with kstate_writer_open */
	bool fresh; /* a writer nothing happened to since its open */
	pid_t opener; /* the thread that opened it */
	bool writable;
	bool append;
	bool dirty;
	bool virt;
	int err; /* sticky: the handle's content will not be committed */
	bool mtime_set;
	int64_t mtime;
	char *buf;
	size_t size;
	size_t cap;
};

struct cfs_dirhandle {
	struct reglink alink; /* every dir handle (freed at shutdown) */
	size_t n;
	struct {
		uint64_t inode;
		mode_t type;
		char *name;
	} * ents;
};

static void dirhandle_destroy(struct cfs_dirhandle *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

/*
 * Open writable handles, so that a utime() on a path (cp -p, touch -r) while
 * the file is open for writing can be applied after that handle's commit,
 * which would otherwise stamp the commit time over it.
 */
static struct registry writers = REGISTRY_INIT;

/* Every open handle, so that shutdown can free what the kernel never released. */
static struct registry handles = REGISTRY_INIT;

/* Open directory handles: a RELEASEDIR may never come when the session ends. */
static struct registry dirhandles = REGISTRY_INIT;

/* Record mtime on every dirty writer of inode; lock order: writers.lock, h->lock. */
static void writers_defer_mtime(uint64_t inode, int64_t mtime)
{
	pthread_mutex_lock(&writers.lock);
	for (struct reglink *l = writers.head; l; l = l->next) {
		struct cfs_handle *h = container_of(l, struct cfs_handle, wlink);
		if (h->inode != inode)
			continue;
		pthread_mutex_lock(&h->lock);
		if (h->dirty) {
			h->mtime_set = true;
			h->mtime = mtime;
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&writers.lock);
}

static struct cfs_fuse *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int64_t now_secs(void)
{
	return (int64_t)time(NULL);
}

static void virtual_ctx_of(struct cfs_fuse *c, struct virtual_ctx *v)
{
	v->mdb = c->mdb;
	v->clog = c->clog;
	v->nodename = c->nodename;
	v->starttime = c->starttime;
	v->quorate = dfsm_quorate(c->dfsm);
	v->cluster = c->cluster;
}

/* ---- attributes ---- */

static void attr_from_stat(struct cfs_fuse *c, const struct memdb_stat *ms, struct stat *st)
{
	bool quorate = dfsm_quorate(c->dfsm);
	mode_t perm;

	memset(st, 0, sizeof(*st));
	st->st_ino = ms->inode;
	if (ms->type == MEMDB_DIR) {
		perm = ms->priv ? 0700 : 0755;
		if (!quorate)
			perm &= ~0222u;
		st->st_mode = S_IFDIR | perm;
		st->st_nlink = 2;
	} else {
		perm = ms->priv ? 0600 : 0640;
		if (!quorate)
			perm &= ~0222u;
		st->st_mode = S_IFREG | perm;
		st->st_nlink = 1;
		st->st_size = (off_t)ms->size;
	}
	st->st_uid = 0;
	st->st_gid = c->gid;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	st->st_mtim.tv_sec = ms->mtime;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

static int attr_virtual(struct cfs_fuse *c, const struct virt_entry *e, struct stat *st)
{
	struct virtual_ctx v;
	char *content;
	size_t len;
	int err;

	virtual_ctx_of(c, &v);
	err = virtual_render(&v, e, &content, &len);
	if (err)
		return err;
	free(content);
	memset(st, 0, sizeof(*st));
	st->st_ino = e->inode;
	st->st_mode = e->link ? (S_IFLNK | 0777) : (S_IFREG | 0440);
	st->st_nlink = 1;
	st->st_uid = 0;
	st->st_gid = c->gid;
	st->st_size = (off_t)len;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = c->starttime;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
	return 0;
}

static void reply_entry_stat(fuse_req_t req, const struct memdb_stat *ms)
{
	struct cfs_fuse *c = ctx_of(req);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ms->inode;
	e.generation = 1;
	e.attr_timeout = c->timeout;
	e.entry_timeout = c->timeout;
	attr_from_stat(c, ms, &e.attr);
	fuse_reply_entry(req, &e);
}

/* Propose op; returns the verdict (0 or -errno), transport errors included. */
static int propose(struct cfs_fuse *c, struct cfs_op *op, struct memdb_result *res)
{
	struct memdb_result r;
	int err;

	if (!res)
		res = &r;
	if (!op->now)
		op->now = now_secs();
	err = dfsm_propose(c->dfsm, op, res);
	return err ? err : res->err;
}

static void set_name(struct cfs_op *op, const char *name)
{
	op->name = name;
	op->name_len = (uint32_t)strlen(name);
}

static int name_arg_check(const char *name)
{
	size_t len = strlen(name);
	return len > CFS_MAX_NAME_LEN ? -ENAMETOOLONG : 0;
}

/* ---- lookup, getattr ---- */

static void cfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cfs_fuse *c = ctx_of(req);
	struct memdb_stat ms;
	int err;

	if (parent == MEMDB_ROOT_INODE) {
		const struct virt_entry *v = virtual_by_name(name);
		if (v) {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			e.ino = v->inode;
			e.generation = 1;
			e.attr_timeout = 0;
			e.entry_timeout = c->timeout;
			err = attr_virtual(c, v, &e.attr);
			if (err)
				fuse_reply_err(req, -err);
			else
				fuse_reply_entry(req, &e);
			return;
		}
	}
	err = memdb_lookup(c->mdb, parent, name, &ms);
	if (err == -ENOENT) {
		/* negative entry, cached like a positive one */
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.entry_timeout = c->timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	reply_entry_stat(req, &ms);
}

static void cfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* inode numbers are never reused, so there is nothing to forget */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void cfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void cfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi; /* one size per inode for all opens: see kstate.h */
	struct cfs_fuse *c = ctx_of(req);
	const struct virt_entry *v = virtual_by_inode(ino);
	struct memdb_stat ms;
	struct stat st;
	int err;

	if (v) {
		err = attr_virtual(c, v, &st);
		if (err)
			fuse_reply_err(req, -err);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	err = memdb_getattr(c->mdb, ino, &ms);
	if (err == -ENOENT) {
		/*
		 * Removed after the kernel resolved it (an open racing with a
		 * rename over it, or an open file): its last attributes.
		 */
		err = memdb_read_removed(c->mdb, ino, NULL, NULL, &ms);
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	} /* no per-handle sizes: the kernel shares one size per inode (kstate.h) */
	attr_from_stat(c, &ms, &st);
	fuse_reply_attr(req, &st, c->timeout);
}

/* ---- handles ---- */

static struct cfs_handle *handle_new(uint64_t inode)
{
	struct cfs_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->inode = inode;
	reg_add(&handles, &h->alink);
	return h;
}

static void handle_free(struct cfs_handle *h)
{
	if (!h)
		return;
	reg_del(&writers, &h->wlink);
	reg_del(&handles, &h->alink);
	/*
	 * RELEASE can arrive as soon as the kernel has our last READ reply,
	 * while that reply's thread is still inside cfs_read holding the lock.
	 */
	pthread_mutex_lock(&h->lock);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	free(h->buf);
	free(h);
}

/*
 * The kernel is done with h: free it and settle the kernel cache state.
 * The last page-cached reader of a superseded version leaves pages and a
 * size in the kernel that no longer match the file: drop them before the
 * next open may use the page cache again (kstate keeps such opens on direct
 * I/O until kstate_drained).
 */
static void handle_release(struct cfs_fuse *c, struct cfs_handle *h)
{
	uint64_t inode = h->inode;
	bool drain = false;

	if (h->pcached) {
		struct memdb_stat ms;
		uint64_t cur = memdb_getattr(c->mdb, inode, &ms) == 0 ? ms.version : 0;
		drain = kstate_reader_close(c->kstate, inode, h->version, cur);
	}
	if (h->gated)
		kstate_writer_close(c->kstate, inode);
	handle_free(h);
	if (drain) {
		kinval_inode_attrs(c->kinval, inode);
		kstate_drained(c->kstate, inode);
	}
}

void cfs_fuse_cleanup(void)
{
	reg_take_all(&writers);
	for (struct reglink *l = reg_take_all(&handles), *next; l; l = next) {
		struct cfs_handle *h = container_of(l, struct cfs_handle, alink);
		next = l->next;
		pthread_mutex_destroy(&h->lock);
		free(h->buf);
		free(h);
	}
	for (struct reglink *l = reg_take_all(&dirhandles), *next; l; l = next) {
		next = l->next;
		dirhandle_destroy(container_of(l, struct cfs_dirhandle, alink));
	}
}

static int handle_reserve(struct cfs_handle *h, size_t size)
{
	if (size <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 4096;
	while (cap < size)
		cap *= 2;
	char *nb = realloc(h->buf, cap);
	if (!nb)
		return -ENOMEM;
	h->buf = nb;
	h->cap = cap;
	return 0;
}

/* Set the buffer size, zero-filling growth; caller holds h->lock. */
static int handle_resize(struct cfs_handle *h, size_t size)
{
	if (size > MEMDB_MAX_FILE_SIZE)
		return -EFBIG;
	int err = handle_reserve(h, size);
	if (err)
		return err;
	if (size > h->size)
		memset(h->buf + h->size, 0, size - h->size);
	h->size = size;
	return 0;
}

/*
 * Commit a dirty handle: one PUT with the whole buffer (plus a deferred
 * mtime), then settle the kernel's caches (see the comment at the end).
 */
/*
 * What a commit leaves for after the reply: the new content is stored in
 * the kernel's page cache by the replying thread once its request is
 * answered, so the writer's close() does not wait for it.
 */
struct commit_tail {
	bool store;
	uint64_t inode;
	uint64_t version;
	char *copy; /* the committed content, for the kernel's page cache */
	size_t len;
};

static int handle_commit(struct cfs_fuse *c, struct cfs_handle *h, struct commit_tail *t)
{
	struct memdb_result res = { 0 };
	struct cfs_op op;
	int err = 0;
	bool changed = false;
	char *copy = NULL;
	size_t len = 0;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	if (h->err) {
		err = h->err;
		goto out_unlock;
	}
	if (h->dirty) {
		memset(&op, 0, sizeof(op));
		op.type = CFS_OP_PUT;
		op.inode = h->inode;
		op.data = h->buf;
		op.data_len = (uint32_t)h->size;
		err = propose(c, &op, &res);
		if (err == -ENOENT)
			err = -ESTALE; /* the file was removed while open */
		if (err) {
			log_printf(LOG_INFO, "commit of inode %llu failed: %s",
			           (unsigned long long)h->inode, strerror(-err));
			h->err = err;
			goto out_unlock;
		}
		h->dirty = false;
		changed = true;
		if (h->size <= CFS_STORE_MAX && (copy = malloc(h->size ? h->size : 1))) {
			if (h->size)
				memcpy(copy, h->buf, h->size);
			len = h->size;
		}
	}
	if (h->mtime_set) {
		memset(&op, 0, sizeof(op));
		op.type = CFS_OP_MTIME;
		op.inode = h->inode;
		op.mtime = h->mtime;
		h->mtime_set = false;
		err = propose(c, &op, &res);
		changed = true;
	}
out_unlock:
	pthread_mutex_unlock(&h->lock);
	/*
	 * The size and times the kernel caches are dropped before close()
	 * returns (cheap, no kernel lock), so a stat() after it is right.  The
	 * old pages need no invalidation here: the next page-cached open of the
	 * new version does not keep them (memdb_kcache_*: close-to-open), and a
	 * reader of the old version still open keeps reading them (kstate).
	 * When no reader has the file in the page cache, the new content is
	 * pushed there after the reply, so the next reader needs no READ;
	 * res.version is the version the content has now (after the mtime op).
	 */
	memset(t, 0, sizeof(*t));
	if (changed)
		kinval_inode_attrs(c->kinval, h->inode);
	if (changed && copy && !err && kstate_store_begin(c->kstate, h->inode, res.version)) {
		t->store = true;
		t->inode = h->inode;
		t->version = res.version;
		t->copy = copy;
		t->len = len;
		copy = NULL;
	}
	free(copy);
	return err;
}

/*
 * After the reply, when kstate allowed it: replace the kernel's pages of a
 * committed file with the new content.  Until that is done, the next
 * page-cached open does not keep the old pages: the file's version is not
 * the one the kernel was told it caches (memdb_kcache_*).
 */
static void commit_tail_run(struct cfs_fuse *c, struct commit_tail *t)
{
	if (t->store)
		kinval_inode_store(c->kinval, t->inode, t->version, t->copy, t->len);
	t->copy = NULL;
}

void cfs_fuse_store_done(void *ctx, uint64_t inode, uint64_t version, bool ok)
{
	struct cfs_fuse *c = ctx;

	/* the kernel caches version now: the next open may keep its pages */
	if (ok)
		memdb_kcache_claim(c->mdb, inode, version);
	kstate_store_end(c->kstate, inode);
}

/* ---- open, create ---- */

static void open_virtual(fuse_req_t req, const struct virt_entry *v, struct fuse_file_info *fi)
{
	struct cfs_fuse *c = ctx_of(req);
	struct virtual_ctx vc;
	struct cfs_handle *h;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	h = handle_new(v->inode);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->virt = true;
	virtual_ctx_of(c, &vc);
	err = virtual_render(&vc, v, &h->buf, &h->size);
	if (err) {
		handle_free(h);
		fuse_reply_err(req, -err);
		return;
	}
	h->cap = h->size;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		handle_free(h);
}

/* Build the handle for an open of an existing regular file. */
static int open_file(struct cfs_fuse *c, uint64_t ino, struct fuse_file_info *fi, pid_t tid,
                     struct cfs_handle **out)
{
	int acc = fi->flags & O_ACCMODE;
	bool write = acc != O_RDONLY || (fi->flags & O_TRUNC);
	struct cfs_handle *h;
	int err;

	if (write && !dfsm_quorate(c->dfsm))
		return -EACCES;
	h = handle_new(ino);
	if (!h)
		return -ENOMEM;
	if (fi->flags & O_TRUNC) {
		struct memdb_stat ms;
		err = memdb_getattr(c->mdb, ino, &ms);
		if (!err && ms.type != MEMDB_REG)
			err = -EISDIR;
		h->dirty = true;
	} else {
		struct memdb_stat ms;
		err = memdb_read_all(c->mdb, ino, &h->buf, &h->size, &ms);
		if (err == -ENOENT && !write)
			err = memdb_read_removed(c->mdb, ino, &h->buf, &h->size, &ms);
		if (!err && ms.type != MEMDB_REG)
			err = -EISDIR;
		h->cap = h->size;
		h->version = ms.version;
	}
	if (err) {
		handle_free(h);
		return err;
	}
	h->writable = acc != O_RDONLY;
	h->append = (fi->flags & O_APPEND) != 0;
	h->fresh = h->writable && !h->dirty;
	h->opener = tid;
	if (h->writable || h->dirty)
		reg_add(&writers, &h->wlink);
	if (write) {
		/* private buffer: bypass the shared page cache */
		fi->direct_io = 1;
		/* page-cached readers first finish, new ones go direct (kstate.h) */
		if (!kstate_writer_open(c->kstate, ino, CFS_WRITER_WAIT_MS))
			log_printf(LOG_DEBUG,
			           "inode %llu: page-cached readers still open after %d ms",
			           (unsigned long long)ino, CFS_WRITER_WAIT_MS);
		h->gated = true;
	} else {
		fi->noflush = 1;
		if (kstate_reader_open(c->kstate, ino, h->version)) {
			h->pcached = true;
			/* pages of another version are dropped by the kernel at this open */
			fi->keep_cache = memdb_kcache_claim(c->mdb, ino, h->version);
		} else {
			/* another version is in the kernel's cache: use our snapshot */
			fi->direct_io = 1;
		}
	}
	*out = h;
	return 0;
}

static void cfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_fuse *c = ctx_of(req);
	const struct virt_entry *v = virtual_by_inode(ino);
	struct cfs_handle *h;
	int err;

	if (v) {
		open_virtual(req, v, fi);
		return;
	}
	err = open_file(c, ino, fi, fuse_req_ctx(req)->pid, &h);
	if (err == -ENOENT)
		err = -ESTALE; /* replaced by a rename since lookup: the kernel looks up again */
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT)
		handle_release(c, h); /* the opener was interrupted: no release will come */
}

static void cfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                       struct fuse_file_info *fi)
{
	struct cfs_fuse *c = ctx_of(req);
	struct memdb_result res;
	struct memdb_stat ms;
	struct cfs_handle *h;
	struct cfs_op op;
	int err;

	(void)mode; /* modes are fixed by policy */
	if (!dfsm_quorate(c->dfsm)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if ((err = name_arg_check(name))) {
		fuse_reply_err(req, -err);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = CFS_OP_CREATE;
	op.parent = parent;
	set_name(&op, name);
	err = propose(c, &op, &res);
	if (err == -EEXIST && !(fi->flags & O_EXCL)) {
		/*
		 * Lost a race with another creator: open what is there.  If
		 * nothing is there, the clash was elsewhere (the guest-id rule).
		 */
		int lerr = memdb_lookup(c->mdb, parent, name, &ms);
		if (!lerr)
			err = ms.type == MEMDB_REG ? 0 : -EISDIR;
	} else if (!err) {
		err = memdb_getattr(c->mdb, res.inode, &ms);
		/*
		 * A new file is empty: O_TRUNC has nothing to do, and must not
		 * make the handle dirty (a shell's "> file" closes a dup of it
		 * first, which would commit an empty file for nothing).
		 */
		fi->flags &= ~O_TRUNC;
	}
	if (!err)
		err = open_file(c, ms.inode, fi, fuse_req_ctx(req)->pid, &h);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}

	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.ino = ms.inode;
	e.generation = 1;
	e.attr_timeout = c->timeout;
	e.entry_timeout = c->timeout;
	attr_from_stat(c, &ms, &e.attr);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		handle_release(c, h);
}

/* ---- read, write, flush, fsync, release ---- */

static void cfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	struct cfs_handle *h = (struct cfs_handle *)(uintptr_t)fi->fh;
	(void)ino;

	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off < 0 || (size_t)off >= h->size) {
		pthread_mutex_unlock(&h->lock);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t n = h->size - (size_t)off;
	if (n > size)
		n = size;
	/* reply while holding the lock: the buffer may be reallocated by a writer */
	fuse_reply_buf(req, h->buf + off, n);
	pthread_mutex_unlock(&h->lock);
}

static void cfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                      struct fuse_file_info *fi)
{
	struct cfs_handle *h = (struct cfs_handle *)(uintptr_t)fi->fh;
	int err;
	(void)ino;

	if (!h || !h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (h->err) {
		err = h->err;
		goto out_unlock;
	}
	h->fresh = false;
	if (h->append)
		off = (off_t)h->size;
	if (off < 0 || (uint64_t)off + size > MEMDB_MAX_FILE_SIZE) {
		/* refuse, and keep the file as it was: nothing of this handle lands */
		log_printf(LOG_INFO, "write to inode %llu beyond the %d byte file limit refused",
		           (unsigned long long)h->inode, MEMDB_MAX_FILE_SIZE);
		h->err = -EFBIG;
		err = -EFBIG;
		goto out_unlock;
	}
	if ((size_t)off + size > h->size) {
		err = handle_resize(h, (size_t)off + size);
		if (err)
			goto out_unlock;
	}
	memcpy(h->buf + off, buf, size);
	h->dirty = true;
	pthread_mutex_unlock(&h->lock);
	fuse_reply_write(req, size);
	return;

out_unlock:
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, -err);
}

static void cfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_handle *h = (struct cfs_handle *)(uintptr_t)fi->fh;
	(void)ino;

	if (!h || h->virt) {
		fuse_reply_err(req, 0);
		return;
	}
	struct cfs_fuse *c = ctx_of(req); /* req is gone once answered */
	struct commit_tail t;
	int err = handle_commit(c, h, &t);
	fuse_reply_err(req, -err);
	commit_tail_run(c, &t);
}

static void cfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	cfs_flush(req, ino, fi);
}

static void cfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_handle *h = (struct cfs_handle *)(uintptr_t)fi->fh;
	(void)ino;

	if (h && !h->virt && (h->dirty || h->mtime_set) && !h->err) {
		struct commit_tail t;
		int err = handle_commit(ctx_of(req), h, &t);
		commit_tail_run(ctx_of(req), &t); /* RELEASE's reply is asynchronous anyway */
		if (err)
			log_printf(LOG_WARNING, "commit at release of inode %llu failed: %s",
			           (unsigned long long)h->inode, strerror(-err));
	}
	if (h)
		handle_release(ctx_of(req), h);
	fuse_reply_err(req, 0);
}

/*
 * The O_TRUNC of an open: the kernel sends it as a setattr(size 0) without
 * a handle, right after the OPEN, from the opening thread.  It truncates the
 * fresh writable handle that thread just opened on inode, privately (the
 * stored file changes at close, as for any write).  Returns false when there
 * is no such handle: then it is a truncate() of the path.
 */
static bool writers_truncate_fresh(uint64_t inode, pid_t tid)
{
	bool found = false;

	pthread_mutex_lock(&writers.lock);
	for (struct reglink *l = writers.head; l && !found; l = l->next) {
		struct cfs_handle *h = container_of(l, struct cfs_handle, wlink);
		if (h->inode != inode || h->opener != tid)
			continue;
		pthread_mutex_lock(&h->lock);
		if (h->fresh && !h->err) {
			h->fresh = false;
			h->size = 0;
			h->dirty = true;
			found = true;
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&writers.lock);
	return found;
}

/* ---- setattr ---- */

/* chmod may only restate the mode the policy gives the path (attr_from_stat) */
static bool mode_allowed(const struct memdb_stat *ms, mode_t mode)
{
	mode_t perm = mode & 07777;
	if (ms->type == MEMDB_DIR)
		return perm == (ms->priv ? 0700u : 0755u);
	return perm == (ms->priv ? 0600u : 0640u);
}

static void cfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                        struct fuse_file_info *fi)
{
	struct cfs_fuse *c = ctx_of(req);
	struct cfs_handle *h = fi ? (struct cfs_handle *)(uintptr_t)fi->fh : NULL;
	const int mutating = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW;
	struct memdb_stat ms;
	struct stat st;
	struct cfs_op op;
	char lockname[CFS_MAX_NAME_LEN + 1] = "";
	int err;

	if (virtual_by_inode(ino)) {
		fuse_reply_err(
		    req,
		    (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		        ? EPERM
		        : EACCES);
		return;
	}
	err = memdb_getattr(c->mdb, ino, &ms);
	if (err)
		goto out_err;
	if ((to_set & mutating) && !dfsm_quorate(c->dfsm)) {
		err = -EACCES;
		goto out_err;
	}
	if ((to_set & FUSE_SET_ATTR_MODE) && !mode_allowed(&ms, attr->st_mode)) {
		err = -EPERM;
		goto out_err;
	}
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != 0) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != c->gid)) {
		err = -EPERM;
		goto out_err;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (ms.type == MEMDB_DIR) {
			err = -EISDIR;
			goto out_err;
		}
		if (attr->st_size < 0 || attr->st_size > MEMDB_MAX_FILE_SIZE) {
			err = -EFBIG;
			goto out_err;
		}
		if (!h && attr->st_size == 0 &&
		    writers_truncate_fresh(ino, fuse_req_ctx(req)->pid)) {
			/* open(O_TRUNC): the commit at close stamps the mtime */
			to_set &= ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW);
		} else if (h && !h->virt && (h->writable || h->dirty)) {
			pthread_mutex_lock(&h->lock);
			h->fresh = false;
			err = h->err ? h->err : handle_resize(h, (size_t)attr->st_size);
			if (!err)
				h->dirty = true;
			pthread_mutex_unlock(&h->lock);
			if (err)
				goto out_err;
		} else {
			/* truncate(path): a PUT of the resized content */
			char *data;
			size_t len;
			err = memdb_read_all(c->mdb, ino, &data, &len, NULL);
			if (err)
				goto out_err;
			size_t nlen = (size_t)attr->st_size;
			char *nd = realloc(data, nlen ? nlen : 1);
			if (!nd) {
				free(data);
				err = -ENOMEM;
				goto out_err;
			}
			if (nlen > len)
				memset(nd + len, 0, nlen - len);
			memset(&op, 0, sizeof(op));
			op.type = CFS_OP_PUT;
			op.inode = ino;
			op.data = nd;
			op.data_len = (uint32_t)nlen;
			err = propose(c, &op, NULL);
			free(nd);
			if (err)
				goto out_err;
			/* our reply sets the kernel's size; old pages: see handle_commit */
		}
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		int64_t mtime =
		    (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_secs() : attr->st_mtim.tv_sec;
		bool deferred = false;
		if (h && !h->virt) {
			pthread_mutex_lock(&h->lock);
			if (h->dirty) {
				/* applied after the content is committed (cp -p, touch -r) */
				h->mtime_set = true;
				h->mtime = mtime;
				deferred = true;
			}
			pthread_mutex_unlock(&h->lock);
		}
		if (!deferred && mtime != 0)
			writers_defer_mtime(ino, mtime);
		if (!deferred) {
			if (mtime == 0 && ms.type == MEMDB_DIR)
				memdb_name(c->mdb, ino, lockname, sizeof(lockname));
			memset(&op, 0, sizeof(op));
			op.type = CFS_OP_MTIME;
			op.inode = ino;
			op.mtime = mtime;
			err = propose(c, &op, NULL);
			if (err)
				goto out_err;
		}
	}
	{
		struct memdb_stat cur;
		if (memdb_getattr(c->mdb, ino, &cur) == 0) {
			ms = cur;
		} else if (lockname[0]) {
			/* utime(lock, 0, 0) released an expired lock: drop the kernel's entry */
			kinval_entry(c->kinval, ms.parent, lockname, true);
			ms.mtime = 0;
		}
	}
	attr_from_stat(c, &ms, &st);
	fuse_reply_attr(req, &st, c->timeout);
	return;

out_err:
	fuse_reply_err(req, -err);
}

/* ---- directory operations ---- */

static void cfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct cfs_fuse *c = ctx_of(req);
	struct memdb_result res;
	struct memdb_stat ms;
	struct cfs_op op;
	int err;

	(void)mode;
	if ((err = name_arg_check(name)))
		goto out_err;
	memset(&op, 0, sizeof(op));
	op.type = CFS_OP_MKDIR;
	op.parent = parent;
	set_name(&op, name);
	err = propose(c, &op, &res);
	if (!err)
		err = memdb_getattr(c->mdb, res.inode, &ms);
	if (err)
		goto out_err;
	reply_entry_stat(req, &ms);
	return;

out_err:
	fuse_reply_err(req, -err);
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, uint16_t type)
{
	struct cfs_op op;
	int err = name_arg_check(name);

	if (!err) {
		memset(&op, 0, sizeof(op));
		op.type = type;
		op.parent = parent;
		set_name(&op, name);
		err = propose(ctx_of(req), &op, NULL);
	}
	fuse_reply_err(req, -err);
}

static void cfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, CFS_OP_UNLINK);
}

static void cfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, CFS_OP_RMDIR);
}

/*
 * Compare-and-swap for a rename over a file (doc/pmxcfs.8, "CONDITIONAL
 * RENAME"): setxattr(tmp, "user.pmxcfs.replaces-version", "<V>") makes
 * this node's next rename of tmp succeed only if the file it replaces is
 * still at version V (the version a listing or the change feed showed);
 * else the rename fails with EAGAIN and nothing changes.  The expectation
 * is this node's own (not replicated: the rename op carries it), kept for
 * the last few inodes.
 */
#define CFS_XATTR_IFVERSION "user.pmxcfs.replaces-version"
#define IFV_SLOTS 64

static struct {
	pthread_mutex_t lock;
	struct {
		uint64_t inode, version;
	} slot[IFV_SLOTS];
	unsigned next;
} ifv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void ifv_set(uint64_t inode, uint64_t version)
{
	pthread_mutex_lock(&ifv.lock);
	unsigned i;
	for (i = 0; i < IFV_SLOTS && ifv.slot[i].inode != inode; i++)
		;
	if (i == IFV_SLOTS)
		i = ifv.next++ % IFV_SLOTS;
	ifv.slot[i].inode = inode;
	ifv.slot[i].version = version;
	pthread_mutex_unlock(&ifv.lock);
}

/* Take inode's expectation (it is used once): true with *version. */
static bool ifv_take(uint64_t inode, uint64_t *version)
{
	bool found = false;
	pthread_mutex_lock(&ifv.lock);
	for (unsigned i = 0; i < IFV_SLOTS && !found; i++)
		if (inode && ifv.slot[i].inode == inode) {
			*version = ifv.slot[i].version;
			ifv.slot[i].inode = 0;
			found = true;
		}
	pthread_mutex_unlock(&ifv.lock);
	return found;
}

static void cfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                       const char *newname, unsigned int flags)
{
	struct cfs_op op;
	int err;

	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, RENAME_WHITEOUT */
		return;
	}
	if ((err = name_arg_check(name)) || (err = name_arg_check(newname))) {
		fuse_reply_err(req, -err);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = CFS_OP_RENAME;
	op.parent = parent;
	set_name(&op, name);
	op.newparent = newparent;
	op.newname = newname;
	op.newname_len = (uint32_t)strlen(newname);
	if (flags & RENAME_NOREPLACE)
		op.flags |= CFS_OP_F_NOREPLACE;
	struct memdb_stat src;
	uint64_t want;
	if (memdb_lookup(ctx_of(req)->mdb, parent, name, &src) == 0 && ifv_take(src.inode, &want)) {
		op.flags |= CFS_OP_F_IFVERSION;
		op.mtime = (int64_t)want;
	}
	err = propose(ctx_of(req), &op, NULL);
	fuse_reply_err(req, -err);
}

static struct cfs_dirhandle *dirhandle_new(void)
{
	struct cfs_dirhandle *d = calloc(1, sizeof(*d));
	if (d)
		reg_add(&dirhandles, &d->alink);
	return d;
}

static void dirhandle_free(struct cfs_dirhandle *d)
{
	if (!d)
		return;
	reg_del(&dirhandles, &d->alink);
	dirhandle_destroy(d);
}

static int dirhandle_add(struct cfs_dirhandle *d, size_t *cap, uint64_t inode, mode_t type,
                         const char *name)
{
	if (d->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *ne = realloc(d->ents, ncap * sizeof(*d->ents));
		if (!ne)
			return -ENOMEM;
		d->ents = ne;
		*cap = ncap;
	}
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].inode = inode;
	d->ents[d->n].type = type;
	d->n++;
	return 0;
}

static void cfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_fuse *c = ctx_of(req);
	struct cfs_dirhandle *d;
	struct memdb_dirent *ents = NULL;
	struct memdb_stat ms;
	size_t n = 0, cap = 0;
	int err;

	err = memdb_getattr(c->mdb, ino, &ms);
	if (!err && ms.type != MEMDB_DIR)
		err = -ENOTDIR;
	if (!err)
		err = memdb_readdir(c->mdb, ino, &ents, &n);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	d = dirhandle_new();
	err = d ? 0 : -ENOMEM;
	if (!err)
		err = dirhandle_add(d, &cap, ino, S_IFDIR, ".");
	if (!err)
		err = dirhandle_add(d, &cap, ms.parent ? ms.parent : ino, S_IFDIR, "..");
	for (size_t i = 0; !err && ino == MEMDB_ROOT_INODE && i < VIRT_COUNT; i++) {
		const struct virt_entry *v = virtual_at(i);
		err = dirhandle_add(d, &cap, v->inode, v->link ? S_IFLNK : S_IFREG, v->name);
	}
	for (size_t i = 0; !err && i < n; i++)
		err = dirhandle_add(d, &cap, ents[i].inode,
		                    ents[i].type == MEMDB_DIR ? S_IFDIR : S_IFREG, ents[i].name);
	memdb_dirents_free(ents, n);
	if (err) {
		dirhandle_free(d);
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dirhandle_free(d);
}

static void cfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
	struct cfs_dirhandle *d = (struct cfs_dirhandle *)(uintptr_t)fi->fh;
	char *buf;
	size_t used = 0;
	(void)ino;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		struct stat st;
		memset(&st, 0, sizeof(st));
		st.st_ino = d->ents[i].inode;
		st.st_mode = d->ents[i].type;
		size_t need = fuse_add_direntry(req, buf + used, size - used, d->ents[i].name, &st,
		                                (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void cfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirhandle_free((struct cfs_dirhandle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- the rest ---- */

static void cfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct cfs_fuse *c = ctx_of(req);
	const struct virt_entry *v = virtual_by_inode(ino);
	struct virtual_ctx vc;
	char *target;
	size_t len;

	if (!v || !v->link) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	virtual_ctx_of(c, &vc);
	if (virtual_render(&vc, v, &target, &len)) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fuse_reply_readlink(req, target);
	free(target);
}

static void cfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct cfs_fuse *c = ctx_of(req);
	struct statvfs sv;
	uint64_t used, inodes;
	(void)ino;

	memdb_usage(c->mdb, &used, &inodes);
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = MEMDB_MAX_TOTAL_SIZE / 4096;
	sv.f_bfree = sv.f_bavail = (MEMDB_MAX_TOTAL_SIZE - used) / 4096;
	sv.f_files = MEMDB_MAX_INODES;
	sv.f_ffree = sv.f_favail = MEMDB_MAX_INODES - inodes;
	sv.f_namemax = CFS_MAX_NAME_LEN;
	fuse_reply_statfs(req, &sv);
}

static void cfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM); /* hard links: not supported (as the reference) */
}

static void cfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, ENOSYS); /* user symlinks: not supported (as the reference) */
}

static void cfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, ENOSYS); /* device files, fifos, sockets: not supported */
}

static void cfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                         size_t size, int flags)
{
	char buf[24];
	struct memdb_stat st;
	(void)flags;
	if (strcmp(name, CFS_XATTR_IFVERSION) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (size == 0 || size >= sizeof(buf)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memcpy(buf, value, size);
	buf[size] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || buf[0] == '-') {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int err = memdb_getattr(ctx_of(req)->mdb, ino, &st);
	if (!err && st.type != MEMDB_REG)
		err = -EINVAL;
	if (!err)
		ifv_set(ino, v);
	fuse_reply_err(req, -err);
}

static void cfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/*
	 * No atomic O_TRUNC: with it the kernel sets the file's shared cached
	 * size to 0 at the writer's open, and readers of the old content read
	 * nothing until the writer closes.  Without it the O_TRUNC arrives as a
	 * setattr(size 0) right after the open, which writers_truncate_fresh()
	 * applies to the new handle's private buffer.
	 */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &=
	    ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * No automatic page invalidation when a GETATTR shows a new mtime:
	 * pmxcfs decides which pages the kernel keeps (keep_cache per open,
	 * kstate, the store after a commit), and the first GETATTR after a
	 * commit would otherwise throw the stored new content away.  A size
	 * change still drops pages (the kernel does that regardless).
	 */
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS); /* local locks */
}

static const struct fuse_lowlevel_ops ops = {
	.init = cfs_init,
	.lookup = cfs_lookup,
	.forget = cfs_forget,
	.forget_multi = cfs_forget_multi,
	.getattr = cfs_getattr,
	.setattr = cfs_setattr,
	.readlink = cfs_readlink,
	.mknod = cfs_mknod,
	.mkdir = cfs_mkdir,
	.unlink = cfs_unlink,
	.rmdir = cfs_rmdir,
	.symlink = cfs_symlink,
	.rename = cfs_rename,
	.link = cfs_link,
	.open = cfs_open,
	.read = cfs_read,
	.write = cfs_write,
	.flush = cfs_flush,
	.release = cfs_release,
	.fsync = cfs_fsync,
	.opendir = cfs_opendir,
	.readdir = cfs_readdir,
	.releasedir = cfs_releasedir,
	.statfs = cfs_statfs,
	.setxattr = cfs_setxattr,
	.create = cfs_create,
};

const struct fuse_lowlevel_ops *cfs_fuse_ops(void)
{
	return &ops;
}
