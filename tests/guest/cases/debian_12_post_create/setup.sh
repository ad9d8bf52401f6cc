# systemd as init, a template's getty@tty1 link and a masked getty.target
set -e
mkdir -p sbin lib/systemd etc/systemd/system/getty.target.wants
: >lib/systemd/systemd
chmod 755 lib/systemd/systemd
ln -s /lib/systemd/systemd sbin/init
ln -s /lib/systemd/system/getty@.service etc/systemd/system/getty.target.wants/getty@tty1.service
ln -s /dev/null etc/systemd/system/getty.target
mkdir -p root
