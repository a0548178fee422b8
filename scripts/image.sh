#!/usr/bin/env bash
# Builds the agent's container image from this checkout's build, pulling nothing:
#   scripts/image.sh [OUT]       (default build/bpfproxy-image.tar)
# OUT is a docker-archive (one layer: the binary and the shared libraries it loads, as ldd
# lists them, plus the iptables, nft and ip tools `bpfproxy takeover` runs), importable with
# `ctr -n k8s.io images import OUT` and `podman load -i OUT`. Its tag is the chart's default
# image (image.repository:image.tag, as deploy/bpfproxy.yaml has it).
# Environment: BUILD_DIR (default build) holds the bpfproxy binary of scripts/build.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="${1:-$build/bpfproxy-image.tar}"
binary="$build/bpfproxy"
if [ ! -x "$binary" ]; then
  echo "image: $binary not found: run scripts/build.sh first" >&2
  exit 1
fi
# The default rendering holds the chart's default image name.
image="$(sed -n 's/^ *image: "\(.*\)"$/\1/p' "$root/deploy/bpfproxy.yaml" | head -1)"
if [ -z "$image" ]; then
  echo "image: no image in deploy/bpfproxy.yaml (scripts/render-chart.sh > deploy/bpfproxy.yaml)" >&2
  exit 1
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/run" "$rootfs/sys" "$rootfs/proc"
chmod 1777 "$rootfs/tmp"

# A file with every shared library ldd resolves for it, at the paths ldd prints (the
# loader looks there: /lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu/...).
copy_with_libs() {
  local file="$1" dest="$2"
  install -D -m 0755 "$file" "$rootfs$dest"
  ldd "$file" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
    [ -e "$rootfs$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
}

copy_with_libs "$binary" /usr/bin/bpfproxy
strip --strip-debug "$rootfs/usr/bin/bpfproxy"  # the debug info is most of the binary
# The tools takeover runs, where the build host has them: both iptables back ends with
# their extension modules, nft, ip, and ipvsadm/ipset when installed.
for multi in xtables-legacy-multi xtables-nft-multi; do
  path="$(command -v "$multi" || true)"
  [ -n "$path" ] || continue
  copy_with_libs "$path" "/usr/sbin/$multi"
  kind="${multi#xtables-}"; kind="${kind%-multi}"
  for tool in iptables ip6tables; do
    for suffix in "" -save -restore; do
      ln -sf "$multi" "$rootfs/usr/sbin/$tool-$kind$suffix"
    done
  done
done
if [ -e "$rootfs/usr/sbin/xtables-nft-multi" ]; then
  for name in iptables ip6tables; do
    for suffix in "" -save -restore; do ln -sf xtables-nft-multi "$rootfs/usr/sbin/$name$suffix"; done
  done
fi
xtables="$(dirname "$(readlink -f "$(ldconfig -p | awk '/libxtables.so/ { print $NF; exit }')")")/xtables"
if [ -d "$xtables" ]; then
  mkdir -p "$rootfs$xtables"
  cp -a "$xtables/." "$rootfs$xtables/"
  for module in "$rootfs$xtables"/*.so; do
    ldd "$module" | awk '/=> \// { print $3 }' | while read -r lib; do
      [ -e "$rootfs$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    done
  done
fi
for tool in nft ip ipvsadm ipset; do
  path="$(command -v "$tool" || true)"
  [ -n "$path" ] && copy_with_libs "$path" "/usr/sbin/$tool"
done
for file in /etc/protocols /etc/services /etc/ethertypes; do
  [ -f "$file" ] && cp "$file" "$rootfs$file"
done
printf 'root:x:0:0:root:/:/usr/bin/bpfproxy\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"

mkdir -p "$(dirname "$out")"
python3 "$root/scripts/lib/docker_archive.py" "$rootfs" "$image" "$out"
echo "image: $out ($image)"
