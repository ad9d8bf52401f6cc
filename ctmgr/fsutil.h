/*
 * fsutil.h - small file system helpers shared by ctmgr's modules.
 */
#ifndef CTMGR_FSUTIL_H
#define CTMGR_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p (every missing component with mode); 0 or -errno. */
int fsu_mkdirs(const char *path, mode_t mode);
/* rm -rf without following symlinks; 0 or -errno. */
int fsu_rm_rf(const char *path);
/*
 * Run argv (searched in $PATH) and wait; 0 on exit status 0, else -EIO with
 * "<prog> failed: <first line of its output>" in err.
 */
int fsu_run(const char *const *argv, char *err, size_t errlen);
/* The same in the network namespace netns (an fd of /proc/PID/ns/net; -1: ours). */
int fsu_run_netns(int netns, const char *const *argv, char *err, size_t errlen);

/* The start time of process pid (clock ticks after boot, /proc/<pid>/stat), 0 when gone. */
unsigned long long fsu_proc_start(pid_t pid);

/*
 * fork() with a pipe from the child to the parent: returns 0 in the child
 * (*fd: the write end), the child's pid in the parent (*fd: the read end),
 * or -errno with the reason in err.  Both ends are close-on-exec.
 */
pid_t fsu_fork_piped(int *fd, char *err, size_t errlen);
/*
 * The parent's side: read fd to its end into buf (at most len - 1 bytes,
 * NUL-terminated), close it and reap pid.  Returns the wait status.
 */
int fsu_collect(pid_t pid, int fd, char *buf, size_t len);

#endif
