/*
 * ctconf.c - the container config file: parse, print, edit, check; see
 * ctconf.h.
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/ctschema.h"
#include "pmxcfs/sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- diagnostics ---- */

void ctc_diag_add(struct ctc_diag *d, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (!d)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		char **m = realloc(d->msgs, cap * sizeof(*m));
		if (!m)
			return;
		d->msgs = m;
		d->cap = cap;
	}
	if ((d->msgs[d->n] = strdup(buf)))
		d->n++;
}

void ctc_diag_free(struct ctc_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	memset(d, 0, sizeof(*d));
}

/* ---- text encoding ---- */

char *ctc_encode_text(const char *s)
{
	struct sbuf sb = SBUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '%' || *p == ':')
			sbuf_addf(&sb, "%%%02X", *p);
		else
			sbuf_add(&sb, (const char *)p, 1);
	}
	if (!sb.buf && !sb.oom)
		sbuf_add(&sb, "", 0);
	return sbuf_detach(&sb, NULL);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *ctc_decode_text(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n + 1 && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0 && (h || l)) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

void ctc_sha1_hex(const void *data, size_t len, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	out[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return;
	for (unsigned i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- the model ---- */

static void section_clear(struct ctc_section *s)
{
	free(s->name);
	free(s->description);
	for (size_t i = 0; i < s->nkeys; i++) {
		free(s->keys[i].key);
		free(s->keys[i].value);
	}
	for (size_t i = 0; i < s->nlxc; i++) {
		free(s->lxc[i].key);
		free(s->lxc[i].value);
	}
	free(s->keys);
	free(s->lxc);
	memset(s, 0, sizeof(*s));
}

struct ctc_conf *ctc_new(const char *file)
{
	struct ctc_conf *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->file = strdup(file ? file : "(config)");
	if (!c->file) {
		free(c);
		return NULL;
	}
	return c;
}

void ctc_free(struct ctc_conf *c)
{
	if (!c)
		return;
	section_clear(&c->main);
	if (c->pending)
		section_clear(c->pending);
	free(c->pending);
	for (size_t i = 0; i < c->nsnaps; i++)
		section_clear(&c->snaps[i]);
	free(c->snaps);
	free(c->file);
	free(c);
}

static struct ctc_kv *find_kv(const struct ctc_section *s, const char *key)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (!strcmp(s->keys[i].key, key))
			return &s->keys[i];
	return NULL;
}

const char *ctc_get(const struct ctc_section *s, const char *key)
{
	if (!strcmp(key, "description"))
		return s->description;
	struct ctc_kv *kv = find_kv(s, key);
	return kv ? kv->value : NULL;
}

static int add_kv(struct ctc_kv **arr, size_t *n, size_t *cap, const char *key, const char *value,
                  unsigned line)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct ctc_kv *a = realloc(*arr, nc * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = nc;
	}
	struct ctc_kv *kv = &(*arr)[*n];
	kv->key = strdup(key);
	kv->value = strdup(value);
	kv->line = line;
	kv->changed = line == 0;
	if (!kv->key || !kv->value) {
		free(kv->key);
		free(kv->value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* Replace or add key with value (owned copy). */
static int put_kv(struct ctc_section *s, const char *key, const char *value)
{
	struct ctc_kv *kv = find_kv(s, key);
	if (!kv)
		return add_kv(&s->keys, &s->nkeys, &s->capkeys, key, value, 0);
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	free(kv->value);
	kv->value = v;
	kv->changed = true;
	return 0;
}

int ctc_set_raw(struct ctc_section *s, const char *key, const char *value)
{
	if (!strcmp(key, "description")) {
		char *d = strdup(value);
		if (!d)
			return -ENOMEM;
		free(s->description);
		s->description = d;
		return 0;
	}
	return put_kv(s, key, value);
}

int ctc_set(struct ctc_section *s, const char *key, const char *value, char *err, size_t errlen)
{
	const struct cts_key *k = cts_lookup(key, s->name);
	char msg[512], *canon = NULL;

	if (!k) {
		snprintf(err, errlen, "key '%s': unknown%s", key,
		         s->name ? " in this section" : "");
		return -EINVAL;
	}
	if (!strcmp(key, "description")) /* any text; encoded when written */
		return ctc_set_raw(s, key, value);
	int e = cts_check(k, value, &canon, msg, sizeof(msg));
	if (e) {
		snprintf(err, errlen, "key '%s': %s", key, msg);
		return e;
	}
	e = put_kv(s, key, canon);
	free(canon);
	return e;
}

bool ctc_delete(struct ctc_section *s, const char *key)
{
	if (!strcmp(key, "description")) {
		bool had = s->description != NULL;
		free(s->description);
		s->description = NULL;
		return had;
	}
	for (size_t i = 0; i < s->nkeys; i++) {
		if (strcmp(s->keys[i].key, key) != 0)
			continue;
		free(s->keys[i].key);
		free(s->keys[i].value);
		memmove(&s->keys[i], &s->keys[i + 1], (s->nkeys - i - 1) * sizeof(s->keys[0]));
		s->nkeys--;
		return true;
	}
	return false;
}

struct ctc_section *ctc_snapshot(struct ctc_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nsnaps; i++)
		if (!strcmp(c->snaps[i].name, name))
			return &c->snaps[i];
	return NULL;
}

struct ctc_section *ctc_pending(struct ctc_conf *c, bool create)
{
	if (!c->pending && create) {
		c->pending = calloc(1, sizeof(*c->pending));
		if (c->pending && !(c->pending->name = strdup(CTC_PENDING))) {
			free(c->pending);
			c->pending = NULL;
		}
	}
	return c->pending;
}

/* ---- parsing ---- */

struct parser {
	struct ctc_conf *c;
	bool strict;
	struct ctc_diag *warn;
	char *err;
	size_t errlen;
	unsigned line;
	struct ctc_section *cur;
};

/*
 * A problem on the current line: an error (-EINVAL, message in p->err), or
 * when hard is false and the read is lenient, a warning (0) for a key that
 * is kept as it is.
 */
static int report(struct parser *p, bool hard, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int report(struct parser *p, bool hard, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (hard || p->strict) {
		snprintf(p->err, p->errlen, "%s line %u: %s", p->c->file, p->line, msg);
		return -EINVAL;
	}
	ctc_diag_add(p->warn, "%s line %u: %s (kept as it is)", p->c->file, p->line, msg);
	return 0;
}
#define perr(p, ...) report(p, true, __VA_ARGS__)
#define pwarn(p, ...) report(p, false, __VA_ARGS__)

static int add_description(struct ctc_section *s, const char *encoded)
{
	char *d = ctc_decode_text(encoded);
	if (!d)
		return -ENOMEM;
	if (!s->description) {
		s->description = d;
		return 0;
	}
	size_t a = strlen(s->description), b = strlen(d);
	char *n = realloc(s->description, a + b + 2);
	if (!n) {
		free(d);
		return -ENOMEM;
	}
	n[a] = '\n';
	memcpy(n + a + 1, d, b + 1);
	s->description = n;
	free(d);
	return 0;
}

static int cmp_section(const void *a, const void *b)
{
	return strcmp(((const struct ctc_section *)a)->name, ((const struct ctc_section *)b)->name);
}

static int start_section(struct parser *p, const char *line)
{
	size_t n = strlen(line);
	char msg[256];
	if (n < 3 || line[n - 1] != ']')
		return perr(p, "a section header must be [name]");
	char *name = strndup(line + 1, n - 2);
	if (!name)
		return -ENOMEM;
	if (!strcmp(name, CTC_PENDING)) {
		if (p->c->pending) {
			free(name);
			return perr(p, "section [%s] given twice", CTC_PENDING);
		}
		free(name);
		if (!ctc_pending(p->c, true))
			return -ENOMEM;
		p->cur = p->c->pending;
		return 0;
	}
	const struct cts_key *parent = cts_lookup("parent", NULL);
	if (cts_check(parent, name, NULL, msg, sizeof(msg))) {
		perr(p, "section [%s]: %s", name, msg);
		free(name);
		return -EINVAL;
	}
	if (ctc_snapshot(p->c, name)) {
		perr(p, "snapshot [%s] given twice", name);
		free(name);
		return -EINVAL;
	}
	struct ctc_section *s = realloc(p->c->snaps, (p->c->nsnaps + 1) * sizeof(*s));
	if (!s) {
		free(name);
		return -ENOMEM;
	}
	p->c->snaps = s;
	p->cur = &s[p->c->nsnaps++];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->name = name;
	return 0;
}

static int parse_lxc(struct parser *p, char *line)
{
	size_t k = 4 + strspn(line + 4, "abcdefghijklmnopqrstuvwxyz0123456789_-.");
	char *rest = line + k, msg[512];
	const char *repl;
	if (k == 4)
		return perr(p, "an lxc key needs a name after 'lxc.'");
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest != ':' && *rest != '=')
		return perr(p, "expected ':' or '=' after '%.*s'", (int)k, line);
	char *value = rest + 1;
	line[k] = '\0';
	while (*value == ' ' || *value == '\t')
		value++;
	int r = cts_lxc_key(line, &repl, msg, sizeof(msg));
	if (r < 0) {
		if (strstr(msg, "set by pct"))
			return perr(p, "%s", msg); /* never, not even when lenient */
		if (pwarn(p, "%s", msg))
			return -EINVAL;
	} else if (r == 1) {
		ctc_diag_add(p->warn, "%s line %u: '%s' is deprecated; use %s", p->c->file, p->line,
		             line, repl);
	}
	return add_kv(&p->cur->lxc, &p->cur->nlxc, &p->cur->caplxc, line, value, p->line);
}

static int parse_key(struct parser *p, char *line)
{
	size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
	k += strspn(line + k, "0123456789");
	char msg[512];
	if (k == 0 || line[k] != ':' || !islower((unsigned char)line[0]))
		return perr(p,
		            "cannot parse '%s' (expected 'key: value', '#comment' or "
		            "'[section]')",
		            line);
	line[k] = '\0';
	char *value = line + k + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (!*value)
		return perr(p, "key '%s' has no value", line);
	if (!strcmp(line, "description"))
		return add_description(p->cur, value);
	struct ctc_kv *dup = find_kv(p->cur, line);
	if (dup)
		return perr(p, "key '%s' given twice (first on line %u)", line, dup->line);
	const struct cts_key *key = cts_lookup(line, p->cur->name);
	if (!key) {
		if (pwarn(p, "key '%s': unknown%s", line, p->cur->name ? " in this section" : ""))
			return -EINVAL;
	} else if (cts_check(key, value, NULL, msg, sizeof(msg))) {
		if (pwarn(p, "key '%s': %s", line, msg))
			return -EINVAL;
	}
	return add_kv(&p->cur->keys, &p->cur->nkeys, &p->cur->capkeys, line, value, p->line);
}

int ctc_parse(const char *text, size_t len, const char *file, bool strict, struct ctc_conf **out,
              struct ctc_diag *warn, char *err, size_t errlen)
{
	struct parser p = { .strict = strict, .warn = warn, .err = err, .errlen = errlen };
	int rc = 0;

	if (!(p.c = ctc_new(file)))
		return -ENOMEM;
	p.cur = &p.c->main;
	if (len > CTC_MAX_FILE) {
		snprintf(err, errlen, "%s: %zu bytes is over the %d byte limit", p.c->file, len,
		         CTC_MAX_FILE);
		ctc_free(p.c);
		return -EFBIG;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte (not a text file)", p.c->file);
		ctc_free(p.c);
		return -EINVAL;
	}
	ctc_sha1_hex(text, len, p.c->digest);
	for (size_t off = 0; off < len && rc == 0;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *line = strndup(text + off, n);
		off += n + 1;
		p.line++;
		if (!line) {
			rc = -ENOMEM;
			break;
		}
		/*
		 * trailing white space (a '\r' too) is not part of the line; but a
		 * description line keeps its spaces (only a CRLF file's '\r' goes), as
		 * the reference reads it: else "#a " would lose its space
		 */
		size_t l = strlen(line);
		if (line[0] == '#') {
			if (l && line[l - 1] == '\r')
				line[--l] = '\0';
		} else {
			while (l && isspace((unsigned char)line[l - 1]))
				line[--l] = '\0';
		}
		if (l == 0)
			rc = 0;
		else if (line[0] == '#')
			rc = add_description(p.cur, line + 1);
		else if (line[0] == '[')
			rc = start_section(&p, line);
		else if (!strncmp(line, "lxc.", 4))
			rc = parse_lxc(&p, line);
		else
			rc = parse_key(&p, line);
		free(line);
	}
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", p.c->file);
		ctc_free(p.c);
		return rc;
	}
	if (p.c->nsnaps > 1)
		qsort(p.c->snaps, p.c->nsnaps, sizeof(p.c->snaps[0]), cmp_section);
	*out = p.c;
	return 0;
}

int ctc_load(const char *path, bool strict, struct ctc_conf **out, struct ctc_diag *warn, char *err,
             size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0 || st.st_size > CTC_MAX_FILE) {
		snprintf(err, errlen, "%s: too large (over %d bytes) or unreadable", path,
		         CTC_MAX_FILE);
		close(fd);
		return -EFBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	ssize_t r = 0;
	while (buf && got <= (size_t)st.st_size &&
	       (r = read(fd, buf + got, (size_t)st.st_size + 1 - got)) > 0)
		got += (size_t)r;
	int e = !buf ? ENOMEM : r < 0 ? errno : 0;
	close(fd);
	if (e) {
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		free(buf);
		return -e;
	}
	int rc = ctc_parse(buf, got, path, strict, out, warn, err, errlen);
	free(buf);
	return rc;
}

/* ---- printing ---- */

static int cmp_kv(const void *a, const void *b)
{
	return strcmp((*(const struct ctc_kv *const *)a)->key,
	              (*(const struct ctc_kv *const *)b)->key);
}

const struct ctc_kv **ctc_sorted_keys(const struct ctc_section *s)
{
	const struct ctc_kv **sorted = malloc((s->nkeys + 1) * sizeof(*sorted));
	if (!sorted)
		return NULL;
	for (size_t i = 0; i < s->nkeys; i++)
		sorted[i] = &s->keys[i];
	qsort(sorted, s->nkeys, sizeof(*sorted), cmp_kv);
	return sorted;
}

static bool section_empty(const struct ctc_section *s)
{
	return !s->nkeys && !s->nlxc && !s->description;
}

static void print_section(struct sbuf *sb, const struct ctc_section *s)
{
	/* trailing empty lines are not written (the reference splits on '\n') */
	size_t dlen = s->description ? strlen(s->description) : 0;
	while (dlen && s->description[dlen - 1] == '\n')
		dlen--;
	if (dlen) {
		for (const char *d = s->description, *end = d + dlen;;) {
			size_t n = strcspn(d, "\n");
			if (d + n > end)
				n = (size_t)(end - d);
			char *line = strndup(d, n), *enc = line ? ctc_encode_text(line) : NULL;
			sbuf_addf(sb, "#%s\n", enc ? enc : "");
			free(line);
			free(enc);
			if (d + n >= end)
				break;
			d += n + 1;
		}
	}
	const struct ctc_kv **sorted = ctc_sorted_keys(s);
	if (!sorted) {
		sb->oom = true;
		return;
	}
	for (size_t i = 0; i < s->nkeys; i++)
		sbuf_addf(sb, "%s: %s\n", sorted[i]->key, sorted[i]->value);
	free(sorted);
	for (size_t i = 0; i < s->nlxc; i++)
		sbuf_addf(sb, "%s: %s\n", s->lxc[i].key, s->lxc[i].value);
}

char *ctc_print(const struct ctc_conf *c, size_t *len)
{
	struct sbuf sb = SBUF_INIT;
	print_section(&sb, &c->main);
	if (c->pending && !section_empty(c->pending)) {
		sbuf_addf(&sb, "\n[%s]\n", CTC_PENDING);
		print_section(&sb, c->pending);
	}
	for (size_t i = 0; i < c->nsnaps; i++) {
		sbuf_addf(&sb, "\n[%s]\n", c->snaps[i].name);
		print_section(&sb, &c->snaps[i]);
	}
	if (!sb.buf && !sb.oom)
		sbuf_add(&sb, "", 0);
	return sbuf_detach(&sb, len);
}

/* ---- checks before writing ---- */

static int check_section(const struct ctc_conf *c, const struct ctc_section *s, char *err,
                         size_t errlen)
{
	char msg[512], where[600];

	for (size_t i = 0; i < s->nkeys; i++) {
		const struct ctc_kv *kv = &s->keys[i];
		if (kv->line)
			snprintf(where, sizeof(where), "%s line %u", c->file, kv->line);
		else
			snprintf(where, sizeof(where), "%s%s%s%s", c->file, s->name ? " [" : "",
			         s->name ? s->name : "", s->name ? "]" : "");
		if (strchr(kv->value, '\n')) {
			snprintf(err, errlen, "%s: key '%s': a value may not contain a newline",
			         where, kv->key);
			return -EINVAL;
		}
		if (!kv->changed)
			continue; /* as read: written back unchanged, even if this version doubts it */
		const struct cts_key *k = cts_lookup(kv->key, s->name);
		if (!k) {
			snprintf(err, errlen, "%s: key '%s': unknown", where, kv->key);
			return -EINVAL;
		}
		if (cts_check(k, kv->value, NULL, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s: key '%s': %s", where, kv->key, msg);
			return -EINVAL;
		}
		if (!strcmp(kv->key, "delete")) {
			/* pending deletions: known keys, '!' = force */
			for (const char *p = kv->value; *p;) {
				size_t n = strcspn(p, ",; ");
				char key[64];
				if (n) {
					size_t force = p[0] == '!'; /* not part of the key */
					snprintf(key, sizeof(key), "%.*s", (int)(n - force),
					         p + force);
					if (!cts_lookup(key, NULL)) {
						snprintf(err, errlen,
						         "%s: key 'delete': '%s' is not a key that "
						         "can be "
						         "deleted",
						         where, key);
						return -EINVAL;
					}
				}
				p += n + (p[n] != '\0');
			}
		}
		if (!strcmp(kv->key, "parent")) {
			bool found = false;
			for (size_t j = 0; j < c->nsnaps; j++)
				found |= !strcmp(c->snaps[j].name, kv->value);
			if (!found) {
				snprintf(err, errlen, "%s: key 'parent': no snapshot '%s'", where,
				         kv->value);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int ctc_check(const struct ctc_conf *c, char *err, size_t errlen)
{
	int e = check_section(c, &c->main, err, errlen);
	if (!e && c->pending)
		e = check_section(c, c->pending, err, errlen);
	for (size_t i = 0; !e && i < c->nsnaps; i++)
		e = check_section(c, &c->snaps[i], err, errlen);
	return e;
}
