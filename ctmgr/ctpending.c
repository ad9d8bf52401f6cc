/*
 * ctpending.c - pending changes; see ctpending.h.
 */
#include "ctmgr/ctpending.h"
#include "ctmgr/ctschema.h"
#include "pmxcfs/sbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The delete list as entries "key" or "!key"; split into a malloc'd array. */
static size_t split_deletes(const char *list, char ***out)
{
	size_t n = 0, cap = 0;
	char **v = NULL;
	for (const char *p = list ? list : ""; *p;) {
		p += strspn(p, ",; ");
		size_t l = strcspn(p, ",; ");
		if (!l)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			char **nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strndup(p, l)))
			break;
		n++;
		p += l;
	}
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *bare(const char *entry)
{
	return entry[0] == '!' ? entry + 1 : entry;
}

/* Rewrite the pending delete list without key (and with add, when not NULL). */
static int rewrite_deletes(struct ctc_conf *c, const char *key, const char *add)
{
	struct ctc_section *p = ctc_pending(c, add != NULL);
	if (!p)
		return add ? -ENOMEM : 0;
	char **v;
	size_t n = split_deletes(ctc_get(p, "delete"), &v);
	struct sbuf sb = SBUF_INIT;
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(bare(v[i]), key))
			continue;
		sbuf_addf(&sb, "%s%s", any ? "," : "", v[i]);
		any = true;
	}
	if (add) {
		sbuf_addf(&sb, "%s%s", any ? "," : "", add);
		any = true;
	}
	free_list(v, n);
	int e = 0;
	if (sb.oom)
		e = -ENOMEM;
	else if (any)
		e = ctc_set_raw(p, "delete", sb.buf);
	else
		ctc_delete(p, "delete");
	sbuf_release(&sb);
	return e;
}

/* Drop an empty pending section. */
static void tidy(struct ctc_conf *c)
{
	struct ctc_section *p = c->pending;
	if (p && !p->nkeys && !p->nlxc && !p->description) {
		free(p->name);
		free(p->keys);
		free(p->lxc);
		free(p);
		c->pending = NULL;
	}
}

bool ctp_is_deleted(const struct ctc_conf *c, const char *key, bool *force)
{
	char **v;
	bool found = false;
	if (!c->pending)
		return false;
	size_t n = split_deletes(ctc_get(c->pending, "delete"), &v);
	for (size_t i = 0; i < n && !found; i++) {
		if (!strcmp(bare(v[i]), key)) {
			found = true;
			if (force)
				*force = v[i][0] == '!';
		}
	}
	free_list(v, n);
	return found;
}

/* The volume of a mount point value: its bare first part or "volume=". */
static bool mp_volume(const char *mpval, char *vol, size_t len)
{
	for (const char *p = mpval; *p;) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		if (!eq || ((size_t)(eq - p) == 6 && !strncmp(p, "volume", 6))) {
			const char *v = eq ? eq + 1 : p;
			size_t vl = n - (size_t)(v - p);
			if (vl == 0 || vl >= len)
				return false;
			memcpy(vol, v, vl);
			vol[vl] = '\0';
			return true;
		}
		p += n + (p[n] == ',');
	}
	return false;
}

/* unusedN for a mount point's storage volume (not a bind mount or device) */
static int keep_unused(struct ctc_conf *c, const char *mpval)
{
	char vol[4096], key[16];
	if (!mp_volume(mpval, vol, sizeof(vol)) || vol[0] == '/' || !strchr(vol, ':'))
		return 0; /* bind mount or device: nothing to keep */
	for (unsigned i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "unused%u", i);
		const char *u = ctc_get(&c->main, key);
		if (u && !strcmp(u, vol))
			return 0; /* already there */
	}
	for (unsigned i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "unused%u", i);
		if (!ctc_get(&c->main, key))
			return ctc_set_raw(&c->main, key, vol);
	}
	return -ENOSPC;
}

/* "STORAGE:GiB": a volume still to be allocated, nothing to keep */
static bool unallocated(const char *vol)
{
	const char *colon = strchr(vol, ':');
	return colon && colon[1] && strspn(colon + 1, "0123456789.") == strlen(colon + 1);
}

/*
 * key's pending value pv was replaced by newval (NULL: dropped): a storage
 * volume only pv named (not the current section's, not newval's) would be
 * forgotten - it is kept as unusedN instead (pct set allocated it).
 */
static int keep_pending_volume(struct ctc_conf *c, const char *key, const char *pv,
                               const char *newval, char *err, size_t errlen)
{
	char pvol[4096], v[4096];
	if (!pv || strncmp(key, "mp", 2) != 0 || !mp_volume(pv, pvol, sizeof(pvol)) ||
	    unallocated(pvol))
		return 0;
	const char *cur = ctc_get(&c->main, key);
	if ((cur && mp_volume(cur, v, sizeof(v)) && !strcmp(v, pvol)) ||
	    (newval && mp_volume(newval, v, sizeof(v)) && !strcmp(v, pvol)))
		return 0;
	int e = keep_unused(c, pv);
	if (e)
		snprintf(err, errlen, "%s: cannot keep its pending volume %s: %s", key, pvol,
		         e == -ENOSPC ? "no free unusedN key left" : strerror(-e));
	return e;
}

int ctp_set(struct ctc_conf *c, const char *key, const char *value, char *err, size_t errlen)
{
	struct ctc_section *p = ctc_pending(c, true);
	if (!p)
		return -ENOMEM;
	if (!strcmp(key, "delete")) {
		snprintf(err, errlen, "key 'delete': not a config key");
		return -EINVAL;
	}
	const char *prev = ctc_get(p, key);
	char *old = prev ? strdup(prev) : NULL;
	if (prev && !old)
		return -ENOMEM;
	int e = ctc_set(p, key, value, err, errlen);
	if (!e)
		e = keep_pending_volume(c, key, old, value, err, errlen);
	free(old);
	if (!e)
		e = rewrite_deletes(c, key, NULL);
	tidy(c);
	return e;
}

int ctp_delete(struct ctc_conf *c, const char *key, bool force, char *err, size_t errlen)
{
	char entry[80];
	if (!cts_lookup(key, NULL) || !strcmp(key, "delete")) {
		snprintf(err, errlen, "key '%s': unknown, cannot be deleted", key);
		return -EINVAL;
	}
	int e = keep_pending_volume(c, key, c->pending ? ctc_get(c->pending, key) : NULL, NULL, err,
	                            errlen);
	if (e)
		return e;
	if (c->pending)
		ctc_delete(c->pending, key);
	snprintf(entry, sizeof(entry), "%s%s", force ? "!" : "", key);
	return rewrite_deletes(c, key, entry);
}

bool ctp_revert(struct ctc_conf *c, const char *key)
{
	if (!c->pending)
		return false;
	char err[256]; /* best effort: with no unusedN free, it goes */
	keep_pending_volume(c, key, ctc_get(c->pending, key), NULL, err, sizeof(err));
	bool had = ctc_delete(c->pending, key);
	had |= ctp_is_deleted(c, key, NULL);
	rewrite_deletes(c, key, NULL);
	tidy(c);
	return had;
}

int ctp_apply(struct ctc_conf *c, bool (*filter)(void *ctx, const char *key), void *ctx, char *err,
              size_t errlen)
{
	int applied = 0, e = 0;
	if (!c->pending)
		return 0;
	/* deletions */
	char **v;
	size_t n = split_deletes(ctc_get(c->pending, "delete"), &v);
	for (size_t i = 0; i < n && !e; i++) {
		const char *key = bare(v[i]);
		if (filter && !filter(ctx, key))
			continue;
		const char *old = ctc_get(&c->main, key);
		if (old && !strncmp(key, "mp", 2))
			e = keep_unused(c, old);
		ctc_delete(&c->main, key);
		rewrite_deletes(c, key, NULL);
		applied++;
	}
	free_list(v, n);
	/* values: collect the keys first (applying edits the section) */
	struct ctc_section *p = c->pending;
	size_t nk = p ? p->nkeys : 0;
	char **keys = calloc(nk + 1, sizeof(*keys));
	for (size_t i = 0; keys && i < nk; i++)
		keys[i] = strdup(p->keys[i].key);
	for (size_t i = 0; keys && i < nk && !e; i++) {
		if (!keys[i] || !strcmp(keys[i], "delete") || (filter && !filter(ctx, keys[i])))
			continue;
		const char *val = ctc_get(c->pending, keys[i]);
		const char *old = ctc_get(&c->main, keys[i]);
		if (old && !strncmp(keys[i], "mp", 2) && strcmp(old, val))
			e = keep_unused(c, old); /* a replaced mount point's volume */
		if (!e)
			e = ctc_set_raw(&c->main, keys[i], val);
		if (!e) {
			ctc_delete(c->pending, keys[i]);
			applied++;
		}
	}
	for (size_t i = 0; keys && i < nk; i++)
		free(keys[i]);
	if (!keys)
		e = -ENOMEM;
	free(keys);
	/* a new description (kept as the section's '#' lines) */
	p = c->pending;
	if (!e && p && p->description && (!filter || filter(ctx, "description"))) {
		free(c->main.description);
		c->main.description = p->description;
		p->description = NULL;
		applied++;
	}
	tidy(c);
	if (e) {
		snprintf(err, errlen, "%s: applying pending changes: %s", c->file,
		         e == -ENOSPC ? "no free unusedN key left" : strerror(-e));
		return e;
	}
	return applied;
}

static bool prefixed(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncmp(key, prefix, n) && key[n] >= '0' && key[n] <= '9';
}

int ctp_apply_for_start(struct ctc_conf **c, char *err, size_t errlen)
{
	size_t len;
	struct ctc_conf *copy = NULL;
	char *text = ctc_print(*c, &len);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = ctc_parse(text, len, (*c)->file, false, &copy, NULL, err, errlen);
	free(text);
	if (rc)
		return rc;
	char why[1024];
	int n = ctp_apply(copy, NULL, NULL, why, sizeof(why));
	if (n < 0 || ctc_check(copy, why, sizeof(why))) {
		snprintf(err, errlen, "%s%s", n > 0 ? "the pending changes do not validate: " : "",
		         why);
		ctc_free(copy);
		return n < 0 ? n : -EINVAL;
	}
	ctc_free(*c);
	*c = copy;
	return n;
}

bool ctp_hotpluggable(const char *key, const char *oldval, const char *newval, bool running)
{
	static const char *const no_action[] = { "description", "hostname", "lock", "onboot",
		                                 "protection",  "startup",  "tags" };
	static const char *const live[] = { "cores", "cpulimit", "cpuunits", "memory", "swap" };
	if (!running)
		return true;
	for (size_t i = 0; i < sizeof(no_action) / sizeof(no_action[0]); i++)
		if (!strcmp(key, no_action[i]))
			return true;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (!strcmp(key, live[i]))
			return true;
	if (prefixed(key, "net"))
		return true;
	if (prefixed(key, "mp") || prefixed(key, "dev"))
		return !oldval && newval; /* a new one; changing or removing waits */
	if (prefixed(key, "unused"))
		return !newval;
	return false;
}

void ctp_diff(const struct ctc_section *a, const struct ctc_section *b, ctp_diff_fn fn, void *ctx)
{
	for (size_t i = 0; i < a->nkeys; i++) {
		const char *nv = ctc_get(b, a->keys[i].key);
		if (!nv || strcmp(nv, a->keys[i].value))
			fn(ctx, a->keys[i].key, a->keys[i].value, nv);
	}
	for (size_t i = 0; i < b->nkeys; i++)
		if (!ctc_get(a, b->keys[i].key))
			fn(ctx, b->keys[i].key, NULL, b->keys[i].value);
	const char *da = a->description, *db = b->description;
	if ((da || db) && (!da || !db || strcmp(da, db)))
		fn(ctx, "description", da, db);
}
