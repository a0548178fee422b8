#include "loader/map_converters.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

#include "bpf/maps_abi.h"
#include "loader/tc_config_converter.h"

namespace bpfproxy::loader {

namespace {

// The older layouts, as they were pinned (bpf/maps_abi.h only knows the current ones).

// bpx_svc_v1's and bpx_svc_v2's value: v3 added the load-balancing algorithm, its table
// and the round-robin position.
struct ServiceValueV2 {
  uint32_t svc_id;
  uint32_t generation;
  uint16_t backend_count;
  uint16_t flags;
  uint32_t affinity_timeout;
};
static_assert(sizeof(ServiceValueV2) == 16);

// bpx_svc_v1 (until 4ba262c): the key's last byte was padding, always zero. v2 names it
// the scope, and zero is BPX_SVC_SCOPE_ALL; the value did not change.
struct ServiceKeyV1 {
  uint8_t addr[16];  // network order; IPv4 v4-mapped
  uint16_t port;     // network order
  uint8_t proto;
  uint8_t pad;       // zero
};
static_assert(sizeof(ServiceKeyV1) == 20);

// bpx_affinity_v1 (until 4ba262c): the socket path's client was its network namespace.
// v2 keys clients by address, and a namespace whose address the agent does not know yet by
// the stand-in BPX_CLIENT_NETNS_PREFIX + cookie (bpf/lib/sock_client.bpf.h): what a v1
// entry becomes, so a pod keeps its backend through the upgrade. The value did not change.
struct AffinityKeyV1 {
  uint64_t netns_cookie;  // host order
  uint32_t svc_id;        // host order
  uint32_t pad;           // zero
};
static_assert(sizeof(AffinityKeyV1) == 16);

bool serviceV1ToV2(const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* key, uint8_t* value) {
  ServiceKeyV1 old;
  std::memcpy(&old, oldKey, sizeof(old));
  if (old.pad != 0) return false;  // not a v1 entry: it would become another scope
  bpx_svc_key converted{};
  std::memcpy(converted.addr, old.addr, sizeof(converted.addr));
  converted.port = old.port;
  converted.proto = old.proto;
  converted.scope = BPX_SVC_SCOPE_ALL;
  std::memcpy(key, &converted, sizeof(converted));
  std::memcpy(value, oldValue, sizeof(ServiceValueV2));  // v2 kept v1's value
  return true;
}

bool affinityV1ToV2(const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* key, uint8_t* value) {
  AffinityKeyV1 old;
  std::memcpy(&old, oldKey, sizeof(old));
  bpx_client_affinity_key converted{};
  converted.client32[0] = htonl(BPX_CLIENT_NETNS_PREFIX);
  converted.client32[1] = 0;
  converted.client32[2] = htonl(static_cast<uint32_t>(old.netns_cookie >> 32));
  converted.client32[3] = htonl(static_cast<uint32_t>(old.netns_cookie));
  converted.svc_id = old.svc_id;
  std::memcpy(key, &converted, sizeof(converted));
  std::memcpy(value, oldValue, sizeof(bpx_client_affinity_value));
  return true;
}

// Every v2 frontend picked at random among its backends: random, no table.
bool serviceV2toV3(const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* key, uint8_t* value) {
  ServiceValueV2 old;
  std::memcpy(&old, oldValue, sizeof(old));
  bpx_svc_value converted{};
  converted.svc_id = old.svc_id;
  converted.generation = old.generation;
  converted.backend_count = old.backend_count;
  converted.flags = old.flags;
  converted.affinity_timeout = old.affinity_timeout;
  converted.algorithm = BPX_LB_RANDOM;
  std::memcpy(key, oldKey, sizeof(bpx_svc_key));  // the key did not change
  std::memcpy(value, &converted, sizeof(converted));
  return true;
}

}  // namespace

const std::vector<MapConverter>& builtinMapConverters() {
  // One per layout bump, from the pinned name to this build's. Not convertible, so retired
  // instead (maps::kRetiredMaps): bpx_revnat_v1 and bpx_udpaff_v1, keyed by socket cookie,
  // whose successor is socket-local storage, which only a socket's own descriptor can fill.
  static const std::vector<MapConverter> converters = {
      {"bpx_svc_v1", "bpx_svc_v2", sizeof(ServiceKeyV1), sizeof(ServiceValueV2), serviceV1ToV2},
      {"bpx_affinity_v1", "bpx_affinity_v2", sizeof(AffinityKeyV1), sizeof(bpx_client_affinity_value),
       affinityV1ToV2},
      {"bpx_svc_v2", BPX_STRINGIFY(BPX_MAP_SVC), sizeof(bpx_svc_key), sizeof(ServiceValueV2), serviceV2toV3},
      tcConfigWithoutNetnsCookie(),  // bpx_tccfg_v1 of 48 bytes, in place
  };
  return converters;
}

std::pair<std::string, int> splitMapVersion(const std::string& name) {
  auto mark = name.rfind("_v");
  if (mark == std::string::npos || mark + 2 == name.size() || name.size() - mark > 8) return {name, -1};
  int version = 0;
  for (size_t i = mark + 2; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return {name, -1};
    version = version * 10 + (name[i] - '0');
  }
  return {name.substr(0, mark), version};
}

}  // namespace bpfproxy::loader
