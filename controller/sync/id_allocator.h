#pragma once
// Small integer ids for services and backends: reused after release so map keys stay dense.
#include <cstdint>
#include <optional>
#include <set>

namespace bpfproxy::controller {

class IdAllocator {
public:
  explicit IdAllocator(uint32_t limit) : limit_(limit) {}
  std::optional<uint32_t> allocate() {
    if (!free_.empty()) {
      uint32_t id = *free_.begin();
      free_.erase(free_.begin());
      return id;
    }
    if (next_ > limit_) return std::nullopt;
    return next_++;
  }
  // An id found in the maps at start: taken, and ids below it that nobody holds are free.
  void claim(uint32_t id) {
    free_.erase(id);
    while (next_ <= id) {
      if (next_ != id) free_.insert(next_);
      ++next_;
    }
  }
  void release(uint32_t id) { free_.insert(id); }

private:
  uint32_t limit_;
  uint32_t next_ = 1;  // 0 is never an id, so a zeroed value is recognisably empty
  std::set<uint32_t> free_;
};

}  // namespace bpfproxy::controller
