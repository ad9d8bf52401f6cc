#!/usr/bin/env bash
#
# tests/ctmgr/lxc_test.sh - pct's container life cycle with real LXC
# containers: a local-mode pmxcfs mount as /etc/pve, a dir storage in the
# work directory, the busybox template, and a network namespace of our own
# (with bridge vmbr0) in which pct runs, so veth pairs and bridges never
# touch the host's network.
#
#   PMXCFS_BIN=... PCT=... PVEAM=... bash tests/ctmgr/lxc_test.sh CASE
#
# Registered as CTest tests ct.<case> (label container), one at a time
# (RESOURCE_LOCK lxc: LXC's cgroup names are global).  Cleanup (EXIT trap)
# stops our containers by id in our lxcpath, deletes the namespace and then
# does what fs_cleanup does.

set -euo pipefail

# shellcheck source=../fs/lib.sh disable=SC1091
. "$(dirname -- "${BASH_SOURCE[0]}")/../fs/lib.sh"

if [[ ${1:-} != --list ]]; then
	for v in PCT PVEAM; do
		[[ -x ${!v:-} ]] || { echo "$v is not set to an executable" >&2; exit 2; }
	done
fi

NS=
TPL=local:vztmpl/busybox.tar.zst

ct_exit() {
	local rc=$? id
	set +e
	# LXC's command sockets are per network namespace: ask in ours
	if [[ -n ${PCT_LXC_PATH:-} && -d $PCT_LXC_PATH && -n $NS ]]; then
		for id in "$PCT_LXC_PATH"/*; do
			nsenter --net="/run/netns/$NS" lxc-stop -P "$PCT_LXC_PATH" -n "${id##*/}" -k >/dev/null 2>&1
		done
	fi
	[[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
	# fs_cleanup unmounts only pmxcfs mounts: the full-disk case's tmpfs here
	[[ -n ${FS_TMP:-} ]] && mountpoint -q "$FS_TMP/small" 2>/dev/null && umount -l "$FS_TMP/small"
	(exit "$rc")
	fs_cleanup
}

# a pmxcfs, a storage, the template, our namespace with vmbr0
setup() {
	fs_init
	trap ct_exit EXIT
	chmod 755 "$FS_TMP" # unprivileged container roots traverse it
	fs_start
	export PVE_ETC=$MNT PCT_LOCK_DIR=$FS_TMP/lock PCT_LOCK_TIMEOUT=2
	export PVE_STORAGE_DEFAULT_PATH=$FS_TMP/vz PCT_LXC_PATH=$FS_TMP/lxc
	mkdir -p "$PCT_LXC_PATH"
	"$PVEAM" build busybox >/dev/null
	NS=pcttest$$
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add vmbr0 type bridge
	ip -n "$NS" addr add 10.213.0.1/24 dev vmbr0
	ip -n "$NS" link set vmbr0 up
}

# pct inside our network namespace (nsenter: "ip netns exec" would mount a
# /sys without the host's cgroup hierarchies, which LXC needs)
p() {
	nsenter --net="/run/netns/$NS" "$PCT" "$@"
}

# p, expecting failure with exit 255: its output in ERR
p_fails() {
	local rc=0
	ERR=$(p "$@" 2>&1) || rc=$?
	((rc != 0)) || fail "pct $* succeeded: $ERR"
	assert_eq 255 "$rc" "exit status of pct $* ($ERR)"
}

# processes (in any mount namespace) that have something of ours mounted
mounted_anywhere() {
	grep -lF "$PCT_LXC_PATH" /proc/[0-9]*/mountinfo 2>/dev/null || true
}

no_mounts() {
	[[ -z $(mounted_anywhere) ]]
}

# the memory limit as the container sees it (cgroup v1 or v2)
MEMLIMIT='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'

no_loop_devices() {
	local l
	l=$(losetup -a)
	[[ $l != *"$PVE_STORAGE_DEFAULT_PATH"* ]]
}

# nothing of CT $1 is left: config, volumes, mounts, loop devices
assert_gone() {
	local id=$1 m
	assert_not_exists "$MNT/lxc/$id.conf"
	[[ -z $(ls -A "$PVE_STORAGE_DEFAULT_PATH/images/$id" 2>/dev/null) ]] ||
		fail "volumes of CT $id left: $(ls "$PVE_STORAGE_DEFAULT_PATH/images/$id")"
	fs_wait_for "no process with a mount under $PCT_LXC_PATH" no_mounts
	# the monitor's mount namespace (and with it the loop device) goes a
	# moment after the container stopped
	fs_wait_for "the loop devices of CT $id to go" no_loop_devices
	m=$(losetup -a | grep -F "$PVE_STORAGE_DEFAULT_PATH" || true)
	assert_eq "" "$m" "loop devices left"
	m=$(grep -o "\"$id\"" "$MNT/.vmlist" || true)
	assert_eq "" "$m" ".vmlist still lists CT $id"
}

# the full life cycle of CT 100 with the given extra create options
lifecycle() {
	local out map
	setup
	assert_ok p create 100 "$TPL" --hostname bb1 --memory 128 --swap 64 --rootfs local:0.1 \
		--net0 name=eth0,bridge=vmbr0,ip=10.213.0.5/24 "$@"
	out=$(cat "$MNT/lxc/100.conf")
	assert_contains "$out" "hostname: bb1" "config"
	assert_contains "$out" "rootfs: local:100/vm-100-disk-0.raw,size=102M" "config"
	assert_contains "$out" "ostype: unmanaged" "config"
	[[ $out == *"lock:"* ]] && fail "lock left after create: $out"
	local mac
	mac=$(sed -n 's/.*hwaddr=\([0-9A-F:]*\).*/\1/p' <<<"$out")
	[[ $mac == BC:24:11:* ]] || fail "no generated MAC in $out"
	assert_contains "$(cat "$MNT/.vmlist")" '"100"' ".vmlist"
	assert_eq "status: stopped" "$(p status 100)" "status"

	assert_ok p start 100
	assert_eq "status: running" "$(p status 100)" "status"
	[[ -n $(mounted_anywhere) ]] || fail "no process has the rootfs mounted while CT 100 runs"
	out=$(p list)
	assert_eq "VMID       Status     Lock         Name                " "$(head -1 <<<"$out")" "list header"
	assert_eq "100        running                 bb1                 " "$(sed -n 2p <<<"$out")" "list row"
	assert_eq "uid=0(root) gid=0(root)" "$(p exec 100 -- id)" "id in the container"
	assert_eq "bb1" "$(p exec 100 -- cat /proc/sys/kernel/hostname)" "host name"
	assert_eq "$((128 << 20))" "$(p exec 100 -- sh -c "$MEMLIMIT")" \
		"memory limit in the container's cgroup"
	out=$(p exec 100 -- ip addr show eth0)
	assert_contains "$out" "$(tr 'A-F' 'a-f' <<<"$mac")" "MAC inside"
	assert_contains "$out" "inet 10.213.0.5/24 brd 10.213.0.255" "address inside (unmanaged: set by LXC)"
	out=$(ip -n "$NS" link show veth100i0)
	assert_contains "$out" "master vmbr0" "host side of the veth pair"
	p exec 100 -- ping -c1 -W2 10.213.0.1 >/dev/null || fail "no answer from the bridge's 10.213.0.1"
	assert_eq 7 "$(p exec 100 -- sh -c 'exit 7' >/dev/null 2>&1; echo $?)" "exec's exit status"
	map=$(p exec 100 -- cat /proc/self/uid_map | awk '{print $2}')
	p_fails start 100
	assert_contains "$ERR" "CT 100 already running" "second start"

	assert_ok p stop 100
	assert_eq "status: stopped" "$(p status 100)" "after stop"
	fs_wait_for "the mounts to go with the container" no_mounts
	assert_ok p start 100
	assert_ok p shutdown 100 --timeout 20
	assert_eq "status: stopped" "$(p status 100)" "after shutdown"
	assert_ok p destroy 100 --purge
	assert_gone 100
	assert_not_exists "$PCT_LXC_PATH/100"
	MAP=$map
}

t_lifecycle_privileged() {
	lifecycle
	assert_eq 0 "$MAP" "uid map of a privileged container"
}

t_lifecycle_unprivileged() {
	lifecycle --unprivileged 1
	assert_eq 100000 "$MAP" "uid map of an unprivileged container"
}

# push/pull map owners; mount shows the files on the host; df
t_files() {
	local out
	setup
	assert_ok p create 101 "$TPL" --unprivileged 1 --rootfs local:0.1
	assert_ok p start 101
	printf 'hello\n' >"$FS_TMP/in"
	assert_ok p push 101 "$FS_TMP/in" /root/in --user 0 --perms 0600
	assert_eq "-rw------- 0 0" "$(p exec 101 -- stat -c '%A %u %g' /root/in)" "pushed file"
	assert_ok p push 101 "$FS_TMP/in" /tmp/nobody --user 65534 --group 65534
	assert_ok p pull 101 /etc/passwd "$FS_TMP/passwd"
	assert_contains "$(cat "$FS_TMP/passwd")" "root:x:0:0" "pulled file"
	# a failed pull leaves an existing destination alone; a pulled file is 0600
	echo keep >"$FS_TMP/x"
	p_fails pull 101 /nonexistent "$FS_TMP/x"
	assert_eq keep "$(cat "$FS_TMP/x")" "destination after a failed pull"
	assert_eq "600" "$(stat -c %a "$FS_TMP/passwd")" "mode of a pulled file"
	assert_ok p pull 101 /etc/passwd "$FS_TMP/x" --perms 0640 --user nobody
	assert_eq "640 nobody" "$(stat -c '%a %U' "$FS_TMP/x")" "pull with --perms and --user"
	[[ -z $(find "$FS_TMP" -maxdepth 1 -name '*.pct-pull.*') ]] || fail "temporary pull files left"
	out=$(p df 101)
	assert_contains "$(head -1 <<<"$out")" "MP      Volume" "df header"
	assert_contains "$out" "rootfs  local:101/vm-101-disk-0.raw" "df row"
	# pct set on a running CT: live keys now, the rest pending until a reboot
	assert_ok p set 101 --cores 1 --ostype alpine
	out=$(cat "$MNT/lxc/101.conf")
	assert_contains "$out" $'cores: 1\n' "a live key in the config"
	assert_contains "$(p pending 101)" "new ostype: alpine" "a pending key"
	assert_ok p reboot 101 --timeout 20
	assert_eq "status: running" "$(p status 101)" "after reboot"
	assert_contains "$(cat "$MNT/lxc/101.conf")" "ostype: alpine" "pending applied at reboot"
	[[ $(cat "$MNT/lxc/101.conf") == *"[pve:pending]"* ]] && fail "pending left after reboot"
	assert_contains "$(cat "$PCT_LXC_PATH/101/config")" "alpine.common.conf" "new LXC config"
	echo exit | p enter 101 >/dev/null || fail "pct enter"
	assert_eq "7" "$(echo 'exit 7' | p enter 101 >/dev/null 2>&1; echo $?)" "enter's exit status"
	assert_ok p stop 101
	p_fails exec 101 -- true
	assert_contains "$ERR" "CT 101 not running" "exec on a stopped CT"
	# stopped: mount shows the mapped owners on the host
	out=$(p mount 101)
	assert_contains "$out" "mounted CT 101 in '$PCT_LXC_PATH/101/rootfs'" "pct mount"
	assert_contains "$(cat "$MNT/lxc/101.conf")" "lock: mounted" "lock while mounted"
	assert_eq "100000 100000" "$(stat -c '%u %g' "$PCT_LXC_PATH/101/rootfs/root/in")" "owner on the host"
	assert_eq "165534 165534" "$(stat -c '%u %g' "$PCT_LXC_PATH/101/rootfs/tmp/nobody")" "owner on the host"
	p_fails start 101
	assert_contains "$ERR" "CT is locked (mounted)" "start while mounted"
	out=$(p df 101)
	assert_contains "$out" "rootfs" "df while mounted"
	assert_ok p unmount 101
	[[ $(cat "$MNT/lxc/101.conf") == *"lock:"* ]] && fail "lock left after unmount"
	assert_eq "" "$(mounted_anywhere)" "mounts after unmount"
	assert_ok p destroy 101
	assert_gone 101
}

t_refusals() {
	local before
	setup
	p_fails create 99 "$TPL"
	assert_contains "$ERR" "not a valid container id" "id below 100"
	p_fails create 100 local:vztmpl/nosuch.tar.zst
	assert_contains "$ERR" "template 'local:vztmpl/nosuch.tar.zst' does not exist" "missing template"
	head -c 100000 /dev/urandom >"$PVE_STORAGE_DEFAULT_PATH/template/cache/bad.tar.gz"
	p_fails create 100 local:vztmpl/bad.tar.gz
	assert_contains "$ERR" "unable to create CT 100 - unpacking the template failed" "damaged template"
	assert_gone 100
	p_fails create 100 "$TPL" --memory 3
	assert_contains "$ERR" "out of range" "bad option value"
	p_fails create 100 "$TPL" --bogus 1
	assert_contains "$ERR" "bogus: property is not defined" "unknown option"
	p_fails create 100 "$TPL" --rootfs nosuch:1
	assert_contains "$ERR" "storage 'nosuch' does not exist" "unknown storage"
	assert_gone 100

	assert_ok p create 100 "$TPL" --rootfs local:0.05 --net0 name=eth0,bridge=vmbr9
	before=$(cat "$MNT/lxc/100.conf")
	p_fails create 100 "$TPL" --rootfs local:0.05
	assert_contains "$ERR" "CT 100 already exists on this node" "duplicate id"
	assert_eq "$before" "$(cat "$MNT/lxc/100.conf")" "the existing config"
	p_fails start 100
	assert_contains "$ERR" "net0: bridge 'vmbr9' does not exist" "missing bridge"
	assert_eq "status: stopped" "$(p status 100)" "after a failed start"
	assert_eq "" "$(mounted_anywhere)" "mounts after a failed start"
	assert_ok p set 100 --net0 name=eth0,bridge=vmbr0
	printf 'lock: backup\n' >>"$MNT/lxc/100.conf"
	p_fails start 100
	assert_eq "CT is locked (backup)" "$ERR" "locked CT"
	p_fails destroy 100
	assert_contains "$ERR" "CT is locked (backup)" "destroy of a locked CT"
	assert_ok p unlock 100
	assert_ok p set 100 --protection 1
	p_fails destroy 100
	assert_contains "$ERR" "can't remove CT 100 - protection mode enabled" "protection"
	assert_ok p set 100 --protection 0
	assert_ok p start 100
	p_fails destroy 100
	assert_contains "$ERR" "container is running" "destroy of a running CT"
	p_fails stop 101
	assert_contains "$ERR" "Configuration file 'lxc/101.conf' does not exist" "unknown CT"
	assert_ok p destroy 100 --force
	assert_gone 100
}

# what must never happen to another container's data or a live image:
# volumes of CT 200 named in CT 101's config are not freed by 101's failed
# create or its destroy; a frozen CT counts as running; the image of a
# running CT is not mounted a second time, even by a pct that cannot see the
# container (another network namespace); status and exec need no lock
t_guards() {
	setup
	assert_ok p create 200 "$TPL" --rootfs local:0.05
	local disk=$PVE_STORAGE_DEFAULT_PATH/images/200/vm-200-disk-0.raw
	head -c 100000 /dev/urandom >"$PVE_STORAGE_DEFAULT_PATH/template/cache/bad.tar.gz"
	p_fails create 101 local:vztmpl/bad.tar.gz --rootfs local:0.05 \
		--mp0 local:200/vm-200-disk-0.raw,mp=/data
	assert_exists "$disk"
	assert_gone 101
	assert_ok p create 102 "$TPL" --rootfs local:0.05 --mp0 local:200/vm-200-disk-0.raw,mp=/data
	assert_ok p destroy 102
	assert_exists "$disk"
	assert_gone 102

	assert_ok p start 200
	nsenter --net="/run/netns/$NS" lxc-freeze -P "$PCT_LXC_PATH" -n 200
	assert_eq "status: running" "$(p status 200)" "status of a frozen CT"
	p_fails mount 200
	assert_contains "$ERR" "is running" "mount of a frozen CT"
	p_fails start 200
	assert_contains "$ERR" "not stopped" "start of a frozen CT"
	nsenter --net="/run/netns/$NS" lxc-unfreeze -P "$PCT_LXC_PATH" -n 200
	# pct outside the CT's network namespace cannot ask LXC: the image guard refuses
	local out rc=0
	out=$("$PCT" mount 200 2>&1) || rc=$?
	assert_eq 255 "$rc" "pct mount from another namespace ($out)"
	assert_contains "$out" "is in use already" "pct mount from another namespace"
	[[ $(losetup -j "$disk" | wc -l) == 1 ]] || fail "the image is attached twice: $(losetup -j "$disk")"
	# a held per-CT lock does not block status and exec
	exec 8>"$PCT_LOCK_DIR/pve-config-200.lock"
	flock 8
	assert_eq "status: running" "$(p status 200)" "status while the lock is held"
	assert_eq "ok" "$(p exec 200 -- echo ok)" "exec while the lock is held"
	p_fails stop 200
	assert_contains "$ERR" "got timeout" "stop while the lock is held"
	exec 8>&-
	assert_ok p stop 200
	assert_ok p destroy 200
	assert_gone 200
}

# a storage on a 4 MiB file system: creating a 64 MiB image fails cleanly
t_full_disk() {
	setup
	mkdir -p "$FS_TMP/small"
	fs_track_mount "$FS_TMP/small"
	mount -t tmpfs -o size=4m tmpfs "$FS_TMP/small"
	printf 'dir: local\n\tpath %s\n\tcontent rootdir,vztmpl,images\n\ndir: small\n\tpath %s\n\tcontent rootdir,images\n' \
		"$PVE_STORAGE_DEFAULT_PATH" "$FS_TMP/small" >"$MNT/storage.cfg"
	head -c 4150000 /dev/zero >"$FS_TMP/small/filler"
	p_fails create 100 "$TPL" --rootfs small:0.0625
	assert_contains "$ERR" "unable to create CT 100" "full disk"
	assert_gone 100
	assert_eq "" "$(ls "$FS_TMP/small/images/100" 2>/dev/null || true)" "volume on the small storage"
	umount "$FS_TMP/small"
}

# pct killed during create: the lock tells, destroy --force cleans up
t_crash_create() {
	local pid
	setup
	PCT_TEST_CREATE_PAUSE=60 nsenter --net="/run/netns/$NS" "$PCT" create 100 "$TPL" --rootfs local:0.05 \
		>"$FS_TMP/create.out" 2>&1 &
	pid=$!
	fs_wait_for "the volume" test -e "$PVE_STORAGE_DEFAULT_PATH/images/100/vm-100-disk-0.raw"
	fs_wait_for "the config with its volume" grep -q vm-100-disk-0 "$MNT/lxc/100.conf"
	sleep 0.5 # into the unpacking
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	assert_contains "$(cat "$MNT/lxc/100.conf")" "lock: create" "lock left by the crash"
	p_fails start 100
	assert_eq "CT is locked (create)" "$ERR" "start after the crash"
	p_fails create 100 "$TPL"
	assert_contains "$ERR" "already exists" "create after the crash"
	p_fails destroy 100
	assert_contains "$ERR" "CT is locked (create) - use --force" "destroy without --force"
	assert_ok p destroy 100 --force
	assert_gone 100
}

# the console: busybox's getty answers; ^a q leaves
t_console() {
	local out
	setup
	assert_ok p create 100 "$TPL" --rootfs local:0.05
	assert_ok p start 100
	out=$({ sleep 1; printf '\n'; sleep 1; printf '\001q'; } |
		timeout 20 script -qfec "nsenter --net=/run/netns/$NS $PCT console 100" /dev/null 2>&1 || true)
	assert_contains "$out" "login:" "console output"
	p_fails console 100 --escape x
	assert_contains "$ERR" "--escape" "bad escape"
	assert_ok p destroy 100 --force
	assert_gone 100
}

# the Debian 12 template (built once into $PVE_TEST_CACHE, see
# debian_template_test.sh): systemd boots to "running" in an unprivileged
# container with the files our guest set-up wrote (host name, hosts,
# ifupdown network, root password, authorized_keys, SSH host keys) and
# answers on its address from the host side of the bridge
t_debian() {
	local tpl state i out
	setup
	tpl=${PCT_TEST_DEBIAN_TEMPLATE:-}
	if [[ -z $tpl ]]; then
		[[ -n ${PVE_TEST_CACHE:-} ]] || fail "PVE_TEST_CACHE is not set"
		PVE_STORAGE_DEFAULT_PATH=$PVE_TEST_CACHE/vz "$PVEAM" build debian-12 >/dev/null
		tpl=$(echo "$PVE_TEST_CACHE"/vz/template/cache/debian-12-standard_*.tar.zst)
	fi
	assert_exists "$tpl"
	echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTestOnly test@host" >"$FS_TMP/keys"
	assert_ok p create 100 "$tpl" --hostname deb1.example.com --memory 512 --rootfs local:1 \
		--unprivileged 1 --net0 name=eth0,bridge=vmbr0,ip=10.213.0.7/24,gw=10.213.0.1 \
		--nameserver 10.213.0.1 --password 'secret pw' --ssh-public-keys "$FS_TMP/keys"
	assert_contains "$(cat "$MNT/lxc/100.conf")" "ostype: debian" "detected OS"
	assert_ok p start 100
	# systemd's bus appears a moment after the start: poll, then wait for the boot
	for ((i = 0; i < 100; i++)); do
		state=$(p exec 100 -- systemctl is-system-running 2>&1 || true)
		[[ $state == offline* || $state == *"Failed to connect"* ]] || break
		sleep 0.2
	done
	state=$(p exec 100 -- timeout 90 systemctl is-system-running --wait 2>&1 || true)
	if [[ $state != running ]]; then
		p exec 100 -- systemctl --failed --no-pager >&2 || true
		fail "systemctl is-system-running: $state"
	fi
	assert_eq "1" "$(p exec 100 -- sh -c 'ps -o pid= -C systemd | head -1 | tr -d " "')" "systemd is pid 1"
	assert_eq "deb1" "$(p exec 100 -- hostname)" "host name"
	assert_contains "$(p exec 100 -- cat /etc/hosts)" "10.213.0.7 deb1.example.com deb1" "/etc/hosts"
	out=$(p exec 100 -- cat /etc/network/interfaces)
	assert_contains "$out" "iface eth0 inet static" "interfaces"
	assert_contains "$(p exec 100 -- ip -4 addr show eth0)" "10.213.0.7/24" "address configured by ifupdown"
	assert_contains "$(p exec 100 -- ip route)" "default via 10.213.0.1" "default route"
	ip netns exec "$NS" ping -c1 -W2 10.213.0.7 >/dev/null || fail "no answer from 10.213.0.7"
	assert_contains "$(p exec 100 -- cat /etc/resolv.conf)" "nameserver 10.213.0.1" "resolv.conf"
	out=$(p exec 100 -- cat /etc/shadow)
	# shellcheck disable=SC2016 # a literal $6$
	[[ $out == 'root:$6$'* ]] || fail "root's password is not a SHA-512 crypt hash: ${out%%$'\n'*}"
	assert_contains "$(p exec 100 -- cat /root/.ssh/authorized_keys)" "FakeKeyForTheTestOnly" "authorized_keys"
	assert_eq "" "$(p exec 100 -- sh -c 'ls /etc/ssh/ssh_host_*_key 2>/dev/null' || true)" "no sshd: no host keys"
	assert_ok p shutdown 100 --timeout 60
	assert_ok p destroy 100
	assert_gone 100
}

fs_run_case ct "$@"
