#include "maps/map_open.h"

#include "maps/map_names.h"
#include "maps/map_table.h"

namespace bpfproxy::maps {

Result<MapFd> openMap(const std::string& pinDir, const std::string& name) {
  const std::string path = mapPinPath(pinDir, name);
  std::string error;
  MapFd map = MapFd::openPinned(path, &error);
  if (!map.valid()) return Error{error, errno};
  const MapSpec* spec = findMapSpec(name);
  if (!spec) return map;
  MapFd::Info info;
  if (int rc = map.info(info); rc != 0) return systemError("cannot read map info of " + path, -rc);
  if (info.keySize != spec->keySize || info.valueSize != spec->valueSize)
    return Error{"map " + path + " has keys of " + std::to_string(info.keySize) + " bytes and values of " +
                 std::to_string(info.valueSize) + "; this bpfproxy reads " + std::to_string(spec->keySize) +
                 " and " + std::to_string(spec->valueSize) +
                 " (pins of another bpfproxy version: run `bpfproxy cleanup` and restart the agent)"};
  return map;
}

Status openMaps(const std::string& pinDir, std::initializer_list<NamedMap> maps) {
  for (const auto& [fd, name] : maps) {
    auto map = openMap(pinDir, name);
    if (!map) return map.error();
    *fd = std::move(*map);
  }
  return {};
}

}  // namespace bpfproxy::maps
