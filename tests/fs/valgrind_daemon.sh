#!/usr/bin/env bash
#
# tests/fs/valgrind_daemon.sh - run pmxcfs under valgrind (memcheck) through
# a workload that touches every request type, then SIGTERM it with a file
# still open: valgrind must report no memory error and no leaked block
# (definite or indirect), and the daemon must exit 0 and unmount.
#
# Needs PMXCFS_BIN from a build WITHOUT sanitizers and VALGRIND_BIN; run as
# root.  Registered as CTest test valgrind.daemon (labels fs, valgrind, slow)
# in builds without PVE_SANITIZE; scripts/run-tests.sh runs it.
set -euo pipefail
# shellcheck source=tests/fs/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VALGRIND_BIN:?VALGRIND_BIN must name valgrind}"
FS_TIMEOUT=120 # everything is ~30x slower under memcheck

fs_init
real_bin=$PMXCFS_BIN
PMXCFS_BIN=$FS_TMP/pmxcfs-under-valgrind
cat >"$PMXCFS_BIN" <<WRAP
#!/bin/sh
exec "$VALGRIND_BIN" --quiet --error-exitcode=99 --leak-check=full \\
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \\
	"$real_bin" "\$@"
WRAP
chmod 755 "$PMXCFS_BIN"

FS_EXTRA_ARGS=(--feed-history 16) # the history ring wraps during the workload
fs_start
exe=$(readlink "/proc/$FS_PID/exe")
[[ $exe == *memcheck* ]] || fail "the daemon does not run under valgrind (exe $exe)"
M=$MNT
echo 'hostname: a' >"$M/lxc/100.conf"
assert_content "$M/lxc/100.conf" $'hostname: a\n'
echo 'memory: 512' >>"$M/lxc/100.conf"
sed -i 's/hostname: a/hostname: b/' "$M/lxc/100.conf"
assert_content "$M/lxc/100.conf" $'hostname: b\nmemory: 512\n'
mv "$M/lxc/100.conf" "$M/nodes/other-node-dir-is-refused/100.conf" 2>/dev/null || true
mkdir -p "$M/nodes/n2/lxc"
mv "$M/lxc/100.conf" "$M/nodes/n2/lxc/100.conf"
assert_fails touch "$M/qemu-server/100.conf"
mkdir "$M/priv/lock/x"
assert_fails mkdir "$M/priv/lock/x"
rmdir "$M/priv/lock/x"
cat "$M/.vmlist" "$M/.members" "$M/.version" "$M/.clusterlog" >/dev/null
ls -laR "$M" >/dev/null
touch -d @1000 "$M/nodes/n2/lxc/100.conf"
truncate -s 3 "$M/nodes/n2/lxc/100.conf"
assert_fails chmod 600 "$M/nodes/n2/lxc/100.conf"
assert_fails ln "$M/nodes/n2/lxc/100.conf" "$M/x"
assert_fails ln -s x "$M/y"
head -c 2000000 /dev/zero >"$M/big" 2>/dev/null && fail "a 2 MB file was accepted"
rm -f "$M/big"
cp "$M/.members" "$M/members.copy"
rm "$M/members.copy"
# the IPC: status, cluster log, watch (replay, live, history overflow),
# listing, garbage; a watcher still connected at SIGTERM
if [[ -x ${PMXCFS_WATCH:-} && -x ${PVECM:-} && -x ${PMXCFS_LOG:-} && -x ${IPC_GARBAGE:-} ]]; then
	"$PVECM" status >/dev/null
	"$PMXCFS_LOG" append -t vg "valgrind run"
	"$PMXCFS_LOG" read >/dev/null
	"$PMXCFS_WATCH" --from 1 --timeout 30 "" >/dev/null 2>&1 || true # resync: history gone
	"$PMXCFS_WATCH" --list --timeout 1 nodes/ >/dev/null 2>&1 || true
	"$PMXCFS_WATCH" --timeout 60 "" >"$FS_TMP/w.out" 2>"$FS_TMP/w.err" &
	FS_PIDS+=($!)
	fs_wait_for "the watcher" grep -q watching "$FS_TMP/w.err"
	for i in $(seq 1 40); do echo "$i" >"$M/feed$i"; done
	fs_wait_for "the watcher's changes" grep -q "put feed40" "$FS_TMP/w.out"
	"$IPC_GARBAGE" >/dev/null
else
	fail "PMXCFS_WATCH, PVECM, PMXCFS_LOG and IPC_GARBAGE must be set"
fi
# a reader and a writer still open at SIGTERM: freed at shutdown
exec {rfd}<"$M/nodes/n2/lxc/100.conf"
exec {wfd}>"$M/open-writer.cfg"
echo unfinished >&"$wfd"
fs_stop # exit 0 (99 would be valgrind's verdict) and no mount left
exec {rfd}<&- {wfd}>&-
if grep -q '==[0-9]*==' "$FS_LOG"; then
	fs_log_tail
	fail "valgrind reported problems (see above)"
fi
echo "valgrind: no errors, no leaks"
