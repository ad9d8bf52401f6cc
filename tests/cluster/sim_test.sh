#!/bin/bash
# tests/cluster/sim_test.sh - tests of cluster-sim itself: namespaces, real
# corosync quorum, partitions, packet loss, kill/stop/start/pause/resume,
# status, two clusters side by side, down (also after a crashed up).
#
#   sim_test.sh CLUSTER_SIM PMXCFS      (as root)
#
# Exit 0: all passed; non-zero with a "FAIL: ..." message otherwise.  Uses
# the cluster names simtest, simtest2 and simtestk, and removes them at exit.
set -euo pipefail

[ $# -eq 2 ] || {
	echo "usage: $0 CLUSTER_SIM PMXCFS" >&2
	exit 2
}
SIM=$(readlink -f "$1")
PMX=$(readlink -f "$2")
[ -x "$SIM" ] || {
	echo "FAIL: $SIM is not executable" >&2
	exit 1
}
[ -x "$PMX" ] || {
	echo "FAIL: $PMX is not executable" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || {
	echo "FAIL: must run as root" >&2
	exit 1
}
unset CLUSTER_SIM_PMXCFS CLUSTER_SIM_PMXCFS_ARGS
export CLUSTER_SIM_TIMEOUT=${CLUSTER_SIM_TIMEOUT:-60}

N1=simtest
N2=simtest2
NK=simtestk


# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
sim() { "$SIM" --pmxcfs "$PMX" --name "$N1" "$@"; }
sim2() { "$SIM" --pmxcfs "$PMX" --name "$N2" "$@"; }
simk() { "$SIM" --pmxcfs "$PMX" --name "$NK" "$@"; }

cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -d "/run/cluster-sim/$N1" ]; then
		sim status >&2 || true
		for n in 1 2 3; do
			echo "===== node$n logs (tail) =====" >&2
			sim logs "$n" 2>/dev/null | tail -20 >&2 || true
		done
	fi
	for n in "$N1" "$N2" "$NK"; do
		"$SIM" --name "$n" down >/dev/null 2>&1 || true
	done
	exit "$rc"
}
trap cleanup EXIT

# expect_rc WANT CMD...: run CMD, its exit status must be WANT
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want"
}

# eventually SECS DESC CMD...: CMD succeeds within SECS seconds
eventually() {
	local secs=$1 desc=$2 i
	shift 2
	for ((i = 0; i < secs * 4; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	fail "$desc (not within $secs s)"
}

quorate_yes() { grep -Eq '^Quorate:[[:space:]]+Yes' <<<"$(on "$1" corosync-quorumtool -s)"; }
quorate_no() {
	local out
	out=$(on "$1" timeout 5 corosync-quorumtool -s 2>&1 || true)
	grep -Eq '^Quorate:[[:space:]]+No' <<<"$out"
}
corosync_nodes() { # node -> "Nodes:" count seen by its corosync
	on "$1" timeout 5 corosync-quorumtool -s 2>/dev/null | sed -n 's/^Nodes:[[:space:]]*\([0-9]*\).*/\1/p' || true
}
nodes_is() { [ "$(corosync_nodes "$1")" = "$2" ]; }
pid_of() { # node what -> pid or -
	sim pids "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
proc_state() { awk '/^State:/ { print $2 }' "/proc/$1/status"; }
status_line() { sim status | grep "^node$1 "; }
pve_fuse() { [[ $(on "$1" timeout 5 stat -f -c %T /etc/pve) == fuse* ]]; }
members_quorate() { grep -q '"quorate": 1' <<<"$(on "$1" timeout 5 cat /etc/pve/.members)"; }
netns_of() { ip netns list | awk '{ print $1 }' | grep -E "^csim-$1-" || true; }
procs_of() { # name -> pids in its namespaces
	local ns
	for ns in $(netns_of "$1"); do ip netns pids "$ns"; done
}
assert_gone() { # name
	local n=$1
	[ -z "$(netns_of "$n")" ] || fail "namespaces of $n left: $(netns_of "$n" | tr '\n' ' ')"
	[ ! -e "/run/cluster-sim/$n" ] || fail "/run/cluster-sim/$n left"
	[ ! -e "/var/lib/cluster-sim/$n" ] || fail "/var/lib/cluster-sim/$n left"
	[ ! -e "/run/cluster-sim/$n.lock" ] || fail "/run/cluster-sim/$n.lock left"
	! grep -qx "$n" <<<"$("$SIM" list)" || fail "'list' still shows $n"
}

for n in "$N1" "$N2" "$NK"; do
	"$SIM" --name "$n" down >/dev/null 2>&1 || fail "cannot remove a previous cluster $n"
done

# ---- command line
info "command line"
grep -q '^usage: cluster-sim' <<<"$("$SIM" --help)" || fail "--help prints no usage"
expect_rc 0 "$SIM" -h
expect_rc 2 "$SIM" frobnicate
expect_rc 2 "$SIM"
expect_rc 2 "$SIM" --name BAD list
expect_rc 2 "$SIM" --name waytoolongname list
expect_rc 1 sim status
expect_rc 0 sim down
assert_gone "$N1"

# ---- up
info "up 3"
start=$SECONDS
sim up 3 || fail "up 3 failed"
info "up took $((SECONDS - start)) s"
expect_rc 1 sim up 3 # exists already
grep -qx "$N1" <<<"$("$SIM" list)" || fail "list does not show $N1"
for n in 1 2 3; do
	quorate_yes "$n" || fail "node$n: corosync not quorate after up"
	pve_fuse "$n" || fail "node$n: /etc/pve is not FUSE after up"
	members_quorate "$n" || fail "node$n: .members not quorate after up"
done
[ "$(corosync_nodes 1)" = 3 ] || fail "node1's corosync sees $(corosync_nodes 1) nodes, expected 3"
grep -Eq 'node3' <<<"$(on 1 corosync-quorumtool -s)" || fail "node3 not in node1's member list"

# ---- exec: host name, addresses, exit status, stdin, working directory, isolation
info "exec"
[ "$(on node2 hostname)" = node2 ] || fail "exec node2 hostname: '$(on node2 hostname)'"
[ "$(on 3 hostname)" = node3 ] || fail "exec 3 hostname"
[ "$(hostname)" != node2 ] || fail "the host's name changed"
grep -q 'inet 10\.99\.0\.1/24' <<<"$(on 1 ip -4 -o addr show eth0)" || fail "node1 has no 10.99.0.1/24 on eth0"
[ "$(on 2 pwd)" = / ] || fail "exec working directory is not /"
expect_rc 7 sim exec 2 sh -c 'exit 7'
expect_rc 2 sim exec node4 true
expect_rc 2 sim exec 0 true
expect_rc 2 sim exec foo true
[ "$(echo hello | on 1 cat)" = hello ] || fail "stdin is not passed through"
on 1 sh -c 'echo x >/run/simtest-marker'
expect_rc 1 sim exec 2 test -e /run/simtest-marker
[ ! -e /run/simtest-marker ] || fail "node1's /run is the host's"
on 1 test -e /etc/corosync/corosync.conf || fail "node1 has no corosync.conf"
on 1 grep -q 'cluster_name: simtest' /etc/corosync/corosync.conf || fail "wrong cluster_name"
! grep -q 'cluster_name: simtest' /etc/corosync/corosync.conf 2>/dev/null || fail "host corosync.conf was changed"
# the nodes' /etc/pve are separate mounts of separate daemons
[ "$(on 1 sed -n 's/.*"nodename": "\([^"]*\)".*/\1/p' /etc/pve/.members)" = node1 ] || fail ".members of node1 names another node"
[ "$(on 3 sed -n 's/.*"nodename": "\([^"]*\)".*/\1/p' /etc/pve/.members)" = node3 ] || fail ".members of node3 names another node"

# ---- status, pids, logs
info "status, pids, logs"
[ "$(sim status | wc -l)" -eq 3 ] || fail "status does not print 3 lines"
for n in 1 2 3; do
	grep -Eq "^node$n 10\.99\.0\.$n corosync=[0-9]+/running pmxcfs=[0-9]+/running quorate=yes mounted=yes$" <<<"$(status_line "$n")" ||
		fail "status line of node$n: '$(status_line "$n")'"
done
grep -Eq '^corosync=[0-9]+ pmxcfs=[0-9]+ holder=[0-9]+$' <<<"$(sim pids 2)" || fail "pids 2: '$(sim pids 2)'"
cp=$(pid_of 2 corosync)
[ "$(cat "/proc/$cp/comm")" = corosync ] || fail "pids 2: corosync pid $cp is not corosync"
grep -q 'corosync' <<<"$(sim logs 1 corosync)" || fail "logs 1 corosync is empty"
grep -q . <<<"$(sim logs 1 pmxcfs)" || fail "logs 1 pmxcfs is empty"
expect_rc 2 sim logs 1 frob
expect_rc 2 sim pids 9

# ---- partition / heal
info "partition 1,2 3"
sim partition 1,2 3 || fail "partition failed"
on 3 nft list table inet csim_part >/dev/null || fail "no csim_part table in node3"
eventually 20 "node3 did not lose quorum in a partition" quorate_no 3
eventually 20 "node1 does not see 2 nodes in a partition" nodes_is 1 2
quorate_yes 1 || fail "node1 lost quorum on the majority side"
grep -q 'quorate=no' <<<"$(status_line 3)" || fail "status shows node3 quorate in a partition"
expect_rc 2 sim partition 1,2 2
expect_rc 2 sim partition 1,5
info "heal"
sim heal || fail "heal failed"
expect_rc 1 sim exec 3 nft list table inet csim_part
eventually 30 "node3 did not regain quorum after heal" quorate_yes 3
eventually 30 "node1 does not see 3 nodes after heal" nodes_is 1 3
sim wait-quorate 3 || fail "wait-quorate 3 after heal"
info "partition 1 (others isolated)"
sim partition 1 || fail "partition 1 failed"
eventually 20 "node1 kept quorum alone" quorate_no 1
eventually 20 "node2 kept quorum isolated" quorate_no 2
sim heal
eventually 30 "no quorum after the second heal" quorate_yes 1
sim wait-quorate || fail "wait-quorate after the second heal"

# ---- loss
info "loss"
expect_rc 2 sim loss 2 101
expect_rc 2 sim loss 2 x
sim loss 2 40 || fail "loss 2 40 failed"
grep -q 'numgen random mod 100 < 40' <<<"$(on 2 nft list table inet csim_loss)" || fail "no loss rule in node2"
dropped() { on 2 nft list table inet csim_loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'; }
has_drops() { [ "$(dropped)" -gt 0 ]; }
eventually 15 "no packets dropped with 40% loss" has_drops
sim loss 2 0 || fail "loss 2 0 failed"
expect_rc 1 sim exec 2 nft list table inet csim_loss
sim wait-quorate || fail "not quorate after loss"

# ---- kill / start
info "kill 3 pmxcfs, start 3 pmxcfs"
old=$(pid_of 3 pmxcfs)
sim kill 3 pmxcfs || fail "kill 3 pmxcfs failed"
! alive "$old" || fail "pmxcfs $old still alive after kill"
[ "$(pid_of 3 pmxcfs)" = - ] || fail "pids 3 still shows pmxcfs"
grep -q 'pmxcfs=-/dead' <<<"$(status_line 3)" || fail "status: '$(status_line 3)'"
grep -q 'corosync=[0-9]*/running' <<<"$(status_line 3)" || fail "kill pmxcfs touched corosync"
sim start 3 pmxcfs || fail "start 3 pmxcfs failed"
new=$(pid_of 3 pmxcfs)
{ [ "$new" != - ] && [ "$new" != "$old" ]; } || fail "no new pmxcfs pid after start"
pve_fuse 3 || fail "node3: /etc/pve not FUSE after start"
sim wait-quorate 3 || fail "wait-quorate 3 after restart"

info "kill 2, start 2"
oc=$(pid_of 2 corosync)
op=$(pid_of 2 pmxcfs)
sim kill node2 || fail "kill node2 failed"
! alive "$oc" || fail "corosync $oc alive after kill"
! alive "$op" || fail "pmxcfs $op alive after kill"
eventually 20 "node1 still sees node2's corosync" nodes_is 1 2
sim start 2 || fail "start 2 failed"
{ [ "$(pid_of 2 corosync)" != - ] && [ "$(pid_of 2 pmxcfs)" != - ]; } || fail "node2 not running after start"
sim wait-quorate 2 || fail "wait-quorate 2"
eventually 30 "node2 not quorate in corosync after start" quorate_yes 2

# ---- pause / resume
info "pause 3 corosync, resume 3"
cp=$(pid_of 3 corosync)
sim pause 3 corosync || fail "pause failed"
[ "$(proc_state "$cp")" = T ] || fail "corosync $cp not stopped after pause"
grep -q "corosync=$cp/paused" <<<"$(status_line 3)" || fail "status does not show paused: '$(status_line 3)'"
eventually 20 "node1 still sees paused node3" nodes_is 1 2
sim resume 3 || fail "resume failed"
[ "$(proc_state "$cp")" != T ] || fail "corosync $cp still stopped after resume"
eventually 30 "node1 does not see node3 after resume" nodes_is 1 3
eventually 30 "node3 not quorate after resume" quorate_yes 3
info "pause 1 pmxcfs, resume 1 pmxcfs"
pp=$(pid_of 1 pmxcfs)
sim pause 1 pmxcfs
[ "$(proc_state "$pp")" = T ] || fail "pmxcfs not stopped after pause"
expect_rc 124 sim exec 1 timeout 2 ls /etc/pve
sim resume 1 pmxcfs
on 1 timeout 5 ls /etc/pve >/dev/null || fail "/etc/pve of node1 does not answer after resume"

# ---- stop / start
info "stop 1, start 1"
oc=$(pid_of 1 corosync)
op=$(pid_of 1 pmxcfs)
sim stop 1 || fail "stop 1 failed"
! alive "$oc" || fail "corosync alive after stop"
! alive "$op" || fail "pmxcfs alive after stop"
# shellcheck disable=SC2016 # an awk program
on 1 awk '$5 == "/etc/pve" && /fuse/ { f = 1 } END { exit f }' /proc/self/mountinfo ||
	fail "/etc/pve still mounted in node1 after a graceful stop"
grep -q 'corosync=-/dead pmxcfs=-/dead' <<<"$(status_line 1)" || fail "status after stop: '$(status_line 1)'"
[ -s "/var/lib/cluster-sim/$N1/node1/var-lib-pve-cluster/config.db" ] || fail "node1's database is gone after stop"
sim start 1 || fail "start 1 failed"
sim wait-quorate || fail "wait-quorate after stop/start"
eventually 30 "node1 not quorate in corosync after start" quorate_yes 1

# ---- two clusters side by side
info "second cluster $N2 (2 nodes) next to $N1"
sim2 up 2 || fail "up of $N2 failed"
[ "$(sim2 exec 1 corosync-quorumtool -s | sed -n 's/^Nodes:[[:space:]]*//p')" = 2 ] || fail "$N2 node1 does not see 2 nodes"
sim2 exec 2 grep -q 'cluster_name: simtest2' /etc/corosync/corosync.conf || fail "$N2 config"
[ "$(corosync_nodes 1)" = 3 ] || fail "$N1 disturbed by $N2"
grep -qx "$N2" <<<"$("$SIM" list)" || fail "list does not show $N2"
sim2 partition 1 2
sim partition 1,2,3 # one group: nothing blocked
quorate_yes 3 || fail "$N1 affected by the partition of $N2"
sim heal
sim2 down || fail "down of $N2 failed"
assert_gone "$N2"
sim wait-quorate || fail "$N1 not quorate after $N2 went down"

# ---- down after a crashed up
info "down after kill -9 of up"
setsid "$SIM" --pmxcfs "$PMX" --name "$NK" up 3 >/dev/null 2>&1 &
up_pid=$!
eventually 20 "the crash-test cluster never started corosync" test -s "/run/cluster-sim/$NK/node3.corosync"
kill -9 "$up_pid"
wait "$up_pid" 2>/dev/null || true
crash_pids=$(procs_of "$NK")
[ -n "$crash_pids" ] || fail "no processes in the crash-test cluster"
simk down || fail "down after a crashed up failed"
assert_gone "$NK"
for p in $crash_pids; do
	! alive "$p" || fail "process $p of the crashed cluster survived down"
done

# ---- down
info "down"
pids=$(procs_of "$N1")
sim down || fail "down failed"
assert_gone "$N1"
for p in $pids; do
	! alive "$p" || fail "process $p survived down"
done
expect_rc 0 sim down
expect_rc 1 sim status

info "all cluster-sim tests passed"
