/*
 * pct_life.c - pct's life cycle commands on liblxc: start, stop, shutdown,
 * reboot, enter, exec, console, list, status, unlock, mount, unmount,
 * pull, push, df.  Every command acts only on a container whose config is
 * on this node (ctf_load says which node owns it otherwise) and holds the
 * per-CT lock while it works.
 */
#include "ctmgr/ctfile.h"
#include "ctmgr/ctpending.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/pct.h"
#include "ctmgr/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <lxc/lxccontainer.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const ENV_PATH =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* "--skiplock" style flags and "--key value" options: the value of name or NULL */
static const char *opt_value(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

static bool opt_flag(int argc, char **argv, const char *name)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name)) {
			/* "--skiplock" or "--skiplock 1" */
			return i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
			    cts_parse_bool(argv[i + 1]) != 0;
		}
	return false;
}

/* Every argument after the id is one of the known options (names, with a value or not). */
static int check_opts(int argc, char **argv, const char *const *with_value,
                      const char *const *flags)
{
	for (int i = 1; i < argc; i++) {
		bool ok = false;
		for (const char *const *o = with_value; o && *o && !ok; o++)
			if (!strcmp(argv[i], *o)) {
				if (i + 1 >= argc)
					return pct_fail("option '%s' needs a value", argv[i]);
				ok = true;
				i++;
			}
		for (const char *const *o = flags; o && *o && !ok; o++)
			if (!strcmp(argv[i], *o)) {
				ok = true;
				if (i + 1 < argc && cts_parse_bool(argv[i + 1]) >= 0)
					i++;
			}
		if (!ok)
			return pct_fail("unknown option '%s'", argv[i]);
	}
	return 0;
}

static int need_id(int argc, const char *cmd)
{
	return argc < 1 ? pct_fail("usage: pct %s <vmid> ...", cmd) : 0;
}

static bool running(long id)
{
	return ctr_state(id, NULL) == CTR_RUNNING;
}

/*
 * Not stopped: running, frozen, starting, stopping.  Its volumes are in
 * use; nothing may mount them a second time.
 */
static bool busy(long id)
{
	return ctr_state(id, NULL) != CTR_STOPPED;
}

/*
 * Apply the pending changes (a start takes them all): to a copy first, so
 * a result that does not validate is refused and the pending section stays.
 */
static int apply_pending(struct pct_ct *ct)
{
	char err[1200];
	int n = ctp_apply_for_start(&ct->c, err, sizeof(err));
	if (n < 0)
		return pct_fail("%s", err);
	return n > 0 ? pct_save(ct) : 0;
}

int pct_start_ct(struct pct_ct *ct)
{
	char err[2048];
	struct st_cfg *st;
	if (apply_pending(ct))
		return EXIT_ERR;
	if (st_cfg_load_etc(&st, err, sizeof(err)))
		return pct_fail("%s", err);
	if (ctr_volumes_mounted(ct->id)) {
		st_cfg_free(st);
		return pct_fail("CT %ld's volumes are mounted on the host (pct unmount %ld first)",
		                ct->id, ct->id);
	}
	int rc = ctr_start(ct->c, ct->id, st, 30, err, sizeof(err));
	st_cfg_free(st);
	return rc ? pct_fail("%s", err) : 0;
}

int pct_cmd_start(int argc, char **argv)
{
	struct pct_ct ct;
	static const char *const flags[] = { "--skiplock", NULL };
	if (need_id(argc, "start") || check_opts(argc, argv, NULL, flags) || pct_open(argv[0], &ct))
		return EXIT_ERR;
	int rc = 0;
	if (!opt_flag(argc, argv, "--skiplock") && pct_check_lock(ct.c))
		rc = EXIT_ERR;
	else if (running(ct.id))
		rc = pct_fail("CT %ld already running", ct.id);
	else if (busy(ct.id))
		rc = pct_fail("CT %ld is not stopped (frozen, starting or stopping)", ct.id);
	else
		rc = pct_start_ct(&ct);
	pct_close(&ct);
	return rc;
}

static int stop_common(int argc, char **argv, bool clean)
{
	struct pct_ct ct;
	char err[1024];
	static const char *const stopflags[] = { "--skiplock", "--overrule-shutdown", NULL };
	static const char *const shutval[] = { "--timeout", NULL };
	static const char *const shutflags[] = { "--forceStop", NULL };
	if (need_id(argc, clean ? "shutdown" : "stop") ||
	    check_opts(argc, argv, clean ? shutval : NULL, clean ? shutflags : stopflags) ||
	    pct_open(argv[0], &ct))
		return EXIT_ERR;
	const char *t = opt_value(argc, argv, "--timeout");
	int timeout = t ? atoi(t) : 60, rc = 0;
	if (!clean && !opt_flag(argc, argv, "--skiplock") && pct_check_lock(ct.c)) {
		rc = EXIT_ERR;
	} else if (!running(ct.id)) {
		rc = pct_fail("CT %ld not running", ct.id);
	} else {
		int e = ctr_stop(ct.id, !clean, timeout, err, sizeof(err));
		if (e == -ETIMEDOUT && clean && opt_flag(argc, argv, "--forceStop"))
			e = ctr_stop(ct.id, true, 0, err, sizeof(err));
		if (e)
			rc = pct_fail("%s", err);
	}
	pct_close(&ct);
	return rc;
}

int pct_cmd_stop(int argc, char **argv)
{
	return stop_common(argc, argv, false);
}

int pct_cmd_shutdown(int argc, char **argv)
{
	return stop_common(argc, argv, true);
}

int pct_cmd_reboot(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024];
	static const char *const val[] = { "--timeout", NULL };
	if (need_id(argc, "reboot") || check_opts(argc, argv, val, NULL) || pct_open(argv[0], &ct))
		return EXIT_ERR;
	const char *t = opt_value(argc, argv, "--timeout");
	int rc = 0;
	if (pct_check_lock(ct.c))
		rc = EXIT_ERR;
	else if (!running(ct.id))
		rc = pct_fail("CT %ld not running", ct.id);
	else if (ctr_stop(ct.id, false, t ? atoi(t) : 60, err, sizeof(err)))
		rc = pct_fail("%s", err);
	else
		rc = pct_start_ct(&ct); /* a reboot applies the pending changes */
	pct_close(&ct);
	return rc;
}

/* ------------------------------------------------------------ attaching */

static struct lxc_container *open_running(long id)
{
	char name[32];
	snprintf(name, sizeof(name), "%ld", id);
	struct lxc_container *c = lxc_container_new(name, ctr_lxcpath());
	if (!c || !c->is_running(c)) {
		if (c)
			lxc_container_put(c);
		pct_fail("CT %ld not running", id);
		return NULL;
	}
	return c;
}

/* Lock-free check that CT arg is here and running; its id or -1 after a message. */
static long running_id(const char *arg)
{
	struct pct_ct ct;
	if (pct_open_nolock(arg, &ct))
		return -1;
	long id = ct.id;
	pct_close(&ct);
	return running(id) ? id : (pct_fail("CT %ld not running", id), -1);
}

/*
 * The environment of a command run in the container, and its terminal: a
 * guest program must not get the admin's own tty (it could push input into
 * the host shell with TIOCSTI), so with a tty on any of 0-2 LXC gives it a
 * new pseudo terminal and relays, as lxc-attach does.
 */
static void attach_env(lxc_attach_options_t *o, char **extra, bool keep)
{
	if (isatty(0) || isatty(1) || isatty(2))
		o->attach_flags |= LXC_ATTACH_TERMINAL;
	const char *term = getenv("TERM");
	static char termvar[128];
	size_t n = 0;
	if (!keep) {
		o->env_policy = LXC_ATTACH_CLEAR_ENV;
		extra[n++] = (char *)ENV_PATH;
		snprintf(termvar, sizeof(termvar), "TERM=%s", term && term[0] ? term : "linux");
		extra[n++] = termvar;
	}
	extra[n] = NULL;
	o->extra_env_vars = extra;
}

int pct_cmd_enter(int argc, char **argv)
{
	if (need_id(argc, "enter") || check_opts(argc, argv, NULL, NULL))
		return EXIT_ERR;
	long id = running_id(argv[0]);
	struct lxc_container *c = id < 0 ? NULL : open_running(id);
	if (!c)
		return EXIT_ERR;
	lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
	char *extra[4];
	attach_env(&o, extra, false);
	pid_t pid;
	int status = 0;
	if (c->attach(c, lxc_attach_run_shell, NULL, &o, &pid) < 0) {
		lxc_container_put(c);
		return pct_fail("cannot enter CT %ld", id);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	lxc_container_put(c);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int pct_cmd_exec(int argc, char **argv)
{
	if (need_id(argc, "exec"))
		return EXIT_ERR;
	int i = 1;
	bool keep = false;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--keep-env") && i + 1 < argc)
			keep = cts_parse_bool(argv[++i]) == 1;
		else
			return pct_fail(
			    "pct exec: unknown option '%s' (the command goes after '--')", argv[i]);
	}
	if (i + 1 >= argc)
		return pct_fail("%s", "pct exec: no command given (pct exec <vmid> -- <command>)");
	long id = running_id(argv[0]);
	struct lxc_container *c = id < 0 ? NULL : open_running(id);
	if (!c)
		return EXIT_ERR;
	lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
	char *extra[4];
	attach_env(&o, extra, keep);
	int status = c->attach_run_wait(c, &o, argv[i + 1], (const char *const *)&argv[i + 1]);
	lxc_container_put(c);
	if (status < 0)
		return pct_fail("cannot run '%s' in CT %ld", argv[i + 1], id);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int pct_cmd_console(int argc, char **argv)
{
	static const char *const val[] = { "--escape", NULL };
	if (need_id(argc, "console") || check_opts(argc, argv, val, NULL))
		return EXIT_ERR;
	const char *esc = opt_value(argc, argv, "--escape");
	int escape = 1; /* ^a */
	if (esc && !strcmp(esc, "0"))
		escape = -1;
	else if (esc && esc[0] == '^' && esc[1] >= 'a' && esc[1] <= 'z' && !esc[2])
		escape = esc[1] - 'a' + 1;
	else if (esc)
		return pct_fail("--escape: expected ^<letter> or 0, got '%s'", esc);
	long id = running_id(argv[0]);
	struct lxc_container *c = id < 0 ? NULL : open_running(id);
	if (!c)
		return EXIT_ERR;
	if (isatty(0) && escape > 0)
		fprintf(stderr, "Connected to CT %ld; type Ctrl+%c q to leave\n", id,
		        'a' + escape - 1);
	else if (isatty(0))
		fprintf(stderr,
		        "Connected to CT %ld (no escape key: close the terminal to leave)\n", id);
	int rc = c->console(c, 0, 0, 1, 2, escape);
	lxc_container_put(c);
	return rc == 0 ? 0 : pct_fail("cannot attach to CT %ld's console", id);
}

/* ----------------------------------------------------------- list, status */

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int pct_cmd_list(int argc, char **argv)
{
	char dir[4096];
	(void)argv;
	if (argc)
		return pct_fail("%s", "usage: pct list");
	snprintf(dir, sizeof(dir), "%s/lxc", ctf_root());
	DIR *d = opendir(dir);
	long *ids = NULL;
	size_t n = 0;
	if (!d && errno != ENOENT)
		return pct_fail("cannot read %s: %s", dir, strerror(errno));
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		char num[32];
		if (l < 6 || l - 5 >= sizeof(num) || strcmp(e->d_name + l - 5, ".conf") != 0)
			continue;
		snprintf(num, sizeof(num), "%.*s", (int)(l - 5), e->d_name);
		long id = ctf_parse_id(num);
		long *nv = id < 0 ? NULL : realloc(ids, (n + 1) * sizeof(*ids));
		if (nv) {
			ids = nv;
			ids[n++] = id;
		}
	}
	if (d)
		closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_long);
	if (n)
		printf("%-10s %-10s %-12s %-20s\n", "VMID", "Status", "Lock", "Name");
	for (size_t i = 0; i < n; i++) {
		char path[4096], err[512], idtxt[32];
		struct ctc_conf *c = NULL;
		ctf_path(ids[i], path, sizeof(path));
		if (ctc_load(path, false, &c, NULL, err, sizeof(err)))
			continue; /* removed meanwhile */
		const char *lock = ctc_get(&c->main, "lock"), *host = ctc_get(&c->main, "hostname");
		char name[64];
		snprintf(name, sizeof(name), "%s", host ? host : "");
		if (!host)
			snprintf(name, sizeof(name), "CT%ld", ids[i]);
		snprintf(idtxt, sizeof(idtxt), "%ld", ids[i]);
		printf("%-10s %-10s %-12s %-20s\n", idtxt, busy(ids[i]) ? "running" : "stopped",
		       lock ? lock : "", name);
		ctc_free(c);
	}
	free(ids);
	return 0;
}

/* A number from the container's cgroup (v2 key, else v1); *v1 tells which answered. */
static long long cgroup_num(struct lxc_container *c, const char *k1, const char *k2, bool *v1)
{
	char buf[64];
	*v1 = false;
	if (c->get_cgroup_item(c, k2, buf, sizeof(buf)) > 0)
		return atoll(buf);
	if (c->get_cgroup_item(c, k1, buf, sizeof(buf)) > 0) {
		*v1 = true;
		return atoll(buf);
	}
	return 0;
}

/* Seconds since process pid started (its start time in /proc/<pid>/stat). */
static long long proc_uptime(pid_t pid)
{
	double up = 0;
	unsigned long long start = fsu_proc_start(pid);
	if (!start)
		return 0;
	FILE *f = fopen("/proc/uptime", "re");
	if (!f || fscanf(f, "%lf", &up) != 1)
		up = 0;
	if (f)
		fclose(f);
	long long secs =
	    (long long)up - (long long)(start / (unsigned long long)sysconf(_SC_CLK_TCK));
	return secs > 0 ? secs : 0;
}

int pct_cmd_status(int argc, char **argv)
{
	struct pct_ct ct;
	static const char *const flags[] = { "--verbose", NULL };
	if (need_id(argc, "status") || check_opts(argc, argv, NULL, flags) ||
	    pct_open_nolock(argv[0], &ct))
		return EXIT_ERR;
	pid_t pid;
	/* frozen, starting, stopping count as running: the container exists */
	bool run = ctr_state(ct.id, &pid) != CTR_STOPPED;
	if (!opt_flag(argc, argv, "--verbose")) {
		printf("status: %s\n", run ? "running" : "stopped");
		pct_close(&ct);
		return 0;
	}
	const struct ctc_section *s = &ct.c->main;
	const char *v;
	long long mem = 0, swap = 0, uptime = 0;
	if (run) {
		char name[32];
		bool v1;
		snprintf(name, sizeof(name), "%ld", ct.id);
		struct lxc_container *c = lxc_container_new(name, ctr_lxcpath());
		if (c) {
			mem = cgroup_num(c, "memory.usage_in_bytes", "memory.current", &v1);
			swap = cgroup_num(c, "memory.memsw.usage_in_bytes", "memory.swap.current",
			                  &v1);
			if (v1) /* memsw counts memory + swap */
				swap = swap >= mem ? swap - mem : 0;
			lxc_container_put(c);
		}
		uptime = pid > 0 ? proc_uptime(pid) : 0;
	}
	/* the reference's keys, sorted */
	v = ctc_get(s, "cores");
	printf("cpus: %s\n", v ? v : "1");
	if ((v = ctc_get(s, "lock")))
		printf("lock: %s\n", v);
	printf("maxmem: %lld\n", ((v = ctc_get(s, "memory")) ? atoll(v) : 512) * 1048576);
	printf("maxswap: %lld\n", ((v = ctc_get(s, "swap")) ? atoll(v) : 512) * 1048576);
	printf("mem: %lld\n", mem);
	if ((v = ctc_get(s, "hostname")))
		printf("name: %s\n", v);
	else
		printf("name: CT%ld\n", ct.id);
	if (run)
		printf("pid: %d\n", (int)pid);
	printf("status: %s\n", run ? "running" : "stopped");
	printf("swap: %lld\n", swap);
	printf("type: lxc\n");
	printf("uptime: %lld\n", uptime);
	printf("vmid: %ld\n", ct.id);
	pct_close(&ct);
	return 0;
}

int pct_cmd_unlock(int argc, char **argv)
{
	struct pct_ct ct;
	if (need_id(argc, "unlock") || check_opts(argc, argv, NULL, NULL) || pct_open(argv[0], &ct))
		return EXIT_ERR;
	int rc = ctc_get(&ct.c->main, "lock") ? pct_set_lock(&ct, NULL) : 0;
	pct_close(&ct);
	return rc;
}

/* ---------------------------------------------------------- mount, unmount */

int pct_cmd_mount(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024], root[4096];
	struct st_cfg *st;
	if (need_id(argc, "mount") || check_opts(argc, argv, NULL, NULL) || pct_open(argv[0], &ct))
		return EXIT_ERR;
	int rc = EXIT_ERR;
	if (pct_check_lock(ct.c))
		goto out;
	if (busy(ct.id)) {
		pct_fail("CT %ld is running - cannot mount its volumes on the host", ct.id);
		goto out;
	}
	if (st_cfg_load_etc(&st, err, sizeof(err))) {
		pct_fail("%s", err);
		goto out;
	}
	/* the lock first: a crash leaves "mounted", which tells what to undo */
	if (pct_set_lock(&ct, "mounted") == 0) {
		if (ctr_mount_volumes(ct.c, ct.id, st, false, err, sizeof(err))) {
			pct_fail("%s", err);
			pct_set_lock(&ct, NULL);
		} else {
			ctr_rootdir(ct.id, root, sizeof(root));
			printf("mounted CT %ld in '%s'\n", ct.id, root);
			rc = 0;
		}
	}
	st_cfg_free(st);
out:
	pct_close(&ct);
	return rc;
}

int pct_cmd_unmount(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024];
	if (need_id(argc, "unmount") || check_opts(argc, argv, NULL, NULL) ||
	    pct_open(argv[0], &ct))
		return EXIT_ERR;
	const char *lock = ctc_get(&ct.c->main, "lock");
	int rc = 0;
	if (lock && strcmp(lock, "mounted") != 0)
		rc = pct_fail("CT is locked (%s)", lock);
	else if (ctr_unmount_volumes(ct.id, err, sizeof(err)))
		rc = pct_fail("%s", err);
	else if (lock)
		rc = pct_set_lock(&ct, NULL);
	pct_close(&ct);
	return rc;
}

/* ----------------------------------------------------------- pull, push */

struct xfer {
	int fd; /* the host side, open */
	const char *path; /* inside the container */
	bool push;
	const char *user, *group;
	long perms; /* -1: keep / default */
};

static int copy_fd(int from, int to)
{
	char buf[65536];
	for (;;) {
		ssize_t r = read(from, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : 0;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(to, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += w;
		}
	}
}

/*
 * A user given by name or number (looked up in this process's /etc/passwd:
 * the container's when called inside it): 0 with the uid and, for a name,
 * its primary group in *pgid ((gid_t)-1 for a number); -1 when unknown.
 */
static int user_id(const char *name, uid_t *uid, gid_t *pgid)
{
	char *end;
	struct passwd *pw = getpwnam(name);
	unsigned long u = strtoul(name, &end, 10);
	if (!pw && *end)
		return -1;
	*uid = pw ? pw->pw_uid : (uid_t)u;
	*pgid = pw ? pw->pw_gid : (gid_t)-1;
	return 0;
}

/* A group given by name or number: 0 with the gid, -1 when unknown. */
static int group_id(const char *name, gid_t *gid)
{
	char *end;
	struct group *gr = getgrnam(name);
	unsigned long g = strtoul(name, &end, 10);
	if (!gr && *end)
		return -1;
	*gid = gr ? gr->gr_gid : (gid_t)g;
	return 0;
}

/* Runs inside the container (its namespaces, as its root). */
static int xfer_inside(void *arg)
{
	struct xfer *x = arg;
	if (!x->push) {
		int fd = open(x->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "cannot open '%s' in the container: %s\n", x->path,
			        strerror(errno));
			return 2;
		}
		int e = copy_fd(fd, x->fd);
		close(fd);
		return e ? 3 : 0;
	}
	uid_t uid = 0;
	gid_t gid = 0, pgid;
	if (x->user) {
		if (user_id(x->user, &uid, &pgid)) {
			fprintf(stderr, "no user '%s' in the container\n", x->user);
			return 4;
		}
		if (pgid != (gid_t)-1)
			gid = pgid; /* a user by name: its group unless --group says */
	}
	if (x->group && group_id(x->group, &gid)) {
		fprintf(stderr, "no group '%s' in the container\n", x->group);
		return 4;
	}
	int fd = open(x->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	              x->perms >= 0 ? (mode_t)x->perms : 0644);
	if (fd < 0) {
		fprintf(stderr, "cannot create '%s' in the container: %s\n", x->path,
		        strerror(errno));
		return 2;
	}
	int e = copy_fd(x->fd, fd);
	if (!e && fchown(fd, uid, gid) != 0)
		e = -errno;
	if (!e && x->perms >= 0 && fchmod(fd, (mode_t)x->perms) != 0)
		e = -errno;
	if (close(fd) != 0 && !e)
		e = -errno;
	if (e)
		fprintf(stderr, "cannot write '%s' in the container: %s\n", x->path, strerror(-e));
	return e ? 3 : 0;
}

/* pull: the host file's owner from --user/--group (host names or ids); 0 or -1 */
static int host_owner(int fd, const char *user, const char *group)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1, pgid;
	if (user && user_id(user, &uid, &pgid)) {
		errno = ENOENT;
		fprintf(stderr, "no user '%s' on this host\n", user);
		return -1;
	}
	if (group && group_id(group, &gid)) {
		errno = ENOENT;
		fprintf(stderr, "no group '%s' on this host\n", group);
		return -1;
	}
	return (user || group) ? fchown(fd, uid, gid) : 0;
}

static int xfer(int argc, char **argv, bool push)
{
	static const char *const val[] = { "--user", "--group", "--perms", NULL };
	if (argc < 3)
		return pct_fail("usage: pct %s <vmid> <%s> <destination> [--user u] [--group g] "
		                "[--perms mode]",
		                push ? "push" : "pull", push ? "file" : "path");
	/* the options follow the three arguments */
	if (check_opts(argc - 2, argv + 2, val, NULL))
		return EXIT_ERR;
	struct xfer x = { .push = push, .perms = -1 };
	x.user = opt_value(argc - 2, argv + 2, "--user");
	x.group = opt_value(argc - 2, argv + 2, "--group");
	const char *perms = opt_value(argc - 2, argv + 2, "--perms");
	if (perms) {
		char *end;
		x.perms = strtol(perms, &end, 8);
		if (*end || x.perms < 0 || x.perms > 07777)
			return pct_fail("--perms: '%s' is not an octal mode", perms);
	}
	const char *inside = push ? argv[2] : argv[1], *host = push ? argv[1] : argv[2];
	if (inside[0] != '/')
		return pct_fail("the path in the container must be absolute: '%s'", inside);
	long id = running_id(argv[0]);
	struct lxc_container *c = id < 0 ? NULL : open_running(id);
	if (!c)
		return EXIT_ERR;
	x.path = inside;
	/* pull: into a temporary file beside the destination, renamed at the end */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.pct-pull.%d", host, (int)getpid());
	x.fd = push ? open(host, O_RDONLY | O_CLOEXEC)
	            : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (x.fd < 0) {
		lxc_container_put(c);
		return pct_fail("cannot open '%s': %s", push ? host : tmp, strerror(errno));
	}
	if (push && x.perms < 0) {
		struct stat st;
		if (fstat(x.fd, &st) == 0)
			x.perms = st.st_mode & 07777;
	}
	lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
	pid_t pid;
	int status = -1;
	if (c->attach(c, xfer_inside, &x, &o, &pid) >= 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	lxc_container_put(c);
	if (!push && status == 0 &&
	    (host_owner(x.fd, x.user, x.group) ||
	     fchmod(x.fd, x.perms >= 0 ? (mode_t)x.perms : 0600) != 0 || rename(tmp, host) != 0)) {
		fprintf(stderr, "cannot write '%s': %s\n", host, strerror(errno));
		status = -1;
	}
	close(x.fd);
	if (status != 0) {
		if (!push)
			unlink(tmp); /* an existing destination is left as it was */
		return pct_fail("pct %s failed", push ? "push" : "pull");
	}
	return 0;
}

int pct_cmd_pull(int argc, char **argv)
{
	return xfer(argc, argv, false);
}

int pct_cmd_push(int argc, char **argv)
{
	return xfer(argc, argv, true);
}

/* --------------------------------------------------------------------- df */

struct dfrow {
	char key[16];
	char vol[256];
	char mp[256];
	unsigned long long size, used, avail;
	bool ok;
};

struct dfjob {
	struct dfrow *rows;
	size_t n;
	const char *prefix; /* "" inside the container, the mounted rootfs otherwise */
	int fd; /* the results go here */
};

/* statvfs of every row's path; runs in a child, the rows go back through fd */
static int df_measure(void *arg)
{
	struct dfjob *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		char path[4096];
		struct statvfs v;
		snprintf(path, sizeof(path), "%s%s", j->prefix, j->rows[i].mp);
		if (statvfs(path, &v) != 0)
			continue;
		j->rows[i].size = (unsigned long long)v.f_blocks * v.f_frsize;
		j->rows[i].used = (unsigned long long)(v.f_blocks - v.f_bfree) * v.f_frsize;
		j->rows[i].avail = (unsigned long long)v.f_bavail * v.f_frsize;
		j->rows[i].ok = true;
	}
	size_t len = j->n * sizeof(*j->rows);
	const char *p = (const char *)j->rows;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(j->fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return 1;
		off += (size_t)w;
	}
	return 0;
}

static void human(unsigned long long b, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5)
		v /= 1024, i++;
	if (i == 0)
		snprintf(buf, len, "%lluB", b);
	else
		snprintf(buf, len, "%.1f%c", v, units[i]);
}

/* Measure in a child: attached to the running container, or in a private mount namespace. */
static int df_run(struct pct_ct *ct, struct dfjob *j, char *err, size_t errlen)
{
	int pfd[2];
	pid_t pid;
	char root[4096];
	struct st_cfg *st = NULL;
	bool run = running(ct->id), mounted = ctr_volumes_mounted(ct->id);

	if (!run && !mounted && st_cfg_load_etc(&st, err, errlen))
		return -EINVAL;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		st_cfg_free(st);
		return -EIO;
	}
	j->fd = pfd[1];
	ctr_rootdir(ct->id, root, sizeof(root));
	j->prefix = run ? "" : root;
	if (run) {
		char name[32];
		snprintf(name, sizeof(name), "%ld", ct->id);
		struct lxc_container *c = lxc_container_new(name, ctr_lxcpath());
		lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
		if (!c || c->attach(c, df_measure, j, &o, &pid) < 0)
			pid = -1;
		if (c)
			lxc_container_put(c);
	} else {
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			char e[1024];
			close(pfd[0]);
			if (!mounted &&
			    (ctr_private_mounts(e, sizeof(e)) != 0 ||
			     ctr_mount_volumes(ct->c, ct->id, st, true, e, sizeof(e)) != 0))
				_exit(1);
			_exit(df_measure(j));
		}
	}
	close(pfd[1]);
	st_cfg_free(st);
	size_t len = j->n * sizeof(*j->rows), got = 0;
	char *p = (char *)j->rows;
	while (pid > 0 && got < len) {
		ssize_t r = read(pfd[0], p + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(pfd[0]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (pid <= 0 || got != len) {
		snprintf(err, errlen, "cannot measure CT %ld's volumes%s", ct->id,
		         run ? "" : " (pct mount shows why)");
		return -EIO;
	}
	return 0;
}

int pct_cmd_df(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024];
	struct dfrow rows[257];
	struct dfjob j = { rows, 0, "", -1 };

	if (need_id(argc, "df") || check_opts(argc, argv, NULL, NULL) || pct_open(argv[0], &ct))
		return EXIT_ERR;
	memset(rows, 0, sizeof(rows));
	for (int i = -1; i < 256; i++) {
		char key[16];
		struct dfrow *r = &rows[j.n];
		snprintf(key, sizeof(key), i < 0 ? "rootfs" : "mp%d", i);
		const char *v = ctc_get(&ct.c->main, key);
		if (!v || cts_prop_get(v, "volume", "volume", r->vol, sizeof(r->vol)) != 1 ||
		    (i >= 0 && cts_prop_get(v, "volume", "mp", r->mp, sizeof(r->mp)) != 1))
			continue;
		if (i < 0)
			snprintf(r->mp, sizeof(r->mp), "/");
		snprintf(r->key, sizeof(r->key), "%s", key);
		j.n++;
	}
	int rc = 0;
	if (!ctc_get(&ct.c->main, "lock") || !strcmp(ctc_get(&ct.c->main, "lock"), "mounted")) {
		if (df_run(&ct, &j, err, sizeof(err)))
			rc = pct_fail("%s", err);
	} else {
		rc = pct_check_lock(ct.c);
	}
	if (!rc) {
		printf("%-7s %-40s %8s %8s %8s %5s %s\n", "MP", "Volume", "Size", "Used", "Avail",
		       "Use%", "Path");
		for (size_t i = 0; i < j.n; i++) {
			char sz[32], us[32], av[32], pc[16];
			human(rows[i].size, sz, sizeof(sz));
			human(rows[i].used, us, sizeof(us));
			human(rows[i].avail, av, sizeof(av));
			snprintf(pc, sizeof(pc), "%.0f%%",
			         rows[i].size ? 100.0 * (double)rows[i].used / (double)rows[i].size
			                      : 0.0);
			printf("%-7s %-40s %8s %8s %8s %5s %s\n", rows[i].key, rows[i].vol, sz, us,
			       av, pc, rows[i].mp);
		}
	}
	pct_close(&ct);
	return rc;
}
