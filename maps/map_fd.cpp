#include "maps/map_fd.h"

#include <bpf/bpf.h>
#include <unistd.h>


namespace bpfproxy::maps {

Result<MapFd> MapFd::openPinned(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return systemError("cannot open pinned map " + path);
  return MapFd(fd);
}

int MapFd::info(Info& out) const {
  bpf_map_info info{};
  __u32 length = sizeof(info);
  if (bpf_map_get_info_by_fd(fd(), &info, &length) != 0) return -errno;
  out = {info.type, info.key_size, info.value_size, info.max_entries, info.map_flags, info.name};
  return 0;
}

}  // namespace bpfproxy::maps
