/*
 * test_feed.c - unit tests of pmxcfs/feed.c, the change feed behind the IPC
 * watches: staging and publishing, replay from a version, prefix filters,
 * the history and byte bounds, and every resync reason.
 */
#include "pmxcfs/feed.h"
#include "tests/test.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What feed_take handed out (copied: the strings belong to the feed). */
struct got {
	size_t n, room; /* room: how many more emit accepts */
	struct {
		uint64_t version;
		int64_t mtime;
		uint8_t op;
		char path[256], path2[256];
	} c[64];
};

static bool emit(void *ctx, const struct ipc_change *c)
{
	struct got *g = ctx;
	if (g->room == 0)
		return false;
	ASSERT_LT(g->n, 64);
	ASSERT(c->path != NULL && c->path2 != NULL);
	g->c[g->n].version = c->version;
	g->c[g->n].mtime = c->mtime;
	g->c[g->n].op = c->op;
	snprintf(g->c[g->n].path, sizeof(g->c[0].path), "%s", c->path);
	snprintf(g->c[g->n].path2, sizeof(g->c[0].path2), "%s", c->path2);
	g->n++;
	g->room--;
	return true;
}

/* Take everything for s into g (reset first); returns feed_take's result. */
static size_t take(struct feed *f, struct feed_sub *s, struct got *g, uint8_t *resync)
{
	memset(g, 0, sizeof(*g));
	g->room = SIZE_MAX;
	size_t n = feed_take(f, s, emit, g, resync);
	ASSERT_EQ(n, g->n);
	return n;
}

/* Publish one change per version from..to (path "f<version>"). */
static void publish_range(struct feed *f, uint64_t from, uint64_t to)
{
	for (uint64_t v = from; v <= to; v++) {
		char path[32];
		snprintf(path, sizeof(path), "f%llu", (unsigned long long)v);
		feed_stage(f, v, (int64_t)v * 10, IPC_OP_PUT, path, NULL);
		feed_publish(f);
	}
}

static void t_take_in_order(void)
{
	struct feed *f = feed_new(100, 16, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync = 0xff;
	uint64_t v = 0;

	ASSERT(f != NULL);
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	ASSERT_EQ(v, 100);
	ASSERT(s.active);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);

	feed_stage(f, 101, 1700000001, IPC_OP_CREATE, "nodes/n1/lxc/100.conf", NULL);
	feed_stage(f, 102, 1700000002, IPC_OP_PUT, "nodes/n1/lxc/100.conf", "");
	feed_stage(f, 103, 1700000003, IPC_OP_MKDIR, "priv/lock/x", NULL);
	/* staged but not published: nothing to see yet */
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	feed_publish(f);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 3);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[0].version, 101);
	ASSERT_EQ(g.c[0].mtime, 1700000001);
	ASSERT_EQ(g.c[0].op, IPC_OP_CREATE);
	ASSERT_STR_EQ(g.c[0].path, "nodes/n1/lxc/100.conf");
	ASSERT_STR_EQ(g.c[0].path2, "");
	ASSERT_EQ(g.c[1].version, 102);
	ASSERT_EQ(g.c[1].op, IPC_OP_PUT);
	ASSERT_EQ(g.c[2].version, 103);
	ASSERT_EQ(g.c[2].mtime, 1700000003);
	ASSERT_EQ(g.c[2].op, IPC_OP_MKDIR);
	ASSERT_STR_EQ(g.c[2].path, "priv/lock/x");
	/* taken: nothing more */
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);

	/* a rename: two changes of one version, each naming the other side */
	feed_stage(f, 104, 5, IPC_OP_RENAME_FROM, "a/x", "b/y");
	feed_stage(f, 104, 5, IPC_OP_RENAME_TO, "b/y", "a/x");
	feed_publish(f);
	ASSERT_EQ(take(f, &s, &g, &resync), 2);
	ASSERT_EQ(g.c[0].op, IPC_OP_RENAME_FROM);
	ASSERT_STR_EQ(g.c[0].path, "a/x");
	ASSERT_STR_EQ(g.c[0].path2, "b/y");
	ASSERT_EQ(g.c[1].op, IPC_OP_RENAME_TO);
	ASSERT_STR_EQ(g.c[1].path, "b/y");
	ASSERT_STR_EQ(g.c[1].path2, "a/x");
	ASSERT_EQ(g.c[1].version, 104);

	/* an unsubscribed cursor gets nothing */
	feed_unsubscribe(f, &s);
	ASSERT(!s.active);
	ASSERT(s.prefix == NULL);
	publish_range(f, 105, 105);
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	feed_free(f);
}

static void t_prefix_filter(void)
{
	struct feed *f = feed_new(0, 16, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 }, all = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	ASSERT_EQ(feed_subscribe(f, &s, "nodes/a/", 0, true, &v), 0);
	ASSERT_EQ(feed_subscribe(f, &all, "", 0, true, &v), 0);
	feed_stage(f, 1, 0, IPC_OP_PUT, "nodes/a/lxc/100.conf", NULL);
	feed_stage(f, 2, 0, IPC_OP_PUT, "nodes/b/lxc/101.conf", NULL);
	feed_stage(f, 3, 0, IPC_OP_PUT, "nodes/a", NULL); /* no trailing slash: no match */
	feed_stage(f, 4, 0, IPC_OP_PUT, "nodes/ab/x", NULL);
	/* a rename out of the prefix and one into it: matched by their own path */
	feed_stage(f, 5, 0, IPC_OP_RENAME_FROM, "nodes/a/lxc/100.conf", "nodes/b/lxc/100.conf");
	feed_stage(f, 5, 0, IPC_OP_RENAME_TO, "nodes/b/lxc/100.conf", "nodes/a/lxc/100.conf");
	feed_stage(f, 6, 0, IPC_OP_RENAME_FROM, "nodes/b/lxc/102.conf", "nodes/a/lxc/102.conf");
	feed_stage(f, 6, 0, IPC_OP_RENAME_TO, "nodes/a/lxc/102.conf", "nodes/b/lxc/102.conf");
	feed_stage(f, 7, 0, IPC_OP_DELETE, "nodes/a/qemu-server/7.conf", NULL);
	feed_publish(f);

	ASSERT_EQ(take(f, &s, &g, &resync), 4);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[0].version, 1);
	ASSERT_STR_EQ(g.c[0].path, "nodes/a/lxc/100.conf");
	ASSERT_EQ(g.c[1].version, 5);
	ASSERT_EQ(g.c[1].op, IPC_OP_RENAME_FROM);
	ASSERT_STR_EQ(g.c[1].path2, "nodes/b/lxc/100.conf");
	ASSERT_EQ(g.c[2].version, 6);
	ASSERT_EQ(g.c[2].op, IPC_OP_RENAME_TO);
	ASSERT_STR_EQ(g.c[2].path, "nodes/a/lxc/102.conf");
	ASSERT_EQ(g.c[3].version, 7);
	ASSERT_EQ(g.c[3].op, IPC_OP_DELETE);
	ASSERT(!feed_pending(f, &s));

	ASSERT_EQ(take(f, &all, &g, &resync), 9);
	feed_unsubscribe(f, &s);
	feed_unsubscribe(f, &all);
	feed_free(f);
}

static void t_replay_from_version(void)
{
	struct feed *f = feed_new(0, 64, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	publish_range(f, 1, 10);
	for (uint64_t from = 0; from <= 10; from++) {
		ASSERT_EQ(feed_subscribe(f, &s, "", from, false, &v), 0);
		ASSERT_EQ(v, from);
		ASSERT_EQ(take(f, &s, &g, &resync), 10 - from);
		ASSERT_EQ(resync, 0);
		for (size_t i = 0; i < g.n; i++) {
			char path[32];
			ASSERT_EQ(g.c[i].version, from + 1 + i);
			ASSERT_EQ(g.c[i].mtime, (int64_t)(from + 1 + i) * 10);
			snprintf(path, sizeof(path), "f%llu", (unsigned long long)(from + 1 + i));
			ASSERT_STR_EQ(g.c[i].path, path);
		}
	}
	/* from_now ignores from */
	ASSERT_EQ(feed_subscribe(f, &s, "", 3, true, &v), 0);
	ASSERT_EQ(v, 10);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_replay_rename_same_version(void)
{
	struct feed *f = feed_new(0, 64, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	publish_range(f, 1, 2);
	feed_stage(f, 3, 0, IPC_OP_RENAME_FROM, "a", "b");
	feed_stage(f, 3, 0, IPC_OP_RENAME_TO, "b", "a");
	feed_publish(f);
	publish_range(f, 4, 5);

	/* from 2: both halves of the rename, then 4 and 5 */
	ASSERT_EQ(feed_subscribe(f, &s, "", 2, false, &v), 0);
	ASSERT_EQ(take(f, &s, &g, &resync), 4);
	ASSERT_EQ(g.c[0].version, 3);
	ASSERT_EQ(g.c[0].op, IPC_OP_RENAME_FROM);
	ASSERT_EQ(g.c[1].version, 3);
	ASSERT_EQ(g.c[1].op, IPC_OP_RENAME_TO);
	ASSERT_EQ(g.c[2].version, 4);
	ASSERT_EQ(g.c[3].version, 5);
	/* from 3: neither half */
	ASSERT_EQ(feed_subscribe(f, &s, "", 3, false, &v), 0);
	ASSERT_EQ(take(f, &s, &g, &resync), 2);
	ASSERT_EQ(g.c[0].version, 4);
	ASSERT_EQ(g.c[1].version, 5);

	/* the same when the first half has been evicted (cap 4: 3/to, 4, 5, 6) */
	struct feed *f2 = feed_new(0, 4, FEED_DEFAULT_BYTES);
	struct feed_sub s2 = { 0 };
	publish_range(f2, 1, 2);
	feed_stage(f2, 3, 0, IPC_OP_RENAME_FROM, "a", "b");
	feed_stage(f2, 3, 0, IPC_OP_RENAME_TO, "b", "a");
	feed_publish(f2);
	publish_range(f2, 4, 6);
	uint64_t ver, floor, events;
	feed_stats(f2, &ver, &floor, &events);
	ASSERT_EQ(ver, 6);
	ASSERT_EQ(floor, 3);
	ASSERT_EQ(events, 7);
	/* from 2 would need the lost rename-from */
	ASSERT_EQ(feed_subscribe(f2, &s2, "", 2, false, &v), 0);
	ASSERT_EQ(take(f2, &s2, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_HISTORY);
	ASSERT_EQ(feed_subscribe(f2, &s2, "", 3, false, &v), 0);
	ASSERT_EQ(take(f2, &s2, &g, &resync), 3);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[0].version, 4);
	ASSERT_EQ(g.c[2].version, 6);

	feed_unsubscribe(f2, &s2);
	feed_free(f2);
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_discard(void)
{
	struct feed *f = feed_new(7, 16, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v, ver, floor, events;

	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	feed_stage(f, 8, 0, IPC_OP_PUT, "x", NULL);
	feed_stage(f, 9, 0, IPC_OP_RENAME_FROM, "x", "y");
	feed_discard(f);
	feed_publish(f); /* nothing left to publish */
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 7);
	ASSERT_EQ(floor, 7);
	ASSERT_EQ(events, 0);

	/* the next batch is published alone */
	feed_stage(f, 8, 0, IPC_OP_CREATE, "z", NULL);
	feed_publish(f);
	ASSERT_EQ(take(f, &s, &g, &resync), 1);
	ASSERT_EQ(g.c[0].version, 8);
	ASSERT_EQ(g.c[0].op, IPC_OP_CREATE);
	ASSERT_STR_EQ(g.c[0].path, "z");

	/* staged changes left at feed_free are freed (ASan checks) */
	feed_stage(f, 9, 0, IPC_OP_PUT, "left", "over");
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_history_bound(void)
{
	struct feed *f = feed_new(0, 8, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v, ver, floor, events;

	publish_range(f, 1, 20);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 20);
	ASSERT_EQ(floor, 12); /* 13..20 kept */
	ASSERT_EQ(events, 20);

	for (uint64_t from = 0; from < floor; from++) {
		ASSERT_EQ(feed_subscribe(f, &s, "", from, false, &v), 0);
		ASSERT(s.active);
		ASSERT_EQ(v, 20); /* the watch starts at the newest version */
		ASSERT(feed_pending(f, &s));
		ASSERT_EQ(take(f, &s, &g, &resync), 0);
		ASSERT_EQ(resync, IPC_RESYNC_HISTORY);
		/* it stays ended */
		ASSERT_EQ(take(f, &s, &g, &resync), 0);
		ASSERT_EQ(resync, IPC_RESYNC_HISTORY);
	}
	for (uint64_t from = floor; from <= 20; from++) {
		ASSERT_EQ(feed_subscribe(f, &s, "", from, false, &v), 0);
		ASSERT_EQ(v, from);
		ASSERT_EQ(take(f, &s, &g, &resync), 20 - from);
		ASSERT_EQ(resync, 0);
		if (g.n)
			ASSERT_EQ(g.c[0].version, from + 1);
	}
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_future_version(void)
{
	struct feed *f = feed_new(5, 8, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	ASSERT_EQ(feed_subscribe(f, &s, "", 6, false, &v), 0);
	ASSERT_EQ(v, 5);
	ASSERT(feed_pending(f, &s));
	/* even once the feed gets there, the watch has ended */
	publish_range(f, 6, 7);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_FUTURE);

	ASSERT_EQ(feed_subscribe(f, &s, "", UINT64_MAX, false, &v), 0);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_FUTURE);
	/* the current version is fine */
	ASSERT_EQ(feed_subscribe(f, &s, "", 7, false, &v), 0);
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_overflow(void)
{
	struct feed *f = feed_new(0, 8, FEED_DEFAULT_BYTES);
	struct feed_sub slow = { 0 }, fast = { 0 }, edge = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	ASSERT_EQ(feed_subscribe(f, &slow, "", 0, true, &v), 0);
	ASSERT_EQ(feed_subscribe(f, &fast, "", 0, true, &v), 0);
	ASSERT_EQ(feed_subscribe(f, &edge, "", 0, true, &v), 0);
	publish_range(f, 1, 8); /* exactly fills the ring */
	ASSERT_EQ(take(f, &edge, &g, &resync), 8);
	ASSERT_EQ(take(f, &fast, &g, &resync), 8);
	publish_range(f, 9, 16); /* 1..8 evicted */
	ASSERT_EQ(take(f, &fast, &g, &resync), 8);
	ASSERT_EQ(g.c[0].version, 9);
	/* slow's next change (1) is gone */
	ASSERT(feed_pending(f, &slow));
	ASSERT_EQ(take(f, &slow, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_OVERFLOW);
	ASSERT_EQ(take(f, &slow, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_OVERFLOW);
	/* edge's next change is exactly the oldest kept (9): not behind */
	ASSERT_EQ(take(f, &edge, &g, &resync), 8);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[0].version, 9);
	ASSERT_EQ(g.c[7].version, 16);
	/* one change too many for fast */
	publish_range(f, 17, 25);
	ASSERT_EQ(take(f, &fast, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_OVERFLOW);
	/* a filtered-out subscriber overflows too: its cursor fell out */
	struct feed_sub other = { 0 };
	ASSERT_EQ(feed_subscribe(f, &other, "nothing/", 0, true, &v), 0);
	publish_range(f, 22, 40);
	ASSERT_EQ(take(f, &other, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_OVERFLOW);

	feed_unsubscribe(f, &slow);
	feed_unsubscribe(f, &fast);
	feed_unsubscribe(f, &edge);
	feed_unsubscribe(f, &other);
	feed_free(f);
}

static void t_reset(void)
{
	struct feed *f = feed_new(0, 8, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 }, s2 = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v, ver, floor, events;

	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	publish_range(f, 1, 3);
	ASSERT_EQ(take(f, &s, &g, &resync), 3);
	ASSERT(!feed_pending(f, &s));
	feed_stage(f, 4, 0, IPC_OP_PUT, "staged", NULL); /* dropped by the reset */
	feed_reset(f, 50);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_STATE);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 50);
	ASSERT_EQ(floor, 50);
	feed_publish(f); /* the staged change is gone */
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 50);
	ASSERT_EQ(events, 3);

	/* old versions are history now; the new version works */
	ASSERT_EQ(feed_subscribe(f, &s2, "", 3, false, &v), 0);
	ASSERT_EQ(take(f, &s2, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_HISTORY);
	ASSERT_EQ(feed_subscribe(f, &s2, "", 50, false, &v), 0);
	ASSERT_EQ(v, 50);
	ASSERT(!feed_pending(f, &s2));
	publish_range(f, 51, 52);
	ASSERT_EQ(take(f, &s2, &g, &resync), 2);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[0].version, 51);
	ASSERT_EQ(g.c[1].version, 52);
	/* a resubscribe of the ended watch works too */
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	ASSERT_EQ(v, 52);
	publish_range(f, 53, 53);
	ASSERT_EQ(take(f, &s, &g, &resync), 1);
	ASSERT_EQ(g.c[0].version, 53);
	feed_unsubscribe(f, &s);
	feed_unsubscribe(f, &s2);
	feed_free(f);
}

static void t_emit_stops(void)
{
	struct feed *f = feed_new(0, 16, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	publish_range(f, 1, 5);
	/* room for two */
	memset(&g, 0, sizeof(g));
	g.room = 2;
	ASSERT_EQ(feed_take(f, &s, emit, &g, &resync), 2);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(g.c[1].version, 2);
	ASSERT(feed_pending(f, &s));
	/* no room at all: nothing, and nothing skipped */
	memset(&g, 0, sizeof(g));
	ASSERT_EQ(feed_take(f, &s, emit, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	ASSERT(feed_pending(f, &s));
	/* the refused change (3) is offered again */
	memset(&g, 0, sizeof(g));
	g.room = 1;
	ASSERT_EQ(feed_take(f, &s, emit, &g, &resync), 1);
	ASSERT_EQ(g.c[0].version, 3);
	ASSERT_EQ(take(f, &s, &g, &resync), 2);
	ASSERT_EQ(g.c[0].version, 4);
	ASSERT_EQ(g.c[1].version, 5);
	ASSERT(!feed_pending(f, &s));
	feed_unsubscribe(f, &s);
	feed_free(f);
}

static void t_max_bytes(void)
{
	/* paths of 1000 bytes: each change costs 1000 + a little */
	struct feed *f = feed_new(0, 1000, 2500);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v, ver, floor, events;
	char path[1001];

	for (uint64_t i = 1; i <= 5; i++) {
		memset(path, 'a' + (int)i, 1000);
		path[1000] = '\0';
		feed_stage(f, i, 0, IPC_OP_PUT, path, NULL);
		feed_publish(f);
	}
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 5);
	ASSERT_EQ(floor, 3); /* only 4 and 5 fit */
	ASSERT_EQ(events, 5);
	ASSERT_EQ(feed_subscribe(f, &s, "", 2, false, &v), 0);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_HISTORY);
	ASSERT_EQ(feed_subscribe(f, &s, "", 3, false, &v), 0);
	ASSERT_EQ(take(f, &s, &g, &resync), 2);
	ASSERT_EQ(g.c[0].version, 4);
	ASSERT_EQ(g.c[0].path[0], 'a' + 4);
	ASSERT_EQ(g.c[1].version, 5);

	/* path2 counts too: one change with two long paths pushes out both others */
	memset(path, 'z', 1000);
	feed_stage(f, 6, 0, IPC_OP_RENAME_FROM, path, path);
	feed_publish(f);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(floor, 5);

	/* a change bigger than the whole bound is still kept (alone) */
	struct feed *f2 = feed_new(0, 8, 10);
	feed_stage(f2, 1, 0, IPC_OP_PUT, "a long path", NULL);
	feed_publish(f2);
	feed_stage(f2, 2, 0, IPC_OP_PUT, "another long path", NULL);
	feed_publish(f2);
	feed_stats(f2, &ver, &floor, &events);
	ASSERT_EQ(ver, 2);
	ASSERT_EQ(floor, 1);
	ASSERT_EQ(feed_subscribe(f2, &s, "", 1, false, &v), 0);
	ASSERT_EQ(take(f2, &s, &g, &resync), 1);
	ASSERT_STR_EQ(g.c[0].path, "another long path");
	feed_unsubscribe(f2, &s);
	feed_free(f2);
	feed_free(f);
}

static void t_pending(void)
{
	struct feed *f = feed_new(0, 8, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;

	ASSERT(!feed_pending(f, &s)); /* never subscribed */
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	ASSERT(!feed_pending(f, &s));
	publish_range(f, 1, 1);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 1);
	ASSERT(!feed_pending(f, &s));
	feed_reset(f, 10);
	ASSERT(feed_pending(f, &s)); /* the resync is waiting */
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_STATE);
	ASSERT(feed_pending(f, &s));
	feed_unsubscribe(f, &s);
	ASSERT(!feed_pending(f, &s));
	feed_free(f);
}

static void t_stats(void)
{
	struct feed *f = feed_new(1000, 4, FEED_DEFAULT_BYTES);
	uint64_t ver, floor, events;

	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 1000);
	ASSERT_EQ(floor, 1000);
	ASSERT_EQ(events, 0);
	feed_stage(f, 1001, 0, IPC_OP_RENAME_FROM, "a", "b");
	feed_stage(f, 1001, 0, IPC_OP_RENAME_TO, "b", "a");
	feed_publish(f);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 1001);
	ASSERT_EQ(floor, 1000);
	ASSERT_EQ(events, 2);
	publish_range(f, 1002, 1004);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 1004);
	ASSERT_EQ(floor, 1001); /* the rename-from was evicted */
	ASSERT_EQ(events, 5);
	feed_reset(f, 2000);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 2000);
	ASSERT_EQ(floor, 2000);
	ASSERT_EQ(events, 5); /* ever published */
	feed_free(f);

	/* max_events 0 keeps one */
	f = feed_new(0, 0, FEED_DEFAULT_BYTES);
	ASSERT(f != NULL);
	publish_range(f, 1, 3);
	feed_stats(f, &ver, &floor, &events);
	ASSERT_EQ(ver, 3);
	ASSERT_EQ(floor, 2);
	feed_free(f);
	feed_free(NULL);
}

static void count_notify(void *ctx)
{
	(*(int *)ctx)++;
}

static void t_notify(void)
{
	struct feed *f = feed_new(0, 8, FEED_DEFAULT_BYTES);
	int n = 0;

	feed_set_notify(f, count_notify, &n);
	publish_range(f, 1, 3);
	ASSERT_EQ(n, 3);
	/* one batch, one call */
	feed_stage(f, 4, 0, IPC_OP_RENAME_FROM, "a", "b");
	feed_stage(f, 4, 0, IPC_OP_RENAME_TO, "b", "a");
	feed_publish(f);
	ASSERT_EQ(n, 4);
	/* an empty publish or a discard says nothing */
	feed_publish(f);
	ASSERT_EQ(n, 4);
	feed_stage(f, 5, 0, IPC_OP_PUT, "x", NULL);
	feed_discard(f);
	feed_publish(f);
	ASSERT_EQ(n, 4);
	feed_reset(f, 9);
	ASSERT_EQ(n, 5);
	/* switched off */
	feed_set_notify(f, NULL, NULL);
	publish_range(f, 10, 10);
	feed_reset(f, 20);
	ASSERT_EQ(n, 5);
	feed_free(f);
}

/* Gated mode: published changes wait for feed_release (pmxcfs's cluster mode). */
static void t_gated(void)
{
	struct feed *f = feed_new(0, 4, FEED_DEFAULT_BYTES);
	struct feed_sub s = { 0 }, late = { 0 };
	struct got g;
	uint8_t resync;
	uint64_t v;
	int n = 0;

	feed_set_notify(f, count_notify, &n);
	feed_set_gated(f, true);
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	publish_range(f, 1, 2);
	ASSERT_EQ(n, 0); /* nobody is woken for what they may not see */
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	/* a watch "from now" starts after what is visible, not what is published */
	ASSERT_EQ(feed_subscribe(f, &late, "", 0, true, &v), 0);
	ASSERT_EQ(v, 0);

	feed_release(f, feed_epoch(f), 1);
	ASSERT_EQ(n, 1);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 1);
	ASSERT_EQ(g.c[0].version, 1);
	ASSERT(!feed_pending(f, &s));
	/* an old or repeated release changes nothing and wakes nobody */
	feed_release(f, feed_epoch(f), 1);
	feed_release(f, feed_epoch(f), 0);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);

	/* a rename's two halves are released together */
	feed_stage(f, 3, 0, IPC_OP_RENAME_FROM, "a", "b");
	feed_stage(f, 3, 0, IPC_OP_RENAME_TO, "b", "a");
	feed_publish(f);
	feed_release(f, feed_epoch(f), 3);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(take(f, &s, &g, &resync), 3);
	ASSERT_EQ(g.c[0].version, 2);
	ASSERT_EQ(g.c[1].version, 3);
	ASSERT_EQ(g.c[2].version, 3);
	ASSERT_EQ(take(f, &late, &g, &resync), 4);
	ASSERT_EQ(resync, 0);

	/* unreleased changes pushed out of the ring: visible, the watcher overflows */
	publish_range(f, 4, 9);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_OVERFLOW);
	feed_unsubscribe(f, &s);

	/* turning the gate off shows what was held */
	feed_release(f, feed_epoch(f), 9);
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	ASSERT_EQ(v, 9);
	publish_range(f, 10, 10);
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	int before = n;
	feed_set_gated(f, false);
	ASSERT_EQ(n, before + 1);
	ASSERT_EQ(take(f, &s, &g, &resync), 1);
	ASSERT_EQ(g.c[0].version, 10);
	/* ungated again: a publish is visible at once */
	publish_range(f, 11, 11);
	ASSERT_EQ(take(f, &s, &g, &resync), 1);

	/* a reset is seen once released; a release from before it is ignored */
	feed_set_gated(f, true);
	publish_range(f, 12, 12);
	uint64_t old_epoch = feed_epoch(f);
	feed_reset(f, 100);
	ASSERT(feed_epoch(f) != old_epoch);
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	publish_range(f, 101, 102); /* the adopted tree changes on */
	feed_release(f, old_epoch, 1000);
	ASSERT(!feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, 0);
	ASSERT_EQ(feed_visible(f), 100);
	before = n;
	feed_release(f, feed_epoch(f), 100);
	ASSERT_EQ(n, before + 1);
	ASSERT(feed_pending(f, &s));
	ASSERT_EQ(take(f, &s, &g, &resync), 0);
	ASSERT_EQ(resync, IPC_RESYNC_STATE);
	feed_unsubscribe(f, &s);
	ASSERT_EQ(feed_subscribe(f, &s, "", 0, true, &v), 0);
	ASSERT_EQ(v, 100); /* 101, 102: not released yet */
	feed_release(f, feed_epoch(f), 102);
	ASSERT_EQ(feed_visible(f), 102);
	ASSERT_EQ(take(f, &s, &g, &resync), 2);
	ASSERT_EQ(g.c[0].version, 101);
	feed_unsubscribe(f, &s);
	feed_unsubscribe(f, &late);
	feed_free(f);
}

static const struct test_case cases[] = {
	{ "take_in_order", t_take_in_order },
	{ "prefix_filter", t_prefix_filter },
	{ "replay_from_version", t_replay_from_version },
	{ "replay_rename_same_version", t_replay_rename_same_version },
	{ "discard", t_discard },
	{ "history_bound", t_history_bound },
	{ "future_version", t_future_version },
	{ "overflow", t_overflow },
	{ "reset", t_reset },
	{ "emit_stops", t_emit_stops },
	{ "max_bytes", t_max_bytes },
	{ "pending", t_pending },
	{ "stats", t_stats },
	{ "notify", t_notify },
	{ "gated", t_gated },
};

TEST_MAIN(cases)
