/*
 * fsutil.c - see fsutil.h.
 */
#include "ctmgr/fsutil.h"

#include <sched.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int fsu_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

int fsu_rm_rf(const char *path)
{
	/* FTW_MOUNT: a file system mounted below (a stale mount) is not emptied */
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -errno : 0;
}

int fsu_run(const char *const *argv, char *err, size_t errlen)
{
	return fsu_run_netns(-1, argv, err, errlen);
}

int fsu_run_netns(int netns, const char *const *argv, char *err, size_t errlen)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		if (netns >= 0 && setns(netns, CLONE_NEWNET) != 0) {
			dprintf(2, "cannot enter the network namespace: %s\n", strerror(errno));
			_exit(126);
		}
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	char out[1024];
	size_t got = 0;
	ssize_t r;
	while ((r = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0 &&
	       got + (size_t)r < sizeof(out) - 1)
		got += (size_t)r;
	if (r > 0)
		got += (size_t)r;
	out[got] = '\0';
	char sink[256];
	while (read(fds[0], sink, sizeof(sink)) > 0)
		;
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	snprintf(err, errlen, "%s failed: %.400s", argv[0], out[0] ? out : "(no output)");
	return -EIO;
}

pid_t fsu_fork_piped(int *fd, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		int e = errno;
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		close(p[0]);
		close(p[1]);
		return -e;
	}
	close(pid == 0 ? p[0] : p[1]);
	*fd = pid == 0 ? p[1] : p[0];
	return pid;
}

int fsu_collect(pid_t pid, int fd, char *buf, size_t len)
{
	size_t got = 0;
	for (ssize_t r; got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) != 0;) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	if (len)
		buf[got] = '\0';
	close(fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

unsigned long long fsu_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command may hold spaces */
	/* after ") ": state is field 3, starttime field 22 */
	if (!p ||
	    sscanf(p + 2,
	           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
	           "%*d %*d %*d %llu",
	           &start) != 1)
		return 0;
	return start;
}
