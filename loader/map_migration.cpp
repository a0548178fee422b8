#include "loader/map_migration.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "loader/socket_lb_loader.h"

namespace bpfproxy::loader {

namespace {

bool perCpu(unsigned type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

// Bytes a lookup fills: per-CPU values come one per possible CPU, each rounded up to 8.
size_t valueBytes(unsigned type, uint32_t valueSize) {
  if (!perCpu(type)) return valueSize;
  int cpus = libbpf_num_possible_cpus();
  return ((valueSize + 7) / 8 * 8) * static_cast<size_t>(cpus > 0 ? cpus : 1);
}

// A pin to move aside or convert, and what the kernel says of it; throws LoaderError saying
// why it cannot be read.
maps::MapFd openForMigration(const std::string& path, maps::MapFd::Info& info) {
  auto pinned = maps::MapFd::openPinned(path);
  if (!pinned) throw LoaderError(pinned.error().message);
  if (int rc = pinned->info(info); rc != 0)
    throw LoaderError(systemError("cannot read map info of " + path, -rc).message);
  return std::move(pinned).value();
}

}  // namespace

bool MapMigration::samePin(const Moved& moved) { return moved.name == bpf_map__name(moved.replacement); }

std::vector<const MapConverter*> MapMigration::converterChain(const std::string& name) const {
  std::vector<const MapConverter*> chain;
  std::string target = name;
  for (size_t steps = 0; steps <= converters_.size(); ++steps) {
    const MapConverter* step = nullptr;
    for (const auto& converter : converters_)
      if (converter.to == target && converter.from != converter.to) step = &converter;
    if (!step) break;
    chain.insert(chain.begin(), step);
    if (access((pinRoot_ + "/" + step->from).c_str(), F_OK) == 0) return chain;
    target = step->from;
  }
  return {};
}

void MapMigration::refuseOtherVersions(const std::string& name) const {
  auto [base, version] = splitMapVersion(name);
  if (version < 0) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(pinRoot_, ec)) {
    auto pinned = entry.path().filename().string();
    auto [pinnedBase, pinnedVersion] = splitMapVersion(pinned);
    if (pinnedBase != base || pinnedVersion == version || pinnedVersion < 0) continue;
    if (pinnedVersion > version)
      throw LoaderError("pinned map " + entry.path().string() + " is of a newer layout than this "
                        "build's " + name + ": run the newer bpfproxy, or `bpfproxy cleanup` (drops "
                        "every service until the agent reprograms them)");
    throw LoaderError("pinned map " + entry.path().string() + " is of an older layout than this "
                      "build's " + name + " and this build has no converter from it (add one in "
                      "loader/map_converters.cpp), or run `bpfproxy cleanup`");
  }
}

void MapMigration::prepare(bpf_map* map, std::vector<std::string>& notes) {
  std::string name = bpf_map__name(map);
  std::string path = pinRoot_ + "/" + name;
  if (access(path.c_str(), F_OK) != 0) {
    auto chain = converterChain(name);
    if (chain.empty()) {
      refuseOtherVersions(name);
      return;  // a new map: load creates it
    }
    std::string oldPath = pinRoot_ + "/" + chain.front()->from;
    maps::MapFd::Info info;
    auto pinned = openForMigration(oldPath, info);
    if (info.keySize != chain.front()->fromKeySize || info.valueSize != chain.front()->fromValueSize)
      throw LoaderError("pinned map " + oldPath + " has key/value size " + std::to_string(info.keySize) +
                        "/" + std::to_string(info.valueSize) + ", its converter expects " +
                        std::to_string(chain.front()->fromKeySize) + "/" +
                        std::to_string(chain.front()->fromValueSize) + ": run `bpfproxy cleanup`");
    // Keep at least the old entries' room, whatever the flags say now.
    if (info.maxEntries > bpf_map__max_entries(map) && bpf_map__type(map) != BPF_MAP_TYPE_ARRAY)
      notes.push_back(chain.front()->from + " held up to " + std::to_string(info.maxEntries) +
                      " entries; " + name + " is sized " + std::to_string(bpf_map__max_entries(map)));
    notes.push_back("converting " + chain.front()->from + " into " + name);
    moved_.push_back({chain.front()->from, oldPath, std::move(pinned), map, std::move(chain)});
    return;
  }
  maps::MapFd::Info info;
  auto pinned = openForMigration(path, info);
  const bool sizesDiffer = info.keySize != bpf_map__key_size(map) || info.valueSize != bpf_map__value_size(map);
  const MapConverter* inPlace = nullptr;
  for (const auto& converter : converters_)
    if (sizesDiffer && converter.from == name && converter.to == name && converter.fromKeySize == info.keySize &&
        converter.fromValueSize == info.valueSize)
      inPlace = &converter;
  if (sizesDiffer && !inPlace)
    throw LoaderError("pinned map " + path + " has key/value size " +
                      std::to_string(info.keySize) + "/" + std::to_string(info.valueSize) +
                      ", this build expects " + std::to_string(bpf_map__key_size(map)) + "/" +
                      std::to_string(bpf_map__value_size(map)) +
                      ": the layout changed without a version bump; run `bpfproxy cleanup`");
  if (!inPlace && info.maxEntries == bpf_map__max_entries(map)) return;
  // bpffs cannot rename: keep the old map alive through our fd and unpin it, so that load
  // creates and pins the new one. The attached programs still use the old map.
  if (unlink(path.c_str()) != 0)
    throw LoaderError("cannot unpin " + path + " to replace it: " + std::strerror(errno));
  if (inPlace)
    notes.push_back("converting " + name + " of value size " + std::to_string(info.valueSize) +
                    " in place to " + std::to_string(bpf_map__value_size(map)));
  else
    notes.push_back("resizing " + name + " from " + std::to_string(info.maxEntries) + " to " +
                    std::to_string(bpf_map__max_entries(map)) + " entries");
  moved_.push_back({name, path, std::move(pinned), map, inPlace ? std::vector{inPlace} : std::vector<const MapConverter*>{}});
}

void MapMigration::copyEntries(std::vector<std::string>& notes) {
  for (auto& moved : moved_) {
    maps::MapFd::Info info;
    moved.old.info(info);
    int target = bpf_map__fd(moved.replacement);
    const uint32_t newKeySize = bpf_map__key_size(moved.replacement);
    const uint32_t newValueSize = bpf_map__value_size(moved.replacement);
    const bool cpus = perCpu(info.type);
    const size_t slots = cpus ? valueBytes(info.type, 8) / 8 : 1;  // values per lookup
    std::vector<uint8_t> key(info.keySize), next(info.keySize), value(valueBytes(info.type, info.valueSize));
    size_t copied = 0, dropped = 0, unconverted = 0;
    const void* previous = nullptr;
    while (bpf_map_get_next_key(moved.old.fd(), previous, next.data()) == 0) {
      key = next;
      previous = key.data();
      if (bpf_map_lookup_elem(moved.old.fd(), key.data(), value.data()) != 0) continue;
      std::vector<uint8_t> outKey = key, outValue = value;
      bool kept = true;
      for (size_t i = 0; kept && i < moved.chain.size(); ++i) {
        const auto* step = moved.chain[i];
        uint32_t keySize = i + 1 < moved.chain.size() ? moved.chain[i + 1]->fromKeySize : newKeySize;
        uint32_t valueSize = i + 1 < moved.chain.size() ? moved.chain[i + 1]->fromValueSize : newValueSize;
        std::vector<uint8_t> stepKey(keySize), stepValue(valueBytes(info.type, valueSize));
        size_t inStride = cpus ? (step->fromValueSize + 7) / 8 * 8 : 0;
        size_t outStride = cpus ? (valueSize + 7) / 8 * 8 : 0;
        for (size_t cpu = 0; kept && cpu < slots; ++cpu)
          kept = step->convert(outKey.data(), outValue.data() + cpu * inStride, stepKey.data(),
                               stepValue.data() + cpu * outStride);
        outKey = std::move(stepKey);
        outValue = std::move(stepValue);
      }
      if (!kept)
        ++unconverted;
      else if (bpf_map_update_elem(target, outKey.data(), outValue.data(), BPF_ANY) == 0)
        ++copied;
      else
        ++dropped;  // the new map is smaller than what the old one held
    }
    const std::string target_name = bpf_map__name(moved.replacement);
    std::string note = moved.chain.empty()
                           ? "copied " + std::to_string(copied) + " entries into resized " + target_name
                       : moved.name == target_name
                           ? "converted " + std::to_string(copied) + " entries of " + moved.name + " in place"
                           : "converted " + std::to_string(copied) + " entries of " + moved.name +
                                 " into " + target_name;
    if (dropped) note += ", " + std::to_string(dropped) + " did not fit";
    if (unconverted) note += ", " + std::to_string(unconverted) + " the converter dropped";
    notes.push_back(note);
  }
}

void MapMigration::finish(std::vector<std::string>& notes, const std::vector<std::string>& alsoUnpin) {
  for (auto& moved : moved_) {
    if (!samePin(moved)) unlink(moved.pinPath.c_str());
    notes.push_back("dropped the old " + moved.name);
  }
  for (const auto& path : alsoUnpin)
    if (unlink(path.c_str()) == 0) notes.push_back("dropped the old " + path);
  finished_ = true;  // the old maps go with our fds
}

MapMigration::~MapMigration() {
  if (finished_) return;
  // Something failed before the programs switched: the old maps stay authoritative.
  for (auto& moved : moved_) {
    if (samePin(moved)) {
      unlink(moved.pinPath.c_str());
      bpf_obj_pin(moved.old.fd(), moved.pinPath.c_str());
    } else {  // the next load converts again from the untouched old pin
      unlink((pinRoot_ + "/" + bpf_map__name(moved.replacement)).c_str());
    }
  }
}

}  // namespace bpfproxy::loader
