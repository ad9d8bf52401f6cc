/*
 * test_template.c - building the busybox template and unpacking templates
 * (ctmgr/template.c) for real: owners, modes, links, the unprivileged id
 * shift, device nodes, and archives that try to write outside the root;
 * tpl_pack_dir round trips (hard links, devices, FIFOs, file capabilities).
 * Needs root (ownership, mknod); label fs.  One process per case.
 */
#include "ctmgr/template.h"
#include "tests/test.h"
#include "tests/unit/tmpdir.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
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

/* What debootstrap trees have: tpl_pack_dir keeps it and tpl_extract restores it. */
static void t_pack(void)
{
	char src[4096], out[4096], p[8192], q[8192], err[1024];
	struct stat st, st2;
	/* security.capability v2: cap_net_raw (13) permitted and effective, as ping's */
	const unsigned char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20 };
	unsigned char got[64];
	tmpdir_path(src, sizeof(src), "src");
	tmpdir_path(out, sizeof(out), "packed.tar.zst");
	tmpdir_path(root, sizeof(root), "rootfs");
	ASSERT_EQ(mkdir(src, 0755), 0);
	ASSERT_EQ(mkdir(root, 0755), 0);
	snprintf(p, sizeof(p), "%s/dev", src);
	ASSERT_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/dev/null", src);
	ASSERT_EQ(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
	ASSERT_EQ(chmod(p, 0666), 0); /* past the umask */
	snprintf(p, sizeof(p), "%s/fifo", src);
	ASSERT_EQ(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/perl", src);
	FILE *f = fopen(p, "w");
	ASSERT(f != NULL);
	for (int i = 0; i < 10000; i++)
		fputs("#!/usr/bin/perl\n", f);
	fclose(f);
	ASSERT_EQ(chown(p, 0, 42), 0);
	snprintf(q, sizeof(q), "%s/perl5.36.0", src);
	ASSERT_EQ(link(p, q), 0);
	snprintf(p, sizeof(p), "%s/ping", src);
	f = fopen(p, "w");
	ASSERT(f != NULL);
	fclose(f);
	ASSERT_EQ(setxattr(p, "security.capability", cap, sizeof(cap), 0), 0);
	/* a socket cannot be in a tar: skipped, not an error */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ASSERT(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", src) <
	       (int)sizeof(sa.sun_path));
	int sock = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_EQ(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);

	if (tpl_pack_dir(src, out, err, sizeof(err)))
		TEST_FAIL("pack: %s", err);
	close(sock);

	/* the data is stored once: the second name is a hard-link entry */
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int links = 0, sockets = 0;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	ASSERT_EQ(archive_read_open_filename(a, out, 1 << 16), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		ASSERT(name[0] == '.');
		if (archive_entry_hardlink(e)) {
			links++;
			ASSERT_EQ(archive_entry_size(e), 0);
		}
		sockets += strstr(name, "sock") != NULL;
	}
	archive_read_free(a);
	ASSERT_EQ(links, 1);
	ASSERT_EQ(sockets, 0);

	if (tpl_extract(out, root, NULL, err, sizeof(err)))
		TEST_FAIL("extract: %s", err);
	stat_of("perl", &st);
	stat_of("perl5.36.0", &st2);
	ASSERT_EQ(st.st_ino, st2.st_ino);
	ASSERT_EQ(st.st_nlink, 2);
	ASSERT_EQ(st.st_size, 160000);
	ASSERT_EQ(st.st_gid, 42);
	stat_of("dev/null", &st);
	ASSERT(S_ISCHR(st.st_mode));
	ASSERT_EQ(st.st_rdev, makedev(1, 3));
	ASSERT_EQ(st.st_mode & 07777, 0666);
	stat_of("fifo", &st);
	ASSERT(S_ISFIFO(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/sock", root);
	ASSERT(lstat(p, &st) != 0);
	snprintf(p, sizeof(p), "%s/ping", root);
	ASSERT_EQ(getxattr(p, "security.capability", got, sizeof(got)), (ssize_t)sizeof(cap));
	ASSERT_EQ(memcmp(got, cap, sizeof(cap)), 0);
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
	{ "pack", t_pack },
};

TEST_MAIN(cases)
