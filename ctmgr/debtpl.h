/*
 * debtpl.h - the Debian container template, built with debootstrap from
 * the Debian mirror the host's apt uses: finding that mirror, running
 * debootstrap with a package cache, cleaning the tree the way container
 * templates are cleaned, and packing it with tpl_pack_dir (template.h).
 * Called by pveam ("pveam build debian-12"); doc/storage.md describes the
 * result.
 */
#ifndef CTMGR_DEBTPL_H
#define CTMGR_DEBTPL_H

#include <stdbool.h>
#include <stddef.h>

/* Debian's name for the host's architecture: the template is the host's. */
#if defined(__x86_64__)
#define DEBTPL_ARCH "amd64"
#elif defined(__aarch64__)
#define DEBTPL_ARCH "arm64"
#elif defined(__i386__)
#define DEBTPL_ARCH "i386"
#elif defined(__arm__)
#define DEBTPL_ARCH "armhf"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DEBTPL_ARCH "ppc64el"
#elif defined(__s390x__)
#define DEBTPL_ARCH "s390x"
#else
#error "no Debian architecture name known for this host"
#endif

#define DEBTPL_SUITE "bookworm"
/*
 * The reference's naming, <os>-<release>-standard_<version>-<build>_<arch>:
 * the version is fixed at 12.0-1 so the name is known before a build (the
 * point release inside is the mirror's: /etc/debian_version).
 */
#define DEBTPL_NAME "debian-12-standard_12.0-1_" DEBTPL_ARCH ".tar.zst"
/*
 * On top of debootstrap's minbase (essential + apt): an init, what a
 * managed container's network setup runs (ifupdown for the
 * /etc/network/interfaces that is written at start, dhclient for ip=dhcp),
 * dbus (systemd-logind fails without it) and ps/ping for a person.
 */
#define DEBTPL_PACKAGES "systemd-sysv,dbus,ifupdown,isc-dhcp-client,iproute2,iputils-ping,procps"

/* The archive and security mirror URLs (no trailing '/'). */
struct debtpl_mirrors {
	char archive[512], security[512];
};

/*
 * Find the host's Debian mirrors in <etc_apt>/sources.list and
 * <etc_apt>/sources.list.d/ *.list and *.sources (deb822), read in apt's
 * order.  archive: the first "deb" URI (http, https or file) serving
 * suite bookworm, else one serving another Debian suite (trixie, stable,
 * sid, ...); security: likewise for bookworm-security / <suite>-security.
 * What is not found is http://deb.debian.org/debian (-security).
 * Unreadable files are skipped; never fails.
 */
void debtpl_find_mirrors(const char *etc_apt, struct debtpl_mirrors *m);

struct debtpl_opts {
	const char *out; /* the template file; its directory holds the build */
	const char *cache; /* the .deb cache (created if missing) */
	const char *log; /* debootstrap's output: kept on failure only */
	const char *mirror; /* debootstrap's mirror */
	const char *security; /* for the template's sources.list */
	bool force; /* rebuild when out exists */
	/* called (if set) once the locks are held, just before debootstrap runs */
	void (*starting)(const struct debtpl_opts *o);
};

/*
 * Build the template into o->out (replaced atomically by rename; a
 * concurrent reader keeps the old file).  Needs root and debootstrap in
 * $PATH.  The build runs in <dir of out>/.pveam-debian-12.build.XXXXXX,
 * removed on every path, and holds flock(2) locks on
 * <dir of out>/.pveam-debian-12.lock and <cache>/.lock, so that builds of
 * one storage or with one cache wait for each other.
 *
 * Returns 0 when built, 1 when out exists and !o->force (checked before
 * and again under the lock: nothing is done), or -errno with err naming
 * the failing step, e.g. "debootstrap failed: <its first E: line>; see
 * <log>" (-EIO), -ENOENT for a missing debootstrap, -EPERM if not root.
 */
int debtpl_build(const struct debtpl_opts *o, char *err, size_t errlen);

#endif
