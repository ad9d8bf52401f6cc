/*
 * test_lxcgen.c - the LXC config generated from a container config
 * (ctmgr/lxcgen.c), for a fixed host (cgroup v1 with swap accounting, or
 * v2; 2 CPUs; LXC's config directory of this machine): limits in both
 * cgroup versions, the id map, interfaces, devices, features and the raw
 * keys last.  The real containers run in tests/ctmgr/lxc_test.sh.
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/lxcgen.h"
#include "tests/test.h"

#include <stdbool.h>

static struct ctc_conf *parse(const char *text)
{
	struct ctc_conf *c = NULL;
	char err[512];
	if (ctc_parse(text, strlen(text), "/etc/pve/lxc/100.conf", true, &c, NULL, err,
	              sizeof(err)))
		TEST_FAIL("parse: %s", err);
	return c;
}

static struct lxg_host host(enum lxg_cgroup v)
{
	struct lxg_host h = {
		.lxcpath = "/var/lib/lxc",
		.config_dir = "/usr/share/lxc/config",
		.cgroup = v,
		.memsw = v == LXG_CGROUP_V1,
		.cpus = 2,
		.cpu_ids = { 0, 1 },
	};
	return h;
}

static char *gen(const char *conf, enum lxg_cgroup v)
{
	char err[512];
	struct ctc_conf *c = parse(conf);
	struct lxg_host h = host(v);
	char *out = lxg_generate(c, 100, &h, err, sizeof(err));
	if (!out)
		TEST_FAIL("generate: %s", err);
	ctc_free(c);
	return out;
}

/* line (a whole line) is in text; returns its position for order checks */
static size_t has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return (size_t)(p - text) + 1;
	TEST_FAIL("missing line '%s' in:\n%s", line, text);
	return 0;
}

static void lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		TEST_FAIL("unexpected '%s' in:\n%s", needle, text);
}

static const char *base = "arch: amd64\n"
                          "cores: 1\n"
                          "cpulimit: 1.5\n"
                          "cpuunits: 2048\n"
                          "hostname: web1\n"
                          "memory: 256\n"
                          "ostype: debian\n"
                          "rootfs: local:100/vm-100-disk-0.raw,size=4G\n"
                          "swap: 128\n";

static void t_cgroup_v1(void)
{
	char *o = gen(base, LXG_CGROUP_V1);
	has_line(o, "lxc.arch = amd64");
	has_line(o, "lxc.include = /usr/share/lxc/config/debian.common.conf");
	lacks(o, "userns.conf");
	lacks(o, "lxc.idmap");
	has_line(o, "lxc.uts.name = web1");
	has_line(o, "lxc.tty.max = 2");
	has_line(o, "lxc.apparmor.profile = unconfined");
	has_line(o, "lxc.cgroup.memory.limit_in_bytes = 268435456");
	has_line(o, "lxc.cgroup.memory.memsw.limit_in_bytes = 402653184");
	has_line(o, "lxc.cgroup.cpu.cfs_period_us = 100000");
	has_line(o, "lxc.cgroup.cpu.cfs_quota_us = 150000");
	has_line(o, "lxc.cgroup.cpu.shares = 2048");
	has_line(o, "lxc.cgroup.cpuset.cpus = 0");
	has_line(o, "lxc.rootfs.path = /var/lib/lxc/100/rootfs");
	lacks(o, "cgroup2");
	free(o);
	/* no swap accounting: no memsw limit */
	struct ctc_conf *c = parse(base);
	struct lxg_host h = host(LXG_CGROUP_V1);
	char err[256];
	h.memsw = false;
	o = lxg_generate(c, 100, &h, err, sizeof(err));
	ASSERT(o != NULL);
	lacks(o, "memsw");
	free(o);
	ctc_free(c);
}

static void t_cgroup_v2(void)
{
	char *o = gen(base, LXG_CGROUP_V2);
	has_line(o, "lxc.cgroup2.memory.max = 268435456");
	has_line(o, "lxc.cgroup2.memory.swap.max = 134217728");
	has_line(o, "lxc.cgroup2.cpu.max = 150000 100000");
	has_line(o, "lxc.cgroup2.cpu.weight = 2048");
	has_line(o, "lxc.cgroup2.cpuset.cpus = 0");
	lacks(o, "lxc.cgroup.");
	free(o);
	/* defaults: 512 MiB each, no cpu limits; cores above the host's CPUs are clamped */
	o = gen("cores: 64\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n", LXG_CGROUP_V2);
	has_line(o, "lxc.cgroup2.memory.max = 536870912");
	has_line(o, "lxc.cgroup2.memory.swap.max = 536870912");
	has_line(o, "lxc.cgroup2.cpuset.cpus = 0,1");
	has_line(o, "lxc.uts.name = CT100");
	lacks(o, "cpu.max");
	lacks(o, "cpu.weight");
	free(o);
	/* cores are taken from the CPUs we may use, which need not start at 0 */
	struct ctc_conf *c = parse("cores: 2\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n");
	struct lxg_host h = host(LXG_CGROUP_V2);
	char err[256];
	h.cpus = 3;
	h.cpu_ids[0] = 3;
	h.cpu_ids[1] = 7;
	h.cpu_ids[2] = 9;
	o = lxg_generate(c, 100, &h, err, sizeof(err));
	ASSERT(o != NULL);
	has_line(o, "lxc.cgroup2.cpuset.cpus = 3,7");
	free(o);
	ctc_free(c);
}

static void t_unprivileged(void)
{
	char *o = gen("ostype: alpine\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n"
	              "unprivileged: 1\n",
	              LXG_CGROUP_V2);
	has_line(o, "lxc.include = /usr/share/lxc/config/alpine.common.conf");
	has_line(o, "lxc.include = /usr/share/lxc/config/alpine.userns.conf");
	has_line(o, "lxc.idmap = u 0 100000 65536");
	has_line(o, "lxc.idmap = g 0 100000 65536");
	free(o);
	/* its own map: ours is not added, and lxg_idmap reports it */
	const char *own = "rootfs: local:100/vm-100-disk-0.raw,size=4G\nunprivileged: 1\n"
	                  "lxc.idmap: u 0 200000 1000\nlxc.idmap: g 0 300000 1000\n";
	o = gen(own, LXG_CGROUP_V2);
	lacks(o, "100000");
	has_line(o, "lxc.idmap = u 0 200000 1000");
	/* unmanaged: LXC's generic files */
	has_line(o, "lxc.include = /usr/share/lxc/config/common.conf");
	has_line(o, "lxc.include = /usr/share/lxc/config/userns.conf");
	free(o);
	struct ctc_conf *c = parse(own);
	unsigned u, g, n;
	lxg_idmap(c, &u, &g, &n);
	ASSERT_EQ(u, 200000);
	ASSERT_EQ(g, 300000);
	ASSERT_EQ(n, 1000);
	ctc_free(c);
	c = parse(base);
	lxg_idmap(c, &u, &g, &n);
	ASSERT_EQ(n, 0);
	ctc_free(c);
}

static void t_network(void)
{
	char *o = gen("net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,mtu=1400\n"
	              "net3: name=eth3,bridge=vmbr1,link_down=1,ip=192.168.7.9/20,gw=192.168.0.1\n"
	              "ostype: debian\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n",
	              LXG_CGROUP_V1);
	has_line(o, "lxc.net.0.type = veth");
	has_line(o, "lxc.net.0.veth.pair = veth100i0");
	has_line(o, "lxc.net.0.name = eth0");
	has_line(o, "lxc.net.0.hwaddr = BC:24:11:00:00:01");
	has_line(o, "lxc.net.0.link = vmbr0");
	has_line(o, "lxc.net.0.mtu = 1400");
	has_line(o, "lxc.net.0.flags = up");
	has_line(o, "lxc.net.3.veth.pair = veth100i3");
	lacks(o, "lxc.net.3.flags");
	/* a managed distribution configures its own addresses */
	lacks(o, "ipv4");
	free(o);
	o = gen("net0: name=eth0,bridge=vmbr0,ip=192.168.7.9/20,gw=192.168.0.1,ip6=fd00::5/64\n"
	        "ostype: unmanaged\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n",
	        LXG_CGROUP_V1);
	has_line(o, "lxc.net.0.ipv4.address = 192.168.7.9/20 192.168.15.255");
	has_line(o, "lxc.net.0.ipv4.gateway = 192.168.0.1");
	has_line(o, "lxc.net.0.ipv6.address = fd00::5/64");
	free(o);
}

static void t_devices_features_raw(void)
{
	char *o = gen("dev0: /dev/null,deny-write=1\ndev1: /dev/zero\n"
	              "features: nesting=1,fuse=1\n"
	              "rootfs: local:100/vm-100-disk-0.raw,size=4G\n"
	              "lxc.cap.drop: sys_nice\nlxc.mount.entry: /a b none bind 0 0\n",
	              LXG_CGROUP_V2);
	has_line(o, "lxc.cgroup2.devices.allow = c 1:3 rm");
	has_line(o, "lxc.mount.entry = /dev/null dev/null none bind,create=file,ro 0 0");
	has_line(o, "lxc.cgroup2.devices.allow = c 1:5 rwm");
	size_t nest = has_line(o, "lxc.include = /usr/share/lxc/config/nesting.conf");
	size_t aa = has_line(o, "lxc.apparmor.profile = unconfined");
	ASSERT_LT(nest, aa); /* nesting.conf names a profile: ours comes after */
	has_line(o, "lxc.mount.entry = /dev/fuse dev/fuse none bind,create=file,optional 0 0");
	/* raw keys last, in their order */
	size_t cap = has_line(o, "lxc.cap.drop = sys_nice");
	size_t ent = has_line(o, "lxc.mount.entry = /a b none bind 0 0");
	ASSERT_LT(cap, ent);
	ASSERT_LT(has_line(o, "lxc.rootfs.path = /var/lib/lxc/100/rootfs"), cap);
	ASSERT(strcmp(o + ent - 1, "lxc.mount.entry = /a b none bind 0 0\n") == 0);
	free(o);
	/* a device that is none */
	struct ctc_conf *c = parse("dev0: /dev/shm\nrootfs: local:100/vm-100-disk-0.raw,size=4G\n");
	struct lxg_host h = host(LXG_CGROUP_V2);
	char err[256];
	ASSERT(lxg_generate(c, 100, &h, err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "dev0: '/dev/shm' is not a device node") != NULL);
	ctc_free(c);
}

static const struct test_case cases[] = {
	{ "cgroup_v1", t_cgroup_v1 },
	{ "cgroup_v2", t_cgroup_v2 },
	{ "unprivileged", t_unprivileged },
	{ "network", t_network },
	{ "devices_features_raw", t_devices_features_raw },
};

TEST_MAIN(cases)
