/*
 * guest_debian.c - guest set-up of the ifupdown families: debian, devuan,
 * ubuntu and alpine (struct guest_distro plug-ins, found by guest.c through
 * guest_distro_find).
 *
 * What each writes, as the reference (pve-container's Setup/Debian.pm,
 * Devuan.pm, Ubuntu.pm, Alpine.pm) does:
 *
 *   debian   version from /etc/debian_version (testing names mapped, major
 *            only); < 4 refused, > 14 warned.  systemd (/sbin/init links to
 *            .../systemd): container-getty@ units, from 12 on a preset that
 *            disables systemd-networkd.  /etc/inittab when present (sysvinit
 *            gettys).  /etc/network/interfaces (ifupdown).  At create: the
 *            pre-generated snakeoil key goes, a first-boot unit remakes it.
 *   devuan   /etc/devuan_version's code name mapped to its Debian release
 *            (unknown names refused); otherwise as debian.
 *   ubuntu   version from /etc/lsb-release; unknown ones below 17 refused,
 *            unknown newer ones warned.  Up to 17.04 ifupdown, from 17.10
 *            systemd-networkd; container-getty@ from 16.10, upstart ttys on
 *            12.04/14.04, networkd enabled by a preset from 23.04.
 *   alpine   version from /etc/alpine-release; busybox inittab gettys,
 *            ifupdown without IPv6 dhcp/auto (busybox has neither: manual),
 *            at create openrc runlevel links, securetty, no LXC_NAME host.
 *
 * /etc/network/interfaces is rewritten stanza by stanza: stanzas of
 * interfaces the config does not name, comments and other lines are kept
 * where they are; the config's interfaces get their "iface" stanzas
 * replaced in place (extra options such as "mtu" or "up" kept), missing
 * ones are appended in name order.  An off-link gateway gets its routes
 * between "# --- BEGIN PVE ---" / "# --- END PVE ---" lines inside the
 * stanza, so the next run finds and replaces them.
 */
#include "ctmgr/guest.h"
#include "pmxcfs/sbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REGION_HEAD "# --- BEGIN PVE ---"
#define REGION_TAIL "# --- END PVE ---"

#define DEBIAN_MIN 4 /* older ones are refused */
#define DEBIAN_TESTED 14 /* newer ones get a warning */
#define UBUNTU_MIN_MAJOR 17 /* unknown versions below are refused */

/* ----------------------------------------------------------- versions */

/* The distribution as the set-up sees it. */
struct dver {
	const char *os; /* debian devuan ubuntu alpine */
	int major; /* the Debian release (debian, devuan) */
	char ver[64]; /* as the distribution states it */
};

/* version string starts with "maj[.min]" and that is at least want_maj.want_min */
static bool at_least(const char *v, int want_maj, int want_min)
{
	char *end;
	if (!v || !isdigit((unsigned char)v[0]))
		return false;
	long maj = strtol(v, &end, 10);
	if (want_maj != maj)
		return want_maj < maj;
	if (*end == '.' && isdigit((unsigned char)end[1]))
		return want_min <= strtol(end + 1, NULL, 10);
	return want_min == 0;
}

static int debian_version(struct guest *g, struct dver *v, bool warn)
{
	/* testing and derivatives without a number */
	static const struct {
		const char *name;
		const char *ver;
	} map[] = {
		{ "stretch/sid", "9.1" }, { "buster/sid", "10" },   { "bullseye/sid", "11" },
		{ "bookworm/sid", "12" }, { "trixie/sid", "13" },   { "forky/sid", "14" },
		{ "duke/sid", "15" },     { "kali-rolling", "12" },
	};
	char *line = guest_read_firstline(g, "/etc/debian_version");
	v->os = "debian";
	if (!line)
		return guest_fail(g, -ENOENT,
		                  "unable to read version info from /etc/debian_version");
	snprintf(v->ver, sizeof(v->ver), "%.63s", line);
	free(line);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(v->ver, map[i].name))
			snprintf(v->ver, sizeof(v->ver), "%s", map[i].ver);
	if (!isdigit((unsigned char)v->ver[0]))
		return guest_fail(g, -EINVAL, "unable to parse debian version info '%s'", v->ver);
	v->major = (int)strtol(v->ver, NULL, 10);
	if (v->major < DEBIAN_MIN)
		return guest_fail(g, -ENOTSUP, "unsupported debian version '%s'", v->ver);
	if (warn && v->major > DEBIAN_TESTED)
		fprintf(stderr,
		        "warning: the container's debian version '%d' is newer than the tested "
		        "version '%d' - it may work, but full compatibility cannot be "
		        "guaranteed\n",
		        v->major, DEBIAN_TESTED);
	return 0;
}

static int devuan_version(struct guest *g, struct dver *v)
{
	/* code name -> the Debian release it is built on */
	static const struct {
		const char *name;
		int debian;
	} map[] = {
		{ "jessie", 8 },           { "ascii", 9 },
		{ "ascii/ceres", 9 },      { "beowulf", 10 },
		{ "beowulf/ceres", 10 },   { "chimaera", 11 },
		{ "chimaera/ceres", 11 },  { "daedalus", 12 },
		{ "daedalus/ceres", 12 },  { "excalibur", 13 },
		{ "excalibur/ceres", 13 },
	};
	char *line = guest_read_firstline(g, "/etc/devuan_version");
	v->os = "devuan";
	if (!line)
		return guest_fail(g, -ENOENT,
		                  "unable to read version info from /etc/devuan_version");
	snprintf(v->ver, sizeof(v->ver), "%.63s", line);
	free(line);
	for (char *p = v->ver; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(v->ver, map[i].name)) {
			v->major = map[i].debian;
			return 0;
		}
	return guest_fail(g, -ENOTSUP, "unsupported devuan version '%s'", v->ver);
}

/* "KEY=value" line of text (key case-insensitive, value exact to the line's end) */
static bool lsb_value(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");
		if (l > kl && !strncasecmp(p, key, kl) && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int)(l - kl - 1), p + kl + 1);
			return true;
		}
		p += l + (p[l] == '\n');
	}
	return false;
}

static int ubuntu_version(struct guest *g, struct dver *v, bool warn)
{
	static const char *const known[] = {
		"12.04", "14.04", "15.04", "15.10", "16.04", "16.10", "17.04", "17.10", "18.04",
		"18.10", "19.04", "19.10", "20.04", "20.10", "21.04", "21.10", "22.04", "22.10",
		"23.04", "23.10", "24.04", "24.10", "25.04", "25.10", "26.04",
	};
	char *text, id[64];
	size_t len;
	v->os = "ubuntu";
	int rc = guest_read(g, "/etc/lsb-release", &text, &len);
	if (rc)
		return guest_fail(g, rc, "unable to read /etc/lsb-release: %s", strerror(-rc));
	bool is_ubuntu = lsb_value(text, "DISTRIB_ID", id, sizeof(id)) && !strcasecmp(id, "Ubuntu");
	bool have = lsb_value(text, "DISTRIB_RELEASE", v->ver, sizeof(v->ver));
	free(text);
	if (!is_ubuntu)
		return guest_fail(g, -EINVAL, "got unknown DISTRIB_ID in /etc/lsb-release");
	/* DISTRIB_RELEASE=<digits>.<digits> */
	size_t d1 = have ? strspn(v->ver, "0123456789") : 0;
	size_t d2 = d1 && v->ver[d1] == '.' ? strspn(v->ver + d1 + 1, "0123456789") : 0;
	if (!d2 || v->ver[d1 + 1 + d2])
		return guest_fail(g, -EINVAL, "unable to read version info from /etc/lsb-release");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(v->ver, known[i]))
			return 0;
	if (atoi(v->ver) < UBUNTU_MIN_MAJOR)
		return guest_fail(g, -ENOTSUP, "unsupported ubuntu version '%s'", v->ver);
	if (warn)
		fprintf(stderr,
		        "warning: the container's ubuntu version '%s' is not in the known "
		        "version list - it is newer than the minimum supported one and likely "
		        "to work, but full compatibility cannot be guaranteed\n",
		        v->ver);
	return 0;
}

/* Ubuntu's versions compare as decimal numbers ("17.10" is 17.1) */
static bool ubuntu_ge(const struct dver *v, const char *than)
{
	return strtod(v->ver, NULL) >= strtod(than, NULL);
}

static void alpine_version(struct guest *g, struct dver *v)
{
	char *line = guest_read_firstline(g, "/etc/alpine-release");
	v->os = "alpine";
	v->major = 0;
	snprintf(v->ver, sizeof(v->ver), "%.63s", line ? line : "");
	free(line);
}

/* ----------------------------------------------------------- small helpers */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_ws(const char *p)
{
	while (is_ws(*p))
		p++;
	return p;
}

/* lines of text as Perl's split(/\n/): the trailing empty ones dropped */
struct lines {
	char **v;
	size_t n, cap;
};

static int lines_push(struct lines *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strndup(s, len)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static void lines_clear(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static void lines_free(struct lines *l)
{
	lines_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

static int lines_split(struct lines *l, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (lines_push(l, p, n))
			return -ENOMEM;
		p += n + (p[n] == '\n');
	}
	while (l->n && !l->v[l->n - 1][0])
		free(l->v[--l->n]);
	return 0;
}

static bool lines_has(const struct lines *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

/* path is there in any form (a dangling link too) */
static bool path_exists(struct guest *g, const char *path)
{
	return guest_is_symlink(g, path) || guest_is_file(g, path) || guest_is_dir(g, path);
}

/* a link as the reference makes one: never over something, only in an existing directory */
static int link_if_free(struct guest *g, const char *target, const char *path)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	if (path_exists(g, path) || !guest_is_dir(g, dir))
		return 0;
	return guest_symlink(g, target, path);
}

/* /sbin/init is a link to .../systemd */
static bool runs_systemd(struct guest *g)
{
	char t[512];
	size_t l;
	if (guest_readlink(g, "/sbin/init", t, sizeof(t)))
		return false;
	l = strlen(t);
	return l >= 8 && !strcmp(t + l - 8, "/systemd");
}

/* ------------------------------------------------------------ inittab */

/* "<digits>:<digits>*:<non-colons>*:...getty..." (after blanks) */
static bool sysv_getty_line(const char *l, const char *prefix)
{
	const char *p = skip_ws(l);
	size_t pl = strlen(prefix);
	if (strncmp(p, prefix, pl) != 0)
		return false;
	p += pl;
	size_t d = strspn(p, "0123456789");
	if (!d || p[d] != ':')
		return false;
	p += d + 1;
	p += strspn(p, "0123456789");
	if (*p != ':')
		return false;
	p = strchr(p + 1, ':');
	return p && strstr(p + 1, "getty");
}

/* "p" and one of "fno0", then ":" (after blanks): the power lines */
static bool sysv_power_line(const char *l)
{
	const char *p = skip_ws(l);
	return p[0] == 'p' && p[1] && strchr("fno0", p[1]) && p[2] == ':';
}

/* /etc/inittab without its getty (and with sysv, power) lines, then ours */
static int setup_inittab(struct guest *g, bool busybox, int debian_major)
{
	static const char *const path = "/etc/inittab";
	struct lines l = { 0 };
	struct sbuf b = SBUF_INIT;
	char *text;
	size_t len;
	int rc;
	if (!guest_is_file(g, path))
		return 0;
	if ((rc = guest_read(g, path, &text, &len)))
		return guest_fail(g, rc, "unable to read %s: %s", path, strerror(-rc));
	rc = lines_split(&l, text);
	free(text);
	bool first = true;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		bool drop = busybox ? sysv_getty_line(l.v[i], "tty")
		                    : sysv_getty_line(l.v[i], "") || sysv_power_line(l.v[i]);
		if (!drop) {
			sbuf_addf(&b, first ? "%s" : "\n%s", l.v[i]);
			first = false;
		}
	}
	sbuf_add(&b, "\n", 1);
	if (!busybox)
		sbuf_addf(&b, "p0::powerfail:/sbin/init 0\n");
	int ttys = guest_tty_count(g);
	for (int id = 1; id <= ttys; id++) {
		if (id == 7) /* X11's */
			continue;
		if (busybox)
			sbuf_addf(&b, "tty%d::respawn:/sbin/getty 38400 tty%d\n", id, id);
		else
			sbuf_addf(&b, "%d:%s:respawn:/sbin/getty %s 38400 tty%d\n", id,
			          id == 1 ? "2345" : "23", debian_major < 7 ? "-L" : "--noclear",
			          id);
	}
	if (rc == 0)
		rc = guest_write_sb(g, path, &b, 0);
	sbuf_release(&b);
	lines_free(&l);
	return rc;
}

/* ---------------------------------------------- /etc/network/interfaces */

/* one interface of the config as ifupdown sees it */
struct ifnet {
	char name[32];
	bool v4; /* an IPv4 method: addr is dhcp, manual or an address */
	bool v4static;
	char addr[64], mask[16], cidr[64], gw[64];
	bool route4; /* the gateway is off-link */
	bool v6;
	bool v6static;
	char addr6[80], mask6[8], cidr6[80], gw6[80];
	bool route6;
	bool done4, done6; /* stanza written */
};

struct ifup {
	bool cidr_address; /* "address a/len" instead of "address a" + "netmask m" */
	struct ifnet *nets;
	size_t n;
	struct lines autos; /* interfaces with an "auto" line */
	struct sbuf out;
	/* the stanza being read */
	struct ifnet *sec;
	bool sec6;
	struct lines attrs; /* its other options */
};

static struct ifnet *ifup_find(struct ifup *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->nets[i].name, name))
			return &st->nets[i];
	return NULL;
}

/*
 * The words of s (blanks before allowed, none after) are those of pat,
 * "*" matching any word; the words matched are in cap (at most 2).
 */
static bool words_match(const char *s, const char *const *pat, size_t np, char cap[2][128])
{
	size_t k = 0, c = 0;
	const char *p = skip_ws(s);
	if (*s && is_ws(s[strlen(s) - 1]))
		return false;
	while (*p) {
		size_t w = 0;
		while (p[w] && !is_ws(p[w]))
			w++;
		if (k == np)
			return false;
		if (!strcmp(pat[k], "*")) {
			if (c == 2 || w >= 128)
				return false;
			snprintf(cap[c++], 128, "%.*s", (int)w, p);
		} else if (strlen(pat[k]) != w || strncmp(p, pat[k], w) != 0) {
			return false;
		}
		k++;
		p = skip_ws(p + w);
	}
	return k == np;
}

/*
 * Remove the gateway routes of an earlier run from a stanza's options:
 * the marked region, or (files of old versions, without marks) the four
 * route lines exactly as they were written.
 */
static void remove_gateway_scripts(struct lines *a)
{
	static const char *const up_gw[] = { "post-up", "ip", "route", "add", "*", "dev", "*" };
	static const char *const up_def[] = { "post-up", "ip", "route", "add", "default",
		                              "via",     "*",  "dev",   "*" };
	static const char *const down_def[] = { "pre-down", "ip", "route", "del", "default",
		                                "via",      "*",  "dev",   "*" };
	static const char *const down_gw[] = { "pre-down", "ip", "route", "del", "*", "dev", "*" };
	bool found = false, keep = true;
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (!strcmp(a->v[i], REGION_HEAD) || !strcmp(a->v[i], REGION_TAIL)) {
			found = true;
			keep = a->v[i][6] == 'E'; /* "# --- END" */
			free(a->v[i]);
		} else if (keep) {
			a->v[k++] = a->v[i];
		} else {
			free(a->v[i]);
		}
	}
	a->n = k;
	if (found)
		return;
	for (size_t i = 0; i + 3 < a->n;) {
		char c0[2][128], c[2][128];
		bool m = words_match(a->v[i], up_gw, 7, c0);
		m = m && words_match(a->v[i + 1], up_def, 9, c) && !strcmp(c[0], c0[0]) &&
		    !strcmp(c[1], c0[1]);
		m = m && words_match(a->v[i + 2], down_def, 9, c) && !strcmp(c[0], c0[0]) &&
		    !strcmp(c[1], c0[1]);
		m = m && words_match(a->v[i + 3], down_gw, 7, c) && !strcmp(c[0], c0[0]) &&
		    !strcmp(c[1], c0[1]);
		if (!m) {
			i++;
			continue;
		}
		for (size_t j = 0; j < 4; j++)
			free(a->v[i + j]);
		memmove(&a->v[i], &a->v[i + 4], (a->n - i - 4) * sizeof(a->v[0]));
		a->n -= 4;
	}
}

static void print_static(struct ifup *st, const char *fam, const char *addr, const char *mask,
                         const char *cidr, const char *gw, bool route)
{
	struct sbuf *o = &st->out;
	const char *name = st->sec->name;
	sbuf_addf(o, "iface %s %s static\n", name, fam);
	if (st->cidr_address)
		sbuf_addf(o, "\taddress %s\n", cidr);
	else
		sbuf_addf(o, "\taddress %s\n\tnetmask %s\n", addr, mask);
	remove_gateway_scripts(&st->attrs);
	if (gw[0] && route)
		sbuf_addf(o,
		          REGION_HEAD "\n"
		                      "\tpost-up ip route add %s dev %s\n"
		                      "\tpost-up ip route add default via %s dev %s\n"
		                      "\tpre-down ip route del default via %s dev %s\n"
		                      "\tpre-down ip route del %s dev %s\n" REGION_TAIL "\n",
		          gw, name, gw, name, gw, name, gw, name);
	else if (gw[0])
		sbuf_addf(o, "\tgateway %s\n", gw);
	for (size_t i = 0; i < st->attrs.n; i++)
		sbuf_addf(o, "\t%s\n", st->attrs.v[i]);
	sbuf_add(o, "\n", 1);
}

/* the stanza being read, as the config wants it */
static int print_section(struct ifup *st)
{
	struct ifnet *n = st->sec;
	if (!n)
		return 0;
	if (!lines_has(&st->autos, n->name)) {
		sbuf_addf(&st->out, "auto %s\n", n->name);
		if (lines_push(&st->autos, n->name, strlen(n->name)))
			return -ENOMEM;
	}
	if (!st->sec6) {
		n->done4 = true;
		if (n->v4 && !n->v4static)
			sbuf_addf(&st->out, "iface %s inet %s\n\n", n->name, n->addr);
		else if (n->v4)
			print_static(st, "inet", n->addr, n->mask, n->cidr, n->gw, n->route4);
	} else {
		n->done6 = true;
		if (n->v6 && !n->v6static)
			sbuf_addf(&st->out, "iface %s inet6 %s\n\n", n->name, n->addr6);
		else if (n->v6)
			print_static(st, "inet6", n->addr6, n->mask6, n->cidr6, n->gw6, n->route6);
	}
	lines_clear(&st->attrs);
	st->sec = NULL;
	return 0;
}

/* "iface <name> inet|inet6 <method>" and nothing else: name and the family */
static bool iface_line(const char *l, char *name, size_t nlen, bool *v6)
{
	char w[4][64];
	int k = 0;
	for (const char *p = skip_ws(l); *p; p = skip_ws(p)) {
		size_t n = 0;
		while (p[n] && !is_ws(p[n]))
			n++;
		if (k == 4 || n >= sizeof(w[0]))
			return false;
		snprintf(w[k++], sizeof(w[0]), "%.*s", (int)n, p);
		p += n;
	}
	if (k != 4 || strcmp(w[0], "iface") != 0 ||
	    (strcmp(w[2], "inet") != 0 && strcmp(w[2], "inet6") != 0) || strlen(w[1]) >= nlen)
		return false;
	snprintf(name, nlen, "%s", w[1]);
	*v6 = !strcmp(w[2], "inet6");
	return true;
}

static int ifup_line(struct ifup *st, const char *line)
{
	const char *p = skip_ws(line);
	char name[64];
	bool v6;
	int rc;
	if (!strncmp(line, REGION_HEAD, strlen(REGION_HEAD)) ||
	    !strncmp(line, REGION_TAIL, strlen(REGION_TAIL))) {
		/* routes of an earlier run: found and dropped by remove_gateway_scripts */
		return st->sec ? lines_push(&st->attrs, line, strlen(line)) : 0;
	}
	if (line[0] == '#') {
		sbuf_addf(&st->out, "%s\n", line);
		return 0;
	}
	if (!*p) { /* a blank line ends a stanza */
		if (st->sec)
			return print_section(st);
		sbuf_addf(&st->out, "%s\n", line);
		return 0;
	}
	if (iface_line(line, name, sizeof(name), &v6)) {
		if ((rc = print_section(st)))
			return rc;
		struct ifnet *n = ifup_find(st, name);
		if (!n) {
			sbuf_addf(&st->out, "%s\n", line);
			return 0;
		}
		st->sec = n;
		st->sec6 = v6;
		return 0;
	}
	if (!strncmp(p, "auto", 4)) {
		for (const char *q = skip_ws(p + 4); *q; q = skip_ws(q)) {
			size_t n = 0;
			while (q[n] && !is_ws(q[n]))
				n++;
			if (lines_push(&st->autos, q, n))
				return -ENOMEM;
			q += n;
		}
		if ((rc = print_section(st)))
			return rc;
		sbuf_addf(&st->out, "%s\n", line);
		return 0;
	}
	if ((!strncmp(p, "mapping", 7) && is_ws(p[7])) || !strncmp(p, "allow-", 6) ||
	    (!strncmp(p, "source", 6) && is_ws(p[6])) ||
	    (!strncmp(p, "source-directory", 16) && is_ws(p[16]))) {
		if ((rc = print_section(st)))
			return rc;
		sbuf_addf(&st->out, "%s\n", line);
		return 0;
	}
	size_t w = 0;
	while (p[w] && !is_ws(p[w]))
		w++;
	if (st->sec && w && is_ws(p[w])) { /* an option of the stanza */
		static const char *const ours[] = { "address", "netmask", "gateway", "broadcast" };
		for (size_t i = 0; i < 4; i++)
			if (strlen(ours[i]) == w && !strncmp(p, ours[i], w))
				return 0;
		return lines_push(&st->attrs, p, strlen(p));
	}
	sbuf_addf(&st->out, "%s\n", line);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct ifnet *)a)->name, ((const struct ifnet *)b)->name);
}

/* the config's interfaces; IPv6 dhcp and auto become manual with no_v6_auto */
static int ifup_collect(struct guest *g, struct ifnet *out, size_t max, size_t *count,
                        bool no_v6_auto)
{
	struct guest_net nets[32];
	size_t n = guest_nets(g, nets, 32), k = 0;
	for (size_t i = 0; i < n; i++) {
		struct guest_net *d = &nets[i];
		struct ifnet x;
		memset(&x, 0, sizeof(x));
		snprintf(x.name, sizeof(x.name), "%s", d->name);
		if (d->ip[0]) {
			x.v4 = true;
			if (!strcmp(d->ip, "dhcp") || !strcmp(d->ip, "manual")) {
				snprintf(x.addr, sizeof(x.addr), "%s", d->ip);
			} else {
				const char *sl = strchr(d->ip, '/');
				struct in_addr a;
				char *end;
				long len = sl ? strtol(sl + 1, &end, 10) : -1;
				snprintf(x.addr, sizeof(x.addr), "%.*s", sl ? (int)(sl - d->ip) : 0,
				         d->ip);
				if (!sl || !isdigit((unsigned char)sl[1]) || *end || len > 32 ||
				    inet_pton(AF_INET, x.addr, &a) != 1)
					return guest_fail(
					    g, -EINVAL,
					    "unable to parse ipv4 address/mask '%s' of %s", d->ip,
					    d->name);
				uint32_t m = len ? 0xffffffffu << (32 - len) : 0;
				snprintf(x.mask, sizeof(x.mask), "%u.%u.%u.%u", m >> 24,
				         (m >> 16) & 255, (m >> 8) & 255, m & 255);
				snprintf(x.cidr, sizeof(x.cidr), "%s", d->ip);
				x.v4static = true;
			}
		}
		if (d->gw[0]) {
			snprintf(x.gw, sizeof(x.gw), "%s", d->gw);
			x.route4 = x.v4static && !guest_ip_in_cidr(d->gw, d->ip, 4);
		}
		const char *ip6 = d->ip6;
		if (no_v6_auto && (!strcmp(ip6, "dhcp") || !strcmp(ip6, "auto")))
			ip6 = "manual";
		if (ip6[0]) {
			x.v6 = true;
			if (!strcmp(ip6, "auto") || !strcmp(ip6, "dhcp") ||
			    !strcmp(ip6, "manual")) {
				snprintf(x.addr6, sizeof(x.addr6), "%s", ip6);
			} else {
				const char *sl = strchr(ip6, '/');
				struct in6_addr a;
				snprintf(x.addr6, sizeof(x.addr6), "%.*s", sl ? (int)(sl - ip6) : 0,
				         ip6);
				if (!sl || !sl[1] ||
				    strspn(sl + 1, "0123456789") != strlen(sl + 1) ||
				    strlen(sl + 1) >= sizeof(x.mask6) ||
				    inet_pton(AF_INET6, x.addr6, &a) != 1)
					return guest_fail(
					    g, -EINVAL,
					    "unable to parse ipv6 address/prefix '%s' of %s", ip6,
					    d->name);
				snprintf(x.mask6, sizeof(x.mask6), "%s", sl + 1);
				snprintf(x.cidr6, sizeof(x.cidr6), "%s", ip6);
				x.v6static = true;
			}
		}
		if (d->gw6[0]) {
			snprintf(x.gw6, sizeof(x.gw6), "%s", d->gw6);
			x.route6 = x.v6static && !guest_ip_in_cidr(d->gw6, ip6, 6) &&
			    !guest_ip_in_cidr(d->gw6, "fe80::/10", 6);
		}
		if (!x.v4 && !x.gw[0] && !x.v6 && !x.gw6[0])
			continue;
		size_t j = 0;
		while (j < k && strcmp(out[j].name, x.name) != 0)
			j++;
		if (j == max)
			break;
		out[j] = x;
		if (j == k)
			k++;
	}
	qsort(out, k, sizeof(out[0]), cmp_names);
	*count = k;
	return 0;
}

static int setup_ifupdown(struct guest *g, const struct dver *v, bool no_v6_auto)
{
	static const char *const path = "/etc/network/interfaces";
	struct ifnet nets[32];
	struct ifup st;
	char *text = NULL;
	size_t len;
	int rc;
	memset(&st, 0, sizeof(st));
	if ((rc = ifup_collect(g, nets, 32, &st.n, no_v6_auto)))
		return rc;
	/* without /etc/network there is no ifupdown to read the file (the reference fails) */
	if (!st.n || guest_ignored(g, path) || !guest_is_dir(g, "/etc/network"))
		return 0;
	st.nets = nets;
	st.cidr_address = (!strcmp(v->os, "debian") && v->major >= 10) ||
	    (!strcmp(v->os, "alpine") && at_least(v->ver, 3, 13));
	if (guest_is_file(g, path) && (rc = guest_read(g, path, &text, &len)))
		return guest_fail(g, rc, "unable to read %s: %s", path, strerror(-rc));
	for (const char *p = text ? text : ""; *p && rc == 0;) {
		size_t l = strcspn(p, "\n");
		char *line = strndup(p, l);
		rc = line ? ifup_line(&st, line) : -ENOMEM;
		free(line);
		p += l + (p[l] == '\n');
	}
	free(text);
	if (rc == 0)
		rc = print_section(&st);
	/* the interfaces the file did not have yet, IPv4 before IPv6 */
	bool sep = st.out.len && !(st.out.len >= 2 && !strcmp(st.out.buf + st.out.len - 2, "\n\n"));
	for (size_t i = 0; i < st.n && rc == 0; i++) {
		for (int fam6 = 0; fam6 < 2 && rc == 0; fam6++) {
			struct ifnet *n = &nets[i];
			if (fam6 ? (n->done6 || !n->v6) : (n->done4 || !n->v4))
				continue;
			if (sep)
				sbuf_add(&st.out, "\n", 1);
			sep = false;
			st.sec = n;
			st.sec6 = fam6;
			rc = print_section(&st);
		}
	}
	if (rc == 0) {
		struct sbuf all = SBUF_INIT;
		/* templates before Debian 8 configure no loopback unless told */
		if (!lines_has(&st.autos, "lo"))
			sbuf_addf(&all,
			          "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n");
		sbuf_add(&all, st.out.buf ? st.out.buf : "", st.out.len);
		rc = st.out.oom ? -ENOMEM : guest_write_sb(g, path, &all, 0);
		sbuf_release(&all);
	}
	if (rc == -ENOMEM && !g->err[0])
		guest_fail(g, rc, "out of memory writing %s", path);
	sbuf_release(&st.out);
	lines_free(&st.autos);
	lines_free(&st.attrs);
	return rc;
}

/* ------------------------------------------------------ systemd pieces */

/* the Debian family's consoles are /dev/ttyN: it has no /dev/lxc/ */
static int debian_systemd_init(struct guest *g, const struct dver *v)
{
	static const char *const no_networkd[] = { "disable systemd-networkd.service", NULL };
	int rc = guest_setup_container_getty_units(g, "");
	/* systemd-networkd is on by default from 12, but Debian uses ifupdown */
	if (rc == 0 && v->major >= 12)
		rc = guest_setup_systemd_preset(g, no_networkd);
	return rc;
}

static const char snakeoil_unit[] =
    "[Unit]\n"
    "Description=\"Regenerate pre-generated snakeoil certificate and key-pair once\"\n"
    "ConditionPathExists=/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
    "ConditionFirstBoot=yes\n"
    "Wants=first-boot-complete.target\n"
    "Before=first-boot-complete.target\n"
    "\n"
    "[Service]\n"
    "Type=oneshot\n"
    "ExecStart=make-ssl-cert -f generate-default-snakeoil\n";

/* a template's pre-generated ssl-cert key pair must not be shared by every container */
static int snakeoil_fixup(struct guest *g)
{
	static const char *const key = "/etc/ssl/private/ssl-cert-snakeoil.key";
	static const char *const unit = "/etc/systemd/system/proxmox-regenerate-snakeoil.service";
	static const char *const wants = "/etc/systemd/system/first-boot-complete.target.wants";
	int rc;
	if (!guest_is_file(g, key))
		return 0;
	if (runs_systemd(g)) {
		char lnk[160];
		printf("Setting up 'proxmox-regenerate-snakeoil.service' to regenerate snakeoil "
		       "certificate..\n");
		if ((rc = guest_write(g, unit, snakeoil_unit, sizeof(snakeoil_unit) - 1, 0)) ||
		    (!guest_is_dir(g, wants) && (rc = guest_mkdirs(g, wants, 0755))))
			return rc;
		snprintf(lnk, sizeof(lnk), "%s/proxmox-regenerate-snakeoil.service", wants);
		if ((rc = link_if_free(g, unit, lnk)))
			return rc;
	} else {
		fprintf(stderr,
		        "warning: the template contains a pre-generated snakeoil "
		        "certificate - run 'make-ssl-cert generate-default-snakeoil -f' "
		        "to regenerate it\n");
	}
	/* no accidental use if the warning is ignored or the regeneration fails */
	return guest_unlink(g, key);
}

/* ------------------------------------------------------------- debian */

static int debian_check(struct guest *g)
{
	struct dver v;
	return debian_version(g, &v, true);
}

static int debian_family_init(struct guest *g, const struct dver *v)
{
	int rc = runs_systemd(g) ? debian_systemd_init(g, v) : 0;
	return rc ? rc : setup_inittab(g, false, v->major);
}

static int debian_init(struct guest *g)
{
	struct dver v;
	int rc = debian_version(g, &v, false);
	return rc ? rc : debian_family_init(g, &v);
}

static int debian_network(struct guest *g)
{
	struct dver v;
	int rc = debian_version(g, &v, false);
	return rc ? rc : setup_ifupdown(g, &v, false);
}

const struct guest_distro guest_debian = {
	.ostype = "debian",
	.check_version = debian_check,
	.setup_init = debian_init,
	.setup_network = debian_network,
	.template_fixup = snakeoil_fixup,
};

/* ------------------------------------------------------------- devuan */

static int devuan_check(struct guest *g)
{
	struct dver v;
	return devuan_version(g, &v);
}

static int devuan_init(struct guest *g)
{
	struct dver v;
	int rc = devuan_version(g, &v);
	return rc ? rc : debian_family_init(g, &v);
}

/* as Debian's, but "address a" + "netmask m" whatever the release */
static int devuan_network(struct guest *g)
{
	struct dver v;
	int rc = devuan_version(g, &v);
	return rc ? rc : setup_ifupdown(g, &v, false);
}

const struct guest_distro guest_devuan = {
	.ostype = "devuan",
	.check_version = devuan_check,
	.setup_init = devuan_init,
	.setup_network = devuan_network,
	.template_fixup = snakeoil_fixup,
};

/* ------------------------------------------------------------- ubuntu */

static int ubuntu_check(struct guest *g)
{
	struct dver v;
	return ubuntu_version(g, &v, true);
}

/* upstart (12.04, 14.04): one job per tty */
static int ubuntu_upstart_ttys(struct guest *g)
{
	int ttys = guest_tty_count(g), rc = 0;
	for (int i = 1; i < 7 && rc == 0; i++) {
		char path[64], job[512];
		snprintf(path, sizeof(path), "/etc/init/tty%d.conf", i);
		if (i > ttys) {
			rc = guest_unlink(g, path);
			continue;
		}
		snprintf(job, sizeof(job),
		         "# tty%d - getty\n"
		         "#\n"
		         "# This service maintains a getty on tty%d from the point the system is\n"
		         "# started until it is shut down again.\n"
		         "\n"
		         "start on stopped rc RUNLEVEL=[2345] and (\n"
		         "            not-container or\n"
		         "            container CONTAINER=lxc or\n"
		         "            container CONTAINER=lxc-libvirt)\n"
		         "\n"
		         "stop on runlevel [!2345]\n"
		         "\n"
		         "respawn\n"
		         "exec /sbin/getty -8 38400 tty%d\n",
		         i, i, i);
		rc = guest_write(g, path, job, strlen(job), 0);
	}
	return rc;
}

static int ubuntu_init(struct guest *g)
{
	static const char *const networkd[] = { "enable systemd-networkd.service", NULL };
	struct dver v;
	int rc = ubuntu_version(g, &v, false);
	if (rc == 0 && ubuntu_ge(&v, "23.04"))
		rc = guest_setup_systemd_preset(g, networkd);
	if (rc == 0 && ubuntu_ge(&v, "16.10"))
		rc = guest_setup_container_getty_units(g, "");
	if (rc == 0 && (!strcmp(v.ver, "12.04") || !strcmp(v.ver, "14.04")))
		rc = ubuntu_upstart_ttys(g);
	return rc;
}

static int ubuntu_network(struct guest *g)
{
	struct dver v;
	int rc = ubuntu_version(g, &v, false);
	if (rc)
		return rc;
	return ubuntu_ge(&v, "17.10") ? guest_setup_systemd_networkd(g)
	                              : setup_ifupdown(g, &v, false);
}

/* 12.04's udev logs at level "err" on the console: quiet it */
static int ubuntu_udev_fixup(struct guest *g)
{
	static const char *const path = "/etc/udev/udev.conf";
	char *data, *at;
	size_t len;
	if (!guest_is_file(g, path) || guest_read(g, path, &data, &len))
		return 0;
	int rc = 0;
	if ((at = strstr(data, "=\"err\""))) {
		struct sbuf b = SBUF_INIT;
		sbuf_add(&b, data, (size_t)(at - data));
		sbuf_addf(&b, "=0%s", at + 6);
		rc = guest_write_sb(g, path, &b, 0);
		sbuf_release(&b);
	}
	free(data);
	return rc;
}

static int ubuntu_fixup(struct guest *g)
{
	static const char *const pts0[] = { "pts/0", NULL };
	struct dver v;
	int rc = ubuntu_version(g, &v, false);
	if (rc || (rc = snakeoil_fixup(g)))
		return rc;
	if (ubuntu_ge(&v, "17.10") && !ubuntu_ge(&v, "23.04")) {
		/* these releases ship networkd disabled; from 23.04 a preset enables it */
		static const char *const dirs[] = { "/etc/systemd/system/multi-user.target.wants",
			                            "/etc/systemd/system/socket.target.wants" };
		for (size_t i = 0; i < 2 && rc == 0; i++)
			if (guest_is_dir(g, "/etc/systemd/system") && !path_exists(g, dirs[i]))
				rc = guest_mkdirs(g, dirs[i], 0755);
		if (rc == 0)
			rc = link_if_free(g, "/lib/systemd/system/systemd-networkd.service",
			                  "/etc/systemd/system/multi-user.target.wants/"
			                  "systemd-networkd.service");
		if (rc == 0)
			rc = link_if_free(g, "/lib/systemd/system/systemd-networkd.socket",
			                  "/etc/systemd/system/socket.target.wants/"
			                  "systemd-networkd.socket");
	}
	/* the template's netplan file would configure eth0 besides our networkd file */
	if (rc == 0 && ubuntu_ge(&v, "17.10"))
		rc = guest_unlink(g, "/etc/netplan/10-lxc.yaml");
	/* root login on the console */
	if (rc == 0 &&
	    (!strcmp(v.ver, "15.04") || !strcmp(v.ver, "15.10") || !strcmp(v.ver, "16.04")))
		rc = guest_setup_securetty_list(g, pts0);
	if (rc == 0 && !strcmp(v.ver, "12.04"))
		rc = ubuntu_udev_fixup(g);
	return rc;
}

const struct guest_distro guest_ubuntu = {
	.ostype = "ubuntu",
	.check_version = ubuntu_check,
	.setup_init = ubuntu_init,
	.setup_network = ubuntu_network,
	.template_fixup = ubuntu_fixup,
};

/* ------------------------------------------------------------- alpine */

static int alpine_init(struct guest *g)
{
	return setup_inittab(g, true, 0);
}

/* busybox has no working DHCPv6 client and no "auto" method: IPv6 is manual there */
static int alpine_network(struct guest *g)
{
	struct dver v;
	alpine_version(g, &v);
	return setup_ifupdown(g, &v, true);
}

/* templates from images.linuxcontainers.org carry a "127.0.1.1 LXC_NAME" line */
static bool lxc_name_line(const char *l)
{
	static const char ip[] = "127.0.1.1";
	for (size_t i = 0; i < sizeof(ip) - 1; i++) /* the dots match any character */
		if (!l[i] || (ip[i] != '.' && l[i] != ip[i]))
			return false;
	const char *p = l + sizeof(ip) - 1;
	if (!is_ws(*p))
		return false;
	return !strcmp(skip_ws(p), "LXC_NAME");
}

static int alpine_hosts_fixup(struct guest *g)
{
	struct lines l = { 0 };
	struct sbuf b = SBUF_INIT;
	char *text;
	size_t len;
	if (!path_exists(g, "/etc/hosts") || guest_read(g, "/etc/hosts", &text, &len))
		return 0;
	int rc = lines_split(&l, text);
	free(text);
	bool first = true;
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		if (!lxc_name_line(l.v[i])) {
			sbuf_addf(&b, first ? "%s" : "\n%s", l.v[i]);
			first = false;
		}
	sbuf_add(&b, "\n", 1);
	if (rc == 0)
		rc = guest_write_sb(g, "/etc/hosts", &b, 0);
	sbuf_release(&b);
	lines_free(&l);
	return rc;
}

static int alpine_fixup(struct guest *g)
{
	static const char *const links[][2] = {
		{ "/etc/init.d/networking", "/etc/runlevels/boot/networking" },
		{ "/etc/init.d/bootmisc", "/etc/runlevels/boot/bootmisc" },
		{ "/etc/init.d/hostname", "/etc/runlevels/boot/hostname" },
		{ "/etc/init.d/killprocs", "/etc/runlevels/shutdown/killprocs" },
		{ "/etc/init.d/savecache", "/etc/runlevels/shutdown/savecache" },
	};
	/* Alpine has no /dev/lxc/ either */
	static const char *const ttys[] = { "console", "tty1", "tty2", "tty3", "tty4", NULL };
	int rc = 0;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]) && rc == 0; i++)
		rc = link_if_free(g, links[i][0], links[i][1]);
	if (rc == 0)
		rc = guest_setup_securetty_list(g, ttys);
	return rc ? rc : alpine_hosts_fixup(g);
}

const struct guest_distro guest_alpine = {
	.ostype = "alpine",
	.setup_init = alpine_init,
	.setup_network = alpine_network,
	.template_fixup = alpine_fixup,
};
