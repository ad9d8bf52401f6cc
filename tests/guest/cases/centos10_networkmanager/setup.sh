# systemd is executable; the wants directory git cannot hold
chmod 755 usr/lib/systemd/systemd
mkdir -p etc/systemd/system/getty.target.wants
# an old keyfile others may read: replaced by a private one
chmod 644 etc/NetworkManager/system-connections/eth0.nmconnection
