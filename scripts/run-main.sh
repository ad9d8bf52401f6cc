#!/bin/bash
# run-main.sh - the main job: install dependencies, build, bring up a
# simulated 3-node cluster (cluster-sim: real corosync and real pmxcfs per
# node, each node in its own namespaces) and show /etc/pve replicating.
# The cluster keeps running afterwards; enter a node with
#   cluster-sim/cluster-sim exec node2 bash
# and remove everything with
#   cluster-sim/cluster-sim down
#
# usage: scripts/run-main.sh [--nodes N]
#        scripts/run-main.sh --local [--mountpoint DIR] [--db FILE] [--nodename NAME]
#   --local: one pmxcfs in local mode on this host (default /etc/pve,
#   database /var/lib/pve-cluster/config.db), as before the cluster existed;
#   stop it with: kill $(cat /var/lib/pve-cluster/config.db.lock)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
LOCAL=0
NODES=3
MOUNTPOINT=/etc/pve
DB=/var/lib/pve-cluster/config.db
NODENAME=$(hostname -s)
while [ $# -gt 0 ]; do
	case "$1" in
	--local) LOCAL=1; shift ;;
	--nodes) NODES=$2; shift 2 ;;
	--mountpoint) MOUNTPOINT=$2; shift 2 ;;
	--db) DB=$2; shift 2 ;;
	--nodename) NODENAME=$2; shift 2 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "run-main: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

"$SRC/scripts/install-deps.sh"

BUILD="$SRC/build"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" pmxcfs pvecm pmxcfs-watch pmxcfs-log pct >/dev/null
PMXCFS="$BUILD/pmxcfs/pmxcfs"

refused_second_config() { # a command that writes a second config of guest 100
	local err
	if err=$("$@" 2>&1); then
		echo "unexpected: a second config of guest 100 was accepted" >&2
		exit 1
	fi
	echo "   refused: ${err##*: }"
}

if [ $LOCAL = 1 ]; then
	if grep -qs " $(realpath -m "$MOUNTPOINT") fuse.pmxcfs " /proc/self/mounts; then
		echo "pmxcfs is already mounted at $MOUNTPOINT"
	else
		echo "starting: $PMXCFS -l --mountpoint $MOUNTPOINT --db $DB --nodename $NODENAME"
		"$PMXCFS" -l --mountpoint "$MOUNTPOINT" --db "$DB" --nodename "$NODENAME"
	fi
	echo
	echo "== ls -la $MOUNTPOINT"
	ls -la "$MOUNTPOINT"
	CONF="$MOUNTPOINT/nodes/$NODENAME/lxc/100.conf"
	if ! ls "$MOUNTPOINT"/nodes/*/lxc/100.conf "$MOUNTPOINT"/nodes/*/qemu-server/100.conf >/dev/null 2>&1; then
		printf 'arch: amd64\nhostname: demo\nmemory: 512\nostype: debian\nrootfs: local:100/vm-100-disk-0.raw,size=8G\nswap: 512\n' >"$CONF"
	fi
	echo "== $MOUNTPOINT/.vmlist"
	cat "$MOUNTPOINT/.vmlist"
	echo "== a second config for guest 100 is refused (guest ids are unique):"
	refused_second_config sh -c "echo x > '$MOUNTPOINT/nodes/$NODENAME/qemu-server/100.conf'"
	echo
	echo "pmxcfs is running (pid $(head -1 "$DB.lock")) and serving $MOUNTPOINT."
	echo "stop it with: kill $(head -1 "$DB.lock")"
	exit 0
fi

SIM="$SRC/cluster-sim/cluster-sim"
if "$SIM" status >/dev/null 2>&1; then
	echo "== the simulated cluster 'sim' is already up"
else
	echo "== bringing up a simulated $NODES-node cluster (real corosync + pmxcfs per node)"
	"$SIM" --pmxcfs "$PMXCFS" up "$NODES"
fi
"$SIM" status
echo
echo "== node1: /etc/pve"
"$SIM" exec node1 ls -la /etc/pve
echo
echo "== node2: /etc/pve/.members"
"$SIM" exec node2 cat /etc/pve/.members
TOOLS=$(dirname "$PMXCFS")
last=node$NODES
echo
echo "== node1: pvecm status"
"$SIM" exec node1 "$TOOLS/pvecm" status
if ! "$SIM" exec node1 sh -c 'ls /etc/pve/nodes/*/lxc/100.conf' >/dev/null 2>&1; then
	echo
	echo "== node1 writes a container config: /etc/pve/nodes/node1/lxc/100.conf;"
	echo "   $last's change feed reports it (pmxcfs-watch nodes/ on $last):"
	(exec "$SIM" exec "$last" "$TOOLS/pmxcfs-watch" --count 2 --timeout 10 nodes/ 2>/dev/null) &
	watcher=$!
	sleep 0.5
	"$SIM" exec node1 sh -c "printf 'arch: amd64\nhostname: demo\nmemory: 512\nostype: debian\nrootfs: local:100/vm-100-disk-0.raw,size=8G\nswap: 512\n' > /etc/pve/nodes/node1/lxc/100.conf"
	wait "$watcher" || echo "(the watcher saw no change: see pmxcfs's log with '$SIM logs $last pmxcfs')"
fi
echo
echo "== $last reads it (replicated over corosync)"
"$SIM" exec "$last" sh -c 'cat /etc/pve/nodes/*/lxc/100.conf'
echo
echo "== node1: pct config 100 (the owning node), then pct set 100 --memory 1024 --onboot yes"
"$SIM" exec node1 "$BUILD/ctmgr/pct" config 100
"$SIM" exec node1 "$BUILD/ctmgr/pct" set 100 --memory 1024 --onboot yes
echo "== $last: pct config 100 is refused there (another node owns it):"
"$SIM" exec "$last" "$BUILD/ctmgr/pct" config 100 2>&1 | sed 's/^/   /' || true
echo "== $last reads the changed config:"
"$SIM" exec "$last" sh -c 'cat /etc/pve/nodes/*/lxc/100.conf'
echo
echo "== $last: /etc/pve/.vmlist (cluster-wide)"
"$SIM" exec "$last" cat /etc/pve/.vmlist
echo
echo "== $last tries a second config of guest 100 in its own directory:"
refused_second_config "$SIM" exec "$last" sh -c "echo x > /etc/pve/nodes/$last/lxc/100.conf"
echo
echo "The cluster is running.  Try:"
echo "  $SIM exec node2 bash                  # a shell inside node2"
echo "  $SIM exec node2 $TOOLS/pmxcfs-watch nodes/   # watch every change"
echo "  $SIM partition 1,2 3; $SIM heal      # split the cluster and heal it"
echo "  $SIM down                             # remove everything"
