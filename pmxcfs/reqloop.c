/*
 * reqloop.c - the FUSE session loop of pmxcfs; reqloop.h says what it
 * guarantees and why it spins.
 *
 * A worker's life (worker_main):
 *
 *   grow()
 *     |
 *     v
 *   [idle] receive, non-blocking <-------------------------------------+
 *     | EAGAIN                     \--request--> [busy] process -------+
 *     v                                                                |
 *   spin(): keep receiving for spin_usec, unless another worker spins  |
 *     | nothing came               \--request--> [busy] process -------+
 *     v                                                                |
 *   sleep in epoll_wait --the device is readable-----------------------+
 *     | idle_msec passed and a spare: retire()
 *     | stop event, session exited, device error: leave()
 *     v
 *   slot DONE: joined by grow() (which reuses the slot) or at the end
 *
 * Invariants:
 *   - idle == live workers not [busy] (sleeping, spinning or in between);
 *     a worker that takes a request when it was the last idle one calls
 *     grow() before processing it, so while nlive < max_threads some worker
 *     can always read the next request;
 *   - retire() lets a worker go only if nlive > min_threads and another
 *     worker stays idle;
 *   - at most one worker spins (the spinning flag);
 *   - the stop event (an eventfd in every worker's epoll set, never read) is
 *     written by whoever sees the session end first: the calling thread
 *     (signal, or its periodic fuse_session_exited() check) or a worker
 *     (unmount, device error); it stays readable, so every sleeper leaves;
 *   - slots: FREE -> LIVE (grow) -> DONE (retire/leave, under the lock;
 *     the thread touches no shared state afterwards) -> joined -> FREE.
 *     Once stopping is set no thread is started, so the caller joins a
 *     fixed set.
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

enum slot_state { SLOT_FREE, SLOT_LIVE, SLOT_DONE };

struct reqloop;

struct fuse_worker {
	struct reqloop *loop;
	pthread_t tid;
	enum slot_state state; /* under loop->lock */
};

struct reqloop {
	struct fuse_session *se;
	int fd; /* the session's device, O_NONBLOCK while we run */
	int stopfd; /* eventfd: readable once the session has ended */
	uint64_t spin_ns;
	unsigned min_threads, max_threads;
	int idle_msec;

	pthread_mutex_t lock; /* slots[].state, stopping, changes of nlive */
	struct fuse_worker *slots; /* max_threads of them */
	bool stopping; /* no more workers */
	bool full_logged; /* the pool has reached max_threads (logged once) */
	atomic_uint nlive; /* slots LIVE */

	atomic_uint idle; /* see the invariants */
	atomic_bool spinning;
	atomic_int error; /* the first device error, -errno */
};

#define STOP_TOKEN 1u
#define DEVICE_TOKEN 0u

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

/* The session has ended (res 0) or the device failed (res < 0): record
 * the first error, make sure the session is exited, wake every worker. */
static void end_session(struct reqloop *l, int res)
{
	if (res < 0) {
		int none = 0;
		if (atomic_compare_exchange_strong(&l->error, &none, res))
			log_printf(LOG_ERR, "FUSE device: %s", strerror(-res));
	}
	fuse_session_exit(l->se);
	/* an eventfd write only fails when the counter would overflow */
	if (eventfd_write(l->stopfd, 1) != 0)
		log_printf(LOG_ERR, "cannot wake the FUSE workers: %s", strerror(errno));
}

static void *worker_main(void *arg);

/* Start one more worker if the pool may grow; a failure is only logged
 * (the running workers go on). */
static void grow(struct reqloop *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->stopping)
		goto out_unlock;
	if (atomic_load(&l->nlive) >= l->max_threads) {
		if (!l->full_logged)
			log_printf(LOG_WARNING,
			           "all %u FUSE workers are busy: requests wait for one to finish",
			           l->max_threads);
		l->full_logged = true;
		goto out_unlock;
	}
	struct fuse_worker *w = NULL;
	for (unsigned i = 0; i < l->max_threads && !w; i++) {
		struct fuse_worker *s = &l->slots[i];
		if (s->state == SLOT_DONE) {
			/* it left: it has nothing more to do but return */
			pthread_join(s->tid, NULL);
			s->state = SLOT_FREE;
		}
		if (s->state == SLOT_FREE)
			w = s;
	}
	if (!w) /* nlive < max_threads: cannot happen */
		goto out_unlock;
	w->loop = l;
	w->state = SLOT_LIVE;
	atomic_fetch_add(&l->nlive, 1);
	atomic_fetch_add(&l->idle, 1);
	int err = pthread_create(&w->tid, NULL, worker_main, w);
	if (err) {
		w->state = SLOT_FREE;
		atomic_fetch_sub(&l->nlive, 1);
		atomic_fetch_sub(&l->idle, 1);
		log_printf(LOG_WARNING, "cannot start another FUSE worker (%u running): %s",
		           atomic_load(&l->nlive), strerror(err));
	}
out_unlock:
	pthread_mutex_unlock(&l->lock);
}

/* A worker idle for idle_msec: may it exit?  Only a spare one, and only if
 * another worker stays idle.  If so its slot is DONE on return. */
static bool retire(struct reqloop *l, struct fuse_worker *w)
{
	bool ok = false;

	pthread_mutex_lock(&l->lock);
	if (!l->stopping && atomic_load(&l->nlive) > l->min_threads) {
		unsigned idle = atomic_load(&l->idle);
		while (idle >= 2 && !atomic_compare_exchange_weak(&l->idle, &idle, idle - 1))
			;
		ok = idle >= 2;
	}
	if (ok) {
		atomic_fetch_sub(&l->nlive, 1);
		w->state = SLOT_DONE;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* A worker leaves because the session ended (res 0) or failed (res < 0). */
static void leave(struct reqloop *l, struct fuse_worker *w, int res)
{
	end_session(l, res);
	pthread_mutex_lock(&l->lock);
	atomic_fetch_sub(&l->idle, 1);
	atomic_fetch_sub(&l->nlive, 1);
	w->state = SLOT_DONE;
	pthread_mutex_unlock(&l->lock);
}

/* A worker could not set itself up (res < 0): it just goes, unless it is
 * the last one, whose failure ends the session. */
static void give_up(struct reqloop *l, struct fuse_worker *w, int res)
{
	pthread_mutex_lock(&l->lock);
	bool last = atomic_load(&l->nlive) == 1;
	if (!last) {
		atomic_fetch_sub(&l->idle, 1);
		atomic_fetch_sub(&l->nlive, 1);
		w->state = SLOT_DONE;
	}
	pthread_mutex_unlock(&l->lock);
	if (last) {
		leave(l, w, res);
		return;
	}
	log_printf(LOG_WARNING, "a FUSE worker could not start: %s", strerror(-res));
}

/* One non-blocking receive: > 0 a request in buf, -EAGAIN none there, 0
 * the session ended (libfuse has exited it on ENODEV), < 0 a device error. */
static int receive(struct reqloop *l, struct fuse_buf *buf)
{
	int res;

	do
		res = fuse_session_receive_buf(l->se, buf);
	while (res == -EINTR && !fuse_session_exited(l->se)); /* EINTR: ENOENT, interrupted */
	return res == -EINTR ? 0 : res;
}

/* Keep receiving for up to spin_ns; -EAGAIN if nothing came. */
static int spin(struct reqloop *l, struct fuse_buf *buf)
{
	uint64_t deadline = now_ns() + l->spin_ns;
	int res;

	do {
		cpu_relax();
		res = receive(l, buf);
	} while (res == -EAGAIN && !fuse_session_exited(l->se) && now_ns() < deadline);
	return res;
}

static void *worker_main(void *arg)
{
	struct fuse_worker *w = arg;
	struct reqloop *l = w->loop;
	struct fuse_buf buf = { .mem = NULL }; /* libfuse allocates it */
	struct epoll_event ev[2];
	int ep, res;

	pthread_setname_np(pthread_self(), "pmxcfs-fuse");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		give_up(l, w, -errno);
		goto out_free;
	}
	ev[0] =
	    (struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = DEVICE_TOKEN };
	ev[1] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = STOP_TOKEN };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev[0]) != 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, l->stopfd, &ev[1]) != 0) {
		give_up(l, w, -errno);
		goto out_close;
	}

	for (;;) {
		if (fuse_session_exited(l->se)) {
			res = 0;
			break;
		}
		res = receive(l, &buf);
		if (res == -EAGAIN && l->spin_ns && !atomic_exchange(&l->spinning, true)) {
			res = spin(l, &buf);
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
		if (res != -EAGAIN) /* 0: the session ended; < 0: the device failed */
			break;
		if (fuse_session_exited(l->se)) { /* while we spun */
			res = 0;
			break;
		}
		int timeout = atomic_load(&l->nlive) > l->min_threads ? l->idle_msec : -1;
		int n = epoll_wait(ep, ev, 2, timeout);
		if (n < 0 && errno != EINTR) {
			res = -errno;
			break;
		}
		if (n == 0 && retire(l, w))
			goto out_close; /* the slot is DONE: touch nothing shared */
		if ((n > 0 && ev[0].data.u32 == STOP_TOKEN) ||
		    (n > 1 && ev[1].data.u32 == STOP_TOKEN)) {
			res = 0;
			break;
		}
		/* the device was readable: another worker may have taken the
		 * request already (-EAGAIN next), which is fine */
	}
	leave(l, w, res);
out_close:
	close(ep);
out_free:
	free(buf.mem);
	return NULL;
}

/* Wait until the session has ended, with the ending signals unblocked only
 * inside ppoll (a signal arriving while we look at fuse_session_exited()
 * stays pending and interrupts the next ppoll: no lost wake-up).  The
 * timeout covers a fuse_session_exit() that does not wake us: a signal
 * handled by a thread outside the loop, or a call from a handler. */
static int wait_for_end(struct reqloop *l, const sigset_t *waitmask)
{
	struct pollfd pfd = { .fd = l->stopfd, .events = POLLIN };
	const struct timespec check = {
		.tv_sec = REQLOOP_EXIT_CHECK_MSEC / 1000,
		.tv_nsec = (REQLOOP_EXIT_CHECK_MSEC % 1000) * 1000000L,
	};

	while (!fuse_session_exited(l->se)) {
		int n = ppoll(&pfd, 1, &check, waitmask);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			int err = -errno;
			log_printf(LOG_ERR, "waiting for the FUSE session to end: %s",
			           strerror(-err));
			return err;
		}
	}
	return 0;
}

int reqloop_run(struct fuse_session *se, const struct reqloop_opts *opts)
{
	struct reqloop l;
	sigset_t block, orig, waitmask;
	pthread_t *tids;
	unsigned ntids = 0;
	int flags, err;

	memset(&l, 0, sizeof(l));
	l.se = se;
	l.fd = fuse_session_fd(se);
	l.spin_ns = (uint64_t)opts->spin_usec * 1000u;
	l.max_threads = opts->max_threads ? opts->max_threads : REQLOOP_DEFAULT_MAX_THREADS;
	l.min_threads = opts->min_threads ? opts->min_threads : REQLOOP_DEFAULT_MIN_THREADS;
	if (l.min_threads > l.max_threads)
		l.min_threads = l.max_threads;
	l.idle_msec = (int)(opts->idle_msec ? opts->idle_msec : REQLOOP_DEFAULT_IDLE_MSEC);
	atomic_init(&l.nlive, 0);
	atomic_init(&l.idle, 0);
	atomic_init(&l.spinning, false);
	atomic_init(&l.error, 0);

	flags = fcntl(l.fd, F_GETFL);
	if (flags < 0 || fcntl(l.fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return -errno;
	l.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l.stopfd < 0) {
		err = -errno;
		goto out_restore_flags;
	}
	l.slots = calloc(l.max_threads, sizeof(*l.slots));
	tids = calloc(l.max_threads, sizeof(*tids));
	if (!l.slots || !tids) {
		err = -ENOMEM;
		goto out_free;
	}
	pthread_mutex_init(&l.lock, NULL);

	/* the workers inherit the blocked set: the signals are this thread's */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &orig);
	waitmask = orig;
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);

	for (unsigned i = 0; i < l.min_threads; i++)
		grow(&l);
	if (atomic_load(&l.nlive) == 0)
		err = -EAGAIN; /* grow() has logged why */
	else
		err = wait_for_end(&l, &waitmask);
	end_session(&l, 0);

	pthread_mutex_lock(&l.lock);
	l.stopping = true;
	for (unsigned i = 0; i < l.max_threads; i++)
		if (l.slots[i].state != SLOT_FREE)
			tids[ntids++] = l.slots[i].tid;
	pthread_mutex_unlock(&l.lock);
	for (unsigned i = 0; i < ntids; i++)
		pthread_join(tids[i], NULL);

	if (!err)
		err = atomic_load(&l.error);
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	pthread_mutex_destroy(&l.lock);
out_free:
	free(tids);
	free(l.slots);
	close(l.stopfd);
out_restore_flags:
	fcntl(l.fd, F_SETFL, flags);
	return err;
}
