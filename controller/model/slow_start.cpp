#include "controller/model/slow_start.h"

#include <algorithm>
#include <set>

namespace bpfproxy::controller {

FrontendSpec slowStartWeights(const FrontendSpec& spec, const std::vector<uint32_t>& ids,
                              const std::vector<uint32_t>* previous, std::map<uint32_t, SteadyTime>& joined,
                              SteadyTime now) {
  FrontendSpec out = spec;
  const std::set<uint32_t> current(ids.begin(), ids.end());
  for (auto it = joined.begin(); it != joined.end();)
    it = current.count(it->first) ? std::next(it) : joined.erase(it);
  if (!spec.slowStartSeconds) {
    joined.clear();
    return out;
  }
  if (previous)
    for (uint32_t id : ids)
      if (std::find(previous->begin(), previous->end(), id) == previous->end()) joined.emplace(id, now);
  const auto window = std::chrono::seconds(spec.slowStartSeconds);
  bool anyRamping = false;
  for (size_t i = 0; i < out.backends.size() && i < ids.size(); ++i) {
    auto& backend = out.backends[i];
    auto it = joined.find(ids[i]);
    if (it != joined.end() && now - it->second >= window) {
      joined.erase(it);
      it = joined.end();
    }
    uint64_t full = uint64_t{backend.weight} * kSlowStartSteps;
    if (it == joined.end() || backend.weight == 0) {
      backend.weight = static_cast<uint32_t>(full);
      continue;
    }
    anyRamping = true;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second).count();
    uint64_t ramped = full * static_cast<uint64_t>(elapsed) / std::chrono::milliseconds(window).count();
    backend.weight = static_cast<uint32_t>(std::max<uint64_t>(1, ramped));
  }
  if (!anyRamping) return spec;  // the unscaled weights: the same table as without slow start
  return out;
}

}  // namespace bpfproxy::controller
