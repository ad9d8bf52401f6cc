/*
 * test_ctconf.c - unit tests of ctmgr/ctconf.c and ctmgr/ctschema.c, the
 * container config file (/etc/pve/lxc/<CTID>.conf): every key type with its
 * ranges and canonical form, property strings, indexed keys and where keys
 * are allowed, every parser error with its message, the description's
 * percent encoding, the writer's order and round trips, ctc_check before
 * writing, the digest, and a corpus of configs written as the reference
 * writes them (tests/ctconf/corpus).
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/ctschema.h"
#include "tests/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "test.conf"

#define ASSERT_CONTAINS(hay, needle)                                                               \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!strstr(_h, _n))                                                               \
			TEST_FAIL("\"%s\" does not contain \"%s\"", _h, _n);                       \
	} while (0)

/* ---- helpers ---- */

/* Parse text; it must succeed.  The warnings go to warn (may be NULL). */
static struct ctc_conf *parse_ok(const char *text, bool strict, struct ctc_diag *warn)
{
	struct ctc_conf *c = NULL;
	char err[1024] = "";
	int r = ctc_parse(text, strlen(text), FILE_NAME, strict, &c, warn, err, sizeof(err));
	if (r != 0)
		TEST_FAIL("parse failed (%d): %s\n--- text ---\n%s", r, err, text);
	ASSERT(c != NULL);
	return c;
}

/* Parse text; it must fail with -EINVAL, the message is returned in err. */
static void parse_bad(const char *text, bool strict, char *err, size_t errlen)
{
	struct ctc_conf *c = NULL;
	err[0] = '\0';
	int r = ctc_parse(text, strlen(text), FILE_NAME, strict, &c, NULL, err, errlen);
	if (r != -EINVAL)
		TEST_FAIL("parse of \"%s\" returned %d, expected -EINVAL", text, r);
	ASSERT(c == NULL);
	ASSERT(err[0] != '\0');
}

/* Parse strictly (must fail with a message containing each of a, b) and leniently (must
 * succeed with exactly one warning containing a and b). */
static void strict_err_lenient_warn(const char *text, const char *a, const char *b)
{
	char err[1024];
	struct ctc_diag warn = { 0 };

	parse_bad(text, true, err, sizeof(err));
	ASSERT_CONTAINS(err, a);
	ASSERT_CONTAINS(err, b);
	struct ctc_conf *c = parse_ok(text, false, &warn);
	ASSERT_EQ(warn.n, 1);
	ASSERT_CONTAINS(warn.msgs[0], a);
	ASSERT_CONTAINS(warn.msgs[0], b);
	/* kept as it is: printed back unchanged */
	size_t len;
	char *out = ctc_print(c, &len);
	ASSERT_STR_EQ(out, text);
	free(out);
	ctc_diag_free(&warn);
	ctc_free(c);
}

/* print(c) must equal want. */
static void assert_print(const struct ctc_conf *c, const char *want)
{
	size_t len = 0;
	char *out = ctc_print(c, &len);
	ASSERT(out != NULL);
	ASSERT_EQ(len, strlen(out));
	ASSERT_STR_EQ(out, want);
	free(out);
}

/* ctc_set in a fresh config's section (NULL: main); returns the canonical text (static). */
static const char *set_in(const char *section, const char *key, const char *value)
{
	static char keep[4096];
	char err[512] = "";
	struct ctc_conf *c = ctc_new(FILE_NAME);
	struct ctc_section *s = &c->main;
	ASSERT(c != NULL);
	if (section && !strcmp(section, CTC_PENDING)) {
		s = ctc_pending(c, true);
	} else if (section) {
		char text[256];
		snprintf(text, sizeof(text), "[%s]\n", section);
		ctc_free(c);
		c = parse_ok(text, true, NULL);
		s = ctc_snapshot(c, section);
	}
	ASSERT(s != NULL);
	int r = ctc_set(s, key, value, err, sizeof(err));
	if (r != 0)
		TEST_FAIL("ctc_set(%s, \"%s\") failed: %s", key, value, err);
	const char *v = ctc_get(s, key);
	ASSERT(v != NULL);
	snprintf(keep, sizeof(keep), "%s", v);
	/* a value set with ctc_set passes the check before writing */
	if (ctc_check(c, err, sizeof(err)) != 0 && strcmp(key, "parent") != 0)
		TEST_FAIL("ctc_check after ctc_set(%s, \"%s\") failed: %s", key, value, err);
	ctc_free(c);
	return keep;
}

static const char *set(const char *key, const char *value)
{
	return set_in(NULL, key, value);
}

/* ctc_set must refuse; returns the message (static), which names the key. */
static const char *set_bad_in(const char *section, const char *key, const char *value)
{
	static char err[1024];
	struct ctc_conf *c = ctc_new(FILE_NAME);
	struct ctc_section *s = &c->main;
	char want[128];
	ASSERT(c != NULL);
	if (section && !strcmp(section, CTC_PENDING)) {
		s = ctc_pending(c, true);
	} else if (section) {
		char text[256];
		snprintf(text, sizeof(text), "[%s]\n", section);
		ctc_free(c);
		c = parse_ok(text, true, NULL);
		s = ctc_snapshot(c, section);
	}
	err[0] = '\0';
	int r = ctc_set(s, key, value, err, sizeof(err));
	if (r != -EINVAL)
		TEST_FAIL("ctc_set(%s, \"%s\") returned %d (value \"%s\"), expected -EINVAL", key,
		          value, r, ctc_get(s, key) ? ctc_get(s, key) : "(null)");
	snprintf(want, sizeof(want), "key '%s'", key);
	ASSERT_CONTAINS(err, want);
	ASSERT(ctc_get(s, key) == NULL);
	ctc_free(c);
	return err;
}

static const char *set_bad(const char *key, const char *value)
{
	return set_bad_in(NULL, key, value);
}

/* ---- key types ---- */

static void t_bool_spellings(void)
{
	static const char *const yes[] = { "1", "on", "yes", "true", "ON", "Yes", "TRUE", "tRuE" };
	static const char *const no[] = {
		"0", "off", "no", "false", "OFF", "No", "FALSE", "fAlSe"
	};
	static const char *const keys[] = { "onboot",       "protection", "template",
		                            "unprivileged", "console",    "debug" };
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			ASSERT_STR_EQ(set(keys[k], yes[i]), "1");
			ASSERT_STR_EQ(set(keys[k], no[i]), "0");
		}
		ASSERT_CONTAINS(set_bad(keys[k], "2"), "not a boolean");
		set_bad(keys[k], "y");
		set_bad(keys[k], "enabled");
		set_bad(keys[k], " 1");
		set_bad(keys[k], "");
	}
	ASSERT_EQ(cts_parse_bool("On"), 1);
	ASSERT_EQ(cts_parse_bool("nO"), 0);
	ASSERT_EQ(cts_parse_bool("01"), -1);
	/* inside a property string too */
	ASSERT_STR_EQ(set("features", "nesting=TRUE,keyctl=on"), "keyctl=1,nesting=1");
	ASSERT_CONTAINS(set_bad("features", "nesting=2"), "property 'nesting'");
}

static void t_int_ranges(void)
{
	/* memory >= 16 */
	ASSERT_STR_EQ(set("memory", "16"), "16");
	ASSERT_STR_EQ(set("memory", "512"), "512");
	ASSERT_STR_EQ(set("memory", "0512"), "512");
	ASSERT_STR_EQ(set("memory", "1048576"), "1048576");
	ASSERT_CONTAINS(set_bad("memory", "15"), "out of range");
	ASSERT_CONTAINS(set_bad("memory", "15"), "at least 16");
	set_bad("memory", "0");
	set_bad("memory", "-512");
	ASSERT_CONTAINS(set_bad("memory", "512M"), "not an integer");
	set_bad("memory", "1.5");
	set_bad("memory", "0x200");
	set_bad("memory", "1e3");
	set_bad("memory", "");
	set_bad("memory", "abc");
	/* swap >= 0 */
	ASSERT_STR_EQ(set("swap", "0"), "0");
	ASSERT_STR_EQ(set("swap", "000"), "0");
	ASSERT_STR_EQ(set("swap", "2048"), "2048");
	set_bad("swap", "-1");
	/* cores 1..8192 */
	ASSERT_STR_EQ(set("cores", "1"), "1");
	ASSERT_STR_EQ(set("cores", "8192"), "8192");
	ASSERT_STR_EQ(set("cores", "08"), "8");
	ASSERT_CONTAINS(set_bad("cores", "0"), "1..8192");
	set_bad("cores", "8193");
	/* cpuunits 0..500000 */
	ASSERT_STR_EQ(set("cpuunits", "0"), "0");
	ASSERT_STR_EQ(set("cpuunits", "500000"), "500000");
	ASSERT_STR_EQ(set("cpuunits", "1024"), "1024");
	ASSERT_CONTAINS(set_bad("cpuunits", "500001"), "0..500000");
	/* tty 0..6 */
	ASSERT_STR_EQ(set("tty", "0"), "0");
	ASSERT_STR_EQ(set("tty", "6"), "6");
	ASSERT_STR_EQ(set("tty", "02"), "2");
	ASSERT_CONTAINS(set_bad("tty", "7"), "0..6");
	/* snaptime: an epoch, in snapshots */
	ASSERT_STR_EQ(set_in("snap1", "snaptime", "1700000000"), "1700000000");
	set_bad_in("snap1", "snaptime", "-1");
}

static void t_num_cpulimit(void)
{
	ASSERT_STR_EQ(set("cpulimit", "0"), "0");
	ASSERT_STR_EQ(set("cpulimit", "8192"), "8192");
	ASSERT_STR_EQ(set("cpulimit", "1.5"), "1.5");
	ASSERT_STR_EQ(set("cpulimit", "0.25"), "0.25");
	ASSERT_STR_EQ(set("cpulimit", "8191.99"), "8191.99");
	ASSERT_CONTAINS(set_bad("cpulimit", "8192.01"), "0..8192");
	set_bad("cpulimit", "8193");
	set_bad("cpulimit", "-0.5");
	ASSERT_CONTAINS(set_bad("cpulimit", ".5"), "not a number");
	/* the reference's number syntax: digits[.digits], no sign */
	ASSERT_CONTAINS(set_bad("cpulimit", "+1.5"), "not a number");
	ASSERT_CONTAINS(set_bad("cpulimit", "1."), "not a number");
	ASSERT_CONTAINS(set_bad("cpulimit", "1.2.3"), "not a number");
	ASSERT_CONTAINS(set_bad("memory", "+512"), "not an integer");
	ASSERT_CONTAINS(set_bad("memory", "512.0"), "not an integer");
	/* a zero size in the largest unit, as the reference's format_size */
	ASSERT_STR_EQ(set("rootfs", "local:a,size=0"), "local:a,size=0T");
	set_bad("cpulimit", "1,5");
	set_bad("cpulimit", "1e2");
	set_bad("cpulimit", "inf");
	set_bad("cpulimit", "nan");
	set_bad("cpulimit", "1.2.3");
}

static void t_enums(void)
{
	static const char *const arch[] = {
		"amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"
	};
	static const char *const cmode[] = { "shell", "console", "tty" };
	static const char *const lock[] = { "backup",   "create",         "destroyed", "disk",
		                            "fstrim",   "migrate",        "mounted",   "rollback",
		                            "snapshot", "snapshot-delete" };
	static const char *const ostype[] = { "debian", "devuan",   "ubuntu",    "centos",
		                              "fedora", "opensuse", "archlinux", "alpine",
		                              "gentoo", "nixos",    "unmanaged" };
	for (size_t i = 0; i < sizeof(arch) / sizeof(arch[0]); i++)
		ASSERT_STR_EQ(set("arch", arch[i]), arch[i]);
	for (size_t i = 0; i < sizeof(cmode) / sizeof(cmode[0]); i++)
		ASSERT_STR_EQ(set("cmode", cmode[i]), cmode[i]);
	for (size_t i = 0; i < sizeof(lock) / sizeof(lock[0]); i++)
		ASSERT_STR_EQ(set("lock", lock[i]), lock[i]);
	for (size_t i = 0; i < sizeof(ostype) / sizeof(ostype[0]); i++)
		ASSERT_STR_EQ(set("ostype", ostype[i]), ostype[i]);
	/* the message lists the allowed values */
	const char *e = set_bad("arch", "x86_64");
	ASSERT_CONTAINS(e, "'x86_64' is not one of");
	ASSERT_CONTAINS(e, "amd64");
	ASSERT_CONTAINS(e, "riscv64");
	set_bad("arch", "AMD64"); /* enums are case sensitive */
	set_bad("cmode", "serial");
	set_bad("lock", "suspended");
	set_bad("lock", "");
	ASSERT_CONTAINS(set_bad("ostype", "futureos"), "unmanaged");
	set_bad("ostype", "Debian");
	/* snapstate in snapshots */
	ASSERT_STR_EQ(set_in("snap1", "snapstate", "prepare"), "prepare");
	ASSERT_STR_EQ(set_in("snap1", "snapstate", "delete"), "delete");
	set_bad_in("snap1", "snapstate", "done");
}

static void t_strings(void)
{
	/* hostname: a DNS name */
	ASSERT_STR_EQ(set("hostname", "ct100"), "ct100");
	ASSERT_STR_EQ(set("hostname", "web-01.example.com"), "web-01.example.com");
	ASSERT_STR_EQ(set("hostname", "A1"), "A1");
	ASSERT_CONTAINS(set_bad("hostname", "-web"), "DNS name");
	set_bad("hostname", "web-");
	set_bad("hostname", "web_01");
	set_bad("hostname", "a..b");
	set_bad("hostname", ".a");
	set_bad("hostname", "a.");
	set_bad("hostname", "a b");
	set_bad("hostname", "");
	char lab[80];
	memset(lab, 'a', 63);
	lab[63] = '\0';
	ASSERT_STR_EQ(set("hostname", lab), lab);
	memset(lab, 'a', 64);
	lab[64] = '\0';
	ASSERT_CONTAINS(set_bad("hostname", lab), "63");
	/* searchdomain: DNS names */
	ASSERT_STR_EQ(set("searchdomain", "example.com"), "example.com");
	ASSERT_STR_EQ(set("searchdomain", "a.example.com b.example.com"),
	              "a.example.com b.example.com");
	set_bad("searchdomain", "exa mple_.com");
	set_bad("searchdomain", "");
	/* nameserver: IP addresses */
	ASSERT_STR_EQ(set("nameserver", "192.168.1.1"), "192.168.1.1");
	ASSERT_STR_EQ(set("nameserver", "1.1.1.1 2606:4700:4700::1111"),
	              "1.1.1.1 2606:4700:4700::1111");
	ASSERT_STR_EQ(set("nameserver", "8.8.8.8;8.8.4.4"), "8.8.8.8;8.8.4.4");
	ASSERT_CONTAINS(set_bad("nameserver", "dns.example.com"), "IP addresses");
	set_bad("nameserver", "1.1.1.256");
	set_bad("nameserver", "1.1.1.1/24");
	set_bad("nameserver", " ");
	/* tags */
	ASSERT_STR_EQ(set("tags", "prod"), "prod");
	ASSERT_STR_EQ(set("tags", "prod;web;db-1;v1.2;a+b;_x"), "prod;web;db-1;v1.2;a+b;_x");
	ASSERT_CONTAINS(set_bad("tags", "prod;-web"), "tag list");
	set_bad("tags", "a/b");
	set_bad("tags", "caf\xc3\xa9");
	/* timezone: "host" or a zone the host knows */
	ASSERT_STR_EQ(set("timezone", "host"), "host");
	ASSERT_STR_EQ(set("timezone", "Europe/Vienna"), "Europe/Vienna");
	ASSERT_STR_EQ(set("timezone", "UTC"), "UTC");
	ASSERT_CONTAINS(set_bad("timezone", "../etc/passwd"), "time zone");
	set_bad("timezone", "/etc/localtime");
	set_bad("timezone", "Europe/../../etc/passwd");
	set_bad("timezone", "Europe/Vienna Time");
	set_bad("timezone", "");
	struct stat st;
	if (stat("/usr/share/zoneinfo", &st) == 0) {
		ASSERT_CONTAINS(set_bad("timezone", "Nowhere/Foo"), "not a known time zone");
		set_bad("timezone", "Europe"); /* a directory */
	}
	/* hookscript, vmstate: volumes */
	ASSERT_STR_EQ(set("hookscript", "local:snippets/hook.pl"), "local:snippets/hook.pl");
	set_bad("hookscript", "hook.pl");
	set_bad("hookscript", "local:../hook.pl");
	ASSERT_STR_EQ(set_in("snap1", "vmstate", "local:100/state.raw"), "local:100/state.raw");
	/* parent: a snapshot name */
	ASSERT_STR_EQ(set("parent", "before-upgrade"), "before-upgrade");
	ASSERT_CONTAINS(set_bad("parent", "1st"), "snapshot name");
	set_bad("parent", "a");
	set_bad("parent", "snap.1");
	/* free text: no control characters */
	ASSERT_STR_EQ(set("entrypoint", "/sbin/init --verbose"), "/sbin/init --verbose");
	ASSERT_STR_EQ(set("env", "A=1\tB=2"), "A=1\tB=2");
	ASSERT_CONTAINS(set_bad("env", "A=1\rB=2"), "control character");
	/* no value may contain a newline */
	ASSERT_CONTAINS(set_bad("hostname", "a\nb"), "newline");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,bridge=vmbr0\nmemory: 1"), "newline");
}

/* ---- property strings ---- */

static void t_prop_net(void)
{
	ASSERT_STR_EQ(set("net0", "name=eth0"), "name=eth0");
	ASSERT_STR_EQ(set("net0", "name=eth0,bridge=vmbr0,ip=dhcp"),
	              "name=eth0,bridge=vmbr0,ip=dhcp");
	/* name is required */
	ASSERT_CONTAINS(set_bad("net0", "bridge=vmbr0,ip=dhcp"), "property 'name' is missing");
	set_bad("net0", "name=");
	set_bad("net0", "name=eth0eth0eth0eth0"); /* over 15 */
	set_bad("net0", "name=eth/0");
	/* MAC: unicast only, exact form */
	ASSERT_STR_EQ(set("net0", "name=eth0,hwaddr=BC:24:11:2A:5F:01"),
	              "name=eth0,hwaddr=BC:24:11:2A:5F:01");
	ASSERT_STR_EQ(set("net0", "name=eth0,hwaddr=02:00:00:aa:bb:cc"),
	              "name=eth0,hwaddr=02:00:00:aa:bb:cc");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,hwaddr=01:00:5E:00:00:01"), "multicast");
	set_bad("net0", "name=eth0,hwaddr=FF:FF:FF:FF:FF:FF");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,hwaddr=BC:24:11:2A:5F"), "not a MAC");
	set_bad("net0", "name=eth0,hwaddr=BC:24:11:2A:5F:011");
	set_bad("net0", "name=eth0,hwaddr=BC-24-11-2A-5F-01");
	set_bad("net0", "name=eth0,hwaddr=BC:24:11:2A:5F:0G");
	set_bad("net0", "name=eth0,hwaddr= C:24:11:2A:5F:01");
	set_bad("net0", "name=eth0,hwaddr=BC:24:11:2A:5F:+1");
	/* ip: dhcp, manual or IPv4 CIDR */
	set("net0", "name=eth0,ip=manual");
	ASSERT_STR_EQ(set("net0", "name=eth0,ip=192.168.15.147/24"),
	              "name=eth0,ip=192.168.15.147/24");
	set("net0", "name=eth0,ip=10.0.0.1/32");
	set("net0", "name=eth0,ip=10.0.0.1/0");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,ip=10.0.0.1/33"), "property 'ip'");
	set_bad("net0", "name=eth0,ip=10.0.0.1");
	set_bad("net0", "name=eth0,ip=10.0.0.1/");
	set_bad("net0", "name=eth0,ip=10.0.0.1/-1");
	set_bad("net0", "name=eth0,ip=10.0.0.1/24x");
	set_bad("net0", "name=eth0,ip=10.0.0.256/24");
	set_bad("net0", "name=eth0,ip=fd00::1/64");
	set_bad("net0", "name=eth0,ip=auto");
	set_bad("net0", "name=eth0,ip=DHCP");
	/* ip6: auto, dhcp, manual or IPv6 CIDR */
	set("net0", "name=eth0,ip6=auto");
	set("net0", "name=eth0,ip6=dhcp");
	set("net0", "name=eth0,ip6=manual");
	ASSERT_STR_EQ(set("net0", "name=eth0,ip6=fd00::10/64"), "name=eth0,ip6=fd00::10/64");
	set("net0", "name=eth0,ip6=2001:db8::1/128");
	set_bad("net0", "name=eth0,ip6=fd00::10/129");
	set_bad("net0", "name=eth0,ip6=10.0.0.1/24");
	/* gateways */
	set("net0", "name=eth0,gw=192.168.15.1,ip=192.168.15.147/24");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,gw=192.168.15.1/24"), "property 'gw'");
	set_bad("net0", "name=eth0,gw=fd00::1");
	set("net0", "name=eth0,gw6=fd00::1");
	set_bad("net0", "name=eth0,gw6=192.168.15.1");
	/* mtu 64..65535 */
	set("net0", "name=eth0,mtu=64");
	set("net0", "name=eth0,mtu=65535");
	ASSERT_STR_EQ(set("net0", "name=eth0,mtu=01500"), "name=eth0,mtu=1500");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,mtu=63"), "property 'mtu'");
	set_bad("net0", "name=eth0,mtu=65536");
	/* tag 1..4094 */
	set("net0", "name=eth0,tag=1");
	set("net0", "name=eth0,tag=4094");
	set_bad("net0", "name=eth0,tag=0");
	set_bad("net0", "name=eth0,tag=4095");
	/* trunks: VLAN ids separated by ';' */
	ASSERT_STR_EQ(set("net0", "name=eth0,trunks=1;2;3"), "name=eth0,trunks=1;2;3");
	set("net0", "name=eth0,trunks=4094");
	ASSERT_CONTAINS(set_bad("net0", "name=eth0,trunks=1;;3"), "property 'trunks'");
	set_bad("net0", "name=eth0,trunks=1;2;");
	set_bad("net0", "name=eth0,trunks=;1");
	set_bad("net0", "name=eth0,trunks=0");
	set_bad("net0", "name=eth0,trunks=4095");
	set_bad("net0", "name=eth0,trunks=1 2");
	set_bad("net0", "name=eth0,trunks=a");
	/* rate, firewall, link_down, type */
	set("net0", "name=eth0,rate=12.5");
	set_bad("net0", "name=eth0,rate=-1");
	ASSERT_STR_EQ(set("net0", "name=eth0,firewall=yes"), "name=eth0,firewall=1");
	ASSERT_STR_EQ(set("net0", "name=eth0,firewall=OFF"), "name=eth0,firewall=0");
	set_bad("net0", "name=eth0,firewall=maybe");
	ASSERT_STR_EQ(set("net0", "name=eth0,link_down=true"), "name=eth0,link_down=1");
	set("net0", "name=eth0,type=veth");
	set_bad("net0", "name=eth0,type=macvlan");
	/* no default key: a bare value has no key */
	ASSERT_CONTAINS(set_bad("net0", "eth0,bridge=vmbr0"), "'eth0' has no key");
}

static void t_prop_mount(void)
{
	/* rootfs: the volume is the default key, bare anywhere */
	ASSERT_STR_EQ(set("rootfs", "local:100/vm-100-disk-0.raw,size=8G"),
	              "local:100/vm-100-disk-0.raw,size=8G");
	ASSERT_STR_EQ(set("rootfs", "size=8G,local-lvm:vm-100-disk-0"),
	              "local-lvm:vm-100-disk-0,size=8G");
	ASSERT_STR_EQ(set("rootfs", "volume=local-lvm:vm-100-disk-0,size=8G"),
	              "local-lvm:vm-100-disk-0,size=8G");
	ASSERT_CONTAINS(set_bad("rootfs", "size=8G"), "property 'volume' is missing");
	ASSERT_CONTAINS(set_bad("rootfs", "local:a.raw,volume=local:b.raw"), "given twice");
	set_bad("rootfs", "local:100/../../etc/shadow");
	set_bad("rootfs", "lo cal:a.raw");
	set_bad("rootfs", ":a.raw");
	set_bad("rootfs", "local:");
	set_bad("rootfs", "local");
	set_bad("rootfs", "local:100/a.raw,mp=/srv"); /* mp only for mpN */
	set_bad("rootfs", "local:100/a.raw,backup=1");
	/* size: the largest exact unit */
	ASSERT_STR_EQ(set("rootfs", "local:a,size=4096M"), "local:a,size=4G");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=1.5G"), "local:a,size=1536M");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=1024"), "local:a,size=1K");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=1000"), "local:a,size=1000");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=1048576K"), "local:a,size=1G");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=2048G"), "local:a,size=2T");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=0.5K"), "local:a,size=512");
	ASSERT_STR_EQ(set("rootfs", "local:a,size=08G"), "local:a,size=8G");
	ASSERT_CONTAINS(set_bad("rootfs", "local:a,size=8GB"), "property 'size'");
	set_bad("rootfs", "local:a,size=8g");
	set_bad("rootfs", "local:a,size=-8G");
	set_bad("rootfs", "local:a,size=1e3");
	set_bad("rootfs", "local:a,size=1.G");
	set_bad("rootfs", "local:a,size=.5G");
	set_bad("rootfs", "local:a,size=G");
	set_bad("rootfs", "local:a,size=");
	ASSERT_EQ(cts_parse_size("8G"), 8LL << 30);
	ASSERT_EQ(cts_parse_size("1.5K"), 1536);
	ASSERT_EQ(cts_parse_size("0x10"), -1);
	ASSERT_EQ(cts_parse_size("99999999T"), -1); /* over 2^63 */
	char buf[32];
	cts_format_size(3LL << 40, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "3T");
	cts_format_size(1536, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "1536");
	cts_format_size(1536 * 1024, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "1536K");
	/* mountoptions, booleans */
	ASSERT_STR_EQ(set("rootfs", "local:a,mountoptions=noatime;nodev;nosuid"),
	              "local:a,mountoptions=noatime;nodev;nosuid");
	set("rootfs", "local:a,mountoptions=lazytime;noexec;discard");
	ASSERT_CONTAINS(set_bad("rootfs", "local:a,mountoptions=rw"), "property 'mountoptions'");
	set_bad("rootfs", "local:a,mountoptions=noatime;;nodev");
	set_bad("rootfs", "local:a,mountoptions=noatime;");
	set_bad("rootfs", "local:a,mountoptions=;noatime");
	set_bad("rootfs", "local:a,mountoptions=");
	set_bad("rootfs", "local:a,mountoptions=noatime nodev");
	ASSERT_STR_EQ(set("rootfs", "local:a,quota=yes,acl=off,shared=on,replicate=no"),
	              "local:a,acl=0,quota=1,replicate=0,shared=1");

	/* mpN: volume and mp (required) */
	ASSERT_STR_EQ(set("mp0", "local:100/a.raw,mp=/srv"), "local:100/a.raw,mp=/srv");
	ASSERT_STR_EQ(set("mp0", "mp=/srv,local:100/a.raw"), "local:100/a.raw,mp=/srv");
	ASSERT_STR_EQ(set("mp0", "size=4096M,mp=/srv,local:100/a.raw,ro=on"),
	              "local:100/a.raw,mp=/srv,ro=1,size=4G");
	ASSERT_STR_EQ(set("mp1", "/srv/data,mp=/mnt/data,backup=no"),
	              "/srv/data,mp=/mnt/data,backup=0");
	ASSERT_STR_EQ(set("mp255", "mp=/a,volume=local:b,backup=1,replicate=0"),
	              "local:b,mp=/a,backup=1,replicate=0");
	ASSERT_CONTAINS(set_bad("mp0", "local:100/a.raw"), "property 'mp' is missing");
	ASSERT_CONTAINS(set_bad("mp0", "mp=/srv"), "property 'volume' is missing");
	ASSERT_CONTAINS(set_bad("mp0", "local:100/a.raw,mp=/srv/../etc"), "'..'");
	set_bad("mp0", "local:100/a.raw,mp=/..");
	set_bad("mp0", "local:100/a.raw,mp=srv");
	set_bad("mp0", "local:100/a.raw,mp=");
	set_bad("mp0", "/srv/../etc,mp=/srv"); /* a bind mount source with '..' */
	set_bad("mp0", "local:100/a.raw,mp=/srv,backup=2");
	/* '..' as a part of a name is fine */
	set("mp0", "/srv/..data,mp=/srv/a..b");
	/* unusedN: a volume */
	ASSERT_STR_EQ(set("unused0", "local:100/vm-100-disk-1.raw"), "local:100/vm-100-disk-1.raw");
	ASSERT_STR_EQ(set("unused0", "volume=local:100/vm-100-disk-1.raw"),
	              "local:100/vm-100-disk-1.raw");
	set_bad("unused0", "local:a,size=4G");
}

static void t_prop_dev_features_startup(void)
{
	/* devN: path (default key) under /dev/, mode octal */
	ASSERT_STR_EQ(set("dev0", "/dev/ttyUSB0"), "/dev/ttyUSB0");
	ASSERT_STR_EQ(set("dev0", "mode=0660,path=/dev/ttyUSB0,gid=20"),
	              "/dev/ttyUSB0,gid=20,mode=0660");
	ASSERT_STR_EQ(set("dev1", "/dev/dri/renderD128,uid=0,deny-write=yes"),
	              "/dev/dri/renderD128,deny-write=1,uid=0");
	set("dev0", "/dev/null,mode=660");
	set("dev0", "/dev/null,mode=7777");
	ASSERT_CONTAINS(set_bad("dev0", "/dev/null,mode=0668"), "octal");
	set_bad("dev0", "/dev/null,mode=66");
	set_bad("dev0", "/dev/null,mode=06600");
	set_bad("dev0", "/dev/null,mode=rw");
	ASSERT_CONTAINS(set_bad("dev0", "/etc/passwd"), "under /dev/");
	set_bad("dev0", "/dev/");
	set_bad("dev0", "/dev/../etc/shadow");
	set_bad("dev0", "/dev/null,uid=-1");
	set_bad("dev0", "/dev/null,gid=4294967296");
	set("dev0", "/dev/null,gid=4294967295");
	/* features: no default key */
	ASSERT_STR_EQ(set("features", "nesting=1,keyctl=1"), "keyctl=1,nesting=1");
	ASSERT_STR_EQ(set("features", "mount=nfs;cifs,fuse=1,mknod=0,force_rw_sys=1"),
	              "force_rw_sys=1,fuse=1,mknod=0,mount=nfs;cifs");
	set_bad("features", "nesting");
	set_bad("features", "mount=nfs/4");
	set_bad("features", "mount=nfs;");
	set_bad("features", "mount=");
	ASSERT_CONTAINS(set_bad("features", "nesting=1,bpf=1"), "unknown property 'bpf'");
	/* startup: a string to the reference, checked as [order=]N,up=N,down=N, kept as given */
	ASSERT_STR_EQ(set("startup", "1"), "1");
	ASSERT_STR_EQ(set("startup", "2,up=30,down=60"), "2,up=30,down=60");
	ASSERT_STR_EQ(set("startup", "up=30"), "up=30");
	ASSERT_STR_EQ(set("startup", "order=1,up=30"), "order=1,up=30");
	set_bad("startup", "first");
	set_bad("startup", "1,2");
	set_bad("startup", "order=-1");
	set_bad("startup", "up=x");
}

static void t_prop_errors(void)
{
	const char *e;
	e = set_bad("net0", "name=eth0,colour=red");
	ASSERT_CONTAINS(e, "unknown property 'colour'");
	e = set_bad("net0", "name=eth0,bridge=vmbr0,name=eth1");
	ASSERT_CONTAINS(e, "property 'name' given twice");
	e = set_bad("net0", "name=eth0,,bridge=vmbr0");
	ASSERT_CONTAINS(e, "empty part");
	e = set_bad("net0", ",name=eth0");
	ASSERT_CONTAINS(e, "empty part");
	e = set_bad("net0", "name=eth0,");
	ASSERT_CONTAINS(e, "trailing ','");
	e = set_bad("net0", "name=eth0,firewall");
	ASSERT_CONTAINS(e, "'firewall' has no key");
	e = set_bad("net0", "");
	ASSERT_CONTAINS(e, "empty property string");
	e = set_bad("net0", "=eth0");
	ASSERT_CONTAINS(e, "unknown property ''");
	/* for a type with a default key a bare second value is the default key twice */
	e = set_bad("mp0", "local:a,mp=/srv,ro");
	ASSERT_CONTAINS(e, "property 'volume' given twice");
	e = set_bad("rootfs", "local:a,size=8G,size=4G");
	ASSERT_CONTAINS(e, "property 'size' given twice");
	/* too many parts */
	char many[2048];
	size_t off = (size_t)snprintf(many, sizeof(many), "name=eth0");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, ",bridge=vmbr%d", i);
	set_bad("net0", many);
}

static void t_prop_canonical(void)
{
	ASSERT_STR_EQ(set("net1", "bridge=vmbr1,type=veth,name=eth1,ip=dhcp,firewall=yes"),
	              "name=eth1,bridge=vmbr1,firewall=1,ip=dhcp,type=veth");
	ASSERT_STR_EQ(set("mp0", "size=4096M,mp=/srv,local:100/a.raw,ro=on"),
	              "local:100/a.raw,mp=/srv,ro=1,size=4G");
	ASSERT_STR_EQ(set("net0",
	                  "type=veth,ip=192.168.15.147/24,hwaddr=BC:24:11:2A:5F:01,"
	                  "gw=192.168.15.1,bridge=vmbr0,name=eth0"),
	              "name=eth0,bridge=vmbr0,gw=192.168.15.1,hwaddr=BC:24:11:2A:5F:01,"
	              "ip=192.168.15.147/24,type=veth");
	/* canonical text is a fixed point */
	const char *canon = "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.15.1,"
	                    "hwaddr=BC:24:11:2A:5F:01,ip=192.168.15.147/24,ip6=auto,mtu=1500,"
	                    "rate=10,tag=5,trunks=1;2;3,type=veth";
	ASSERT_STR_EQ(set("net0", canon), canon);
	/* the schema's own check gives the same canonical text */
	const struct cts_key *k = cts_lookup("mp3", NULL);
	char *out = NULL, err[256];
	ASSERT(k != NULL);
	ASSERT_EQ(cts_check(k, "ro=1,mp=/x,local:a", &out, err, sizeof(err)), 0);
	ASSERT_STR_EQ(out, "local:a,mp=/x,ro=1");
	free(out);
	ASSERT_EQ(cts_check(k, "ro=1,mp=/x,local:a", NULL, err, sizeof(err)), 0);
	ASSERT_EQ(cts_check(k, "ro=1", &out, err, sizeof(err)), -EINVAL);
	ASSERT(out == NULL);
}

/* ---- keys ---- */

static void t_indexed_keys(void)
{
	char key[16];
	for (int i = 0; i < 32; i++) {
		snprintf(key, sizeof(key), "net%d", i);
		ASSERT(cts_lookup(key, NULL) != NULL);
	}
	ASSERT(cts_lookup("net32", NULL) == NULL);
	ASSERT(cts_lookup("net01", NULL) == NULL);
	ASSERT(cts_lookup("net00", NULL) == NULL);
	ASSERT(cts_lookup("net", NULL) == NULL);
	ASSERT(cts_lookup("net1000", NULL) == NULL);
	ASSERT(cts_lookup("net4294967296", NULL) == NULL);
	ASSERT(cts_lookup("mp0", NULL) != NULL);
	ASSERT(cts_lookup("mp255", NULL) != NULL);
	ASSERT(cts_lookup("mp256", NULL) == NULL);
	ASSERT(cts_lookup("dev255", NULL) != NULL);
	ASSERT(cts_lookup("dev256", NULL) == NULL);
	ASSERT(cts_lookup("unused255", NULL) != NULL);
	ASSERT(cts_lookup("unused256", NULL) == NULL);
	/* plain keys take no index */
	ASSERT(cts_lookup("memory", NULL) != NULL);
	ASSERT(cts_lookup("memory0", NULL) == NULL);
	ASSERT(cts_lookup("rootfs0", NULL) == NULL);
	ASSERT(cts_lookup("", NULL) == NULL);
	ASSERT(cts_lookup("0", NULL) == NULL);
	ASSERT(cts_lookup("Memory", NULL) == NULL);
	ASSERT(cts_lookup("memoryx", NULL) == NULL);
	/* via ctc_set and the parser */
	set("net31", "name=eth31");
	ASSERT_CONTAINS(set_bad("net32", "name=eth32"), "unknown");
	set_bad("net01", "name=eth1");
	set("mp255", "local:a,mp=/a");
	set_bad("mp256", "local:a,mp=/a");
	strict_err_lenient_warn("net32: name=eth0\n", FILE_NAME " line 1", "key 'net32': unknown");
	strict_err_lenient_warn("arch: amd64\nnet01: name=eth0\n", FILE_NAME " line 2",
	                        "key 'net01'");
	strict_err_lenient_warn("mp256: local:a,mp=/a\n", "line 1", "key 'mp256'");
}

static void t_key_sections(void)
{
	/* lock: only in the current config */
	ASSERT(cts_lookup("lock", NULL) != NULL);
	ASSERT(cts_lookup("lock", CTC_PENDING) == NULL);
	ASSERT(cts_lookup("lock", "snap1") == NULL);
	ASSERT_CONTAINS(set_bad_in("snap1", "lock", "backup"), "unknown in this section");
	set_bad_in(CTC_PENDING, "lock", "backup");
	/* snaptime, snapstate, vmstate: only in snapshots */
	static const char *const snaponly[] = { "snaptime", "snapstate", "vmstate" };
	for (size_t i = 0; i < 3; i++) {
		ASSERT(cts_lookup(snaponly[i], "snap1") != NULL);
		ASSERT(cts_lookup(snaponly[i], NULL) == NULL);
		ASSERT(cts_lookup(snaponly[i], CTC_PENDING) == NULL);
	}
	set_bad("snaptime", "1700000000");
	set_bad_in(CTC_PENDING, "snapstate", "prepare");
	/* delete: only in pending */
	ASSERT(cts_lookup("delete", CTC_PENDING) != NULL);
	ASSERT(cts_lookup("delete", NULL) == NULL);
	ASSERT(cts_lookup("delete", "snap1") == NULL);
	ASSERT_STR_EQ(set_in(CTC_PENDING, "delete", "swap,cpulimit"), "swap,cpulimit");
	set_bad("delete", "swap");
	set_bad_in("snap1", "delete", "swap");
	/* parent: current config and snapshots */
	ASSERT(cts_lookup("parent", "snap1") != NULL);
	ASSERT(cts_lookup("parent", CTC_PENDING) == NULL);
	/* ordinary keys everywhere */
	ASSERT(cts_lookup("memory", CTC_PENDING) != NULL);
	ASSERT(cts_lookup("memory", "snap1") != NULL);
	/* the parser agrees, with line and key */
	strict_err_lenient_warn("memory: 512\n\n[snap1]\nlock: backup\n", FILE_NAME " line 4",
	                        "key 'lock': unknown in this section");
	strict_err_lenient_warn("memory: 512\n\n[pve:pending]\nlock: backup\n", "line 4",
	                        "key 'lock'");
	strict_err_lenient_warn("memory: 512\nsnaptime: 1700000000\n", "line 2", "key 'snaptime'");
	strict_err_lenient_warn("snapstate: prepare\n", "line 1", "key 'snapstate'");
	strict_err_lenient_warn("arch: amd64\nvmstate: local:a\n", "line 2", "key 'vmstate'");
	strict_err_lenient_warn("delete: swap\n", "line 1", "key 'delete'");
	strict_err_lenient_warn("arch: amd64\n\n[snap1]\ndelete: swap\n", "line 4", "key 'delete'");
	/* and accepts them where they belong */
	struct ctc_conf *c = parse_ok("lock: backup\n\n[pve:pending]\ndelete: swap\n\n[snap1]\n"
	                              "snapstate: prepare\nsnaptime: 1\nvmstate: local:a\n",
	                              true, NULL);
	ASSERT_STR_EQ(ctc_get(&c->main, "lock"), "backup");
	ASSERT_STR_EQ(ctc_get(c->pending, "delete"), "swap");
	ASSERT_STR_EQ(ctc_get(ctc_snapshot(c, "snap1"), "snapstate"), "prepare");
	ctc_free(c);
}

static void t_unknown_key_set(void)
{
	const char *e = set_bad("colour", "red");
	ASSERT_CONTAINS(e, "unknown");
	set_bad("lxc.apparmor.profile", "unconfined"); /* raw lxc keys are not schema keys */
	set_bad("digest", "abc");
}

/* ---- the parser ---- */

static void t_parse_bad_line(void)
{
	char err[1024];
	static const char *const bad[] = {
		"arch: amd64\nmemory 512\n",  "arch: amd64\n  memory: 512\n",
		"arch: amd64\nMemory: 512\n", "arch: amd64\n: 512\n",
		"arch: amd64\n512\n",         "arch: amd64\nnet0x: name=eth0\n",
		"arch: amd64\nmem-ory: 1\n",  "arch: amd64\n1memory: 512\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_bad(bad[i], false, err, sizeof(err));
		ASSERT_CONTAINS(err, FILE_NAME " line 2");
		ASSERT_CONTAINS(err, "expected 'key: value'");
		parse_bad(bad[i], true, err, sizeof(err));
	}
	/* an lxc key without ':' or '=' */
	parse_bad("lxc.apparmor.profile unconfined\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, FILE_NAME " line 1");
	ASSERT_CONTAINS(err, "lxc.apparmor.profile");
	parse_bad("lxc.: x\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 1");
}

static void t_parse_empty_value(void)
{
	char err[1024];
	parse_bad("arch: amd64\nhostname: ct\nmemory:\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, FILE_NAME " line 3");
	ASSERT_CONTAINS(err, "key 'memory' has no value");
	parse_bad("arch: amd64\nmemory:   \t \n", true, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 2");
	ASSERT_CONTAINS(err, "key 'memory'");
	parse_bad("description:\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "key 'description'");
	/* a raw lxc key may be empty (lxc.cap.drop: clears the list) */
	struct ctc_conf *c = parse_ok("lxc.cap.drop:\n", true, NULL);
	ASSERT_EQ(c->main.nlxc, 1);
	ASSERT_STR_EQ(c->main.lxc[0].value, "");
	assert_print(c, "lxc.cap.drop: \n");
	ctc_free(c);
}

static void t_parse_dup_key(void)
{
	char err[1024];
	parse_bad("arch: amd64\nmemory: 512\nswap: 0\nmemory: 1024\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, FILE_NAME " line 4");
	ASSERT_CONTAINS(err, "key 'memory' given twice");
	ASSERT_CONTAINS(err, "first on line 2");
	/* an unknown key too, when lenient */
	parse_bad("colour: red\ncolour: blue\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 2");
	ASSERT_CONTAINS(err, "first on line 1");
	/* the same key in different sections is fine */
	struct ctc_conf *c = parse_ok("memory: 512\n\n[pve:pending]\nmemory: 1024\n\n[snap1]\n"
	                              "memory: 256\n",
	                              true, NULL);
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "512");
	ASSERT_STR_EQ(ctc_get(c->pending, "memory"), "1024");
	ASSERT_STR_EQ(ctc_get(ctc_snapshot(c, "snap1"), "memory"), "256");
	ctc_free(c);
	/* twice within a snapshot */
	parse_bad("memory: 512\n\n[snap1]\nmemory: 256\nmemory: 128\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 5");
	ASSERT_CONTAINS(err, "first on line 4");
	/* raw lxc keys may repeat */
	c = parse_ok("lxc.cgroup2.devices.allow: c 10:200 rwm\n"
	             "lxc.cgroup2.devices.allow: c 189:* rwm\n",
	             true, NULL);
	ASSERT_EQ(c->main.nlxc, 2);
	ctc_free(c);
}

static void t_parse_sections(void)
{
	char err[1024];
	parse_bad("memory: 512\n\n[snap1]\nmemory: 1\n\n[snap1]\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, FILE_NAME " line 6");
	ASSERT_CONTAINS(err, "[snap1] given twice");
	parse_bad("[pve:pending]\nmemory: 1024\n[pve:pending]\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 3");
	ASSERT_CONTAINS(err, "[pve:pending] given twice");
	static const char *const bad[] = { "[1snap]\n", "[s]\n",    "[snap.1]\n", "[snap 1]\n",
		                           "[]\n",      "[snap1\n", "[pve:x]\n",  "[[snap]]\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "memory: 512\n%s", bad[i]);
		parse_bad(text, false, err, sizeof(err));
		ASSERT_CONTAINS(err, FILE_NAME " line 2");
	}
	parse_bad("[1snap]\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "section [1snap]");
	/* a 40 character name is the longest */
	char text[128];
	snprintf(text, sizeof(text), "[a%039d]\n", 0);
	struct ctc_conf *c = parse_ok(text, true, NULL);
	ASSERT_EQ(c->nsnaps, 1);
	ctc_free(c);
	snprintf(text, sizeof(text), "[a%040d]\n", 0);
	parse_bad(text, false, err, sizeof(err));
}

static void t_parse_lxc_keys(void)
{
	char err[1024];
	struct ctc_diag warn = { 0 };
	struct ctc_conf *c;

	/* lxc.rootfs.path belongs to pct: refused even when lenient */
	parse_bad("arch: amd64\nlxc.rootfs.path: /tmp/x\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, FILE_NAME " line 2");
	ASSERT_CONTAINS(err, "lxc.rootfs.path");
	parse_bad("lxc.rootfs.path = /tmp/x\n", true, err, sizeof(err));
	ASSERT_CONTAINS(err, "lxc.rootfs.path");
	parse_bad("[snap1]\nlxc.rootfs.options: ro\n", false, err, sizeof(err));
	ASSERT_CONTAINS(err, "line 2");
	/* an unknown lxc key: a warning when lenient, an error when strict */
	strict_err_lenient_warn("arch: amd64\nlxc.frobnicate: 1\n", FILE_NAME " line 2",
	                        "lxc.frobnicate");
	/* a deprecated key: a warning naming the replacement (strict too) */
	c = parse_ok("arch: amd64\nlxc.aa_profile: unconfined\n", false, &warn);
	ASSERT_EQ(warn.n, 1);
	ASSERT_CONTAINS(warn.msgs[0], FILE_NAME " line 2");
	ASSERT_CONTAINS(warn.msgs[0], "'lxc.aa_profile' is deprecated");
	ASSERT_CONTAINS(warn.msgs[0], "lxc.apparmor.profile");
	ctc_free(c);
	ctc_diag_free(&warn);
	c = parse_ok("lxc.network.type: veth\n", true, &warn);
	ASSERT_EQ(warn.n, 1);
	ASSERT_CONTAINS(warn.msgs[0], "lxc.net.*");
	ctc_free(c);
	ctc_diag_free(&warn);
	/* known keys and prefixes */
	c = parse_ok("lxc.cgroup2.devices.allow: c 10:200 rwm\n"
	             "lxc.mount.entry: /dev/net dev/net none bind,create=dir\n"
	             "lxc.apparmor.profile: unconfined\n"
	             "lxc.sysctl.net.ipv4.ip_forward: 1\n"
	             "lxc.prlimit.nofile: 65536\n"
	             "lxc.idmap: u 0 100000 65536\n",
	             true, &warn);
	ASSERT_EQ(warn.n, 0);
	ASSERT_EQ(c->main.nlxc, 6);
	ctc_free(c);
	/* a key with '=' is written back with ':' */
	c = parse_ok("arch: amd64\nlxc.apparmor.profile = unconfined\n", true, &warn);
	ASSERT_EQ(warn.n, 0);
	ASSERT_STR_EQ(c->main.lxc[0].key, "lxc.apparmor.profile");
	ASSERT_STR_EQ(c->main.lxc[0].value, "unconfined");
	assert_print(c, "arch: amd64\nlxc.apparmor.profile: unconfined\n");
	ctc_free(c);
	c = parse_ok("lxc.apparmor.profile=unconfined\nlxc.tty.max:\t4\n", true, NULL);
	assert_print(c, "lxc.apparmor.profile: unconfined\nlxc.tty.max: 4\n");
	ctc_free(c);
	/* the value keeps its inner spaces and ':' */
	c = parse_ok("lxc.mount.entry:   /a b  c:d  \n", true, NULL);
	ASSERT_STR_EQ(c->main.lxc[0].value, "/a b  c:d");
	ctc_free(c);
	/* cts_lxc_key directly */
	const char *repl = "x";
	ASSERT_EQ(cts_lxc_key("lxc.apparmor.profile", &repl, err, sizeof(err)), 0);
	ASSERT(repl == NULL);
	ASSERT_EQ(cts_lxc_key("lxc.utsname", &repl, err, sizeof(err)), 1);
	ASSERT_STR_EQ(repl, "lxc.uts.name");
	ASSERT_EQ(cts_lxc_key("lxc.rootfs.path", &repl, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "set by pct");
	ASSERT_EQ(cts_lxc_key("lxc.foo", &repl, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "not a known LXC key");
}

static void t_parse_unknown_key(void)
{
	strict_err_lenient_warn("arch: amd64\nhostname: ct\nzone: red\n", FILE_NAME " line 3",
	                        "key 'zone': unknown");
	strict_err_lenient_warn("arch: amd64\n\n[snap1]\nfuture_key: 5\nsnaptime: 1\n", "line 4",
	                        "key 'future_key'");
}

static void t_parse_invalid_value(void)
{
	strict_err_lenient_warn("arch: amd64\nhostname: ct\nmemory: 8\n", FILE_NAME " line 3",
	                        "key 'memory'");
	strict_err_lenient_warn("ostype: futureos\n", "line 1", "key 'ostype'");
	strict_err_lenient_warn("arch: amd64\nnet0: name=eth0,colour=red\n", "line 2",
	                        "unknown property 'colour'");
	strict_err_lenient_warn("onboot: maybe\n", "line 1", "not a boolean");
	strict_err_lenient_warn("memory: 512\n\n[snap1]\nsnaptime: soon\n", "line 4",
	                        "key 'snaptime'");
	/* values are checked but not canonicalised when read */
	struct ctc_diag warn = { 0 };
	struct ctc_conf *c = parse_ok("memory: 0512\nonboot: yes\n", true, &warn);
	ASSERT_EQ(warn.n, 0);
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "0512");
	ASSERT_STR_EQ(ctc_get(&c->main, "onboot"), "yes");
	assert_print(c, "memory: 0512\nonboot: yes\n");
	ctc_free(c);
}

static void t_parse_nul_and_size(void)
{
	char err[1024] = "";
	struct ctc_conf *c = NULL;
	static const char text[] = "arch: amd64\nhost\0name: ct\n";
	ASSERT_EQ(ctc_parse(text, sizeof(text) - 1, FILE_NAME, false, &c, NULL, err, sizeof(err)),
	          -EINVAL);
	ASSERT(c == NULL);
	ASSERT_CONTAINS(err, FILE_NAME);
	ASSERT_CONTAINS(err, "NUL");

	/* over CTC_MAX_FILE: -EFBIG, even when every line is fine */
	size_t big = CTC_MAX_FILE + 1;
	char *buf = malloc(big + 1);
	ASSERT(buf != NULL);
	memset(buf, '\n', big);
	memcpy(buf, "#", 1);
	buf[big] = '\0';
	err[0] = '\0';
	ASSERT_EQ(ctc_parse(buf, big, FILE_NAME, false, &c, NULL, err, sizeof(err)), -EFBIG);
	ASSERT(c == NULL);
	ASSERT_CONTAINS(err, FILE_NAME);
	/* exactly CTC_MAX_FILE is fine */
	ASSERT_EQ(ctc_parse(buf, big - 1, FILE_NAME, true, &c, NULL, err, sizeof(err)), 0);
	ctc_free(c);
	c = NULL;

	/* ctc_load: the same limit from a file, ENOENT for a missing one */
	char path[] = "/tmp/test_ctconf.XXXXXX";
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, buf, big), (ssize_t)big);
	close(fd);
	ASSERT_EQ(ctc_load(path, false, &c, NULL, err, sizeof(err)), -EFBIG);
	ASSERT(c == NULL);
	ASSERT_EQ(truncate(path, 0), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT(fd >= 0);
	static const char small[] = "arch: amd64\nmemory: 512\n";
	ASSERT_EQ(write(fd, small, sizeof(small) - 1), (ssize_t)(sizeof(small) - 1));
	close(fd);
	ASSERT_EQ(ctc_load(path, true, &c, NULL, err, sizeof(err)), 0);
	ASSERT_STR_EQ(c->file, path);
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "512");
	char want[41];
	ctc_sha1_hex(small, sizeof(small) - 1, want);
	ASSERT_STR_EQ(c->digest, want);
	ctc_free(c);
	c = NULL;
	unlink(path);
	ASSERT_EQ(ctc_load(path, true, &c, NULL, err, sizeof(err)), -ENOENT);
	ASSERT(c == NULL);
	free(buf);
}

static void t_parse_whitespace(void)
{
	/* trailing spaces, tabs and "\r" are no part of the line */
	struct ctc_conf *c = parse_ok("arch: amd64  \r\nhostname:\tct100\t\r\nmemory:512\r\n"
	                              "\r\n   \n\t\n[snap1]   \r\nswap: 0 \n",
	                              true, NULL);
	ASSERT_STR_EQ(ctc_get(&c->main, "arch"), "amd64");
	ASSERT_STR_EQ(ctc_get(&c->main, "hostname"), "ct100");
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "512");
	ASSERT(ctc_snapshot(c, "snap1") != NULL);
	ASSERT_STR_EQ(ctc_get(ctc_snapshot(c, "snap1"), "swap"), "0");
	assert_print(c, "arch: amd64\nhostname: ct100\nmemory: 512\n\n[snap1]\nswap: 0\n");
	ctc_free(c);
	/* no newline at the end */
	c = parse_ok("memory: 512", true, NULL);
	assert_print(c, "memory: 512\n");
	ctc_free(c);
	/* an empty file is an empty config */
	c = parse_ok("", true, NULL);
	ASSERT_EQ(c->main.nkeys, 0);
	ASSERT(c->pending == NULL);
	assert_print(c, "");
	ctc_free(c);
}

/* ---- description ---- */

static void t_desc_decode(void)
{
	char *d = ctc_decode_text("a%3Ab%25c M%C3%BCnchen %3a");
	ASSERT_STR_EQ(d, "a:b%c M\xc3\xbcnchen :");
	free(d);
	/* anything that is no %XX is kept, %00 too (no NUL in a description) */
	d = ctc_decode_text("100% %zz %4 %%41 %00 %");
	ASSERT_STR_EQ(d, "100% %zz %4 %A %00 %");
	free(d);
	d = ctc_decode_text("");
	ASSERT_STR_EQ(d, "");
	free(d);

	struct ctc_conf *c = parse_ok("#Web server%3A production\n#load 100%25 M%C3%BCnchen\n"
	                              "arch: amd64\n",
	                              true, NULL);
	ASSERT_STR_EQ(c->main.description, "Web server: production\nload 100% M\xc3\xbcnchen");
	ASSERT_STR_EQ(ctc_get(&c->main, "description"), c->main.description);
	ctc_free(c);
}

static void t_desc_encode(void)
{
	char *e = ctc_encode_text("a:b%c d#e\t\x01\x1f\x7f\xc3\xbc~ !\"'[]{}=,;");
	ASSERT_STR_EQ(e, "a%3Ab%25c d#e%09%01%1F%7F%C3%BC~ !\"'[]{}=,;");
	free(e);
	e = ctc_encode_text("");
	ASSERT_STR_EQ(e, "");
	free(e);
	/* every byte round-trips */
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	e = ctc_encode_text(all);
	for (const char *p = e; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		ASSERT(ch >= 0x20 && ch < 0x7f && ch != ':');
	}
	char *d = ctc_decode_text(e);
	ASSERT_STR_EQ(d, all);
	free(d);
	free(e);
	/* written as '#' lines */
	struct ctc_conf *c = ctc_new(FILE_NAME);
	char err[256];
	ASSERT_EQ(ctc_set(&c->main, "description",
	                  "see: #42, 50% done, gr\xc3\xbc\xc3\x9f"
	                  "e\tx",
	                  err, sizeof(err)),
	          0);
	ASSERT_EQ(ctc_set(&c->main, "memory", "512", err, sizeof(err)), 0);
	assert_print(c, "#see%3A #42, 50%25 done, gr%C3%BC%C3%9Fe%09x\nmemory: 512\n");
	ctc_free(c);
}

static void t_desc_roundtrip(void)
{
	const char *desc = "First line: important\n"
	                   "\n"
	                   "  indented 100%\n"
	                   "M\xc3\xbcnchen \xe2\x82\xac\tend\n"
	                   "# not a comment\n"
	                   "last";
	struct ctc_conf *c = ctc_new(FILE_NAME);
	char err[256];
	ASSERT_EQ(ctc_set(&c->main, "description", desc, err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(&c->main, "arch", "amd64", err, sizeof(err)), 0);
	struct ctc_section *snap;
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	size_t len;
	char *out = ctc_print(c, &len);
	ASSERT_STR_EQ(out,
	              "#First line%3A important\n"
	              "#\n"
	              "#  indented 100%25\n"
	              "#M%C3%BCnchen %E2%82%AC%09end\n"
	              "## not a comment\n"
	              "#last\n"
	              "arch: amd64\n");
	struct ctc_conf *c2 = parse_ok(out, true, NULL);
	ASSERT_STR_EQ(c2->main.description, desc);
	assert_print(c2, out);
	free(out);
	ctc_free(c2);
	ctc_free(c);
	/* a description per section */
	c = parse_ok("#main\nmemory: 512\n\n[snap1]\n#before%3A the upgrade\nmemory: 256\n", true,
	             NULL);
	snap = ctc_snapshot(c, "snap1");
	ASSERT_STR_EQ(c->main.description, "main");
	ASSERT_STR_EQ(snap->description, "before: the upgrade");
	assert_print(c, "#main\nmemory: 512\n\n[snap1]\n#before%3A the upgrade\nmemory: 256\n");
	ctc_free(c);
	/* comment lines after keys still belong to the description, written first */
	c = parse_ok("memory: 512\n#late\nswap: 0\n", true, NULL);
	ASSERT_STR_EQ(c->main.description, "late");
	assert_print(c, "#late\nmemory: 512\nswap: 0\n");
	/* deleting it */
	ASSERT(ctc_delete(&c->main, "description"));
	ASSERT(!ctc_delete(&c->main, "description"));
	assert_print(c, "memory: 512\nswap: 0\n");
	ctc_free(c);
}

/* A description line's text is kept as it is, spaces at its end too. */
static void t_desc_trailing_space(void)
{
	struct ctc_conf *c = ctc_new(FILE_NAME);
	char err[256];
	ASSERT_EQ(ctc_set(&c->main, "description", "ends with a space ", err, sizeof(err)), 0);
	size_t len;
	char *out = ctc_print(c, &len);
	ASSERT_STR_EQ(out, "#ends with a space \n");
	struct ctc_conf *c2 = parse_ok(out, true, NULL);
	ASSERT_STR_EQ(c2->main.description, "ends with a space ");
	assert_print(c2, out);
	ctc_free(c2);
	free(out);
	ctc_free(c);
	/* "%20" at the end: stable after one round */
	c = parse_ok("#a%20\n", true, NULL);
	ASSERT_STR_EQ(c->main.description, "a ");
	out = ctc_print(c, &len);
	c2 = parse_ok(out, true, NULL);
	assert_print(c2, out);
	ctc_free(c2);
	free(out);
	ctc_free(c);
	/* a CRLF file: the '\r' is no part of the description */
	c = parse_ok("#one\r\n#two \r\nmemory: 512\r\n", true, NULL);
	ASSERT_STR_EQ(c->main.description, "one\ntwo ");
	ctc_free(c);
}

static void t_desc_key_form(void)
{
	struct ctc_conf *c =
	    parse_ok("arch: amd64\ndescription: Web server%3A prod %C3%BC\n", true, NULL);
	ASSERT_STR_EQ(c->main.description, "Web server: prod \xc3\xbc");
	ASSERT_EQ(c->main.nkeys, 1);
	/* written as '#' lines */
	assert_print(c, "#Web server%3A prod %C3%BC\narch: amd64\n");
	ctc_free(c);
	/* together with '#' lines: joined in file order */
	c = parse_ok("#one\ndescription: two\n", true, NULL);
	ASSERT_STR_EQ(c->main.description, "one\ntwo");
	ctc_free(c);
}

/* ---- the writer ---- */

static void t_write_order(void)
{
	/* everything out of order in the input */
	const char *in = "swap: 512\n"
	                 "lxc.mount.entry: /srv b none bind 0 0\n"
	                 "arch: amd64\n"
	                 "lxc.apparmor.profile: unconfined\n"
	                 "#the description\n"
	                 "net0: name=eth0,bridge=vmbr0\n"
	                 "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
	                 "memory: 512\n"
	                 "\n"
	                 "[zeta]\n"
	                 "snaptime: 3\n"
	                 "memory: 128\n"
	                 "\n"
	                 "[alpha]\n"
	                 "snaptime: 1\n"
	                 "arch: amd64\n"
	                 "\n"
	                 "[pve:pending]\n"
	                 "swap: 0\n"
	                 "delete: net0\n"
	                 "[Mid]\n"
	                 "snaptime: 2\n";
	const char *want = "#the description\n"
	                   "arch: amd64\n"
	                   "memory: 512\n"
	                   "net0: name=eth0,bridge=vmbr0\n"
	                   "swap: 512\n"
	                   "lxc.mount.entry: /srv b none bind 0 0\n"
	                   "lxc.apparmor.profile: unconfined\n"
	                   "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
	                   "\n"
	                   "[pve:pending]\n"
	                   "delete: net0\n"
	                   "swap: 0\n"
	                   "\n"
	                   "[Mid]\n"
	                   "snaptime: 2\n"
	                   "\n"
	                   "[alpha]\n"
	                   "arch: amd64\n"
	                   "snaptime: 1\n"
	                   "\n"
	                   "[zeta]\n"
	                   "memory: 128\n"
	                   "snaptime: 3\n";
	struct ctc_conf *c = parse_ok(in, true, NULL);
	ASSERT_EQ(c->nsnaps, 3);
	ASSERT_STR_EQ(c->snaps[0].name, "Mid");
	ASSERT_STR_EQ(c->snaps[1].name, "alpha");
	ASSERT_STR_EQ(c->snaps[2].name, "zeta");
	assert_print(c, want);
	ctc_free(c);
	/* keys sort as strings: mp10 before mp2 */
	c = parse_ok("mp2: local:b,mp=/b\nmp10: local:c,mp=/c\nmp1: local:a,mp=/a\n", true, NULL);
	assert_print(c, "mp1: local:a,mp=/a\nmp10: local:c,mp=/c\nmp2: local:b,mp=/b\n");
	ctc_free(c);
	/* a new config built by a program */
	char err[256];
	c = ctc_new("/etc/pve/lxc/100.conf");
	ASSERT_STR_EQ(c->digest, "");
	ASSERT_EQ(
	    ctc_set(&c->main, "rootfs", "size=8G,local:100/vm-100-disk-0.raw", err, sizeof(err)),
	    0);
	ASSERT_EQ(ctc_set(&c->main, "hostname", "ct100", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(&c->main, "arch", "amd64", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(ctc_pending(c, true), "memory", "1024", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	assert_print(c,
	             "arch: amd64\nhostname: ct100\nrootfs: local:100/vm-100-disk-0.raw,size=8G\n"
	             "\n[pve:pending]\nmemory: 1024\n");
	ASSERT(ctc_delete(&c->main, "hostname"));
	ASSERT(!ctc_delete(&c->main, "hostname"));
	ASSERT(ctc_get(&c->main, "hostname") == NULL);
	assert_print(c,
	             "arch: amd64\nrootfs: local:100/vm-100-disk-0.raw,size=8G\n"
	             "\n[pve:pending]\nmemory: 1024\n");
	ctc_free(c);
}

static void t_roundtrip_canonical(void)
{
	static const char *const files[] = {
		"",
		"arch: amd64\n",
		"#d\n",
		"#a\n#\n#b\narch: amd64\nmemory: 512\n",
		"arch: amd64\nlxc.cap.drop: \n",
		"\n[pve:pending]\nmemory: 1024\n",
		"arch: amd64\nparent: s2\n\n[s1]\n#snap\narch: amd64\nsnaptime: 1\n\n[s2]\n"
		"parent: s1\nsnapstate: delete\nsnaptime: 2\n",
		"cores: 2\nmemory: 512\nnet0: name=eth0,bridge=vmbr0,firewall=1,ip=dhcp,type=veth\n"
		"rootfs: local:100/a.raw,size=8G\nlxc.apparmor.profile: unconfined\n\n"
		"[pve:pending]\ndelete: !mp0,swap\nmemory: 1024\n\n[snap-1]\ncores: 1\nsnaptime: "
		"9\n",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct ctc_diag warn = { 0 };
		struct ctc_conf *c = parse_ok(files[i], true, &warn);
		ASSERT_EQ(warn.n, 0);
		assert_print(c, files[i]);
		char err[256];
		ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
		ctc_free(c);
	}
	/* as the reference: an empty pending section and trailing empty description lines go */
	struct ctc_conf *c = parse_ok("#a\n#\narch: amd64\n\n[pve:pending]\n", true, NULL);
	assert_print(c, "#a\narch: amd64\n");
	ctc_free(c);
}

static void t_change_one_key(void)
{
	/* an unsorted net0, an odd enum and an unknown key: kept exactly as read */
	const char *in = "arch: amd64\n"
	                 "colour: red\n"
	                 "memory: 512\n"
	                 "net0: bridge=vmbr0,name=eth0,firewall=yes\n"
	                 "onboot: yes\n"
	                 "ostype: futureos\n"
	                 "rootfs: size=8G,local:100/a.raw\n";
	struct ctc_diag warn = { 0 };
	struct ctc_conf *c = parse_ok(in, false, &warn);
	ASSERT_EQ(warn.n, 2); /* colour, ostype */
	ctc_diag_free(&warn);
	assert_print(c, in);
	char err[512];
	/* the unchanged odd values do not stop a write */
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(&c->main, "memory", "01024", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(&c->main, "swap", "0", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	assert_print(c,
	             "arch: amd64\n"
	             "colour: red\n"
	             "memory: 1024\n"
	             "net0: bridge=vmbr0,name=eth0,firewall=yes\n"
	             "onboot: yes\n"
	             "ostype: futureos\n"
	             "rootfs: size=8G,local:100/a.raw\n"
	             "swap: 0\n");
	/* changing net0 canonicalises net0 only */
	ASSERT_EQ(
	    ctc_set(&c->main, "net0", "bridge=vmbr0,name=eth0,firewall=yes", err, sizeof(err)), 0);
	ASSERT_STR_EQ(ctc_get(&c->main, "net0"), "name=eth0,bridge=vmbr0,firewall=1");
	ASSERT_STR_EQ(ctc_get(&c->main, "rootfs"), "size=8G,local:100/a.raw");
	ASSERT_STR_EQ(ctc_get(&c->main, "onboot"), "yes");
	ASSERT_STR_EQ(ctc_get(&c->main, "ostype"), "futureos");
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	/* a refused set changes nothing */
	ASSERT_EQ(ctc_set(&c->main, "memory", "8", err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "key 'memory'");
	ASSERT_STR_EQ(ctc_get(&c->main, "memory"), "1024");
	ctc_free(c);
}

static void t_check_refuses(void)
{
	char err[512];
	struct ctc_conf *c;

	/* a changed invalid value (set raw) */
	c = parse_ok("arch: amd64\nmemory: 512\n", true, NULL);
	ASSERT_EQ(ctc_set_raw(&c->main, "memory", "8"), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, FILE_NAME " line 2");
	ASSERT_CONTAINS(err, "key 'memory'");
	ASSERT_CONTAINS(err, "out of range");
	ctc_free(c);
	/* an unknown key set raw (no line: the file and the section are named) */
	c = parse_ok("arch: amd64\n\n[snap1]\nsnaptime: 1\n", true, NULL);
	ASSERT_EQ(ctc_set_raw(ctc_snapshot(c, "snap1"), "colour", "red"), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, FILE_NAME " [snap1]");
	ASSERT_CONTAINS(err, "key 'colour': unknown");
	ctc_free(c);
	/* a key in the wrong section */
	c = ctc_new(FILE_NAME);
	ASSERT_EQ(ctc_set_raw(ctc_pending(c, true), "lock", "backup"), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "[pve:pending]");
	ASSERT_CONTAINS(err, "key 'lock'");
	ctc_free(c);
	/* a value with a newline: refused even when it is not marked changed */
	c = parse_ok("arch: amd64\nhostname: ct\n", true, NULL);
	ASSERT_EQ(ctc_set_raw(&c->main, "hostname", "a\nmemory: 1"), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "key 'hostname'");
	ASSERT_CONTAINS(err, "newline");
	c->main.keys[1].changed = false;
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "newline");
	ctc_free(c);
	/* a pending delete naming an unknown key */
	c = ctc_new(FILE_NAME);
	ASSERT_EQ(ctc_set(ctc_pending(c, true), "delete", "swap,colour", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "key 'delete'");
	ASSERT_CONTAINS(err, "'colour'");
	ctc_free(c);
	c = ctc_new(FILE_NAME);
	ASSERT_EQ(ctc_set(ctc_pending(c, true), "delete", "!net32", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "'net32'");
	ctc_free(c);
	/* a parent naming a missing snapshot */
	c = parse_ok("arch: amd64\n\n[snap1]\nsnaptime: 1\n", true, NULL);
	ASSERT_EQ(ctc_set(&c->main, "parent", "snap2", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "key 'parent'");
	ASSERT_CONTAINS(err, "no snapshot 'snap2'");
	ASSERT_EQ(ctc_set(&c->main, "parent", "snap1", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	ctc_free(c);
	/* in a snapshot too */
	c = parse_ok("arch: amd64\n\n[snap1]\nsnaptime: 1\n", true, NULL);
	ASSERT_EQ(ctc_set(ctc_snapshot(c, "snap1"), "parent", "snap0", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "[snap1]");
	ctc_free(c);
}

static void t_check_accepts(void)
{
	char err[512];
	/* an unchanged odd value read leniently */
	struct ctc_conf *c = parse_ok("arch: amd64\nmemory: 8\nostype: futureos\ncolour: red\n"
	                              "parent: gone\n\n[pve:pending]\ndelete: colour\n",
	                              false, NULL);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	ctc_free(c);
	/* a pending delete list with force entries and every separator */
	c = ctc_new(FILE_NAME);
	struct ctc_section *p = ctc_pending(c, true);
	ASSERT(p == ctc_pending(c, false));
	ASSERT_STR_EQ(p->name, CTC_PENDING);
	ASSERT_EQ(ctc_set(p, "delete", "swap,!mp0", err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	ASSERT_EQ(ctc_set(p, "delete", "!mp0,swap", err, sizeof(err)), 0);
	if (ctc_check(c, err, sizeof(err)) != 0)
		TEST_FAIL("delete \"!mp0,swap\" refused: %s", err);
	ASSERT_EQ(ctc_set(p, "delete", "!mp0;!net1 cpulimit,!description", err, sizeof(err)), 0);
	if (ctc_check(c, err, sizeof(err)) != 0)
		TEST_FAIL("delete list refused: %s", err);
	ctc_free(c);
	/* no pending section: ctc_pending(c, false) does not create one */
	c = ctc_new(FILE_NAME);
	ASSERT(ctc_pending(c, false) == NULL);
	assert_print(c, "");
	ASSERT_STR_EQ(c->file, FILE_NAME);
	ctc_free(c);
	c = ctc_new(NULL);
	ASSERT(c->file != NULL);
	ctc_free(c);
	ctc_free(NULL);
}

/* ---- digest ---- */

static void t_digest(void)
{
	char hex[41];
	ctc_sha1_hex("abc", 3, hex);
	ASSERT_STR_EQ(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	ctc_sha1_hex("", 0, hex);
	ASSERT_STR_EQ(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");

	const char *a = "arch: amd64\nmemory: 512\n";
	const char *b = "arch: amd64\nmemory: 512 \n"; /* the same config, other bytes */
	struct ctc_conf *ca = parse_ok(a, true, NULL), *cb = parse_ok(b, true, NULL);
	ctc_sha1_hex(a, strlen(a), hex);
	ASSERT_STR_EQ(ca->digest, hex);
	ctc_sha1_hex(b, strlen(b), hex);
	ASSERT_STR_EQ(cb->digest, hex);
	ASSERT(strcmp(ca->digest, cb->digest) != 0);
	ASSERT_EQ(strlen(ca->digest), 40);
	ASSERT_EQ(strspn(ca->digest, "0123456789abcdef"), 40);
	/* the digest is that of the bytes read, not of the printed text */
	size_t len;
	char *out = ctc_print(cb, &len);
	ASSERT_STR_EQ(out, a);
	ASSERT(strcmp(cb->digest, ca->digest) != 0);
	free(out);
	ctc_free(ca);
	ctc_free(cb);
	ca = parse_ok("", true, NULL);
	ASSERT_STR_EQ(ca->digest, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	ctc_free(ca);
}

/* ---- the corpus: configs as the reference writes them ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ASSERT(f != NULL);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ASSERT(buf != NULL);
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
		if (n + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ASSERT(buf != NULL);
		}
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The lines of text (a copy is cut up); count in *n. */
static char **split_lines(const char *text, size_t *n)
{
	char *copy = strdup(text);
	size_t cap = 16;
	char **lines = malloc(cap * sizeof(*lines));
	ASSERT(copy != NULL && lines != NULL);
	*n = 0;
	for (char *p = copy; *p;) {
		char *nl = strchr(p, '\n');
		ASSERT(nl != NULL); /* every line ends with '\n' */
		*nl = '\0';
		if (*n + 1 >= cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			ASSERT(lines != NULL);
		}
		lines[(*n)++] = p;
		p = nl + 1;
	}
	lines[*n] = copy; /* for free_lines */
	return lines;
}

static void free_lines(char **lines, size_t n)
{
	free(lines[n]);
	free(lines);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_corpus_file(const char *path)
{
	size_t len;
	char *text = read_all(path, &len);
	struct ctc_diag warn = { 0 };
	struct ctc_conf *c = NULL;
	char err[1024] = "";

	ASSERT_EQ(strlen(text), len);
	/* strict, no warnings */
	if (ctc_parse(text, len, path, true, &c, &warn, err, sizeof(err)) != 0)
		TEST_FAIL("%s: strict parse failed: %s", path, err);
	if (warn.n)
		TEST_FAIL("%s: warning: %s", path, warn.msgs[0]);
	char hex[41];
	ctc_sha1_hex(text, len, hex);
	ASSERT_STR_EQ(c->digest, hex);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	/* every value is in the canonical form ctc_set writes (startup excepted: the reference
	 * keeps its text as given, "order=1,up=30") */
	for (size_t si = 0; si < 2 + c->nsnaps; si++) {
		const struct ctc_section *s = si == 0 ? &c->main
		    : si == 1                         ? c->pending
		                                      : &c->snaps[si - 2];
		for (size_t i = 0; s && i < s->nkeys; i++) {
			const struct cts_key *k = cts_lookup(s->keys[i].key, s->name);
			char *canon = NULL;
			ASSERT(k != NULL);
			ASSERT_EQ(cts_check(k, s->keys[i].value, &canon, err, sizeof(err)), 0);
			if (strcmp(s->keys[i].key, "startup") != 0 &&
			    strcmp(canon, s->keys[i].value))
				TEST_FAIL("%s line %u: '%s' is not canonical (\"%s\")", path,
				          s->keys[i].line, s->keys[i].value, canon);
			free(canon);
		}
	}
	/* print(parse(f)) == f, byte for byte */
	size_t olen;
	char *out = ctc_print(c, &olen);
	if (olen != len || memcmp(out, text, len) != 0)
		TEST_FAIL("%s: printed differently:\n%s\n--- want ---\n%s", path, out, text);
	/* parse(print(...)) prints the same again */
	struct ctc_conf *c2 = NULL;
	if (ctc_parse(out, olen, path, true, &c2, &warn, err, sizeof(err)) != 0)
		TEST_FAIL("%s: reparse failed: %s", path, err);
	assert_print(c2, text);
	ctc_free(c2);
	free(out);

	/* setting one key changes exactly that line */
	const char *old = ctc_get(&c->main, "memory");
	const char *val = old && !strcmp(old, "4096") ? "4097" : "4096";
	char want_line[64];
	snprintf(want_line, sizeof(want_line), "memory: %s", val);
	ASSERT_EQ(ctc_set(&c->main, "memory", val, err, sizeof(err)), 0);
	ASSERT_EQ(ctc_check(c, err, sizeof(err)), 0);
	out = ctc_print(c, &olen);
	size_t na, nb;
	char **a = split_lines(text, &na), **b = split_lines(out, &nb);
	if (old) {
		ASSERT_EQ(na, nb);
		size_t diff = 0;
		for (size_t i = 0; i < na; i++) {
			if (!strcmp(a[i], b[i]))
				continue;
			diff++;
			ASSERT(!strncmp(a[i], "memory: ", 8));
			ASSERT_STR_EQ(b[i], want_line);
		}
		ASSERT_EQ(diff, 1);
	} else {
		/* a new line, in its sorted place in the current config */
		ASSERT_EQ(na + 1, nb);
		size_t at = 0;
		while (at < na && !strcmp(a[at], b[at]))
			at++;
		ASSERT_STR_EQ(b[at], want_line);
		for (size_t i = at; i < na; i++)
			ASSERT_STR_EQ(a[i], b[i + 1]);
	}
	free_lines(a, na);
	free_lines(b, nb);
	free(out);
	ctc_free(c);
	ctc_diag_free(&warn);
	free(text);
}

static void t_corpus(void)
{
	const char *src = getenv("PVE_SOURCE_DIR");
	char dir[4096], path[8192];
	if (!src)
		TEST_FAIL("PVE_SOURCE_DIR is not set");
	snprintf(dir, sizeof(dir), "%s/tests/ctconf/corpus", src);
	DIR *d = opendir(dir);
	if (!d)
		TEST_FAIL("%s: %s", dir, strerror(errno));
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && !strcmp(e->d_name + l - 5, ".conf")) {
			ASSERT_LT(n, 256);
			names[n++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	ASSERT_GE(n, 12);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		check_corpus_file(path);
		free(names[i]);
	}
}

static const struct test_case cases[] = {
	{ "bool_spellings", t_bool_spellings },
	{ "int_ranges", t_int_ranges },
	{ "num_cpulimit", t_num_cpulimit },
	{ "enums", t_enums },
	{ "strings", t_strings },
	{ "prop_net", t_prop_net },
	{ "prop_mount", t_prop_mount },
	{ "prop_dev_features_startup", t_prop_dev_features_startup },
	{ "prop_errors", t_prop_errors },
	{ "prop_canonical", t_prop_canonical },
	{ "indexed_keys", t_indexed_keys },
	{ "key_sections", t_key_sections },
	{ "unknown_key_set", t_unknown_key_set },
	{ "parse_bad_line", t_parse_bad_line },
	{ "parse_empty_value", t_parse_empty_value },
	{ "parse_dup_key", t_parse_dup_key },
	{ "parse_sections", t_parse_sections },
	{ "parse_lxc_keys", t_parse_lxc_keys },
	{ "parse_unknown_key", t_parse_unknown_key },
	{ "parse_invalid_value", t_parse_invalid_value },
	{ "parse_nul_and_size", t_parse_nul_and_size },
	{ "parse_whitespace", t_parse_whitespace },
	{ "desc_decode", t_desc_decode },
	{ "desc_encode", t_desc_encode },
	{ "desc_roundtrip", t_desc_roundtrip },
	{ "desc_trailing_space", t_desc_trailing_space },
	{ "desc_key_form", t_desc_key_form },
	{ "write_order", t_write_order },
	{ "roundtrip_canonical", t_roundtrip_canonical },
	{ "change_one_key", t_change_one_key },
	{ "check_refuses", t_check_refuses },
	{ "check_accepts", t_check_accepts },
	{ "digest", t_digest },
	{ "corpus", t_corpus },
};

TEST_MAIN(cases)
