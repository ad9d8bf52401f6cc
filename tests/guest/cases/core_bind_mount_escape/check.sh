# shellcheck shell=bash
# run again with a tmpfs mounted at /mnt/share (in a private mount
# namespace) holding what a host directory might: getty.target.wants with a
# file the getty set-up would replace.  The run must refuse, and the
# tmpfs must be exactly as it was.
set -u
share=$ROOTFS/mnt/share
# shellcheck disable=SC2016 # expanded by the inner sh
out=$(unshare -m sh -c 'mount -t tmpfs t "$1" && mkdir "$1/getty.target.wants" &&
	echo host >"$1/getty.target.wants/getty@tty1.service" &&
	"$2" --rootfs "$3" --conf "$4" --seed 1 --host-resolv /dev/null; rc=$?;
	cd "$1" && find . | sort && cat getty.target.wants/getty@tty1.service; exit $rc' \
	sh "$share" "$TOOL" "$ROOTFS" "$CASE_DIR/conf" 2>&1)
rc=$?
[ $rc -ne 0 ] || { echo "the run with the bind mount succeeded: $out"; exit 1; }
case $out in *"another file system"*) ;; *) echo "no clear refusal: $out"; exit 1 ;; esac
want=$(printf '.\n./getty.target.wants\n./getty.target.wants/getty@tty1.service\nhost')
[ "$(printf '%s\n' "$out" | grep -v 'another file system')" = "$want" ] ||
	{ echo "the mount changed: $out"; exit 1; }
