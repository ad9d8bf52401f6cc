/*
 * main.c - the pmxcfs daemon: options, single-instance lock, start-up
 * (load the database, create the layout), the FUSE session, shutdown.
 *
 *   pmxcfs [-f] [-l] [-d] [--mountpoint DIR] [--db FILE] [--nodename NAME]
 *
 * Start-up order: lock file -> database open + load (refuse on any error) ->
 * ordering layer -> layout (as ordinary ops) -> mount -> daemonize -> threads
 * (kinval, FUSE workers: after the fork) -> serve.
 * SIGTERM/SIGINT/SIGHUP end the session; the apply queue is drained, the
 * mount removed and the database closed before exit.
 */
#define LOG_SUBSYS "main"
#include "pmxcfs/cfs_fuse.h"
#include "pmxcfs/cluster.h"
#include "pmxcfs/database.h"
#include "pmxcfs/dfsm.h"
#include "pmxcfs/feed.h"
#include "pmxcfs/ipcs.h"
#include "pmxcfs/reqloop.h"
#include "pmxcfs/kinval.h"
#include "pmxcfs/log.h"
#include "pmxcfs/memdb.h"
#include "pmxcfs/pathname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PMXCFS_VERSION "0.1.0"
#define DEFAULT_MOUNTPOINT "/etc/pve"
#define DEFAULT_DB "/var/lib/pve-cluster/config.db"

struct options {
	bool foreground;
	bool local;
	bool debug;
	const char *mountpoint;
	const char *db;
	char nodename[HOST_NAME_MAX + 1];
	unsigned spin_usec;
	unsigned verify_secs;
	const char *ipc_name;
	gid_t ipc_gid;
	unsigned long feed_history;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pmxcfs [-f] [-l] [-d] [--mountpoint DIR] [--db FILE] [--nodename NAME]\n"
	        "\n"
	        "  -f, --foreground     stay in the foreground (log to stderr too)\n"
	        "  -l, --local          local mode: no cluster, always quorate\n"
	        "  -d, --debug          log debug messages\n"
	        "      --mountpoint DIR mount here (default " DEFAULT_MOUNTPOINT ")\n"
	        "      --db FILE        database file (default " DEFAULT_DB ")\n"
	        "      --nodename NAME  this node's name (default: the short host name)\n"
	        "      --verify-secs N  cluster mode: compare checksums with the other\n"
	        "                       nodes every N seconds (default 300; 0: never;\n"
	        "                       SIGUSR1: now)\n"
	        "      --ipc-name NAME  the IPC service name (default $PMXCFS_IPC_NAME,\n"
	        "                       else " IPC_DEFAULT_NAME ")\n"
	        "      --ipc-group GRP  also let members of group GRP use the IPC\n"
	        "                       (status, watch, cluster log); default root only\n"
	        "      --feed-history N changes kept for watchers to resume from\n"
	        "                       (default 65536)\n"
	        "      --spin-usec N    after a request, poll for the next one for N\n"
	        "                       microseconds before sleeping (default 50; 0: never)\n"
	        "  -h, --help           this text\n"
	        "  -V, --version        print the version\n");
}

static bool nodename_valid(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 63 || n[0] == '-' || n[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = n[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_MOUNTPOINT = 256,
		OPT_DB,
		OPT_NODENAME,
		OPT_SPIN,
		OPT_VERIFY,
		OPT_IPC_NAME,
		OPT_IPC_GROUP,
		OPT_FEED
	};
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "local", no_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "mountpoint", required_argument, NULL, OPT_MOUNTPOINT },
		{ "db", required_argument, NULL, OPT_DB },
		{ "nodename", required_argument, NULL, OPT_NODENAME },
		{ "spin-usec", required_argument, NULL, OPT_SPIN },
		{ "verify-secs", required_argument, NULL, OPT_VERIFY },
		{ "ipc-name", required_argument, NULL, OPT_IPC_NAME },
		{ "ipc-group", required_argument, NULL, OPT_IPC_GROUP },
		{ "feed-history", required_argument, NULL, OPT_FEED },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->mountpoint = DEFAULT_MOUNTPOINT;
	o->db = DEFAULT_DB;
	o->spin_usec = REQLOOP_DEFAULT_SPIN_USEC;
	o->verify_secs = 300;
	o->ipc_name = getenv("PMXCFS_IPC_NAME");
	if (!o->ipc_name || !o->ipc_name[0])
		o->ipc_name = IPC_DEFAULT_NAME;
	o->ipc_gid = (gid_t)-1;
	o->feed_history = FEED_DEFAULT_EVENTS;
	while ((ch = getopt_long(argc, argv, "fldhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->foreground = true;
			break;
		case 'l':
			o->local = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("pmxcfs %s\n", PMXCFS_VERSION);
			exit(0);
		case OPT_MOUNTPOINT:
			o->mountpoint = optarg;
			break;
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_NODENAME:
			snprintf(o->nodename, sizeof(o->nodename), "%s", optarg);
			break;
		case OPT_VERIFY: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v > 86400 || optarg[0] == '-') {
				fprintf(stderr, "pmxcfs: invalid --verify-secs '%s' (0..86400)\n",
				        optarg);
				return -1;
			}
			o->verify_secs = (unsigned)v;
			break;
		}
		case OPT_IPC_NAME:
			if (!optarg[0] || strlen(optarg) > 48 || strchr(optarg, '/')) {
				fprintf(stderr,
				        "pmxcfs: invalid --ipc-name '%s' (1..48 bytes, no '/')\n",
				        optarg);
				return -1;
			}
			o->ipc_name = optarg;
			break;
		case OPT_IPC_GROUP: {
			struct group *g = getgrnam(optarg);
			if (!g) {
				fprintf(stderr, "pmxcfs: --ipc-group: no group '%s'\n", optarg);
				return -1;
			}
			o->ipc_gid = g->gr_gid;
			break;
		}
		case OPT_FEED: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 16 || v > 16777216 ||
			    optarg[0] == '-') {
				fprintf(stderr,
				        "pmxcfs: invalid --feed-history '%s' (16..16777216)\n",
				        optarg);
				return -1;
			}
			o->feed_history = v;
			break;
		}
		case OPT_SPIN: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v > 100000 || optarg[0] == '-') {
				fprintf(stderr, "pmxcfs: invalid --spin-usec '%s' (0..100000)\n",
				        optarg);
				return -1;
			}
			o->spin_usec = (unsigned)v;
			break;
		}
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pmxcfs: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (!o->nodename[0]) {
		if (gethostname(o->nodename, sizeof(o->nodename)) != 0) {
			fprintf(stderr, "pmxcfs: cannot get the host name: %s\n", strerror(errno));
			return -1;
		}
		o->nodename[sizeof(o->nodename) - 1] = '\0';
		char *dot = strchr(o->nodename, '.');
		if (dot)
			*dot = '\0';
	}
	if (!nodename_valid(o->nodename)) {
		fprintf(stderr,
		        "pmxcfs: invalid node name '%s' (letters, digits and '-', at most 63)\n",
		        o->nodename);
		return -1;
	}
	return 0;
}

/* mkdir -p for the directory part of path (or path itself when is_dir). */
static int mkdir_parents(const char *path, bool is_dir, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if (!is_dir) {
		char *slash = strrchr(buf, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char save = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = save;
	}
	return 0;
}

/*
 * Take the single-instance lock "<db>.lock" (flock, held for the life of
 * the process; the file holds the pid).  Returns the fd or -1 (reported).
 */
static int take_lock(const char *db)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s.lock", db);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "pmxcfs: cannot open lock file '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[n] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fprintf(stderr,
		        "pmxcfs: database '%s' is in use by another pmxcfs (pid %s); refusing to "
		        "start\n",
		        db, pid[0] ? pid : "unknown");
		close(fd);
		return -1;
	}
	return fd;
}

static void write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_printf(LOG_WARNING, "cannot write the pid to the lock file: %s",
		           strerror(errno));
}

/* Create one directory of the layout if it is missing. */
static int ensure_dir(struct memdb *mdb, struct dfsm *d, const char *path)
{
	struct memdb_stat st, parent;
	struct memdb_result res;
	struct cfs_op op;
	char buf[PATH_MAX];
	const char *name;
	int err;

	if (memdb_resolve(mdb, path, &st) == 0)
		return st.type == MEMDB_DIR ? 0 : -ENOTDIR;
	snprintf(buf, sizeof(buf), "%s", path);
	char *slash = strrchr(buf, '/');
	if (slash) {
		*slash = '\0';
		name = slash + 1;
		err = memdb_resolve(mdb, buf, &parent);
		if (err)
			return err;
	} else {
		name = buf;
		parent.inode = MEMDB_ROOT_INODE;
	}
	memset(&op, 0, sizeof(op));
	op.type = CFS_OP_MKDIR;
	op.parent = parent.inode;
	op.name = name;
	op.name_len = (uint32_t)strlen(name);
	op.now = (int64_t)time(NULL);
	err = dfsm_propose(d, &op, &res);
	if (!err && res.err == -EEXIST)
		return 0; /* another node created it first */
	return err ? err : res.err;
}

static int create_layout(struct memdb *mdb, struct dfsm *d, const char *node)
{
	char path[PATH_MAX];
	const char *sub[] = { "", "/lxc", "/qemu-server", "/priv" };
	int err;

	if ((err = ensure_dir(mdb, d, "nodes")) || (err = ensure_dir(mdb, d, "priv")) ||
	    (err = ensure_dir(mdb, d, "priv/lock"))) {
		log_printf(LOG_ERR, "cannot create the layout: %s", strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "nodes/%s%s", node, sub[i]);
		if ((err = ensure_dir(mdb, d, path))) {
			log_printf(LOG_ERR, "cannot create '%s': %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Clear a dead FUSE mount left by a killed pmxcfs; refuse a live one of ours. */
static int prepare_mountpoint(const char *mp)
{
	struct stat sb;
	int err;

	if (stat(mp, &sb) != 0) {
		if (errno == ENOTCONN) {
			log_printf(LOG_NOTICE, "removing stale mount at '%s'", mp);
			if (umount2(mp, MNT_DETACH) != 0) {
				log_printf(LOG_ERR, "cannot remove stale mount '%s': %s", mp,
				           strerror(errno));
				return -errno;
			}
		} else if (errno == ENOENT) {
			if ((err = mkdir_parents(mp, true, 0755))) {
				log_printf(LOG_ERR, "cannot create mount point '%s': %s", mp,
				           strerror(-err));
				return err;
			}
			return 0;
		} else {
			log_printf(LOG_ERR, "mount point '%s': %s", mp, strerror(errno));
			return -errno;
		}
	}
	FILE *f = fopen("/proc/self/mounts", "re");
	char real[PATH_MAX];
	if (f && realpath(mp, real)) {
		char line[4096];
		while (fgets(line, sizeof(line), f)) {
			char dev[256], dir[PATH_MAX], type[64];
			if (sscanf(line, "%255s %4095s %63s", dev, dir, type) != 3 ||
			    strcmp(dir, real) != 0 || strcmp(type, "fuse.pmxcfs") != 0)
				continue;
			/* attributes may come from the kernel cache; a directory read needs the daemon */
			DIR *d = opendir(mp);
			if (d) {
				closedir(d);
				log_printf(LOG_ERR, "'%s' is already mounted by a running pmxcfs",
				           mp);
				fclose(f);
				return -EBUSY;
			}
			if (errno != ENOTCONN)
				continue;
			log_printf(LOG_NOTICE, "removing stale mount at '%s'", mp);
			if (umount2(mp, MNT_DETACH) != 0) {
				log_printf(LOG_ERR, "cannot remove stale mount '%s': %s", mp,
				           strerror(errno));
				fclose(f);
				return -errno;
			}
		}
	}
	if (f)
		fclose(f);
	if (stat(mp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		log_printf(LOG_ERR, "mount point '%s' is not a directory", mp);
		return -ENOTDIR;
	}
	return 0;
}

/* ---- cluster mode glue ---- */

static struct cluster *g_cluster; /* for the SIGUSR1 handler */

static void on_sigusr1(int sig)
{
	(void)sig;
	if (g_cluster)
		cluster_request_verify(g_cluster);
}

/* What the cluster's hooks reach: the kernel's caches and the change feed. */
struct hook_ctx {
	struct kinval *kinval;
	struct feed *feed;
};

static void hook_inode(void *ctx, uint64_t inode)
{
	struct hook_ctx *h = ctx;
	kinval_inode_attrs(h->kinval, inode);
}

static void hook_entry(void *ctx, uint64_t parent, const char *name)
{
	struct hook_ctx *h = ctx;
	kinval_entry(h->kinval, parent, name, false);
}

static void release_feed(void *ctx, uint64_t epoch, uint64_t version)
{
	feed_release(ctx, epoch, version);
}

/*
 * A batch from the cluster was applied (or a state adopted): its watchers
 * hear of it once kinval delivered the entry invalidations queued before
 * (a watcher that opens a renamed-over path right after its event must not
 * get the cached dentry of the file that was replaced: ENOENT, or the old
 * content).
 */
static void hook_settled(void *ctx, uint64_t version)
{
	struct hook_ctx *h = ctx;
	kinval_call(h->kinval, release_feed, h->feed, feed_epoch(h->feed), version);
}

struct layout_job {
	pthread_t thread;
	struct memdb *mdb;
	struct dfsm *dfsm;
	struct cluster *cl;
	const char *node;
	volatile int stop;
};

/* Cluster mode: create this node's directories once the cluster is writable. */
static void *layout_thread(void *arg)
{
	struct layout_job *j = arg;
	while (!__atomic_load_n(&j->stop, __ATOMIC_RELAXED)) {
		if (!cluster_wait_writable(j->cl, 1000))
			continue;
		if (create_layout(j->mdb, j->dfsm, j->node) == 0)
			break;
		sleep(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct options o;
	struct database *db = NULL;
	struct memdb *mdb = NULL;
	struct dfsm *dfsm = NULL;
	struct cluster *cluster = NULL;
	struct layout_job layout = { 0 };
	bool layout_started = false;
	struct kinval *kinval = NULL;
	struct kstate *kstate = NULL;
	bool kinval_stuck = false;
	struct clusterlog *clog = NULL;
	struct feed *feed = NULL;
	struct ipcs *ipcs = NULL;
	struct fuse_session *se = NULL;
	struct cfs_fuse ctx;
	char err[1024];
	int lockfd, rc = 1, e;

	if (parse_options(argc, argv, &o))
		return 2;
	log_init("pmxcfs", o.foreground, true, o.debug);

	if ((e = mkdir_parents(o.db, false, 0700))) {
		fprintf(stderr, "pmxcfs: cannot create the directory of '%s': %s\n", o.db,
		        strerror(-e));
		goto out_log;
	}
	lockfd = take_lock(o.db);
	if (lockfd < 0)
		goto out_log;

	if (database_open(o.db, &db, err, sizeof(err)) ||
	    database_load(db, &mdb, err, sizeof(err))) {
		fprintf(stderr, "pmxcfs: %s\n", err);
		log_printf(LOG_CRIT, "%s", err);
		goto out_close_db;
	}
	/* local mode: a later cluster sync must know which rows are local edits */
	if (o.local && database_mark_local(db, memdb_version(mdb)))
		log_printf(LOG_WARNING, "cannot record the start of local mode in the database");
	if (dfsm_new(mdb, db, &dfsm)) {
		fprintf(stderr, "pmxcfs: cannot set up the ordering layer\n");
		goto out_free_memdb;
	}
	if (!(feed = feed_new(memdb_version(mdb), o.feed_history, FEED_DEFAULT_BYTES))) {
		fprintf(stderr, "pmxcfs: out of memory\n");
		goto out_free_dfsm;
	}
	dfsm_set_feed(dfsm, feed);
	if (o.local && create_layout(mdb, dfsm, o.nodename)) {
		fprintf(stderr, "pmxcfs: cannot create the directory layout (see the log)\n");
		goto out_free_dfsm;
	}
	if (kinval_new(&kinval) || kstate_new(&kstate) || !(clog = clusterlog_new())) {
		fprintf(stderr, "pmxcfs: out of memory\n");
		goto out_free_kinval;
	}
	if (!o.local) {
		struct cluster_opts co = {
			.nodename = o.nodename,
			.dbpath = o.db,
			.verify_secs = o.verify_secs,
		};
		static struct hook_ctx hc;
		hc.kinval = kinval;
		hc.feed = feed;
		struct cluster_hooks hk = { hook_inode, hook_entry, hook_settled, &hc };
		feed_set_gated(feed, true);
		if (cluster_new(dfsm, mdb, &co, &cluster)) {
			fprintf(stderr, "pmxcfs: cannot set up cluster mode\n");
			goto out_free_kinval;
		}
		cluster_set_hooks(cluster, &hk);
		cluster_set_log(cluster, clog);
	}

	struct group *gr = getgrnam("www-data");
	memset(&ctx, 0, sizeof(ctx));
	ctx.mdb = mdb;
	ctx.dfsm = dfsm;
	ctx.cluster = cluster;
	ctx.kinval = kinval;
	ctx.kstate = kstate;
	ctx.clog = clog;
	ctx.nodename = o.nodename;
	ctx.starttime = (int64_t)time(NULL);
	ctx.gid = gr ? gr->gr_gid : 33;
	ctx.timeout = 1.0;
	kinval_set_store_done(kinval, cfs_fuse_store_done, &ctx);

	if (prepare_mountpoint(o.mountpoint)) {
		fprintf(stderr, "pmxcfs: cannot use mount point '%s' (see the log)\n",
		        o.mountpoint);
		goto out_free_kinval;
	}
	/* -d raises pmxcfs's log level; libfuse's request trace is not wanted */
	char *fargv[] = { argv[0], "-o",
		          "default_permissions,allow_other,fsname=pmxcfs,subtype=pmxcfs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	se = fuse_session_new(&args, cfs_fuse_ops(), sizeof(*cfs_fuse_ops()), &ctx);
	fuse_opt_free_args(&args);
	if (!se) {
		fprintf(stderr, "pmxcfs: cannot create the FUSE session\n");
		goto out_free_kinval;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		fprintf(stderr, "pmxcfs: cannot install signal handlers\n");
		goto out_destroy_session;
	}
	if (fuse_session_mount(se, o.mountpoint) != 0) {
		fprintf(stderr, "pmxcfs: cannot mount at '%s'\n", o.mountpoint);
		goto out_remove_handlers;
	}
	struct ipcs_opts io = {
		.name = o.ipc_name,
		.nodename = o.nodename,
		.allow_gid = o.ipc_gid,
		.mdb = mdb,
		.feed = feed,
		.clog = clog,
		.cluster = cluster,
	};
	if ((e = ipcs_new(&io, &ipcs)) != 0) {
		if (e == -EADDRINUSE)
			fprintf(stderr,
			        "pmxcfs: the IPC name '%s' is in use: is another pmxcfs running? "
			        "(a second one needs its own --ipc-name)\n",
			        o.ipc_name);
		else
			fprintf(stderr, "pmxcfs: cannot set up the IPC server '%s': %s\n",
			        o.ipc_name, strerror(-e));
		goto out_unmount;
	}
	if (fuse_daemonize(o.foreground) != 0) {
		fprintf(stderr, "pmxcfs: cannot daemonize\n");
		goto out_unmount;
	}
	/* threads only now: they would not survive daemonize's fork */
	if (kinval_attach(kinval, se) != 0) {
		log_printf(LOG_ERR, "cannot start the cache invalidation thread");
		goto out_unmount;
	}
	if (cluster) {
		g_cluster = cluster;
		signal(SIGUSR1, on_sigusr1);
		if (cluster_start(cluster) != 0) {
			log_printf(LOG_ERR, "cannot start the cluster thread");
			goto out_unmount;
		}
		layout.mdb = mdb;
		layout.dfsm = dfsm;
		layout.cl = cluster;
		layout.node = o.nodename;
		layout_started = pthread_create(&layout.thread, NULL, layout_thread, &layout) == 0;
	}
	if (ipcs_start(ipcs) != 0) {
		log_printf(LOG_ERR, "cannot start the IPC thread");
		goto out_unmount;
	}
	write_pid(lockfd);
	{
		char msg[256];
		snprintf(msg, sizeof(msg), "starting pmxcfs %s on %s (%s mode)", PMXCFS_VERSION,
		         o.mountpoint, cluster ? "cluster" : "local");
		clusterlog_add(clog, o.nodename, "root@pam", "pmxcfs", LOG_INFO, (uint32_t)getpid(),
		               ctx.starttime, msg, NULL);
	}
	log_printf(LOG_NOTICE, "pmxcfs %s serving %s from %s as node '%s'", PMXCFS_VERSION,
	           o.mountpoint, o.db, o.nodename);

	struct reqloop_opts lo = {
		.spin_usec = o.spin_usec,
		.min_threads = REQLOOP_DEFAULT_MIN_THREADS,
		.max_threads = REQLOOP_DEFAULT_MAX_THREADS,
		.idle_msec = REQLOOP_DEFAULT_IDLE_MSEC,
	};
	e = reqloop_run(se, &lo);
	if (e < 0)
		log_printf(LOG_ERR, "FUSE loop ended with error: %s", strerror(-e));
	else
		rc = 0;
	log_printf(LOG_NOTICE, "shutting down");

out_unmount:
	if (layout_started) {
		__atomic_store_n(&layout.stop, 1, __ATOMIC_RELAXED);
		pthread_join(layout.thread, NULL);
	}
	ipcs_stop(ipcs); /* clients are disconnected */
	ipcs = NULL;
	cluster_stop(cluster); /* no more remote changes, writers fail */
	kinval_attach(kinval, NULL);
	fuse_session_unmount(se);
	/* a notify still in the kernel must be out before the session goes */
	if (kinval_quiesce(kinval, 2000) != 0) {
		log_printf(LOG_ERR, "cache invalidation thread stuck at exit; leaving it");
		kinval_stuck = true;
	}
out_remove_handlers:
	fuse_remove_signal_handlers(se);
out_destroy_session:
	if (!kinval_stuck)
		fuse_session_destroy(se);
	cfs_fuse_cleanup();
out_free_kinval:
	ipcs_stop(ipcs);
	g_cluster = NULL;
	cluster_free(cluster);
	if (!kinval_stuck)
		kinval_free(kinval);
	kstate_free(kstate);
	clusterlog_free(clog);
out_free_dfsm:
	dfsm_free(dfsm);
	feed_free(feed);
out_free_memdb:
	memdb_free(mdb);
out_close_db:
	database_close(db);
	close(lockfd);
out_log:
	log_fini();
	return rc;
}
