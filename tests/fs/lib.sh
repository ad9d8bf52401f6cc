# shellcheck shell=bash
#
# tests/fs/lib.sh - helpers for the shell tests that drive a real pmxcfs mount
# with ordinary tools (bash redirections, cp, mv, sed, vim, ...).
#
# Source it from a test script that runs with `set -euo pipefail`.  It needs
# PMXCFS_BIN (the daemon to test) and must run as root (FUSE mount).
#
#   fs_init                 fresh `mktemp -d` work dir (in $FS_TMPDIR, default
#                           /var/tmp), sets the globals below and installs
#                           the EXIT trap (fs_cleanup)
#   fs_start                start pmxcfs -f -l on MNT/DB/NODE (plus the
#                           FS_EXTRA_ARGS array), wait (polling, with a
#                           deadline) until the mount answers
#   fs_stop [SIG]           SIGTERM (or SIG), wait for exit; asserts exit 0
#                           and that the mount is gone
#   fs_kill9                SIGKILL; asserts the mount is left stale (ENOTCONN)
#   fs_restart              fs_stop + fs_start (no extra arguments)
#   fs_spawn OUT ARGS...    run pmxcfs with ARGS in the background, output to
#                           OUT; its pid goes to FS_SPAWNED (and is tracked)
#   fs_wait_exit PID SECS   wait for a child to exit; its status in FS_RC
#   fs_wait_for WHAT CMD... poll until CMD succeeds (deadline FS_TIMEOUT)
#   fs_cleanup              (EXIT trap) kills our daemons by pid, `umount -l`s
#                           only our own mount points, removes the work dir
#
# Globals: FS_TMP (work dir), MNT (mount point), DB (database file), NODE,
# FS_LOG (daemon output), FS_PID (running daemon or empty).
#
# Synchronisation is always by polling a condition against a deadline
# (FS_TIMEOUT seconds, default 20); there are no fixed sleeps.

: "${FS_TIMEOUT:=20}"
# our own IPC service name: test daemons run side by side with each other
# (and with a real pmxcfs), and clients started here find this one
export PMXCFS_IPC_NAME="${PMXCFS_IPC_NAME:-fstest$$}"
FS_TMP=
MNT=
DB=
NODE=n1
FS_LOG=
FS_PID=
FS_RC=0
FS_SPAWNED=
FS_EXTRA_ARGS=() # more daemon arguments for fs_start (e.g. -d)
FS_PIDS=()   # every daemon/helper we started (killed by pid at exit if alive)
FS_MOUNTS=() # every mount point we used (umount -l'd at exit if still mounted)

# ---- reporting and assertions ----

fs_log_tail() {
	if [[ -n $FS_LOG && -s $FS_LOG ]]; then
		echo "---- pmxcfs output ($FS_LOG) ----" >&2
		tail -n 40 "$FS_LOG" >&2
		echo "----" >&2
	fi
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

note() {
	echo "# $*"
}

# Show a string unambiguously (newlines, control bytes) on one line.
fs_show() {
	printf '%q' "$1"
}

assert_eq() { # expected actual [what]
	if [[ "$1" != "$2" ]]; then
		fail "${3:-value}: expected $(fs_show "$1"), got $(fs_show "$2")"
	fi
}

assert_ne() { # unexpected actual [what]
	if [[ "$1" == "$2" ]]; then
		fail "${3:-value}: expected anything but $(fs_show "$1")"
	fi
}

assert_contains() { # haystack needle [what]
	if [[ "$1" != *"$2"* ]]; then
		fail "${3:-text}: expected to contain $(fs_show "$2"), got $(fs_show "$1")"
	fi
}

# Read a file exactly (keeps trailing newlines); prints nothing on error.
fs_read() {
	local s
	s=$(cat -- "$1" && printf x) || return 1
	printf '%s' "${s%x}"
}

assert_content() { # file expected-content
	local got
	got=$(fs_read "$1" && printf x) || fail "cannot read $1"
	got=${got%x}
	if [[ "$got" != "$2" ]]; then
		fail "content of $1: expected $(fs_show "$2"), got $(fs_show "$got")"
	fi
}

assert_same_file() { # expected-file actual-file
	cmp -- "$1" "$2" >/dev/null 2>&1 ||
		fail "$2 differs from $1 (sizes $(stat -c %s -- "$1" 2>&1) vs $(stat -c %s -- "$2" 2>&1))"
}

assert_exists() {
	[[ -e $1 ]] || fail "$1: expected to exist, it does not"
}

assert_not_exists() {
	if [[ -e $1 || -L $1 ]]; then
		fail "$1: expected not to exist, it does"
	fi
}

# Run a command that must succeed; shows its output when it does not.
assert_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if ((rc != 0)); then
		fail "expected success (exit 0) from: $*; got exit $rc: $out"
	fi
}

# assert_fails [-m MESSAGE] CMD...: CMD must exit non-zero (and print MESSAGE).
# The command's combined output is left in FS_OUT.
FS_OUT=
assert_fails() {
	local msg='' rc=0
	if [[ $1 == -m ]]; then
		msg=$2
		shift 2
	fi
	FS_OUT=$("$@" 2>&1) || rc=$?
	if ((rc == 0)); then
		fail "expected failure from: $*; it succeeded (output: $(fs_show "$FS_OUT"))"
	fi
	if [[ -n $msg && $FS_OUT != *"$msg"* ]]; then
		fail "expected failure message containing $(fs_show "$msg") from: $*; got exit $rc: $(fs_show "$FS_OUT")"
	fi
}

# Sorted, one-per-line listing of a directory, dot files included.
fs_ls() {
	(cd -- "$1" && LC_ALL=C ls -A1) | LC_ALL=C sort
}

# assert_dir_entries DIR NAME...: DIR holds exactly these names.
assert_dir_entries() {
	local dir=$1 want got
	shift
	want=$(if (($#)); then printf '%s\n' "$@" | LC_ALL=C sort; fi)
	got=$(fs_ls "$dir")
	if [[ "$want" != "$got" ]]; then
		fail "entries of $dir: expected [$(echo "$want" | paste -sd' ')], got [$(echo "$got" | paste -sd' ')]"
	fi
}

assert_json() { # file
	local out
	out=$(python3 -c 'import json,sys; json.load(sys.stdin)' <"$1" 2>&1) ||
		fail "$1 is not valid JSON: $out; content: $(fs_show "$(cat -- "$1" 2>&1)")"
}

# ---- process and mount helpers ----

# True while PID is a live (not zombie) process.
fs_alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st%% *} != Z ]]
}

# True when DIR is a pmxcfs FUSE mount (live or stale) in our namespace.
fs_mounted() {
	awk -v m="$1" '$2 == m && $3 == "fuse.pmxcfs" { f = 1 } END { exit !f }' /proc/self/mounts
}

fs_now() {
	printf '%s' "${EPOCHREALTIME/./}"
}

# fs_wait_exit PID SECS: wait until PID exits; FS_RC gets its exit status.
# Returns 1 (leaving the process alone) when it is still running at the deadline.
fs_wait_exit() {
	local pid=$1 deadline
	deadline=$(($(fs_now) + $2 * 1000000))
	while fs_alive "$pid"; do
		if (($(fs_now) > deadline)); then
			return 1
		fi
		sleep 0.05
	done
	FS_RC=0
	wait "$pid" || FS_RC=$?
	return 0
}

# fs_wait_for WHAT CMD...: poll until CMD succeeds; fail (naming WHAT) at the deadline.
fs_wait_for() {
	local what=$1 deadline
	shift
	deadline=$(($(fs_now) + FS_TIMEOUT * 1000000))
	until "$@"; do
		if (($(fs_now) > deadline)); then
			fail "timed out after ${FS_TIMEOUT}s waiting for $what"
		fi
		sleep 0.05
	done
}

fs_track_mount() {
	local m
	for m in "${FS_MOUNTS[@]}"; do
		[[ $m == "$1" ]] && return 0
	done
	FS_MOUNTS+=("$1")
}

# fs_spawn OUTFILE ARGS...: start "$PMXCFS_BIN" ARGS in the background.
fs_spawn() {
	local out=$1
	shift
	# bash starts background commands with SIGINT/SIGQUIT ignored, and libfuse
	# keeps ignored signals ignored: give the daemon default dispositions, as
	# systemd or a terminal would (env execs, so $! is the daemon's pid)
	env --default-signal "$PMXCFS_BIN" "$@" >>"$out" 2>&1 &
	FS_SPAWNED=$!
	FS_PIDS+=("$FS_SPAWNED")
}

fs_init() {
	[[ -n ${PMXCFS_BIN:-} ]] || fail "PMXCFS_BIN is not set"
	[[ -x $PMXCFS_BIN ]] || fail "PMXCFS_BIN=$PMXCFS_BIN is not executable"
	((EUID == 0)) || fail "these tests need root (FUSE mounts)"
	[[ -e /dev/fuse ]] || fail "/dev/fuse is missing"
	# not under /tmp: vim's default 'backupskip' skips backups of /tmp/* files
	FS_TMP=$(mktemp -d -p "${FS_TMPDIR:-/var/tmp}" pmxcfs-tools.XXXXXX)
	FS_TMP=$(cd -- "$FS_TMP" && pwd -P)
	MNT=$FS_TMP/mnt
	DB=$FS_TMP/db/config.db
	FS_LOG=$FS_TMP/pmxcfs.log
	mkdir -p -- "$MNT" "$FS_TMP/work"
	fs_track_mount "$MNT"
	trap fs_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

fs_cleanup() {
	local rc=$? pid m dirty=0
	trap - EXIT
	set +e
	if ((rc != 0)); then
		fs_log_tail
	fi
	for pid in "${FS_PIDS[@]}"; do
		if fs_alive "$pid"; then
			kill -9 "$pid" 2>/dev/null
			fs_wait_exit "$pid" 10
		fi
		# a killed daemon leaves its libqb flight recorder behind
		fs_alive "$pid" || rm -f "/dev/shm/qb-pmxcfs-$pid-blackbox-"{data,header}
	done
	for m in "${FS_MOUNTS[@]}"; do
		if fs_mounted "$m"; then
			umount -l -- "$m" || dirty=1
		fi
	done
	for m in "${FS_MOUNTS[@]}"; do
		fs_mounted "$m" && dirty=1
	done
	if [[ -n $FS_TMP && -d $FS_TMP ]]; then
		if ((dirty == 0)); then
			rm -rf --one-file-system -- "$FS_TMP"
		else
			echo "warning: a mount is still present; leaving $FS_TMP" >&2
		fi
	fi
	exit "$rc"
}

# fs_start: start the daemon on MNT/DB/NODE (plus FS_EXTRA_ARGS) and wait
# until the mount answers (its root holds .version).
fs_start() {
	local deadline
	[[ -z $FS_PID ]] || fail "fs_start: a daemon is already running (pid $FS_PID)"
	echo "== start $(date +%T.%N)" >>"$FS_LOG"
	fs_spawn "$FS_LOG" -f -l --mountpoint "$MNT" --db "$DB" --nodename "$NODE" "${FS_EXTRA_ARGS[@]}"
	FS_PID=$FS_SPAWNED
	deadline=$(($(fs_now) + FS_TIMEOUT * 1000000))
	until fs_mounted "$MNT" && [[ -e $MNT/.version ]]; do
		if ! fs_alive "$FS_PID"; then
			fs_wait_exit "$FS_PID" 1 || true
			FS_PID=
			fail "pmxcfs exited with status $FS_RC before the mount appeared"
		fi
		if (($(fs_now) > deadline)); then
			fail "the mount at $MNT did not appear within ${FS_TIMEOUT}s"
		fi
		sleep 0.05
	done
}

# fs_stop [SIGNAL]: SIGTERM (or SIGNAL); the daemon must exit 0 and leave
# no mount behind.
# shellcheck disable=SC2120 # callers in the test scripts pass SIGNAL
fs_stop() {
	local sig=${1:-TERM}
	[[ -n $FS_PID ]] || fail "fs_stop: no daemon running"
	kill -s "$sig" "$FS_PID"
	fs_wait_exit "$FS_PID" "$FS_TIMEOUT" ||
		fail "pmxcfs (pid $FS_PID) did not exit within ${FS_TIMEOUT}s of SIG$sig"
	FS_PID=
	if fs_mounted "$MNT"; then
		fail "$MNT is still mounted after pmxcfs exited"
	fi
	assert_eq 0 "$FS_RC" "exit status of pmxcfs after SIG$sig"
}

# fs_kill9: SIGKILL; the kernel keeps a dead (ENOTCONN) mount.
fs_kill9() {
	local out
	[[ -n $FS_PID ]] || fail "fs_kill9: no daemon running"
	kill -9 "$FS_PID"
	fs_wait_exit "$FS_PID" "$FS_TIMEOUT" || fail "pmxcfs did not die of SIGKILL"
	FS_PID=
	fs_mounted "$MNT" || fail "expected a stale mount at $MNT after kill -9, there is none"
	out=$(stat -- "$MNT" 2>&1) && fail "stat of the dead mount $MNT succeeded: $out"
	assert_contains "$out" "Transport endpoint is not connected" "stat of the dead mount"
}

fs_restart() {
	fs_stop TERM
	fs_start
}

# The shell test scripts' main: fs_run_case PREFIX ARGS: --list prints the
# cases (the t_* functions), CASE runs t_CASE.
fs_run_case() {
	local prefix=$1
	shift
	if [[ ${1:-} == --list ]]; then
		declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'
		exit 0
	fi
	if [[ $# -ne 1 ]] || ! declare -F "t_$1" >/dev/null; then
		echo "usage: $0 CASE | --list" >&2
		exit 2
	fi
	"t_$1"
	echo "PASS: $prefix.$1"
}
