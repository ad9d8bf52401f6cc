/*
 * test_pathname.c - unit tests of pmxcfs/pathname.c, the name rules of the
 * /etc/pve tree: entry names, guest config names in nodes/<node>/<type>/,
 * the temporary names editors and tools create there, and the names the
 * virtual entries reserve at the root.  Pure functions, no set-up.
 */
#include "pmxcfs/pathname.h"
#include "tests/test.h"

#include <errno.h>
#include <string.h>

/* The C string s as (name, len). */
#define S(s) (s), strlen(s)

static void t_name_valid(void)
{
	static const char *const ok[] = {
		"a",          "100.conf", "...", ".a",  "a.", "..a",      "a b",
		"with space", "ümlaut",   "-",   "#x#", "x~", ".version", "lxc",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (cfs_name_check(S(ok[i])) != 0)
			TEST_FAIL("'%s' refused: %d", ok[i], cfs_name_check(S(ok[i])));
	/* only len bytes count: a longer buffer does not matter */
	ASSERT_EQ(cfs_name_check("ab/c", 2), 0);
	ASSERT_EQ(cfs_name_check("..x", 1), -EINVAL); /* "." */
}

static void t_name_empty(void)
{
	ASSERT_EQ(cfs_name_check("", 0), -EINVAL);
	ASSERT_EQ(cfs_name_check("abc", 0), -EINVAL);
}

static void t_name_dots(void)
{
	ASSERT_EQ(cfs_name_check(S(".")), -EINVAL);
	ASSERT_EQ(cfs_name_check(S("..")), -EINVAL);
	ASSERT_EQ(cfs_name_check(S("...")), 0);
}

static void t_name_slash(void)
{
	ASSERT_EQ(cfs_name_check(S("/")), -EINVAL);
	ASSERT_EQ(cfs_name_check(S("a/b")), -EINVAL);
	ASSERT_EQ(cfs_name_check(S("a/")), -EINVAL);
	ASSERT_EQ(cfs_name_check(S("/a")), -EINVAL);
}

static void t_name_nul(void)
{
	ASSERT_EQ(cfs_name_check("a\0b", 3), -EINVAL);
	ASSERT_EQ(cfs_name_check("\0", 1), -EINVAL);
	ASSERT_EQ(cfs_name_check("ab\0", 3), -EINVAL);
}

static void t_name_control_bytes(void)
{
	/* only '/' and NUL are special; other control bytes are legal names */
	char name[2] = { 0, 0 };
	for (int c = 1; c < 256; c++) {
		name[0] = (char)c;
		int want = (c == '/' || c == '.') ? -EINVAL : 0;
		if (cfs_name_check(name, 1) != want)
			TEST_FAIL("byte 0x%02x: got %d, want %d", c, cfs_name_check(name, 1), want);
	}
	ASSERT_EQ(cfs_name_check(S("a\nb")), 0);
	ASSERT_EQ(cfs_name_check(S("\x7f\x01")), 0);
}

static void t_name_too_long(void)
{
	char buf[CFS_MAX_NAME_LEN + 2];
	memset(buf, 'x', sizeof(buf));
	ASSERT_EQ(cfs_name_check(buf, CFS_MAX_NAME_LEN), 0);
	ASSERT_EQ(cfs_name_check(buf, CFS_MAX_NAME_LEN + 1), -ENAMETOOLONG);
	ASSERT_EQ(cfs_name_check(buf, CFS_MAX_NAME_LEN + 2), -ENAMETOOLONG);
	/* length is judged before content: a long name with a '/' is too long */
	buf[3] = '/';
	ASSERT_EQ(cfs_name_check(buf, CFS_MAX_NAME_LEN + 1), -ENAMETOOLONG);
	ASSERT_EQ(cfs_name_check(buf, CFS_MAX_NAME_LEN), -EINVAL);
}

static void t_guest_dir_type(void)
{
	ASSERT_EQ(cfs_guest_dir_type(S("lxc")), CFS_GUEST_LXC);
	ASSERT_EQ(cfs_guest_dir_type(S("qemu-server")), CFS_GUEST_QEMU);
	ASSERT_EQ(cfs_guest_dir_type(S("openvz")), CFS_GUEST_NONE);
	ASSERT_EQ(cfs_guest_dir_type(S("lxc2")), CFS_GUEST_NONE);
	ASSERT_EQ(cfs_guest_dir_type(S("LXC")), CFS_GUEST_NONE);
	ASSERT_EQ(cfs_guest_dir_type("lxcfoo", 3), CFS_GUEST_LXC);
	ASSERT_EQ(cfs_guest_dir_type("lx", 2), CFS_GUEST_NONE);
	ASSERT_EQ(cfs_guest_dir_type("", 0), CFS_GUEST_NONE);
}

static void t_guest_parse(void)
{
	uint64_t id = 7;

	ASSERT(cfs_guest_name_parse(S("100.conf"), &id));
	ASSERT_EQ(id, 100);
	ASSERT(cfs_guest_name_parse(S("999999999.conf"), &id));
	ASSERT_EQ(id, 999999999);
	/* the shape only: small and large ids still parse */
	ASSERT(cfs_guest_name_parse(S("1.conf"), &id));
	ASSERT_EQ(id, 1);
	ASSERT(cfs_guest_name_parse(S("9999999999.conf"), &id));
	ASSERT_EQ(id, 9999999999ull);

	id = 7;
	static const char *const bad[] = {
		".conf",     "0.conf",    "0100.conf",    "00.conf",
		"abc.conf",  "10a.conf",  "100.conf.tmp", "100.conf~",
		"100.cnf",   "100",       "100conf",      "-100.conf",
		"+100.conf", " 100.conf", "100 .conf",    "12345678901.conf",
		"100.CONF",  "1e3.conf",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cfs_guest_name_parse(S(bad[i]), &id))
			TEST_FAIL("'%s' parsed as guest config %" PRIu64, bad[i], id);
	ASSERT_EQ(id, 7); /* untouched on failure */
	/* len bounds the name */
	ASSERT(!cfs_guest_name_parse("100.conf", 7, &id));
}

static void t_guest_check_ok(void)
{
	uint64_t id = 0;
	ASSERT_EQ(cfs_guest_name_check(S("100.conf"), &id), 0);
	ASSERT_EQ(id, 100);
	ASSERT_EQ(cfs_guest_name_check(S("4242.conf"), &id), 0);
	ASSERT_EQ(id, 4242);
	ASSERT_EQ(cfs_guest_name_check(S("999999999.conf"), &id), 0);
	ASSERT_EQ(id, CFS_MAX_GUEST_ID);
}

static void t_guest_check_reserved_ids(void)
{
	uint64_t id = 1;
	/* ids below 100 are reserved */
	ASSERT_EQ(cfs_guest_name_check(S("99.conf"), &id), -EINVAL);
	ASSERT_EQ(id, 0);
	ASSERT_EQ(cfs_guest_name_check(S("1.conf"), &id), -EINVAL);
	ASSERT_EQ(cfs_guest_name_check(S("0.conf"), &id), -EINVAL);
	ASSERT_EQ(cfs_guest_name_check(S("100.conf"), &id), 0);
	ASSERT_EQ(id, 100);
}

static void t_guest_check_bad_names(void)
{
	static const char *const bad[] = {
		"abc.conf",     "0100.conf",   "00100.conf", "foo",           "100.cfg",
		"100.conf.swp", "vm-100.conf", "100.conf ",  "100.conf.orig", "conf",
		"lxc",          "sed12345",    "sed1234567",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t id = 5;
		int r = cfs_guest_name_check(S(bad[i]), &id);
		if (r != -EINVAL || id != 0)
			TEST_FAIL("'%s': got %d id %" PRIu64 ", want -EINVAL id 0", bad[i], r, id);
	}
}

static void t_guest_check_overflow(void)
{
	uint64_t id = 5;
	/* 10 digits: parses, above the maximum id */
	ASSERT_EQ(cfs_guest_name_check(S("1000000000.conf"), &id), -EINVAL);
	ASSERT_EQ(id, 0);
	ASSERT_EQ(cfs_guest_name_check(S("9999999999.conf"), &id), -EINVAL);
	/* 11 and 20+ digits: not even the shape (and no uint64 wrap-around) */
	ASSERT_EQ(cfs_guest_name_check(S("10000000100.conf"), &id), -EINVAL);
	ASSERT_EQ(cfs_guest_name_check(S("18446744073709551716.conf"), &id), -EINVAL);
	ASSERT_EQ(cfs_guest_name_check(S("36893488147419103332.conf"), &id), -EINVAL);
	ASSERT_EQ(id, 0);
}

static void t_guest_check_temp(void)
{
	/* editor/tool temporaries are allowed next to configs, without an id */
	static const char *const tmp[] = {
		"100.conf.tmp", "100.conf.tmp.12345", ".100.conf.swp", ".100.conf.swx",
		"4913",         "100.conf~",          "#100.conf#",    ".#100.conf",
		"sedAb12Cd",    "100.conf.new",       "100.conf.bak",  "100.conf.old",
		"foo.tmp",
	};
	for (size_t i = 0; i < sizeof(tmp) / sizeof(tmp[0]); i++) {
		uint64_t id = 5;
		int r = cfs_guest_name_check(S(tmp[i]), &id);
		if (r != 0 || id != 0)
			TEST_FAIL("'%s': got %d id %" PRIu64 ", want 0 id 0", tmp[i], r, id);
	}
}

static void t_temp_vim(void)
{
	ASSERT(cfs_temp_name(S(".100.conf.swp")));
	ASSERT(cfs_temp_name(S(".100.conf.swo")));
	ASSERT(cfs_temp_name(S("4913"))); /* vim's write probe */
	ASSERT(cfs_temp_name(S("5036"))); /* ...which counts up when 4913 exists */
	ASSERT(cfs_temp_name(S("100.conf~")));
	ASSERT(!cfs_temp_name(S("49a3")));
}

static void t_temp_sed(void)
{
	/* GNU sed -i: "sed" + 6 random characters in the same directory */
	ASSERT(cfs_temp_name(S("sedAbC123")));
	ASSERT(cfs_temp_name(S("sed000000")));
	ASSERT(!cfs_temp_name(S("sedAbC12")));
	ASSERT(!cfs_temp_name(S("sedAbC1234")));
	ASSERT(!cfs_temp_name(S("SedAbC123")));
	ASSERT(!cfs_temp_name(S("xedAbC123")));
}

static void t_temp_emacs_and_tools(void)
{
	ASSERT(cfs_temp_name(S("#100.conf#")));
	ASSERT(cfs_temp_name(S(".#100.conf")));
	ASSERT(cfs_temp_name(S("100.conf.tmp.4711"))); /* PVE::Tools::file_set_contents */
	ASSERT(cfs_temp_name(S("x.tmp")));
	ASSERT(cfs_temp_name(S("x.new")));
	ASSERT(cfs_temp_name(S("x.bak")));
	ASSERT(cfs_temp_name(S("x.old")));
	/* a lone '#' is not "#...#" */
	ASSERT(!cfs_temp_name(S("#")));
	ASSERT(!cfs_temp_name(S("#100.conf")));
	ASSERT(!cfs_temp_name(S("100.conf#")));
}

static void t_temp_refused(void)
{
	static const char *const no[] = {
		"100.conf", "abc", "100.cfg", "x.newer", "x.bakx", "x.tm", "conf", "tmp", "new",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (cfs_temp_name(S(no[i])))
			TEST_FAIL("'%s' taken for a temporary name", no[i]);
	ASSERT(!cfs_temp_name("", 0));
	/* len bounds the name: "x.tmp" cut to "x.tm" is not temporary */
	ASSERT(!cfs_temp_name("x.tmp", 4));
	ASSERT(!cfs_temp_name("4913", 0));
}

static void t_root_reserved(void)
{
	static const char *const res[] = {
		".version", ".members", ".vmlist",     ".clusterlog",
		"local",    "lxc",      "qemu-server", "openvz",
	};
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		if (!cfs_root_reserved_name(S(res[i])))
			TEST_FAIL("'%s' not reserved", res[i]);
	static const char *const free_names[] = {
		"nodes", "priv", ".versions", ".version ",   "version",
		"Local", "lxc2", "qemu",      "storage.cfg", ".rrd",
	};
	for (size_t i = 0; i < sizeof(free_names) / sizeof(free_names[0]); i++)
		if (cfs_root_reserved_name(S(free_names[i])))
			TEST_FAIL("'%s' reserved", free_names[i]);
	ASSERT(!cfs_root_reserved_name("", 0));
	ASSERT(!cfs_root_reserved_name("lxc", 2));
	ASSERT(cfs_root_reserved_name("lxcX", 3));
}

static const struct test_case cases[] = {
	{ "name_valid", t_name_valid },
	{ "name_empty", t_name_empty },
	{ "name_dots", t_name_dots },
	{ "name_slash", t_name_slash },
	{ "name_nul", t_name_nul },
	{ "name_control_bytes", t_name_control_bytes },
	{ "name_too_long", t_name_too_long },
	{ "guest_dir_type", t_guest_dir_type },
	{ "guest_parse", t_guest_parse },
	{ "guest_check_ok", t_guest_check_ok },
	{ "guest_check_reserved_ids", t_guest_check_reserved_ids },
	{ "guest_check_bad_names", t_guest_check_bad_names },
	{ "guest_check_overflow", t_guest_check_overflow },
	{ "guest_check_temp", t_guest_check_temp },
	{ "temp_vim", t_temp_vim },
	{ "temp_sed", t_temp_sed },
	{ "temp_emacs_and_tools", t_temp_emacs_and_tools },
	{ "temp_refused", t_temp_refused },
	{ "root_reserved", t_root_reserved },
};

TEST_MAIN(cases)
