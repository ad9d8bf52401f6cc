# markers that are no regular files: a directory, a link to one
mkdir -p etc/arch-release nix/store
ln -s /etc etc/gentoo-release
