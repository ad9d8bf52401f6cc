#!/usr/bin/env bash
#
# tests/fs/ipc_test.sh - pmxcfs's IPC (change feed, status, cluster log) on
# one real local-mode daemon with a real FUSE mount, driven by the real
# client tools (pmxcfs-watch, pvecm, pmxcfs-log) and ipc_garbage.
#
#   PMXCFS_BIN=... PMXCFS_WATCH=... PVECM=... PMXCFS_LOG=... IPC_GARBAGE=... \
#       bash tests/fs/ipc_test.sh CASE
#
# Every case starts its own daemon with its own IPC name (lib.sh exports
# PMXCFS_IPC_NAME), so the cases run side by side.  Registered as CTest
# tests ipc.<case> by shell_tests.cmake.  Run as root.

set -euo pipefail

# shellcheck source=lib.sh disable=SC1091
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

[[ ${1:-} == --list ]] || for v in PMXCFS_WATCH PVECM PMXCFS_LOG IPC_GARBAGE; do
	[[ -x ${!v:-} ]] || { echo "$v is not set to an executable" >&2; exit 2; }
done

# watch_start NAME ARGS...: pmxcfs-watch ARGS in the background, output to
# $FS_TMP/NAME.out (stderr NAME.err); waits until it is watching.
watch_start() {
	local name=$1
	shift
	"$PMXCFS_WATCH" "$@" >"$FS_TMP/$name.out" 2>"$FS_TMP/$name.err" &
	WATCH_PID=$!
	FS_PIDS+=("$WATCH_PID")
	fs_wait_for "watcher $name" grep -q -e "watching" -e "cannot" "$FS_TMP/$name.err"
	grep -q "watching" "$FS_TMP/$name.err" || fail "watcher $name: $(cat "$FS_TMP/$name.err")"
}

# The ops and paths of a watcher's output, without versions.
ops_of() { cut -d' ' -f2- "$FS_TMP/$1.out"; }

# The database version pvecm reports.
db_version() { "$PVECM" status | sed -n 's/^Version: *//p'; }

# Every local operation is reported once, in order, with growing versions.
t_watch_ops() {
	fs_init
	fs_start
	local v0
	v0=$(db_version)
	watch_start w --count 11 ""
	echo one >"$MNT/a.conf"              # create, put
	echo two >>"$MNT/a.conf"             # put
	mkdir "$MNT/d"                       # mkdir
	mv "$MNT/a.conf" "$MNT/d/b.conf"     # rename-from, rename-to
	touch -d @1700000000 "$MNT/d/b.conf" # mtime
	rm "$MNT/d/b.conf"                   # delete
	rmdir "$MNT/d"                       # rmdir
	echo x >"$MNT/c.conf"                # create, put
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "the watcher did not get 11 changes"
	assert_eq 0 "$FS_RC" "watcher exit status"
	assert_eq "create a.conf
put a.conf
put a.conf
mkdir d
rename-from a.conf d/b.conf
rename-to d/b.conf a.conf
mtime d/b.conf
delete d/b.conf
rmdir d
create c.conf
put c.conf" "$(ops_of w)" "the reported changes"
	# versions: one per op, from the start on; both halves of a rename share one
	local vs
	vs=$(cut -d' ' -f1 "$FS_TMP/w.out" | tr '\n' ' ')
	assert_eq "$((v0 + 1)) $((v0 + 2)) $((v0 + 3)) $((v0 + 4)) $((v0 + 5)) $((v0 + 5)) $((v0 + 6)) $((v0 + 7)) $((v0 + 8)) $((v0 + 9)) $((v0 + 10)) " \
		"$vs" "the versions of the changes"
	assert_eq "$((v0 + 10))" "$(db_version)" "database version after the ops"
	# a watch on a prefix sees only what is under it
	watch_start p --count 2 "sub/"
	echo 1 >"$MNT/outside.conf"
	mkdir "$MNT/sub"
	echo 2 >"$MNT/sub/in.conf"
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "the prefix watcher did not get 2 changes"
	assert_eq "create sub/in.conf
put sub/in.conf" "$(ops_of p)" "changes under sub/"
	# --list: the entries, then the changes after the listing
	watch_start l --list --count 1 "sub/"
	assert_contains "$(cat "$FS_TMP/l.out")" "entry sub/in.conf" "the listing"
	rm "$MNT/sub/in.conf"
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "the listing watcher got no change"
	assert_eq "delete sub/in.conf" "$(tail -1 "$FS_TMP/l.out" | cut -d' ' -f2-)" "change after --list"
	fs_stop
}

# A watcher restarted with --from gets exactly what it missed; a version the
# daemon no longer has, or never had, gets "resync needed".
t_resume() {
	fs_init
	FS_EXTRA_ARGS=(--feed-history 64)
	fs_start
	local v0 last i
	watch_start a --count 4 ""
	for i in 1 2 3 4 5 6; do echo "$i" >"$MNT/r$i"; done # 12 changes
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "first watcher did not finish"
	last=$(tail -1 "$FS_TMP/a.out" | cut -d' ' -f1)
	watch_start b --from "$last" --count 8 ""
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "the resumed watcher did not get 8 changes"
	assert_eq "$(seq $((last + 1)) $((last + 8)) | tr '\n' ' ')" \
		"$(cut -d' ' -f1 "$FS_TMP/b.out" | tr '\n' ' ')" "versions after resuming from $last"
	assert_eq "create r3" "$(head -1 "$FS_TMP/b.out" | cut -d' ' -f2-)" "first change after resuming"
	assert_eq "put r6" "$(tail -1 "$FS_TMP/b.out" | cut -d' ' -f2-)" "last change after resuming"
	# history of 64 changes: 100 more writes push version v0 out
	v0=$(db_version)
	for i in $(seq 1 50); do echo "$i" >"$MNT/h$i"; done
	local rc=0 out
	out=$("$PMXCFS_WATCH" --from "$v0" --timeout 5 "" 2>/dev/null) || rc=$?
	assert_eq 3 "$rc" "exit status of a watch from a forgotten version"
	assert_eq "$(db_version) resync history-gone" "$out" "output of a watch from a forgotten version"
	rc=0
	out=$("$PMXCFS_WATCH" --from "$(($(db_version) + 5))" --timeout 5 "" 2>/dev/null) || rc=$?
	assert_eq 3 "$rc" "exit status of a watch from a future version"
	assert_eq "$(db_version) resync version-unknown" "$out" "a watch from a future version"
	# a restart forgets the history, but the current version still resumes
	local vnow
	vnow=$(db_version)
	fs_restart
	assert_eq "$vnow" "$(db_version)" "version after restart"
	watch_start c --from "$vnow" --count 1 ""
	echo after >"$MNT/after"
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "watch from the current version after restart"
	assert_eq "$((vnow + 1)) create after" "$(cat "$FS_TMP/c.out")" "change after restart"
	rc=0
	out=$("$PMXCFS_WATCH" --from "$((vnow - 1))" --timeout 5 "" 2>/dev/null) || rc=$?
	assert_eq 3 "$rc" "watch from before the restart"
	assert_contains "$out" "resync history-gone" "watch from before the restart"
	fs_stop
}

# Garbage on one connection cuts only that one; the others are served.
t_garbage() {
	fs_init
	fs_start
	watch_start w --count 1 ""
	"$IPC_GARBAGE" >"$FS_TMP/garbage.out" 2>&1 || fail "ipc_garbage: $(cat "$FS_TMP/garbage.out")"
	echo after >"$MNT/after-garbage"
	fs_wait_exit "$WATCH_PID" "$FS_TIMEOUT" || fail "the watcher stopped getting changes"
	assert_contains "$(cat "$FS_TMP/w.out")" "create after-garbage" "change seen by the watcher"
	fs_alive "$FS_PID" || fail "pmxcfs died"
	assert_contains "$(cat "$FS_LOG")" "malformed request" "the log names the bad client"
	assert_contains "$(cat "$FS_LOG")" "bad watch request" "the log names the bad request"
	"$PVECM" status >/dev/null || fail "pvecm status after the garbage"
	fs_stop
}

# Root only by default; --ipc-group lets a group in (primary or supplementary).
t_permissions() {
	fs_init
	fs_start
	local out rc=0
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PVECM" status 2>&1) || rc=$?
	assert_eq 1 "$rc" "pvecm as nobody"
	assert_contains "$out" "Permission denied" "pvecm as nobody"
	fs_stop
	local gid
	gid=$(getent group www-data | cut -d: -f3)
	FS_EXTRA_ARGS=(--ipc-group www-data)
	fs_start
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PVECM" status >/dev/null 2>&1 &&
		fail "nobody without the group was let in"
	out=$(setpriv --reuid=65534 --regid=65534 --groups="$gid" "$PVECM" status 2>&1) ||
		fail "a supplementary member of www-data was refused: $out"
	assert_contains "$out" "Version:" "pvecm status as a member of www-data"
	out=$(setpriv --reuid=65534 --regid="$gid" --clear-groups "$PMXCFS_LOG" read 2>&1) ||
		fail "a primary member of www-data was refused: $out"
	fs_stop
}

# No daemon, or a second daemon with the same IPC name: clear errors.
t_errors() {
	fs_init
	local out rc=0
	out=$("$PVECM" status 2>&1) || rc=$?
	assert_eq 1 "$rc" "pvecm without pmxcfs"
	assert_contains "$out" "is pmxcfs running?" "pvecm without pmxcfs"
	rc=0
	out=$("$PMXCFS_WATCH" "" 2>&1) || rc=$?
	assert_eq 1 "$rc" "pmxcfs-watch without pmxcfs"
	assert_contains "$out" "cannot connect to pmxcfs" "pmxcfs-watch without pmxcfs"
	fs_start
	mkdir -p "$FS_TMP/mnt2"
	rc=0
	out=$("$PMXCFS_BIN" -f -l --mountpoint "$FS_TMP/mnt2" --db "$FS_TMP/db2/config.db" 2>&1) || rc=$?
	assert_ne 0 "$rc" "exit status of a second daemon with the same IPC name"
	assert_contains "$out" "IPC name '$PMXCFS_IPC_NAME' is in use" "second daemon's message"
	fs_mounted "$FS_TMP/mnt2" && fail "the refused daemon left a mount"
	"$PVECM" status >/dev/null || fail "the first daemon stopped serving"
	out=$("$PMXCFS_WATCH" /abs 2>&1) && fail "an absolute prefix was accepted"
	assert_contains "$out" "no leading '/'" "absolute prefix"
	fs_stop
}

# The cluster log: append, read, bounded, shown in .clusterlog.
t_clusterlog() {
	fs_init
	fs_start
	"$PMXCFS_LOG" append -t mytag -p warning -u admin@pve 'hello "quoted" world'
	local out
	out=$("$PMXCFS_LOG" read -n 5)
	assert_contains "$out" "mytag[" "log read"
	assert_contains "$out" 'warning admin@pve: hello "quoted" world' "log read"
	assert_json "$MNT/.clusterlog"
	assert_contains "$(cat "$MNT/.clusterlog")" '"msg": "hello \"quoted\" world"' ".clusterlog"
	local i
	for i in $(seq 1 1100); do echo "append -t bulk m$i"; done |
		while read -r _ _ t m; do "$PMXCFS_LOG" append -t "$t" "$m"; done
	out=$("$PMXCFS_LOG" read -n 1024)
	assert_eq 1024 "$(wc -l <<<"$out")" "entries kept"
	assert_contains "$(tail -1 <<<"$out")" "m1100" "the newest entry"
	grep -q ": m76$" <<<"$out" && fail "entry m76 should have been dropped"
	grep -q ": m77$" <<<"$out" || fail "entry m77 should be kept"
	"$PMXCFS_LOG" append -p bogus x 2>/dev/null && fail "a bad priority was accepted"
	fs_stop
}

fs_run_case ipc "$@"
