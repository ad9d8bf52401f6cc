set -e
mkdir -p usr/sbin usr/lib/systemd etc/systemd/system/getty.target.wants etc/systemd/network
: >usr/lib/systemd/systemd
chmod 755 usr/lib/systemd/systemd
ln -s usr/sbin sbin
ln -s /usr/lib/systemd/systemd usr/sbin/init
