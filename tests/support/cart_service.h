#pragma once
// Service shop/cart (ClusterIP 10.32.0.7, port 80 to 8080) and its slice, for the model's
// load-balancing tests.
#include <map>
#include <string>

#include "controller/model/kube_objects.h"

namespace bpfproxy::testing {

inline controller::Service cartService(std::map<std::string, std::string> annotations) {
  controller::Service service;
  service.meta.namespace_ = "shop";
  service.meta.name = "cart";
  service.meta.annotations = std::move(annotations);
  service.clusterIPs = {"10.32.0.7"};
  service.ports.push_back({"", controller::Protocol::TCP, 80, 8080, "", 0});
  return service;
}

inline controller::Endpoint cartEndpoint(const char* address) {
  controller::Endpoint out;
  out.addresses = {address};
  return out;
}

// A slice of shop/cart with one endpoint on port 8080.
inline controller::EndpointSlice cartSlice(const controller::Endpoint& first) {
  controller::EndpointSlice slice;
  slice.meta.namespace_ = "shop";
  slice.meta.name = "cart-1";
  slice.meta.labels["kubernetes.io/service-name"] = "cart";
  slice.addressType = "IPv4";
  slice.ports.push_back({std::string(""), controller::Protocol::TCP, uint16_t(8080)});
  slice.endpoints.push_back(first);
  return slice;
}

}  // namespace bpfproxy::testing
