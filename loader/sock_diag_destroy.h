#pragma once
// The fallback for kernels without bpf_sock_destroy: netlink SOCK_DESTROY (sock_diag, needs
// CONFIG_INET_DIAG_DESTROY), in the calling thread's network namespace. Sockets are listed
// with a SOCK_DIAG_BY_FAMILY dump and those whose peer is a stale backend destroyed one
// by one.
#include <cstdint>
#include <string>
#include <vector>

#include "loader/socket_destroyer.h"

namespace bpfproxy::loader {

// Sockets of `proto` (IPPROTO_TCP or IPPROTO_UDP) destroyed; errors (one per failed dump
// or destroy) appended to `errors`.
uint64_t sockDiagDestroy(const std::vector<StaleBackend>& targets, uint8_t proto,
                         std::vector<std::string>& errors);

}  // namespace bpfproxy::loader
