set -e
# nothing was written
[ "$(cd "$ROOTFS" && find . | sort | tr '\n' ' ')" = ". ./etc ./etc/motd " ]
