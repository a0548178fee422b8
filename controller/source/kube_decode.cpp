#include "controller/source/kube_decode.h"

#include <charconv>
#include <functional>
#include <set>

#include "controller/source/json_fields.h"
#include "maps/ip_address.h"

namespace bpfproxy::controller {

namespace {

using json_fields::Fields;
using json_fields::fail;
using json_fields::quoted;
using web::json::value;

uint16_t portNumber(int64_t number, const std::string& at, bool zeroAllowed) {
  if (number > 65535 || number < (zeroAllowed ? 0 : 1))
    fail(at, std::to_string(number) + " is not a valid port");
  return static_cast<uint16_t>(number);
}

Protocol protocol(const Fields& fields) {
  std::string text = fields.string("protocol", "TCP");
  if (text == "TCP") return Protocol::TCP;
  if (text == "UDP") return Protocol::UDP;
  if (text == "SCTP") return Protocol::SCTP;
  fail(fields.path("protocol"), quoted(text) + " is not a supported protocol");
}

std::string oneOf(const Fields& fields, const std::string& name, const std::string& fallback,
                  const std::set<std::string>& allowed) {
  std::string text = fields.string(name, fallback);
  if (!allowed.count(text)) {
    std::string list;
    for (const auto& option : allowed) list += (list.empty() ? "" : ", ") + option;
    fail(fields.path(name), quoted(text) + " is not one of " + list);
  }
  return text;
}

void requireIp(const std::string& text, const std::string& at) {
  if (!IpAddress::parse(text)) fail(at, quoted(text) + " is not a valid IP address");
}

void requireIps(const std::vector<std::string>& texts, const std::string& at) {
  for (size_t i = 0; i < texts.size(); ++i) requireIp(texts[i], at + "[" + std::to_string(i) + "]");
}

ObjectMeta readMeta(const Fields& object, bool namespaced) {
  auto fields = object.object("metadata");
  if (!fields) fail("metadata", "required");
  ObjectMeta meta;
  meta.name = fields->string("name");
  if (meta.name.empty()) fail(fields->path("name"), "required");
  meta.namespace_ = fields->string("namespace");
  // kubectl applies a namespace-less manifest to "default"; do the same.
  if (namespaced && meta.namespace_.empty()) meta.namespace_ = "default";
  meta.uid = fields->string("uid");
  meta.resourceVersion = fields->string("resourceVersion");
  meta.labels = fields->stringMap("labels");
  meta.annotations = fields->stringMap("annotations");
  return meta;
}

ServicePort readServicePort(const Fields& fields) {
  ServicePort port;
  port.name = fields.string("name");
  port.protocol = protocol(fields);
  auto number = fields.optionalInteger("port");
  if (!number) fail(fields.path("port"), "required");
  port.port = portNumber(*number, fields.path("port"), false);
  port.nodePort = portNumber(fields.optionalInteger("nodePort").value_or(0),
                             fields.path("nodePort"), true);
  // targetPort is an IntOrString: a number, or the name of a container port.
  if (const value* target = fields.find("targetPort")) {
    const std::string at = fields.path("targetPort");
    if (target->is_string()) {
      const std::string& text = target->as_string();
      int64_t digits = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), digits);
      if (text.empty()) fail(at, "empty port name");
      // A quoted number in a manifest is meant as a number.
      if (ec == std::errc() && end == text.data() + text.size())
        port.targetPortNumber = portNumber(digits, at, false);
      else
        port.targetPortName = text;
    } else {
      port.targetPortNumber = portNumber(Fields::asInteger(*target, at), at, true);
    }
  }
  // The API server defaults an absent (or zero) targetPort to the port.
  if (port.targetPortName.empty() && port.targetPortNumber == 0) port.targetPortNumber = port.port;
  return port;
}

void readServiceSpec(const Fields& spec, Service& service) {
  service.type = oneOf(spec, "type", "ClusterIP",
                       {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"});
  service.clusterIPs = spec.strings("clusterIPs");
  if (service.clusterIPs.empty()) {
    std::string single = spec.string("clusterIP");
    if (single == "None") {
      service.clusterIPs.push_back(single);
    } else if (!single.empty()) {
      requireIp(single, spec.path("clusterIP"));
      service.clusterIPs.push_back(single);
    }
  } else if (service.clusterIPs != std::vector<std::string>{"None"}) {
    requireIps(service.clusterIPs, spec.path("clusterIPs"));
  }
  service.ipFamilies = spec.strings("ipFamilies");
  service.ports.reserve(spec.count("ports"));
  spec.forEach("ports", [&](const value& element, const std::string& at) {
    service.ports.push_back(readServicePort(Fields(element, at)));
  });
  service.externalIPs = spec.strings("externalIPs");
  requireIps(service.externalIPs, spec.path("externalIPs"));
  service.externalName = spec.string("externalName");
  service.sessionAffinity = oneOf(spec, "sessionAffinity", "None", {"None", "ClientIP"});
  if (auto config = spec.object("sessionAffinityConfig")) {
    if (auto clientIP = config->object("clientIP")) {
      if (auto timeout = clientIP->optionalInteger("timeoutSeconds")) {
        if (*timeout < 1 || *timeout > 86400)
          fail(clientIP->path("timeoutSeconds"), std::to_string(*timeout) + " is not in 1..86400");
        service.sessionAffinityTimeoutSeconds = static_cast<uint32_t>(*timeout);
      }
    }
  }
  service.externalTrafficPolicy =
      oneOf(spec, "externalTrafficPolicy", "Cluster", {"Cluster", "Local"});
  service.internalTrafficPolicy =
      oneOf(spec, "internalTrafficPolicy", "Cluster", {"Cluster", "Local"});
  // Unknown values are kept: like kube-proxy, the model only acts on values it knows.
  service.trafficDistribution = spec.string("trafficDistribution");
  service.healthCheckNodePort = portNumber(spec.optionalInteger("healthCheckNodePort").value_or(0),
                                           spec.path("healthCheckNodePort"), true);
  service.loadBalancerSourceRanges = spec.strings("loadBalancerSourceRanges");
}

void readServiceStatus(const Fields& status, Service& service) {
  auto loadBalancer = status.object("loadBalancer");
  if (!loadBalancer) return;
  loadBalancer->forEach("ingress", [&](const value& element, const std::string& at) {
    Fields fields(element, at);
    LoadBalancerIngress ingress;
    ingress.ip = fields.string("ip");
    if (!ingress.ip.empty()) requireIp(ingress.ip, fields.path("ip"));
    ingress.hostname = fields.string("hostname");
    ingress.ipMode = oneOf(fields, "ipMode", "VIP", {"VIP", "Proxy"});
    service.loadBalancerIngress.push_back(std::move(ingress));
  });
}

std::vector<std::string> hintNames(const Fields& hints, const std::string& name) {
  std::vector<std::string> names;
  hints.forEach(name, [&](const value& element, const std::string& at) {
    names.push_back(Fields(element, at).string("name"));
  });
  return names;
}

Endpoint readEndpoint(const Fields& fields, const std::string& addressType) {
  Endpoint endpoint;
  endpoint.addresses = fields.strings("addresses");
  if (endpoint.addresses.empty()) fail(fields.path("addresses"), "at least one address required");
  if (addressType != "FQDN") {
    for (size_t i = 0; i < endpoint.addresses.size(); ++i) {
      const std::string& text = endpoint.addresses[i];
      auto address = IpAddress::parse(text);
      if (!address || address->isV4() != (addressType == "IPv4"))
        fail(fields.path("addresses") + "[" + std::to_string(i) + "]",
             quoted(text) + " is not a valid " + addressType + " address");
    }
  }
  if (auto conditions = fields.object("conditions")) {
    endpoint.conditions.ready = conditions->optionalBool("ready");
    endpoint.conditions.serving = conditions->optionalBool("serving");
    endpoint.conditions.terminating = conditions->optionalBool("terminating");
  }
  endpoint.nodeName = fields.string("nodeName");
  endpoint.zone = fields.string("zone");
  if (auto hints = fields.object("hints")) {
    endpoint.hintsForZones = hintNames(*hints, "forZones");
    endpoint.hintsForNodes = hintNames(*hints, "forNodes");
  }
  return endpoint;
}

EndpointPort readEndpointPort(const Fields& fields) {
  EndpointPort port;
  if (fields.find("name")) port.name = fields.string("name");
  port.protocol = protocol(fields);
  if (auto number = fields.optionalInteger("port"))
    port.port = portNumber(*number, fields.path("port"), false);
  return port;
}

// Runs a decoder; a DecodeError (or a cpprestsdk type error we did not foresee) becomes
// the error of the result.
template <typename T>
Result<T> guarded(const std::function<T()>& decode) {
  try {
    return decode();
  } catch (const std::exception& error) {
    return Error{error.what()};
  }
}

}  // namespace

Result<Service> decodeService(const web::json::value& json) {
  return guarded<Service>([&] {
    Fields object(json, "");
    Service service;
    service.meta = readMeta(object, true);
    if (auto spec = object.object("spec")) readServiceSpec(*spec, service);
    if (auto status = object.object("status")) readServiceStatus(*status, service);
    return service;
  });
}

Result<EndpointSlice> decodeEndpointSlice(const web::json::value& json) {
  return guarded<EndpointSlice>([&] {
    Fields object(json, "");
    EndpointSlice slice;
    slice.meta = readMeta(object, true);
    if (!object.find("addressType")) fail("addressType", "required");
    slice.addressType = oneOf(object, "addressType", "", {"IPv4", "IPv6", "FQDN"});
    slice.endpoints.reserve(object.count("endpoints"));
    object.forEach("endpoints", [&](const value& element, const std::string& at) {
      slice.endpoints.push_back(readEndpoint(Fields(element, at), slice.addressType));
    });
    object.forEach("ports", [&](const value& element, const std::string& at) {
      slice.ports.push_back(readEndpointPort(Fields(element, at)));
    });
    return slice;
  });
}

Result<Node> decodeNode(const web::json::value& json) {
  return guarded<Node>([&] {
    Fields object(json, "");
    Node node;
    node.meta = readMeta(object, false);
    auto zone = node.meta.labels.find("topology.kubernetes.io/zone");
    if (zone != node.meta.labels.end()) node.zone = zone->second;
    if (auto metadata = object.object("metadata"))
      node.beingDeleted = !metadata->string("deletionTimestamp").empty();
    if (auto spec = object.object("spec"))
      spec->forEach("taints", [&](const value& element, const std::string& at) {
        node.taintKeys.push_back(Fields(element, at).string("key"));
      });
    if (auto status = object.object("status")) {
      status->forEach("addresses", [&](const value& element, const std::string& at) {
        Fields address(element, at);
        if (address.string("type") == "InternalIP")
          node.internalIPs.push_back(address.string("address"));
      });
    }
    return node;
  });
}

ObjectMeta decodeObjectMeta(const web::json::value& json) {
  // Accepts a whole object or its metadata; best effort, since it cannot report errors.
  const bool whole = json.is_object() && json.has_field("metadata");
  ObjectMeta meta;
  try {
    const value& metadata = whole ? json.at("metadata") : json;
    Fields fields(metadata, "metadata");
    meta.name = fields.string("name");
    meta.namespace_ = fields.string("namespace");
    meta.uid = fields.string("uid");
    meta.resourceVersion = fields.string("resourceVersion");
    meta.labels = fields.stringMap("labels");
    meta.annotations = fields.stringMap("annotations");
  } catch (const std::exception&) {
    // Keep what was read before the bad field.
  }
  return meta;
}

}  // namespace bpfproxy::controller
