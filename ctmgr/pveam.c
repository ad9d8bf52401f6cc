/*
 * pveam.c - the appliance (template) manager: the reference's "list" and
 * "remove", and our "build" (no download server here: templates are made on
 * this host, from its busybox-static or with debootstrap from its Debian
 * mirror).
 *
 *   pveam list <storage>
 *   pveam remove <volid>
 *   pveam build busybox [--storage <storage>]
 *       -> <storage>:vztmpl/busybox.tar.zst (always rebuilt: it takes a second)
 *   pveam build debian-12 [--storage <storage>] [--force]
 *       -> <storage>:vztmpl/debian-12-standard_12.0-1_<arch>.tar.zst (debtpl.h);
 *          an existing one is kept unless --force
 *
 * Environment for debian-12: PVEAM_DEBIAN_MIRROR (default: the host's apt
 * sources), PVEAM_DEBOOTSTRAP_CACHE (default:
 * <storage path>/template/cache/.debootstrap-cache).
 *
 * Exit status 255 on errors.
 */
#include "ctmgr/debtpl.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/storage.h"
#include "ctmgr/template.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_ERR 255

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pveam list <storage>\n"
	        "       pveam remove <volid>\n"
	        "       pveam build busybox [--storage <storage>]\n"
	        "       pveam build debian-12 [--storage <storage>] [--force]\n");
}

static void print_tpl(void *ctx, const char *volid, uint64_t size)
{
	(void)ctx;
	printf("%-60s %10.2fMB\n", volid, (double)size / (1024.0 * 1024.0));
}

static const char *building_volid;

static void starting(const struct debtpl_opts *o)
{
	fprintf(stderr, "building %s with debootstrap from %s (cache %s, log %s)\n", building_volid,
	        o->mirror, o->cache, o->log);
}

/* debian-12: the template is built only when missing (or --force) */
static int build_debian(const char *volid, const char *path, bool force)
{
	char dir[4096], cache[4200], log[4200], err[1024];
	const char *env_cache = getenv("PVEAM_DEBOOTSTRAP_CACHE");
	const char *env_mirror = getenv("PVEAM_DEBIAN_MIRROR");
	struct debtpl_mirrors m;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	snprintf(cache, sizeof(cache), "%s/.debootstrap-cache", dir);
	snprintf(log, sizeof(log), "%s/.pveam-debian-12.log", dir);
	debtpl_find_mirrors("/etc/apt", &m);
	if (env_mirror && env_mirror[0])
		snprintf(m.archive, sizeof(m.archive), "%s", env_mirror);
	struct debtpl_opts o = { .out = path,
		                 .cache = env_cache && env_cache[0] ? env_cache : cache,
		                 .log = log,
		                 .mirror = m.archive,
		                 .security = m.security,
		                 .force = force,
		                 .starting = starting };
	if (!force && access(path, F_OK) == 0) {
		printf("%s\n", volid);
		return 0;
	}
	building_volid = volid;
	int r = debtpl_build(&o, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_ERR;
	}
	printf("%s\n", volid);
	return 0;
}

/* pveam build <busybox|debian-12> [--storage <storage>] [--force] */
static int build(const struct st_cfg *cfg, int argc, char **argv)
{
	const char *what = argv[0], *sid = "local", *name;
	char volid[256], path[4096], err[1024];
	bool force = false;

	if (!strcmp(what, "busybox"))
		name = "busybox.tar.zst";
	else if (!strcmp(what, "debian-12"))
		name = DEBTPL_NAME;
	else {
		fprintf(stderr, "pveam: unknown template '%s' (busybox, debian-12)\n", what);
		return EXIT_ERR;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--storage") && i + 1 < argc) {
			sid = argv[++i];
		} else if (!strcmp(argv[i], "--force")) {
			force = true;
		} else {
			usage(stderr);
			return EXIT_ERR;
		}
	}
	const struct st_store *s = st_find(cfg, sid);
	snprintf(volid, sizeof(volid), "%s:vztmpl/%s", sid, name);
	if (!s || !(s->content & ST_CONTENT_VZTMPL)) {
		fprintf(stderr, "storage '%s' does not exist or holds no templates\n", sid);
		return EXIT_ERR;
	}
	if (st_volid_path(cfg, volid, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_ERR;
	}
	/* <path>/template/cache */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	int e = fsu_mkdirs(dir, 0755);
	if (e) {
		fprintf(stderr, "cannot create '%s': %s\n", dir, strerror(-e));
		return EXIT_ERR;
	}
	if (strcmp(what, "busybox"))
		return build_debian(volid, path, force);
	if (tpl_build_busybox(path, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_ERR;
	}
	printf("%s\n", volid);
	return 0;
}

int main(int argc, char **argv)
{
	char err[1024];
	struct st_cfg *cfg;
	int rc = 0;

	if (argc < 2) {
		usage(stderr);
		return EXIT_ERR;
	}
	if (st_cfg_load_etc(&cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_ERR;
	}
	if (!strcmp(argv[1], "list") && argc == 3) {
		const struct st_store *s = st_find(cfg, argv[2]);
		if (!s || !s->plugin || !(s->content & ST_CONTENT_VZTMPL)) {
			fprintf(stderr, "storage '%s' does not exist or holds no templates\n",
			        argv[2]);
			rc = EXIT_ERR;
		} else {
			printf("%-60s %12s\n", "NAME", "SIZE");
			s->plugin->list(s, ST_V_TEMPLATE, 0, print_tpl, NULL);
		}
	} else if (!strcmp(argv[1], "remove") && argc == 3) {
		const struct st_store *s;
		struct st_vol v;
		if (st_parse_volid(cfg, argv[2], &s, &v, err, sizeof(err)) ||
		    (v.vtype != ST_V_TEMPLATE &&
		     snprintf(err, sizeof(err), "'%s' is not a template", argv[2])) ||
		    s->plugin->free_vol(s, &v, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		}
	} else if (!strcmp(argv[1], "build") && argc >= 3) {
		rc = build(cfg, argc - 2, argv + 2);
	} else {
		usage(stderr);
		rc = EXIT_ERR;
	}
	st_cfg_free(cfg);
	return rc;
}
