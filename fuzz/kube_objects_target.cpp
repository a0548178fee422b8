// One object as the API server would send it, decoded as every kind the agent reads.
#include "controller/source/bypass_pods.h"
#include "controller/source/kube_decode.h"
#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

int kubeObjects(const uint8_t* data, size_t size) {
  web::json::value json;
  try {
    json = web::json::value::parse(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception&) {
    return 0;  // not JSON: the client refuses it before decoding
  }
  if (auto service = controller::decodeService(json); service) (void)service->isHeadless();
  if (auto slice = controller::decodeEndpointSlice(json); slice) (void)slice->serviceKey();
  if (auto node = controller::decodeNode(json); node) (void)controller::nodeEligible(*node);
  (void)controller::decodeBypassPod(json);
  (void)controller::decodeObjectMeta(json);
  return 0;
}

}  // namespace bpfproxy::fuzz
