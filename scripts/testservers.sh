#!/usr/bin/env bash
# Installs the servers that the sink/s3, sink/spool and transport/sqs tests
# start: versitygw (S3, posix backend) and goaws (SQS); and staticcheck,
# which scripts/test.sh runs. Idempotent: a binary already built from the
# pinned module version is kept, so a second run takes well under a second.
#
#   scripts/testservers.sh            # installs into $TESTSERVERS_BIN, else $(go env GOBIN), else $(go env GOPATH)/bin
#
# The tests look for "versitygw" and "goaws" in PATH, then in $GOBIN and
# $(go env GOPATH)/bin, and check with debug/buildinfo that each binary is
# the right program. goaws's main package is app/cmd, so `go install` names
# its binary "cmd"; it is installed here under the name "goaws".
set -euo pipefail

VERSITYGW_PKG=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_MOD=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0
GOAWS_PKG=github.com/Admiral-Piett/goaws/app/cmd
GOAWS_MOD=github.com/Admiral-Piett/goaws
GOAWS_VERSION=v0.4.5
# staticcheck 2026.2.2, the newest release; built with and for Go 1.26.
STATICCHECK_PKG=honnef.co/go/tools/cmd/staticcheck
STATICCHECK_MOD=honnef.co/go/tools
STATICCHECK_VERSION=v0.8.2

bin=${TESTSERVERS_BIN:-$(go env GOBIN)}
[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
mkdir -p "$bin"

# is_installed FILE PKG MOD VERSION: FILE is a Go binary built from PKG in
# module MOD at VERSION.
is_installed() {
	[ -x "$1" ] || return 1
	go version -m "$1" 2>/dev/null | awk -v pkg="$2" -v mod="$3" -v ver="$4" '
		$1 == "path" && $2 == pkg { p = 1 }
		$1 == "mod" && $2 == mod && $3 == ver { m = 1 }
		END { exit !(p && m) }'
}

# install NAME PKG MOD VERSION: go install PKG@VERSION as $bin/NAME.
install() {
	local name=$1 pkg=$2 mod=$3 ver=$4
	if is_installed "$bin/$name" "$pkg" "$mod" "$ver"; then
		echo "testservers: $name $ver already in $bin/$name"
		return
	fi
	echo "testservers: installing $pkg@$ver as $bin/$name"
	local tmp
	tmp=$(mktemp -d)
	# Build outside any module (and without the caller's GOFLAGS, which
	# may say -mod=vendor) into a private dir, then move into place.
	(cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" go install "$pkg@$ver")
	mv -f "$tmp/$(basename "$pkg")" "$bin/$name"
	rm -rf "$tmp"
	is_installed "$bin/$name" "$pkg" "$mod" "$ver" || {
		echo "testservers: $bin/$name is not $pkg@$ver after install" >&2
		exit 1
	}
}

install versitygw "$VERSITYGW_PKG" "$VERSITYGW_MOD" "$VERSITYGW_VERSION"
install goaws "$GOAWS_PKG" "$GOAWS_MOD" "$GOAWS_VERSION"
install staticcheck "$STATICCHECK_PKG" "$STATICCHECK_MOD" "$STATICCHECK_VERSION"
echo "testservers: ready in $bin (versitygw $VERSITYGW_VERSION, goaws $GOAWS_VERSION, staticcheck $STATICCHECK_VERSION)"
