/*
 * hotplug.c - apply config changes to a running container; see hotplug.h.
 */
#include "ctmgr/hotplug.h"
#include "ctmgr/ctconf.h"
#include "ctmgr/ctfile.h"
#include "ctmgr/ctpending.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/lxcgen.h"
#include "ctmgr/storage.h"
#include "pmxcfs/sbuf.h"
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

void hp_applied_path(long id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%ld/applied.conf", ctr_lxcpath(), id);
}

const char *hp_run_dir(void)
{
	const char *d = getenv("CTMGRD_RUN_DIR");
	return d && d[0] ? d : "/run/ctmgrd";
}

static void add_word(char *list, size_t len, const char *w)
{
	size_t l = strlen(list);
	snprintf(list + l, len - l, "%s%s", l ? " " : "", w);
}

/* keys that take effect without any action in a running container */
static bool no_action(const char *key)
{
	static const char *const keys[] = { "description", "hostname", "lock", "onboot",
		                            "protection",  "startup",  "tags", "cmode",
		                            "console",     "tty" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

static long long num(const struct ctc_section *s, const char *key, long long def)
{
	const char *v = ctc_get(s, key);
	return v ? atoll(v) : def;
}

/* a numbered key: prefix then digits only (mp0, dev12) */
static bool numbered(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncmp(key, prefix, n) && key[n] &&
	    strspn(key + n, "0123456789") == strlen(key + n);
}

/* ------------------------------------------------------------ the cgroup */

struct live {
	long id;
	struct lxc_container *ct;
	struct lxg_host h;
	bool probed; /* h describes the container's cgroups */
	char cgpath[256]; /* its limit cgroup ("/lxc.payload.<ID>"), "" if unknown */
	char cgbase[64]; /* where the cgroup file systems are seen: its monitor's /sys */
	pid_t init; /* its init while it runs, and that process's start time */
	unsigned long long init_start;
};

/*
 * Does the container run?  The init process seen last time, if it is
 * still the same process, says so without a round trip to LXC's monitor.
 */
static bool ct_running(struct live *l)
{
	if (l->init > 0 && l->init_start && fsu_proc_start(l->init) == l->init_start)
		return true;
	const char *state = l->ct->state(l->ct);
	l->init = 0;
	l->probed = false; /* (re)started or stopped: probe again */
	/* frozen: its cgroups and network take changes as well (as pct set assumes) */
	if (!state || (strcmp(state, "RUNNING") != 0 && strcmp(state, "FROZEN") != 0))
		return false;
	l->init = l->ct->init_pid(l->ct);
	l->init_start = l->init > 0 ? fsu_proc_start(l->init) : 0;
	return true;
}

/*
 * liblxc handles and what their cgroups look like, kept across reconciles
 * in one process (ctmgrd): creating a handle parses the LXC config, which
 * would cost more than the change itself.  Not thread safe; ctmgrd has one
 * thread.
 */
static struct live handles[32];
static unsigned next_handle;

static struct live *handle(long id)
{
	char name[32];
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
		if (handles[i].ct && handles[i].id == id)
			return &handles[i];
	struct live *l = &handles[next_handle++ % (sizeof(handles) / sizeof(handles[0]))];
	if (l->ct)
		lxc_container_put(l->ct);
	memset(l, 0, sizeof(*l));
	snprintf(name, sizeof(name), "%ld", id);
	l->ct = lxc_container_new(name, ctr_lxcpath());
	l->id = id;
	return l->ct ? l : NULL;
}

/*
 * The cgroup layout as the container's monitor sees it (this process may
 * run where /sys has no cgroups, e.g. a cluster-sim node): asked through
 * liblxc, once per running container.
 */
static void probe(struct live *l)
{
	char v[64];
	if (l->probed)
		return;
	lxg_detect(&l->h);
	l->h.cgroup = l->ct->get_cgroup_item(l->ct, "memory.max", v, sizeof(v)) > 0 ? LXG_CGROUP_V2
	                                                                            : LXG_CGROUP_V1;
	l->h.memsw = l->h.cgroup == LXG_CGROUP_V1 &&
	    l->ct->get_cgroup_item(l->ct, "memory.memsw.limit_in_bytes", v, sizeof(v)) > 0;
	l->cgpath[0] = '\0';
	/*
	 * The container's limit cgroup, for writing its files directly: the
	 * outermost "lxc.payload.*" directory of its init's cgroup (what is
	 * below is the guest's own), when that is visible here.
	 */
	char path[64], line[1024], comp[64];
	snprintf(comp, sizeof(comp), "/lxc.payload.%ld", l->id);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)l->init);
	FILE *f = l->init > 0 ? fopen(path, "re") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool want = l->h.cgroup == LXG_CGROUP_V2 ? c2 == c1 + 1 : !strcmp(c1 + 1, "memory");
		/* exactly our component ("lxc.payload.<ID>" or LXC's "-<n>" variant) */
		for (char *p = want ? strstr(c2 + 1, comp) : NULL; p; p = strstr(p + 1, comp)) {
			char *e = p + strlen(comp);
			if (*e == '-')
				e += 1 + strspn(e + 1, "0123456789");
			if (*e == '\0' || *e == '/') {
				snprintf(l->cgpath, sizeof(l->cgpath), "%.*s", (int)(e - (c2 + 1)),
				         c2 + 1);
				break;
			}
		}
		if (l->cgpath[0])
			break;
	}
	if (f)
		fclose(f);
	/*
	 * The cgroup files as the container's monitor (its init's parent) sees
	 * them: its mount namespace has them at /sys/fs/cgroup even where this
	 * one has none (cluster-sim nodes).
	 */
	l->cgbase[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)l->init);
	f = l->init > 0 ? fopen(path, "re") : NULL;
	int ppid = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	if (f)
		fclose(f);
	if (ppid > 1)
		snprintf(l->cgbase, sizeof(l->cgbase), "/proc/%d/root/sys/fs/cgroup", ppid);
	l->probed = true;
}

/*
 * Write a cgroup file of the container directly (microseconds, where a
 * request to LXC's monitor takes a quarter of a millisecond): false when
 * the file cannot be written this way.
 */
static bool cg_write(struct live *l, const char *key, const char *value)
{
	char path[512];
	if (!l->cgpath[0] || !l->cgbase[0] || strchr(key, '/'))
		return false;
	if (l->h.cgroup == LXG_CGROUP_V2)
		snprintf(path, sizeof(path), "%s%s/%s", l->cgbase, l->cgpath, key);
	else
		snprintf(path, sizeof(path), "%s/%.*s%s/%s", l->cgbase, (int)strcspn(key, "."), key,
		         l->cgpath, key);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t w = write(fd, value, strlen(value));
	bool ok = close(fd) == 0 && w == (ssize_t)strlen(value);
	return ok;
}

static bool cg_set(struct live *l, const char *key, const char *fmt, long long a, long long b)
{
	char v[64];
	snprintf(v, sizeof(v), fmt, a, b);
	if (cg_write(l, key, v))
		return true;
	/* not visible here, or refused: ask LXC (which tells no reason either) */
	return l->ct->set_cgroup_item(l->ct, key, v);
}

/*
 * A new mpN or devN, mounted in the container's mount namespace; a device
 * is then allowed in the container's devices cgroup (as at start: rwm, or
 * rm with deny-write).  In that order: a node whose allow failed is inert,
 * while an allowed device whose mount failed could be made with mknod by
 * a privileged guest.  *st: storage.cfg, loaded on first use.
 */
static bool add_mount(struct live *l, const struct ctc_conf *c, const char *key, struct st_cfg **st,
                      char *why, size_t len)
{
	const char *v = ctc_get(&c->main, key);
	char path[4096], ro[8] = "";
	struct stat sb;
	bool dev = !strncmp(key, "dev", 3);
	if (dev &&
	    (cts_prop_get(v, "path", "path", path, sizeof(path)) != 1 || stat(path, &sb) != 0 ||
	     !(S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)))) {
		snprintf(why, len, "'%s' is not a device node on this host", v);
		return false;
	}
	if (!dev && !*st) {
		char e[512];
		if (st_cfg_load_etc(st, e, sizeof(e))) {
			snprintf(why, len, "storage.cfg: %.480s", e);
			return false;
		}
	}
	if (ctr_live_mount(c, l->init, l->init_start, key, *st, why, len) != 0)
		return false;
	if (!dev)
		return true;
	bool deny =
	    cts_prop_get(v, "path", "deny-write", ro, sizeof(ro)) == 1 && cts_parse_bool(ro) == 1;
	char rule[64];
	snprintf(rule, sizeof(rule), "%c %u:%u %s", S_ISCHR(sb.st_mode) ? 'c' : 'b',
	         major(sb.st_rdev), minor(sb.st_rdev), deny ? "rm" : "rwm");
	/* v2: only LXC's monitor can extend the device program it attached */
	if (!(l->h.cgroup == LXG_CGROUP_V1 && cg_write(l, "devices.allow", rule)) &&
	    !l->ct->set_cgroup_item(l->ct, "devices.allow", rule)) {
		snprintf(why, len, "the devices cgroup refused '%s' (the node is there, unusable)",
		         rule);
		return false;
	}
	return true;
}

/*
 * memory and swap (MiB) together, in the order the cgroup accepts; old_*:
 * what the container runs with (applied.conf), so choosing the order needs
 * no round trip to read the current limits
 */
static bool set_memory(struct live *l, long long old_mem_mb, long long old_swap_mb,
                       long long mem_mb, long long swap_mb, char *why, size_t len)
{
	long long mem = mem_mb << 20, swap = swap_mb << 20;
	if (l->h.cgroup == LXG_CGROUP_V2) {
		/*
		 * v2 never refuses a lower memory.max: it reclaims and then OOM-kills
		 * inside the container.  Below what the container uses now, the
		 * change waits for the next start instead.
		 */
		char cur[64];
		long long used =
		    l->ct->get_cgroup_item(l->ct, "memory.current", cur, sizeof(cur)) > 0
		    ? atoll(cur)
		    : -1;
		if (mem < (old_mem_mb << 20) && used > mem) {
			snprintf(why, len,
			         "the container uses %lld MiB, more than the new limit of %lld MiB",
			         used >> 20, mem_mb);
			return false;
		}
		if (!cg_set(l, "memory.max", "%lld", mem, 0)) {
			snprintf(why, len, "the cgroup refused memory.max = %lld", mem);
			return false;
		}
		if (!cg_set(l, "memory.swap.max", "%lld", swap, 0)) {
			cg_set(l, "memory.max", "%lld", old_mem_mb << 20, 0); /* as it was */
			snprintf(why, len, "the cgroup refused memory.swap.max = %lld", swap);
			return false;
		}
		return true;
	}
	long long old_mem = old_mem_mb << 20;
	if (!l->h.memsw) {
		if (cg_set(l, "memory.limit_in_bytes", "%lld", mem, 0))
			return true;
		snprintf(why, len, "cannot set the memory limit to %lld MiB (in use: more?)",
		         mem_mb);
		return false;
	}
	long long old_sw = (old_mem_mb + old_swap_mb) << 20;
	/* memsw >= memory at every step: raise memsw first, lower memory first */
	bool ok;
	if (mem + swap >= old_sw)
		ok = cg_set(l, "memory.memsw.limit_in_bytes", "%lld", mem + swap, 0) &&
		    cg_set(l, "memory.limit_in_bytes", "%lld", mem, 0);
	else
		ok = cg_set(l, "memory.limit_in_bytes", "%lld", mem, 0) &&
		    cg_set(l, "memory.memsw.limit_in_bytes", "%lld", mem + swap, 0);
	if (!ok) {
		/* back to what it was, in the order that works from here */
		if (old_sw >= 0)
			cg_set(l, "memory.memsw.limit_in_bytes", "%lld",
			       old_sw > mem + swap ? old_sw : mem + swap, 0);
		if (old_mem >= 0)
			cg_set(l, "memory.limit_in_bytes", "%lld", old_mem, 0);
		if (old_sw >= 0)
			cg_set(l, "memory.memsw.limit_in_bytes", "%lld", old_sw, 0);
		snprintf(why, len,
		         "cannot set memory %lld MiB + swap %lld MiB (the container uses more than "
		         "that?)",
		         mem_mb, swap_mb);
	}
	return ok;
}

static bool set_cpulimit(struct live *l, const char *v, char *why, size_t len)
{
	double limit = v ? atof(v) : 0;
	long long quota = limit > 0 ? (long long)(limit * 100000 + 0.5) : -1;
	bool ok;
	if (l->h.cgroup == LXG_CGROUP_V2)
		ok = quota > 0 ? cg_set(l, "cpu.max", "%lld %lld", quota, 100000)
		               : cg_set(l, "cpu.max", "max %lld", 100000, 0);
	else
		ok = cg_set(l, "cpu.cfs_period_us", "%lld", 100000, 0) &&
		    cg_set(l, "cpu.cfs_quota_us", "%lld", quota, 0);
	if (!ok)
		snprintf(why, len, "the cgroup refused the cpu limit %s", v ? v : "(none)");
	return ok;
}

static bool set_cpuunits(struct live *l, const char *v, char *why, size_t len)
{
	bool ok;
	if (l->h.cgroup == LXG_CGROUP_V2) {
		long long u = v ? atoll(v) : 100;
		ok = cg_set(l, "cpu.weight", "%lld", u < 1 ? 1 : u > 10000 ? 10000 : u, 0);
	} else {
		long long u = v ? atoll(v) : 1024;
		ok = cg_set(l, "cpu.shares", "%lld", u < 2 ? 2 : u > 262144 ? 262144 : u, 0);
	}
	if (!ok)
		snprintf(why, len, "the cgroup refused cpuunits %s", v ? v : "(default)");
	return ok;
}

static bool set_cores(struct live *l, const char *v, char *why, size_t len)
{
	long long n = v ? atoll(v) : 0;
	if (n <= 0 || n > l->h.cpus)
		n = l->h.cpus;
	char list[1024] = "";
	for (long long i = 0; i < n; i++) {
		size_t k = strlen(list);
		snprintf(list + k, sizeof(list) - k, "%s%d", i ? "," : "", l->h.cpu_ids[i]);
	}
	if (l->ct->set_cgroup_item(l->ct, "cpuset.cpus", list))
		return true;
	snprintf(why, len, "the cgroup refused cpuset.cpus = %s", list);
	return false;
}

/* ------------------------------------------------------------ interfaces */

/* run ip with the arguments (NULL-terminated) here or, netns >= 0, there */
static int run_ip(int netns, char *why, size_t len, ...)
{
	const char *argv[24] = { "ip" };
	va_list ap;
	va_start(ap, len);
	size_t n = 1;
	for (const char *a; n < 23 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return fsu_run_netns(netns, argv, why, len);
}

struct netconf {
	char name[32], bridge[32], hwaddr[32], mtu[16], type[16];
	char ip[64], gw[64], ip6[80], gw6[80];
	bool down;
	char extra[256]; /* rate, tag, trunks, firewall: not applied live */
};

static void parse_net(const char *v, struct netconf *n)
{
	char b[16];
	memset(n, 0, sizeof(*n));
	if (!v)
		return;
	cts_prop_get(v, NULL, "name", n->name, sizeof(n->name));
	cts_prop_get(v, NULL, "bridge", n->bridge, sizeof(n->bridge));
	cts_prop_get(v, NULL, "hwaddr", n->hwaddr, sizeof(n->hwaddr));
	cts_prop_get(v, NULL, "mtu", n->mtu, sizeof(n->mtu));
	cts_prop_get(v, NULL, "type", n->type, sizeof(n->type));
	cts_prop_get(v, NULL, "ip", n->ip, sizeof(n->ip));
	cts_prop_get(v, NULL, "gw", n->gw, sizeof(n->gw));
	cts_prop_get(v, NULL, "ip6", n->ip6, sizeof(n->ip6));
	cts_prop_get(v, NULL, "gw6", n->gw6, sizeof(n->gw6));
	n->down = cts_prop_get(v, NULL, "link_down", b, sizeof(b)) == 1 && cts_parse_bool(b) == 1;
	static const char *const extra[] = { "rate", "tag", "trunks", "firewall" };
	for (size_t i = 0; i < 4; i++) {
		char x[128];
		if (cts_prop_get(v, NULL, extra[i], x, sizeof(x)) == 1) {
			size_t l = strlen(n->extra);
			snprintf(n->extra + l, sizeof(n->extra) - l, "%s=%s,", extra[i], x);
		}
	}
}

/*
 * The container's configured addresses and default routes of interface n
 * (inside); o: what was configured before (NULL: nothing).  Only a family
 * whose settings changed is touched: an address of the other family, or
 * one from DHCP/SLAAC, stays.
 */
static int set_addresses(int ns, const struct netconf *o, const struct netconf *n, char *why,
                         size_t len)
{
	int rc = 0;
	bool v4 = !o || strcmp(o->ip, n->ip) || strcmp(o->gw, n->gw);
	bool v6 = !o || strcmp(o->ip6, n->ip6) || strcmp(o->gw6, n->gw6);
	char e2[256];
	if (v4 && o && o->ip[0] && strchr(o->ip, '/'))
		run_ip(ns, e2, sizeof(e2), "addr", "del", o->ip, "dev", n->name, NULL);
	if (v6 && o && o->ip6[0] && strchr(o->ip6, '/'))
		run_ip(ns, e2, sizeof(e2), "-6", "addr", "del", o->ip6, "dev", n->name, NULL);
	if (v4 && n->ip[0] && strchr(n->ip, '/'))
		rc = run_ip(ns, why, len, "addr", "replace", n->ip, "dev", n->name, NULL);
	if (rc == 0 && v4 && n->gw[0])
		rc = run_ip(ns, why, len, "route", "replace", "default", "via", n->gw, "dev",
		            n->name, "onlink", NULL);
	if (rc == 0 && v6 && n->ip6[0] && strchr(n->ip6, '/'))
		rc = run_ip(ns, why, len, "-6", "addr", "replace", n->ip6, "dev", n->name, NULL);
	if (rc == 0 && v6 && n->gw6[0])
		rc = run_ip(ns, why, len, "-6", "route", "replace", "default", "via", n->gw6, "dev",
		            n->name, NULL);
	return rc;
}

enum net_result { NET_OK, NET_FAILED, NET_NOT_LIVE };

/*
 * Interface idx of CT id, old -> new (NULL: absent), on its running init:
 * added (veth pair veth<ID>i<N> on the bridge, the peer moved in with its
 * name, MAC, MTU and addresses), removed, or changed in place (bridge, link
 * state, addresses); a new name, MAC, type or MTU recreates it.  A new
 * interface without a MAC gets one (*fixed: the value to write back).
 */
static enum net_result set_net(struct live *l, long id, int idx, const char *oldv, const char *newv,
                               char **fixed, char *why, size_t len)
{
	struct netconf o, n;
	char host[32], peer[32], pidtxt[32], path[64], mac[32];
	parse_net(oldv, &o);
	parse_net(newv, &n);
	if (oldv && newv && !n.hwaddr[0] && o.hwaddr[0]) {
		/* the MAC generated before (its write-back still to come): keep it */
		snprintf(n.hwaddr, sizeof(n.hwaddr), "%s", o.hwaddr);
		size_t fl = strlen(newv) + 40;
		if ((*fixed = malloc(fl)))
			snprintf(*fixed, fl, "%s,hwaddr=%s", newv, o.hwaddr);
	}
	if ((newv && strcmp(o.extra, n.extra) != 0) || (n.type[0] && strcmp(n.type, "veth") != 0))
		return NET_NOT_LIVE; /* rate, VLANs, firewall: at the next start */
	snprintf(host, sizeof(host), "veth%ldi%d", id, idx);
	snprintf(peer, sizeof(peer), "veth%ldp%d", id, idx);
	snprintf(pidtxt, sizeof(pidtxt), "%d", (int)l->init);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)l->init);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		snprintf(why, len, "cannot open the container's network namespace: %s",
		         strerror(errno));
		return NET_FAILED;
	}
	enum net_result r = NET_OK;
	bool recreate = oldv && newv &&
	    (strcmp(o.name, n.name) || strcmp(o.hwaddr, n.hwaddr) || strcmp(o.mtu, n.mtu));
	/* a missing bridge is refused before anything is taken down */
	if (newv && n.bridge[0] && if_nametoindex(n.bridge) == 0 &&
	    (!oldv || recreate || strcmp(o.bridge, n.bridge) != 0)) {
		snprintf(why, len, "bridge '%s' does not exist", n.bridge);
		close(ns);
		return NET_FAILED;
	}
	if (oldv && (!newv || recreate)) {
		/* the host end takes its peer in the container with it */
		char e2[256];
		if (run_ip(-1, e2, sizeof(e2), "link", "del", host, NULL) &&
		    strstr(e2, "Cannot find") == NULL) {
			snprintf(why, len, "cannot remove %s: %s", host, e2);
			r = NET_FAILED;
		}
	}
	if (r == NET_OK && newv && !oldv && if_nametoindex(host)) {
		/* a pair of ours from an add that was not recorded (a crash): anew */
		char e2[256];
		run_ip(-1, e2, sizeof(e2), "link", "del", host, NULL);
	}
	if (r == NET_OK && newv && (!oldv || recreate)) {
		snprintf(mac, sizeof(mac), "%s", n.hwaddr);
		if (!mac[0]) {
			unsigned char b[3] = { 0 };
			if (getrandom(b, sizeof(b), 0) != 3)
				b[0] = (unsigned char)getpid();
			snprintf(mac, sizeof(mac), "BC:24:11:%02X:%02X:%02X", b[0], b[1], b[2]);
			size_t fl = strlen(newv) + 40;
			*fixed = malloc(fl);
			if (*fixed)
				snprintf(*fixed, fl, "%s,hwaddr=%s", newv, mac);
		}
		int rc = n.mtu[0] ? run_ip(-1, why, len, "link", "add", host, "mtu", n.mtu, "type",
		                           "veth", "peer", "name", peer, "mtu", n.mtu, NULL)
		                  : run_ip(-1, why, len, "link", "add", host, "type", "veth",
		                           "peer", "name", peer, NULL);
		if (rc == 0)
			rc = run_ip(-1, why, len, "link", "set", peer, "address", mac, NULL);
		if (rc == 0 && n.bridge[0])
			rc = run_ip(-1, why, len, "link", "set", host, "master", n.bridge, NULL);
		if (rc == 0)
			rc =
			    run_ip(-1, why, len, "link", "set", host, n.down ? "down" : "up", NULL);
		if (rc == 0)
			rc = run_ip(-1, why, len, "link", "set", peer, "netns", pidtxt, NULL);
		if (rc == 0)
			rc = run_ip(ns, why, len, "link", "set", peer, "name", n.name, NULL);
		if (rc == 0)
			rc = run_ip(ns, why, len, "link", "set", n.name, "up", NULL);
		if (rc == 0)
			rc = set_addresses(ns, NULL, &n, why, len);
		if (rc) {
			char e2[256];
			run_ip(-1, e2, sizeof(e2), "link", "del", host, NULL);
			free(*fixed);
			*fixed = NULL;
			r = NET_FAILED;
			if (recreate) {
				/* the old interface back, as the config (kept) still says */
				char *f2 = NULL;
				set_net(l, id, idx, NULL, oldv, &f2, e2, sizeof(e2));
				free(f2);
			}
		}
	} else if (r == NET_OK && newv) {
		/* in place: the same pair */
		int rc = 0;
		if (strcmp(o.bridge, n.bridge) != 0)
			rc = n.bridge[0]
			    ? run_ip(-1, why, len, "link", "set", host, "master", n.bridge, NULL)
			    : run_ip(-1, why, len, "link", "set", host, "nomaster", NULL);
		if (rc == 0 && o.down != n.down)
			rc =
			    run_ip(-1, why, len, "link", "set", host, n.down ? "down" : "up", NULL);
		if (rc == 0 &&
		    (strcmp(o.ip, n.ip) || strcmp(o.gw, n.gw) || strcmp(o.ip6, n.ip6) ||
		     strcmp(o.gw6, n.gw6)))
			rc = set_addresses(ns, &o, &n, why, len);
		if (rc)
			r = NET_FAILED;
	}
	close(ns);
	return r;
}

/* ---------------------------------------------------------- the reconcile */

struct change {
	char key[64];
	char *oldv, *newv; /* NULL: absent */
	char *fixed; /* the value to write back in the current section (a generated MAC) */
	size_t seq; /* the order ctp_diff gave */
	char mpath[1024]; /* a new mount point's path inside ("" otherwise) */
};

struct changes {
	struct change *v;
	size_t n;
};

static void collect_change(void *ctx, const char *key, const char *oldv, const char *newv)
{
	struct changes *cs = ctx;
	struct change *nv = realloc(cs->v, (cs->n + 1) * sizeof(*nv));
	if (!nv)
		return;
	cs->v = nv;
	struct change *c = &cs->v[cs->n++];
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->oldv = oldv ? strdup(oldv) : NULL;
	c->newv = newv ? strdup(newv) : NULL;
	c->fixed = NULL;
	c->seq = cs->n - 1;
	c->mpath[0] = '\0';
	if (!oldv && newv && (numbered(key, "mp") || numbered(key, "dev")) &&
	    cts_prop_get(newv, numbered(key, "mp") ? "volume" : "path",
	                 numbered(key, "mp") ? "mp" : "path", c->mpath, sizeof(c->mpath)) != 1)
		c->mpath[0] = '\0';
}

/*
 * New mount points last, by path (a parent before what is mounted below
 * it, as at start); everything else first, in ctp_diff's order.
 */
static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	if (!x->mpath[0] != !y->mpath[0])
		return x->mpath[0] ? 1 : -1;
	int c = x->mpath[0] ? strcmp(x->mpath, y->mpath) : 0;
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void free_changes(struct changes *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].oldv);
		free(cs->v[i].newv);
		free(cs->v[i].fixed);
	}
	free(cs->v);
}

/* Move the keys marked pending back to their running values; their new values to [pve:pending]. */
/* (the caller holds the per-CT lock) */
int hp_conf_version(const char *conf_path, uint64_t *version, char *err, size_t errlen)
{
	size_t rl = strlen(ctf_root());
	struct pmxcfs_client *cl;
	struct pmxcfs_entry *ents = NULL;
	size_t n = 0;
	uint64_t at;
	char real[4096];
	/* /etc/pve/lxc is pmxcfs's link to this node's directory: its real path */
	if (!realpath(conf_path, real)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", conf_path, strerror(e));
		return -e;
	}
	if (strncmp(real, ctf_root(), rl) != 0 || real[rl] != '/') {
		snprintf(err, errlen, "%s is not under %s", real, ctf_root());
		return -EINVAL;
	}
	const char *rel = real + rl + 1;
	int rc = pmxcfs_connect(NULL, &cl);
	if (rc == 0) {
		rc = pmxcfs_list(cl, rel, &ents, &n, &at);
		pmxcfs_disconnect(cl);
	}
	if (rc) {
		snprintf(err, errlen, "cannot ask pmxcfs for %s: %s", rel, strerror(-rc));
		return rc;
	}
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ents[i].path, rel)) {
			*version = ents[i].version;
			rc = 0;
		}
	pmxcfs_entries_free(ents, n);
	if (rc)
		snprintf(err, errlen, "%s is gone", conf_path);
	/*
	 * Newer than the listing's (released) version: a change whose cache
	 * invalidation may not have landed, so a read now could still show
	 * the text it replaced; its event follows - wait for it.
	 */
	if (rc == 0 && *version > at) {
		snprintf(err, errlen, "%s is changing", conf_path);
		rc = -EAGAIN;
	}
	return rc;
}

static int write_back(const char *conf_path, const char *digest, const struct changes *cs,
                      const bool *pend, char *err, size_t errlen)
{
	struct ctc_conf *c = NULL;
	uint64_t version = 0;
	/* the version first: a write after it fails the rename below */
	int rc = hp_conf_version(conf_path, &version, err, errlen);
	if (rc == 0)
		rc = ctc_load(conf_path, false, &c, NULL, err, errlen);
	if (rc == 0 && strcmp(c->digest, digest) != 0) {
		rc = -EAGAIN; /* changed meanwhile: its own event follows */
		snprintf(err, errlen, "'%s' changed since it was reconciled", conf_path);
	}
	for (size_t i = 0; rc == 0 && i < cs->n; i++) {
		const struct change *ch = &cs->v[i];
		if (ch->fixed && !pend[i]) {
			rc = ctc_set(&c->main, ch->key, ch->fixed, err, errlen);
			continue;
		}
		if (!pend[i])
			continue;
		if (!strcmp(ch->key, "description"))
			continue; /* (no action key: never pending) */
		if (ch->oldv)
			rc = ctc_set_raw(&c->main, ch->key, ch->oldv);
		else
			ctc_delete(&c->main, ch->key);
		if (rc == 0)
			rc = ch->newv ? ctp_set(c, ch->key, ch->newv, err, errlen)
			              : ctp_delete(c, ch->key, false, err, errlen);
	}
	if (rc == 0 && (rc = ctc_check(c, err, errlen)) == 0) {
		/* tests: widen the window between the check and the rename */
		const char *delay = getenv("CTMGRD_TEST_WRITEBACK_DELAY_MS");
		if (delay && atoi(delay) > 0)
			usleep((useconds_t)atoi(delay) * 1000);
		size_t len;
		char *text = ctc_print(c, &len);
		rc = text ? ctf_write_atomic_if(conf_path, text, len, version, err, errlen)
		          : -ENOMEM;
		free(text);
	}
	ctc_free(c);
	return rc;
}

/*
 * applied.conf as this run leaves the container: what it ran with, plus
 * every key applied now (its new value, or the MAC generated for it), minus
 * nothing else - a key that went pending keeps its running value.
 */
static int record_applied(const char *apath, struct ctc_conf *app, const struct changes *cs,
                          const bool *pend, char *err, size_t errlen)
{
	for (size_t i = 0; i < cs->n; i++) {
		const struct change *ch = &cs->v[i];
		const char *v = pend[i] ? ch->oldv : ch->fixed ? ch->fixed : ch->newv;
		if (!strcmp(ch->key, "description")) {
			/* kept as the section's '#' lines, not as a key */
			free(app->main.description);
			app->main.description = v ? strdup(v) : NULL;
			continue;
		}
		if (v) {
			if (ctc_set_raw(&app->main, ch->key, v))
				return -ENOMEM;
		} else {
			ctc_delete(&app->main, ch->key);
		}
	}
	size_t len;
	char *text = ctc_print(app, &len);
	int rc = text ? ctf_write_atomic(apath, text, len, err, errlen) : -ENOMEM;
	free(text);
	return rc;
}

int hp_reconcile(long id, const char *conf_path, struct hp_result *res, char *err, size_t errlen)
{
	char apath[4200], why[512];
	struct ctc_conf *cur = NULL, *app = NULL;
	struct changes cs = { NULL, 0 };
	struct st_cfg *st = NULL; /* storage.cfg, read when a volume is added */
	bool *pend = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	/*
	 * The per-CT lock for the whole reconcile: pct start (which writes
	 * applied.conf), pct set, pct stop and a migration's take-over never
	 * interleave with it.  Busy: -EBUSY, ctmgrd tries again shortly.
	 */
	int lockfd = ctf_lock(id, 1, err, errlen);
	if (lockfd < 0)
		return lockfd == -ETIMEDOUT ? -EBUSY : lockfd;
	/* an invalid config is applied in no part */
	if ((rc = ctc_load(conf_path, true, &cur, NULL, err, errlen)))
		goto out;
	snprintf(res->digest, sizeof(res->digest), "%s", cur->digest);
	if ((rc = ctc_check(cur, err, errlen)))
		goto out;
	/*
	 * No rootfs: nothing a container can run with.  An empty file is a
	 * rewrite in place seen between its truncation and its content (two
	 * changes: "cat >", an editor writing in place) - applying it would
	 * reset every key to its default and drop every interface for a
	 * moment.  Anything else without a rootfs is an incomplete config.
	 */
	if (!ctc_get(&cur->main, "rootfs")) {
		bool empty = !cur->main.nkeys && !cur->main.nlxc && !cur->main.description &&
		    !cur->pending && !cur->nsnaps;
		rc = empty ? -ENOMSG : -EINVAL;
		snprintf(err, errlen, "%s: %s", conf_path,
		         empty ? "empty (a rewrite in progress?): nothing done"
		               : "no rootfs: the config is incomplete");
		goto out;
	}
	struct live *l = handle(id);
	if (!l || !ct_running(l))
		goto out; /* stopped: everything takes effect at the next start */
	res->running = true;
	hp_applied_path(id, apath, sizeof(apath));
	if (ctc_load(apath, false, &app, NULL, err, errlen)) {
		/*
		 * no record of what it runs with (started by an older version):
		 * nothing is known to differ; changes wait for the next start
		 */
		rc = -ENODATA;
		snprintf(err, errlen, "%s is missing: changes take effect at the next start",
		         apath);
		goto out;
	}
	ctp_diff(&app->main, &cur->main, collect_change, &cs);
	if (!cs.n)
		goto out;
	qsort(cs.v, cs.n, sizeof(*cs.v), cmp_change);
	pend = calloc(cs.n, sizeof(*pend));
	if (!pend) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	probe(l);
	bool mem_done = false, mem_ok = true, touched = false;
	char mem_why[512] = "";
	for (size_t i = 0; i < cs.n; i++) {
		const char *k = cs.v[i].key, *nv = cs.v[i].newv;
		bool ok = true, live = true;
		why[0] = '\0';
		if (no_action(k)) {
			/* nothing to do */
		} else if (!strcmp(k, "memory") || !strcmp(k, "swap")) {
			/* set together: a failure keeps both pending */
			if (!mem_done) {
				mem_done = true;
				mem_ok = set_memory(
				    l, num(&app->main, "memory", 512), num(&app->main, "swap", 512),
				    num(&cur->main, "memory", 512), num(&cur->main, "swap", 512),
				    mem_why, sizeof(mem_why));
			}
			ok = mem_ok;
			snprintf(why, sizeof(why), "%s", mem_why);
		} else if (!strcmp(k, "cpulimit")) {
			ok = set_cpulimit(l, nv, why, sizeof(why));
		} else if (!strcmp(k, "cpuunits")) {
			ok = set_cpuunits(l, nv, why, sizeof(why));
		} else if (!strcmp(k, "cores")) {
			ok = set_cores(l, nv, why, sizeof(why));
		} else if ((numbered(k, "mp") || numbered(k, "dev")) && !cs.v[i].oldv && nv) {
			/* a new mount point or device; changing or removing one waits */
			ok = add_mount(l, cur, k, &st, why, sizeof(why));
		} else if (!strncmp(k, "net", 3) && k[3] >= '0' && k[3] <= '9') {
			enum net_result nr = set_net(l, id, atoi(k + 3), cs.v[i].oldv, nv,
			                             &cs.v[i].fixed, why, sizeof(why));
			live = nr != NET_NOT_LIVE;
			ok = nr == NET_OK;
		} else {
			live = false; /* takes effect at the next start */
		}
		touched = true;
		if (live && ok) {
			add_word(res->applied, sizeof(res->applied), k);
			continue;
		}
		pend[i] = true;
		add_word(res->pending, sizeof(res->pending), k);
		if (!ok) {
			size_t fl = strlen(res->failed);
			snprintf(res->failed + fl, sizeof(res->failed) - fl, "%s%s: %s",
			         fl ? "; " : "", k, why);
		}
	}
	bool any_back = false;
	for (size_t i = 0; i < cs.n; i++)
		any_back |= pend[i] || cs.v[i].fixed;
	if (any_back) {
		rc = write_back(conf_path, cur->digest, &cs, pend, err, errlen);
		if (rc == 0) {
			res->wrote_back = true;
		} else {
			/* what was applied is still recorded below; the keys are not pending */
			char wb[400];
			snprintf(wb, sizeof(wb), "%s",
			         rc == -EAGAIN && !err[0] ? "it changed" : err);
			size_t fl = strlen(res->failed);
			snprintf(res->failed + fl, sizeof(res->failed) - fl,
			         "%sthe config could not be written back (%s): tried again",
			         fl ? "; " : "", wb);
			res->pending[0] = '\0';
			rc = -EAGAIN;
			snprintf(err, errlen, "the config could not be written back (%s)", wb);
		}
	}
	/* what runs now, also when the write-back must be tried again */
	if (touched) {
		char e2[512];
		int r2 = record_applied(apath, app, &cs, pend, e2, sizeof(e2));
		if (r2 && rc == 0) {
			rc = r2;
			snprintf(err, errlen, "%s", e2);
		}
	}
out:
	st_cfg_free(st);
	free(pend);
	free_changes(&cs);
	ctc_free(app);
	ctc_free(cur);
	close(lockfd);
	return rc;
}

/* ------------------------------------------------------------- verdicts */

/*
 * The verdict file keeps the last VERDICTS outcomes, one line each:
 * digest TAB running TAB applied TAB pending TAB failed TAB time (ns).  A write-back
 * makes a second reconcile right after the first: pct set must still
 * find the verdict of the config it wrote.
 */
#define VERDICTS 16

int hp_write_verdict(long id, const struct hp_result *res)
{
	char path[4200], err[256], line[4400];
	if (fsu_mkdirs(hp_run_dir(), 0755))
		return -EIO;
	snprintf(path, sizeof(path), "%s/%ld.verdict", hp_run_dir(), id);
	char *keep[VERDICTS];
	size_t n = 0;
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (n == VERDICTS - 1) {
			free(keep[0]);
			memmove(keep, keep + 1, (n - 1) * sizeof(*keep));
			n--;
		}
		keep[n++] = strdup(line);
	}
	if (f)
		fclose(f);
	struct sbuf b = SBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (keep[i])
			sbuf_addf(&b, "%s", keep[i]);
		free(keep[i]);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sbuf_addf(&b, "%s\t%d\t%s\t%s\t%s\t%lld\n", res->digest, res->running, res->applied,
	          res->pending, res->failed,
	          (long long)ts.tv_sec * 1000000000LL + (long long)ts.tv_nsec);
	int rc = b.oom ? -ENOMEM : ctf_write_atomic(path, b.buf, b.len, err, sizeof(err));
	sbuf_release(&b);
	return rc;
}

/* the newest verdict of digest in CT id's file, made at since_ns or later */
static bool read_verdict(long id, const char *digest, long long since_ns, struct hp_result *res)
{
	char path[4200], line[4400];
	bool found = false;
	snprintf(path, sizeof(path), "%s/%ld.verdict", hp_run_dir(), id);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *field[6] = { line, NULL, NULL, NULL, NULL, NULL };
		line[strcspn(line, "\n")] = '\0';
		for (int i = 1; i < 6; i++) {
			char *t = field[i - 1] ? strchr(field[i - 1], '\t') : NULL;
			if (t)
				*t = '\0';
			field[i] = t ? t + 1 : NULL;
		}
		/* the same text may have been reconciled before (a change undone) */
		if (!field[5] || strcasecmp(field[0], digest) != 0 || atoll(field[5]) < since_ns)
			continue;
		memset(res, 0, sizeof(*res));
		snprintf(res->digest, sizeof(res->digest), "%.40s", field[0]);
		res->running = atoi(field[1]) != 0;
		snprintf(res->applied, sizeof(res->applied), "%.1000s", field[2]);
		snprintf(res->pending, sizeof(res->pending), "%.1000s", field[3]);
		snprintf(res->failed, sizeof(res->failed), "%.2000s", field[4]);
		found = true;
	}
	fclose(f);
	return found;
}

int hp_wait_verdict(long id, const char *digest, long long since_ns, int timeout_ms,
                    struct hp_result *res)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (read_verdict(id, digest, since_ns, res))
			return 0;
		usleep(20 * 1000);
	}
	return -ETIMEDOUT;
}
