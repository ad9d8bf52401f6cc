/*
 * pvesm.c - the storage manager's command line (the subset of the
 * reference's pvesm that pct needs): status, list, alloc, free, path, and
 * our resize.  Reads $PVE_ETC/storage.cfg (default /etc/pve); without one,
 * the default "local" dir storage at /var/lib/vz.  Exit status 255 on errors.
 */
#include "ctmgr/ctfile.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define EXIT_ERR 255

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pvesm status\n"
	    "       pvesm list <storage> [--vmid <id>] [--content images|rootdir|vztmpl|backup]\n"
	    "       pvesm alloc <storage> <vmid> <filename|''> <size> [--format raw|subvol]\n"
	    "       pvesm free <volid>\n"
	    "       pvesm path <volid>\n"
	    "       pvesm resize <volid> <size>     (grow only)\n");
}

static void print_vol(void *ctx, const char *volid, uint64_t size)
{
	(void)ctx;
	const char *slash = strchr(volid, ':');
	const char *fmt = strstr(volid, ".subvol") ? "subvol"
	    : strstr(volid, ".raw")                ? "raw"
	    : strstr(volid, ".tar")                ? "tzst"
	                                           : "-";
	const char *type = strstr(volid, ":vztmpl/") ? "vztmpl"
	    : strstr(volid, ":backup/")              ? "backup"
	                                             : "rootdir";
	long vmid = slash && type[0] == 'r' ? strtol(slash + 1, NULL, 10) : 0;
	if (vmid)
		printf("%-40s %-6s %-8s %12llu %ld\n", volid, fmt, type, (unsigned long long)size,
		       vmid);
	else
		printf("%-40s %-6s %-8s %12llu\n", volid, fmt, type, (unsigned long long)size);
}

/* a size "4G" / "512M" / "100" (GiB when it has no unit, as pct's STORAGE:SIZE) in KiB */
static long long size_kib(const char *s)
{
	long long b = cts_parse_size(s);
	if (b < 0)
		return -1;
	if (strspn(s, "0123456789.") == strlen(s))
		b *= 1024LL * 1024 * 1024;
	return b / 1024;
}

int main(int argc, char **argv)
{
	char err[1024];
	struct st_cfg *cfg;

	if (argc < 2) {
		usage(stderr);
		return EXIT_ERR;
	}
	if (st_cfg_load_etc(&cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_ERR;
	}
	int rc = 0;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "status") && argc == 2) {
		printf("%-16s %-8s %-8s %14s %14s %14s %8s\n", "Name", "Type", "Status", "Total",
		       "Used", "Available", "%");
		for (size_t i = 0; i < cfg->n; i++) {
			const struct st_store *s = &cfg->stores[i];
			struct statvfs v;
			const char *path = st_opt(s, "path");
			if (!s->plugin || s->disabled || !path || statvfs(path, &v) != 0) {
				printf("%-16s %-8s %-8s %14d %14d %14d %7.2f%%\n", s->id, s->type,
				       s->disabled ? "disabled" : "inactive", 0, 0, 0, 0.0);
				continue;
			}
			unsigned long long tot = (unsigned long long)v.f_blocks * v.f_frsize / 1024;
			unsigned long long av = (unsigned long long)v.f_bavail * v.f_frsize / 1024;
			unsigned long long used =
			    tot - (unsigned long long)v.f_bfree * v.f_frsize / 1024;
			printf("%-16s %-8s %-8s %14llu %14llu %14llu %7.2f%%\n", s->id, s->type,
			       "active", tot, used, av,
			       tot ? 100.0 * (double)used / (double)tot : 0.0);
		}
	} else if (!strcmp(cmd, "list") && argc >= 3) {
		const struct st_store *s = st_find(cfg, argv[2]);
		long vmid = 0;
		enum st_vtype vt = 0;
		for (int i = 3; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--vmid"))
				vmid = ctf_parse_id(argv[i + 1]);
			else if (!strcmp(argv[i], "--content"))
				vt = !strcmp(argv[i + 1], "vztmpl")  ? ST_V_TEMPLATE
				    : !strcmp(argv[i + 1], "backup") ? ST_V_BACKUP
				                                     : ST_V_IMAGE;
		}
		if (!s || !s->plugin) {
			fprintf(stderr, "storage '%s' does not exist or is not usable here\n",
			        argv[2]);
			rc = EXIT_ERR;
		} else {
			printf("%-40s %-6s %-8s %12s %s\n", "Volid", "Format", "Type", "Size",
			       "VMID");
			for (int t = ST_V_IMAGE; t <= ST_V_BACKUP; t++)
				if (!vt || vt == (enum st_vtype)t)
					s->plugin->list(s, t, vmid, print_vol, NULL);
		}
	} else if (!strcmp(cmd, "alloc") && argc >= 6) {
		const struct st_store *s = st_find(cfg, argv[2]);
		long vmid = ctf_parse_id(argv[3]);
		bool subvol =
		    argc >= 8 && !strcmp(argv[6], "--format") && !strcmp(argv[7], "subvol");
		long long kib = subvol ? 0 : size_kib(argv[5]);
		char vol[512];
		if (!s || !s->plugin || s->disabled) {
			fprintf(stderr, "storage '%s' does not exist or is not usable here\n",
			        argv[2]);
			rc = EXIT_ERR;
		} else if (vmid < 0 || (!subvol && kib <= 0)) {
			fprintf(stderr, "invalid vmid '%s' or size '%s'\n", argv[3], argv[5]);
			rc = EXIT_ERR;
		} else if (argv[4][0]) {
			fprintf(stderr, "pvesm alloc: only automatic names ('') are supported\n");
			rc = EXIT_ERR;
		} else if (s->plugin->alloc(s, vmid, (uint64_t)kib, vol, sizeof(vol), err,
		                            sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		} else {
			printf("successfully created '%s:%s'\n", s->id, vol);
		}
	} else if ((!strcmp(cmd, "free") || !strcmp(cmd, "path")) && argc == 3) {
		const struct st_store *s;
		struct st_vol v;
		char path[4096];
		if (st_parse_volid(cfg, argv[2], &s, &v, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		} else if (cmd[0] == 'p') {
			s->plugin->path(s, &v, path, sizeof(path));
			printf("%s\n", path);
		} else if (s->plugin->free_vol(s, &v, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		}
	} else if (!strcmp(cmd, "resize") && argc == 4) {
		const struct st_store *s;
		struct st_vol v;
		long long kib = size_kib(argv[3]);
		if (st_parse_volid(cfg, argv[2], &s, &v, err, sizeof(err)) ||
		    (kib <= 0 && snprintf(err, sizeof(err), "invalid size '%s'", argv[3])) ||
		    s->plugin->resize(s, &v, (uint64_t)kib, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = EXIT_ERR;
		}
	} else {
		usage(stderr);
		rc = EXIT_ERR;
	}
	st_cfg_free(cfg);
	return rc;
}
