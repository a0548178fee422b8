#include "loader/tc_config_converter.h"

#include <cstddef>
#include <cstring>

#include "bpf/maps_abi.h"

namespace bpfproxy::loader {

namespace {

// bpx_tc_config as 7ea059c pinned it: the current struct without node_netns_cookie.
constexpr size_t kOldSize = offsetof(bpx_tc_config, node_netns_cookie);
static_assert(kOldSize == 48);
// Its flag 0x02: externalIPs no node holds were served only when set. Now they are served
// unless BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY is set.
constexpr uint32_t kOldAllowExternalIps = 0x02;

}  // namespace

MapConverter tcConfigWithoutNetnsCookie() {
  const char* name = BPX_STRINGIFY(BPX_MAP_TC_CONFIG);
  return {name, name, sizeof(uint32_t), kOldSize,
          [](const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* key, uint8_t* value) {
            bpx_tc_config config{};
            std::memcpy(&config, oldValue, kOldSize);
            if (config.flags & kOldAllowExternalIps)
              config.flags &= ~kOldAllowExternalIps;
            else
              config.flags |= BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY;
            config.node_netns_cookie = 0;  // bind protection everywhere, as those programs did
            std::memcpy(key, oldKey, sizeof(uint32_t));
            std::memcpy(value, &config, sizeof(config));
            return true;
          }};
}

}  // namespace bpfproxy::loader
