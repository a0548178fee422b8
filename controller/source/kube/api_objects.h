#pragma once
// Where each kind of object the API source lists and watches lives in the API, and the
// metadata fields read from their JSON before decoding.
#include <cpprest/json.h>

#include <string>

#include "controller/source/source.h"

namespace bpfproxy::controller::kube {

struct ObjectKindInfo {
  const char* path;      // where it is listed: "/api/v1/services"
  const char* name;      // as a person names it in a log line: "Service"
  const char* resource;  // as RBAC names it: "endpointslices.discovery.k8s.io"
};

inline const ObjectKindInfo& infoOf(ObjectKind kind) {
  static constexpr ObjectKindInfo kInfo[] = {
      {"/api/v1/services", "Service", "services"},
      {"/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlice", "endpointslices.discovery.k8s.io"},
      {"/api/v1/nodes", "Node", "nodes"},
      {"/api/v1/pods", "Pod", "pods"},
  };
  return kInfo[static_cast<int>(kind)];  // in the order of ObjectKind
}

inline const char* pathOf(ObjectKind kind) { return infoOf(kind).path; }
inline const char* nameOf(ObjectKind kind) { return infoOf(kind).name; }
inline const char* resourceOf(ObjectKind kind) { return infoOf(kind).resource; }

// metadata.<key> of an object, or "".
inline std::string metaString(const web::json::value& object, const char* key) {
  if (!object.is_object() || !object.has_object_field("metadata")) {
    return "";
  }
  const auto& metadata = object.at("metadata");
  return metadata.has_string_field(key) ? metadata.at(key).as_string() : "";
}

// "namespace/name", or "name" for cluster-scoped objects: the cache key.
inline std::string objectKey(const web::json::value& object) {
  const std::string ns = metaString(object, "namespace");
  return ns.empty() ? metaString(object, "name") : ns + "/" + metaString(object, "name");
}

}  // namespace bpfproxy::controller::kube
