/*
 * reqloop.h - pmxcfs's FUSE request loop: a growing pool of worker threads
 * that busy-poll /dev/fuse briefly after each request before sleeping.
 *
 * Why: on a small VM an idle CPU halts at once, and waking a sleeping daemon
 * thread costs about as much as the whole request.  A worker that has just
 * answered a request keeps reading the (non-blocking) device for spin_usec
 * microseconds, so the next request of a busy client is taken without a
 * wake-up; when nothing comes it sleeps, and an idle daemon uses no CPU.
 * Measured with tests/bench (fuse_floor -p): about twice the open+read+close
 * rate of libfuse's multi-threaded loop on a 2-vCPU VM.
 *
 * Rules the loop keeps:
 *   - at most one worker spins at a time; the others sleep in their own
 *     epoll instance (EPOLLEXCLUSIVE: one wake-up per request, no herd);
 *   - handlers may block (a commit waits for fsync; an invalidation may wait
 *     for a page a READ holds), so whenever a worker takes a request and no
 *     other worker is idle, another is started (up to max_threads): there is
 *     always a worker left to answer the request a blocked one waits for;
 *   - one file descriptor (the session's): a reply must go to the device its
 *     request was read from, so libfuse's clone_fd is not used;
 *   - SIGTERM/SIGINT/SIGHUP (fuse_set_signal_handlers) are handled by the
 *     calling thread only; an unmount (ENODEV) is noticed by a worker; either
 *     way every thread is woken and joined before reqloop_run returns.
 *
 * Called by main.c after the session is mounted and daemonized.
 */
#ifndef PMXCFS_REQLOOP_H
#define PMXCFS_REQLOOP_H

struct fuse_session;

struct reqloop_opts {
	unsigned spin_usec; /* busy-poll after a request; 0: never spin */
	unsigned min_threads; /* started at once (>= 1) */
	unsigned max_threads; /* upper bound of the pool */
};

#define REQLOOP_DEFAULT_SPIN_USEC 50
#define REQLOOP_DEFAULT_MIN_THREADS 2
#define REQLOOP_DEFAULT_MAX_THREADS 64

/*
 * Serve se until the session ends (signal, unmount, or a device error).
 * Returns 0 on a clean end, -errno when the device failed or the loop could
 * not be set up (nothing is left running in either case).
 */
int reqloop_run(struct fuse_session *se, const struct reqloop_opts *opts);

#endif
