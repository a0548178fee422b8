#!/usr/bin/env bash
# Prints every manifest of helm/bpfproxy as `helm template` would, without helm:
#   scripts/render-chart.sh [-f VALUES] [--set KEY=VALUE]... [--namespace NS] [--release NAME]
#                           [--kube-version vX.Y.Z]
# Defaults: release bpfproxy, namespace kube-system, Kubernetes v1.30.0. The renderer
# (tools/render-chart) is built offline from Debian's Go packages (golang-go,
# golang-github-masterminds-sprig-dev; scripts/setup.sh installs them) into build/tools/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${BPFPROXY_TOOLS_DIR:-$root/build/tools}"
bin="$out/render-chart"
src="$root/tools/render-chart/main.go"

if ! command -v go >/dev/null; then
  echo "render-chart: go is not installed (scripts/setup.sh installs golang-go)" >&2
  exit 77
fi
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
  # Debian installs Go libraries as GOPATH sources under /usr/share/gocode. GOPATH mode does
  # not map the /v3 major-version suffix of sprig and semver: two symlinks supply it.
  gopath="$out/gopath"
  mkdir -p "$gopath/src/github.com/Masterminds/sprig" "$gopath/src/github.com/Masterminds/semver"
  ln -sfn /usr/share/gocode/src/github.com/Masterminds/sprig "$gopath/src/github.com/Masterminds/sprig/v3"
  ln -sfn /usr/share/gocode/src/github.com/Masterminds/semver "$gopath/src/github.com/Masterminds/semver/v3"
  if [ ! -d /usr/share/gocode/src/github.com/Masterminds/sprig ]; then
    echo "render-chart: sprig is not installed (scripts/setup.sh installs golang-github-masterminds-sprig-dev)" >&2
    exit 77
  fi
  (cd "$root/tools/render-chart" &&
    GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH="$gopath:/usr/share/gocode" \
      GOCACHE="${GOCACHE:-$out/go-cache}" go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
exec "$bin" "$root/helm/bpfproxy" "$@"
