/*
 * guest_other.c - guest set-up of openSUSE (sysconfig ifcfg/ifroute
 * files), Arch Linux and NixOS (systemd-networkd, guest.c's writer) and
 * Gentoo (openrc: /etc/inittab, /etc/conf.d/net, /etc/conf.d/hostname),
 * writing what the reference's Setup/SUSE.pm, ArchLinux.pm, NixOS.pm and
 * Gentoo.pm write.  guest_pre_start / guest_post_create (guest.c) call
 * these through struct guest_distro; guest_distros.c lists them.
 *
 * Knowing departures from the reference (each marked where it is made):
 * interfaces are handled in index order (the reference walks a Perl hash,
 * so Gentoo's /etc/conf.d/net had a random order); Gentoo's ip6=auto
 * writes nothing (the reference wrote the address "auto", which netifrc
 * rejects); a missing /etc/inittab or /etc/conf.d/hostname on Gentoo is
 * no error; an openSUSE release newer than the known ones only warns.
 */
#include "ctmgr/guest.h"
#include "pmxcfs/sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- shared pieces */

/* anything at path, the last component not followed */
static bool lexists(struct guest *g, const char *path)
{
	return guest_is_symlink(g, path) || guest_is_file(g, path) || guest_is_dir(g, path);
}

static const char *unit_dir(struct guest *g)
{
	return guest_is_executable(g, "/lib/systemd/systemd") ? "/lib/systemd/system"
	                                                      : "/usr/lib/systemd/system";
}

/* s without one trailing newline (Perl's chomp) */
static void chomp(struct sbuf *s)
{
	if (s->len && s->buf[s->len - 1] == '\n')
		s->buf[--s->len] = '\0';
}

/*
 * getty@.service fits the systemd at hand: without container-getty@
 * (systemd 205) "ConditionPathExists=/dev/tty0" becomes ".../dev/tty",
 * with it the change is undone.  Only the first such line, as the
 * reference's substitution.
 */
static int fixup_old_getty(struct guest *g)
{
	char getty[128], cgetty[128], *raw;
	size_t len;
	snprintf(getty, sizeof(getty), "%s/getty@.service", unit_dir(g));
	snprintf(cgetty, sizeof(cgetty), "%s/container-getty@.service", unit_dir(g));
	if (!guest_is_file(g, getty) || guest_read(g, getty, &raw, &len))
		return 0;
	bool have_cg = guest_is_file(g, cgetty);
	const char *from =
	    have_cg ? "ConditionPathExists=/dev/tty" : "ConditionPathExists=/dev/tty0";
	const char *to = have_cg ? "ConditionPathExists=/dev/tty0" : "ConditionPathExists=/dev/tty";
	size_t fl = strlen(from);
	int rc = 0;
	for (const char *p = raw; *p;) {
		size_t l = strcspn(p, "\n");
		if (l == fl && !strncmp(p, from, fl)) {
			struct sbuf b = SBUF_INIT;
			sbuf_add(&b, raw, (size_t)(p - raw));
			sbuf_addf(&b, "%s%s", to, p + l);
			rc = guest_write_sb(g, getty, &b, 0);
			sbuf_release(&b);
			break;
		}
		p += l + (p[l] == '\n');
	}
	free(raw);
	return rc;
}

/* /etc/securetty gets console and tty1-4, under lxc/ when privileged */
static int securetty_lxc(struct guest *g)
{
	static const char *const base[] = { "console", "tty1", "tty2", "tty3", "tty4" };
	char devs[5][16];
	const char *list[6];
	for (int i = 0; i < 5; i++) {
		snprintf(devs[i], sizeof(devs[i]), "%s%s", guest_devttydir(g), base[i]);
		list[i] = devs[i];
	}
	list[5] = NULL;
	return guest_setup_securetty_list(g, list);
}

/*
 * Templates from images.linuxcontainers.org carry a "127.0.1.1 LXC_NAME"
 * line in /etc/hosts: it goes.  Like the reference the file is rewritten
 * as its lines (trailing empty ones dropped) each ending in a newline.
 */
static bool lxc_name_line(const char *l)
{
	static const char want[] = "127?0?1?1"; /* '?': the reference's unescaped '.' */
	for (int i = 0; i < 9; i++)
		if (!l[i] || (want[i] != '?' && l[i] != want[i]))
			return false;
	size_t sp = strspn(l + 9, " \t\r\f\v");
	return sp > 0 && !strcmp(l + 9 + sp, "LXC_NAME");
}

static int remove_lxc_name(struct guest *g)
{
	char *data;
	size_t len;
	if (guest_read(g, "/etc/hosts", &data, &len) != 0)
		return 0;
	struct sbuf b = SBUF_INIT;
	size_t keep = 0; /* b.len up to the last non-empty line */
	for (char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		char c = p[l];
		p[l] = '\0';
		if (!lxc_name_line(p))
			sbuf_addf(&b, "%s\n", p);
		if (l) /* the reference filters after split() dropped the empty tail */
			keep = b.len;
		p += l + (c == '\n');
	}
	b.len = keep;
	sbuf_add(&b, "", 0);
	if (!b.len) /* the reference writes a lone newline */
		sbuf_add(&b, "\n", 1);
	int rc = guest_write_sb(g, "/etc/hosts", &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

/* ------------------------------------------------------------- openSUSE */

/* "<major>.<minor>", both all digits */
static bool dotted(const char *v, unsigned long *major, unsigned long *minor)
{
	size_t a = strspn(v, "0123456789");
	if (!a || v[a] != '.')
		return false;
	size_t b = strspn(v + a + 1, "0123456789");
	if (!b || v[a + 1 + b])
		return false;
	*major = strtoul(v, NULL, 10);
	*minor = strtoul(v + a + 1, NULL, 10);
	return true;
}

/*
 * Known: 13.0-13.2, SLES 12, 15 (Leap and SLES), 42.x, Tumbleweed and
 * Slowroll snapshots (YYYYMMDD) from 2017.  A major between 15 and 42 (Leap
 * 16) is newer than the reference knows: a warning, and the 15 handling.
 */
static int suse_check_version(struct guest *g)
{
	const char *v = g->version;
	unsigned long major, minor;
	char id[64];
	if (dotted(v, &major, &minor)) {
		guest_os_release(g, "ID", id, sizeof(id));
		if (major >= 42 || major == 15 || (major == 13 && minor <= 2) ||
		    (major == 12 && !strcmp(id, "sles")))
			return 0;
		if (major > 15) {
			fprintf(stderr,
			        "warning: suse release '%s' is newer than the known ones - "
			        "set up as 15.x\n",
			        v);
			return 0;
		}
		return guest_fail(g, -ENOTSUP, "unsupported suse release '%s'", v);
	}
	if (strlen(v) == 8 && strspn(v, "0123456789") == 8) {
		unsigned long date = strtoul(v, NULL, 10);
		unsigned long year = date / 10000, month = date / 100 % 100, day = date % 100;
		if (year >= 2017 && month <= 12 && day <= 31)
			return 0;
		return guest_fail(g, -ENOTSUP, "unsupported suse tumbleweed release '%s'", v);
	}
	return guest_fail(g, -ENOTSUP, "unrecognized suse release '%s'", v);
}

/* securetty, the systemd-firstboot defaults, no LXC_NAME in /etc/hosts */
static int suse_template_fixup(struct guest *g)
{
	int rc = securetty_lxc(g);
	if (rc)
		return rc;
	/* systemd-firstboot would ask for these on the console */
	if (!guest_is_file(g, "/etc/locale.conf") &&
	    (rc = guest_write(g, "/etc/locale.conf", "LANG=C.utf8", 11, 0)))
		return rc;
	if (!lexists(g, "/etc/localtime") &&
	    (rc = guest_symlink(g, "/usr/share/zoneinfo/UTC", "/etc/localtime")))
		return rc;
	return remove_lxc_name(g);
}

static int suse_setup_init(struct guest *g)
{
	int rc = fixup_old_getty(g);
	return rc ? rc : guest_setup_container_getty_units(g, guest_devttydir(g));
}

/*
 * /etc/sysconfig/network/ifcfg-<name> (STARTMODE, BOOTPROTO, IPADDR or
 * IPADDR_1..) and the PVE region of ifroute-<name> ("<dest> <gw> <mask>
 * <name>", an off-link gateway first reached by a host route).  An
 * interface configured only by ip6=auto gets no files.
 */
static int suse_setup_network(struct guest *g)
{
	static const char *const modes[] = { "static", "dhcp4", "dhcp6", "dhcp" };
	struct guest_net nets[32];
	size_t n = guest_nets(g, nets, 32);
	int rc = guest_mkdirs(g, "/etc/sysconfig/network", 0755);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct guest_net *d = &nets[i];
		struct sbuf data = SBUF_INIT, routes = SBUF_INIT;
		const char *addrs[2];
		size_t na = 0;
		int dhcp = 0;
		bool configured = false;
		char path[128];
		if (d->ip[0] && strcmp(d->ip, "manual") != 0) {
			configured = true;
			if (!strcmp(d->ip, "dhcp")) {
				dhcp |= 1;
			} else {
				addrs[na++] = d->ip;
				if (d->gw[0] && !guest_ip_in_cidr(d->gw, d->ip, 4))
					sbuf_addf(&routes, "%s 0.0.0.0 255.255.255.255 %s\n", d->gw,
					          d->name);
				if (d->gw[0])
					sbuf_addf(&routes, "default %s 0.0.0.0 %s\n", d->gw,
					          d->name);
			}
		}
		if (d->ip6[0] && strcmp(d->ip6, "manual") != 0) {
			configured = true;
			if (!strcmp(d->ip6, "dhcp")) {
				dhcp |= 2;
			} else if (strcmp(d->ip6, "auto") != 0) {
				addrs[na++] = d->ip6;
				if (d->gw6[0] && !guest_ip_in_cidr(d->gw6, d->ip6, 6) &&
				    !guest_ip_in_cidr(d->gw6, "fe80::/10", 6))
					sbuf_addf(&routes, "%s/128 - - %s\n", d->gw6, d->name);
				if (d->gw6[0])
					sbuf_addf(&routes, "default %s - %s\n", d->gw6, d->name);
			}
		}
		if (!na && configured && !dhcp) {
			sbuf_release(&routes);
			continue;
		}
		sbuf_addf(&data, "STARTMODE=%s\nBOOTPROTO=%s\n", configured ? "onboot" : "manual",
		          modes[dhcp]);
		if (na == 1)
			sbuf_addf(&data, "IPADDR=%s\n", addrs[0]);
		for (size_t k = 0; na > 1 && k < na; k++)
			sbuf_addf(&data, "IPADDR_%zu=%s\n", k + 1, addrs[k]);
		snprintf(path, sizeof(path), "/etc/sysconfig/network/ifcfg-%s", d->name);
		rc = routes.oom ? -ENOMEM : guest_write_sb(g, path, &data, 0);
		/* our routes first, the user's kept after the region */
		snprintf(path, sizeof(path), "/etc/sysconfig/network/ifroute-%s", d->name);
		if (rc == 0)
			rc = guest_modify_region(g, path, routes.buf ? routes.buf : "",
			                         GUEST_PREPEND, 0, true);
		sbuf_release(&data);
		sbuf_release(&routes);
	}
	return rc;
}

const struct guest_distro guest_opensuse = {
	.ostype = "opensuse",
	.check_version = suse_check_version,
	.setup_init = suse_setup_init,
	.setup_network = suse_setup_network,
	.template_fixup = suse_template_fixup,
};

/* ----------------------------------------------------------- Arch Linux */

static int arch_template_fixup(struct guest *g)
{
	int rc = securetty_lxc(g);
	return rc ? rc : remove_lxc_name(g);
}

/* Arch enables no network service: the first boot enables networkd */
static int arch_setup_init(struct guest *g)
{
	static const char *const extra[] = { "enable systemd-networkd.service", NULL };
	int rc = guest_setup_systemd_preset(g, extra);
	return rc ? rc : guest_setup_container_getty_units(g, guest_devttydir(g));
}

const struct guest_distro guest_archlinux = {
	.ostype = "archlinux",
	.setup_init = arch_setup_init,
	.setup_network = guest_setup_systemd_networkd,
	.template_fixup = arch_template_fixup,
};

/* --------------------------------------------------------------- Gentoo */

/* /etc/gentoo-release must read "Gentoo Base System release <version>" */
static int gentoo_check_version(struct guest *g)
{
	static const char pre[] = "gentoo base system release ";
	char *line = guest_read_firstline(g, "/etc/gentoo-release");
	int rc = 0;
	if (!line || !line[0])
		rc = guest_fail(g, -ENOENT, "unable to read version info");
	else if (strncasecmp(line, pre, sizeof(pre) - 1) != 0)
		rc = guest_fail(g, -ENOTSUP, "unrecognized gentoo version: %s", line);
	free(line);
	return rc;
}

/* Gentoo cannot use /dev/lxc/: plain console and tty names, privileged or not */
static int gentoo_template_fixup(struct guest *g)
{
	static const char *const devs[] = { "console", "tty1", "tty2", "tty3", "tty4", NULL };
	int rc = guest_setup_securetty_list(g, devs);
	return rc ? rc : remove_lxc_name(g);
}

/* an inittab getty line: c?<digits>:<digits>:<action>:...getty... */
static bool inittab_getty(const char *l)
{
	l += strspn(l, " \t\r\f\v");
	if (*l == 'c' && l[1] >= '0' && l[1] <= '9')
		l++;
	size_t d = strspn(l, "0123456789");
	if (!d || l[d] != ':')
		return false;
	l += d + 1;
	l += strspn(l, "0123456789");
	if (*l != ':')
		return false;
	l = strchr(l + 1, ':');
	return l && strstr(l + 1, "getty");
}

/* /etc/inittab: its getty lines replaced by agetty on tty1..<tty count> */
static int gentoo_setup_init(struct guest *g)
{
	char *data;
	size_t len;
	if (!guest_is_file(g, "/etc/inittab")) /* the reference fails; nothing to do here */
		return 0;
	int rc = guest_read(g, "/etc/inittab", &data, &len);
	if (rc)
		return guest_fail(g, rc, "cannot read /etc/inittab: %s", strerror(-rc));
	struct sbuf b = SBUF_INIT;
	size_t keep = 0;
	for (char *p = data; *p;) {
		size_t l = strcspn(p, "\n");
		char c = p[l];
		p[l] = '\0';
		if (!inittab_getty(p))
			sbuf_addf(&b, "%s\n", p);
		if (l)
			keep = b.len;
		p += l + (c == '\n');
	}
	b.len = keep; /* Perl's split drops the trailing empty lines */
	sbuf_add(&b, "", 0);
	if (!b.len)
		sbuf_add(&b, "\n", 1);
	int ttys = guest_tty_count(g);
	for (int id = 1; id <= ttys; id++)
		if (id != 7) /* X11's */
			sbuf_addf(&b, "%d::respawn:/sbin/agetty 38400 tty%d\n", id, id);
	rc = guest_write_sb(g, "/etc/inittab", &b, 0);
	sbuf_release(&b);
	free(data);
	return rc;
}

/*
 * The PVE region replacing /etc/conf.d/net (netifrc, ifconfig module):
 * config_<name>="<addresses or dhcp>", routes_<name>="<routes>", and an
 * /etc/init.d/net.<name> -> net.lo link for each interface brought up.
 * DHCPv6 has no client in the templates: ip6=dhcp writes nothing.
 */
static int gentoo_setup_network(struct guest *g)
{
	struct guest_net nets[32];
	size_t n = guest_nets(g, nets, 32);
	bool up[32] = { false };
	struct sbuf data = SBUF_INIT;
	int rc = 0;
	sbuf_addf(&data, "modules=\"$modules ifconfig\"\n");
	for (size_t i = 0; i < n; i++) {
		const struct guest_net *d = &nets[i];
		struct sbuf config = SBUF_INIT, routes = SBUF_INIT;
		bool v4 = false, v6 = false;
		if (!strcmp(d->ip, "dhcp")) {
			sbuf_addf(&config, "dhcp\n");
			up[i] = true;
		} else if (d->ip[0] && strcmp(d->ip, "manual") != 0) {
			v4 = true;
			sbuf_addf(&config, "%s\n", d->ip);
			up[i] = true;
		}
		if (d->gw[0]) {
			if (v4 && !guest_ip_in_cidr(d->gw, d->ip, 4))
				sbuf_addf(&routes, "-host %s dev %s\n", d->gw, d->name);
			sbuf_addf(&routes, "default gw %s\n", d->gw);
			up[i] = true;
		}
		/* departure: "auto" is no address (the reference wrote it as one) */
		if (d->ip6[0] && strcmp(d->ip6, "dhcp") != 0 && strcmp(d->ip6, "auto") != 0 &&
		    strcmp(d->ip6, "manual") != 0) {
			v6 = true;
			sbuf_addf(&config, "%s\n", d->ip6);
			up[i] = true;
		}
		if (d->gw6[0]) {
			/* the reference tests gw6 against ip6 as IPv4, which always
			 * fails: a static address always gets the host route */
			if (v6)
				sbuf_addf(&routes, "-6 -host %s dev %s\n", d->gw6, d->name);
			sbuf_addf(&routes, "-6 default gw %s\n", d->gw6);
			up[i] = true;
		}
		chomp(&config);
		chomp(&routes);
		if (config.len)
			sbuf_addf(&data, "config_%s=\"%s\"\n", d->name, config.buf);
		if (routes.len)
			sbuf_addf(&data, "routes_%s=\"%s\"\n", d->name, routes.buf);
		if (config.oom || routes.oom)
			data.oom = true;
		sbuf_release(&config);
		sbuf_release(&routes);
	}
	rc = data.oom
	    ? -ENOMEM
	    : guest_modify_region(g, "/etc/conf.d/net", data.buf, GUEST_REPLACE, 0, false);
	sbuf_release(&data);
	/* like the reference's symlink(): an existing path is left as it is */
	for (size_t i = 0; i < n && rc == 0; i++) {
		char lnk[128];
		snprintf(lnk, sizeof(lnk), "/etc/init.d/net.%s", nets[i].name);
		if (up[i] && guest_is_dir(g, "/etc/init.d") && !lexists(g, lnk))
			rc = guest_symlink(g, "net.lo", lnk);
	}
	return rc;
}

/* /etc/conf.d/hostname (hostname="<short name>") and the /etc/hosts region */
static int gentoo_set_hostname(struct guest *g)
{
	const char *h = guest_hostname(g);
	char line[300];
	int rc = guest_update_hosts(g, h);
	if (rc)
		return rc;
	if (!guest_is_dir(g, "/etc/conf.d"))
		return 0;
	snprintf(line, sizeof(line), "hostname=\"%.*s\"\n", (int)strcspn(h, "."), h);
	return guest_write(g, "/etc/conf.d/hostname", line, strlen(line), 0);
}

const struct guest_distro guest_gentoo = {
	.ostype = "gentoo",
	.check_version = gentoo_check_version,
	.setup_init = gentoo_setup_init,
	.setup_network = gentoo_setup_network,
	.set_hostname = gentoo_set_hostname,
	.template_fixup = gentoo_template_fixup,
};

/* ---------------------------------------------------------------- NixOS */

/*
 * NixOS builds /etc from its configuration: only networkd files, the host
 * name and DNS are written; no consoles, no template fix-ups.  (The
 * reference also leaves the time zone alone, which struct guest_distro
 * cannot say yet: guest_pre_start still calls guest_set_timezone, a no-op
 * with a warning when /usr/share/zoneinfo is missing, as on NixOS.)
 */
const struct guest_distro guest_nixos = {
	.ostype = "nixos",
	.setup_network = guest_setup_systemd_networkd,
};
