#!/bin/bash
# install-deps.sh - install what building, running and testing this project
# needs on Debian 12, only if missing.  Idempotent; run as root.  Sourced or
# run by scripts/run-main.sh and scripts/run-tests.sh.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git
	libfuse3-dev fuse3 libsqlite3-dev sqlite3 libqb-dev
	corosync libcpg-dev libquorum-dev libcmap-dev libvotequorum-dev libcorosync-common-dev
	lxc lxc-dev
	clang libclang-rt-14-dev
	vim vim-tiny python3 procps psmisc util-linux valgrind
	iproute2 nftables bc
	libssl-dev tzdata e2fsprogs
	libarchive-dev busybox-static zstd debootstrap
	libcrypt-dev openssh-client iputils-ping
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FUSE device
if [ ! -e /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
fi
if [ ! -e /dev/fuse ]; then
	echo "install-deps: /dev/fuse is missing and the fuse module cannot be loaded" >&2
	exit 1
fi

# the group that owns /etc/pve content (Debian ships it; create it elsewhere)
getent group www-data >/dev/null || groupadd --system --gid 33 www-data

# id ranges for unprivileged containers (used by pct in later work)
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	grep -q '^root:100000:65536$' "$f" || echo 'root:100000:65536' >>"$f"
done
