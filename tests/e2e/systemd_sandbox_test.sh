#!/usr/bin/env bash
# The systemd unit's hardening and the agent's port reservation together. systemd does not
# run as PID 1 here, so its sandbox for /proc/sys is reproduced the way it builds it
# (ProtectKernelTunables=yes: /proc/sys bound read-only; each ReadWritePaths= below it bound
# read-write again), from the directives in deploy/systemd/bpfproxy.service, around the real
# agent in node1's network namespace (ip_local_reserved_ports is per namespace, so the
# host's is never touched). Without the unit's exception the write fails, and the agent
# says so; with it the NodePort and SNAT ranges are reserved.
source "$(dirname "$0")/preamble.sh"
unit="$here/../../deploy/systemd/bpfproxy.service"

grep -qx 'ProtectKernelTunables=yes' "$unit" || { echo "skip: the unit no longer sets ProtectKernelTunables"; exit 77; }
# ReadWritePaths= entries below /proc/sys: what the unit lets the agent write there.
mapfile -t writable < <(sed -n 's/^ReadWritePaths=//p' "$unit" | tr ' ' '\n' | grep '^/proc/sys/')
echo "      the unit's writable paths below /proc/sys: ${writable[*]:-none}"

manifests=$(sim_manifests "$here/manifests")
require sim_reference_cluster
reserved() { nsenter --net="/run/netns/$SIM_TAG-node1" cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
check "node1 starts with nothing reserved" test -z "$(reserved)"

# sandboxed_agent LOG [WRITABLE...]: the agent in node1's namespace and a mount namespace
# of its own, /proc/sys read-only but for WRITABLE.
sandboxed_agent() {
  local log=$1; shift
  nsenter --net="/run/netns/$SIM_TAG-node1" unshare -m --propagation private sh -c '
    mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys || exit 90
    agent=$1 log=$2; shift 2
    while [ "$1" != -- ]; do
      mount --bind "$1" "$1" && mount -o remount,bind,rw "$1" || exit 91
      shift
    done
    shift
    exec "$agent" "$@" >>"$log" 2>&1' sh "$SIM_BPFPROXY" "$log" "$@" -- agent --manifests "$manifests" \
    --cgroup "$SIM_CG_ROOT/node1" --pin-dir "$(sim_pin_dir node1)" --node-name node1 \
    --metrics-bind-address "" --healthz-bind-address "" --devices eth0 &
  SIM_LAST_PID=$!
  SIM_PIDS+=("$SIM_LAST_PID")
  SIM_PINS+=("$(sim_pin_dir node1)")
}
stop_agent() { kill "$1"; wait "$1" 2>/dev/null; }

echo "--- ProtectKernelTunables alone"
sandboxed_agent "$SIM_TMP/bare.log"
require sim_wait_for "the agent to try the reservation" 20 grep -q "ip_local_reserved_ports" "$SIM_TMP/bare.log"
check "the read-only /proc/sys stops the write, and the agent says so" \
  grep -q "cannot write /proc/sys/net/ipv4/ip_local_reserved_ports: NodePorts are not reserved" "$SIM_TMP/bare.log"
check "nothing was reserved" test -z "$(reserved)"
stop_agent "$SIM_LAST_PID"

echo "--- with the unit's ReadWritePaths"
sandboxed_agent "$SIM_TMP/unit.log" "${writable[@]}"
require sim_wait_for "the agent to reserve the ports" 20 grep -q "ip_local_reserved_ports" "$SIM_TMP/unit.log"
echo "      node1 reserves: $(reserved)"
check "the agent reserved the NodePort range" grep -q "30000-32767" <<<"$(reserved)"
check "and the SNAT range" grep -q "61000-65535" <<<"$(reserved)"
check "no write error was logged" bash -c "! grep -q 'cannot write' '$SIM_TMP/unit.log'"
stop_agent "$SIM_LAST_PID"

e2e_finish
