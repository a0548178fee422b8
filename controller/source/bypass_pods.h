#pragma once
// Picks the Pods that bypass the socket hooks (controller/model/bypass_pod.h) out of Pod
// JSON, for both sources (a manifests directory, the Kubernetes API).
#include <cpprest/json.h>

#include <optional>
#include <string>
#include <vector>

#include "controller/model/bypass_pod.h"

namespace bpfproxy::controller {

// A v1 Pod that asks to bypass the socket hooks, or nullopt (not a Pod, not selected).
std::optional<BypassPod> decodeBypassPod(const web::json::value& json);

}  // namespace bpfproxy::controller
