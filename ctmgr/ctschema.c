/*
 * ctschema.c - the container config schema; see ctschema.h.
 * The keys, ranges and formats follow the reference's documented schema.
 */
#include "ctmgr/ctschema.h"
#include "ctmgr/ctconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static int bad(char *err, size_t len, const char *fmt, const char *v)
{
	snprintf(err, len, fmt, v);
	return -EINVAL;
}

/* ---- value formats ---- */

int cts_fmt_dns_name(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v), label = 0;
	if (n == 0 || n > 255)
		return bad(err, errlen, "'%s' is not a valid DNS name (1..255 characters)", v);
	for (size_t i = 0; i <= n; i++) {
		char c = v[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || v[i - 1] == '-' || v[i - label] == '-')
				return bad(err, errlen,
				           "'%s' is not a valid DNS name (empty label, or a label "
				           "starting or ending with '-')",
				           v);
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return bad(err, errlen,
			           "'%s' is not a valid DNS name (letters, digits, '-' and '.')",
			           v);
		if (++label > 63)
			return bad(err, errlen, "'%s' is not a valid DNS name (a label over 63)",
			           v);
	}
	return 0;
}

int cts_fmt_ipv4(const char *v, char *err, size_t errlen)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) != 1)
		return bad(err, errlen, "'%s' is not an IPv4 address", v);
	return 0;
}

int cts_fmt_ipv6(const char *v, char *err, size_t errlen)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, v, &a) != 1)
		return bad(err, errlen, "'%s' is not an IPv6 address", v);
	return 0;
}

static int fmt_ip(const char *v, char *err, size_t errlen)
{
	if (cts_fmt_ipv4(v, err, errlen) == 0 || cts_fmt_ipv6(v, err, errlen) == 0)
		return 0;
	return bad(err, errlen, "'%s' is not an IP address", v);
}

/* addr/prefix with prefix in range for the family */
static int fmt_cidr(const char *v, int family, char *err, size_t errlen)
{
	char addr[64];
	const char *slash = strchr(v, '/');
	unsigned char buf[16];
	int maxp = family == AF_INET ? 32 : 128;
	if (!slash || (size_t)(slash - v) >= sizeof(addr) || !slash[1])
		return bad(err, errlen, "'%s' is not an address/prefix (CIDR)", v);
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	char *end;
	long p = strtol(slash + 1, &end, 10);
	if (*end || p < 0 || p > maxp || !isdigit((unsigned char)slash[1]) ||
	    inet_pton(family, addr, buf) != 1)
		return bad(err, errlen,
		           family == AF_INET ? "'%s' is not an IPv4 address/prefix (CIDR)"
		                             : "'%s' is not an IPv6 address/prefix (CIDR)",
		           v);
	return 0;
}

static int fmt_ip4_conf(const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "dhcp") || !strcmp(v, "manual"))
		return 0;
	return fmt_cidr(v, AF_INET, err, errlen);
}

static int fmt_ip6_conf(const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "dhcp") || !strcmp(v, "manual") || !strcmp(v, "auto"))
		return 0;
	return fmt_cidr(v, AF_INET6, err, errlen);
}

int cts_fmt_mac(const char *v, char *err, size_t errlen)
{
	unsigned b[6];
	char tail;
	if (strlen(v) != 17 ||
	    sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
	           &tail) != 6)
		return bad(err, errlen, "'%s' is not a MAC address (XX:XX:XX:XX:XX:XX)", v);
	for (int i = 0; i < 17; i++)
		if ((i % 3 == 2) != (v[i] == ':') || (i % 3 != 2 && !isxdigit((unsigned char)v[i])))
			return bad(err, errlen, "'%s' is not a MAC address (XX:XX:XX:XX:XX:XX)", v);
	if (b[0] & 1)
		return bad(err, errlen, "'%s' is a multicast MAC address", v);
	return 0;
}

int cts_fmt_ifname(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n == 0 || n > 15 || !strcmp(v, ".") || !strcmp(v, ".."))
		return bad(err, errlen, "'%s' is not an interface name (1..15 characters)", v);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("_.-", v[i]))
			return bad(err, errlen,
			           "'%s' is not an interface name (letters, digits, '_', '.', '-')",
			           v);
	return 0;
}

int cts_fmt_mount_path(const char *v, char *err, size_t errlen)
{
	if (v[0] != '/')
		return bad(err, errlen, "'%s' is not an absolute path", v);
	if (strlen(v) > 4096)
		return bad(err, errlen, "'%s' is too long", v);
	for (const char *p = v; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return bad(err, errlen, "'%s' has a '..' component", v);
		p += n;
	}
	return 0;
}

/* one tag: [a-z0-9_][a-z0-9_-+.]* (either case) */
static bool tag_ok(const char *t, size_t n)
{
	if (n == 0 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_-+.", t[i]))
			return false;
	return true;
}

int cts_fmt_tags(const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p;) {
		size_t sep = strspn(p, "; ,");
		p += sep;
		size_t n = strcspn(p, "; ,");
		if (n && !tag_ok(p, n))
			return bad(
			    err, errlen,
			    "'%s' is not a tag list (tags of letters, digits, '_', '-', '+', '.' "
			    "separated by ';')",
			    v);
		p += n;
	}
	return 0;
}

int cts_fmt_timezone(const char *v, char *err, size_t errlen)
{
	char path[512];
	struct stat st;

	if (!strcmp(v, "host"))
		return 0;
	if (!v[0] || v[0] == '/' || strstr(v, "..") || strlen(v) > 200)
		return bad(err, errlen, "'%s' is not a time zone", v);
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-/", *p))
			return bad(err, errlen, "'%s' is not a time zone", v);
	/* the host's zone database decides, where it is installed */
	if (stat("/usr/share/zoneinfo", &st) == 0) {
		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			return bad(err, errlen, "'%s' is not a known time zone", v);
	}
	return 0;
}

/* storage:volume, or an absolute path (bind mount / device) */
int cts_fmt_volume(const char *v, char *err, size_t errlen)
{
	if (v[0] == '/')
		return cts_fmt_mount_path(v, err, errlen);
	const char *colon = strchr(v, ':');
	if (!colon || colon == v || !colon[1])
		return bad(err, errlen,
		           "'%s' is not a volume (STORAGE:VOLUME, STORAGE:SIZE_IN_GiB or an "
		           "absolute path)",
		           v);
	for (const char *p = v; p < colon; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return bad(err, errlen, "'%s' has an invalid storage name", v);
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ',' || *p == ' ')
			return bad(err, errlen, "'%s' has an invalid volume name", v);
	if (strstr(colon + 1, ".."))
		return bad(err, errlen, "'%s' has '..' in its volume name", v);
	return 0;
}

static int fmt_dev_path(const char *v, char *err, size_t errlen)
{
	if (strncmp(v, "/dev/", 5) != 0 || !v[5])
		return bad(err, errlen, "'%s' is not a device path under /dev/", v);
	return cts_fmt_mount_path(v, err, errlen);
}

static int fmt_mode(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n < 3 || n > 4 || strspn(v, "01234567") != n)
		return bad(err, errlen, "'%s' is not an octal access mode (e.g. 0660)", v);
	return 0;
}

/* a list separated by spaces, ',' or ';' where each item passes fn */
static int list_of(const char *v, cts_fmt_fn fn, const char *what, char *err, size_t errlen)
{
	char item[300];
	bool any = false;
	for (const char *p = v; *p;) {
		p += strspn(p, " ,;");
		size_t n = strcspn(p, " ,;");
		if (!n)
			break;
		if (n >= sizeof(item) ||
		    (snprintf(item, sizeof(item), "%.*s", (int)n, p), fn(item, err, errlen)))
			return bad(err, errlen, what, v);
		any = true;
		p += n;
	}
	return any ? 0 : bad(err, errlen, what, v);
}

static int fmt_dns_list(const char *v, char *err, size_t errlen)
{
	return list_of(v, cts_fmt_dns_name, "'%s' is not a list of DNS names", err, errlen);
}

static int fmt_ip_list(const char *v, char *err, size_t errlen)
{
	return list_of(v, fmt_ip, "'%s' is not a list of IP addresses", err, errlen);
}

static int fmt_vlan_list(const char *v, char *err, size_t errlen)
{
	for (const char *p = v;;) {
		char *end;
		long id = strtol(p, &end, 10);
		if (end == p || !isdigit((unsigned char)*p) || id < 1 || id > 4094)
			return bad(err, errlen, "'%s' is not a list of VLAN ids (1..4094, ';')", v);
		if (!*end)
			return 0;
		if (*end != ';')
			return bad(err, errlen, "'%s' is not a list of VLAN ids (1..4094, ';')", v);
		p = end + 1;
	}
}

static int fmt_word_list(const char *v, const char *const *allowed, const char *what, char *err,
                         size_t errlen)
{
	char item[64];
	/* every item non-empty: no empty list, no leading, doubled or trailing ';' */
	for (const char *p = v;; p++) {
		size_t n = strcspn(p, ";");
		bool ok = false;
		if (n && n < sizeof(item)) {
			snprintf(item, sizeof(item), "%.*s", (int)n, p);
			for (size_t i = 0; allowed && allowed[i]; i++)
				ok |= !strcmp(item, allowed[i]);
			if (!allowed) {
				ok = true;
				for (size_t i = 0; i < n; i++)
					ok &= isalnum((unsigned char)item[i]) || item[i] == '_' ||
					    item[i] == '.';
			}
		}
		if (!ok)
			return bad(err, errlen, what, v);
		p += n;
		if (!*p)
			return 0;
	}
}

static int fmt_mountoptions(const char *v, char *err, size_t errlen)
{
	static const char *const opts[] = { "noatime", "lazytime", "nodev", "noexec",
		                            "nosuid",  "discard",  NULL };
	return fmt_word_list(v, opts,
	                     "'%s' is not a list of mount options (noatime, lazytime, nodev, "
	                     "noexec, nosuid, discard; separated by ';')",
	                     err, errlen);
}

static int fmt_fstypes(const char *v, char *err, size_t errlen)
{
	return fmt_word_list(v, NULL, "'%s' is not a list of file system types (';')", err, errlen);
}

static int fmt_configid(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n < 2 || n > 40 || !isalpha((unsigned char)v[0]))
		return bad(err, errlen,
		           "'%s' is not a snapshot name (a letter, then 1..39 of "
		           "letters, digits, '_', '-')",
		           v);
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-')
			return bad(err, errlen, "'%s' is not a snapshot name", v);
	return 0;
}

static int fmt_line(const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return bad(err, errlen, "'%s' contains a control character", v);
	return 0;
}

/* ---- the schema ---- */

static const char *const e_arch[] = {
	"amd64", "i386", "arm64", "armhf", "riscv32", "riscv64", NULL
};
static const char *const e_cmode[] = { "shell", "console", "tty", NULL };
static const char *const e_lock[] = { "backup",   "create",          "destroyed", "disk",
	                              "fstrim",   "migrate",         "mounted",   "rollback",
	                              "snapshot", "snapshot-delete", NULL };
static const char *const e_ostype[] = { "debian", "devuan",   "ubuntu",    "centos",
	                                "fedora", "opensuse", "archlinux", "alpine",
	                                "gentoo", "nixos",    "unmanaged", NULL };
static const char *const e_snapstate[] = { "prepare", "delete", NULL };
static const char *const e_nettype[] = { "veth", NULL };

#define BOOL(n, d)                                                                                 \
	{                                                                                          \
		.name = n, .type = CTS_BOOL, .def = d                                              \
	}
#define INT(n, lo, hi, d)                                                                          \
	{                                                                                          \
		.name = n, .type = CTS_INT, .min = lo, .max = hi, .def = d                         \
	}
#define STR(n, f)                                                                                  \
	{                                                                                          \
		.name = n, .type = CTS_STR, .fmt = f, .def = ""                                    \
	}

static const struct cts_val net_keys[] = {
	{ .name = "name", .type = CTS_STR, .fmt = cts_fmt_ifname, .required = true },
	STR("bridge", cts_fmt_ifname),
	STR("hwaddr", cts_fmt_mac),
	STR("ip", fmt_ip4_conf),
	STR("gw", cts_fmt_ipv4),
	STR("ip6", fmt_ip6_conf),
	STR("gw6", cts_fmt_ipv6),
	INT("mtu", 64, 65535, ""),
	{ .name = "rate", .type = CTS_NUM, .min = 0, .max = 1e12, .def = "" },
	INT("tag", 1, 4094, ""),
	STR("trunks", fmt_vlan_list),
	BOOL("firewall", "0"),
	BOOL("link_down", "0"),
	{ .name = "type", .type = CTS_ENUM, .enums = e_nettype, .def = "veth" },
	BOOL("host-managed", "0"),
};
static const struct cts_propfmt net_fmt = { NULL, net_keys, N_ELEM(net_keys) };

#define MP_COMMON                                                                                  \
	{ .name = "volume", .type = CTS_STR, .fmt = cts_fmt_volume, .required = true },            \
	    BOOL("acl", ""), STR("mountoptions", fmt_mountoptions), BOOL("quota", "0"),            \
	    BOOL("replicate", "1"), BOOL("ro", "0"), BOOL("shared", "0"),                          \
	{                                                                                          \
		.name = "size", .type = CTS_SIZE                                                   \
	}

static const struct cts_val rootfs_keys[] = { MP_COMMON };
static const struct cts_propfmt rootfs_fmt = { "volume", rootfs_keys, N_ELEM(rootfs_keys) };
static const struct cts_val mp_keys[] = {
	MP_COMMON,
	{ .name = "mp", .type = CTS_STR, .fmt = cts_fmt_mount_path, .required = true },
	BOOL("backup", "0"),
};
static const struct cts_propfmt mp_fmt = { "volume", mp_keys, N_ELEM(mp_keys) };
static const struct cts_val unused_keys[] = {
	{ .name = "volume", .type = CTS_STR, .fmt = cts_fmt_volume, .required = true },
};
static const struct cts_propfmt unused_fmt = { "volume", unused_keys, N_ELEM(unused_keys) };
static const struct cts_val dev_keys[] = {
	{ .name = "path", .type = CTS_STR, .fmt = fmt_dev_path, .required = true },
	STR("mode", fmt_mode),
	INT("uid", 0, 4294967295.0, ""),
	INT("gid", 0, 4294967295.0, ""),
	BOOL("deny-write", "0"),
};
static const struct cts_propfmt dev_fmt = { "path", dev_keys, N_ELEM(dev_keys) };
static const struct cts_val features_keys[] = {
	BOOL("force_rw_sys", "0"), BOOL("fuse", "0"),         BOOL("keyctl", "0"),
	BOOL("mknod", "0"),        STR("mount", fmt_fstypes), BOOL("nesting", "0"),
};
static const struct cts_propfmt features_fmt = { NULL, features_keys, N_ELEM(features_keys) };
static const struct cts_val startup_keys[] = {
	INT("order", 0, 1e9, ""),
	INT("up", 0, 1e9, ""),
	INT("down", 0, 1e9, ""),
};
static const struct cts_propfmt startup_fmt = { "order", startup_keys, N_ELEM(startup_keys) };

static int check_prop(const struct cts_propfmt *f, const char *value, char **canon, char *err,
                      size_t errlen);

/* startup is a plain string to the reference: checked, but written as given */
static int fmt_startup(const char *v, char *err, size_t errlen)
{
	return check_prop(&startup_fmt, v, NULL, err, errlen);
}

#define ALL (CTS_IN_MAIN | CTS_IN_PENDING | CTS_IN_SNAPSHOT)
#define PROP(n, f)                                                                                 \
	{                                                                                          \
		.name = n, .type = CTS_PROP, .prop = &f, .def = ""                                 \
	}

/* the keys, in name order (the order of `pct config`) */
static const struct cts_key keys[] = {
	{ { .name = "arch", .type = CTS_ENUM, .enums = e_arch, .def = "amd64" }, 0, ALL },
	{ { .name = "cmode", .type = CTS_ENUM, .enums = e_cmode, .def = "tty" }, 0, ALL },
	{ BOOL("console", "1"), 0, ALL },
	{ INT("cores", 1, 8192, ""), 0, ALL },
	{ { .name = "cpulimit", .type = CTS_NUM, .min = 0, .max = 8192, .def = "0" }, 0, ALL },
	{ INT("cpuunits", 0, 500000, "100"), 0, ALL },
	{ BOOL("debug", "0"), 0, ALL },
	{ STR("delete", NULL), 0, CTS_IN_PENDING },
	{ STR("description", NULL), 0, ALL },
	{ PROP("dev", dev_fmt), 256, ALL },
	{ STR("entrypoint", fmt_line), 0, ALL },
	{ STR("env", fmt_line), 0, ALL },
	{ PROP("features", features_fmt), 0, ALL },
	{ STR("hookscript", cts_fmt_volume), 0, ALL },
	{ STR("hostname", cts_fmt_dns_name), 0, ALL },
	{ { .name = "lock", .type = CTS_ENUM, .enums = e_lock, .def = "" }, 0, CTS_IN_MAIN },
	{ INT("memory", 16, 1e12, "512"), 0, ALL },
	{ PROP("mp", mp_fmt), 256, ALL },
	{ STR("nameserver", fmt_ip_list), 0, ALL },
	{ PROP("net", net_fmt), 32, ALL },
	{ BOOL("onboot", "0"), 0, ALL },
	{ { .name = "ostype", .type = CTS_ENUM, .enums = e_ostype, .def = "" }, 0, ALL },
	{ STR("parent", fmt_configid), 0, CTS_IN_MAIN | CTS_IN_SNAPSHOT },
	{ BOOL("protection", "0"), 0, ALL },
	{ PROP("rootfs", rootfs_fmt), 0, ALL },
	{ STR("searchdomain", fmt_dns_list), 0, ALL },
	{ { .name = "snapstate", .type = CTS_ENUM, .enums = e_snapstate, .def = "" },
	  0,
	  CTS_IN_SNAPSHOT },
	{ INT("snaptime", 0, 1e15, ""), 0, CTS_IN_SNAPSHOT },
	{ STR("startup", fmt_startup), 0, ALL },
	{ INT("swap", 0, 1e12, "512"), 0, ALL },
	{ STR("tags", cts_fmt_tags), 0, ALL },
	{ BOOL("template", "0"), 0, ALL },
	{ STR("timezone", cts_fmt_timezone), 0, ALL },
	{ INT("tty", 0, 6, "2"), 0, ALL },
	{ BOOL("unprivileged", "0"), 0, ALL },
	{ PROP("unused", unused_fmt), 256, ALL },
	{ STR("vmstate", cts_fmt_volume), 0, CTS_IN_SNAPSHOT },
};

const struct cts_key *cts_lookup(const char *key, const char *section)
{
	char base[32];
	size_t n = strlen(key), d = n;
	unsigned where = !section           ? CTS_IN_MAIN
	    : !strcmp(section, CTC_PENDING) ? CTS_IN_PENDING
	                                    : CTS_IN_SNAPSHOT;

	while (d > 0 && isdigit((unsigned char)key[d - 1]))
		d--;
	if (d == 0 || d >= sizeof(base))
		return NULL;
	memcpy(base, key, d);
	base[d] = '\0';
	for (size_t i = 0; i < N_ELEM(keys); i++) {
		const struct cts_key *k = &keys[i];
		if (strcmp(k->v.name, base) != 0)
			continue;
		if (!(k->where & where))
			return NULL;
		if (!k->indexed)
			return d == n ? k : NULL;
		/* name<N>: decimal without leading zeros, below the count */
		if (d == n || (key[d] == '0' && n - d > 1) || n - d > 3)
			return NULL;
		return (unsigned)atoi(key + d) < k->indexed ? k : NULL;
	}
	return NULL;
}

/* ---- scalar values ---- */

int cts_parse_bool(const char *s)
{
	static const char *const t[] = { "1", "on", "yes", "true" };
	static const char *const f[] = { "0", "off", "no", "false" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, t[i]))
			return 1;
		if (!strcasecmp(s, f[i]))
			return 0;
	}
	return -1;
}

long long cts_parse_size(const char *s)
{
	char *end;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	double mult = 1;
	switch (*end) {
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 'T':
		mult = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	/* digits, optionally '.' digits, then the unit: nothing else (no exponent) */
	size_t digits = strspn(s, "0123456789");
	if (s[digits] == '.' && isdigit((unsigned char)s[digits + 1]))
		digits += 1 + strspn(s + digits + 1, "0123456789");
	if (*end || (size_t)(end - s) != digits + (mult > 1))
		return -1;
	double bytes = v * mult;
	if (bytes >= 9.2e18)
		return -1;
	return (long long)bytes;
}

void cts_format_size(long long bytes, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	/* the largest unit that divides exactly (0 divides by all: "0T", as the reference) */
	for (int i = 0; i < 4; i++) {
		long long u = 1LL << (10 * (4 - i));
		if (bytes % u == 0) {
			snprintf(buf, len, "%lld%c", bytes / u, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%lld", bytes);
}

static int dup_into(char **canon, const char *s)
{
	if (!canon)
		return 0;
	*canon = strdup(s);
	return *canon ? 0 : -ENOMEM;
}

static int check_number(const struct cts_val *v, const char *value, char **canon, char *err,
                        size_t errlen)
{
	char *end;
	const char *p = value;
	bool integer = v->type == CTS_INT;

	if (*p == '-' && integer) /* as the reference: -?digits, or digits[.digits] */
		p++;
	if (!isdigit((unsigned char)*p))
		goto bad_num;
	errno = 0;
	double d = strtod(value, &end);
	if (errno || *end || !isfinite(d))
		goto bad_num;
	/* decimal digits only: no hex, exponent, inf */
	const char *dot = strchr(p, '.');
	if (dot && (integer || !isdigit((unsigned char)dot[1]) || strchr(dot + 1, '.')))
		goto bad_num;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q) && q != dot)
			goto bad_num;
	if (d < v->min || d > v->max) {
		if (v->max >= 1e12) /* no real upper bound */
			snprintf(err, errlen, "value %s out of range (at least %.15g)", value,
			         v->min);
		else
			snprintf(err, errlen, "value %s out of range (%.15g..%.15g)", value, v->min,
			         v->max);
		return -EINVAL;
	}
	if (integer && canon) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)d);
		return dup_into(canon, buf);
	}
	return dup_into(canon, value);
bad_num:
	snprintf(err, errlen, "'%s' is not %s", value, integer ? "an integer" : "a number");
	return -EINVAL;
}

struct part {
	const struct cts_val *v;
	char *text; /* canonical value */
	int rank; /* 0 the default key, 1 required keys, 2 the rest */
};

/* the reference's order: the default key, then required keys, then the rest, each sorted */
static int cmp_part(const void *a, const void *b)
{
	const struct part *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->v->name, y->v->name);
}

static int check_prop(const struct cts_propfmt *f, const char *value, char **canon, char *err,
                      size_t errlen)
{
	struct part parts[32];
	size_t np = 0;
	int rc = -EINVAL;
	char sub[256];

	if (!value[0]) {
		snprintf(err, errlen, "empty property string");
		return -EINVAL;
	}
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		char key[64];
		const char *val;
		size_t vlen;
		if (n == 0) {
			snprintf(err, errlen, "empty part in '%s'", value);
			goto out;
		}
		if (eq) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			val = eq + 1;
			vlen = n - (size_t)(eq - p) - 1;
		} else if (f->default_key) {
			snprintf(key, sizeof(key), "%s", f->default_key);
			val = p;
			vlen = n;
		} else {
			snprintf(err, errlen, "'%.*s' has no key (expected key=value)", (int)n, p);
			goto out;
		}
		const struct cts_val *v = NULL;
		for (size_t i = 0; i < f->nkeys; i++)
			if (!strcmp(f->keys[i].name, key))
				v = &f->keys[i];
		if (!v) {
			snprintf(err, errlen, "unknown property '%s'", key);
			goto out;
		}
		for (size_t i = 0; i < np; i++)
			if (parts[i].v == v) {
				snprintf(err, errlen, "property '%s' given twice", key);
				goto out;
			}
		if (np == N_ELEM(parts) || vlen >= 4096) {
			snprintf(err, errlen, "property string too long");
			goto out;
		}
		char *text = strndup(val, vlen);
		if (!text) {
			rc = -ENOMEM;
			goto out;
		}
		char *c = NULL;
		int e = cts_check_val(v, text, &c, sub, sizeof(sub));
		free(text);
		if (e) {
			snprintf(err, errlen, "property '%s': %s", key, sub);
			rc = e;
			goto out;
		}
		parts[np].v = v;
		parts[np].text = c;
		np++;
		p += n;
		if (*p == ',') {
			p++;
			if (!*p) {
				snprintf(err, errlen, "trailing ',' in '%s'", value);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < f->nkeys; i++) {
		bool have = false;
		for (size_t j = 0; j < np; j++)
			have |= parts[j].v == &f->keys[i];
		if (f->keys[i].required && !have) {
			snprintf(err, errlen, "property '%s' is missing", f->keys[i].name);
			goto out;
		}
	}
	if (canon) {
		size_t first = 0, len = 0;
		for (size_t i = 0; i < np; i++) {
			bool def = f->default_key && !strcmp(parts[i].v->name, f->default_key);
			parts[i].rank = def ? 0 : parts[i].v->required ? 1 : 2;
			first += def;
		}
		qsort(parts, np, sizeof(parts[0]), cmp_part);
		for (size_t i = 0; i < np; i++)
			len += strlen(parts[i].v->name) + strlen(parts[i].text) + 2;
		char *out = malloc(len + 1);
		if (!out) {
			rc = -ENOMEM;
			goto out;
		}
		size_t off = 0;
		for (size_t i = 0; i < np; i++) {
			off += (size_t)snprintf(out + off, len + 1 - off, "%s%s%s%s", i ? "," : "",
			                        i < first ? "" : parts[i].v->name,
			                        i < first ? "" : "=", parts[i].text);
		}
		*canon = out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < np; i++)
		free(parts[i].text);
	return rc;
}

int cts_check_val(const struct cts_val *v, const char *value, char **canon, char *err,
                  size_t errlen)
{
	if (canon)
		*canon = NULL;
	if (strchr(value, '\n')) {
		snprintf(err, errlen, "a value may not contain a newline");
		return -EINVAL;
	}
	switch (v->type) {
	case CTS_BOOL: {
		int b = cts_parse_bool(value);
		if (b < 0) {
			snprintf(err, errlen,
			         "'%s' is not a boolean (1/0, on/off, yes/no, true/false)", value);
			return -EINVAL;
		}
		return dup_into(canon, b ? "1" : "0");
	}
	case CTS_INT:
	case CTS_NUM:
		return check_number(v, value, canon, err, errlen);
	case CTS_ENUM:
		for (size_t i = 0; v->enums[i]; i++)
			if (!strcmp(v->enums[i], value))
				return dup_into(canon, value);
		{
			size_t off = (size_t)snprintf(err, errlen, "'%s' is not one of", value);
			for (size_t i = 0; v->enums[i] && off < errlen; i++)
				off += (size_t)snprintf(err + off, errlen - off, "%s %s",
				                        i ? "," : "", v->enums[i]);
		}
		return -EINVAL;
	case CTS_STR:
		if (v->fmt) {
			int e = v->fmt(value, err, errlen);
			if (e)
				return e;
		} else if (fmt_line(value, err, errlen)) {
			return -EINVAL;
		}
		return dup_into(canon, value);
	case CTS_SIZE: {
		long long b = cts_parse_size(value);
		char buf[32];
		if (b < 0) {
			snprintf(err, errlen, "'%s' is not a size (N[.N][K|M|G|T])", value);
			return -EINVAL;
		}
		cts_format_size(b, buf, sizeof(buf));
		return dup_into(canon, buf);
	}
	case CTS_PROP:
		return check_prop(v->prop, value, canon, err, errlen);
	}
	snprintf(err, errlen, "unknown type");
	return -EINVAL;
}

int cts_check(const struct cts_key *k, const char *value, char **canon, char *err, size_t errlen)
{
	return cts_check_val(&k->v, value, canon, err, errlen);
}

/* ---- raw lxc keys ---- */

static const char *const lxc_exact[] = {
	"lxc.apparmor.allow_incomplete",
	"lxc.apparmor.allow_nesting",
	"lxc.apparmor.profile",
	"lxc.apparmor.raw",
	"lxc.arch",
	"lxc.autodev",
	"lxc.autodev.tmpfs.size",
	"lxc.cap.drop",
	"lxc.cap.keep",
	"lxc.cgroup.dir",
	"lxc.cgroup.relative",
	"lxc.console.buffer.size",
	"lxc.console.logfile",
	"lxc.console.path",
	"lxc.console.rotate",
	"lxc.console.size",
	"lxc.environment",
	"lxc.ephemeral",
	"lxc.group",
	"lxc.hook.autodev",
	"lxc.hook.clone",
	"lxc.hook.destroy",
	"lxc.hook.mount",
	"lxc.hook.post-stop",
	"lxc.hook.pre-mount",
	"lxc.hook.pre-start",
	"lxc.hook.start",
	"lxc.hook.start-host",
	"lxc.hook.stop",
	"lxc.hook.version",
	"lxc.idmap",
	"lxc.include",
	"lxc.init.cmd",
	"lxc.init.cwd",
	"lxc.init.gid",
	"lxc.init.uid",
	"lxc.keyring.session",
	"lxc.log.file",
	"lxc.log.level",
	"lxc.log.syslog",
	"lxc.monitor.signal.pdeath",
	"lxc.monitor.unshare",
	"lxc.mount.auto",
	"lxc.mount.entry",
	"lxc.mount.fstab",
	"lxc.no_new_privs",
	"lxc.pty.max",
	"lxc.rootfs.managed",
	"lxc.rootfs.mount",
	"lxc.seccomp.allow_nesting",
	"lxc.seccomp.notify.cookie",
	"lxc.seccomp.notify.proxy",
	"lxc.seccomp.profile",
	"lxc.selinux.context",
	"lxc.selinux.context.keyring",
	"lxc.signal.halt",
	"lxc.signal.reboot",
	"lxc.signal.stop",
	"lxc.start.auto",
	"lxc.start.delay",
	"lxc.start.order",
	"lxc.tty.dir",
	"lxc.tty.max",
	"lxc.uts.name",
};
/* prefixes whose every key is allowed */
static const char *const lxc_prefix[] = {
	"lxc.cgroup.",         "lxc.cgroup2.",       "lxc.net.",
	"lxc.prlimit.",        "lxc.proc.",          "lxc.sysctl.",
	"lxc.namespace.clone", "lxc.namespace.keep", "lxc.namespace.share.",
	"lxc.time.offset.",
};
/* pct owns these: they would break the container or its storage */
static const char *const lxc_refused[] = { "lxc.rootfs.path", "lxc.rootfs.options" };
/* LXC 2.x names and their replacements */
static const char *const lxc_deprecated[][2] = {
	{ "lxc.aa_allow_incomplete", "lxc.apparmor.allow_incomplete" },
	{ "lxc.aa_profile", "lxc.apparmor.profile" },
	{ "lxc.console", "lxc.console.path" },
	{ "lxc.devttydir", "lxc.tty.dir" },
	{ "lxc.haltsignal", "lxc.signal.halt" },
	{ "lxc.id_map", "lxc.idmap" },
	{ "lxc.init_cmd", "lxc.init.cmd" },
	{ "lxc.init_gid", "lxc.init.gid" },
	{ "lxc.init_uid", "lxc.init.uid" },
	{ "lxc.logfile", "lxc.log.file" },
	{ "lxc.loglevel", "lxc.log.level" },
	{ "lxc.mount", "lxc.mount.fstab" },
	{ "lxc.pts", "lxc.pty.max" },
	{ "lxc.rebootsignal", "lxc.signal.reboot" },
	{ "lxc.se_context", "lxc.selinux.context" },
	{ "lxc.seccomp", "lxc.seccomp.profile" },
	{ "lxc.stopsignal", "lxc.signal.stop" },
	{ "lxc.syslog", "lxc.log.syslog" },
	{ "lxc.tty", "lxc.tty.max" },
	{ "lxc.utsname", "lxc.uts.name" },
};

int cts_lxc_key(const char *key, const char **replacement, char *err, size_t errlen)
{
	*replacement = NULL;
	for (size_t i = 0; i < N_ELEM(lxc_refused); i++)
		if (!strcmp(key, lxc_refused[i]))
			return bad(err, errlen, "'%s' is set by pct itself and may not be given",
			           key);
	for (size_t i = 0; i < N_ELEM(lxc_exact); i++)
		if (!strcmp(key, lxc_exact[i]))
			return 0;
	for (size_t i = 0; i < N_ELEM(lxc_prefix); i++)
		if (!strncmp(key, lxc_prefix[i], strlen(lxc_prefix[i])))
			return 0;
	for (size_t i = 0; i < N_ELEM(lxc_deprecated); i++) {
		if (!strcmp(key, lxc_deprecated[i][0])) {
			*replacement = lxc_deprecated[i][1];
			return 1;
		}
	}
	if (!strncmp(key, "lxc.network.", 12)) {
		*replacement = "lxc.net.*";
		return 1;
	}
	if (!strncmp(key, "lxc.limit.", 10)) {
		*replacement = "lxc.prlimit.*";
		return 1;
	}
	return bad(err, errlen, "'%s' is not a known LXC key", key);
}

int cts_prop_get(const char *value, const char *default_key, const char *key, char *out,
                 size_t outlen)
{
	for (const char *p = value ? value : ""; *p;) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		bool match;
		const char *val;
		if (eq) {
			match =
			    (size_t)(eq - p) == strlen(key) && !strncmp(p, key, (size_t)(eq - p));
			val = eq + 1;
		} else {
			match = default_key && !strcmp(default_key, key);
			val = p;
		}
		if (match) {
			size_t vlen = n - (size_t)(val - p);
			if (vlen >= outlen)
				return -ENAMETOOLONG;
			memcpy(out, val, vlen);
			out[vlen] = '\0';
			return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}
