#pragma once
// bpfproxy.io/terminating-fallback drain and drain-after=SECONDS: when every backend of a
// frontend is serving-terminating (none is ready), new flows are refused (the frontend is
// drained, BPX_SVC_F_DRAINED) at once or once SECONDS have passed since that began; the
// backends stay listed so open flows continue. Pure: time is given.
#include <optional>

#include "controller/model/desired_state.h"
#include "controller/model/slow_start.h"

namespace bpfproxy::controller {

// Whether `spec` is to be programmed drained at `now`. `since` is when it was left with
// only terminating backends (kept by the caller, updated here: set when that begins,
// cleared when a ready backend returns). `wasDrained`: the programmed entry is drained
// already (after an agent restart, when `since` is unknown, it stays drained).
bool drainedNow(const FrontendSpec& spec, bool wasDrained, std::optional<SteadyTime>& since, SteadyTime now);

// Whether a frontend in its window will drain later without another change (re-apply it).
inline bool drainPending(const std::optional<SteadyTime>& since, bool drained) { return since && !drained; }

}  // namespace bpfproxy::controller
