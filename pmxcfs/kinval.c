/*
 * kinval.c - see kinval.h.
 */
#define LOG_SUBSYS "kinval"
#define FUSE_USE_VERSION 314
#include "pmxcfs/kinval.h"
#include "pmxcfs/log.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KINVAL_WAIT_MS 2000

struct kinval_item {
	struct kinval_item *next;
	bool entry;
	uint64_t inode;
	char *name;
	bool waited;
	bool done;
	bool store; /* then push data into the page cache */
	kinval_call_fn call; /* instead: call it with call_ctx, call_a, version */
	void *call_ctx;
	uint64_t call_a;
	uint64_t version;
	char *data;
	size_t len;
};

struct kinval {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t done;
	pthread_t thread;
	bool running;
	bool stopping;
	struct fuse_session *se;
	struct kinval_item *head, *tail;
	bool delivering; /* the thread is inside a notify call with se */
	kinval_store_done_fn store_done;
	void *store_ctx;
};

static void item_free(struct kinval_item *it)
{
	free(it->name);
	free(it->data);
	free(it);
}

void kinval_set_store_done(struct kinval *k, kinval_store_done_fn fn, void *ctx)
{
	pthread_mutex_lock(&k->lock);
	k->store_done = fn;
	k->store_ctx = ctx;
	pthread_mutex_unlock(&k->lock);
}

/* Make the item's notify calls (se may be NULL: nothing to tell); no lock held. */
static void deliver(struct kinval *k, struct fuse_session *se, struct kinval_item *it)
{
	int err = 0;
	bool stored = false;

	if (it->call) {
		it->call(it->call_ctx, it->call_a, it->version);
		return;
	}
	if (se && it->entry)
		err = fuse_lowlevel_notify_inval_entry(se, it->inode, it->name, strlen(it->name));
	else if (se)
		err = fuse_lowlevel_notify_inval_inode(se, it->inode, 0, 0);
	if (err && err != -ENOENT)
		log_printf(LOG_DEBUG, "invalidation of %llu failed: %s",
		           (unsigned long long)it->inode, strerror(-err));
	if (it->store) {
		if (se && !err && it->len) {
			struct fuse_bufvec bv = FUSE_BUFVEC_INIT(it->len);
			bv.buf[0].mem = it->data;
			stored = fuse_lowlevel_notify_store(se, it->inode, 0, &bv, 0) == 0;
		} else {
			stored = se && !err; /* empty: nothing to cache */
		}
		if (k->store_done)
			k->store_done(k->store_ctx, it->inode, it->version, stored);
	}
}

static void *kinval_thread(void *arg)
{
	struct kinval *k = arg;

	pthread_setname_np(pthread_self(), "pmxcfs-kinval");
	pthread_mutex_lock(&k->lock);
	while (!k->stopping) {
		struct kinval_item *it = k->head;
		if (!it) {
			pthread_cond_wait(&k->work, &k->lock);
			continue;
		}
		k->head = it->next;
		if (!k->head)
			k->tail = NULL;
		struct fuse_session *se = k->se;
		k->delivering = se != NULL;
		pthread_mutex_unlock(&k->lock);

		deliver(k, se, it);

		pthread_mutex_lock(&k->lock);
		k->delivering = false;
		pthread_cond_broadcast(&k->done);
		if (it->waited) {
			it->done = true; /* the waiter frees it */
			pthread_cond_broadcast(&k->done);
		} else {
			item_free(it);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kinval_new(struct kinval **out)
{
	struct kinval *k = calloc(1, sizeof(*k));
	pthread_condattr_t ca;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->done, &ca);
	pthread_condattr_destroy(&ca);
	*out = k;
	return 0;
}

int kinval_attach(struct kinval *k, struct fuse_session *se)
{
	int err = 0;

	pthread_mutex_lock(&k->lock);
	k->se = se;
	if (se && !k->running) {
		/* the session's signals are for the thread that runs the loop */
		sigset_t block, orig;
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGHUP);
		sigaddset(&block, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &block, &orig);
		err = -pthread_create(&k->thread, NULL, kinval_thread, k);
		pthread_sigmask(SIG_SETMASK, &orig, NULL);
		k->running = err == 0;
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int kinval_quiesce(struct kinval *k, unsigned ms)
{
	struct timespec deadline;
	int err = 0;

	deadline_in(&deadline, (long)ms);
	pthread_mutex_lock(&k->lock);
	while (k->delivering) {
		if (pthread_cond_timedwait(&k->done, &k->lock, &deadline) == ETIMEDOUT) {
			err = k->delivering ? -EBUSY : 0;
			break;
		}
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

void kinval_free(struct kinval *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_signal(&k->work);
	pthread_mutex_unlock(&k->lock);
	if (k->running)
		pthread_join(k->thread, NULL);
	for (struct kinval_item *it = k->head, *next; it; it = next) {
		next = it->next;
		if (it->call)
			deliver(k, NULL, it);
		item_free(it);
	}
	pthread_cond_destroy(&k->work);
	pthread_cond_destroy(&k->done);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static void kinval_push(struct kinval *k, struct kinval_item *it, bool wait)
{
	struct timespec deadline;

	it->waited = wait;
	pthread_mutex_lock(&k->lock);
	/*
	 * A call with nothing queued or being delivered before it: made now,
	 * from the caller's thread (the usual case, a batch of writes without
	 * renames or creates, pays no thread hop).
	 */
	if (k->stopping || !k->se || (it->call && !k->head && !k->delivering)) {
		pthread_mutex_unlock(&k->lock);
		if (it->call)
			deliver(k, NULL, it);
		item_free(it);
		return;
	}
	if (k->tail)
		k->tail->next = it;
	else
		k->head = it;
	k->tail = it;
	pthread_cond_signal(&k->work);
	if (!wait) {
		pthread_mutex_unlock(&k->lock);
		return;
	}
	deadline_in(&deadline, KINVAL_WAIT_MS);
	while (!it->done && !k->stopping) {
		if (pthread_cond_timedwait(&k->done, &k->lock, &deadline) == ETIMEDOUT)
			break;
	}
	if (it->done) {
		item_free(it);
	} else {
		/* the thread will free it once it gets to it */
		log_printf(LOG_WARNING, "cache invalidation of %llu still pending after %d ms",
		           (unsigned long long)it->inode, KINVAL_WAIT_MS);
		it->waited = false;
	}
	pthread_mutex_unlock(&k->lock);
}

void kinval_inode_attrs(struct kinval *k, uint64_t inode)
{
	pthread_mutex_lock(&k->lock);
	struct fuse_session *se = k->stopping ? NULL : k->se;
	pthread_mutex_unlock(&k->lock);
	if (se) {
		int err = fuse_lowlevel_notify_inval_inode(se, inode, -1, 0);
		if (err && err != -ENOENT)
			log_printf(LOG_DEBUG, "attribute invalidation of %llu failed: %s",
			           (unsigned long long)inode, strerror(-err));
	}
}

void kinval_inode_store(struct kinval *k, uint64_t inode, uint64_t version, char *data, size_t len)
{
	struct kinval_item it = {
		.inode = inode, .store = true, .version = version, .data = data, .len = len
	};

	pthread_mutex_lock(&k->lock);
	struct fuse_session *se = k->stopping ? NULL : k->se;
	pthread_mutex_unlock(&k->lock);
	deliver(k, se, &it);
	free(data);
}

void kinval_entry(struct kinval *k, uint64_t parent, const char *name, bool wait)
{
	struct kinval_item *it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->entry = true;
	it->inode = parent;
	it->name = strdup(name);
	if (!it->name) {
		free(it);
		return;
	}
	kinval_push(k, it, wait);
}

void kinval_call(struct kinval *k, kinval_call_fn fn, void *ctx, uint64_t a, uint64_t b)
{
	struct kinval_item *it = calloc(1, sizeof(*it));
	if (!it) {
		fn(ctx, a, b); /* out of memory: at least do not hold it back */
		return;
	}
	it->call = fn;
	it->call_ctx = ctx;
	it->call_a = a;
	it->version = b;
	kinval_push(k, it, false);
}
