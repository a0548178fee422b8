#include "maps/affinity_reader.h"

#include <arpa/inet.h>

#include <ctime>

#include "maps/datapath_snapshot.h"

namespace bpfproxy::maps {

std::string affinityClient(const bpx_client_affinity_key& key) {
  if (ntohl(key.client32[0]) == BPX_CLIENT_NETNS_PREFIX && key.client32[1] == 0)
    return "netns:" + std::to_string((uint64_t(ntohl(key.client32[2])) << 32) | ntohl(key.client32[3]));
  return addressOf(key.client).toString();
}

std::vector<AffinityEntry> readClientAffinity(const ClientAffinityMap& affinity) {
  std::vector<AffinityEntry> entries;
  affinity.forEach([&](const bpx_client_affinity_key& key, const bpx_client_affinity_value& value) {
    entries.push_back({affinityClient(key), key.svc_id, value.backend_id, value.last_used_ns});
    return true;
  });
  return entries;
}

int64_t monotonicNowNs() {
  timespec monotonic{};
  clock_gettime(CLOCK_MONOTONIC, &monotonic);
  return int64_t(monotonic.tv_sec) * 1000000000 + monotonic.tv_nsec;
}

}  // namespace bpfproxy::maps
