#include "loader/attach_check.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/unique_fd.h"
#include "loader/socket_lb_loader.h"
#include "maps/map_names.h"

namespace bpfproxy::loader {

namespace {

std::string hookOf(const std::string& program) {
  return program.rfind("bpx_", 0) == 0 ? program.substr(4) : program;
}

ProgramAttachment inspect(const std::string& program, const std::string& pin) {
  ProgramAttachment result;
  result.program = program;
  result.hook = hookOf(program);
  result.linkPin = pin;
  UniqueFd fd(bpf_obj_get(pin.c_str()));
  if (!fd) {
    result.detail = errno == ENOENT ? "no pinned link" : std::string("cannot open link: ") + std::strerror(errno);
    return result;
  }
  result.pinned = true;
  bpf_link_info info{};
  __u32 length = sizeof(info);
  if (bpf_link_get_info_by_fd(fd.get(), &info, &length) != 0) {
    result.detail = std::string("cannot read link info: ") + std::strerror(errno);
    return result;
  }
  // A link whose cgroup or device went away (or that was detached) reports id 0.
  switch (info.type) {
    case BPF_LINK_TYPE_CGROUP:
      result.cgroupId = info.cgroup.cgroup_id;
      result.attached = result.cgroupId != 0;
      if (!result.attached) result.detail = "link detached: its cgroup is gone or it was detached";
      break;
    case BPF_LINK_TYPE_TCX:
      result.ifindex = info.tcx.ifindex;
      result.attached = result.ifindex != 0;
      if (!result.attached) result.detail = "link detached: its device is gone or it was detached";
      break;
    default:
      result.attached = true;  // kinds we cannot tell apart: pinned counts as attached
  }
  return result;
}

}  // namespace

std::vector<ProgramAttachment> checkAttachments(const std::string& pinDir) {
  std::vector<ProgramAttachment> programs;
  const auto& expected = socketProgramNames();
  for (const auto& name : expected) programs.push_back(inspect(name, maps::linksDir(pinDir) + "/" + name));
  std::error_code ec;
  std::vector<std::string> others;  // relative paths: TC links live in links/tc/
  for (const auto& entry : std::filesystem::recursive_directory_iterator(maps::linksDir(pinDir), ec)) {
    if (entry.is_directory(ec)) continue;
    auto name = std::filesystem::relative(entry.path(), maps::linksDir(pinDir), ec).string();
    if (std::find(expected.begin(), expected.end(), name) == expected.end()) others.push_back(name);
  }
  std::sort(others.begin(), others.end());
  for (const auto& name : others) programs.push_back(inspect(name, maps::linksDir(pinDir) + "/" + name));
  return programs;
}

bool allAttached(const std::vector<ProgramAttachment>& programs, std::string* why) {
  for (const auto& program : programs) {
    if (program.attached) continue;
    if (why) *why = program.program + ": " + program.detail;
    return false;
  }
  return true;
}

}  // namespace bpfproxy::loader
