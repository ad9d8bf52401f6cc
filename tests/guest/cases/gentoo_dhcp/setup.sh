ln -s net.lo etc/init.d/net.eth2
