/*
 * test_kstate.c - unit tests of pmxcfs/kstate.c, the per-inode record of
 * what the kernel may cache, and its policy: a read-only open gets the page
 * cache only while every page-cached reader of the inode has its version,
 * no drain and no store of another version is in progress.  Pure state, no
 * kernel; the FUSE-level behaviour is in tests/fs (reader_snapshot_*).
 */
#include "pmxcfs/kstate.h"
#include "tests/test.h"

#include <pthread.h>

static struct kstate *ks_new(void)
{
	struct kstate *ks;
	ASSERT_EQ(kstate_new(&ks), 0);
	return ks;
}

static void t_same_version_shares(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* another inode is independent */
	ASSERT(kstate_reader_open(ks, 11, 7));
	/* closing at the current version needs no drain */
	ASSERT(!kstate_reader_close(ks, 10, 5, 5));
	ASSERT(!kstate_reader_close(ks, 10, 5, 5));
	ASSERT(!kstate_reader_close(ks, 11, 7, 7));
	/* the entry is gone: any version may take the cache now */
	ASSERT(kstate_reader_open(ks, 10, 6));
	kstate_free(ks);
}

static void t_other_version_direct(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* a reader of the new version may not share the cache */
	ASSERT(!kstate_reader_open(ks, 10, 6));
	ASSERT(!kstate_reader_open(ks, 10, 4));
	/* but more readers of the cached version may */
	ASSERT(kstate_reader_open(ks, 10, 5));
	kstate_free(ks);
}

static void t_drain_after_superseded(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* the file is at version 6 now: the first close does not drain yet */
	ASSERT(!kstate_reader_close(ks, 10, 5, 6));
	ASSERT(!kstate_reader_open(ks, 10, 6));
	/* the last reader of the superseded version drains */
	ASSERT(kstate_reader_close(ks, 10, 5, 6));
	/* while draining nobody gets the cache, not even version 6 */
	ASSERT(!kstate_reader_open(ks, 10, 6));
	ASSERT(!kstate_reader_open(ks, 10, 5));
	kstate_drained(ks, 10);
	ASSERT(kstate_reader_open(ks, 10, 6));
	kstate_free(ks);
}

static void t_removed_file_drains(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* cur_version 0: the file is gone */
	ASSERT(kstate_reader_close(ks, 10, 5, 0));
	kstate_drained(ks, 10);
	ASSERT(kstate_reader_open(ks, 10, 9));
	kstate_free(ks);
}

static void t_store(void)
{
	struct kstate *ks = ks_new();
	/* no entry: a commit may push its content */
	ASSERT(kstate_store_begin(ks, 10, 7));
	/* only one store at a time */
	ASSERT(!kstate_store_begin(ks, 10, 8));
	/* readers of the stored version may share the cache, others not */
	ASSERT(!kstate_reader_open(ks, 10, 6));
	ASSERT(kstate_reader_open(ks, 10, 7));
	kstate_store_end(ks, 10);
	/* the reader keeps the entry alive: another version is still refused */
	ASSERT(!kstate_reader_open(ks, 10, 8));
	ASSERT(!kstate_store_begin(ks, 10, 8));
	ASSERT(!kstate_reader_close(ks, 10, 7, 7));
	ASSERT(kstate_store_begin(ks, 10, 8));
	kstate_store_end(ks, 10);
	kstate_free(ks);
}

static void t_store_with_writer(void)
{
	struct kstate *ks = ks_new();
	/* the committing writer itself is open: the store is allowed */
	ASSERT(kstate_writer_open(ks, 10, 0));
	ASSERT(kstate_store_begin(ks, 10, 7));
	/* readers stay on direct I/O while the writer is open, store or not */
	ASSERT(!kstate_reader_open(ks, 10, 7));
	kstate_store_end(ks, 10);
	kstate_writer_close(ks, 10);
	ASSERT(kstate_reader_open(ks, 10, 7));
	kstate_free(ks);
}

static void t_writer_waits_for_readers(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* a reader stays open: the writer's wait times out */
	ASSERT(!kstate_writer_open(ks, 10, 20));
	/* new readers go direct while the writer is open */
	ASSERT(!kstate_reader_open(ks, 10, 5));
	ASSERT(!kstate_reader_close(ks, 10, 5, 5));
	kstate_writer_close(ks, 10);
	ASSERT(kstate_reader_open(ks, 10, 5));
	ASSERT(!kstate_reader_close(ks, 10, 5, 5));
	/* no reader: no wait */
	ASSERT(kstate_writer_open(ks, 10, 1000));
	kstate_writer_close(ks, 10);
	kstate_free(ks);
}

static void t_no_store_while_readers(void)
{
	struct kstate *ks = ks_new();
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* a page-cached reader of version 5 would see the new pages */
	ASSERT(!kstate_store_begin(ks, 10, 6));
	ASSERT(kstate_reader_close(ks, 10, 5, 6));
	/* nor while draining */
	ASSERT(!kstate_store_begin(ks, 10, 6));
	kstate_drained(ks, 10);
	ASSERT(kstate_store_begin(ks, 10, 6));
	kstate_store_end(ks, 10);
	kstate_free(ks);
}

static void t_unknown_calls_harmless(void)
{
	struct kstate *ks = ks_new();
	/* closes, ends and drains of inodes without an entry change nothing */
	ASSERT(!kstate_reader_close(ks, 10, 5, 5));
	kstate_store_end(ks, 10);
	kstate_drained(ks, 10);
	ASSERT(kstate_reader_open(ks, 10, 5));
	/* a close of another version than the cached one is not counted */
	ASSERT(!kstate_reader_close(ks, 10, 4, 5));
	ASSERT(!kstate_reader_open(ks, 10, 6));
	kstate_free(ks); /* frees remaining entries (LSan checks) */
}

static void t_many_inodes(void)
{
	struct kstate *ks = ks_new();
	/* more inodes than buckets: chains work, entries stay separate */
	for (uint64_t ino = 1; ino <= 5000; ino++)
		ASSERT(kstate_reader_open(ks, ino * 1024, ino));
	for (uint64_t ino = 1; ino <= 5000; ino++)
		ASSERT(!kstate_reader_open(ks, ino * 1024, ino + 1));
	for (uint64_t ino = 1; ino <= 5000; ino += 2)
		ASSERT(!kstate_reader_close(ks, ino * 1024, ino, ino));
	for (uint64_t ino = 1; ino <= 5000; ino++)
		ASSERT_EQ(kstate_reader_open(ks, ino * 1024, ino + 1), ino % 2 == 1);
	kstate_free(ks);
}

#define THREADS 4
#define ROUNDS 20000

static void *hammer(void *arg)
{
	struct kstate *ks = arg;
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t ino = (uint64_t)(i % 7) + 1;
		if (kstate_reader_open(ks, ino, 1))
			ASSERT(!kstate_reader_close(ks, ino, 1, 1));
	}
	return NULL;
}

static void t_threads(void)
{
	struct kstate *ks = ks_new();
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, hammer, ks), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* every open was closed: all entries are gone, any version is welcome */
	for (uint64_t ino = 1; ino <= 7; ino++)
		ASSERT(kstate_reader_open(ks, ino, 99));
	kstate_free(ks);
}

static const struct test_case cases[] = {
	{ "same_version_shares", t_same_version_shares },
	{ "other_version_direct", t_other_version_direct },
	{ "drain_after_superseded", t_drain_after_superseded },
	{ "removed_file_drains", t_removed_file_drains },
	{ "store", t_store },
	{ "no_store_while_readers", t_no_store_while_readers },
	{ "store_with_writer", t_store_with_writer },
	{ "writer_waits_for_readers", t_writer_waits_for_readers },
	{ "unknown_calls_harmless", t_unknown_calls_harmless },
	{ "many_inodes", t_many_inodes },
	{ "threads", t_threads },
};

TEST_MAIN(cases)
