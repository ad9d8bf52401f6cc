#!/bin/bash
# tests/cluster/ct_cluster_test.sh - pct on a real 3-node cluster-sim
# cluster: a container id exists once in the cluster (create on another
# node is refused naming the owner, and two nodes racing for one id get one
# config), only the owning node acts on a container, and a container runs
# inside a node's namespaces (its /sys is the node's network namespace's).
#
#   ct_cluster_test.sh CASE   CTest runs each as ctcluster.CASE
#   env: PMXCFS_BIN, CLUSTER_SIM, PCT, PVEAM
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
case_script_init ct
: "${PCT:=$SRC/build/ctmgr/pct}"
: "${PVEAM:=$SRC/build/ctmgr/pveam}"

case_cleanup_extra() {
	local n id
	for n in 1 2 3; do
		for id in 300 301; do
			on "$n" lxc-stop -P "$TMP/lxc" -n "$id" -k >/dev/null 2>&1 || true
		done
	done
}
trap case_cleanup EXIT

# pct on node N must fail; its output in OUT
pct_fails_on() {
	local rc=0
	OUT=$(pct_on "$@" 2>&1) || rc=$?
	[ "$rc" = 255 ] || fail "pct $* on node$1: exit $rc (expected 255): $OUT"
}

setup() {
	sim up 3 >/dev/null
	chmod 755 "$TMP"
	mkdir -p "$TMP/vz" "$TMP/lxc"
	PVE_STORAGE_DEFAULT_PATH=$TMP/vz "$PVEAM" build busybox >/dev/null
	# one shared dir storage, replicated by pmxcfs to every node
	on 1 sh -c "printf 'dir: local\n\tpath %s\n\tcontent rootdir,images,vztmpl\n\tshared 1\n' '$TMP/vz' >/etc/pve/storage.cfg"
}

t_owner() {
	setup
	pct_on 1 create 300 local:vztmpl/busybox.tar.zst --hostname owned --rootfs local:0.05 \
		--memory 64 2>/dev/null || fail "create on node1"
	pct_fails_on 3 create 300 local:vztmpl/busybox.tar.zst --rootfs local:0.05
	case $OUT in *"CT 300 already exists on node 'node1'"*) ;; *) fail "create on node3: $OUT" ;; esac
	local vols=("$TMP"/vz/images/300/*)
	[ "${vols[*]}" = "$TMP/vz/images/300/vm-300-disk-0.raw" ] || fail "volumes of CT 300: ${vols[*]}"
	for cmd in start "stop" "destroy" "status" "mount"; do
		pct_fails_on 2 $cmd 300
		case $OUT in *"CT 300 is on node 'node1', not on this node"*) ;; *) fail "$cmd on node2: $OUT" ;; esac
	done
	[ "$(pct_on 2 list)" = "" ] || fail "node2 lists containers"
	# the container runs in node1's namespaces
	pct_on 1 start 300 || fail "start on node1"
	[ "$(pct_on 1 status 300)" = "status: running" ] || fail "status on node1"
	[ "$(pct_on 1 exec 300 -- cat /proc/sys/kernel/hostname)" = owned ] || fail "hostname"
	# shellcheck disable=SC2016 # expanded in the container
	[ "$(pct_on 1 exec 300 -- sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max')" = $((64 << 20)) ] ||
		fail "memory limit"
	case $(pct_on 1 list) in *"300        running"*) ;; *) fail "list on node1: $(pct_on 1 list)" ;; esac
	pct_on 1 stop 300 || fail "stop"
	pct_on 1 destroy 300 || fail "destroy"
	on 2 sh -c "! test -e /etc/pve/nodes/node1/lxc/300.conf" || fail "config left"
	[ -z "$(ls -A "$TMP/vz/images/300" 2>/dev/null)" ] || fail "volume left"
}

# two nodes create the same id at once: one config, one set of volumes
t_race() {
	setup
	local a=0 b=0
	pct_on 2 create 301 local:vztmpl/busybox.tar.zst --rootfs local:0.05 >"$TMP/a" 2>&1 &
	local pa=$!
	pct_on 3 create 301 local:vztmpl/busybox.tar.zst --rootfs local:0.05 >"$TMP/b" 2>&1 &
	local pb=$!
	wait "$pa" || a=$?
	wait "$pb" || b=$?
	info "node2: exit $a: $(cat "$TMP/a")"
	info "node3: exit $b: $(cat "$TMP/b")"
	[ $((a == 0)) -ne $((b == 0)) ] || fail "exactly one create must succeed (exits $a and $b)"
	local n
	n=$(on 1 sh -c 'ls /etc/pve/nodes/*/lxc/301.conf' | wc -l)
	[ "$n" = 1 ] || fail "$n configs of CT 301"
	local vols=("$TMP"/vz/images/301/*)
	[ "${#vols[@]}" = 1 ] || fail "volumes of CT 301: ${vols[*]}"
	grep -q 'already exists' "$TMP/a" "$TMP/b" || fail "the loser does not say why"
	local owner=2
	[ $a = 0 ] || owner=3
	pct_on "$owner" destroy 301 || fail "destroy"
}

# pct set on node1 while an editor on node3 rewrites the same config: the
# later write does not silently undo the earlier one - pct set's rename is
# conditional on the version it read, so it fails and the edit stays.
t_set_race() {
	setup
	pct_on 1 create 302 local:vztmpl/busybox.tar.zst --rootfs local:0.05 --memory 64 \
		2>/dev/null || fail "create"
	local conf=/etc/pve/nodes/node1/lxc/302.conf out rc=0
	on 1 env PCT_LXC_PATH="$TMP/lxc" PCT_TEST_SAVE_DELAY_MS=1500 "$PCT" set 302 --cores 2 \
		>"$TMP/set.out" 2>&1 &
	local setter=$!
	sleep 0.5 # pct set has read the config and waits before its write
	on 3 sh -c "sed 's/^memory: .*/memory: 96/' $conf >$conf.new && mv $conf.new $conf"
	wait "$setter" || rc=$?
	out=$(cat "$TMP/set.out")
	[ "$rc" != 0 ] || fail "pct set went through over node3's edit: $(on 1 cat "$conf")"
	case $out in *"detected modified configuration"*) ;; *) fail "pct set said: $out" ;; esac
	case $(on 1 cat "$conf") in *"memory: 96"*) ;; *) fail "node3's edit is gone: $(on 1 cat "$conf")" ;; esac
	case $(on 1 cat "$conf") in *"cores: 2"*) fail "the refused set was written" ;; esac
	# again, without the race: done
	pct_on 1 set 302 --cores 2 >/dev/null || fail "pct set after the race"
	case $(on 1 cat "$conf") in *"memory: 96"*"cores"* | *"cores: 2"*"memory: 96"*) ;; *) fail "after: $(on 1 cat "$conf")" ;; esac
	pct_on 1 destroy 302 >/dev/null || fail "destroy"
}

run_case "$@"
