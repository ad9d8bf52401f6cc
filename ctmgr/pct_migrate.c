/*
 * pct_migrate.c - pct migrate ID TARGET [--restart] [--timeout N]: the
 * source's part of a migration (restart mode); the target's ctmgrd does
 * the rest.  The protocol and its safety: ctmgr/migrate.h, doc/ctmgrd.md.
 */
#include "ctmgr/ctfile.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/fsutil.h"
#include "ctmgr/migrate.h"
#include "ctmgr/pct.h"
#include "ctmgr/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every storage volume of c on shared storage; else a message naming the first that is not. */
static int volumes_shared(const struct ctc_conf *c, const struct st_cfg *st, char *err,
                          size_t errlen)
{
	for (size_t i = 0; i < c->main.nkeys; i++) {
		const char *k = c->main.keys[i].key;
		char vol[1024];
		if (strcmp(k, "rootfs") != 0 &&
		    !(strncmp(k, "mp", 2) == 0 && k[2] >= '0' && k[2] <= '9'))
			continue;
		if (cts_prop_get(c->main.keys[i].value, "volume", "volume", vol, sizeof(vol)) != 1)
			continue;
		if (vol[0] == '/') {
			snprintf(err, errlen,
			         "%s: '%.600s' is a bind mount of a host path, which another node "
			         "may not "
			         "have",
			         k, vol);
			return -EINVAL;
		}
		const struct st_store *s;
		struct st_vol v;
		if (st_parse_volid(st, vol, &s, &v, err, errlen))
			return -EINVAL;
		const char *sh = st_opt(s, "shared");
		if (!sh || cts_parse_bool(sh) != 1) {
			snprintf(
			    err, errlen,
			    "%s: volume '%.600s' is on storage '%s', which is not shared (restart "
			    "migration needs shared storage)",
			    k, vol, s->id);
			return -EINVAL;
		}
	}
	return 0;
}

int pct_cmd_migrate(int argc, char **argv)
{
	struct pct_ct ct;
	char err[1024], node[256], path[4200], src[4096], dst[4200], req[4096], dir[4096];
	bool restart = false;
	int timeout = 60;
	struct st_cfg *st = NULL;

	if (argc < 2)
		return pct_fail("%s",
		                "usage: pct migrate <vmid> <target> [--restart] [--timeout <s>]");
	const char *target = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--restart")) {
			/* "--restart" or "--restart 1|0" */
			restart = true;
			if (i + 1 < argc && cts_parse_bool(argv[i + 1]) >= 0)
				restart = cts_parse_bool(argv[++i]) == 1;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = atoi(argv[++i]);
			if (timeout <= 0)
				return pct_fail("--timeout: expected seconds, got '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--online")) {
			return pct_fail("%s",
			                "live (online) migration is not supported: use --restart");
		} else {
			return pct_fail("pct migrate: unknown option '%s'", argv[i]);
		}
	}
	if (pct_open(argv[0], &ct))
		return EXIT_ERR;
	int rc = EXIT_ERR;
	/* this node and the target */
	snprintf(path, sizeof(path), "%s/lxc", ctf_root());
	char real[4096];
	if (!realpath(path, real) || !strrchr(real, '/')) {
		pct_fail("cannot resolve %s", path);
		goto out;
	}
	*strrchr(real, '/') = '\0';
	snprintf(node, sizeof(node), "%.255s", strrchr(real, '/') ? strrchr(real, '/') + 1 : real);
	snprintf(dir, sizeof(dir), "%s/nodes/%s", ctf_root(), target);
	struct stat sb;
	if (!strcmp(target, node)) {
		pct_fail("CT %ld is on node '%s' already", ct.id, node);
		goto out;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		pct_fail("no node '%s' in this cluster", target);
		goto out;
	}
	if (pct_check_lock(ct.c))
		goto out;
	if (st_cfg_load_etc(&st, err, sizeof(err)) || volumes_shared(ct.c, st, err, sizeof(err))) {
		pct_fail("cannot migrate CT %ld: %s", ct.id, err);
		goto out;
	}
	enum ctr_state state = ctr_state(ct.id, NULL);
	if (state != CTR_STOPPED && !restart) {
		pct_fail("CT %ld is running - use --restart to migrate it by restarting it on '%s'",
		         ct.id, target);
		goto out;
	}
	if (ctr_volumes_mounted(ct.id)) {
		pct_fail("CT %ld's volumes are mounted on this node (pct unmount %ld)", ct.id,
		         ct.id);
		goto out;
	}
	/* from here on the lock tells what happened if we die */
	if (pct_set_lock(&ct, "migrate"))
		goto out;
	bool was_running = state != CTR_STOPPED;
	if (was_running) {
		printf("shutting down CT %ld on %s\n", ct.id, node);
		fflush(stdout);
		if (ctr_stop(ct.id, false, timeout, err, sizeof(err))) {
			pct_fail("cannot migrate CT %ld: %s", ct.id, err);
			pct_set_lock(&ct, NULL);
			goto out;
		}
	}
	/* the request, then the config: the target acts when it has both */
	snprintf(path, sizeof(path), "%s/ctmgrd", dir);
	mig_request_path(target, ct.id, req, sizeof(req));
	char text[32];
	snprintf(text, sizeof(text), "start %d\n", was_running ? 1 : 0);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		pct_fail("cannot create %s: %s", path, strerror(errno));
		goto stopped_here;
	}
	if (ctf_write_atomic(req, text, strlen(text), err, sizeof(err))) {
		pct_fail("cannot write the request: %s", err);
		goto stopped_here;
	}
	ctf_path(ct.id, src, sizeof(src));
	snprintf(dst, sizeof(dst), "%s/lxc/%ld.conf", dir, ct.id);
	if (rename(src, dst) != 0) {
		pct_fail("cannot move the config to '%s': %s", target, strerror(errno));
		unlink(req);
		goto stopped_here;
	}
	printf("moved CT %ld's config to %s; waiting for it to take over\n", ct.id, target);
	fflush(stdout);
	/* the target takes over: its ctmgrd starts it (if it ran), unlocks, drops the request */
	for (int i = 0; i < timeout * 10; i++) {
		struct ctc_conf *c = NULL;
		if (access(req, F_OK) != 0 &&
		    ctc_load(dst, false, &c, NULL, err, sizeof(err)) == 0) {
			bool locked = ctc_get(&c->main, "lock") != NULL;
			ctc_free(c);
			if (!locked) {
				printf("CT %ld migrated to %s%s\n", ct.id, target,
				       was_running ? " and started there" : "");
				rc = 0;
				goto out;
			}
		}
		usleep(100 * 1000);
	}
	char then[64] = "";
	if (was_running)
		snprintf(then, sizeof(then), " && pct start %ld", ct.id);
	pct_fail("CT %ld is on node '%s' now, but it did not take over within %d s (is ctmgrd "
	         "running there?): the config keeps 'lock: migrate'; ctmgrd on '%s' finishes the "
	         "migration when it runs, or by hand there: pct unlock %ld%s",
	         ct.id, target, timeout, target, ct.id, then);
	goto out;
stopped_here:
	/* nothing moved: unlock here (the container stays stopped if it was stopped for this) */
	pct_set_lock(&ct, NULL);
out:
	st_cfg_free(st);
	pct_close(&ct);
	return rc;
}
