#pragma once
// Ethernet frames for BPF_PROG_TEST_RUN: IPv4 and IPv6 with TCP, UDP, SCTP or an ICMP
// error quoting another packet, checksums computed; and a reader that decodes a frame and
// verifies every checksum it carries by recomputing it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "maps/ip_address.h"

namespace bpfproxy::testing {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

struct PacketSpec {
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;  // host order
  uint8_t proto = 6;              // 6 TCP, 17 UDP, 132 SCTP
  uint8_t tcpFlags = kTcpSyn;
  uint32_t seq = 1000;
  std::string payload;
  bool sctpChecksumOffloaded = false;  // SCTP: leave the CRC field 0, as for CHECKSUM_PARTIAL
  std::array<uint8_t, 6> srcMac{0x02, 0, 0, 0, 0, 0x01};
  std::array<uint8_t, 6> dstMac{0x02, 0, 0, 0, 0, 0x02};
};

// A frame carrying spec (IPv4 when both addresses are v4-mapped).
std::vector<uint8_t> buildPacket(const PacketSpec& spec);

// The spec of a packet from src:sport to dst:dport; a UDP one carries "hello".
PacketSpec flowPacket(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                      uint8_t proto, uint8_t tcpFlags = kTcpSyn);

// An ICMP destination-unreachable (port unreachable) from `from` to `to`, quoting the
// IP packet of `quoted` (its frame minus Ethernet).
std::vector<uint8_t> buildIcmpError(const IpAddress& from, const IpAddress& to,
                                    const std::vector<uint8_t>& quotedFrame);

struct DecodedPacket {
  bool v6 = false;
  uint8_t proto = 0;
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;  // host order; for ICMP: type, code
  uint8_t tcpFlags = 0;
  uint32_t seq = 0, ack = 0;
  std::array<uint8_t, 6> srcMac{}, dstMac{};
  bool checksumsValid = false;  // IPv4 header, L4 (with pseudo-header), ICMP, SCTP CRC32c
  uint32_t sctpChecksum = 0;    // SCTP: the CRC field (0: left to offload, not checked)
  std::string checksumError;
  std::optional<std::vector<uint8_t>> quoted;  // ICMP error: the quoted IP packet
  bool fragment = false;                        // part of a fragmented datagram (L4 not checked)
  std::string endpointSrc() const { return formatEndpoint(src, sport); }
  std::string endpointDst() const { return formatEndpoint(dst, dport); }
};

// The frame's IP datagram cut into fragments of at most `chunk` payload bytes (a multiple
// of 8): IPv4 by its offset and MF bits, IPv6 with a fragment header. `id` identifies them.
std::vector<std::vector<uint8_t>> fragmentFrame(const std::vector<uint8_t>& frame, size_t chunk, uint32_t id);
// The datagram back from its fragments (in any order), as one frame.
std::vector<uint8_t> reassembleFrames(const std::vector<std::vector<uint8_t>>& fragments);
// The frame with an IPv6 hop-by-hop options header (8 bytes of padding) before the L4 header.
std::vector<uint8_t> withHopByHop(const std::vector<uint8_t>& frame);

// Decodes an Ethernet frame; nullopt when it is not IPv4/IPv6.
std::optional<DecodedPacket> decodePacket(const std::vector<uint8_t>& frame);
// Decodes a bare IP packet (an ICMP quote); its L4 checksum is not checked (truncated).
std::optional<DecodedPacket> decodeIpPacket(const std::vector<uint8_t>& packet, bool checkL4);

}  // namespace bpfproxy::testing
