# shellcheck shell=bash
# the guest points a directory we write into (/etc/systemd/system, where the
# getty links go) at a mount point inside the rootfs: check.sh mounts a
# tmpfs there, as a host directory bind-mounted into the CT would be
mkdir -p etc/systemd lib/systemd/system sbin mnt/share # (git keeps no empty directories)
ln -s /mnt/share etc/systemd/system
printf '#!/bin/sh\n' >lib/systemd/systemd
chmod 755 lib/systemd/systemd
ln -s /lib/systemd/systemd sbin/init
# shellcheck disable=SC2016 # a literal $TERM
printf '[Service]\nExecStart=-/sbin/agetty --noclear --keep-baud pts/%%I 115200,38400,9600 $TERM\n' \
	>lib/systemd/system/container-getty@.service
