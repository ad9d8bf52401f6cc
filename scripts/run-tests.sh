#!/bin/bash
# run-tests.sh - install dependencies, build everything with -Werror and
# AddressSanitizer+UndefinedBehaviorSanitizer, run the whole CTest suite
# (unit, fs: real FUSE mounts, cluster: real corosync clusters in
# namespaces via cluster-sim, slow), then the daemon under valgrind (a
# plain build: memcheck and the sanitizers do not mix), then build the
# libFuzzer targets with clang and run each for a short time.  Prints the CTest summaries; exits
# non-zero when anything failed.  Run as root.
#
# environment: PVE_FUZZ_SECONDS (default 20), CTEST_PARALLEL (default 2)
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
"$SRC/scripts/install-deps.sh" || exit 1

BUILD="$SRC/build-test"
FUZZ_BUILD="$SRC/build-fuzz"
VG_BUILD="$SRC/build-valgrind"
FUZZ_SECONDS=${PVE_FUZZ_SECONDS:-20}
JOBS=${CTEST_PARALLEL:-2}
status=0

cleanup() {
	# our own leftovers only: daemons run from our build trees, and the
	# mounts and work directories of our tests (named by tests/fs/lib.sh,
	# tests/fs/fs_harness.c and tests/bench/lib.sh), which a test killed at
	# its CTest timeout could not remove itself
	for pid in $(pgrep -x pmxcfs 2>/dev/null); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
		case "$exe" in
		"$BUILD"/*|"$FUZZ_BUILD"/*|"$VG_BUILD"/*) kill -9 "$pid" 2>/dev/null || true ;;
		esac
	done
	# containers of our container tests (tests/ctmgr/lxc_test.sh,
	# tests/cluster/ct_cluster_test.sh: their lxcpath is in the test's work
	# directory) and the network namespaces they ran in (pcttest<pid>);
	# LXC's command socket is per network namespace: stop from the monitor's
	# Only those of tests that are over: the work directory's pmxcfs mount
	# is dead or gone (lxc_test.sh), the cluster is gone (ct_cluster_test.sh),
	# the namespace's test process is gone.
	for pid in $(pgrep -f '^\[lxc monitor\] ' 2>/dev/null); do
		read -r _ _ path name < <(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		case "$path" in
		/var/tmp/pmxcfs-tools.*/lxc) stat -- "${path%/lxc}/mnt/.version" >/dev/null 2>&1 && continue ;;
		/tmp/cluster-test.*/lxc) [ -d "$path" ] && [ -n "$("$SRC/cluster-sim/cluster-sim" list 2>/dev/null)" ] && continue ;;
		*) continue ;;
		esac
		nsenter -t "$pid" -n lxc-stop -P "$path" -n "$name" -k >/dev/null 2>&1 || true
	done
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^pcttest[0-9]+$/ { print $1 }'); do
		kill -0 "${ns#pcttest}" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
	done
	# clusters of our cluster tests (tests/cluster: names ct<pid>, cm<pid>, fd<pid>, vg<pid>, simtest*)
	# that a test killed at its CTest timeout could not take down itself
	for c in $("$SRC/cluster-sim/cluster-sim" list 2>/dev/null); do
		case "$c" in
		ct[0-9]*|cm[0-9]*|fd[0-9]*|vg[0-9]*|simtest*) "$SRC/cluster-sim/cluster-sim" --name "$c" down >/dev/null 2>&1 || true ;;
		esac
	done
	# a dead daemon's mount (ENOTCONN) of our tests, and its work directory;
	# live mounts (another run's) are left alone
	awk '$3 == "fuse.pmxcfs" || $3 == "fuse" { print $2 }' /proc/self/mounts |
		grep -E '^(/var/tmp/pmxcfs-tools\.[^/]+/mnt|/tmp/pmxcfs-fs-[^/]+/mnt|/tmp/pmxcfs-bench-mnt\.[^/]+)$' |
		while read -r m; do
			if ! stat -- "$m" >/dev/null 2>&1; then
				umount -l -- "$m" 2>/dev/null || continue
				case "$m" in
				*/mnt) rm -rf --one-file-system -- "${m%/mnt}" ;;
				*) rmdir -- "$m" 2>/dev/null ;;
				esac
			fi
		done
	return 0
}
trap cleanup EXIT

echo "== build (gcc, -Werror, ASan+UBSan)"
cmake -S "$SRC" -B "$BUILD" -DPVE_WERROR=ON -DPVE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
make -C "$BUILD" -j"$(nproc)" >/dev/null || { make -C "$BUILD" 2>&1 | tail -30; exit 1; }

echo "== tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD" && ctest --no-tests=error --output-on-failure -j"$JOBS") || status=1

echo "== valgrind (plain build, memcheck)"
cmake -S "$SRC" -B "$VG_BUILD" -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 1
VG_TARGETS=(pmxcfs pvecm pmxcfs-watch pmxcfs-log ipc_garbage) # the daemon and the IPC clients it is driven with
make -C "$VG_BUILD" -j"$(nproc)" "${VG_TARGETS[@]}" >/dev/null ||
	{ make -C "$VG_BUILD" "${VG_TARGETS[@]}" 2>&1 | tail -30; exit 1; }
(cd "$VG_BUILD" && ctest --no-tests=error -L valgrind --output-on-failure) || status=1

echo "== fuzz (clang, libFuzzer, ${FUZZ_SECONDS}s per target)"
CC=clang cmake -S "$SRC" -B "$FUZZ_BUILD" -DPVE_FUZZ=ON -DPVE_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null || exit 1
make -C "$FUZZ_BUILD" -j"$(nproc)" >/dev/null || { make -C "$FUZZ_BUILD" 2>&1 | tail -30; exit 1; }
(cd "$FUZZ_BUILD" && ctest --no-tests=error -L fuzz --output-on-failure) || status=1

if [ $status -eq 0 ]; then
	echo "run-tests: all tests passed"
else
	echo "run-tests: FAILURES (see above)"
fi
exit $status
