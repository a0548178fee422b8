#pragma once
// What the TC side reads from and writes to this node's network configuration: devices by
// default route or by name pattern, and the ports the kernel must not hand to local sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bpfproxy::controller {

using PortPair = std::pair<uint16_t, uint16_t>;

// The devices carrying a default route (IPv4 or IPv6), from /proc/net.
std::vector<std::string> defaultRouteDevices();

// The devices whose names match one of the shell globs ("veth*"); none for no globs.
std::vector<std::string> matchingDevices(const std::vector<std::string>& globs);

// "30000-32767" -> {30000, 32767}; nullopt when malformed.
std::optional<PortPair> parsePortRange(const std::string& text);

// Adds ranges to an ip_local_reserved_ports value ("1,5-9"), keeping what is there.
std::string mergeReservedPorts(const std::string& current, const std::vector<PortPair>& ranges);

// Adds the ranges to ip_local_reserved_ports of the agent's network namespace, so no local
// socket is given a NodePort or SNAT port by the kernel; logs what it did or why it could not.
void reservePorts(const std::vector<PortPair>& ranges);

}  // namespace bpfproxy::controller
