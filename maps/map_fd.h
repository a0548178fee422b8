#pragma once
// An owned BPF map file descriptor (a UniqueFd) with typed element access. Errors come back
// as a negative errno so callers can count and report them; nothing here throws.
#include <bpf/bpf.h>

#include <cerrno>
#include <functional>
#include <string>
#include <utility>

#include "base/unique_fd.h"

namespace bpfproxy::maps {

class MapFd {
public:
  MapFd() = default;
  explicit MapFd(int fd) : owned_(fd) {}

  // Opens a pinned map; on failure the result is invalid and *error says why.
  static MapFd openPinned(const std::string& path, std::string* error = nullptr);

  bool valid() const { return owned_.valid(); }
  int fd() const { return owned_.get(); }
  void reset(int fd = -1) { owned_.reset(fd); }

  struct Info {
    unsigned type = 0, keySize = 0, valueSize = 0, maxEntries = 0, flags = 0;
    std::string name;
  };
  int info(Info& out) const;

  template <typename K, typename V>
  int lookup(const K& key, V& value) const {
    return bpf_map_lookup_elem(fd(), &key, &value) == 0 ? 0 : -errno;
  }
  template <typename K, typename V>
  int update(const K& key, const V& value, unsigned long long flags = BPF_ANY) const {
    return bpf_map_update_elem(fd(), &key, &value, flags) == 0 ? 0 : -errno;
  }
  template <typename K>
  int erase(const K& key) const {
    int rc = bpf_map_delete_elem(fd(), &key);
    return rc == 0 || errno == ENOENT ? 0 : -errno;
  }
  // Visits every element; the visitor returns false to stop. Entries may change meanwhile.
  template <typename K, typename V>
  int forEach(const std::function<bool(const K&, const V&)>& visit) const {
    K key{}, next{};
    V value{};
    const K* previous = nullptr;
    while (bpf_map_get_next_key(fd(), previous, &next) == 0) {
      key = next;
      previous = &key;
      if (bpf_map_lookup_elem(fd(), &key, &value) != 0) continue;  // deleted meanwhile
      if (!visit(key, value)) return 0;
    }
    return errno == ENOENT ? 0 : -errno;
  }

private:
  UniqueFd owned_;
};

}  // namespace bpfproxy::maps
