#!/usr/bin/env bash
# Installs every build and test dependency on Debian 12 (bookworm). Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# bookworm-backports, from the Debian mirror the machine's apt sources already use (one-line
# .list entries or deb822 .sources files), never a fixed host.
source scripts/lib/debian_mirror.sh
backports=/etc/apt/sources.list.d/bpfproxy-backports.list
if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
   { [ -f "$backports" ] && [ "$(grep -rlsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/)" = "$backports" ]; }; then
  mirror="$(debian_mirror /etc/apt | head -1)"
  if [ -z "$mirror" ]; then
    echo "setup: no Debian bookworm entry in the apt sources: cannot add bookworm-backports" >&2
    exit 1
  fi
  line="deb ${mirror%/} bookworm-backports main"
  if [ "$(cat "$backports" 2>/dev/null)" != "$line" ]; then
    echo "$line" > "$backports"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Keep package installs from starting daemons (nginx, dnsmasq) in the host namespace.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT

# libbpf 1.4 and bpftool 7.5 come from backports: tcx links and the current link APIs.
backported=(libbpf-dev bpftool)
packages=(
  build-essential cmake pkg-config clang llvm
  libelf-dev zlib1g-dev linux-libc-dev
  libcpprest-dev libssl-dev libboost-system-dev
  doctest-dev prometheus-cpp-dev libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libbenchmark-dev
  iproute2 util-linux procps psmisc curl nginx-light dnsmasq-base bind9-dnsutils python3 openssl
  iptables nftables gnuplot-nox prometheus systemd
  golang-go golang-github-masterminds-sprig-dev python3-yaml
)

missing=()
for p in "${backported[@]}" "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
need_bpo=0
dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || echo 0)" ge 1:1.4 || need_bpo=1
if [ ${#missing[@]} -gt 0 ] || [ $need_bpo = 1 ]; then
  echo "setup: installing ${missing[*]:-libbpf from backports}"
  apt-get update -qq
  apt-get install -y -qq -t bookworm-backports "${backported[@]}" >/dev/null
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# The deployment tests validate rendered manifests with the kubernetes-models package (npm).
# Node.js may come from elsewhere already; Debian's otherwise.
if ! command -v npm >/dev/null; then
  apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d tests/deploy/node_modules/kubernetes-models ]; then
  npm ci --prefix tests/deploy --no-audit --no-fund --loglevel=error >/dev/null
fi

# bpffs: programs and maps are pinned there.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
echo "setup: dependencies ready (libbpf $(pkg-config --modversion libbpf), $(bpftool version | head -1))"
