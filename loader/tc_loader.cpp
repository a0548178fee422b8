#include "loader/tc_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/unique_fd.h"
#include "maps/map_names.h"
#include "tc_lb.skel.h"

namespace bpfproxy::loader {

namespace fs = std::filesystem;

namespace {

// clsact filters are created at this handle and priority, so a restart replaces them.
constexpr uint32_t kClsactHandle = 0xb9;
constexpr uint32_t kClsactPriority = 0xb9;

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

// bpffs refuses dots in names (reserved); VLAN devices have them.
std::string pinName(const std::string& device, bool ingress) {
  std::string name = device;
  for (char& c : name)
    if (c == '.' || c == '/') c = '_';
  return name + (ingress ? "-ingress" : "-egress");
}

// clsact bookkeeping lives in bpffs too, as empty directories: "clsact-<ifindex>-qdisc"
// when bpfproxy created the qdisc, "clsact-<ifindex>-ingress|egress" per filter.
std::string clsactRecord(const std::string& pinDir, int ifindex, const std::string& what) {
  return tcLinksDir(pinDir) + "/clsact-" + std::to_string(ifindex) + "-" + what;
}

bpf_program* programOf(tc_lb* skeleton, TcProgram program) {
  switch (program) {
    case TcProgram::kFromDevice: return skeleton->progs.bpx_tc_from_dev;
    case TcProgram::kToDevice: return skeleton->progs.bpx_tc_to_dev;
    case TcProgram::kFromPod: return skeleton->progs.bpx_tc_from_pod;
    case TcProgram::kToPod: return skeleton->progs.bpx_tc_to_pod;
  }
  return nullptr;
}

}  // namespace

std::string tcLinksDir(const std::string& pinDir) { return maps::linksDir(pinDir) + "/tc"; }

TcDatapath::TcDatapath(const std::string& pinDir, const MapSizes& sizes) : pinDir_(pinDir) {
  std::string pinRoot = maps::mapsDir(pinDir);
  LIBBPF_OPTS(bpf_object_open_opts, openOptions, .pin_root_path = pinRoot.c_str());
  skeleton_ = tc_lb::open(&openOptions);
  if (!skeleton_) throw LoaderError("cannot open the TC programs: " + errnoText(errno));
  // Every map is shared with the socket programs: same sizes, or the pins do not match.
  applyMapSizes(skeleton_->obj, sizes);
  // tcx needs the attach type at load; probe once by loading for tcx, fall back to clsact.
  bpf_program* program;
  bpf_object__for_each_program(program, skeleton_->obj) {
    const std::string name = bpf_program__name(program);
    bool egress = name.find("_to_") != std::string::npos;
    bpf_program__set_expected_attach_type(program, egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS);
  }
  if (int rc = tc_lb::load(skeleton_); rc != 0) {
    tc_lb::destroy(skeleton_);
    skeleton_ = nullptr;
    throw LoaderError("cannot load the TC programs: " + errnoText(rc) +
                      " (the libbpf log above names the cause; map pins made by another "
                      "bpfproxy version: run `bpfproxy cleanup`)");
  }
  std::error_code ec;
  fs::create_directories(tcLinksDir(pinDir), ec);
  if (ec) throw LoaderError("cannot create " + tcLinksDir(pinDir) + ": " + ec.message());
}

TcDatapath::~TcDatapath() {
  if (skeleton_) tc_lb::destroy(skeleton_);  // pinned links and clsact filters stay
}

int TcDatapath::programFd(TcProgram program) const {
  return bpf_program__fd(programOf(skeleton_, program));
}

std::vector<TcAttachment> TcDatapath::attachNodeDevice(const std::string& device) {
  return attach(device, TcProgram::kFromDevice, TcProgram::kToDevice);
}

std::vector<TcAttachment> TcDatapath::attachPodDevice(const std::string& device) {
  return attach(device, TcProgram::kFromPod, TcProgram::kToPod);
}

std::vector<TcAttachment> TcDatapath::attach(const std::string& device, TcProgram in, TcProgram out) {
  int ifindex = static_cast<int>(if_nametoindex(device.c_str()));
  if (ifindex == 0) throw LoaderError("device " + device + ": " + errnoText(errno));
  return {attachOne(device, ifindex, true, in), attachOne(device, ifindex, false, out)};
}

TcAttachment TcDatapath::attachOne(const std::string& device, int ifindex, bool ingress,
                                   TcProgram which) {
  bpf_program* program = programOf(skeleton_, which);
  TcAttachment result{device, ifindex, ingress, bpf_program__name(program), "", false};
  const std::string pin = tcLinksDir(pinDir_) + "/" + pinName(device, ingress);

  if (tcx_) {
    if (access(pin.c_str(), F_OK) == 0) {
      bpf_link* link = bpf_link__open(pin.c_str());
      if (link) {
        bpf_link_info info{};
        __u32 length = sizeof(info);
        bool same = bpf_link_get_info_by_fd(bpf_link__fd(link), &info, &length) == 0 &&
                    info.type == BPF_LINK_TYPE_TCX && static_cast<int>(info.tcx.ifindex) == ifindex &&
                    info.tcx.attach_type == (ingress ? BPF_TCX_INGRESS : BPF_TCX_EGRESS);
        if (same && bpf_link__update_program(link, program) == 0) {
          bpf_link__destroy(link);
          result.how = "tcx link " + pin;
          result.updated = true;
          return result;
        }
        // Another device of that name (recreated), or a dead link: replace it.
        bpf_link__detach(link);
        bpf_link__destroy(link);
      }
      unlink(pin.c_str());
    }
    bpf_link* link = bpf_program__attach_tcx(program, ifindex, nullptr);
    if (link) {
      int rc = bpf_link__pin(link, pin.c_str());
      if (rc != 0) {
        bpf_link__destroy(link);
        throw LoaderError("cannot pin link " + pin + ": " + errnoText(rc));
      }
      bpf_link__destroy(link);  // the pin keeps it
      result.how = "tcx link " + pin;
      return result;
    }
    if (errno != EINVAL && errno != EOPNOTSUPP && errno != ENOTSUP)
      throw LoaderError("cannot attach " + result.program + " to " + device + ": " + errnoText(errno));
    tcx_ = false;  // kernel before 6.6: clsact from now on
  }

  // clsact: create the hook unless it exists (then it is not ours to remove).
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  std::error_code ec;
  int rc = bpf_tc_hook_create(&hook);
  if (rc == 0) fs::create_directories(clsactRecord(pinDir_, ifindex, "qdisc"), ec);
  else if (rc != -EEXIST)
    throw LoaderError("cannot create the clsact qdisc on " + device + ": " + errnoText(rc));
  hook.attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(program), .flags = BPF_TC_F_REPLACE,
              .handle = kClsactHandle, .priority = kClsactPriority);
  const std::string record = clsactRecord(pinDir_, ifindex, ingress ? "ingress" : "egress");
  result.updated = fs::exists(record, ec);
  if (int attached = bpf_tc_attach(&hook, &opts); attached != 0)
    throw LoaderError("cannot attach " + result.program + " to " + device + " (clsact): " +
                      errnoText(attached));
  fs::create_directories(record, ec);
  result.how = std::string("clsact filter") + (rc == 0 ? " (qdisc created)" : "");
  return result;
}

std::vector<std::string> TcDatapath::pruneDeadLinks() {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tcLinksDir(pinDir_), ec)) {
    if (entry.is_directory(ec)) continue;
    UniqueFd fd(bpf_obj_get(entry.path().c_str()));
    if (!fd) continue;
    bpf_link_info info{};
    __u32 length = sizeof(info);
    bool dead = bpf_link_get_info_by_fd(fd.get(), &info, &length) == 0 &&
                info.type == BPF_LINK_TYPE_TCX && info.tcx.ifindex == 0;
    if (dead && unlink(entry.path().c_str()) == 0)
      removed.push_back("unpinned " + entry.path().string() + ": its device is gone");
  }
  return removed;
}

void detachPinnedLink(const std::string& path) {
  if (UniqueFd fd(bpf_obj_get(path.c_str())); fd) bpf_link_detach(fd.get());
}

std::vector<std::string> cleanupTc(const std::string& pinDir) {
  std::vector<std::string> removed;
  std::error_code ec;
  std::vector<int> ownedQdiscs;
  for (const auto& entry : fs::directory_iterator(tcLinksDir(pinDir), ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory(ec)) {
      detachPinnedLink(entry.path());
      removed.push_back("detached and unpinned " + entry.path().string());
      continue;
    }
    // clsact-<ifindex>-<what>
    int ifindex = 0;
    char what[16] = {};
    if (std::sscanf(name.c_str(), "clsact-%d-%15s", &ifindex, what) != 2) continue;
    if (std::string(what) == "qdisc") {
      ownedQdiscs.push_back(ifindex);
      continue;
    }
    bool ingress = std::string(what) == "ingress";
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kClsactHandle, .priority = kClsactPriority);
    if (bpf_tc_detach(&hook, &opts) == 0)
      removed.push_back("removed clsact filter on ifindex " + std::to_string(ifindex) + " " + what);
  }
  for (int ifindex : ownedQdiscs) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    if (bpf_tc_hook_destroy(&hook) == 0)
      removed.push_back("removed the clsact qdisc bpfproxy created on ifindex " + std::to_string(ifindex));
  }
  fs::remove_all(tcLinksDir(pinDir), ec);
  return removed;
}

}  // namespace bpfproxy::loader
