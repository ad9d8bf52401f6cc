#!/bin/bash
# tests/cluster/feed_test.sh - pmxcfs's IPC across a real cluster: the change
# feed (local and remote writes, migration renames, 10,000 rapid writes, a
# client that stops reading, resync after a state transfer), cluster status
# (pvecm) and the replicated cluster log through partition and heal.  Every
# case brings up its own cluster-sim cluster and removes it.
#
#   feed_test.sh CASE      CTest runs each as feed.CASE (label cluster)
#   env: PMXCFS_BIN, CLUSTER_SIM, PMXCFS_WATCH, PVECM, PMXCFS_LOG
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
case_script_init fd
: "${PMXCFS_WATCH:=$SRC/build/pmxcfs/pmxcfs-watch}"
: "${PVECM:=$SRC/build/pmxcfs/pvecm}"
: "${PMXCFS_LOG:=$SRC/build/pmxcfs/pmxcfs-log}"

BG=() # background watchers (cluster-sim exec execs them: the pid is theirs)
case_cleanup_extra() {
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap case_cleanup EXIT

# watch NODE NAME ARGS...: pmxcfs-watch ARGS on NODE in the background
# (output $TMP/NAME.out, stderr NAME.err); returns once it is watching.
watch() {
	local n=$1 name=$2 i
	shift 2
	# exec all the way (cluster-sim execs nsenter, which execs the tool):
	# the pid is the watcher's own, to signal it
	(exec "$CLUSTER_SIM" --name "$NAME" exec "$n" "$PMXCFS_WATCH" "$@") \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	LAST_BG=$!
	BG+=("$LAST_BG")
	for ((i = 0; i < 200; i++)); do
		grep -q "watching" "$TMP/$name.err" 2>/dev/null && return 0
		kill -0 "$LAST_BG" 2>/dev/null || fail "watcher $name: $(cat "$TMP/$name.err")"
		sleep 0.05
	done
	fail "watcher $name did not start"
}

# wait_bg PID SECS: wait for a background watcher to exit; its status in BG_RC.
wait_bg() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			BG_RC=0
			wait "$1" || BG_RC=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

status_field() { # node field -> the value pvecm status shows for "Field:"
	on "$1" "$PVECM" status | sed -n "s/^$2: *//p" | head -1
}

wait_status() { # node field value secs
	local i v
	for ((i = 0; i < $4 * 4; i++)); do
		v=$(status_field "$1" "$2" 2>/dev/null) || v=
		[ "$v" = "$3" ] && return 0
		sleep 0.25
	done
	fail "node$1: '$2' is '$v', not '$3', after $4 s"
}

# Versions of a watcher's output must each be one more than the one before
# (the two halves of a rename share one); a final resync line is not a change.
check_contiguous() {
	awk -v f="$1" '
		$2 == "resync" { next }
		NR > 1 && !($1 == prev + 1 || ($1 == prev && $2 == "rename-to")) {
			printf "%s line %d: version %s after %s\n", f, NR, $1, prev; bad = 1; exit 1 }
		{ prev = $1 }' "$TMP/$1.out" || fail "versions in $1 are not contiguous"
}

# ---- cases ----

# Local, remote and migrating changes reach the watchers of every node, in
# the same order with the same versions everywhere.
t_watch_nodes() {
	sim up 3
	local n
	for n in 1 2 3; do watch "$n" w$n --count 8 --timeout 60 nodes/; done
	on 1 sh -c 'echo "hostname: a" > /etc/pve/nodes/node1/lxc/200.conf'
	on 2 sh -c 'echo "memory: 512" >> /etc/pve/nodes/node1/lxc/200.conf'
	on 3 sh -c 'echo elsewhere > /etc/pve/outside.txt'
	# migration: the config moves to node2's directory (from node1's mount)
	on 1 mv /etc/pve/nodes/node1/lxc/200.conf /etc/pve/nodes/node2/lxc/200.conf
	on 2 mkdir /etc/pve/nodes/node2/sub
	on 3 rmdir /etc/pve/nodes/node2/sub
	on 3 rm /etc/pve/nodes/node2/lxc/200.conf
	for n in 1 2 3; do
		wait_bg "${BG[$((n - 1))]}" 30 || fail "watcher on node$n did not get 8 changes"
		[ "$BG_RC" = 0 ] || fail "watcher on node$n exited with $BG_RC"
	done
	local expect="create nodes/node1/lxc/200.conf
put nodes/node1/lxc/200.conf
put nodes/node1/lxc/200.conf
rename-from nodes/node1/lxc/200.conf nodes/node2/lxc/200.conf
rename-to nodes/node2/lxc/200.conf nodes/node1/lxc/200.conf
mkdir nodes/node2/sub
rmdir nodes/node2/sub
delete nodes/node2/lxc/200.conf"
	[ "$(cut -d' ' -f2- "$TMP/w1.out")" = "$expect" ] ||
		fail "node1's watcher saw: $(cat "$TMP/w1.out")"
	cmp -s "$TMP/w1.out" "$TMP/w2.out" || fail "node2's feed differs: $(diff "$TMP/w1.out" "$TMP/w2.out")"
	cmp -s "$TMP/w1.out" "$TMP/w3.out" || fail "node3's feed differs: $(diff "$TMP/w1.out" "$TMP/w3.out")"
	# versions grow by one per op; the outside write (create, put) took two
	# between the 3rd and 4th change, which the watchers skipped
	local v=() i
	mapfile -t v < <(cut -d' ' -f1 "$TMP/w1.out")
	[ "${v[3]}" = $((v[2] + 3)) ] || fail "expected two foreign versions between ${v[2]} and ${v[3]}"
	for i in 1 2 5 6 7; do
		[ "${v[i]}" = $((v[i - 1] + 1)) ] || fail "version ${v[i]} after ${v[i - 1]}"
	done
	[ "${v[4]}" = "${v[3]}" ] || fail "the two halves of the rename have different versions"
}

# 10,000 writes from two nodes at once: every watcher gets every change,
# in one order, with no gap.
t_rapid() {
	sim up 3
	on 1 mkdir /etc/pve/rapid
	local n
	for n in 2 3; do watch "$n" w$n --count 20000 --timeout 120 rapid/; done
	local w
	for w in 1 3; do
		on "$w" sh -c 'i=0; while [ $i -lt 5000 ]; do echo "v$i" > /etc/pve/rapid/n'"$w"'_$i || exit 1; i=$((i + 1)); done' &
		BG+=($!)
	done
	wait "${BG[2]}" || fail "writer on node1 failed"
	wait "${BG[3]}" || fail "writer on node3 failed"
	for n in 2 3; do
		wait_bg "${BG[$((n - 2))]}" 120 || fail "watcher on node$n did not get 20000 changes"
		[ "$BG_RC" = 0 ] || fail "watcher on node$n exited with $BG_RC: $(tail -2 "$TMP/w$n.out")"
	done
	check_contiguous w2
	cmp -s "$TMP/w2.out" "$TMP/w3.out" || fail "the feeds of node2 and node3 differ"
	# each file: created, then written, exactly once each
	local bad
	bad=$(awk '{ k = $2 " " $3; c[k]++ } END { for (k in c) if (c[k] != 1) print k, c[k] }' "$TMP/w2.out" | head -3)
	[ -z "$bad" ] || fail "changes seen more than once: $bad"
	[ "$(grep -c '^[0-9]* create ' "$TMP/w2.out")" = 10000 ] || fail "not 10000 creates"
	[ "$(grep -c '^[0-9]* put ' "$TMP/w2.out")" = 10000 ] || fail "not 10000 puts"
	awk '$2 == "create" { c[$3] = NR } $2 == "put" && !($3 in c) { print "put before create: " $3; exit 1 }' \
		"$TMP/w2.out" || fail "order"
	info "20000 changes seen identically on node2 and node3"
}

# A watcher that stops reading: writers do not slow down (measured), it is
# cut off with "resync needed" when it reads again, the others see everything.
t_slow_client() {
	export CLUSTER_SIM_PMXCFS_ARGS="--verify-secs 20 --feed-history 256"
	sim up 3
	on 1 mkdir /etc/pve/slow
	local base stalled
	writes() { # node prefix count -> elapsed ms
		local s e
		s=$(date +%s%N)
		on "$1" sh -c 'i=0; while [ $i -lt '"$3"' ]; do echo "v$i" > /etc/pve/slow/'"$2"'$i || exit 1; i=$((i + 1)); done'
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
	}
	base=$(writes 1 base 400)
	watch 1 stuck --timeout 120 slow/
	local stuck=$LAST_BG
	kill -STOP "$stuck"
	watch 1 good --count 1600 --timeout 120 slow/
	local good=$LAST_BG
	stalled=$(writes 1 stalled 400)
	info "400 writes: $base ms without a watcher, $stalled ms with one that does not read" \
		"(ratio $(echo "scale=2; $stalled / $base" | bc))"
	[ "$stalled" -lt $((base * 2 + 2000)) ] || fail "a stopped watcher slowed writers down"
	writes 1 more 400 >/dev/null
	kill -CONT "$stuck"
	wait_bg "$stuck" 30 || fail "the stopped watcher was not cut off"
	[ "$BG_RC" = 3 ] || fail "the stopped watcher exited with $BG_RC, not 3 (resync)"
	tail -1 "$TMP/stuck.out" | grep -q " resync client-too-slow$" ||
		fail "the stopped watcher's last line: $(tail -1 "$TMP/stuck.out")"
	check_contiguous stuck
	wait_bg "$good" 60 || fail "the reading watcher did not get all 1600 changes"
	[ "$BG_RC" = 0 ] || fail "the reading watcher exited with $BG_RC"
	check_contiguous good
	sim logs 1 pmxcfs | grep -q "resync needed (client-too-slow)" || fail "no log line about the cut-off"
}

# A node that missed writes adopts the state at its sync: its watchers are
# told to resync; the other nodes' watchers just continue.
t_resync_state() {
	sim up 3
	sim partition 1,2 3
	sim wait-quorate 1 2
	watch 3 w3 --timeout 60 ""
	watch 1 w1 --count 20 --timeout 60 miss/
	on 1 mkdir /etc/pve/miss
	local i
	for i in $(seq 1 10); do on 1 sh -c "echo $i > /etc/pve/miss/f$i"; done # 1 + 20 changes
	sim heal
	sim wait-quorate 3
	wait_bg "${BG[0]}" 30 || fail "node3's watcher was not told to resync"
	[ "$BG_RC" = 3 ] || fail "node3's watcher exited with $BG_RC"
	tail -1 "$TMP/w3.out" | grep -q " resync state-replaced$" || fail "node3's watcher: $(cat "$TMP/w3.out")"
	wait_bg "${BG[1]}" 30 || fail "node1's watcher stopped"
	[ "$BG_RC" = 0 ] || fail "node1's watcher exited with $BG_RC"
	# after the resync a new listing + watch on node3 shows the missed files
	on 3 "$PMXCFS_WATCH" --list --timeout 1 miss/ >"$TMP/l3.out" 2>/dev/null || true
	[ "$(grep -c ' entry miss/f' "$TMP/l3.out")" = 10 ] || fail "node3's listing: $(cat "$TMP/l3.out")"
}

# pvecm status and nodes through a partition and its heal.
t_status() {
	sim up 3
	local n
	for n in 1 2 3; do
		[ "$(status_field "$n" Quorate)" = Yes ] || fail "node$n not quorate"
		[ "$(status_field "$n" Nodes)" = 3 ] || fail "node$n: not 3 nodes"
		[ "$(status_field "$n" 'Expected votes')" = 3 ] || fail "node$n: expected votes"
		[ "$(status_field "$n" 'Total votes')" = 3 ] || fail "node$n: total votes"
		[ "$(status_field "$n" Quorum)" = 2 ] || fail "node$n: quorum"
		[ "$(status_field "$n" 'Sync state')" = synced ] || fail "node$n: sync state"
		[ "$(status_field "$n" 'Node ID')" = "$(printf '0x%08x' "$n")" ] || fail "node$n: node id"
	done
	on 2 "$PVECM" nodes >"$TMP/nodes"
	grep -Eq '^ +2 +1 node2 \(local\)$' "$TMP/nodes" || fail "pvecm nodes: $(cat "$TMP/nodes")"
	[ "$(grep -Ec '^ +[0-9]+ +1 node[123]' "$TMP/nodes")" = 3 ] || fail "pvecm nodes: $(cat "$TMP/nodes")"
	on 1 "$PVECM" status | grep -Eq '^0x00000001 +1 10\.99\.0\.1 \(local\)$' ||
		fail "pvecm status membership: $(on 1 "$PVECM" status)"
	[ "$(status_field 1 Version)" = "$(status_field 3 Version)" ] || fail "database versions differ"

	sim partition 1,2 3
	wait_status 3 Quorate No 30
	[ "$(status_field 3 Nodes)" = 1 ] || fail "node3 alone: Nodes"
	[ "$(status_field 3 'Total votes')" = 1 ] || fail "node3 alone: total votes"
	[ "$(status_field 3 Writable)" = No ] || fail "node3 alone: writable"
	wait_status 1 Nodes 2 30
	[ "$(status_field 1 Quorate)" = Yes ] || fail "node1 lost quorum with 2 of 3"
	[ "$(status_field 1 'Total votes')" = 2 ] || fail "node1: total votes"
	wait_status 1 Writable Yes 30
	on 1 sh -c 'echo x > /etc/pve/during'
	[ "$(on 3 "$PVECM" nodes | grep -c node)" = 1 ] || fail "node3 alone lists other nodes"

	sim heal
	sim wait-quorate 3
	for n in 1 2 3; do
		wait_status "$n" Nodes 3 30
		wait_status "$n" Writable Yes 30
	done
	[ "$(status_field 1 Version)" = "$(status_field 3 Version)" ] || fail "versions differ after heal"
}

# The cluster log is cluster-wide; entries of both sides of a partition are
# on every node after the heal, each once.
t_clusterlog() {
	sim up 3
	on 1 "$PMXCFS_LOG" append -t test "before the partition"
	local n i
	log_has() { # node text -> count of entries with exactly this message
		on "$1" "$PMXCFS_LOG" read -n 1024 | grep -c ": $2\$" || true
	}
	wait_log() { # node text count secs
		for ((i = 0; i < $4 * 4; i++)); do
			[ "$(log_has "$1" "$2")" = "$3" ] && return 0
			sleep 0.25
		done
		fail "node$1 has $(log_has "$1" "$2") entries '$2', not $3"
	}
	for n in 1 2 3; do wait_log "$n" "before the partition" 1 10; done
	on 2 cat /etc/pve/.clusterlog | grep -q '"msg": "before the partition"' || fail ".clusterlog on node2"
	sim partition 1,2 3
	wait_status 3 Quorate No 30
	on 3 "$PMXCFS_LOG" append -t test "alone on node3"
	on 1 "$PMXCFS_LOG" append -t test "majority on node1"
	wait_log 2 "majority on node1" 1 10
	wait_log 3 "alone on node3" 1 10
	sleep 1
	[ "$(log_has 3 "majority on node1")" = 0 ] || fail "node3 got the majority's entry while partitioned"
	[ "$(log_has 1 "alone on node3")" = 0 ] || fail "node1 got node3's entry while partitioned"
	sim heal
	sim wait-quorate 3
	for n in 1 2 3; do
		wait_log "$n" "alone on node3" 1 20
		wait_log "$n" "majority on node1" 1 20
		wait_log "$n" "before the partition" 1 5
	done
	# and every node shows the same log
	local l1
	l1=$(on 1 "$PMXCFS_LOG" read -n 1024)
	for n in 2 3; do
		[ "$(on "$n" "$PMXCFS_LOG" read -n 1024)" = "$l1" ] || fail "node$n's log differs from node1's"
	done
}

# A file replaced by a rename on another node, read the moment its event
# arrives (what ctmgrd does): it is there, with the new content or a newer
# one - never ENOENT from the replaced file's cached directory entry, never
# the old content.  Also for a plain rewrite (put).
t_read_after_rename() {
	sim up 2
	on 1 mkdir /etc/pve/rr /etc/pve/rrtmp
	on 1 sh -c 'echo v0 > /etc/pve/rr/x.conf'
	local n=300
	watch 2 r --count $((3 * n)) --timeout 60 --read /etc/pve rr/
	# the watcher's reads keep node2's entry for x.conf cached
	on 1 sh -c 'i=1; while [ $i -le '"$n"' ]; do
		echo "v$i" > /etc/pve/rrtmp/t || exit 1
		mv /etc/pve/rrtmp/t /etc/pve/rr/x.conf || exit 1
		i=$((i + 1)); done'
	on 1 sh -c 'i=1; while [ $i -le '"$n"' ]; do echo "p$i" > /etc/pve/rr/x.conf || exit 1; i=$((i + 1)); done'
	wait_bg "$LAST_BG" 60 || fail "the watcher did not get $((3 * n)) changes"
	[ "$BG_RC" = 0 ] || fail "the watcher exited with $BG_RC: $(tail -2 "$TMP/r.out")"
	local bad
	bad=$(grep -c 'read-error' "$TMP/r.out") || true
	[ "$bad" = 0 ] || fail "$bad reads after an event failed, e.g. $(grep -m1 'read-error' "$TMP/r.out")"
	# the i-th rename leaves v<i>: the read finds it or a newer one; each
	# rewrite is two puts (the truncation, then the content): a read after
	# either finds p<j> with j >= that rewrite, or the truncated empty file
	local why
	why=$(awk '
		$2 == "rename-to" { i++; split($NF, a, ":v"); if (a[2] + 0 < i) { print "rename " i " read " $NF; bad = 1; exit 1 } }
		$2 == "put" { p++; w = int((p + 1) / 2); if ($NF != "read:") {
			split($NF, a, ":p"); if (a[2] + 0 < w) { print "write " w " read " $NF; bad = 1; exit 1 } } }
		END { if (!bad && i != '"$n"') { print i " renames"; exit 1 } }' "$TMP/r.out") ||
		fail "a read right after its event found older content: $why"
	info "$((3 * n)) events on node2, each file read at once: never missing, never older"
}

# A conditional rename (compare-and-swap): node1 read the file at version V
# and renames its new text over it only if it is still at V.  node3 wrote
# in between: refused with EAGAIN on node1, node3's text stays everywhere;
# with the version it has now, the rename goes through.
t_conditional_rename() {
	sim up 3
	on 1 sh -c 'echo v1 >/etc/pve/cas.conf'
	# the file's version, as a listing shows it (then the watch times out)
	version_of() {
		local o
		o=$(on "$1" "$PMXCFS_WATCH" --list --timeout 1 cas.conf 2>/dev/null) || true # 4: timed out
		awk '$2 == "entry" && $3 == "cas.conf" { print $1 }' <<<"$o"
	}
	local v out
	v=$(version_of 1)
	[ -n "$v" ] || fail "no version for cas.conf"
	on 1 sh -c 'echo mine >/etc/pve/cas.conf.tmp'
	on 3 sh -c 'echo theirs >/etc/pve/cas.conf'
	local py='import os, sys
os.setxattr(sys.argv[1], "user.pmxcfs.replaces-version", sys.argv[2].encode())
try:
    os.rename(sys.argv[1], sys.argv[3])
except OSError as e:
    print(os.strerror(e.errno)); sys.exit(1)'
	out=$(on 1 /usr/bin/python3 -c "$py" /etc/pve/cas.conf.tmp "$v" /etc/pve/cas.conf) &&
		fail "the rename over a changed file went through"
	[ "$out" = "$(/usr/bin/python3 -c 'import os, errno; print(os.strerror(errno.EAGAIN))')" ] ||
		fail "refused with '$out', not EAGAIN"
	local n
	for n in 1 2 3; do
		[ "$(on "$n" cat /etc/pve/cas.conf)" = theirs ] || fail "node$n: $(on "$n" cat /etc/pve/cas.conf)"
	done
	on 1 test -e /etc/pve/cas.conf.tmp || fail "the refused rename lost its source"
	# the expectation is used once: a plain rename works again
	v=$(version_of 1)
	out=$(on 1 /usr/bin/python3 -c "$py" /etc/pve/cas.conf.tmp "$v" /etc/pve/cas.conf) ||
		fail "the rename at the current version $v failed: $out"
	for n in 1 2 3; do
		[ "$(on "$n" cat /etc/pve/cas.conf)" = mine ] || fail "node$n after the rename: $(on "$n" cat /etc/pve/cas.conf)"
	done
	# bad expectations are refused at once
	on 1 sh -c 'echo x >/etc/pve/other'
	on 1 /usr/bin/python3 -c 'import os; os.setxattr("/etc/pve/other", "user.pmxcfs.replaces-version", b"abc")' 2>/dev/null &&
		fail "a version 'abc' was accepted"
	on 1 /usr/bin/python3 -c 'import os; os.setxattr("/etc/pve/other", "user.other", b"1")' 2>/dev/null &&
		fail "another xattr was accepted"
	return 0
}

run_case "$@"
