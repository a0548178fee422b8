#include "controller/model/lb_table.h"

#include <algorithm>
#include <numeric>

namespace bpfproxy::controller {

namespace {

constexpr uint32_t kMaxSlots = 65535;  // bpx_slot_key.index is 16 bits

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t backendHash(const BackendSpec& backend, uint64_t seed) {
  uint64_t hash = seed;
  const auto& bytes = backend.address.bytes();
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t word = 0;
    for (size_t j = 0; j < 8; ++j) word = (word << 8) | bytes[i + j];
    hash = mix64(hash ^ word);
  }
  return mix64(hash ^ (uint64_t{backend.port} << 8 | backend.proto));
}

uint32_t primeAtLeast(uint32_t n) {
  while (!isPrime(n)) ++n;
  return n;
}

uint32_t primeAtMost(uint32_t n) {
  while (n > 2 && !isPrime(n)) --n;
  return n;
}

}  // namespace

bool isPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

uint32_t maglevTableSize(size_t backends, uint32_t configured, uint32_t current) {
  const uint32_t cap = primeAtMost(kMaxSlots - static_cast<uint32_t>(std::min<size_t>(backends, kMaxSlots - 3)));
  if (configured) return std::min(configured, cap);
  uint32_t rounded = 1;
  while (rounded < backends) rounded *= 2;
  uint32_t wanted = rounded > kMaxSlots / 100 ? cap : primeAtLeast(100 * rounded);
  return std::min(std::max(wanted, current), cap);
}

std::vector<uint16_t> maglevTable(const std::vector<BackendSpec>& backends, uint32_t size) {
  std::vector<uint16_t> candidates;
  for (size_t i = 0; i < backends.size(); ++i)
    if (backends[i].weight > 0) candidates.push_back(static_cast<uint16_t>(i));
  if (candidates.empty() || size < 2) return {};
  // Weights: in each turn a backend takes weight/gcd positions of its permutation, so its
  // share is its weight's to within that many positions (equal weights: one each, plain Maglev).
  uint32_t divisor = 0;
  for (uint16_t index : candidates) divisor = std::gcd(divisor, backends[index].weight);
  std::vector<uint32_t> offset, skip, next(candidates.size(), 0), turn;
  for (uint16_t index : candidates) {
    turn.push_back(backends[index].weight / divisor);
    offset.push_back(static_cast<uint32_t>(backendHash(backends[index], 0x6d61676c) % size));
    skip.push_back(static_cast<uint32_t>(backendHash(backends[index], 0x65762131) % (size - 1)) + 1);
  }
  std::vector<int32_t> table(size, -1);
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < candidates.size(); ++i)
      for (uint32_t t = 0; t < turn[i]; ++t) {
        uint32_t position = static_cast<uint32_t>((offset[i] + uint64_t{next[i]} * skip[i]) % size);
        while (table[position] >= 0) {
          ++next[i];
          position = static_cast<uint32_t>((offset[i] + uint64_t{next[i]} * skip[i]) % size);
        }
        table[position] = candidates[i];
        ++next[i];
        if (++filled == size) return std::vector<uint16_t>(table.begin(), table.end());
      }
  }
}

std::vector<uint16_t> weightedTable(const std::vector<BackendSpec>& backends) {
  if (backends.empty()) return {};
  bool equal = std::all_of(backends.begin(), backends.end(),
                           [&](const BackendSpec& b) { return b.weight == backends.front().weight; });
  if (equal && backends.front().weight > 0) return {};
  uint32_t divisor = 0;
  for (const auto& backend : backends) divisor = std::gcd(divisor, backend.weight);
  if (divisor == 0) return {};  // all 0: nothing may be picked; the caller keeps no table
  std::vector<int64_t> weight, current(backends.size(), 0);
  int64_t total = 0;
  for (const auto& backend : backends) {
    weight.push_back(backend.weight / divisor);
    total += weight.back();
  }
  std::vector<uint16_t> table;
  for (int64_t n = 0; n < total; ++n) {
    size_t best = 0;
    for (size_t i = 0; i < backends.size(); ++i) {
      current[i] += weight[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    table.push_back(static_cast<uint16_t>(best));
  }
  return table;
}

std::vector<uint16_t> lookupTable(const FrontendSpec& spec, uint32_t currentMaglevSize) {
  if (spec.backends.empty()) return {};
  if (spec.algorithm == BPX_LB_MAGLEV)
    return maglevTable(spec.backends, maglevTableSize(spec.backends.size(), spec.maglevTableSize, currentMaglevSize));
  return weightedTable(spec.backends);
}

size_t lookupTableSize(const FrontendSpec& spec) {
  if (spec.backends.empty()) return 0;
  if (spec.algorithm == BPX_LB_MAGLEV) return maglevTableSize(spec.backends.size(), spec.maglevTableSize, 0);
  return weightedTable(spec.backends).size();
}

}  // namespace bpfproxy::controller
