#!/usr/bin/env bash
# Runs pcapdaemon's whole test suite: go.mod tidiness, go vet, staticcheck,
# unit tests, capture tests in network namespaces (root), service tests
# against real redis-server, versitygw and goaws, files read back with
# tcpdump, and the status page in a headless chromium. Installs what is
# missing first.
#
#   sudo scripts/test.sh            # as root: nothing skipped
#   PCAPDAEMON_REQUIRE_PRIV=1 ...   # turn every privileged skip into a failure
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v setpriv >/dev/null || need_apt+=(util-linux)
command -v capsh >/dev/null || need_apt+=(libcap2-bin)
command -v file >/dev/null || need_apt+=(file)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# The status page's tests drive a real headless browser (internal/browsertest).
command -v chromium >/dev/null || need_apt+=(chromium)
if ((${#need_apt[@]})); then
	if [[ $(id -u) -eq 0 ]]; then
		echo "test.sh: installing ${need_apt[*]}" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
	else
		echo "test.sh: missing ${need_apt[*]} (run as root to install them)" >&2
	fi
fi
if [[ -x scripts/testservers.sh ]]; then
	scripts/testservers.sh
	# Where testservers.sh installs (the same order as there).
	bin=${TESTSERVERS_BIN:-$(go env GOBIN)}
	[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
	PATH="$bin:$PATH"
	export PATH
fi

export CGO_ENABLED=0
# go.mod and go.sum must be what go mod tidy makes of the code.
if ! go mod tidy -diff; then
	echo "test.sh: go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
	exit 1
fi
go vet ./...
command -v staticcheck >/dev/null || {
	echo "test.sh: staticcheck not found (scripts/testservers.sh installs it)" >&2
	exit 1
}
staticcheck ./...
go test -count=1 -timeout 25m "$@" ./...
