#!/usr/bin/env bash
#
# tests/bench/run-smallfile.sh - the documented small-file benchmark run.
#
#   tests/bench/run-smallfile.sh [bench_smallfile options...]
#   e.g.  BUILD_DIR=/work/main/build tests/bench/run-smallfile.sh --files 1000
#
# Uses an existing build (it builds nothing): $BUILD_DIR (default: the
# repository's build/ next to this script) must hold pmxcfs/pmxcfs and
# tests/bench/bench_smallfile (`make -C "$BUILD_DIR" bench_smallfile`).
# Needs root (FUSE mount).
#
# It starts `pmxcfs -f -l` on a fresh `mktemp -d` mount point with its
# database on the normal disk (a `mktemp -d` work dir under $BENCH_TMPDIR,
# default /var/tmp), uses a plain directory in that work dir as the baseline
# (a local directory, no fsync anywhere: that is the reference comparison),
# runs bench_smallfile --dir MOUNT --baseline DIR with the arguments given
# here, stops pmxcfs with SIGTERM (it must exit 0 and unmount) and removes
# everything it created.  The EXIT trap kills only the pmxcfs it started (by
# pid) and `umount -l`s only its own mount point (see lib.sh).
#
# Extra daemon arguments can be given in PMXCFS_EXTRA_ARGS (word-split).
# BENCH_FS=floor runs the same on fuse_floor (a minimal in-memory FUSE file
# system with pmxcfs's FUSE set-up) instead of pmxcfs: the floor that any
# FUSE daemon has on this machine (the "pmxcfs" columns are then fuse_floor).
#
# The numbers are noisy on a small shared VM; two knobs help to see why:
#   taskset -c 0 tests/bench/run-smallfile.sh   daemon and benchmark on one
#       CPU (no cross-CPU wake-ups: FUSE round trips get about 2x cheaper)
#   BENCH_TMPDIR=/dev/shm tests/bench/run-smallfile.sh   database (and
#       baseline) on tmpfs: fsync costs nothing, what is left is FUSE + daemon
# See also bench_sqlite_commit (the commit floor) and fuse-requests.sh.
#
# Exit status: bench_smallfile's (1: an operation failed or a read returned
# wrong content), or 1 when the daemon misbehaves.  Timing goals are
# printed as PASS/MISS and never fail the run.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z ${BUILD_DIR:-} ]]; then
	# the documented command: an optimised build of its own, made (or
	# brought up to date) here
	BUILD_DIR=$here/../../build-bench
	cmake -S "$here/../.." -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target pmxcfs bench_smallfile bench_sqlite_commit \
		fuse_floor >/dev/null
fi
# used by lib.sh
# shellcheck disable=SC2034
PMXCFS=$BUILD_DIR/pmxcfs/pmxcfs
# shellcheck disable=SC2034
FUSE_FLOOR=$BUILD_DIR/tests/bench/fuse_floor
BENCH=$BUILD_DIR/tests/bench/bench_smallfile
# shellcheck source=lib.sh disable=SC1091
. "$here/lib.sh"

[[ -x $BENCH ]] || die "$BENCH is missing: build first (make -C $BUILD_DIR bench_smallfile)"
bench_init
mkdir -- "$WORK/baseline"
if [[ ${BENCH_FS:-pmxcfs} == floor ]]; then
	bench_start_floor
	echo "# fuse_floor (NOT pmxcfs) pid $PID on $MNT; baseline $WORK/baseline"
else
	# shellcheck disable=SC2086 # PMXCFS_EXTRA_ARGS is word-split on purpose
	bench_start ${PMXCFS_EXTRA_ARGS:-}
	echo "# pmxcfs pid $PID on $MNT, database $WORK/db/config.db; baseline $WORK/baseline"
fi
rc=0
"$BENCH" --dir "$MNT" --baseline "$WORK/baseline" "$@" || rc=$?

bench_stop

# The durability floor in the same run, on the same disk: one SQLite WAL
# commit with synchronous=FULL per write is what an overwrite cannot beat.
COMMIT=$BUILD_DIR/tests/bench/bench_sqlite_commit
if [[ -x $COMMIT && ${BENCH_FS:-pmxcfs} != floor ]]; then
	echo
	echo "# the commit floor on $WORK's disk (same run):"
	"$COMMIT" --dir "$WORK" --commits 1000 | grep -E '^(mode|-|sqlite WAL synchronous=FULL|raw)'
fi
exit "$rc"
