/*
 * test_ctpending.c - pending changes of a container config
 * (ctmgr/ctpending.c): set/delete/revert, applying with a filter, kept
 * volumes of removed mount points, what a running container may take now,
 * and the diff ctmgrd will hot-plug from.
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/ctpending.h"
#include "tests/test.h"

#include <stdbool.h>

static struct ctc_conf *parse(const char *text)
{
	struct ctc_conf *c = NULL;
	char err[512];
	if (ctc_parse(text, strlen(text), "t.conf", true, &c, NULL, err, sizeof(err)))
		TEST_FAIL("parse: %s", err);
	return c;
}

static void assert_text(const struct ctc_conf *c, const char *want)
{
	size_t len;
	char *out = ctc_print(c, &len);
	ASSERT_STR_EQ(out, want);
	free(out);
}

static const char *base = "memory: 512\n"
                          "mp0: local:100/vm-100-disk-1.raw,mp=/srv,size=8G\n"
                          "mp1: /srv/shared,mp=/mnt/shared\n"
                          "rootfs: local:100/vm-100-disk-0.raw,size=8G\n"
                          "swap: 512\n";

static void t_set_delete_revert(void)
{
	char err[512];
	struct ctc_conf *c = parse(base);
	ASSERT_EQ(ctp_set(c, "memory", "1024", err, sizeof(err)), 0);
	ASSERT_EQ(ctp_delete(c, "swap", true, err, sizeof(err)), 0);
	bool force = false;
	ASSERT(ctp_is_deleted(c, "swap", &force));
	ASSERT(force);
	ASSERT(!ctp_is_deleted(c, "memory", NULL));
	/* a value replaces a pending deletion and the other way round */
	ASSERT_EQ(ctp_set(c, "swap", "256", err, sizeof(err)), 0);
	ASSERT(!ctp_is_deleted(c, "swap", NULL));
	ASSERT_EQ(ctp_delete(c, "memory", false, err, sizeof(err)), 0);
	ASSERT(ctc_get(c->pending, "memory") == NULL);
	ASSERT(ctp_delete(c, "nosuchkey", false, err, sizeof(err)) < 0);
	ASSERT(strstr(err, "nosuchkey") != NULL);
	ASSERT(ctp_set(c, "memory", "8", err, sizeof(err)) < 0); /* validated */
	/* revert forgets both kinds; an empty pending section goes */
	ASSERT(ctp_revert(c, "memory"));
	ASSERT(ctp_revert(c, "swap"));
	ASSERT(!ctp_revert(c, "swap"));
	ASSERT(c->pending == NULL);
	assert_text(c, base);
	ctc_free(c);
}

static bool only_memory(void *ctx, const char *key)
{
	(void)ctx;
	return !strcmp(key, "memory");
}

static void t_apply_filter(void)
{
	char err[512];
	struct ctc_conf *c = parse(base);
	ASSERT_EQ(ctp_set(c, "memory", "1024", err, sizeof(err)), 0);
	ASSERT_EQ(ctp_set(c, "cores", "2", err, sizeof(err)), 0);
	ASSERT_EQ(ctp_delete(c, "swap", false, err, sizeof(err)), 0);
	ASSERT_EQ(ctp_apply(c, only_memory, NULL, err, sizeof(err)), 1);
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "1024");
	ASSERT(ctc_get(&c->main, "cores") == NULL);
	ASSERT_STR_EQ(ctc_get(&c->main, "swap"), "512");
	ASSERT_STR_EQ(ctc_get(c->pending, "cores"), "2");
	ASSERT(ctp_is_deleted(c, "swap", NULL));
	ASSERT_EQ(ctp_apply(c, NULL, NULL, err, sizeof(err)), 2);
	ASSERT(c->pending == NULL);
	ASSERT(ctc_get(&c->main, "swap") == NULL);
	ctc_free(c);
}

static void t_unused_volumes(void)
{
	char err[512];
	struct ctc_conf *c = parse(base);
	/* a removed storage mount point keeps its volume; a bind mount does not */
	ASSERT_EQ(ctp_delete(c, "mp0", false, err, sizeof(err)), 0);
	ASSERT_EQ(ctp_delete(c, "mp1", false, err, sizeof(err)), 0);
	ASSERT_EQ(ctp_apply(c, NULL, NULL, err, sizeof(err)), 2);
	ASSERT_STR_EQ(ctc_get(&c->main, "unused0"), "local:100/vm-100-disk-1.raw");
	ASSERT(ctc_get(&c->main, "unused1") == NULL);
	/* a replaced one keeps the old volume in the next free slot */
	ASSERT_EQ(ctp_set(c, "mp0", "local:100/vm-100-disk-2.raw,mp=/srv", err, sizeof(err)), 0);
	ASSERT_EQ(ctp_apply(c, NULL, NULL, err, sizeof(err)), 1);
	ASSERT_EQ(ctp_set(c, "mp0", "volume=local:100/vm-100-disk-3.raw,mp=/srv", err, sizeof(err)),
	          0);
	ASSERT_EQ(ctp_apply(c, NULL, NULL, err, sizeof(err)), 1);
	ASSERT_STR_EQ(ctc_get(&c->main, "unused1"), "local:100/vm-100-disk-2.raw");
	ASSERT_STR_EQ(ctc_get(&c->main, "mp0"), "local:100/vm-100-disk-3.raw,mp=/srv");
	/*
	 * A pending mount point's own volume (pct set allocated it for a running
	 * container) replaced, deleted or reverted before a start: kept as well
	 */
	ASSERT_EQ(ctp_set(c, "mp5", "local:100/vm-100-disk-5.raw,mp=/a", err, sizeof(err)), 0);
	ASSERT_EQ(ctp_set(c, "mp5", "local:100/vm-100-disk-6.raw,mp=/a", err, sizeof(err)), 0);
	ASSERT_STR_EQ(ctc_get(&c->main, "unused2"), "local:100/vm-100-disk-5.raw");
	/* the same volume with other options: nothing to keep */
	ASSERT_EQ(ctp_set(c, "mp5", "local:100/vm-100-disk-6.raw,mp=/b", err, sizeof(err)), 0);
	ASSERT(ctc_get(&c->main, "unused3") == NULL);
	/* a size still to be allocated is no volume */
	ASSERT_EQ(ctp_set(c, "mp5", "local:1,mp=/b", err, sizeof(err)), 0);
	ASSERT_STR_EQ(ctc_get(&c->main, "unused3"), "local:100/vm-100-disk-6.raw");
	ASSERT_EQ(ctp_set(c, "mp5", "local:100/vm-100-disk-7.raw,mp=/b", err, sizeof(err)), 0);
	ASSERT(ctc_get(&c->main, "unused4") == NULL);
	ASSERT_EQ(ctp_delete(c, "mp5", false, err, sizeof(err)), 0);
	ASSERT_STR_EQ(ctc_get(&c->main, "unused4"), "local:100/vm-100-disk-7.raw");
	ASSERT_EQ(ctp_set(c, "mp5", "local:100/vm-100-disk-8.raw,mp=/b", err, sizeof(err)), 0);
	ASSERT(ctp_revert(c, "mp5"));
	ASSERT_STR_EQ(ctc_get(&c->main, "unused5"), "local:100/vm-100-disk-8.raw");
	/* the current section's volume pending with new options: it stays in use */
	ASSERT_EQ(ctp_set(c, "mp0", "local:100/vm-100-disk-3.raw,mp=/other", err, sizeof(err)), 0);
	ASSERT(ctp_revert(c, "mp0"));
	ASSERT(ctc_get(&c->main, "unused6") == NULL);
	ctc_free(c);
}

static void t_hotpluggable(void)
{
	/* stopped: everything now */
	ASSERT(ctp_hotpluggable("arch", "amd64", "arm64", false));
	ASSERT(ctp_hotpluggable("rootfs", "a", "b", false));
	/* running: no action needed, or live */
	static const char *const now[] = { "description", "hostname", "onboot", "protection",
		                           "startup",     "tags",     "memory", "swap",
		                           "cpulimit",    "cpuunits", "cores",  "net0",
		                           "net31" };
	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++)
		ASSERT(ctp_hotpluggable(now[i], "1", "2", true));
	/* running: waits for the next start */
	static const char *const later[] = { "arch",         "ostype", "rootfs", "features",
		                             "unprivileged", "tty",    "cmode",  "timezone" };
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		ASSERT(!ctp_hotpluggable(later[i], "1", "2", true));
	/* mount points and devices: only new ones; unused: only removal */
	ASSERT(ctp_hotpluggable("mp3", NULL, "local:x,mp=/a", true));
	ASSERT(!ctp_hotpluggable("mp3", "local:x,mp=/a", "local:x,mp=/b", true));
	ASSERT(!ctp_hotpluggable("mp3", "local:x,mp=/a", NULL, true));
	ASSERT(ctp_hotpluggable("dev0", NULL, "/dev/fuse", true));
	ASSERT(!ctp_hotpluggable("dev0", "/dev/fuse", NULL, true));
	ASSERT(ctp_hotpluggable("unused0", "local:x", NULL, true));
	ASSERT(!ctp_hotpluggable("unused0", NULL, "local:x", true));
	/* a name that only starts like net<N> is not one */
	ASSERT(!ctp_hotpluggable("netx", "1", "2", true));
}

struct seen {
	char lines[16][128];
	int n;
};

static void record(void *ctx, const char *key, const char *oldval, const char *newval)
{
	struct seen *s = ctx;
	ASSERT(s->n < 16);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %s -> %s", key,
	         oldval ? oldval : "(none)", newval ? newval : "(none)");
}

static void t_diff(void)
{
	struct ctc_conf *a = parse("#old\nmemory: 512\nswap: 512\ntags: x\n");
	struct ctc_conf *b = parse("#new\nmemory: 1024\ncores: 2\ntags: x\n");
	struct seen s = { .n = 0 };
	ctp_diff(&a->main, &b->main, record, &s);
	ASSERT_EQ(s.n, 4);
	ASSERT_STR_EQ(s.lines[0], "memory 512 -> 1024");
	ASSERT_STR_EQ(s.lines[1], "swap 512 -> (none)");
	ASSERT_STR_EQ(s.lines[2], "cores (none) -> 2");
	ASSERT_STR_EQ(s.lines[3], "description old -> new");
	s.n = 0;
	ctp_diff(&a->main, &a->main, record, &s);
	ASSERT_EQ(s.n, 0);
	ctc_free(a);
	ctc_free(b);
}

static const struct test_case cases[] = {
	{ "set_delete_revert", t_set_delete_revert },
	{ "apply_filter", t_apply_filter },
	{ "unused_volumes", t_unused_volumes },
	{ "hotpluggable", t_hotpluggable },
	{ "diff", t_diff },
};

TEST_MAIN(cases)
