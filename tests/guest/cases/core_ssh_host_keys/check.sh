# shellcheck shell=bash disable=SC2016
# a create without --seed: fresh host keys of the three types, private 0600,
# public 0644 with the host name as comment; the plain password hashed with
# SHA-512 crypt (a random salt: two runs differ)
set -eu
for t in rsa ecdsa ed25519; do
	k=$ROOTFS/etc/ssh/ssh_host_${t}_key
	[ "$(stat -c %a "$k")" = 600 ] || { echo "$k mode $(stat -c %a "$k")"; exit 1; }
	[ "$(stat -c %a "$k.pub")" = 644 ] || { echo "$k.pub mode"; exit 1; }
	ssh-keygen -l -f "$k.pub" | grep -q "root@keys.example.com" || { echo "$k.pub comment"; exit 1; }
	ssh-keygen -y -f "$k" >/dev/null || { echo "$k is not a private key"; exit 1; }
done
line=$(head -1 "$ROOTFS/etc/shadow")
case $line in 'root:$6$'*) ;; *) echo "shadow: $line"; exit 1 ;; esac
# the hash verifies (python3's crypt is gone in newer versions: use perl)
hash=$(echo "$line" | cut -d: -f2)
perl -e 'exit(crypt("hunter2", $ARGV[0]) eq $ARGV[0] ? 0 : 1)' "$hash" || { echo "hash does not verify"; exit 1; }
[ "$(cut -d: -f2 "$ROOTFS/etc/passwd")" = x ] || { echo "passwd field not x"; exit 1; }
# a second create makes different keys
first=$(cat "$ROOTFS/etc/ssh/ssh_host_ed25519_key.pub")
"$TOOL" --rootfs "$ROOTFS" --conf "$CASE_DIR/conf" --post-create >/dev/null 2>&1
[ "$first" != "$(cat "$ROOTFS/etc/ssh/ssh_host_ed25519_key.pub")" ] || { echo "same keys twice"; exit 1; }
