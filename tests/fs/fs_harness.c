/*
 * fs_harness.c - see fs_harness.h.  Runs pmxcfs as a child process on a
 * temporary directory and guarantees cleanup (daemons killed by pid, our own
 * mount points lazily unmounted, temp dirs removed) on normal exit, failed
 * assertions (abort), crashes and the watchdog's deadline.
 */
#include "tests/fs/fs_harness.h"
#include "tests/test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED 64
#define WATCHDOG_SECONDS 280 /* below CTest's 300 s timeout; FS_WATCHDOG_SECONDS overrides */

static pid_t owner_pid;
static pid_t tracked_pids[MAX_TRACKED];
static char tracked_mounts[MAX_TRACKED][PATH_MAX];
static char tracked_dirs[MAX_TRACKED][PATH_MAX];
static bool handlers_installed;
static atomic_bool cleanup_started;
static pthread_t cleanup_thread;

long long fs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fs_poll_pause(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* ---- tracking and emergency cleanup ---- */

void fs_track(pid_t pid)
{
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked_pids[i] == 0) {
			tracked_pids[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	TEST_FAIL("too many tracked processes");
}

/*
 * A daemon that was killed leaves its libqb flight recorder in /dev/shm
 * (qb-pmxcfs-PID-blackbox-*); remove ours once the process is gone.
 */
static void forget_blackbox(pid_t pid)
{
	static const char *const parts[] = { "data", "header" };
	char path[96];
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/dev/shm/qb-pmxcfs-%d-blackbox-%s", (int)pid,
		         parts[i]);
		unlink(path);
	}
}

void fs_untrack(pid_t pid)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked_pids[i] == pid)
			tracked_pids[i] = 0;
	if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
		forget_blackbox(pid);
}

static void track_str(char (*tab)[PATH_MAX], const char *s)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (strcmp(tab[i], s) == 0)
			return;
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tab[i][0] == '\0') {
			snprintf(tab[i], PATH_MAX, "%s", s);
			return;
		}
	}
	TEST_FAIL("too many tracked paths");
}

static void untrack_str(char (*tab)[PATH_MAX], const char *s)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (strcmp(tab[i], s) == 0)
			tab[i][0] = '\0';
}

void fs_track_mount(const char *path)
{
	track_str(tracked_mounts, path);
}

void fs_untrack_mount(const char *path)
{
	untrack_str(tracked_mounts, path);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	/* FTW_MOUNT: never descend into a mount that is somehow still there */
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Kill every tracked child, detach our mounts, remove our temp dirs. */
static void emergency_cleanup(void)
{
	if (getpid() != owner_pid)
		return; /* a forked test child: the parent cleans up */
	if (atomic_exchange(&cleanup_started, true)) {
		if (pthread_equal(cleanup_thread, pthread_self()))
			return; /* crashed inside the cleanup itself */
		for (;;)
			pause(); /* another thread cleans up and then ends the process */
	}
	cleanup_thread = pthread_self();
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked_pids[i] > 0) {
			kill(tracked_pids[i], SIGKILL);
			waitpid(tracked_pids[i], NULL, 0);
			forget_blackbox(tracked_pids[i]);
			tracked_pids[i] = 0;
		}
	}
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked_mounts[i][0]) {
			/* a stacked stale mount may hide under a live one */
			for (int k = 0; k < 4 && umount2(tracked_mounts[i], MNT_DETACH) == 0; k++)
				;
			tracked_mounts[i][0] = '\0';
		}
	}
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked_dirs[i][0]) {
			/* the daemon's side of a failure, before its log goes */
			char log[PATH_MAX + 16];
			if (snprintf(log, sizeof(log), "%s/pmxcfs.log", tracked_dirs[i]) <
			    (int)sizeof(log))
				fs_dump_log(log);
			remove_tree(tracked_dirs[i]);
			tracked_dirs[i][0] = '\0';
		}
	}
}

static void fatal_signal(int sig)
{
	emergency_cleanup();
	/* SA_RESETHAND: the default action of sig ends the process */
	raise(sig);
}

/*
 * The watchdog is a thread, not alarm(): a test stuck in a syscall on a
 * wedged mount waits uninterruptibly for the daemon, so only killing the
 * daemon (which aborts the FUSE connection) gets it out.
 */
static void *watchdog_main(void *arg)
{
	struct timespec deadline;
	(void)arg;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += WATCHDOG_SECONDS;
	const char *env = getenv("FS_WATCHDOG_SECONDS");
	if (env && atoi(env) > 0)
		deadline.tv_sec += atoi(env) - WATCHDOG_SECONDS;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0)
		;
	fprintf(stderr,
	        "fs_harness: watchdog: test still running after its deadline; cleaning up\n");
	emergency_cleanup();
	_exit(124);
	return NULL;
}

static void install_handlers(void)
{
	static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE,
		                    SIGILL,  SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	pthread_t th;

	if (handlers_installed)
		return;
	handlers_installed = true;
	owner_pid = getpid();
	atexit(emergency_cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* a test whose file system wedged still cleans up before CTest's kill */
	if (pthread_create(&th, NULL, watchdog_main, NULL) != 0)
		TEST_FAIL("cannot start the watchdog thread");
	pthread_detach(th);
}

/* ---- helpers ---- */

bool fs_is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[8192];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char dev[256], dir[PATH_MAX], type[64];
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) != 3)
			continue;
		found = strcmp(dir, path) == 0 && strcmp(type, "fuse.pmxcfs") == 0;
	}
	fclose(f);
	return found;
}

const char *fs_path(const struct fs_inst *fs, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];

	if (snprintf(b, PATH_MAX, "%s/%s", fs->mnt, rel) >= PATH_MAX)
		TEST_FAIL("path too long: %s", rel);
	return b;
}

void fs_dump_log(const char *logpath)
{
	char *data;
	ssize_t n = fs_read_file(logpath, &data);
	if (n < 0)
		return;
	const char *start = data;
	int lines = 0;
	for (ssize_t i = n - 1; i >= 0; i--) {
		if (data[i] == '\n' && ++lines > 40) {
			start = data + i + 1;
			break;
		}
	}
	fprintf(stderr, "---- pmxcfs output (%s) ----\n%s---- end ----\n", logpath, start);
	free(data);
}

ssize_t fs_read_file(const char *path, char **out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd;

	*out = NULL;
	if (!buf)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(buf);
		errno = e;
		return -1;
	}
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (close(fd) != 0) {
		int e = errno;
		free(buf);
		errno = e;
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
}

int fs_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

bool fs_file_equals(const char *path, const void *data, size_t len)
{
	char *got;
	ssize_t n = fs_read_file(path, &got);
	bool eq = n >= 0 && (size_t)n == len && memcmp(got, data, len) == 0;
	free(got);
	return eq;
}

static void daemon_path(char *buf, size_t len)
{
	const char *env = getenv("PMXCFS_BIN");
	if (env && env[0]) {
		snprintf(buf, len, "%s", env);
		return;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		TEST_FAIL("cannot find the test binary: %s", strerror(errno));
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if (snprintf(buf, len, "%s/../../pmxcfs/pmxcfs", self) >= (int)len)
		TEST_FAIL("path of the test binary too long");
}

/* ---- processes ---- */

pid_t fs_spawn(const char *logpath, const char *const *args)
{
	char bin[PATH_MAX];
	const char *argv[32];
	size_t n = 0;
	pid_t pid;

	install_handlers();
	daemon_path(bin, sizeof(bin));
	/* our own IPC service name: test daemons run side by side */
	if (!getenv("PMXCFS_IPC_NAME")) {
		char name[32];
		snprintf(name, sizeof(name), "fsh%d", (int)getpid());
		setenv("PMXCFS_IPC_NAME", name, 0);
	}
	if (access(bin, X_OK) != 0)
		TEST_FAIL("pmxcfs binary '%s' not executable: %s", bin, strerror(errno));
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "-l";
	for (size_t i = 0; args[i]; i++) {
		if (n >= sizeof(argv) / sizeof(argv[0]) - 1)
			TEST_FAIL("too many arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		TEST_FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		if (in > 2)
			close(in);
		if (out > 2)
			close(out);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	fs_track(pid);
	return pid;
}

int fs_wait_pid(pid_t pid, int timeout_ms, int *status)
{
	long long deadline = fs_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status)
				*status = st;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			TEST_FAIL("waitpid(%d): %s", (int)pid, strerror(errno));
		if (fs_now_ms() > deadline)
			return -1;
		fs_poll_pause();
	}
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fs_untrack(pid);
}

static void wait_mounted(struct fs_inst *fs)
{
	long long deadline = fs_now_ms() + FS_START_TIMEOUT_MS;
	char version[PATH_MAX + 16];
	struct stat sb;
	int status;

	snprintf(version, sizeof(version), "%s/.version", fs->mnt);
	for (;;) {
		if (fs_wait_pid(fs->pid, 0, &status) == 0) {
			fs_untrack(fs->pid);
			fs->pid = 0;
			fs_dump_log(fs->log);
			TEST_FAIL("pmxcfs exited during start-up (status 0x%x)", status);
		}
		if (stat(version, &sb) == 0 && fs_is_mounted(fs->mnt))
			return;
		if (fs_now_ms() > deadline) {
			kill_and_reap(fs->pid);
			fs->pid = 0;
			umount2(fs->mnt, MNT_DETACH);
			fs_dump_log(fs->log);
			TEST_FAIL("pmxcfs did not mount %s within %d ms", fs->mnt,
			          FS_START_TIMEOUT_MS);
		}
		fs_poll_pause();
	}
}

void fs_start_again(struct fs_inst *fs)
{
	const char *args[] = { "--mountpoint", fs->mnt,     "--db", fs->db,
		               "--nodename",   FS_NODENAME, NULL };

	if (fs->pid)
		TEST_FAIL("fs_start_again: pmxcfs still running");
	fs->pid = fs_spawn(fs->log, args);
	wait_mounted(fs);
}

void fs_start(struct fs_inst *fs)
{
	char tmpl[] = "/tmp/pmxcfs-fs-XXXXXX";
	char real[PATH_MAX], dbdir[PATH_MAX + 8];

	install_handlers();
	memset(fs, 0, sizeof(*fs));
	if (!mkdtemp(tmpl))
		TEST_FAIL("mkdtemp: %s", strerror(errno));
	if (!realpath(tmpl, real))
		TEST_FAIL("realpath: %s", strerror(errno));
	track_str(tracked_dirs, real);
	snprintf(fs->dir, sizeof(fs->dir), "%s", real);
	if (snprintf(fs->mnt, sizeof(fs->mnt), "%s/mnt", real) >= (int)sizeof(fs->mnt) ||
	    snprintf(fs->db, sizeof(fs->db), "%s/db/config.db", real) >= (int)sizeof(fs->db) ||
	    snprintf(fs->log, sizeof(fs->log), "%s/pmxcfs.log", real) >= (int)sizeof(fs->log))
		TEST_FAIL("temp path too long");
	snprintf(dbdir, sizeof(dbdir), "%s/db", real);
	if (mkdir(fs->mnt, 0755) != 0 || mkdir(dbdir, 0700) != 0)
		TEST_FAIL("mkdir in %s: %s", real, strerror(errno));
	fs_track_mount(fs->mnt);
	fs_start_again(fs);
}

void fs_stop(struct fs_inst *fs)
{
	int status;

	if (!fs->pid)
		TEST_FAIL("fs_stop: pmxcfs not running");
	kill(fs->pid, SIGTERM);
	if (fs_wait_pid(fs->pid, FS_STOP_TIMEOUT_MS, &status) != 0) {
		kill_and_reap(fs->pid);
		fs->pid = 0;
		umount2(fs->mnt, MNT_DETACH);
		fs_dump_log(fs->log);
		TEST_FAIL("pmxcfs did not exit within %d ms of SIGTERM", FS_STOP_TIMEOUT_MS);
	}
	fs_untrack(fs->pid);
	fs->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fs_dump_log(fs->log);
		TEST_FAIL("pmxcfs did not exit cleanly after SIGTERM (status 0x%x)", status);
	}
	if (fs_is_mounted(fs->mnt)) {
		fs_dump_log(fs->log);
		TEST_FAIL("%s still mounted after pmxcfs exited", fs->mnt);
	}
}

void fs_kill9(struct fs_inst *fs)
{
	int status;

	if (!fs->pid)
		TEST_FAIL("fs_kill9: pmxcfs not running");
	kill(fs->pid, SIGKILL);
	if (fs_wait_pid(fs->pid, FS_STOP_TIMEOUT_MS, &status) != 0)
		TEST_FAIL("pmxcfs did not die of SIGKILL");
	fs_untrack(fs->pid);
	fs->pid = 0;
}

void fs_restart(struct fs_inst *fs)
{
	fs_stop(fs);
	fs_start_again(fs);
}

void fs_cleanup(struct fs_inst *fs)
{
	if (fs->pid) {
		int status;
		kill(fs->pid, SIGTERM);
		if (fs_wait_pid(fs->pid, FS_STOP_TIMEOUT_MS, &status) != 0)
			kill_and_reap(fs->pid);
		fs_untrack(fs->pid);
		fs->pid = 0;
	}
	if (fs->mnt[0]) {
		for (int k = 0; k < 4 && umount2(fs->mnt, MNT_DETACH) == 0; k++)
			;
		fs_untrack_mount(fs->mnt);
	}
	if (fs->dir[0]) {
		remove_tree(fs->dir);
		untrack_str(tracked_dirs, fs->dir);
	}
	memset(fs, 0, sizeof(*fs));
}
