#!/usr/bin/env bash
#
# tests/guest/guest_test.sh - the guest set-up (pct-guest-setup) on rootfs
# skeletons, compared with expected files written by hand.  One directory
# per case under tests/guest/cases/<case>/:
#
#   conf            the container config (required)
#   rootfs/         the skeleton: the few files the distribution has
#   setup.sh        optional: run in the copied rootfs (cwd) to add what git
#                   cannot hold (symlinks, modes, owners)
#   args            optional: more options on one line (--post-create, ...)
#   host-resolv     optional: the host's resolv.conf (default: an empty one)
#   expected/       files that must be byte-identical after the run
#   links           optional: "path target" lines: symlinks that must exist
#   absent          optional: paths that must not exist afterwards
#   exit            optional: the expected exit status (default 0)
#   stderr          optional: lines that must each appear in stderr
#   check.sh        optional: more checks (ROOTFS, TOOL, CASE_DIR set)
#   detect          optional: the expected "--detect" output line
#   unseeded        optional: run without --seed (SSH host keys are made;
#                   no idempotency check: a create makes new keys each time)
#
# The tool runs with --seed 1 (unless "unseeded"); a case that exits 0 is
# run a second time and must leave every file as it was (idempotency).
#
#   TOOL=build/ctmgr/pct-guest-setup bash tests/guest/guest_test.sh CASE
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CASES=$HERE/cases
if [[ ${1:-} == --list ]]; then
	ls "$CASES"
	exit 0
fi
[[ $# -eq 1 && -d $CASES/$1 ]] || { echo "usage: $0 CASE | --list" >&2; exit 2; }
[[ -x ${TOOL:-} ]] || { echo "TOOL is not set to pct-guest-setup" >&2; exit 2; }
CASE_DIR=$CASES/$1

fail() {
	echo "FAIL: $1: $2" >&2
	exit 1
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS"
[[ -d $CASE_DIR/rootfs ]] && cp -a "$CASE_DIR/rootfs/." "$ROOTFS/"
if [[ -f $CASE_DIR/setup.sh ]]; then
	(cd "$ROOTFS" && export CASE_DIR && bash "$CASE_DIR/setup.sh")
fi
resolv=$TMP/host-resolv
if [[ -f $CASE_DIR/host-resolv ]]; then cp "$CASE_DIR/host-resolv" "$resolv"; else : >"$resolv"; fi
args=()
if [[ -f $CASE_DIR/args ]]; then
	read -r -a args <"$CASE_DIR/args"
fi
# paths in args are relative to the case directory
for i in "${!args[@]}"; do
	[[ -e $CASE_DIR/${args[$i]} && ${args[$i]} != -* ]] && args[i]=$CASE_DIR/${args[$i]}
done

if [[ -f $CASE_DIR/detect ]]; then
	got=$("$TOOL" --rootfs "$ROOTFS" --conf "$CASE_DIR/conf" --detect 2>&1) || fail "$1" "--detect failed: $got"
	[[ $got == "$(cat "$CASE_DIR/detect")" ]] || fail "$1" "--detect: expected '$(cat "$CASE_DIR/detect")', got '$got'"
fi

seed=(--seed 1)
[[ -f $CASE_DIR/unseeded ]] && seed=()
run() {
	local rc=0
	"$TOOL" --rootfs "$ROOTFS" --conf "$CASE_DIR/conf" "${seed[@]}" --host-resolv "$resolv" \
		"${args[@]}" >"$TMP/out" 2>"$TMP/err" || rc=$?
	RC=$rc
}

snapshot() { # every path with its type, mode, owner and content hash
	(cd "$ROOTFS" && find . -printf '%p %y %m %u:%g %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha1sum)
}

run
want_rc=0
[[ -f $CASE_DIR/exit ]] && want_rc=$(cat "$CASE_DIR/exit")
[[ $RC == "$want_rc" ]] || fail "$1" "exit $RC, expected $want_rc; stderr: $(cat "$TMP/err")"
if [[ -f $CASE_DIR/stderr ]]; then
	while IFS= read -r line; do
		grep -qF -- "$line" "$TMP/err" || fail "$1" "stderr lacks '$line': $(cat "$TMP/err")"
	done <"$CASE_DIR/stderr"
fi
if [[ -d $CASE_DIR/expected ]]; then
	while IFS= read -r -d '' f; do
		rel=${f#"$CASE_DIR/expected/"}
		[[ -f $ROOTFS/$rel || -L $ROOTFS/$rel ]] || fail "$1" "/$rel was not written"
		if ! cmp -s "$f" "$ROOTFS/$rel"; then
			diff -u "$f" "$ROOTFS/$rel" >&2 || true
			fail "$1" "/$rel differs from the expected file (diff above: - expected, + written)"
		fi
	done < <(find "$CASE_DIR/expected" -type f -print0)
fi
if [[ -f $CASE_DIR/links ]]; then
	while read -r path target; do
		[[ -L $ROOTFS/$path ]] || fail "$1" "$path is not a symlink"
		[[ $(readlink "$ROOTFS/$path") == "$target" ]] ||
			fail "$1" "$path -> $(readlink "$ROOTFS/$path"), expected $target"
	done <"$CASE_DIR/links"
fi
if [[ -f $CASE_DIR/absent ]]; then
	while read -r path; do
		[[ -e $ROOTFS/$path || -L $ROOTFS/$path ]] && fail "$1" "$path exists"
	done <"$CASE_DIR/absent"
fi
if [[ -f $CASE_DIR/check.sh ]]; then
	(export ROOTFS TOOL CASE_DIR && bash "$CASE_DIR/check.sh") || fail "$1" "check.sh failed"
fi
if [[ $RC == 0 && ! -f $CASE_DIR/unseeded ]]; then
	before=$(snapshot)
	run
	[[ $RC == 0 ]] || fail "$1" "second run: exit $RC: $(cat "$TMP/err")"
	after=$(snapshot)
	if [[ $before != "$after" ]]; then
		diff <(echo "$before") <(echo "$after") >&2 || true
		fail "$1" "a second run changed the rootfs (not idempotent)"
	fi
fi
echo "PASS: guest.$1"
