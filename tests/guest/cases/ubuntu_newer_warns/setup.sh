mkdir -p etc/systemd/network
