# the links were replaced by files; nothing outside the rootfs changed
set -e
for f in hosts hostname; do
	[ -f "$ROOTFS/etc/$f" ] && [ ! -L "$ROOTFS/etc/$f" ] || { echo "etc/$f is still a link"; exit 1; }
done
[ "$(cat "$ROOTFS/etc/hostname")" = evil ] || exit 1
[ "$(cat "$ROOTFS/etc/shadow.guest")" = "root:x:0:" ] || { echo "the guest's shadow.guest changed"; exit 1; }
grep -q evil /etc/shadow /etc/passwd && { echo "a host file was written"; exit 1; }
exit 0
