#pragma once
// Maps a test makes itself, typed: an older layout's map to pin where an agent of that
// version would have left it, or a map of the wrong shape to see it refused.
#include <bpf/bpf.h>
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "maps/map_names.h"
#include "maps/typed_map.h"
#include "tests/support/require_ok.h"

namespace bpfproxy::testing {

// A new, unpinned map of K keys and V values.
template <typename K, typename V>
maps::TypedMap<K, V> createMap(bpf_map_type type, const char* name, uint32_t maxEntries = 1024) {
  LIBBPF_OPTS(bpf_map_create_opts, options);
  maps::MapFd fd(bpf_map_create(type, name, sizeof(K), sizeof(V), maxEntries, &options));
  REQUIRE_MESSAGE(fd.valid(), "cannot create map " << name);
  auto map = maps::TypedMap<K, V>::adopt(std::move(fd), name);
  REQUIRE_OK(map);
  return std::move(map).value();
}

// What the kernel says of the map pinned at `path`.
inline maps::MapFd::Info pinnedMapInfo(const std::string& path) {
  auto map = maps::MapFd::openPinned(path);
  REQUIRE_OK(map);
  maps::MapFd::Info info;
  REQUIRE(map->info(info) == 0);
  return info;
}

// Pins `map` under `name` in <pinDir>/maps in place of this build's map `current`.
template <typename K, typename V>
void pinInPlaceOf(const maps::TypedMap<K, V>& map, const std::string& pinDir, const char* name,
                  const char* current) {
  REQUIRE(bpf_obj_pin(map.fd(), maps::mapPinPath(pinDir, name).c_str()) == 0);
  REQUIRE(unlink(maps::mapPinPath(pinDir, current).c_str()) == 0);
}

}  // namespace bpfproxy::testing
