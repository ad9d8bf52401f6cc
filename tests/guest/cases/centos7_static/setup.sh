# systemd is executable; the wants directory git cannot hold
chmod 755 usr/lib/systemd/systemd
mkdir -p etc/systemd/system/getty.target.wants
# a getty@ link of an older set-up, to be replaced by container-getty@
ln -s /usr/lib/systemd/system/getty@.service etc/systemd/system/getty.target.wants/getty@tty1.service
