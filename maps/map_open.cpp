#include "maps/map_open.h"

#include "maps/map_names.h"
#include "maps/map_usage.h"
#include "maps/map_table.h"

namespace bpfproxy::maps {

Result<MapFd> openMap(const std::string& pinDir, const std::string& name) {
  const std::string path = mapPinPath(pinDir, name);
  auto opened = MapFd::openPinned(path);
  if (!opened) return opened.error();
  MapFd map = std::move(opened).value();
  const MapSpec* spec = findMapSpec(name);
  if (!spec) return map;
  if (auto sizes = checkMapSizes(map, path, spec->keySize, spec->valueSize); !sizes)
    return Error{sizes.error().message + " (pins of another bpfproxy version: run `bpfproxy cleanup` and restart the agent)",
                 sizes.error().code};
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

Status checkMapSizes(const MapFd& map, const std::string& name, uint32_t keySize, uint32_t valueSize) {
  MapFd::Info info;
  if (int rc = map.info(info); rc != 0) return systemError("cannot read map info of " + name, -rc);
  if (info.keySize == keySize && info.valueSize == valueSize) return {};
  return Error{"map " + name + " has keys of " + std::to_string(info.keySize) + " bytes and values of " +
               std::to_string(info.valueSize) + "; this bpfproxy reads " + std::to_string(keySize) + " and " +
               std::to_string(valueSize)};
}

}  // namespace bpfproxy::maps
