#!/usr/bin/env bash
#
# tests/fs/tools_test.sh - drive a real pmxcfs mount with ordinary tools
# (bash redirections, cp, mv, sed -i, vim/vi/vim.tiny, touch, truncate, ln,
# chmod, ls) and check the daemon's life cycle (SIGTERM, restart, kill -9,
# second instance, corrupt database).
#
#   PMXCFS_BIN=build/pmxcfs/pmxcfs bash tests/fs/tools_test.sh CASE
#   bash tests/fs/tools_test.sh --list
#
# Each case starts its own daemon in a fresh temporary directory (see lib.sh)
# and cleans up after itself, also on failure.  Cases are the t_* functions
# below; tests/fs/shell_tests.cmake registers one CTest test per case.
# Run as root.

set -euo pipefail

# shellcheck source=lib.sh disable=SC1091
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

WWW_GID=$(getent group www-data | cut -d: -f3) || WWW_GID=33

# ---- helpers ----

# Run a command with the mount as working directory (relative paths as a
# user in /etc/pve would type them).
in_mnt() {
	(cd -- "$MNT" && "$@")
}

# The .vmlist entry of a guest id as "node type", or "absent".
vmlist_entry() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
e = d["ids"].get(sys.argv[1])
print("absent" if e is None else "%s %s" % (e["node"], e["type"]))
' "$1" <"$MNT/.vmlist"
}

assert_vm() { # id "node type"|absent
	local got
	got=$(vmlist_entry "$1") || fail "cannot parse .vmlist: $(fs_show "$(cat "$MNT/.vmlist")")"
	assert_eq "$2" "$got" ".vmlist entry of $1"
}

assert_mode() { # path octal-mode
	assert_eq "$2" "$(stat -c %a -- "$1")" "mode of $1"
}

assert_mtime() { # path epoch-seconds
	assert_eq "$2" "$(stat -c %Y -- "$1")" "mtime of $1"
}

# The root directory's entries right after start (virtual files, links).
ROOT_BASE=(.clusterlog .members .version .vmlist local lxc nodes openvz priv qemu-server)

# A listing of everything under the mount (but the virtual files) with
# type, mode, size, mtime, owner, link target and a checksum of each file.
tree_snapshot() {
	(
		cd -- "$MNT"
		# (the built-in links are virtual: their time is the daemon's start)
		find . -path ./.version -prune -o -path ./.clusterlog -prune -o -path ./.members -prune \
			-o -path ./.vmlist -prune -o -type l -printf '%p %y %u %g %l\n' \
			-o -printf '%p %y %m %s %T@ %u %g\n' | LC_ALL=C sort
		find . -type f ! -name '.version' ! -name '.clusterlog' ! -name '.members' ! -name '.vmlist' \
			-exec md5sum {} + | LC_ALL=C sort -k2
	)
}

cwd_is() { # pid dir
	[[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" == "$2" ]]
}

# hold_writer PATH CONTENT: a background process opens PATH with O_TRUNC,
# writes CONTENT and keeps the descriptor open (no close, no flush) until
# killed.  Its pid goes to WRITER (and FS_PIDS); returns once it has written.
WRITER=
hold_writer() {
	local ready=$FS_TMP/writer.ready
	rm -f -- "$ready"
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
open(sys.argv[3], "w").close()
time.sleep(600)
' "$1" "$2" "$ready" &
	WRITER=$!
	FS_PIDS+=("$WRITER")
	fs_wait_for "the writer of $1" test -e "$ready"
}

# ---- shell redirections ----

t_redirect() {
	fs_init
	fs_start
	local ct=$MNT/lxc/100.conf dc=$MNT/datacenter.cfg nl=$MNT/qemu-server/200.conf
	echo 'arch: amd64' >"$ct"
	assert_content "$ct" $'arch: amd64\n'
	echo 'cores: 2' >>"$ct"
	echo 'memory: 512' >>"$ct"
	assert_content "$ct" $'arch: amd64\ncores: 2\nmemory: 512\n'
	# > truncates: shorter content leaves nothing of the old one
	echo 'arch: i386' >"$ct"
	assert_content "$ct" $'arch: i386\n'
	echo 'hostname: ct100' >>"$ct"
	assert_content "$MNT/nodes/$NODE/lxc/100.conf" $'arch: i386\nhostname: ct100\n'
	assert_vm 100 "$NODE lxc"

	echo 'keyboard: en-us' >"$dc"
	echo 'console: html5' >>"$dc"
	assert_content "$dc" $'keyboard: en-us\nconsole: html5\n'
	printf 'no newline' >"$nl"
	printf '|more' >>"$nl"
	assert_content "$nl" 'no newline|more'
	: >"$MNT/empty.cfg"
	assert_content "$MNT/empty.cfg" ''
	assert_eq 0 "$(stat -c %s "$MNT/empty.cfg")" "size of empty.cfg"
	# appending with several writes through one descriptor
	{
		echo one
		echo two
	} >>"$dc"
	assert_content "$dc" $'keyboard: en-us\nconsole: html5\none\ntwo\n'

	fs_restart
	assert_content "$ct" $'arch: i386\nhostname: ct100\n'
	assert_content "$dc" $'keyboard: en-us\nconsole: html5\none\ntwo\n'
	assert_content "$nl" 'no newline|more'
	assert_content "$MNT/empty.cfg" ''
	echo 'swap: 0' >>"$ct"
	assert_content "$ct" $'arch: i386\nhostname: ct100\nswap: 0\n'
	assert_vm 100 "$NODE lxc"
	assert_vm 200 "$NODE qemu"
	fs_stop
}

# ---- cp ----

t_cp_in() {
	fs_init
	fs_start
	local w=$FS_TMP/work
	printf 'arch: amd64\nhostname: copied\nmemory: 512\n' >"$w/ct.conf"
	printf 'boot: order=scsi0\ncores: 4\n' >"$w/vm.conf"
	head -c 300000 /dev/urandom >"$w/blob.bin"
	printf 'dir: local\n\tpath /var/lib/vz\n' >"$w/storage.cfg"

	cp "$w/ct.conf" "$MNT/lxc/100.conf"
	assert_same_file "$w/ct.conf" "$MNT/lxc/100.conf"
	assert_mode "$MNT/lxc/100.conf" 640
	cp "$w/vm.conf" "$MNT/qemu-server/200.conf"
	assert_same_file "$w/vm.conf" "$MNT/qemu-server/200.conf"
	# cp into a directory keeps the source's name
	cp "$w/storage.cfg" "$MNT/"
	assert_same_file "$w/storage.cfg" "$MNT/storage.cfg"
	# binary content, several write requests
	cp "$w/blob.bin" "$MNT/blob.bin"
	assert_same_file "$w/blob.bin" "$MNT/blob.bin"
	assert_vm 100 "$NODE lxc"
	assert_vm 200 "$NODE qemu"
	# and back out again
	cp "$MNT/lxc/100.conf" "$w/back.conf"
	assert_same_file "$w/ct.conf" "$w/back.conf"

	fs_restart
	assert_same_file "$w/ct.conf" "$MNT/lxc/100.conf"
	assert_same_file "$w/vm.conf" "$MNT/qemu-server/200.conf"
	assert_same_file "$w/blob.bin" "$MNT/blob.bin"
	assert_same_file "$w/storage.cfg" "$MNT/storage.cfg"
	fs_stop
}

t_cp_over() {
	fs_init
	fs_start
	local w=$FS_TMP/work f=$MNT/lxc/100.conf
	printf 'arch: amd64\nhostname: a-rather-long-name-for-a-container\nmemory: 2048\nswap: 512\n' >"$w/long.conf"
	printf 'arch: amd64\n' >"$w/short.conf"

	cp "$w/long.conf" "$f"
	assert_same_file "$w/long.conf" "$f"
	# a shorter file over a longer one: nothing of the old content remains
	cp "$w/short.conf" "$f"
	assert_same_file "$w/short.conf" "$f"
	assert_eq "$(stat -c %s "$w/short.conf")" "$(stat -c %s "$f")" "size after cp over"
	cp "$w/long.conf" "$f"
	assert_same_file "$w/long.conf" "$f"
	# cp -f over a file, and over a root file
	cp -f "$w/short.conf" "$f"
	assert_same_file "$w/short.conf" "$f"
	echo 'old content that is long' >"$MNT/user.cfg"
	cp "$w/short.conf" "$MNT/user.cfg"
	assert_same_file "$w/short.conf" "$MNT/user.cfg"
	# cp from the mount over a file in the mount
	cp "$MNT/user.cfg" "$MNT/qemu-server/200.conf"
	cp "$w/long.conf" "$MNT/user.cfg"
	cp "$MNT/user.cfg" "$MNT/qemu-server/200.conf"
	assert_same_file "$w/long.conf" "$MNT/qemu-server/200.conf"
	assert_dir_entries "$MNT/lxc" 100.conf
	assert_dir_entries "$MNT/qemu-server" 200.conf
	# a file over the 1 MiB limit: cp fails (EFBIG), the old content stays
	head -c $((2 * 1024 * 1024)) /dev/zero >"$w/huge"
	assert_fails -m "File too large" cp "$w/huge" "$f"
	assert_same_file "$w/short.conf" "$f"
	assert_dir_entries "$MNT/lxc" 100.conf

	fs_restart
	assert_same_file "$w/short.conf" "$f"
	assert_same_file "$w/long.conf" "$MNT/user.cfg"
	fs_stop
}

t_cp_p() {
	fs_init
	fs_start
	local w=$FS_TMP/work t1=1577934245 t2=1600000000
	printf 'arch: amd64\nhostname: preserved\n' >"$w/ct.conf"
	chgrp www-data "$w/ct.conf"
	chmod 640 "$w/ct.conf"
	touch -d "@$t1" "$w/ct.conf"

	# a source that already has the owner and mode pmxcfs allows
	assert_ok cp -p "$w/ct.conf" "$MNT/lxc/100.conf"
	assert_same_file "$w/ct.conf" "$MNT/lxc/100.conf"
	assert_mtime "$MNT/lxc/100.conf" "$t1"
	# over an existing file
	echo 'hostname: old' >"$MNT/lxc/101.conf"
	touch -d "@$t2" "$w/ct.conf"
	assert_ok cp -p "$w/ct.conf" "$MNT/lxc/101.conf"
	assert_same_file "$w/ct.conf" "$MNT/lxc/101.conf"
	assert_mtime "$MNT/lxc/101.conf" "$t2"

	# --preserve=timestamps from an ordinary root:root 0644 file
	printf 'keyboard: de\n' >"$w/dc.cfg"
	chmod 644 "$w/dc.cfg"
	touch -d "@$t1" "$w/dc.cfg"
	assert_ok cp --preserve=timestamps "$w/dc.cfg" "$MNT/datacenter.cfg"
	assert_mtime "$MNT/datacenter.cfg" "$t1"
	assert_same_file "$w/dc.cfg" "$MNT/datacenter.cfg"

	# cp -p of a root:root file: preserving the owner fails with EPERM (as on
	# the reference: only root:www-data is allowed), so cp exits 1, but the
	# content and the mtime (set before the chown) must be right.
	assert_fails -m "failed to preserve ownership" cp -p "$w/dc.cfg" "$MNT/lxc/102.conf"
	assert_same_file "$w/dc.cfg" "$MNT/lxc/102.conf"
	assert_mtime "$MNT/lxc/102.conf" "$t1"
	assert_mode "$MNT/lxc/102.conf" 640

	fs_restart
	assert_mtime "$MNT/lxc/100.conf" "$t1"
	assert_mtime "$MNT/lxc/101.conf" "$t2"
	assert_mtime "$MNT/datacenter.cfg" "$t1"
	assert_mtime "$MNT/lxc/102.conf" "$t1"
	fs_stop
}

# ---- mv ----

t_mv_rename() {
	fs_init
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_vm 100 "$NODE lxc"
	in_mnt mv lxc/100.conf lxc/101.conf
	assert_not_exists "$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/101.conf" $'hostname: a\n'
	assert_vm 100 absent
	assert_vm 101 "$NODE lxc"
	assert_dir_entries "$MNT/lxc" 101.conf

	# to a temp name and back (what a careful tool does)
	in_mnt mv lxc/101.conf lxc/101.conf.tmp.4242
	assert_vm 101 absent
	in_mnt mv lxc/101.conf.tmp.4242 lxc/101.conf
	assert_vm 101 "$NODE lxc"

	# a name that is not allowed in a guest directory: mv fails, nothing moves
	assert_fails in_mnt mv lxc/101.conf lxc/notes.txt
	assert_content "$MNT/lxc/101.conf" $'hostname: a\n'
	assert_dir_entries "$MNT/lxc" 101.conf

	# at the root
	echo 'keyboard: en-us' >"$MNT/datacenter.cfg"
	in_mnt mv datacenter.cfg dc.cfg
	assert_not_exists "$MNT/datacenter.cfg"
	assert_content "$MNT/dc.cfg" $'keyboard: en-us\n'
	# a directory with content
	mkdir -p "$MNT/ha"
	echo 'group: g1' >"$MNT/ha/groups.cfg"
	in_mnt mv ha ha2
	assert_content "$MNT/ha2/groups.cfg" $'group: g1\n'
	assert_not_exists "$MNT/ha"

	fs_restart
	assert_content "$MNT/lxc/101.conf" $'hostname: a\n'
	assert_not_exists "$MNT/lxc/100.conf"
	assert_content "$MNT/dc.cfg" $'keyboard: en-us\n'
	assert_content "$MNT/ha2/groups.cfg" $'group: g1\n'
	assert_vm 101 "$NODE lxc"
	fs_stop
}

t_mv_replace() {
	fs_init
	fs_start
	# the Proxmox way: write <id>.conf.tmp.<pid>, rename over <id>.conf
	echo 'hostname: old' >"$MNT/lxc/100.conf"
	echo 'hostname: new' >"$MNT/lxc/100.conf.tmp.4242"
	in_mnt mv -f lxc/100.conf.tmp.4242 lxc/100.conf
	assert_content "$MNT/lxc/100.conf" $'hostname: new\n'
	assert_dir_entries "$MNT/lxc" 100.conf
	assert_vm 100 "$NODE lxc"

	# one guest config over another
	echo 'hostname: other' >"$MNT/lxc/101.conf"
	in_mnt mv -f lxc/101.conf lxc/100.conf
	assert_content "$MNT/lxc/100.conf" $'hostname: other\n'
	assert_dir_entries "$MNT/lxc" 100.conf
	assert_vm 101 absent
	assert_vm 100 "$NODE lxc"

	# at the root, longer over shorter and shorter over longer
	echo 'short' >"$MNT/a.cfg"
	printf 'a much longer content\nwith two lines\n' >"$MNT/b.cfg"
	in_mnt mv -f a.cfg b.cfg
	assert_content "$MNT/b.cfg" $'short\n'
	assert_not_exists "$MNT/a.cfg"

	# mv from outside the mount (copy + unlink, EXDEV) over an existing file
	printf 'from outside\n' >"$FS_TMP/work/x.cfg"
	chgrp www-data "$FS_TMP/work/x.cfg" # mv preserves the owner: only root:www-data is allowed
	chmod 640 "$FS_TMP/work/x.cfg"
	in_mnt mv -f "$FS_TMP/work/x.cfg" b.cfg
	assert_content "$MNT/b.cfg" $'from outside\n'
	assert_not_exists "$FS_TMP/work/x.cfg"

	fs_restart
	assert_content "$MNT/lxc/100.conf" $'hostname: other\n'
	assert_content "$MNT/b.cfg" $'from outside\n'
	assert_dir_entries "$MNT/lxc" 100.conf
	fs_stop
}

t_mv_node() {
	fs_init
	fs_start
	mkdir -p "$MNT/nodes/other/lxc" "$MNT/nodes/other/qemu-server"
	echo 'hostname: migrating' >"$MNT/lxc/100.conf"
	echo 'name: vm' >"$MNT/qemu-server/200.conf"
	assert_vm 100 "$NODE lxc"

	in_mnt mv lxc/100.conf nodes/other/lxc/100.conf
	assert_not_exists "$MNT/lxc/100.conf"
	assert_content "$MNT/nodes/other/lxc/100.conf" $'hostname: migrating\n'
	assert_json "$MNT/.vmlist"
	assert_vm 100 "other lxc"
	# the id now belongs to node other: it cannot be created here again
	assert_fails bash -c "echo x >'$MNT/lxc/100.conf'"
	assert_not_exists "$MNT/lxc/100.conf"
	assert_vm 100 "other lxc"

	in_mnt mv qemu-server/200.conf nodes/other/qemu-server/
	assert_content "$MNT/nodes/other/qemu-server/200.conf" $'name: vm\n'
	assert_vm 200 "other qemu"

	# and back
	in_mnt mv nodes/other/lxc/100.conf lxc/
	assert_vm 100 "$NODE lxc"
	in_mnt mv lxc/100.conf nodes/other/lxc/

	fs_restart
	assert_vm 100 "other lxc"
	assert_vm 200 "other qemu"
	assert_content "$MNT/nodes/other/lxc/100.conf" $'hostname: migrating\n'
	assert_dir_entries "$MNT/nodes/$NODE/lxc"
	fs_stop
}

# ---- sed -i ----

t_sed_i() {
	fs_init
	fs_start
	printf 'arch: amd64\nhostname: alpha\n' >"$MNT/lxc/100.conf"
	in_mnt sed -i 's/a/b/' lxc/100.conf
	assert_content "$MNT/lxc/100.conf" $'brch: amd64\nhostnbme: alpha\n'
	assert_dir_entries "$MNT/lxc" 100.conf
	assert_mode "$MNT/lxc/100.conf" 640
	assert_vm 100 "$NODE lxc"

	# a second time, through the real path
	sed -i 's/alpha/beta/' "$MNT/nodes/$NODE/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'brch: amd64\nhostnbme: beta\n'
	assert_dir_entries "$MNT/lxc" 100.conf

	# qemu-server, and the root
	printf 'cores: 1\n' >"$MNT/qemu-server/200.conf"
	in_mnt sed -i 's/1/2/' qemu-server/200.conf
	assert_content "$MNT/qemu-server/200.conf" $'cores: 2\n'
	assert_dir_entries "$MNT/qemu-server" 200.conf
	printf 'keyboard: en-us\n' >"$MNT/datacenter.cfg"
	in_mnt sed -i 's/en-us/de/' datacenter.cfg
	assert_content "$MNT/datacenter.cfg" $'keyboard: de\n'
	assert_dir_entries "$MNT" "${ROOT_BASE[@]}" datacenter.cfg

	# a private file (mode 0600: sed's fchmod of its temp file must pass)
	printf 'key: one\n' >"$MNT/priv/token.cfg"
	in_mnt sed -i 's/one/two/' priv/token.cfg
	assert_content "$MNT/priv/token.cfg" $'key: two\n'
	assert_mode "$MNT/priv/token.cfg" 600
	assert_dir_entries "$MNT/priv" lock token.cfg

	# sed -i.bak keeps the old content in <name>.bak (by design)
	in_mnt sed -i.bak 's/beta/gamma/' lxc/100.conf
	assert_content "$MNT/lxc/100.conf" $'brch: amd64\nhostnbme: gamma\n'
	assert_content "$MNT/lxc/100.conf.bak" $'brch: amd64\nhostnbme: beta\n'
	assert_dir_entries "$MNT/lxc" 100.conf 100.conf.bak
	assert_vm 100 "$NODE lxc"

	fs_restart
	assert_content "$MNT/lxc/100.conf" $'brch: amd64\nhostnbme: gamma\n'
	assert_content "$MNT/datacenter.cfg" $'keyboard: de\n'
	fs_stop
}

# ---- vim / vi / vim.tiny ----

# edit_with SETUP EDITOR...: check EDITOR (a command) on lxc/100.conf and on a
# root file.  What vim does (strace, vim 9.0), always with a swap file
# .<name>.swp (probe .<name>.swx first; both removed at exit):
#   plain      vim's own defaults (-u NONE: swapfile, writebackup, nobackup,
#              backupcopy=auto): probe file "4913" (created, removed), rename
#              <name> -> <name>~, create and write a new <name>, remove <name>~
#   backup     backup writebackup swapfile: the same, but <name>~ stays (by design)
#   backupcopy the same with backupcopy=yes: <name>~ is a new copy, <name>
#              is truncated and rewritten in place; <name>~ stays
#   inplace    nowritebackup nobackup: <name> opened O_WRONLY|O_CREAT,
#              ftruncate(0), write, fsync, fchmod; no backup file at all
edit_with() {
	local setup=$1 ed
	shift
	ed=$1
	command -v "$ed" >/dev/null || fail "$ed is not installed (apt-get install vim vim-tiny)"
	local -a opts=(-N -u NONE -i NONE)
	case $setup in
	plain) ;;
	# backupskip= : its default skips /tmp/* files; the mount is not there
	# anyway, but the backup must not depend on where the test runs
	backup) opts+=(-c 'set backup writebackup swapfile backupskip=') ;;
	backupcopy) opts+=(-c 'set backup writebackup swapfile backupskip= backupcopy=yes') ;;
	inplace) opts+=(-c 'set nobackup nowritebackup swapfile') ;;
	*) fail "edit_with: unknown setup $setup" ;;
	esac

	fs_init
	fs_start
	local -a keep_lxc=(100.conf) keep_root=("${ROOT_BASE[@]}" datacenter.cfg)
	if [[ $setup == backup* ]]; then
		keep_lxc+=('100.conf~')
		keep_root+=('datacenter.cfg~')
	fi

	printf 'arch: amd64\nhostname: old\nmemory: 512\n' >"$MNT/lxc/100.conf"
	in_mnt "$@" "${opts[@]}" -es -c '%s/old/new/' -c 'wq' lxc/100.conf ||
		fail "$* exited with $? editing lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'arch: amd64\nhostname: new\nmemory: 512\n'
	assert_mode "$MNT/lxc/100.conf" 640
	assert_vm 100 "$NODE lxc"
	assert_dir_entries "$MNT/nodes/$NODE/lxc" "${keep_lxc[@]}"
	if [[ $setup == backup* ]]; then
		assert_content "$MNT/lxc/100.conf~" $'arch: amd64\nhostname: old\nmemory: 512\n'
	fi

	printf 'keyboard: en-us\nconsole: old\n' >"$MNT/datacenter.cfg"
	in_mnt "$@" "${opts[@]}" -es -c '%s/old/new/' -c 'wq' datacenter.cfg ||
		fail "$* exited with $? editing datacenter.cfg"
	assert_content "$MNT/datacenter.cfg" $'keyboard: en-us\nconsole: new\n'
	assert_dir_entries "$MNT" "${keep_root[@]}"

	# a second edit of the same file (the backup exists already)
	in_mnt "$@" "${opts[@]}" -es -c '%s/new/newer/' -c 'wq' lxc/100.conf ||
		fail "$* exited with $? editing lxc/100.conf again"
	assert_content "$MNT/lxc/100.conf" $'arch: amd64\nhostname: newer\nmemory: 512\n'
	assert_dir_entries "$MNT/lxc" "${keep_lxc[@]}"
	if [[ $setup == backup* ]]; then
		assert_content "$MNT/lxc/100.conf~" $'arch: amd64\nhostname: new\nmemory: 512\n'
	fi

	fs_restart
	assert_content "$MNT/lxc/100.conf" $'arch: amd64\nhostname: newer\nmemory: 512\n'
	assert_content "$MNT/datacenter.cfg" $'keyboard: en-us\nconsole: new\n'
	assert_dir_entries "$MNT/lxc" "${keep_lxc[@]}"
	fs_stop
}

t_vim_plain() { edit_with plain vim; }
t_vim_backup() { edit_with backup vim; }
t_vim_backupcopy() { edit_with backupcopy vim; }
t_vim_inplace() { edit_with inplace vim; }
t_vi_plain() { edit_with plain vi; }
t_vi_backup() { edit_with backup vi; }
t_vimtiny_plain() { edit_with plain vim.tiny; }
t_vimtiny_backup() { edit_with backup vim.tiny; }

# ---- names ----

t_reserved_id() {
	fs_init
	fs_start
	local n
	for n in lxc/99.conf lxc/0.conf lxc/1.conf qemu-server/99.conf lxc/099.conf lxc/0100.conf; do
		assert_fails -m "Invalid argument" bash -c "echo x >'$MNT/$n'"
		assert_not_exists "$MNT/$n"
	done
	assert_fails touch "$MNT/lxc/99.conf"
	assert_not_exists "$MNT/lxc/99.conf"
	# renaming a config to a reserved id fails and leaves it in place
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_fails in_mnt mv lxc/100.conf lxc/99.conf
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	assert_dir_entries "$MNT/lxc" 100.conf
	assert_vm 99 absent
	# the smallest allowed id works
	echo 'hostname: b' >"$MNT/lxc/100.conf"
	assert_vm 100 "$NODE lxc"
	fs_stop
}

t_bad_name() {
	fs_init
	fs_start
	local n
	for n in lxc/notes.txt qemu-server/notes.txt lxc/100.cfg lxc/abc.conf lxc/100.conf.x; do
		assert_fails -m "Invalid argument" bash -c "echo x >'$MNT/$n'"
		assert_not_exists "$MNT/$n"
	done
	assert_fails touch "$MNT/lxc/notes.txt"
	echo x >"$FS_TMP/work/notes.txt"
	assert_fails cp "$FS_TMP/work/notes.txt" "$MNT/lxc/notes.txt"
	assert_dir_entries "$MNT/lxc"
	# editor and tool temp names are accepted, and are no guests
	echo x >"$MNT/lxc/100.conf.tmp.123"
	echo x >"$MNT/lxc/.100.conf.swp"
	echo x >"$MNT/lxc/100.conf~"
	assert_dir_entries "$MNT/lxc" .100.conf.swp 100.conf.tmp.123 '100.conf~'
	assert_vm 100 absent
	# the root's reserved names cannot be created or replaced
	assert_fails bash -c "echo x >'$MNT/.vmlist'"
	assert_fails bash -c "echo x >'$MNT/local'"
	assert_json "$MNT/.vmlist"
	fs_stop
}

# ---- touch, truncate ----

t_touch() {
	fs_init
	fs_start
	local f=$MNT/lxc/100.conf before after m
	touch "$f"
	assert_exists "$f"
	assert_content "$f" ''
	assert_vm 100 "$NODE lxc"
	touch "$MNT/new.cfg"
	assert_content "$MNT/new.cfg" ''

	echo 'hostname: keep' >"$f"
	touch -d @1500000000 "$f"
	assert_mtime "$f" 1500000000
	assert_content "$f" $'hostname: keep\n'
	before=$(date +%s)
	touch "$f"
	after=$(date +%s)
	m=$(stat -c %Y "$f")
	((m >= before && m <= after)) || fail "mtime of $f after touch: $m, expected in [$before, $after]"
	assert_content "$f" $'hostname: keep\n'

	# touch -r, touch -m on a root file, on a directory
	touch -d @1400000000 "$FS_TMP/work/ref"
	touch -r "$FS_TMP/work/ref" "$MNT/new.cfg"
	assert_mtime "$MNT/new.cfg" 1400000000
	mkdir "$MNT/ha"
	touch -m -d @1300000000 "$MNT/ha"
	assert_mtime "$MNT/ha" 1300000000

	fs_restart
	m=$(stat -c %Y "$f")
	((m >= before && m <= after)) || fail "mtime of $f after restart: $m, expected in [$before, $after]"
	assert_mtime "$MNT/new.cfg" 1400000000
	assert_mtime "$MNT/ha" 1300000000
	assert_content "$f" $'hostname: keep\n'
	fs_stop
}

t_truncate() {
	fs_init
	fs_start
	local f=$MNT/lxc/100.conf
	printf 'hostname: truncated\n' >"$f"
	truncate -s 0 "$f"
	assert_content "$f" ''
	assert_eq 0 "$(stat -c %s "$f")" "size after truncate -s 0"
	assert_vm 100 "$NODE lxc"

	printf 'hello world\n' >"$MNT/t.cfg"
	truncate -s 5 "$MNT/t.cfg"
	assert_content "$MNT/t.cfg" 'hello'
	truncate -s 8 "$MNT/t.cfg"
	assert_eq 8 "$(stat -c %s "$MNT/t.cfg")" "size after truncate -s 8"
	assert_eq 'hello\0\0\0' "$(od -An -c "$MNT/t.cfg" | tr -d ' \n')" "bytes after truncate -s 8"
	# too large for pmxcfs (1 MiB per file): refused, file unchanged
	assert_fails truncate -s 2M "$MNT/t.cfg"
	assert_eq 8 "$(stat -c %s "$MNT/t.cfg")" "size after a refused truncate -s 2M"

	fs_restart
	assert_content "$f" ''
	assert_eq 'hello\0\0\0' "$(od -An -c "$MNT/t.cfg" | tr -d ' \n')" "bytes after restart"
	fs_stop
}

# ---- links, chmod, ownership ----

t_symlink() {
	fs_init
	fs_start
	echo x >"$MNT/a.cfg"
	assert_fails ln -s a.cfg "$MNT/b.cfg"
	assert_not_exists "$MNT/b.cfg"
	assert_fails ln -s /etc/hosts "$MNT/lxc/100.conf"
	assert_not_exists "$MNT/lxc/100.conf"
	assert_fails ln -sf a.cfg "$MNT/a2.cfg"
	assert_dir_entries "$MNT" "${ROOT_BASE[@]}" a.cfg
	# the built-in links still resolve
	assert_eq "nodes/$NODE/lxc" "$(readlink "$MNT/lxc")" "lxc link"
	assert_eq "nodes/$NODE" "$(readlink "$MNT/local")" "local link"
	fs_stop
}

t_hardlink() {
	fs_init
	fs_start
	echo x >"$MNT/a.cfg"
	assert_fails -m "Operation not permitted" ln "$MNT/a.cfg" "$MNT/b.cfg"
	assert_not_exists "$MNT/b.cfg"
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_fails ln "$MNT/lxc/100.conf" "$MNT/lxc/101.conf"
	assert_not_exists "$MNT/lxc/101.conf"
	assert_vm 101 absent
	assert_eq 1 "$(stat -c %h "$MNT/a.cfg")" "link count of a.cfg"
	fs_stop
}

# chmod_applied_or_refused MODE PATH: a chmod either fails and leaves the
# mode alone, or succeeds and the mode is then MODE (never a silent no-op).
chmod_applied_or_refused() {
	local before after rc=0
	before=$(stat -c %a -- "$2")
	chmod "$1" "$2" 2>/dev/null || rc=$?
	after=$(stat -c %a -- "$2")
	if ((rc == 0)); then
		assert_eq "$1" "$after" "mode of $2 after a successful chmod $1 (was $before)"
	else
		assert_eq "$before" "$after" "mode of $2 after a refused chmod $1"
	fi
}

t_chmod() {
	fs_init
	fs_start
	local f=$MNT/lxc/100.conf p=$MNT/priv/authkey.key
	echo 'hostname: a' >"$f"
	echo 'secret' >"$p"
	assert_mode "$f" 640
	assert_mode "$p" 600
	# the file's own mode: accepted
	assert_ok chmod 640 "$f"
	assert_mode "$f" 640
	assert_ok chmod 600 "$p"
	assert_mode "$p" 600
	# anything else a file cannot have: EPERM, mode unchanged
	assert_fails -m "Operation not permitted" chmod 777 "$f"
	assert_mode "$f" 640
	assert_fails chmod 644 "$f"
	assert_fails chmod u+x "$f"
	assert_fails chmod 644 "$p"
	assert_mode "$f" 640
	assert_mode "$p" 600
	# the other allowed-looking mode: the reference refuses it (0640 only
	# outside priv/, 0600 only inside); applying it would be fine too, but
	# reporting success and keeping the old mode is not
	chmod_applied_or_refused 600 "$f"
	chmod_applied_or_refused 640 "$p"
	assert_content "$f" $'hostname: a\n'
	# directories
	mkdir "$MNT/ha"
	assert_mode "$MNT/ha" 755
	assert_fails chmod 777 "$MNT/ha"
	assert_mode "$MNT/ha" 755
	chmod_applied_or_refused 755 "$MNT/ha"
	chmod_applied_or_refused 700 "$MNT/ha"
	# ownership: only root:www-data
	assert_ok chown root:www-data "$f"
	assert_fails chown root:root "$f"
	assert_fails chown nobody "$f"
	assert_eq 'root www-data' "$(stat -c '%U %G' "$f")" "owner of $f"

	fs_restart
	assert_mode "$MNT/lxc/100.conf" "$(stat -c %a "$f")"
	assert_content "$f" $'hostname: a\n'
	fs_stop
}

t_ls_la() {
	fs_init
	fs_start
	echo a >"$MNT/lxc/100.conf"
	echo b >"$MNT/datacenter.cfg"
	echo c >"$MNT/priv/authkey.key"
	mkdir "$MNT/ha"
	local d out bad
	for d in "$MNT" "$MNT/lxc/" "$MNT/nodes" "$MNT/nodes/$NODE" "$MNT/priv"; do
		out=$(LC_ALL=C ls -la "$d")
		# every entry but the parent directory (outside the mount at the root)
		bad=$(awk 'NR > 1 && $NF != ".." && !($3 == "root" && $4 == "www-data")' <<<"$out")
		[[ -z $bad ]] || fail "ls -la $d: entries not owned by root:www-data:"$'\n'"$bad"
		out=$(LC_ALL=C ls -lan "$d")
		bad=$(awk -v g="$WWW_GID" 'NR > 1 && $NF != ".." && !($3 == 0 && $4 == g)' <<<"$out")
		[[ -z $bad ]] || fail "ls -lan $d: entries not 0:$WWW_GID:"$'\n'"$bad"
	done
	out=$(LC_ALL=C ls -la "$MNT")
	[[ $out == *$'\n'"lrwxrwxrwx "*" lxc -> nodes/$NODE/lxc"* ]] || fail "ls -la: no lxc link in: $out"
	assert_eq '-rw-r----- root www-data' "$(stat -c '%A %U %G' "$MNT/datacenter.cfg")" "datacenter.cfg"
	assert_eq 'drwxr-xr-x root www-data' "$(stat -c '%A %U %G' "$MNT/ha")" "ha"
	assert_eq 'drwx------ root www-data' "$(stat -c '%A %U %G' "$MNT/priv")" "priv"
	assert_eq '-rw------- root www-data' "$(stat -c '%A %U %G' "$MNT/priv/authkey.key")" "priv/authkey.key"
	assert_eq '-r--r----- root www-data' "$(stat -c '%A %U %G' "$MNT/.vmlist")" ".vmlist"
	fs_stop
}

# ---- virtual files ----

t_virtual_json() {
	fs_init
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	echo 'name: b' >"$MNT/qemu-server/200.conf"
	local f
	for f in .members .vmlist .version .clusterlog; do
		assert_json "$MNT/$f"
		cat "$MNT/$f" >"$FS_TMP/work/$f"
		assert_json "$FS_TMP/work/$f"
	done
	assert_vm 100 "$NODE lxc"
	assert_vm 200 "$NODE qemu"
	assert_eq "$NODE" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["nodename"])' <"$MNT/.members")" \
		".members nodename"
	assert_eq 1 "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"]["quorate"])' <"$MNT/.members")" \
		".members quorate"
	# the list follows changes
	rm "$MNT/lxc/100.conf"
	assert_vm 100 absent
	# virtual files cannot be written
	assert_fails bash -c "echo '{}' >'$MNT/.members'"
	assert_json "$MNT/.members"
	fs_stop
}

# ---- life cycle ----

# Daemon mode (no -f): the command returns once the mount serves, the
# daemon's pid is in the lock file, and the threads it needs were started
# after the fork (a thread started before it would be missing in the daemon).
daemon_has_thread() {
	grep -qx "$2" /proc/"$1"/task/*/comm 2>/dev/null
}

daemon_gone() {
	! fs_alive "$1"
}

# Options: a bad --spin-usec is refused with a message naming it; with
# polling off (--spin-usec 0) the mount works the same.
t_spin_option() {
	fs_init
	local out rc=0
	out=$("$PMXCFS_BIN" -f -l --mountpoint "$MNT" --db "$DB" --spin-usec 12x 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit status for --spin-usec 12x"
	assert_contains "$out" "invalid --spin-usec '12x'" "message for a bad --spin-usec"
	fs_mounted "$MNT" && fail "mounted despite a bad option"
	FS_EXTRA_ARGS=(--spin-usec 0)
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	fs_stop
}

# cpu_ticks PID: user+system clock ticks the process has used
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# The request loop busy-polls only for a moment after a request: an idle
# daemon uses no CPU, and a burst of concurrent writers makes the worker
# pool grow (blocked commits must not starve the other requests).
t_reqloop() {
	fs_init
	fs_start
	local i before after threads
	for i in $(seq 1 50); do
		echo "memory: $i" >"$MNT/lxc/100.conf"
		cat "$MNT/lxc/100.conf" >/dev/null
	done
	before=$(cpu_ticks "$FS_PID")
	sleep 2
	after=$(cpu_ticks "$FS_PID")
	((after - before <= 2)) || fail "the idle daemon used $((after - before)) ticks in 2 s"
	local writers=()
	for i in $(seq 1 8); do
		(for _ in $(seq 1 40); do echo "w$i" >"$MNT/f$i.cfg"; done) &
		writers+=($!)
	done
	FS_PIDS+=("${writers[@]}") # killed by pid at exit should the test fail
	wait "${writers[@]}" # not the daemon, also our child
	threads=$(grep -lx pmxcfs-fuse /proc/"$FS_PID"/task/*/comm | wc -l)
	((threads > 2)) || fail "the worker pool did not grow under 8 writers ($threads workers)"
	for i in $(seq 1 8); do
		assert_content "$MNT/f$i.cfg" "w$i"$'\n'
	done
	fs_stop
}

# -d logs every operation with its verdict; "> newfile" commits once (the
# shell's close of a dup of a new, still empty file commits nothing).
t_debug_log() {
	fs_init
	FS_EXTRA_ARGS=(-d)
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_fails touch "$MNT/qemu-server/100.conf"
	mv "$MNT/lxc/100.conf" "$MNT/nodes/$NODE/lxc/100.conf.tmp.1"
	mv "$MNT/nodes/$NODE/lxc/100.conf.tmp.1" "$MNT/lxc/100.conf"
	fs_stop
	local log
	log=$(cat "$FS_LOG")
	assert_contains "$log" "debug dfsm: create" "debug log of a create"
	assert_contains "$log" "'100.conf': File exists" "debug log of the refused second config"
	assert_contains "$log" "'100.conf.tmp.1' -> 100.conf: ok" "debug log of a rename"
	assert_contains "$log" "committed in" "debug log of a commit"
	assert_eq 1 "$(grep -c 'debug dfsm: put ' "$FS_LOG")" "puts for one '> new file'"
}

t_daemon_mode() {
	fs_init
	local pid rc=0
	"$PMXCFS_BIN" -l --mountpoint "$MNT" --db "$DB" --nodename "$NODE" >>"$FS_LOG" 2>&1 || rc=$?
	assert_eq 0 "$rc" "exit status of the starting pmxcfs"
	fs_mounted "$MNT" || fail "no mount at $MNT when the daemon-mode start returned"
	FS_MOUNTS+=("$MNT")
	pid=$(head -1 "$DB.lock")
	[[ $pid =~ ^[0-9]+$ ]] || fail "no pid in $DB.lock: '$pid'"
	fs_alive "$pid" || fail "the daemon (pid $pid from $DB.lock) is not running"
	FS_PIDS+=("$pid") # killed by pid at exit should the test fail
	daemon_has_thread "$pid" pmxcfs-kinval || fail "the daemon has no cache invalidation thread"
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	echo 'hostname: a-longer-name' >"$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'hostname: a-longer-name\n'
	assert_eq 24 "$(stat -c %s "$MNT/lxc/100.conf")" "size after the rewrite"
	kill -TERM "$pid"
	fs_wait_for "the daemon to exit after SIGTERM" daemon_gone "$pid"
	fs_mounted "$MNT" && fail "$MNT is still mounted after the daemon exited"
	# a second start on the same database finds the file
	fs_start
	assert_content "$MNT/lxc/100.conf" $'hostname: a-longer-name\n'
	fs_stop
}

t_sigterm() {
	fs_init
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	fs_stop # asserts exit status 0 and no mount left
	assert_contains "$(cat "$FS_LOG")" "shutting down" "daemon log"
	# the mount point is an empty directory again
	assert_dir_entries "$MNT"
	# SIGTERM while a file is open for writing and a shell sits in the mount
	fs_start
	exec {fd}>"$MNT/lxc/101.conf"
	echo 'hostname: b' >&"$fd"
	(cd "$MNT/lxc" && exec sleep 300) &
	local sleeper=$!
	FS_PIDS+=("$sleeper") # killed by pid at exit should the test fail
	fs_wait_for "a process with its cwd in the mount" cwd_is "$sleeper" "$MNT/nodes/$NODE/lxc"
	fs_stop
	kill "$sleeper"
	wait "$sleeper" || true
	exec {fd}>&-
	fs_start
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	# SIGINT and SIGHUP end it cleanly too
	fs_stop INT
	fs_start
	fs_stop HUP
	assert_dir_entries "$MNT"
}

t_restart() {
	fs_init
	fs_start
	mkdir -p "$MNT/nodes/other/lxc" "$MNT/ha" "$MNT/sdn/zones"
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	echo 'name: vm' >"$MNT/qemu-server/200.conf"
	echo 'hostname: o' >"$MNT/nodes/other/lxc/300.conf"
	echo 'keyboard: de' >"$MNT/datacenter.cfg"
	echo 'group: g' >"$MNT/ha/groups.cfg"
	echo 'secret' >"$MNT/priv/authkey.key"
	head -c 200000 /dev/urandom >"$MNT/sdn/zones/blob"
	mkdir "$MNT/priv/lock/file-user_cfg"
	touch -d @1500000000 "$MNT/ha/groups.cfg"
	tree_snapshot >"$FS_TMP/before"
	vmlist_entry 300 >"$FS_TMP/vm300"

	fs_restart
	tree_snapshot >"$FS_TMP/after"
	diff -u "$FS_TMP/before" "$FS_TMP/after" >&2 || fail "the tree changed across a restart"
	assert_vm 100 "$NODE lxc"
	assert_vm 200 "$NODE qemu"
	assert_vm 300 "other lxc"
	# the lock is still held
	assert_fails mkdir "$MNT/priv/lock/file-user_cfg"

	# a second restart, and after deletions
	rm "$MNT/ha/groups.cfg"
	rmdir "$MNT/priv/lock/file-user_cfg"
	tree_snapshot >"$FS_TMP/before"
	fs_restart
	tree_snapshot >"$FS_TMP/after"
	diff -u "$FS_TMP/before" "$FS_TMP/after" >&2 || fail "the tree changed across the second restart"
	assert_not_exists "$MNT/ha/groups.cfg"
	fs_stop
}

t_second_instance() {
	fs_init
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	local mnt2=$FS_TMP/mnt2 out=$FS_TMP/second.out pid
	mkdir "$mnt2"
	fs_track_mount "$mnt2"
	cp "$DB" "$FS_TMP/db.copy"
	fs_spawn "$out" -f -l --mountpoint "$mnt2" --db "$DB" --nodename "$NODE"
	pid=$FS_SPAWNED
	fs_wait_exit "$pid" "$FS_TIMEOUT" || fail "a second pmxcfs on the same database is still running"
	assert_ne 0 "$FS_RC" "exit status of the second instance"
	assert_contains "$(cat "$out")" "in use" "message of the second instance"
	fs_mounted "$mnt2" && fail "the second instance left a mount at $mnt2"
	# the first one is unaffected
	echo 'hostname: b' >"$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'hostname: b\n'
	fs_stop
	fs_start
	assert_content "$MNT/lxc/100.conf" $'hostname: b\n'
	fs_stop
}

t_second_mount() {
	fs_init
	fs_start
	local out=$FS_TMP/second.out pid
	# another database, the same (live) mount point
	fs_spawn "$out" -f -l --mountpoint "$MNT" --db "$FS_TMP/db2/config.db" --nodename "$NODE"
	pid=$FS_SPAWNED
	fs_wait_exit "$pid" "$FS_TIMEOUT" || fail "a second pmxcfs on a live mount point is still running"
	assert_ne 0 "$FS_RC" "exit status of the second instance"
	assert_contains "$(cat "$out")" "mount point" "message of the second instance"
	# still exactly one mount there, and it is the first daemon's
	assert_eq 1 "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" "number of mounts at $MNT"
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	fs_stop
}

# corrupt_one NAME: start on the prepared $DB, which must be refused with a
# message and left byte-identical.
corrupt_one() {
	local name=$1 out=$FS_TMP/$1.out
	cp -a "$DB" "$FS_TMP/$name.orig"
	fs_spawn "$out" -f -l --mountpoint "$MNT" --db "$DB" --nodename "$NODE"
	fs_wait_exit "$FS_SPAWNED" "$FS_TIMEOUT" || fail "$name: pmxcfs is still running on a bad database"
	note "$name: exit $FS_RC: $(cat "$out")"
	assert_ne 0 "$FS_RC" "$name: exit status"
	fs_mounted "$MNT" && fail "$name: pmxcfs left a mount at $MNT"
	cmp "$FS_TMP/$name.orig" "$DB" || fail "$name: the database file was changed"
	assert_contains "$(cat "$out")" "$DB" "$name: message names the database"
	assert_contains "$(cat "$out")" "refusing" "$name: message"
	if [[ -e $DB-wal && -s $DB-wal ]]; then
		fail "$name: a non-empty $DB-wal was created"
	fi
	rm -f -- "$DB-wal" "$DB-shm"
}

t_corrupt_db() {
	fs_init
	mkdir -p "$(dirname "$DB")"
	# 1. not SQLite at all
	python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7919 + 13) % 256 for i in range(16384)))' >"$DB"
	corrupt_one garbage
	# 2. an SQLite database of another program
	rm -f "$DB"
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.execute("insert into t values (1)"); c.commit()' "$DB"
	corrupt_one foreign
	# 3. a real pmxcfs database, damaged in the middle
	rm -f "$DB"
	fs_start
	local i
	for i in $(seq 100 140); do
		printf 'hostname: ct%s\n%0500d\n' "$i" 0 >"$MNT/lxc/$i.conf"
	done
	fs_stop
	[[ ! -s $DB-wal ]] || fail "the WAL was not checkpointed at shutdown"
	local size
	size=$(stat -c %s "$DB")
	((size > 8192)) || fail "database unexpectedly small ($size bytes)"
	cp "$DB" "$FS_TMP/good.db"
	python3 -c '
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(4096)
    f.write(bytes((i * 31 + 7) % 256 for i in range(4096)))
' "$DB"
	corrupt_one damaged
	# 4. the same database, cut short
	cp "$FS_TMP/good.db" "$DB"
	truncate -s $((size / 2 + 100)) "$DB"
	corrupt_one truncated
	# 5. a valid SQLite header and nothing else
	printf 'SQLite format 3\0' >"$DB"
	corrupt_one header_only
	# 6. unreadable: the path is a directory
	rm -f -- "$DB"
	mkdir "$DB"
	fs_spawn "$FS_TMP/dir.out" -f -l --mountpoint "$MNT" --db "$DB" --nodename "$NODE"
	fs_wait_exit "$FS_SPAWNED" "$FS_TIMEOUT" || fail "directory: pmxcfs is still running"
	note "directory: exit $FS_RC: $(cat "$FS_TMP/dir.out")"
	assert_ne 0 "$FS_RC" "directory: exit status"
	fs_mounted "$MNT" && fail "directory: pmxcfs left a mount at $MNT"
	assert_contains "$(cat "$FS_TMP/dir.out")" "$DB" "directory: message names the database"
	assert_dir_entries "$DB"
	rmdir -- "$DB"
	# the good copy still works
	cp "$FS_TMP/good.db" "$DB"
	fs_start
	assert_content "$MNT/lxc/120.conf" "$(printf 'hostname: ct120\n%0500d' 0)"$'\n'
	fs_stop
}

t_stale_mount() {
	fs_init
	fs_start
	echo 'hostname: a' >"$MNT/lxc/100.conf"
	echo 'keyboard: de' >"$MNT/datacenter.cfg"
	fs_kill9 # asserts the dead mount (ENOTCONN)
	fs_start # must clear it and mount again
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	assert_content "$MNT/datacenter.cfg" $'keyboard: de\n'
	assert_eq 1 "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" "number of mounts at $MNT"

	# kill -9 with a file open for writing: the unclosed content is lost, the
	# file keeps its last committed content (writes are atomic at close).
	# (Not with a bash redirection: `echo >&$fd` closes a dup of the
	# descriptor, which is a FUSE flush, which commits.)
	hold_writer "$MNT/lxc/100.conf" 'hostname: partial'
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	fs_kill9
	kill "$WRITER"
	fs_wait_exit "$WRITER" "$FS_TIMEOUT" || fail "the writer did not exit"
	fs_start
	assert_content "$MNT/lxc/100.conf" $'hostname: a\n'
	assert_vm 100 "$NODE lxc"
	fs_stop
}

fs_run_case tools "$@"
