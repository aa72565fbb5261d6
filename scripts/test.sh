#!/usr/bin/env bash
# Runs pcapdaemon's whole test suite: unit tests, capture tests in network
# namespaces (root), service tests against real redis-server, versitygw and
# goaws, and files read back with tcpdump. Installs what is missing first.
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
	PATH="$(go env GOPATH)/bin:$PATH"
	export PATH
fi

export CGO_ENABLED=0
go vet ./...
go test -count=1 -timeout 25m "$@" ./...
