# systemd in /lib, a template's getty@tty1 link
set -e
mkdir -p sbin lib/systemd etc/systemd/system/getty.target.wants
: >lib/systemd/systemd
chmod 755 lib/systemd/systemd
ln -s /lib/systemd/systemd sbin/init
ln -s /lib/systemd/system/getty@.service etc/systemd/system/getty.target.wants/getty@tty1.service
