/*
 * pveam.c - the appliance (template) manager: the reference's "list" and
 * "remove", and our "build" (no internet here: templates are made from
 * Debian packages on this host).
 *
 *   pveam list <storage>
 *   pveam remove <volid>
 *   pveam build busybox [--storage <storage>]   -> <storage>:vztmpl/busybox.tar.zst
 *
 * Exit status 255 on errors.
 */
#include "ctmgr/fsutil.h"
#include "ctmgr/storage.h"
#include "ctmgr/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_ERR 255

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pveam list <storage>\n"
	        "       pveam remove <volid>\n"
	        "       pveam build busybox [--storage <storage>]\n");
}

static void print_tpl(void *ctx, const char *volid, uint64_t size)
{
	(void)ctx;
	printf("%-60s %10.2fMB\n", volid, (double)size / (1024.0 * 1024.0));
}

int main(int argc, char **argv)
{
	char err[1024], path[4096];
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
	} else if (!strcmp(argv[1], "build") && argc >= 3 && !strcmp(argv[2], "busybox")) {
		const char *sid = argc == 5 && !strcmp(argv[3], "--storage") ? argv[4] : "local";
		const struct st_store *s = st_find(cfg, sid);
		char volid[256];
		snprintf(volid, sizeof(volid), "%s:vztmpl/busybox.tar.zst", sid);
		if (argc != 3 && argc != 5) {
			usage(stderr);
			rc = EXIT_ERR;
		} else if (!s || !(s->content & ST_CONTENT_VZTMPL)) {
			fprintf(stderr, "storage '%s' does not exist or holds no templates\n", sid);
			rc = EXIT_ERR;
		} else if (st_volid_path(cfg, volid, path, sizeof(path), err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		} else {
			/* <path>/template/cache */
			char dir[4096];
			snprintf(dir, sizeof(dir), "%s", path);
			*strrchr(dir, '/') = '\0';
			fsu_mkdirs(dir, 0755);
			if (tpl_build_busybox(path, NULL, err, sizeof(err))) {
				fprintf(stderr, "%s\n", err);
				rc = EXIT_ERR;
			} else {
				printf("%s\n", volid);
			}
		}
	} else {
		usage(stderr);
		rc = EXIT_ERR;
	}
	st_cfg_free(cfg);
	return rc;
}
