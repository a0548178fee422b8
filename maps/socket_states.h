#pragma once
// The per-socket state of the socket hooks (bpx_sock, socket-local storage). User space
// can read socket-local storage only through a socket's fd: this walks the sockets the
// machine's processes hold (pidfd_getfd, root only) and looks each one up. A BPF iterator
// would not need the walk, but tracing programs are not allowed everywhere.
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

struct SocketState {
  uint64_t cookie = 0;  // the socket's cookie
  bpx_sock_state state{};
};

// Every socket with state in `sockets`, once each however many fds hold it. *skipped
// counts the processes whose sockets could not be read (gone, or not permitted).
std::vector<SocketState> readSocketStates(const SocketStateMap& sockets, size_t* skipped = nullptr);

// Calls f for each peer an unconnected UDP socket keeps (picked by sendmsg).
template <typename F>
void forEachStickyPeer(const bpx_sock_state& state, F&& f) {
  for (unsigned i = 0; i < state.used && i < BPX_SOCK_PEERS; ++i)
    if (state.sticky & (1u << i)) f(state.peer[i]);
}

}  // namespace bpfproxy::maps
