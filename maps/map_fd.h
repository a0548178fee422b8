#pragma once
// An owned BPF map file descriptor (a UniqueFd) and what the kernel says of the map. Its
// elements are read and written through maps::TypedMap (maps/typed_map.h), which checks the
// map's key and value sizes first.
#include <string>
#include <utility>

#include "base/result.h"
#include "base/unique_fd.h"

namespace bpfproxy::maps {

class MapFd {
public:
  MapFd() = default;
  explicit MapFd(int fd) : owned_(fd) {}

  // Opens a pinned map as it is, sizes unchecked: for pins of an older layout and for what
  // only reads the kernel's description. maps::openMap checks a pin against the map table.
  static Result<MapFd> openPinned(const std::string& path);

  bool valid() const { return owned_.valid(); }
  int fd() const { return owned_.get(); }
  void reset(int fd = -1) { owned_.reset(fd); }

  struct Info {
    unsigned type = 0, keySize = 0, valueSize = 0, maxEntries = 0, flags = 0;
    std::string name;
  };
  int info(Info& out) const;  // 0 or -errno

private:
  UniqueFd owned_;
};

}  // namespace bpfproxy::maps
