/*
 * ctfile.c - container config files in /etc/pve; see ctfile.h.
 */
#include "ctmgr/ctfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

const char *ctf_root(void)
{
	const char *r = getenv("PVE_ETC");
	return r && r[0] ? r : "/etc/pve";
}

long ctf_parse_id(const char *s)
{
	char *end;
	if (!s[0] || s[0] == '0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	long v = strtol(s, &end, 10);
	return v >= 100 ? v : -1;
}

void ctf_path(long id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/lxc/%ld.conf", ctf_root(), id);
}

int ctf_locate(long id, char *node, size_t len)
{
	char path[4096];
	struct stat st;

	ctf_path(id, path, sizeof(path));
	if (stat(path, &st) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/nodes", ctf_root());
	DIR *d = opendir(path);
	if (!d)
		return -ENOENT;
	int rc = -ENOENT;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/nodes/%s/lxc/%ld.conf", ctf_root(), e->d_name, id);
		if (stat(path, &st) == 0) {
			snprintf(node, len, "%s", e->d_name);
			rc = -EREMOTE;
			break;
		}
	}
	closedir(d);
	return rc;
}

int ctf_lock(long id, int timeout_s, char *err, size_t errlen)
{
	const char *dir = getenv("PCT_LOCK_DIR");
	char path[4096];
	if (!dir || !dir[0])
		dir = "/run/lock/lxc";
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create the lock directory %s: %s", dir, strerror(e));
		return -e;
	}
	snprintf(path, sizeof(path), "%s/pve-config-%ld.lock", dir, id);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open lock file '%s': %s", path, strerror(e));
		return -e;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK) {
			int e = errno;
			snprintf(err, errlen, "can't lock file '%s': %s", path, strerror(e));
			close(fd);
			return -e;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= timeout_s) {
			snprintf(err, errlen, "can't lock file '%s' - got timeout", path);
			close(fd);
			return -ETIMEDOUT;
		}
		usleep(50 * 1000);
	}
}

int ctf_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	return ctf_write_atomic_if(path, data, len, 0, err, errlen);
}

int ctf_write_atomic_if(const char *path, const char *data, size_t len, uint64_t replaces,
                        char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(e));
		return -e;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(e));
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)w;
	}
	/* pmxcfs commits at close: its error is the write's error */
	if (close(fd) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(e));
		unlink(tmp);
		return -e;
	}
	if (replaces) {
		/* pmxcfs's compare-and-swap: the rename fails if path moved on */
		char v[24];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)replaces);
		if (setxattr(tmp, "user.pmxcfs.replaces-version", v, strlen(v), 0) != 0) {
			int e = errno;
			snprintf(err, errlen, "cannot make the replacement of '%s' conditional: %s",
			         path, strerror(e));
			unlink(tmp);
			return -e;
		}
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		if (e == EAGAIN && replaces)
			snprintf(err, errlen, "'%s' changed since it was read", path);
		else
			snprintf(err, errlen, "cannot replace '%s': %s", path, strerror(e));
		unlink(tmp);
		return -e;
	}
	return 0;
}

/* c as CT id's config: exclusively created (excl), or replaced (if at version replaces) */
static int save(long id, const struct ctc_conf *c, bool excl, uint64_t replaces, char *err,
                size_t errlen)
{
	char path[4096];
	size_t len;
	char *text = ctc_print(c, &len);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ctf_path(id, path, sizeof(path));
	int rc = 0;
	if (!excl) {
		rc = ctf_write_atomic_if(path, text, len, replaces, err, errlen);
	} else {
		/* one write and close: pmxcfs commits the whole file at close */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0) {
			rc = -errno;
			if (rc == -EEXIST)
				snprintf(err, errlen, "CT %ld already exists", id);
			else
				snprintf(err, errlen, "cannot create '%s': %s", path,
				         strerror(-rc));
		} else {
			ssize_t w = write(fd, text, len);
			int e = w < 0 ? errno : (size_t)w != len ? EIO : 0;
			if (close(fd) != 0 && !e)
				e = errno;
			if (e) {
				rc = -e;
				snprintf(err, errlen, "cannot write '%s': %s", path, strerror(e));
				unlink(path);
			}
		}
	}
	free(text);
	return rc;
}

int ctf_save_if(long id, const struct ctc_conf *c, uint64_t replaces, char *err, size_t errlen)
{
	return save(id, c, false, replaces, err, errlen);
}

int ctf_save(long id, const struct ctc_conf *c, bool excl, char *err, size_t errlen)
{
	return save(id, c, excl, 0, err, errlen);
}

int ctf_load(long id, struct ctc_conf **out, char *err, size_t errlen)
{
	char path[4096], node[256];
	struct ctc_diag warn = { 0 };

	int where = ctf_locate(id, node, sizeof(node));
	if (where == -EREMOTE) {
		snprintf(err, errlen, "CT %ld is on node '%s', not on this node", id, node);
		return -EREMOTE;
	}
	if (where == -ENOENT) {
		snprintf(err, errlen, "Configuration file 'lxc/%ld.conf' does not exist", id);
		return -ENOENT;
	}
	ctf_path(id, path, sizeof(path));
	int e = ctc_load(path, false, out, &warn, err, errlen);
	for (size_t i = 0; i < warn.n; i++)
		fprintf(stderr, "warning: %s\n", warn.msgs[i]);
	ctc_diag_free(&warn);
	return e;
}
