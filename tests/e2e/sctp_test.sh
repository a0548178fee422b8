#!/usr/bin/env bash
# SCTP on both paths, end to end with the kernel's SCTP stack: a pod reaches an SCTP
# ClusterIP through the socket hooks, and a client outside the cluster reaches the same
# Service's NodePort through the TC programs, with the port changed (3868 -> 3869). Over
# veth the CRC32c is left to offload and not checked by the receiver; the CRC patch itself
# is checked by tests/bpf/tc_lb_test.cpp. Reports SKIP (77) on kernels without SCTP.
source "$(dirname "$0")/preamble.sh"
if ! unshare --net python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)' 2>/dev/null &&
   ! { modprobe sctp 2>/dev/null && unshare --net python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)' 2>/dev/null; }; then
  echo "SKIP  this kernel has no SCTP (CONFIG_IP_SCTP, modprobe sctp failed)"
  exit 77
fi

manifests=$(sim_manifests "$here/manifests" "$here/manifests_sctp")
require sim_reference_cluster
require sim_lan node1 node2
require sim_external_client client 192.168.50.100/24 fd00:50::100/64
sim_spawn nginx-2 "$SIM_TMP/sctp.log" python3 "$here/sctp_echo.py" server 3869 nginx-2
for node in node1 node2; do
  sim_agent_tc "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 \
    --devices ext0,eth0
done
pin1=$(sim_pin_dir node1)
require sim_wait_for "node1's agent to attach its TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node1.log"
require sim_wait_for "the SCTP Service to be programmed" 20 sh -c "\"$SIM_BPFPROXY\" service list --pin-dir $pin1 -o json | grep -q 10.32.0.180:3868"

pod=$(sim_exec busybox python3 "$here/sctp_echo.py" client 10.32.0.180 3868 2>&1)
echo "$pod" | sed 's/^/      /'
check "a pod's SCTP connect to the ClusterIP reaches the server on its target port" grep -q "^nginx-2: hello" <<<"$pod"
check "getpeername shows the ClusterIP" grep -q "^peer 10.32.0.180 3868" <<<"$pod"
outside=$(sim_ext client python3 "$here/sctp_echo.py" client 192.168.50.1 30868 2>&1)
echo "$outside" | sed 's/^/      /'
check "an outside SCTP client reaches it through node1's NodePort (ports translated)" \
  grep -q "^nginx-2: hello" <<<"$outside"
e2e_finish
