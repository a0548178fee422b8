#include "tests/support/tc_test_namespace.h"

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "tests/support/test_bpffs.h"

namespace bpfproxy::testing {

bool enterTcTestNamespace(std::string* why) {
  static int state = 0;  // 0 not tried, 1 ready, -1 failed
  if (state) return state > 0;
  state = -1;
  if (unshare(CLONE_NEWNET) != 0) {
    *why = "unshare(CLONE_NEWNET) failed";
    return false;
  }
  const char* commands[] = {
      "ip link set lo up",
      "ip link add eth0 type veth peer name eth0p",
      "ip link add br0 type veth peer name br0p",
      "ip link set eth0 up", "ip link set eth0p up", "ip link set br0 up", "ip link set br0p up",
      "ip addr add 192.168.1.1/24 dev eth0", "ip -6 addr add fd00:1::1/64 dev eth0 nodad",
      "ip addr add 10.200.0.1/17 dev br0", "ip -6 addr add fd00:200:1::1/64 dev br0 nodad",
      "ip neigh add 192.168.1.2 lladdr 02:00:00:00:01:02 dev eth0 nud permanent",
      "ip neigh add 192.168.1.100 lladdr 02:00:00:00:01:64 dev eth0 nud permanent",
      "ip neigh add fd00:1::2 lladdr 02:00:00:00:01:02 dev eth0 nud permanent",
      "ip neigh add fd00:1::100 lladdr 02:00:00:00:01:64 dev eth0 nud permanent",
      "ip neigh add 10.200.0.2 lladdr 02:00:00:00:02:02 dev br0 nud permanent",
      "ip route add 10.200.128.0/17 via 192.168.1.2",
      "ip -6 route add fd00:200:2::/64 via fd00:1::2",
  };
  for (const char* command : commands) {
    std::string quiet = std::string(command) + " >/dev/null 2>&1";
    if (std::system(quiet.c_str()) != 0) {
      *why = std::string("namespace setup failed: ") + command;
      return false;
    }
  }
  // This namespace's own forwarding switches (the FIB helper checks them).
  std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1";
  std::ofstream("/proc/sys/net/ipv6/conf/all/forwarding") << "1";
  state = 1;
  return true;
}

std::string tcTestsUnavailable() {
  std::string why;
  if (bpfTestsPossible(&why) && enterTcTestNamespace(&why)) return "";
  return why.empty() ? "namespace setup failed earlier" : why;
}

}  // namespace bpfproxy::testing
