/*
 * migrate.c - the target's part of a migration (ctmgrd); see migrate.h.
 * The source's part is pct migrate (pct_migrate.c).
 */
#include "ctmgr/migrate.h"
#include "ctmgr/ctconf.h"
#include "ctmgr/ctfile.h"
#include "ctmgr/ctpending.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mig_request_path(const char *node, long id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/nodes/%s/ctmgrd/%ld.start", ctf_root(), node, id);
}

/* "start 1" / "start 0": whether the request asks for a start; -1 unreadable */
static int request_start(const char *path)
{
	char line[64] = "";
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	int v;
	return sscanf(line, "start %d", &v) == 1 ? v != 0 : -1;
}

int mig_take_over(const char *node, long id, bool *started, char *err, size_t errlen)
{
	char req[4096], conf[4096];
	struct ctc_conf *c = NULL;
	struct st_cfg *st = NULL;
	*started = false;
	mig_request_path(node, id, req, sizeof(req));
	snprintf(conf, sizeof(conf), "%s/nodes/%s/lxc/%ld.conf", ctf_root(), node, id);
	int want = request_start(req);
	if (want < 0)
		return 0; /* no request: nothing to do */
	if (access(conf, F_OK) != 0)
		return -EAGAIN; /* the config has not arrived (or is not visible yet) */
	int lockfd = ctf_lock(id, 10, err, errlen);
	if (lockfd < 0)
		return lockfd;
	int rc = ctc_load(conf, false, &c, NULL, err, errlen);
	const char *lock = rc == 0 ? ctc_get(&c->main, "lock") : NULL;
	if (rc == 0 && (!lock || strcmp(lock, "migrate") != 0)) {
		/* taken over already (a ctmgrd restarted after the unlock): the request goes */
		unlink(req);
		goto out;
	}
	/* 1. start (if asked and not running yet), with the lock still set */
	if (rc == 0 && want && ctr_state(id, NULL) == CTR_STOPPED) {
		int n = ctp_apply_for_start(&c, err, errlen);
		if (n < 0)
			rc = n;
		if (rc == 0 && (rc = st_cfg_load_etc(&st, err, errlen)) == 0)
			rc = ctr_start(c, id, st, 30, err, errlen);
		if (rc == 0)
			*started = true;
	}
	/*
	 * 2. unlock (also after a failed start: the container is stopped here,
	 * and runs nowhere else; the reason went to err)
	 */
	int rc2 = 0;
	if (c) {
		ctc_delete(&c->main, "lock");
		size_t len;
		char *text = ctc_print(c, &len);
		char e2[512];
		rc2 = text ? ctf_write_atomic(conf, text, len, e2, sizeof(e2)) : -ENOMEM;
		free(text);
		if (rc2 && rc == 0) {
			rc = rc2;
			snprintf(err, errlen, "%s", e2);
		}
	}
	/* 3. the request goes last */
	if (rc2 == 0)
		unlink(req);
out:
	st_cfg_free(st);
	ctc_free(c);
	close(lockfd);
	return rc;
}
