set -e
# /etc/hosts was a link into /etc/static: now a file of its own
[ -f "$ROOTFS/etc/hosts" ] && [ ! -L "$ROOTFS/etc/hosts" ]
