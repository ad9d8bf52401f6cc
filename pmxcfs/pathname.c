/*
 * pathname.c - see pathname.h.
 */
#include "pmxcfs/pathname.h"

#include <errno.h>
#include <string.h>

int cfs_name_check(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > CFS_MAX_NAME_LEN)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

static bool name_is(const char *name, size_t len, const char *lit)
{
	size_t l = strlen(lit);
	return len == l && memcmp(name, lit, l) == 0;
}

enum cfs_guest_type cfs_guest_dir_type(const char *dirname, size_t len)
{
	if (name_is(dirname, len, "lxc"))
		return CFS_GUEST_LXC;
	if (name_is(dirname, len, "qemu-server"))
		return CFS_GUEST_QEMU;
	return CFS_GUEST_NONE;
}

static bool ends_with(const char *name, size_t len, const char *suffix)
{
	size_t l = strlen(suffix);
	return len >= l && memcmp(name + len - l, suffix, l) == 0;
}

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool cfs_guest_name_parse(const char *name, size_t len, uint64_t *vmid)
{
	size_t digits;
	uint64_t v = 0;

	if (!ends_with(name, len, ".conf"))
		return false;
	digits = len - 5;
	if (digits == 0 || digits > 10 || !all_digits(name, digits) || name[0] == '0')
		return false;
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (uint64_t)(name[i] - '0');
	*vmid = v;
	return true;
}

static bool contains(const char *name, size_t len, const char *needle)
{
	size_t l = strlen(needle);
	if (len < l)
		return false;
	for (size_t i = 0; i + l <= len; i++)
		if (memcmp(name + i, needle, l) == 0)
			return true;
	return false;
}

bool cfs_temp_name(const char *name, size_t len)
{
	if (len == 0)
		return false;
	if (name[0] == '.') /* vim swap, emacs lock, rsync temp */
		return true;
	if (name[len - 1] == '~') /* backup copies */
		return true;
	if (len >= 2 && name[0] == '#' && name[len - 1] == '#') /* emacs auto-save */
		return true;
	if (all_digits(name, len)) /* vim's "4913" write probe */
		return true;
	if (len == 9 && memcmp(name, "sed", 3) == 0) /* sed -i: "sed" + 6 random chars */
		return true;
	if (contains(name, len, ".tmp")) /* 100.conf.tmp.<pid>, foo.tmp */
		return true;
	return ends_with(name, len, ".new") || ends_with(name, len, ".bak") ||
	    ends_with(name, len, ".old");
}

int cfs_guest_name_check(const char *name, size_t len, uint64_t *vmid)
{
	uint64_t id;

	*vmid = 0;
	if (cfs_guest_name_parse(name, len, &id)) {
		if (id < CFS_MIN_GUEST_ID || id > CFS_MAX_GUEST_ID)
			return -EINVAL;
		*vmid = id;
		return 0;
	}
	return cfs_temp_name(name, len) ? 0 : -EINVAL;
}

bool cfs_root_reserved_name(const char *name, size_t len)
{
	static const char *const reserved[] = {
		".version", ".members", ".vmlist",     ".clusterlog",
		"local",    "lxc",      "qemu-server", "openvz",
	};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (name_is(name, len, reserved[i]))
			return true;
	return false;
}
