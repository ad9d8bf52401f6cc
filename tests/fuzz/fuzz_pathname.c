/*
 * fuzz_pathname.c - libFuzzer target for pmxcfs/pathname.c: every name rule
 * on arbitrary bytes, with the invariants each verdict implies, and the
 * same name offered to memdb (in a guest directory and at the root), whose
 * verdict must agree with the name rules.
 */
#include "pmxcfs/memdb.h"
#include "pmxcfs/pathname.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is(const char *name, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static void check_name(const char *name, size_t len)
{
	int r = cfs_name_check(name, len);
	ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	ASSERT_EQ(r == -ENAMETOOLONG, len > CFS_MAX_NAME_LEN);
	if (r == 0) {
		ASSERT(len >= 1 && len <= CFS_MAX_NAME_LEN);
		ASSERT(memchr(name, '/', len) == NULL);
		ASSERT(memchr(name, '\0', len) == NULL);
		ASSERT(!is(name, len, ".") && !is(name, len, ".."));
	} else if (r == -EINVAL) {
		ASSERT(len == 0 || memchr(name, '/', len) || memchr(name, '\0', len) ||
		       is(name, len, ".") || is(name, len, ".."));
	}
}

static void check_guest(const char *name, size_t len)
{
	uint64_t id = 12345, cid = 777;
	bool parsed = cfs_guest_name_parse(name, len, &id);
	bool temp = cfs_temp_name(name, len);
	int r = cfs_guest_name_check(name, len, &cid);

	if (parsed) {
		/* the shape round-trips exactly: "<id>.conf", no leading zero */
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%" PRIu64 ".conf", id);
		ASSERT(n > 0 && (size_t)n == len && memcmp(buf, name, len) == 0);
		ASSERT(id >= 1);
	} else {
		ASSERT_EQ(id, 12345); /* untouched */
	}
	ASSERT(r == 0 || r == -EINVAL);
	if (r == 0 && cid != 0) {
		ASSERT(parsed);
		ASSERT_EQ(cid, id);
		ASSERT(cid >= CFS_MIN_GUEST_ID && cid <= CFS_MAX_GUEST_ID);
	} else if (r == 0) {
		ASSERT(temp);
		ASSERT(!parsed);
	} else {
		ASSERT_EQ(cid, 0);
		ASSERT(!temp || parsed);
		if (parsed)
			ASSERT(id < CFS_MIN_GUEST_ID || id > CFS_MAX_GUEST_ID);
	}
	if (temp)
		ASSERT(len > 0);

	int t = cfs_guest_dir_type(name, len);
	ASSERT(t == CFS_GUEST_NONE || t == CFS_GUEST_LXC || t == CFS_GUEST_QEMU);
	ASSERT_EQ(t == CFS_GUEST_LXC, is(name, len, "lxc"));
	ASSERT_EQ(t == CFS_GUEST_QEMU, is(name, len, "qemu-server"));

	if (cfs_root_reserved_name(name, len))
		ASSERT_EQ(cfs_name_check(name, len), 0);
}

/* One tree for the whole run; every create below is undone again. */
static struct memdb *db;
static uint64_t guest_dir;

static void check_memdb(const char *name, size_t len)
{
	struct cfs_op op = {
		.type = CFS_OP_CREATE, .name = name, .name_len = (uint32_t)len, .now = 1700000000
	};
	struct memdb_result res;
	uint64_t vmid;
	int want;

	if (!db) {
		db = memdb_new();
		ASSERT(db != NULL);
		mu_mkdirs(db, "nodes/n/lxc", 1);
		guest_dir = mu_ino(db, "nodes/n/lxc");
	}
	uint64_t v = memdb_version(db);

	/* in a guest directory */
	op.parent = guest_dir;
	want = cfs_name_check(name, len);
	if (!want)
		want = cfs_guest_name_check(name, len, &vmid);
	ASSERT_EQ(mu_apply(db, &op, &res), want);
	if (want == 0) {
		op.type = CFS_OP_UNLINK;
		ASSERT_EQ(mu_apply(db, &op, &res), 0);
		op.type = CFS_OP_CREATE;
		v += 2;
	}
	ASSERT_EQ(memdb_version(db), v);

	/* at the root, where the virtual entries and "nodes" live */
	op.parent = MEMDB_ROOT_INODE;
	want = cfs_name_check(name, len);
	if (!want && (cfs_root_reserved_name(name, len) || is(name, len, "nodes")))
		want = -EEXIST;
	ASSERT_EQ(mu_apply(db, &op, &res), want);
	if (want == 0) {
		op.type = CFS_OP_UNLINK;
		ASSERT_EQ(mu_apply(db, &op, &res), 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = (const char *)data;

	check_name(name, size);
	check_guest(name, size);
	if (size <= CFS_MAX_NAME_LEN + 8)
		check_memdb(name, size);
	return 0;
}
