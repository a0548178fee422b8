#pragma once
// Resizing a pinned map across a restart (a flag like --max-services changed). libbpf
// refuses to reuse a pin of another size, so the old map is unpinned (held by an fd), the
// new map is created, entries are copied over, and only once the programs use the new map
// is the old one dropped. If anything fails first, the old maps are pinned back.
#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "maps/map_fd.h"

namespace bpfproxy::loader {

class MapMigration {
public:
  explicit MapMigration(std::string pinRoot) : pinRoot_(std::move(pinRoot)) {}
  ~MapMigration();
  MapMigration(const MapMigration&) = delete;
  MapMigration& operator=(const MapMigration&) = delete;

  // Before load: unpins `map` (keeping it open) if its size differs. Throws LoaderError if the
  // pin's key or value size differs (a layout change that needs a version bump).
  void prepare(bpf_map* map, std::vector<std::string>& notes);
  // After load: copies the old entries into the new maps.
  void copyEntries(std::vector<std::string>& notes);
  // After attach: unpins the old maps.
  void finish(std::vector<std::string>& notes);

private:
  struct Moved {
    std::string name;
    std::string pinPath;
    maps::MapFd old;
    bpf_map* replacement;
  };
  std::string pinRoot_;
  std::vector<Moved> moved_;
  bool finished_ = false;
};

}  // namespace bpfproxy::loader
