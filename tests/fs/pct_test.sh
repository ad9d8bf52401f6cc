#!/usr/bin/env bash
#
# tests/fs/pct_test.sh - pct config, pct set and pct pending on a real
# local-mode pmxcfs mount: output formats, canonical writes that leave
# unchanged keys alone, refusals that change nothing, the --digest check
# against a concurrent edit, the per-CT lock, pending values and deletions.
#
#   PMXCFS_BIN=... PCT=... bash tests/fs/pct_test.sh CASE
#
# Registered as CTest tests pct.<case> (label fs) by shell_tests.cmake.

set -euo pipefail

# shellcheck source=lib.sh disable=SC1091
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

[[ ${1:-} == --list || -x ${PCT:-} ]] || { echo "PCT is not set to an executable" >&2; exit 2; }

CONF=

# start a daemon, point pct at it, write lxc/100.conf from stdin
setup() {
	fs_init
	fs_start
	export PVE_ETC=$MNT PCT_LOCK_DIR=$FS_TMP/lock PCT_LOCK_TIMEOUT=2
	CONF=$MNT/lxc/100.conf
	cat >"$CONF"
}

# pct, expecting failure: its stderr in ERR
pct_fails() {
	local rc=0
	ERR=$("$PCT" "$@" 2>&1 >/dev/null) || rc=$?
	((rc != 0)) || fail "pct $* succeeded"
	assert_eq 255 "$rc" "exit status of pct $*"
}

BASE='#Web server%3A prod
arch: amd64
cores: 2
hostname: web1
memory: 1024
mp0: local:100/vm-100-disk-1.raw,mp=/srv,size=32G
mp1: /srv/shared,mp=/mnt/shared
net0: bridge=vmbr0,name=eth0,ip=dhcp,type=veth
ostype: debian
rootfs: local:100/vm-100-disk-0.raw,size=8G
swap: 512
lxc.apparmor.profile: unconfined
'

t_config() {
	setup <<<"${BASE}parent: snap1

[pve:pending]
delete: swap
memory: 2048

[snap1]
arch: amd64
memory: 512
rootfs: local:100/vm-100-disk-0.raw,size=8G
snaptime: 1700000000"
	local out
	out=$("$PCT" config 100)
	assert_contains "$out" "description: Web server%3A prod" "pct config"
	assert_contains "$out" "memory: 2048" "pct config shows the pending value"
	[[ $out == *"swap:"* ]] && fail "pct config shows a key pending deletion"
	assert_eq "lxc.apparmor.profile: unconfined" "$(tail -1 <<<"$out")" "raw lxc keys last"
	assert_eq "$(grep -v lxc <<<"$out" | LC_ALL=C sort)" "$(grep -v lxc <<<"$out")" "sorted keys"
	out=$("$PCT" config 100 --current)
	assert_contains "$out" "memory: 1024" "pct config --current"
	assert_contains "$out" "swap: 512" "pct config --current"
	out=$("$PCT" config 100 --snapshot snap1)
	assert_eq "arch: amd64
memory: 512
rootfs: local:100/vm-100-disk-0.raw,size=8G
snaptime: 1700000000" "$out" "pct config --snapshot"
	pct_fails config 100 --snapshot nosuch
	assert_contains "$ERR" "snapshot 'nosuch' does not exist" "unknown snapshot"
	pct_fails config 101
	assert_contains "$ERR" "'lxc/101.conf' does not exist" "missing CT"
	mkdir -p "$MNT/nodes/n2/lxc"
	echo 'memory: 512' >"$MNT/nodes/n2/lxc/200.conf"
	pct_fails config 200
	assert_contains "$ERR" "CT 200 is on node 'n2'" "a CT of another node"
	pct_fails config 99
	assert_contains "$ERR" "not a valid container id" "id below 100"
	fs_stop
}

# A set writes the canonical value of what it changed; nothing else moves.
t_set() {
	setup <<<"$BASE"
	"$PCT" set 100 --memory 0512 --onboot yes --net1 "type=veth,ip=10.0.0.5/24,name=eth1,bridge=vmbr1,gw=10.0.0.1"
	local want=${BASE/memory: 1024/memory: 512}
	want=${want/net0: bridge=vmbr0,name=eth0,ip=dhcp,type=veth/net0: bridge=vmbr0,name=eth0,ip=dhcp,type=veth
net1: name=eth1,bridge=vmbr1,gw=10.0.0.1,ip=10.0.0.5/24,type=veth
onboot: 1}
	assert_content "$CONF" "$want"
	# the unsorted net0 string and the description stayed as they were
	compgen -G "$MNT/lxc/*.tmp.*" >/dev/null && fail "a temporary file was left behind"
	"$PCT" set 100 --delete mp0,mp1,onboot
	assert_contains "$(cat "$CONF")" "unused0: local:100/vm-100-disk-1.raw" "a deleted mount point's volume"
	grep -q '^mp' "$CONF" && fail "mount points not deleted"
	grep -q '^unused1' "$CONF" && fail "a bind mount became an unused volume"
	grep -q '^onboot' "$CONF" && fail "onboot not deleted"
	"$PCT" set 100 --description "line one
line: two"
	assert_eq "#line one
#line%3A two" "$(head -2 "$CONF")" "description lines"
	fs_stop
}

# Refusals name the problem and change nothing.
t_set_errors() {
	setup <<<"${BASE}lock: backup
unprivileged: 1"
	local before
	before=$(sha1sum <"$CONF")
	pct_fails set 100 --memory 2048
	assert_contains "$ERR" "CT is locked (backup)" "locked CT"
	sed -i '/^lock:/d' "$CONF"
	before=$(sha1sum <"$CONF")
	pct_fails set 100 --memory 8
	assert_contains "$ERR" "key 'memory': value 8 out of range (at least 16)" "memory too small"
	pct_fails set 100 --net0 "name=eth0,hwaddr=01:00:00:00:00:01"
	assert_contains "$ERR" "multicast MAC" "multicast MAC"
	pct_fails set 100 --mp2 "/srv/x,mp=/mnt/../etc"
	assert_contains "$ERR" "'..' component" "mount path with .."
	pct_fails set 100 --hostname "bad_name!"
	assert_contains "$ERR" "not a valid DNS name" "host name"
	pct_fails set 100 --timezone "Mars/Olympus"
	assert_contains "$ERR" "not a known time zone" "time zone"
	pct_fails set 100 --foo 1
	assert_contains "$ERR" "foo: property is not defined in schema" "unknown key"
	pct_fails set 100 --delete rootfs
	assert_contains "$ERR" "unable to delete required option 'rootfs'" "rootfs"
	pct_fails set 100 --unprivileged 0
	assert_contains "$ERR" "cannot be changed after the container was created" "unprivileged"
	pct_fails set 100 --memory "512
swap: 0"
	assert_contains "$ERR" "newline" "a value with a newline"
	pct_fails set 100 --memory
	assert_contains "$ERR" "needs a value" "missing value"
	assert_eq "$before" "$(sha1sum <"$CONF")" "the config after the refusals"
	fs_stop
}

# --digest: a change made since the file was read makes pct set refuse.
t_digest() {
	setup <<<"$BASE"
	local d
	d=$(sha1sum "$CONF" | cut -c1-40)
	sed -i 's/^cores: 2$/cores: 6/' "$CONF" # someone else, with vi
	pct_fails set 100 --digest "$d" --memory 4096
	assert_contains "$ERR" "detected modified configuration" "stale digest"
	assert_contains "$(cat "$CONF")" "cores: 6" "the other edit"
	assert_contains "$(cat "$CONF")" "memory: 1024" "memory after the refused set"
	d=$(sha1sum "$CONF" | cut -c1-40)
	"$PCT" set 100 --digest "$d" --memory 4096
	assert_contains "$(cat "$CONF")" "memory: 4096" "set with the right digest"
	assert_contains "$(cat "$CONF")" "cores: 6" "the other edit kept"
	fs_stop
}

# The per-CT lock serialises pct processes.
t_lock() {
	setup <<<"$BASE"
	mkdir -p "$PCT_LOCK_DIR"
	flock "$PCT_LOCK_DIR/pve-config-100.lock" sleep 4 &
	local holder=$!
	FS_PIDS+=("$holder")
	sleep 0.3
	pct_fails set 100 --memory 2048
	assert_contains "$ERR" "pve-config-100.lock' - got timeout" "lock held by another"
	assert_contains "$(cat "$CONF")" "memory: 1024" "no change while locked"
	wait "$holder"
	"$PCT" set 100 --memory 2048
	assert_contains "$(cat "$CONF")" "memory: 2048" "set after the lock was released"
	fs_stop
}

# pct pending shows cur/new/del; revert drops pending changes.
t_pending() {
	setup <<<"${BASE}
[pve:pending]
cores: 4
delete: swap,!hostname
memory: 2048
tags: new"
	assert_eq "cur arch: amd64
cur cores: 2
new cores: 4
cur description: Web server%3A prod
del hostname: web1
cur memory: 1024
new memory: 2048
cur mp0: local:100/vm-100-disk-1.raw,mp=/srv,size=32G
cur mp1: /srv/shared,mp=/mnt/shared
cur net0: bridge=vmbr0,name=eth0,ip=dhcp,type=veth
cur ostype: debian
cur rootfs: local:100/vm-100-disk-0.raw,size=8G
del swap: 512
new tags: new" "$("$PCT" pending 100)" "pct pending"
	# stopped: a set applies what is pending, but not what was reverted
	"$PCT" set 100 --revert memory,hostname
	local c
	c=$(cat "$CONF")
	assert_contains "$c" "memory: 1024" "reverted memory"
	assert_contains "$c" "hostname: web1" "reverted deletion"
	assert_contains "$c" "cores: 4" "applied pending value"
	assert_contains "$c" "tags: new" "applied pending value"
	[[ $c == *"swap:"* ]] && fail "pending deletion not applied"
	[[ $c == *"[pve:pending]"* ]] && fail "empty pending section left"
	assert_eq "" "$("$PCT" pending 100 | grep -v '^cur ' || true)" "nothing pending any more"
	fs_stop
}

fs_run_case pct "$@"
