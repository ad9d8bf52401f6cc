/*
 * ctpending.h - pending changes of a container config ([pve:pending]):
 * what `pct set` records when a value cannot take effect at once, what the
 * next start applies, and which changes a running container can take now.
 *
 * The pending section holds new values and a "delete" list ("k1,!k2";
 * '!' = force: delete even if the cleanup fails).  A key is either pending
 * with a value or pending deletion, never both.
 */
#ifndef CTMGR_CTPENDING_H
#define CTMGR_CTPENDING_H

#include "ctmgr/ctconf.h"

#include <stdbool.h>

/* Record a new value for key (validated) and drop a pending deletion of it. */
int ctp_set(struct ctc_conf *c, const char *key, const char *value, char *err, size_t errlen);
/* Record that key is to be deleted (force: '!'); drops a pending value. */
int ctp_delete(struct ctc_conf *c, const char *key, bool force, char *err, size_t errlen);
/* Forget every pending change of key; true when there was one. */
bool ctp_revert(struct ctc_conf *c, const char *key);
/* Is key pending deletion (*force gets the '!')? */
bool ctp_is_deleted(const struct ctc_conf *c, const char *key, bool *force);

/*
 * Apply pending changes to the current config for every key that filter
 * accepts (NULL: all), and remove them from the pending section (which
 * goes when empty).  A deleted mount point's storage volume is kept as the
 * next free unusedN.  Returns how many keys were applied, or -errno.
 */
int ctp_apply(struct ctc_conf *c, bool (*filter)(void *ctx, const char *key), void *ctx, char *err,
              size_t errlen);

/*
 * What a start does with the pending changes: all applied, to a copy first,
 * which replaces *c only when the result validates (else the pending
 * section stays, -EINVAL with the reason).  Returns how many were applied.
 */
int ctp_apply_for_start(struct ctc_conf **c, char *err, size_t errlen);

/*
 * May a change of key (old -> new; NULL = absent) take effect in a running
 * container now?  True for the keys that need no action (description,
 * onboot, startup, protection, tags, hostname in the config, lock) and for
 * the ones that can be hot-plugged (memory, swap, cpulimit, cpuunits,
 * cores, net*, a new mp* or dev*, a removed unused*).  Everything else waits
 * for the next start.  A stopped container takes every change at once.
 */
bool ctp_hotpluggable(const char *key, const char *oldval, const char *newval, bool running);

/* Keys set in one config but not the other, or with another value. */
typedef void (*ctp_diff_fn)(void *ctx, const char *key, const char *oldval, const char *newval);
void ctp_diff(const struct ctc_section *a, const struct ctc_section *b, ctp_diff_fn fn, void *ctx);

#endif
