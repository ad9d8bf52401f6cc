# shellcheck shell=bash
# the directories git cannot keep empty: /etc/ssh (so host keys are made) and root's home
mkdir -p etc/ssh root
