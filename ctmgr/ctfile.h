/*
 * ctfile.h - where container configs live in /etc/pve and how pct changes
 * them safely: the per-CT lock, reading with the digest, atomic writes.
 *
 * /etc/pve/lxc is pmxcfs's link to this node's nodes/<node>/lxc; the root
 * is $PVE_ETC (default /etc/pve) so tests can use a local-mode mount.
 * Writes go to "<ID>.conf.tmp.<pid>" in the same directory, then rename
 * over the config: pmxcfs commits the whole file at close and the rename
 * atomically, so readers on every node see the old or the new file.
 */
#ifndef CTMGR_CTFILE_H
#define CTMGR_CTFILE_H

#include "ctmgr/ctconf.h"

#include <stddef.h>
#include <stdint.h>

/* $PVE_ETC or /etc/pve */
const char *ctf_root(void);
/* A CT id as the reference allows (100 .. 999999999); -1 otherwise. */
long ctf_parse_id(const char *s);
/* <root>/lxc/<id>.conf */
void ctf_path(long id, char *buf, size_t len);
/*
 * Where is CT id's config?  0: here (this node); -EREMOTE: on node
 * (written to node); -ENOENT: nowhere.
 */
int ctf_locate(long id, char *node, size_t len);

/*
 * The per-CT lock of this node (/run/lock/lxc/pve-config-<id>.lock, flock;
 * $PCT_LOCK_DIR for tests): serialises pct processes working on one CT.
 * Waits up to timeout_s; returns the fd (close to release) or -errno with
 * the message in err.
 */
int ctf_lock(long id, int timeout_s, char *err, size_t errlen);

/* Write data to path atomically (temp file in the same directory, rename). */
int ctf_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);
/*
 * The same, replacing path only if pmxcfs still has it at version
 * replaces (0: unconditionally): its compare-and-swap rename, decided on
 * every node alike.  -EAGAIN (err: "changed since it was read") when
 * someone wrote path after that version; nothing is written then.
 */
int ctf_write_atomic_if(const char *path, const char *data, size_t len, uint64_t replaces,
                        char *err, size_t errlen);

/*
 * Write c as CT id's config on this node (atomically).  excl: the config
 * must not exist yet (created with O_EXCL, so pmxcfs refuses an id that
 * is registered anywhere in the cluster): -EEXIST.
 */
int ctf_save(long id, const struct ctc_conf *c, bool excl, char *err, size_t errlen);
/*
 * Replace CT id's config on this node with c only if pmxcfs still has it
 * at version replaces (0: unconditionally; see ctf_write_atomic_if):
 * -EAGAIN when someone wrote it since.
 */
int ctf_save_if(long id, const struct ctc_conf *c, uint64_t replaces, char *err, size_t errlen);

/*
 * Load CT id's config from this node (lenient; warnings to stderr) with a
 * message naming the owning node when it is elsewhere.
 */
int ctf_load(long id, struct ctc_conf **out, char *err, size_t errlen);

#endif
