# the runlevel directories, one link already there (kept as it is)
set -e
mkdir -p etc/runlevels/boot etc/runlevels/shutdown
ln -s /etc/init.d/bootmisc.orig etc/runlevels/boot/bootmisc
