mkdir -p etc/systemd/system/getty.target.wants
