#pragma once
// Slow start (bpfproxy.io/lb-slow-start): a backend that joins a frontend's set gets a
// share that grows linearly over the window, through the weighted table: the others weigh
// kSlowStartSteps times their weight, the newcomer from 1 up to that. The agent rebuilds
// the table as time passes (Reconciler::ramping). Pure: time is given.
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "controller/model/desired_state.h"

namespace bpfproxy::controller {

using SteadyTime = std::chrono::steady_clock::time_point;
inline constexpr uint32_t kSlowStartSteps = 10;

// `spec` with its backends' weights scaled for slow start. `ids` are the backends' ids in
// spec order; `previous` the ids programmed before (null for a new frontend: nothing
// ramps then, as at an agent's start). `joined` (backend id -> when it joined) is updated:
// newcomers added, those past the window or gone removed.
FrontendSpec slowStartWeights(const FrontendSpec& spec, const std::vector<uint32_t>& ids,
                              const std::vector<uint32_t>* previous, std::map<uint32_t, SteadyTime>& joined,
                              SteadyTime now);

}  // namespace bpfproxy::controller
