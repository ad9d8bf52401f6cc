/*
 * guest_redhat.c - guest set-up of: centos fedora (a stub: filled in next).
 */
#include "ctmgr/guest.h"

const struct guest_distro guest_centos = { .ostype = "centos" };
const struct guest_distro guest_fedora = { .ostype = "fedora" };
