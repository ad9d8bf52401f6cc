ln -s /usr/share/zoneinfo/Europe/Vienna etc/localtime
