/*
 * test_clusterlog.c - unit tests of pmxcfs/clusterlog.c: order, the bound,
 * log blobs (encode, merge, dedup, refusal of malformed blobs) and the JSON
 * rendering of .clusterlog.
 */
#include "pmxcfs/clusterlog.h"
#include "pmxcfs/sbuf.h"
#include "proto/le.h"
#include "tests/test.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A copy of the entries clusterlog_foreach handed out. */
struct seen_entry {
	uint64_t instance, seq;
	int64_t time;
	uint8_t pri;
	uint32_t pid;
	char node[128], user[128], tag[128], msg[1024];
};

struct seen {
	size_t n;
	struct seen_entry e[CLUSTERLOG_MAX + 16];
};

static void collect(void *ctx, const struct ipc_log_entry *e)
{
	struct seen *s = ctx;
	ASSERT_LT(s->n, sizeof(s->e) / sizeof(s->e[0]));
	struct seen_entry *c = &s->e[s->n++];
	c->instance = e->instance;
	c->seq = e->seq;
	c->time = e->time;
	c->pri = e->pri;
	c->pid = e->pid;
	snprintf(c->node, sizeof(c->node), "%s", e->node);
	snprintf(c->user, sizeof(c->user), "%s", e->user);
	snprintf(c->tag, sizeof(c->tag), "%s", e->tag);
	snprintf(c->msg, sizeof(c->msg), "%s", e->msg);
}

/* Every entry of cl, oldest first (s is allocated; free it). */
static struct seen *all(struct clusterlog *cl)
{
	struct seen *s = calloc(1, sizeof(*s));
	ASSERT(s != NULL);
	clusterlog_foreach(cl, SIZE_MAX, collect, s);
	return s;
}

static bool same_entries(const struct seen *a, const struct seen *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct seen_entry *x = &a->e[i], *y = &b->e[i];
		if (x->instance != y->instance || x->seq != y->seq || x->time != y->time ||
		    x->pri != y->pri || x->pid != y->pid || strcmp(x->node, y->node) ||
		    strcmp(x->user, y->user) || strcmp(x->tag, y->tag) || strcmp(x->msg, y->msg))
			return false;
	}
	return true;
}

/* The whole log as a blob in a fresh buffer. */
static uint8_t *encode(struct clusterlog *cl, size_t *len)
{
	size_t cap = IPC_MAX_MSG;
	uint8_t *buf = malloc(cap);
	struct ipc_wr w;
	ASSERT(buf != NULL);
	ipc_wr_init_raw(&w, buf, cap);
	clusterlog_encode(cl, &w);
	ASSERT(!w.overflow);
	*len = w.len;
	return buf;
}

static void add(struct clusterlog *cl, int64_t time, const char *msg)
{
	clusterlog_add(cl, "node1", "root@pam", "test", 6, 1234, time, msg, NULL);
}

static void t_add_foreach_order(void)
{
	struct clusterlog *cl = clusterlog_new();
	ASSERT(cl != NULL);
	struct seen *s = all(cl);
	ASSERT_EQ(s->n, 0);
	free(s);

	add(cl, 300, "third");
	add(cl, 100, "first");
	add(cl, 200, "second");
	clusterlog_add(cl, "node2", "alice@pve", "pvedaemon", 3, 99, 200, "second too", NULL);
	s = all(cl);
	ASSERT_EQ(s->n, 4);
	ASSERT_EQ(s->e[0].time, 100);
	ASSERT_STR_EQ(s->e[0].msg, "first");
	ASSERT_EQ(s->e[1].time, 200);
	ASSERT_STR_EQ(s->e[1].msg, "second"); /* same time: in the order written */
	ASSERT_EQ(s->e[2].time, 200);
	ASSERT_STR_EQ(s->e[2].msg, "second too");
	ASSERT_STR_EQ(s->e[2].node, "node2");
	ASSERT_STR_EQ(s->e[2].user, "alice@pve");
	ASSERT_STR_EQ(s->e[2].tag, "pvedaemon");
	ASSERT_EQ(s->e[2].pri, 3);
	ASSERT_EQ(s->e[2].pid, 99);
	ASSERT_EQ(s->e[3].time, 300);
	ASSERT_STR_EQ(s->e[3].msg, "third");
	/* one writer: one instance, a counter per entry */
	for (size_t i = 1; i < s->n; i++)
		ASSERT(s->e[i].instance == s->e[0].instance);
	ASSERT_EQ(s->e[3].seq, 1);
	ASSERT_EQ(s->e[0].seq, 2);
	ASSERT_EQ(s->e[1].seq, 3);
	ASSERT_EQ(s->e[2].seq, 4);
	free(s);

	/* foreach with a max: the newest, oldest first */
	struct seen *two = calloc(1, sizeof(*two));
	ASSERT(two != NULL);
	clusterlog_foreach(cl, 2, collect, two);
	ASSERT_EQ(two->n, 2);
	ASSERT_STR_EQ(two->e[0].msg, "second too");
	ASSERT_STR_EQ(two->e[1].msg, "third");
	two->n = 0;
	clusterlog_foreach(cl, 0, collect, two);
	ASSERT_EQ(two->n, 0);
	free(two);
	clusterlog_free(cl);
	clusterlog_free(NULL);
}

static void t_add_cuts(void)
{
	struct clusterlog *cl = clusterlog_new();
	char longs[2000];

	memset(longs, 'q', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	clusterlog_add(cl, longs, longs, longs, 9 /* & 7 = 1 */, 1, 5, longs, NULL);
	struct seen *s = all(cl);
	ASSERT_EQ(s->n, 1);
	ASSERT_EQ(strlen(s->e[0].node), 63);
	ASSERT_EQ(strlen(s->e[0].user), 63);
	ASSERT_EQ(strlen(s->e[0].tag), 63);
	ASSERT_EQ(strlen(s->e[0].msg), 511);
	ASSERT_EQ(s->e[0].pri, 1);
	free(s);
	clusterlog_free(cl);
}

static void t_encode_merge(void)
{
	struct clusterlog *a = clusterlog_new(), *b = clusterlog_new();
	size_t len;

	for (int i = 0; i < 20; i++) {
		char msg[32];
		snprintf(msg, sizeof(msg), "entry %d", i);
		clusterlog_add(a, i % 2 ? "n1" : "n2", "root@pam", "tag", i % 8, (uint32_t)i,
		               1000 + (i * 7) % 13, msg, NULL);
	}
	uint8_t *blob = encode(a, &len);
	ASSERT_EQ(le_get32(blob), 20);
	ASSERT_EQ(clusterlog_merge(b, blob, len), 20);
	struct seen *sa = all(a), *sb = all(b);
	ASSERT_EQ(sb->n, 20);
	ASSERT(same_entries(sa, sb));
	for (size_t i = 1; i < sb->n; i++)
		ASSERT_LE(sb->e[i - 1].time, sb->e[i].time);
	free(sa);
	free(sb);
	free(blob);

	/* both sides of a partition end up with the union, in time order */
	add(b, 1005, "b only");
	add(a, 1003, "a only");
	blob = encode(a, &len);
	ASSERT_EQ(clusterlog_merge(b, blob, len), 1);
	free(blob);
	blob = encode(b, &len);
	ASSERT_EQ(clusterlog_merge(a, blob, len), 1);
	free(blob);
	sa = all(a);
	sb = all(b);
	ASSERT_EQ(sa->n, 22);
	ASSERT(same_entries(sa, sb));
	for (size_t i = 1; i < sa->n; i++)
		ASSERT_LE(sa->e[i - 1].time, sa->e[i].time);
	free(sa);
	free(sb);

	/* an empty log's blob */
	struct clusterlog *c = clusterlog_new();
	blob = encode(c, &len);
	ASSERT_EQ(len, 4);
	ASSERT_EQ(clusterlog_merge(a, blob, len), 0);
	free(blob);
	clusterlog_free(c);
	clusterlog_free(a);
	clusterlog_free(b);
}

static void t_merge_twice(void)
{
	struct clusterlog *a = clusterlog_new(), *b = clusterlog_new();
	size_t len;

	add(a, 1, "one");
	add(a, 2, "two");
	add(b, 3, "three");
	uint8_t *blob = encode(a, &len);
	ASSERT_EQ(clusterlog_merge(b, blob, len), 2);
	ASSERT_EQ(clusterlog_merge(b, blob, len), 0);
	/* a log's own entries coming back */
	ASSERT_EQ(clusterlog_merge(a, blob, len), 0);
	struct seen *s = all(b);
	ASSERT_EQ(s->n, 3);
	ASSERT_STR_EQ(s->e[0].msg, "one");
	ASSERT_STR_EQ(s->e[1].msg, "two");
	ASSERT_STR_EQ(s->e[2].msg, "three");
	free(s);
	free(blob);
	clusterlog_free(a);
	clusterlog_free(b);
}

/* Merge must fail and leave b as it was. */
static void merge_refused(struct clusterlog *b, const uint8_t *blob, size_t len)
{
	struct seen *before = all(b);
	/* an exact-size copy, so ASan sees any read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	ASSERT(copy != NULL);
	if (len)
		memcpy(copy, blob, len);
	ASSERT_EQ(clusterlog_merge(b, copy, len), -EBADMSG);
	struct seen *after = all(b);
	ASSERT(same_entries(before, after));
	free(copy);
	free(before);
	free(after);
}

static void t_merge_malformed(void)
{
	struct clusterlog *a = clusterlog_new(), *b = clusterlog_new();
	size_t len;

	add(a, 10, "first");
	add(a, 20, "second");
	add(b, 15, "b's own");
	uint8_t *blob = encode(a, &len);
	uint8_t *buf = malloc(len + 16);
	ASSERT(buf != NULL);

	/* truncated anywhere */
	for (size_t l = 0; l < len; l++)
		merge_refused(b, blob, l);
	/* a count larger than the entries */
	memcpy(buf, blob, len);
	le_put32(buf, 3);
	merge_refused(b, buf, len);
	le_put32(buf, 0xffffffffu);
	merge_refused(b, buf, len);
	/* a smaller count leaves the rest as garbage */
	le_put32(buf, 1);
	merge_refused(b, buf, len);
	le_put32(buf, 0);
	merge_refused(b, buf, len);
	/* trailing garbage */
	memcpy(buf, blob, len);
	buf[len] = 0;
	merge_refused(b, buf, len + 1);
	memset(buf + len, 0xee, 16);
	merge_refused(b, buf, len + 16);
	/* a damaged second entry: the first (valid) one is not merged either */
	memcpy(buf, blob, len);
	size_t first = 4 + 8 + 8 + 8 + 1 + 4 + (4 + 6) + (4 + 9) + (4 + 5) + (4 + 6);
	ASSERT_LT(first + 24, len);
	buf[first + 24] = 8; /* the second entry's priority */
	merge_refused(b, buf, len);
	buf[first + 24] = 6;
	/* a string in the second entry without its NUL */
	ASSERT_EQ(buf[len - 1], 0);
	buf[len - 1] = 'x';
	merge_refused(b, buf, len);
	/* oversized: a well-formed blob one byte over the limit */
	size_t big = (size_t)IPC_MAX_MSG + 1;
	uint8_t *huge = malloc(big);
	ASSERT(huge != NULL);
	struct ipc_wr w;
	struct ipc_log_entry e = { .instance = 42, .time = 1, .pri = 6 };
	e.node = "n", e.user = "u", e.tag = "t", e.msg = "m";
	uint32_t nent = 0;
	ipc_wr_init_raw(&w, huge, big);
	ipc_put_u32(&w, 0);
	while (big - w.len > 53 + 1000) {
		e.seq = ++nent;
		e.time = 1000000 - (int64_t)nent; /* each older: cheap once full */
		ipc_put_log_entry(&w, &e);
	}
	size_t last = w.len;
	char pad[1200];
	size_t plen = big - w.len - 52; /* the last entry fills it exactly */
	ASSERT_LT(plen, sizeof(pad));
	memset(pad, 'p', plen);
	pad[plen] = '\0';
	e.msg = pad;
	e.seq = ++nent;
	e.time = 1000000 - (int64_t)nent;
	ipc_put_log_entry(&w, &e);
	ASSERT(!w.overflow);
	ASSERT_EQ(w.len, big);
	le_put32(huge, nent);
	merge_refused(b, huge, big);
	/* the same without the last entry is within the limit, and merges */
	le_put32(huge, nent - 1);
	struct clusterlog *c = clusterlog_new();
	ASSERT_GT(nent, CLUSTERLOG_MAX);
	ASSERT_EQ(clusterlog_merge(c, huge, last), CLUSTERLOG_MAX);
	struct seen *sc = all(c);
	ASSERT_EQ(sc->n, CLUSTERLOG_MAX);
	ASSERT_EQ(sc->e[CLUSTERLOG_MAX - 1].seq, 1); /* the newest kept */
	free(sc);
	clusterlog_free(c);
	free(huge);

	/* the undamaged blob still merges */
	ASSERT_EQ(clusterlog_merge(b, blob, len), 2);
	free(buf);
	free(blob);
	clusterlog_free(a);
	clusterlog_free(b);
}

static void t_bound(void)
{
	struct clusterlog *cl = clusterlog_new();

	for (int i = 0; i < CLUSTERLOG_MAX + 10; i++)
		add(cl, 1000 + i, "x");
	struct seen *s = all(cl);
	ASSERT_EQ(s->n, CLUSTERLOG_MAX);
	ASSERT_EQ(s->e[0].time, 1000 + 10); /* the 10 oldest were dropped */
	ASSERT_EQ(s->e[CLUSTERLOG_MAX - 1].time, 1000 + CLUSTERLOG_MAX + 9);
	for (size_t i = 1; i < s->n; i++)
		ASSERT_EQ(s->e[i].time, s->e[i - 1].time + 1);
	free(s);

	/* a newer entry in the middle of a full log: the oldest goes */
	add(cl, 1500, "middle");
	s = all(cl);
	ASSERT_EQ(s->n, CLUSTERLOG_MAX);
	ASSERT_EQ(s->e[0].time, 1011);
	size_t mid = 1500 - 1011 + 1;
	ASSERT_EQ(s->e[mid].time, 1500);
	ASSERT_STR_EQ(s->e[mid].msg, "middle");
	for (size_t i = 1; i < s->n; i++)
		ASSERT_LE(s->e[i - 1].time, s->e[i].time);
	free(s);
	clusterlog_free(cl);
}

static void t_older_not_inserted(void)
{
	struct clusterlog *cl = clusterlog_new(), *other = clusterlog_new();
	size_t len;

	/* an old entry from elsewhere, as a blob */
	add(other, 5, "ancient");
	uint8_t *blob = encode(other, &len);

	for (int i = 0; i < CLUSTERLOG_MAX; i++)
		add(cl, 100 + i, "x");
	struct seen *before = all(cl);
	add(cl, 50, "too old");
	struct seen *after = all(cl);
	ASSERT(same_entries(before, after));
	ASSERT_EQ(after->e[0].time, 100);
	ASSERT_EQ(clusterlog_merge(cl, blob, len), 0);
	free(after);
	after = all(cl);
	ASSERT(same_entries(before, after));

	/* while the log is not full, old entries are kept */
	ASSERT_EQ(clusterlog_merge(other, blob, len), 0);
	struct clusterlog *fresh = clusterlog_new();
	add(fresh, 100, "new");
	ASSERT_EQ(clusterlog_merge(fresh, blob, len), 1);
	struct seen *s = all(fresh);
	ASSERT_EQ(s->n, 2);
	ASSERT_STR_EQ(s->e[0].msg, "ancient");
	free(s);
	clusterlog_free(fresh);
	free(before);
	free(after);
	free(blob);
	clusterlog_free(cl);
	clusterlog_free(other);
}

/* ---- a minimal JSON syntax check ---- */

static void ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static bool json_value(const char **p, int depth);

static bool json_string(const char **p)
{
	if (**p != '"')
		return false;
	for ((*p)++; **p != '"'; (*p)++) {
		unsigned char c = (unsigned char)**p;
		if (c == '\0' || c < 0x20)
			return false;
		if (c == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)(*p)[i]))
						return false;
				*p += 4;
			} else if (!strchr("\"\\/bfnrt", **p) || **p == '\0') {
				return false;
			}
		}
	}
	(*p)++;
	return true;
}

static bool json_number(const char **p)
{
	const char *s = *p;
	if (**p == '-')
		(*p)++;
	if (!isdigit((unsigned char)**p))
		return false;
	while (isdigit((unsigned char)**p))
		(*p)++;
	return *p > s;
}

static bool json_value(const char **p, int depth)
{
	if (depth > 10)
		return false;
	ws(p);
	if (**p == '"')
		return json_string(p);
	if (**p == '{' || **p == '[') {
		char close = **p == '{' ? '}' : ']';
		bool obj = **p == '{';
		(*p)++;
		ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		for (;;) {
			if (obj) {
				ws(p);
				if (!json_string(p))
					return false;
				ws(p);
				if (**p != ':')
					return false;
				(*p)++;
			}
			if (!json_value(p, depth + 1))
				return false;
			ws(p);
			if (**p == ',') {
				(*p)++;
				continue;
			}
			if (**p != close)
				return false;
			(*p)++;
			return true;
		}
	}
	return json_number(p);
}

static bool json_valid(const char *s)
{
	if (!json_value(&s, 0))
		return false;
	ws(&s);
	return *s == '\0';
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static char *render(struct clusterlog *cl)
{
	struct sbuf sb = SBUF_INIT;
	clusterlog_render(cl, &sb);
	char *s = sbuf_detach(&sb, NULL);
	ASSERT(s != NULL);
	return s;
}

static void t_render(void)
{
	struct clusterlog *cl = clusterlog_new();

	/* empty */
	char *s = render(cl);
	ASSERT(json_valid(s));
	ASSERT_STR_EQ(s, "{\n\"data\": []\n}\n");
	free(s);

	/* the checker itself refuses broken JSON */
	ASSERT(!json_valid("{\"data\": [}"));
	ASSERT(!json_valid("{\"msg\": \"a\nb\"}"));
	ASSERT(!json_valid("{\"msg\": \"a\"b\"}"));

	for (int i = 0; i < CLUSTERLOG_SHOW + 10; i++) {
		char msg[32];
		snprintf(msg, sizeof(msg), "msg %d", i);
		add(cl, 2000 + i, msg);
	}
	clusterlog_add(cl, "node\\2", "root@pam", "t\"ag", 2, 7, 5000,
	               "say \"hi\"\nand\tbye \\ end", NULL);
	s = render(cl);
	ASSERT(json_valid(s));
	ASSERT(strncmp(s, "{\n\"data\": [", 11) == 0);
	ASSERT_EQ(count(s, "\"uid\": "), CLUSTERLOG_SHOW);
	ASSERT_EQ(count(s, "\"time\": "), CLUSTERLOG_SHOW);
	/* newest first: the special entry, then msg 59, 58, ... */
	const char *special = strstr(s, "\"time\": 5000");
	ASSERT(special != NULL);
	ASSERT(strstr(s, "\"time\": ") == special);
	ASSERT(strstr(s, "\"msg\": \"say \\\"hi\\\"\\u000aand\\u0009bye \\\\ end\"") != NULL);
	ASSERT(strstr(s, "\"tag\": \"t\\\"ag\"") != NULL);
	ASSERT(strstr(s, "\"node\": \"node\\\\2\"") != NULL);
	ASSERT(strstr(s, "\"pri\": 2") != NULL);
	ASSERT(strstr(s, "\"pid\": 7") != NULL);
	const char *prev = special;
	for (int i = CLUSTERLOG_SHOW + 9; i >= 11; i--) {
		char want[64];
		snprintf(want, sizeof(want), "\"time\": %d,", 2000 + i);
		const char *at = strstr(s, want);
		ASSERT(at != NULL);
		ASSERT(at > prev);
		prev = at;
	}
	/* the oldest are not shown */
	ASSERT(strstr(s, "\"time\": 2010,") == NULL);
	ASSERT(strstr(s, "\"msg 0\"") == NULL);
	free(s);
	clusterlog_free(cl);
}

static void t_add_out_blob(void)
{
	struct clusterlog *a = clusterlog_new(), *b = clusterlog_new();
	uint8_t buf[2048];
	struct ipc_wr w;

	add(b, 1, "b's");
	ipc_wr_init_raw(&w, buf, sizeof(buf));
	clusterlog_add(a, "node1", "root@pam", "vzdump", 5, 321, 77, "backup done", &w);
	ASSERT(!w.overflow);
	ASSERT_GT(w.len, 4);
	ASSERT_EQ(le_get32(buf), 1);
	ASSERT_EQ(clusterlog_merge(b, buf, w.len), 1);
	ASSERT_EQ(clusterlog_merge(b, buf, w.len), 0);
	/* its own multicast coming back adds nothing */
	ASSERT_EQ(clusterlog_merge(a, buf, w.len), 0);
	struct seen *sa = all(a), *sb = all(b);
	ASSERT_EQ(sa->n, 1);
	ASSERT_EQ(sb->n, 2);
	ASSERT_STR_EQ(sb->e[1].msg, "backup done");
	ASSERT_STR_EQ(sb->e[1].tag, "vzdump");
	ASSERT_EQ(sb->e[1].pid, 321);
	ASSERT_EQ(sb->e[1].pri, 5);
	ASSERT_EQ(sb->e[1].time, 77);
	ASSERT(sb->e[1].instance == sa->e[0].instance);
	ASSERT(sb->e[1].seq == sa->e[0].seq);
	ASSERT(sb->e[0].instance != sa->e[0].instance);
	free(sa);
	free(sb);

	/* two adds into one writer: two blobs back to back, each merges alone */
	ipc_wr_init_raw(&w, buf, sizeof(buf));
	clusterlog_add(a, "node1", "root@pam", "t", 6, 1, 80, "one", &w);
	size_t one = w.len;
	clusterlog_add(a, "node1", "root@pam", "t", 6, 1, 81, "two", &w);
	ASSERT_EQ(clusterlog_merge(b, buf, one), 1);
	ASSERT_EQ(clusterlog_merge(b, buf + one, w.len - one), 1);
	/* the long strings are sent cut, as stored */
	char longs[700];
	memset(longs, 'm', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	ipc_wr_init_raw(&w, buf, sizeof(buf));
	clusterlog_add(a, "node1", "root@pam", "t", 6, 1, 82, longs, &w);
	ASSERT_EQ(clusterlog_merge(b, buf, w.len), 1);
	sb = all(b);
	ASSERT_EQ(sb->n, 5);
	ASSERT_EQ(strlen(sb->e[4].msg), 511);
	free(sb);

	/* a writer that is too small overflows, and the entry is still logged */
	ipc_wr_init_raw(&w, buf, 16);
	clusterlog_add(a, "node1", "root@pam", "t", 6, 1, 90, "does not fit", &w);
	ASSERT(w.overflow);
	sa = all(a);
	ASSERT_EQ(sa->n, 5);
	ASSERT_STR_EQ(sa->e[4].msg, "does not fit");
	free(sa);
	clusterlog_free(a);
	clusterlog_free(b);
}

static const struct test_case cases[] = {
	{ "add_foreach_order", t_add_foreach_order },
	{ "add_cuts", t_add_cuts },
	{ "encode_merge", t_encode_merge },
	{ "merge_twice", t_merge_twice },
	{ "merge_malformed", t_merge_malformed },
	{ "bound", t_bound },
	{ "older_not_inserted", t_older_not_inserted },
	{ "render", t_render },
	{ "add_out_blob", t_add_out_blob },
};

TEST_MAIN(cases)
