/*
 * storage.h - /etc/pve/storage.cfg (the reference's format) and the
 * volumes that container root file systems and mount points live on.
 *
 *   dir: local
 *   	path /var/lib/vz
 *   	content rootdir,vztmpl,images,backup
 *
 * A section "<type>: <id>" followed by indented "key value" lines (a key
 * alone is a flag set to 1).  Storages of a type this version has no
 * plugin for are listed but cannot be used.
 *
 * Volume ids are "<storage>:<volname>".  For a dir storage at PATH:
 *   <vmid>/vm-<vmid>-disk-<n>.raw        PATH/images/<vmid>/...: a raw ext4 image
 *   <vmid>/subvol-<vmid>-disk-<n>.subvol PATH/images/<vmid>/...: a plain directory
 *   vztmpl/<name>.tar[.gz|.xz|.zst]      PATH/template/cache/<name>...
 *   backup/<name>                        PATH/dump/<name>
 *
 * Plugins (struct st_plugin) implement a storage type: only "dir" now;
 * btrfs, LVM-thin and ZFS fit the same interface.
 */
#ifndef CTMGR_STORAGE_H
#define CTMGR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_CONTENT_ROOTDIR 0x1u
#define ST_CONTENT_IMAGES 0x2u
#define ST_CONTENT_VZTMPL 0x4u
#define ST_CONTENT_BACKUP 0x8u
#define ST_CONTENT_ISO 0x10u
#define ST_CONTENT_SNIPPETS 0x20u

struct st_opt {
	char *key, *value;
};

struct st_plugin;

struct st_store {
	char *type, *id;
	struct st_opt *opts; /* in file order */
	size_t nopts;
	const struct st_plugin *plugin; /* NULL: a type this version does not handle */
	unsigned content; /* ST_CONTENT_* */
	bool disabled;
};

struct st_cfg {
	struct st_store *stores;
	size_t n;
};

enum st_vtype { ST_V_IMAGE = 1, ST_V_TEMPLATE, ST_V_BACKUP };

/* A parsed volume name. */
struct st_vol {
	enum st_vtype vtype;
	long vmid; /* images: the owner */
	char name[256]; /* the file or directory name */
	bool subvol; /* images: a directory rather than a raw file */
};

struct st_plugin {
	const char *type;
	/* Check the store's options (e.g. path absolute); 0 or -EINVAL. */
	int (*check)(const struct st_store *s, char *err, size_t errlen);
	/* Host path of a volume. */
	int (*path)(const struct st_store *s, const struct st_vol *v, char *buf, size_t len);
	/*
	 * Allocate a new image for vmid: size_kib > 0 makes a raw ext4 image of
	 * that size, 0 a subvol directory.  The new volume name goes to volname.
	 */
	int (*alloc)(const struct st_store *s, long vmid, uint64_t size_kib, char *volname,
	             size_t len, char *err, size_t errlen);
	int (*free_vol)(const struct st_store *s, const struct st_vol *v, char *err, size_t errlen);
	/* Grow a raw image (and its file system) to size_kib; shrinking is refused. */
	int (*resize)(const struct st_store *s, const struct st_vol *v, uint64_t size_kib,
	              char *err, size_t errlen);
	/* Call fn for each volume of a content type (and vmid, when > 0). */
	int (*list)(const struct st_store *s, enum st_vtype vtype, long vmid,
	            void (*fn)(void *ctx, const char *volname, uint64_t size), void *ctx);
};

/* Parse text; file names the source in messages.  -EINVAL with a message. */
int st_cfg_parse(const char *text, size_t len, const char *file, struct st_cfg **out, char *err,
                 size_t errlen);
/*
 * Load path; a missing file gives the default: dir storage "local" at
 * /var/lib/vz ($PVE_STORAGE_DEFAULT_PATH for tests) for every content type.
 */
int st_cfg_load(const char *path, struct st_cfg **out, char *err, size_t errlen);
/* st_cfg_load of $PVE_ETC/storage.cfg (default /etc/pve). */
int st_cfg_load_etc(struct st_cfg **out, char *err, size_t errlen);
void st_cfg_free(struct st_cfg *c);

const struct st_store *st_find(const struct st_cfg *c, const char *id);
const char *st_opt(const struct st_store *s, const char *key);

/*
 * Split "<storage>:<volname>" and parse the volume name.  -EINVAL with a
 * message for a malformed id; -ENOENT for an unknown or unusable storage.
 */
int st_parse_volid(const struct st_cfg *c, const char *volid, const struct st_store **s,
                   struct st_vol *v, char *err, size_t errlen);
/* The host path of a volume id. */
int st_volid_path(const struct st_cfg *c, const char *volid, char *buf, size_t len, char *err,
                  size_t errlen);

#endif
