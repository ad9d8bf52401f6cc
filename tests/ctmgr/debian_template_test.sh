#!/usr/bin/env bash
#
# tests/ctmgr/debian_template_test.sh - "pveam build debian-12" for real:
# debootstrap from the host's Debian mirror into a test storage, what the
# archive holds (init, os-release, an empty machine-id, hard links, device
# nodes, ping's file capability, no apt lists or host identity), that a
# second build is a no-op, that --force rebuilds from the cached .debs, and
# the errors for a missing debootstrap and an unreachable mirror.
#
#   PVEAM=build/ctmgr/pveam bash tests/ctmgr/debian_template_test.sh debian_template
#
# Registered as CTest test storage.debian_template (labels fs;slow: root and
# the Debian mirror; about a minute here, timeout 1800 s).  Prints the time of
# each build and the template's size.
#
# Environment:
#   PVEAM_DEBOOTSTRAP_CACHE  a .deb cache kept between runs (CI can keep it);
#                            unset: one in the test's storage, removed with it
#   PVEAM_DEBIAN_MIRROR      passed on to pveam (default: the host's apt sources)
#   PVE_TEST_CACHE           set by CTest to <build dir>/test-cache.  On success
#                            the template is published there as a dir storage:
#                              $PVE_TEST_CACHE/vz/template/cache/debian-12-standard_12.0-1_<arch>.tar.zst
#
# Reusing the template in a later test (same CI run or a later run of the
# same build tree): use $PCT_TEST_DEBIAN_TEMPLATE if it is set, else run
#   PVE_STORAGE_DEFAULT_PATH=$PVE_TEST_CACHE/vz "$PVEAM" build debian-12
# which prints local:vztmpl/debian-12-standard_12.0-1_<arch>.tar.zst and does
# nothing when this test (or an earlier caller) put the file there, or builds
# it once (concurrent callers wait on pveam's lock) - then copy or link the
# file into the test's own storage.  Pass PVE_TEST_CACHE in the test's CTest
# ENVIRONMENT (${CMAKE_BINARY_DIR}/test-cache).
set -euo pipefail

[[ ${1:-} == --list || -x ${PVEAM:-} ]] || { echo "PVEAM must be set to an executable" >&2; exit 2; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

T=
setup() {
	T=$(mktemp -d -p /var/tmp debian-template-test.XXXXXX)
	trap 'rm -rf "$T"' EXIT
	export PVE_ETC=$T PVE_STORAGE_DEFAULT_PATH=$T/vz
}

pveam_fails() { # expected-message args...
	local want=$1 out rc=0
	shift
	out=$("$PVEAM" "$@" 2>&1) || rc=$?
	[[ $rc == 255 ]] || fail "pveam $* exited $rc, not 255: $out"
	[[ $out == *"$want"* ]] || fail "pveam $*: expected '$want' in: $out"
}

now() { date +%s%3N; } # ms
since() { # seconds since a now(), with one decimal
	local ms=$(($(now) - $1))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# the work directories a build left in the template directory
leftovers() { find "$1" -maxdepth 1 -name '.pveam-debian-12.build.*' -printf '%f\n'; }

t_debian_template() {
	setup
	[[ $(id -u) == 0 ]] || fail "needs root (debootstrap)"
	local dir=$T/vz/template/cache arch
	arch=$(dpkg --print-architecture)
	local name=debian-12-standard_12.0-1_$arch.tar.zst
	local volid=local:vztmpl/$name f=$dir/$name
	local cache=${PVEAM_DEBOOTSTRAP_CACHE:-$dir/.debootstrap-cache}

	# errors first (fast): no debootstrap, a mirror that does not answer
	mkdir "$T/empty-path"
	PATH=$T/empty-path pveam_fails "install the 'debootstrap' package" build debian-12
	local out rc=0
	out=$(PVEAM_DEBIAN_MIRROR=http://127.0.0.1:9/debian "$PVEAM" build debian-12 2>&1) || rc=$?
	[[ $rc == 255 ]] || fail "unreachable mirror: exit $rc: $out"
	[[ $out == *"debootstrap failed: Failed getting release file http://127.0.0.1:9/debian/"*"; see $dir/.pveam-debian-12.log"* ]] ||
		fail "unreachable mirror: $out"
	grep -q 'Connection refused' "$dir/.pveam-debian-12.log" || fail "log: $(cat "$dir/.pveam-debian-12.log")"
	[[ -e $f ]] && fail "a failed build left a template"
	[[ -z $(leftovers "$dir") ]] || fail "a failed build left $(leftovers "$dir")"
	pveam_fails "unknown template 'debian-13'" build debian-13
	pveam_fails "usage:" build debian-12 --bogus

	# the first build
	local t0 first noop forced
	t0=$(now)
	out=$("$PVEAM" build debian-12 2>"$T/stderr") || fail "pveam build debian-12: $(cat "$T/stderr")"
	first=$(since "$t0")
	[[ $out == "$volid" ]] || fail "pveam build debian-12 printed '$out'"
	[[ -f $f ]] || fail "no $f"
	[[ -z $(leftovers "$dir") ]] || fail "the build left $(leftovers "$dir")"
	[[ -e $dir/.pveam-debian-12.log ]] && fail "the log of a good build was kept"
	compgen -G "$cache/*.deb" >/dev/null || fail "no .debs in the cache $cache"
	"$PVEAM" list local | grep -q "^$volid " || fail "pveam list: $("$PVEAM" list local)"

	# what the archive holds (a listing, not piped into grep -q: pipefail and SIGPIPE)
	local list
	list=$(tar --zstd -tvf "$f")
	grep -Eq '^lrwxrwxrwx 0/0 .* \./usr/sbin/init -> /lib/systemd/systemd$' <<<"$list" || fail "no init link"
	grep -Eq '^lrwxrwxrwx 0/0 .* \./sbin -> usr/sbin$' <<<"$list" || fail "no merged /sbin"
	grep -Eq '^-rwxr-xr-x 0/0 .* \./usr/lib/systemd/systemd$' <<<"$list" || fail "no systemd"
	grep -Eq '^-r--r--r-- 0/0 +0 .* \./etc/machine-id$' <<<"$list" || fail "machine-id not empty"
	grep -Eq '^crw-rw-rw- 0/0 +1,3 .* \./dev/null$' <<<"$list" || fail "no /dev/null device node"
	grep -Eq '^h.* \./usr/bin/perl5?[.0-9]* link to \./usr/bin/perl' <<<"$list" || fail "no hard link entry"
	grep -Eq '^lrwxrwxrwx .* \./etc/systemd/system/sys-kernel-debug.mount -> /dev/null$' <<<"$list" ||
		fail "sys-kernel-debug.mount not masked"
	grep -Eq '\./var/lib/apt/lists/[^/]+_Packages|\./var/cache/apt/archives/.*\.deb$|\./etc/ssh/ssh_host_' \
		<<<"$list" && fail "apt lists, .debs or ssh host keys in the template"
	[[ $(grep -c '^' <<<"$list") -gt 5000 ]] || fail "only $(grep -c '^' <<<"$list") entries"

	# unpacked (GNU tar, as the reference unpacks templates): contents
	local r=$T/root
	mkdir "$r"
	tar --zstd -xpf "$f" -C "$r" --numeric-owner --xattrs --xattrs-include='*'
	grep -qx 'ID=debian' "$r/etc/os-release" || fail "os-release: $(cat "$r/etc/os-release")"
	grep -qx 'VERSION_ID="12"' "$r/etc/os-release" || fail "os-release VERSION_ID"
	[[ -f $r/etc/machine-id && ! -s $r/etc/machine-id ]] || fail "/etc/machine-id"
	[[ $(readlink "$r/var/lib/dbus/machine-id") == /etc/machine-id ]] || fail "dbus machine-id"
	[[ $(cat "$r/etc/hostname") == localhost ]] || fail "hostname: $(cat "$r/etc/hostname")"
	[[ -f $r/etc/resolv.conf && ! -s $r/etc/resolv.conf ]] || fail "resolv.conf not empty"
	grep -q '^127.0.0.1[[:space:]]*localhost$' "$r/etc/hosts" || fail "hosts: $(cat "$r/etc/hosts")"
	grep -q ' bookworm-security main$' "$r/etc/apt/sources.list" || fail "sources.list"
	grep -qx 'iface lo inet loopback' "$r/etc/network/interfaces" || fail "interfaces"
	[[ $(stat -c %i "$r/usr/bin/perl") == $(stat -c %i "$r"/usr/bin/perl5.*.*) ]] || fail "perl hard link"
	[[ $(getcap "$r/usr/bin/ping") == *cap_net_raw=ep ]] || fail "ping's capability: $(getcap "$r/usr/bin/ping")"
	local pkg
	for pkg in systemd-sysv dbus ifupdown isc-dhcp-client iproute2 iputils-ping procps; do
		dpkg-query --admindir="$r/var/lib/dpkg" -W -f '${Status}\n' "$pkg" 2>/dev/null |
			grep -qx 'install ok installed' || fail "package $pkg not installed"
	done
	[[ -z $(find "$r/tmp" "$r/var/tmp" -mindepth 1) ]] || fail "/tmp or /var/tmp not empty"
	[[ ! -s $r/var/log/dpkg.log ]] || fail "dpkg.log not truncated"

	# a second build is a no-op
	local mtime
	mtime=$(stat -c %Y.%i "$f")
	t0=$(now)
	out=$("$PVEAM" build debian-12 2>&1) || fail "second build: $out"
	noop=$(since "$t0")
	[[ $out == "$volid" ]] || fail "second build printed '$out'"
	[[ $(stat -c %Y.%i "$f") == "$mtime" ]] || fail "the second build touched the template"
	((${noop%.*} < 2)) || fail "the second build took ${noop}s"

	# --force rebuilds from the cache: no .deb is fetched again
	local debs
	debs=$(stat -c '%n %Y %s' "$cache"/*.deb)
	t0=$(now)
	out=$("$PVEAM" build debian-12 --storage local --force 2>"$T/stderr") ||
		fail "--force: $(cat "$T/stderr")"
	forced=$(since "$t0")
	[[ $out == "$volid" ]] || fail "--force printed '$out'"
	[[ $(stat -c %Y.%i "$f") != "$mtime" ]] || fail "--force did not rebuild"
	[[ $(stat -c '%n %Y %s' "$cache"/*.deb) == "$debs" ]] || fail "--force downloaded .debs again"
	[[ -z $(leftovers "$dir") ]] || fail "the rebuild left $(leftovers "$dir")"
	[[ $("$PVEAM" list local | grep -c vztmpl) == 1 ]] || fail "pveam list: $("$PVEAM" list local)"

	local cached=("$cache"/*.deb)
	echo "first build ${first}s, second (no-op) ${noop}s, --force (cached .debs) ${forced}s," \
		"template $(($(stat -c %s "$f") / 1048576)) MiB, ${#cached[@]} cached .debs"

	# publish for later tests (see the header): atomically, next to the last one
	if [[ -n ${PVE_TEST_CACHE:-} ]]; then
		mkdir -p "$PVE_TEST_CACHE/vz/template/cache"
		cp "$f" "$PVE_TEST_CACHE/vz/template/cache/.$name.$$"
		mv -f "$PVE_TEST_CACHE/vz/template/cache/.$name.$$" "$PVE_TEST_CACHE/vz/template/cache/$name"
		echo "published $PVE_TEST_CACHE/vz/template/cache/$name"
	fi
	echo "PASS: storage.debian_template"
}

if [[ ${1:-} == --list ]]; then
	declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'
	exit 0
fi
declare -F "t_${1:-}" >/dev/null || { echo "usage: $0 CASE | --list" >&2; exit 2; }
"t_$1"
