/*
 * guest_distros.c - the distribution plug-ins of the guest set-up (one
 * struct guest_distro each, defined in guest_<family>.c) by ostype.
 */
#include "ctmgr/guest.h"

#include <string.h>

/* guest_debian.c: ifupdown families and Alpine */
extern const struct guest_distro guest_debian, guest_devuan, guest_ubuntu, guest_alpine;
/* guest_redhat.c: ifcfg / NetworkManager / networkd families */
extern const struct guest_distro guest_centos, guest_fedora;
/* guest_other.c */
extern const struct guest_distro guest_opensuse, guest_archlinux, guest_gentoo, guest_nixos;

static const struct guest_distro *const all[] = {
	&guest_debian, &guest_devuan,   &guest_ubuntu,    &guest_alpine, &guest_centos,
	&guest_fedora, &guest_opensuse, &guest_archlinux, &guest_gentoo, &guest_nixos,
};

const struct guest_distro *guest_distro_find(const char *ostype)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->ostype, ostype))
			return all[i];
	return NULL;
}
