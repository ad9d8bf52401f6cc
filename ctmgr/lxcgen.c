/*
 * lxcgen.c - generate a container's LXC configuration; see lxcgen.h.
 */
#include "ctmgr/lxcgen.h"
#include "ctmgr/ctschema.h"
#include "pmxcfs/sbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

void lxg_detect(struct lxg_host *h)
{
	struct statfs sfs;
	struct stat st;
	const char *cg = getenv("PCT_CGROUP_VERSION"); /* tests: "1" or "2" */

	if (cg && (!strcmp(cg, "1") || !strcmp(cg, "2")))
		h->cgroup = cg[0] == '2' ? LXG_CGROUP_V2 : LXG_CGROUP_V1;
	else
		h->cgroup = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC
		    ? LXG_CGROUP_V2
		    : LXG_CGROUP_V1;
	h->memsw = h->cgroup == LXG_CGROUP_V1 &&
	    stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", &st) == 0;
	cpu_set_t set;
	h->cpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE && h->cpus < 256; i++)
			if (CPU_ISSET(i, &set))
				h->cpu_ids[h->cpus++] = i;
	if (h->cpus == 0) {
		h->cpus = 1;
		h->cpu_ids[0] = 0;
	}
	h->config_dir = "/usr/share/lxc/config";
}

static long long num_key(const struct ctc_section *s, const char *key, long long def)
{
	const char *v = ctc_get(s, key);
	return v ? atoll(v) : def;
}

void lxg_idmap(const struct ctc_conf *c, unsigned *uid_base, unsigned *gid_base, unsigned *count)
{
	const char *u = ctc_get(&c->main, "unprivileged");
	bool unpriv = u && cts_parse_bool(u) == 1;
	bool own = false;
	*uid_base = *gid_base = 0;
	*count = 0;
	for (size_t i = 0; i < c->main.nlxc; i++) {
		char t;
		unsigned ns, host, n;
		if (strcmp(c->main.lxc[i].key, "lxc.idmap") != 0)
			continue;
		own = true;
		if (sscanf(c->main.lxc[i].value, " %c %u %u %u", &t, &ns, &host, &n) == 4 &&
		    ns == 0) {
			if (t == 'u')
				*uid_base = host;
			else if (t == 'g')
				*gid_base = host;
			*count = n;
		}
	}
	if (!own && unpriv) {
		*uid_base = *gid_base = LXG_IDMAP_BASE;
		*count = LXG_IDMAP_COUNT;
	}
}

/* A distribution's include file ("<ostype>.<kind>.conf") or LXC's generic one. */
static void add_include(struct sbuf *b, const struct lxg_host *h, const char *ostype,
                        const char *kind)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s.%s.conf", h->config_dir, ostype ? ostype : "", kind);
	if (!ostype || stat(path, &st) != 0)
		snprintf(path, sizeof(path), "%s/%s.conf", h->config_dir,
		         !strcmp(kind, "common") ? "common" : "userns");
	sbuf_addf(b, "lxc.include = %s\n", path);
}

static void add_cgroup(struct sbuf *b, const struct lxg_host *h, const char *v1key,
                       const char *v2key, const char *fmt, long long a, long long b2)
{
	const char *key = h->cgroup == LXG_CGROUP_V2 ? v2key : v1key;
	if (!key)
		return;
	sbuf_addf(b, "lxc.cgroup%s.%s = ", h->cgroup == LXG_CGROUP_V2 ? "2" : "", key);
	sbuf_addf(b, fmt, a, b2);
	sbuf_add(b, "\n", 1);
}

static void add_resources(struct sbuf *b, const struct ctc_section *s, const struct lxg_host *h)
{
	long long mem = num_key(s, "memory", 512) * 1024 * 1024;
	long long swap = num_key(s, "swap", 512) * 1024 * 1024;
	add_cgroup(b, h, "memory.limit_in_bytes", "memory.max", "%lld", mem, 0);
	if (h->cgroup == LXG_CGROUP_V2)
		add_cgroup(b, h, NULL, "memory.swap.max", "%lld", swap, 0);
	else if (h->memsw)
		add_cgroup(b, h, "memory.memsw.limit_in_bytes", NULL, "%lld", mem + swap, 0);

	const char *cl = ctc_get(s, "cpulimit");
	double limit = cl ? atof(cl) : 0;
	if (limit > 0) {
		long long quota = (long long)(limit * 100000 + 0.5);
		if (h->cgroup == LXG_CGROUP_V2) {
			add_cgroup(b, h, NULL, "cpu.max", "%lld %lld", quota, 100000);
		} else {
			add_cgroup(b, h, "cpu.cfs_period_us", NULL, "%lld", 100000, 0);
			add_cgroup(b, h, "cpu.cfs_quota_us", NULL, "%lld", quota, 0);
		}
	}
	const char *cu = ctc_get(s, "cpuunits");
	if (cu) {
		long long u = atoll(cu);
		if (h->cgroup == LXG_CGROUP_V2)
			add_cgroup(b, h, NULL, "cpu.weight", "%lld",
			           u < 1           ? 1
			               : u > 10000 ? 10000
			                           : u,
			           0);
		else
			add_cgroup(b, h, "cpu.shares", NULL, "%lld",
			           u < 2            ? 2
			               : u > 262144 ? 262144
			                            : u,
			           0);
	}
	long long cores = num_key(s, "cores", 0);
	if (cores > 0) {
		/* the first N of the CPUs we may use (they need not be 0..N-1) */
		if (cores > h->cpus)
			cores = h->cpus;
		sbuf_addf(b, "lxc.cgroup%s.cpuset.cpus = ", h->cgroup == LXG_CGROUP_V2 ? "2" : "");
		for (long long i = 0; i < cores; i++)
			sbuf_addf(b, "%s%d", i ? "," : "", h->cpu_ids[i]);
		sbuf_add(b, "\n", 1);
	}
}

/* The broadcast address of "a.b.c.d/len" (LXC's own guess is wrong). */
static const char *broadcast(const char *cidr, char *buf)
{
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	const char *slash = strchr(cidr, '/');
	int len = slash ? atoi(slash + 1) : 32;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash ? slash - cidr : (long)strlen(cidr)),
	         cidr);
	if (inet_pton(AF_INET, addr, &a) != 1 || len < 0 || len > 32)
		return "";
	uint32_t mask = len ? ~0u << (32 - len) : 0;
	a.s_addr = htonl(ntohl(a.s_addr) | ~mask);
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

static int add_net(struct sbuf *b, const struct ctc_section *s, long id, bool unmanaged, char *err,
                   size_t errlen)
{
	for (int n = 0; n < 32; n++) {
		char key[16], v[256], bc[INET_ADDRSTRLEN];
		snprintf(key, sizeof(key), "net%d", n);
		const char *val = ctc_get(s, key);
		if (!val)
			continue;
		if (cts_prop_get(val, NULL, "type", v, sizeof(v)) == 1 && strcmp(v, "veth") != 0) {
			snprintf(err, errlen, "%s: type '%s' is not supported (only veth)", key, v);
			return -EINVAL;
		}
		if (cts_prop_get(val, NULL, "name", v, sizeof(v)) != 1) {
			snprintf(err, errlen, "%s: the interface has no name", key);
			return -EINVAL;
		}
		sbuf_addf(b, "lxc.net.%d.type = veth\n", n);
		sbuf_addf(b, "lxc.net.%d.veth.pair = veth%ldi%d\n", n, id, n);
		sbuf_addf(b, "lxc.net.%d.name = %s\n", n, v);
		if (cts_prop_get(val, NULL, "hwaddr", v, sizeof(v)) == 1)
			sbuf_addf(b, "lxc.net.%d.hwaddr = %s\n", n, v);
		if (cts_prop_get(val, NULL, "bridge", v, sizeof(v)) == 1)
			sbuf_addf(b, "lxc.net.%d.link = %s\n", n, v);
		if (cts_prop_get(val, NULL, "mtu", v, sizeof(v)) == 1)
			sbuf_addf(b, "lxc.net.%d.mtu = %s\n", n, v);
		if (!(cts_prop_get(val, NULL, "link_down", v, sizeof(v)) == 1 &&
		      cts_parse_bool(v) == 1))
			sbuf_addf(b, "lxc.net.%d.flags = up\n", n);
		/*
		 * A managed distribution configures its addresses itself (the guest
		 * set-up writes its network files); an unmanaged one gets static
		 * addresses from LXC, since nobody else would set them.
		 */
		if (!unmanaged)
			continue;
		if (cts_prop_get(val, NULL, "ip", v, sizeof(v)) == 1 && strchr(v, '/'))
			sbuf_addf(b, "lxc.net.%d.ipv4.address = %s %s\n", n, v, broadcast(v, bc));
		if (cts_prop_get(val, NULL, "gw", v, sizeof(v)) == 1)
			sbuf_addf(b, "lxc.net.%d.ipv4.gateway = %s\n", n, v);
		if (cts_prop_get(val, NULL, "ip6", v, sizeof(v)) == 1 && strchr(v, '/'))
			sbuf_addf(b, "lxc.net.%d.ipv6.address = %s\n", n, v);
		if (cts_prop_get(val, NULL, "gw6", v, sizeof(v)) == 1)
			sbuf_addf(b, "lxc.net.%d.ipv6.gateway = %s\n", n, v);
	}
	return 0;
}

static int add_devices(struct sbuf *b, const struct lxg_host *h, const struct ctc_section *s,
                       char *err, size_t errlen)
{
	for (int n = 0; n < 256; n++) {
		char key[16], path[4096];
		struct stat st;
		snprintf(key, sizeof(key), "dev%d", n);
		const char *val = ctc_get(s, key);
		if (!val)
			continue;
		if (cts_prop_get(val, "path", "path", path, sizeof(path)) != 1 || path[0] != '/') {
			snprintf(err, errlen, "%s: no device path in '%s'", key, val);
			return -EINVAL;
		}
		if (stat(path, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
			snprintf(err, errlen, "%s: '%s' is not a device node on this host", key,
			         path);
			return -ENODEV;
		}
		char ro[8] = "";
		bool deny_write = cts_prop_get(val, "path", "deny-write", ro, sizeof(ro)) == 1 &&
		    cts_parse_bool(ro) == 1;
		sbuf_addf(b, "lxc.cgroup%s.devices.allow = %c %u:%u %s\n",
		          h->cgroup == LXG_CGROUP_V2 ? "2" : "", S_ISCHR(st.st_mode) ? 'c' : 'b',
		          major(st.st_rdev), minor(st.st_rdev), deny_write ? "rm" : "rwm");
		sbuf_addf(b, "lxc.mount.entry = %s %s none bind,create=file%s 0 0\n", path,
		          path + 1, deny_write ? ",ro" : "");
	}
	return 0;
}

static void add_features(struct sbuf *b, const struct lxg_host *h, const char *features)
{
	char v[256];
	if (!features)
		return;
	if (cts_prop_get(features, NULL, "nesting", v, sizeof(v)) == 1 && cts_parse_bool(v) == 1)
		sbuf_addf(b, "lxc.include = %s/nesting.conf\n", h->config_dir);
	if (cts_prop_get(features, NULL, "fuse", v, sizeof(v)) == 1 && cts_parse_bool(v) == 1)
		sbuf_addf(b,
		          "lxc.mount.entry = /dev/fuse dev/fuse none bind,create=file,optional "
		          "0 0\n");
	if (cts_prop_get(features, NULL, "force_rw_sys", v, sizeof(v)) == 1 &&
	    cts_parse_bool(v) == 1)
		sbuf_addf(b, "lxc.mount.auto = sys:rw\n");
}

char *lxg_generate(const struct ctc_conf *c, long id, const struct lxg_host *h, char *err,
                   size_t errlen)
{
	const struct ctc_section *s = &c->main;
	struct sbuf b = SBUF_INIT;
	const char *ostype = ctc_get(s, "ostype"), *arch = ctc_get(s, "arch");
	const char *host = ctc_get(s, "hostname");
	unsigned ub, gb, cnt;
	bool unmanaged = !ostype || !strcmp(ostype, "unmanaged");

	lxg_idmap(c, &ub, &gb, &cnt);
	sbuf_addf(&b, "# generated by pct from %s at start; edits here are lost\n", c->file);
	sbuf_addf(&b, "lxc.arch = %s\n", arch ? arch : "amd64");
	add_include(&b, h, unmanaged ? NULL : ostype, "common");
	if (cnt)
		add_include(&b, h, unmanaged ? NULL : ostype, "userns");
	add_features(&b, h, ctc_get(s, "features"));
	/* after the includes: nesting.conf names an AppArmor profile */
	sbuf_addf(&b, "lxc.apparmor.profile = unconfined\n");
	sbuf_addf(&b, "lxc.autodev = 1\n");
	/*
	 * LXC leaves the cgroup file system to an init that can mount it (with
	 * a cgroup namespace): force it, so every guest sees its own limits.
	 */
	sbuf_addf(&b, "lxc.mount.auto = cgroup:mixed:force\n");
	sbuf_addf(&b, "lxc.tty.max = %lld\n", num_key(s, "tty", 2));
	const char *cmode = ctc_get(s, "cmode");
	if (!num_key(s, "console", 1) || (cmode && !strcmp(cmode, "shell")))
		sbuf_addf(&b, "lxc.console.path = none\n");
	sbuf_addf(&b, "lxc.environment = TERM=linux\n");
	if (host)
		sbuf_addf(&b, "lxc.uts.name = %s\n", host);
	else
		sbuf_addf(&b, "lxc.uts.name = CT%ld\n", id);
	add_resources(&b, s, h);
	bool own_idmap = false;
	for (size_t i = 0; i < s->nlxc; i++)
		own_idmap |= !strcmp(s->lxc[i].key, "lxc.idmap");
	if (cnt && !own_idmap) {
		sbuf_addf(&b, "lxc.idmap = u 0 %u %u\n", ub, cnt);
		sbuf_addf(&b, "lxc.idmap = g 0 %u %u\n", gb, cnt);
	}
	sbuf_addf(&b, "lxc.rootfs.path = %s/%ld/rootfs\n", h->lxcpath, id);
	if (add_net(&b, s, id, unmanaged, err, errlen) || add_devices(&b, h, s, err, errlen)) {
		sbuf_release(&b);
		return NULL;
	}
	for (size_t i = 0; i < s->nlxc; i++)
		sbuf_addf(&b, "%s = %s\n", s->lxc[i].key, s->lxc[i].value);
	char *text = sbuf_detach(&b, NULL);
	if (!text)
		snprintf(err, errlen, "out of memory");
	return text;
}
