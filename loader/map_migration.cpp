#include "loader/map_migration.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "loader/socket_lb_loader.h"

namespace bpfproxy::loader {

void MapMigration::prepare(bpf_map* map, std::vector<std::string>& notes) {
  std::string name = bpf_map__name(map);
  std::string path = pinRoot_ + "/" + name;
  if (access(path.c_str(), F_OK) != 0) return;
  std::string error;
  auto pinned = maps::MapFd::openPinned(path, &error);
  maps::MapFd::Info info;
  if (!pinned.valid() || pinned.info(info) != 0) throw LoaderError(error);
  if (info.keySize != bpf_map__key_size(map) || info.valueSize != bpf_map__value_size(map))
    throw LoaderError("pinned map " + path + " has key/value size " +
                      std::to_string(info.keySize) + "/" + std::to_string(info.valueSize) +
                      ", this build expects " + std::to_string(bpf_map__key_size(map)) + "/" +
                      std::to_string(bpf_map__value_size(map)) +
                      ": the layout changed without a version bump; run `bpfproxy cleanup`");
  if (info.maxEntries == bpf_map__max_entries(map)) return;
  // bpffs cannot rename: keep the old map alive through our fd and unpin it, so that load
  // creates and pins the resized one. The attached programs still use the old map.
  if (unlink(path.c_str()) != 0)
    throw LoaderError("cannot unpin " + path + " to resize it: " + std::strerror(errno));
  notes.push_back("resizing " + name + " from " + std::to_string(info.maxEntries) + " to " +
                  std::to_string(bpf_map__max_entries(map)) + " entries");
  moved_.push_back({name, path, std::move(pinned), map});
}

void MapMigration::copyEntries(std::vector<std::string>& notes) {
  for (auto& moved : moved_) {
    maps::MapFd::Info info;
    moved.old.info(info);
    std::vector<uint8_t> key(info.keySize), next(info.keySize), value(info.valueSize);
    int target = bpf_map__fd(moved.replacement);
    size_t copied = 0, dropped = 0;
    const void* previous = nullptr;
    while (bpf_map_get_next_key(moved.old.fd(), previous, next.data()) == 0) {
      key = next;
      previous = key.data();
      if (bpf_map_lookup_elem(moved.old.fd(), key.data(), value.data()) != 0) continue;
      if (bpf_map_update_elem(target, key.data(), value.data(), BPF_ANY) == 0)
        ++copied;
      else
        ++dropped;  // the new size is smaller than what the map held
    }
    notes.push_back("copied " + std::to_string(copied) + " entries into resized " + moved.name +
                    (dropped ? ", " + std::to_string(dropped) + " did not fit" : ""));
  }
}

void MapMigration::finish(std::vector<std::string>& notes) {
  for (auto& moved : moved_) notes.push_back("dropped the old " + moved.name);
  finished_ = true;  // the old maps go with our fds
}

MapMigration::~MapMigration() {
  if (finished_) return;
  // Something failed before the programs switched: the old maps stay authoritative.
  for (auto& moved : moved_) {
    unlink(moved.pinPath.c_str());
    bpf_obj_pin(moved.old.fd(), moved.pinPath.c_str());
  }
}

}  // namespace bpfproxy::loader
