// How explain decides a flow's fate: the frontend it matches, the backends left after each
// filter, and the pick, from the pinned maps and the same rules the BPF code applies.
#include <algorithm>
#include <cstring>

#include "bpf/maps_abi.h"
#include "cli/lb_explain.h"
#include "cli/ops_views.h"
#include "cli/service_view.h"
#include "maps/tc_maps.h"

namespace bpfproxy::cli {

namespace {

bool sameAddress(const uint8_t (&addr)[16], const IpAddress& address) {
  return maps::addressOf(addr) == address;
}

std::vector<std::string> flagNames(uint16_t flags, uint32_t affinityTimeout) {
  std::vector<std::string> names;
  if (flags & BPX_SVC_F_CLUSTER_IP) names.push_back("ClusterIP");
  if (flags & BPX_SVC_F_NODEPORT) names.push_back("NodePort");
  if (flags & BPX_SVC_F_EXTERNAL_IP) names.push_back("ExternalIP");
  if (flags & BPX_SVC_F_LOADBALANCER) names.push_back("LoadBalancer");
  if (flags & BPX_SVC_F_LOCAL) names.push_back("externalTrafficPolicy=Local");
  if (flags & BPX_SVC_F_AFFINITY) names.push_back("sessionAffinity=ClientIP(" + std::to_string(affinityTimeout) + "s)");
  if (flags & BPX_SVC_F_LB_PROXY) names.push_back("ipMode=Proxy");
  if (flags & BPX_SVC_F_SOURCE_RANGES) names.push_back("loadBalancerSourceRanges");
  if (flags & BPX_SVC_F_DRAINED) names.push_back("drained");
  if (flags & BPX_SVC_F_METRICS) names.push_back("metrics");
  return names;
}

}  // namespace

ExplainExtras readExplainExtras(const maps::LpmMap& lpm, const maps::NodeAddrMap& nodeAddrs,
                                const maps::DatapathSnapshot& snapshot, const FlowQuery& query) {
  ExplainExtras extras;
  // One address in bpx_lpm's trie of `svcId` (a Service's source ranges, or the service CIDRs).
  auto inTrie = [&lpm](uint32_t svcId, const IpAddress& address) {
    bpx_lpm_key key{};
    key.prefixlen = 32 + 128;
    key.svc_id = svcId;
    std::memcpy(key.addr, address.bytes().data(), 16);
    bpx_lpm_value value{};
    return lpm.lookup(key, value) == 0;
  };
  if (lpm.valid()) {
    extras.sourceAllowed = [inTrie, &snapshot](uint32_t svcId, const IpAddress& client) -> std::optional<bool> {
      for (const auto& frontend : snapshot.frontends)
        if (frontend.value.svc_id == svcId && !(frontend.value.flags & BPX_SVC_F_SOURCE_RANGES)) return std::nullopt;
      return inTrie(svcId, client);
    };
    extras.serviceCidr = inTrie(BPX_LPM_SERVICE_CIDR, query.destination);
  }
  if (nodeAddrs.valid()) {
    bpx_node_addr value{};
    extras.nodeAddress = nodeAddrs.lookup(maps::addressKey(query.destination), value) == 0 &&
                         (value.flags & BPX_NODE_ADDR_F_NODEPORT);
  }
  return extras;
}

bool parseFlowDestination(const std::string& text, IpAddress& address, uint16_t& port, uint8_t& proto) {
  std::string rest = text;
  proto = BPX_PROTO_TCP;
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    std::string name = rest.substr(slash + 1);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "tcp") proto = BPX_PROTO_TCP;
    else if (name == "udp") proto = BPX_PROTO_UDP;
    else if (name == "sctp") proto = BPX_PROTO_SCTP;
    else return false;
    rest = rest.substr(0, slash);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = rest.substr(0, colon), portText = rest.substr(colon + 1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  auto parsed = IpAddress::parse(host);
  if (!parsed || (!parsed->isV4() && !bracketed)) return false;
  if (portText.empty() || portText.size() > 5 || portText.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int number = std::stoi(portText);
  if (number <= 0 || number > 65535) return false;
  address = *parsed;
  port = static_cast<uint16_t>(number);
  return true;
}

Explanation explainFlow(const maps::DatapathSnapshot& snapshot, const FlowQuery& query, const ExplainExtras& extras) {
  Explanation result;
  result.frontendText = formatEndpoint(query.destination, query.port) + "/" + maps::protocolName(query.proto);
  auto find = [&](const IpAddress& address, uint16_t port, uint8_t proto) -> const maps::SnapshotFrontend* {
    for (const auto& frontend : snapshot.frontends)
      if (sameAddress(frontend.key.addr, address) && maps::hostPort(frontend.key.port) == port &&
          frontend.key.proto == proto)
        return &frontend;
    return nullptr;
  };
  const maps::SnapshotFrontend* frontend = find(query.destination, query.port, query.proto);
  if (!frontend && extras.nodeAddress) {  // NodePorts are keyed by the any-address
    frontend = find(query.destination.isV4() ? IpAddress::fromV4(0) : IpAddress(), query.port, query.proto);
    if (frontend && !(frontend->value.flags & BPX_SVC_F_NODEPORT)) frontend = nullptr;
    if (frontend) result.notes.push_back("the destination is a node address: matched the NodePort frontend");
  }
  if (!frontend) {
    if (find(query.destination, 0, BPX_PROTO_ANY)) {
      result.verdict = "refused";
      result.reason = "no_port";
      result.notes.push_back(query.destination.toString() +
                             " is a ClusterIP, but its Service defines no such port: connect() fails with "
                             "ECONNREFUSED (counter bpfproxy_drops_total{reason=\"no_port\"})");
    } else if (extras.serviceCidr) {
      result.verdict = "refused";
      result.reason = "unallocated";
      result.notes.push_back(query.destination.toString() +
                             " is in a service CIDR but no Service has it: connect() fails with ECONNREFUSED "
                             "(counter bpfproxy_drops_total{reason=\"unallocated\"})");
    } else {
      result.verdict = "not a service";
      result.notes.push_back("no frontend matches: the connection leaves untranslated");
    }
    return result;
  }
  result.frontend = *frontend;
  result.frontendFlags = flagNames(frontend->value.flags, frontend->value.affinity_timeout);
  if (frontend->value.flags & BPX_SVC_F_LB_PROXY) {
    result.verdict = "not a service";
    result.notes.push_back("load-balancer ipMode Proxy: traffic must reach the load balancer, so it is not translated");
    return result;
  }

  const auto& ids = frontend->backendIds;
  auto state = [&](uint32_t id) {
    auto it = snapshot.backends.find(id);
    return it == snapshot.backends.end() ? uint8_t{255} : it->second.state;
  };
  auto local = [&](uint32_t id) {
    auto it = snapshot.backends.find(id);
    return it != snapshot.backends.end() && (it->second.flags & BPX_BACKEND_F_LOCAL);
  };
  size_t active = std::count_if(ids.begin(), ids.end(), [&](uint32_t id) { return state(id) == BPX_BACKEND_ACTIVE; });
  size_t terminating = std::count_if(ids.begin(), ids.end(), [&](uint32_t id) { return state(id) == BPX_BACKEND_TERMINATING; });
  size_t locals = std::count_if(ids.begin(), ids.end(), local);

  result.stages.push_back({"programmed", std::to_string(ids.size()) +
                                             " backends in the active bank (generation " +
                                             std::to_string(frontend->value.generation) + ")",
                           ids});
  std::string readiness;
  if (ids.empty()) readiness = "no endpoint is ready or serving";
  else if (active == 0 && terminating > 0)
    readiness = "no ready endpoint: the " + std::to_string(terminating) +
                " serving-terminating ones are used, so connections drain instead of failing";
  else readiness = std::to_string(active) + " ready; terminating endpoints are left out while any is ready";
  result.stages.push_back({"readiness", readiness, ids});
  std::string policy;
  if (frontend->value.flags & BPX_SVC_F_LOCAL)
    policy = "externalTrafficPolicy Local: only this node's endpoints (" + std::to_string(locals) + " local)";
  else if (!ids.empty() && locals == ids.size() && (frontend->value.flags & BPX_SVC_F_CLUSTER_IP))
    policy = "all " + std::to_string(locals) + " backends are on this node (internalTrafficPolicy Local, or topology)";
  else policy = "Cluster: endpoints on every node (" + std::to_string(locals) + " of them local)";
  result.stages.push_back({"traffic policy and topology", policy, ids});
  std::vector<uint32_t> left = ids;
  std::optional<bool> allowed = extras.sourceAllowed ? extras.sourceAllowed(frontend->value.svc_id, query.source)
                                                     : std::nullopt;
  if (allowed && !*allowed) {
    left.clear();
    result.stages.push_back({"source ranges", query.source.toString() +
                                                  " is outside loadBalancerSourceRanges: dropped on the TC path",
                             left});
    result.verdict = "dropped";
    result.reason = "src_range";
    return result;
  }
  result.stages.push_back({"source ranges", allowed ? query.source.toString() + " is inside loadBalancerSourceRanges"
                                                    : "none set for this frontend",
                           left});

  result.conntrack = extras.conntrack;
  result.udpStickySockets = extras.udpStickySockets;
  auto lb = explainLbPick(*frontend, query);
  result.algorithm = lb.algorithm;
  if (query.proto == BPX_PROTO_UDP)
    result.algorithm += "; an unconnected UDP socket keeps its first backend while it stays in the set";
  if (!left.empty() && (frontend->value.flags & BPX_SVC_F_DRAINED)) {
    result.verdict = "refused";
    result.reason = "drained";
    result.notes.push_back("drained (bpfproxy.io/terminating-fallback): new connections are refused, open ones "
                           "continue (counters bpfproxy_drops_total{reason=\"drained\"|\"tc_reject_drained\"})");
    return result;
  }
  if (left.empty()) {
    result.verdict = "refused";
    result.reason = "no_backend";
    result.notes.push_back("no backend: connect() and sendmsg() fail with ECONNREFUSED "
                           "(counter bpfproxy_drops_total{reason=\"no_backend\"})");
    return result;
  }
  result.verdict = "translated";
  std::vector<ConntrackHit> current;
  for (const auto& hit : result.conntrack)
    if (hit.current) current.push_back(hit);
  if (query.sourcePort && current.size() == 1) {
    result.picked = current.front().backendId;
    result.pickDetail = "a conntrack entry of this flow is in force: its packets keep going to this backend";
  } else if (left.size() == 1) {
    result.picked = left.front();
    result.pickDetail = "the only backend: every new connection gets it";
  } else if (lb.backendId && !(frontend->value.flags & BPX_SVC_F_AFFINITY)) {
    result.picked = lb.backendId;
    result.pickDetail = lb.detail;
  } else {
    result.pickDetail = "random among " + std::to_string(left.size()) + " (each 1/" + std::to_string(left.size()) + ")";
  }
  if (frontend->value.flags & BPX_SVC_F_AFFINITY)
    result.notes.push_back("sessionAffinity ClientIP: kept per client by the datapath that handles the flow");
  return result;
}

}  // namespace bpfproxy::cli
