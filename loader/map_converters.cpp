#include "loader/map_converters.h"

#include <cctype>

namespace bpfproxy::loader {

const std::vector<MapConverter>& builtinMapConverters() {
  // Every map is at its first layout: nothing to convert yet. A bump of, say, bpx_svc_v1 to
  // bpx_svc_v2 adds {"bpx_svc_v1", "bpx_svc_v2", 20, 16, <copy the fields across>} here,
  // with the v1 struct kept in this file (the header only knows the current layout).
  static const std::vector<MapConverter> converters;
  return converters;
}

std::pair<std::string, int> splitMapVersion(const std::string& name) {
  auto mark = name.rfind("_v");
  if (mark == std::string::npos || mark + 2 == name.size() || name.size() - mark > 8) return {name, -1};
  int version = 0;
  for (size_t i = mark + 2; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return {name, -1};
    version = version * 10 + (name[i] - '0');
  }
  return {name.substr(0, mark), version};
}

}  // namespace bpfproxy::loader
