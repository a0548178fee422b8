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

}  // namespace bpfproxy::maps
