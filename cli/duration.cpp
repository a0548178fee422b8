#include "cli/duration.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace bpfproxy::cli {

namespace {
// Go's time.Duration ends at about 292 years; longer text is an error there too.
constexpr double kMaxMilliseconds = 9'223'372'036'854.0;
}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return std::nullopt;
  double totalMs = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    double value = 0;
    auto [end, error] = std::from_chars(text.data() + start, text.data() + i, value);
    if (error != std::errc() || end != text.data() + i) return std::nullopt;  // "1.2.3", overflow
    size_t unitStart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto unit = text.substr(unitStart, i - unitStart);
    if (unit == "ms") totalMs += value;
    else if (unit == "s") totalMs += value * 1000;
    else if (unit == "m") totalMs += value * 60000;
    else if (unit == "h") totalMs += value * 3600000;
    else return std::nullopt;
    if (!std::isfinite(totalMs) || totalMs > kMaxMilliseconds) return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<long long>(totalMs));
}

}  // namespace bpfproxy::cli
