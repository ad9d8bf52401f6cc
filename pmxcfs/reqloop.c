/*
 * reqloop.c - the FUSE request loop; see reqloop.h for the rules.
 *
 * A worker's life:
 *
 *   +--> receive (non-blocking) --request--> [busy] process --+
 *   |       | EAGAIN                                          |
 *   |       v                                                 |
 *   |    spin (if no other worker spins), receiving, up to    |
 *   |    spin_usec --request--> [busy] process ---------------+
 *   |       | nothing came
 *   |       v
 *   +--- sleep in epoll_wait (device readable, or the stop event)
 *
 * "idle" counts workers not busy; a worker that takes a request when it was
 * the last idle one starts another (grow()).  The stop event (an eventfd,
 * level-triggered in every worker's epoll set) is written once the session
 * has exited, by whoever noticed: the calling thread after a signal, or a
 * worker after an unmount or a device error.
 */
#define LOG_SUBSYS "fuse"
#define FUSE_USE_VERSION 314
#include "pmxcfs/reqloop.h"
#include "pmxcfs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct reqloop {
	struct fuse_session *se;
	int fd; /* the session's device */
	int stopfd; /* eventfd: the session has exited */
	unsigned spin_usec;
	unsigned max_threads;

	pthread_mutex_t lock; /* threads[], nthreads */
	pthread_t *threads;
	unsigned nthreads;

	atomic_uint idle;
	atomic_bool spinning;
	atomic_int error; /* first device error, -errno */
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void signal_stop(struct reqloop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->stopfd, &one, sizeof(one));
	(void)r; /* an eventfd write only fails at its 2^64-1 limit */
}

static void *worker(void *arg);

/* Start one more worker, if the pool may grow; a failure is only logged. */
static void grow(struct reqloop *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->nthreads < l->max_threads) {
		int err = pthread_create(&l->threads[l->nthreads], NULL, worker, l);
		if (err == 0) {
			l->nthreads++;
			atomic_fetch_add(&l->idle, 1);
		} else {
			log_printf(LOG_WARNING, "cannot start another FUSE worker: %s",
			           strerror(err));
		}
	}
	pthread_mutex_unlock(&l->lock);
}

/* The session ended or the device failed: record it and wake everyone. */
static void end_session(struct reqloop *l, int res)
{
	if (res < 0) {
		int expected = 0;
		atomic_compare_exchange_strong(&l->error, &expected, res);
		log_printf(LOG_ERR, "reading the FUSE device failed: %s", strerror(-res));
	}
	fuse_session_exit(l->se);
	signal_stop(l);
}

/*
 * Receive one request into buf: > 0 its size, -EAGAIN nothing there, 0 the
 * session ended, < 0 a device error.  With spin set, keep trying for up to
 * spin_usec before reporting -EAGAIN.
 */
static int receive(struct reqloop *l, struct fuse_buf *buf, bool spin)
{
	uint64_t deadline = 0;

	for (;;) {
		int res = fuse_session_receive_buf(l->se, buf);
		if (res == -EINTR)
			continue;
		if (res != -EAGAIN || !spin)
			return res;
		if (fuse_session_exited(l->se))
			return 0;
		uint64_t t = now_ns();
		if (!deadline)
			deadline = t + (uint64_t)l->spin_usec * 1000u;
		else if (t >= deadline)
			return -EAGAIN;
		cpu_relax();
	}
}

static void *worker(void *arg)
{
	struct reqloop *l = arg;
	struct fuse_buf buf = { .mem = NULL };
	struct epoll_event ev[2];
	int ep;

	pthread_setname_np(pthread_self(), "pmxcfs-fuse");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		end_session(l, -errno);
		goto out;
	}
	ev[0] = (struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 0 };
	ev[1] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 1 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev[0]) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, l->stopfd, &ev[1]) < 0) {
		end_session(l, -errno);
		goto out_close;
	}

	while (!fuse_session_exited(l->se)) {
		int res = receive(l, &buf, false);
		if (res == -EAGAIN && l->spin_usec && !atomic_exchange(&l->spinning, true)) {
			res = receive(l, &buf, true);
			atomic_store(&l->spinning, false);
		}
		if (res > 0) {
			/* the last idle worker takes a request: keep one in reserve */
			if (atomic_fetch_sub(&l->idle, 1) == 1)
				grow(l);
			fuse_session_process_buf(l->se, &buf);
			atomic_fetch_add(&l->idle, 1);
			continue;
		}
		if (res == 0) { /* unmounted (libfuse has exited the session) or stopping */
			end_session(l, 0);
			break;
		}
		if (res != -EAGAIN) {
			end_session(l, res);
			break;
		}
		int n = epoll_wait(ep, ev, 2, -1);
		if (n < 0 && errno != EINTR) {
			end_session(l, -errno);
			break;
		}
		for (int i = 0; i < n; i++)
			if (ev[i].data.u32 == 1)
				goto out_close; /* stop event: the session has exited */
	}
out_close:
	close(ep);
out:
	atomic_fetch_sub(&l->idle, 1);
	free(buf.mem);
	return NULL;
}

int reqloop_run(struct fuse_session *se, const struct reqloop_opts *opts)
{
	struct reqloop l;
	sigset_t block, orig;
	int flags, err = 0;

	memset(&l, 0, sizeof(l));
	l.se = se;
	l.fd = fuse_session_fd(se);
	l.spin_usec = opts->spin_usec;
	l.max_threads = opts->max_threads ? opts->max_threads : REQLOOP_DEFAULT_MAX_THREADS;
	unsigned min = opts->min_threads ? opts->min_threads : 1;
	if (min > l.max_threads)
		min = l.max_threads;
	atomic_init(&l.idle, 0);
	atomic_init(&l.spinning, false);
	atomic_init(&l.error, 0);

	flags = fcntl(l.fd, F_GETFL);
	if (flags < 0 || fcntl(l.fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	l.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l.stopfd < 0)
		return -errno;
	l.threads = calloc(l.max_threads, sizeof(*l.threads));
	if (!l.threads) {
		err = -ENOMEM;
		goto out_close_stop;
	}
	pthread_mutex_init(&l.lock, NULL);

	/* workers inherit the blocked set: the signals are this thread's */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &orig);

	for (unsigned i = 0; i < min; i++)
		grow(&l);
	if (l.nthreads == 0) {
		err = -EAGAIN;
		goto out_unmask;
	}

	/*
	 * Wait with the signals unblocked only inside ppoll, so a signal that
	 * arrives while we check fuse_session_exited() is not lost; a worker
	 * that ends the session writes stopfd.
	 */
	struct pollfd pfd = { .fd = l.stopfd, .events = POLLIN };
	sigset_t waitmask = orig;
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	while (!fuse_session_exited(se)) {
		if (ppoll(&pfd, 1, NULL, &waitmask) > 0)
			break;
	}
	signal_stop(&l);

	pthread_mutex_lock(&l.lock);
	unsigned n = l.nthreads;
	pthread_mutex_unlock(&l.lock);
	/* workers may still grow the pool until they see the stop event */
	for (unsigned i = 0; i < n; i++) {
		pthread_join(l.threads[i], NULL);
		pthread_mutex_lock(&l.lock);
		n = l.nthreads;
		pthread_mutex_unlock(&l.lock);
	}
	err = atomic_load(&l.error);

out_unmask:
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	pthread_mutex_destroy(&l.lock);
	free(l.threads);
out_close_stop:
	close(l.stopfd);
	fcntl(l.fd, F_SETFL, flags);
	return err;
}
