#pragma once
// Loads the per-packet (TC) programs against the maps the socket loader pinned, and
// attaches them to devices: through tcx links pinned under <pin-dir>/links/tc/, updated
// in place on restart like the cgroup links; on kernels without tcx through a clsact
// filter at a fixed handle and priority, replaced in place. A clsact qdisc is removed at
// cleanup only when bpfproxy created it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loader/socket_lb_loader.h"

struct tc_lb;

namespace bpfproxy::loader {

enum class TcProgram { kFromDevice, kToDevice, kFromPod, kToPod };

struct TcAttachment {
  std::string device;
  int ifindex = 0;
  bool ingress = true;
  std::string program;  // bpx_tc_from_dev ...
  std::string how;      // "tcx link <pin>", "clsact filter (qdisc created)", ...
  bool updated = false; // an existing link or filter was replaced
};

class TcDatapath {
public:
  // Opens and loads the programs, reusing the maps pinned under <pin-dir>/maps (load the
  // socket programs first: they create them). Throws LoaderError.
  TcDatapath(const std::string& pinDir, const MapSizes& sizes);
  ~TcDatapath();
  TcDatapath(const TcDatapath&) = delete;
  TcDatapath& operator=(const TcDatapath&) = delete;

  // Attaches the node-device programs (scope node) or the pod-facing ones to a device,
  // both directions. Throws LoaderError naming the device.
  std::vector<TcAttachment> attachNodeDevice(const std::string& device);
  std::vector<TcAttachment> attachPodDevice(const std::string& device);

  // Drops pinned links whose device went away; returns one line per removal.
  std::vector<std::string> pruneDeadLinks();

  bool usesTcx() const { return tcx_; }
  int programFd(TcProgram program) const;

private:
  std::vector<TcAttachment> attach(const std::string& device, TcProgram in, TcProgram out);
  TcAttachment attachOne(const std::string& device, int ifindex, bool ingress, TcProgram program);

  std::string pinDir_;
  tc_lb* skeleton_ = nullptr;
  bool tcx_ = true;
};

// <pin-dir>/links/tc
std::string tcLinksDir(const std::string& pinDir);

// Removes what attachNode/PodDevice made under pinDir: tcx links (unpinned and detached),
// clsact filters recorded there, and clsact qdiscs bpfproxy created. One line each.
std::vector<std::string> cleanupTc(const std::string& pinDir);

// Detaches the link pinned at `path` (nothing when it cannot be opened); the pin stays.
void detachPinnedLink(const std::string& path);

}  // namespace bpfproxy::loader
