/*
 * pct_guest_setup.c - the guest set-up on a plain directory, for tests and
 * for repairing a rootfs by hand (pct create and pct start call the same
 * code, ctmgr/guest.c):
 *
 *   pct-guest-setup --rootfs DIR --conf FILE [--post-create] [--password PW]
 *                   [--ssh-keys FILE] [--seed N] [--host-resolv FILE]
 *   pct-guest-setup --rootfs DIR [--conf FILE] --detect
 *
 * Without --post-create it writes what every start writes; with it, what a
 * create writes.  --seed N makes the output deterministic: crontab minutes
 * from srand48(N), UUIDs all zero, no SSH host keys.  --host-resolv names
 * the resolv.conf used when the config has no nameserver/searchdomain
 * (default: the host's /etc/resolv.conf).  --detect prints
 * "<ostype> <version> <arch>" of the rootfs.  Exit 0, or 255 with the
 * reason on stderr.
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr,
	        "usage: pct-guest-setup --rootfs DIR --conf FILE [--post-create] "
	        "[--password PW]\n"
	        "                       [--ssh-keys FILE] [--seed N] [--host-resolv FILE]\n"
	        "       pct-guest-setup --rootfs DIR [--conf FILE] --detect\n");
	return 255;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (size_t r; buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
		len += r;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	const char *rootfs = NULL, *conf = NULL, *password = NULL, *keys = NULL;
	bool post = false, detect = false;
	struct guest g;
	memset(&g, 0, sizeof(g));
	g.root = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--post-create"))
			post = true;
		else if (!strcmp(a, "--detect"))
			detect = true;
		else if (!v)
			return usage();
		else if (!strcmp(a, "--rootfs"))
			rootfs = argv[++i];
		else if (!strcmp(a, "--conf"))
			conf = argv[++i];
		else if (!strcmp(a, "--password"))
			password = argv[++i];
		else if (!strcmp(a, "--ssh-keys"))
			keys = argv[++i];
		else if (!strcmp(a, "--host-resolv"))
			g.host_resolv = argv[++i];
		else if (!strcmp(a, "--seed")) {
			char *end;
			g.seed = strtol(argv[++i], &end, 10);
			if (*end)
				return usage();
			g.seeded = true;
		} else
			return usage();
	}
	if (!rootfs || (!conf && !detect))
		return usage();
	struct ctc_conf *c = NULL;
	char err[1024];
	if (conf && ctc_load(conf, false, &c, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 255;
	}
	if (!c && !(c = ctc_new("(none)")))
		return 255;
	char *keytext = NULL;
	if (keys && !(keytext = slurp(keys))) {
		fprintf(stderr, "cannot read %s: %s\n", keys, strerror(errno));
		ctc_free(c);
		return 255;
	}
	int rc = guest_open(&g, rootfs, c);
	if (rc == 0 && detect)
		printf("%s %s %s\n", g.ostype, g.version[0] ? g.version : "-",
		       g.arch[0] ? g.arch : "-");
	else if (rc == 0)
		rc = post ? guest_post_create(&g, password, keytext) : guest_pre_start(&g);
	if (rc)
		fprintf(stderr, "%s\n", g.err[0] ? g.err : strerror(-rc));
	guest_close(&g);
	free(keytext);
	ctc_free(c);
	return rc ? 255 : 0;
}
