#pragma once
// Go-style durations as kube-proxy's flags take them: "1s", "500ms", "2m", "1m30s", "0".
#include <chrono>
#include <optional>
#include <string_view>

namespace bpfproxy::cli {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace bpfproxy::cli
