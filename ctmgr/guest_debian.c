/*
 * guest_debian.c - guest set-up of: debian devuan ubuntu alpine (a stub: filled in next).
 */
#include "ctmgr/guest.h"

const struct guest_distro guest_debian = { .ostype = "debian" };
const struct guest_distro guest_devuan = { .ostype = "devuan" };
const struct guest_distro guest_ubuntu = { .ostype = "ubuntu" };
const struct guest_distro guest_alpine = { .ostype = "alpine" };
