#pragma once
// IPv4 and IPv6 addresses in the maps' 16-byte form (IPv4 v4-mapped), and CIDRs.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bpfproxy {

class IpAddress {
public:
  IpAddress() = default;
  explicit IpAddress(const std::array<uint8_t, 16>& bytes) : bytes_(bytes) {}

  // Accepts dotted IPv4 and any IPv6 text form; nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress fromV4(uint32_t networkOrder);

  bool isV4() const;  // v4-mapped
  uint32_t v4NetworkOrder() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  std::string toString() const;  // "10.32.0.1" or "fd00::1"

  auto operator<=>(const IpAddress&) const = default;

private:
  std::array<uint8_t, 16> bytes_{};
};

class Cidr {
public:
  // "10.32.0.0/24", "fd00::/108"; nullopt when malformed.
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  const IpAddress& network() const { return network_; }
  // Prefix length in the address's own family (24 for 10.32.0.0/24).
  int prefixLength() const { return network_.isV4() ? prefix_ - 96 : prefix_; }
  std::string toString() const;

  auto operator<=>(const Cidr&) const = default;

private:
  IpAddress network_;
  int prefix_ = 0;  // over the 128-bit form
};

// "10.32.0.140:80", "[fd00::1]:80"
std::string formatEndpoint(const IpAddress& address, uint16_t port);

}  // namespace bpfproxy
