#include "controller/model/input_checks.h"

namespace bpfproxy::controller {

std::string specialAddressReason(const IpAddress& address) {
  const auto& b = address.bytes();
  if (address.isV4()) {
    const uint8_t a0 = b[12], a1 = b[13];
    if (address.v4NetworkOrder() == 0) return "the unspecified address";
    if (a0 == 0) return "in 0.0.0.0/8 (this network)";
    if (a0 == 127) return "a loopback address";
    if (a0 == 169 && a1 == 254) return "a link-local address";
    if (a0 >= 224 && a0 <= 239) return "a multicast address";
    if (a0 == 255 && a1 == 255 && b[14] == 255 && b[15] == 255) return "the broadcast address";
    return "";
  }
  if (address == IpAddress()) return "the unspecified address";
  IpAddress loopback;
  {
    std::array<uint8_t, 16> bytes{};
    bytes[15] = 1;
    loopback = IpAddress(bytes);
  }
  if (address == loopback) return "the loopback address";
  if (b[0] == 0xff) return "a multicast address";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "a link-local address";
  return "";
}

Status checkMapSize(const std::string& flag, uint64_t entries) {
  if (entries == 0) return Error{flag + " must be positive"};
  if (entries > kMaxMapEntries)
    return Error{flag + ": " + std::to_string(entries) + " entries is more than the limit of " +
                 std::to_string(kMaxMapEntries)};
  return {};
}

}  // namespace bpfproxy::controller
