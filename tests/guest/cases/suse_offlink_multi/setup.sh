mkdir -p etc/systemd/system/getty.target.wants
ln -s /usr/lib/systemd/system/container-getty@.service etc/systemd/system/getty.target.wants/container-getty@1.service
ln -s /usr/lib/systemd/system/getty@.service etc/systemd/system/getty.target.wants/getty@tty2.service
