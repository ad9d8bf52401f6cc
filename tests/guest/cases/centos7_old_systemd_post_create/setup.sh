chmod 755 usr/lib/systemd/systemd
chmod 600 etc/shadow
mkdir -p etc/systemd/system
