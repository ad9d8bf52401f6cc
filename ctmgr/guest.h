/*
 * guest.h - guest OS set-up: detect the distribution in a container's root
 * file system and write its files (host name, /etc/hosts, network, DNS,
 * time zone, consoles; at create also the root password, SSH keys, fresh
 * machine-id and crontab minutes) the way the reference writes them.
 *
 * Every path is inside the rootfs: reads resolve symlinks as if chrooted
 * there (openat2 RESOLVE_IN_ROOT), writes go to a temporary file in the
 * target's directory and are renamed over it, so a symlink planted by the
 * guest is replaced, never followed.  A file ".pve-ignore.<name>" beside
 * <name> makes the set-up leave <name> alone.  Regions of shared files are
 * delimited by "# --- BEGIN PVE ---" / "# --- END PVE ---"; content outside
 * them is kept.  Running the set-up twice gives the same files.
 *
 * Per-distribution code lives in guest_<family>.c behind struct
 * guest_distro; this file's API is what those and pct use.
 */
#ifndef CTMGR_GUEST_H
#define CTMGR_GUEST_H

#include "ctmgr/ctconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct guest_distro;

struct guest {
	int root; /* O_PATH directory fd of the rootfs */
	const struct ctc_section *conf; /* the container's current config */
	bool unprivileged;
	uid_t uid; /* the container root's ids on the host (0 when privileged) */
	gid_t gid;
	char ostype[32]; /* detected: debian, ubuntu, ..., or "unmanaged" */
	char version[64]; /* the distribution's version (VERSION_ID or marker file) */
	char arch[16]; /* amd64, i386, arm64, armhf, riscv64, ...; "" unknown */
	const struct guest_distro *distro;
	/* deterministic mode (--seed): crontab minutes from srand48(seed), no SSH host keys */
	bool seeded;
	long seed;
	const char *host_resolv; /* the host's resolv.conf (NULL: /etc/resolv.conf) */
	char err[1024]; /* the reason of a failure */
};

struct guest_distro {
	const char *ostype;
	/* refuse a version too old (-ENOTSUP + g->err), warn about an unknown newer one */
	int (*check_version)(struct guest *g);
	int (*setup_init)(struct guest *g); /* consoles / gettys for the tty count */
	int (*setup_network)(struct guest *g);
	int (*set_hostname)(struct guest *g); /* NULL: guest_set_hostname */
	int (*template_fixup)(struct guest *g); /* after create; NULL: nothing */
};

/* ------------------------------------------------------------ entry points */

/*
 * Open rootdir for c (unprivileged: files get the mapped root's owner)
 * and detect its distribution; the configured ostype only warns when it
 * differs.  0, or -errno with g->err.
 */
int guest_open(struct guest *g, const char *rootdir, const struct ctc_conf *c);
void guest_close(struct guest *g);

/* What every start writes (/fastboot, consoles, network, host name, hosts, DNS, time zone). */
int guest_pre_start(struct guest *g);
/*
 * What a create writes, in the reference's order: /etc/machine-id removed
 * (systemd's first boot makes a new one), template fix-ups, crontab
 * minutes, the root password (a crypt hash $1$/$2[axy]$/$5$/$6$ is kept as
 * it is, plain text is hashed with SHA-512 crypt, NULL locks it; "$TEST$..."
 * is kept with the day count 12345, the reference's test marker), root's
 * authorized_keys (NULL: none), what every start writes (without
 * /fastboot), then fresh SSH host keys (unless seeded).
 */
int guest_post_create(struct guest *g, const char *password, const char *ssh_keys);

/* The distribution detected in an open rootfs (used by guest_open). */
int guest_detect(struct guest *g);
/* The plug-in of an ostype; NULL for unmanaged or unknown ones. */
const struct guest_distro *guest_distro_find(const char *ostype);

/* Put the formatted reason into g->err; returns rc (for "return guest_fail(...)"). */
int guest_fail(struct guest *g, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* data with its first line that is exactly old replaced by new (malloc'd), or NULL */
char *guest_replace_line(const char *data, const char *old, const char *new);

/* ---------------------------------------------------- files in the rootfs */

/* Read a whole file (symlinks resolved inside the rootfs); -errno. */
int guest_read(struct guest *g, const char *path, char **data, size_t *len);
/* The first line without its newline, or NULL. */
char *guest_read_firstline(struct guest *g, const char *path);
bool guest_is_file(struct guest *g, const char *path);
bool guest_is_dir(struct guest *g, const char *path);
bool guest_is_symlink(struct guest *g, const char *path); /* the last component itself */
bool guest_is_executable(struct guest *g, const char *path);
/* Is there a ".pve-ignore.<name>" beside path? */
bool guest_ignored(struct guest *g, const char *path);
/*
 * Replace path with data (temp file + rename in its directory, created
 * with mode when new (0 = 0644), owner and mode of an existing file kept,
 * new files owned by the container's root).  Ignored files: 0, nothing
 * done.  The directory must exist.
 */
int guest_write(struct guest *g, const char *path, const char *data, size_t len, mode_t mode);
struct sbuf;
/* guest_write of a buffer's text; -ENOMEM (nothing written) when building it ran out of memory */
int guest_write_sb(struct guest *g, const char *path, const struct sbuf *b, mode_t mode);
/* mkdir -p inside the rootfs, new directories owned by the container's root */
int guest_mkdirs(struct guest *g, const char *path, mode_t mode);
int guest_unlink(struct guest *g, const char *path); /* ENOENT is fine */
int guest_symlink(struct guest *g, const char *target, const char *path);

enum guest_region_mode { GUEST_APPEND = 0, GUEST_PREPEND, GUEST_REPLACE };
/*
 * Put data between "# --- BEGIN PVE ---" and "# --- END PVE ---" in path:
 * an existing region is replaced in place; without one the region is
 * appended, prepended, or replaces the whole file.  Empty data and no
 * region: nothing.  With del, a file left holding only an empty region is
 * removed.
 */
int guest_modify_region(struct guest *g, const char *path, const char *data,
                        enum guest_region_mode mode, mode_t perms, bool del);
/* text without its PVE regions (malloc'd) */
char *guest_strip_regions(const char *text);

/* --------------------------------------------------- shared set-up pieces */

/* One network interface of the config (netN). */
struct guest_net {
	int index;
	char name[32];
	char ip[64], gw[64], ip6[80], gw6[80]; /* "" when unset; ip/ip6 also dhcp|manual|auto */
	char hwaddr[32];
	int mtu; /* 0: unset */
};
/* The config's interfaces in index order; returns the count (at most max). */
size_t guest_nets(const struct guest *g, struct guest_net *out, size_t max);
/* Is addr inside cidr ("a.b.c.d/len", "x::/len"; family 4 or 6)? */
bool guest_ip_in_cidr(const char *addr, const char *cidr, int family);
/* The config's first static IPv4 and IPv6 addresses without prefix ("" none). */
void guest_primary_ips(const struct guest *g, char *ip4, size_t l4, char *ip6, size_t l6);
/* searchdomain / nameserver of the config, or the host's resolv.conf */
void guest_dns(struct guest *g, char *search, size_t slen, char *servers, size_t nlen);

/* The configured host name, or "localhost" (what every plug-in writes) */
const char *guest_hostname(const struct guest *g);
int guest_set_hostname(struct guest *g); /* /etc/hostname and the /etc/hosts region */
int guest_update_hosts(struct guest *g, const char *hostname);
int guest_set_dns(struct guest *g); /* /etc/resolv.conf */
int guest_set_timezone(struct guest *g); /* /etc/localtime (+ /etc/timezone) */
/* getty@.service on /dev/tty when there is no container-getty@ (CentOS 7.1), else /dev/tty0 */
int guest_fixup_old_getty(struct guest *g);
int guest_setup_systemd_console(struct guest *g); /* getty@ttyN links for the tty count */
int guest_setup_container_getty(struct guest *g); /* container-getty@'s tty path */
int guest_setup_securetty(struct guest *g);
int guest_setup_systemd_networkd(struct guest *g); /* /etc/systemd/network/<name>.network */
/* The configured tty count (default 2). */
int guest_tty_count(const struct guest *g);
/* "lxc/" for privileged containers, "" for unprivileged ones */
const char *guest_devttydir(const struct guest *g);
/* version comparison of dotted numbers ("7.10" > "7.9"): <0, 0, >0 */
int guest_vercmp(const char *a, const char *b);

/* --- added for guest_debian.c --- */

/* The target of the symlink path (not followed) into buf; -errno (-EINVAL: not a link). */
int guest_readlink(struct guest *g, const char *path, char *buf, size_t len);
/*
 * /etc/systemd/system-preset/00-pve.preset: the reference's first-boot
 * defaults (container-getty@ on, getty@ and the sys-kernel mounts off),
 * then the lines of extra ("enable x.service", "disable y.service"; NULL
 * terminated, may be NULL).  Applies only where systemd finds no
 * machine-id, i.e. the first boot.
 */
int guest_setup_systemd_preset(struct guest *g, const char *const *extra);
/*
 * The reference's container-getty set-up: container-getty@.service's tty
 * path becomes <devttydir>tty%I, getty.target.wants holds
 * container-getty@N.service for N up to the tty count and no getty@ttyN
 * links, getty.target is unmasked.  Nothing without container-getty@.service;
 * links only where getty.target.wants exists.
 */
int guest_setup_container_getty_units(struct guest *g, const char *devttydir);
/* /etc/securetty (when present) gets each of devs (NULL terminated) it lacks. */
int guest_setup_securetty_list(struct guest *g, const char *const *devs);

/* --- added for guest_other.c --- */

/*
 * KEY's value in the guest's /etc/os-release (else /usr/lib/os-release),
 * parsed as guest_detect does; "" when absent, -ENOENT without either file.
 */
int guest_os_release(struct guest *g, const char *key, char *out, size_t len);

#endif
