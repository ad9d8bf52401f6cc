/*
 * storage.c - storage.cfg and the dir storage plugin; see storage.h.
 */
#include "ctmgr/storage.h"
#include "ctmgr/ctfile.h"
#include "ctmgr/fsutil.h"
#include "pmxcfs/sbuf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct st_plugin dir_plugin;
static const struct st_plugin *const plugins[] = { &dir_plugin };

static const struct {
	const char *name;
	unsigned bit;
} contents[] = {
	{ "rootdir", ST_CONTENT_ROOTDIR }, { "images", ST_CONTENT_IMAGES },
	{ "vztmpl", ST_CONTENT_VZTMPL },   { "backup", ST_CONTENT_BACKUP },
	{ "iso", ST_CONTENT_ISO },         { "snippets", ST_CONTENT_SNIPPETS },
};

/* ---- storage.cfg ---- */

static void store_clear(struct st_store *s)
{
	free(s->type);
	free(s->id);
	for (size_t i = 0; i < s->nopts; i++) {
		free(s->opts[i].key);
		free(s->opts[i].value);
	}
	free(s->opts);
}

void st_cfg_free(struct st_cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		store_clear(&c->stores[i]);
	free(c->stores);
	free(c);
}

const struct st_store *st_find(const struct st_cfg *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->stores[i].id, id))
			return &c->stores[i];
	return NULL;
}

const char *st_opt(const struct st_store *s, const char *key)
{
	for (size_t i = 0; i < s->nopts; i++)
		if (!strcmp(s->opts[i].key, key))
			return s->opts[i].value;
	return NULL;
}

static bool storage_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 2 || n > 64 || !isalpha((unsigned char)id[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("-_.", id[i]))
			return false;
	return true;
}

/* content, disable and the plugin's own check */
static int finish_store(struct st_store *s, const char *file, unsigned line, char *err,
                        size_t errlen)
{
	const char *content = st_opt(s, "content");
	for (const char *p = content ? content : ""; *p;) {
		size_t n = strcspn(p, ",");
		bool known = false;
		for (size_t i = 0; i < N_ELEM(contents); i++)
			if (strlen(contents[i].name) == n && !strncmp(p, contents[i].name, n)) {
				s->content |= contents[i].bit;
				known = true;
			}
		if (n && !known && strncmp(p, "none", n)) {
			snprintf(err, errlen,
			         "%s line %u: storage '%s': unknown content type '%.*s'", file,
			         line, s->id, (int)n, p);
			return -EINVAL;
		}
		p += n + (p[n] == ',');
	}
	const char *d = st_opt(s, "disable");
	s->disabled = d && strcmp(d, "0");
	for (size_t i = 0; i < N_ELEM(plugins); i++)
		if (!strcmp(plugins[i]->type, s->type))
			s->plugin = plugins[i];
	char msg[256];
	if (s->plugin && s->plugin->check(s, msg, sizeof(msg))) {
		snprintf(err, errlen, "%s line %u: storage '%s': %s", file, line, s->id, msg);
		return -EINVAL;
	}
	return 0;
}

int st_cfg_parse(const char *text, size_t len, const char *file, struct st_cfg **out, char *err,
                 size_t errlen)
{
	struct st_cfg *c = calloc(1, sizeof(*c));
	struct st_store *cur = NULL;
	unsigned lineno = 0, cur_line = 0;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	for (size_t off = 0; off < len && !rc;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *line = strndup(text + off, n);
		off += n + 1;
		lineno++;
		if (!line) {
			rc = -ENOMEM;
			break;
		}
		size_t l = strlen(line);
		while (l && isspace((unsigned char)line[l - 1]))
			line[--l] = '\0';
		bool indented = line[0] == ' ' || line[0] == '\t';
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#') {
			free(line);
			continue;
		}
		if (!indented) {
			/* "<type>: <id>" */
			char *colon = strchr(p, ':');
			char *id = colon ? colon + 1 + strspn(colon + 1, " \t") : NULL;
			if (!colon || colon == p || !storage_id_ok(id)) {
				snprintf(
				    err, errlen,
				    "%s line %u: expected '<type>: <storage id>' (an id of 2..64 "
				    "letters, digits, '-', '_', '.', starting with a letter)",
				    file, lineno);
				rc = -EINVAL;
			} else if (cur && (rc = finish_store(cur, file, cur_line, err, errlen))) {
				/* rc set */
			} else {
				*colon = '\0';
				for (size_t i = 0; i < c->n; i++)
					if (!strcmp(c->stores[i].id, id)) {
						snprintf(err, errlen,
						         "%s line %u: storage '%s' defined twice",
						         file, lineno, id);
						rc = -EINVAL;
					}
				struct st_store *ns =
				    rc ? NULL : realloc(c->stores, (c->n + 1) * sizeof(*ns));
				if (!rc && !ns)
					rc = -ENOMEM;
				if (!rc) {
					c->stores = ns;
					cur = &c->stores[c->n++];
					memset(cur, 0, sizeof(*cur));
					cur->type = strdup(p);
					cur->id = strdup(id);
					cur_line = lineno;
					if (!cur->type || !cur->id)
						rc = -ENOMEM;
				}
			}
		} else if (!cur) {
			snprintf(err, errlen, "%s line %u: an option outside of a storage section",
			         file, lineno);
			rc = -EINVAL;
		} else {
			size_t kl = strcspn(p, " \t");
			char *v = p + kl + strspn(p + kl, " \t");
			p[kl] = '\0';
			if (st_opt(cur, p)) {
				snprintf(err, errlen,
				         "%s line %u: storage '%s': option '%s' given twice", file,
				         lineno, cur->id, p);
				rc = -EINVAL;
			} else {
				struct st_opt *no =
				    realloc(cur->opts, (cur->nopts + 1) * sizeof(*no));
				if (!no) {
					rc = -ENOMEM;
				} else {
					cur->opts = no;
					no[cur->nopts].key = strdup(p);
					no[cur->nopts].value = strdup(*v ? v : "1"); /* a flag */
					cur->nopts++;
				}
			}
		}
		free(line);
	}
	if (!rc && cur)
		rc = finish_store(cur, file, cur_line, err, errlen);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", file);
		st_cfg_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int st_cfg_load(const char *path, struct st_cfg **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT) {
		const char *def = getenv("PVE_STORAGE_DEFAULT_PATH");
		char text[512];
		int n =
		    snprintf(text, sizeof(text),
		             "dir: local\n\tpath %s\n\tcontent rootdir,images,vztmpl,backup,iso,"
		             "snippets\n",
		             def && def[0] ? def : "/var/lib/vz");
		return st_cfg_parse(text, (size_t)n, "(default storage.cfg)", out, err, errlen);
	}
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct sbuf sb = SBUF_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && sb.len < 1024 * 1024)
		sbuf_add(&sb, buf, n);
	fclose(f);
	if (sb.oom) {
		sbuf_release(&sb);
		return -ENOMEM;
	}
	int rc = st_cfg_parse(sb.buf ? sb.buf : "", sb.len, path, out, err, errlen);
	sbuf_release(&sb);
	return rc;
}

int st_cfg_load_etc(struct st_cfg **out, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/storage.cfg", ctf_root());
	return st_cfg_load(path, out, err, errlen);
}

/* ---- volume ids ---- */

static bool safe_name(const char *n)
{
	if (!n[0] || !strcmp(n, ".") || !strcmp(n, "..") || strlen(n) > 200)
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.+", *p))
			return false;
	return true;
}

/* "vm-<vmid>-disk-<n>.raw" or "subvol-<vmid>-disk-<n>.subvol" */
static bool image_name_ok(const char *name, long vmid, bool *subvol)
{
	char prefix[64];
	for (int sub = 0; sub < 2; sub++) {
		snprintf(prefix, sizeof(prefix), "%s-%ld-disk-", sub ? "subvol" : "vm", vmid);
		size_t pl = strlen(prefix);
		if (strncmp(name, prefix, pl) != 0)
			continue;
		const char *num = name + pl, *ext = sub ? ".subvol" : ".raw";
		size_t d = strspn(num, "0123456789");
		if (d == 0 || d > 4 || (num[0] == '0' && d > 1) || strcmp(num + d, ext) != 0)
			return false;
		*subvol = sub;
		return true;
	}
	return false;
}

int st_parse_volid(const struct st_cfg *c, const char *volid, const struct st_store **sp,
                   struct st_vol *v, char *err, size_t errlen)
{
	char sid[80];
	const char *colon = strchr(volid, ':');
	memset(v, 0, sizeof(*v));
	if (!colon || colon == volid || (size_t)(colon - volid) >= sizeof(sid)) {
		snprintf(err, errlen, "unable to parse volume ID '%s'", volid);
		return -EINVAL;
	}
	memcpy(sid, volid, (size_t)(colon - volid));
	sid[colon - volid] = '\0';
	const struct st_store *s = st_find(c, sid);
	if (!s) {
		snprintf(err, errlen, "storage '%s' does not exist", sid);
		return -ENOENT;
	}
	if (!s->plugin) {
		snprintf(err, errlen, "storage '%s': type '%s' is not supported here", sid,
		         s->type);
		return -ENOENT;
	}
	if (s->disabled) {
		snprintf(err, errlen, "storage '%s' is disabled", sid);
		return -ENOENT;
	}
	const char *vn = colon + 1;
	if (!strncmp(vn, "vztmpl/", 7) && safe_name(vn + 7) && strstr(vn + 7, ".tar")) {
		v->vtype = ST_V_TEMPLATE;
		snprintf(v->name, sizeof(v->name), "%s", vn + 7);
	} else if (!strncmp(vn, "backup/", 7) && safe_name(vn + 7)) {
		v->vtype = ST_V_BACKUP;
		snprintf(v->name, sizeof(v->name), "%s", vn + 7);
	} else {
		char *end;
		long vmid = strtol(vn, &end, 10);
		if (end == vn || *end != '/' || vmid < 100 ||
		    !image_name_ok(end + 1, vmid, &v->subvol)) {
			snprintf(err, errlen,
			         "unable to parse volume name '%s' (expected "
			         "<vmid>/vm-<vmid>-disk-<n>.raw, "
			         "<vmid>/subvol-<vmid>-disk-<n>.subvol, vztmpl/<name>.tar.* or "
			         "backup/<name>)",
			         vn);
			return -EINVAL;
		}
		v->vtype = ST_V_IMAGE;
		v->vmid = vmid;
		snprintf(v->name, sizeof(v->name), "%s", end + 1);
	}
	if (sp)
		*sp = s;
	return 0;
}

int st_volid_path(const struct st_cfg *c, const char *volid, char *buf, size_t len, char *err,
                  size_t errlen)
{
	const struct st_store *s;
	struct st_vol v;
	int e = st_parse_volid(c, volid, &s, &v, err, errlen);
	if (e)
		return e;
	return s->plugin->path(s, &v, buf, len);
}

/* ---- the dir plugin ---- */

static int dir_check(const struct st_store *s, char *err, size_t errlen)
{
	const char *p = st_opt(s, "path");
	if (!p || p[0] != '/') {
		snprintf(err, errlen, "a dir storage needs an absolute 'path'");
		return -EINVAL;
	}
	return 0;
}

static int dir_path(const struct st_store *s, const struct st_vol *v, char *buf, size_t len)
{
	const char *base = st_opt(s, "path");
	int n;
	switch (v->vtype) {
	case ST_V_IMAGE:
		n = snprintf(buf, len, "%s/images/%ld/%s", base, v->vmid, v->name);
		break;
	case ST_V_TEMPLATE:
		n = snprintf(buf, len, "%s/template/cache/%s", base, v->name);
		break;
	case ST_V_BACKUP:
		n = snprintf(buf, len, "%s/dump/%s", base, v->name);
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int dir_alloc(const struct st_store *s, long vmid, uint64_t size_kib, char *volname,
                     size_t len, char *err, size_t errlen)
{
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/images/%ld", st_opt(s, "path"), vmid);
	int e = fsu_mkdirs(dir, 0755);
	if (e) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-e));
		return e;
	}
	bool subvol = size_kib == 0;
	for (int n = 0; n < 1000; n++) {
		/* a number is free when neither kind of image uses it */
		struct stat st;
		snprintf(path, sizeof(path), "%s/vm-%ld-disk-%d.raw", dir, vmid, n);
		if (lstat(path, &st) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/subvol-%ld-disk-%d.subvol", dir, vmid, n);
		if (lstat(path, &st) == 0)
			continue;
		if (subvol) {
			if (mkdir(path, 0755) != 0) {
				if (errno == EEXIST)
					continue;
				snprintf(err, errlen, "cannot create %s: %s", path,
				         strerror(errno));
				return -errno;
			}
		} else {
			snprintf(path, sizeof(path), "%s/vm-%ld-disk-%d.raw", dir, vmid, n);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0) {
				if (errno == EEXIST)
					continue;
				snprintf(err, errlen, "cannot create %s: %s", path,
				         strerror(errno));
				return -errno;
			}
			/* sparse; a full disk shows when the file system is written */
			int te = ftruncate(fd, (off_t)(size_kib * 1024)) ? errno : 0;
			close(fd);
			const char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-E",
				               "nodiscard", path, NULL };
			char msg[512];
			if (te) {
				snprintf(err, errlen, "cannot size %s: %s", path, strerror(te));
				unlink(path);
				rmdir(dir); /* when it was the CT's only volume */
				return -te;
			}
			if ((e = fsu_run(mkfs, msg, sizeof(msg)))) {
				snprintf(err, errlen, "cannot make a file system on %s: %s", path,
				         msg);
				unlink(path);
				rmdir(dir);
				return e;
			}
		}
		snprintf(volname, len, "%ld/%s-%ld-disk-%d.%s", vmid, subvol ? "subvol" : "vm",
		         vmid, n, subvol ? "subvol" : "raw");
		return 0;
	}
	snprintf(err, errlen, "no free disk name for CT %ld in %s", vmid, dir);
	return -ENOSPC;
}

static int dir_free(const struct st_store *s, const struct st_vol *v, char *err, size_t errlen)
{
	char path[4096];
	int e = dir_path(s, v, path, sizeof(path));
	if (e)
		return e;
	if (v->vtype == ST_V_IMAGE && v->subvol)
		e = fsu_rm_rf(path);
	else
		e = unlink(path) ? -errno : 0;
	if (e) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(-e));
		return e;
	}
	if (v->vtype == ST_V_IMAGE) {
		/* the CT's image directory goes with its last volume */
		char *slash = strrchr(path, '/');
		*slash = '\0';
		rmdir(path);
	}
	return 0;
}

static int dir_resize(const struct st_store *s, const struct st_vol *v, uint64_t size_kib,
                      char *err, size_t errlen)
{
	char path[4096], msg[512];
	struct stat st;
	int e = dir_path(s, v, path, sizeof(path));
	if (e)
		return e;
	if (v->vtype != ST_V_IMAGE || v->subvol) {
		snprintf(err, errlen, "only raw images can be resized (a directory has no size)");
		return -EINVAL;
	}
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if ((uint64_t)st.st_size > size_kib * 1024) {
		snprintf(err, errlen, "shrinking disks is not supported (%lld K to %llu K)",
		         (long long)st.st_size / 1024, (unsigned long long)size_kib);
		return -EINVAL;
	}
	/* check the file system first: a failed check leaves the image as it was */
	const char *fsck[] = { "e2fsck", "-f", "-y", path, NULL };
	const char *grow[] = { "resize2fs", "-f", path, NULL };
	if ((e = fsu_run(fsck, msg, sizeof(msg)))) {
		snprintf(err, errlen, "cannot check the file system of %s: %s", path, msg);
		return e;
	}
	if (truncate(path, (off_t)(size_kib * 1024)) != 0) {
		snprintf(err, errlen, "cannot grow %s: %s", path, strerror(errno));
		return -errno;
	}
	if ((e = fsu_run(grow, msg, sizeof(msg)))) {
		if (truncate(path, st.st_size) != 0) /* back to what it was */
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			         "; and the image stays at the new size");
		snprintf(err, errlen, "cannot grow the file system of %s: %s", path, msg);
		return e;
	}
	return 0;
}

static int dir_list(const struct st_store *s, enum st_vtype vtype, long vmid,
                    void (*fn)(void *ctx, const char *volname, uint64_t size), void *ctx)
{
	char dir[4096], vol[4800], path[4800];
	const char *base = st_opt(s, "path");
	struct stat st;

	if (vtype == ST_V_TEMPLATE || vtype == ST_V_BACKUP) {
		snprintf(dir, sizeof(dir), "%s/%s", base,
		         vtype == ST_V_TEMPLATE ? "template/cache" : "dump");
		DIR *d = opendir(dir);
		if (!d)
			return errno == ENOENT ? 0 : -errno;
		for (struct dirent *e; (e = readdir(d));) {
			if (!safe_name(e->d_name) ||
			    (vtype == ST_V_TEMPLATE && !strstr(e->d_name, ".tar")))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (stat(path, &st) || !S_ISREG(st.st_mode))
				continue;
			snprintf(vol, sizeof(vol), "%s:%s/%s", s->id,
			         vtype == ST_V_TEMPLATE ? "vztmpl" : "backup", e->d_name);
			fn(ctx, vol, (uint64_t)st.st_size);
		}
		closedir(d);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/images", base);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long id = strtol(e->d_name, &end, 10);
		if (*end || id < 100 || (vmid > 0 && id != vmid))
			continue;
		char sub[4400];
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		DIR *d2 = opendir(sub);
		if (!d2)
			continue;
		for (struct dirent *f; (f = readdir(d2));) {
			bool subvol;
			if (!image_name_ok(f->d_name, id, &subvol))
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
			if (stat(path, &st))
				continue;
			snprintf(vol, sizeof(vol), "%s:%ld/%s", s->id, id, f->d_name);
			fn(ctx, vol, subvol ? 0 : (uint64_t)st.st_size);
		}
		closedir(d2);
	}
	closedir(d);
	return 0;
}

static const struct st_plugin dir_plugin = {
	.type = "dir",
	.check = dir_check,
	.path = dir_path,
	.alloc = dir_alloc,
	.free_vol = dir_free,
	.resize = dir_resize,
	.list = dir_list,
};
