#!/bin/bash
# run-main.sh - the main job: install dependencies, build, mount pmxcfs in
# local mode (default /etc/pve, database /var/lib/pve-cluster/config.db) and
# show it working.  pmxcfs keeps running in the background afterwards;
# stop it with:  kill $(cat /var/lib/pve-cluster/config.db.lock)
#
# usage: scripts/run-main.sh [--mountpoint DIR] [--db FILE] [--nodename NAME]
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
MOUNTPOINT=/etc/pve
DB=/var/lib/pve-cluster/config.db
NODENAME=$(hostname -s)
while [ $# -gt 0 ]; do
	case "$1" in
	--mountpoint) MOUNTPOINT=$2; shift 2 ;;
	--db) DB=$2; shift 2 ;;
	--nodename) NODENAME=$2; shift 2 ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "run-main: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

"$SRC/scripts/install-deps.sh"

BUILD="$SRC/build"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" pmxcfs >/dev/null
PMXCFS="$BUILD/pmxcfs/pmxcfs"

if grep -qs " $(realpath -m "$MOUNTPOINT") fuse.pmxcfs " /proc/self/mounts; then
	echo "pmxcfs is already mounted at $MOUNTPOINT"
else
	echo "starting: $PMXCFS -l --mountpoint $MOUNTPOINT --db $DB --nodename $NODENAME"
	"$PMXCFS" -l --mountpoint "$MOUNTPOINT" --db "$DB" --nodename "$NODENAME"
fi

echo
echo "== ls -la $MOUNTPOINT"
ls -la "$MOUNTPOINT"
echo
echo "== $MOUNTPOINT/.members"
cat "$MOUNTPOINT/.members"
CONF="$MOUNTPOINT/nodes/$NODENAME/lxc/100.conf"
if ! ls "$MOUNTPOINT"/nodes/*/lxc/100.conf "$MOUNTPOINT"/nodes/*/qemu-server/100.conf >/dev/null 2>&1; then
	echo
	echo "== writing an example container config to $CONF"
	printf 'arch: amd64\nhostname: demo\nmemory: 512\nostype: debian\nrootfs: local:100/vm-100-disk-0.raw,size=8G\nswap: 512\n' >"$CONF"
fi
echo
echo "== cat $MOUNTPOINT/lxc/100.conf"
cat "$MOUNTPOINT/lxc/100.conf" 2>/dev/null || echo "(guest 100 lives on another node)"
echo
echo "== $MOUNTPOINT/.vmlist"
cat "$MOUNTPOINT/.vmlist"
echo
echo "== a second config for guest 100 is refused (guest ids are unique):"
if (echo "x" >"$MOUNTPOINT/nodes/$NODENAME/qemu-server/100.conf") 2>/tmp/run-main.err.$$; then
	echo "unexpected: it was accepted" >&2
	rm -f /tmp/run-main.err.$$
	exit 1
fi
sed 's/^.*line [0-9]*: /   refused: /' /tmp/run-main.err.$$
rm -f /tmp/run-main.err.$$
echo
echo "pmxcfs is running (pid $(head -1 "$DB.lock")) and serving $MOUNTPOINT."
echo "stop it with: kill $(head -1 "$DB.lock")"
