#include "tests/support/packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace bpfproxy::testing {

PacketSpec flowPacket(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                      uint8_t proto, uint8_t tcpFlags) {
  PacketSpec spec;
  spec.src = *IpAddress::parse(src);
  spec.dst = *IpAddress::parse(dst);
  spec.sport = sport;
  spec.dport = dport;
  spec.proto = proto;
  spec.tcpFlags = tcpFlags;
  spec.payload = proto == 17 ? "hello" : "";
  return spec;
}

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

// SCTP's CRC32c (RFC 9260 appendix A), bit by bit: slow and obviously right.
uint32_t crc32c(const uint8_t* data, size_t length) {
  uint32_t crc = 0xffffffff;
  for (size_t i = 0; i < length; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
  }
  return ~crc;
}

// The CRC32c of an SCTP packet, computed with its checksum field zero.
uint32_t sctpChecksum(std::vector<uint8_t> sctp) {
  std::fill(sctp.begin() + 8, sctp.begin() + 12, 0);
  return crc32c(sctp.data(), sctp.size());
}

// SCTP stores the CRC little-endian.
void putLe32(std::vector<uint8_t>& out, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(value >> (8 * i));
}
uint32_t getLe32(const std::vector<uint8_t>& in, size_t at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[at + i]) << (8 * i);
  return value;
}
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
    l4.assign(12, 0);  // SCTP common header; the CRC32c below
    put32(l4, 4, spec.seq);  // verification tag
  }
  put16(l4, 0, spec.sport);
  put16(l4, 2, spec.dport);
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  if (spec.proto == 132 && !spec.sctpChecksumOffloaded) putLe32(l4, 8, sctpChecksum(l4));
  auto ip = ipPacket(spec.src, spec.dst, spec.proto, l4, csumAt, true);
  return ethernet(spec.dstMac, spec.srcMac, spec.src.isV4(), ip);
}

namespace {

// Where an IPv6 packet's L4 header starts, past hop-by-hop, routing, destination options
// and fragment headers; fills proto and, for a fragment header, its offset and M bit.
size_t ipv6L4(const std::vector<uint8_t>& p, uint8_t& proto, int& fragOffset, bool& more) {
  size_t off = 40;
  proto = p[6];
  fragOffset = -1;
  while (off + 8 <= p.size()) {
    if (proto == 0 || proto == 43 || proto == 60) {
      uint8_t next = p[off];
      off += (p[off + 1] + 1) * 8;
      proto = next;
    } else if (proto == 44) {
      uint16_t field = get16(p, off + 2);
      fragOffset = field & 0xfff8;
      more = field & 1;
      proto = p[off];
      off += 8;
    } else {
      break;
    }
  }
  return off;
}

}  // namespace

std::vector<std::vector<uint8_t>> fragmentFrame(const std::vector<uint8_t>& frame, size_t chunk, uint32_t id) {
  std::vector<uint8_t> eth(frame.begin(), frame.begin() + 14);
  std::vector<uint8_t> ip(frame.begin() + 14, frame.end());
  bool v4 = (ip[0] >> 4) == 4;
  size_t header = v4 ? (ip[0] & 0xf) * 4 : 40;
  std::vector<uint8_t> payload(ip.begin() + header, ip.end());
  std::vector<std::vector<uint8_t>> out;
  for (size_t at = 0; at < payload.size(); at += chunk) {
    size_t length = std::min(chunk, payload.size() - at);
    bool more = at + length < payload.size();
    std::vector<uint8_t> part(ip.begin(), ip.begin() + header);
    if (v4) {
      put16(part, 2, static_cast<uint16_t>(header + length));
      put16(part, 4, static_cast<uint16_t>(id));
      put16(part, 6, static_cast<uint16_t>((at / 8) | (more ? 0x2000 : 0)));
      put16(part, 10, 0);
      put16(part, 10, fold(sum16(part.data(), header)));
    } else {
      std::vector<uint8_t> fragmentHeader(8, 0);
      fragmentHeader[0] = part[6];
      put16(fragmentHeader, 2, static_cast<uint16_t>(at | (more ? 1 : 0)));
      put32(fragmentHeader, 4, id);
      part[6] = 44;
      put16(part, 4, static_cast<uint16_t>(8 + length));
      part.insert(part.end(), fragmentHeader.begin(), fragmentHeader.end());
    }
    part.insert(part.end(), payload.begin() + at, payload.begin() + at + length);
    std::vector<uint8_t> whole = eth;
    whole.insert(whole.end(), part.begin(), part.end());
    out.push_back(std::move(whole));
  }
  return out;
}

std::vector<uint8_t> reassembleFrames(const std::vector<std::vector<uint8_t>>& fragments) {
  std::vector<std::pair<size_t, std::vector<uint8_t>>> pieces;
  std::vector<uint8_t> first;
  for (const auto& frame : fragments) {
    std::vector<uint8_t> ip(frame.begin() + 14, frame.end());
    bool v4 = (ip[0] >> 4) == 4;
    size_t offset, start;
    if (v4) {
      offset = (get16(ip, 6) & 0x1fff) * 8;
      start = (ip[0] & 0xf) * 4;
      ip.resize(std::min<size_t>(ip.size(), get16(ip, 2)));
    } else {
      uint8_t proto;
      int fragOffset;
      bool more;
      start = ipv6L4(ip, proto, fragOffset, more);
      offset = fragOffset < 0 ? 0 : fragOffset;
      ip.resize(std::min<size_t>(ip.size(), 40 + get16(ip, 4)));
    }
    if (offset == 0) first = frame;
    pieces.push_back({offset, std::vector<uint8_t>(ip.begin() + start, ip.end())});
  }
  std::sort(pieces.begin(), pieces.end());
  std::vector<uint8_t> payload;
  for (const auto& [offset, bytes] : pieces) payload.insert(payload.end(), bytes.begin(), bytes.end());
  std::vector<uint8_t> eth(first.begin(), first.begin() + 14);
  std::vector<uint8_t> ip(first.begin() + 14, first.end());
  if ((ip[0] >> 4) == 4) {
    size_t header = (ip[0] & 0xf) * 4;
    ip.resize(header);
    put16(ip, 2, static_cast<uint16_t>(header + payload.size()));
    put16(ip, 6, 0);
    put16(ip, 10, 0);
    put16(ip, 10, fold(sum16(ip.data(), header)));
  } else {
    uint8_t proto;
    int fragOffset;
    bool more;
    ipv6L4(ip, proto, fragOffset, more);
    ip.resize(40);
    ip[6] = proto;  // the fragment header (and anything before it) dropped
    put16(ip, 4, static_cast<uint16_t>(payload.size()));
  }
  ip.insert(ip.end(), payload.begin(), payload.end());
  eth.insert(eth.end(), ip.begin(), ip.end());
  return eth;
}

std::vector<uint8_t> withHopByHop(const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> out(frame.begin(), frame.begin() + 14 + 40);
  std::vector<uint8_t> hop(8, 0);
  hop[0] = out[14 + 6];  // next header: what followed the IPv6 header
  hop[2] = 1;            // PadN option filling the 6 bytes
  hop[3] = 4;
  out[14 + 6] = 0;
  put16(out, 14 + 4, static_cast<uint16_t>(get16(out, 14 + 4) + 8));
  out.insert(out.end(), hop.begin(), hop.end());
  out.insert(out.end(), frame.begin() + 14 + 40, frame.end());
  return out;
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
    if (get16(p, 6) & 0x3fff) d.fragment = true;
  } else if ((p[0] >> 4) == 6) {
    if (p.size() < 40) return std::nullopt;
    d.v6 = true;
    std::memcpy(src.data(), &p[8], 16);
    std::memcpy(dst.data(), &p[24], 16);
    int fragOffset = -1;
    bool more = false;
    l4 = ipv6L4(p, d.proto, fragOffset, more);
    d.fragment = fragOffset >= 0;
    if (fragOffset > 0) l4 = p.size();  // no L4 header in a later fragment
    if (checkL4) end = std::min<size_t>(p.size(), 40 + get16(p, 4));
  } else {
    return std::nullopt;
  }
  d.src = IpAddress(src);
  d.dst = IpAddress(dst);
  if (!d.v6 && (get16(p, 6) & 0x1fff)) return d;  // a later IPv4 fragment: no L4 header
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
  if (!checkL4 || d.fragment) return d;
  const uint8_t* seg = p.data() + l4;
  size_t length = end - l4;
  bool pseudo = d.proto != 1;
  bool check = d.proto == 6 || d.proto == 1 || d.proto == 58 || (d.proto == 17 && get16(p, l4 + 6) != 0);
  if (d.proto == 132 && length >= 12) {
    std::vector<uint8_t> sctp(seg, seg + length);
    d.sctpChecksum = getLe32(sctp, 8);
    if (d.sctpChecksum != 0 && d.sctpChecksum != sctpChecksum(sctp)) {
      d.checksumsValid = false;
      d.checksumError += (d.checksumError.empty() ? "" : ", ") + std::string("SCTP CRC32c");
    }
  }
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
