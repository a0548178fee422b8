#pragma once
// Converters between map layout versions. A map whose layout changes gets a new _vN name
// (bpf/maps_abi.h); an agent that finds the previous name pinned and its own missing
// converts every entry into the new map before its programs switch to it, so an upgrade
// keeps every Service and flow. One converter per step (v1 -> v2); steps chain.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bpfproxy::loader {

struct MapConverter {
  std::string from;  // the older pin's name: "bpx_svc_v1"
  std::string to;    // this build's name: "bpx_svc_v2"; the same as `from` for a layout that
                     // changed without a bump (before that rule): the pin of that name whose
                     // sizes are fromKeySize/fromValueSize is converted in place
  uint32_t fromKeySize = 0;
  uint32_t fromValueSize = 0;  // per CPU for per-CPU maps
  // Fills `key` and `value` (already sized for `to`, zeroed) from one old entry; returns
  // false to drop the entry (counted and reported).
  std::function<bool(const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* key, uint8_t* value)>
      convert;
};

// The converters this build carries. Add one here with every layout bump of a map.
const std::vector<MapConverter>& builtinMapConverters();

// "bpx_svc_v2" -> {"bpx_svc", 2}; {name, -1} when the name carries no version.
std::pair<std::string, int> splitMapVersion(const std::string& name);

}  // namespace bpfproxy::loader
