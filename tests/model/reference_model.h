#pragma once
// A reference model of kube-proxy's selection rules, written apart from controller/model:
// from the Services and EndpointSlices alone it says which outcomes a flow from a given
// client to a given address may have on each path of this node (socket hooks, TC on a
// node device, TC on a pod-facing device), and which backends it may reach.
//
// Where bpfproxy knowingly differs from kube-proxy today, the model names the difference
// (a Divergence): the check accepts the datapath's answer under that name and counts it,
// so the list of open differences is printed by every run instead of hidden in the rules.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/model/kube_objects.h"
#include "maps/ip_address.h"

namespace bpfproxy::modeltest {

using controller::EndpointSlice;
using controller::Service;

// The node the datapath under test runs on, and what the model needs to know of it.
struct NodeView {
  std::string name = "node1";
  std::vector<IpAddress> addresses;  // NodePorts answer on these
  std::vector<Cidr> serviceCidrs;
};

// The API objects of one namespace ("default"), by name.
struct Cluster {
  std::map<std::string, Service> services;
  std::map<std::string, EndpointSlice> slices;
};

enum class Path { kSocket, kTcNode, kTcPod };
enum class Outcome { kPass, kRefuse, kDrop, kTranslate };
std::string toString(Path path);
std::string toString(Outcome outcome);

struct Flow {
  Path path = Path::kSocket;
  IpAddress src;        // the client's address (a pod's, the node's, an outside client's)
  uint16_t sport = 0;   // TC paths
  IpAddress dst;
  uint16_t dport = 0;
  uint8_t proto = 6;    // 6 TCP, 17 UDP
  uint64_t netns = 0;   // socket path: the client's network namespace
  uint64_t socket = 0;  // socket path: the socket's cookie
  bool sendmsg = false; // socket path: an unconnected UDP send instead of a connect
  std::string toString() const;
};

struct Backend {
  IpAddress address;
  uint16_t port = 0;
  auto operator<=>(const Backend&) const = default;
  std::string toString() const { return formatEndpoint(address, port); }
};

// One acceptable answer: outcomes and, for kTranslate, the backends.
struct Answer {
  std::set<Outcome> outcomes;
  std::set<Backend> backends;
  bool keepsClientAddress = false;  // TC: the source must not be translated (policy Local)
  std::string rule;                 // why, for failure messages
  bool allows(Outcome outcome, const Backend& backend) const;
  std::string toString() const;
};

struct Expected {
  Answer strict;                   // kube-proxy's answer
  std::vector<Answer> divergences; // bpfproxy's known differences, each named in .rule
  // What a flow already open may also get: its backend, while listed, where new flows get
  // none (a drained Service, a backend of weight 0). Not a divergence: bpfproxy's annotations.
  std::vector<Answer> openFlows;
  // The frontend the flow reached, for sticky state; empty when it reached none.
  std::string service;
  std::string frontend;  // "10.32.0.10:80/6"
  bool affinity = false; // sessionAffinity ClientIP
  std::string externalPolicy;  // externalTrafficPolicy: a change restarts sticky state (see the test)
};

Expected expect(const Cluster& cluster, const NodeView& node, const Flow& flow);

// A Service the datapath must not be given: an object the API server would refuse, such
// as a frontend (address, port, protocol) another Service already has. "" when valid.
std::string conflict(const Cluster& cluster, const NodeView& node, const Service& service);

}  // namespace bpfproxy::modeltest
