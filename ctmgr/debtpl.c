/*
 * debtpl.c - building the Debian template; see debtpl.h.
 *
 * debtpl_build() in order; the error message names the step that failed:
 *
 *   lock         <dir>/.pveam-debian-12.lock, then <cache>/.lock (inherited by
 *                debootstrap: an orphaned debootstrap still holds them)
 *   work dir     <dir>/.pveam-debian-12.build.XXXXXX/rootfs (same file system as
 *                the template: the rename is atomic); stale ones of killed
 *                builds are removed first, which the lock makes safe
 *   debootstrap  --variant=minbase --include=DEBTPL_PACKAGES --cache-dir=<cache>,
 *                in a private mount namespace: what it mounts in the tree (/proc,
 *                /sys; a /dev tmpfs with bind-mounted host devices when it thinks
 *                it runs in LXC) goes with it, so nothing of the host can be
 *                reached through the tree when it is removed.  Output: the log.
 *   prune cache  .debs of the cache that this build did not use (older versions)
 *   clean        see clean_tree()
 *   pack         tpl_pack_dir into the work dir, fsync, rename over the template
 *
 * Invariant: the template file is either absent, the previous one, or
 * complete; the work dir never outlives the call.
 */
#include "ctmgr/debtpl.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORK_PREFIX ".pveam-debian-12.build."

/* ---- the host's mirror ---- */

/* 2: the suite we build (or its -security), 1: another Debian suite, 0: not Debian's */
static int suite_rank(const char *suite, bool security)
{
	static const char *const debian[] = { "bullseye", "trixie",  "forky",    "sid",
		                              "stable",   "testing", "unstable", "oldstable" };
	size_t n = strlen(suite);
	if (security) {
		if (n < 10 || strcmp(suite + n - 9, "-security") != 0)
			return 0;
		n -= 9;
	} else if (strchr(suite, '-')) {
		return 0; /* bookworm-updates, bookworm-backports: not a full archive */
	}
	if (n == strlen(DEBTPL_SUITE) && !strncmp(suite, DEBTPL_SUITE, n))
		return 2;
	for (size_t i = 0; i < sizeof(debian) / sizeof(debian[0]); i++)
		if (n == strlen(debian[i]) && !strncmp(suite, debian[i], n))
			return 1;
	return 0;
}

struct found {
	struct debtpl_mirrors *m;
	int archive_rank, security_rank;
};

static void consider(struct found *f, const char *uri, const char *suite)
{
	if (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8) && strncmp(uri, "file:/", 6))
		return;
	for (int sec = 0; sec < 2; sec++) {
		int rank = suite_rank(suite, sec);
		int *best = sec ? &f->security_rank : &f->archive_rank;
		char *dst = sec ? f->m->security : f->m->archive;
		size_t len = sec ? sizeof(f->m->security) : sizeof(f->m->archive);
		if (rank > *best && strlen(uri) < len) {
			*best = rank;
			snprintf(dst, len, "%s", uri);
			for (size_t n = strlen(dst); n > 0 && dst[n - 1] == '/';)
				dst[--n] = '\0';
		}
	}
}

/* One-line style: "deb [ options ] uri suite component..." ('#' starts a comment). */
static void read_list(struct found *f, const char *path)
{
	FILE *in = fopen(path, "re");
	char line[2048];
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "#\n")] = '\0';
		char *save, *tok = strtok_r(line, " \t", &save);
		if (!tok || strcmp(tok, "deb"))
			continue;
		tok = strtok_r(NULL, " \t", &save);
		if (tok && tok[0] == '[') { /* options: up to the word that ends with ']' */
			while (tok && tok[strlen(tok) - 1] != ']')
				tok = strtok_r(NULL, " \t", &save);
			if (tok)
				tok = strtok_r(NULL, " \t", &save);
		}
		char *suite = tok ? strtok_r(NULL, " \t", &save) : NULL;
		if (tok && suite)
			consider(f, tok, suite);
	}
	if (in)
		fclose(in);
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, " \t");
		if (len == n && !strncasecmp(p, word, n))
			return true;
		p += len;
	}
	return false;
}

static void stanza(struct found *f, const char *types, char *uris, const char *suites,
                   const char *enabled)
{
	if (!has_word(types, "deb") || has_word(enabled, "no"))
		return;
	char *save, suite_buf[1024];
	for (char *u = strtok_r(uris, " \t", &save); u; u = strtok_r(NULL, " \t", &save)) {
		snprintf(suite_buf, sizeof(suite_buf), "%s", suites);
		char *save2;
		for (char *s = strtok_r(suite_buf, " \t", &save2); s;
		     s = strtok_r(NULL, " \t", &save2))
			consider(f, u, s);
	}
}

/* deb822 style: stanzas of "Field: value" lines, separated by blank lines. */
static void read_sources(struct found *f, const char *path)
{
	FILE *in = fopen(path, "re");
	char line[2048], types[1024] = "", uris[1024] = "", suites[1024] = "", enabled[64] = "";
	bool eof = !in;
	while (!eof) {
		if ((eof = !fgets(line, sizeof(line), in)))
			line[0] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == ' ' || line[0] == '\t')
			continue; /* comments, continuation lines (Signed-By keys) */
		if (eof || !line[0]) {
			stanza(f, types, uris, suites, enabled);
			types[0] = uris[0] = suites[0] = enabled[0] = '\0';
			continue;
		}
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *val = colon + 1 + strspn(colon + 1, " \t");
		if (!strcasecmp(line, "Types"))
			snprintf(types, sizeof(types), "%s", val);
		else if (!strcasecmp(line, "URIs"))
			snprintf(uris, sizeof(uris), "%s", val);
		else if (!strcasecmp(line, "Suites"))
			snprintf(suites, sizeof(suites), "%s", val);
		else if (!strcasecmp(line, "Enabled"))
			snprintf(enabled, sizeof(enabled), "%s", val);
	}
	if (in)
		fclose(in);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && !strcmp(s + n - m, suffix);
}

void debtpl_find_mirrors(const char *etc_apt, struct debtpl_mirrors *m)
{
	struct found f = { m, 0, 0 };
	char path[4096];
	struct dirent **names = NULL;

	m->archive[0] = m->security[0] = '\0';
	snprintf(path, sizeof(path), "%s/sources.list", etc_apt);
	read_list(&f, path);
	snprintf(path, sizeof(path), "%s/sources.list.d", etc_apt);
	int n = scandir(path, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		snprintf(path, sizeof(path), "%s/sources.list.d/%s", etc_apt, name);
		if (ends_with(name, ".list"))
			read_list(&f, path);
		else if (ends_with(name, ".sources"))
			read_sources(&f, path);
		free(names[i]);
	}
	free(names);
	if (!f.archive_rank)
		snprintf(m->archive, sizeof(m->archive), "http://deb.debian.org/debian");
	if (!f.security_rank)
		snprintf(m->security, sizeof(m->security), "http://deb.debian.org/debian-security");
}

/* ---- running debootstrap ---- */

static int find_in_path(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && snprintf(out, len, "%.*s/%s", (int)n, p, prog) < (int)len &&
		    access(out, X_OK) == 0)
			return 0;
		p += n;
		p += *p == ':';
	}
	return -ENOENT;
}

/* Run prog with argv in a private mount namespace, output to logfd; 0 on exit 0. */
static int run_logged(const char *prog, const char *const *argv, int logfd)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
			dprintf(logfd, "E: cannot make a private mount namespace: %s\n",
			        strerror(errno));
			_exit(126);
		}
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		/* what the chroot's maintainer scripts expect, not the caller's */
		setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
		setenv("LC_ALL", "C", 1);
		setenv("DEBIAN_FRONTEND", "noninteractive", 1);
		execv(prog, (char *const *)argv);
		dprintf(2, "E: cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/*
 * The log's first "E: " line; else its first "W: Failure trying to run"
 * (a maintainer script failed: debootstrap then names only its own log);
 * else its last non-empty line.
 */
static void first_error(const char *log, char *out, size_t len)
{
	FILE *in = fopen(log, "re");
	char line[1024];
	bool failure = false;
	snprintf(out, len, "(no output)");
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "E: ", 3)) {
			snprintf(out, len, "%.300s", line + 3);
			break;
		}
		if (!failure && line[0])
			snprintf(out, len, "%.300s", line);
		if (!strncmp(line, "W: Failure trying to run", 24)) {
			snprintf(out, len, "%.300s", line + 3);
			failure = true;
		}
	}
	if (in)
		fclose(in);
}

/* Append debootstrap's own log (dpkg's errors are there) to ours. */
static void append_file(int logfd, const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	char buf[1 << 14];
	ssize_t n;
	if (in < 0)
		return;
	dprintf(logfd, "\n---- %s ----\n", path);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(logfd, buf, (size_t)n) != n)
			break;
	close(in);
}

/* ---- cleaning the tree ---- */

/* Paths below are relative to the tree and never followed out of it when
 * written: files are replaced (unlink, O_EXCL|O_NOFOLLOW), not written
 * through whatever link a package left there. */

/* "<root>/<rel>" in buf; -ENAMETOOLONG if it does not fit */
static int tpath(char *buf, size_t len, const char *root, const char *rel)
{
	int n = snprintf(buf, len, "%s/%s", root, rel);
	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int put_file(const char *root, const char *rel, mode_t mode, const char *text)
{
	char path[4096];
	if (tpath(path, sizeof(path), root, rel))
		return -ENAMETOOLONG;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int e = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
	if (fchmod(fd, mode) != 0)
		e = -errno;
	close(fd);
	return e;
}

static int put_link(const char *root, const char *rel, const char *target)
{
	char path[4096];
	if (tpath(path, sizeof(path), root, rel))
		return -ENAMETOOLONG;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return symlink(target, path) == 0 ? 0 : -errno;
}

static int remove_file(const char *root, const char *rel)
{
	char path[4096];
	if (tpath(path, sizeof(path), root, rel))
		return -ENAMETOOLONG;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

static bool exists(const char *root, const char *rel)
{
	char path[4096];
	struct stat st;
	return tpath(path, sizeof(path), root, rel) == 0 && lstat(path, &st) == 0;
}

/* Remove what is in directory rel except the names in keep (NULL-terminated). */
static int empty_dir(const char *root, const char *rel, const char *const *keep)
{
	char dir[4096], path[4400];
	if (tpath(dir, sizeof(dir), root, rel))
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int rc = 0;
	for (struct dirent *e; !rc && (e = readdir(d));) {
		bool kept = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
		for (size_t i = 0; keep && keep[i] && !kept; i++)
			kept = !strcmp(e->d_name, keep[i]);
		if (kept)
			continue;
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			rc = -errno;
		else if (S_ISDIR(st.st_mode))
			rc = fsu_rm_rf(path);
		else if (unlink(path) != 0)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

static int truncate_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	int fd = open(p, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * The template must not carry this build's identity or the host's:
 *   /etc/machine-id empty (kept: systemd makes one at first boot, and an empty
 *   file marks the first boot), /var/lib/dbus/machine-id a link to it, no ssh
 *   host keys, /etc/hostname "localhost", /etc/hosts the standard one,
 *   /etc/resolv.conf empty (debootstrap copies the host's; the container's is
 *   written at start), no apt lists, .debs or package caches, logs truncated,
 *   /tmp and /var/tmp empty, dpkg/debconf "-old" backups gone.
 * It is made usable: sources.list with <suite>, -updates and -security;
 * /etc/network/interfaces with lo.  Units that cannot work in a container and
 * fail there are masked (a /dev/null link in /etc/systemd/system):
 *   dev-hugepages.mount, sys-fs-fuse-connections.mount, sys-kernel-config.mount,
 *   sys-kernel-debug.mount, sys-kernel-tracing.mount  (kernel file systems: the
 *       container manager mounts what a container may have; with CAP_SYS_ADMIN
 *       or CAP_SYS_RAWIO kept their mounts are refused by AppArmor)
 *   systemd-journald-audit.socket  (the audit netlink socket is the host's)
 *   e2scrub_reap.service, e2scrub_all.timer  (checks the host's LVM volumes)
 * On failure "what" names the path.
 */
static int clean_tree(const char *root, const struct debtpl_opts *o, const char **what)
{
	static const char *const masked[] = {
		"dev-hugepages.mount",      "sys-fs-fuse-connections.mount",
		"sys-kernel-config.mount",  "sys-kernel-debug.mount",
		"sys-kernel-tracing.mount", "systemd-journald-audit.socket",
		"e2scrub_reap.service",     "e2scrub_all.timer",
	};
	static const char *const backups[] = {
		"var/lib/dpkg/status-old",
		"var/lib/dpkg/diversions-old",
		"var/lib/dpkg/statoverride-old",
		"var/cache/debconf/config.dat-old",
		"var/cache/debconf/templates.dat-old",
		"var/cache/debconf/passwords.dat-old",
	};
	static const char *const keep_partial[] = { "partial", "lock", NULL };
	static const char *const keep_archives[] = { "archives", NULL };
	char text[2048], path[4096];
	int rc;

#define STEP(rel, call)                                                                            \
	do {                                                                                       \
		*what = (rel);                                                                     \
		if ((rc = (call)) != 0)                                                            \
			return rc;                                                                 \
	} while (0)

	STEP("/etc/machine-id", put_file(root, "etc/machine-id", 0444, ""));
	if (exists(root, "var/lib/dbus/machine-id"))
		STEP("/var/lib/dbus/machine-id",
		     put_link(root, "var/lib/dbus/machine-id", "/etc/machine-id"));
	DIR *d = tpath(path, sizeof(path), root, "etc/ssh") ? NULL : opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (strncmp(e->d_name, "ssh_host_", 9))
			continue;
		snprintf(text, sizeof(text), "etc/ssh/%s", e->d_name);
		if ((rc = remove_file(root, text)) != 0) {
			closedir(d);
			*what = "/etc/ssh";
			return rc;
		}
	}
	if (d)
		closedir(d);
	STEP("/etc/hostname", put_file(root, "etc/hostname", 0644, "localhost\n"));
	STEP("/etc/hosts",
	     put_file(root, "etc/hosts", 0644,
	              "127.0.0.1\tlocalhost\n"
	              "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
	              "ff02::1\t\tip6-allnodes\n"
	              "ff02::2\t\tip6-allrouters\n"));
	STEP("/etc/resolv.conf", put_file(root, "etc/resolv.conf", 0644, ""));
	snprintf(text, sizeof(text),
	         "deb %s " DEBTPL_SUITE " main\n"
	         "deb %s " DEBTPL_SUITE "-updates main\n"
	         "deb %s " DEBTPL_SUITE "-security main\n",
	         o->mirror, o->mirror, o->security);
	STEP("/etc/apt/sources.list", put_file(root, "etc/apt/sources.list", 0644, text));
	if (exists(root, "etc/network"))
		STEP("/etc/network/interfaces",
		     put_file(root, "etc/network/interfaces", 0644,
		              "# interfaces(5) file used by ifup(8) and ifdown(8)\n"
		              "# Include files from /etc/network/interfaces.d:\n"
		              "source /etc/network/interfaces.d/*\n\n"
		              "auto lo\n"
		              "iface lo inet loopback\n"));
	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		snprintf(path, sizeof(path), "lib/systemd/system/%s", masked[i]);
		snprintf(text, sizeof(text), "etc/systemd/system/%s", masked[i]);
		if (exists(root, path))
			STEP(masked[i], put_link(root, text, "/dev/null"));
	}
	STEP("/var/lib/apt/lists", empty_dir(root, "var/lib/apt/lists", keep_partial));
	STEP("/var/lib/apt/lists/partial", empty_dir(root, "var/lib/apt/lists/partial", NULL));
	STEP("/var/cache/apt", empty_dir(root, "var/cache/apt", keep_archives));
	STEP("/var/cache/apt/archives", empty_dir(root, "var/cache/apt/archives", keep_partial));
	STEP("/var/cache/apt/archives/partial",
	     empty_dir(root, "var/cache/apt/archives/partial", NULL));
	for (size_t i = 0; i < sizeof(backups) / sizeof(backups[0]); i++)
		STEP(backups[i], remove_file(root, backups[i]));
	STEP("/tmp", empty_dir(root, "tmp", NULL));
	STEP("/var/tmp", empty_dir(root, "var/tmp", NULL));
	*what = "/var/log";
	if (tpath(path, sizeof(path), root, "var/log"))
		return -ENAMETOOLONG;
	if (nftw(path, truncate_one, 16, FTW_PHYS) != 0 && errno != ENOENT)
		return -errno;
#undef STEP
	return 0;
}

/* Drop the cache's .debs that this build did not install (superseded versions). */
static void prune_cache(const char *cache, const char *root)
{
	DIR *d = opendir(cache);
	char path[4400];
	for (struct dirent *e; d && (e = readdir(d));) {
		if (!ends_with(e->d_name, ".deb"))
			continue;
		snprintf(path, sizeof(path), "var/cache/apt/archives/%s", e->d_name);
		if (exists(root, path))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* ---- the build ---- */

/* Is anything mounted at or below dir (a tree we are about to remove)? */
static bool mounted_below(const char *dir)
{
	FILE *in = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096];
	size_t n = strlen(dir);
	bool found = false;
	while (in && !found && fgets(line, sizeof(line), in))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && !strncmp(mnt, dir, n) &&
		    (mnt[n] == '/' || !mnt[n]))
			found = true;
	if (in)
		fclose(in);
	return found;
}

static int lock_file(const char *path, int *fd, char *err, size_t errlen)
{
	/* not O_CLOEXEC: debootstrap inherits the lock and holds it while it lives */
	*fd = open(path, O_RDWR | O_CREAT, 0644);
	if (*fd < 0 || flock(*fd, LOCK_EX) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot lock '%s': %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* Remove the work dirs of builds that were killed (we hold the lock). */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	char path[4400];
	struct stat st;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (strncmp(e->d_name, WORK_PREFIX, strlen(WORK_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && !mounted_below(path))
			fsu_rm_rf(path);
	}
	if (d)
		closedir(d);
}

int debtpl_build(const struct debtpl_opts *o, char *err, size_t errlen)
{
	char dir[4096], lock[4200], cache[4096], work[4200], root[4300], tmp[4400], prog[4096];
	char line[512];
	const char *base = strrchr(o->out, '/'), *what = "";
	int rc = 0, dir_lock = -1, cache_lock = -1, logfd = -1;
	struct stat st;

	if (!o->force && stat(o->out, &st) == 0)
		return 1;
	if (find_in_path("debootstrap", prog, sizeof(prog))) {
		snprintf(err, errlen,
		         "debootstrap not found in $PATH: install the 'debootstrap' package "
		         "(apt-get install debootstrap)");
		return -ENOENT;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "building the Debian template needs root (debootstrap)");
		return -EPERM;
	}
	if (!base ||
	    snprintf(dir, sizeof(dir), "%.*s", (int)(base - o->out), o->out) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "'%s' is not an absolute file name", o->out);
		return -EINVAL;
	}
	base++;
	/* debootstrap wants the cache as an absolute path */
	if ((rc = fsu_mkdirs(o->cache, 0755)) || !realpath(o->cache, cache)) {
		rc = rc ? rc : -errno;
		snprintf(err, errlen, "cannot make the package cache '%s': %s", o->cache,
		         strerror(-rc));
		return rc;
	}
	snprintf(lock, sizeof(lock), "%s/.pveam-debian-12.lock", dir);
	if ((rc = lock_file(lock, &dir_lock, err, errlen)))
		goto out_unlock;
	snprintf(lock, sizeof(lock), "%s/.lock", cache);
	if ((rc = lock_file(lock, &cache_lock, err, errlen)))
		goto out_unlock;
	if (!o->force && stat(o->out, &st) == 0) {
		rc = 1; /* built by the one we waited for */
		goto out_unlock;
	}
	remove_stale(dir);

	snprintf(work, sizeof(work), "%s/" WORK_PREFIX "XXXXXX", dir);
	if (!mkdtemp(work)) {
		rc = -errno;
		snprintf(err, errlen, "cannot make a build directory in '%s': %s", dir,
		         strerror(errno));
		goto out_unlock;
	}
	snprintf(root, sizeof(root), "%s/rootfs", work);
	if (mkdir(root, 0755) != 0 || chmod(root, 0755) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make '%s': %s", root, strerror(errno));
		goto out_remove_work;
	}
	logfd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write the log '%s': %s", o->log, strerror(errno));
		goto out_remove_work;
	}

	char cache_opt[4200];
	snprintf(cache_opt, sizeof(cache_opt), "--cache-dir=%s", cache);
	const char *const argv[] = { "debootstrap",
		                     "--variant=minbase",
		                     "--arch=" DEBTPL_ARCH,
		                     "--components=main",
		                     "--include=" DEBTPL_PACKAGES,
		                     cache_opt,
		                     DEBTPL_SUITE,
		                     root,
		                     o->mirror,
		                     NULL };
	if (o->starting)
		o->starting(o);
	dprintf(logfd, "pveam: %s", prog);
	for (size_t i = 1; argv[i]; i++)
		dprintf(logfd, " %s", argv[i]);
	dprintf(logfd, "\n");
	if ((rc = run_logged(prog, argv, logfd))) {
		snprintf(tmp, sizeof(tmp), "%s/debootstrap/debootstrap.log", root);
		append_file(logfd, tmp);
		first_error(o->log, line, sizeof(line));
		snprintf(err, errlen, "debootstrap failed: %s; see %s", line, o->log);
		goto out_remove_work;
	}
	prune_cache(cache, root);
	if ((rc = clean_tree(root, o, &what))) {
		snprintf(err, errlen, "cannot clean the template tree: %s: %s", what,
		         strerror(-rc));
		goto out_remove_work;
	}

	snprintf(tmp, sizeof(tmp), "%s/%s", work, base);
	char msg[1024];
	if ((rc = tpl_pack_dir(root, tmp, msg, sizeof(msg)))) {
		snprintf(err, errlen, "cannot pack the template: %s", msg);
		goto out_remove_work;
	}
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0 || rename(tmp, o->out) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", o->out, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	if (!rc && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd); /* the rename */
		close(fd);
	}

out_remove_work:
	if (logfd >= 0)
		close(logfd);
	if (!rc)
		unlink(o->log);
	if (mounted_below(work)) { /* cannot happen (private namespace): never rm through it */
		if (!rc) {
			snprintf(err, errlen, "'%s' has mounts left: not removed", work);
			rc = -EBUSY;
		}
	} else {
		fsu_rm_rf(work);
	}
out_unlock:
	if (cache_lock >= 0)
		close(cache_lock);
	if (dir_lock >= 0)
		close(dir_lock);
	return rc;
}
