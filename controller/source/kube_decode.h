#pragma once
// Decodes the Kubernetes objects a service proxy acts on from the JSON the API server
// writes (or a manifest converted to it).
#include <cpprest/json.h>

#include <optional>
#include <string>

#include "base/result.h"
#include "controller/model/kube_objects.h"

namespace bpfproxy::controller {

// Decoding: an object that cannot be used yields an error naming the field and why.
Result<Service> decodeService(const web::json::value& json);
Result<EndpointSlice> decodeEndpointSlice(const web::json::value& json);
Result<Node> decodeNode(const web::json::value& json);
ObjectMeta decodeObjectMeta(const web::json::value& json);

}  // namespace bpfproxy::controller
