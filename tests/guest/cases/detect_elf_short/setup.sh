mkdir -p bin
printf '\177ELF\002\001\001' >bin/sh
