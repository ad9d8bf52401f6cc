/*
 * pct.c - the container toolkit's command line: the dispatcher, the
 * helpers the command files share (pct.h), and the config commands
 * (config, set, pending).  The life cycle is in pct_life.c, create and
 * destroy in pct_create.c.  Reads and writes /etc/pve/lxc/<ID>.conf through
 * ctmgr/ctconf and ctmgr/ctfile; output formats follow the reference.
 * Errors go to stderr, exit status 255 (as the reference's die), usage
 * errors 255 too.
 *
 * pct set on a stopped container changes the config at once; on a running
 * one the keys that can be hot-plugged change the config and the rest wait
 * in [pve:pending] for the next start (applying them live is ctmgrd's).
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/ctfile.h"
#include "ctmgr/ctpending.h"
#include "ctmgr/ctrun.h"
#include "ctmgr/ctschema.h"
#include "ctmgr/hotplug.h"
#include "ctmgr/pct.h"
#include "ctmgr/storage.h"

#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pct_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERR;
}
#define fail pct_fail

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pct create <vmid> <ostemplate> [--<key> <value>]... [--storage <id>]\n"
	        "               [--password <pw>] [--ssh-public-keys <file>] [--start 1]\n"
	        "       pct destroy <vmid> [--purge] [--force]\n"
	        "       pct start <vmid> [--skiplock]\n"
	        "       pct stop <vmid> [--skiplock]\n"
	        "       pct shutdown <vmid> [--timeout <s>] [--forceStop 0|1]\n"
	        "       pct reboot <vmid> [--timeout <s>]\n"
	        "       pct enter <vmid>\n"
	        "       pct exec <vmid> [--keep-env 0|1] -- <command> [<args>...]\n"
	        "       pct console <vmid> [--escape ^<c>|0]\n"
	        "       pct list\n"
	        "       pct status <vmid> [--verbose]\n"
	        "       pct unlock <vmid>\n"
	        "       pct mount <vmid>\n"
	        "       pct unmount <vmid>\n"
	        "       pct pull <vmid> <path> <destination> [--user u] [--group g] [--perms m]\n"
	        "       pct push <vmid> <file> <destination> [--user u] [--group g] [--perms m]\n"
	        "       pct df <vmid>\n"
	        "       pct migrate <vmid> <target> [--restart] [--timeout <s>]\n"
	        "       pct config <vmid> [--current] [--snapshot <name>]\n"
	        "       pct set <vmid> [--<key> <value>]... [--delete <keys>] [--revert <keys>]\n"
	        "               [--digest <sha1>]\n"
	        "       pct pending <vmid>\n"
	        "\n"
	        "Keys: see the container config format (man pct.conf / doc/ctconf.md).\n");
}

long pct_vmid(const char *s)
{
	long id = ctf_parse_id(s);
	if (id < 0)
		fprintf(stderr,
		        "400 Parameter verification failed.\nvmid: invalid format - '%s' is "
		        "not a valid container id (100..999999999)\n",
		        s);
	return id;
}

int pct_lock_timeout(void)
{
	const char *lt = getenv("PCT_LOCK_TIMEOUT"); /* seconds; tests shorten it */
	return lt && atoi(lt) > 0 ? atoi(lt) : 10;
}

int pct_open(const char *arg, struct pct_ct *ct)
{
	char err[1024];
	ct->c = NULL;
	ct->lockfd = -1;
	if ((ct->id = pct_vmid(arg)) < 0)
		return EXIT_ERR;
	ct->lockfd = ctf_lock(ct->id, pct_lock_timeout(), err, sizeof(err));
	if (ct->lockfd < 0)
		return fail("%s", err);
	if (ctf_load(ct->id, &ct->c, err, sizeof(err))) {
		pct_close(ct);
		return fail("%s", err);
	}
	return 0;
}

int pct_open_nolock(const char *arg, struct pct_ct *ct)
{
	char err[1024];
	ct->c = NULL;
	ct->lockfd = -1;
	if ((ct->id = pct_vmid(arg)) < 0)
		return EXIT_ERR;
	if (ctf_load(ct->id, &ct->c, err, sizeof(err)))
		return fail("%s", err);
	return 0;
}

void pct_close(struct pct_ct *ct)
{
	ctc_free(ct->c);
	ct->c = NULL;
	if (ct->lockfd >= 0)
		close(ct->lockfd);
	ct->lockfd = -1;
}

int pct_check_lock(const struct ctc_conf *c)
{
	const char *lock = ctc_get(&c->main, "lock");
	return lock ? fail("CT is locked (%s)", lock) : 0;
}

int pct_save(struct pct_ct *ct)
{
	char err[1024];
	return ctf_save(ct->id, ct->c, false, err, sizeof(err)) ? fail("%s", err) : 0;
}

int pct_set_lock(struct pct_ct *ct, const char *lock)
{
	char err[1024];
	if (!lock)
		ctc_delete(&ct->c->main, "lock");
	else if (ctc_set(&ct->c->main, "lock", lock, err, sizeof(err)))
		return fail("%s", err);
	return pct_save(ct);
}

/* A copy of c (through its text), so the caller can apply pending changes to it. */
static struct ctc_conf *copy_conf(const struct ctc_conf *c, char *err, size_t errlen)
{
	size_t len;
	struct ctc_conf *cp = NULL;
	char *text = ctc_print(c, &len);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ctc_parse(text, len, c->file, false, &cp, NULL, err, errlen))
		cp = NULL;
	free(text);
	return cp;
}

/* `key: value` lines as the reference's pct config prints them. */
static void print_section_values(const struct ctc_section *s)
{
	/* the description sorts among the keys, encoded on one line */
	bool desc_done = !s->description;
	const struct ctc_kv **sorted = ctc_sorted_keys(s);
	if (!sorted)
		return;
	for (size_t i = 0; i <= s->nkeys; i++) {
		if (!desc_done && (i == s->nkeys || strcmp(sorted[i]->key, "description") > 0)) {
			char *enc = ctc_encode_text(s->description);
			printf("description: %s\n", enc ? enc : "");
			free(enc);
			desc_done = true;
		}
		if (i < s->nkeys)
			printf("%s: %s\n", sorted[i]->key, sorted[i]->value);
	}
	for (size_t i = 0; i < s->nlxc; i++)
		printf("%s: %s\n", s->lxc[i].key, s->lxc[i].value);
	free(sorted);
}

static int cmd_config(int argc, char **argv)
{
	const char *snap = NULL;
	bool current = false;
	char err[1024];
	struct ctc_conf *c, *shown = NULL;

	if (argc < 1)
		return usage(stderr), EXIT_ERR;
	long id = pct_vmid(argv[0]);
	if (id < 0)
		return EXIT_ERR;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--current"))
			current = true;
		else if (!strcmp(argv[i], "--snapshot") && i + 1 < argc)
			snap = argv[++i];
		else
			return fail("pct config: unknown or incomplete option '%s'", argv[i]);
	}
	if (snap && current)
		return fail("%s", "pct config: --current and --snapshot exclude each other");
	if (ctf_load(id, &c, err, sizeof(err)))
		return fail("%s", err);
	int rc = 0;
	if (snap) {
		const struct ctc_section *s = ctc_snapshot(c, snap);
		if (!s)
			rc = fail("snapshot '%s' does not exist", snap);
		else
			print_section_values(s);
	} else if (current) {
		print_section_values(&c->main);
	} else if (!(shown = copy_conf(c, err, sizeof(err)))) {
		rc = fail("%s", err);
	} else if (ctp_apply(shown, NULL, NULL, err, sizeof(err)) < 0) {
		rc = fail("%s", err);
	} else {
		print_section_values(&shown->main);
	}
	ctc_free(shown);
	ctc_free(c);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pending_line(const char *tag, const char *key, const char *value)
{
	if (!strcmp(key, "description")) {
		char *enc = ctc_encode_text(value);
		printf("%s %s: %s\n", tag, key, enc ? enc : "");
		free(enc);
	} else {
		printf("%s %s: %s\n", tag, key, value);
	}
}

static int cmd_pending(int argc, char **argv)
{
	char err[1024];
	struct ctc_conf *c;

	if (argc != 1)
		return usage(stderr), EXIT_ERR;
	long id = pct_vmid(argv[0]);
	if (id < 0)
		return EXIT_ERR;
	if (ctf_load(id, &c, err, sizeof(err)))
		return fail("%s", err);
	/* every key of the current config and of the pending section, sorted */
	size_t n = 0, cap = c->main.nkeys + (c->pending ? c->pending->nkeys : 0) + 2;
	const char **keys = calloc(cap, sizeof(*keys));
	if (!keys) {
		ctc_free(c);
		return fail("%s", "out of memory");
	}
	const struct ctc_section *secs[2] = { &c->main, c->pending };
	for (int s = 0; s < 2; s++) {
		if (!secs[s])
			continue;
		for (size_t i = 0; i < secs[s]->nkeys; i++) {
			const char *k = secs[s]->keys[i].key;
			bool seen = !strcmp(k, "delete");
			for (size_t j = 0; j < n && !seen; j++)
				seen = !strcmp(keys[j], k);
			if (!seen)
				keys[n++] = k;
		}
		if (secs[s]->description && !(s == 1 && c->main.description)) {
			bool seen = false;
			for (size_t j = 0; j < n && !seen; j++)
				seen = !strcmp(keys[j], "description");
			if (!seen)
				keys[n++] = "description";
		}
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++) {
		const char *cur = ctc_get(&c->main, keys[i]);
		const char *pend = c->pending ? ctc_get(c->pending, keys[i]) : NULL;
		bool force = false;
		if (cur && ctp_is_deleted(c, keys[i], &force)) {
			pending_line("del", keys[i], cur);
		} else if (cur) {
			pending_line("cur", keys[i], cur);
			if (pend)
				pending_line("new", keys[i], pend);
		} else if (pend) {
			pending_line("new", keys[i], pend);
		}
	}
	free(keys);
	ctc_free(c);
	return 0;
}

/* Why pct set may not set (value) or delete (NULL) key, or NULL. */
static const char *refuse_change(const struct ctc_conf *c, const char *key, const char *value)
{
	if (!strcmp(key, "unprivileged")) {
		const char *cur = ctc_get(&c->main, key);
		int now = cur ? cts_parse_bool(cur) : 0, want = value ? cts_parse_bool(value) : 0;
		if (want >= 0 && want != (now > 0))
			return "unprivileged cannot be changed after the container was created";
	}
	if (!strcmp(key, "lock") || !strcmp(key, "parent") || !strcmp(key, "delete"))
		return "is managed by pct itself";
	if (!value && !strcmp(key, "rootfs"))
		return "unable to delete required option 'rootfs'";
	return NULL;
}

/* add key to a space separated list unless it is there (as a whole word) */
static void add_key(char *list, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		if (n == kl && !strncmp(p, key, kl))
			return;
		p += n + (p[n] == ' ');
	}
	size_t l = strlen(list);
	snprintf(list + l, len - l, "%s%s", l ? " " : "", key);
}

/* Does a value of c's current or pending section name volume volid? */
static bool conf_names(const struct ctc_conf *c, const char *volid)
{
	size_t l = strlen(volid);
	const struct ctc_section *secs[] = { &c->main, c->pending };
	for (size_t s = 0; s < 2; s++)
		for (size_t i = 0; secs[s] && i < secs[s]->nkeys; i++) {
			const char *v = secs[s]->keys[i].value;
			if (!strncmp(v, volid, l) && (v[l] == ',' || v[l] == '\0'))
				return true;
		}
	return false;
}

/* Does a ctmgrd run on this node (its pid file locked)? */
static bool ctmgrd_runs(void)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/ctmgrd.pid", hp_run_dir());
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

/*
 * What ctmgrd made of the config pct set wrote for a running container:
 * the keys applied live, and those waiting in [pve:pending] (with why, when
 * a live change failed).  Without an answer within $PCT_HOTPLUG_TIMEOUT
 * seconds (default 10) the change stays in the config for ctmgrd or the
 * next start: a warning, not an error.
 */
static int report_hotplug(long id, const struct ctc_conf *c, long long since_ns)
{
	size_t len;
	char digest[41];
	char *text = ctc_print(c, &len);
	if (!text)
		return fail("%s", "out of memory");
	ctc_sha1_hex(text, len, digest);
	free(text);
	const char *t = getenv("PCT_HOTPLUG_TIMEOUT");
	int timeout = t && atoi(t) > 0 ? atoi(t) : 10;
	struct hp_result res;
	if (!ctmgrd_runs()) {
		fprintf(stderr,
		        "warning: ctmgrd does not run on this node: the change is in the "
		        "config and takes effect at the next start (or when ctmgrd runs)\n");
		return 0;
	}
	if (hp_wait_verdict(id, digest, since_ns, timeout * 1000, &res)) {
		fprintf(stderr,
		        "warning: no answer from ctmgrd within %d s: the change is in the config "
		        "and takes effect when ctmgrd applies it or at the next start\n",
		        timeout);
		return 0;
	}
	/* pending: what ctmgrd left, and what pct set put there itself */
	char pend[2048];
	snprintf(pend, sizeof(pend), "%s", res.pending);
	const struct ctc_section *p = c->pending;
	for (size_t i = 0; p && i < p->nkeys; i++) {
		const char *k = p->keys[i].key;
		if (!strcmp(k, "delete")) {
			/* "delete: a,!b": each key */
			for (const char *d = p->keys[i].value; *d;) {
				size_t n = strcspn(d, ",; ");
				char key[64];
				snprintf(key, sizeof(key), "%.*s",
				         (int)(d[0] == '!' && n ? n - 1 : n),
				         d[0] == '!' ? d + 1 : d);
				if (key[0])
					add_key(pend, sizeof(pend), key);
				d += n + (d[n] != '\0');
			}
			continue;
		}
		add_key(pend, sizeof(pend), k);
	}
	if (res.applied[0])
		printf("applied: %s\n", res.applied);
	if (pend[0])
		printf("pending: %s (takes effect at the next start)\n", pend);
	if (res.failed[0])
		fprintf(stderr, "warning: %s\n", res.failed);
	return 0;
}

/* ctp_apply filter for a running container: the keys that may change now */
static bool live_key(void *ctx, const char *key)
{
	const struct ctc_conf *c = ctx;
	const char *nv = c->pending ? ctc_get(c->pending, key) : NULL;
	bool force = false;
	if (ctp_is_deleted(c, key, &force))
		nv = NULL;
	return ctp_hotpluggable(key, ctc_get(&c->main, key), nv, true);
}

static int cmd_set(int argc, char **argv)
{
	char err[1024];
	const char *digest = NULL, *deletes = NULL, *reverts = NULL;
	struct ctc_conf *c = NULL;
	struct st_cfg *st = NULL;
	char(*newvols)[512] = NULL; /* volumes allocated for this change */
	size_t nnew = 0;
	int rc = EXIT_ERR;

	if (argc < 1)
		return usage(stderr), EXIT_ERR;
	long id = pct_vmid(argv[0]);
	if (id < 0)
		return EXIT_ERR;
	/* the options: all checked before anything is written */
	for (int i = 1; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2])
			return fail("pct set: expected --<key> <value>, got '%s'", argv[i]);
		if (i + 1 >= argc)
			return fail("pct set: option '%s' needs a value", argv[i]);
		const char *k = argv[i] + 2;
		if (!strcmp(k, "digest"))
			digest = argv[i + 1];
		else if (!strcmp(k, "delete"))
			deletes = argv[i + 1];
		else if (!strcmp(k, "revert"))
			reverts = argv[i + 1];
		else if (!cts_lookup(k, NULL))
			return fail(
			    "400 Parameter verification failed.\n%s: property is not defined "
			    "in schema and the schema does not allow additional properties",
			    k);
	}

	int lockfd = ctf_lock(id, pct_lock_timeout(), err, sizeof(err));
	if (lockfd < 0)
		return fail("%s", err);
	/*
	 * The config's version before it is read: the new text replaces it
	 * only if no one (an editor on another node) wrote it since.  Without
	 * an answer from pmxcfs's IPC the write is unconditional.
	 */
	uint64_t version = 0;
	char path[4096], verr[512];
	ctf_path(id, path, sizeof(path));
	int vr = -EAGAIN;
	for (int i = 0; i < 40 && vr == -EAGAIN; i++)
		if ((vr = hp_conf_version(path, &version, verr, sizeof(verr))) == -EAGAIN)
			usleep(25 * 1000); /* a change still being released */
	if (vr == -EAGAIN) {
		fail("%s: try again", verr);
		goto out;
	}
	if (vr)
		version = 0;
	if (ctf_load(id, &c, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	if (digest && strcasecmp(digest, c->digest) != 0) {
		fail("%s",
		     "detected modified configuration - file changed by other user? Try "
		     "again.");
		goto out;
	}
	if (pct_check_lock(c))
		goto out;
	/* reverts, then new values, then deletions (as the reference orders them) */
	for (const char *p = reverts ? reverts : ""; *p;) {
		char key[64];
		size_t n = strcspn(p, ",; ");
		if (n && n < sizeof(key)) {
			snprintf(key, sizeof(key), "%.*s", (int)n, p);
			ctp_revert(c, key);
		}
		p += n + (p[n] != '\0');
	}
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i] + 2, *v = argv[i + 1], *why;
		if (!strcmp(k, "digest") || !strcmp(k, "delete") || !strcmp(k, "revert"))
			continue;
		if ((why = refuse_change(c, k, v))) {
			fprintf(stderr, "%s: %s\n", k, why);
			goto out;
		}
		if (ctp_set(c, k, v, err, sizeof(err))) {
			fprintf(stderr, "400 Parameter verification failed.\n%s\n", err);
			goto out;
		}
	}
	for (const char *p = deletes ? deletes : ""; *p;) {
		char key[64];
		size_t n = strcspn(p, ",; ");
		if (n) {
			bool force = p[0] == '!';
			snprintf(key, sizeof(key), "%.*s", (int)(force ? n - 1 : n),
			         force ? p + 1 : p);
			const char *why = refuse_change(c, key, NULL);
			if (why) {
				fprintf(stderr, "%s: %s\n", key, why);
				goto out;
			}
			if (ctp_delete(c, key, force, err, sizeof(err))) {
				fprintf(stderr, "400 Parameter verification failed.\n%s\n", err);
				goto out;
			}
		}
		p += n + (p[n] != '\0');
	}
	/* new volumes ("--mp0 local:1,mp=/data"): allocated now, freed unless saved */
	newvols = calloc((size_t)argc, sizeof(*newvols));
	if (!newvols) {
		fail("%s", "out of memory");
		goto out;
	}
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i] + 2;
		if (strncmp(k, "mp", 2) != 0 || !c->pending || !ctc_get(c->pending, k))
			continue;
		if (!st && st_cfg_load_etc(&st, err, sizeof(err))) {
			fail("%s", err);
			goto out;
		}
		int a = pct_alloc_volume(c->pending, st, id, k, newvols[nnew], sizeof(newvols[0]),
		                         err, sizeof(err));
		if (a < 0) {
			fail("%s", err);
			goto out;
		}
		nnew += a > 0;
	}
	/* stopped: everything takes effect now; running: what can be hot-plugged */
	bool running = ctr_state(id, NULL) != CTR_STOPPED;
	if (ctp_apply(c, running ? live_key : NULL, c, err, sizeof(err)) < 0 ||
	    ctc_check(c, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	struct timespec before;
	clock_gettime(CLOCK_REALTIME, &before);
	/* tests: widen the window between the read and the write */
	const char *delay = getenv("PCT_TEST_SAVE_DELAY_MS");
	if (delay && atoi(delay) > 0)
		usleep((useconds_t)atoi(delay) * 1000);
	int src = ctf_save_if(id, c, version, err, sizeof(err));
	if (src == -EAGAIN)
		snprintf(err, sizeof(err),
		         "detected modified configuration - file changed by "
		         "other user? Try again.");
	if (src == 0) {
		rc = 0;
		nnew = 0; /* the config names them now */
	} else {
		fail("%s", err);
		/* a write pmxcfs timed out on may still land: keep what the config names */
		struct ctc_conf *now = NULL;
		char e2[256];
		if (nnew && ctf_load(id, &now, e2, sizeof(e2)) == 0) {
			for (size_t i = 0; i < nnew;)
				if (conf_names(now, newvols[i]))
					memmove(newvols[i], newvols[--nnew], sizeof(newvols[0]));
				else
					i++;
		}
		ctc_free(now);
	}
	if (rc == 0 && running) {
		/* ctmgrd applies it: wait (bounded, without our lock) for its verdict */
		close(lockfd);
		lockfd = -1;
		rc =
		    report_hotplug(id, c, (long long)before.tv_sec * 1000000000LL + before.tv_nsec);
	}
out:
	for (size_t i = 0; i < nnew; i++)
		pct_free_volid(st, newvols[i]);
	free(newvols);
	st_cfg_free(st);
	ctc_free(c);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERR : 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "config", cmd_config },       { "set", cmd_set },
		{ "pending", cmd_pending },     { "create", pct_cmd_create },
		{ "destroy", pct_cmd_destroy }, { "start", pct_cmd_start },
		{ "stop", pct_cmd_stop },       { "shutdown", pct_cmd_shutdown },
		{ "reboot", pct_cmd_reboot },   { "enter", pct_cmd_enter },
		{ "exec", pct_cmd_exec },       { "console", pct_cmd_console },
		{ "list", pct_cmd_list },       { "status", pct_cmd_status },
		{ "unlock", pct_cmd_unlock },   { "mount", pct_cmd_mount },
		{ "unmount", pct_cmd_unmount }, { "pull", pct_cmd_pull },
		{ "push", pct_cmd_push },       { "df", pct_cmd_df },
		{ "migrate", pct_cmd_migrate },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "unknown command 'pct %s'\n", argv[1]);
	usage(stderr);
	return EXIT_ERR;
}
