/*
 * guest.c - guest OS set-up: files inside the rootfs, PVE regions,
 * detection and the pieces every distribution shares; see guest.h.
 */
#include "ctmgr/guest.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/lxcgen.h"
#include "pmxcfs/sbuf.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REGION_HEAD "# --- BEGIN PVE ---"
#define REGION_TAIL "# --- END PVE ---"

int guest_fail(struct guest *g, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* ------------------------------------------------------------ paths */

/*
 * path opened inside the rootfs, symlinks resolved as if chrooted there;
 * xdev: RESOLVE_NO_XDEV as well (where we write: never into another mount
 * below the rootfs, such as a host directory bind-mounted into the CT,
 * which the guest could point /etc/... at with a symlinked directory).
 */
static int in_root_x(const struct guest *g, const char *path, int flags, mode_t mode, bool xdev)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (xdev ? RESOLVE_NO_XDEV : 0);
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	long fd = syscall(SYS_openat2, g->root, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int in_root(const struct guest *g, const char *path, int flags, mode_t mode)
{
	return in_root_x(g, path, flags, mode, false);
}

/*
 * A regular file of the rootfs opened for reading: looked up with O_PATH,
 * checked, then reopened, so a FIFO, device node or tty planted by the
 * guest is never opened (no hang, no device side effects).
 */
static int open_regular(const struct guest *g, const char *path)
{
	struct stat st;
	char proc[64];
	int p = in_root(g, path, O_PATH, 0);
	if (p < 0)
		return p;
	if (fstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(p);
		return -EINVAL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
	int fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int e = errno;
	close(p);
	return fd < 0 ? -e : fd;
}

/* Why a directory of the rootfs could not be opened (parent_of, in_root_x with xdev). */
static const char *dir_why(int rc)
{
	return rc == -EXDEV ? "it is on another file system (a mount point in the container): "
	                      "not written"
	                    : strerror(-rc);
}

/* The directory of path (opened in the rootfs) and its last component. */
static int parent_of(const struct guest *g, const char *path, char *name, size_t len)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || strlen(base) >= len)
		return -EINVAL;
	snprintf(name, len, "%s", base);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
	return in_root_x(g, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0, true);
}

static bool stat_in_root(struct guest *g, const char *path, struct stat *st)
{
	int fd = in_root(g, path, O_PATH, 0);
	if (fd < 0)
		return false;
	bool ok = fstat(fd, st) == 0;
	close(fd);
	return ok;
}

bool guest_is_file(struct guest *g, const char *path)
{
	struct stat st;
	return stat_in_root(g, path, &st) && S_ISREG(st.st_mode);
}

bool guest_is_dir(struct guest *g, const char *path)
{
	struct stat st;
	return stat_in_root(g, path, &st) && S_ISDIR(st.st_mode);
}

bool guest_is_executable(struct guest *g, const char *path)
{
	struct stat st;
	return stat_in_root(g, path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

bool guest_is_symlink(struct guest *g, const char *path)
{
	char name[256];
	struct stat st;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return false;
	bool r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
	close(dfd);
	return r;
}

bool guest_ignored(struct guest *g, const char *path)
{
	char name[256], ign[300];
	struct stat st;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return false;
	snprintf(ign, sizeof(ign), ".pve-ignore.%s", name);
	bool r = fstatat(dfd, ign, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	close(dfd);
	return r;
}

int guest_read(struct guest *g, const char *path, char **data, size_t *len)
{
	int fd = open_regular(g, path);
	if (fd < 0)
		return fd;
	struct sbuf b = SBUF_INIT;
	char buf[8192];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		/* configuration files: 1 MiB is plenty, and bounds what a guest costs us */
		if (r < 0 || b.len > 1024 * 1024) {
			int e = r < 0 ? -errno : -EFBIG;
			close(fd);
			sbuf_release(&b);
			return e;
		}
		sbuf_add(&b, buf, (size_t)r);
	}
	close(fd);
	sbuf_add(&b, "", 0);
	*data = sbuf_detach(&b, len);
	return *data ? 0 : -ENOMEM;
}

char *guest_read_firstline(struct guest *g, const char *path)
{
	char *d;
	size_t n;
	if (guest_read(g, path, &d, &n))
		return NULL;
	d[strcspn(d, "\n")] = '\0';
	return d;
}

int guest_write(struct guest *g, const char *path, const char *data, size_t len, mode_t mode)
{
	char name[256], tmp[300];
	struct stat st;
	if (guest_ignored(g, path))
		return 0;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return guest_fail(g, dfd, "cannot open the directory of %s in the container: %s",
		                  path, dir_why(dfd));
	uid_t uid = g->uid;
	gid_t gid = g->gid;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		mode = st.st_mode & 07777;
		uid = st.st_uid;
		gid = st.st_gid;
	} else if (!mode) {
		mode = 0644;
	}
	/* a random name: the guest cannot plant it beforehand */
	int fd = -1;
	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		unsigned r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned)getpid() * 2654435761u + (unsigned)tries;
		snprintf(tmp, sizeof(tmp), ".%s.pve-tmp.%08x", name, r);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int e = errno;
		close(dfd);
		return guest_fail(g, -e, "cannot write %s in the container: %s", path, strerror(e));
	}
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (rc == 0 && (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0))
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, tmp, dfd, name) != 0)
		rc = -errno;
	if (rc) {
		unlinkat(dfd, tmp, 0);
		guest_fail(g, rc, "cannot write %s in the container: %s", path, strerror(-rc));
	}
	close(dfd);
	return rc;
}

int guest_write_sb(struct guest *g, const char *path, const struct sbuf *b, mode_t mode)
{
	if (b->oom)
		return guest_fail(g, -ENOMEM, "out of memory writing %s", path);
	return guest_write(g, path, b->buf ? b->buf : "", b->len, mode);
}

int guest_mkdirs(struct guest *g, const char *path, mode_t mode)
{
	char prefix[4096] = "";
	size_t plen = 0;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (!n)
			break;
		if (plen + n + 2 >= sizeof(prefix))
			return guest_fail(g, -ENAMETOOLONG, "path too long: %s", path);
		int dfd = in_root_x(g, plen ? prefix : "/", O_PATH | O_DIRECTORY, 0, true);
		if (dfd < 0)
			return guest_fail(g, dfd, "cannot open %s in the container: %s",
			                  plen ? prefix : "/", dir_why(dfd));
		char comp[256];
		snprintf(comp, sizeof(comp), "%.*s", (int)n, p);
		if (mkdirat(dfd, comp, mode) == 0) {
			if (fchownat(dfd, comp, g->uid, g->gid, AT_SYMLINK_NOFOLLOW) != 0) {
				int e = errno;
				close(dfd);
				return guest_fail(g, -e, "cannot chown %s: %s", path, strerror(e));
			}
		} else if (errno != EEXIST) {
			int e = errno;
			close(dfd);
			return guest_fail(g, -e, "cannot create %s in the container: %s", path,
			                  strerror(e));
		}
		close(dfd);
		prefix[plen++] = '/';
		memcpy(prefix + plen, p, n);
		plen += n;
		prefix[plen] = '\0';
		p += n;
	}
	return guest_is_dir(g, path) ? 0 : guest_fail(g, -ENOTDIR, "%s is not a directory", path);
}

int guest_unlink(struct guest *g, const char *path)
{
	char name[256];
	if (guest_ignored(g, path))
		return 0;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	int rc = unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : -errno;
	close(dfd);
	return rc ? guest_fail(g, rc, "cannot remove %s: %s", path, strerror(-rc)) : 0;
}

int guest_symlink(struct guest *g, const char *target, const char *path)
{
	char name[256];
	if (guest_ignored(g, path))
		return 0;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return guest_fail(g, dfd, "cannot open the directory of %s: %s", path,
		                  dir_why(dfd));
	int rc = 0;
	if (symlinkat(target, dfd, name) != 0 ||
	    fchownat(dfd, name, g->uid, g->gid, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	close(dfd);
	return rc ? guest_fail(g, rc, "cannot create the link %s: %s", path, strerror(-rc)) : 0;
}

/* ---------------------------------------------------------------- regions */

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Perl's split(/\n/, s): empty trailing fields dropped; NULL when out of memory */
static char **split_lines(const char *s, size_t *n)
{
	size_t cap = 16, k = 0;
	char **v = malloc(cap * sizeof(*v));
	if (!v)
		return NULL;
	for (const char *p = s; *p;) {
		size_t l = strcspn(p, "\n");
		char **nv = k < cap ? v : realloc(v, (cap *= 2) * sizeof(*v));
		char *line = nv ? strndup(p, l) : NULL;
		if (!line) { /* all or nothing: never a file with lines missing */
			free_lines(nv ? nv : v, k);
			return NULL;
		}
		v = nv;
		v[k++] = line;
		p += l + (p[l] == '\n');
	}
	while (k > 0 && !v[k - 1][0])
		free(v[--k]);
	*n = k;
	return v;
}

/* "#", spaces, "---", spaces, word, spaces, "PVE" at the start of the line */
static bool region_mark(const char *line, const char *word, bool nocase)
{
	const char *p = line;
	if (*p++ != '#')
		return false;
	p += strspn(p, " \t");
	if (strncmp(p, "---", 3) != 0)
		return false;
	p += 3;
	p += strspn(p, " \t");
	size_t w = strlen(word);
	if (nocase ? strncasecmp(p, word, w) != 0 : strncmp(p, word, w) != 0)
		return false;
	p += w;
	p += strspn(p, " \t");
	return nocase ? strncasecmp(p, "PVE", 3) == 0 : strncmp(p, "PVE", 3) == 0;
}

int guest_modify_region(struct guest *g, const char *path, const char *data,
                        enum guest_region_mode mode, mode_t perms, bool del)
{
	struct sbuf d = SBUF_INIT, out = SBUF_INIT;
	int rc = 0;
	if (guest_ignored(g, path))
		return 0;
	sbuf_addf(&d, "%s", data ? data : "");
	if (d.len && d.buf[d.len - 1] != '\n')
		sbuf_add(&d, "\n", 1);
	bool have_data = d.len > 0;
	if (!guest_is_file(g, path)) {
		if (have_data) {
			sbuf_addf(&out, REGION_HEAD "\n%s" REGION_TAIL "\n", d.buf);
			rc = guest_write_sb(g, path, &out, perms);
		}
		goto done;
	}
	char *old;
	size_t oldlen, n;
	if ((rc = guest_read(g, path, &old, &oldlen)))
		goto done;
	char **lines = split_lines(old, &n);
	free(old);
	if (!lines) {
		rc = -ENOMEM;
		goto done;
	}
	size_t beg = n, end = n;
	for (size_t i = 0; i < n; i++) {
		if (beg == n && region_mark(lines[i], "BEGIN", false))
			beg = i;
		else if (beg != n && end == n && region_mark(lines[i], "END", true))
			end = i;
		if (beg != n && end != n)
			break;
	}
	if (beg != n && end != n) {
		if (!have_data && beg == 0 && end == n - 1) {
			if (del)
				rc = guest_unlink(g, path);
			free_lines(lines, n);
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			/*
			 * (the reference leaves a blank line after an emptied region,
			 * one more each run: we stay idempotent instead)
			 */
			if (i == beg)
				sbuf_addf(&out, REGION_HEAD "\n%s" REGION_TAIL "\n",
				          d.len ? d.buf : "");
			else if (i < beg || i > end)
				sbuf_addf(&out, "%s\n", lines[i]);
		}
		rc = guest_write_sb(g, path, &out, perms);
	} else if (have_data) {
		struct sbuf content = SBUF_INIT;
		for (size_t i = 0; i < n; i++)
			sbuf_addf(&content, i ? "\n%s" : "%s", lines[i]);
		sbuf_add(&content, "\n", 1);
		if (mode == GUEST_REPLACE)
			sbuf_addf(&out, REGION_HEAD "\n%s" REGION_TAIL "\n", d.buf);
		else if (mode == GUEST_PREPEND)
			sbuf_addf(&out, REGION_HEAD "\n%s" REGION_TAIL "\n%s", d.buf, content.buf);
		else
			sbuf_addf(&out, "%s" REGION_HEAD "\n%s" REGION_TAIL "\n", content.buf,
			          d.buf);
		sbuf_release(&content);
		rc = guest_write_sb(g, path, &out, perms);
	}
	free_lines(lines, n);
done:
	sbuf_release(&d);
	sbuf_release(&out);
	return rc;
}

char *guest_strip_regions(const char *text)
{
	/*
	 * Every region, recognised the way guest_modify_region finds them
	 * (the same loose markers), from a BEGIN line to the first END line
	 * after it; an unterminated BEGIN keeps the rest.
	 */
	struct sbuf b = SBUF_INIT;
	const char *head = NULL;
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");
		char line[128];
		snprintf(line, sizeof(line), "%.*s", (int)(l < 127 ? l : 127), p);
		const char *q = line + strspn(line, " \t");
		if (!head && region_mark(q, "BEGIN", false)) {
			head = p;
		} else if (head && region_mark(q, "END", true)) {
			head = NULL;
		} else if (!head) {
			sbuf_add(&b, p, l + (p[l] == '\n'));
		}
		p += l + (p[l] == '\n');
	}
	if (head)
		sbuf_addf(&b, "%s", head);
	sbuf_add(&b, "", 0);
	return sbuf_detach(&b, NULL);
}

/* ------------------------------------------------------ config helpers */

size_t guest_nets(const struct guest *g, struct guest_net *out, size_t max)
{
	size_t k = 0;
	for (int i = 0; i < 32 && k < max; i++) {
		char key[16], v[64];
		snprintf(key, sizeof(key), "net%d", i);
		const char *val = ctc_get(g->conf, key);
		if (!val)
			continue;
		struct guest_net *n = &out[k];
		memset(n, 0, sizeof(*n));
		n->index = i;
		if (cts_prop_get(val, NULL, "name", n->name, sizeof(n->name)) != 1)
			continue;
		cts_prop_get(val, NULL, "ip", n->ip, sizeof(n->ip));
		cts_prop_get(val, NULL, "gw", n->gw, sizeof(n->gw));
		cts_prop_get(val, NULL, "ip6", n->ip6, sizeof(n->ip6));
		cts_prop_get(val, NULL, "gw6", n->gw6, sizeof(n->gw6));
		cts_prop_get(val, NULL, "hwaddr", n->hwaddr, sizeof(n->hwaddr));
		if (cts_prop_get(val, NULL, "mtu", v, sizeof(v)) == 1)
			n->mtu = atoi(v);
		k++;
	}
	return k;
}

bool guest_ip_in_cidr(const char *addr, const char *cidr, int family)
{
	unsigned char a[16], c[16];
	char net[64];
	const char *slash = strchr(cidr, '/');
	int af = family == 6 ? AF_INET6 : AF_INET, bits = family == 6 ? 128 : 32;
	int len = slash ? atoi(slash + 1) : bits;
	snprintf(net, sizeof(net), "%.*s", slash ? (int)(slash - cidr) : (int)strlen(cidr), cidr);
	if (inet_pton(af, addr, a) != 1 || inet_pton(af, net, c) != 1 || len < 0 || len > bits)
		return false;
	for (int i = 0; i < len; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((a[byte] >> bit) & 1) != ((c[byte] >> bit) & 1))
			return false;
	}
	return true;
}

void guest_primary_ips(const struct guest *g, char *ip4, size_t l4, char *ip6, size_t l6)
{
	const char *v = ctc_get(g->conf, "net0");
	ip4[0] = ip6[0] = '\0';
	if (!v)
		return;
	if (cts_prop_get(v, NULL, "ip", ip4, l4) == 1) {
		if (!strcmp(ip4, "dhcp") || !strcmp(ip4, "manual"))
			ip4[0] = '\0';
		ip4[strcspn(ip4, "/")] = '\0';
	}
	if (cts_prop_get(v, NULL, "ip6", ip6, l6) == 1) {
		if (!strcmp(ip6, "auto") || !strcmp(ip6, "dhcp") || !strcmp(ip6, "manual"))
			ip6[0] = '\0';
		ip6[strcspn(ip6, "/")] = '\0';
	}
}

/* The words of a list ("a,b c;d") joined by one space. */
static void join_list(const char *in, char *out, size_t len)
{
	size_t k = 0;
	out[0] = '\0';
	for (const char *p = in; *p;) {
		p += strspn(p, " \t,;");
		size_t n = strcspn(p, " \t,;");
		if (!n)
			break;
		int w = snprintf(out + k, len - k, "%s%.*s", k ? " " : "", (int)n, p);
		if (w < 0 || (size_t)w >= len - k)
			break;
		k += (size_t)w;
		p += n;
	}
}

void guest_dns(struct guest *g, char *search, size_t slen, char *servers, size_t nlen)
{
	const char *ns = ctc_get(g->conf, "nameserver"), *sd = ctc_get(g->conf, "searchdomain");
	char hsearch[512] = "", hns[512] = "";
	if (!ns || !sd) {
		FILE *f = fopen(g->host_resolv ? g->host_resolv : "/etc/resolv.conf", "re");
		char line[512];
		int count = 0;
		while (f && fgets(line, sizeof(line), f)) {
			char w[256];
			line[strcspn(line, "\n")] = '\0';
			if (sscanf(line, "nameserver %255s", w) == 1 && count < 3) {
				size_t l = strlen(hns);
				snprintf(hns + l, sizeof(hns) - l, "%s%s", l ? " " : "", w);
				count++;
			} else if (!strncmp(line, "search", 6) &&
			           (line[6] == ' ' || line[6] == '\t')) {
				snprintf(hsearch, sizeof(hsearch), "%s", line + 7);
			} else if (!hsearch[0] && !strncmp(line, "domain", 6) &&
			           (line[6] == ' ' || line[6] == '\t')) {
				snprintf(hsearch, sizeof(hsearch), "%s", line + 7);
			}
		}
		if (f)
			fclose(f);
	}
	join_list(sd ? sd : hsearch, search, slen);
	join_list(ns ? ns : hns, servers, nlen);
}

int guest_tty_count(const struct guest *g)
{
	const char *v = ctc_get(g->conf, "tty");
	return v ? atoi(v) : 2;
}

const char *guest_devttydir(const struct guest *g)
{
	return g->unprivileged ? "" : "lxc/";
}

int guest_vercmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		long x = strtol(a, &ea, 10), y = strtol(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
		if (ea == a && eb == b && (*a || *b)) /* non-numeric rest */
			return strcmp(a, b);
		if (!*ea && !*eb)
			break;
	}
	return 0;
}

/* ------------------------------------------------------- shared set-up */

int guest_update_hosts(struct guest *g, const char *hostname)
{
	char search[512], servers[512], ip4[64], ip6[80], names[1024];
	struct sbuf sec = SBUF_INIT;
	size_t dot = strcspn(hostname, ".");
	guest_dns(g, search, sizeof(search), servers, sizeof(servers));
	guest_primary_ips(g, ip4, sizeof(ip4), ip6, sizeof(ip6));
	if (hostname[dot]) {
		snprintf(names, sizeof(names), "%s %.*s", hostname, (int)dot, hostname);
	} else {
		size_t k = 0;
		names[0] = '\0';
		for (const char *p = search; *p;) {
			size_t n = strcspn(p, " ");
			k += (size_t)snprintf(names + k, sizeof(names) - k, "%s%s.%.*s",
			                      k ? " " : "", hostname, (int)n, p);
			p += n + (p[n] == ' ');
			if (k >= sizeof(names))
				break;
		}
		if (k < sizeof(names))
			snprintf(names + k, sizeof(names) - k, "%s%s", k ? " " : "", hostname);
	}
	const char *lo4 = "127.0.0.1 localhost.localnet localhost\n";
	const char *lo6 = "::1 localhost.localnet localhost\n";
	char *old;
	size_t len;
	if (guest_is_file(g, "/etc/hosts") && guest_read(g, "/etc/hosts", &old, &len) == 0) {
		char *rest = guest_strip_regions(old);
		bool have4 = false, have6 = false;
		for (const char *p = rest ? rest : ""; *p;) {
			size_t l = strcspn(p, "\n");
			const char *q = p + strspn(p, " \t");
			have4 |= !strncmp(q, "127.0.0.1", 9) && (q[9] == ' ' || q[9] == '\t');
			have6 |= !strncmp(q, "::1", 3) && (q[3] == ' ' || q[3] == '\t');
			p += l + (p[l] == '\n');
		}
		if (!have4)
			sbuf_addf(&sec, "%s", lo4);
		if (!have6)
			sbuf_addf(&sec, "%s", lo6);
		free(rest);
		free(old);
	} else {
		sbuf_addf(&sec, "%s%s", lo4, lo6);
	}
	const char *ip = ip4[0] ? ip4 : ip6;
	if (ip[0])
		sbuf_addf(&sec, "%s %s\n", ip, names);
	else if (dot != 9 || strncmp(hostname, "localhost", 9) != 0)
		sbuf_addf(&sec, "127.0.1.1 %s\n", names);
	else
		sbuf_addf(&sec, "127.0.1.1 localhost\n");
	int rc = guest_modify_region(g, "/etc/hosts", sec.buf, GUEST_APPEND, 0, false);
	sbuf_release(&sec);
	return rc;
}

const char *guest_hostname(const struct guest *g)
{
	const char *h = ctc_get(g->conf, "hostname");
	return h && h[0] ? h : "localhost";
}

int guest_set_hostname(struct guest *g)
{
	const char *h = guest_hostname(g);
	char line[300];
	int rc = guest_update_hosts(g, h);
	if (rc)
		return rc;
	snprintf(line, sizeof(line), "%.*s\n", (int)strcspn(h, "."), h);
	return guest_write(g, "/etc/hostname", line, strlen(line), 0);
}

int guest_set_dns(struct guest *g)
{
	char search[512], servers[512];
	struct sbuf d = SBUF_INIT;
	guest_dns(g, search, sizeof(search), servers, sizeof(servers));
	if (search[0])
		sbuf_addf(&d, "search %s\n", search);
	for (const char *p = servers; *p;) {
		size_t n = strcspn(p, " ");
		sbuf_addf(&d, "nameserver %.*s\n", (int)n, p);
		p += n + (p[n] == ' ');
	}
	int rc =
	    guest_modify_region(g, "/etc/resolv.conf", d.buf ? d.buf : "", GUEST_REPLACE, 0, false);
	sbuf_release(&d);
	return rc;
}

int guest_set_timezone(struct guest *g)
{
	const char *tz = ctc_get(g->conf, "timezone");
	char zone[256], path[300], cur[300];
	if (!tz)
		return 0;
	if (!strcmp(tz, "host")) {
		FILE *f = fopen("/etc/timezone", "re");
		zone[0] = '\0';
		if (f) {
			if (fgets(zone, sizeof(zone), f))
				zone[strcspn(zone, "\n")] = '\0';
			fclose(f);
		}
		ssize_t l;
		if (!zone[0] && (l = readlink("/etc/localtime", cur, sizeof(cur) - 1)) > 0) {
			cur[l] = '\0';
			const char *z = strstr(cur, "zoneinfo/");
			snprintf(zone, sizeof(zone), "%s", z ? z + 9 : "");
		}
		if (!zone[0]) {
			fprintf(stderr, "warning: the host's time zone is unknown - not set\n");
			return 0;
		}
	} else {
		snprintf(zone, sizeof(zone), "%s", tz);
	}
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zone);
	if (!guest_is_file(g, path)) {
		fprintf(stderr,
		        "warning: container does not have %s, timezone can not be modified\n",
		        path);
		return 0;
	}
	/* /etc/localtime -> the zone file: a new link renamed over the old */
	int dfd = in_root(g, "/etc", O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return guest_fail(g, dfd, "cannot open /etc in the container: %s", strerror(-dfd));
	ssize_t l = readlinkat(dfd, "localtime", cur, sizeof(cur) - 1);
	int rc = 0;
	if (!(l > 0 && (cur[l] = '\0', !strcmp(cur, path))) &&
	    !guest_ignored(g, "/etc/localtime")) {
		char tmp[64];
		snprintf(tmp, sizeof(tmp), ".localtime.pve-tmp.%d", (int)getpid());
		unlinkat(dfd, tmp, 0);
		if (symlinkat(path, dfd, tmp) != 0 ||
		    fchownat(dfd, tmp, g->uid, g->gid, AT_SYMLINK_NOFOLLOW) != 0 ||
		    renameat(dfd, tmp, dfd, "localtime") != 0) {
			rc =
			    guest_fail(g, -errno, "cannot set /etc/localtime: %s", strerror(errno));
			unlinkat(dfd, tmp, 0);
		}
	}
	close(dfd);
	if (rc == 0 && guest_is_file(g, "/etc/timezone")) {
		char line[300];
		snprintf(line, sizeof(line), "%s\n", zone);
		rc = guest_write(g, "/etc/timezone", line, strlen(line), 0);
	}
	return rc;
}

static const char *systemd_dir(struct guest *g)
{
	return guest_is_executable(g, "/lib/systemd/systemd") ? "/lib/systemd/system"
	                                                      : "/usr/lib/systemd/system";
}

char *guest_replace_line(const char *data, const char *old, const char *new)
{
	size_t ol = strlen(old);
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		if (l == ol && !strncmp(p, old, ol)) {
			struct sbuf b = SBUF_INIT;
			sbuf_add(&b, data, (size_t)(p - data));
			sbuf_addf(&b, "%s%s", new, p + l);
			return sbuf_detach(&b, NULL);
		}
		p += l + (p[l] == '\n');
	}
	return NULL;
}

int guest_fixup_old_getty(struct guest *g)
{
	char getty[128], cgetty[128], *raw;
	size_t len;
	snprintf(getty, sizeof(getty), "%s/getty@.service", systemd_dir(g));
	snprintf(cgetty, sizeof(cgetty), "%s/container-getty@.service", systemd_dir(g));
	if (!guest_is_file(g, getty) || guest_read(g, getty, &raw, &len))
		return 0;
	/* systemd without container-getty@ (CentOS 7.1): getty@ on /dev/tty, else /dev/tty0 */
	char *nraw = guest_is_file(g, cgetty)
	    ? guest_replace_line(raw, "ConditionPathExists=/dev/tty",
	                         "ConditionPathExists=/dev/tty0")
	    : guest_replace_line(raw, "ConditionPathExists=/dev/tty0",
	                         "ConditionPathExists=/dev/tty");
	int rc = nraw ? guest_write(g, getty, nraw, strlen(nraw), 0) : 0;
	free(nraw);
	free(raw);
	return rc;
}

int guest_setup_systemd_console(struct guest *g)
{
	char getty[128], *raw;
	size_t len;
	snprintf(getty, sizeof(getty), "%s/getty@.service", systemd_dir(g));
	if (!guest_is_file(g, getty) || guest_read(g, getty, &raw, &len))
		return 0; /* none (or unreadable): no gettys to link */
	free(raw);
	int rc = guest_fixup_old_getty(g);
	if (rc)
		return rc;
	int ttys = guest_tty_count(g);
	for (int i = 1; i < 7 && rc == 0; i++) {
		char lnk[128];
		snprintf(lnk, sizeof(lnk),
		         "/etc/systemd/system/getty.target.wants/getty@tty%d.service", i);
		if (i > ttys) {
			rc = guest_unlink(g, lnk);
		} else if (!guest_is_symlink(g, lnk)) {
			if (!guest_is_dir(g, "/etc/systemd/system/getty.target.wants") &&
			    (rc = guest_mkdirs(g, "/etc/systemd/system/getty.target.wants", 0755)))
				break;
			guest_unlink(g, lnk);
			rc = guest_symlink(g, getty, lnk);
		}
	}
	return rc;
}

int guest_setup_container_getty(struct guest *g)
{
	char path[128], *raw;
	size_t len;
	snprintf(path, sizeof(path), "%s/container-getty@.service", systemd_dir(g));
	if (guest_read(g, path, &raw, &len))
		return 0;
	/* every "pts/%I" or "lxc/tty%I" becomes <devttydir>tty%I */
	struct sbuf b = SBUF_INIT;
	bool changed = false;
	char want[16];
	snprintf(want, sizeof(want), "%stty%%I", guest_devttydir(g));
	for (const char *p = raw; *p;) {
		if (!strncmp(p, "pts/%I", 6) || !strncmp(p, "lxc/tty%I", 9)) {
			size_t l = p[0] == 'p' ? 6 : 9;
			changed |= strlen(want) != l || strncmp(p, want, l) != 0;
			sbuf_addf(&b, "%s", want);
			p += l;
		} else {
			sbuf_add(&b, p, 1);
			p++;
		}
	}
	int rc = changed ? guest_write_sb(g, path, &b, 0) : 0;
	sbuf_release(&b);
	free(raw);
	return rc;
}

int guest_setup_securetty(struct guest *g)
{
	char *data;
	size_t len;
	if (!guest_is_file(g, "/etc/securetty") || guest_read(g, "/etc/securetty", &data, &len))
		return 0;
	struct sbuf b = SBUF_INIT;
	sbuf_addf(&b, "%s", data);
	if (b.len && b.buf[b.len - 1] == '\n') /* Perl's chomp: one newline */
		b.buf[--b.len] = '\0';
	sbuf_add(&b, "\n", 1);
	static const char *const devs[] = { "console", "tty1", "tty2", "tty3", "tty4" };
	for (size_t i = 0; i < 5; i++) {
		char dev[32];
		snprintf(dev, sizeof(dev), "%s%s", guest_devttydir(g), devs[i]);
		bool found = false;
		for (const char *p = b.buf; *p && !found;) {
			size_t l = strcspn(p, "\n"), dl = strlen(dev);
			found = l >= dl && !strncmp(p, dev, dl) && strspn(p + dl, " \t") == l - dl;
			p += l + (p[l] == '\n');
		}
		if (!found)
			sbuf_addf(&b, "%s\n", dev);
	}
	int rc = strcmp(b.buf, data) ? guest_write_sb(g, "/etc/securetty", &b, 0) : 0;
	sbuf_release(&b);
	free(data);
	return rc;
}

int guest_setup_systemd_networkd(struct guest *g)
{
	struct guest_net nets[32];
	size_t n = guest_nets(g, nets, 32);
	int rc = 0;
	if (n && !guest_is_dir(g, "/etc/systemd/network") &&
	    (rc = guest_mkdirs(g, "/etc/systemd/network", 0755)))
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct guest_net *d = &nets[i];
		struct sbuf b = SBUF_INIT, routes = SBUF_INIT;
		char path[128];
		int dhcp = 0;
		bool v4 = false, v6 = false;
		sbuf_addf(
		    &b,
		    "[Match]\nName = %s\n\n[Network]\nDescription = Interface %s autoconfigured "
		    "by PVE\n",
		    d->name, d->name);
		if (d->ip[0]) {
			if (!strcmp(d->ip, "dhcp"))
				dhcp |= 1;
			else if (strcmp(d->ip, "manual") != 0) {
				v4 = true;
				sbuf_addf(&b, "Address = %s\n", d->ip);
			}
		}
		if (d->gw[0]) {
			sbuf_addf(&b, "Gateway = %s\n", d->gw);
			if (v4 && !guest_ip_in_cidr(d->gw, d->ip, 4))
				sbuf_addf(&routes, "\n[Route]\nDestination = %s/32\nScope = link\n",
				          d->gw);
		}
		bool accept_ra = false;
		if (d->ip6[0]) {
			if (!strcmp(d->ip6, "dhcp")) {
				dhcp |= 2;
				accept_ra = true;
			} else if (!strcmp(d->ip6, "auto")) {
				accept_ra = true;
			} else if (strcmp(d->ip6, "manual") != 0) {
				v6 = true;
				sbuf_addf(&b, "Address = %s\n", d->ip6);
			}
		}
		if (d->gw6[0]) {
			accept_ra = false;
			sbuf_addf(&b, "Gateway = %s\n", d->gw6);
			if (v6 && !guest_ip_in_cidr(d->gw6, d->ip6, 6) &&
			    !guest_ip_in_cidr(d->gw6, "fe80::/10", 6))
				sbuf_addf(&routes,
				          "\n[Route]\nDestination = %s/128\nScope = link\n",
				          d->gw6);
		}
		static const char *const modes[] = { "no", "ipv4", "ipv6", "yes" };
		sbuf_addf(&b, "DHCP = %s\nIPv6AcceptRA = %s\n", modes[dhcp],
		          accept_ra ? "true" : "false");
		if (routes.len)
			sbuf_addf(&b, "%s", routes.buf);
		snprintf(path, sizeof(path), "/etc/systemd/network/%s.network", d->name);
		rc = guest_write_sb(g, path, &b, 0);
		sbuf_release(&b);
		sbuf_release(&routes);
	}
	return rc;
}

/* ------------------------------------------------------------ detection */

static const struct {
	const char *id, *ostype;
} id_alias[] = {
	{ "debian", "debian" },
	{ "devuan", "devuan" },
	{ "ubuntu", "ubuntu" },
	{ "centos", "centos" },
	{ "rocky", "centos" },
	{ "almalinux", "centos" },
	{ "fedora", "fedora" },
	{ "opensuse", "opensuse" },
	{ "opensuse-leap", "opensuse" },
	{ "opensuse-tumbleweed", "opensuse" },
	{ "opensuse-slowroll", "opensuse" },
	{ "sles", "opensuse" },
	{ "arch", "archlinux" },
	{ "archlinux", "archlinux" },
	{ "alpine", "alpine" },
	{ "gentoo", "gentoo" },
	{ "nixos", "nixos" },
};

/*
 * A value of os-release the way the reference reads it: 'single' quoted
 * taken verbatim; "double" quoted with \" \' \` \$ \\ unescaped, \n and \t
 * made a newline and a tab, any other backslash kept; an unterminated
 * quote gives "".  A bare value runs to a blank or '#', a backslash taking
 * the next character (the reference stops a bare value at the first
 * character outside [A-Za-z0-9], cutting VERSION_ID=3.19.1 to "3"; the
 * whole word is kept here, as os-release(5) readers do).
 */
static void os_release_value(const char *v, char *out, size_t len)
{
	size_t k = 0;
	out[0] = '\0';
	if (*v == '\'' || *v == '"') {
		char q = *v++;
		const char *end = NULL;
		for (const char *p = v; *p && *p != '\n' && !end; p++) {
			if (q == '"' && *p == '\\' && p[1] && p[1] != '\n')
				p++;
			else if (*p == q)
				end = p;
		}
		if (!end)
			return; /* unterminated */
		for (; v < end && k + 1 < len; v++) {
			char c = *v;
			if (q == '"' && c == '\\') {
				char n = v[1];
				if (n == '"' || n == '\'' || n == '`' || n == '$' || n == '\\')
					c = *++v;
				else if (n == 'n' || n == 't')
					c = *++v == 'n' ? '\n' : '\t';
			}
			out[k++] = c;
		}
		out[k] = '\0';
		return;
	}
	for (; *v && *v != '\n' && *v != ' ' && *v != '\t' && *v != '#' && k + 1 < len; v++) {
		if (*v == '\\' && v[1] && v[1] != '\n')
			v++;
		out[k++] = *v;
	}
	out[k] = '\0';
}

/* KEY=value of os-release text into out ("" absent) */
static void os_release_get(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");
		const char *q = p + strspn(p, " \t");
		if (!strncmp(q, key, kl) && q[kl] == '=')
			os_release_value(q + kl + 1, out, len);
		p += l + (p[l] == '\n');
	}
}

/*
 * The architecture of the guest (ELF header of /bin/sh; on NixOS, which
 * has /bin/sh only after its first activation, of the interpreter named by
 * /sbin/init's "#!" line, as the reference does).  Paths resolve inside the
 * rootfs.
 */
static void detect_arch(struct guest *g)
{
	unsigned char h[20];
	char path[256] = "/bin/sh";
	g->arch[0] = '\0';
	if (!strcmp(g->ostype, "nixos")) {
		char *l = guest_read_firstline(g, "/sbin/init");
		const char *p = l && !strncmp(l, "#!", 2) ? l + 2 + (l[2] == ' ') : "";
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(p, " \t\r\f\v"), p);
		free(l);
		if (!path[0])
			return;
	}
	int fd = open_regular(g, path);
	if (fd < 0)
		return;
	ssize_t r = read(fd, h, sizeof(h));
	close(fd);
	if (r != (ssize_t)sizeof(h) || memcmp(h, "\177ELF", 4) != 0)
		return;
	unsigned m = h[5] == 2 ? (unsigned)h[18] << 8 | h[19] : (unsigned)h[19] << 8 | h[18];
	bool is64 = h[4] == 2;
	const char *a = "";
	switch (m) {
	case 62:
		a = "amd64";
		break;
	case 3:
		a = "i386";
		break;
	case 183:
		a = "arm64";
		break;
	case 40:
		a = "armhf";
		break;
	case 243:
		a = is64 ? "riscv64" : "riscv32";
		break;
	}
	snprintf(g->arch, sizeof(g->arch), "%s", a);
}

/*
 * The version of a distribution found by its marker file.  The reference's
 * openSUSE and Fedora set-ups take os-release's VERSION_ID whatever the ID
 * (an openSUSE MicroOS, a Fedora remix): osr_version, when there is one.
 * Else the VERSION line of SuSE-brand / SuSE-release ("VERSION = 15.5"),
 * what follows "Gentoo Base System release ", or the first line.
 */
static void marker_version(struct guest *g, const char *file, const char *osr_version)
{
	static const char gentoo[] = "gentoo base system release ";
	char *text;
	size_t len;
	if (osr_version[0] && (!strcmp(g->ostype, "opensuse") || !strcmp(g->ostype, "fedora"))) {
		snprintf(g->version, sizeof(g->version), "%s", osr_version);
		return;
	}
	if (!strcmp(g->ostype, "gentoo")) {
		if (!strncasecmp(g->version, gentoo, sizeof(gentoo) - 1))
			memmove(g->version, g->version + sizeof(gentoo) - 1,
			        strlen(g->version + sizeof(gentoo) - 1) + 1);
		return;
	}
	if (strcmp(g->ostype, "opensuse") != 0 || guest_read(g, file, &text, &len) != 0)
		return;
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");
		const char *q = p + strspn(p, " \t");
		if (!strncmp(q, "VERSION", 7)) {
			q += 7 + strspn(q + 7, " \t");
			if (*q == '=') {
				q++;
				q += strspn(q, " \t");
				size_t d = strspn(q, "0123456789"), d2 = 0;
				if (d && q[d] == '.' && strspn(q + d + 1, "0123456789"))
					d2 = 1 + strspn(q + d + 1, "0123456789");
				if (d &&
				    strspn(q + d + d2, " \t\r") == (size_t)(p + l - (q + d + d2))) {
					snprintf(g->version, sizeof(g->version), "%.*s",
					         (int)(d + d2), q);
					break;
				}
			}
		}
		p += l + (p[l] == '\n');
	}
	free(text);
}

int guest_detect(struct guest *g)
{
	char *text = NULL, id[64] = "", osr_version[sizeof(g->version)] = "";
	size_t len;
	snprintf(g->ostype, sizeof(g->ostype), "unmanaged");
	g->version[0] = '\0';
	if (guest_read(g, "/etc/os-release", &text, &len) == 0 ||
	    guest_read(g, "/usr/lib/os-release", &text, &len) == 0) {
		os_release_get(text, "ID", id, sizeof(id));
		os_release_get(text, "VERSION_ID", g->version, sizeof(g->version));
		snprintf(osr_version, sizeof(osr_version), "%s", g->version);
		free(text);
		for (size_t i = 0; i < sizeof(id_alias) / sizeof(id_alias[0]); i++)
			if (!strcmp(id, id_alias[i].id)) {
				snprintf(g->ostype, sizeof(g->ostype), "%s", id_alias[i].ostype);
				return 0;
			}
	}
	g->version[0] = '\0';
	if (guest_read(g, "/etc/lsb-release", &text, &len) == 0) {
		char did[64];
		os_release_get(text, "DISTRIB_ID", did, sizeof(did));
		if (!strcasecmp(did, "Ubuntu")) {
			snprintf(g->ostype, sizeof(g->ostype), "ubuntu");
			os_release_get(text, "DISTRIB_RELEASE", g->version, sizeof(g->version));
		}
		free(text);
		if (!strcmp(g->ostype, "ubuntu"))
			return 0;
	}
	static const struct {
		const char *file, *ostype;
	} markers[] = {
		{ "/etc/debian_version", "debian" }, { "/etc/devuan_version", "devuan" },
		{ "/etc/SuSE-brand", "opensuse" },   { "/etc/SuSE-release", "opensuse" },
		{ "/etc/fedora-release", "fedora" }, { "/etc/centos-release", "centos" },
		{ "/etc/redhat-release", "centos" }, { "/etc/arch-release", "archlinux" },
		{ "/etc/alpine-release", "alpine" }, { "/etc/gentoo-release", "gentoo" },
	};
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		if (guest_is_file(g, markers[i].file)) {
			char *line = guest_read_firstline(g, markers[i].file);
			snprintf(g->ostype, sizeof(g->ostype), "%s", markers[i].ostype);
			snprintf(g->version, sizeof(g->version), "%.63s", line ? line : "");
			free(line);
			marker_version(g, markers[i].file, osr_version);
			return 0;
		}
	if (guest_is_dir(g, "/nix/store"))
		snprintf(g->ostype, sizeof(g->ostype), "nixos");
	return 0;
}

/* ------------------------------------------------------------ post-create */

static int randomize_crontab(struct guest *g)
{
	char *files[257];
	size_t nf = 0;
	if (guest_is_file(g, "/etc/crontab"))
		files[nf++] = strdup("/etc/crontab");
	int dfd = in_root(g, "/etc/cron.d", O_RDONLY | O_DIRECTORY, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	char *names[256];
	size_t nn = 0;
	for (struct dirent *e; d && (e = readdir(d)) && nn < 256;) {
		size_t l = strlen(e->d_name);
		if (l &&
		    strspn(e->d_name,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == l)
			names[nn++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	else if (dfd >= 0)
		close(dfd);
	/* a stable order (the reference takes the directory's) */
	for (size_t i = 1; i < nn; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < nn; i++) {
		char p[300];
		snprintf(p, sizeof(p), "/etc/cron.d/%s", names[i]);
		free(names[i]);
		if (guest_is_file(g, p))
			files[nf++] = strdup(p);
	}
	int rc = 0;
	for (size_t i = 0; i < nf; i++) {
		char *data;
		size_t len, n;
		if (!files[i] || rc || guest_read(g, files[i], &data, &len)) {
			free(files[i]);
			continue;
		}
		char **lines = split_lines(data, &n);
		free(data);
		if (!lines) {
			rc = guest_fail(g, -ENOMEM, "out of memory reading %s", files[i]);
			free(files[i]);
			continue;
		}
		struct sbuf b = SBUF_INIT;
		for (size_t j = 0; j < n; j++) {
			/* "<min> h dom mon dow root cmd": only root's entries */
			const char *l = lines[j];
			size_t dig = strspn(l, "0123456789");
			const char *rest = l + dig;
			bool match = dig > 0;
			const char *p = rest;
			for (int f = 0; f < 5 && match; f++) {
				size_t sp = strspn(p, " \t");
				size_t w = strcspn(p + sp, " \t");
				match = sp > 0 && w > 0;
				if (f == 4)
					match = match && w == 4 && !strncmp(p + sp, "root", 4);
				p += sp + w;
			}
			if (match) {
				size_t sp = strspn(p, " \t");
				match = sp > 0 && p[sp] && p[sp] != ' ' && p[sp] != '\t';
			}
			if (match) {
				int min = g->seeded ? (int)(drand48() * 59) : (int)(random() % 59);
				sbuf_addf(&b, "%d%s\n", min, rest);
			} else {
				sbuf_addf(&b, "%s\n", l);
			}
		}
		if (lines)
			free_lines(lines, n);
		rc = guest_write_sb(g, files[i], &b, 0);
		sbuf_release(&b);
		free(files[i]);
	}
	return rc;
}

/* user's fields 1-2 (passwd) or 1-3 (shadow) replaced */
static int replace_pw(struct guest *g, const char *file, const char *user, const char *epw,
                      bool shadow)
{
	char *data;
	size_t len;
	int rc = guest_read(g, file, &data, &len);
	if (rc)
		return guest_fail(g, rc, "unable to open file '%s' - %s", file, strerror(-rc));
	long last = (long)(time(NULL) / 86400);
	if (g->seeded && !strncmp(epw, "$TEST$", 6)) /* the reference's old test marker */
		last = 12345;
	struct sbuf b = SBUF_INIT;
	size_t ul = strlen(user);
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		const char *f1 = p + ul + 1, *f2 = NULL, *f3 = NULL;
		if (l > ul && !strncmp(p, user, ul) && p[ul] == ':') {
			f2 = memchr(f1, ':', (size_t)(p + l - f1));
			if (f2 && shadow)
				f3 = memchr(f2 + 1, ':', (size_t)(p + l - f2 - 1));
		}
		if (f2 && !shadow)
			sbuf_addf(&b, "%s:%s%.*s", user, epw, (int)(p + l - f2), f2);
		else if (f3)
			sbuf_addf(&b, "%s:%s:%ld%.*s", user, epw, last, (int)(p + l - f3), f3);
		else
			sbuf_add(&b, p, l);
		if (p[l] == '\n')
			sbuf_add(&b, "\n", 1);
		p += l + (p[l] == '\n');
	}
	rc = guest_write_sb(g, file, &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

/*
 * A crypt hash the reference keeps as it is: $1$, $2$/$2a$/$2x$/$2y$, $5$
 * or $6$, a salt of 1-16 and a hash of [a-zA-Z0-9./].
 */
static bool is_crypt_hash(const char *p)
{
	static const char set[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./";
	if (*p++ != '$')
		return false;
	if (*p == '2' && (p[1] == 'a' || p[1] == 'x' || p[1] == 'y'))
		p += 2;
	else if (*p == '1' || *p == '2' || *p == '5' || *p == '6')
		p++;
	else
		return false;
	if (*p++ != '$')
		return false;
	size_t salt = strspn(p, set);
	if (salt < 1 || salt > 16 || p[salt] != '$')
		return false;
	p += salt + 1;
	size_t hash = strspn(p, set);
	return hash > 0 && !p[hash];
}

static int set_root_password(struct guest *g, const char *password)
{
	char epw[512];
	if (!guest_is_file(g, "/etc/passwd"))
		return 0;
	if (!password) {
		snprintf(epw, sizeof(epw), "*");
	} else if (is_crypt_hash(password) ||
	           (g->seeded && !strncmp(password, "$TEST$", 6) && !strpbrk(password, ":\n"))) {
		/* a hash as it is; "$TEST$..." only in deterministic (test) mode */
		snprintf(epw, sizeof(epw), "%s", password);
	} else {
		static const char abc[] =
		    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
		unsigned char r[16];
		char salt[40] = "$6$";
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return guest_fail(g, -EIO, "no random bytes for the password salt");
		for (int i = 0; i < 16; i++)
			salt[3 + i] = abc[r[i] & 63];
		salt[19] = '$';
		salt[20] = '\0';
		struct crypt_data cd;
		memset(&cd, 0, sizeof(cd));
		const char *h = crypt_r(password, salt, &cd);
		if (!h || h[0] != '$')
			return guest_fail(g, -EINVAL, "cannot hash the root password");
		snprintf(epw, sizeof(epw), "%s", h);
	}
	int rc;
	if (guest_is_file(g, "/etc/shadow")) {
		if ((rc = replace_pw(g, "/etc/shadow", "root", epw, true)))
			return rc;
		return replace_pw(g, "/etc/passwd", "root", "x", false);
	}
	return replace_pw(g, "/etc/passwd", "root", epw, false);
}

static int set_authorized_keys(struct guest *g, const char *keys)
{
	char home[512] = "/root", *data, path[600];
	size_t len;
	if (guest_read(g, "/etc/passwd", &data, &len) == 0) {
		for (const char *p = data; *p;) {
			size_t l = strcspn(p, "\n");
			if (!strncmp(p, "root:", 5)) {
				const char *f = p;
				for (int i = 0; i < 5 && f; i++) {
					f = memchr(f, ':', (size_t)(p + l - f));
					f = f ? f + 1 : NULL;
				}
				const char *e = f ? memchr(f, ':', (size_t)(p + l - f)) : NULL;
				if (f && e)
					snprintf(home, sizeof(home), "%.*s", (int)(e - f), f);
				break;
			}
			p += l + (p[l] == '\n');
		}
		free(data);
	}
	if (!guest_is_dir(g, home) && !guest_is_symlink(g, home))
		return guest_fail(g, -ENOENT, "home directory '%s' of root does not exist!", home);
	snprintf(path, sizeof(path), "%s/.ssh", home);
	if (!guest_is_dir(g, path)) {
		int rc = guest_mkdirs(g, path, 0700);
		if (rc)
			return rc;
	}
	snprintf(path, sizeof(path), "%s/.ssh/authorized_keys", home);
	return guest_modify_region(g, path, keys, GUEST_APPEND, 0700, false);
}

static int ssh_host_keys(struct guest *g)
{
	static const char *const types[] = { "rsa", "ecdsa", "ed25519" };
	if (g->seeded || !guest_is_dir(g, "/etc/ssh"))
		return 0;
	char dir[] = "/tmp/pct-sshkeys.XXXXXX";
	if (!mkdtemp(dir))
		return guest_fail(g, -errno, "mkdtemp: %s", strerror(errno));
	const char *host = ctc_get(g->conf, "hostname");
	char comment[300];
	snprintf(comment, sizeof(comment), "root@%s", host ? host : "localhost");
	int rc = 0;
	/* the template's keys go, whatever their type: no two CTs share a host key */
	int sfd = in_root_x(g, "/etc/ssh", O_RDONLY | O_DIRECTORY, 0, true);
	DIR *sd = sfd >= 0 ? fdopendir(sfd) : NULL;
	for (struct dirent *e; sd && (e = readdir(sd));) {
		size_t l = strlen(e->d_name);
		if (!strncmp(e->d_name, "ssh_host_", 9) &&
		    ((l > 4 && !strcmp(e->d_name + l - 4, "_key")) ||
		     (l > 8 && !strcmp(e->d_name + l - 8, "_key.pub"))) &&
		    unlinkat(sfd, e->d_name, 0) != 0)
			rc = guest_fail(g, -errno, "cannot remove /etc/ssh/%s: %s", e->d_name,
			                strerror(errno));
	}
	if (sd)
		closedir(sd);
	else if (sfd >= 0)
		close(sfd);
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		char key[128], kpath[128], ferr[512];
		snprintf(key, sizeof(key), "%s/ssh_host_%s_key", dir, types[i]);
		const char *argv[] = { "ssh-keygen", "-q",    "-t", types[i], "-N", "",
			               "-C",         comment, "-f", key,      NULL };
		if (fsu_run(argv, ferr, sizeof(ferr))) {
			rc = guest_fail(g, -EIO, "cannot make SSH host keys: %s", ferr);
			break;
		}
		for (int pub = 0; pub < 2 && rc == 0; pub++) {
			char src[160], *data;
			size_t len;
			snprintf(src, sizeof(src), "%s%s", key, pub ? ".pub" : "");
			FILE *f = fopen(src, "re");
			struct sbuf b = SBUF_INIT;
			char buf[4096];
			size_t r;
			while (f && (r = fread(buf, 1, sizeof(buf), f)) > 0)
				sbuf_add(&b, buf, r);
			if (f)
				fclose(f);
			data = b.buf;
			len = b.len;
			snprintf(kpath, sizeof(kpath), "/etc/ssh/ssh_host_%s_key%s", types[i],
			         pub ? ".pub" : "");
			guest_unlink(g, kpath); /* a new file: the key's own mode */
			rc = guest_write(g, kpath, data ? data : "", len, pub ? 0644 : 0600);
			sbuf_release(&b);
		}
	}
	fsu_rm_rf(dir);
	return rc;
}

static int clear_machine_id(struct guest *g)
{
	bool systemd = guest_is_executable(g, "/lib/systemd/systemd") ||
	    guest_is_executable(g, "/usr/lib/systemd/systemd");
	if (systemd && guest_is_file(g, "/var/lib/dbus/machine-id") &&
	    !guest_is_symlink(g, "/var/lib/dbus/machine-id")) {
		int rc = guest_unlink(g, "/var/lib/dbus/machine-id");
		if (rc)
			return rc;
	}
	/* gone: systemd's first boot makes a new one (and applies the presets) */
	if (guest_is_file(g, "/etc/machine-id"))
		return guest_unlink(g, "/etc/machine-id");
	return 0;
}

/* ---------------------------------------------------------- entry points */

int guest_open(struct guest *g, const char *rootdir, const struct ctc_conf *c)
{
	const char *u = ctc_get(&c->main, "unprivileged");
	g->conf = &c->main;
	g->unprivileged = u && cts_parse_bool(u) == 1;
	g->root = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (g->root < 0)
		return guest_fail(g, -errno, "cannot open the root file system %s: %s", rootdir,
		                  strerror(errno));
	/* new files belong to the container's root: the id map's, not the rootfs owner's */
	unsigned ub, gb, cnt;
	lxg_idmap(c, &ub, &gb, &cnt);
	g->uid = cnt ? ub : 0;
	g->gid = cnt ? gb : 0;
	guest_detect(g);
	detect_arch(g);
	g->distro = guest_distro_find(g->ostype);
	const char *conf_os = ctc_get(g->conf, "ostype");
	if (conf_os && !strcmp(conf_os, "unmanaged")) {
		g->distro = NULL;
		snprintf(g->ostype, sizeof(g->ostype), "unmanaged");
	} else if (conf_os && strcmp(conf_os, g->ostype) != 0) {
		fprintf(stderr,
		        "warning: ostype '%s' configured, but the container holds '%s' - "
		        "using '%s'\n",
		        conf_os, g->ostype, g->ostype);
	}
	return 0;
}

void guest_close(struct guest *g)
{
	if (g->root >= 0)
		close(g->root);
	g->root = -1;
}

/* the files of every start and of a create, in the reference's order */
static int common_setup(struct guest *g)
{
	const struct guest_distro *d = g->distro;
	int rc;
	if ((d->setup_init && (rc = d->setup_init(g))) ||
	    (d->setup_network && (rc = d->setup_network(g))) ||
	    (rc = d->set_hostname ? d->set_hostname(g) : guest_set_hostname(g)) ||
	    (rc = guest_set_dns(g)) || (rc = guest_set_timezone(g)))
		return rc;
	return 0;
}

int guest_pre_start(struct guest *g)
{
	const struct guest_distro *d = g->distro;
	int rc;
	if (!d)
		return 0;
	if (d->check_version && (rc = d->check_version(g)))
		return rc;
	/* skips fsck at boot, among other things */
	if ((rc = guest_write(g, "/fastboot", "", 0, 0)))
		return rc;
	return common_setup(g);
}

int guest_post_create(struct guest *g, const char *password, const char *ssh_keys)
{
	const struct guest_distro *d = g->distro;
	int rc;
	if (!d)
		return 0;
	if (d->check_version && (rc = d->check_version(g)))
		return rc;
	if (g->seeded)
		srand48(g->seed);
	else
		srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if ((rc = clear_machine_id(g)) || (d->template_fixup && (rc = d->template_fixup(g))) ||
	    (rc = randomize_crontab(g)) || (rc = set_root_password(g, password)) ||
	    (ssh_keys && ssh_keys[0] && (rc = set_authorized_keys(g, ssh_keys))) ||
	    (rc = common_setup(g)))
		return rc;
	return ssh_host_keys(g);
}

/* --- added for guest_debian.c --- */

int guest_readlink(struct guest *g, const char *path, char *buf, size_t len)
{
	char name[256];
	if (len < 2)
		return -EINVAL;
	int dfd = parent_of(g, path, name, sizeof(name));
	if (dfd < 0)
		return dfd;
	ssize_t l = readlinkat(dfd, name, buf, len - 1);
	int e = errno;
	close(dfd);
	if (l < 0)
		return -e;
	buf[l] = '\0';
	return 0;
}

int guest_setup_systemd_preset(struct guest *g, const char *const *extra)
{
	static const char *const dir = "/etc/systemd/system-preset";
	struct sbuf b = SBUF_INIT;
	int rc = 0;
	if (!guest_is_dir(g, dir) && (rc = guest_mkdirs(g, dir, 0755)))
		return rc;
	sbuf_addf(&b,
	          "# Added by PVE at create-time for first-boot configuration.\n"
	          "enable container-getty@.service\n"
	          "disable getty@.service\n"
	          "disable sys-kernel-config.mount\n"
	          "disable sys-kernel-debug.mount\n");
	for (size_t i = 0; extra && extra[i]; i++)
		sbuf_addf(&b, "%s\n", extra[i]);
	rc = b.oom ? -ENOMEM : guest_write_sb(g, "/etc/systemd/system-preset/00-pve.preset", &b, 0);
	sbuf_release(&b);
	return rc;
}

int guest_setup_container_getty_units(struct guest *g, const char *devttydir)
{
	static const char *const wants = "/etc/systemd/system/getty.target.wants";
	char tmpl[128], want[32], *raw;
	size_t len;
	snprintf(tmpl, sizeof(tmpl), "%s/container-getty@.service", systemd_dir(g));
	if (!guest_is_file(g, tmpl) || guest_read(g, tmpl, &raw, &len))
		return 0;
	/* every "pts/%I" or "lxc/tty%I" becomes <devttydir>tty%I */
	struct sbuf b = SBUF_INIT;
	bool changed = false;
	snprintf(want, sizeof(want), "%stty%%I", devttydir);
	for (const char *p = raw; *p;) {
		size_t l = !strncmp(p, "pts/%I", 6) ? 6 : !strncmp(p, "lxc/tty%I", 9) ? 9 : 0;
		if (l) {
			changed |= strlen(want) != l || strncmp(p, want, l) != 0;
			sbuf_addf(&b, "%s", want);
			p += l;
		} else {
			sbuf_add(&b, p++, 1);
		}
	}
	int rc = changed ? guest_write_sb(g, tmpl, &b, 0) : 0;
	sbuf_release(&b);
	free(raw);
	int ttys = guest_tty_count(g);
	bool have_wants = guest_is_dir(g, wants);
	for (int i = 1; i < 7 && rc == 0; i++) {
		char lnk[160], cur[160];
		/* never two gettys on one tty: the plain getty@ instances go */
		snprintf(lnk, sizeof(lnk), "%s/getty@tty%d.service", wants, i);
		guest_unlink(g, lnk);
		snprintf(lnk, sizeof(lnk), "%s/container-getty@%d.service", wants, i);
		if (i <= ttys && have_wants && guest_readlink(g, lnk, cur, sizeof(cur)) == 0 &&
		    !strcmp(cur, tmpl))
			continue; /* already what we would link */
		guest_unlink(g, lnk);
		if (i <= ttys && have_wants)
			rc = guest_symlink(g, tmpl, lnk);
	}
	/*
	 * a masked getty.target (a link to /dev/null) would keep every console
	 * dark; the reference removes whatever is there, we only the mask
	 */
	char target[64];
	if (rc == 0 &&
	    guest_readlink(g, "/etc/systemd/system/getty.target", target, sizeof(target)) >= 0 &&
	    !strcmp(target, "/dev/null"))
		guest_unlink(g, "/etc/systemd/system/getty.target");
	return rc;
}

int guest_setup_securetty_list(struct guest *g, const char *const *devs)
{
	char *data;
	size_t len;
	if (!guest_is_file(g, "/etc/securetty") || guest_read(g, "/etc/securetty", &data, &len))
		return 0;
	struct sbuf b = SBUF_INIT;
	sbuf_add(&b, data, len);
	if (b.len && b.buf[b.len - 1] == '\n') /* one newline off, one on */
		b.buf[--b.len] = '\0';
	sbuf_add(&b, "\n", 1);
	for (size_t i = 0; devs[i]; i++) {
		size_t dl = strlen(devs[i]);
		bool found = false;
		for (const char *p = b.buf; *p && !found;) {
			size_t l = strcspn(p, "\n");
			found = l >= dl && !strncmp(p, devs[i], dl) &&
			    strspn(p + dl, " \t\r\f\v") == l - dl;
			p += l + (p[l] == '\n');
		}
		if (!found)
			sbuf_addf(&b, "%s\n", devs[i]);
	}
	int rc = guest_write_sb(g, "/etc/securetty", &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

/* --- added for guest_other.c --- */

int guest_os_release(struct guest *g, const char *key, char *out, size_t len)
{
	char *text;
	size_t n;
	out[0] = '\0';
	if (guest_read(g, "/etc/os-release", &text, &n) != 0 &&
	    guest_read(g, "/usr/lib/os-release", &text, &n) != 0)
		return -ENOENT;
	os_release_get(text, key, out, len);
	free(text);
	return 0;
}
