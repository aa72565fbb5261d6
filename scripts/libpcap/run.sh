#!/bin/sh
# Builds libpcap (a source tree outside this repository) and the two small
# programs of this directory against it, then either labels the random
# expressions of bpfcompile's TestRandomLabels anew or compares compile
# times with bpfcompile's. See README.md here.
#
#   scripts/libpcap/run.sh label LIBPCAP_SRC   # rewrites bpfcompile/testdata/random-labels.json.gz
#   scripts/libpcap/run.sh bench LIBPCAP_SRC   # prints the compile-time table
#
# LIBPCAP_SRC is a libpcap source tree (git archive of
# github.com/the-tcpdump-group/libpcap, master for the labels). The build
# goes to LIBPCAP_SRC/build-pcapdaemon and the programs to a temporary
# directory; nothing is written inside the repository but the labels.
set -eu

usage() {
	echo "usage: $0 label|bench LIBPCAP_SRC [go test flags...]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
mode=$1
src=$(cd "$2" && pwd)
shift 2

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$src/build-pcapdaemon

for tool in cc cmake flex bison; do
	command -v $tool >/dev/null 2>&1 || { echo "$0: $tool is missing (apt-get install gcc cmake flex bison)" >&2; exit 1; }
done

if [ ! -f "$build/libpcap.a" ]; then
	mkdir -p "$build"
	(cd "$build" && cmake -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
		-DDISABLE_DBUS=ON -DDISABLE_RDMA=ON -DDISABLE_BLUETOOTH=ON \
		-DDISABLE_NETMAP=ON -DDISABLE_DPDK=ON "$src" >cmake.log 2>&1 &&
		make -j2 pcap_static >make.log 2>&1) ||
		{ echo "$0: building libpcap failed, see $build/cmake.log and make.log" >&2; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cc -O2 -Wall -o "$tmp/label" "$here/label.c" -I"$src" "$build/libpcap.a"
cc -O2 -Wall -o "$tmp/bench" "$here/bench.c" -I"$src" "$build/libpcap.a"

# The commit the labels record: $LIBPCAP_COMMIT, git's, or the tree's VERSION.
commit=${LIBPCAP_COMMIT:-$(git -C "$src" rev-parse HEAD 2>/dev/null || true)}
[ -n "$commit" ] || commit="libpcap $(cat "$src/VERSION" 2>/dev/null || echo unknown)"

cd "$root"
case $mode in
label)
	go test ./bpfcompile -count=1 -run '^TestRandomLabels$' -update-random-labels \
		-labeller "$tmp/label" -libpcap-commit "$commit" "$@"
	;;
bench)
	go run ./scripts/compilebench -libpcap-bench "$tmp/bench" "$@"
	;;
*)
	usage
	;;
esac
