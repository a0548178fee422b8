#pragma once
// What the loader and migration tests both set up: the socket path loaded with small maps on
// the test's own pins and cgroup, and the service-map key they write and read.
#include <arpa/inet.h>

#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "loader/socket_lb_loader.h"

namespace bpfproxy::testing {

// Small maps keep the tests fast: LRU maps preallocate. `converters` null: this build's.
inline loader::SocketLbOptions smallSocketLb(const std::string& pinDir, const std::string& cgroup,
                                             const std::vector<loader::MapConverter>* converters = nullptr) {
  return {pinDir, cgroup, {1024, 1024, 1024, 1024}, converters};
}

// The service-map key of 10.32.0.1:port/TCP (v4-mapped, as the reconciler writes it).
inline bpx_svc_key tcpFrontendKey(uint16_t port) {
  bpx_svc_key k{};
  k.addr32[2] = htonl(0xffff);
  k.addr32[3] = htonl(0x0a200001);
  k.port = htons(port);
  k.proto = BPX_PROTO_TCP;
  return k;
}

}  // namespace bpfproxy::testing
