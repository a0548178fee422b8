#pragma once
// A BPF map read and written as keys of K and values of V. Opening one checks the map's key
// and value sizes against sizeof(K) and sizeof(V), so a map of another layout (or the wrong
// map) is refused with its name instead of being read as garbage or written past a value.
// This is the only typed access to maps; MapFd only owns the descriptor. Element calls
// return 0 or -errno, the kernel's convention (docs/architecture.md), and never throw.
#include <bpf/bpf.h>

#include <cerrno>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "maps/map_fd.h"
#include "maps/map_open.h"

namespace bpfproxy::maps {

template <typename K, typename V>
class TypedMap {
public:
  using Key = K;
  using Value = V;

  TypedMap() = default;  // invalid until opened or adopted

  // Opens the pin of `name` under <pinDir>/maps, checked against the map table
  // (maps/map_open.h) and against K and V.
  static Result<TypedMap> open(const std::string& pinDir, const std::string& name) {
    auto map = openMap(pinDir, name);
    if (!map) return map.error();
    return adopt(std::move(map).value(), name);
  }
  // Takes a map's descriptor (one just created, or a loaded object's) once its key and value
  // sizes are K's and V's; the error names `name`.
  static Result<TypedMap> adopt(MapFd map, const std::string& name) {
    if (auto sizes = checkMapSizes(map, name, sizeof(K), sizeof(V)); !sizes) return sizes.error();
    return TypedMap(std::move(map));
  }

  bool valid() const { return map_.valid(); }
  int fd() const { return map_.fd(); }
  const MapFd& handle() const { return map_; }
  int info(MapFd::Info& out) const { return map_.info(out); }

  int lookup(const K& key, V& value) const {
    return bpf_map_lookup_elem(fd(), &key, &value) == 0 ? 0 : -errno;
  }
  int update(const K& key, const V& value, unsigned long long flags = BPF_ANY) const {
    return bpf_map_update_elem(fd(), &key, &value, flags) == 0 ? 0 : -errno;
  }
  // 0 also when the key was not there.
  int erase(const K& key) const {
    int rc = bpf_map_delete_elem(fd(), &key);
    return rc == 0 || errno == ENOENT ? 0 : -errno;
  }
  // A per-CPU map's value on each possible CPU (`values` holds one per CPU). The kernel
  // rounds each CPU's value up to 8 bytes: only values of a multiple of 8 are read this way.
  int lookupPerCpu(const K& key, std::vector<V>& values) const {
    static_assert(sizeof(V) % 8 == 0, "per-CPU values are read 8-byte aligned");
    return bpf_map_lookup_elem(fd(), &key, values.data()) == 0 ? 0 : -errno;
  }
  // Visits every element; the visitor returns false to stop. Entries may change meanwhile.
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

  // Visits every key, not its value: for per-CPU maps, whose values lookupPerCpu() reads.
  int forEachKey(const std::function<bool(const K&)>& visit) const {
    K key{}, next{};
    const K* previous = nullptr;
    while (bpf_map_get_next_key(fd(), previous, &next) == 0) {
      key = next;
      previous = &key;
      if (!visit(key)) return 0;
    }
    return errno == ENOENT ? 0 : -errno;
  }

private:
  explicit TypedMap(MapFd map) : map_(std::move(map)) {}
  MapFd map_;
};

// Opens `map` as the pin of `name` (TypedMap::open); on failure `map` is left as it was.
template <typename K, typename V>
Status openInto(TypedMap<K, V>& map, const std::string& pinDir, const std::string& name) {
  auto opened = TypedMap<K, V>::open(pinDir, name);
  if (!opened) return opened.error();
  map = std::move(opened).value();
  return {};
}

// Opens each map as the pin of the name after it (openAll(pinDir, a, "bpx_a", b, "bpx_b")),
// in order; stops at the first that fails, whose error names it.
inline Status openAll(const std::string&) { return {}; }
template <typename K, typename V, typename... Rest>
Status openAll(const std::string& pinDir, TypedMap<K, V>& map, const std::string& name, Rest&&... rest) {
  if (auto opened = openInto(map, pinDir, name); !opened) return opened;
  return openAll(pinDir, std::forward<Rest>(rest)...);
}

}  // namespace bpfproxy::maps
