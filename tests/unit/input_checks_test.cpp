// The address and port checks every value from the API or a file passes before a map.
#include <doctest/doctest.h>

#include "controller/model/input_checks.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

TEST_CASE("input checks: special addresses are named, ordinary ones pass") {
  struct Case {
    const char* address;
    const char* reason;
  };
  const Case cases[] = {
      {"0.0.0.0", "the unspecified address"},
      {"0.1.2.3", "in 0.0.0.0/8 (this network)"},
      {"127.0.0.1", "a loopback address"},
      {"127.255.0.9", "a loopback address"},
      {"169.254.169.254", "a link-local address"},
      {"224.0.0.1", "a multicast address"},
      {"239.255.255.250", "a multicast address"},
      {"255.255.255.255", "the broadcast address"},
      {"::", "the unspecified address"},
      {"::1", "the loopback address"},
      {"ff02::1", "a multicast address"},
      {"fe80::1", "a link-local address"},
      {"febf::1", "a link-local address"},
      {"::ffff:127.0.0.1", "a loopback address"},  // v4-mapped is the IPv4 address
      {"10.96.0.10", ""},
      {"192.0.2.10", ""},
      {"8.8.8.8", ""},
      {"240.0.0.1", ""},
      {"fd00:10:96::a", ""},
      {"fec0::1", ""},
      {"2001:db8::1", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.address);
    auto address = IpAddress::parse(c.address);
    REQUIRE(address);
    CHECK(specialAddressReason(*address) == c.reason);
  }
}

TEST_CASE("input checks: the NodePort range bounds node ports and health-check ports") {
  PortRange range;  // kube-apiserver's default
  CHECK(range.toString() == "30000-32767");
  CHECK(range.contains(30000));
  CHECK(range.contains(32767));
  CHECK_FALSE(range.contains(29999));
  CHECK_FALSE(range.contains(32768));
  CHECK_FALSE(range.contains(22));
  CHECK_FALSE(range.contains(10250));  // the kubelet
  CHECK_FALSE(range.contains(0));
}

TEST_CASE("input checks: map sizes from flags or the file are bounded") {
  CHECK(checkMapSize("--max-services", 65536).ok());
  CHECK(checkMapSize("--max-services", kMaxMapEntries).ok());
  auto zero = checkMapSize("--max-services", 0);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message == "--max-services must be positive");
  auto huge = checkMapSize("--max-backends", 4294967295u);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().message == "--max-backends: 4294967295 entries is more than the limit of 16777216");
}
