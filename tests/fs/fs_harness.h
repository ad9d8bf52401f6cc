/*
 * fs_harness.h - start, stop, kill and restart a real pmxcfs daemon on a
 * fresh temporary directory for the FUSE syscall tests (tests/fs/test_fs.c).
 *
 * Every instance lives in its own mkdtemp() directory under /tmp:
 *   <dir>/mnt          the mount point
 *   <dir>/db/config.db the database
 *   <dir>/pmxcfs.log   the daemon's stdout and stderr (appended on restart)
 *
 * The daemon is $PMXCFS_BIN (set by CTest), or ../../pmxcfs/pmxcfs next to
 * the test binary.  Harness functions that fail report and abort (via
 * TEST_FAIL).  An atexit handler and handlers for fatal signals (abort
 * included) kill every daemon we started by pid, lazily unmount our own
 * mount points and remove the temporary directories, so a failed assertion
 * leaves nothing behind.  A watchdog thread does the same when a test hangs
 * (e.g. in a syscall on a wedged mount): after 280 s, or $FS_WATCHDOG_SECONDS.
 *
 * Synchronisation is by polling a condition against a deadline; there are
 * no fixed sleeps.
 */
#ifndef PVE_TESTS_FS_HARNESS_H
#define PVE_TESTS_FS_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FS_NODENAME "testnode"
#define FS_START_TIMEOUT_MS 10000
#define FS_STOP_TIMEOUT_MS 10000

struct fs_inst {
	char dir[PATH_MAX]; /* the temporary directory (realpath) */
	char mnt[PATH_MAX];
	char db[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid; /* the running daemon, or 0 */
};

/* Fresh temp dir, start the daemon, wait until the mount answers. */
void fs_start(struct fs_inst *fs);
/* Start the daemon again on the same directory (after fs_stop/fs_kill9). */
void fs_start_again(struct fs_inst *fs);
/* SIGTERM, wait for a clean exit (status 0) and for the mount to go away. */
void fs_stop(struct fs_inst *fs);
/* SIGKILL the daemon and reap it; the mount is left stale. */
void fs_kill9(struct fs_inst *fs);
/* fs_stop + fs_start_again. */
void fs_restart(struct fs_inst *fs);
/* Stop (or kill) what still runs, unmount, remove the temp dir. */
void fs_cleanup(struct fs_inst *fs);

/*
 * Run the daemon with extra arguments (NULL terminated) appended to
 * "-f -l", output to logpath; the child is tracked for emergency cleanup.
 */
pid_t fs_spawn(const char *logpath, const char *const *args);
/*
 * Wait up to timeout_ms for child pid; 0 and *status on exit, -1 on timeout
 * (the child is then still running).
 */
int fs_wait_pid(pid_t pid, int timeout_ms, int *status);
/* Track a child (killed by pid in an emergency) / forget it (reaped). */
void fs_track(pid_t pid);
void fs_untrack(pid_t pid);
/* Track / untrack an extra mount point for emergency lazy unmount. */
void fs_track_mount(const char *path);
void fs_untrack_mount(const char *path);

/* Is path a mount point of type fuse.pmxcfs in /proc/self/mounts? */
bool fs_is_mounted(const char *path);

/* "<mnt>/<rel>" in one of a few rotating static buffers (main thread only). */
const char *fs_path(const struct fs_inst *fs, const char *rel);

/* Print the last lines of a daemon log to stderr. */
void fs_dump_log(const char *logpath);

/* Read a whole file (malloc'd, NUL terminated); -1 with errno on error. */
ssize_t fs_read_file(const char *path, char **out);
/* Create/truncate and write a whole file, then close; 0 or -1 with errno. */
int fs_write_file(const char *path, const void *data, size_t len);
/* Does file path hold exactly data/len? */
bool fs_file_equals(const char *path, const void *data, size_t len);

/* Monotonic milliseconds. */
long long fs_now_ms(void);
/* A short pause inside a polling loop (never used for synchronisation). */
void fs_poll_pause(void);

#endif
