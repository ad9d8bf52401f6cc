/*
 * test_template.c - building the busybox template and unpacking templates
 * (ctmgr/template.c) for real: owners, modes, links, the unprivileged id
 * shift, device nodes, and archives that try to write outside the root.
 * Needs root (ownership, mknod); label fs.  One process per case.
 */
#include "ctmgr/template.h"
#include "tests/test.h"
#include "tests/unit/tmpdir.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char tpl[4096], root[4096];

static void build(void)
{
	char err[1024];
	tmpdir_path(tpl, sizeof(tpl), "busybox.tar.zst");
	tmpdir_path(root, sizeof(root), "rootfs");
	ASSERT_EQ(mkdir(root, 0755), 0);
	if (tpl_build_busybox(tpl, NULL, err, sizeof(err)))
		TEST_FAIL("build: %s", err);
}

static void stat_of(const char *rel, struct stat *st)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (lstat(p, st) != 0)
		TEST_FAIL("%s: %s", p, strerror(errno));
}

static void t_privileged(void)
{
	char err[1024], link[256];
	struct stat st;
	build();
	if (tpl_extract(tpl, root, NULL, err, sizeof(err)))
		TEST_FAIL("extract: %s", err);
	stat_of("bin/busybox", &st);
	ASSERT(S_ISREG(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0755);
	ASSERT_EQ(st.st_uid, 0);
	stat_of("tmp", &st);
	ASSERT_EQ(st.st_mode & 07777, 01777);
	stat_of("root", &st);
	ASSERT_EQ(st.st_mode & 07777, 0700);
	stat_of("etc/shadow", &st);
	ASSERT_EQ(st.st_mode & 07777, 0640);
	stat_of("sbin/init", &st);
	ASSERT(S_ISLNK(st.st_mode));
	char p[8192];
	snprintf(p, sizeof(p), "%s/sbin/init", root);
	ssize_t n = readlink(p, link, sizeof(link) - 1);
	ASSERT(n > 0);
	link[n] = '\0';
	ASSERT_STR_EQ(link, "/bin/busybox");
	stat_of("bin/sh", &st);
	ASSERT(S_ISLNK(st.st_mode));
	/* the busybox in it runs */
	snprintf(p, sizeof(p), "%s/bin/busybox true", root);
	ASSERT_EQ(system(p), 0);
}

static void t_unprivileged(void)
{
	char err[1024];
	struct stat st;
	struct tpl_idmap map = { 100000, 100000, 65536 };
	build();
	if (tpl_extract(tpl, root, &map, err, sizeof(err)))
		TEST_FAIL("extract: %s", err);
	stat_of("bin/busybox", &st);
	ASSERT_EQ(st.st_uid, 100000);
	ASSERT_EQ(st.st_gid, 100000);
	stat_of("tmp", &st);
	ASSERT_EQ(st.st_uid, 100000);
	ASSERT_EQ(st.st_mode & 07777, 01777);
	stat_of("sbin/init", &st); /* a symlink is shifted too */
	ASSERT_EQ(st.st_uid, 100000);
}

/* ---- hand-made archives ---- */

struct ent {
	const char *name;
	mode_t type;
	const char *target; /* symlink or hardlink target */
	int64_t uid;
	unsigned dev_major, dev_minor;
};

static void make_tar(const char *path, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ASSERT_EQ(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_uid(ae, e[i].uid);
		archive_entry_set_gid(ae, e[i].uid);
		if (e[i].type == AE_IFLNK + 1) { /* a hard link */
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_hardlink(ae, e[i].target);
		} else {
			archive_entry_set_filetype(ae, e[i].type);
			archive_entry_set_perm(ae, e[i].type == AE_IFDIR ? 0755 : 0644);
			if (e[i].type == AE_IFLNK)
				archive_entry_set_symlink(ae, e[i].target);
			if (e[i].type == AE_IFCHR)
				archive_entry_set_rdev(ae, makedev(e[i].dev_major, e[i].dev_minor));
			if (e[i].type == AE_IFREG)
				archive_entry_set_size(ae, 3);
		}
		ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].type == AE_IFREG)
			archive_write_data(a, "abc", 3);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
}

/* The archive is refused with a message naming the entry; nothing escapes. */
static void refused(const struct ent *e, size_t n, const char *escape, const char *want)
{
	char path[4096], err[1024] = "", outside[4096];
	tmpdir_path(path, sizeof(path), "evil.tar");
	tmpdir_path(root, sizeof(root), "rootfs");
	mkdir(root, 0755);
	make_tar(path, e, n);
	ASSERT(tpl_extract(path, root, NULL, err, sizeof(err)) < 0);
	ASSERT(strstr(err, want) != NULL);
	tmpdir_path(outside, sizeof(outside), escape);
	ASSERT(access(outside, F_OK) != 0);
}

static void t_dotdot(void)
{
	const struct ent e[] = { { "./etc", AE_IFDIR, NULL, 0, 0, 0 },
		                 { "./etc/../../escaped", AE_IFREG, NULL, 0, 0, 0 } };
	refused(e, 2, "escaped", "etc/../../escaped");
}

static void t_absolute(void)
{
	char abs[4096];
	tmpdir_path(abs, sizeof(abs), "absolute");
	const struct ent e[] = { { abs, AE_IFREG, NULL, 0, 0, 0 } };
	refused(e, 1, "absolute", "points outside the root");
}

static void t_hardlink_out(void)
{
	const struct ent e[] = { { "./x", AE_IFLNK + 1, "../../etc/passwd", 0, 0, 0 } };
	refused(e, 1, "x-nothing", "points outside the root");
}

static void t_through_symlink(void)
{
	char out[4096];
	tmpdir_path(out, sizeof(out), "outdir");
	mkdir(out, 0755);
	const struct ent e[] = { { "./lnk", AE_IFLNK, out, 0, 0, 0 },
		                 { "./lnk/planted", AE_IFREG, NULL, 0, 0, 0 } };
	refused(e, 2, "outdir/planted", "lnk/planted");
}

static void t_outside_idmap(void)
{
	char path[4096], err[1024];
	struct tpl_idmap map = { 100000, 100000, 65536 };
	tmpdir_path(path, sizeof(path), "owner.tar");
	tmpdir_path(root, sizeof(root), "rootfs");
	mkdir(root, 0755);
	const struct ent e[] = { { "./f", AE_IFREG, NULL, 70000, 0, 0 } };
	make_tar(path, e, 1);
	ASSERT(tpl_extract(path, root, &map, err, sizeof(err)) < 0);
	ASSERT(strstr(err, "outside the container's id map") != NULL);
}

static void t_devices(void)
{
	char path[4096], err[1024], dev[8192];
	struct stat st;
	struct tpl_idmap map = { 100000, 100000, 65536 };
	tmpdir_path(path, sizeof(path), "dev.tar");
	tmpdir_path(root, sizeof(root), "rootfs");
	mkdir(root, 0755);
	const struct ent e[] = { { "./dev", AE_IFDIR, NULL, 0, 0, 0 },
		                 { "./dev/null", AE_IFCHR, NULL, 0, 1, 3 } };
	make_tar(path, e, 2);
	ASSERT_EQ(tpl_extract(path, root, NULL, err, sizeof(err)), 0);
	snprintf(dev, sizeof(dev), "%s/dev/null", root);
	ASSERT_EQ(lstat(dev, &st), 0);
	ASSERT(S_ISCHR(st.st_mode));
	ASSERT_EQ(major(st.st_rdev), 1);
	ASSERT_EQ(minor(st.st_rdev), 3);
	/* unprivileged: skipped, the rest unpacked */
	ASSERT_EQ(unlink(dev), 0);
	ASSERT_EQ(tpl_extract(path, root, &map, err, sizeof(err)), 0);
	ASSERT(lstat(dev, &st) != 0);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	ASSERT_EQ(lstat(dev, &st), 0);
	ASSERT_EQ(st.st_uid, 100000);
}

static void t_damaged(void)
{
	char err[1024];
	build();
	/* cut the template in half */
	struct stat st;
	ASSERT_EQ(stat(tpl, &st), 0);
	ASSERT_EQ(truncate(tpl, st.st_size / 2), 0);
	ASSERT(tpl_extract(tpl, root, NULL, err, sizeof(err)) < 0);
	ASSERT(strstr(err, "busybox.tar.zst") != NULL);
	tmpdir_path(tpl, sizeof(tpl), "missing.tar.zst");
	ASSERT(tpl_extract(tpl, root, NULL, err, sizeof(err)) < 0);
	ASSERT(strstr(err, "cannot read template") != NULL);
}

static const struct test_case cases[] = {
	{ "privileged", t_privileged },
	{ "unprivileged", t_unprivileged },
	{ "dotdot", t_dotdot },
	{ "absolute", t_absolute },
	{ "hardlink_out", t_hardlink_out },
	{ "through_symlink", t_through_symlink },
	{ "outside_idmap", t_outside_idmap },
	{ "devices", t_devices },
	{ "damaged", t_damaged },
};

TEST_MAIN(cases)
