#include "loader/socket_lb_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "base/unique_fd.h"
#include "loader/map_migration.h"
#include "loader/system_paths.h"
#include "loader/tc_loader.h"
#include "maps/map_fd.h"
#include "maps/map_names.h"
#include "maps/map_types.h"
#include "sock_lb.skel.h"

namespace bpfproxy::loader {

namespace fs = std::filesystem;

namespace {

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

struct SkeletonDeleter {
  void operator()(sock_lb* skeleton) const { sock_lb::destroy(skeleton); }
};
using SkeletonPtr = std::unique_ptr<sock_lb, SkeletonDeleter>;

// Refuses pins of a newer layout than this build's, before anything is touched; an older
// layout is converted map by map (MapMigration). Returns the older layout marker to drop.
std::vector<std::string> checkLayout(const std::string& pinDir, LoadReport& report) {
  const std::string cleanup = "run `bpfproxy cleanup --pin-dir " + pinDir +
                              "` (drops every service until the agent reprograms them)";
  std::vector<std::string> older;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(maps::mapsDir(pinDir), ec)) {
    auto name = entry.path().filename().string();
    if (name.rfind("bpx_layout_v", 0) != 0 || name == maps::kLayoutMap) continue;
    if (splitMapVersion(name).second > splitMapVersion(maps::kLayoutMap).second)
      throw LoaderError("pins in " + pinDir + " hold map layout " + name.substr(11) +
                        ", newer than this bpfproxy's layout v" + std::to_string(BPX_LAYOUT_VERSION) +
                        ": run the newer bpfproxy, or " + cleanup);
    report.notes.push_back("migrating pins of layout " + name.substr(11) + " in " + pinDir);
    older.push_back(entry.path().string());
  }
  auto layout = maps::LayoutMap::open(pinDir, maps::kLayoutMap);
  if (!layout) return older;  // fresh pin directory, or an older layout's
  bpx_layout value{};
  if (layout->lookup(uint32_t{0}, value) != 0) return older;
  if (value.magic == 0 && value.version == 0) return older;  // created but never stamped
  if (value.magic != BPX_LAYOUT_MAGIC || value.version > BPX_LAYOUT_VERSION)
    throw LoaderError("pinned map " + maps::mapPinPath(pinDir, maps::kLayoutMap) +
                      " records layout magic " + std::to_string(value.magic) + " version " +
                      std::to_string(value.version) + ", this bpfproxy writes version " +
                      std::to_string(BPX_LAYOUT_VERSION) + ": " + cleanup + " and restart");
  report.notes.push_back((value.version == BPX_LAYOUT_VERSION ? "adopting pinned maps of layout v"
                                                              : "migrating pinned maps of layout v") +
                         std::to_string(value.version) + " in " + maps::mapsDir(pinDir));
  return older;
}

// Attaches one program, or updates the pinned link that already carries an older copy.
AttachedProgram attachProgram(bpf_program* program, int cgroupFd, uint64_t wantedCgroup,
                              const std::string& pinDir) {
  AttachedProgram result{bpf_program__name(program),
                         maps::linksDir(pinDir) + "/" + bpf_program__name(program), false};
  if (access(result.linkPin.c_str(), F_OK) == 0) {
    bpf_link* link = bpf_link__open(result.linkPin.c_str());
    if (link) {
      bpf_link_info info{};
      __u32 length = sizeof(info);
      bool sameCgroup = bpf_link_get_info_by_fd(bpf_link__fd(link), &info, &length) == 0 &&
                        info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == wantedCgroup;
      if (sameCgroup && bpf_link__update_program(link, program) == 0) {
        bpf_link__destroy(link);
        result.updated = true;
        return result;
      }
      // Another cgroup, or a link whose cgroup is gone (ENOLINK): replace it.
      bpf_link__detach(link);
      bpf_link__destroy(link);
    }
    unlink(result.linkPin.c_str());
  }
  bpf_link* link = bpf_program__attach_cgroup(program, cgroupFd);
  if (!link)
    throw LoaderError("cannot attach " + result.name + " to the cgroup: " + errnoText(errno));
  int rc = bpf_link__pin(link, result.linkPin.c_str());
  if (rc != 0) {
    bpf_link__destroy(link);
    throw LoaderError("cannot pin link " + result.linkPin + ": " + errnoText(rc));
  }
  bpf_link__destroy(link);  // closes our fd; the pin keeps the link alive
  return result;
}

}  // namespace

uint64_t cgroupId(const std::string& path) {
  struct {
    file_handle handle;
    uint64_t id;
  } buffer{};
  buffer.handle.handle_bytes = sizeof(uint64_t);
  int mountId = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), &buffer.handle, &mountId, 0) != 0) return 0;
  uint64_t id;
  std::memcpy(&id, buffer.handle.f_handle, sizeof(id));
  return id;
}

const std::vector<std::string>& socketProgramNames() {
  static const std::vector<std::string> names = {
      "bpx_connect4", "bpx_connect6", "bpx_sendmsg4", "bpx_sendmsg6",
      "bpx_recvmsg4", "bpx_recvmsg6", "bpx_getpeer4", "bpx_getpeer6",
      "bpx_postbind4", "bpx_postbind6"};
  return names;
}

LoadReport loadSocketLb(const SocketLbOptions& options) {
  LoadReport report;
  if (auto prepared = preparePinDir(options.pinDir); !prepared) throw LoaderError(prepared.error().message);
  auto olderLayout = checkLayout(options.pinDir, report);

  UniqueFd cgroup(open(options.cgroupPath.c_str(), O_RDONLY | O_DIRECTORY));
  if (!cgroup)
    throw LoaderError("cannot open cgroup " + options.cgroupPath + ": " + errnoText(errno) +
                      " (give a cgroup v2 directory with --cgroup)");

  std::string pinRoot = maps::mapsDir(options.pinDir);
  LIBBPF_OPTS(bpf_object_open_opts, openOptions, .pin_root_path = pinRoot.c_str());
  SkeletonPtr skeleton(sock_lb::open(&openOptions));
  if (!skeleton) throw LoaderError("cannot open the socket programs: " + errnoText(errno));

  applyMapSizes(skeleton->obj, options.mapSizes);
  MapMigration migration(pinRoot, options.converters ? *options.converters : builtinMapConverters());
  bpf_map* map;
  bpf_object__for_each_map(map, skeleton->obj) {
    // Pinned maps only; the layout marker is stamped anew below.
    if (!bpf_map__pin_path(map) || maps::kLayoutMap == std::string(bpf_map__name(map))) continue;
    migration.prepare(map, report.notes);  // a pin of another size or an older layout
  }

  if (int rc = sock_lb::load(skeleton.get()); rc != 0)
    throw LoaderError("cannot load the socket programs: " + errnoText(rc) +
                      " (run `bpfproxy doctor`; the libbpf log above names the cause)");
  migration.copyEntries(report.notes);

  bpx_layout layout{BPX_LAYOUT_MAGIC, BPX_LAYOUT_VERSION};
  uint32_t zero = 0;
  bpf_map__update_elem(skeleton->maps.BPX_MAP_LAYOUT, &zero, sizeof(zero), &layout,
                       sizeof(layout), BPF_ANY);

  uint64_t wantedCgroup = cgroupId(options.cgroupPath);
  bpf_program* program;
  bpf_object__for_each_program(program, skeleton->obj) {
    report.programs.push_back(attachProgram(program, cgroup.get(), wantedCgroup, options.pinDir));
  }
  migration.finish(report.notes, olderLayout);  // programs now use the new maps: drop the old pins
  for (const char* retired : maps::kRetiredMaps) {
    std::string pin = maps::mapPinPath(options.pinDir, retired);
    if (unlink(pin.c_str()) == 0) report.notes.push_back("removed the retired map " + pin);
  }
  return report;
}

void applyMapSizes(bpf_object* object, const MapSizes& sizes) {
  for (const auto& spec : maps::mapTable())
    if (bpf_map* map = bpf_object__find_map_by_name(object, spec.name); map && spec.sizedBy)
      bpf_map__set_max_entries(map, static_cast<uint32_t>(maps::maxEntries(spec, sizes)));
}

std::vector<std::string> cleanupPins(const std::string& pinDir) {
  std::vector<std::string> removed = cleanupTc(pinDir);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(maps::linksDir(pinDir), ec)) {
    if (entry.is_directory(ec)) continue;
    detachPinnedLink(entry.path());
    removed.push_back("detached and unpinned " + entry.path().string());
  }
  for (const auto& entry : fs::directory_iterator(maps::mapsDir(pinDir), ec))
    removed.push_back("unpinned " + entry.path().string());
  if (fs::exists(pinDir, ec)) {
    fs::remove_all(pinDir, ec);
    if (ec) removed.push_back("could not remove " + pinDir + ": " + ec.message());
  }
  return removed;
}

}  // namespace bpfproxy::loader
