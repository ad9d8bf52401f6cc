/*
 * fuse_floor.c - a minimal in-memory FUSE file system: the floor for what
 * any FUSE daemon can reach on this machine, to put pmxcfs's benchmark
 * figures in perspective.  Not a test; run it by hand:
 *
 *   fuse_floor [-s | -i IDLE] MOUNTPOINT &   (foreground; SIGTERM unmounts)
 *   bench_smallfile --dir MOUNTPOINT --baseline /var/tmp/somedir
 *
 * It answers every request at once from memory, with the same FUSE set-up
 * as pmxcfs (low-level API, multi-threaded loop with clone_fd, 8 idle and
 * at most 64 threads, 1 s entry/attr timeouts, atomic O_TRUNC, read-only
 * opens with noflush and keep_cache while the content is unchanged,
 * writable opens with direct_io) but nothing else: no database, no commit,
 * no helper threads, no invalidation notifications.  One global mutex.
 * With -s the loop is single-threaded instead (fuse_session_loop), with
 * -i IDLE the multi-threaded loop keeps IDLE idle threads instead of 8: to
 * see what the thread hand-offs of the multi-threaded loop cost.
 * Inode numbers are never reused; file content lives in the inode (no
 * per-handle buffer), so it is NOT atomic at close like pmxcfs.
 */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT 1.0
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
	e.attr_timeout = TIMEOUT;
	e.entry_timeout = TIMEOUT;
	fill_stat(n, &e.attr);
	fuse_reply_entry(req, &e);
}

static void ff_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
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
		e.entry_timeout = TIMEOUT;
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
		fuse_reply_attr(req, &st, TIMEOUT);
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
		fuse_reply_attr(req, &st, TIMEOUT);
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
		e.attr_timeout = TIMEOUT;
		e.entry_timeout = TIMEOUT;
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
	fuse_reply_err(req, 0);
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

int main(int argc, char **argv)
{
	bool single = false;
	unsigned idle = 8;
	int opt;
	while ((opt = getopt(argc, argv, "si:")) != -1) {
		if (opt == 's') {
			single = true;
		} else if (opt == 'i') {
			idle = (unsigned)atoi(optarg);
		} else {
			fprintf(stderr, "usage: fuse_floor [-s | -i IDLE] MOUNTPOINT\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: fuse_floor [-s | -i IDLE] MOUNTPOINT\n");
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
	struct fuse_loop_config *cfg = single ? NULL : fuse_loop_cfg_create();
	if (single) {
		rc = fuse_session_loop(se) < 0;
	} else if (cfg) {
		fuse_loop_cfg_set_clone_fd(cfg, 1);
		fuse_loop_cfg_set_idle_threads(cfg, idle);
		fuse_loop_cfg_set_max_threads(cfg, 64);
		rc = fuse_session_loop_mt(se, cfg) < 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return rc;
}
