# shellcheck shell=bash
# tests/cluster/lib.sh - helpers shared by the cluster test scripts
# (cluster_test.sh, feed_test.sh, sim_test.sh, valgrind_cluster.sh).  The sourcing script
# defines sim() (cluster-sim with its --name and options); `on NODE CMD...`
# runs CMD inside that cluster's node.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

info() { echo "--- $*" >&2; }

on() {
	local n=$1
	shift
	sim exec "$n" "$@"
}

# pct ($PCT) on node N with the test's container directory ($TMP/lxc) and
# a 5 s lock timeout (ct_cluster_test.sh, ctmgrd_test.sh)
pct_on() {
	local n=$1
	shift
	on "$n" env PCT_LXC_PATH="$TMP/lxc" PCT_LOCK_TIMEOUT=5 "$PCT" "$@"
}

# The EXIT trap of the case scripts (cluster_test.sh, feed_test.sh): on
# failure the tail of each node's pmxcfs log, then the cluster and $TMP go.
# A script with more to stop defines case_cleanup_extra.
case_cleanup() {
	local rc=$?
	declare -F case_cleanup_extra >/dev/null && case_cleanup_extra
	if [ "$rc" -ne 0 ]; then
		for n in 1 2 3; do
			echo "===== node$n pmxcfs log (tail) =====" >&2
			sim logs "$n" pmxcfs 2>/dev/null | tail -30 >&2 || true
		done
	fi
	sim down >/dev/null 2>&1 || true
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
	exit "$rc"
}

# The case scripts' main: run t_CASE as root with a fresh $TMP.
run_case() {
	local c=${1:-}
	if [ -z "$c" ] || ! declare -F "t_$c" >/dev/null; then
		echo "usage: $0 CASE   (cases: $(declare -F | sed -n 's/.* t_//p' | tr '\n' ' '))" >&2
		exit 2
	fi
	[ "$(id -u)" = 0 ] || fail "cluster tests need root"
	TMP=$(mktemp -d /tmp/cluster-test.XXXXXX)
	sim down >/dev/null 2>&1 || true
	"t_$c"
	echo "PASS: $c"
}

# The case scripts' set-up (cluster_test.sh, feed_test.sh): the binaries
# under test (environment, else the build tree), a short verification
# interval so the periodic check runs during the tests, a cluster name
# PREFIX<pid> (8 characters at most) and sim() for it.
case_script_init() {
	SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	: "${CLUSTER_SIM:=$SRC/cluster-sim/cluster-sim}"
	: "${PMXCFS_BIN:=$SRC/build/pmxcfs/pmxcfs}"
	export CLUSTER_SIM_PMXCFS="$PMXCFS_BIN"
	export CLUSTER_SIM_PMXCFS_ARGS="${CLUSTER_SIM_PMXCFS_ARGS:---verify-secs 20}"
	NAME="$1$$"
	NAME=${NAME:0:8}
	sim() { "$CLUSTER_SIM" --name "$NAME" "$@"; }
}
