#!/bin/bash
# tests/cluster/cluster_test.sh - pmxcfs replication on real clusters: every
# case brings up its own cluster-sim cluster (real corosync, real pmxcfs,
# real FUSE, one set of namespaces per node), exercises it and tears it down.
#
#   cluster_test.sh CASE        run one case (t_CASE); CTest runs each as
#                               cluster.CASE (label cluster)
#   env: PMXCFS_BIN (the pmxcfs under test), CLUSTER_SIM (the tool)
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
case_script_init ct

trap case_cleanup EXIT

# A checksum of every stored file (path, content) and directory of a node.
tree_sum() {
	on "$1" bash -c 'set -euo pipefail; cd /etc/pve
		{ find . -path "./.*" -prune -o -printf "%y %p\n" | LC_ALL=C sort
		  find . -path "./.*" -prune -o -type f -print0 | LC_ALL=C sort -z |
			xargs -0 -r sha256sum; } | sha256sum | cut -c1-64'
}

# Wait until every listed node shows the same tree; fail after $2 seconds.
wait_converged() {
	local nodes=$1 secs=${2:-30} i s first ok
	for ((i = 0; i < secs * 4; i++)); do
		ok=1
		first=""
		for n in $nodes; do
			s=$(tree_sum "$n") || s="error-$n"
			if [ -z "$first" ]; then first=$s; elif [ "$s" != "$first" ]; then ok=0; fi
		done
		[ $ok = 1 ] && return 0
		sleep 0.25
	done
	for n in $nodes; do echo "node$n: $(tree_sum "$n")" >&2; done
	fail "nodes $nodes did not converge within $secs s"
}

members_field() { # node field -> value of "field": N in .members
	on "$1" cat /etc/pve/.members | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" | head -1
}

# ---- cases ----

# A write on any node is readable, byte-identical, everywhere right after close.
t_read_your_writes() {
	sim up 3
	local n m i
	for n in 1 2 3; do
		on "$n" sh -c "printf 'initial\n' > /etc/pve/f$n"
	done
	# every node reads every file first, so its kernel caches them
	for m in 1 2 3; do
		for n in 1 2 3; do
			[ "$(on "$m" cat /etc/pve/f$n)" = initial ] || fail "node$m misses f$n"
		done
	done
	for i in 1 2 3 4 5; do
		for n in 1 2 3; do
			head -c $((100 * i + n)) /dev/urandom | base64 -w0 > "$TMP/v"
			on "$n" sh -c "cat > /etc/pve/f$n" < "$TMP/v"
			for m in 1 2 3; do
				on "$m" cat /etc/pve/f$n > "$TMP/r"
				cmp -s "$TMP/v" "$TMP/r" || fail "round $i: node$m reads stale f$n after node$n's close"
			done
		done
	done
	# directory operations show up everywhere too (cached negative entries)
	on 2 test ! -e /etc/pve/newdir || fail "newdir exists early"
	on 1 mkdir /etc/pve/newdir
	on 2 test -d /etc/pve/newdir || fail "node2 does not see newdir"
	on 3 mv /etc/pve/f3 /etc/pve/newdir/g3
	on 1 test -f /etc/pve/newdir/g3 || fail "node1 does not see the rename target"
	on 2 test ! -e /etc/pve/f3 || fail "node2 still sees the rename source"
	on 2 rm /etc/pve/f2
	on 3 test ! -e /etc/pve/f2 || fail "node3 still sees f2"
	# mtime updates and rmdir travel too
	on 1 stat -c %Y /etc/pve/f1 >/dev/null
	on 2 stat -c %Y /etc/pve/f1 >/dev/null
	on 1 touch -d @1700000000 /etc/pve/f1
	[ "$(on 2 stat -c %Y /etc/pve/f1)" = 1700000000 ] || fail "node2 does not see the new mtime"
	on 2 mkdir /etc/pve/gone
	on 3 test -d /etc/pve/gone || fail "node3 does not see gone/"
	on 1 rmdir /etc/pve/gone
	on 3 test ! -e /etc/pve/gone || fail "node3 still sees gone/ after rmdir"
	# big files (more than one corosync message)
	head -c $((1024 * 1024)) /dev/urandom > "$TMP/big"
	on 1 sh -c "cat > /etc/pve/big" < "$TMP/big"
	on 3 cat /etc/pve/big > "$TMP/big3"
	cmp -s "$TMP/big" "$TMP/big3" || fail "1 MiB file differs on node3"
	head -c $((1024 * 1024 + 1)) /dev/urandom > "$TMP/big2"
	if on 2 sh -c "cat > /etc/pve/big2" < "$TMP/big2" 2>/dev/null; then
		fail "a file over 1 MiB was accepted"
	fi
	wait_converged "1 2 3" 10
	# .members names every node, online, quorate
	local mem
	mem=$(on 2 cat /etc/pve/.members)
	for n in 1 2 3; do
		echo "$mem" | grep -q "\"node$n\": { \"id\": $n, \"online\": 1, \"ip\": \"10.99.0.$n\"" ||
			fail ".members lacks node$n online: $mem"
	done
	echo "$mem" | grep -q '"quorate": 1' || fail ".members not quorate: $mem"
}

# 1,000 mixed ops from all nodes at once end in identical trees.
t_mixed_ops() {
	sim up 3
	local n
	for n in 1 2 3; do
		on "$n" sh -c '
			n='"$n"'
			mkdir -p /etc/pve/mix$n
			i=0
			while [ $i -lt 333 ]; do
				f=/etc/pve/mix$n/f$((i % 40))
				case $((i % 6)) in
				0|1) echo "node$n op$i" > $f ;;
				2) echo "append $i" >> $f ;;
				3) mv $f /etc/pve/mix$n/r$((i % 7)) 2>/dev/null || true ;;
				4) rm -f $f ;;
				5) echo "shared $n $i" > /etc/pve/shared$((i % 5)) ;;
				esac
				i=$((i + 1))
			done' &
	done
	wait
	wait_converged "1 2 3" 20
	local files
	files=$(on 1 sh -c 'ls /etc/pve/mix1 /etc/pve/mix2 /etc/pve/mix3 | wc -l')
	[ "$files" -gt 10 ] || fail "too few files after the storm ($files)"
}

# Many writers on every node at once: nothing is lost, every node ends
# identical.
t_concurrent_writers() {
	sim up 3
	local n w
	for n in 1 2 3; do
		for w in 1 2 3 4 5 6; do
			storm "$n" "cw${n}_${w}_" 100 > "$TMP/cw$n$w" &
		done
	done
	wait
	for n in 1 2 3; do
		for w in 1 2 3 4 5 6; do
			[ "$(wc -l < "$TMP/cw$n$w")" = 100 ] || fail "writer $w on node$n: $(wc -l < "$TMP/cw$n$w") of 100"
		done
	done
	wait_converged "1 2 3" 20
	[ "$(on 2 sh -c 'ls /etc/pve | grep -c ^cw')" = 1800 ] || fail "not all 1800 files on node2"
}

# Two nodes create the same guest id at once: exactly one wins, every round.
t_guest_id_race() {
	sim up 3
	local r out1 out2 w
	for r in $(seq 1 20); do
		local id=$((1000 + r))
		(on 1 sh -c "set -C; echo 'hostname: a' > /etc/pve/nodes/node1/lxc/$id.conf" 2>/dev/null && echo ok || echo no) > "$TMP/o1" &
		(on 2 sh -c "set -C; echo 'hostname: b' > /etc/pve/nodes/node2/lxc/$id.conf" 2>/dev/null && echo ok || echo no) > "$TMP/o2" &
		wait
		out1=$(cat "$TMP/o1")
		out2=$(cat "$TMP/o2")
		w=0
		[ "$out1" = ok ] && w=$((w + 1))
		[ "$out2" = ok ] && w=$((w + 1))
		[ $w = 1 ] || fail "round $r: $w winners (node1 $out1, node2 $out2)"
		local seen
		seen=$(on 3 sh -c "ls /etc/pve/nodes/*/lxc/$id.conf 2>/dev/null | wc -l")
		[ "$seen" = 1 ] || fail "round $r: node3 sees $seen configs of $id"
	done
	# migration's atomic ownership move
	on 3 mv /etc/pve/nodes/node1/lxc/1001.conf /etc/pve/nodes/node3/lxc/1001.conf 2>/dev/null ||
		on 3 mv /etc/pve/nodes/node2/lxc/1001.conf /etc/pve/nodes/node3/lxc/1001.conf
	on 1 test -f /etc/pve/nodes/node3/lxc/1001.conf || fail "moved config not on node1"
	on 1 grep -q '"1001": { "node": "node3"' /etc/pve/.vmlist || fail ".vmlist does not show the move"
	wait_converged "1 2 3" 10
}

# Partition 1,2 | 3: node3 refuses writes but reads; the pair writes; heal converges.
t_partition() {
	sim up 3
	on 1 sh -c 'echo before > /etc/pve/p0'
	on 3 cat /etc/pve/p0 >/dev/null
	sim partition 1,2 3
	local t0 i ok=0
	t0=$(date +%s)
	for ((i = 0; i < 60; i++)); do
		if ! on 3 sh -c 'echo x > /etc/pve/p3' 2>"$TMP/err"; then
			ok=1
			break
		fi
		sleep 0.25
	done
	[ $ok = 1 ] || fail "node3 still accepts writes alone"
	grep -qi "permission denied" "$TMP/err" || fail "node3's refusal is not EACCES: $(cat "$TMP/err")"
	info "node3 refused writes $(($(date +%s) - t0)) s after the partition"
	[ "$(on 3 cat /etc/pve/p0)" = before ] || fail "node3 cannot read while partitioned"
	on 3 sh -c 'echo x > /etc/pve/p3b' 2>/dev/null && fail "node3 accepted a write"
	on 3 mkdir /etc/pve/p3dir 2>/dev/null && fail "node3 accepted mkdir"
	# the pair keeps writing
	for i in $(seq 1 30); do
		on $((i % 2 + 1)) sh -c "echo pair$i > /etc/pve/pair$i"
	done
	on 1 rm /etc/pve/p0
	[ "$(members_field 3 quorate)" = 0 ] || fail "node3's .members says quorate"
	# the pair keeps writing through the heal and its sync round: nothing fails
	storm 1 heal_ 150 > "$TMP/okh" &
	local ph=$!
	sleep 0.5
	sim heal
	sim wait-quorate 3
	wait $ph
	[ "$(wc -l < "$TMP/okh")" = 150 ] || fail "only $(wc -l < "$TMP/okh") of 150 writes during the heal succeeded"
	wait_converged "1 2 3" 30
	on 3 test ! -e /etc/pve/p0 || fail "delete on the pair lost"
	for i in $(seq 1 30); do
		[ "$(on 3 cat /etc/pve/pair$i)" = "pair$i" ] || fail "pair write $i lost after heal"
	done
	on 3 test ! -e /etc/pve/p3 || fail "node3's refused write appeared"
	on 3 sh -c 'echo after > /etc/pve/p3' || fail "node3 cannot write after heal"
	[ "$(on 1 cat /etc/pve/p3)" = after ] || fail "node3's write after heal not on node1"
}

# Storm from node1 and node2 while node3's pmxcfs is killed and restarted.
storm() { # node prefix count -> writes; prints the names whose write returned success
	on "$1" sh -c '
		i=0
		while [ $i -lt '"$3"' ]; do
			if (echo "v$i" > /etc/pve/'"$2"'$i) 2>/dev/null; then echo '"$2"'$i; fi
			i=$((i + 1))
		done' || true
}

t_kill_catch_up() {
	sim up 3
	storm 1 s1_ 300 > "$TMP/ok1" &
	local p1=$!
	storm 2 s2_ 300 > "$TMP/ok2" &
	local p2=$!
	sleep 1
	sim kill 3 pmxcfs
	sleep 1
	sim start 3 pmxcfs
	wait $p1 $p2
	sim wait-quorate 3
	wait_converged "1 2 3" 30
	local f
	for f in $(cat "$TMP/ok1" "$TMP/ok2"); do
		on 3 test -f "/etc/pve/$f" || fail "node3 misses $f after catching up"
	done
	info "storm successes: node1 $(wc -l < "$TMP/ok1")/300, node2 $(wc -l < "$TMP/ok2")/300"
	# writes during the sync rounds wait (or are sent again): none may fail
	[ "$(wc -l < "$TMP/ok1")" = 300 ] || fail "node1: only $(wc -l < "$TMP/ok1") of 300 writes succeeded"
	[ "$(wc -l < "$TMP/ok2")" = 300 ] || fail "node2: only $(wc -l < "$TMP/ok2") of 300 writes succeeded"
}

t_kill_writer() {
	sim up 3
	storm 1 w_ 2000 > "$TMP/ok" &
	local p=$!
	sleep 2
	sim kill 1 pmxcfs
	wait $p || true
	local n
	n=$(wc -l < "$TMP/ok")
	info "$n writes returned success before node1's pmxcfs was killed"
	[ "$n" -gt 0 ] || fail "no write succeeded before the kill"
	local f
	for f in $(cat "$TMP/ok"); do
		on 2 test -f "/etc/pve/$f" || fail "node2 lacks $f, whose write returned success"
		on 3 test -f "/etc/pve/$f" || fail "node3 lacks $f, whose write returned success"
	done
	sim start 1 pmxcfs
	sim wait-quorate 1
	wait_converged "1 2 3" 30
}

# All nodes restart: the tree survives in every node's SQLite.
t_restart_all() {
	sim up 3
	local i
	for i in $(seq 1 20); do on $((i % 3 + 1)) sh -c "echo r$i > /etc/pve/r$i"; done
	local before
	before=$(tree_sum 1)
	for i in 1 2 3; do sim stop $i; done
	for i in 1 2 3; do sim start $i; done
	sim wait-quorate
	wait_converged "1 2 3" 30
	[ "$(tree_sum 2)" = "$before" ] || fail "tree changed across a full restart"
	[ "$(on 3 cat /etc/pve/r7)" = r7 ] || fail "r7 lost"
}

# A node with an empty database receives the whole tree (10,000 files).
t_join_empty() {
	sim up 3
	sim stop 3
	on 3 rm -f /var/lib/pve-cluster/config.db /var/lib/pve-cluster/config.db-wal \
		/var/lib/pve-cluster/config.db-shm
	on 1 sh -c 'mkdir /etc/pve/many && cd /etc/pve/many && for d in $(seq 0 99); do
		mkdir d$d; for f in $(seq 0 99); do echo "file $d/$f $(printf %0400d 0)" > d$d/f$f; done; done'
	local want t0 t1
	want=$(tree_sum 1)
	t0=$(date +%s.%N)
	sim start 3
	sim wait-quorate 3
	wait_converged "1 3" 60
	t1=$(date +%s.%N)
	[ "$(tree_sum 3)" = "$want" ] || fail "node3's tree differs"
	echo "join_empty: node3 received 10,000 files in $(echo "$t1 - $t0" | bc) s (pmxcfs start to converged)" >&2
	sim logs 3 pmxcfs | grep -E "adopted|synced in" >&2 || true
	sim logs 1 pmxcfs | grep -E "sent the state" >&2 || true
}

# 10% packet loss on one node: writes still complete, trees identical.
t_packet_loss() {
	sim up 3
	sim loss 2 10
	local n i
	for i in $(seq 1 60); do
		n=$((i % 3 + 1))
		on "$n" sh -c "echo loss$i > /etc/pve/l$i" || fail "write $i on node$n failed under loss"
	done
	wait_converged "1 2 3" 30
	sim loss 2 0
}

# A node whose database diverged adopts the cluster's and keeps a backup.
t_diverged_node() {
	sim up 3
	on 1 sh -c 'echo cluster > /etc/pve/shared.cfg'
	sim stop 3
	# node3 runs alone in local mode and edits the tree there
	on 3 sh -c "$PMXCFS_BIN -l" >/dev/null
	on 3 sh -c 'echo local-edit > /etc/pve/shared.cfg; echo only-here > /etc/pve/local-only'
	on 3 sh -c 'kill $(cat /var/lib/pve-cluster/config.db.lock)'
	on 3 sh -c 'for i in $(seq 1 40); do mountpoint -q /etc/pve || exit 0; sleep 0.25; done; exit 1' ||
		fail "node3's local-mode pmxcfs did not stop"
	# the cluster moves on further than node3's local edits did (so node3's
	# version is lower than the cluster's: only its record of local mode
	# tells its edits apart)
	on 1 sh -c 'for i in $(seq 1 20); do echo cluster$i > /etc/pve/later$i; done
		echo cluster-new > /etc/pve/shared.cfg'
	sim start 3
	sim wait-quorate 3
	wait_converged "1 2 3" 30
	[ "$(on 3 cat /etc/pve/shared.cfg)" = cluster-new ] || fail "node3 kept its local edit"
	on 3 test ! -e /etc/pve/local-only || fail "node3's local-only file survived"
	on 3 sh -c 'ls /var/lib/pve-cluster/config.db.diverged-*' >/dev/null 2>&1 ||
		fail "no backup of node3's diverged database"
	sim logs 3 pmxcfs | grep -q "diverged" || fail "no log line about the divergence"
	# the backup holds the local edit
	on 3 sh -c 'sqlite3 $(ls /var/lib/pve-cluster/config.db.diverged-* | head -1) "select data from tree where name = '"'"'local-only'"'"'"' |
		grep -q only-here || fail "the backup lacks the local edit"
}

# A node's stored copy is damaged while it is down (same version, other
# bytes): at its return the majority's copy wins, the damaged path is named
# and the damaged copy is kept.
t_damaged_copy() {
	sim up 3
	on 1 sh -c 'echo good > /etc/pve/dc; echo other > /etc/pve/dc2'
	wait_converged "1 2 3" 10
	sim stop 3
	on 3 sqlite3 /var/lib/pve-cluster/config.db "update tree set data = 'evil' where name = 'dc'"
	sim start 3
	sim wait-quorate 3
	wait_converged "1 2 3" 30
	[ "$(on 3 cat /etc/pve/dc)" = good ] || fail "node3 kept its damaged copy"
	sim logs 3 pmxcfs | grep -q "sync: /dc differs from the source" || fail "the damaged path is not named"
	sim logs 3 pmxcfs | grep -q "sync: /dc2 differs" && fail "an undamaged path was named"
	on 3 sh -c 'ls /var/lib/pve-cluster/config.db.diverged-*' >/dev/null 2>&1 ||
		fail "the damaged copy was not kept"
}

# Verification on demand: all members agree; the counters show it.
t_verify() {
	sim up 3
	on 1 sh -c 'echo v > /etc/pve/v'
	local pid before after
	before=$(members_field 2 verifications)
	pid=$(sim pids 2 | sed -n 's/.*pmxcfs=\([0-9]*\).*/\1/p')
	kill -USR1 "$pid"
	local i
	for ((i = 0; i < 40; i++)); do
		after=$(members_field 2 verifications)
		[ "$after" -gt "$before" ] && break
		sleep 0.25
	done
	[ "$after" -gt "$before" ] || fail "no verification ran after SIGUSR1"
	[ "$(members_field 2 mismatches)" = 0 ] || fail "verification reported a mismatch"
	sim logs 2 pmxcfs | grep -q "verification passed" || fail "no verification log line"
}

# Periodic verification runs by itself (--verify-secs).
t_verify_periodic() {
	CLUSTER_SIM_PMXCFS_ARGS="--verify-secs 2" sim up 3
	on 1 sh -c 'echo p > /etc/pve/p'
	local i v=0
	for ((i = 0; i < 40; i++)); do
		v=$(members_field 3 verifications)
		[ "$v" -ge 2 ] && break
		sleep 0.5
	done
	[ "$v" -ge 2 ] || fail "no periodic verification within 20 s ($v)"
	[ "$(members_field 3 mismatches)" = 0 ] || fail "a periodic verification failed"
}

# Without corosync, pmxcfs serves reads and refuses writes with EACCES.
t_no_corosync() {
	sim up 3
	on 2 sh -c 'echo keep > /etc/pve/keep'
	sim kill 3 corosync
	# at once (pmxcfs may not have noticed yet: the send fails) and later
	on 3 sh -c 'echo x > /etc/pve/nc' 2>"$TMP/err" && fail "node3 wrote without corosync"
	grep -qi "permission denied" "$TMP/err" || fail "not EACCES: $(cat "$TMP/err")"
	sleep 1
	[ "$(on 3 cat /etc/pve/keep)" = keep ] || fail "node3 cannot read without corosync"
	on 3 sh -c 'echo x > /etc/pve/nc' 2>"$TMP/err" && fail "node3 wrote without corosync"
	grep -qi "permission denied" "$TMP/err" || fail "not EACCES: $(cat "$TMP/err")"
	sim start 3 corosync
	sim wait-quorate 3
	on 3 sh -c 'echo back > /etc/pve/nc' || fail "node3 cannot write after corosync returned"
	wait_converged "1 2 3" 20
}

# A peer sends damaged messages: every pmxcfs logs and drops them and goes on.
t_bad_messages() {
	: "${CPG_INJECT:=$SRC/build/tests/cluster/cpg_inject}"
	sim up 3
	on 1 sh -c 'echo before > /etc/pve/bm'
	local before
	before=$(tree_sum 1)
	on 2 "$CPG_INJECT"
	sim wait-quorate
	local n
	for n in 1 2 3; do
		[ "$(sim pids $n | sed -n 's/.*pmxcfs=\([0-9]*\).*/\1/p')" != "" ] || fail "node$n lost its pmxcfs"
		sim logs "$n" pmxcfs | grep -q "dropped a message from node2" ||
			fail "node$n did not log the damaged messages"
	done
	sim logs 1 pmxcfs | grep "dropped a message" | head -20 >&2
	[ "$(tree_sum 3)" = "$before" ] || fail "the tree changed"
	on 3 sh -c 'echo after > /etc/pve/bm' || fail "no write after the damaged messages"
	wait_converged "1 2 3" 10
	[ "$(on 1 cat /etc/pve/bm)" = after ] || fail "the write after did not replicate"
}

run_case "$@"
