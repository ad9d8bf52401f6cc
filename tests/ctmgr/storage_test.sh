#!/usr/bin/env bash
#
# tests/ctmgr/storage_test.sh - storage.cfg and the dir storage through the
# real pvesm: the default storage, parsing errors, alloc (raw ext4 image and
# subvol directory), list, path, grow-only resize, free, and a full disk.
#
#   PVESM=build/ctmgr/pvesm bash tests/ctmgr/storage_test.sh CASE
#
# Registered as CTest tests storage.<case> (label unit; the full-disk case
# mounts a small tmpfs in a private mount namespace, which needs root).
set -euo pipefail

[[ ${1:-} == --list || (-x ${PVESM:-} && -x ${PVEAM:-}) ]] ||
	{ echo "PVESM and PVEAM must be set to executables" >&2; exit 2; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

T=
setup() {
	T=$(mktemp -d -p /var/tmp storage-test.XXXXXX)
	trap 'rm -rf "$T"' EXIT
	export PVE_ETC=$T PVE_STORAGE_DEFAULT_PATH=$T/vz
}

pvesm_fails() { # expected-message args...
	local want=$1 out rc=0
	shift
	out=$("$PVESM" "$@" 2>&1) || rc=$?
	[[ $rc == 255 ]] || fail "pvesm $* exited $rc, not 255: $out"
	[[ $out == *"$want"* ]] || fail "pvesm $*: expected '$want' in: $out"
}

t_volumes() {
	setup
	"$PVESM" status | grep -Eq '^local +dir +inactive' || fail "default storage: $("$PVESM" status)"
	[[ $("$PVESM" alloc local 100 '' 64M) == "successfully created 'local:100/vm-100-disk-0.raw'" ]] ||
		fail "first raw image"
	[[ $("$PVESM" alloc local 100 '' 0 --format subvol) == *"'local:100/subvol-100-disk-1.subvol'" ]] ||
		fail "subvol takes the next number"
	"$PVESM" alloc local 101 '' 1G >/dev/null
	local img=$T/vz/images/100/vm-100-disk-0.raw
	[[ $("$PVESM" path local:100/vm-100-disk-0.raw) == "$img" ]] || fail "path"
	[[ $(stat -c %s "$img") == 67108864 ]] || fail "image size"
	dumpe2fs -h "$img" 2>/dev/null | grep -q 'Filesystem magic number: *0xEF53' || fail "not ext4"
	[[ -d $T/vz/images/100/subvol-100-disk-1.subvol ]] || fail "subvol directory"
	"$PVESM" status | grep -Eq '^local +dir +active' || fail "status after alloc"
	local list
	list=$("$PVESM" list local --vmid 100)
	[[ $(grep -c 'local:100/' <<<"$list") == 2 ]] || fail "list --vmid 100: $list"
	grep -q 'local:101/' <<<"$list" && fail "list --vmid 100 shows 101"
	[[ $("$PVESM" list local | grep -c 'rootdir') == 3 ]] || fail "list all"
	# templates
	mkdir -p "$T/vz/template/cache"
	echo x >"$T/vz/template/cache/busybox.tar.zst"
	echo x >"$T/vz/template/cache/notes.txt"
	[[ $("$PVESM" list local --content vztmpl | grep -c vztmpl) == 1 ]] || fail "templates"
	[[ $("$PVESM" path local:vztmpl/busybox.tar.zst) == "$T/vz/template/cache/busybox.tar.zst" ]] ||
		fail "template path"
	# grow only
	"$PVESM" resize local:100/vm-100-disk-0.raw 128M
	[[ $(stat -c %s "$img") == 134217728 ]] || fail "resized image"
	dumpe2fs -h "$img" 2>/dev/null | grep -q 'Block count: *131072' || fail "file system not grown"
	pvesm_fails "shrinking disks is not supported" resize local:100/vm-100-disk-0.raw 64M
	[[ $(stat -c %s "$img") == 134217728 ]] || fail "a refused shrink changed the image"
	pvesm_fails "only raw images can be resized" resize local:100/subvol-100-disk-1.subvol 1G
	# free: the CT's directory goes with its last volume
	touch "$T/vz/images/100/subvol-100-disk-1.subvol/file"
	"$PVESM" free local:100/subvol-100-disk-1.subvol
	"$PVESM" free local:100/vm-100-disk-0.raw
	[[ -e $T/vz/images/100 ]] && fail "images/100 left behind"
	[[ -e $T/vz/images/101/vm-101-disk-0.raw ]] || fail "another CT's volume went too"
	pvesm_fails "cannot remove" free local:100/vm-100-disk-0.raw
	echo "PASS: storage.volumes"
}

t_errors() {
	setup
	pvesm_fails "unable to parse volume name '../etc'" path local:../etc
	pvesm_fails "unable to parse volume name '100/vm-101-disk-0.raw'" path local:100/vm-101-disk-0.raw
	pvesm_fails "unable to parse volume ID" path noColonHere
	pvesm_fails "storage 'nope' does not exist" path nope:100/vm-100-disk-0.raw
	pvesm_fails "invalid vmid" alloc local 99 '' 1G
	pvesm_fails "invalid vmid '100' or size 'big'" alloc local 100 '' big
	printf 'dir: local\n\tpath /x\n\ndir: local\n\tpath /y\n' >"$T/storage.cfg"
	pvesm_fails "storage.cfg line 4: storage 'local' defined twice" status
	printf 'dir: local\n\tpath relative\n' >"$T/storage.cfg"
	pvesm_fails "storage.cfg line 1: storage 'local': a dir storage needs an absolute 'path'" status
	printf 'dir: local\n\tpath /x\n\tcontent rootdir,bogus\n' >"$T/storage.cfg"
	pvesm_fails "unknown content type 'bogus'" status
	printf '\tpath /x\n' >"$T/storage.cfg"
	pvesm_fails "an option outside of a storage section" status
	printf 'dir: local\n\tpath /x\n\tpath /y\n' >"$T/storage.cfg"
	pvesm_fails "option 'path' given twice" status
	# a type without a plugin is listed but unusable; a disabled storage is refused
	printf 'lvmthin: data\n\tvgname pve\n\tthinpool data\n\ndir: off\n\tpath %s/off\n\tdisable\n' "$T" \
		>"$T/storage.cfg"
	"$PVESM" status | grep -Eq '^data +lvmthin +inactive' || fail "lvmthin row"
	"$PVESM" status | grep -Eq '^off +dir +disabled' || fail "disabled row"
	pvesm_fails "type 'lvmthin' is not supported here" path data:100/vm-100-disk-0.raw
	pvesm_fails "storage 'off' is disabled" path off:100/vm-100-disk-0.raw
	echo "PASS: storage.errors"
}

# A disk too small for the image's file system: a clear error, nothing left.
t_full_disk() {
	setup
	[[ $(id -u) == 0 ]] || fail "needs root (a tmpfs in a private mount namespace)"
	mkdir -p "$T/small"
	printf 'dir: small\n\tpath %s/small\n\tcontent rootdir\n' "$T" >"$T/storage.cfg"
	local out rc=0
	# shellcheck disable=SC2016 # expanded by the inner shell
	out=$(unshare -m bash -c 'mount -t tmpfs -o size=128k tmpfs "$1" && "$2" alloc small 100 "" 256M;
		rc=$?; [ -e "$1/images/100" ] && echo "LEFT: $(ls -A "$1/images/100")"; exit $rc' \
		_ "$T/small" "$PVESM" 2>&1) || rc=$?
	[[ $rc == 255 ]] || fail "alloc on a full disk exited $rc: $out"
	[[ $out == *"cannot make a file system on"*"No space left on device"* ]] || fail "message: $out"
	[[ $out == *LEFT:* ]] && fail "the failed alloc left something behind: $out"
	echo "PASS: storage.full_disk"
}

# pveam: the busybox template is built, listed, usable, removed
t_templates() {
	setup
	[[ $("$PVEAM" build busybox) == "local:vztmpl/busybox.tar.zst" ]] || fail "pveam build busybox"
	local f=$T/vz/template/cache/busybox.tar.zst
	local list
	list=$(tar --zstd -tvf "$f") # (not piped into grep -q: pipefail and SIGPIPE)
	grep -q ' ./bin/busybox$' <<<"$list" || fail "no busybox in the template"
	grep -q '^lrwxrwxrwx 0/0 .* ./sbin/init -> /bin/busybox$' <<<"$list" || fail "no init link"
	"$PVEAM" list local | grep -q '^local:vztmpl/busybox.tar.zst ' || fail "pveam list"
	pvesm_fails "storage 'nope' does not exist" list nope
	local out rc=0
	out=$("$PVEAM" list nope 2>&1) || rc=$?
	[[ $rc == 255 && $out == *"storage 'nope' does not exist or holds no templates"* ]] ||
		fail "pveam list nope: $out"
	rc=0
	out=$("$PVEAM" remove local:100/vm-100-disk-0.raw 2>&1) || rc=$?
	[[ $rc == 255 && $out == *"is not a template"* ]] || fail "pveam remove of a disk: $out"
	"$PVEAM" remove local:vztmpl/busybox.tar.zst
	[[ -e $f ]] && fail "template not removed"
	echo "PASS: storage.templates"
}

if [[ ${1:-} == --list ]]; then
	declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'
	exit 0
fi
declare -F "t_${1:-}" >/dev/null || { echo "usage: $0 CASE | --list" >&2; exit 2; }
"t_$1"
