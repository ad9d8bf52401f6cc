/*
 * reqloop.h - pmxcfs's FUSE session loop (in place of libfuse's
 * fuse_session_loop_mt): a pool of worker threads on the one /dev/fuse
 * descriptor that busy-poll the device for a moment after each request
 * before they sleep.
 *
 * Why: on a small VM an idle vCPU halts at once, and waking a sleeping
 * daemon thread costs about as much as the whole request (~25 us each way
 * on the 2-vCPU dev VM).  A worker that has just answered a request keeps
 * reading the non-blocking device for spin_usec microseconds, so the next
 * request of a busy client is taken without a wake-up; when nothing comes
 * it sleeps, and an idle daemon uses no CPU.  Measured with tests/bench
 * (fuse_floor -p, run-smallfile.sh --spin-usec): about twice the
 * open+read+close rate of libfuse's multi-threaded loop on that VM.
 *
 * What the loop guarantees:
 *   - at most one worker spins at a time; the others sleep, each in its own
 *     epoll instance (EPOLLEXCLUSIVE: one wake-up per request, no herd);
 *   - handlers may block (a commit waits for an fsync, an invalidation for a
 *     page a READ holds), so whenever a worker takes a request and no other
 *     worker is idle, another one is started (up to max_threads): a blocked
 *     handler always leaves a worker to answer the request it waits for;
 *     workers beyond min_threads that sleep idle_msec with nothing to do
 *     exit again;
 *   - one descriptor (the session's): a reply must go to the device its
 *     request was read from, and libfuse replies on the session's fd, so
 *     libfuse's clone_fd is not used;
 *   - the workers block SIGTERM/SIGINT/SIGHUP; the calling thread takes them
 *     while it waits.  The session ends on fuse_session_exit() (the handlers
 *     of fuse_set_signal_handlers(), from any thread), on an unmount
 *     (ENODEV) or on a device error; within REQLOOP_EXIT_CHECK_MSEC at the
 *     latest, every worker is woken, and all are joined before
 *     reqloop_run returns.
 *
 * Called by main.c after the session is mounted and daemonized (threads do
 * not survive fuse_daemonize's fork).
 */
#ifndef PMXCFS_REQLOOP_H
#define PMXCFS_REQLOOP_H

struct fuse_session;

struct reqloop_opts {
	unsigned spin_usec; /* poll this long after a request; 0: never spin */
	unsigned min_threads; /* started at once, never retired; 0: the default */
	unsigned max_threads; /* upper bound of the pool; 0: the default */
	unsigned idle_msec; /* a worker beyond min_threads idle this long exits; 0: the default */
};

#define REQLOOP_DEFAULT_SPIN_USEC 50
#define REQLOOP_DEFAULT_MIN_THREADS 2
#define REQLOOP_DEFAULT_MAX_THREADS 64
#define REQLOOP_DEFAULT_IDLE_MSEC 10000
/* how often the waiting caller looks at fuse_session_exited() on its own */
#define REQLOOP_EXIT_CHECK_MSEC 500

/*
 * Serve se until the session ends.  se must be mounted; install
 * fuse_set_signal_handlers(se) first for SIGTERM/SIGINT/SIGHUP to end the
 * loop.  The device is non-blocking while the loop runs; its file flags and
 * the calling thread's signal mask are restored before the return.  Unlike
 * fuse_session_loop_mt() the session is not reset: fuse_session_exited(se)
 * stays true afterwards.
 *
 * Returns 0 when the session ended (signal, fuse_session_exit(), unmount),
 * or -errno: the device failed (the first error), or the loop could not be
 * set up (-ENOMEM, -EMFILE, pthread_create's error, ...).  Either way no
 * worker is left running.
 */
int reqloop_run(struct fuse_session *se, const struct reqloop_opts *opts);

#endif
