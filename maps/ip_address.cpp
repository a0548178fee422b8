#include "maps/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace bpfproxy {

namespace {
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string copy(text);
  in_addr v4{};
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) return fromV4(v4.s_addr);
  std::array<uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) return IpAddress(bytes);
  return std::nullopt;
}

IpAddress IpAddress::fromV4(uint32_t networkOrder) {
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
  std::memcpy(bytes.data() + 12, &networkOrder, 4);
  return IpAddress(bytes);
}

bool IpAddress::isV4() const {
  return std::memcmp(bytes_.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

uint32_t IpAddress::v4NetworkOrder() const {
  uint32_t value;
  std::memcpy(&value, bytes_.data() + 12, 4);
  return value;
}

std::string IpAddress::toString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (isV4()) {
    uint32_t v4 = v4NetworkOrder();
    inet_ntop(AF_INET, &v4, buffer, sizeof(buffer));
  } else {
    inet_ntop(AF_INET6, bytes_.data(), buffer, sizeof(buffer));
  }
  return buffer;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  int length = -1;
  auto digits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  int maxLength = address->isV4() ? 32 : 128;
  if (length < 0 || length > maxLength) return std::nullopt;
  Cidr cidr;
  cidr.prefix_ = address->isV4() ? length + 96 : length;
  auto bytes = address->bytes();
  for (int bit = cidr.prefix_; bit < 128; ++bit) bytes[bit / 8] &= ~(0x80 >> (bit % 8));
  cidr.network_ = IpAddress(bytes);
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.isV4() != network_.isV4()) return false;
  const auto& a = address.bytes();
  const auto& n = network_.bytes();
  for (int bit = 0; bit < prefix_; ++bit) {
    uint8_t mask = 0x80 >> (bit % 8);
    if ((a[bit / 8] & mask) != (n[bit / 8] & mask)) return false;
  }
  return true;
}

std::string Cidr::toString() const {
  return network_.toString() + "/" + std::to_string(prefixLength());
}

std::string formatEndpoint(const IpAddress& address, uint16_t port) {
  if (address.isV4()) return address.toString() + ":" + std::to_string(port);
  return "[" + address.toString() + "]:" + std::to_string(port);
}

}  // namespace bpfproxy
