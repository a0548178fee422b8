#include "controller/source/bypass_pods.h"

namespace bpfproxy::controller {

namespace {

using web::json::value;

std::string text(const value& object, const char* field) {
  if (!object.is_object() || !object.has_field(field) || !object.at(field).is_string()) return "";
  return object.at(field).as_string();
}

const value* child(const value& object, const char* field) {
  if (!object.is_object() || !object.has_field(field)) return nullptr;
  return &object.at(field);
}

bool selected(const value& metadata) {
  for (const char* where : {"labels", "annotations"})
    if (const value* map = child(metadata, where); map && text(*map, kSocketLbKey) == kSocketLbBypass)
      return true;
  return false;
}

}  // namespace

std::optional<BypassPod> decodeBypassPod(const value& json) {
  if (text(json, "kind") != "Pod" || text(json, "apiVersion") != "v1") return std::nullopt;
  const value* metadata = child(json, "metadata");
  if (!metadata || !selected(*metadata)) return std::nullopt;
  BypassPod pod;
  std::string ns = text(*metadata, "namespace");
  pod.key = (ns.empty() ? "default" : ns) + "/" + text(*metadata, "name");
  if (const value* spec = child(json, "spec")) pod.nodeName = text(*spec, "nodeName");
  if (const value* annotations = child(*metadata, "annotations"))
    pod.cgroup = text(*annotations, kCgroupAnnotation);
  if (const value* status = child(json, "status")) {
    if (const value* ips = child(*status, "podIPs"); ips && ips->is_array()) {
      for (const auto& entry : ips->as_array())
        if (auto address = IpAddress::parse(text(entry, "ip"))) pod.addresses.push_back(*address);
    } else if (auto address = IpAddress::parse(text(*status, "podIP"))) {
      pod.addresses.push_back(*address);
    }
  }
  return pod;
}

}  // namespace bpfproxy::controller
