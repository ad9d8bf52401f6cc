/*
 * pct_create.c - pct create and pct destroy.
 *
 * create: every option is checked before anything is written; then the
 * config is created (O_EXCL, so pmxcfs refuses an id registered anywhere in
 * the cluster) holding "lock: create", the volumes are allocated and
 * recorded in it one by one, the template is unpacked in a child that has
 * the volumes mounted in a private mount namespace (and dies with pct), and
 * the lock goes last.  A failure undoes all of it; a crash leaves the config
 * with "lock: create" and the volumes it names, which `pct destroy --force`
 * removes.
 *
 * destroy: refuses a protected, locked (without --force) or running
 * (without --force) container; frees the volumes the config names and any
 * other volume of the id on the storages, then removes the config.
 */
#include "ctmgr/ctfile.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/guest.h"
#include "ctmgr/lxcgen.h"
#include "ctmgr/pct.h"
#include "ctmgr/storage.h"
#include "ctmgr/template.h"
#include "pmxcfs/sbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROOTFS_GIB "4"

/* "STORAGE:GiB" (a new volume) -> its parts; false for an existing volume id or path */
static bool new_volume_spec(const char *vol, char *store, size_t slen, double *gib)
{
	const char *colon = strchr(vol, ':');
	char *end;
	if (!colon || colon == vol || (size_t)(colon - vol) >= slen)
		return false;
	const char *num = colon + 1;
	if (!num[0] || strspn(num, "0123456789.") != strlen(num))
		return false;
	*gib = strtod(num, &end);
	if (*end || *gib < 0)
		return false;
	snprintf(store, slen, "%.*s", (int)(colon - vol), vol);
	return true;
}

/* Another guest with this id anywhere in the cluster: a message, else 0. */
static int id_taken(long id, char *err, size_t errlen)
{
	char node[256], path[4096];
	int where = ctf_locate(id, node, sizeof(node));
	if (where == 0) {
		snprintf(err, errlen, "CT %ld already exists on this node", id);
		return -EEXIST;
	}
	if (where == -EREMOTE) {
		snprintf(err, errlen, "CT %ld already exists on node '%s'", id, node);
		return -EEXIST;
	}
	snprintf(path, sizeof(path), "%s/nodes", ctf_root());
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/nodes/%s/qemu-server/%ld.conf", ctf_root(),
		         e->d_name, id);
		if (stat(path, &st) == 0) {
			snprintf(err, errlen, "VM %ld already exists on node '%s'", id, e->d_name);
			closedir(d);
			return -EEXIST;
		}
	}
	if (d)
		closedir(d);
	return 0;
}

/* A MAC address in the reference's range (BC:24:11 + 3 random bytes). */
static void random_mac(char *buf, size_t len)
{
	unsigned char r[3] = { 0 };
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
		memcpy(r, &v, sizeof(r));
	}
	snprintf(buf, len, "BC:24:11:%02X:%02X:%02X", r[0], r[1], r[2]);
}

/* Add hwaddr= to every netN that has none. */
static int add_macs(struct ctc_conf *c, char *err, size_t errlen)
{
	for (int n = 0; n < 32; n++) {
		char key[16], mac[32], v[1100];
		snprintf(key, sizeof(key), "net%d", n);
		const char *val = ctc_get(&c->main, key);
		if (!val || cts_prop_get(val, NULL, "hwaddr", mac, sizeof(mac)) == 1)
			continue;
		random_mac(mac, sizeof(mac));
		snprintf(v, sizeof(v), "%s,hwaddr=%s", val, mac);
		if (ctc_set(&c->main, key, v, err, errlen))
			return -EINVAL;
	}
	return 0;
}

/* A small text file (SSH public keys), or NULL with the reason. */
static char *read_text(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct sbuf b = SBUF_INIT;
	char buf[4096];
	size_t r;
	if (!f) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	while ((r = fread(buf, 1, sizeof(buf), f)) > 0 && b.len < 1024 * 1024)
		sbuf_add(&b, buf, r);
	fclose(f);
	sbuf_add(&b, "", 0);
	char *text = sbuf_detach(&b, NULL);
	if (!text)
		snprintf(err, errlen, "out of memory");
	return text;
}

/* What pct create passes to the guest set-up. */
struct create_secrets {
	const char *password; /* NULL: locked */
	char *ssh_keys; /* the file's text, NULL: none */
};

/* Detect the distribution of the unpacked root and write its files (a create's set-up). */
static void post_create(const struct ctc_conf *c, const char *root,
                        const struct create_secrets *sec, char *os, size_t oslen, char *err,
                        size_t errlen)
{
	struct guest g;
	memset(&g, 0, sizeof(g));
	int rc = guest_open(&g, root, c);
	if (rc == 0)
		rc = guest_post_create(&g, sec->password, sec->ssh_keys);
	if (rc)
		snprintf(err, errlen, "guest set-up failed: %.900s",
		         g.err[0] ? g.err : strerror(-rc));
	else /* "<ostype> <arch>" */
		snprintf(os, oslen, "%s %s", g.ostype, g.arch[0] ? g.arch : "-");
	guest_close(&g);
}

/*
 * Unpack the template into c's volumes: a child mounts them in a private
 * mount namespace (gone when it exits or pct dies) and writes the detected
 * distribution back.
 */
static int unpack(const struct ctc_conf *c, long id, const struct st_cfg *st, const char *tmpl,
                  const struct create_secrets *sec, char *ostype, size_t oslen, char *err,
                  size_t errlen)
{
	int pfd;
	pid_t pid = fsu_fork_piped(&pfd, err, errlen);
	if (pid < 0)
		return -EAGAIN;
	if (pid == 0) {
		char e[1024] = "", os[64] = "", root[4096];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(9);
		ctr_rootdir(id, root, sizeof(root));
		uid_t uid;
		gid_t gid;
		ctr_root_owner(c, &uid, &gid);
		unsigned ub, gb, cnt;
		lxg_idmap(c, &ub, &gb, &cnt);
		struct tpl_idmap map = { ub, gb, cnt };
		if (ctr_private_mounts(e, sizeof(e)) == 0 &&
		    ctr_mount_volumes(c, id, st, false, e, sizeof(e)) == 0) {
			if (chown(root, uid, gid) != 0)
				snprintf(e, sizeof(e), "cannot chown %.900s: %s", root,
				         strerror(errno));
			else if (tpl_extract(tmpl, root, &map, e, sizeof(e)) == 0)
				post_create(c, root, sec, os, sizeof(os), e, sizeof(e));
			const char *pause = getenv("PCT_TEST_CREATE_PAUSE"); /* crash tests */
			if (pause && atoi(pause) > 0)
				sleep((unsigned)atoi(pause));
		}
		if (e[0])
			snprintf(os, sizeof(os), "!");
		dprintf(pfd, "%s\n%s", os, e);
		_exit(e[0] ? 1 : 0);
	}
	char buf[1200];
	int status = fsu_collect(pid, pfd, buf, sizeof(buf));
	char *nl = strchr(buf, '\n');
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !nl) {
		snprintf(err, errlen, "unpacking the template failed: %s",
		         nl && nl[1] ? nl + 1 : "the helper process died");
		return -EIO;
	}
	*nl = '\0';
	snprintf(ostype, oslen, "%.63s", buf);
	return 0;
}

/*
 * Free a volume id when it belongs to CT id (its name says so: another
 * container's volume named in this config is left alone, as host paths).
 */
static void free_volume(const struct st_cfg *st, const char *volid, long id, bool quiet)
{
	const struct st_store *s;
	struct st_vol v;
	char err[1024];
	if (volid[0] == '/' || st_parse_volid(st, volid, &s, &v, err, sizeof(err)) ||
	    v.vtype != ST_V_IMAGE || v.vmid != id)
		return;
	if (s->plugin->free_vol(s, &v, err, sizeof(err)) && !quiet)
		fprintf(stderr, "warning: %s\n", err);
}

/* Free every storage volume of CT id that c names (rootfs, mpN, unusedN). */
static void free_conf_volumes(const struct ctc_conf *c, const struct st_cfg *st, long id)
{
	for (size_t i = 0; i < c->main.nkeys; i++) {
		const char *k = c->main.keys[i].key;
		char vol[1024];
		if (strcmp(k, "rootfs") != 0 && strncmp(k, "mp", 2) != 0 &&
		    strncmp(k, "unused", 6) != 0)
			continue;
		if (cts_prop_get(c->main.keys[i].value, "volume", "volume", vol, sizeof(vol)) == 1)
			free_volume(st, vol, id, false);
	}
}

struct volctx {
	const struct st_store *s;
	long vmid;
};

static void free_listed(void *ctx, const char *volname, uint64_t size)
{
	struct volctx *v = ctx;
	struct st_vol vol;
	char err[512];
	(void)size;
	memset(&vol, 0, sizeof(vol));
	vol.vtype = ST_V_IMAGE;
	vol.vmid = v->vmid;
	const char *slash = strrchr(volname, '/');
	snprintf(vol.name, sizeof(vol.name), "%s", slash ? slash + 1 : volname);
	size_t l = strlen(vol.name);
	vol.subvol = l > 7 && !strcmp(vol.name + l - 7, ".subvol");
	if (v->s->plugin->free_vol(v->s, &vol, err, sizeof(err)))
		fprintf(stderr, "warning: %s\n", err);
}

/* Any volume of vmid left on any storage (a crash between alloc and save). */
static void free_orphans(const struct st_cfg *st, long vmid)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct st_store *s = &st->stores[i];
		struct volctx ctx = { s, vmid };
		if (!s->plugin || s->disabled ||
		    !(s->content & (ST_CONTENT_ROOTDIR | ST_CONTENT_IMAGES)))
			continue;
		s->plugin->list(s, ST_V_IMAGE, vmid, free_listed, &ctx);
	}
}

void pct_free_volid(const struct st_cfg *st, const char *volid)
{
	char e2[256];
	struct st_vol v;
	const struct st_store *s;
	if (st_parse_volid(st, volid, &s, &v, e2, sizeof(e2)) == 0 &&
	    s->plugin->free_vol(s, &v, e2, sizeof(e2)))
		fprintf(stderr, "warning: %s\n", e2);
}

int pct_alloc_volume(struct ctc_section *sec, const struct st_cfg *st, long id, const char *key,
                     char *volid, size_t vlen, char *err, size_t errlen)
{
	const char *val = ctc_get(sec, key);
	char vol[1024], store[128], volname[512], newval[2048];
	double gib;
	if (!val || cts_prop_get(val, "volume", "volume", vol, sizeof(vol)) != 1 ||
	    !new_volume_spec(vol, store, sizeof(store), &gib))
		return 0;
	const struct st_store *s = st_find(st, store);
	if (!s || !s->plugin || s->disabled) {
		snprintf(err, errlen, "%s: storage '%s' does not exist or cannot be used", key,
		         store);
		return -ENOENT;
	}
	if (!(s->content & ST_CONTENT_ROOTDIR)) {
		snprintf(err, errlen, "%s: storage '%s' does not support container directories",
		         key, store);
		return -EINVAL;
	}
	uint64_t kib = (uint64_t)(gib * 1024 + 0.5) * 1024; /* whole MiB */
	if (gib > 0 && kib < 16 * 1024) {
		snprintf(err, errlen, "%s: %s GiB is too small (at least 16 MiB)", key,
		         vol + strlen(store) + 1);
		return -EINVAL;
	}
	if (s->plugin->alloc(s, id, kib, volname, sizeof(volname), err, errlen))
		return -EIO;
	/* the new value: the volume, then the other parts as given, then the size */
	char size[32];
	cts_format_size((long long)kib * 1024, size, sizeof(size));
	const char *rest = strchr(val, ',');
	bool has_size = false;
	for (const char *p = rest; p && *p; p = strchr(p + 1, ','))
		has_size |= !strncmp(p, ",size=", 6);
	snprintf(newval, sizeof(newval), "%s:%s%s%s%s", store, volname, rest ? rest : "",
	         has_size ? "" : ",size=", has_size ? "" : size);
	snprintf(vol, sizeof(vol), "%s:%s", store, volname);
	if (ctc_set(sec, key, newval, err, errlen)) {
		pct_free_volid(st, vol);
		return -EINVAL;
	}
	if (volid)
		snprintf(volid, vlen, "%s", vol);
	return 1;
}

int pct_cmd_create(int argc, char **argv)
{
	char err[2048], path[4096], tmpl[4096], ostype[64];
	const char *storage = "local";
	bool start = false;
	struct st_cfg *st = NULL;
	struct ctc_conf *c = NULL;
	int lockfd = -1, rc = EXIT_ERR;
	bool created = false;
	struct create_secrets sec = { NULL, NULL };

	if (argc < 2)
		return pct_fail("%s", "usage: pct create <vmid> <ostemplate> [--<key> <value>]...");
	long id = pct_vmid(argv[0]);
	if (id < 0)
		return EXIT_ERR;
	ctf_path(id, path, sizeof(path));
	c = ctc_new(path);
	if (!c)
		return pct_fail("%s", "out of memory");
	/* 1. every option, before anything is touched */
	for (int i = 2; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
			pct_fail("pct create: expected --<key> <value>, got '%s'", argv[i]);
			goto out;
		}
		if (i + 1 >= argc) {
			pct_fail("pct create: option '%s' needs a value", argv[i]);
			goto out;
		}
		const char *k = argv[i] + 2, *v = argv[i + 1];
		if (!strcmp(k, "storage")) {
			storage = v;
		} else if (!strcmp(k, "password")) {
			sec.password = v;
		} else if (!strcmp(k, "ssh-public-keys")) {
			free(sec.ssh_keys);
			if (!(sec.ssh_keys = read_text(v, err, sizeof(err)))) {
				pct_fail("--ssh-public-keys: %s", err);
				goto out;
			}
		} else if (!strcmp(k, "start")) {
			start = cts_parse_bool(v) == 1;
		} else if (!cts_lookup(k, NULL) || !strcmp(k, "lock") || !strcmp(k, "parent") ||
		           !strcmp(k, "digest") || !strncmp(k, "unused", 6)) {
			pct_fail(
			    "400 Parameter verification failed.\n%s: property is not defined in "
			    "schema and the schema does not allow additional properties",
			    k);
			goto out;
		} else if (ctc_set(&c->main, k, v, err, sizeof(err))) {
			fprintf(stderr, "400 Parameter verification failed.\n%s\n", err);
			goto out;
		}
	}
	if (!ctc_get(&c->main, "rootfs")) {
		char def[256];
		snprintf(def, sizeof(def), "%s:%s", storage, DEFAULT_ROOTFS_GIB);
		if (ctc_set(&c->main, "rootfs", def, err, sizeof(err))) {
			fprintf(stderr, "400 Parameter verification failed.\n%s\n", err);
			goto out;
		}
	}
	if (add_macs(c, err, sizeof(err))) {
		pct_fail("%s", err);
		goto out;
	}
	if (st_cfg_load_etc(&st, err, sizeof(err))) {
		pct_fail("%s", err);
		goto out;
	}
	/* the template: a volume id or a path */
	const char *t = argv[1];
	if (t[0] == '/') {
		snprintf(tmpl, sizeof(tmpl), "%s", t);
	} else if (st_volid_path(st, t, tmpl, sizeof(tmpl), err, sizeof(err))) {
		pct_fail("template '%s': %s", t, err);
		goto out;
	}
	if (access(tmpl, R_OK) != 0) {
		pct_fail("template '%s' does not exist (%s: %s)", t, tmpl, strerror(errno));
		goto out;
	}
	/* 2. the id: free everywhere, and ours while we work */
	lockfd = ctf_lock(id, pct_lock_timeout(), err, sizeof(err));
	if (lockfd < 0) {
		pct_fail("%s", err);
		goto out;
	}
	if (id_taken(id, err, sizeof(err))) {
		pct_fail("unable to create CT %ld - %s", id, err);
		goto out;
	}
	/* 3. the config, locked, with no volume yet */
	struct ctc_conf *first = ctc_new(path);
	if (!first || ctc_set(&first->main, "lock", "create", err, sizeof(err))) {
		ctc_free(first);
		pct_fail("%s", "out of memory");
		goto out;
	}
	rc = ctf_save(id, first, true, err, sizeof(err));
	ctc_free(first);
	if (rc) {
		rc = EXIT_ERR;
		pct_fail("unable to create CT %ld - %s", id, err);
		goto out;
	}
	rc = EXIT_ERR;
	created = true;
	ctc_set(&c->main, "lock", "create", err, sizeof(err));
	/* 4. volumes, each recorded at once */
	for (int i = -1; i < 256; i++) {
		char key[16];
		if (i < 0)
			snprintf(key, sizeof(key), "rootfs");
		else
			snprintf(key, sizeof(key), "mp%d", i);
		int a = pct_alloc_volume(&c->main, st, id, key, NULL, 0, err, sizeof(err));
		if (a < 0 || (a > 0 && ctf_save(id, c, false, err, sizeof(err)))) {
			pct_fail("unable to create CT %ld - %s", id, err);
			goto undo;
		}
	}
	/* 5. the template */
	if (unpack(c, id, st, tmpl, &sec, ostype, sizeof(ostype), err, sizeof(err))) {
		pct_fail("unable to create CT %ld - %s", id, err);
		goto undo;
	}
	/*
	 * The detected distribution and architecture ("<ostype> <arch>"; the
	 * guest set-up warned about a different configured ostype and used the
	 * detected one) - unless the config asks for an unmanaged guest.
	 */
	char *sp = strchr(ostype, ' ');
	const char *darch = sp && strcmp(sp + 1, "-") != 0 ? sp + 1 : NULL;
	if (sp)
		*sp = '\0';
	const char *given = ctc_get(&c->main, "ostype");
	if (!given && !strcmp(ostype, "unmanaged"))
		fprintf(stderr,
		        "warning: unable to detect the OS distribution - using ostype "
		        "'unmanaged'\n");
	if (!given || strcmp(given, "unmanaged") != 0)
		ctc_set(&c->main, "ostype", ostype, err, sizeof(err));
	if (!ctc_get(&c->main, "arch"))
		ctc_set(&c->main, "arch", darch ? darch : "amd64", err, sizeof(err));
	/* 6. done: the lock goes */
	ctc_delete(&c->main, "lock");
	if (ctc_check(c, err, sizeof(err)) || ctf_save(id, c, false, err, sizeof(err))) {
		pct_fail("unable to create CT %ld - %s", id, err);
		goto undo;
	}
	rc = 0;
	created = false;
	if (start) {
		struct pct_ct ct = { id, lockfd, c };
		rc = pct_start_ct(&ct);
	}
	goto out;
undo:
	free_conf_volumes(c, st, id);
	free_orphans(st, id);
out:
	if (created) {
		unlink(path);
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/%ld", ctr_lxcpath(), id);
		fsu_rm_rf(dir);
	}
	if (lockfd >= 0)
		close(lockfd);
	st_cfg_free(st);
	ctc_free(c);
	free(sec.ssh_keys);
	return rc;
}

int pct_cmd_destroy(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024], dir[4096], path[4096];
	struct st_cfg *st = NULL;
	bool purge = false, force = false;

	if (argc < 1)
		return pct_fail("%s", "usage: pct destroy <vmid> [--purge] [--force]");
	for (int i = 1; i < argc; i++) {
		bool *flag = !strcmp(argv[i], "--purge") ? &purge
		    : !strcmp(argv[i], "--force")        ? &force
		                                         : NULL;
		if (!flag)
			return pct_fail("pct destroy: unknown option '%s'", argv[i]);
		*flag = true;
		if (i + 1 < argc && cts_parse_bool(argv[i + 1]) >= 0)
			*flag = cts_parse_bool(argv[++i]) == 1;
	}
	if (pct_open(argv[0], &ct))
		return EXIT_ERR;
	int rc = EXIT_ERR;
	const char *prot = ctc_get(&ct.c->main, "protection");
	if (prot && cts_parse_bool(prot) == 1) {
		pct_fail("can't remove CT %ld - protection mode enabled", ct.id);
		goto out;
	}
	const char *lock = ctc_get(&ct.c->main, "lock");
	if (lock && !force) {
		pct_fail("CT is locked (%s) - use --force to destroy it anyway", lock);
		goto out;
	}
	if (ctr_state(ct.id, NULL) != CTR_STOPPED) {
		if (!force) {
			pct_fail("unable to destroy CT %ld - container is running", ct.id);
			goto out;
		}
		if (ctr_stop(ct.id, true, 0, err, sizeof(err))) {
			pct_fail("unable to destroy CT %ld - %s", ct.id, err);
			goto out;
		}
	}
	if (st_cfg_load_etc(&st, err, sizeof(err))) {
		pct_fail("%s", err);
		goto out;
	}
	if (ctr_unmount_volumes(ct.id, err, sizeof(err))) {
		pct_fail("unable to destroy CT %ld - %s", ct.id, err);
		goto out;
	}
	if (pct_set_lock(&ct, "destroyed"))
		goto out;
	free_conf_volumes(ct.c, st, ct.id);
	free_orphans(st, ct.id);
	ctf_path(ct.id, path, sizeof(path));
	if (unlink(path) != 0) {
		pct_fail("cannot remove %s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/%ld", ctr_lxcpath(), ct.id);
	fsu_rm_rf(dir);
	if (purge) {
		snprintf(path, sizeof(path), "%s/firewall/%ld.fw", ctf_root(), ct.id);
		if (unlink(path) != 0 && errno != ENOENT)
			fprintf(stderr, "warning: cannot remove %s: %s\n", path, strerror(errno));
	}
	rc = 0;
out:
	st_cfg_free(st);
	pct_close(&ct);
	return rc;
}
