#pragma once
// Loads the socket load-balancing programs, pins their maps, and attaches them to a cgroup
// through pinned bpf_links. Run again on the same pin directory, it adopts what is there:
// maps are reused and links are updated in place, so no connection sees a gap.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/map_converters.h"
#include "maps/map_table.h"

namespace bpfproxy::loader {

// What the agent's flags size; the table in maps/map_table.h says which map each sizes.
using MapSizes = maps::MapSizes;

}  // namespace bpfproxy::loader
struct bpf_object;
namespace bpfproxy::loader {
// Sets the sizes of every sized map of the object (maps/map_table.h), before load.
void applyMapSizes(bpf_object* object, const MapSizes& sizes);

struct SocketLbOptions {
  std::string pinDir;
  std::string cgroupPath;
  MapSizes mapSizes;
  // Converters from older map layouts; null: the ones this build carries.
  const std::vector<MapConverter>* converters = nullptr;
};

struct AttachedProgram {
  std::string name;      // bpx_connect4 ...
  std::string linkPin;   // <pin-dir>/links/bpx_connect4
  bool updated = false;  // an existing link was updated rather than created
};

struct LoadReport {
  std::vector<AttachedProgram> programs;
  std::vector<std::string> notes;  // adoptions, migrations: one line each for the log
};

// Throws LoaderError with a message naming what failed and how to fix it.
LoadReport loadSocketLb(const SocketLbOptions& options);

// Detaches every program linked under <pin-dir>/links (TC links and clsact filters under
// links/tc included) and removes <pin-dir>. Returns what
// it removed, one line each.
std::vector<std::string> cleanupPins(const std::string& pinDir);

// The id of a cgroup v2 directory (what bpf_get_current_cgroup_id returns), 0 on error.
uint64_t cgroupId(const std::string& path);

// The programs' names, in attach order.
const std::vector<std::string>& socketProgramNames();

class LoaderError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

}  // namespace bpfproxy::loader
