/*
 * fuzz_cfs_op.c - libFuzzer target for proto/cfs_op.c and the apply step
 * behind it (memdb_apply).
 *
 * An input that decodes as an op is checked to re-encode to the very same
 * bytes and is then applied to a small fixture tree.  Since random bytes
 * almost never carry a valid CRC, any other input is read as a script of
 * ops (format below) that is encoded, decoded (must round-trip) and applied
 * in order to two fixture trees, one of them with a store that mirrors
 * every persisted row.  After each op and at the end the target checks:
 * equal verdicts on both trees (determinism), version +1 per successful op
 * and no change or store call for a refused one, the mirror equals the tree
 * (what would be on disk is what is in memory), and the tree reloads
 * through memdb_load_row/memdb_load_finish (the load-time invariants hold).
 *
 * Script record (missing bytes read as 0):
 *   u8 op      type = 1 + (op & 7) % 7; bit 7: RENAME_NOREPLACE
 *   u8 parent, u8 newparent, u8 inode   inode numbers (0xff: u64 follows)
 *   u8 now     T0 + 4 * now (0xf0-0xf7: an extreme value, >= 0xf8: i64 follows)
 *   u8 mtime   0 = 0, else as now
 *   u8 name, u8 newname   bit 7: a name from a dictionary, else that many
 *                         literal bytes follow (at most 127)
 *   u8 data    that many bytes follow; 0xfe 'B': 1 MiB, 0xff 'B': 1 MiB + 1
 */
#include "pmxcfs/memdb.h"
#include "proto/cfs_op.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <stdlib.h>
#include <string.h>

#define T0 1700000000
#define MAX_OPS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const dict[] = {
	"100.conf",  "101.conf",
	"99.conf",   "100.conf.tmp.1",
	"4913",      ".100.conf.swp",
	"lxc",       "qemu-server",
	"nodes",     "a",
	"b",         "priv",
	"lock",      "l",
	"d",         "f",
	".version",  "local",
	"x",         "sedAbC123",
	"0100.conf", "1000000000.conf",
};
#define NDICT (sizeof(dict) / sizeof(dict[0]))

/*
 * The fixture: inodes are handed out in this order (root = 1), so scripts
 * can address them by number.
 */
static struct memdb *fixture(void)
{
	static const char *const dirs[] = {
		"nodes",       "nodes/a", "nodes/a/lxc", "nodes/a/qemu-server", "nodes/b",
		"nodes/b/lxc", "priv",    "priv/lock",   "priv/lock/l",         "d",
	};
	struct memdb *db = memdb_new();
	ASSERT(db != NULL);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ASSERT_EQ(mu_mkdir(db, dirs[i], T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_put(db, "nodes/a/lxc/100.conf", "arch: amd64\n", 12, T0), 0);
	ASSERT_EQ(mu_create(db, "d/f", T0), 0);
	return db;
}

/* The registered guests of a tree, sorted: "<vmid> <node> <type>" lines. */
struct vms {
	char line[64][80];
	size_t n;
};

static void vm_add(void *ctx, uint64_t vmid, const char *node, int type, uint64_t version)
{
	struct vms *v = ctx;
	(void)version;
	ASSERT(v->n < 64);
	snprintf(v->line[v->n++], sizeof(v->line[0]), "%" PRIu64 " %.40s %d", vmid, node, type);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void vms_of(struct memdb *db, struct vms *v)
{
	v->n = 0;
	memdb_vmlist(db, vm_add, v);
	qsort(v->line, v->n, sizeof(v->line[0]), cmp_line);
}

/*
 * The tree must load again from its own rows, and the guest index kept by
 * apply must be the one loading derives from the rows.
 */
static void check_reload(struct memdb *db, const struct mu_dump *d)
{
	char err[256] = "";
	struct memdb *c = memdb_new_empty();
	ASSERT(c != NULL);
	for (size_t i = 0; i < d->n; i++) {
		const struct mu_row *r = &d->rows[i];
		struct memdb_row row = { .inode = r->inode,
			                 .parent = r->parent,
			                 .version = r->version,
			                 .mtime = r->mtime,
			                 .type = r->type,
			                 .name = r->name,
			                 .name_len = r->name_len,
			                 .data = r->data,
			                 .size = r->size };
		ASSERT(r->inode <= d->version); /* inode numbers come from versions */
		if (memdb_load_row(c, &row, err, sizeof(err)))
			TEST_FAIL("row %" PRIu64 " does not load again: %s", r->inode, err);
	}
	if (memdb_load_finish(c, d->version, err, sizeof(err)))
		TEST_FAIL("tree does not load again: %s", err);
	struct mu_dump again;
	mu_dump_take(c, &again);
	mu_dump_assert_equal(d, &again);
	mu_dump_free(&again);

	static struct vms live, loaded;
	vms_of(db, &live);
	vms_of(c, &loaded);
	ASSERT_EQ(live.n, loaded.n);
	for (size_t i = 0; i < live.n; i++)
		ASSERT_STR_EQ(live.line[i], loaded.line[i]);
	memdb_free(c);
}

/* ---- input: a decodable op ---- */

static void run_encoded(const uint8_t *data, size_t size, const struct cfs_op *op)
{
	uint8_t *again = malloc(size);
	ASSERT(again != NULL);
	ASSERT_EQ(cfs_op_encoded_size(op), size);
	ASSERT_EQ(cfs_op_encode(op, again, size), (long)size);
	ASSERT(memcmp(again, data, size) == 0);
	free(again);

	struct memdb *db = fixture();
	struct memdb_result res;
	uint64_t v = memdb_version(db);
	mu_apply(db, op, &res);
	if (res.err)
		ASSERT_EQ(memdb_version(db), v);
	struct mu_dump d;
	mu_dump_take(db, &d);
	check_reload(db, &d);
	mu_dump_free(&d);
	memdb_free(db);
}

/* ---- input: a script ---- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint8_t u8(struct reader *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

static uint64_t u64(struct reader *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)u8(r) << (8 * i);
	return v;
}

static int64_t time_of(struct reader *r, uint8_t sel)
{
	/* clocks far off, as utime() or a peer's wrong clock may give them */
	static const int64_t edge[] = { INT64_MIN, INT64_MIN + 1,   INT64_MAX, INT64_MAX - 1, -1, 1,
		                        -T0,       (int64_t)1 << 62 };
	if (sel >= 0xf8)
		return (int64_t)u64(r);
	if (sel >= 0xf0)
		return edge[sel - 0xf0];
	return T0 + 4 * (int64_t)sel;
}

static const char *name_of(struct reader *r, uint32_t *len)
{
	uint8_t sel = u8(r);
	if (sel & 0x80) {
		const char *n = dict[(sel & 0x7f) % NDICT];
		*len = (uint32_t)strlen(n);
		return n;
	}
	size_t n = sel < r->left ? sel : r->left;
	const char *s = (const char *)r->p;
	r->p += n;
	r->left -= n;
	*len = (uint32_t)n;
	return s;
}

static void run_script(const uint8_t *data, size_t size)
{
	static char big[MEMDB_MAX_FILE_SIZE + 1];
	struct reader r = { data, size };
	struct memdb *a = fixture(), *b = fixture();
	struct mu_mirror m = { .calls = 0 };
	struct memdb_store store = mu_mirror_store(&m);

	memdb_wrlock(a);
	ASSERT_EQ(memdb_foreach_row(a, mu_dump_add, &m.rows), 0);
	memdb_unlock(a);
	m.version = memdb_version(a);

	for (int i = 0; i < MAX_OPS && r.left; i++) {
		struct cfs_op op = { 0 }, dec;
		uint8_t t = u8(&r);
		op.type = (uint16_t)(1 + (t & 7) % CFS_OP_TYPE_MAX);
		op.flags = (t & 0x80) ? CFS_OP_F_NOREPLACE : 0;
		uint8_t sel = u8(&r);
		op.parent = sel == 0xff ? u64(&r) : sel;
		sel = u8(&r);
		op.newparent = sel == 0xff ? u64(&r) : sel;
		sel = u8(&r);
		op.inode = sel == 0xff ? u64(&r) : sel;
		op.now = time_of(&r, u8(&r));
		sel = u8(&r);
		op.mtime = sel ? time_of(&r, sel) : 0;
		op.name = name_of(&r, &op.name_len);
		op.newname = name_of(&r, &op.newname_len);
		sel = u8(&r);
		if (sel >= 0xfe && r.left && r.p[0] == 'B') {
			u8(&r);
			op.data = big;
			op.data_len = MEMDB_MAX_FILE_SIZE + (sel == 0xff);
		} else {
			size_t n = sel < r.left ? sel : r.left;
			op.data = r.p;
			op.data_len = (uint32_t)n;
			r.p += n;
			r.left -= n;
		}

		/* through the wire format and back */
		size_t len = cfs_op_encoded_size(&op);
		uint8_t *msg = malloc(len);
		ASSERT(msg != NULL);
		ASSERT_EQ(cfs_op_encode(&op, msg, len), (long)len);
		int dr = cfs_op_decode(msg, len, &dec);
		bool bad_name = memchr(op.name, '/', op.name_len) ||
		    memchr(op.name, 0, op.name_len) || memchr(op.newname, '/', op.newname_len) ||
		    memchr(op.newname, 0, op.newname_len);
		if (bad_name) {
			/* the decoder drops names no node could apply */
			ASSERT_EQ(dr, -EBADMSG);
			free(msg);
			continue;
		}
		ASSERT_EQ(dr, 0);
		mu_assert_same_op(&op, &dec);

		struct memdb_result ra, rb;
		uint64_t v = memdb_version(a);
		int calls = m.calls;
		memdb_wrlock(a);
		ASSERT_EQ(memdb_apply(a, &dec, &ra, &store), 0);
		memdb_unlock(a);
		mu_apply(b, &dec, &rb);
		free(msg);
		if (ra.err != rb.err || ra.inode != rb.inode || ra.version != rb.version)
			TEST_FAIL("op %d (%s): verdicts differ between two trees: %d/%" PRIu64
			          " vs %d/%" PRIu64,
			          i, cfs_op_type_name(op.type), ra.err, ra.version, rb.err,
			          rb.version);
		ASSERT_EQ(ra.version, memdb_version(a));
		if (ra.err) {
			ASSERT_EQ(memdb_version(a), v);
			ASSERT_EQ(m.calls, calls);
		} else if (memdb_version(a) != v) {
			ASSERT_EQ(memdb_version(a), v + 1);
			ASSERT_EQ(m.version, v + 1);
		} else {
			/* only a rename onto itself succeeds without a change */
			ASSERT_EQ(op.type, CFS_OP_RENAME);
			ASSERT_EQ(m.calls, calls);
		}
	}

	struct mu_dump da, db_;
	mu_dump_take(a, &da);
	mu_dump_take(b, &db_);
	mu_dump_assert_equal(&da, &db_);
	mu_dump_sort(&m.rows);
	m.rows.version = m.version;
	mu_dump_assert_equal(&da, &m.rows);
	check_reload(a, &da);
	mu_dump_free(&da);
	mu_dump_free(&db_);
	mu_dump_free(&m.rows);
	memdb_free(a);
	memdb_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfs_op op;

	if (cfs_op_decode(data, size, &op) == 0)
		run_encoded(data, size, &op);
	else
		run_script(data, size);
	return 0;
}
