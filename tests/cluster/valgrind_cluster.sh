#!/usr/bin/env bash
#
# tests/cluster/valgrind_cluster.sh - pmxcfs in cluster mode under valgrind
# (memcheck): a 2-node cluster-sim cluster whose pmxcfs both run under
# valgrind, through writes on both nodes, a 1 MiB file (fragmented
# messages), a partition and a heal (a sync round with a state transfer), a
# verification, a restart of one node with an empty database (whole-tree
# transfer), then SIGTERM of both: valgrind must report no memory error and
# no leaked block (definite or indirect) on either node, and each pmxcfs
# must exit 0.
#
# Needs PMXCFS_BIN from a build WITHOUT sanitizers and VALGRIND_BIN; root.
# Registered as CTest test valgrind.cluster (labels cluster, valgrind, slow)
# in builds without PVE_SANITIZE; scripts/run-tests.sh runs it.
set -euo pipefail

: "${PMXCFS_BIN:?PMXCFS_BIN must name pmxcfs}"
: "${VALGRIND_BIN:?VALGRIND_BIN must name valgrind}"
: "${PVECM:?PVECM must name pvecm}"
: "${PMXCFS_LOG:?PMXCFS_LOG must name pmxcfs-log}"
: "${PMXCFS_WATCH:?PMXCFS_WATCH must name pmxcfs-watch}"
PMXCFS_BIN=$(realpath "$PMXCFS_BIN") # the nodes run commands from /
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NAME="vg$$"
NAME=${NAME:0:8}
SIM=("$SRC/cluster-sim/cluster-sim" --name "$NAME")
sim() { "${SIM[@]}" "$@"; }
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d /tmp/pmxcfs-vgcl.XXXXXX)
export CLUSTER_SIM_TIMEOUT=180 # everything is ~30x slower under memcheck

cleanup() {
	local rc=$?
	"${SIM[@]}" down >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for f in "$TMP"/vg.*.log; do
			[ -s "$f" ] && { echo "== $f"; tail -40 "$f"; }
		done
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT

cat >"$TMP/pmxcfs" <<WRAP
#!/bin/sh
exec "$VALGRIND_BIN" --error-exitcode=99 --leak-check=full \\
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \\
	--log-file=$TMP/vg.%p.log "$PMXCFS_BIN" "\$@"
WRAP
chmod 755 "$TMP/pmxcfs"

"${SIM[@]}" --pmxcfs "$TMP/pmxcfs" up 2
pid=$("${SIM[@]}" pids 1 | sed -n 's/.*pmxcfs=\([0-9]*\).*/\1/p')
[[ $(readlink "/proc/$pid/exe") == *memcheck* ]] || fail "pmxcfs does not run under valgrind"

for i in 1 2 3 4 5; do
	on 1 sh -c "echo one$i > /etc/pve/a$i"
	on 2 sh -c "echo two$i >> /etc/pve/a$i"
done
on 2 sh -c 'mkdir /etc/pve/d && mv /etc/pve/a1 /etc/pve/d/b1 && rm /etc/pve/a2'
on 1 sh -c 'echo "hostname: x" > /etc/pve/nodes/node1/lxc/100.conf'
on 2 sh -c 'set -C; echo y > /etc/pve/nodes/node2/lxc/100.conf' 2>/dev/null &&
	fail "a second config of guest 100 was accepted"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/big"
on 1 sh -c 'cat > /etc/pve/big' <"$TMP/big"
on 2 cat /etc/pve/big | cmp -s - "$TMP/big" || fail "the 1 MiB file differs on node2"
[ "$(on 2 cat /etc/pve/a3)" = "one3
two3" ] || fail "node2 reads the wrong a3"
# the IPC in cluster mode: status (votequorum), the replicated log, a watch
# fed by the other node's writes
on 1 "$PVECM" status >/dev/null || fail "pvecm status"
on 2 "$PMXCFS_LOG" append -t vg "from node2"
for i in $(seq 1 60); do
	on 1 "$PMXCFS_LOG" read | grep -q "from node2" && break
	sleep 0.5
done
on 1 "$PMXCFS_LOG" read | grep -q "from node2" || fail "the log entry did not reach node1"
(exec "${SIM[@]}" exec 1 "$PMXCFS_WATCH" --count 2 --timeout 120 w/) >"$TMP/w.out" 2>"$TMP/w.err" &
wpid=$!
for i in $(seq 1 100); do grep -q watching "$TMP/w.err" && break; sleep 0.2; done
on 2 sh -c 'mkdir /etc/pve/w && echo x > /etc/pve/w/f'
wait "$wpid" || fail "the watcher on node1: $(cat "$TMP/w.err")"

# a partition: both lose quorum (2 nodes); a heal syncs them
"${SIM[@]}" partition 1 2
for i in $(seq 1 60); do
	grep -q '"quorate": 0' <(on 1 cat /etc/pve/.members) && break
	sleep 0.5
done
on 1 sh -c 'echo x > /etc/pve/refused' 2>/dev/null && fail "a write without quorum was accepted"
"${SIM[@]}" heal
"${SIM[@]}" wait-quorate
on 1 sh -c 'echo after-heal > /etc/pve/h'
[ "$(on 2 cat /etc/pve/h)" = after-heal ] || fail "no replication after the heal"

# verification on demand
kill -USR1 "$pid"
for i in $(seq 1 60); do
	grep -q '"verifications": [1-9]' <(on 1 cat /etc/pve/.members) && break
	sleep 0.5
done
grep -q '"mismatches": 0' <(on 1 cat /etc/pve/.members) || fail "verification failed"

# node2 restarts with an empty database: the whole tree is transferred
"${SIM[@]}" stop 2
on 2 sh -c 'rm -f /var/lib/pve-cluster/config.db*'
"${SIM[@]}" start 2
"${SIM[@]}" wait-quorate 2
on 2 cat /etc/pve/big | cmp -s - "$TMP/big" || fail "node2 lacks the 1 MiB file after the transfer"

"${SIM[@]}" stop 1
"${SIM[@]}" stop 2
bad=0
for f in "$TMP"/vg.*.log; do
	if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]" "$f"; then
		echo "== $f"
		cat "$f"
		bad=1
	fi
done
[ $bad = 0 ] || fail "valgrind reported problems (see above)"
n=$(ls "$TMP"/vg.*.log | wc -l)
[ "$n" -ge 3 ] || fail "expected at least 3 valgrind logs, found $n"
grep -h "ERROR SUMMARY" "$TMP"/vg.*.log
echo "valgrind (cluster mode): no errors, no leaks in $n pmxcfs runs"
