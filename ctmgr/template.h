/*
 * template.h - container templates (vztmpl): unpacking one into a root
 * file system, safely and with ownership shifted into an unprivileged id
 * map; packing a root file system tree into a template; and building the
 * busybox template from the host's busybox-static (the Debian one is
 * debtpl.h's).  Archives are read and written with libarchive (tar, .gz,
 * .xz, .zst).
 */
#ifndef CTMGR_TEMPLATE_H
#define CTMGR_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

/* Ownership shift for unprivileged containers: id -> id + shift when id < count. */
struct tpl_idmap {
	uint32_t uid_shift, gid_shift, count; /* count 0: no shift (privileged) */
};

/*
 * Unpack archive into dest (an existing, empty directory: the mounted root
 * volume).  Every entry stays inside dest: absolute paths, ".." components
 * and writes through symlinks are refused (the archive is refused as a
 * whole, with the entry named in err).  Owners, modes, times, device nodes
 * (privileged only; skipped with a count for unprivileged) and extended
 * attributes are kept; owners are shifted by map.  -errno with a message.
 */
int tpl_extract(const char *archive, const char *dest, const struct tpl_idmap *map, char *err,
                size_t errlen);

/*
 * Pack the tree under root into out: a pax tar compressed with zstd, the
 * entries named "./...", with numeric owners (no user names: the host's
 * mean nothing to the guest), modes, times, extended attributes (file
 * capabilities), ACLs, device nodes and FIFOs; a hard-linked file is
 * stored once and its other names as hard-link entries; symlinks are
 * stored, never followed; mount points below root are not entered and
 * sockets are skipped.  out is created or truncated in place: write to a
 * temporary name and rename for atomicity.  Changes the working directory
 * while it runs (not thread-safe).  0, or -errno with a message in err.
 */
int tpl_pack_dir(const char *root, const char *out, char *err, size_t errlen);

/*
 * Build the busybox template: a root file system of busybox-static
 * (/bin/busybox and its applets), busybox init with a console getty, and
 * the basic /etc files, written to out (.tar.zst).  busybox names the
 * busybox-static binary (NULL: /bin/busybox).
 */
int tpl_build_busybox(const char *out, const char *busybox, char *err, size_t errlen);

#endif
