# keyfiles hold secrets: NetworkManager wants them private
set -e
for f in "$ROOTFS"/etc/NetworkManager/system-connections/*.nmconnection; do
	[ "$(stat -c %a "$f")" = 600 ] || { echo "$f is not 0600"; exit 1; }
done
