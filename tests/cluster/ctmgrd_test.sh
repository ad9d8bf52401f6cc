#!/bin/bash
# tests/cluster/ctmgrd_test.sh - ctmgrd on a real 3-node cluster-sim
# cluster with a running busybox container on node1: config changes made on
# another node (an editor's write-and-rename on node3) reach the running
# container's cgroup on node1; what cannot be applied live waits in
# [pve:pending] and applies at the next start; an invalid edit applies
# nothing and is logged; ctmgrd restarted resumes where it stopped; pct set
# on a running container reports what was applied and what is pending.
#
#   ctmgrd_test.sh CASE   CTest runs each as ctmgrd.CASE (labels cluster, container)
#   env: PMXCFS_BIN, CLUSTER_SIM, PCT, PVEAM, CTMGRD, PMXCFS_LOG
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
case_script_init cm
: "${PCT:=$SRC/build/ctmgr/pct}"
: "${PVEAM:=$SRC/build/ctmgr/pveam}"
: "${CTMGRD:=$SRC/build/ctmgr/ctmgrd}"
: "${PMXCFS_LOG:=$SRC/build/pmxcfs/pmxcfs-log}"
ID=410
ID2=411 # an unprivileged one, where a case needs it
CONF=/etc/pve/nodes/node1/lxc/$ID.conf


case_cleanup_extra() {
	local p n # rc: case_cleanup's, seen here (bash scoping)
	if [ "${rc:-0}" -ne 0 ]; then
		for p in "$TMP"/ctmgrd*.log; do
			[ -f "$p" ] && { echo "===== $(basename "$p") (tail) =====" >&2; tail -20 "$p" >&2; }
		done
	fi
	for p in "${DAEMONS[@]}"; do kill "$p" 2>/dev/null; done
	for n in 1 2 3; do
		on "$n" lxc-stop -P "$TMP/lxc" -n "$ID" -k >/dev/null 2>&1 || true
		on "$n" lxc-stop -P "$TMP/lxc" -n "$ID2" -k >/dev/null 2>&1 || true
	done
}
trap case_cleanup EXIT

# ctmgrd on node K (default 1), in the foreground (its output in
# $TMP/ctmgrd<K>.log; node1's in $TMP/ctmgrd.log); its pid in DAEMONS[K]
declare -A DAEMONS=()
start_ctmgrd() {
	local k=${1:-1} log=$TMP/ctmgrd.log
	[ "$k" = 1 ] || log=$TMP/ctmgrd$k.log
	: >>"$log"
	local lines
	lines=$(wc -l <"$log")
	(exec "$CLUSTER_SIM" --name "$NAME" exec "$k" env PCT_LXC_PATH="$TMP/lxc" \
		CTMGRD_STATE_DIR="$TMP/ctmgrd-state$k" ${CTMGRD_ENV:+"$CTMGRD_ENV"} "$CTMGRD" -f) >>"$log" 2>&1 &
	DAEMONS[$k]=$!

	local i
	for ((i = 0; i < 100; i++)); do
		tail -n +"$((lines + 1))" "$log" | grep -q "watching" && return 0
		kill -0 "${DAEMONS[$k]}" 2>/dev/null || fail "ctmgrd on node$k exited: $(cat "$log")"
		sleep 0.05
	done
	fail "ctmgrd on node$k did not start: $(cat "$log")"
}

stop_ctmgrd() {
	local k=${1:-1}
	kill "${DAEMONS[$k]}"
	wait "${DAEMONS[$k]}" 2>/dev/null || true
	unset "DAEMONS[$k]"

}

# edit CT 410's config on node N the way an editor does: a new file renamed over it
edit_on() { # node sed-expression
	on "$1" sh -c "sed -e '$2' $CONF >$CONF.new && mv $CONF.new $CONF"
}

# the container's cgroup value (as it sees it) on node1
cg() {
	pct_on 1 exec "$ID" -- cat "/sys/fs/cgroup/$1"
}

# wait until cg $1 is $2 (at most 10 s); the time it took in WAITED (ms)
wait_cg() {
	local i t0
	t0=$(date +%s%N)
	for ((i = 0; i < 200; i++)); do
		if [ "$(cg "$1")" = "$2" ]; then
			WAITED=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	fail "$1 is $(cg "$1"), not $2, after 10 s (ctmgrd: $(tail -5 "$TMP/ctmgrd.log"))"
}

setup() {
	sim up 3 >/dev/null
	chmod 755 "$TMP"
	mkdir -p "$TMP/vz" "$TMP/lxc"
	PVE_STORAGE_DEFAULT_PATH=$TMP/vz "$PVEAM" build busybox >/dev/null
	on 1 sh -c "printf 'dir: local\n\tpath %s\n\tcontent rootdir,images,vztmpl\n\tshared 1\n' '$TMP/vz' >/etc/pve/storage.cfg"
	pct_on 1 create "$ID" local:vztmpl/busybox.tar.zst --hostname hot --rootfs local:0.05 \
		--memory 128 --swap 64 2>/dev/null || fail "create"
	pct_on 1 start "$ID" || fail "start"
	[ "$(cg memory/memory.limit_in_bytes)" = $((128 << 20)) ] || fail "initial memory limit"
	start_ctmgrd
}

t_live() {
	setup
	edit_on 3 's/^memory: .*/memory: 256/'
	wait_cg memory/memory.limit_in_bytes $((256 << 20))
	info "memory edited on node3 -> cgroup on node1: ${WAITED} ms"
	[ "$(cg memory/memory.memsw.limit_in_bytes)" = $(((256 + 64) << 20)) ] || fail "memsw after memory"
	# a rewrite in place: truncation, then the content a moment later - the
	# empty file in between applies nothing (no defaults, no error)
	on 3 sh -c "cat $CONF >$TMP/keep && : >$CONF"
	wait_ctmgrd_log "CT $ID: .*empty (a rewrite in progress?)"
	[ "$(cg memory/memory.limit_in_bytes)" = $((256 << 20)) ] || fail "the empty config changed memory"
	on 3 sh -c "cat $TMP/keep >$CONF"
	on 1 "$PMXCFS_LOG" read 2>/dev/null | grep -q "config not applied" &&
		fail "the truncation was logged as an invalid config"
	edit_on 3 's/^swap: .*/swap: 32/'
	wait_cg memory/memory.memsw.limit_in_bytes $(((256 + 32) << 20))
	# lowering memory below memsw's old value: the safe order
	edit_on 2 's/^memory: .*/memory: 64/'
	wait_cg memory/memory.limit_in_bytes $((64 << 20))
	[ "$(cg memory/memory.memsw.limit_in_bytes)" = $(((64 + 32) << 20)) ] || fail "memsw after lowering"
	on 3 sh -c "echo 'cpulimit: 0.5' >>$CONF"
	wait_cg cpu/cpu.cfs_quota_us 50000
	on 3 sh -c "echo 'cpuunits: 512' >>$CONF"
	wait_cg cpu/cpu.shares 512
	# nothing moved to pending, the config is as written
	case $(on 1 cat "$CONF") in *"[pve:pending]"*) fail "a live change went pending" ;; esac
}

# a live change that cannot be made (memory below what the container
# uses, no swap to push it to) stays pending with the reason in the cluster
# log; the other keys of the same edit still apply
t_partial() {
	setup
	# 40 MB in a tmpfs of the container: charged to its cgroup, and with
	# swap 0 nowhere to go
	pct_on 1 exec "$ID" -- sh -c 'mount -t tmpfs fill /mnt && dd if=/dev/zero of=/mnt/fill bs=1M count=40 2>/dev/null' ||
		fail "cannot fill the container's memory"
	[ "$(cg memory/memory.usage_in_bytes)" -gt $((40 << 20)) ] || fail "usage: $(cg memory/memory.usage_in_bytes)"
	# one edit: memory and swap down (cannot be done), cpuunits (can)
	edit_on 3 's/^memory: .*/memory: 16/; s/^swap: .*/swap: 0/; $a cpuunits: 300'
	wait_cg cpu/cpu.shares 300
	local c log="" i
	for ((i = 0; i < 100; i++)); do
		log=$(on 1 "$PMXCFS_LOG" read 2>/dev/null | grep "CT $ID: left pending: memory" || true)
		[ -n "$log" ] && break
		sleep 0.1
	done
	[ -n "$log" ] || fail "no cluster log entry for the failed memory change"
	c=$(on 1 cat "$CONF")
	case $c in *"[pve:pending]"*"memory: 16"*) ;; *) fail "memory 16 not pending: $c" ;; esac
	case ${c%%"[pve:pending]"*} in *"memory: 128"*) ;; *) fail "the current section lost memory 128: $c" ;; esac
	[ "$(cg memory/memory.limit_in_bytes)" = $((128 << 20)) ] || fail "the memory limit changed"
}

# network interfaces of a running container: added (MAC generated and
# written back, address inside, a ping through it), moved to another bridge
# without being recreated, removed
t_net() {
	setup
	on 1 sh -c 'ip link add vmbr0 type bridge && ip addr add 10.77.0.1/24 dev vmbr0 &&
		ip link set vmbr0 up && ip link add vmbr1 type bridge && ip link set vmbr1 up'
	local out mac idx
	out=$(pct_on 1 set "$ID" --net1 name=eth1,bridge=vmbr0,ip=10.77.0.5/24)
	case $out in *"applied: net1"*) ;; *) fail "net1 not applied: $out" ;; esac
	mac=$(on 1 sed -n 's/^net1: .*hwaddr=\([0-9A-F:]*\).*/\1/p' "$CONF")
	[ -n "$mac" ] || fail "no MAC written back: $(on 1 cat "$CONF")"
	out=$(pct_on 1 exec "$ID" -- ip addr show eth1)
	case $out in *"$(echo "$mac" | tr 'A-F' 'a-f')"*"10.77.0.5/24"*) ;; *) fail "eth1 inside: $out" ;; esac
	pct_on 1 exec "$ID" -- ping -c1 -W2 10.77.0.1 >/dev/null || fail "no ping through eth1"
	case $(on 1 ip link show "veth${ID}i1") in *"master vmbr0"*) ;; *) fail "host side not on vmbr0" ;; esac
	idx=$(pct_on 1 exec "$ID" -- cat /sys/class/net/eth1/ifindex)
	out=$(pct_on 1 set "$ID" --net1 "name=eth1,bridge=vmbr1,hwaddr=$mac,ip=10.77.0.5/24")
	case $out in *"applied: net1"*) ;; *) fail "bridge change not applied: $out" ;; esac
	case $(on 1 ip link show "veth${ID}i1") in *"master vmbr1"*) ;; *) fail "host side not on vmbr1" ;; esac
	[ "$(pct_on 1 exec "$ID" -- cat /sys/class/net/eth1/ifindex)" = "$idx" ] || fail "eth1 was recreated"
	out=$(pct_on 1 set "$ID" --delete net1 2>&1)
	case $out in *"applied: net1"*) ;; *) fail "removal not applied: $out" ;; esac
	pct_on 1 exec "$ID" -- ip link show eth1 >/dev/null 2>&1 && fail "eth1 still inside"
	on 1 ip link show "veth${ID}i1" >/dev/null 2>&1 && fail "the host side is still there"
	# a bridge that does not exist: pending, with the reason
	out=$(pct_on 1 set "$ID" --net2 name=eth2,bridge=vmbr7 2>&1)
	case $out in *"pending: net2"*"bridge 'vmbr7' does not exist"* | *"bridge 'vmbr7' does not exist"*"pending: net2"*) ;;
	*) fail "a missing bridge: $out" ;; esac
	return 0
}

# wait until node1's ctmgrd log has a line matching the grep pattern $1 (10 s)
wait_ctmgrd_log() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "$1" "$TMP/ctmgrd.log" && return 0
		sleep 0.1
	done
	fail "no '$1' in ctmgrd's log after 10 s: $(tail -5 "$TMP/ctmgrd.log")"
}

# wait until the config's [pve:pending] section holds TEXT (10 s); the
# config in C
wait_pending() {
	local i
	for ((i = 0; i < 100; i++)); do
		C=$(on 1 cat "${2:-$CONF}")
		case $C in *"[pve:pending]"*"$1"*) return 0 ;; esac
		sleep 0.1
	done
	fail "'$1' not pending after 10 s: $C"
}

# wait until `pct exec` of sh -c $1 in the container prints $2 (10 s)
wait_in() {
	local i out=""
	for ((i = 0; i < 200; i++)); do
		out=$(pct_on 1 exec "$ID" -- sh -c "$1" 2>&1) || true
		[ "$out" = "$2" ] && return 0
		sleep 0.05
	done
	fail "'$1' in the container gives '$out', not '$2', after 10 s (ctmgrd: $(tail -5 "$TMP/ctmgrd.log"))"
}

# New mount points and devices, added to the config of the running
# container from node3: a host directory (bound live: later host writes
# show), a read-only one, a storage volume (an ext4 image), and a device
# node its devices cgroup did not allow.  A replay (applied.conf lost them)
# mounts nothing twice; removing one waits for the next start, where the
# rest are mounted by the start itself.
t_mounts() {
	local out
	setup
	mkdir -p "$TMP/share" "$TMP/vz/images/$ID"
	echo hello >"$TMP/share/greeting"
	local img=$TMP/vz/images/$ID/vm-$ID-disk-9.raw
	truncate -s 32M "$img"
	mkfs.ext4 -q -F "$img" || fail "mkfs"
	pct_on 1 exec "$ID" -- sh -c ': </dev/loop-control' 2>/dev/null &&
		fail "/dev/loop-control opens before dev0 is added"
	on 3 sh -c "printf '%s\n' 'mp0: $TMP/share,mp=/mnt/share' 'mp1: $TMP/share,mp=/mnt/ro,ro=1' \
		'mp2: local:$ID/vm-$ID-disk-9.raw,mp=/mnt/vol,size=32M' 'dev0: /dev/loop-control' >>$CONF"
	wait_in 'cat /mnt/share/greeting' hello
	wait_in ': </dev/loop-control && echo opened' opened
	wait_in 'grep -c " /mnt/vol ext4 " /proc/mounts' 1
	echo later >"$TMP/share/later"
	[ "$(pct_on 1 exec "$ID" -- cat /mnt/share/later)" = later ] || fail "a host write does not show"
	[ "$(pct_on 1 exec "$ID" -- cat /mnt/ro/greeting)" = hello ] || fail "mp1"
	pct_on 1 exec "$ID" -- sh -c 'echo x >/mnt/ro/x' 2>/dev/null && fail "mp1 (ro=1) is writable"
	pct_on 1 exec "$ID" -- sh -c 'echo data >/mnt/vol/f' || fail "cannot write to mp2"
	case $(on 1 cat "$CONF") in *"[pve:pending]"*) fail "a new mount went pending: $(on 1 cat "$CONF")" ;; esac
	# none of it is mounted outside the container
	on 1 grep -q "/mnt/share\|/mnt/vol" /proc/self/mountinfo && fail "a mount leaked into node1's namespace"
	grep -q "/mnt/share\|/mnt/vol" /proc/self/mountinfo && fail "a mount leaked into the host's namespace"

	# pct set allocates a new volume ("STORAGE:GiB") and ctmgrd mounts it
	out=$(pct_on 1 set "$ID" --mp4 local:0.03,mp=/mnt/new 2>&1) || fail "pct set --mp4: $out"
	case $out in *"applied: mp4"*) ;; *) fail "mp4 not applied: $out" ;; esac
	on 1 grep -q "^mp4: local:$ID/vm-$ID-disk-[0-9]*.raw,mp=/mnt/new,size=31M$" "$CONF" ||
		fail "mp4 in the config: $(on 1 grep mp4 "$CONF")"
	[ "$(pct_on 1 exec "$ID" -- grep -c " /mnt/new ext4 " /proc/mounts)" = 1 ] || fail "mp4 not mounted"
	local before
	before=$(on 1 cat "$CONF")
	out=$(pct_on 1 set "$ID" --mp5 nosuch:1,mp=/mnt/x 2>&1) && fail "a missing storage was accepted"
	case $out in *"storage 'nosuch' does not exist"*) ;; *) fail "missing storage: $out" ;; esac
	[ "$(on 1 cat "$CONF")" = "$before" ] || fail "a refused pct set changed the config"

	# a mount point below one that is there already (the source is visible
	# there through mp0, read-write): mounted all the same, read-only
	mkdir -p "$TMP/share/inner"
	on 3 sh -c "echo 'mp6: $TMP/share/inner,mp=/mnt/share/inner,ro=1' >>$CONF"
	wait_in 'grep -c " /mnt/share/inner " /proc/mounts' 1
	pct_on 1 exec "$ID" -- sh -c 'echo x >/mnt/share/inner/x' 2>/dev/null && fail "mp6 (ro=1) is writable"
	# two new ones in one edit, the deeper first in the file: mounted parent first
	mkdir -p "$TMP/top" "$TMP/bottom"
	echo top >"$TMP/top/t"
	echo bottom >"$TMP/bottom/b"
	on 3 sh -c "printf '%s\n' 'mp7: $TMP/bottom,mp=/mnt/a/b' 'mp8: $TMP/top,mp=/mnt/a' >>$CONF"
	wait_in 'cat /mnt/a/t /mnt/a/b/b' "top
bottom"

	# a replay: applied.conf forgets them, the next change brings them up again
	local n
	n=$(on 1 grep -c '^mp[0-9]*:\|^dev0:' "$TMP/lxc/$ID/applied.conf")
	[ "$n" = 8 ] || fail "applied.conf has $n mount points and devices, not 8"
	on 1 sed -i '/^mp[0-9]*:\|^dev0:/d' "$TMP/lxc/$ID/applied.conf"
	edit_on 3 's/^memory: .*/memory: 144/'
	wait_cg memory/memory.limit_in_bytes $((144 << 20))
	for ((n = 0; n < 100; n++)); do
		[ "$(on 1 grep -c '^mp[0-9]*:\|^dev0:' "$TMP/lxc/$ID/applied.conf")" = 8 ] && break
		sleep 0.1
	done
	[ "$n" -lt 100 ] || fail "the replay did not record the mounts: $(tail -3 "$TMP/ctmgrd.log")"
	grep -q "applied \[memory .*mp0.*\]" "$TMP/ctmgrd.log" ||
		fail "no replay of the mounts in the log: $(grep applied "$TMP/ctmgrd.log" | tail -3)"
	wait_in 'grep -c " /mnt/share " /proc/mounts' 1
	[ "$(pct_on 1 exec "$ID" -- grep -c " /mnt/a/b " /proc/mounts)" = 1 ] || fail "mp7 mounted twice"
	[ "$(pct_on 1 exec "$ID" -- grep -c " /mnt/share/inner " /proc/mounts)" = 1 ] || fail "mp6 mounted twice"
	[ "$(pct_on 1 exec "$ID" -- grep -c " /mnt/vol " /proc/mounts)" = 1 ] || fail "mp2 mounted twice"
	[ "$(pct_on 1 exec "$ID" -- grep -c " /dev/loop-control " /proc/mounts)" = 1 ] || fail "dev0 mounted twice"
	case $(on 1 cat "$CONF") in *"[pve:pending]"*) fail "the replay went pending: $(on 1 cat "$CONF")" ;; esac

	# removing one: pending, still mounted; gone after a restart, the others mounted at start
	edit_on 3 '/^mp0:/d'
	wait_pending "delete: mp0"
	local i
	[ "$(pct_on 1 exec "$ID" -- cat /mnt/share/greeting)" = hello ] || fail "mp0 went before the restart"
	pct_on 1 stop "$ID" || fail "stop"
	# the image's loop device went with the container's mount namespace
	for ((i = 0; i < 40; i++)); do
		[ -z "$(losetup -j "$img")" ] && break
		sleep 0.05
	done
	[ -z "$(losetup -j "$img")" ] || fail "the image is still attached: $(losetup -j "$img")"
	out=$(pct_on 1 start "$ID" 2>&1) || fail "start: $out"
	[ "$(pct_on 1 exec "$ID" -- cat /mnt/vol/f)" = data ] || fail "mp2's data after the restart"
	pct_on 1 exec "$ID" -- test -e /mnt/share/greeting && fail "mp0 still mounted after the restart"
	pct_on 1 exec "$ID" -- sh -c ': </dev/loop-control' || fail "dev0 after the restart"
	[ "$(pct_on 1 exec "$ID" -- cat /mnt/ro/greeting)" = hello ] || fail "mp1 after the restart"
	pct_on 1 exec "$ID" -- sh -c 'echo x >/mnt/ro/x' 2>/dev/null && fail "mp1 writable after the restart"

	# a symlink the guest put on the way is not followed: pending, with the reason
	pct_on 1 exec "$ID" -- ln -s /etc /mnt/link
	on 3 sh -c "echo 'mp3: $TMP/share,mp=/mnt/link/x' >>$CONF"
	wait_pending "mp3:"
	grep -q "mp3.*symlink" "$TMP/ctmgrd.log" || fail "no reason for mp3: $(tail -3 "$TMP/ctmgrd.log")"
	pct_on 1 exec "$ID" -- test -e /etc/x && fail "the mount point was made through the symlink"

	# an unprivileged container: its mount namespace belongs to its own user namespace
	pct_on 1 create "$ID2" local:vztmpl/busybox.tar.zst --rootfs local:0.05 --unprivileged 1 \
		2>/dev/null || fail "create $ID2"
	pct_on 1 start "$ID2" || fail "start $ID2"
	on 3 sh -c "echo 'mp0: $TMP/share,mp=/opt/hp/share' >>/etc/pve/nodes/node1/lxc/$ID2.conf"
	for ((i = 0; i < 200; i++)); do
		out=$(pct_on 1 exec "$ID2" -- cat /opt/hp/share/greeting 2>&1) && [ "$out" = hello ] && break
		sleep 0.05
	done
	[ "$out" = hello ] || fail "unprivileged $ID2: /opt/hp/share/greeting gives '$out'"
	# the mount point it created belongs to the container's root, not the host's
	out=$(pct_on 1 exec "$ID2" -- stat -c %u /opt/hp)
	[ "$out" = 0 ] || fail "/opt/hp (created for the mount) is owned by $out inside $ID2, not by its root"
	# a read-only bind: its root could remount a live one read-write - it waits
	on 3 sh -c "echo 'mp1: $TMP/share,mp=/opt/ro,ro=1' >>/etc/pve/nodes/node1/lxc/$ID2.conf"
	wait_pending "mp1:" "/etc/pve/nodes/node1/lxc/$ID2.conf"
	grep -q "CT $ID2: left pending: mp1: .*unprivileged" "$TMP/ctmgrd.log" ||
		fail "no reason for $ID2's mp1: $(tail -3 "$TMP/ctmgrd.log")"
	pct_on 1 exec "$ID2" -- test -e /opt/ro/greeting && fail "mp1 mounted live in $ID2"
	pct_on 1 stop "$ID2" || fail "stop $ID2"
	return 0
}

# restart migration of a running container from node1 to node2: stopped on
# node1 before its config moves, started on node2 by node2's ctmgrd; then
# an offline migration back; storage that is not shared is refused
t_migrate() {
	setup
	start_ctmgrd 2
	local out
	out=$(pct_on 1 migrate "$ID" node2) && fail "a running CT migrated without --restart"
	# the source's ctmgrd plays no part: killed as the migration starts
	(sleep 0.2 && kill "${DAEMONS[1]}") &
	local killer=$!
	out=$(pct_on 1 migrate "$ID" node2 --restart 2>&1) || fail "migrate: $out"
	wait "$killer"
	wait "${DAEMONS[1]}" 2>/dev/null || true
	unset "DAEMONS[1]"
	start_ctmgrd 1 # for the way back
	case $out in *"migrated to node2 and started there"*) ;; *) fail "migrate said: $out" ;; esac
	[ "$(pct_on 2 status "$ID")" = "status: running" ] || fail "not running on node2"
	on 1 test -e "$CONF" && fail "the config is still on node1"
	case $(on 2 cat "/etc/pve/nodes/node2/lxc/$ID.conf") in *"lock:"*) fail "lock left" ;; esac
	on 2 test -e "/etc/pve/nodes/node2/ctmgrd/$ID.start" && fail "the request is left"
	out=$(pct_on 1 status "$ID" 2>&1) && fail "node1 still acts on it"
	case $out in *"on node 'node2'"*) ;; *) fail "node1: $out" ;; esac
	# running on node2 only: node1 has no monitor of it
	on 1 lxc-info -P "$TMP/lxc" -n "$ID" -s 2>/dev/null | grep -q RUNNING && fail "running on node1 too"
	# the container ctmgrd started holds nothing of ctmgrd's (its pid lock): it restarts
	stop_ctmgrd 2
	start_ctmgrd 2
	# ctmgrd on node2 now applies changes to it
	on 3 sh -c "sed 's/^memory: .*/memory: 144/' /etc/pve/nodes/node2/lxc/$ID.conf >/etc/pve/nodes/node2/lxc/$ID.conf.new && mv /etc/pve/nodes/node2/lxc/$ID.conf.new /etc/pve/nodes/node2/lxc/$ID.conf"
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(pct_on 2 exec "$ID" -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" = $((144 << 20)) ] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || fail "node2's ctmgrd did not apply the memory change (limit: $(pct_on 2 exec "$ID" -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1); config: $(on 2 cat "/etc/pve/nodes/node2/lxc/$ID.conf"))"
	# offline back to node1
	pct_on 2 stop "$ID" || fail "stop on node2"
	out=$(pct_on 2 migrate "$ID" node1 2>&1) || fail "offline migrate: $out"
	[ "$(pct_on 1 status "$ID")" = "status: stopped" ] || fail "not stopped on node1"
	on 2 test -e "/etc/pve/nodes/node2/lxc/$ID.conf" && fail "config left on node2"
	# not shared: refused, nothing changes
	on 1 sh -c "printf 'dir: local\n\tpath %s\n\tcontent rootdir,images,vztmpl\n' '$TMP/vz' >/etc/pve/storage.cfg"
	out=$(pct_on 1 migrate "$ID" node2 2>&1) && fail "migrated from storage that is not shared"
	case $out in *"not shared"*) ;; *) fail "refusal: $out" ;; esac
	case $(on 1 cat "$CONF") in *"lock:"*) fail "a refused migration left a lock" ;; esac
}

# the target's ctmgrd is down during the migration: the container runs
# nowhere, its config is on node2 with "lock: migrate"; when node2's ctmgrd
# comes back it finishes the migration
t_migrate_target_down() {
	setup
	local out
	out=$(pct_on 1 migrate "$ID" node2 --restart --timeout 3 2>&1) && fail "migrate succeeded: $out"
	case $out in *"did not take over within 3 s"*"lock: migrate"*) ;; *) fail "migrate said: $out" ;; esac
	case $(on 2 cat "/etc/pve/nodes/node2/lxc/$ID.conf") in *"lock: migrate"*) ;; *) fail "no lock on node2" ;; esac
	[ "$(pct_on 2 status "$ID")" = "status: stopped" ] || fail "running on node2 without ctmgrd"
	on 1 lxc-info -P "$TMP/lxc" -n "$ID" -s 2>/dev/null | grep -q RUNNING && fail "still running on node1"
	start_ctmgrd 2
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(pct_on 2 status "$ID")" = "status: running" ] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || fail "node2's ctmgrd did not finish the migration"
	for ((i = 0; i < 50; i++)); do
		case $(on 2 cat "/etc/pve/nodes/node2/lxc/$ID.conf") in *"lock:"*) sleep 0.1 ;; *) break ;; esac
	done
	[ "$i" -lt 50 ] || fail "the lock stays"
}

t_pending() {
	setup
	edit_on 3 's/^ostype: .*/ostype: alpine/; s/^memory: .*/memory: 200/'
	wait_cg memory/memory.limit_in_bytes $((200 << 20))
	local c
	wait_pending "ostype: alpine"
	c=$C
	local main=${c%%"[pve:pending]"*}
	case $main in *"memory: 200"*) ;; *) fail "memory 200 not in the current section: $c" ;; esac
	case $main in *"ostype: unmanaged"*) ;; *) fail "ostype changed in the current section: $c" ;; esac
	# the write-back does not loop: the config stays put
	local digest
	digest=$(on 1 sha1sum "$CONF")
	sleep 1
	[ "$digest" = "$(on 1 sha1sum "$CONF")" ] || fail "the config keeps changing"
	pct_on 1 pending "$ID" | grep -q "new ostype: alpine" || fail "pct pending"
	# applied at the next start
	pct_on 1 stop "$ID" || fail "stop"
	pct_on 1 start "$ID" 2>/dev/null || fail "start"
	c=$(on 1 cat "$CONF")
	case $c in *"[pve:pending]"*) fail "pending left after a start: $c" ;; esac
	case $c in *"ostype: alpine"*) ;; *) fail "ostype not applied at start: $c" ;; esac
}

# An edit from another node that lands while ctmgrd writes a config back
# (a pending key) is not overwritten: pmxcfs's conditional rename refuses
# the write-back, which is made again on the newer text.
t_writeback_race() {
	CTMGRD_ENV=CTMGRD_TEST_WRITEBACK_DELAY_MS=1500 setup
	edit_on 3 's/^ostype: .*/ostype: alpine/'
	sleep 0.5 # ctmgrd is now between its check and its rename
	edit_on 2 's/^memory: .*/memory: 200/'
	wait_cg memory/memory.limit_in_bytes $((200 << 20))
	wait_pending "ostype: alpine"
	wait_ctmgrd_log "changed since it was read" # the write-back was refused
	case ${C%%"[pve:pending]"*} in *"memory: 200"*) ;; *) fail "node2's edit was overwritten: $C" ;; esac
	return 0
}

t_invalid() {
	setup
	edit_on 3 's/^memory: .*/memory: banana/'
	local i log=""
	for ((i = 0; i < 100; i++)); do
		log=$(on 1 "$PMXCFS_LOG" read 2>/dev/null | grep "CT $ID: config not applied" || true)
		[ -n "$log" ] && break
		sleep 0.1
	done
	[ -n "$log" ] || fail "no cluster log entry for the invalid config"
	case $log in *"$ID.conf"*"line"*"memory"*) ;; *) fail "the entry does not name file, line and key: $log" ;; esac
	[ "$(cg memory/memory.limit_in_bytes)" = $((128 << 20)) ] || fail "something was applied"
	[ "$(pct_on 1 status "$ID")" = "status: running" ] || fail "the container stopped"
	edit_on 3 's/^memory: .*/memory: 160/'
	wait_cg memory/memory.limit_in_bytes $((160 << 20))
}

t_restart() {
	setup
	stop_ctmgrd 1
	edit_on 3 's/^memory: .*/memory: 176/'
	on 2 sh -c "echo 'cpuunits: 256' >>$CONF"
	start_ctmgrd
	wait_cg memory/memory.limit_in_bytes $((176 << 20))
	wait_cg cpu/cpu.shares 256
	# the second start resumed from the saved version (a first start lists from 0)
	[ "$(grep -c "watching /etc/pve/nodes/node1/ from version [1-9]" "$TMP/ctmgrd.log")" -ge 2 ] ||
		fail "no resume: $(grep watching "$TMP/ctmgrd.log")"
}

t_pct_set() {
	setup
	local out
	out=$(pct_on 1 set "$ID" --memory 192 --ostype alpine)
	case $out in *"applied: memory"*) ;; *) fail "pct set did not report memory applied: $out" ;; esac
	case $out in *"pending: ostype"*) ;; *) fail "pct set did not report ostype pending: $out" ;; esac
	[ "$(cg memory/memory.limit_in_bytes)" = $((192 << 20)) ] || fail "memory after pct set"
	# a key with no action is taken once (applied.conf records it: not reported again)
	out=$(pct_on 1 set "$ID" --description "web server")
	case $out in *"applied: description"*) ;; *) fail "description: $out" ;; esac
	out=$(pct_on 1 set "$ID" --cpuunits 700)
	[ "$out" = "applied: cpuunits
pending: ostype (takes effect at the next start)" ] || fail "after a description change: $out"
	# without ctmgrd: a bounded wait and a warning, the change stays in the config
	stop_ctmgrd 1
	out=$(on 1 env PCT_LXC_PATH="$TMP/lxc" PCT_HOTPLUG_TIMEOUT=1 "$PCT" set "$ID" --memory 208 2>&1)
	case $out in *"ctmgrd does not run on this node"*) ;; *) fail "no warning without ctmgrd: $out" ;; esac
	case $(on 1 cat "$CONF") in *"memory: 208"*) ;; *) fail "memory 208 not in the config" ;; esac
}

run_case "$@"
