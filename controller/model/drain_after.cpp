#include "controller/model/drain_after.h"

#include <algorithm>
#include <chrono>

namespace bpfproxy::controller {

bool drainedNow(const FrontendSpec& spec, bool wasDrained, std::optional<SteadyTime>& since, SteadyTime now) {
  const bool onlyTerminating =
      spec.drainAfterSeconds && !spec.backends.empty() &&
      std::all_of(spec.backends.begin(), spec.backends.end(),
                  [](const BackendSpec& backend) { return backend.state == BPX_BACKEND_TERMINATING; });
  if (!onlyTerminating) {
    since.reset();
    return false;
  }
  const auto window = std::chrono::seconds(*spec.drainAfterSeconds);
  if (!since) since = wasDrained ? now - window : now;
  return now - *since >= window;
}

}  // namespace bpfproxy::controller
