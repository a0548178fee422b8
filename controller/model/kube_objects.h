#pragma once
// The parts of v1 Service, discovery.k8s.io/v1 EndpointSlice and v1 Node that a service
// proxy acts on. Plain data: controller/source/kube_decode.h fills them from the JSON the API
// server writes (or a manifest converted to it).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bpfproxy::controller {

struct ObjectMeta {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resourceVersion;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// "namespace/name": how Services, and the slices that belong to them, are indexed.
struct ServiceKey {
  std::string namespace_;
  std::string name;
  std::string toString() const { return namespace_ + "/" + name; }
  auto operator<=>(const ServiceKey&) const = default;
};

enum class Protocol : uint8_t { TCP = 6, UDP = 17, SCTP = 132 };
std::string toString(Protocol protocol);

struct ServicePort {
  std::string name;
  Protocol protocol = Protocol::TCP;
  uint16_t port = 0;
  uint16_t targetPortNumber = 0;  // 0 when the targetPort is a name (or absent: then = port)
  std::string targetPortName;     // non-empty for a named targetPort
  uint16_t nodePort = 0;
};

struct LoadBalancerIngress {
  std::string ip;
  std::string hostname;
  std::string ipMode;  // "VIP" (default) or "Proxy"
};

struct Service {
  ObjectMeta meta;
  std::string type = "ClusterIP";  // ClusterIP, NodePort, LoadBalancer, ExternalName
  std::vector<std::string> clusterIPs;  // spec.clusterIPs, else [spec.clusterIP]; "None" = headless
  std::vector<std::string> ipFamilies;
  std::vector<ServicePort> ports;
  std::vector<std::string> externalIPs;
  std::string externalName;
  std::string sessionAffinity = "None";  // or "ClientIP"
  uint32_t sessionAffinityTimeoutSeconds = 10800;
  std::string externalTrafficPolicy = "Cluster";  // or "Local"
  std::string internalTrafficPolicy = "Cluster";  // or "Local"
  std::string trafficDistribution;  // "", PreferClose, PreferSameZone, PreferSameNode
  uint16_t healthCheckNodePort = 0;
  std::vector<std::string> loadBalancerSourceRanges;
  std::vector<LoadBalancerIngress> loadBalancerIngress;

  ServiceKey key() const { return {meta.namespace_, meta.name}; }
  bool isHeadless() const { return clusterIPs.empty() || clusterIPs.front() == "None"; }
};

struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
};

struct Endpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::string nodeName;
  std::string zone;
  std::vector<std::string> hintsForZones;
  std::vector<std::string> hintsForNodes;
};

struct EndpointPort {
  std::optional<std::string> name;
  Protocol protocol = Protocol::TCP;
  std::optional<uint16_t> port;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string addressType;  // IPv4, IPv6, FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;

  // From the kubernetes.io/service-name label; empty when the slice names no Service.
  std::string serviceName() const;
  ServiceKey serviceKey() const { return {meta.namespace_, serviceName()}; }
};

struct Node {
  ObjectMeta meta;
  std::string zone;  // label topology.kubernetes.io/zone
  std::vector<std::string> internalIPs;
  bool beingDeleted = false;          // metadata.deletionTimestamp is set
  std::vector<std::string> taintKeys;  // spec.taints[].key
};

// kube-proxy's rule for /healthz's nodeEligible (KEP-3836): a Node that is being deleted,
// or that the cluster autoscaler tainted ToBeDeletedByClusterAutoscaler, is not eligible, so
// load balancers drain it before it goes.
bool nodeEligible(const Node& node);

}  // namespace bpfproxy::controller
