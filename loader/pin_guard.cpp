#include "loader/pin_guard.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "maps/map_names.h"

namespace bpfproxy::loader {

namespace fs = std::filesystem;

unsigned bpfObjectId(int fd) {
  // bpf_map_info, bpf_link_info and bpf_prog_info all begin with (u32 type, u32 id), and
  // the kernel fills what fits of the buffer: one call serves every kind.
  bpf_map_info info{};
  __u32 length = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &length) == 0 ? info.id : 0;
}

Status PinGuard::hold() {
  std::string errors;
  int firstErrno = 0;
  for (const auto& dir : {maps::mapsDir(pinDir_), maps::linksDir(pinDir_)}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_directory(ec)) continue;  // links/tc: the TC agent keeps those itself
      auto path = entry.path().string();
      bool known = false;
      for (const auto& pin : pins_) known |= pin.path == path;
      if (known) continue;
      UniqueFd fd(bpf_obj_get(path.c_str()));
      if (!fd.valid()) {
        const int code = errno;
        if (errors.empty()) firstErrno = code;
        errors += (errors.empty() ? "" : "; ") + std::string("cannot open ") + path + ": " + std::strerror(code);
        continue;
      }
      unsigned id = bpfObjectId(fd.get());
      pins_.push_back({path, std::move(fd), id});
    }
  }
  if (errors.empty()) return {};
  return Error{errors, firstErrno};
}

std::vector<PinGuard::Repair> PinGuard::check() {
  std::vector<Repair> repairs;
  for (auto& pin : pins_) {
    UniqueFd current(bpf_obj_get(pin.path.c_str()));
    if (current.valid()) {
      unsigned id = bpfObjectId(current.get());
      if (id == pin.id || pin.reported) continue;
      pin.reported = true;
      repairs.push_back({pin.path, false,
                         "pin " + pin.path + " now holds another object (id " + std::to_string(id) +
                             ", the agent's is " + std::to_string(pin.id) +
                             "): left alone; the agent keeps using its own"});
      continue;
    }
    if (errno != ENOENT) continue;  // there but unreadable: nothing to repair
    std::error_code ec;
    fs::create_directories(fs::path(pin.path).parent_path(), ec);
    if (bpf_obj_pin(pin.fd.get(), pin.path.c_str()) == 0) {
      pin.reported = false;
      repairs.push_back({pin.path, true, "pin " + pin.path + " was removed from bpffs; pinned it again "
                                         "from the agent's fd (id " + std::to_string(pin.id) + ")"});
    } else if (!pin.reported) {
      pin.reported = true;
      repairs.push_back({pin.path, false, "pin " + pin.path + " was removed from bpffs and cannot be "
                                          "pinned again: " + std::strerror(errno) +
                                          "; the datapath keeps running while the agent holds it"});
    }
  }
  return repairs;
}

}  // namespace bpfproxy::loader
