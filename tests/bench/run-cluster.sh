#!/usr/bin/env bash
#
# tests/bench/run-cluster.sh - the documented cluster benchmark.
#
#   tests/bench/run-cluster.sh [--files N] [--seconds S]
#
# Builds an optimised build of its own (build-bench/, unless BUILD_DIR is
# set), brings up a 3-node cluster-sim cluster named "bench" (real corosync
# and pmxcfs in namespaces; needs root), and prints, all from the same run:
#
#   1. the floor: a CPG agreed multicast round trip of 512 B (send to own
#      delivery), bench_cpg_rtt on node1;
#   2. one client on node1, N x 512 B files (default 1000): create,
#      overwrite, read, rename, unlink, p50/p99 and ops/s (bench_smallfile),
#      against a local-mode pmxcfs (pmxcfs -l) on node1 as the baseline
#      ("read of an unchanged file as fast as in local mode");
#   3. overwrite ops/s of 1 client and of 16 concurrent clients spread over
#      the 3 nodes (6+5+5, bench_overwrite, S seconds each, default 5);
#   4. the time a node with an empty database takes to receive 10,000 files.
#
# The goals are printed as ratios with PASS/MISS:
#   single-client overwrite p50 <= 1.5 x the CPG round trip p50;
#   16 clients >= 5 x the single client's ops/s;
#   read (cluster) / read (local mode) ~ 1;
#   empty node receives 10,000 files in < 5 s.
# They never change the exit status: 1 means an operation failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
FILES=1000
SECS=5
while [ $# -gt 0 ]; do
	case $1 in
	--files) FILES=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	*) echo "usage: $0 [--files N] [--seconds S]" >&2; exit 2 ;;
	esac
done

if [[ -z ${BUILD_DIR:-} ]]; then
	BUILD_DIR=$src/build-bench
	cmake -S "$src" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target pmxcfs bench_smallfile bench_cpg_rtt \
		bench_overwrite >/dev/null
fi
B=$BUILD_DIR/tests/bench
SIM="$src/cluster-sim/cluster-sim --name bench --pmxcfs $BUILD_DIR/pmxcfs/pmxcfs"
# 3 nodes share this host's CPUs: a FUSE worker that busy-polls after each
# request (pmxcfs's default, 50 us) on one node takes the CPU another node
# needs, so the cluster runs without it (measured: 16 writers 2,490 ->
# 3,025 ops/s on 2 cores).  BENCH_PMXCFS_ARGS overrides.
export CLUSTER_SIM_PMXCFS_ARGS="${BENCH_PMXCFS_ARGS---spin-usec 0}"
on() {
	local n=$1
	shift
	$SIM exec "$n" "$@"
}
LOCALMNT=/tmp/pmxcfs-bench-local.$$
cleanup() {
	on 1 sh -c "test -f $LOCALMNT.db.lock && kill \$(cat $LOCALMNT.db.lock) 2>/dev/null; sleep 0.5; umount -l $LOCALMNT 2>/dev/null" >/dev/null 2>&1 || true
	$SIM down >/dev/null 2>&1 || true
	rm -rf "$LOCALMNT" "$LOCALMNT".db*
}
trap cleanup EXIT

$SIM down >/dev/null 2>&1 || true
echo "== bringing up a 3-node cluster (cluster-sim --name bench)"
$SIM up 3 >/dev/null

echo "== 1. floor: CPG agreed round trip, 512 B (node1)"
rtt=$(on 1 "$B/bench_cpg_rtt" --count 3000 --size 512)
echo "$rtt"
rtt_p50=$(echo "$rtt" | sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p')

echo "== 2. one client on node1, $FILES x 512 B; baseline: local-mode pmxcfs on node1"
mkdir -p "$LOCALMNT"
# shellcheck disable=SC2086 # the same extra arguments as the cluster's pmxcfs
on 1 "$BUILD_DIR/pmxcfs/pmxcfs" -l --mountpoint "$LOCALMNT" --db "$LOCALMNT.db" --nodename node1 \
	--ipc-name bench-local \
	$CLUSTER_SIM_PMXCFS_ARGS
on 1 mkdir -p /etc/pve/bench
on 1 "$B/bench_smallfile" --dir /etc/pve/bench --baseline "$LOCALMNT" --files "$FILES" \
	--json=/tmp/bench-cluster-$$.json | tee /tmp/bench-cluster-$$.txt
ow_p50=$(python3 -c "import json; d=json.load(open('/tmp/bench-cluster-$$.json')); print(d['test']['phases']['overwrite']['p50_us'])")
ow_local_p50=$(python3 -c "import json; d=json.load(open('/tmp/bench-cluster-$$.json')); print(d['baseline']['phases']['overwrite']['p50_us'])")
read_ratio=$(python3 -c "import json; d=json.load(open('/tmp/bench-cluster-$$.json')); print(d['ratio']['read'])")
rm -f /tmp/bench-cluster-$$.json /tmp/bench-cluster-$$.txt

echo "== 3. overwrite: 1 client, then 16 clients over 3 nodes ($SECS s each)"
one=$(on 1 "$B/bench_overwrite" --dir /etc/pve/bench --clients 1 --seconds "$SECS" --tag single)
echo "$one"
start=$(($(date +%s%3N) + 1500))
on 1 "$B/bench_overwrite" --dir /etc/pve/bench --clients 6 --seconds "$SECS" --start $start --tag n1 > /tmp/bench-ow1.$$ &
p1=$!
on 2 "$B/bench_overwrite" --dir /etc/pve/bench --clients 5 --seconds "$SECS" --start $start --tag n2 > /tmp/bench-ow2.$$ &
p2=$!
on 3 "$B/bench_overwrite" --dir /etc/pve/bench --clients 5 --seconds "$SECS" --start $start --tag n3 > /tmp/bench-ow3.$$ &
p3=$!
vmstat 1 $((SECS + 1)) > /tmp/bench-vm.$$ &
wait $p1 $p2 $p3
wait
idle=$(tail -n +4 /tmp/bench-vm.$$ | awk '{s += $15; n++} END {if (n) printf "%.0f", s / n}')
rm -f /tmp/bench-vm.$$
echo "host CPU idle during the 16-client run: ${idle}% (of $(nproc) CPUs shared by 3 nodes)"
cat /tmp/bench-ow1.$$ /tmp/bench-ow2.$$ /tmp/bench-ow3.$$
many=$(cat /tmp/bench-ow1.$$ /tmp/bench-ow2.$$ /tmp/bench-ow3.$$ | awk '{s += $9} END {print s}')
rm -f /tmp/bench-ow?.$$
one_ops=$(echo "$one" | awk '{print $9}')
one_p50=$(echo "$one" | awk '{print $11}')

echo "== 4. a node with an empty database receives 10,000 files"
on 1 sh -c 'mkdir /etc/pve/many && cd /etc/pve/many && for d in $(seq 0 99); do mkdir d$d; for f in $(seq 0 99); do echo "file $d/$f $(printf %0400d 0)" > d$d/f$f; done; done'
$SIM kill 3 pmxcfs
on 3 rm -f /var/lib/pve-cluster/config.db /var/lib/pve-cluster/config.db-wal /var/lib/pve-cluster/config.db-shm
t0=$(date +%s%N)
$SIM start 3 pmxcfs >/dev/null
while ! on 3 test -f /etc/pve/many/d99/f99 2>/dev/null; do
	sleep 0.05
	if [ $((($(date +%s%N) - t0) / 1000000000)) -gt 120 ]; then
		echo "node3 did not receive the tree within 120 s" >&2
		exit 1
	fi
done
t1=$(date +%s%N)
join_s=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)
sum1=$(on 1 sh -c 'cd /etc/pve/many && find . -type f | sort | xargs cat | sha256sum')
sum3=$(on 3 sh -c 'cd /etc/pve/many && find . -type f | sort | xargs cat | sha256sum')
[ "$sum1" = "$sum3" ] || { echo "node3's copy differs from node1's" >&2; exit 1; }
echo "node3: pmxcfs start to the whole tree readable: $join_s s (includes the pmxcfs start and its CPG join)"
$SIM logs 3 pmxcfs | grep -E "synced in" | tail -1 || true

echo "== summary"
goal() { # label ok
	if [ "$2" = 1 ]; then echo "PASS  $1"; else echo "MISS  $1"; fi
}
if [ -n "$ow_p50" ] && [ -n "$rtt_p50" ]; then
	r=$(echo "scale=2; $ow_p50 / $rtt_p50" | bc)
	goal "single-client overwrite p50 $ow_p50 us = ${r} x CPG round trip p50 $rtt_p50 us (goal <= 1.5)" \
		"$(echo "$r <= 1.5" | bc)"
	added=$(echo "scale=1; $ow_p50 - $ow_local_p50" | bc)
	r2=$(echo "scale=2; $added / $rtt_p50" | bc)
	echo "      (local-mode overwrite p50 $ow_local_p50 us, i.e. FUSE + one fsync; cluster mode adds $added us = ${r2} x the round trip)"
fi
r=$(echo "scale=2; $many / $one_ops" | bc)
goal "16 clients $many ops/s = ${r} x single client $one_ops ops/s (p50 $one_p50 us) (goal >= 5)" "$(echo "$r >= 5" | bc)"
goal "read of an unchanged file: cluster / local mode = $read_ratio (goal ~1: >= 0.8)" "$(echo "$read_ratio >= 0.8" | bc)"
goal "empty node received 10,000 files in $join_s s (goal < 5)" "$(echo "$join_s < 5" | bc)"
