/*
 * template.c - unpacking and building container templates; see template.h.
 */
#include "ctmgr/template.h"
#include "ctmgr/fsutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is name (as stored in the archive) a path that stays inside the root? */
static bool inside(const char *name)
{
	if (name[0] == '/')
		return false;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		p += *p == '/';
	}
	return true;
}

int tpl_extract(const char *archive, const char *dest, const struct tpl_idmap *map, char *err,
                size_t errlen)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	int rc = 0, cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned long skipped_devices = 0;

	if (!a || !w || cwd < 0) {
		snprintf(err, errlen, "cannot set up the archive reader: %s", strerror(errno));
		rc = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(
	    w,
	    ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	        ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	        ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	/* numeric ids as stored: the host's user names mean nothing to the guest */
	if (archive_read_open_filename(a, archive, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, errlen, "cannot read template '%s': %s", archive,
		         archive_error_string(a));
		rc = -EINVAL;
		goto out;
	}
	if (chdir(dest) != 0) {
		snprintf(err, errlen, "cannot enter '%s': %s", dest, strerror(errno));
		rc = -errno;
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			snprintf(err, errlen, "template '%s' is damaged: %s", archive,
			         archive_error_string(a));
			rc = -EINVAL;
			break;
		}
		const char *name = archive_entry_pathname(e);
		const char *link = archive_entry_hardlink(e);
		if (!name || !inside(name) || (link && !inside(link))) {
			snprintf(err, errlen,
			         "template '%s': entry '%s' points outside the root file system; "
			         "refused",
			         archive, name ? name : "(no name)");
			rc = -EINVAL;
			break;
		}
		if (map && map->count) {
			mode_t type = archive_entry_filetype(e);
			if (type == AE_IFCHR || type == AE_IFBLK) {
				skipped_devices++; /* an unprivileged container cannot have them */
				continue;
			}
			la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
			if (uid < 0 || uid >= map->count || gid < 0 || gid >= map->count) {
				snprintf(
				    err, errlen,
				    "template '%s': entry '%s' is owned by %lld:%lld, outside the "
				    "container's id map (0..%u)",
				    archive, name, (long long)uid, (long long)gid, map->count - 1);
				rc = -EINVAL;
				break;
			}
			archive_entry_set_uid(e, uid + map->uid_shift);
			archive_entry_set_gid(e, gid + map->gid_shift);
		}
		r = archive_write_header(w, e);
		if (r >= ARCHIVE_WARN && archive_entry_size(e) > 0) {
			const void *buf;
			size_t size;
			la_int64_t off;
			while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN) {
					r = ARCHIVE_FATAL;
					break;
				}
			if (r == ARCHIVE_EOF)
				r = ARCHIVE_OK;
		}
		if (r >= ARCHIVE_WARN)
			r = archive_write_finish_entry(w);
		if (r < ARCHIVE_WARN) {
			const char *why = archive_error_string(w) ? archive_error_string(w)
			                                          : archive_error_string(a);
			snprintf(err, errlen, "cannot unpack '%s' from '%s': %s", name, archive,
			         why ? why : "unknown error");
			rc = errno ? -errno : -EIO;
			if (rc == -ENOSPC || (why && strstr(why, "No space")))
				rc = -ENOSPC;
			break;
		}
	}
	/* directory modes and times are set at close: still inside dest (relative paths) */
	if (archive_write_close(w) != ARCHIVE_OK && !rc) {
		snprintf(err, errlen, "cannot finish unpacking '%s': %s", archive,
		         archive_error_string(w));
		rc = -EIO;
	}
	if (!rc && skipped_devices)
		fprintf(stderr,
		        "note: %lu device node(s) of the template were skipped (an "
		        "unprivileged container cannot create them)\n",
		        skipped_devices);
out:
	if (cwd >= 0) {
		if (fchdir(cwd) != 0 && !rc)
			rc = -errno;
		close(cwd);
	}
	if (a)
		archive_read_free(a);
	if (w)
		archive_write_free(w);
	return rc;
}

/* ---- building ---- */

static int write_file(const char *root, const char *rel, mode_t mode, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int e = w == (ssize_t)len ? 0 : -EIO;
	if (fchmod(fd, mode) != 0)
		e = -errno;
	close(fd);
	return e;
}

int tpl_pack_dir(const char *root, const char *out, char *err, size_t errlen)
{
	struct archive *disk = archive_read_disk_new(), *w = archive_write_new();
	struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
	struct archive_entry *e;
	int rc = 0, cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (!disk || !w || !links || cwd < 0 || chdir(root) != 0) {
		snprintf(err, errlen, "cannot set up packing of '%s': %s", root, strerror(errno));
		rc = -EIO;
		goto out;
	}
	/* xattrs, ACLs and file flags are read by default; mounts are not entered */
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	archive_read_disk_set_symlink_physical(disk);
	archive_write_add_filter_zstd(w);
	archive_write_set_format_pax_restricted(w);
	/* xattrs as GNU tar and the reference's templates have them (not twice) */
	archive_write_set_format_option(w, "pax", "xattrheader", "SCHILY");
	/* tar's way: the first name of a file carries the data, the others link to it */
	archive_entry_linkresolver_set_strategy(links, archive_format(w));
	if (archive_write_open_filename(w, out) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, ".") != ARCHIVE_OK) {
		snprintf(err, errlen, "cannot write '%s': %s", out, archive_error_string(w));
		rc = -EIO;
		goto out;
	}
	while (!rc) {
		e = archive_entry_new();
		int r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (r < ARCHIVE_WARN) {
			snprintf(err, errlen, "cannot read '%s': %s", root,
			         archive_error_string(disk));
			archive_entry_free(e);
			rc = -EIO;
			break;
		}
		archive_read_disk_descend(disk);
		if (archive_entry_filetype(e) == AE_IFSOCK) { /* tar cannot hold one; */
			archive_entry_free(e); /* its daemon makes it anew */
			continue;
		}
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		/* a later name of a hard-linked file becomes a link entry of size 0 (the
		 * tar strategy keeps e ours and never defers it) */
		struct archive_entry *spare = NULL;
		archive_entry_linkify(links, &e, &spare);
		assert(e && !spare);
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			snprintf(err, errlen, "cannot write '%s': %s", out,
			         archive_error_string(w));
			rc = -EIO;
		} else if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			int fd =
			    open(archive_entry_sourcepath(e), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			char buf[1 << 16];
			ssize_t n;
			while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
				if (archive_write_data(w, buf, (size_t)n) < 0) {
					rc = -EIO;
					break;
				}
			if (fd < 0)
				rc = -errno;
			else
				close(fd);
			if (rc)
				snprintf(err, errlen, "cannot pack '%s': %s",
				         archive_entry_pathname(e), strerror(-rc));
		}
		archive_entry_free(e);
	}
	if (archive_write_close(w) != ARCHIVE_OK && !rc) {
		snprintf(err, errlen, "cannot finish '%s': %s", out, archive_error_string(w));
		rc = -EIO;
	}
out:
	if (cwd >= 0) {
		if (fchdir(cwd) != 0 && !rc)
			rc = -errno;
		close(cwd);
	}
	if (links)
		archive_entry_linkresolver_free(links);
	if (disk)
		archive_read_free(disk);
	if (w)
		archive_write_free(w);
	return rc;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, e = 0;
	char buf[1 << 16];
	ssize_t n;
	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		e = -errno;
		close(in);
		return e;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			e = -EIO;
			break;
		}
	if (n < 0)
		e = -errno;
	close(in);
	close(out);
	return e;
}

int tpl_build_busybox(const char *out, const char *busybox, char *err, size_t errlen)
{
	static const char *const dirs[] = { "bin",  "sbin",       "usr", "usr/bin", "usr/sbin",
		                            "etc",  "etc/init.d", "dev", "proc",    "sys",
		                            "tmp",  "root",       "run", "var",     "var/log",
		                            "home", "mnt",        "lib" };
	static const struct {
		const char *path, *text;
		mode_t mode;
	} files[] = {
		{ "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644 },
		{ "etc/group", "root:x:0:\n", 0644 },
		{ "etc/shadow", "root:*:19000:0:99999:7:::\n", 0640 },
		{ "etc/hostname", "busybox\n", 0644 },
		{ "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0644 },
		{ "etc/inittab",
		  "::sysinit:/etc/init.d/rcS\n"
		  "::respawn:/sbin/getty -L 38400 console\n"
		  "tty1::respawn:/sbin/getty -L 38400 tty1\n"
		  "::ctrlaltdel:/sbin/reboot\n"
		  "::shutdown:/bin/umount -a -r\n",
		  0644 },
		{ "etc/init.d/rcS",
		  "#!/bin/sh\n"
		  "# busybox template: bring up what init needs\n"
		  "mountpoint -q /proc || mount -t proc proc /proc\n"
		  "mountpoint -q /sys || mount -t sysfs sysfs /sys\n"
		  "# the host name is the container's (LXC sets it from the config)\n"
		  "ip link set lo up 2>/dev/null\n"
		  "exit 0\n",
		  0755 },
	};
	char root[] = "/var/tmp/pveam-busybox.XXXXXX", path[4096], tmp[4200];
	const char *bb = busybox ? busybox : "/bin/busybox";
	int rc = 0;

	if (!mkdtemp(root)) {
		snprintf(err, errlen, "cannot make a build directory: %s", strerror(errno));
		return -errno;
	}
	chmod(root, 0755);
	for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		mode_t m = !strcmp(dirs[i], "tmp") ? 01777 : !strcmp(dirs[i], "root") ? 0700 : 0755;
		if (mkdir(path, m) != 0 || chmod(path, m) != 0)
			rc = -errno;
	}
	for (size_t i = 0; !rc && i < sizeof(files) / sizeof(files[0]); i++)
		rc = write_file(root, files[i].path, files[i].mode, files[i].text);
	if (rc) {
		snprintf(err, errlen, "cannot lay out the template: %s", strerror(-rc));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/bin/busybox", root);
	if ((rc = copy_file(bb, path, 0755))) {
		snprintf(err, errlen, "cannot copy '%s' (is busybox-static installed?): %s", bb,
		         strerror(-rc));
		goto out;
	}
	/* one link per applet, where busybox itself would install it */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "'%s' --list-full", bb);
	FILE *list = popen(cmd, "re");
	char line[512];
	unsigned applets = 0;
	while (list && fgets(line, sizeof(line), list)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || !strcmp(line, "bin/busybox") || !inside(line))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, line);
		if (symlink("/bin/busybox", path) == 0)
			applets++;
	}
	if (!list || pclose(list) != 0 || applets < 50) {
		snprintf(err, errlen, "'%s --list-full' gave %u applets: not a usable busybox", bb,
		         applets);
		rc = -EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/sbin/init", root);
	if (access(path, F_OK) != 0 && symlink("/bin/busybox", path) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot link /sbin/init: %s", strerror(errno));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid());
	if ((rc = tpl_pack_dir(root, tmp, err, errlen)) == 0 && rename(tmp, out) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", out, strerror(errno));
	}
	if (rc)
		unlink(tmp);
out:
	fsu_rm_rf(root);
	return rc;
}
