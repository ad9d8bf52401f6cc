#!/bin/bash
# run-main.sh - the main job: install dependencies, build, bring up a
# simulated 3-node cluster (cluster-sim: real corosync and real pmxcfs per
# node, each node in its own namespaces), show /etc/pve replicating, and
# create and start a real LXC container (CT 100, busybox template) on node1.
# The cluster keeps running afterwards; enter a node with
#   cluster-sim/cluster-sim exec node2 bash
# and remove everything (the container's volume lives in /var/lib/vz) with
#   cluster-sim/cluster-sim exec node1 build/ctmgr/pct destroy 100 --force
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
make -C "$BUILD" -j"$(nproc)" pmxcfs pvecm pmxcfs-watch pmxcfs-log pct pveam pvesm ctmgrd >/dev/null
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
	echo "== bringing up a simulated $NODES-node cluster (real corosync + pmxcfs + ctmgrd per node)"
	CLUSTER_SIM_CTMGRD="$BUILD/ctmgr/ctmgrd" "$SIM" --pmxcfs "$PMXCFS" up "$NODES"
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
PCT="$BUILD/ctmgr/pct"
# one dir storage shared by the nodes (they share this host's disk), the
# busybox template, and a bridge vmbr0 in every node's network namespace
if ! "$SIM" exec node1 test -e /etc/pve/storage.cfg; then
	"$SIM" exec node1 sh -c "printf 'dir: local\n\tpath /var/lib/vz\n\tcontent rootdir,images,vztmpl,backup\n\tshared 1\n' >/etc/pve/storage.cfg"
fi
"$BUILD/ctmgr/pveam" list local 2>/dev/null | grep -q busybox.tar.zst ||
	"$BUILD/ctmgr/pveam" build busybox >/dev/null
for ((k = 1; k <= NODES; k++)); do
	if ! "$SIM" exec "node$k" ip link show vmbr0 >/dev/null 2>&1; then
		"$SIM" exec "node$k" sh -c "ip link add vmbr0 type bridge && ip addr add 10.10.$k.1/24 dev vmbr0 && ip link set vmbr0 up"
	fi
done
if ! "$SIM" exec node1 sh -c 'ls /etc/pve/nodes/*/lxc/100.conf' >/dev/null 2>&1; then
	echo
	echo "== node1: pct create 100 (busybox template, 256 MiB, eth0 on vmbr0);"
	echo "   $last's change feed reports the new config (pmxcfs-watch nodes/ on $last):"
	(exec "$SIM" exec "$last" "$TOOLS/pmxcfs-watch" --count 2 --timeout 10 nodes/ 2>/dev/null) &
	watcher=$!
	sleep 0.5
	"$SIM" exec node1 "$PCT" create 100 local:vztmpl/busybox.tar.zst --hostname demo \
		--memory 256 --swap 256 --rootfs local:0.25 --net0 name=eth0,bridge=vmbr0,ip=10.10.1.100/24
	wait "$watcher" || echo "(the watcher saw no change: see pmxcfs's log with '$SIM logs $last pmxcfs')"
fi
if [ "$("$SIM" exec node1 "$PCT" status 100 2>/dev/null)" != "status: running" ]; then
	echo "== node1: pct start 100"
	"$SIM" exec node1 "$PCT" start 100
fi
echo
echo "== node1: pct list; inside CT 100: host name, memory limit, eth0, a ping to the bridge"
"$SIM" exec node1 "$PCT" list
# shellcheck disable=SC2016 # expanded in the container
"$SIM" exec node1 "$PCT" exec 100 -- sh -c 'echo "hostname: $(hostname)"; echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"; ip -4 addr show eth0 | grep inet; ping -c1 -W2 10.10.1.1 | grep "bytes from"'
# ctmgrd on every node (a cluster brought up before it existed has none yet)
for ((k = 1; k <= NODES; k++)); do
	case $("$SIM" pids "node$k") in
	*ctmgrd=[0-9]*) ;;
	*) CLUSTER_SIM_CTMGRD="$BUILD/ctmgr/ctmgrd" "$SIM" start "node$k" ctmgrd >/dev/null ;;
	esac
done
echo
echo "== $last edits CT 100's memory (sed -i on /etc/pve); ctmgrd on node1 applies it to the running container:"
MEMFILE='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
echo "   before: $("$SIM" exec node1 "$PCT" exec 100 -- sh -c "$MEMFILE")"
newmem=$(( $("$SIM" exec node1 sh -c "sed -n 's/^memory: //p' /etc/pve/nodes/node1/lxc/100.conf") == 256 ? 384 : 256 ))
"$SIM" exec "$last" sed -i "s/^memory: .*/memory: $newmem/" /etc/pve/nodes/node1/lxc/100.conf
for ((i = 0; i < 50; i++)); do
	now=$("$SIM" exec node1 "$PCT" exec 100 -- sh -c "$MEMFILE")
	[ "$now" = $((newmem << 20)) ] && break
	sleep 0.1
done
echo "   after:  $now (memory: $newmem MiB)"
echo
echo "== $last reads its config (replicated over corosync)"
"$SIM" exec "$last" sh -c 'cat /etc/pve/nodes/*/lxc/100.conf'
echo
echo "== node1: pct set 100 --onboot 1 --tags demo (the owning node)"
"$SIM" exec node1 "$PCT" set 100 --onboot 1 --tags demo
echo "== $last: pct start 100 is refused there (another node owns it):"
"$SIM" exec "$last" "$PCT" start 100 2>&1 | sed 's/^/   /' || true
echo "== $last reads the changed config:"
"$SIM" exec "$last" sh -c 'cat /etc/pve/nodes/*/lxc/100.conf'
echo
echo "== $last: /etc/pve/.vmlist (cluster-wide)"
"$SIM" exec "$last" cat /etc/pve/.vmlist
echo
echo "== $last tries a second config of guest 100 in its own directory:"
refused_second_config "$SIM" exec "$last" sh -c "echo x > /etc/pve/nodes/$last/lxc/100.conf"
echo
echo "The cluster is running with ctmgrd on every node, CT 100 runs on node1.  Try:"
echo "  $SIM exec $last sed -i 's/^memory: .*/memory: 512/' /etc/pve/nodes/node1/lxc/100.conf"
echo "  $SIM exec node1 $PCT exec 100 -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes   # 536870912"
echo "More:"
echo "  $SIM exec node1 $PCT enter 100        # a shell in the container"
echo "  $SIM exec node1 $PCT stop 100         # (start, shutdown, destroy, list, ...)"
echo "  $SIM exec node2 bash                  # a shell inside node2"
echo "  $SIM exec node2 $TOOLS/pmxcfs-watch nodes/   # watch every change"
echo "  $SIM partition 1,2 3; $SIM heal      # split the cluster and heal it"
echo "  $SIM exec node1 $PCT destroy 100 --force; $SIM down   # remove everything"
