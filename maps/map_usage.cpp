#include "maps/map_usage.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <vector>

namespace bpfproxy::maps {

namespace {
uint64_t roundUp8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }
}  // namespace

size_t countEntries(const MapFd& map) {
  MapFd::Info info;
  if (!map.valid() || map.info(info) != 0 || info.keySize == 0) return 0;
  std::vector<uint8_t> key(info.keySize), next(info.keySize);
  size_t count = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(map.fd(), previous, next.data()) == 0) {
    key.swap(next);
    previous = key.data();
    if (++count > info.maxEntries) break;  // a map churning under us: stop at its size
  }
  return count;
}

uint64_t estimateMapBytes(unsigned type, unsigned keySize, unsigned valueSize, uint64_t maxEntries,
                          unsigned possibleCpus) {
  const uint64_t value = roundUp8(valueSize);
  const uint64_t key = roundUp8(keySize);
  const uint64_t cpus = possibleCpus ? possibleCpus : 1;
  // struct htab_elem: hash node, hash and a pointer before the key (48 bytes on 64-bit).
  constexpr uint64_t kHtabElem = 48;
  // Each bucket: a list head and a lock (16 bytes), one per entry rounded to a power of 2.
  uint64_t buckets = 1;
  while (buckets < maxEntries) buckets <<= 1;
  switch (type) {
    case BPF_MAP_TYPE_ARRAY: return maxEntries * value;
    case BPF_MAP_TYPE_PERCPU_ARRAY: return maxEntries * (8 + value * cpus);
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_LRU_HASH: return buckets * 16 + maxEntries * (kHtabElem + key + value);
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      return buckets * 16 + maxEntries * (kHtabElem + key + 8 + value * cpus);
    case BPF_MAP_TYPE_LPM_TRIE: return maxEntries * (40 + key + value);  // lpm_trie_node
    default: return maxEntries * (key + value);
  }
}

std::string mapTypeName(unsigned type) {
  switch (type) {
    case BPF_MAP_TYPE_HASH: return "hash";
    case BPF_MAP_TYPE_ARRAY: return "array";
    case BPF_MAP_TYPE_PERCPU_HASH: return "percpu_hash";
    case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
    case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
    case BPF_MAP_TYPE_LRU_PERCPU_HASH: return "lru_percpu_hash";
    case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
    case BPF_MAP_TYPE_RINGBUF: return "ringbuf";
  }
  return "type" + std::to_string(type);
}

}  // namespace bpfproxy::maps
