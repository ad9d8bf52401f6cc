/*
 * test_fs.c - syscall tests against a real pmxcfs FUSE mount (label "fs",
 * needs root and /dev/fuse).  Each case starts its own daemon on a fresh
 * temporary directory (tests/fs/fs_harness.c), drives the mount with plain
 * system calls and ends with a clean SIGTERM shutdown.  Where pmxcfs knowingly
 * differs from the reference (EFBIG instead of short writes, atomic
 * visibility at close), the case says so.
 */
#include "tests/fs/fs_harness.h"
#include "tests/test.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static struct fs_inst fs;

#define P(rel) fs_path(&fs, rel)

/* ---- helpers ---- */

static gid_t www_gid(void)
{
	struct group *g = getgrnam("www-data");
	return g ? g->gr_gid : 33;
}

static void put(const char *rel, const void *data, size_t len)
{
	if (fs_write_file(P(rel), data, len) != 0)
		TEST_FAIL("writing %s (%zu bytes): %s", rel, len, strerror(errno));
}

static void put_str(const char *rel, const char *s)
{
	put(rel, s, strlen(s));
}

/* The file rel must hold exactly data/len. */
static void expect_content(const char *rel, const void *data, size_t len)
{
	char *got;
	ssize_t n = fs_read_file(P(rel), &got);
	if (n < 0)
		TEST_FAIL("reading %s: %s", rel, strerror(errno));
	if ((size_t)n != len || memcmp(got, data, len) != 0) {
		size_t i = 0;
		while (i < len && i < (size_t)n && got[i] == ((const char *)data)[i])
			i++;
		TEST_FAIL(
		    "%s: content differs: got %zd bytes, expected %zu, first difference at %zu",
		    rel, n, len, i);
	}
	free(got);
}

static void expect_str(const char *rel, const char *s)
{
	expect_content(rel, s, strlen(s));
}

static char *slurp(const char *rel)
{
	char *data;
	if (fs_read_file(P(rel), &data) < 0)
		TEST_FAIL("reading %s: %s", rel, strerror(errno));
	return data;
}

static void write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, (const char *)buf + off, len - off);
		if (w < 0)
			TEST_FAIL("write of %zu bytes: %s", len - off, strerror(errno));
		off += (size_t)w;
	}
}

/* Read an open file from offset 0 to EOF (at most cap bytes) with pread. */
static size_t pread_all(int fd, char *buf, size_t cap)
{
	size_t off = 0;
	for (;;) {
		ssize_t r = pread(fd, buf + off, cap - off, (off_t)off);
		if (r < 0)
			TEST_FAIL("pread: %s", strerror(errno));
		if (r == 0 || off + (size_t)r == cap)
			return off + (size_t)r;
		off += (size_t)r;
	}
}

static void expect_mode(const char *rel, mode_t type, mode_t perm)
{
	struct stat st;
	if (lstat(P(rel), &st) != 0)
		TEST_FAIL("lstat %s: %s", rel, strerror(errno));
	if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != perm)
		TEST_FAIL("%s: mode 0%o, expected type 0%o perm 0%o", rel, (unsigned)st.st_mode,
		          (unsigned)type, (unsigned)perm);
	ASSERT_EQ(st.st_uid, 0);
	ASSERT_EQ(st.st_gid, www_gid());
}

static off_t size_of(const char *rel)
{
	struct stat st;
	if (stat(P(rel), &st) != 0)
		TEST_FAIL("stat %s: %s", rel, strerror(errno));
	return st.st_size;
}

static bool dir_has(const char *rel, const char *name, unsigned char *dtype)
{
	DIR *d = opendir(P(rel));
	struct dirent *e;
	bool found = false;

	if (!d)
		TEST_FAIL("opendir %s: %s", rel, strerror(errno));
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, name) == 0) {
			found = true;
			if (dtype)
				*dtype = e->d_type;
		}
	}
	closedir(d);
	return found;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle))
		n++;
	return n;
}

static void expect_json_object(const char *what, const char *s)
{
	const char *p = s;
	while (*p == ' ' || *p == '\n')
		p++;
	if (*p != '{')
		TEST_FAIL("%s does not start with '{': %.80s", what, s);
	if (count_str(s, "{") != count_str(s, "}"))
		TEST_FAIL("%s: unbalanced braces: %s", what, s);
	if (count_str(s, "[") != count_str(s, "]"))
		TEST_FAIL("%s: unbalanced brackets: %s", what, s);
}

/* The string value of "key" at or after p (copied into out). */
static bool json_str_after(const char *p, const char *key, char *out, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(p, pat);
	if (!p)
		return false;
	p = strchr(p + strlen(pat), ':');
	if (!p)
		return false;
	p = strchr(p, '"');
	if (!p)
		return false;
	const char *end = strchr(p + 1, '"');
	if (!end || (size_t)(end - p - 1) >= len)
		return false;
	memcpy(out, p + 1, (size_t)(end - p - 1));
	out[end - p - 1] = '\0';
	return true;
}

/* .vmlist entry of vmid: false if absent, else its node and type. */
static bool vmlist_entry(unsigned vmid, char *node, char *type, size_t len)
{
	char key[32];
	char *vl = slurp(".vmlist");
	snprintf(key, sizeof(key), "\"%u\"", vmid);
	const char *p = strstr(vl, key);
	bool ok = false;
	if (p) {
		const char *close = strchr(p, '}');
		ok = json_str_after(p, "node", node, len) && json_str_after(p, "type", type, len);
		/* both inside this entry's object */
		if (ok && close) {
			const char *n = strstr(p, "\"node\""), *t = strstr(p, "\"type\"");
			ok = n && t && n < close && t < close;
		}
	}
	free(vl);
	return ok;
}

static size_t vmlist_count(void)
{
	char *vl = slurp(".vmlist");
	size_t n = count_str(vl, "\"node\"");
	free(vl);
	return n;
}

/* The unsigned number after "key": in s, or -1. */
static long long json_num(const char *s, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(s, pat);
	if (!p)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

static void set_mtime(const char *rel, time_t atime, time_t mtime)
{
	struct timeval tv[2] = { { atime, 0 }, { mtime, 0 } };
	if (utimes(P(rel), tv) != 0)
		TEST_FAIL("utimes %s: %s", rel, strerror(errno));
}

/* ---- layout, modes, links ---- */

static void t_layout(void)
{
	unsigned char dt = 0;

	fs_start(&fs);
	expect_mode("", S_IFDIR, 0755);
	expect_mode("nodes", S_IFDIR, 0755);
	expect_mode("nodes/" FS_NODENAME, S_IFDIR, 0755);
	expect_mode("nodes/" FS_NODENAME "/lxc", S_IFDIR, 0755);
	expect_mode("nodes/" FS_NODENAME "/qemu-server", S_IFDIR, 0755);
	expect_mode("nodes/" FS_NODENAME "/priv", S_IFDIR, 0700);
	expect_mode("priv", S_IFDIR, 0700);
	expect_mode("priv/lock", S_IFDIR, 0700);

	put_str("datacenter.cfg", "keyboard: en-us\n");
	expect_mode("datacenter.cfg", S_IFREG, 0640);
	put_str("priv/authkey.key", "secret\n");
	expect_mode("priv/authkey.key", S_IFREG, 0600);
	put_str("nodes/" FS_NODENAME "/priv/x", "y");
	expect_mode("nodes/" FS_NODENAME "/priv/x", S_IFREG, 0600);
	ASSERT_OK(mkdir(P("firewall"), 0700)); /* requested modes are ignored */
	expect_mode("firewall", S_IFDIR, 0755);
	ASSERT_OK(mkdir(P("priv/sub"), 0755));
	expect_mode("priv/sub", S_IFDIR, 0700);

	/* the root lists the virtual entries next to the stored ones */
	const char *names[] = { ".version", ".members", ".vmlist",        ".clusterlog",
		                "local",    "lxc",      "qemu-server",    "openvz",
		                "nodes",    "priv",     "datacenter.cfg", "firewall" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!dir_has("", names[i], NULL))
			TEST_FAIL("root directory does not list %s", names[i]);
	ASSERT(dir_has("", "lxc", &dt));
	ASSERT_EQ(dt, DT_LNK);
	ASSERT(dir_has("", ".members", &dt));
	ASSERT_EQ(dt, DT_REG);
	ASSERT(dir_has("nodes/" FS_NODENAME, "lxc", &dt));
	ASSERT_EQ(dt, DT_DIR);

	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_links(void)
{
	const struct {
		const char *link, *target;
	} links[] = {
		{ "local", "nodes/" FS_NODENAME },
		{ "lxc", "nodes/" FS_NODENAME "/lxc" },
		{ "qemu-server", "nodes/" FS_NODENAME "/qemu-server" },
		{ "openvz", "nodes/" FS_NODENAME "/openvz" },
	};
	char buf[PATH_MAX];
	struct stat st, st2;

	fs_start(&fs);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		ssize_t n = readlink(P(links[i].link), buf, sizeof(buf) - 1);
		if (n < 0)
			TEST_FAIL("readlink %s: %s", links[i].link, strerror(errno));
		buf[n] = '\0';
		ASSERT_STR_EQ(buf, links[i].target);
		ASSERT_OK(lstat(P(links[i].link), &st));
		ASSERT(S_ISLNK(st.st_mode));
		ASSERT_EQ(st.st_uid, 0);
		ASSERT_EQ(st.st_gid, www_gid());
	}
	/* the links lead into this node's directories */
	ASSERT_OK(stat(P("lxc"), &st));
	ASSERT_OK(stat(P("nodes/" FS_NODENAME "/lxc"), &st2));
	ASSERT(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_ino, st2.st_ino);
	ASSERT_OK(stat(P("local"), &st));
	ASSERT_OK(stat(P("nodes/" FS_NODENAME), &st2));
	ASSERT_EQ(st.st_ino, st2.st_ino);
	put_str("local/note", "via link");
	expect_str("nodes/" FS_NODENAME "/note", "via link");

	/* readlink of a file is EINVAL; the virtual files are read-only regular files */
	ASSERT_ERRNO(readlink(P(".version"), buf, sizeof(buf)), EINVAL);
	const char *virt[] = { ".version", ".members", ".vmlist", ".clusterlog" };
	for (size_t i = 0; i < 4; i++) {
		ASSERT_OK(lstat(P(virt[i]), &st));
		ASSERT(S_ISREG(st.st_mode));
		ASSERT_EQ(st.st_mode & 0222, 0);
		ASSERT_EQ(st.st_uid, 0);
		ASSERT_EQ(st.st_gid, www_gid());
	}
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- data path ---- */

static void t_roundtrip(void)
{
	char bin[4096];
	int fd;

	fs_start(&fs);
	fd = open(P("file"), O_CREAT | O_WRONLY | O_EXCL, 0640);
	ASSERT_OK(fd);
	write_all(fd, "hello\n", 6);
	ASSERT_OK(close(fd));
	expect_str("file", "hello\n");
	ASSERT_EQ(size_of("file"), 6);

	/* rewrite shorter: nothing of the old content remains */
	put_str("file", "x");
	expect_str("file", "x");
	ASSERT_EQ(size_of("file"), 1);

	/* binary content with every byte value */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7 + i / 256);
	put("bin", bin, sizeof(bin));
	expect_content("bin", bin, sizeof(bin));

	/* read(2) from an O_RDWR handle sees its own writes */
	fd = open(P("rw"), O_CREAT | O_RDWR, 0640);
	ASSERT_OK(fd);
	write_all(fd, "abcdef", 6);
	char buf[16] = "";
	ASSERT_EQ(pread(fd, buf, sizeof(buf), 2), 4);
	ASSERT(memcmp(buf, "cdef", 4) == 0);
	ASSERT_OK(close(fd));
	expect_str("rw", "abcdef");

	/* an empty file */
	fd = open(P("empty"), O_CREAT | O_WRONLY, 0640);
	ASSERT_OK(fd);
	ASSERT_OK(close(fd));
	ASSERT_EQ(size_of("empty"), 0);
	expect_str("empty", "");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_excl(void)
{
	int fd;

	fs_start(&fs);
	put_str("exists", "keep me");
	ASSERT_ERRNO(open(P("exists"), O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST);
	ASSERT_ERRNO(open(P("nodes"), O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST);
	expect_str("exists", "keep me");
	/* O_CREAT without O_EXCL opens the existing file and keeps its content */
	fd = open(P("exists"), O_CREAT | O_WRONLY, 0640);
	ASSERT_OK(fd);
	ASSERT_OK(close(fd));
	expect_str("exists", "keep me");
	fd = open(P("new"), O_CREAT | O_EXCL | O_WRONLY, 0640);
	ASSERT_OK(fd);
	ASSERT_OK(close(fd));
	ASSERT_ERRNO(open(P("new"), O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_offsets(void)
{
	char expect[128];
	int fd;

	fs_start(&fs);
	put_str("f", "hello world");
	fd = open(P("f"), O_WRONLY);
	ASSERT_OK(fd);
	ASSERT_EQ(pwrite(fd, "WORLD", 5, 6), 5);
	/* beyond the end: the gap reads as zeros */
	ASSERT_EQ(pwrite(fd, "end", 3, 100), 3);
	ASSERT_OK(close(fd));
	memset(expect, 0, sizeof(expect));
	memcpy(expect, "hello WORLD", 11);
	memcpy(expect + 100, "end", 3);
	expect_content("f", expect, 103);
	ASSERT_EQ(size_of("f"), 103);

	/* lseek + write in the middle keeps the rest */
	fd = open(P("f"), O_RDWR);
	ASSERT_OK(fd);
	ASSERT_EQ(lseek(fd, 2, SEEK_SET), 2);
	write_all(fd, "LL", 2);
	ASSERT_OK(close(fd));
	memcpy(expect, "heLLo WORLD", 11);
	expect_content("f", expect, 103);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_append(void)
{
	int fd;

	fs_start(&fs);
	put_str("log", "start\n");
	fd = open(P("log"), O_WRONLY | O_APPEND);
	ASSERT_OK(fd);
	write_all(fd, "one\n", 4);
	ASSERT_OK(close(fd));
	fd = open(P("log"), O_WRONLY | O_APPEND);
	ASSERT_OK(fd);
	/* O_APPEND writes go to the end whatever the offset */
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	write_all(fd, "two\n", 4);
	write_all(fd, "three\n", 6);
	ASSERT_OK(close(fd));
	expect_str("log", "start\none\ntwo\nthree\n");

	/* O_CREAT | O_APPEND on a new file */
	fd = open(P("new.log"), O_WRONLY | O_APPEND | O_CREAT, 0640);
	ASSERT_OK(fd);
	write_all(fd, "a", 1);
	ASSERT_OK(close(fd));
	fd = open(P("new.log"), O_WRONLY | O_APPEND | O_CREAT, 0640);
	ASSERT_OK(fd);
	write_all(fd, "b", 1);
	ASSERT_OK(close(fd));
	expect_str("new.log", "ab");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_truncate(void)
{
	char expect[64];
	int fd;

	fs_start(&fs);
	put_str("f", "0123456789");
	fd = open(P("f"), O_RDWR);
	ASSERT_OK(fd);
	ASSERT_OK(ftruncate(fd, 4));
	ASSERT_OK(close(fd));
	expect_str("f", "0123");

	fd = open(P("f"), O_RDWR);
	ASSERT_OK(fd);
	ASSERT_OK(ftruncate(fd, 8)); /* grow: zeros */
	ASSERT_OK(close(fd));
	memset(expect, 0, sizeof(expect));
	memcpy(expect, "0123", 4);
	expect_content("f", expect, 8);

	/* truncate(path) without an open handle */
	ASSERT_OK(truncate(P("f"), 2));
	ASSERT_EQ(size_of("f"), 2);
	expect_str("f", "01");
	ASSERT_OK(truncate(P("f"), 6));
	ASSERT_EQ(size_of("f"), 6);
	memset(expect, 0, sizeof(expect));
	memcpy(expect, "01", 2);
	expect_content("f", expect, 6);
	ASSERT_OK(truncate(P("f"), 0));
	ASSERT_EQ(size_of("f"), 0);
	expect_str("f", "");
	ASSERT_ERRNO(truncate(P("nodes"), 0), EISDIR);
	ASSERT_ERRNO(truncate(P("missing"), 0), ENOENT);

	/* O_TRUNC then write */
	put_str("g", "long old content");
	fd = open(P("g"), O_WRONLY | O_TRUNC);
	ASSERT_OK(fd);
	write_all(fd, "new", 3);
	ASSERT_OK(close(fd));
	expect_str("g", "new");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/*
 * The kernel keeps one size per inode for every open file, and others must
 * see the committed file, so the writer's fstat() shows the committed size
 * until it closes (documented in pmxcfs.8); its writes, reads, ftruncate and
 * O_APPEND act on its own buffer.
 */
static void t_writer_fstat(void)
{
	struct stat st;
	char buf[32];
	int fd;

	fs_start(&fs);
	put_str("f", "0123456789");
	fd = open(P("f"), O_RDWR);
	ASSERT_OK(fd);
	ASSERT_EQ(pwrite(fd, "abcdefghijklmnop", 16, 0), 16);
	ASSERT_OK(fstat(fd, &st));
	ASSERT_EQ(st.st_size, 10);
	/* the writer reads its own buffer */
	ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 16);
	ASSERT(memcmp(buf, "abcdefghijklmnop", 16) == 0);
	ASSERT_OK(ftruncate(fd, 4));
	ASSERT_OK(fstat(fd, &st));
	ASSERT_EQ(st.st_size, 10);
	ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 4);
	expect_str("f", "0123456789");
	ASSERT_OK(close(fd));
	expect_str("f", "abcd");
	ASSERT_EQ(size_of("f"), 4);

	/* O_APPEND appends to the writer's buffer, not to the committed size */
	fd = open(P("f"), O_WRONLY | O_APPEND);
	ASSERT_OK(fd);
	write_all(fd, "ef", 2);
	write_all(fd, "gh", 2);
	ASSERT_OK(close(fd));
	expect_str("f", "abcdefgh");

	fd = open(P("g"), O_CREAT | O_WRONLY | O_EXCL, 0640);
	ASSERT_OK(fd);
	write_all(fd, "hello\n", 6);
	ASSERT_OK(fstat(fd, &st));
	ASSERT_EQ(st.st_size, 0);
	ASSERT_OK(close(fd));
	ASSERT_EQ(size_of("g"), 6);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- visibility ---- */

/*
 * stat() right after close() shows the new size and a read right after it
 * the new bytes, every time (the kernel had the old size cached: a stat and
 * a read just before the write).
 */
static void t_stat_after_close(void)
{
	char buf[608], old[608];

	fs_start(&fs);
	put_str("f", "initial");
	for (int i = 1; i <= 300; i++) {
		size_t len = (size_t)(i * 7) % sizeof(buf) + 1;
		memset(buf, 'a' + i % 26, len);
		(void)size_of("f"); /* cache the old size */
		put("f", buf, len);
		ASSERT_EQ(size_of("f"), (off_t)len);
		expect_content("f", buf, len);
		/* a size change without a write: the setattr reply refreshed the old size */
		int fd = open(P("f"), O_RDWR);
		ASSERT_OK(fd);
		ASSERT_OK(ftruncate(fd, (off_t)len + 3));
		ASSERT_OK(close(fd));
		ASSERT_EQ(size_of("f"), (off_t)len + 3);
		/* same size, new bytes: the cached pages of the old version must go */
		memcpy(old, buf, len);
		memset(old + len, 0, 3);
		expect_content("f", old, len + 3);
		memset(buf, 'A' + i % 26, len + 3);
		(void)size_of("f");
		put("f", buf, len + 3);
		expect_content("f", buf, len + 3);
	}
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_visible_after_close(void)
{
	char big[4096];
	struct stat st;
	int w;

	fs_start(&fs);
	put_str("f", "old content");
	memset(big, 'N', sizeof(big));

	w = open(P("f"), O_WRONLY | O_TRUNC);
	ASSERT_OK(w);
	/* truncated but not closed: others still see the old file */
	expect_str("f", "old content");
	write_all(w, big, sizeof(big));
	expect_str("f", "old content");
	ASSERT_OK(stat(P("f"), &st));
	ASSERT_EQ(st.st_size, 11);
	ASSERT_OK(close(w));
	expect_content("f", big, sizeof(big));
	ASSERT_EQ(size_of("f"), (off_t)sizeof(big));

	/* the same with an in-place write (no O_TRUNC) */
	w = open(P("f"), O_RDWR);
	ASSERT_OK(w);
	ASSERT_EQ(pwrite(w, "XY", 2, 0), 2);
	expect_content("f", big, sizeof(big));
	ASSERT_OK(close(w));
	big[0] = 'X';
	big[1] = 'Y';
	expect_content("f", big, sizeof(big));

	/* a new file's content appears at close */
	w = open(P("g"), O_CREAT | O_WRONLY, 0640);
	ASSERT_OK(w);
	write_all(w, "data", 4);
	expect_str("g", "");
	ASSERT_OK(close(w));
	expect_str("g", "data");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_fsync_visible(void)
{
	int w;

	fs_start(&fs);
	put_str("f", "old");
	w = open(P("f"), O_WRONLY | O_TRUNC);
	ASSERT_OK(w);
	write_all(w, "fsynced", 7);
	expect_str("f", "old");
	ASSERT_OK(fsync(w));
	expect_str("f", "fsynced");
	write_all(w, "+more", 5);
	expect_str("f", "fsynced");
	ASSERT_OK(fdatasync(w));
	expect_str("f", "fsynced+more");
	write_all(w, "!", 1);
	ASSERT_OK(close(w));
	expect_str("f", "fsynced+more!");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/*
 * A reader that opened the file before a writer committed keeps reading the
 * version it opened, also after the commit (pmxcfs snapshots at open): never
 * a byte of the new version.  The kernel bounds its reads by the file's
 * current size, so when the new version is shorter it sees the start of its
 * version only (pmxcfs.8, WRITE SEMANTICS).
 */
static void reader_snapshot(size_t oldlen, size_t newlen)
{
	char *oldc = malloc(oldlen), *newc = malloc(newlen), *buf = malloc(oldlen + newlen + 16);
	char c;
	int r, w;

	ASSERT(oldc && newc && buf);
	memset(oldc, 'o', oldlen);
	memset(newc, 'n', newlen);
	fs_start(&fs);
	put("f", oldc, oldlen);
	r = open(P("f"), O_RDONLY);
	ASSERT_OK(r);
	ASSERT_EQ(read(r, &c, 1), 1);
	ASSERT_EQ(c, 'o');

	w = open(P("f"), O_WRONLY | O_TRUNC);
	ASSERT_OK(w);
	write_all(w, newc, newlen);
	ASSERT_OK(close(w));

	/* right after the commit */
	size_t seen = oldlen < newlen ? oldlen : newlen;
	size_t n = pread_all(r, buf, oldlen + newlen + 16);
	/* its whole version, or (shorter new version) the start of it */
	if ((n != seen && n != oldlen) || memcmp(buf, oldc, n) != 0)
		TEST_FAIL(
		    "early reader after the commit: got %zu bytes starting '%c', expected %zu "
		    "bytes of the old 'o'",
		    n, n ? buf[0] : '-', seen);
	/* and after a new reader has read the new version */
	expect_content("f", newc, newlen);
	n = pread_all(r, buf, oldlen + newlen + 16);
	if ((n != seen && n != oldlen) || memcmp(buf, oldc, n) != 0) {
		size_t k = 0;
		while (k < n && buf[k] == 'o')
			k++;
		TEST_FAIL("early reader after a new reader read the new version: got %zu bytes "
		          "('o' x %zu, then '%c'), expected the old %zu bytes of 'o'",
		          n, k, k < n ? buf[k] : '-', seen);
	}
	ASSERT_OK(close(r));
	/* a reader opened now gets the new version */
	expect_content("f", newc, newlen);
	free(oldc);
	free(newc);
	free(buf);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_reader_snapshot_same_size(void)
{
	reader_snapshot(5000, 5000);
}

static void t_reader_snapshot_grown(void)
{
	reader_snapshot(100, 9000);
}

static void t_reader_snapshot_shrunk(void)
{
	reader_snapshot(9000, 100);
}

/* ---- namespace ---- */

static void t_dirops(void)
{
	struct stat st;

	fs_start(&fs);
	ASSERT_OK(mkdir(P("d"), 0755));
	ASSERT_OK(stat(P("d"), &st));
	ASSERT(S_ISDIR(st.st_mode));
	ASSERT_ERRNO(mkdir(P("d"), 0755), EEXIST);
	ASSERT_ERRNO(mkdir(P("missing/d"), 0755), ENOENT);
	put_str("d/f", "in d");
	ASSERT_ERRNO(mkdir(P("d/f/x"), 0755), ENOTDIR);
	ASSERT_OK(mkdir(P("d2"), 0755));
	ASSERT_OK(rename(P("d/f"), P("d2/g")));
	ASSERT_ERRNO(stat(P("d/f"), &st), ENOENT);
	expect_str("d2/g", "in d");
	ASSERT(dir_has("d2", "g", NULL));
	ASSERT(!dir_has("d", "f", NULL));
	ASSERT_ERRNO(rmdir(P("d2")), ENOTEMPTY);
	ASSERT_OK(unlink(P("d2/g")));
	ASSERT_ERRNO(unlink(P("d2/g")), ENOENT);
	ASSERT_OK(rmdir(P("d2")));
	ASSERT_ERRNO(stat(P("d2"), &st), ENOENT);

	/* a directory with content moves as a whole */
	ASSERT_OK(mkdir(P("d/sub"), 0755));
	put_str("d/sub/f", "deep");
	ASSERT_OK(rename(P("d"), P("e")));
	expect_str("e/sub/f", "deep");
	ASSERT_ERRNO(stat(P("d"), &st), ENOENT);
	/* not into itself */
	ASSERT_ERRNO(rename(P("e"), P("e/sub/e")), EINVAL);
	/* rename a file onto itself: nothing happens */
	ASSERT_OK(rename(P("e/sub/f"), P("e/sub/f")));
	expect_str("e/sub/f", "deep");
	/* replacing: file over dir and dir over file are refused */
	put_str("file", "x");
	ASSERT_ERRNO(rename(P("file"), P("e")), EISDIR);
	ASSERT_ERRNO(rename(P("e"), P("file")), ENOTDIR);
	/* an empty directory can replace an empty directory */
	ASSERT_OK(mkdir(P("empty1"), 0755));
	ASSERT_OK(mkdir(P("empty2"), 0755));
	ASSERT_OK(rename(P("empty1"), P("empty2")));
	ASSERT_ERRNO(stat(P("empty1"), &st), ENOENT);
	ASSERT_OK(stat(P("empty2"), &st));
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_rename_replace(void)
{
	struct stat st;

	fs_start(&fs);
	put_str("a", "AAA");
	put_str("b", "BBBBBB");
	ASSERT_OK(rename(P("a"), P("b")));
	expect_str("b", "AAA");
	ASSERT_EQ(size_of("b"), 3);
	ASSERT_ERRNO(stat(P("a"), &st), ENOENT);
	ASSERT(!dir_has("", "a", NULL));

	/* the Proxmox pattern: write a temp file, rename over the real one */
	put_str("storage.cfg", "old\n");
	put_str("storage.cfg.tmp.4242", "new\n");
	ASSERT_OK(rename(P("storage.cfg.tmp.4242"), P("storage.cfg")));
	expect_str("storage.cfg", "new\n");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* Content of generation g in the atomic-rename test: self-describing. */
static size_t gen_content(unsigned g, char *buf, size_t cap)
{
	size_t len = 40 + (g * 997u) % 6000;
	int h = snprintf(buf, cap, "gen %u len %zu\n", g, len);
	ASSERT(len <= cap && (size_t)h < len);
	for (size_t i = (size_t)h; i < len; i++)
		buf[i] = (char)('a' + (g + i) % 26);
	return len;
}

struct rename_reader {
	pthread_t th;
	const char *path;
	atomic_bool *stop;
	unsigned reads;
	char err[256];
};

static void *rename_reader_main(void *arg)
{
	struct rename_reader *r = arg;
	char buf[8192], want[8192];

	while (!atomic_load(r->stop)) {
		int fd = open(r->path, O_RDONLY);
		if (fd < 0) {
			snprintf(r->err, sizeof(r->err), "open failed: %s", strerror(errno));
			return NULL;
		}
		size_t n = 0;
		for (;;) {
			ssize_t k = read(fd, buf + n, sizeof(buf) - n);
			if (k < 0) {
				snprintf(r->err, sizeof(r->err), "read failed: %s",
				         strerror(errno));
				close(fd);
				return NULL;
			}
			if (k == 0 || (n += (size_t)k) == sizeof(buf))
				break;
		}
		close(fd);
		unsigned g;
		size_t len;
		if (n >= sizeof(buf) || sscanf(buf, "gen %u len %zu", &g, &len) != 2 || len != n ||
		    gen_content(g, want, sizeof(want)) != n || memcmp(buf, want, n) != 0) {
			snprintf(r->err, sizeof(r->err),
			         "torn or foreign content: %zu bytes: %.40s", n, buf);
			return NULL;
		}
		r->reads++;
	}
	return NULL;
}

static void t_rename_replace_atomic(void)
{
	enum { NREADERS = 3, ROUNDS = 300 };
	struct rename_reader rd[NREADERS];
	atomic_bool stop = false;
	char buf[8192];
	char target[PATH_MAX], tmp[PATH_MAX];

	fs_start(&fs);
	snprintf(target, sizeof(target), "%s", P("target.cfg"));
	snprintf(tmp, sizeof(tmp), "%s", P("target.cfg.tmp"));
	size_t len = gen_content(0, buf, sizeof(buf));
	put("target.cfg", buf, len);
	for (int i = 0; i < NREADERS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].path = target;
		rd[i].stop = &stop;
		ASSERT_EQ(pthread_create(&rd[i].th, NULL, rename_reader_main, &rd[i]), 0);
	}
	for (unsigned g = 1; g <= ROUNDS; g++) {
		len = gen_content(g, buf, sizeof(buf));
		if (fs_write_file(tmp, buf, len) != 0)
			TEST_FAIL("writing generation %u: %s", g, strerror(errno));
		if (rename(tmp, target) != 0)
			TEST_FAIL("rename of generation %u: %s", g, strerror(errno));
	}
	atomic_store(&stop, true);
	unsigned total = 0;
	for (int i = 0; i < NREADERS; i++) {
		pthread_join(rd[i].th, NULL);
		if (rd[i].err[0])
			TEST_FAIL("reader %d after %u reads: %s", i, rd[i].reads, rd[i].err);
		total += rd[i].reads;
	}
	ASSERT_GT(total, 0);
	len = gen_content(ROUNDS, buf, sizeof(buf));
	expect_content("target.cfg", buf, len);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_rename_noreplace(void)
{
	fs_start(&fs);
	put_str("a", "AAA");
	put_str("b", "BBB");
	ASSERT_ERRNO(renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE), EEXIST);
	expect_str("a", "AAA");
	expect_str("b", "BBB");
	ASSERT_OK(renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("c"), RENAME_NOREPLACE));
	expect_str("c", "AAA");
	ASSERT(!dir_has("", "a", NULL));
	/* RENAME_EXCHANGE is not supported; nothing changes */
	errno = 0;
	int r = renameat2(AT_FDCWD, P("b"), AT_FDCWD, P("c"), RENAME_EXCHANGE);
	ASSERT_EQ(r, -1);
	ASSERT(errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP);
	expect_str("b", "BBB");
	expect_str("c", "AAA");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- refused operations, exact errno ---- */

static void t_refused_ops(void)
{
	struct stat st;
	int fd;

	fs_start(&fs);
	put_str("f", "data");
	ASSERT_OK(mkdir(P("d"), 0755));
	put_str("d/inner", "x");

	ASSERT_ERRNO(link(P("f"), P("hardlink")), EPERM);
	ASSERT_ERRNO(symlink("f", P("symlink")), ENOSYS);
	ASSERT_ERRNO(mkfifo(P("fifo"), 0640), ENOSYS);
	ASSERT_ERRNO(mknod(P("fifo2"), S_IFIFO | 0640, 0), ENOSYS);
	ASSERT_ERRNO(setxattr(P("f"), "user.test", "v", 1, 0), ENOTSUP);
	ASSERT_ERRNO(chmod(P("f"), 0777), EPERM);
	ASSERT_ERRNO(chmod(P("f"), 0644), EPERM);
	ASSERT_OK(chmod(P("f"), 0640));
	ASSERT_ERRNO(chmod(P("d"), 0777), EPERM);
	ASSERT_OK(chmod(P("d"), 0755));
	ASSERT_ERRNO(chown(P("f"), 1000, (gid_t)-1), EPERM);
	ASSERT_ERRNO(chown(P("f"), (uid_t)-1, 0), EPERM);
	ASSERT_OK(chown(P("f"), 0, www_gid()));
	ASSERT_ERRNO(rmdir(P("f")), ENOTDIR);
	ASSERT_ERRNO(unlink(P("d")), EISDIR);
	ASSERT_ERRNO(rmdir(P("d")), ENOTEMPTY);
	ASSERT_ERRNO(rmdir(P("nodes")), ENOTEMPTY);
	ASSERT_ERRNO(open(P(".members"), O_WRONLY), EACCES);
	ASSERT_ERRNO(open(P(".members"), O_RDWR), EACCES);
	ASSERT_ERRNO(open(P(".vmlist"), O_WRONLY | O_TRUNC), EACCES);
	ASSERT_ERRNO(truncate(P(".version"), 0), EACCES);
	ASSERT_ERRNO(chmod(P(".members"), 0640), EPERM);
	ASSERT_ERRNO(unlink(P("lxc")), EACCES);
	ASSERT_ERRNO(unlink(P("local")), EACCES);
	ASSERT_ERRNO(unlink(P(".members")), EACCES);
	ASSERT_ERRNO(rename(P("lxc"), P("lxc2")), EACCES);
	ASSERT_ERRNO(rename(P("f"), P(".vmlist")), EACCES);

	/* nothing of the refused operations is left behind */
	ASSERT_ERRNO(lstat(P("hardlink"), &st), ENOENT);
	ASSERT_ERRNO(lstat(P("symlink"), &st), ENOENT);
	ASSERT_ERRNO(lstat(P("fifo"), &st), ENOENT);
	ASSERT_ERRNO(lstat(P("lxc2"), &st), ENOENT);
	expect_str("f", "data");
	expect_mode("f", S_IFREG, 0640);
	expect_mode("d", S_IFDIR, 0755);
	ASSERT_OK(lstat(P("lxc"), &st));
	ASSERT(S_ISLNK(st.st_mode));
	fd = open(P(".members"), O_RDONLY);
	ASSERT_OK(fd);
	ASSERT_OK(close(fd));
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- guest ids ---- */

static int create_file(const char *rel, int extra_flags)
{
	int fd = open(P(rel), O_CREAT | O_WRONLY | O_TRUNC | extra_flags, 0640);
	if (fd < 0)
		return -1;
	write_all(fd, "arch: amd64\n", 12);
	return close(fd);
}

static void t_guest_ids(void)
{
	char node[64], type[64];

	fs_start(&fs);
	ASSERT_EQ(vmlist_count(), 0);
	ASSERT_OK(create_file("lxc/100.conf", 0));
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, FS_NODENAME);
	ASSERT_STR_EQ(type, "lxc");
	/* the same id as a VM, or on another node: refused */
	ASSERT_ERRNO(create_file("qemu-server/100.conf", O_EXCL), EEXIST);
	ASSERT_ERRNO(create_file("qemu-server/100.conf", 0), EEXIST);
	ASSERT_OK(mkdir(P("nodes/other"), 0755));
	ASSERT_OK(mkdir(P("nodes/other/lxc"), 0755));
	ASSERT_OK(mkdir(P("nodes/other/qemu-server"), 0755));
	ASSERT_ERRNO(create_file("nodes/other/lxc/100.conf", O_EXCL), EEXIST);
	ASSERT_ERRNO(create_file("nodes/other/qemu-server/100.conf", 0), EEXIST);
	/* nor by renaming a temp file into a second place */
	put_str("qemu-server/100.conf.tmp.77", "memory: 512\n");
	ASSERT_ERRNO(rename(P("qemu-server/100.conf.tmp.77"), P("qemu-server/100.conf")), EEXIST);
	expect_str("qemu-server/100.conf.tmp.77", "memory: 512\n");
	ASSERT_EQ(vmlist_count(), 1);
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(type, "lxc");

	/* the Proxmox write pattern registers a new id at the rename */
	put_str("qemu-server/101.conf.tmp.1234", "memory: 512\n");
	ASSERT(!vmlist_entry(101, node, type, sizeof(node)));
	ASSERT_OK(rename(P("qemu-server/101.conf.tmp.1234"), P("qemu-server/101.conf")));
	ASSERT(vmlist_entry(101, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, FS_NODENAME);
	ASSERT_STR_EQ(type, "qemu");
	/* rewriting an existing config in place is fine */
	ASSERT_OK(create_file("lxc/100.conf", 0));
	/* after removal the id is free again, for any type */
	ASSERT_OK(unlink(P("lxc/100.conf")));
	ASSERT(!vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_OK(create_file("nodes/other/qemu-server/100.conf", O_EXCL));
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, "other");
	ASSERT_STR_EQ(type, "qemu");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_guest_migrate(void)
{
	char node[64], type[64];
	struct stat st;

	fs_start(&fs);
	ASSERT_OK(create_file("lxc/100.conf", 0));
	ASSERT_OK(mkdir(P("nodes/other"), 0755));
	ASSERT_OK(mkdir(P("nodes/other/lxc"), 0755));
	ASSERT_OK(rename(P("nodes/" FS_NODENAME "/lxc/100.conf"), P("nodes/other/lxc/100.conf")));
	expect_str("nodes/other/lxc/100.conf", "arch: amd64\n");
	ASSERT_ERRNO(stat(P("lxc/100.conf"), &st), ENOENT);
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, "other");
	ASSERT_STR_EQ(type, "lxc");
	ASSERT_EQ(vmlist_count(), 1);
	/* now registered to the other node: refused here */
	ASSERT_ERRNO(create_file("lxc/100.conf", 0), EEXIST);
	/* and back */
	ASSERT_OK(rename(P("nodes/other/lxc/100.conf"), P("lxc/100.conf")));
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, FS_NODENAME);
	ASSERT_EQ(vmlist_count(), 1);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_guest_names(void)
{
	const char *temps[] = { ".100.conf.swp", "100.conf~", "100.conf.tmp.1234", "sedAbC123",
		                "4913" };
	char rel[128], node[64], type[64];
	struct stat st;

	fs_start(&fs);
	ASSERT_ERRNO(create_file("lxc/99.conf", 0), EINVAL);
	ASSERT_ERRNO(create_file("lxc/0.conf", 0), EINVAL);
	ASSERT_ERRNO(create_file("lxc/foo", 0), EINVAL);
	ASSERT_ERRNO(create_file("qemu-server/foo.conf", 0), EINVAL);
	ASSERT_ERRNO(create_file("lxc/0100.conf", 0), EINVAL);
	ASSERT_ERRNO(mkdir(P("lxc/100"), 0755), EINVAL);
	ASSERT_ERRNO(stat(P("lxc/99.conf"), &st), ENOENT);
	ASSERT_ERRNO(stat(P("lxc/foo"), &st), ENOENT);
	for (size_t i = 0; i < sizeof(temps) / sizeof(temps[0]); i++) {
		snprintf(rel, sizeof(rel), "lxc/%s", temps[i]);
		if (create_file(rel, 0) != 0)
			TEST_FAIL("creating %s: %s", rel, strerror(errno));
		expect_str(rel, "arch: amd64\n");
		snprintf(rel, sizeof(rel), "qemu-server/%s", temps[i]);
		if (create_file(rel, 0) != 0)
			TEST_FAIL("creating %s: %s", rel, strerror(errno));
	}
	ASSERT_EQ(vmlist_count(), 0);
	ASSERT(!vmlist_entry(100, node, type, sizeof(node)));
	/* renaming a temp file to a non-config name is refused too */
	ASSERT_ERRNO(rename(P("lxc/100.conf~"), P("lxc/foo")), EINVAL);
	ASSERT_ERRNO(rename(P("lxc/100.conf~"), P("lxc/99.conf")), EINVAL);
	ASSERT_OK(stat(P("lxc/100.conf~"), &st));
	/* a guest config name outside the guest directories is just a file */
	put_str("99.conf", "x");
	put_str("nodes/" FS_NODENAME "/foo", "x");
	ASSERT_EQ(vmlist_count(), 0);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- limits ---- */

static void t_file_size_limit(void)
{
	char *big = malloc(MIB + 4096);
	int fd;

	ASSERT(big);
	for (size_t i = 0; i < MIB + 4096; i++)
		big[i] = (char)('A' + i % 23);
	fs_start(&fs);

	/* exactly 1 MiB works */
	put("exact", big, MIB);
	ASSERT_EQ(size_of("exact"), MIB);
	expect_content("exact", big, MIB);

	/* one byte more fails with EFBIG: at the write, then at close; the file is unchanged */
	put_str("f", "old content");
	fd = open(P("f"), O_WRONLY | O_TRUNC);
	ASSERT_OK(fd);
	size_t off = 0;
	int err = 0;
	while (off < MIB + 1) {
		ssize_t w = write(fd, big + off, MIB + 1 - off);
		if (w < 0) {
			err = errno;
			break;
		}
		off += (size_t)w;
	}
	if (err != EFBIG)
		TEST_FAIL("writing 1 MiB + 1: %zu bytes accepted, then %s", off,
		          err ? strerror(err) : "no error");
	ASSERT_LE(off, MIB);
	/* the handle stays failed */
	ASSERT_ERRNO(write(fd, "x", 1), EFBIG);
	ASSERT_ERRNO(close(fd), EFBIG);
	expect_str("f", "old content");
	ASSERT_EQ(size_of("f"), 11);

	/* a single write past the limit */
	fd = open(P("f"), O_WRONLY);
	ASSERT_OK(fd);
	ASSERT_ERRNO(pwrite(fd, "x", 1, MIB), EFBIG);
	ASSERT_ERRNO(close(fd), EFBIG);
	expect_str("f", "old content");

	/* appending to a full file */
	fd = open(P("exact"), O_WRONLY | O_APPEND);
	ASSERT_OK(fd);
	ASSERT_ERRNO(write(fd, "x", 1), EFBIG);
	ASSERT_ERRNO(close(fd), EFBIG);
	expect_content("exact", big, MIB);

	/* growing by truncate */
	fd = open(P("f"), O_RDWR);
	ASSERT_OK(fd);
	ASSERT_ERRNO(ftruncate(fd, MIB + 1), EFBIG);
	ASSERT_OK(ftruncate(fd, MIB));
	ASSERT_OK(close(fd));
	ASSERT_EQ(size_of("f"), MIB);
	ASSERT_ERRNO(truncate(P("f"), MIB + 1), EFBIG);
	ASSERT_EQ(size_of("f"), MIB);
	free(big);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_name_too_long(void)
{
	char n255[300], n256[300], rel[320];
	struct stat st;

	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'b', 256);
	n256[256] = '\0';
	fs_start(&fs);
	snprintf(rel, sizeof(rel), "%s", n256);
	ASSERT_ERRNO(open(P(rel), O_CREAT | O_WRONLY, 0640), ENAMETOOLONG);
	ASSERT_ERRNO(mkdir(P(rel), 0755), ENAMETOOLONG);
	put_str("short", "s");
	ASSERT_ERRNO(rename(P("short"), P(rel)), ENAMETOOLONG);
	expect_str("short", "s");
	ASSERT(!dir_has("", n256, NULL));
	/* 255 bytes is fine */
	snprintf(rel, sizeof(rel), "%s", n255);
	put_str(rel, "max");
	expect_str(rel, "max");
	ASSERT(dir_has("", n255, NULL));
	ASSERT_OK(unlink(P(rel)));
	ASSERT_OK(mkdir(P(rel), 0755));
	ASSERT_OK(stat(P(rel), &st));
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_enospc(void)
{
	char rel[64];
	struct statvfs sv;
	int i, err = 0, fd;

	fs_start(&fs);
	/* 1 MiB files by truncate(path): no data crosses the FUSE channel */
	for (i = 0; i < 200; i++) {
		snprintf(rel, sizeof(rel), "fill%03d", i);
		fd = open(P(rel), O_CREAT | O_WRONLY, 0640);
		if (fd < 0)
			TEST_FAIL("creating %s: %s", rel, strerror(errno));
		ASSERT_OK(close(fd));
		if (truncate(P(rel), MIB) != 0) {
			err = errno;
			break;
		}
	}
	if (err != ENOSPC)
		TEST_FAIL("filling: %d files of 1 MiB, then %s", i,
		          err ? strerror(err) : "no error");
	ASSERT_GE(i, 120);
	ASSERT_LE(i, 128);
	ASSERT_EQ(size_of(rel), 0); /* the failed one stays empty */
	ASSERT_OK(statvfs(fs.mnt, &sv));
	ASSERT_LT((unsigned long long)sv.f_bavail * sv.f_frsize, MIB);

	/* an ordinary write that does not fit fails at close and leaves nothing */
	char buf[MIB / 2];
	memset(buf, 'z', sizeof(buf));
	put_str("small", "");
	fd = open(P("small"), O_WRONLY);
	ASSERT_OK(fd);
	write_all(fd, buf, sizeof(buf));
	ASSERT_ERRNO(close(fd), ENOSPC);
	ASSERT_EQ(size_of("small"), 0);

	/* freeing space makes room again */
	ASSERT_OK(unlink(P("fill000")));
	ASSERT_OK(unlink(P("fill001")));
	put("small", buf, sizeof(buf));
	expect_content("small", buf, sizeof(buf));
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_statfs(void)
{
	struct statvfs a, b, c;
	char *buf = malloc(MIB);

	ASSERT(buf);
	memset(buf, 's', MIB);
	fs_start(&fs);
	ASSERT_OK(statvfs(fs.mnt, &a));
	ASSERT_GT(a.f_frsize, 0);
	ASSERT_EQ((unsigned long long)a.f_blocks * a.f_frsize, 128ull * MIB);
	ASSERT_LE(a.f_bfree, a.f_blocks);
	ASSERT_LE(a.f_bavail, a.f_bfree);
	ASSERT_GT(a.f_bavail, a.f_blocks - 16); /* almost empty */
	ASSERT_GT(a.f_files, 0);
	ASSERT_LE(a.f_ffree, a.f_files);
	ASSERT_GT(a.f_ffree, 0);
	ASSERT_EQ(a.f_namemax, 255);

	put("one-mib", buf, MIB);
	ASSERT_OK(statvfs(fs.mnt, &b));
	ASSERT_EQ((unsigned long long)(a.f_bfree - b.f_bfree) * b.f_frsize, MIB);
	ASSERT_EQ(a.f_ffree - b.f_ffree, 1);
	ASSERT_OK(unlink(P("one-mib")));
	ASSERT_OK(statvfs(fs.mnt, &c));
	ASSERT_EQ(c.f_bfree, a.f_bfree);
	ASSERT_EQ(c.f_ffree, a.f_ffree);
	free(buf);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- virtual files ---- */

static void expect_virtual_file(const char *rel, const char *const *keys)
{
	struct stat st;
	char *s = slurp(rel);

	expect_json_object(rel, s);
	for (size_t i = 0; keys[i]; i++)
		if (!strstr(s, keys[i]))
			TEST_FAIL("%s lacks %s:\n%s", rel, keys[i], s);
	/* the size reported by stat is that of the content (tools trust it) */
	ASSERT_OK(stat(P(rel), &st));
	ASSERT_EQ(st.st_size, (off_t)strlen(s));
	free(s);
}

static void t_virtual_files(void)
{
	const char *version_keys[] = { "\"starttime\":",     "\"vmlist\":",      "\"clinfo\":",
		                       "\"corosync.conf\":", "\"storage.cfg\":", NULL };
	const char *members_keys[] = { "\"nodename\": \"" FS_NODENAME "\"",
		                       "\"version\":",
		                       "\"cluster\":",
		                       "\"nodelist\":",
		                       "\"quorate\": 1",
		                       "\"" FS_NODENAME "\":",
		                       "\"online\": 1",
		                       NULL };
	const char *vmlist_keys[] = { "\"version\":", "\"ids\":", NULL };
	const char *clog_keys[] = { "\"data\":", NULL };
	const char *vmlist_100[] = { "\"100\":", "\"node\": \"" FS_NODENAME "\"",
		                     "\"type\": \"lxc\"", NULL };

	fs_start(&fs);
	expect_virtual_file(".version", version_keys);
	expect_virtual_file(".members", members_keys);
	expect_virtual_file(".vmlist", vmlist_keys);
	expect_virtual_file(".clusterlog", clog_keys);

	char *v1 = slurp(".version");
	long long start = json_num(v1, "starttime"), vm1 = json_num(v1, "vmlist");
	ASSERT_GT(start, 0);
	ASSERT_LE(start, (long long)time(NULL));
	ASSERT_EQ(json_num(v1, "storage.cfg"), 0);
	ASSERT_OK(create_file("lxc/100.conf", 0));
	put_str("storage.cfg", "dir: local\n");
	expect_virtual_file(".vmlist", vmlist_100);
	char *v2 = slurp(".version");
	ASSERT_GT(json_num(v2, "vmlist"), vm1);
	ASSERT_GT(json_num(v2, "storage.cfg"), 0);
	ASSERT_EQ(json_num(v2, "starttime"), start);
	/* the version counters move with every change */
	put_str("storage.cfg", "dir: local\n\tpath /var/lib/vz\n");
	char *v3 = slurp(".version");
	ASSERT_GT(json_num(v3, "storage.cfg"), json_num(v2, "storage.cfg"));
	free(v1);
	free(v2);
	free(v3);

	/* one open handle reads one consistent rendering */
	int fd = open(P(".vmlist"), O_RDONLY);
	ASSERT_OK(fd);
	char first[4096], second[4096];
	ssize_t n1 = pread(fd, first, sizeof(first), 0);
	ASSERT_GT(n1, 0);
	ASSERT_OK(create_file("lxc/101.conf", 0));
	ssize_t n2 = pread(fd, second, sizeof(second), 0);
	ASSERT_EQ(n1, n2);
	ASSERT(memcmp(first, second, (size_t)n1) == 0);
	ASSERT_OK(close(fd));
	char *vl = slurp(".vmlist");
	ASSERT(strstr(vl, "\"101\":"));
	free(vl);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- locks ---- */

static void t_locks(void)
{
	struct stat st;
	time_t now;

	fs_start(&fs);
	ASSERT_OK(mkdir(P("priv/lock/foo"), 0755));
	ASSERT_ERRNO(mkdir(P("priv/lock/foo"), 0755), EEXIST);
	/* a waiter's expiry request on a fresh lock: EBUSY, the lock stays */
	ASSERT_ERRNO(utimes(P("priv/lock/foo"), (struct timeval[2]){ { 0, 0 }, { 0, 0 } }), EBUSY);
	ASSERT_OK(stat(P("priv/lock/foo"), &st));
	ASSERT(S_ISDIR(st.st_mode));
	ASSERT_ERRNO(mkdir(P("priv/lock/foo"), 0755), EEXIST);
	/* the holder renews: utime(path, 0, now) */
	now = time(NULL);
	set_mtime("priv/lock/foo", 0, now);
	ASSERT_OK(stat(P("priv/lock/foo"), &st));
	ASSERT_EQ(st.st_mtime, now);
	/* release and take again */
	ASSERT_OK(rmdir(P("priv/lock/foo")));
	ASSERT_ERRNO(stat(P("priv/lock/foo"), &st), ENOENT);
	ASSERT_OK(mkdir(P("priv/lock/foo"), 0755));
	/* locks are independent */
	ASSERT_OK(mkdir(P("priv/lock/bar"), 0755));
	ASSERT_OK(rmdir(P("priv/lock/bar")));
	/* a lock holding a file is never released by the expiry request */
	ASSERT_OK(mkdir(P("priv/lock/withfile"), 0755));
	put_str("priv/lock/withfile/owner", "me");
	set_mtime("priv/lock/withfile", 0, time(NULL) - 200);
	ASSERT_ERRNO(utimes(P("priv/lock/withfile"), (struct timeval[2]){ { 0, 0 }, { 0, 0 } }),
	             EBUSY);
	expect_str("priv/lock/withfile/owner", "me");
	/* utime(0, 0) on a directory that is not a lock just sets the time */
	ASSERT_OK(mkdir(P("notalock"), 0755));
	set_mtime("notalock", 0, 0);
	ASSERT_OK(stat(P("notalock"), &st));
	ASSERT_EQ(st.st_mtime, 0);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_lock_takeover(void)
{
	struct stat st;
	time_t now = time(NULL);

	fs_start(&fs);
	ASSERT_OK(mkdir(P("priv/lock/old"), 0755));
	set_mtime("priv/lock/old", now - 200, now - 200);
	ASSERT_OK(stat(P("priv/lock/old"), &st));
	ASSERT_EQ(st.st_mtime, now - 200);
	/*
	 * Older than 120 s: the waiter's protocol (as the reference's clients
	 * do it): mkdir fails, utime(lock, 0, 0) asks for expiry, mkdir again
	 * takes the lock, fresh.
	 */
	ASSERT_ERRNO(mkdir(P("priv/lock/old"), 0755), EEXIST);
	ASSERT_OK(utimes(P("priv/lock/old"), (struct timeval[2]){ { 0, 0 }, { 0, 0 } }));
	ASSERT_OK(mkdir(P("priv/lock/old"), 0755));
	ASSERT_OK(stat(P("priv/lock/old"), &st));
	ASSERT_GE(st.st_mtime, now - 5);
	ASSERT_ERRNO(mkdir(P("priv/lock/old"), 0755), EEXIST);
	/* 100 s old is not expired: the expiry request is refused, the lock stays */
	ASSERT_OK(mkdir(P("priv/lock/young"), 0755));
	set_mtime("priv/lock/young", now - 100, now - 100);
	ASSERT_ERRNO(utimes(P("priv/lock/young"), (struct timeval[2]){ { 0, 0 }, { 0, 0 } }),
	             EBUSY);
	ASSERT_ERRNO(mkdir(P("priv/lock/young"), 0755), EEXIST);
	ASSERT_OK(stat(P("priv/lock/young"), &st));
	ASSERT_EQ(st.st_mtime, now - 100);
	/* the holder releases it */
	ASSERT_OK(rmdir(P("priv/lock/young")));
	ASSERT_OK(mkdir(P("priv/lock/young"), 0755));
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_lock_expiry_request(void)
{
	struct stat st;
	time_t now = time(NULL);

	fs_start(&fs);
	ASSERT_OK(mkdir(P("priv/lock/stale"), 0755));
	set_mtime("priv/lock/stale", now - 200, now - 200);
	/* the waiter's request removes the expired lock */
	ASSERT_OK(utimes(P("priv/lock/stale"), (struct timeval[2]){ { 0, 0 }, { 0, 0 } }));
	ASSERT_ERRNO(stat(P("priv/lock/stale"), &st), ENOENT);
	ASSERT(!dir_has("priv/lock", "stale", NULL));
	ASSERT_OK(mkdir(P("priv/lock/stale"), 0755));
	ASSERT_OK(stat(P("priv/lock/stale"), &st));
	ASSERT_GE(st.st_mtime, now - 5);
	ASSERT_ERRNO(mkdir(P("priv/lock/stale"), 0755), EEXIST);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- concurrency ---- */

/*
 * One writer rewrites a file with versions of changing length while readers
 * read it whole: every read is exactly one version, never followed by zero
 * bytes (a size that grows under a page-cached reader would show it the
 * zero-filled tail of its last page; kstate keeps readers off the page
 * cache while a writer is open).
 */
#define GR_READERS 3
#define GR_ROUNDS 400

struct gr_arg {
	pthread_t th;
	const char *path;
	atomic_bool *stop;
	unsigned reads;
	char err[256];
};

static size_t gr_len(unsigned char v)
{
	return 1000 + (size_t)(v % 7) * 1500;
}

static void *gr_reader(void *p)
{
	struct gr_arg *a = p;
	static __thread char buf[16384];

	while (!atomic_load(a->stop)) {
		int fd = open(a->path, O_RDONLY);
		if (fd < 0) {
			snprintf(a->err, sizeof(a->err), "open: %s", strerror(errno));
			return NULL;
		}
		size_t n = 0;
		ssize_t k;
		while ((k = read(fd, buf + n, sizeof(buf) - n)) > 0)
			n += (size_t)k;
		close(fd);
		if (k < 0) {
			snprintf(a->err, sizeof(a->err), "read: %s", strerror(errno));
			return NULL;
		}
		unsigned char v = (unsigned char)buf[0];
		size_t same = 0;
		while (same < n && (unsigned char)buf[same] == v)
			same++;
		if (n == 0 || v == 0 || same != n || n != gr_len(v)) {
			snprintf(a->err, sizeof(a->err),
			         "read %zu bytes: %zu of 0x%02x then 0x%02x (expected %zu)", n,
			         same, v, same < n ? (unsigned char)buf[same] : 0,
			         v ? gr_len(v) : 0);
			return NULL;
		}
		a->reads++;
	}
	return NULL;
}

static void t_growing_rewrites(void)
{
	struct gr_arg r[GR_READERS];
	atomic_bool stop = false;
	char path[PATH_MAX], buf[16384];

	fs_start(&fs);
	snprintf(path, sizeof(path), "%s", P("grow.cfg"));
	memset(buf, 1, gr_len(1));
	put("grow.cfg", buf, gr_len(1));
	for (int i = 0; i < GR_READERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].path = path;
		r[i].stop = &stop;
		ASSERT_EQ(pthread_create(&r[i].th, NULL, gr_reader, &r[i]), 0);
	}
	for (unsigned k = 2; k < 2 + GR_ROUNDS; k++) {
		unsigned char v = (unsigned char)(k % 250 + 1);
		memset(buf, v, gr_len(v));
		put("grow.cfg", buf, gr_len(v));
	}
	atomic_store(&stop, true);
	unsigned reads = 0;
	for (int i = 0; i < GR_READERS; i++) {
		pthread_join(r[i].th, NULL);
		if (r[i].err[0])
			TEST_FAIL("reader %d after %u good reads: %s", i, r[i].reads, r[i].err);
		reads += r[i].reads;
	}
	ASSERT_GT(reads, 0);
	fprintf(stderr, "growing_rewrites: %u whole-file reads checked\n", reads);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

#define CW_WRITERS 8
#define CW_READERS 4
#define CW_ROUNDS 200
#define CW_SIZE 4096

struct cw_arg {
	pthread_t th;
	char letter;
	const char *path;
	atomic_int *writers_left;
	unsigned reads;
	char err[256];
};

static void *cw_writer(void *p)
{
	struct cw_arg *a = p;
	char buf[CW_SIZE];

	memset(buf, a->letter, sizeof(buf));
	for (int i = 0; i < CW_ROUNDS; i++) {
		int fd = open(a->path, O_WRONLY | O_TRUNC);
		if (fd < 0) {
			snprintf(a->err, sizeof(a->err), "open: %s", strerror(errno));
			break;
		}
		ssize_t w = write(fd, buf, sizeof(buf));
		if (w != (ssize_t)sizeof(buf)) {
			snprintf(a->err, sizeof(a->err), "write: %zd (%s)", w, strerror(errno));
			close(fd);
			break;
		}
		if (close(fd) != 0) {
			snprintf(a->err, sizeof(a->err), "close: %s", strerror(errno));
			break;
		}
	}
	atomic_fetch_sub(a->writers_left, 1);
	return NULL;
}

/* One whole-file content must be CW_SIZE bytes of one writer's letter. */
static bool cw_valid(const char *buf, size_t n)
{
	if (n != CW_SIZE || buf[0] < 'A' || buf[0] >= 'A' + CW_WRITERS)
		return false;
	for (size_t i = 1; i < n; i++)
		if (buf[i] != buf[0])
			return false;
	return true;
}

static void *cw_reader(void *p)
{
	struct cw_arg *a = p;
	char buf[2 * CW_SIZE];

	while (atomic_load(a->writers_left) > 0) {
		int fd = open(a->path, O_RDONLY);
		if (fd < 0) {
			snprintf(a->err, sizeof(a->err), "open: %s", strerror(errno));
			return NULL;
		}
		size_t n = 0;
		for (;;) {
			ssize_t r = read(fd, buf + n, sizeof(buf) - n);
			if (r < 0) {
				snprintf(a->err, sizeof(a->err), "read: %s", strerror(errno));
				close(fd);
				return NULL;
			}
			if (r == 0 || (n += (size_t)r) == sizeof(buf))
				break;
		}
		close(fd);
		if (!cw_valid(buf, n)) {
			size_t k = 1;
			while (k < n && buf[k] == buf[0])
				k++;
			snprintf(a->err, sizeof(a->err),
			         "read %zu bytes: '%c' x %zu then '%c' (a mix or a partial file)",
			         n, n ? buf[0] : '-', k, k < n ? buf[k] : '-');
			return NULL;
		}
		a->reads++;
	}
	return NULL;
}

static void t_concurrent_writers(void)
{
	struct cw_arg w[CW_WRITERS], r[CW_READERS];
	atomic_int left = CW_WRITERS;
	char path[PATH_MAX], init[CW_SIZE];
	unsigned reads = 0;

	fs_start(&fs);
	snprintf(path, sizeof(path), "%s", P("shared.cfg"));
	memset(init, 'A', sizeof(init));
	put("shared.cfg", init, sizeof(init));
	for (int i = 0; i < CW_READERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].path = path;
		r[i].writers_left = &left;
		ASSERT_EQ(pthread_create(&r[i].th, NULL, cw_reader, &r[i]), 0);
	}
	for (int i = 0; i < CW_WRITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].letter = (char)('A' + i);
		w[i].path = path;
		w[i].writers_left = &left;
		ASSERT_EQ(pthread_create(&w[i].th, NULL, cw_writer, &w[i]), 0);
	}
	for (int i = 0; i < CW_WRITERS; i++)
		pthread_join(w[i].th, NULL);
	for (int i = 0; i < CW_READERS; i++)
		pthread_join(r[i].th, NULL);
	for (int i = 0; i < CW_WRITERS; i++)
		if (w[i].err[0])
			TEST_FAIL("writer %c: %s", w[i].letter, w[i].err);
	for (int i = 0; i < CW_READERS; i++) {
		if (r[i].err[0])
			TEST_FAIL("reader %d after %u good reads: %s", i, r[i].reads, r[i].err);
		reads += r[i].reads;
	}
	ASSERT_GT(reads, 0);
	fprintf(stderr, "concurrent_writers: %u whole-file reads checked\n", reads);
	char *final;
	ssize_t n = fs_read_file(path, &final);
	ASSERT_EQ(n, CW_SIZE);
	ASSERT(cw_valid(final, (size_t)n));
	free(final);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/* ---- persistence and crashes ---- */

static void t_persistence(void)
{
	char *bin = malloc(MIB);
	char node[64], type[64];
	struct stat st;
	unsigned seed = 12345;

	ASSERT(bin);
	for (size_t i = 0; i < MIB; i++) {
		seed = seed * 1103515245u + 12345u;
		bin[i] = (char)(seed >> 16);
	}
	fs_start(&fs);
	put_str("datacenter.cfg", "keyboard: de\n");
	ASSERT_OK(create_file("lxc/100.conf", 0));
	put_str("priv/authkey.key", "secret\n");
	put("big.bin", bin, MIB);
	put_str("empty", "");
	ASSERT_OK(mkdir(P("firewall"), 0755));
	put_str("firewall/cluster.fw", "[OPTIONS]\nenable: 1\n");
	ASSERT_OK(mkdir(P("emptydir"), 0755));
	ASSERT_OK(mkdir(P("priv/lock/held"), 0755));
	put_str("gone", "removed before the restart");
	ASSERT_OK(unlink(P("gone")));
	put_str("renamed.tmp", "renamed");
	ASSERT_OK(rename(P("renamed.tmp"), P("renamed")));
	set_mtime("datacenter.cfg", 1600000000, 1600000000);
	char *ver1 = slurp(".version");
	long long vm1 = json_num(ver1, "vmlist");
	free(ver1);

	fs_restart(&fs);
	expect_str("datacenter.cfg", "keyboard: de\n");
	expect_str("lxc/100.conf", "arch: amd64\n");
	expect_str("priv/authkey.key", "secret\n");
	expect_mode("priv/authkey.key", S_IFREG, 0600);
	expect_content("big.bin", bin, MIB);
	expect_str("empty", "");
	expect_str("firewall/cluster.fw", "[OPTIONS]\nenable: 1\n");
	expect_mode("emptydir", S_IFDIR, 0755);
	expect_mode("priv/lock/held", S_IFDIR, 0700);
	ASSERT_ERRNO(mkdir(P("priv/lock/held"), 0755), EEXIST);
	ASSERT_ERRNO(stat(P("gone"), &st), ENOENT);
	ASSERT_ERRNO(stat(P("renamed.tmp"), &st), ENOENT);
	expect_str("renamed", "renamed");
	ASSERT_OK(stat(P("datacenter.cfg"), &st));
	ASSERT_EQ(st.st_mtime, 1600000000);
	ASSERT(vmlist_entry(100, node, type, sizeof(node)));
	ASSERT_STR_EQ(node, FS_NODENAME);
	char *ver2 = slurp(".version");
	ASSERT_GE(json_num(ver2, "vmlist"), vm1);
	free(ver2);
	/* the id rule holds across the restart */
	ASSERT_ERRNO(create_file("qemu-server/100.conf", O_EXCL), EEXIST);

	/* change again and restart once more */
	put_str("datacenter.cfg", "keyboard: fr\n");
	ASSERT_OK(unlink(P("big.bin")));
	fs_restart(&fs);
	expect_str("datacenter.cfg", "keyboard: fr\n");
	ASSERT_ERRNO(stat(P("big.bin"), &st), ENOENT);
	expect_str("renamed", "renamed");
	free(bin);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

#define STORM_FILES 16

static size_t storm_content(int file, int round, char *buf, size_t cap)
{
	size_t len = 64 + ((unsigned)file * 7919u + (unsigned)round * 104729u) % 8000;
	int h = snprintf(buf, cap, "file %d round %d\n", file, round);
	ASSERT(len <= cap && (size_t)h < len);
	for (size_t i = (size_t)h; i < len; i++)
		buf[i] = (char)('a' + ((unsigned)file + (unsigned)round + i) % 26);
	return len;
}

/* The storm child: rewrite the files round after round, log every acknowledged close. */
static void storm_child(const char *logpath)
{
	char buf[9000], rec[64], rel[32];
	int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (log < 0)
		_exit(3);
	for (int round = 1;; round++) {
		for (int i = 0; i < STORM_FILES; i++) {
			size_t len = storm_content(i, round, buf, sizeof(buf));
			snprintf(rel, sizeof(rel), "storm/f%02d", i);
			if (fs_write_file(P(rel), buf, len) != 0)
				_exit(0); /* the daemon is gone */
			int n = snprintf(rec, sizeof(rec), "%d %d\n", i, round);
			if (write(log, rec, (size_t)n) != n || fsync(log) != 0)
				_exit(4);
		}
	}
}

static size_t count_lines(const char *path)
{
	char *data;
	ssize_t n = fs_read_file(path, &data);
	size_t lines = 0;
	for (ssize_t i = 0; i < n; i++)
		lines += data[i] == '\n';
	free(data);
	return lines;
}

static void t_kill9_storm(void)
{
	char logpath[PATH_MAX + 16], buf[9000], rel[32];
	int last[STORM_FILES];
	int status;

	fs_start(&fs);
	ASSERT_OK(mkdir(P("storm"), 0755));
	snprintf(logpath, sizeof(logpath), "%s/acked.log", fs.dir);
	fflush(NULL);
	pid_t child = fork();
	ASSERT_OK(child);
	if (child == 0)
		storm_child(logpath);
	fs_track(child);

	/* let it acknowledge a good number of writes, then kill the daemon mid-storm */
	long long deadline = fs_now_ms() + 60000;
	while (count_lines(logpath) < 400) {
		if (fs_wait_pid(child, 0, &status) == 0)
			TEST_FAIL("storm child ended early (status 0x%x)", status);
		if (fs_now_ms() > deadline)
			TEST_FAIL("storm: only %zu writes acknowledged in 60 s",
			          count_lines(logpath));
		fs_poll_pause();
	}
	fs_kill9(&fs);
	if (fs_wait_pid(child, 10000, &status) != 0)
		TEST_FAIL("storm child did not stop after the daemon died");
	fs_untrack(child);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* the last acknowledged round of every file */
	for (int i = 0; i < STORM_FILES; i++)
		last[i] = 0;
	FILE *f = fopen(logpath, "re");
	ASSERT(f);
	int fi, ro;
	size_t acked = 0;
	while (fscanf(f, "%d %d", &fi, &ro) == 2) {
		ASSERT(fi >= 0 && fi < STORM_FILES);
		ASSERT_GT(ro, last[fi]);
		last[fi] = ro;
		acked++;
	}
	fclose(f);

	fs_start_again(&fs);
	for (int i = 0; i < STORM_FILES; i++) {
		char *got;
		snprintf(rel, sizeof(rel), "storm/f%02d", i);
		ssize_t n = fs_read_file(P(rel), &got);
		if (n < 0) {
			if (errno == ENOENT && last[i] == 0)
				continue; /* never acknowledged */
			TEST_FAIL("%s (acknowledged round %d): %s", rel, last[i], strerror(errno));
		}
		size_t len = storm_content(i, last[i], buf, sizeof(buf));
		bool ok = last[i] > 0 && (size_t)n == len && memcmp(got, buf, len) == 0;
		if (!ok) {
			/* the one in flight when the daemon died may have landed */
			len = storm_content(i, last[i] + 1, buf, sizeof(buf));
			ok = (size_t)n == len && memcmp(got, buf, len) == 0;
		}
		if (!ok && last[i] == 0 && n == 0)
			ok = true; /* created, content not yet committed */
		if (!ok)
			TEST_FAIL("%s: acknowledged round %d lost: %zd bytes, starts '%.30s'", rel,
			          last[i], n, got);
		free(got);
	}
	fprintf(stderr, "kill9_storm: %zu acknowledged writes checked\n", acked);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

/*
 * SIGTERM while files are open (a reader, a virtual file, a writer with
 * uncommitted data): a clean exit that frees every handle (the ASan build's
 * leak check sees a forgotten one), the committed state intact afterwards.
 */
static void t_stop_with_open_handles(void)
{
	char c;
	int r, v, w;

	fs_start(&fs);
	put_str("f", "committed");
	r = open(P("f"), O_RDONLY);
	ASSERT_OK(r);
	ASSERT_EQ(read(r, &c, 1), 1);
	v = open(P(".vmlist"), O_RDONLY);
	ASSERT_OK(v);
	ASSERT_EQ(read(v, &c, 1), 1);
	w = open(P("g"), O_CREAT | O_WRONLY, 0640);
	ASSERT_OK(w);
	write_all(w, "uncommitted", 11);
	DIR *dir = opendir(P("nodes"));
	ASSERT(dir != NULL);
	ASSERT(readdir(dir) != NULL);
	/* pmxcfs exits 0: every handle freed (the sanitizer build checks leaks) */
	fs_stop(&fs);
	/* the connection is gone: whatever these return, they must not hang */
	close(r);
	close(v);
	close(w);
	closedir(dir);

	fs_start_again(&fs);
	expect_str("f", "committed");
	char *g = slurp("g");
	if (strcmp(g, "") != 0 && strcmp(g, "uncommitted") != 0)
		TEST_FAIL("g holds neither nothing nor the whole write: '%s'", g);
	free(g);
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_two_instances(void)
{
	char mnt2[PATH_MAX + 8], log2[PATH_MAX + 16];
	int status;

	fs_start(&fs);
	put_str("first", "1");
	snprintf(mnt2, sizeof(mnt2), "%s/mnt2", fs.dir);
	snprintf(log2, sizeof(log2), "%s/second.log", fs.dir);
	ASSERT_OK(mkdir(mnt2, 0755));
	fs_track_mount(mnt2);
	const char *args[] = {
		"--mountpoint", mnt2, "--db", fs.db, "--nodename", FS_NODENAME, NULL
	};
	pid_t second = fs_spawn(log2, args);
	if (fs_wait_pid(second, 10000, &status) != 0) {
		kill(second, SIGKILL);
		waitpid(second, NULL, 0);
		fs_untrack(second);
		TEST_FAIL("a second pmxcfs on the same database kept running");
	}
	fs_untrack(second);
	fs_dump_log(log2);
	ASSERT(WIFEXITED(status));
	ASSERT_NE(WEXITSTATUS(status), 0);
	char *out;
	ASSERT_GE(fs_read_file(log2, &out), 0);
	if (!strstr(out, "in use"))
		TEST_FAIL("the second instance's message does not say 'in use': %s", out);
	free(out);
	ASSERT(!fs_is_mounted(mnt2));
	/* the first one is unharmed */
	expect_str("first", "1");
	put_str("second", "2");
	expect_str("second", "2");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void t_two_instances_same_mount(void)
{
	char db2[PATH_MAX + 16], log2[PATH_MAX + 16];
	int status;

	fs_start(&fs);
	put_str("first", "1");
	snprintf(db2, sizeof(db2), "%s/db2/config.db", fs.dir);
	snprintf(log2, sizeof(log2), "%s/second.log", fs.dir);
	const char *args[] = {
		"--mountpoint", fs.mnt, "--db", db2, "--nodename", FS_NODENAME, NULL
	};
	pid_t second = fs_spawn(log2, args);
	if (fs_wait_pid(second, 10000, &status) != 0) {
		kill(second, SIGKILL);
		waitpid(second, NULL, 0);
		fs_untrack(second);
		TEST_FAIL("a second pmxcfs on the same mount point kept running");
	}
	fs_untrack(second);
	fs_dump_log(log2);
	ASSERT(WIFEXITED(status));
	ASSERT_NE(WEXITSTATUS(status), 0);
	/* the first mount still answers (not stacked over, not detached) */
	expect_str("first", "1");
	put_str("second", "2");
	expect_str("second", "2");
	fs_stop(&fs);
	fs_cleanup(&fs);
}

static void corrupt_and_check(void (*damage)(char *data, size_t len), const char *what)
{
	char wal[PATH_MAX + 8];
	char *before, *after;
	struct stat st;
	int status;

	fs_start(&fs);
	for (int i = 0; i < 40; i++) {
		char rel[32], content[3000];
		snprintf(rel, sizeof(rel), "file%02d", i);
		memset(content, 'a' + i % 26, sizeof(content));
		put(rel, content, sizeof(content));
	}
	fs_stop(&fs);
	/* a clean stop leaves everything in the main file */
	snprintf(wal, sizeof(wal), "%s-wal", fs.db);
	if (stat(wal, &st) == 0 && st.st_size > 0)
		fprintf(stderr, "note: %s is %lld bytes after a clean stop\n", wal,
		        (long long)st.st_size);
	ssize_t n = fs_read_file(fs.db, &before);
	ASSERT_GT(n, 8192);
	damage(before, (size_t)n);
	int fd = open(fs.db, O_WRONLY | O_TRUNC);
	ASSERT_OK(fd);
	write_all(fd, before, (size_t)n);
	ASSERT_OK(fsync(fd));
	ASSERT_OK(close(fd));

	const char *args[] = { "--mountpoint", fs.mnt,      "--db", fs.db,
		               "--nodename",   FS_NODENAME, NULL };
	pid_t pid = fs_spawn(fs.log, args);
	if (fs_wait_pid(pid, 10000, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fs_untrack(pid);
		fs_dump_log(fs.log);
		TEST_FAIL("pmxcfs kept running on a %s database", what);
	}
	fs_untrack(pid);
	fs_dump_log(fs.log);
	ASSERT(WIFEXITED(status));
	ASSERT_NE(WEXITSTATUS(status), 0);
	ASSERT(!fs_is_mounted(fs.mnt));
	char *out;
	ASSERT_GE(fs_read_file(fs.log, &out), 0);
	if (!strstr(out, fs.db) ||
	    (!strstr(out, "corrupt") && !strstr(out, "malformed") && !strstr(out, "not a") &&
	     !strstr(out, "refusing")))
		TEST_FAIL("no clear message naming %s for a %s database:\n%s", fs.db, what, out);
	free(out);
	/* the file was not replaced or repaired */
	ssize_t m = fs_read_file(fs.db, &after);
	ASSERT_EQ(m, n);
	ASSERT(memcmp(before, after, (size_t)n) == 0);
	free(before);
	free(after);
	fs_cleanup(&fs);
}

static void damage_all(char *data, size_t len)
{
	unsigned seed = 4711;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (char)(seed >> 16);
	}
}

static void damage_pages(char *data, size_t len)
{
	/* keep the header page, scribble over the b-tree pages after it */
	unsigned seed = 99;
	for (size_t i = 4096; i < len && i < 4096 * 6; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (char)(seed >> 16);
	}
}

static void t_corrupt_db(void)
{
	corrupt_and_check(damage_all, "garbage");
}

static void t_corrupt_db_pages(void)
{
	corrupt_and_check(damage_pages, "damaged");
}

static const struct test_case cases[] = {
	{ "layout", t_layout },
	{ "links", t_links },
	{ "roundtrip", t_roundtrip },
	{ "excl", t_excl },
	{ "offsets", t_offsets },
	{ "append", t_append },
	{ "truncate", t_truncate },
	{ "writer_fstat", t_writer_fstat },
	{ "visible_after_close", t_visible_after_close },
	{ "stat_after_close", t_stat_after_close },
	{ "fsync_visible", t_fsync_visible },
	{ "reader_snapshot_same_size", t_reader_snapshot_same_size },
	{ "reader_snapshot_grown", t_reader_snapshot_grown },
	{ "reader_snapshot_shrunk", t_reader_snapshot_shrunk },
	{ "dirops", t_dirops },
	{ "rename_replace", t_rename_replace },
	{ "rename_replace_atomic", t_rename_replace_atomic },
	{ "rename_noreplace", t_rename_noreplace },
	{ "refused_ops", t_refused_ops },
	{ "guest_ids", t_guest_ids },
	{ "guest_migrate", t_guest_migrate },
	{ "guest_names", t_guest_names },
	{ "file_size_limit", t_file_size_limit },
	{ "name_too_long", t_name_too_long },
	{ "enospc", t_enospc },
	{ "statfs", t_statfs },
	{ "virtual_files", t_virtual_files },
	{ "locks", t_locks },
	{ "lock_takeover", t_lock_takeover },
	{ "lock_expiry_request", t_lock_expiry_request },
	{ "concurrent_writers", t_concurrent_writers },
	{ "growing_rewrites", t_growing_rewrites },
	{ "persistence", t_persistence },
	{ "kill9_storm", t_kill9_storm },
	{ "stop_with_open_handles", t_stop_with_open_handles },
	{ "two_instances", t_two_instances },
	{ "two_instances_same_mount", t_two_instances_same_mount },
	{ "corrupt_db", t_corrupt_db },
	{ "corrupt_db_pages", t_corrupt_db_pages },
};

TEST_MAIN(cases)
