/*
 * pct.h - what pct's command files share: messages, the container id
 * argument, and opening a container (its per-node lock held, its config
 * loaded from this node).
 */
#ifndef CTMGR_PCT_H
#define CTMGR_PCT_H

#include "ctmgr/ctconf.h"

#include <stdbool.h>

#define EXIT_ERR 255 /* the reference's die */

/* Print the message and a newline to stderr; EXIT_ERR. */
int pct_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A container id argument (100..999999999), or -1 after a message. */
long pct_vmid(const char *s);
/* $PCT_LOCK_TIMEOUT (seconds) or 10 */
int pct_lock_timeout(void);

struct pct_ct {
	long id;
	int lockfd; /* the per-CT lock file, held */
	struct ctc_conf *c;
};
/* Lock and load CT arg (must be on this node); 0 or EXIT_ERR after a message. */
int pct_open(const char *arg, struct pct_ct *ct);
/* The same without the lock, for commands that only read (status, exec, enter). */
int pct_open_nolock(const char *arg, struct pct_ct *ct);
void pct_close(struct pct_ct *ct);
/* EXIT_ERR with "CT is locked (<lock>)" when c has a lock, else 0. */
int pct_check_lock(const struct ctc_conf *c);
/* Set (lock) or remove (NULL) the lock key and save; 0 or EXIT_ERR. */
int pct_set_lock(struct pct_ct *ct, const char *lock);
/* Save ct's config atomically; 0 or EXIT_ERR after a message. */
int pct_save(struct pct_ct *ct);

/*
 * Start ct (stopped, checked for locks): apply its pending changes, then
 * start it; 0 or EXIT_ERR after a message.
 */
int pct_start_ct(struct pct_ct *ct);

/*
 * A volume given as "STORAGE:GiB" in key's value in sec (pct create, pct
 * set): allocated (GiB 0: a directory where the storage has them), and
 * the value rewritten to name it, with its size; its volid into volid
 * (may be NULL).  1 allocated, 0 nothing to allocate, -errno with err.
 */
struct st_cfg;
int pct_alloc_volume(struct ctc_section *sec, const struct st_cfg *st, long id, const char *key,
                     char *volid, size_t vlen, char *err, size_t errlen);
/* Free volume volid again (warns when that fails). */
void pct_free_volid(const struct st_cfg *st, const char *volid);

/* The commands (argv[0] is the first argument after the command name). */
int pct_cmd_create(int argc, char **argv);
int pct_cmd_destroy(int argc, char **argv);
int pct_cmd_start(int argc, char **argv);
int pct_cmd_stop(int argc, char **argv);
int pct_cmd_shutdown(int argc, char **argv);
int pct_cmd_reboot(int argc, char **argv);
int pct_cmd_enter(int argc, char **argv);
int pct_cmd_exec(int argc, char **argv);
int pct_cmd_console(int argc, char **argv);
int pct_cmd_list(int argc, char **argv);
int pct_cmd_status(int argc, char **argv);
int pct_cmd_unlock(int argc, char **argv);
int pct_cmd_mount(int argc, char **argv);
int pct_cmd_unmount(int argc, char **argv);
int pct_cmd_pull(int argc, char **argv);
int pct_cmd_push(int argc, char **argv);
int pct_cmd_df(int argc, char **argv);
int pct_cmd_migrate(int argc, char **argv);

#endif
