# tests/cluster/lib.sh - helpers shared by the cluster test scripts
# (cluster_test.sh, sim_test.sh, valgrind_cluster.sh).  The sourcing script
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
