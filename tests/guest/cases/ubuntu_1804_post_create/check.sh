# the interface files exist (their format: ubuntu_2204_networkd_format)
set -e
grep -q "^Name = eth0$" "$ROOTFS/etc/systemd/network/eth0.network"
