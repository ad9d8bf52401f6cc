# the shadow file keeps its mode
set -e
[ "$(stat -c %a "$ROOTFS/etc/shadow")" = 600 ] || { echo "etc/shadow is not 0600"; exit 1; }
