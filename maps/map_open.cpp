#include "maps/map_open.h"

#include "maps/map_names.h"
#include "maps/map_usage.h"
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

Result<MapFd::Info> inspectPinnedMap(const std::string& pinDir, const MapSpec& spec) {
  auto map = openMap(pinDir, spec.name);
  if (!map) return map.error();
  MapFd::Info info;
  if (int rc = map->info(info); rc != 0) return systemError("cannot read map info of " + std::string(spec.name), -rc);
  if (info.type != spec.type)
    return Error{"map " + mapPinPath(pinDir, spec.name) + " is of kind " + mapTypeName(info.type) + "; this bpfproxy reads kind " +
                 mapTypeName(spec.type) + " (pins of another bpfproxy version: run `bpfproxy cleanup` and restart the agent)"};
  return info;
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
