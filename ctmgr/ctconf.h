/*
 * ctconf.h - the container config format (/etc/pve/lxc/<CTID>.conf):
 * parse, validate, edit and print, byte-compatible with the reference.
 * Used by pct and ctmgrd.  Schema and value checks: ctmgr/ctschema.h.
 *
 * File layout (what the reference reads and writes):
 *
 *   #description line (percent-encoded: control bytes, '%', ':', non-ASCII)
 *   key: value                    sorted by key when written
 *   lxc.raw.key: value            raw LXC keys (':' or '=' when read), file order
 *
 *   [pve:pending]                 values waiting for the next start, plus
 *   key: value                    "delete: k1,!k2" ('!' = force)
 *
 *   [snapname]                    a snapshot: the config at snapshot time
 *   key: value                    plus snaptime, parent, snapstate, vmstate
 *
 * Every section keeps its keys with their value text exactly as read: a key
 * that nobody changed is written back byte for byte (an unknown key, an
 * enum value this version does not know, a property string in another key
 * order), so changing one key never reformats another.  A changed key gets
 * the canonical text (property strings: default key first, the rest sorted).
 *
 * Strict and lenient: reading (lenient) keeps unknown keys and values that
 * do not validate, each with a warning naming file, line and key; writing
 * (ctc_check) refuses a config in which a key that was set or changed does
 * not validate, or whose structure is wrong.  Errors always name the file,
 * the line (when it came from a file) and the key.
 */
#ifndef CTMGR_CTCONF_H
#define CTMGR_CTCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTC_PENDING "pve:pending"
#define CTC_MAX_FILE (1024 * 1024) /* pmxcfs's file size limit */

/* One "key: value" line. */
struct ctc_kv {
	char *key;
	char *value; /* the value text: as read, or canonical when set */
	unsigned line; /* where it was read (0: set by a program) */
	bool changed; /* set or changed since the file was read */
};

struct ctc_section {
	char *name; /* NULL for the current config; CTC_PENDING; a snapshot's name */
	char *description; /* decoded, lines joined by '\n'; NULL when none */
	struct ctc_kv *keys; /* unique keys, in file order */
	size_t nkeys, capkeys;
	struct ctc_kv *lxc; /* raw lxc.* keys, file order, may repeat */
	size_t nlxc, caplxc;
};

struct ctc_conf {
	char *file; /* for messages ("/etc/pve/lxc/100.conf") */
	struct ctc_section main;
	struct ctc_section *pending; /* NULL when none */
	struct ctc_section *snaps; /* sorted by name */
	size_t nsnaps;
	char digest[41]; /* SHA-1 of the raw file, hex; "" for a new config */
};

/* Messages: warnings when lenient, or the first error. */
struct ctc_diag {
	char **msgs;
	size_t n, cap;
};
void ctc_diag_add(struct ctc_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctc_diag_free(struct ctc_diag *d);

/*
 * Parse len bytes of text (file is used in messages).  Lenient
 * (strict=false): unknown keys and values that do not validate are kept,
 * with a warning each in warn (may be NULL).  Strict: those are errors.
 * Structural errors (a line that is no key, section or comment; a key given
 * twice in a section; a section twice; a forbidden lxc key; a file over
 * CTC_MAX_FILE; a NUL byte) are always errors.  Returns 0 with *out, or
 * -EINVAL with the message in err.
 */
int ctc_parse(const char *text, size_t len, const char *file, bool strict, struct ctc_conf **out,
              struct ctc_diag *warn, char *err, size_t errlen);
/* Read and parse a file (ENOENT, EFBIG, EINVAL). */
int ctc_load(const char *path, bool strict, struct ctc_conf **out, struct ctc_diag *warn, char *err,
             size_t errlen);
struct ctc_conf *ctc_new(const char *file);
void ctc_free(struct ctc_conf *c);

/* The file as the reference writes it; malloc'd, NUL-terminated. */
char *ctc_print(const struct ctc_conf *c, size_t *len);

/*
 * Check a config before it is written: structure, every changed key
 * strictly (unknown keys included), and rules across keys (pending delete
 * list, snapshot parents).  0 or -EINVAL with the message.
 */
int ctc_check(const struct ctc_conf *c, char *err, size_t errlen);

/* SHA-1 of data as 40 hex digits (the digest of a file's raw bytes). */
void ctc_sha1_hex(const void *data, size_t len, char out[41]);

/* ---- sections and keys ---- */
struct ctc_section *ctc_snapshot(struct ctc_conf *c, const char *name);
struct ctc_section *ctc_pending(struct ctc_conf *c, bool create);
const char *ctc_get(const struct ctc_section *s, const char *key);
/*
 * Set key to value after validating it (the canonical form is stored:
 * property strings re-printed).  "description" sets the description.
 * -EINVAL with a message naming the key.
 */
int ctc_set(struct ctc_section *s, const char *key, const char *value, char *err, size_t errlen);
/* Set without validation (keeps the text as given; for tests and copies). */
int ctc_set_raw(struct ctc_section *s, const char *key, const char *value);
/* The section's keys sorted by name (as written); malloc'd array, NULL on ENOMEM. */
const struct ctc_kv **ctc_sorted_keys(const struct ctc_section *s);
/* Remove key; true when it was there. */
bool ctc_delete(struct ctc_section *s, const char *key);

/* ---- percent encoding of description lines ---- */
/* Encode: control bytes, '%', ':' and bytes >= 0x80 become %XX. */
char *ctc_encode_text(const char *s);
/* Decode %XX (hex, either case); anything else is kept. */
char *ctc_decode_text(const char *s);

#endif
