#pragma once
// The addresses of this node's network namespaces, by netns cookie, in bpx_nsaddr: the
// socket hooks' client identity for a pod (its sockets speak for its address, as its
// packets do on the TC path). Namespaces are found through /proc/*/ns/net (those with
// processes) and /run/netns/* (named ones); a short-lived thread enters each new one to
// read its cookie and addresses. One with no address yet is read again on the next pass.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "base/result.h"
#include "bpf/maps_abi.h"
#include "maps/map_types.h"

namespace bpfproxy::controller {

// The calling thread's network namespace cookie (kernel 5.14+), 0 when unknown.
uint64_t netnsCookie();

// A namespace's cookie and first global address of each family.
struct NetnsEntry {
  uint64_t cookie = 0;
  bpx_netns_addr addresses{};
  bool hasAddress = false;
};

class NetnsAddresses {
public:
  NetnsAddresses(const maps::NetnsAddrMap& map, uint64_t ownCookie) : map_(map), ownCookie_(ownCookie) {}

  // One pass: new namespaces written, vanished ones removed. Returns the first error.
  Status refresh();
  size_t known() const { return known_.size(); }

private:
  const maps::NetnsAddrMap& map_;
  uint64_t ownCookie_;
  std::map<std::pair<dev_t, ino_t>, NetnsEntry> known_;
  bool firstPass_ = true;
};

}  // namespace bpfproxy::controller
