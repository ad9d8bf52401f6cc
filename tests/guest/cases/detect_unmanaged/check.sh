set -e
# not a file more, not a file changed
cd "$ROOTFS"
[ "$(find . | sort | tr '\n' ' ')" = ". ./etc ./etc/hosts ./etc/os-release ./etc/systemd ./etc/systemd/system ./etc/systemd/system/getty.target.wants ./usr ./usr/lib ./usr/lib/systemd ./usr/lib/systemd/system ./usr/lib/systemd/system/container-getty@.service " ]
cmp -s usr/lib/systemd/system/container-getty@.service "$CASE_DIR/rootfs/usr/lib/systemd/system/container-getty@.service"
cmp -s etc/os-release "$CASE_DIR/rootfs/etc/os-release"
