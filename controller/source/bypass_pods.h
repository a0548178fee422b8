#pragma once
// Finds the Pods that bypass the socket hooks (controller/model/bypass_pod.h) in Pod JSON
// and in a manifests directory.
#include <cpprest/json.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/bypass_pod.h"

namespace bpfproxy::controller {

// A v1 Pod that asks to bypass the socket hooks, or nullopt (not a Pod, not selected).
std::optional<BypassPod> decodeBypassPod(const web::json::value& json);

// The selected Pods of `nodeName` in a manifests directory; unreadable files are named in
// `errors` and skipped.
std::vector<BypassPod> readBypassPods(const std::filesystem::path& directory,
                                      const std::string& nodeName, std::vector<std::string>& errors);

}  // namespace bpfproxy::controller
