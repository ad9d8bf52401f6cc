/*
 * guest_other.c - guest set-up of: opensuse archlinux gentoo nixos (a stub: filled in next).
 */
#include "ctmgr/guest.h"

const struct guest_distro guest_opensuse = { .ostype = "opensuse" };
const struct guest_distro guest_archlinux = { .ostype = "archlinux" };
const struct guest_distro guest_gentoo = { .ostype = "gentoo" };
const struct guest_distro guest_nixos = { .ostype = "nixos" };
