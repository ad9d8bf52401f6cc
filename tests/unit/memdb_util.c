/*
 * memdb_util.c - see memdb_util.h.
 */
#include "tests/unit/memdb_util.h"
#include "tests/test.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int mu_dump_add(void *ctx, const struct memdb_row *row)
{
	struct mu_dump *d = ctx;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->rows = realloc(d->rows, d->cap * sizeof(*d->rows));
		ASSERT(d->rows != NULL);
	}
	struct mu_row *r = &d->rows[d->n++];
	r->inode = row->inode;
	r->parent = row->parent;
	r->version = row->version;
	r->mtime = row->mtime;
	r->type = row->type;
	r->name_len = row->name_len;
	r->name = malloc(row->name_len + 1);
	ASSERT(r->name != NULL);
	memcpy(r->name, row->name, row->name_len);
	r->name[row->name_len] = '\0';
	r->size = row->size;
	r->data = NULL;
	if (row->size) {
		r->data = malloc(row->size);
		ASSERT(r->data != NULL);
		memcpy(r->data, row->data, row->size);
	}
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct mu_row *x = a, *y = b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

void mu_dump_sort(struct mu_dump *d)
{
	if (d->n)
		qsort(d->rows, d->n, sizeof(*d->rows), cmp_row);
}

void mu_dump_take(struct memdb *db, struct mu_dump *d)
{
	memset(d, 0, sizeof(*d));
	memdb_wrlock(db);
	ASSERT_EQ(memdb_foreach_row(db, mu_dump_add, d), 0);
	memdb_unlock(db);
	mu_dump_sort(d);
	d->version = memdb_version(db);
}

void mu_dump_free(struct mu_dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->rows[i].name);
		free(d->rows[i].data);
	}
	free(d->rows);
	memset(d, 0, sizeof(*d));
}

void mu_dump_assert_equal(const struct mu_dump *a, const struct mu_dump *b)
{
	ASSERT_EQ(a->version, b->version);
	ASSERT_EQ(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct mu_row *x = &a->rows[i], *y = &b->rows[i];
		if (x->inode != y->inode || x->parent != y->parent || x->version != y->version ||
		    x->mtime != y->mtime || x->type != y->type || x->name_len != y->name_len ||
		    memcmp(x->name, y->name, x->name_len) != 0 || x->size != y->size ||
		    (x->size && memcmp(x->data, y->data, x->size) != 0))
			TEST_FAIL("trees differ at row %zu: inode %" PRIu64 " '%s' (parent %" PRIu64
			          " version %" PRIu64 " mtime %" PRId64
			          " type %u size %zu) vs inode %" PRIu64 " '%s' (parent %" PRIu64
			          " version %" PRIu64 " mtime %" PRId64 " type %u size %zu)",
			          i, x->inode, x->name, x->parent, x->version, x->mtime, x->type,
			          x->size, y->inode, y->name, y->parent, y->version, y->mtime,
			          y->type, y->size);
	}
}

int mu_apply(struct memdb *db, const struct cfs_op *op, struct memdb_result *res)
{
	memdb_wrlock(db);
	int r = memdb_apply(db, op, res, NULL);
	memdb_unlock(db);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(res->version, memdb_version(db));
	return res->err;
}

uint64_t mu_ino(struct memdb *db, const char *path)
{
	struct memdb_stat st;
	if (memdb_resolve(db, path, &st) != 0)
		return 0;
	return st.inode;
}

/* The parent inode of path (which must exist) and the last component. */
static uint64_t split(struct memdb *db, const char *path, const char **name)
{
	char buf[4096];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*name = path;
		return MEMDB_ROOT_INODE;
	}
	ASSERT((size_t)(slash - path) < sizeof(buf));
	memcpy(buf, path, (size_t)(slash - path));
	buf[slash - path] = '\0';
	uint64_t p = mu_ino(db, buf);
	if (!p)
		TEST_FAIL("parent of '%s' does not exist", path);
	*name = slash + 1;
	return p;
}

static int name_op(struct memdb *db, uint16_t type, const char *path, int64_t now)
{
	struct cfs_op op = { .type = type, .now = now };
	struct memdb_result res;
	op.parent = split(db, path, &op.name);
	op.name_len = (uint32_t)strlen(op.name);
	return mu_apply(db, &op, &res);
}

int mu_create(struct memdb *db, const char *path, int64_t now)
{
	return name_op(db, CFS_OP_CREATE, path, now);
}

int mu_mkdir(struct memdb *db, const char *path, int64_t now)
{
	return name_op(db, CFS_OP_MKDIR, path, now);
}

int mu_unlink(struct memdb *db, const char *path, int64_t now)
{
	return name_op(db, CFS_OP_UNLINK, path, now);
}

int mu_rmdir(struct memdb *db, const char *path, int64_t now)
{
	return name_op(db, CFS_OP_RMDIR, path, now);
}

int mu_rename(struct memdb *db, const char *from, const char *to, uint32_t flags, int64_t now)
{
	struct cfs_op op = { .type = CFS_OP_RENAME, .now = now, .flags = flags };
	struct memdb_result res;
	op.parent = split(db, from, &op.name);
	op.name_len = (uint32_t)strlen(op.name);
	op.newparent = split(db, to, &op.newname);
	op.newname_len = (uint32_t)strlen(op.newname);
	return mu_apply(db, &op, &res);
}

int mu_put(struct memdb *db, const char *path, const void *data, size_t len, int64_t now)
{
	struct cfs_op op = { .type = CFS_OP_PUT, .now = now, .data = data };
	struct memdb_result res;
	op.inode = mu_ino(db, path);
	op.data_len = (uint32_t)len;
	return mu_apply(db, &op, &res);
}

int mu_mtime(struct memdb *db, const char *path, int64_t mtime, int64_t now)
{
	struct cfs_op op = { .type = CFS_OP_MTIME, .now = now, .mtime = mtime };
	struct memdb_result res;
	op.inode = mu_ino(db, path);
	return mu_apply(db, &op, &res);
}

void mu_mkdirs(struct memdb *db, const char *path, int64_t now)
{
	char buf[4096];
	size_t len = strlen(path);

	ASSERT(len < sizeof(buf));
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (!mu_ino(db, buf)) {
			int r = mu_mkdir(db, buf, now);
			if (r)
				TEST_FAIL("mkdir '%s': %s", buf, strerror(-r));
		}
		buf[i] = c;
	}
}

static struct mu_row *mirror_find(struct mu_mirror *m, uint64_t inode)
{
	for (size_t i = 0; i < m->rows.n; i++)
		if (m->rows.rows[i].inode == inode)
			return &m->rows.rows[i];
	return NULL;
}

static void mirror_drop(struct mu_mirror *m, uint64_t inode)
{
	struct mu_row *r = mirror_find(m, inode);
	if (!r)
		return;
	free(r->name);
	free(r->data);
	*r = m->rows.rows[--m->rows.n];
}

static int mirror_fail(struct mu_mirror *m)
{
	m->calls++;
	return m->fail_after > 0 && m->calls >= m->fail_after ? -EIO : 0;
}

static int mirror_write(void *ctx, const struct memdb_row *row)
{
	struct mu_mirror *m = ctx;
	if (mirror_fail(m))
		return -EIO;
	mirror_drop(m, row->inode);
	return mu_dump_add(&m->rows, row);
}

static int mirror_delete(void *ctx, uint64_t inode)
{
	struct mu_mirror *m = ctx;
	if (mirror_fail(m))
		return -EIO;
	if (!mirror_find(m, inode))
		TEST_FAIL("delete of inode %" PRIu64 " that was never stored", inode);
	mirror_drop(m, inode);
	return 0;
}

static int mirror_version(void *ctx, uint64_t version)
{
	struct mu_mirror *m = ctx;
	if (mirror_fail(m))
		return -EIO;
	m->version = version;
	return 0;
}

struct memdb_store mu_mirror_store(struct mu_mirror *m)
{
	struct memdb_store s = { mirror_write, mirror_delete, mirror_version, m };
	return s;
}

void mu_assert_same_op(const struct cfs_op *a, const struct cfs_op *b)
{
	ASSERT_EQ(a->type, b->type);
	ASSERT_EQ(a->flags, b->flags);
	ASSERT_EQ(a->inode, b->inode);
	ASSERT_EQ(a->parent, b->parent);
	ASSERT_EQ(a->newparent, b->newparent);
	ASSERT_EQ(a->now, b->now);
	ASSERT_EQ(a->mtime, b->mtime);
	ASSERT_EQ(a->name_len, b->name_len);
	ASSERT_EQ(a->newname_len, b->newname_len);
	ASSERT_EQ(a->data_len, b->data_len);
	ASSERT(a->name_len == 0 || memcmp(a->name, b->name, a->name_len) == 0);
	ASSERT(a->newname_len == 0 || memcmp(a->newname, b->newname, a->newname_len) == 0);
	ASSERT(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}
