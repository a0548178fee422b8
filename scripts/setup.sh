#!/usr/bin/env bash
# Installs every build and test dependency on Debian 12 (bookworm). Idempotent; run as root.
set -euo pipefail

backports=/etc/apt/sources.list.d/bpfproxy-backports.list
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$backports"
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

# bpffs: programs and maps are pinned there.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
echo "setup: dependencies ready (libbpf $(pkg-config --modversion libbpf), $(bpftool version | head -1))"
