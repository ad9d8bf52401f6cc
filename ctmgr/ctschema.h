/*
 * ctschema.h - the keys of a container config and how their values are
 * checked and written: types, ranges, defaults, enums, value formats (IPs,
 * MACs, host names, paths, tags, time zones, ...) and property strings
 * ("name=eth0,bridge=vmbr0,ip=dhcp"), after the reference's schema.
 * Used by ctmgr/ctconf.c; no state, thread safe.
 */
#ifndef CTMGR_CTSCHEMA_H
#define CTMGR_CTSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

enum cts_type {
	CTS_BOOL = 1, /* 1/0/on/off/yes/no/true/false, written 1/0 */
	CTS_INT, /* decimal integer in [min, max] */
	CTS_NUM, /* decimal number in [min, max] */
	CTS_ENUM,
	CTS_STR, /* a string, checked by fmt when set */
	CTS_SIZE, /* a size: N[.N][K|M|G|T], written in the largest exact unit */
	CTS_PROP, /* a property string */
};

/* A string format check: 0, or -EINVAL with a message (without the key). */
typedef int (*cts_fmt_fn)(const char *v, char *err, size_t errlen);

struct cts_propfmt;

/* One value: a top-level key or a part of a property string. */
struct cts_val {
	const char *name;
	enum cts_type type;
	double min, max; /* INT, NUM */
	const char *const *enums; /* ENUM: NULL-terminated */
	cts_fmt_fn fmt; /* STR (optional) */
	const struct cts_propfmt *prop; /* PROP */
	bool required; /* property strings: must be given */
	const char *def; /* the default, for documentation ("" none) */
};

struct cts_propfmt {
	const char *default_key; /* the part that may be written without "key=" */
	const struct cts_val *keys;
	size_t nkeys;
};

/* Where a key is allowed. */
#define CTS_IN_MAIN 0x1u
#define CTS_IN_PENDING 0x2u
#define CTS_IN_SNAPSHOT 0x4u

struct cts_key {
	struct cts_val v;
	unsigned indexed; /* 0, or N: name0 .. name<N-1> */
	unsigned where; /* CTS_IN_* */
};

/*
 * The schema entry for key in a section (section NULL: the current config,
 * CTC_PENDING, or a snapshot name), NULL when unknown there.
 */
const struct cts_key *cts_lookup(const char *key, const char *section);

/*
 * Check value for key (a known key: cts_lookup) and, when canon is not
 * NULL, store a malloc'd canonical text in *canon (booleans 1/0, integers
 * without leading zeros, sizes in the largest exact unit, property strings
 * with the default key first and the others sorted).  0 or -EINVAL with a
 * message that does not repeat the key.
 */
int cts_check(const struct cts_key *k, const char *value, char **canon, char *err, size_t errlen);

/* A single value of a type (used for property string parts too). */
int cts_check_val(const struct cts_val *v, const char *value, char **canon, char *err,
                  size_t errlen);

/* Parse a boolean the way the reference does: -1 when it is none. */
int cts_parse_bool(const char *s);
/* Parse a size into bytes; -1 when malformed. */
long long cts_parse_size(const char *s);
/* Bytes in the largest unit that divides exactly ("8G", "512M", "100"). */
void cts_format_size(long long bytes, char *buf, size_t len);

/*
 * A raw lxc key: 0 allowed; 1 allowed but deprecated (*replacement names
 * the new key); -EINVAL not allowed (err says why: unknown, or reserved for
 * pct like lxc.rootfs.path).
 */
int cts_lxc_key(const char *key, const char **replacement, char *err, size_t errlen);

/*
 * The value of part key of a property string (default_key names the part
 * that may be written bare, or NULL) copied to out: 1 found, 0 absent,
 * -ENAMETOOLONG when out is too small.  The string is not checked: use it on
 * values that passed cts_check (or treat a malformed part as absent).
 */
int cts_prop_get(const char *value, const char *default_key, const char *key, char *out,
                 size_t outlen);

/* Value formats, exported for tests. */
int cts_fmt_dns_name(const char *v, char *err, size_t errlen);
int cts_fmt_ipv4(const char *v, char *err, size_t errlen);
int cts_fmt_ipv6(const char *v, char *err, size_t errlen);
int cts_fmt_mac(const char *v, char *err, size_t errlen);
int cts_fmt_ifname(const char *v, char *err, size_t errlen);
int cts_fmt_mount_path(const char *v, char *err, size_t errlen);
int cts_fmt_tags(const char *v, char *err, size_t errlen);
int cts_fmt_timezone(const char *v, char *err, size_t errlen);
int cts_fmt_volume(const char *v, char *err, size_t errlen);

#endif
