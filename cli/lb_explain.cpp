#include "cli/lb_explain.h"

#include <arpa/inet.h>

#include <cstring>

#include "controller/model/lb_choice.h"

namespace bpfproxy::cli {

const std::vector<uint32_t>& lbPositions(const maps::SnapshotFrontend& frontend) {
  return frontend.value.table_size ? frontend.tableIds : frontend.backendIds;
}

LbPick explainLbPick(const maps::SnapshotFrontend& frontend, const FlowQuery& query) {
  LbPick pick;
  const auto& positions = lbPositions(frontend);
  const std::string count = std::to_string(positions.size());
  const std::string over = frontend.value.table_size
                               ? " over a table of " + count + " slots (backends repeated by weight)"
                               : " over the " + count + " backends, every one equally likely";
  switch (frontend.value.algorithm) {
    case BPX_LB_MAGLEV: {
      pick.algorithm = "maglev: slot = hash % " + count + " over Maglev's table; the TC path hashes the 5-tuple, "
                       "the socket path the client and the Service port";
      __be32 src[4], dst[4];
      std::memcpy(src, query.source.bytes().data(), 16);
      std::memcpy(dst, query.destination.bytes().data(), 16);
      uint16_t sport = query.sourcePort.value_or(0);
      uint32_t hash = bpx_flow_hash(src, dst, htons(sport), htons(query.port), query.proto);
      if (positions.empty()) break;
      uint32_t slot = hash % positions.size();
      pick.backendId = positions[slot];
      pick.detail = std::string(query.sourcePort ? "TC path, 5-tuple" : "socket path (no source port)") +
                    ": hash " + std::to_string(hash) + " % " + count + " = slot " + std::to_string(slot);
      break;
    }
    case BPX_LB_ROUND_ROBIN:
      pick.algorithm = "round-robin: slot = next % " + count + over + ", then next + 1 (per frontend)";
      if (positions.empty()) break;
      pick.backendId = positions[frontend.value.rr_next % positions.size()];
      pick.detail = "the next new flow: next = " + std::to_string(frontend.value.rr_next) + ", slot " +
                    std::to_string(frontend.value.rr_next % positions.size());
      break;
    default:
      pick.algorithm = controller::lbAlgorithmName(frontend.value.algorithm) +
                       ": slot = bpf_get_prandom_u32() % " + count + over;
  }
  return pick;
}

}  // namespace bpfproxy::cli
