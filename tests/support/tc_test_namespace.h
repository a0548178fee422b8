#pragma once
// The network namespace TC tests run in: the test process moves into a namespace of its
// own with two veth pairs, so the FIB lookups behind redirects see a routing table the
// test controls (and nothing touches the host's).
//
// The node: eth0 192.168.1.1 / fd00:1::1 towards the client (.100) and node2 (.2, which
// routes 10.200.128.0/17 and fd00:200:2::/64); br0 10.200.0.1 / fd00:200:1::1 to local pods.
#include <array>
#include <cstdint>
#include <string>

namespace bpfproxy::testing {

inline constexpr std::array<uint8_t, 6> kNode2Mac{0x02, 0, 0, 0, 0x01, 0x02};
inline constexpr std::array<uint8_t, 6> kClientMac{0x02, 0, 0, 0, 0x01, 0x64};
inline constexpr std::array<uint8_t, 6> kPodMac{0x02, 0, 0, 0, 0x02, 0x02};

// Once per process; false (and why) when it cannot be set up.
bool enterTcTestNamespace(std::string* why);

// Why TC tests cannot run here, or "" when they can. Inside a test case only (with
// BPX_SKIP_IF_NOT_EMPTY): it needs root and moves the process into the namespace.
std::string tcTestsUnavailable();

}  // namespace bpfproxy::testing
