#!/usr/bin/env bash
#
# tests/bench/fuse-requests.sh - count the FUSE requests the kernel sends to
# pmxcfs for one small-file operation of each kind (read of an unchanged
# file, overwrite, create, rename, unlink): the numbers that tell where a
# small-file operation's time goes.
#
#   BUILD_DIR=/work/main/build tests/bench/fuse-requests.sh
#
# Starts a private pmxcfs (see lib.sh), attaches `strace -f` to it (needs
# strace and python3), runs the scenarios of fuse_requests.py on the mount,
# detaches, and decodes the opcode of every request the daemon read from
# /dev/fuse (and the invalidation notifications it wrote back).  strace
# makes the daemon slow, so nothing here is timed.  Not a CTest test.
# FUSE_REQ_TRACE=FILE keeps a copy of the raw strace log.  BENCH_FS=floor
# traces fuse_floor instead (the requests any FUSE daemon with pmxcfs's
# FUSE set-up gets, without pmxcfs's invalidation notifications).

set -euo pipefail

here=$(dirname "$0")
: "${BUILD_DIR:=$here/../../build}"
# used by lib.sh
# shellcheck disable=SC2034
PMXCFS=$BUILD_DIR/pmxcfs/pmxcfs
# shellcheck disable=SC2034
FUSE_FLOOR=$BUILD_DIR/tests/bench/fuse_floor
# shellcheck source=lib.sh disable=SC1091
. "$here/lib.sh"

command -v strace >/dev/null || die "strace is needed"
command -v python3 >/dev/null || die "python3 is needed"
bench_init
if [[ ${BENCH_FS:-pmxcfs} == floor ]]; then
	bench_start_floor
	echo "# fuse_floor (NOT pmxcfs)"
else
	# shellcheck disable=SC2119 # no extra daemon arguments here
	bench_start
fi

trace=$WORK/strace.log
strace -f -qq -xx -s 96 -y -e trace=read,writev -e signal=none -o "$trace" -p "$PID" &
spid=$!
BENCH_CHILDREN+=("$spid")
# wait until every thread of the daemon is traced
deadline=$(($(now_us) + BENCH_TIMEOUT * 1000000))
while :; do
	all=1
	for st in /proc/"$PID"/task/*/status; do
		tp=$(awk '$1 == "TracerPid:" { print $2 }' "$st" 2>/dev/null) || tp=
		[[ -z $tp || $tp == "$spid" ]] || all=0
	done
	((all)) && break
	alive "$spid" || die "strace exited"
	(($(now_us) > deadline)) && die "strace did not attach within ${BENCH_TIMEOUT}s"
	sleep 0.05
done

python3 "$here/fuse_requests.py" client "$MNT"

kill -INT "$spid"
wait_exit "$spid" "$BENCH_TIMEOUT" || die "strace did not detach"
bench_stop
if [[ -n ${FUSE_REQ_TRACE:-} ]]; then
	cp -- "$trace" "$FUSE_REQ_TRACE"
fi
echo "FUSE requests per operation (kernel -> pmxcfs), from $(wc -l <"$trace") strace lines:"
python3 "$here/fuse_requests.py" parse "$trace"
