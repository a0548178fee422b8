#include "maps/service_traffic.h"

#include <bpf/libbpf.h>

#include <cstring>
#include <map>
#include <tuple>

#include "maps/datapath_snapshot.h"

namespace bpfproxy::maps {

std::vector<ServiceTraffic> readServiceTraffic(const DatapathMaps& maps) {
  std::vector<ServiceTraffic> rows;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0 || !maps.serviceStats.valid()) return rows;
  std::vector<bpx_svc_stats_key> keys;
  maps.serviceStats.forEachKey([&](const bpx_svc_stats_key& key) {
    keys.push_back(key);
    return true;
  });
  using Label = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Label, ServiceTraffic> summed;  // a Service's frontends add up
  std::vector<bpx_svc_stats> perCpu(static_cast<size_t>(cpus));
  for (const auto& key : keys) {
    bpx_svc_meta meta{};
    bpx_backend backend{};
    if (maps.serviceMeta.lookup(key.svc_id, meta) != 0 || maps.backends.lookup(key.backend_id, backend) != 0 ||
        maps.serviceStats.lookupPerCpu(key, perCpu) != 0)
      continue;
    ServiceTraffic row;
    row.namespace_ = std::string(meta.namespace_, strnlen(meta.namespace_, sizeof(meta.namespace_)));
    row.name = std::string(meta.name, strnlen(meta.name, sizeof(meta.name)));
    row.backend = formatEndpoint(addressOf(backend.addr), hostPort(backend.port));
    row.path = key.path == BPX_SVC_STATS_TC ? "tc" : "socket";
    auto& total = summed.try_emplace(Label{row.namespace_, row.name, row.backend, row.path}, row).first->second;
    for (const auto& value : perCpu) {
      total.connections += value.connections;
      total.packets += value.packets;
      total.bytes += value.bytes;
    }
  }
  for (auto& [label, row] : summed) rows.push_back(std::move(row));
  return rows;
}

}  // namespace bpfproxy::maps
