#!/usr/bin/env bash
# Builds pcapdaemon as one static, cgo-free Linux binary, stamped with the
# version from git (`git describe --always --dirty`, or "dev" outside a
# checkout). `pcapdaemon version` prints the stamp.
#
#   scripts/build.sh                        # -> ./pcapdaemon
#   OUT=/tmp/pcapdaemon scripts/build.sh    # -> elsewhere
#   GOARCH=arm64 scripts/build.sh           # cross-compile (no cgo: just works)
#   VERSION=v1.2.3 scripts/build.sh         # override the stamp (release jobs)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-./pcapdaemon}
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || true)}
version=${version:-dev}
case $version in
*[!A-Za-z0-9._+-]*)
	echo "build.sh: refusing version string '$version' (want [A-Za-z0-9._+-])" >&2
	exit 2
	;;
esac

export CGO_ENABLED=0
export GOOS=${GOOS:-linux}
# -trimpath: no build-machine paths in the binary (reproducible builds).
# -s -w: no symbol table or DWARF; stack traces keep function names and lines.
go build -trimpath -ldflags "-s -w -X main.version=${version}" -o "$out" .
echo "build.sh: built $out ($version, $(go env GOOS)/$(go env GOARCH), static)" >&2
