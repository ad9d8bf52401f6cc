#!/usr/bin/env bash
#
# tests/bench/run-pct.sh - the documented container start benchmark.
#
#   tests/bench/run-pct.sh [--runs N]
#
# Builds an optimised build of its own (build-bench/, unless BUILD_DIR is
# set), starts a private local-mode pmxcfs as /etc/pve (PVE_ETC), a dir
# storage and the busybox template in its work directory (needs root), and
# then N times (default 20), with container id 990:
#
#   1. pct create 990 (busybox template, 128 MiB raw image)
#   2. pct start 990 - returns once LXC reports RUNNING (init runs)
#   3. pct stop 990
#   4. the baseline, the same container by hand: the image mounted on the
#      host (pct mount, not timed), then lxc-start with the LXC config pct
#      generated, until lxc-wait sees RUNNING, and lxc-stop -k
#   5. pct unmount, pct destroy (not timed)
#
# Every figure is wall-clock time of the whole command (process start
# included), measured in the same run, so the ratio is what counts:
#
#   goal: pct start p50 <= 1.5 x (lxc-start + lxc-wait) p50
#
# pct start does more than lxc-start: it reads the config from pmxcfs,
# applies pending changes, checks bridges, creates a mount namespace with
# /sys and the cgroups, loop-mounts the image and writes the LXC config.
# The goal is printed as PASS/MISS; it never changes the exit status (1
# means an operation failed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
RUNS=20
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
	esac
done

if [[ -z ${BUILD_DIR:-} ]]; then
	BUILD_DIR=$src/build-bench
	cmake -S "$src" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target pmxcfs pct pveam >/dev/null
fi
export PMXCFS=$BUILD_DIR/pmxcfs/pmxcfs # lib.sh starts it
PCT=$BUILD_DIR/ctmgr/pct
PVEAM=$BUILD_DIR/ctmgr/pveam
for f in "$PCT" "$PVEAM"; do
	[[ -x $f ]] || { echo "$0: $f is missing: build first" >&2; exit 1; }
done
command -v lxc-start >/dev/null || { echo "$0: lxc-start is missing (apt install lxc)" >&2; exit 1; }

# shellcheck source=lib.sh disable=SC1091
. "$here/lib.sh"
ID=990

pct_bench_exit() {
	local rc=$?
	set +e
	if [[ -n ${PCT_LXC_PATH:-} ]]; then
		lxc-stop -P "$PCT_LXC_PATH" -n "$ID" -k >/dev/null 2>&1
		"$PCT" unmount "$ID" >/dev/null 2>&1
		"$PCT" destroy "$ID" --force >/dev/null 2>&1
	fi
	(exit "$rc")
	bench_cleanup
}

bench_init
trap pct_bench_exit EXIT
chmod 755 "$WORK"
bench_start
export PVE_ETC=$MNT PVE_STORAGE_DEFAULT_PATH=$WORK/vz PCT_LXC_PATH=$WORK/lxc PCT_LOCK_DIR=$WORK/lock
mkdir -p "$PCT_LXC_PATH"
"$PVEAM" build busybox >/dev/null

# timed CMD...: run CMD (output discarded, failure fatal), its time in T (us)
T=0
timed() {
	local t0 out
	t0=$(now_us)
	out=$("$@" 2>&1) || die "$* failed: $out"
	T=$(($(now_us) - t0))
}

CREATE=() START=() STOP=() LSTART=() LSTOP=()
for ((i = 0; i < RUNS; i++)); do
	timed "$PCT" create "$ID" local:vztmpl/busybox.tar.zst --rootfs local:0.125 --memory 128
	CREATE+=("$T")
	timed "$PCT" start "$ID"
	START+=("$T")
	[[ $("$PCT" exec "$ID" -- cat /proc/1/comm) == init ]] || die "init does not run in CT $ID"
	timed "$PCT" stop "$ID"
	STOP+=("$T")
	# the baseline: the same rootfs and LXC config, by hand
	"$PCT" mount "$ID" >/dev/null
	timed sh -c "lxc-start -P '$PCT_LXC_PATH' -n $ID && lxc-wait -P '$PCT_LXC_PATH' -n $ID -s RUNNING -t 10"
	LSTART+=("$T")
	timed lxc-stop -P "$PCT_LXC_PATH" -n "$ID" -k
	LSTOP+=("$T")
	"$PCT" unmount "$ID" >/dev/null
	"$PCT" destroy "$ID" >/dev/null
done

p50() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }

c=$(p50 "${CREATE[@]}") s=$(p50 "${START[@]}") t=$(p50 "${STOP[@]}")
ls=$(p50 "${LSTART[@]}") lt=$(p50 "${LSTOP[@]}")
echo "container start benchmark: busybox template, $RUNS runs, p50 of each (wall clock, whole command)"
printf '  %-44s %s\n' "pct create (128 MiB image, unpack)" "$(ms "$c")"
printf '  %-44s %s\n' "pct start (until RUNNING)" "$(ms "$s")"
printf '  %-44s %s\n' "baseline: lxc-start + lxc-wait RUNNING" "$(ms "$ls")"
printf '  %-44s %s\n' "pct stop" "$(ms "$t")"
printf '  %-44s %s\n' "baseline: lxc-stop -k" "$(ms "$lt")"
ratio=$(awk -v a="$s" -v b="$ls" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.5) ? "PASS" : "MISS" }')
echo "goal: pct start p50 <= 1.5 x lxc-start p50: ratio $ratio $verdict"
echo "      pct stop / lxc-stop -k: $(awk -v a="$t" -v b="$lt" 'BEGIN { printf "%.2f", a / b }')"
bench_stop
