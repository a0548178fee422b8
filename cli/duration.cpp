#include "cli/duration.h"

#include <cctype>
#include <string>

namespace bpfproxy::cli {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return std::nullopt;
  double totalMs = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    double value = std::stod(std::string(text.substr(start, i - start)));
    size_t unitStart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto unit = text.substr(unitStart, i - unitStart);
    if (unit == "ms") totalMs += value;
    else if (unit == "s") totalMs += value * 1000;
    else if (unit == "m") totalMs += value * 60000;
    else if (unit == "h") totalMs += value * 3600000;
    else return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<long long>(totalMs));
}

}  // namespace bpfproxy::cli
