#include "maps/conntrack_reader.h"

#include <arpa/inet.h>

#include "maps/datapath_snapshot.h"

namespace bpfproxy::maps {

std::vector<ConntrackFlow> readConntrack(const ConntrackMap& conntrack) {
  std::vector<ConntrackFlow> flows;
  conntrack.forEach([&](const bpx_ct_key& key, const bpx_ct_value& value) {
    ConntrackFlow flow;
    flow.key = key;
    flow.value = value;
    flow.forward = key.dir == BPX_CT_FORWARD;
    const bool snat = value.flags & BPX_CT_F_SNAT;
    if (flow.forward) {
      flow.client = {addressOf(key.src), ntohs(key.sport)};
      flow.frontend = {addressOf(key.dst), ntohs(key.dport)};
      flow.backendId = value.backend_id;
      flow.svcId = value.svc_id;
      if (snat) flow.snat = Endpoint{addressOf(value.nat_addr), ntohs(value.nat_port)};
    } else {
      flow.client = {addressOf(value.orig_addr), ntohs(value.orig_port)};
      flow.frontend = {addressOf(value.nat_addr), ntohs(value.nat_port)};
      flow.backend = Endpoint{addressOf(key.src), ntohs(key.sport)};
      if (snat) flow.snat = Endpoint{addressOf(key.dst), ntohs(key.dport)};
    }
    flows.push_back(flow);
    return true;
  });
  return flows;
}

}  // namespace bpfproxy::maps
