mkdir -p nix/store/0abc-bash-interactive-5.2p26/bin
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000\267\000' >nix/store/0abc-bash-interactive-5.2p26/bin/bash
ln -s static/hosts etc/hosts
