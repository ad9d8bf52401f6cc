# shellcheck shell=bash
#
# tests/bench/lib.sh - start/stop one private pmxcfs for the benchmark
# scripts.  Source it from a script running with `set -euo pipefail`.
#
#   bench_init          check PMXCFS (the daemon binary), root and /dev/fuse;
#                       make WORK (`mktemp -d` under $BENCH_TMPDIR, default
#                       /var/tmp: the database lives on the normal disk) and
#                       MNT (a fresh `mktemp -d` mount point); install the
#                       EXIT trap (bench_cleanup)
#   bench_start ARGS... start `pmxcfs -f -l` on MNT with WORK/db/config.db
#                       (plus ARGS), output to LOG, pid in PID; poll (with a
#                       deadline) until the mount answers
#   bench_start_floor   the same with fuse_floor (FUSE_FLOOR, a minimal
#                       in-memory FUSE file system; FUSE_FLOOR_ARGS=-s makes
#                       it single-threaded) instead of pmxcfs
#   bench_stop          SIGTERM; pmxcfs must exit 0 and leave no mount
#   bench_cleanup       (EXIT trap) SIGKILLs our daemon (by pid) if still
#                       alive, `umount -l`s only our own mount point, removes
#                       MNT and WORK; shows the daemon's log on failure
#
# Synchronisation is by polling against a deadline ($BENCH_TIMEOUT seconds,
# default 20), never by fixed sleeps.

: "${BENCH_TMPDIR:=/var/tmp}"
: "${BENCH_TIMEOUT:=20}"
export PMXCFS_IPC_NAME="${PMXCFS_IPC_NAME:-bench$$}" # our own IPC name (see tests/fs/lib.sh)
WORK=
MNT=
PID=
LOG=
RC=0
BENCH_CHILDREN=() # other helpers we started (killed by pid at exit)

die() {
	echo "${0##*/}: FAIL: $*" >&2
	exit 1
}

now_us() {
	printf '%s' "${EPOCHREALTIME/./}"
}

alive() { # pid: live and not a zombie
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st%% *} != Z ]]
}

mounted() { # dir: a FUSE mount (pmxcfs or fuse_floor; live or stale) is there
	awk -v m="$1" '$2 == m && ($3 == "fuse.pmxcfs" || $3 == "fuse") { f = 1 } END { exit !f }' \
		/proc/self/mounts
}

# wait_exit PID SECS: 0 when PID exited (its status in RC), 1 at the deadline
wait_exit() {
	local deadline=$(($(now_us) + $2 * 1000000))
	while alive "$1"; do
		(($(now_us) > deadline)) && return 1
		sleep 0.05
	done
	RC=0
	wait "$1" || RC=$?
	return 0
}

bench_cleanup() {
	local rc=$? keep=0 p
	trap - EXIT
	set +e
	if ((rc != 0)) && [[ -n $LOG && -s $LOG ]]; then
		echo "---- pmxcfs output (last lines) ----" >&2
		tail -n 30 "$LOG" >&2
		echo "----" >&2
	fi
	for p in "${BENCH_CHILDREN[@]}"; do
		if alive "$p"; then
			kill -9 "$p" 2>/dev/null
			wait_exit "$p" 10
		fi
	done
	if [[ -n $PID ]] && alive "$PID"; then
		kill -9 "$PID" 2>/dev/null
		wait_exit "$PID" 10
	fi
	# a killed daemon leaves its libqb flight recorder behind
	[[ -n $PID ]] && ! alive "$PID" && rm -f "/dev/shm/qb-pmxcfs-$PID-blackbox-"{data,header}
	if [[ -n $MNT ]]; then
		if mounted "$MNT"; then
			umount -l -- "$MNT" || keep=1
		fi
		if mounted "$MNT"; then
			keep=1
		fi
		if ((keep == 0)); then
			rmdir -- "$MNT"
		else
			echo "${0##*/}: warning: $MNT is still mounted; left it" >&2
		fi
	fi
	if [[ -n $WORK && -d $WORK ]]; then
		rm -rf --one-file-system -- "$WORK"
	fi
	exit "$rc"
}

bench_init() {
	[[ -x ${PMXCFS:-} ]] || die "${PMXCFS:-PMXCFS} is missing: build first"
	((EUID == 0)) || die "needs root (FUSE mount)"
	[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d -p "$BENCH_TMPDIR" pmxcfs-bench.XXXXXX)
	WORK=$(cd -- "$WORK" && pwd -P)
	MNT=$(mktemp -d -t pmxcfs-bench-mnt.XXXXXX)
	MNT=$(cd -- "$MNT" && pwd -P)
	LOG=$WORK/pmxcfs.log
	mkdir -- "$WORK/db"
}

bench_start() {
	local deadline
	# bash starts background jobs with SIGINT/SIGQUIT ignored and libfuse
	# keeps them so: give the daemon default dispositions (env execs: $! is
	# the daemon's pid)
	env --default-signal "$PMXCFS" -f -l --mountpoint "$MNT" --db "$WORK/db/config.db" \
		--nodename bench "$@" >"$LOG" 2>&1 &
	PID=$!
	deadline=$(($(now_us) + BENCH_TIMEOUT * 1000000))
	until mounted "$MNT" && [[ -e $MNT/.version ]]; do
		alive "$PID" || die "pmxcfs exited before the mount appeared"
		(($(now_us) > deadline)) &&
			die "the mount at $MNT did not appear within ${BENCH_TIMEOUT}s"
		sleep 0.05
	done
}

bench_start_floor() {
	local deadline
	[[ -x ${FUSE_FLOOR:-} ]] || die "${FUSE_FLOOR:-FUSE_FLOOR} is missing: build first"
	# shellcheck disable=SC2086 # FUSE_FLOOR_ARGS is word-split on purpose
	env --default-signal "$FUSE_FLOOR" ${FUSE_FLOOR_ARGS:-} "$MNT" >"$LOG" 2>&1 &
	PID=$!
	deadline=$(($(now_us) + BENCH_TIMEOUT * 1000000))
	until mounted "$MNT"; do
		alive "$PID" || die "fuse_floor exited before the mount appeared"
		(($(now_us) > deadline)) &&
			die "the mount at $MNT did not appear within ${BENCH_TIMEOUT}s"
		sleep 0.05
	done
}

bench_stop() {
	kill -TERM "$PID"
	wait_exit "$PID" "$BENCH_TIMEOUT" ||
		die "the daemon (pid $PID) did not exit within ${BENCH_TIMEOUT}s of SIGTERM"
	PID=
	((RC == 0)) || die "the daemon exited with status $RC after SIGTERM"
	! mounted "$MNT" || die "$MNT is still mounted after the daemon exited"
}
