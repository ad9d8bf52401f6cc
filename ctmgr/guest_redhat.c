/*
 * guest_redhat.c - guest set-up of the Red Hat family, as the reference's
 * CentOS.pm and Fedora.pm (the latter builds on the former):
 *
 *   centos  CentOS, RHEL, Rocky, AlmaLinux (the core maps their os-release
 *           IDs here).  The version is the "release N[.M]" of
 *           /etc/redhat-release: older than 5 is refused, newer than 10
 *           warned about and set up like 10.  Network: ifcfg-<name> (plus
 *           route-/route6-<name> for off-link gateways and NETWORKING= in
 *           an existing /etc/sysconfig/network) before 10, NetworkManager
 *           keyfiles from 10 on.  Consoles: container-getty@N links for
 *           the tty count; 5 and 6 (upstart) get their /etc/init/ jobs at
 *           create.  From 8 on a systemd preset file for the first boot.
 *   fedora  VERSION_ID of os-release: older than 22 is refused, newer than
 *           FEDORA_KNOWN warned about.  Network: systemd-networkd from 25
 *           on; before 25 (on 25-27 too when /etc/sysconfig/network
 *           exists) also what centos writes for the release number of
 *           /etc/redhat-release - NetworkManager keyfiles, as that number
 *           is at least 22 (so does the reference).
 *
 * Both write the full host name (not only its first label) to
 * /etc/hostname and to HOSTNAME= of an existing /etc/sysconfig/network.
 * UUIDs of ifcfg and keyfiles are new on every run (all zero when seeded),
 * as in the reference.  Called by the core (guest.c) through struct
 * guest_distro; every file access goes through the core's rootfs API.
 */
#include "ctmgr/guest.h"
#include "pmxcfs/sbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CENTOS_KNOWN 10 /* the newest centos major the reference knows */
#define FEDORA_KNOWN 43 /* the newest Fedora release known here */

#define SPACE " \t\n\r\f\v" /* Perl's \s */

/* ------------------------------------------------------------ helpers */

/* a random version 4 UUID, all zero when seeded */
static int new_uuid(struct guest *g, char out[37])
{
	unsigned char u[16];
	memset(u, 0, sizeof(u));
	if (!g->seeded) {
		if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
			return guest_fail(g, -EIO, "no random bytes for a UUID");
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	}
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
	return 0;
}

static bool path_exists(struct guest *g, const char *path)
{
	return guest_is_file(g, path) || guest_is_dir(g, path) || guest_is_symlink(g, path);
}

/* ------------------------------------------------------------ versions */

/* "release <d>.<d>", else "release <d>", in text (the reference's order) */
static bool parse_release(const char *text, char *out, size_t len)
{
	for (int pass = 0; pass < 2; pass++)
		for (const char *p = text; (p = strstr(p, "release")) != NULL; p++) {
			const char *q = p + 7;
			size_t sp = strspn(q, SPACE);
			size_t d1 = strspn(q + sp, "0123456789");
			if (!sp || !d1)
				continue;
			q += sp;
			size_t d2 = q[d1] == '.' ? strspn(q + d1 + 1, "0123456789") : 0;
			if (pass == 0 && !d2)
				continue;
			snprintf(out, len, "%.*s", (int)(pass == 0 ? d1 + 1 + d2 : d1), q);
			return true;
		}
	return false;
}

/* the release of /etc/redhat-release ("7.9", "9") and its value; -ENOTSUP + g->err */
static int centos_version(struct guest *g, char *ver, size_t len, double *v)
{
	char *line = guest_read_firstline(g, "/etc/redhat-release");
	if (!line)
		return guest_fail(g, -ENOTSUP, "unable to read version info");
	int rc = 0;
	if (parse_release(line, ver, len))
		*v = strtod(ver, NULL);
	else
		rc = guest_fail(g, -ENOTSUP, "unable to parse centos version '%s'", line);
	free(line);
	return rc;
}

static int centos_check_version(struct guest *g)
{
	char ver[32];
	double v;
	int rc = centos_version(g, ver, sizeof(ver), &v);
	if (rc)
		return rc;
	if (v < 5)
		return guest_fail(g, -ENOTSUP, "unsupported centos version '%s'", ver);
	if (v >= CENTOS_KNOWN + 1)
		fprintf(stderr,
		        "warning: centos version '%s' is newer than the known ones (up to %d) - "
		        "set up like %d\n",
		        ver, CENTOS_KNOWN, CENTOS_KNOWN);
	return 0;
}

/* VERSION_ID of os-release as a number (0 when not numeric) */
static double fedora_version(const struct guest *g)
{
	return strtod(g->version, NULL);
}

static int fedora_check_version(struct guest *g)
{
	double v = fedora_version(g);
	if (v < 22)
		return guest_fail(g, -ENOTSUP, "unsupported Fedora release '%s'", g->version);
	if (v > FEDORA_KNOWN)
		fprintf(stderr,
		        "warning: Fedora release '%s' is newer than the known ones (up to %d) - "
		        "continuing\n",
		        g->version, FEDORA_KNOWN);
	return 0;
}

/* ------------------------------------------------------------ consoles */

/* the reference's default securetty additions: <devttydir>console, tty1-tty4 */
static int setup_securetty(struct guest *g)
{
	static const char *const names[] = { "console", "tty1", "tty2", "tty3", "tty4" };
	char devs[5][16];
	const char *list[6];
	for (size_t i = 0; i < 5; i++) {
		snprintf(devs[i], sizeof(devs[i]), "%s%s", guest_devttydir(g), names[i]);
		list[i] = devs[i];
	}
	list[5] = NULL;
	return guest_setup_securetty_list(g, list);
}

/* static units presets cannot turn off: masked (-> /dev/null) unless something is there */
static int disable_static_units(struct guest *g)
{
	static const char *const units[] = { "sys-kernel-config.mount", "sys-kernel-debug.mount" };
	if (!guest_is_dir(g, "/etc/systemd/system"))
		return 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/etc/systemd/system/%s", units[i]);
		int rc = path_exists(g, path) ? 0 : guest_symlink(g, "/dev/null", path);
		if (rc)
			return rc;
	}
	return 0;
}

/* "127.0.1.1 LXC_NAME" (dots: any character), the line of images.linuxcontainers.org */
static bool lxc_name_line(const char *l, size_t len)
{
	static const char ip[] = "127.0.1.1";
	if (len < sizeof(ip) - 1)
		return false;
	for (size_t i = 0; i < sizeof(ip) - 1; i++)
		if (ip[i] != '.' && l[i] != ip[i])
			return false;
	size_t k = sizeof(ip) - 1, sp = 0;
	while (k + sp < len && strchr(SPACE, l[k + sp]))
		sp++;
	return sp > 0 && len - k - sp == 8 && !strncmp(l + k + sp, "LXC_NAME", 8);
}

/* /etc/hosts without the template's "127.0.1.1 LXC_NAME" line (rewritten as lines) */
static int remove_lxc_name_from_hosts(struct guest *g)
{
	char *data;
	size_t len;
	if (guest_read(g, "/etc/hosts", &data, &len))
		return 0;
	struct sbuf b = SBUF_INIT;
	size_t keep = 0; /* Perl's split drops trailing empty lines */
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		if (!lxc_name_line(p, l)) {
			sbuf_add(&b, p, l);
			if (l)
				keep = b.len;
			sbuf_add(&b, "\n", 1);
		}
		p += l + (p[l] == '\n');
	}
	b.len = keep;
	sbuf_add(&b, "\n", 1);
	int rc = guest_write_sb(g, "/etc/hosts", &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

/* --------------------------------------------------- upstart (centos < 7) */

static const char tty_conf[] =
    "# tty - getty\n"
    "#\n"
    "# This service maintains a getty on the specified device.\n"
    "#\n"
    "# Do not edit this file directly. If you want to change the behaviour,\n"
    "# please create a file tty.override and put your changes there.\n"
    "\n"
    "stop on runlevel [S016]\n"
    "\n"
    "respawn\n"
    "instance $TTY\n"
    "exec /sbin/mingetty --nohangup $TTY\n"
    "usage 'tty TTY=/dev/ttyX  - where X is console id'\n";

static const char start_ttys_conf[] =
    "#\n"
    "# This service starts the configured number of gettys.\n"
    "#\n"
    "# Do not edit this file directly. If you want to change the behaviour,\n"
    "# please create a file start-ttys.override and put your changes there.\n"
    "\n"
    "start on stopped rc RUNLEVEL=[2345]\n"
    "\n"
    "env ACTIVE_CONSOLES=/dev/tty[1-6]\n"
    "env X_TTY=/dev/tty1\n"
    "task\n"
    "script\n"
    "        . /etc/sysconfig/init\n"
    "        for tty in $(echo $ACTIVE_CONSOLES) ; do\n"
    "                [ \"$RUNLEVEL\" = \"5\" -a \"$tty\" = \"$X_TTY\" ] && continue\n"
    "                initctl start tty TTY=$tty\n"
    "        done\n"
    "end script\n";

static const char power_status_changed_conf[] = "#  power-status-changed - shutdown on SIGPWR\n"
                                                "#\n"
                                                "start on power-status-changed\n"
                                                "    \n"
                                                "exec /sbin/shutdown -h now \"SIGPWR received\"\n";

/* every line "exec /sbin/mingetty <args>" without --nohangup gets it */
static char *mingetty_nohangup(const char *data)
{
	static const char exec[] = "exec /sbin/mingetty";
	const size_t el = sizeof(exec) - 1;
	struct sbuf b = SBUF_INIT;
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		char *line = strndup(p, l);
		if (line && l > el && !strncmp(line, exec, el) && line[el] == ' ' &&
		    !strstr(line + el, "--nohangup"))
			sbuf_addf(&b, "%s --nohangup%s", exec, line + el);
		else
			sbuf_add(&b, p, l);
		free(line);
		if (p[l] == '\n')
			sbuf_add(&b, "\n", 1);
		p += l + (p[l] == '\n');
	}
	return sbuf_detach(&b, NULL);
}

/* every line starting with /sbin/start_udev commented out */
static char *comment_start_udev(const char *data)
{
	struct sbuf b = SBUF_INIT;
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		if (!strncmp(p, "/sbin/start_udev", 16))
			sbuf_add(&b, "#", 1);
		sbuf_add(&b, p, l + (p[l] == '\n'));
		p += l + (p[l] == '\n');
	}
	return sbuf_detach(&b, NULL);
}

/* rewrite path through fn when it can be read (a missing one is left alone) */
static int edit_file(struct guest *g, const char *path, char *(*fn)(const char *))
{
	char *data, *out;
	size_t len;
	if (guest_read(g, path, &data, &len))
		return 0;
	out = fn(data);
	free(data);
	if (!out) /* out of memory: the file stays as it is */
		return guest_fail(g, -ENOMEM, "out of memory editing %s", path);
	int rc = guest_write(g, path, out, strlen(out), 0);
	free(out);
	return rc;
}

/* upstart's getty jobs, missing in minimal templates, and no udev in the container */
static int upstart_fixup(struct guest *g)
{
	static const struct {
		const char *path, *data;
	} jobs[] = {
		{ "/etc/init/start-ttys.conf", start_ttys_conf },
		{ "/etc/init/power-status-changed.conf", power_status_changed_conf },
	};
	int rc = guest_mkdirs(g, "/etc/init", 0755);
	if (rc)
		return rc;
	if (guest_is_file(g, "/etc/init/tty.conf"))
		rc = edit_file(g, "/etc/init/tty.conf", mingetty_nohangup);
	else
		rc = guest_write(g, "/etc/init/tty.conf", tty_conf, strlen(tty_conf), 0);
	for (size_t i = 0; i < 2 && !rc; i++)
		if (!guest_is_file(g, jobs[i].path))
			rc = guest_write(g, jobs[i].path, jobs[i].data, strlen(jobs[i].data), 0);
	return rc ? rc : edit_file(g, "/etc/rc.d/rc.sysinit", comment_start_udev);
}

/* ------------------------------------------------------- network: ifcfg */

/* "a.b.c.d/len" (len 8-32) into the address and its dotted netmask */
static int ipv4_cidr(struct guest *g, const char *cidr, char *addr, size_t alen, char mask[16])
{
	const char *slash = strchr(cidr, '/');
	unsigned char a[4];
	char ip[32];
	int len = slash && slash[1] ? atoi(slash + 1) : -1;
	snprintf(ip, sizeof(ip), "%.*s", slash ? (int)(slash - cidr) : 0, cidr);
	if (!slash || strspn(slash + 1, "0123456789") != strlen(slash + 1) || len < 8 || len > 32 ||
	    inet_pton(AF_INET, ip, a) != 1)
		return guest_fail(g, -EINVAL, "unable to parse ipv4 address/mask");
	unsigned long m = len ? (0xffffffffUL << (32 - len)) & 0xffffffffUL : 0;
	snprintf(addr, alen, "%s", ip);
	snprintf(mask, 16, "%lu.%lu.%lu.%lu", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
	return 0;
}

/*
 * The first "<key>=<non-blanks>" anywhere in data gets the value "yes",
 * else "<key>=yes\n" is appended (the reference's s/(KEY)=\S+/$1=yes/).
 */
static void set_yes(struct sbuf *out, const char *data, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = data; (p = strstr(p, key)) != NULL; p++) {
		const char *v = p + kl + 1;
		size_t vl = strcspn(v, SPACE);
		if (p[kl] != '=' || !vl)
			continue;
		sbuf_add(out, data, (size_t)(v - data));
		sbuf_addf(out, "yes%s", v + vl);
		return;
	}
	sbuf_addf(out, "%s%s=yes\n", data, key);
}

/* NETWORKING=yes / NETWORKING_IPV6=yes in an existing /etc/sysconfig/network */
static int sysconfig_networking(struct guest *g, bool has4, bool has6)
{
	static const char path[] = "/etc/sysconfig/network";
	char *data;
	size_t len;
	if (!guest_is_file(g, path))
		return 0;
	int rc = guest_read(g, path, &data, &len);
	if (rc)
		return guest_fail(g, rc, "cannot read %s: %s", path, strerror(-rc));
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	if (has4)
		set_yes(&a, data, "NETWORKING");
	else
		sbuf_addf(&a, "%s", data);
	if (has6)
		set_yes(&b, a.buf ? a.buf : "", "NETWORKING_IPV6");
	else
		sbuf_addf(&b, "%s", a.buf ? a.buf : "");
	rc = guest_write_sb(g, path, &b, 0);
	sbuf_release(&a);
	sbuf_release(&b);
	free(data);
	return rc;
}

/* ifcfg-<name>, route-<name>, route6-<name> of one interface */
static int ifcfg_one(struct guest *g, const struct guest_net *d, const char *search,
                     const char *servers)
{
	struct sbuf data = SBUF_INIT, routes = SBUF_INIT, routes6 = SBUF_INIT, file = SBUF_INIT;
	const char *boot = "";
	char path[128], uuid[37];
	int rc = 0;
	if (d->ip[0] && strcmp(d->ip, "manual") != 0) {
		if (!strcmp(d->ip, "dhcp")) {
			boot = "dhcp";
		} else {
			char addr[64], mask[16];
			boot = "none";
			if ((rc = ipv4_cidr(g, d->ip, addr, sizeof(addr), mask)))
				goto out;
			sbuf_addf(&data, "IPADDR=%s\nNETMASK=%s\n", addr, mask);
			if (d->gw[0]) {
				sbuf_addf(&data, "GATEWAY=%s\n", d->gw);
				if (!guest_ip_in_cidr(d->gw, d->ip, 4))
					sbuf_addf(&routes, "%s dev %s\ndefault via %s dev %s\n",
					          d->gw, d->name, d->gw, d->name);
			}
		}
	}
	if (d->ip6[0] && strcmp(d->ip6, "manual") != 0) {
		if (!boot[0])
			boot = "none";
		sbuf_addf(&data, "IPV6INIT=yes\n");
		if (!strcmp(d->ip6, "auto")) {
			sbuf_addf(&data, "IPV6_AUTOCONF=yes\n");
		} else if (!strcmp(d->ip6, "dhcp")) {
			sbuf_addf(&data, "DHCPV6C=yes\n");
		} else {
			sbuf_addf(&data, "IPV6ADDR=%s\nIPV6_AUTOCONF=no\n", d->ip6);
			if (d->gw6[0] && !guest_ip_in_cidr(d->gw6, d->ip6, 6) &&
			    !guest_ip_in_cidr(d->gw6, "fe80::/10", 6))
				sbuf_addf(&routes6, "%s dev %s\ndefault via %s dev %s\n", d->gw6,
				          d->name, d->gw6, d->name);
			else if (d->gw6[0])
				sbuf_addf(&data, "IPV6_DEFAULTGW=%s\n", d->gw6);
		}
	}
	int i = 1;
	for (const char *p = servers; *p; i++) {
		size_t n = strcspn(p, " ");
		sbuf_addf(&data, "DNS%d=%.*s\n", i, (int)n, p);
		p += n + (p[n] == ' ');
	}
	if (search[0])
		sbuf_addf(&data, "DOMAIN=%s\n", search);
	if (!data.len && !boot[0])
		goto out;
	if ((rc = new_uuid(g, uuid)))
		goto out;
	sbuf_addf(&file, "DEVICE=%s\nONBOOT=yes\nUUID=%s\nBOOTPROTO=%s\n%s", d->name, uuid, boot,
	          data.buf ? data.buf : "");
	snprintf(path, sizeof(path), "/etc/sysconfig/network-scripts/ifcfg-%s", d->name);
	if ((rc = guest_write_sb(g, path, &file, 0)))
		goto out;
	snprintf(path, sizeof(path), "/etc/sysconfig/network-scripts/route-%s", d->name);
	if ((rc = guest_modify_region(g, path, routes.buf, GUEST_PREPEND, 0, true)))
		goto out;
	snprintf(path, sizeof(path), "/etc/sysconfig/network-scripts/route6-%s", d->name);
	rc = guest_modify_region(g, path, routes6.buf, GUEST_PREPEND, 0, true);
out:
	sbuf_release(&data);
	sbuf_release(&routes);
	sbuf_release(&routes6);
	sbuf_release(&file);
	return rc;
}

/* the network-scripts of RHEL-family releases before 10 */
static int ifcfg_network(struct guest *g)
{
	struct guest_net nets[32];
	char search[512], servers[512];
	bool has4 = false, has6 = false;
	size_t n = guest_nets(g, nets, 32);
	int rc = guest_mkdirs(g, "/etc/sysconfig/network-scripts", 0755);
	guest_dns(g, search, sizeof(search), servers, sizeof(servers));
	for (size_t i = 0; i < n && !rc; i++) {
		has4 |= nets[i].ip[0] != '\0';
		has6 |= nets[i].ip6[0] != '\0';
		rc = ifcfg_one(g, &nets[i], search, servers);
	}
	return rc ? rc : sysconfig_networking(g, has4, has6);
}

/* ------------------------------------------ network: NetworkManager keyfiles */

/* "dns=" and "dns-search=" lines of one address family (nothing without its servers) */
static void nm_dns(struct sbuf *b, const char *servers, const char *search, int af)
{
	struct sbuf list = SBUF_INIT;
	unsigned char buf[16];
	for (const char *p = servers; *p;) {
		size_t n = strcspn(p, " ");
		char ip[80];
		snprintf(ip, sizeof(ip), "%.*s", (int)n, p);
		if (inet_pton(af, ip, buf) == 1)
			sbuf_addf(&list, "%s%s", list.len ? ";" : "", ip);
		p += n + (p[n] == ' ');
	}
	if (list.len) {
		sbuf_addf(b, "dns=%s\n", list.buf);
		if (search[0]) {
			sbuf_addf(b, "dns-search=");
			for (const char *s = search; *s; s++)
				sbuf_add(b, *s == ' ' ? ";" : s, 1);
			sbuf_add(b, "\n", 1);
		}
	}
	sbuf_release(&list);
}

/* /etc/NetworkManager/system-connections/<name>.nmconnection (mode 0600) */
static int nm_one(struct guest *g, const struct guest_net *d, const char *search,
                  const char *servers)
{
	struct sbuf b = SBUF_INIT;
	char path[160], uuid[37];
	int rc = new_uuid(g, uuid);
	if (rc)
		return rc;
	sbuf_addf(&b, "[connection]\nid=%s\nuuid=%s\ntype=ethernet\ninterface-name=%s\n[ipv4]\n",
	          d->name, uuid, d->name);
	if (d->ip[0] && strcmp(d->ip, "manual") != 0) {
		if (!strcmp(d->ip, "dhcp")) {
			sbuf_addf(&b, "method=auto\n");
		} else {
			sbuf_addf(&b, "method=manual\naddresses=%s\n", d->ip);
			if (d->gw[0]) {
				sbuf_addf(&b, "gateway=%s\n", d->gw);
				if (!guest_ip_in_cidr(d->gw, d->ip, 4))
					sbuf_addf(&b, "routes=%s\n", d->gw);
			}
		}
		nm_dns(&b, servers, search, AF_INET);
	} else {
		sbuf_addf(&b, "method=disabled\n");
	}
	sbuf_addf(&b, "[ipv6]\n");
	if (d->ip6[0] && strcmp(d->ip6, "manual") != 0) {
		if (!strcmp(d->ip6, "auto") || !strcmp(d->ip6, "dhcp")) {
			sbuf_addf(&b, "method=auto\n");
		} else {
			sbuf_addf(&b, "method=manual\naddress=%s\n", d->ip6);
			if (d->gw6[0] && !guest_ip_in_cidr(d->gw6, d->ip6, 6) &&
			    !guest_ip_in_cidr(d->gw6, "fe80::/10", 6))
				sbuf_addf(&b, "routes=%s\n", d->gw6);
			else if (d->gw6[0])
				sbuf_addf(&b, "gateway=%s\n", d->gw6);
		}
		nm_dns(&b, servers, search, AF_INET6);
	} else {
		sbuf_addf(&b, "method=disabled\n");
	}
	snprintf(path, sizeof(path), "/etc/NetworkManager/system-connections/%s.nmconnection",
	         d->name);
	/* a new file, so always 0600: NetworkManager skips keyfiles others may read */
	if (!guest_ignored(g, path))
		guest_unlink(g, path);
	rc = guest_write_sb(g, path, &b, 0600);
	sbuf_release(&b);
	return rc;
}

/* RHEL-family 10 and newer: no network-scripts any more */
static int nm_network(struct guest *g)
{
	struct guest_net nets[32];
	char search[512], servers[512];
	size_t n = guest_nets(g, nets, 32);
	int rc = guest_mkdirs(g, "/etc/NetworkManager/system-connections", 0755);
	guest_dns(g, search, sizeof(search), servers, sizeof(servers));
	for (size_t i = 0; i < n && !rc; i++)
		rc = nm_one(g, &nets[i], search, servers);
	return rc;
}

/* ------------------------------------------------------------ centos */

static int centos_setup_network(struct guest *g)
{
	char ver[32];
	double v;
	int rc = centos_version(g, ver, sizeof(ver), &v);
	if (rc)
		return rc;
	return v >= 10 ? nm_network(g) : ifcfg_network(g);
}

/* the first line "HOSTNAME=<word>" (blanks around the word allowed) set to host */
static void set_sysconfig_hostname(struct sbuf *out, const char *data, const char *host)
{
	for (const char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		if (l >= 9 && !strncmp(p, "HOSTNAME=", 9)) {
			size_t k = 9 + strspn(p + 9, " \t");
			size_t w = k < l ? strcspn(p + k, SPACE) : 0;
			size_t e = k + w + strspn(p + k + w, " \t");
			if (w && e == l) {
				sbuf_add(out, data, (size_t)(p - data));
				sbuf_addf(out, "HOSTNAME=%s%s", host, p + l);
				return;
			}
		}
		p += l + (p[l] == '\n');
	}
	sbuf_addf(out, "%sHOSTNAME=%s\n", data, host);
}

/* /etc/hosts, /etc/hostname (the full name) and HOSTNAME= of /etc/sysconfig/network */
static int redhat_set_hostname(struct guest *g)
{
	static const char sysnet[] = "/etc/sysconfig/network";
	const char *h = guest_hostname(g);
	int rc = guest_update_hosts(g, h);
	if (rc)
		return rc;
	struct sbuf b = SBUF_INIT;
	sbuf_addf(&b, "%s\n", h);
	rc = guest_write_sb(g, "/etc/hostname", &b, 0);
	sbuf_release(&b);
	if (rc || !guest_is_file(g, sysnet))
		return rc;
	char *data;
	size_t len;
	if ((rc = guest_read(g, sysnet, &data, &len)))
		return guest_fail(g, rc, "cannot read %s: %s", sysnet, strerror(-rc));
	set_sysconfig_hostname(&b, data, h);
	rc = guest_write_sb(g, sysnet, &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

static int centos_setup_init(struct guest *g)
{
	char ver[32];
	double v;
	int rc = centos_version(g, ver, sizeof(ver), &v);
	if (rc || (rc = guest_fixup_old_getty(g)) ||
	    (rc = guest_setup_container_getty_units(g, guest_devttydir(g))))
		return rc;
	/* older releases may not cope with the preset */
	return v >= 8 ? guest_setup_systemd_preset(g, NULL) : 0;
}

static int centos_template_fixup(struct guest *g)
{
	char ver[32];
	double v;
	int rc = centos_version(g, ver, sizeof(ver), &v);
	if (rc || (v < 7 && (rc = upstart_fixup(g))))
		return rc;
	/* else systemd-firstboot asks for a locale on a tty nobody sees */
	if (!guest_is_file(g, "/etc/locale.conf") &&
	    (rc = guest_write(g, "/etc/locale.conf", "LANG=C.utf8", 11, 0)))
		return rc;
	if ((rc = setup_securetty(g)) || (rc = remove_lxc_name_from_hosts(g)))
		return rc;
	return disable_static_units(g);
}

const struct guest_distro guest_centos = {
	.ostype = "centos",
	.check_version = centos_check_version,
	.setup_init = centos_setup_init,
	.setup_network = centos_setup_network,
	.set_hostname = redhat_set_hostname,
	.template_fixup = centos_template_fixup,
};

/* ------------------------------------------------------------ fedora */

static int fedora_setup_init(struct guest *g)
{
	/* 37's preset turns systemd-networkd off in favour of NetworkManager */
	static const char *const networkd[] = { "enable systemd-networkd.service", NULL };
	int rc = guest_setup_container_getty_units(g, guest_devttydir(g));
	if (rc)
		return rc;
	return fedora_version(g) >= 37 ? guest_setup_systemd_preset(g, networkd) : 0;
}

static int fedora_setup_network(struct guest *g)
{
	/* /etc/sysconfig/network only in templates that still use network.service */
	double v = fedora_version(g);
	bool sysconfig = v <= 24 || (v <= 27 && guest_is_file(g, "/etc/sysconfig/network"));
	int rc = sysconfig ? centos_setup_network(g) : 0;
	return rc || v < 25 ? rc : guest_setup_systemd_networkd(g);
}

static int fedora_template_fixup(struct guest *g)
{
	int rc = setup_securetty(g);
	if (rc)
		return rc;
	guest_unlink(g, "/etc/systemd/system/getty@.service");
	if ((rc = remove_lxc_name_from_hosts(g)))
		return rc;
	return disable_static_units(g);
}

const struct guest_distro guest_fedora = {
	.ostype = "fedora",
	.check_version = fedora_check_version,
	.setup_init = fedora_setup_init,
	.setup_network = fedora_setup_network,
	.set_hostname = redhat_set_hostname,
	.template_fixup = fedora_template_fixup,
};
