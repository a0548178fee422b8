#include "tests/support/packet_builder.h"

#include <arpa/inet.h>

#include <cstring>

namespace bpfproxy::testing {

namespace {

uint32_t sum16(const uint8_t* data, size_t length, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < length; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (length & 1) sum += data[length - 1] << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(std::vector<uint8_t>& out, size_t at, uint16_t value) {
  out[at] = value >> 8;
  out[at + 1] = value & 0xff;
}

void put32(std::vector<uint8_t>& out, size_t at, uint32_t value) {
  put16(out, at, value >> 16);
  put16(out, at + 2, value & 0xffff);
}

uint16_t get16(const std::vector<uint8_t>& in, size_t at) { return (in[at] << 8) | in[at + 1]; }
uint32_t get32(const std::vector<uint8_t>& in, size_t at) {
  return (static_cast<uint32_t>(get16(in, at)) << 16) | get16(in, at + 2);
}

// The pseudo-header sum of an L4 segment of `length` bytes.
uint32_t pseudoSum(const IpAddress& src, const IpAddress& dst, uint8_t proto, size_t length) {
  uint32_t sum = 0;
  if (src.isV4()) {
    sum = sum16(src.bytes().data() + 12, 4, sum);
    sum = sum16(dst.bytes().data() + 12, 4, sum);
  } else {
    sum = sum16(src.bytes().data(), 16, sum);
    sum = sum16(dst.bytes().data(), 16, sum);
  }
  return sum + proto + static_cast<uint32_t>(length);
}

// An IP packet (no Ethernet) around an L4 segment whose checksum field is at csumAt
// (or none); the checksum is filled in.
std::vector<uint8_t> ipPacket(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                              std::vector<uint8_t> l4, int csumAt, bool pseudo) {
  bool v4 = src.isV4();
  if (csumAt >= 0) {
    put16(l4, csumAt, 0);
    uint32_t sum = pseudo ? pseudoSum(src, dst, proto, l4.size()) : 0;
    uint16_t check = fold(sum16(l4.data(), l4.size(), sum));
    if (proto == 17 && check == 0) check = 0xffff;
    put16(l4, csumAt, check);
  }
  std::vector<uint8_t> ip(v4 ? 20 : 40, 0);
  if (v4) {
    ip[0] = 0x45;
    put16(ip, 2, static_cast<uint16_t>(20 + l4.size()));
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(&ip[12], src.bytes().data() + 12, 4);
    std::memcpy(&ip[16], dst.bytes().data() + 12, 4);
    put16(ip, 10, fold(sum16(ip.data(), 20)));
  } else {
    ip[0] = 0x60;
    put16(ip, 4, static_cast<uint16_t>(l4.size()));
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(&ip[8], src.bytes().data(), 16);
    std::memcpy(&ip[24], dst.bytes().data(), 16);
  }
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

std::vector<uint8_t> ethernet(const std::array<uint8_t, 6>& dst, const std::array<uint8_t, 6>& src,
                              bool v4, const std::vector<uint8_t>& ip) {
  std::vector<uint8_t> frame(14, 0);
  std::memcpy(&frame[0], dst.data(), 6);
  std::memcpy(&frame[6], src.data(), 6);
  put16(frame, 12, v4 ? 0x0800 : 0x86dd);
  frame.insert(frame.end(), ip.begin(), ip.end());
  return frame;
}

}  // namespace

std::vector<uint8_t> buildPacket(const PacketSpec& spec) {
  std::vector<uint8_t> l4;
  int csumAt = -1;
  if (spec.proto == 6) {
    l4.assign(20, 0);
    put32(l4, 4, spec.seq);
    l4[12] = 5 << 4;
    l4[13] = spec.tcpFlags;
    put16(l4, 14, 65535);
    csumAt = 16;
  } else if (spec.proto == 17) {
    l4.assign(8, 0);
    put16(l4, 4, static_cast<uint16_t>(8 + spec.payload.size()));
    csumAt = 6;
  } else {
    l4.assign(12, 0);  // SCTP common header; the CRC32c is not modelled
  }
  put16(l4, 0, spec.sport);
  put16(l4, 2, spec.dport);
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  auto ip = ipPacket(spec.src, spec.dst, spec.proto, l4, csumAt, true);
  return ethernet(spec.dstMac, spec.srcMac, spec.src.isV4(), ip);
}

std::vector<uint8_t> buildIcmpError(const IpAddress& from, const IpAddress& to,
                                    const std::vector<uint8_t>& quotedFrame) {
  bool v4 = from.isV4();
  std::vector<uint8_t> icmp(8, 0);
  icmp[0] = v4 ? 3 : 1;  // destination unreachable
  icmp[1] = v4 ? 3 : 4;  // port unreachable
  icmp.insert(icmp.end(), quotedFrame.begin() + 14, quotedFrame.end());
  auto ip = ipPacket(from, to, v4 ? 1 : 58, icmp, 2, !v4);
  return ethernet({0x02, 0, 0, 0, 0, 0x02}, {0x02, 0, 0, 0, 0, 0x03}, v4, ip);
}

std::optional<DecodedPacket> decodeIpPacket(const std::vector<uint8_t>& p, bool checkL4) {
  if (p.empty()) return std::nullopt;
  DecodedPacket d;
  d.checksumsValid = true;
  size_t l4 = 0, end = p.size();
  std::array<uint8_t, 16> src{}, dst{};
  if ((p[0] >> 4) == 4) {
    if (p.size() < 20) return std::nullopt;
    size_t ihl = (p[0] & 0xf) * 4;
    d.proto = p[9];
    src[10] = src[11] = dst[10] = dst[11] = 0xff;
    std::memcpy(&src[12], &p[12], 4);
    std::memcpy(&dst[12], &p[16], 4);
    l4 = ihl;
    if (checkL4) {
      end = std::min<size_t>(p.size(), get16(p, 2));
      if (fold(sum16(p.data(), ihl)) != 0) {
        d.checksumsValid = false;
        d.checksumError = "IPv4 header";
      }
    }
  } else if ((p[0] >> 4) == 6) {
    if (p.size() < 40) return std::nullopt;
    d.v6 = true;
    d.proto = p[6];
    std::memcpy(src.data(), &p[8], 16);
    std::memcpy(dst.data(), &p[24], 16);
    l4 = 40;
    if (checkL4) end = std::min<size_t>(p.size(), 40 + get16(p, 4));
  } else {
    return std::nullopt;
  }
  d.src = IpAddress(src);
  d.dst = IpAddress(dst);
  if (l4 + 4 > p.size()) return d;
  if (d.proto == 6 || d.proto == 17 || d.proto == 132) {
    d.sport = get16(p, l4);
    d.dport = get16(p, l4 + 2);
  } else {
    d.sport = p[l4];
    d.dport = p[l4 + 1];
  }
  if (d.proto == 6 && l4 + 20 <= p.size()) {
    d.seq = get32(p, l4 + 4);
    d.ack = get32(p, l4 + 8);
    d.tcpFlags = p[l4 + 13];
  }
  if ((d.proto == 1 || d.proto == 58) && (d.sport == 3 || d.sport == 11 || (d.v6 && d.sport <= 4)))
    d.quoted = std::vector<uint8_t>(p.begin() + l4 + 8, p.begin() + end);
  if (!checkL4) return d;
  const uint8_t* seg = p.data() + l4;
  size_t length = end - l4;
  bool pseudo = d.proto != 1;
  bool check = d.proto == 6 || d.proto == 1 || d.proto == 58 || (d.proto == 17 && get16(p, l4 + 6) != 0);
  if (check) {
    uint32_t sum = pseudo ? pseudoSum(d.src, d.dst, d.proto, length) : 0;
    if (fold(sum16(seg, length, sum)) != 0) {
      d.checksumsValid = false;
      d.checksumError += (d.checksumError.empty() ? "" : ", ") + std::string("L4 protocol ") +
                         std::to_string(d.proto);
    }
  }
  return d;
}

std::optional<DecodedPacket> decodePacket(const std::vector<uint8_t>& frame) {
  if (frame.size() < 14) return std::nullopt;
  uint16_t type = get16(frame, 12);
  if (type != 0x0800 && type != 0x86dd) return std::nullopt;
  auto d = decodeIpPacket(std::vector<uint8_t>(frame.begin() + 14, frame.end()), true);
  if (!d) return d;
  std::memcpy(d->dstMac.data(), &frame[0], 6);
  std::memcpy(d->srcMac.data(), &frame[6], 6);
  return d;
}

}  // namespace bpfproxy::testing
