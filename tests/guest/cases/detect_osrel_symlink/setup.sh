ln -s ../usr/lib/os-release etc/os-release
