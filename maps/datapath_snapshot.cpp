#include "maps/datapath_snapshot.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace bpfproxy::maps {

IpAddress addressOf(const uint8_t (&addr)[16]) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), addr, 16);
  return IpAddress(bytes);
}

uint16_t hostPort(__be16 port) { return ntohs(port); }

std::string protocolName(uint8_t proto) {
  switch (proto) {
    case BPX_PROTO_TCP: return "TCP";
    case BPX_PROTO_UDP: return "UDP";
    case BPX_PROTO_SCTP: return "SCTP";
    case BPX_PROTO_ANY: return "ANY";
  }
  return std::to_string(proto);
}

std::string frontendTypeName(uint8_t type) {
  switch (type) {
    case BPX_SVC_TYPE_CLUSTER_IP: return "ClusterIP";
    case BPX_SVC_TYPE_NODE_PORT: return "NodePort";
    case BPX_SVC_TYPE_LOAD_BALANCER: return "LoadBalancer";
    case BPX_SVC_TYPE_EXTERNAL_IP: return "ExternalIP";
  }
  return "unknown";
}

std::string backendStateName(uint8_t state) {
  switch (state) {
    case BPX_BACKEND_ACTIVE: return "active";
    case BPX_BACKEND_TERMINATING: return "terminating";
    case BPX_BACKEND_QUARANTINED: return "quarantined";
  }
  return "unknown";
}

DatapathSnapshot readSnapshot(const DatapathMaps& maps) {
  DatapathSnapshot snapshot;
  std::map<uint32_t, size_t> byId;  // svc_id -> index in frontends
  maps.services.forEach<bpx_svc_key, bpx_svc_value>(
      [&](const bpx_svc_key& key, const bpx_svc_value& value) {
        snapshot.frontends.push_back({key, value, std::nullopt, {}});
        return true;
      });
  std::sort(snapshot.frontends.begin(), snapshot.frontends.end(),
            [](const SnapshotFrontend& a, const SnapshotFrontend& b) {
              return std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0;
            });
  for (size_t i = 0; i < snapshot.frontends.size(); ++i) {
    auto& frontend = snapshot.frontends[i];
    byId[frontend.value.svc_id] = i;
    frontend.backendIds.assign(frontend.value.backend_count, 0);
    bpx_svc_meta meta{};
    if (maps.serviceMeta.lookup(frontend.value.svc_id, meta) == 0) frontend.meta = meta;
  }
  maps.slots.forEach<bpx_slot_key, bpx_slot_value>(
      [&](const bpx_slot_key& key, const bpx_slot_value& slot) {
        auto it = byId.find(key.svc_id);
        if (it == byId.end()) {
          snapshot.staleSlots.push_back(key);
          return true;
        }
        auto& frontend = snapshot.frontends[it->second];
        bool active = key.bank == (frontend.value.generation & 1) &&
                      key.index < frontend.value.backend_count;
        if (active)
          frontend.backendIds[key.index] = slot.backend_id;
        else
          snapshot.staleSlots.push_back(key);
        return true;
      });
  maps.backends.forEach<uint32_t, bpx_backend>([&](const uint32_t& id, const bpx_backend& b) {
    snapshot.backends[id] = b;
    return true;
  });
  return snapshot;
}

}  // namespace bpfproxy::maps
