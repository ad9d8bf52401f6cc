mkdir -p etc
ln -s ../../../../../../../../etc/os-release etc/os-release
