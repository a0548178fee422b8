#include "controller/source/bypass_pods.h"

#include <fstream>
#include <sstream>

#include "controller/source/manifests_source.h"

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

std::vector<BypassPod> readBypassPods(const std::filesystem::path& directory,
                                      const std::string& nodeName, std::vector<std::string>& errors) {
  std::vector<BypassPod> pods;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    auto extension = entry.path().extension().string();
    if (extension != ".yaml" && extension != ".yml" && extension != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream content;
    content << in.rdbuf();
    // Most files hold Services and slices by the thousand: parse only those that can
    // hold a bypassing Pod.
    if (content.str().find(kSocketLbKey) == std::string::npos) continue;
    try {
      for (const auto& document : parseYamlDocuments(content.str())) {
        auto pod = decodeBypassPod(document);
        if (pod && pod->nodeName == nodeName) pods.push_back(std::move(*pod));
      }
    } catch (const std::exception& error) {
      errors.push_back(entry.path().string() + ": " + error.what());
    }
  }
  return pods;
}

}  // namespace bpfproxy::controller
