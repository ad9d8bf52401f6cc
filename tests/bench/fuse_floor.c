/*
 * fuse_floor.c - a minimal in-memory FUSE file system: the floor for what
 * any FUSE daemon can reach on this machine, to put pmxcfs's benchmark
 * figures in perspective.  Not a test; run it by hand:
 *
 *   fuse_floor [OPTIONS] MOUNTPOINT &   (foreground; SIGTERM unmounts)
 *   bench_smallfile --dir MOUNTPOINT --baseline /var/tmp/somedir
 *
 * It answers every request at once from memory, with the same FUSE set-up
 * as pmxcfs (low-level API, multi-threaded loop with clone_fd, 8 idle and
 * at most 64 threads, 1 s entry/attr timeouts, atomic O_TRUNC, read-only
 * opens with noflush and keep_cache while the content is unchanged,
 * writable opens with direct_io) but nothing else: no database, no commit,
 * no helper threads, no invalidation notifications.  One global mutex.
 *
 * Options (fuse_floor -h) change one thing each, to measure what it buys:
 *   -s          single-threaded fuse_session_loop
 *   -i IDLE     multi-threaded loop with IDLE idle threads instead of 8
 *   -C          multi-threaded loop without clone_fd
 *   -p USEC     own loop on a non-blocking /dev/fuse fd that busy-polls up
 *               to USEC us for the next request before sleeping in ppoll
 *               (see poll_loop_run); -T N runs it on N threads
 *   -a CPUS     pin the daemon to CPUS (sched_setaffinity)
 *   -t SECS     entry/attr timeout instead of 1 s
 *   -n          zero-message opens: OPEN and FLUSH answer ENOSYS, so the
 *               kernel stops sending OPEN/RELEASE/FLUSH for regular files
 *               (no per-handle state, no direct_io, no atomic_o_trunc)
 * At exit it prints its CPU time (and, with -p, how many requests were
 * caught while spinning) on stderr.
 * Inode numbers are never reused; file content lives in the inode (no
 * per-handle buffer), so it is NOT atomic at close like pmxcfs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, sched_setaffinity */
#endif
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_SIZE (1u << 20)
#define MAX_NODES (1u << 20)
#define MAX_FILE (1024 * 1024)

struct node {
	uint64_t ino;
	uint64_t parent;
	char *name; /* NULL: removed */
	bool dir;
	char *data;
	size_t size;
	uint64_t version, kcache_version;
	struct timespec mtime;
	struct node *hnext; /* (parent, name) hash chain */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double cache_timeout = 1.0; /* entry/attr timeout, -t */
static bool no_open; /* -n: zero-message opens (ENOSYS to OPEN and FLUSH) */
static struct node **nodes; /* by inode, 1-based */
static uint64_t nnodes;
static struct node **hash;

static uint32_t hash_of(uint64_t parent, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)parent;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h & (HASH_SIZE - 1);
}

static struct node *find(uint64_t parent, const char *name)
{
	for (struct node *n = hash[hash_of(parent, name)]; n; n = n->hnext)
		if (n->parent == parent && n->name && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static struct node *by_ino(uint64_t ino)
{
	if (ino < 1 || ino > nnodes)
		return NULL;
	struct node *n = nodes[ino - 1];
	return n && n->name ? n : NULL;
}

static void hash_add(struct node *n)
{
	uint32_t h = hash_of(n->parent, n->name);
	n->hnext = hash[h];
	hash[h] = n;
}

static void hash_del(struct node *n)
{
	struct node **pp = &hash[hash_of(n->parent, n->name)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	n->hnext = NULL;
}

static struct node *node_new(uint64_t parent, const char *name, bool dir)
{
	if (nnodes >= MAX_NODES)
		return NULL;
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->ino = ++nnodes;
	n->parent = parent;
	n->dir = dir;
	n->version = 1;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	nodes[n->ino - 1] = n;
	if (parent)
		hash_add(n);
	return n;
}

static bool dir_empty(uint64_t ino)
{
	for (uint64_t i = 0; i < nnodes; i++)
		if (nodes[i] && nodes[i]->name && nodes[i]->parent == ino)
			return false;
	return true;
}

static void fill_stat(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = n->dir ? 2 : 1;
	st->st_size = (off_t)n->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim = n->mtime;
	st->st_ctim = n->mtime;
	st->st_atim = n->mtime;
}

static void reply_entry(fuse_req_t req, const struct node *n)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.ino = n->ino;
	e.generation = 1;
	e.attr_timeout = cache_timeout;
	e.entry_timeout = cache_timeout;
	fill_stat(n, &e.attr);
	fuse_reply_entry(req, &e);
}

static void ff_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	/* with -n no OPEN is sent, so an O_TRUNC must come as SETATTR: the
	 * kernel skips that SETATTR when atomic_o_trunc is on */
	if ((conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) && !no_open)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (no_open && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT))
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	conn->want &=
	    ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

static void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pthread_mutex_lock(&lock);
	struct node *n = find(parent, name);
	if (n) {
		reply_entry(req, n);
	} else {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.entry_timeout = cache_timeout;
		fuse_reply_entry(req, &e);
	}
	pthread_mutex_unlock(&lock);
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	pthread_mutex_lock(&lock);
	struct node *n = by_ino(ino);
	if (n)
		fill_stat(n, &st);
	pthread_mutex_unlock(&lock);
	if (n)
		fuse_reply_attr(req, &st, cache_timeout);
	else
		fuse_reply_err(req, ENOENT);
}

static void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct stat st;
	int err = 0;
	(void)fi;
	pthread_mutex_lock(&lock);
	struct node *n = by_ino(ino);
	if (!n) {
		err = ENOENT;
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		if (n->dir || attr->st_size < 0 || attr->st_size > MAX_FILE) {
			err = n->dir ? EISDIR : EFBIG;
		} else {
			char *d =
			    realloc(n->data, (size_t)attr->st_size ? (size_t)attr->st_size : 1);
			if (!d) {
				err = ENOMEM;
			} else {
				if ((size_t)attr->st_size > n->size)
					memset(d + n->size, 0, (size_t)attr->st_size - n->size);
				n->data = d;
				n->size = (size_t)attr->st_size;
				n->version++;
			}
		}
	}
	if (!err)
		fill_stat(n, &st);
	pthread_mutex_unlock(&lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, cache_timeout);
}

static void ff_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	pthread_mutex_lock(&lock);
	struct node *n = NULL;
	int err = 0;
	if (!by_ino(parent))
		err = ENOENT;
	else if (find(parent, name))
		err = EEXIST;
	else if (!(n = node_new(parent, name, true)))
		err = ENOSPC;
	if (!err)
		reply_entry(req, n);
	pthread_mutex_unlock(&lock);
	if (err)
		fuse_reply_err(req, err);
}

static void remove_node(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	int err = 0;
	pthread_mutex_lock(&lock);
	struct node *n = find(parent, name);
	if (!n)
		err = ENOENT;
	else if (dir && !n->dir)
		err = ENOTDIR;
	else if (!dir && n->dir)
		err = EISDIR;
	else if (dir && !dir_empty(n->ino))
		err = ENOTEMPTY;
	if (!err) {
		hash_del(n);
		free(n->name);
		n->name = NULL; /* the node stays: open handles may still use it */
	}
	pthread_mutex_unlock(&lock);
	fuse_reply_err(req, err);
}

static void ff_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, false);
}

static void ff_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, true);
}

static void ff_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
	int err = 0;
	pthread_mutex_lock(&lock);
	struct node *n = find(parent, name), *t = find(newparent, newname);
	char *nn = strdup(newname);
	if (!nn)
		err = ENOMEM;
	else if (!n)
		err = ENOENT;
	else if (!by_ino(newparent))
		err = ENOENT;
	else if (flags)
		err = EINVAL;
	else if (t && (t->dir || n->dir))
		err = EISDIR;
	if (!err) {
		if (t && t != n) {
			hash_del(t);
			free(t->name);
			t->name = NULL;
		}
		hash_del(n);
		free(n->name);
		n->name = nn;
		nn = NULL;
		n->parent = newparent;
		hash_add(n);
	}
	pthread_mutex_unlock(&lock);
	free(nn);
	fuse_reply_err(req, err);
}

static void set_open_flags(struct node *n, struct fuse_file_info *fi)
{
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	if (write) {
		fi->direct_io = 1;
	} else {
		fi->keep_cache = n->kcache_version == n->version;
		n->kcache_version = n->version;
		fi->noflush = 1;
	}
}

static void ff_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	(void)mode;
	pthread_mutex_lock(&lock);
	struct node *n = find(parent, name);
	int err = 0;
	if (n && (fi->flags & O_EXCL))
		err = EEXIST;
	else if (!n && !by_ino(parent))
		err = ENOENT;
	else if (!n && !(n = node_new(parent, name, false)))
		err = ENOSPC;
	if (!err) {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.ino = n->ino;
		e.generation = 1;
		e.attr_timeout = cache_timeout;
		e.entry_timeout = cache_timeout;
		if (fi->flags & O_TRUNC)
			n->size = 0;
		fill_stat(n, &e.attr);
		set_open_flags(n, fi);
		fi->fh = 0;
		fuse_reply_create(req, &e, fi);
	}
	pthread_mutex_unlock(&lock);
	if (err)
		fuse_reply_err(req, err);
}

static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err = 0;
	if (no_open) {
		/* the kernel sets fc->no_open: no OPEN (and no RELEASE) for any
		 * later open of a regular file; handles get FOPEN_KEEP_CACHE */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	pthread_mutex_lock(&lock);
	struct node *n = by_ino(ino);
	if (!n)
		err = ENOENT;
	else if (n->dir)
		err = EISDIR;
	if (!err) {
		if (fi->flags & O_TRUNC) {
			n->size = 0;
			n->version++;
		}
		set_open_flags(n, fi);
	}
	pthread_mutex_unlock(&lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_open(req, fi);
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(void)fi;
	pthread_mutex_lock(&lock);
	struct node *n = nodes && ino >= 1 && ino <= nnodes ? nodes[ino - 1] : NULL;
	if (!n || off < 0 || (size_t)off >= n->size) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		size_t len = n->size - (size_t)off;
		fuse_reply_buf(req, n->data + off, len < size ? len : size);
	}
	pthread_mutex_unlock(&lock);
}

static void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	int err = 0;
	(void)fi;
	pthread_mutex_lock(&lock);
	struct node *n = ino >= 1 && ino <= nnodes ? nodes[ino - 1] : NULL;
	if (!n)
		err = ENOENT;
	else if (off < 0 || (uint64_t)off + size > MAX_FILE)
		err = EFBIG;
	if (!err && (size_t)off + size > n->size) {
		char *d = realloc(n->data, (size_t)off + size);
		if (!d) {
			err = ENOMEM;
		} else {
			if ((size_t)off > n->size)
				memset(d + n->size, 0, (size_t)off - n->size);
			n->data = d;
			n->size = (size_t)off + size;
		}
	}
	if (!err) {
		memcpy(n->data + off, buf, size);
		n->version++;
		clock_gettime(CLOCK_REALTIME, &n->mtime);
	}
	pthread_mutex_unlock(&lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

static void ff_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	/* -n: handles opened without OPEN have no FOPEN_NOFLUSH; ENOSYS makes
	 * the kernel stop sending FLUSH (fc->no_flush) */
	fuse_reply_err(req, no_open ? ENOSYS : 0);
}

static void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.init = ff_init,
	.lookup = ff_lookup,
	.getattr = ff_getattr,
	.setattr = ff_setattr,
	.mkdir = ff_mkdir,
	.unlink = ff_unlink,
	.rmdir = ff_rmdir,
	.rename = ff_rename,
	.create = ff_create,
	.open = ff_open,
	.read = ff_read,
	.write = ff_write,
	.flush = ff_flush,
	.release = ff_release,
};

/*
 * -p USEC: our own loop on a non-blocking /dev/fuse fd (fuse_session_fd,
 * fuse_session_receive_buf / fuse_session_process_buf).  After a request
 * (and after every wake-up) a thread keeps reading for up to USEC
 * microseconds before it sleeps in ppoll(): while requests come in back to
 * back (one client doing open/read/close in a loop) the daemon never
 * sleeps, so the kernel does not have to wake it (a cross-CPU wake-up of a
 * halted vCPU) for each request.  Idle, it costs nothing: it sleeps in
 * ppoll.  -p 0 is the same loop without spinning.  -T N runs N threads of
 * it on the one fd (a reply must be written to the fd its request was read
 * from, so no clone_fd here); only one of them spins at a time.
 *
 * Shutdown: the signal handlers of fuse_set_signal_handlers() call
 * fuse_session_exit().  The workers keep SIGTERM/SIGINT/SIGHUP blocked
 * except inside ppoll() (atomically unblocked there), so a signal that
 * arrives while a thread spins or works stays pending until that thread
 * sleeps and then interrupts the sleep: no lost wake-up between the
 * fuse_session_exited() check and the sleep.  The thread that sees the
 * session end (signal, or ENODEV on unmount: fuse_session_receive_buf then
 * calls fuse_session_exit and returns 0) writes an eventfd that every
 * thread polls too, so that they all leave.
 */
struct poll_loop {
	struct fuse_session *se;
	int fd; /* /dev/fuse, O_NONBLOCK */
	int stopfd; /* eventfd, readable once the session ends */
	uint64_t spin_ns;
	sigset_t sleepmask; /* signal mask inside ppoll */
	atomic_int spinner; /* a thread spins */
	atomic_int err; /* first fatal receive error (-errno) */
	atomic_ulong nreq, nspin, nsleep;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* one non-blocking receive; >0: a request in buf, -EAGAIN: none, 0: the
 * session ended, <0: error */
static int receive(struct poll_loop *pl, struct fuse_buf *buf)
{
	int res;
	do
		res = fuse_session_receive_buf(pl->se, buf);
	while (res == -EINTR && !fuse_session_exited(pl->se));
	return res == -EINTR ? 0 : res;
}

static void *poll_worker(void *arg)
{
	struct poll_loop *pl = arg;
	struct fuse_buf buf = { .mem = NULL };
	struct pollfd pfd[2] = {
		{ .fd = pl->fd, .events = POLLIN },
		{ .fd = pl->stopfd, .events = POLLIN },
	};
	while (!fuse_session_exited(pl->se)) {
		int res = receive(pl, &buf);
		if (res == -EAGAIN && pl->spin_ns && !atomic_exchange(&pl->spinner, 1)) {
			uint64_t end = mono_ns() + pl->spin_ns;
			do {
				cpu_relax();
				res = receive(pl, &buf);
			} while (res == -EAGAIN && mono_ns() < end && !fuse_session_exited(pl->se));
			atomic_store(&pl->spinner, 0);
			if (res > 0)
				atomic_fetch_add(&pl->nspin, 1);
		}
		if (res > 0) {
			atomic_fetch_add(&pl->nreq, 1);
			fuse_session_process_buf(pl->se, &buf);
			continue;
		}
		if (res == 0)
			break;
		if (res != -EAGAIN) {
			int zero = 0;
			atomic_compare_exchange_strong(&pl->err, &zero, res);
			break;
		}
		atomic_fetch_add(&pl->nsleep, 1);
		if (ppoll(pfd, 2, NULL, &pl->sleepmask) < 0 && errno != EINTR) {
			int zero = 0;
			atomic_compare_exchange_strong(&pl->err, &zero, -errno);
			break;
		}
		if (pfd[1].revents)
			break;
	}
	fuse_session_exit(pl->se);
	if (eventfd_write(pl->stopfd, 1) != 0)
		perror("fuse_floor: eventfd_write");
	free(buf.mem);
	return NULL;
}

static int poll_loop_run(struct fuse_session *se, unsigned spin_us, unsigned nthreads)
{
	struct poll_loop pl = { .se = se, .fd = fuse_session_fd(se), .spin_ns = spin_us * 1000ull };
	int fl = fcntl(pl.fd, F_GETFL);
	if (fl < 0 || fcntl(pl.fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		perror("fuse_floor: O_NONBLOCK on /dev/fuse");
		return -1;
	}
	pl.stopfd = eventfd(0, EFD_CLOEXEC);
	if (pl.stopfd < 0) {
		perror("fuse_floor: eventfd");
		return -1;
	}
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old); /* inherited by the workers */
	pl.sleepmask = old;
	sigdelset(&pl.sleepmask, SIGTERM);
	sigdelset(&pl.sleepmask, SIGINT);
	sigdelset(&pl.sleepmask, SIGHUP);
	pthread_t *tid = calloc(nthreads, sizeof(*tid));
	unsigned started = 0;
	if (tid)
		for (; started + 1 < nthreads; started++)
			if (pthread_create(&tid[started], NULL, poll_worker, &pl) != 0)
				break;
	poll_worker(&pl);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(pl.stopfd);
	fprintf(stderr,
	        "fuse_floor: poll loop: %lu requests, %lu of them caught spinning, %lu sleeps\n",
	        (unsigned long)pl.nreq, (unsigned long)pl.nspin, (unsigned long)pl.nsleep);
	if (pl.err)
		fprintf(stderr, "fuse_floor: receiving: %s\n", strerror(-pl.err));
	return pl.err ? -1 : 0;
}

static int set_affinity(const char *list)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	char *end;
	for (const char *p = list; *p; p = end + (*end == ',')) {
		long c = strtol(p, &end, 10);
		if (end == p || c < 0 || c >= CPU_SETSIZE || (*end && *end != ','))
			return -1;
		CPU_SET((int)c, &set);
	}
	return sched_setaffinity(0, sizeof(set), &set);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: fuse_floor [-s | -p USEC [-T N] | [-C] [-i IDLE]] [-a CPUS] [-t SECS] [-n]\n"
	    "                  MOUNTPOINT\n"
	    "  (default)  multi-threaded loop, clone_fd, 8 idle threads (as pmxcfs)\n"
	    "  -s         single-threaded fuse_session_loop\n"
	    "  -i IDLE    multi-threaded loop with IDLE idle threads\n"
	    "  -C         multi-threaded loop without clone_fd\n"
	    "  -p USEC    own loop on a non-blocking fd: spin up to USEC us for the next\n"
	    "             request before sleeping in ppoll (0: never spin)\n"
	    "  -T N       -p with N threads on the one fd (default 1)\n"
	    "  -a CPUS    pin the daemon (all its threads) to CPUS, e.g. 1 or 0,1\n"
	    "  -t SECS    entry/attr timeout (default 1)\n"
	    "  -n         zero-message opens: ENOSYS to OPEN and FLUSH (no atomic_o_trunc)\n"
	    "SIGTERM/SIGINT unmount and exit; CPU time used is printed at exit.\n");
}

int main(int argc, char **argv)
{
	bool single = false, clone_fd = true;
	unsigned idle = 8, nthreads = 1;
	long spin_us = -1;
	const char *cpus = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "si:Cp:T:a:t:nh")) != -1) {
		switch (opt) {
		case 's':
			single = true;
			break;
		case 'i':
			idle = (unsigned)atoi(optarg);
			break;
		case 'C':
			clone_fd = false;
			break;
		case 'p':
			spin_us = atol(optarg);
			break;
		case 'T':
			nthreads = (unsigned)atoi(optarg);
			break;
		case 'a':
			cpus = optarg;
			break;
		case 't':
			cache_timeout = atof(optarg);
			break;
		case 'n':
			no_open = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || spin_us < -1 || spin_us > 1000000 || nthreads < 1 ||
	    nthreads > 64 || cache_timeout < 0 || (single && spin_us >= 0)) {
		usage(stderr);
		return 2;
	}
	if (cpus && set_affinity(cpus) != 0) {
		fprintf(stderr, "fuse_floor: bad CPU list or sched_setaffinity failed: %s\n", cpus);
		return 2;
	}
	const char *mountpoint = argv[optind];
	nodes = calloc(MAX_NODES, sizeof(*nodes));
	hash = calloc(HASH_SIZE, sizeof(*hash));
	if (!nodes || !hash || !node_new(0, "", true)) {
		fprintf(stderr, "fuse_floor: out of memory\n");
		return 1;
	}
	char *fargv[] = { argv[0], "-o", "default_permissions,fsname=fuse_floor", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	fuse_opt_free_args(&args);
	if (!se) {
		fprintf(stderr, "fuse_floor: cannot create the session\n");
		return 1;
	}
	int rc = 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, mountpoint) != 0) {
		fprintf(stderr, "fuse_floor: cannot mount at %s\n", mountpoint);
		goto out_handlers;
	}
	if (single) {
		rc = fuse_session_loop(se) < 0;
	} else if (spin_us >= 0) {
		rc = poll_loop_run(se, (unsigned)spin_us, nthreads) < 0;
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		if (cfg) {
			fuse_loop_cfg_set_clone_fd(cfg, clone_fd);
			fuse_loop_cfg_set_idle_threads(cfg, idle);
			fuse_loop_cfg_set_max_threads(cfg, 64);
			rc = fuse_session_loop_mt(se, cfg) < 0;
			fuse_loop_cfg_destroy(cfg);
		}
	}
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(stderr, "fuse_floor: cpu user %.3f s, sys %.3f s\n",
		        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return rc;
}
