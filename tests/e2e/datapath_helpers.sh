# shellcheck shell=bash
# Reading a node's datapath from an end-to-end script (sourced after sim_cluster.sh).
_datapath_abi="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bpf/maps_abi.h"

programmed() {  # PIN FRONTEND: the frontend is in the maps
  "$SIM_BPFPROXY" service list --pin-dir "$1" -o json 2>/dev/null | grep -q "\"$2\""
}

counter() {  # PIN NAME: a BPX_STAT_* counter summed over CPUs (index from bpf/maps_abi.h)
  local index
  index=$(awk -v n="BPX_STAT_$2" '$1 == "#define" && $2 == n { print $3 }' "$_datapath_abi")
  bpftool -j map lookup pinned "$1/maps/bpx_stats_v1" key "$index" 0 0 0 |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print(sum(int.from_bytes(bytes(int(b,16) for b in c["value"]),"little") for c in v["values"]))' 2>/dev/null ||
    echo 0
}

backend_count() {  # PIN VIP:PORT: the number of backends programmed for the frontend, or "absent"
  "$SIM_BPFPROXY" service list --pin-dir "$1" -o json | python3 -c "
import json, sys
f = [s for s in json.load(sys.stdin) if s['frontend'] == sys.argv[1]]
print(len(f[0]['backends']) if f else 'absent')" "$2"
}
has_backends() { test "$(backend_count "$1" "$2")" = "$3"; }  # PIN VIP:PORT COUNT
absent() { test "$(backend_count "$1" "$2")" = absent; }      # PIN VIP:PORT
