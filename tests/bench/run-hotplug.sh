#!/usr/bin/env bash
#
# tests/bench/run-hotplug.sh - the documented hot-plug latency benchmark.
#
#   tests/bench/run-hotplug.sh [--count N]
#
# Builds an optimised build of its own (build-bench/, unless BUILD_DIR is
# set), brings up its own 3-node cluster-sim cluster with ctmgrd on every
# node (named "bh<pid>", cut to 8 characters; needs root), creates and
# starts a busybox container (CT 990) on node1, and prints, from one run:
#
#   1. the floor: the CPG agreed round trip of 512 B on node1 (as
#      run-feed.sh measures it);
#   2. N memory changes (default 200) of CT 990's config written on node3
#      (in place: open O_TRUNC, write, close): the time from close()
#      returning on node3 to the new limit being in the container's cgroup
#      on node1 (read where the container sees it, polled every 20 us),
#      p50/p99/max (bench_hotplug);
#   3. the round trip again (did the load change?).
#
# Goal, printed with PASS/MISS (never the exit status; 1 means a failure):
#   hot-plug p50 < 3 x the CPG round trip p50.
# The path: pmxcfs on node3 multicasts the write (one CPG round), node1's
# pmxcfs applies it and its change feed wakes ctmgrd, which reads the
# config, diffs it against applied.conf and writes the cgroup files
# directly (as the container's monitor sees them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
COUNT=200
while [ $# -gt 0 ]; do
	case $1 in
	--count) COUNT=$2; shift 2 ;;
	*) echo "usage: $0 [--count N]" >&2; exit 2 ;;
	esac
done

if [[ -z ${BUILD_DIR:-} ]]; then
	BUILD_DIR=$src/build-bench
	cmake -S "$src" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target pmxcfs pct pveam ctmgrd bench_cpg_rtt \
		bench_hotplug >/dev/null
fi
B=$BUILD_DIR/tests/bench
for f in "$BUILD_DIR/pmxcfs/pmxcfs" "$BUILD_DIR/ctmgr/pct" "$BUILD_DIR/ctmgr/ctmgrd" \
	"$B/bench_cpg_rtt" "$B/bench_hotplug"; do
	[[ -x $f ]] || { echo "$0: $f is missing: build first" >&2; exit 1; }
done
NAME="bh$$"
NAME=${NAME:0:8}
SIM=("$src/cluster-sim/cluster-sim" --name "$NAME" --pmxcfs "$BUILD_DIR/pmxcfs/pmxcfs")
export CLUSTER_SIM_PMXCFS_ARGS="${BENCH_PMXCFS_ARGS---spin-usec 0}"
export CLUSTER_SIM_CTMGRD=$BUILD_DIR/ctmgr/ctmgrd
unset PMXCFS_IPC_NAME
PCT=$BUILD_DIR/ctmgr/pct
ID=990
TMP=$(mktemp -d /tmp/bench-hotplug.XXXXXX) # /tmp is shared with the nodes
chmod 755 "$TMP"
# the nodes' pct and ctmgrd use the benchmark's container directory
export PCT_LXC_PATH=$TMP/lxc CTMGRD_STATE_DIR=$TMP/ctmgrd
on() {
	local n=$1
	shift
	"${SIM[@]}" exec "$n" "$@"
}
cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	on 1 "$PCT" stop "$ID" >/dev/null 2>&1
	"${SIM[@]}" down >/dev/null 2>&1
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
p50_of() { sed -n 's/.* p50 \(-\{0,1\}[0-9.]*\) us.*/\1/p' <<<"$1"; }

"${SIM[@]}" down >/dev/null 2>&1 || true
echo "== bringing up a 3-node cluster with ctmgrd (cluster-sim --name $NAME)"
"${SIM[@]}" up 3 >/dev/null
mkdir -p "$TMP/vz" "$TMP/lxc"
PVE_STORAGE_DEFAULT_PATH=$TMP/vz "$BUILD_DIR/ctmgr/pveam" build busybox >/dev/null
on 1 sh -c "printf 'dir: local\n\tpath %s\n\tcontent rootdir,images,vztmpl\n\tshared 1\n' '$TMP/vz' >/etc/pve/storage.cfg"
on 1 "$PCT" create "$ID" local:vztmpl/busybox.tar.zst --rootfs local:0.05 --memory 128 \
	--swap 64 >/dev/null 2>&1
on 1 "$PCT" start "$ID"
pid=$(on 1 "$PCT" status "$ID" --verbose | sed -n 's/^pid: //p')

echo "== 1. floor: CPG agreed round trip, 512 B (node1)"
rtt=$(on 1 "$B/bench_cpg_rtt" --count 3000 --size 512)
echo "$rtt"
rtt_p50=$(p50_of "$rtt")

echo "== 2. hot-plug: $COUNT memory changes written on node3, applied to CT $ID on node1"
hp=$(on 3 "$B/bench_hotplug" --conf "/etc/pve/nodes/node1/lxc/$ID.conf" --pid "$pid" \
	--count "$COUNT")
echo "$hp"
hp_p50=$(p50_of "$hp")

echo "== 3. CPG agreed round trip again (node1)"
rtt2=$(on 1 "$B/bench_cpg_rtt" --count 3000 --size 512)
echo "$rtt2"

echo "== summary"
ratio=$(echo "scale=2; $hp_p50 / $rtt_p50" | bc)
if [ "$(echo "$hp_p50 < 3 * $rtt_p50" | bc)" = 1 ]; then g=PASS; else g=MISS; fi
echo "$g  hot-plug p50 / CPG RTT p50 = $ratio: node3 close() -> node1 cgroup p50 $hp_p50 us, round trip p50 $rtt_p50 us (goal < 3)"
echo "      round trip after the changes: p50 $(p50_of "$rtt2") us"
