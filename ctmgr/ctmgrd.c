/*
 * ctmgrd.c - the per-node container daemon: watches this node's container
 * configs through pmxcfs's change feed and brings running containers in
 * line with every change, whoever made it (pct set, an editor, another
 * node); see ctmgr/hotplug.h for what is applied live and what waits.
 *
 *   ctmgrd [-f] [--node NAME] [--state-dir DIR]
 *
 * -f: stay in the foreground, log to stderr instead of syslog.  --node:
 * the node whose lxc/ directory to watch (default: pmxcfs's local node
 * name).
 * --state-dir (default /var/lib/ctmgrd, $CTMGRD_STATE_DIR): "version", the
 * last feed version handled, so a restart resumes where it stopped (a
 * history that no longer reaches back gives a resync: every config is
 * reconciled again, which is harmless - reconciling is idempotent).
 * One instance per node: /run/ctmgrd/ctmgrd.pid is locked.
 *
 * Outcomes go to syslog (daemon facility, tag ctmgrd; stderr with -f)
 * and, for failures and invalid configs, to the cluster log, naming the
 * file and the reason; the verdict of each reconcile goes to
 * /run/ctmgrd/<ID>.verdict for pct set.  SIGTERM/SIGINT stop it.
 */
#include "ctmgr/ctfile.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/hotplug.h"
#include "ctmgr/migrate.h"
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static bool foreground;
static char node[64];
static char prefix[160]; /* "nodes/<node>/": lxc/<ID>.conf and ctmgrd/<ID>.start */
static char state_dir[4096];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void logmsg(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int pri, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* -f: stderr only (a service manager's journal takes it from there) */
	if (foreground)
		fprintf(stderr, "ctmgrd: %s\n", buf);
	else
		syslog(pri, "%s", buf);
}

/* a cluster-log entry (best effort: the feed connection is busy watching) */
static void clusterlog(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clusterlog(int pri, const char *fmt, ...)
{
	char buf[512];
	struct pmxcfs_client *c;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	logmsg(pri, "%s", buf);
	if (pmxcfs_connect(NULL, &c) == 0) {
		pmxcfs_log(c, pri, "ctmgrd", "root@pam", buf);
		pmxcfs_disconnect(c);
	}
}

static void save_version(uint64_t v)
{
	char path[4200], text[32], err[256];
	snprintf(path, sizeof(path), "%s/version", state_dir);
	snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	if (ctf_write_atomic(path, text, strlen(text), err, sizeof(err)))
		logmsg(LOG_WARNING, "%s", err);
}

static uint64_t load_version(void)
{
	char path[4200];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "%s/version", state_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* The CT id of "nodes/<node>/<dir>/<id><suffix>", or -1. */
static long file_id(const char *path, const char *dir, const char *suffix)
{
	size_t pl = strlen(prefix), dl = strlen(dir), sl = strlen(suffix), l = strlen(path);
	char num[32];
	if (strncmp(path, prefix, pl) != 0 || strncmp(path + pl, dir, dl) != 0 ||
	    path[pl + dl] != '/' || l <= pl + dl + 1 + sl || strcmp(path + l - sl, suffix) != 0 ||
	    l - pl - dl - 1 - sl >= sizeof(num))
		return -1;
	snprintf(num, sizeof(num), "%.*s", (int)(l - pl - dl - 1 - sl), path + pl + dl + 1);
	return ctf_parse_id(num);
}

static long conf_id(const char *path)
{
	return file_id(path, "lxc", ".conf");
}

static long request_id(const char *path)
{
	return file_id(path, "ctmgrd", ".start");
}

/*
 * Containers whose reconcile must be tried again: the per-CT lock was busy
 * (pct start/stop/set), the config changed under the write-back, pmxcfs
 * refused a write (no quorum).  Tried every second until it works.
 */
static long retry_ids[256];
static size_t nretry;

static void retry_later(long id)
{
	for (size_t i = 0; i < nretry; i++)
		if (retry_ids[i] == id)
			return;
	if (nretry < sizeof(retry_ids) / sizeof(retry_ids[0]))
		retry_ids[nretry++] = id;
}

/* a migration to this node: carry it out once request and config are both here */
static void take_over(long id)
{
	char err[1024];
	bool started;
	int rc = mig_take_over(node, id, &started, err, sizeof(err));
	if (rc == -EAGAIN)
		logmsg(LOG_INFO, "CT %ld: migration request here, waiting for its config", id);
	else if (rc)
		clusterlog(LOG_ERR, "CT %ld: migration to %s: %s", id, node, err);
	else if (started)
		clusterlog(LOG_INFO, "CT %ld: migrated to %s and started", id, node);
}

/*
 * Reconcile id; cause ("change 27 put", "retry", "resync") ends its log
 * line: every handled change leaves exactly one, a lost one shows as a gap.
 */
static void reconcile(long id, const char *cause)
{
	char path[4096], err[1024];
	struct hp_result res;
	snprintf(path, sizeof(path), "%s/%slxc/%ld.conf", ctf_root(), prefix, id);
	int rc = hp_reconcile(id, path, &res, err, sizeof(err));
	if (rc == -ENOENT) {
		/*
		 * Destroyed or migrated away.  (A config renamed into place is
		 * never seen as missing: pmxcfs releases its change only after
		 * the kernel forgot the entry it replaced.)
		 */
		logmsg(LOG_INFO, "CT %ld: no config here (any more) (%s)", id, cause);
		return;
	}
	if (rc == -EBUSY || rc == -EAGAIN || rc == -EACCES || rc == -EPERM || rc == -ENOTCONN ||
	    rc == -EIO || rc == -ETIMEDOUT) {
		logmsg(LOG_NOTICE, "CT %ld: %s - trying again (%s)", id, err, cause);
		retry_later(id);
		if (rc == -EBUSY)
			return; /* nothing done: no verdict yet */
	} else if (rc == -ENOMSG) {
		logmsg(LOG_INFO, "CT %ld: %s (%s)", id, err, cause);
		return; /* the content's own change follows; no verdict for it */
	} else if (rc == -EINVAL) {
		clusterlog(LOG_ERR, "CT %ld: config not applied: %s", id, err);
	} else if (rc) {
		clusterlog(LOG_ERR, "CT %ld: %s", id, err);
	} else if (res.running && (res.applied[0] || res.pending[0])) {
		logmsg(LOG_INFO, "CT %ld: applied [%s] pending [%s] (%s)", id, res.applied,
		       res.pending, cause);
		if (res.failed[0])
			clusterlog(LOG_WARNING, "CT %ld: left pending: %s", id, res.failed);
	} else {
		logmsg(LOG_INFO, "CT %ld: %s (config %.12s) (%s)", id,
		       res.running ? "running, nothing to change" : "not running, nothing to do",
		       res.digest, cause);
	}
	hp_write_verdict(id, &res);
}

/* List this node's configs at a version, reconcile each, and watch from there. */
static int resync(struct pmxcfs_client *c, uint64_t *version)
{
	struct pmxcfs_entry *ents;
	size_t n;
	uint64_t v;
	int rc = pmxcfs_list(c, prefix, &ents, &n, &v);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !stop; i++) {
		long id = ents[i].type == 2 ? conf_id(ents[i].path) : -1, rid;
		if (id > 0) {
			take_over(id);
			reconcile(id, "resync");
		} else if (ents[i].type == 2 && (rid = request_id(ents[i].path)) > 0) {
			take_over(rid);
		}
	}
	pmxcfs_entries_free(ents, n);
	*version = v;
	save_version(v);
	return pmxcfs_watch(c, prefix, v, 0, NULL);
}

static int serve(void)
{
	struct pmxcfs_client *c = NULL;
	int rc = pmxcfs_connect(NULL, &c);
	if (rc)
		return rc;
	uint64_t version = load_version(), start = 0;
	if (version == 0)
		rc = resync(c, &version);
	else
		rc = pmxcfs_watch(c, prefix, version, 0, &start);
	if (rc == 0)
		logmsg(LOG_INFO, "watching /etc/pve/%s from version %" PRIu64, prefix, version);
	while (rc == 0 && !stop) {
		struct pollfd p = { .fd = pmxcfs_fd(c), .events = POLLIN };
		if (poll(&p, 1, nretry ? 200 : 1000) == 0 && nretry) {
			/* quiet: try the ones that could not be done */
			size_t n = nretry;
			long ids[256];
			memcpy(ids, retry_ids, n * sizeof(*ids));
			nretry = 0;
			for (size_t i = 0; i < n && !stop; i++) {
				take_over(ids[i]);
				reconcile(ids[i], "retry");
			}
		}
		struct pmxcfs_event ev;
		int got = 0;
		while (!stop && (got = pmxcfs_next_event(c, &ev, 0)) == 1) {
			if (ev.kind == PMXCFS_EV_RESYNC) {
				logmsg(LOG_NOTICE,
				       "resync requested (reason %d): reconciling every config",
				       ev.reason);
				rc = resync(c, &version);
				break;
			}
			version = ev.version;
			long id = conf_id(ev.path);
			const char *op = ipc_op_name(ev.op);
			char cause[64];
			snprintf(cause, sizeof(cause), "change %" PRIu64 " %s", ev.version,
			         op ? op : "?");
			bool arrived = op &&
			    (!strcmp(op, "put") || !strcmp(op, "create") ||
			     !strcmp(op, "rename-to"));
			long rid = request_id(ev.path);
			/* a config written, created or moved here (migration) */
			if (id > 0 && arrived) {
				if (!strcmp(op, "rename-to"))
					take_over(id);
				reconcile(id, cause);
			} else if (id > 0 && op && !strcmp(op, "rename-from")) {
				logmsg(LOG_INFO, "CT %ld moved away (%s) (%s)", id, ev.path2,
				       cause);
			} else if (rid > 0 && arrived) {
				logmsg(LOG_INFO, "CT %ld: migration request (%s)", rid, cause);
				take_over(rid); /* a migration request to this node */
			}
			save_version(version);
		}
		if (got < 0)
			rc = got;
	}
	pmxcfs_disconnect(c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sd = getenv("CTMGRD_STATE_DIR");
	snprintf(state_dir, sizeof(state_dir), "%s", sd && sd[0] ? sd : "/var/lib/ctmgrd");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f"))
			foreground = true;
		else if (!strcmp(argv[i], "--node") && i + 1 < argc)
			snprintf(node, sizeof(node), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc)
			snprintf(state_dir, sizeof(state_dir), "%s", argv[++i]);
		else {
			fprintf(stderr, "usage: ctmgrd [-f] [--node NAME] [--state-dir DIR]\n");
			return 2;
		}
	}
	openlog("ctmgrd", LOG_PID, LOG_DAEMON);
	if (!node[0]) {
		struct pmxcfs_client *c;
		struct pmxcfs_status st;
		int rc = pmxcfs_connect(NULL, &c);
		if (rc == 0) {
			rc = pmxcfs_status(c, &st);
			if (rc == 0) {
				snprintf(node, sizeof(node), "%s", st.local_name);
				pmxcfs_status_clear(&st);
			}
			pmxcfs_disconnect(c);
		}
		if (rc || !node[0]) {
			fprintf(stderr,
			        "ctmgrd: cannot ask pmxcfs for this node's name: %s (is "
			        "pmxcfs running? --node NAME)\n",
			        strerror(-rc));
			return 1;
		}
	}
	snprintf(prefix, sizeof(prefix), "nodes/%s/", node);
	if (fsu_mkdirs(state_dir, 0700) || fsu_mkdirs(hp_run_dir(), 0755)) {
		fprintf(stderr, "ctmgrd: cannot create %s or %s\n", state_dir, hp_run_dir());
		return 1;
	}
	char pidpath[4200];
	snprintf(pidpath, sizeof(pidpath), "%s/ctmgrd.pid", hp_run_dir());
	int pidfd = open(pidpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfd < 0 || flock(pidfd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "ctmgrd: another ctmgrd runs on this node (%s is locked)\n",
		        pidpath);
		return 1;
	}
	if (!foreground && daemon(0, 0) != 0) {
		fprintf(stderr, "ctmgrd: daemon: %s\n", strerror(errno));
		return 1;
	}
	char pidtext[32];
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)getpid());
	if (ftruncate(pidfd, 0) != 0 || write(pidfd, pidtext, strlen(pidtext)) < 0)
		logmsg(LOG_WARNING, "cannot write %s", pidpath);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	logmsg(LOG_INFO, "starting for node %s", node);

	/* pmxcfs restarts: connect again, resuming from the saved version */
	while (!stop) {
		int rc = serve();
		if (stop)
			break;
		logmsg(LOG_WARNING, "lost pmxcfs (%s); connecting again", strerror(-rc));
		for (int i = 0; i < 10 && !stop; i++)
			usleep(100 * 1000);
	}
	logmsg(LOG_INFO, "stopping");
	close(pidfd);
	return 0;
}
