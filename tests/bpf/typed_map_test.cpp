// Typed map handles (maps/typed_map.h) against real maps: a map whose key or value size is
// not the code's type is refused when it is opened or adopted, and the error names the map.
#include <bpf/bpf.h>
#include <doctest/doctest.h>
#include <linux/bpf.h>

#include <filesystem>
#include <string>

#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/map_types.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/test_bpffs.h"
#include "tests/support/test_maps.h"

using namespace bpfproxy;

namespace {

maps::MapFd rawMap(const char* name, unsigned keySize, unsigned valueSize) {
  maps::MapFd map(bpf_map_create(BPF_MAP_TYPE_HASH, name, keySize, valueSize, 16, nullptr));
  REQUIRE(map.valid());
  return map;
}

bool says(const Error& error, const std::string& text) { return error.message.find(text) != std::string::npos; }

}  // namespace

TEST_CASE("typed map: a map of other key or value sizes is refused when adopted, naming it") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  const unsigned wrongValue = sizeof(bpx_backend) + 4;
  auto longer = maps::BackendMap::adopt(rawMap("bpx_wide", sizeof(uint32_t), wrongValue), "bpx_wide");
  REQUIRE_FALSE(longer.ok());
  CHECK(says(longer.error(), "map bpx_wide has keys of 4 bytes and values of " + std::to_string(wrongValue)));
  CHECK(says(longer.error(), "this bpfproxy reads 4 and " + std::to_string(sizeof(bpx_backend))));

  auto widerKey = maps::BackendMap::adopt(rawMap("bpx_keyed", sizeof(uint64_t), sizeof(bpx_backend)), "bpx_keyed");
  REQUIRE_FALSE(widerKey.ok());
  CHECK(says(widerKey.error(), "map bpx_keyed has keys of 8 bytes"));

  // The right sizes are taken, and read and written through the types.
  auto fits = maps::BackendMap::adopt(rawMap("bpx_fits", sizeof(uint32_t), sizeof(bpx_backend)), "bpx_fits");
  REQUIRE_OK(fits);
  bpx_backend written{};
  written.port = 8080;
  REQUIRE(fits->update(7, written) == 0);
  bpx_backend read{};
  REQUIRE(fits->lookup(7, read) == 0);
  CHECK(read.port == 8080);
  CHECK(fits->lookup(8, read) == -ENOENT);
}

TEST_CASE("typed map: a pinned map read as the wrong types is refused, naming the map") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  std::filesystem::create_directories(maps::mapsDir(pins.path()));
  // A map of the table, of the table's sizes: openMap takes it, the wrong types do not.
  auto backends = testing::createMap<uint32_t, bpx_backend>(BPF_MAP_TYPE_HASH, maps::kBackendMap, 16);
  REQUIRE(bpf_obj_pin(backends.fd(), maps::mapPinPath(pins.path(), maps::kBackendMap).c_str()) == 0);
  static_assert(sizeof(bpx_svc_meta) != sizeof(bpx_backend), "the case needs a type of another size");
  auto asMeta = maps::ServiceMetaMap::open(pins.path(), maps::kBackendMap);
  REQUIRE_FALSE(asMeta.ok());
  CHECK(says(asMeta.error(), std::string("map ") + maps::kBackendMap + " has keys of 4 bytes and values of " +
                                 std::to_string(sizeof(bpx_backend))));
  REQUIRE_OK(maps::BackendMap::open(pins.path(), maps::kBackendMap));

  // A pin of a name the table does not know is checked against the types alone.
  auto other = testing::createMap<uint32_t, uint32_t>(BPF_MAP_TYPE_HASH, "bpx_other", 16);
  REQUIRE(bpf_obj_pin(other.fd(), maps::mapPinPath(pins.path(), "bpx_other").c_str()) == 0);
  auto wide = maps::TypedMap<uint32_t, uint64_t>::open(pins.path(), "bpx_other");
  REQUIRE_FALSE(wide.ok());
  CHECK(says(wide.error(), "map bpx_other has keys of 4 bytes and values of 4; this bpfproxy reads 4 and 8"));
  REQUIRE_OK((maps::TypedMap<uint32_t, uint32_t>::open(pins.path(), "bpx_other")));

  // A failed open leaves the handle as it was.
  maps::BackendMap kept;
  CHECK_FALSE(maps::openInto(kept, pins.path(), "bpx_missing").ok());
  CHECK_FALSE(kept.valid());
}
