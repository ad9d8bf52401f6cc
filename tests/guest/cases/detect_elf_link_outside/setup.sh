mkdir -p bin
ln -s /usr/bin/bash bin/sh
ln -s ../../../../../../../../usr/bin/bash bin/bash
