#pragma once
// Carrying pinned maps across a restart into what this build expects, with the programs
// running throughout:
//  - resize (a flag like --max-services changed): libbpf refuses to reuse a pin of another
//    size, so the old map is unpinned (held by an fd), the new one created, entries copied;
//  - upgrade (a map's layout moved from bpx_x_vN to bpx_x_vN+1): the old pin is kept until
//    the end, the new map is created, every entry converted into it (loader/map_converters.h);
//  - in-place conversion (a layout that changed without a bump, from before that rule): like
//    a resize, with a converter whose `from` and `to` are the same name.
// Only once the programs use the new maps are the old ones dropped. If anything fails
// first, the old pins stay (or are pinned back) and what this load created is unpinned.
#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "loader/map_converters.h"
#include "maps/map_fd.h"

namespace bpfproxy::loader {

class MapMigration {
public:
  MapMigration(std::string pinRoot, const std::vector<MapConverter>& converters)
      : pinRoot_(std::move(pinRoot)), converters_(converters) {}
  ~MapMigration();
  MapMigration(const MapMigration&) = delete;
  MapMigration& operator=(const MapMigration&) = delete;

  // Before load: moves aside a pin of `map` of another size, or finds an older layout's pin
  // to convert. Throws LoaderError if the pin's key or value size differs without a version
  // bump, or an older (or newer) version of the map is pinned that no converter handles.
  void prepare(bpf_map* map, std::vector<std::string>& notes);
  // After load: copies (converting) the old entries into the new maps.
  void copyEntries(std::vector<std::string>& notes);
  // After attach: drops the old maps, and `alsoUnpin` (an older layout's marker).
  void finish(std::vector<std::string>& notes, const std::vector<std::string>& alsoUnpin = {});

private:
  struct Moved {
    std::string name;     // the old map's name
    std::string pinPath;  // the old map's pin
    maps::MapFd old;
    bpf_map* replacement;
    std::vector<const MapConverter*> chain;  // empty: a resize
  };
  // A resize or an in-place conversion: the new map takes the old one's pin.
  static bool samePin(const Moved& moved);
  std::vector<const MapConverter*> converterChain(const std::string& name) const;
  void refuseOtherVersions(const std::string& name) const;

  std::string pinRoot_;
  const std::vector<MapConverter>& converters_;
  std::vector<Moved> moved_;
  bool finished_ = false;
};

}  // namespace bpfproxy::loader
