/*
 * ctrun.c - running containers on liblxc; see ctrun.h.
 */
#include "ctmgr/ctrun.h"
#include "ctmgr/ctfile.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/guest.h"
#include "ctmgr/lxcgen.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <lxc/lxccontainer.h>
#include <net/if.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

const char *ctr_lxcpath(void)
{
	const char *p = getenv("PCT_LXC_PATH");
	return p && p[0] ? p : "/var/lib/lxc";
}

void ctr_rootdir(long id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%ld/rootfs", ctr_lxcpath(), id);
}

void ctr_root_owner(const struct ctc_conf *c, uid_t *uid, gid_t *gid)
{
	unsigned ub, gb, cnt;
	lxg_idmap(c, &ub, &gb, &cnt);
	*uid = cnt ? ub : 0;
	*gid = cnt ? gb : 0;
}

/* ------------------------------------------------------------ mount points */

struct mnt {
	char key[16];
	char vol[1024];
	char mp[1024]; /* "/" for the rootfs */
	char opts[256]; /* mountoptions: "noatime;nodev" */
	bool ro;
};

static int cmp_mnt(const void *a, const void *b)
{
	return strcmp(((const struct mnt *)a)->mp, ((const struct mnt *)b)->mp);
}

/* key's value v (rootfs or mpN) into m */
static int parse_mnt(const char *key, const char *v, struct mnt *m, char *err, size_t errlen)
{
	char ro[8] = "";
	bool root = !strcmp(key, "rootfs");
	memset(m, 0, sizeof(*m));
	snprintf(m->key, sizeof(m->key), "%s", key);
	if (cts_prop_get(v, "volume", "volume", m->vol, sizeof(m->vol)) != 1 ||
	    (!root && cts_prop_get(v, "volume", "mp", m->mp, sizeof(m->mp)) != 1)) {
		snprintf(err, errlen, "%s: no volume or mount path in '%s'", key, v);
		return -EINVAL;
	}
	if (root)
		snprintf(m->mp, sizeof(m->mp), "/");
	if (cts_prop_get(v, "volume", "mountoptions", m->opts, sizeof(m->opts)) != 1)
		m->opts[0] = '\0';
	m->ro = cts_prop_get(v, "volume", "ro", ro, sizeof(ro)) == 1 && cts_parse_bool(ro) == 1;
	return 0;
}

/* rootfs and mpN of c, rootfs first and the rest by path */
static int collect(const struct ctc_conf *c, struct mnt **out, size_t *n, char *err, size_t errlen)
{
	struct mnt *m = calloc(257, sizeof(*m));
	size_t k = 0;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = -1; i < 256; i++) {
		char key[16];
		if (i < 0)
			snprintf(key, sizeof(key), "rootfs");
		else
			snprintf(key, sizeof(key), "mp%d", i);
		const char *v = ctc_get(&c->main, key);
		if (!v)
			continue;
		if (parse_mnt(key, v, &m[k], err, errlen)) {
			free(m);
			return -EINVAL;
		}
		k++;
	}
	if (k == 0 || strcmp(m[0].key, "rootfs") != 0) {
		snprintf(err, errlen, "%s: the config has no rootfs", c->file);
		free(m);
		return -EINVAL;
	}
	qsort(m + 1, k - 1, sizeof(*m), cmp_mnt);
	*out = m;
	*n = k;
	return 0;
}

static unsigned long mount_flags(const struct mnt *m, char *data, size_t dlen)
{
	unsigned long f = m->ro ? MS_RDONLY : 0;
	data[0] = '\0';
	for (const char *p = m->opts; *p;) {
		size_t n = strcspn(p, ";");
		if (n == 7 && !strncmp(p, "noatime", n))
			f |= MS_NOATIME;
		else if (n == 5 && !strncmp(p, "nodev", n))
			f |= MS_NODEV;
		else if (n == 6 && !strncmp(p, "nosuid", n))
			f |= MS_NOSUID;
		else if (n == 6 && !strncmp(p, "noexec", n))
			f |= MS_NOEXEC;
		else if (n == 8 && !strncmp(p, "lazytime", n))
			f |= MS_LAZYTIME;
		else if (n == 7 && !strncmp(p, "discard", n))
			snprintf(data, dlen, "discard");
		p += n + (p[n] == ';');
	}
	return f;
}

/*
 * Open (creating what is missing) the directory rel inside the directory
 * rootfd without following any symlink; an O_PATH fd or -errno.  New
 * directories get owner uid:gid.  dir: the last component is a directory
 * (else an empty file, for bind mounts of files).
 */
static int open_inside(int rootfd, const char *rel, bool dir, uid_t uid, gid_t gid, char *err,
                       size_t errlen)
{
	char comp[256];
	int fd = dup(rootfd);
	if (fd < 0)
		return -errno;
	for (const char *p = rel; fd >= 0;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (n >= sizeof(comp) || (n == 2 && !strncmp(p, "..", 2)) ||
		    (n == 1 && p[0] == '.')) {
			snprintf(err, errlen, "mount path '%s' has a bad component", rel);
			close(fd);
			return -EINVAL;
		}
		snprintf(comp, sizeof(comp), "%.*s", (int)n, p);
		p += n;
		while (*p == '/')
			p++;
		bool last = !*p;
		int e;
		if (last && !dir) {
			int f = openat(fd, comp,
			               O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
			e = f >= 0 ? 0 : errno;
			if (f >= 0) {
				if (fchown(f, uid, gid) != 0)
					e = errno;
				close(f);
			}
		} else {
			e = mkdirat(fd, comp, 0755) == 0 ? 0 : errno;
			if (!e && fchownat(fd, comp, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
				e = errno;
		}
		if (e && e != EEXIST) {
			snprintf(err, errlen, "cannot create '%s' in the container: %s", rel,
			         strerror(e));
			close(fd);
			return -e;
		}
		int next = openat(
		    fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC | (last && !dir ? 0 : O_DIRECTORY));
		e = errno;
		close(fd);
		if (next < 0) {
			snprintf(err, errlen, "mount path '%s': '%s' %s", rel, comp,
			         e == ELOOP || e == ENOTDIR ? "is a symlink or not a directory"
			                                    : strerror(e));
			return -e;
		}
		struct stat st;
		if (fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "mount path '%s': '%s' is a symlink", rel, comp);
			close(next);
			return -ELOOP;
		}
		fd = next;
	}
	return fd;
}

/* Attach image to a free loop device (detached again when its last user goes). */
static int loop_attach(const char *image, bool ro, char *dev, size_t len, char *err, size_t errlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open /dev/loop-control: %s", strerror(e));
		return -e;
	}
	int ffd = open(image, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (ffd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open image '%s': %s", image, strerror(e));
		close(ctl);
		return -e;
	}
	int rc = -EBUSY;
	for (int tries = 0; tries < 20; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "no free loop device: %s", strerror(errno));
			break;
		}
		snprintf(dev, len, "/dev/loop%d", n);
		int lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", dev, strerror(errno));
			break;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned)ffd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
		memcpy(cfg.info.lo_file_name, image, strnlen(image, LO_NAME_SIZE - 1));
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
			rc = lfd;
			break;
		}
		int e = errno;
		close(lfd);
		if (e != EBUSY) {
			rc = -e;
			snprintf(err, errlen, "cannot set up %s for '%s': %s", dev, image,
			         strerror(e));
			break;
		}
	}
	close(ffd);
	close(ctl);
	return rc;
}

/* Is a loop device backed by path already?  Its name into dev. */
static bool loop_backing(const char *path, char *dev, size_t len)
{
	char real[4096];
	bool found = false;
	if (!realpath(path, real))
		return false;
	DIR *d = opendir("/sys/block");
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		char f[300], back[4096];
		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		snprintf(f, sizeof(f), "/sys/block/%s/loop/backing_file", e->d_name);
		FILE *fp = fopen(f, "re");
		if (!fp)
			continue;
		if (fgets(back, sizeof(back), fp)) {
			back[strcspn(back, "\n")] = '\0';
			found = !strcmp(back, real);
		}
		fclose(fp);
		if (found)
			snprintf(dev, len, "/dev/%.20s", e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * What m mounts: a host path (bind mount) or a storage volume, as a path
 * in src (which exists); *image: an ext4 image file to loop-mount.
 */
static int volume_source(const struct mnt *m, const struct st_cfg *st, char *src, size_t len,
                         bool *image, char *err, size_t errlen)
{
	struct stat sb;
	*image = false;
	if (m->vol[0] == '/') {
		snprintf(src, len, "%s", m->vol);
	} else {
		const struct st_store *s;
		struct st_vol v;
		if (st_parse_volid(st, m->vol, &s, &v, err, errlen))
			return -EINVAL;
		if (v.vtype != ST_V_IMAGE) {
			snprintf(err, errlen, "%s: '%s' is not a disk image", m->key, m->vol);
			return -EINVAL;
		}
		s->plugin->path(s, &v, src, len);
		*image = !v.subvol;
	}
	if (stat(src, &sb) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: volume '%s' (%s): %s", m->key, m->vol, src, strerror(e));
		return -e;
	}
	return 0;
}

/* MS_* flags of mount_flags() as mount_setattr() attributes to set */
static void mount_attrs(unsigned long flags, struct mount_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->attr_set = (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
	    (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
	    (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
	    (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
	if (flags & MS_NOATIME) {
		attr->attr_set |= MOUNT_ATTR_NOATIME;
		attr->attr_clr |= MOUNT_ATTR__ATIME;
	}
}

/*
 * What a mount already in place at the target looks like when it is the
 * one being added (a replay after a crash between the mount and the
 * record): same device and inode (bind), same file system (image: the
 * loop device's), same device node (devN).
 */
struct mnt_ident {
	bool any; /* false: nothing to compare */
	bool fs_only; /* compare st_dev only */
	bool rdev; /* compare st_rdev and the file type */
	bool ro; /* the mount is read-only */
	dev_t dev;
	ino_t ino;
	mode_t type;
};

/*
 * Is the file open at fd the root of a mount like id describes?  A mount
 * root, read-only as wanted, of the same object: the source merely seen
 * through a parent mount does not count.
 */
static bool ident_matches(const struct mnt_ident *id, int fd)
{
	struct statx sx;
	struct statfs sf;
	if (!id->any || statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) != 0 ||
	    !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || fstatfs(fd, &sf) != 0 ||
	    !!(sf.f_flags & ST_RDONLY) != id->ro)
		return false;
	dev_t d = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	if (id->rdev)
		return (sx.stx_mode & S_IFMT) == id->type &&
		    makedev(sx.stx_rdev_major, sx.stx_rdev_minor) == id->dev;
	return d == id->dev && (id->fs_only || sx.stx_ino == id->ino);
}

/*
 * A detached clone of the mount tree at path (recursive: with what is
 * mounted below it), attr set on all of it; the fd or -errno.
 */
static int detached_bind(const char *key, const char *path, bool recursive,
                         const struct mount_attr *attr, char *err, size_t errlen)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path,
	                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot bind '%s': %s", key, path, strerror(e));
		return -e;
	}
	if (attr->attr_set &&
	    syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), attr,
	            sizeof(*attr)) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot apply the mount options to '%s': %s", key, path,
		         strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * The detached mount for m (bind: a clone of the host path's tree, its
 * submounts too; image: a new ext4 mount of a fresh loop device), with m's
 * options; -errno.  An image that a loop device serves already (after
 * waiting up to wait_ms for a release): -EBUSY, with *ident set to
 * recognise that mount if it is this container's own.
 */
static int detached_volume(const struct mnt *m, const struct st_cfg *st, int wait_ms,
                           struct mnt_ident *ident, char *err, size_t errlen)
{
	char src[4096], data[64], dev[64];
	struct stat sb;
	struct mount_attr attr;
	bool image;
	unsigned long flags = mount_flags(m, data, sizeof(data));
	int rc = volume_source(m, st, src, sizeof(src), &image, err, errlen);
	if (rc)
		return rc;
	mount_attrs(flags, &attr);
	ident->ro = m->ro;
	if (!image) {
		if (stat(src, &sb) == 0) {
			ident->any = true;
			ident->dev = sb.st_dev;
			ident->ino = sb.st_ino;
		}
		return detached_bind(m->key, src, true, &attr, err, errlen);
	}
	/*
	 * A loop device of a container that just stopped is released a moment
	 * after its last mount went (the kernel detaches it asynchronously):
	 * wait for that, up to wait_ms, before refusing.
	 */
	for (int i = 0; i < wait_ms / 20 && loop_backing(src, dev, sizeof(dev)); i++)
		usleep(20 * 1000);
	if (loop_backing(src, dev, sizeof(dev))) {
		if (stat(dev, &sb) == 0) {
			ident->any = ident->fs_only = true;
			ident->dev = sb.st_rdev;
		}
		snprintf(err, errlen,
		         "%s: '%s' is in use already (%s): a second mount would corrupt it", m->key,
		         src, dev);
		return -EBUSY;
	}
	int lfd = loop_attach(src, m->ro, dev, sizeof(dev), err, errlen);
	if (lfd < 0)
		return lfd;
	int fs = (int)syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC), fd = -1;
	if (fs >= 0 && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", dev, 0) == 0 &&
	    (!m->ro || syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) == 0) &&
	    (!data[0] || syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, data, NULL, 0) == 0) &&
	    (!(flags & MS_LAZYTIME) ||
	     syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "lazytime", NULL, 0) == 0) &&
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		fd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attr.attr_set);
	int e = errno;
	if (fs >= 0)
		close(fs);
	close(lfd); /* the mount keeps the device; unmounting frees it */
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot mount '%s' (ext4 on %s): %s", m->key, src, dev,
		         strerror(e));
		return -e;
	}
	return fd;
}

/* The detached bind mount of device node path (read-only: deny_write). */
static int detached_device(const char *key, const char *path, bool deny_write,
                           struct mnt_ident *ident, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) != 0 || !(S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))) {
		snprintf(err, errlen, "%s: '%s' is not a device node on this host", key, path);
		return -ENODEV;
	}
	ident->any = ident->rdev = true;
	ident->ro = deny_write;
	ident->dev = sb.st_rdev;
	ident->type = sb.st_mode & S_IFMT;
	struct mount_attr attr = { .attr_set = deny_write ? MOUNT_ATTR_RDONLY : 0 };
	return detached_bind(key, path, false, &attr, err, errlen);
}

/* Mount m's volume at target (a path, possibly /proc/self/fd/N). */
static int mount_volume(const struct mnt *m, const struct st_cfg *st, const char *target, char *err,
                        size_t errlen)
{
	struct mnt_ident ident = { 0 };
	int fd = detached_volume(m, st, 2000, &ident, err, errlen), rc = 0;
	if (fd < 0)
		return fd;
	/* T_SYMLINKS: target may be a /proc/self/fd magic link (as mount(2) follows it) */
	if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target,
	            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot mount at '%.900s': %s", m->key, m->mp,
		         strerror(errno));
	}
	close(fd);
	return rc;
}

int ctr_mount_volumes(const struct ctc_conf *c, long id, const struct st_cfg *st, bool ro,
                      char *err, size_t errlen)
{
	char root[4096];
	struct mnt *m;
	size_t n;
	uid_t uid;
	gid_t gid;

	ctr_rootdir(id, root, sizeof(root));
	ctr_root_owner(c, &uid, &gid);
	if (collect(c, &m, &n, err, errlen))
		return -EINVAL;
	for (size_t i = 0; ro && i < n; i++)
		m[i].ro = true;
	int rc = fsu_mkdirs(root, 0755);
	if (rc) {
		snprintf(err, errlen, "cannot create %s: %s", root, strerror(-rc));
		free(m);
		return rc;
	}
	if (ctr_volumes_mounted(id)) {
		snprintf(err, errlen, "%s is already mounted (pct unmount %ld?)", root, id);
		free(m);
		return -EBUSY;
	}
	rc = mount_volume(&m[0], st, root, err, errlen);
	for (size_t i = 1; i < n && rc == 0; i++) {
		int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", root, strerror(errno));
			break;
		}
		struct stat sb;
		bool dir =
		    !(m[i].vol[0] == '/' && stat(m[i].vol, &sb) == 0 && !S_ISDIR(sb.st_mode));
		int fd = open_inside(rootfd, m[i].mp, dir, uid, gid, err, errlen);
		close(rootfd);
		if (fd < 0) {
			rc = fd;
			break;
		}
		char target[64];
		snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
		rc = mount_volume(&m[i], st, target, err, errlen);
		close(fd);
	}
	free(m);
	if (rc) {
		char e2[256];
		ctr_unmount_volumes(id, e2, sizeof(e2));
	}
	return rc;
}

static char **mounts_below(const char *dir, size_t *n);

/* Mounts strictly below path in this namespace (what a recursive bind takes along). */
static size_t submounts(const char *path)
{
	char real[4096];
	size_t n = 0, k = 0;
	if (!realpath(path, real))
		return 0;
	char **v = mounts_below(real, &n);
	for (size_t i = 0; i < n; i++) {
		k += strcmp(v[i], real) != 0;
		free(v[i]);
	}
	free(v);
	return k;
}

int ctr_live_mount(const struct ctc_conf *c, pid_t init, unsigned long long init_start,
                   const char *key, const struct st_cfg *st, char *err, size_t errlen)
{
	struct mnt m;
	struct mnt_ident ident = { 0 };
	const char *v = ctc_get(&c->main, key);
	bool dev = !strncmp(key, "dev", 3), dir = true;
	int mfd, rc;
	uid_t uid;
	gid_t gid;

	if (!v) {
		snprintf(err, errlen, "%s is not in the config", key);
		return -EINVAL;
	}
	ctr_root_owner(c, &uid, &gid);
	if (dev) {
		char ro[8] = "";
		memset(&m, 0, sizeof(m));
		snprintf(m.key, sizeof(m.key), "%s", key);
		if (cts_prop_get(v, "path", "path", m.vol, sizeof(m.vol)) != 1 || m.vol[0] != '/') {
			snprintf(err, errlen, "%s: no device path in '%s'", key, v);
			return -EINVAL;
		}
		snprintf(m.mp, sizeof(m.mp), "%s", m.vol); /* the same path inside */
		bool deny = cts_prop_get(v, "path", "deny-write", ro, sizeof(ro)) == 1 &&
		    cts_parse_bool(ro) == 1;
		mfd = detached_device(key, m.vol, deny, &ident, err, errlen);
		dir = false;
	} else {
		if ((rc = parse_mnt(key, v, &m, err, errlen)))
			return rc;
		struct stat sb;
		dir = !(m.vol[0] == '/' && stat(m.vol, &sb) == 0 && !S_ISDIR(sb.st_mode));
		/*
		 * A mount made here is not locked the way the copy at start is
		 * (the kernel locks mounts only when it copies them into a less
		 * privileged namespace): an unprivileged guest's root could
		 * remount it read-write or without its options, or unmount what
		 * a recursive bind took along and see what that covers.  Such
		 * bind mounts wait for the next start.  (An image volume is
		 * safe: its file system itself is read-only when asked.)
		 */
		if (uid != 0 && m.vol[0] == '/' && (m.ro || m.opts[0] || submounts(m.vol))) {
			snprintf(err, errlen,
			         "a read-only or restricted bind mount (ro, mountoptions) or one "
			         "with mounts below its source reaches an unprivileged container "
			         "at its next start: live, the guest could undo it");
			return -EPERM;
		}
		mfd = detached_volume(&m, st, 0, &ident, err, errlen);
	}
	if (mfd < 0 && !(mfd == -EBUSY && ident.any))
		return mfd;

	/*
	 * The container's root and mount namespace, through its init: a child
	 * enters the namespace, creates the mount point inside the root
	 * without following symlinks (as at start) and moves the mount there.
	 */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/root", (int)init);
	int rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)init);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rootfd < 0 || nsfd < 0 || fsu_proc_start(init) != init_start) {
		rc = -ESRCH;
		snprintf(err, errlen, "the container's init (%d) is gone", (int)init);
		goto out;
	}
	int pfd;
	pid_t pid = fsu_fork_piped(&pfd, err, errlen);
	if (pid < 0) {
		rc = (int)pid;
		goto out;
	}
	if (pid == 0) {
		char e[1024] = "";
		int t = -1;
		alarm(10); /* a guest's hung file system on the path must not hold ctmgrd */
		if (setns(nsfd, CLONE_NEWNS) != 0)
			snprintf(e, sizeof(e), "cannot enter the container's mount namespace: %s",
			         strerror(errno));
		else if ((t = open_inside(rootfd, m.mp, dir, uid, gid, e, sizeof(e))) < 0)
			; /* e says why */
		else if (ident_matches(&ident, t))
			; /* there already */
		else if (mfd < 0)
			snprintf(e, sizeof(e), "%s", err); /* in use elsewhere */
		else if (syscall(SYS_move_mount, mfd, "", t, "",
		                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
			snprintf(e, sizeof(e), "%s: cannot mount at '%.900s' in the container: %s",
			         key, m.mp, strerror(errno));
		if (e[0] && write(pfd, e, strlen(e)) < 0)
			_exit(2);
		_exit(e[0] ? 1 : 0);
	}
	char why[1024] = "";
	int status = fsu_collect(pid, pfd, why, sizeof(why));
	rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
	if (rc && WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(err, errlen,
		         "%s: the mount helper gave up after 10 s (a hung file "
		         "system on '%.900s' in the container?)",
		         key, m.mp);
	else if (rc)
		snprintf(err, errlen, "%s", why[0] ? why : "the mount helper failed");
out:
	if (rootfd >= 0)
		close(rootfd);
	if (nsfd >= 0)
		close(nsfd);
	if (mfd >= 0)
		close(mfd); /* moved: the mount stays; not moved: it goes (and its loop device) */
	return rc;
}

/* The mount points at or below dir in this namespace, deepest first. */
static char **mounts_below(const char *dir, size_t *n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	char **v = NULL;
	size_t k = 0, dl = strlen(dir);
	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char raw[4096], path[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", raw) != 1)
			continue;
		size_t j = 0;
		for (const char *p = raw; *p && j + 1 < sizeof(path); p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				path[j++] =
				    (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				path[j++] = *p;
			}
		}
		path[j] = '\0';
		if (strncmp(path, dir, dl) != 0 || (path[dl] && path[dl] != '/'))
			continue;
		char **nv = realloc(v, (k + 1) * sizeof(*v));
		if (!nv || !(nv[k] = strdup(path))) {
			v = nv ? nv : v;
			break;
		}
		v = nv;
		k++;
	}
	fclose(f);
	/* later in mountinfo = mounted later: unmount in reverse order */
	for (size_t i = 0; i < k / 2; i++) {
		char *t = v[i];
		v[i] = v[k - 1 - i];
		v[k - 1 - i] = t;
	}
	*n = k;
	return v;
}

bool ctr_volumes_mounted(long id)
{
	char root[4096];
	size_t n;
	ctr_rootdir(id, root, sizeof(root));
	char **v = mounts_below(root, &n);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return n > 0;
}

int ctr_unmount_volumes(long id, char *err, size_t errlen)
{
	char root[4096];
	size_t n;
	int rc = 0;
	ctr_rootdir(id, root, sizeof(root));
	char **v = mounts_below(root, &n);
	for (size_t i = 0; i < n; i++) {
		if (umount2(v[i], UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT &&
		    umount2(v[i], MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && rc == 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot unmount %s: %s", v[i], strerror(errno));
		}
		free(v[i]);
	}
	free(v);
	return rc;
}

/* ------------------------------------------------------------------- LXC */

static struct lxc_container *open_ct(long id)
{
	char name[32];
	snprintf(name, sizeof(name), "%ld", id);
	return lxc_container_new(name, ctr_lxcpath());
}

enum ctr_state ctr_state(long id, pid_t *init_pid)
{
	struct lxc_container *c = open_ct(id);
	enum ctr_state s = CTR_STOPPED;
	if (init_pid)
		*init_pid = 0;
	if (!c)
		return CTR_STOPPED;
	const char *st = c->state(c);
	if (st && !strcmp(st, "RUNNING")) {
		s = CTR_RUNNING;
		if (init_pid)
			*init_pid = c->init_pid(c);
	} else if (st && strcmp(st, "STOPPED") != 0) {
		s = CTR_OTHER;
	}
	lxc_container_put(c);
	return s;
}

/*
 * The bridges of c's interfaces must exist in this network namespace.
 * Asked through the interface (ethtool's driver name), not /sys, which
 * shows the namespace it was mounted in.
 */
static int check_bridges(const struct ctc_conf *c, char *err, size_t errlen)
{
	int sock = -1, rc = 0;
	for (int n = 0; n < 32 && rc == 0; n++) {
		char key[16], br[IFNAMSIZ + 8];
		snprintf(key, sizeof(key), "net%d", n);
		const char *v = ctc_get(&c->main, key);
		if (!v || cts_prop_get(v, NULL, "bridge", br, sizeof(br)) != 1)
			continue;
		if (strlen(br) >= IFNAMSIZ || if_nametoindex(br) == 0) {
			snprintf(err, errlen, "%s: bridge '%s' does not exist", key, br);
			rc = -ENODEV;
			break;
		}
		if (sock < 0 && (sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			break;
		struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, br, strlen(br));
		ifr.ifr_data = (char *)&info;
		if (ioctl(sock, SIOCETHTOOL, &ifr) == 0 && strcmp(info.driver, "bridge") != 0) {
			snprintf(err, errlen, "%s: '%s' is not a bridge (driver %s)", key, br,
			         info.driver);
			rc = -ENODEV;
		}
	}
	if (sock >= 0)
		close(sock);
	return rc;
}

/* The first ERROR line of LXC's log, without its prefix. */
static void log_reason(const char *log, char *out, size_t len)
{
	FILE *f = fopen(log, "re");
	char line[2048];
	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " ERROR "))
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* "lxc 2026... ERROR    start - ../src/lxc/start.c:fn:123 - message" */
		char *msg = strstr(line, ".c:");
		msg = msg ? strstr(msg, " - ") : NULL;
		snprintf(out, len, "%.900s", msg ? msg + 3 : line);
		break;
	}
	fclose(f);
}

/*
 * Mount this process's cgroup hierarchies (from /proc/self/cgroup) at
 * /sys/fs/cgroup: v1 controllers (co-mounted as on the host, e.g.
 * "cpu,cpuacct") and named hierarchies under a tmpfs, the unified one at
 * unified/; a pure v2 host gets cgroup2 at /sys/fs/cgroup itself.
 */
static int mount_cgroups(char *err, size_t errlen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024], v1[32][128];
	size_t n = 0;
	bool unified = false;
	if (!f) {
		snprintf(err, errlen, "cannot read /proc/self/cgroup: %s", strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		if (b == a + 1)
			unified = true;
		else if (n < 32)
			snprintf(v1[n++], sizeof(v1[0]), "%.*s", (int)(b - a - 1), a + 1);
	}
	fclose(f);
	const char *cg = "/sys/fs/cgroup";
	if (n == 0) {
		if (mount("cgroup2", cg, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			goto fail;
		return 0;
	}
	if (mount("cgroup", cg, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char dir[512], opts[512];
		bool named = !strncmp(v1[i], "name=", 5);
		snprintf(dir, sizeof(dir), "%s/%.127s", cg, named ? v1[i] + 5 : v1[i]);
		snprintf(opts, sizeof(opts), "%s%.127s", named ? "none," : "", v1[i]);
		if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
		    mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
			goto fail;
	}
	if (unified) {
		char dir[256];
		snprintf(dir, sizeof(dir), "%s/unified", cg);
		if (mkdir(dir, 0755) == 0 || errno == EEXIST)
			mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot mount the cgroup file systems: %s", strerror(errno));
	return -errno;
}

int ctr_private_mounts(char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create a mount namespace: %s", strerror(e));
		return -e;
	}
	return 0;
}

/*
 * In the start's own mount namespace: a sysfs of this network namespace
 * (LXC looks up bridges there) with the cgroup file systems at
 * /sys/fs/cgroup: the ones mounted here, or (under "ip netns exec" and in
 * cluster-sim nodes, whose /sys has none) mounted anew.
 */
int ctr_prepare_sys(char *err, size_t errlen)
{
	struct statfs sf;
	int cg = open("/sys/fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg >= 0 && (fstatfs(cg, &sf) != 0 || sf.f_type == SYSFS_MAGIC)) {
		close(cg);
		cg = -1;
	}
	/* EBUSY: /sys is this network namespace's sysfs already */
	int rc = 0;
	bool fresh = mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
	if (!fresh && errno != EBUSY) {
		rc = -errno;
		snprintf(err, errlen, "cannot mount /sys for the container: %s", strerror(errno));
	} else if (cg >= 0 && fresh) {
		char src[64];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", cg);
		if (mount(src, "/sys/fs/cgroup", NULL, MS_BIND | MS_REC, NULL) != 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot bind the cgroup file systems: %s",
			         strerror(errno));
		}
	} else if (cg < 0) {
		rc = mount_cgroups(err, errlen);
	}
	if (cg >= 0)
		close(cg);
	return rc;
}

/* The guest's own files for this start (host name, network, DNS, ...). */
static int setup_guest(const struct ctc_conf *c, long id, char *err, size_t errlen)
{
	struct guest g;
	char root[4096];
	memset(&g, 0, sizeof(g));
	ctr_rootdir(id, root, sizeof(root));
	int rc = guest_open(&g, root, c);
	if (rc == 0)
		rc = guest_pre_start(&g);
	if (rc)
		snprintf(err, errlen, "guest set-up failed: %.900s",
		         g.err[0] ? g.err : strerror(-rc));
	guest_close(&g);
	return rc;
}

/* Generate CT id's LXC config into path (seeing this namespace's /sys). */
static int write_config(const struct ctc_conf *c, long id, const char *path, char *err,
                        size_t errlen)
{
	struct lxg_host h;
	lxg_detect(&h);
	h.lxcpath = ctr_lxcpath();
	char *text = lxg_generate(c, id, &h, err, errlen);
	if (!text)
		return -EINVAL;
	int rc = ctf_write_atomic(path, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

int ctr_start(const struct ctc_conf *c, long id, const struct st_cfg *st, int timeout_s, char *err,
              size_t errlen)
{
	char dir[4096], path[4200], log[4200];
	int rc;

	if ((rc = check_bridges(c, err, errlen)))
		return rc;
	snprintf(dir, sizeof(dir), "%s/%ld", ctr_lxcpath(), id);
	if ((rc = fsu_mkdirs(dir, 0755))) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	/* unprivileged roots must be able to traverse to the rootfs: add o+x where missing */
	struct stat ls;
	if (stat(ctr_lxcpath(), &ls) == 0 && !(ls.st_mode & S_IXOTH))
		chmod(ctr_lxcpath(), (ls.st_mode & 07777) | S_IXOTH);
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/config", dir);
	snprintf(log, sizeof(log), "%s/lxc.log", dir);
	int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (lf >= 0)
		close(lf);

	/*
	 * A child in a new mount namespace mounts the volumes and starts the
	 * container; the monitor LXC leaves behind keeps that namespace (and
	 * so the mounts) alive until the container stops.
	 */
	/*
	 * What the container will run with, ctmgrd's base for later changes:
	 * written before it starts (the caller holds the per-CT lock, so
	 * ctmgrd never sees a running container with an old record), removed
	 * when the start fails.
	 */
	char apath[4200];
	size_t alen;
	char *atext = ctc_print(c, &alen);
	snprintf(apath, sizeof(apath), "%s/applied.conf", dir);
	rc = atext ? ctf_write_atomic(apath, atext, alen, err, errlen) : -ENOMEM;
	free(atext);
	if (rc)
		return rc;
	int pfd;
	pid_t pid = fsu_fork_piped(&pfd, err, errlen);
	if (pid < 0) {
		unlink(apath);
		return (int)pid;
	}
	if (pid == 0) {
		char e[1024] = "";
		if (ctr_private_mounts(e, sizeof(e)) == 0 && ctr_prepare_sys(e, sizeof(e)) == 0 &&
		    write_config(c, id, path, e, sizeof(e)) == 0 &&
		    ctr_mount_volumes(c, id, st, false, e, sizeof(e)) == 0 &&
		    setup_guest(c, id, e, sizeof(e)) == 0) {
			struct lxc_container *ct = open_ct(id);
			if (!ct) {
				snprintf(e, sizeof(e), "liblxc cannot load %.900s", path);
			} else {
				ct->set_config_item(ct, "lxc.log.file", log);
				ct->set_config_item(ct, "lxc.log.level", "ERROR");
				ct->want_daemonize(ct, true);
				ct->want_close_all_fds(ct, true);
				if (!ct->start(ct, 0, NULL)) {
					char why[900];
					log_reason(log, why, sizeof(why));
					snprintf(e, sizeof(e),
					         "startup for container '%ld' failed%s%s", id,
					         why[0] ? ": " : "", why);
				}
				lxc_container_put(ct);
			}
		}
		if (e[0] && write(pfd, e, strlen(e)) < 0)
			_exit(2);
		_exit(e[0] ? 1 : 0);
	}
	int status = fsu_collect(pid, pfd, err, errlen);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!err[0])
			snprintf(err, errlen, "startup for container '%ld' failed", id);
		unlink(apath);
		return -EIO;
	}
	struct lxc_container *ct = open_ct(id);
	bool ok = ct && ct->wait(ct, "RUNNING", timeout_s > 0 ? timeout_s : 30);
	if (ct)
		lxc_container_put(ct);
	if (!ok) {
		char why[1024];
		log_reason(log, why, sizeof(why));
		snprintf(err, errlen, "container %ld did not reach RUNNING%s%s", id,
		         why[0] ? ": " : "", why);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Does any process (in any mount namespace) have <lxcpath>/<id>/rootfs mounted? */
static bool root_mounted_anywhere(long id)
{
	char root[4096];
	bool found = false;
	ctr_rootdir(id, root, sizeof(root));
	size_t rl = strlen(root);
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		char path[300], line[8192];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/mountinfo", e->d_name);
		FILE *f = fopen(path, "re");
		while (f && !found && fgets(line, sizeof(line), f)) {
			char mp[4096];
			found = sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
			    !strncmp(mp, root, rl) && (mp[rl] == '\0' || mp[rl] == '/');
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

int ctr_stop(long id, bool force, int timeout_s, char *err, size_t errlen)
{
	struct lxc_container *ct = open_ct(id);
	if (!ct) {
		snprintf(err, errlen, "liblxc cannot open container %ld", id);
		return -EIO;
	}
	int rc = 0;
	if (force) {
		if (!ct->stop(ct) && ct->is_running(ct)) {
			snprintf(err, errlen, "cannot stop container %ld", id);
			rc = -EIO;
		}
	} else if (!ct->shutdown(ct, timeout_s)) {
		if (ct->is_running(ct)) {
			snprintf(err, errlen, "container %ld did not shut down within %d s", id,
			         timeout_s);
			rc = -ETIMEDOUT;
		}
	}
	if (rc == 0 && !ct->wait(ct, "STOPPED", 10)) {
		snprintf(err, errlen, "container %ld did not reach STOPPED", id);
		rc = -ETIMEDOUT;
	}
	/*
	 * LXC reports STOPPED a moment before its monitor, which holds the
	 * mount namespace with the volumes, has exited: wait for that, so a
	 * start right after (pct reboot) finds the images free.
	 */
	for (int i = 0; rc == 0 && i < 500 && root_mounted_anywhere(id); i++)
		usleep(20 * 1000);
	lxc_container_put(ct);
	return rc;
}
